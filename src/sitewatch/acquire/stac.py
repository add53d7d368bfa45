"""Any STAC API (``sitewatch fetch imagery --stac URL --collection C``), and the base of the presets.

The search is one STAC item search for the site's box, the time window and the collection
(see :mod:`._stacapi` for ``query`` vs ``filter`` and paging); every item is checked again
here (collection, time, footprint, cloud cover), because a server may ignore what it does
not understand. Licence and attribution of an arbitrary catalogue come from its collection
document (``license``, ``providers``); where it gives none the output says so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sitewatch.acquire import SourceInfo, register
from sitewatch.acquire._imagery import Found, ImagerySource, parse_item
from sitewatch.acquire._stacapi import Pages, fetch_json, open_api, search, search_body
from sitewatch.acquire.http import FetchError, NotFoundOnServer, safe_url
from sitewatch.errors import InputError

MAX_PAGES = 20


class StacApiSource(ImagerySource):
    """An imagery source behind a STAC API."""

    media_fallback = False  # presets name their asset; only an arbitrary catalogue takes any image asset

    def headers(self) -> dict[str, str]:
        return {}

    def find(self, bbox: tuple[float, float, float, float], t0: datetime, t1: datetime, max_cloud: float | None,
             limit: int) -> Found:
        if not self.stac_url:
            raise InputError("which catalogue? give --stac URL (a STAC API landing page)")
        if not self.collection:
            raise InputError("which collection? give --collection ID (e.g. sentinel-2-l2a)")
        api = open_api(self.stac_url, self.http, self.headers())
        self._collection_doc(api.url)
        body = search_body(api, [self.collection], bbox, t0, t1, max_cloud, min(max(limit, 10), 100))
        pages = Pages()
        found = Found(how={"catalogue": safe_url(api.url), "collection": self.collection, "cloud_by": api.cloud_by})
        index = 0
        for page in search(api, body, self.http, self.headers(), MAX_PAGES, pages):
            for item in page["features"]:
                index += 1
                coll = item.get("collection") if isinstance(item, dict) else None
                if isinstance(coll, str) and coll != self.collection:
                    found.drop("another collection")  # a server that ignored `collections`
                    continue
                got = parse_item(item, index - 1, self.assets, self.media_fallback)
                found.offer(got, t0, t1, bbox, max_cloud)
                if len(found.candidates) >= limit:
                    break
            if len(found.candidates) >= limit:
                break
        found.how.update(requests=len(pages.requests), matched=pages.matched, items_read=index)
        found.candidates.sort(key=lambda c: c.t_utc)
        return found

    def _collection_doc(self, api_url: str) -> dict[str, Any] | None:
        return None


@register
class AnyStac(StacApiSource):
    """A STAC API named by URL; licence from its collection document."""

    info = SourceInfo(
        kind="imagery", name="stac", title="STAC API", licence="see the collection",
        licence_url="", attribution="as the catalogue's collection states", homepage="https://stacspec.org")
    assets = ("visual", "image", "data", "analytic", "rgb")
    media_fallback = True
    _terms: dict[str, str] | None = None

    def _collection_doc(self, api_url: str) -> dict[str, Any] | None:
        try:
            doc = fetch_json(f"{api_url}/collections/{self.collection}", self.http, headers=self.headers())
        except NotFoundOnServer:
            raise InputError(f"{safe_url(api_url)} has no collection {self.collection!r}; list them at "
                             f"{safe_url(api_url)}/collections") from None
        except FetchError:
            doc = None
        if isinstance(doc, dict):
            self._terms = terms_of(doc, api_url)
        return doc if isinstance(doc, dict) else None

    def provider(self, c: Any) -> str:
        host = safe_url(self.stac_url or "").split("/")[2] if self.stac_url and "//" in self.stac_url else "STAC API"
        return f"{c.platform or self.collection} via {host}"

    def licence(self, c: Any) -> dict[str, str]:
        t = self._terms or {}
        return {"licence": t.get("licence") or "unknown (the collection states none)",
                "licence_url": t.get("licence_url") or "",
                "attribution": t.get("attribution") or f"{self.collection} from {safe_url(self.stac_url or '')}"}


def terms_of(collection: dict[str, Any], api_url: str) -> dict[str, str]:
    """Licence, its link and an attribution line from a STAC collection document."""
    lic = str(collection.get("license") or "")
    url = next((str(ln.get("href")) for ln in collection.get("links") or []
                if isinstance(ln, dict) and ln.get("rel") == "license" and ln.get("href")), "")
    names = [f"{p['name']} ({', '.join(p.get('roles') or []) or 'provider'})"
             for p in collection.get("providers") or [] if isinstance(p, dict) and isinstance(p.get("name"), str)]
    attribution = ("Data: " + "; ".join(names)) if names else f"{collection.get('title') or collection.get('id')}"
    return {"licence": lic, "licence_url": url, "attribution": f"{attribution}, via {safe_url(api_url)}"}
