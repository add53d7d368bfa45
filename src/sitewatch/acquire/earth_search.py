"""Element 84 Earth Search (``https://earth-search.aws.element84.com/v1``): Sentinel-2 L2A, Sentinel-1 GRD.

Anonymous STAC API (stac-server). Its landing page advertises ``query`` but not ``filter``:
a CQL2 ``filter`` is ignored and the whole catalogue comes back, so cloud cover is asked with
``query`` (:mod:`._stacapi`). Pages: ``links[rel=next]`` with a ``POST`` body holding the
``next`` token.

* ``earth-search-s2``: collection ``sentinel-2-l2a`` (``sentinel-2-c1-l2a``, Collection 1, with
  ``--collection``), asset ``visual`` — the true-colour 10 m COG (``TCI.tif``) on the public
  ``sentinel-cogs`` bucket, read over HTTPS range requests.
* ``earth-search-s1``: collection ``sentinel-1-grd``, asset ``vv`` (else ``hh``/``vh``/``hv``),
  COGs on the *requester-pays* bucket ``s3://sentinel-s1-l1c`` (eu-central-1): reading needs
  AWS credentials in the environment (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or
  ``AWS_PROFILE``), GDAL reads them itself, and AWS bills the requester for the bytes read
  (a window is a few MB). GRD images are in radar geometry with ground control points: the
  window is warped to the site's UTM zone.

Terms: Copernicus Sentinel data are free and open (Sentinel data legal notice); attribute
"Contains modified Copernicus Sentinel data YEAR".
"""

from __future__ import annotations

import os

from sitewatch.acquire import SourceInfo, register
from sitewatch.acquire._cog import NeedsAccess
from sitewatch.acquire._imagery import Candidate
from sitewatch.acquire.http import safe_url
from sitewatch.acquire.stac import StacApiSource

URL = "https://earth-search.aws.element84.com/v1"
COPERNICUS_TERMS = "https://sentinels.copernicus.eu/documents/247904/690755/Sentinel_Data_Legal_Notice"
ATTRIBUTION = "Contains modified Copernicus Sentinel data {year}"


@register
class EarthSearchS2(StacApiSource):
    info = SourceInfo(
        kind="imagery", name="earth-search-s2", title="Sentinel-2 L2A (Copernicus/ESA) via Earth Search",
        licence="Copernicus-Sentinel-data-terms", licence_url=COPERNICUS_TERMS, attribution=ATTRIBUTION,
        homepage="https://element84.com/earth-search/")
    stac_url = URL
    collection = "sentinel-2-l2a"
    assets = ("visual",)
    gsd_hint_m = 10.0


@register
class EarthSearchS1(StacApiSource):
    info = SourceInfo(
        kind="imagery", name="earth-search-s1", title="Sentinel-1 GRD (Copernicus/ESA) via Earth Search",
        licence="Copernicus-Sentinel-data-terms", licence_url=COPERNICUS_TERMS, attribution=ATTRIBUTION,
        homepage="https://element84.com/earth-search/",
        key_env=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"))
    stac_url = URL
    collection = "sentinel-1-grd"
    assets = ("vv", "hh", "vh", "hv")
    gsd_hint_m = 10.0

    def access(self, c: Candidate) -> tuple[str, dict[str, str]]:
        if not c.href.startswith("s3://"):
            return c.href, {}
        if not (os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")):
            raise NeedsAccess(f"{safe_url(c.href)} is on requester-pays S3: set AWS_ACCESS_KEY_ID and "
                              "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) to read it; AWS bills you for the bytes read")
        env = {"AWS_REQUEST_PAYER": "requester"}
        if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
            env["AWS_REGION"] = "eu-central-1"
        return c.href, env
