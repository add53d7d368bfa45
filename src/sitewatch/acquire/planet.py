"""Planet Data API (``https://api.planet.com/data/v1``): PlanetScope / SkySat scenes with your key.

The key comes from the environment, ``PL_API_KEY`` (Planet's own tools read the same
variable; ``[settings.keys] planet = "env:VAR"`` names another one); it is sent as HTTP Basic user name, never logged, never stored, never in a report.

* search: ``POST /quick-search`` with ``item_types`` (``--collection``, default ``PSScene``;
  ``SkySatCollect`` …) and an ``AndFilter`` of the site's box (``GeometryFilter``), the time
  window (``DateRangeFilter`` on ``acquired``), cloud cover (``RangeFilter``, a 0–1 fraction)
  and ``PermissionFilter assets:download``; pages through ``_links._next``.
* an item is a Planet item, not a STAC one: ``properties.acquired``, ``cloud_percent`` (else
  ``cloud_cover`` × 100), ``gsd``; ``_links.assets`` lists its assets.
* assets must be *activated* before download: ``active`` → its ``location`` (a signed URL,
  read by range like any COG); ``inactive`` → activation is asked and the scene is
  ``pending`` ("fetch again in a few minutes"; ``watch run`` does so by itself);
  ``activating`` → ``pending``.
* throttled requests get ``429``: waited as everywhere (``Retry-After``, else backoff).

Asset ``ortho_visual`` (``--asset`` for another). Licence: your Planet contract; the
imagery is not redistributable; attribute "© YEAR Planet Labs PBC".
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sitewatch.acquire import SourceInfo, register
from sitewatch.acquire._cog import NeedsAccess
from sitewatch.acquire._imagery import Candidate, Found, ImagerySource, Pending, Rejected
from sitewatch.acquire._stacapi import fetch_json
from sitewatch.acquire.http import FetchError, safe_url
from sitewatch.errors import InputError

URL = "https://api.planet.com/data/v1"
MAX_PAGES = 10


@register
class PlanetData(ImagerySource):
    info = SourceInfo(
        kind="imagery", name="planet", title="Planet Data API (your Planet account)",
        licence="Planet-licence", licence_url="https://www.planet.com/licensing/",
        attribution="© {year} Planet Labs PBC; used under the account holder's Planet licence",
        homepage="https://docs.planet.com/develop/apis/data/", key_env=("PL_API_KEY",))
    stac_url = URL
    collection = "PSScene"
    assets = ("ortho_visual",)

    def headers(self) -> dict[str, str]:
        key = self.key("planet", "PL_API_KEY")
        if key is None:
            raise InputError("Planet needs your API key: set PL_API_KEY in the environment (or name another "
                             'variable: [settings.keys] planet = "env:VAR"); https://www.planet.com/account/')
        return {"Authorization": "Basic " + base64.b64encode(f"{key.reveal()}:".encode()).decode()}

    def find(self, bbox: tuple[float, float, float, float], t0: datetime, t1: datetime, max_cloud: float | None,
             limit: int) -> Found:
        base = (self.stac_url or URL).rstrip("/")
        hdrs = self.headers()
        x0, y0, x1, y1 = bbox
        config: list[dict[str, Any]] = [
            {"type": "GeometryFilter", "field_name": "geometry",
             "config": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}},
            {"type": "DateRangeFilter", "field_name": "acquired",
             "config": {"gte": t0.strftime("%Y-%m-%dT%H:%M:%SZ"), "lte": t1.strftime("%Y-%m-%dT%H:%M:%SZ")}},
            {"type": "PermissionFilter", "config": ["assets:download"]},
        ]
        if max_cloud is not None:
            config.append({"type": "RangeFilter", "field_name": "cloud_cover", "config": {"lte": max_cloud / 100}})
        body = {"item_types": [self.collection], "filter": {"type": "AndFilter", "config": config}}
        found = Found(how={"catalogue": safe_url(base), "collection": self.collection, "cloud_by": "filter"})
        url: str | None = f"{base}/quick-search?_page_size={min(max(limit, 10), 250)}"
        method: str = "POST"
        req: dict[str, Any] | None = body
        index = pages = 0
        while url and pages < MAX_PAGES and len(found.candidates) < limit:
            page = fetch_json(url, self.http, method=method, body=req, headers=hdrs)
            pages += 1
            feats = page.get("features") if isinstance(page, dict) else None
            if not isinstance(feats, list):
                raise FetchError(f"{safe_url(url)}: not a Planet search page (no features)")
            for item in feats:
                got = parse_planet(item, index, self.assets[0])
                index += 1
                found.offer(got, t0, t1, bbox, max_cloud)
                if len(found.candidates) >= limit:
                    break
            nxt = (page.get("_links") or {}).get("_next") if isinstance(page, dict) else None
            url, method, req = (nxt, "GET", None) if isinstance(nxt, str) and feats else (None, "GET", None)
        found.how.update(requests=pages, items_read=index)
        found.candidates.sort(key=lambda c: c.t_utc)
        return found

    def access(self, c: Candidate) -> tuple[str, dict[str, str]]:
        hdrs = self.headers()
        assets = fetch_json(c.href, self.http, headers=hdrs)
        a = assets.get(c.asset) if isinstance(assets, dict) else None
        if not isinstance(a, dict):
            have = ", ".join(sorted(assets)[:10]) if isinstance(assets, dict) else "none"
            raise NeedsAccess(f"item {c.item_id} has no asset {c.asset} your key may download (has: {have})")
        status = a.get("status")
        if status == "active" and isinstance(a.get("location"), str):
            return str(a["location"]), {}
        if status == "inactive":
            act = (a.get("_links") or {}).get("activate")
            if not isinstance(act, str):
                raise NeedsAccess(f"item {c.item_id}: asset {c.asset} cannot be activated with this key")
            fetch_json(act, self.http, method="POST", headers=hdrs, max_bytes=1 << 20, empty_ok=True)
            raise Pending(f"asset {c.asset} activation requested; Planet prepares it in minutes: fetch again")
        raise Pending(f"asset {c.asset} is {status or 'not ready'}; fetch again in a few minutes")

    def provider(self, c: Candidate) -> str:
        return f"Planet {c.platform or self.collection}"


def parse_planet(item: Any, index: int, asset: str) -> Candidate | Rejected:
    """A Planet Data API item → :class:`Candidate` (its ``href`` is the item's assets link)."""
    from sitewatch.acquire._imagery import item_footprint, raw_text
    from sitewatch.imagery.scenes import parse_tag_time

    raw = raw_text(item)
    if not isinstance(item, dict):
        return Rejected(index, None, raw, "not a JSON object")
    iid = item.get("id")
    if not isinstance(iid, str) or not iid:
        return Rejected(index, None, raw, "missing id")
    props = item.get("properties")
    if not isinstance(props, dict):
        return Rejected(index, iid, raw, "missing properties")
    t = parse_tag_time(props["acquired"]) if isinstance(props.get("acquired"), str) else None
    if t is None:
        return Rejected(index, iid, raw, "missing properties.acquired")
    fp = item_footprint(item)
    if fp is None:
        return Rejected(index, iid, raw, "missing geometry")
    links = item.get("_links")
    href = links.get("assets") if isinstance(links, dict) else None
    if not isinstance(href, str):
        return Rejected(index, iid, raw, "missing _links.assets")
    if isinstance(item.get("assets"), list) and asset not in item["assets"]:
        return Rejected(index, iid, raw, f"no asset {asset} (has: {', '.join(sorted(map(str, item['assets']))[:12])})")
    cp = props.get("cloud_percent")
    cc = props.get("cloud_cover")
    cloud = float(cp) if isinstance(cp, int | float) else (float(cc) * 100 if isinstance(cc, int | float) else None)
    platform = props.get("item_type") or props.get("provider")
    return Candidate(iid, t, asset, href, collection=str(props.get("item_type") or "") or None, cloud=cloud,
                     footprint=fp, platform=str(platform) if platform else None)
