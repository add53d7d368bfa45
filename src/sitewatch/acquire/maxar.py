"""Maxar Open Data: the static STAC catalogues of Maxar's disaster-response releases.

No search API: ``https://maxar-opendata.s3.amazonaws.com/events/catalog.json`` links one
collection per event (``{event}/collection.json``), which links a collection per acquisition
(catalog id), which links its items (ARD tiles, UTM quadkeys) with the assets ``visual``
(3-band COG), ``ms_analytic``, ``pan_analytic`` and ``data-mask``. The catalogue is walked
breadth first (:func:`._stacapi.walk_static`), skipping collections whose extent misses the
site or the time window. ``--collection EVENT`` starts at that event
(``Kahramanmaras-turkey-earthquake-23``), which saves reading the other events' documents;
``--stac URL`` replaces the root catalogue (a mirror).

Cloud cover is the tile's ``tile:clouds_percent`` where ``eo:cloud_cover`` is absent.
Public S3 over HTTPS, no key. Licence: CC BY-NC 4.0 (non-commercial use; attribute Maxar).
"""

from __future__ import annotations

from datetime import datetime

from sitewatch.acquire import SourceInfo, register
from sitewatch.acquire._imagery import Found, ImagerySource, Rejected, parse_item
from sitewatch.acquire._stacapi import walk_static
from sitewatch.acquire.http import safe_url

ROOT = "https://maxar-opendata.s3.amazonaws.com/events/catalog.json"
MAX_DOCS = 3000


@register
class MaxarOpenData(ImagerySource):
    info = SourceInfo(
        kind="imagery", name="maxar", title="Maxar Open Data Program (static STAC catalogue)",
        licence="CC-BY-NC-4.0", licence_url="https://creativecommons.org/licenses/by-nc/4.0/",
        attribution="Imagery © {year} Maxar Technologies, Maxar Open Data Program, CC BY-NC 4.0",
        homepage="https://www.maxar.com/open-data")
    stac_url = ROOT
    collection = None
    assets = ("visual",)

    def root(self) -> str:
        url = self.stac_url or ROOT
        if self.collection and url.endswith("/catalog.json"):
            return f"{url.rsplit('/', 1)[0]}/{self.collection}/collection.json"
        return url

    def find(self, bbox: tuple[float, float, float, float], t0: datetime, t1: datetime, max_cloud: float | None,
             limit: int) -> Found:
        root = self.root()
        found = Found(how={"catalogue": safe_url(root), "collection": self.collection, "cloud_by": "client"})
        index = 0
        for item, _url in walk_static(root, self.http, bbox, t0, t1, MAX_DOCS):
            got = parse_item(item, index, self.assets, False)
            index += 1
            if not isinstance(got, Rejected) and got.cloud is None:  # Maxar's own cloud field
                props = item.get("properties") or {}
                v = props.get("tile:clouds_percent")
                got.cloud = float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
            found.offer(got, t0, t1, bbox, max_cloud)
            if len(found.candidates) >= limit:
                break
        found.how.update(items_read=index)
        found.candidates.sort(key=lambda c: c.t_utc)
        return found

    def provider(self, c: object) -> str:
        platform = getattr(c, "platform", None)
        return f"Maxar {platform} (Open Data Program)" if platform else "Maxar (Open Data Program)"
