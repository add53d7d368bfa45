"""Copernicus Data Space Ecosystem STAC catalogue (``https://stac.dataspace.copernicus.eu/v1``).

Catalogue search is anonymous (STAC 1.1; ``query`` and CQL2 ``filter`` both advertised).
The assets are not: each lives on CDSE's S3 (``s3://eodata/…``) with an HTTPS alternate
(``alternate.https``, the OData "zipper") behind an OpenID Connect token. Reading a window
therefore needs one of, from the environment (never logged, never stored; ``[settings.keys]
cdse_token = "env:VAR"`` etc. name other variables):

* ``CDSE_S3_ACCESS_KEY`` + ``CDSE_S3_SECRET_KEY`` (S3 keys made in the CDSE dashboard): the
  ``s3://`` href through GDAL's ``/vsis3/`` at ``eodata.dataspace.copernicus.eu``;
* ``CDSE_TOKEN`` (an access token), or ``CDSE_USERNAME`` + ``CDSE_PASSWORD`` exchanged for one
  at the CDSE identity server (``client_id=cdse-public``; tokens last minutes, one is asked per
  command): the ``https`` alternate with ``Authorization: Bearer``.

* ``cdse-s2``: ``sentinel-2-l2a``, asset ``TCI_10m`` (true colour, JPEG 2000 — GDAL reads its
  tiles by range too, less efficiently than a COG's);
* ``cdse-s1``: ``sentinel-1-grd`` (COG), asset ``vv`` (else ``hh``/``vh``/``hv``), ground control
  points → warped to the site's UTM zone.

Quotas: 2,000 requests a minute per user (S3, OData, STAC). Terms: Copernicus Sentinel data
legal notice; attribute "Contains modified Copernicus Sentinel data YEAR".
"""

from __future__ import annotations

import os
import time

from sitewatch.acquire import SourceInfo, register
from sitewatch.acquire._cog import NeedsAccess
from sitewatch.acquire._imagery import Candidate
from sitewatch.acquire._stacapi import fetch_json
from sitewatch.acquire.earth_search import ATTRIBUTION, COPERNICUS_TERMS
from sitewatch.acquire.http import FetchError, safe_url
from sitewatch.acquire.stac import StacApiSource

URL = "https://stac.dataspace.copernicus.eu/v1"
TOKEN_URL = "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token"
S3_ENDPOINT = "eodata.dataspace.copernicus.eu"
KEYS = ("CDSE_S3_ACCESS_KEY", "CDSE_S3_SECRET_KEY", "CDSE_TOKEN", "CDSE_USERNAME", "CDSE_PASSWORD")


class _Cdse(StacApiSource):
    stac_url = URL
    gsd_hint_m = 10.0
    _token: tuple[str, float] | None = None

    def access(self, c: Candidate) -> tuple[str, dict[str, str]]:
        key, sec = self.key("cdse_s3_access_key", "CDSE_S3_ACCESS_KEY"), self.key("cdse_s3_secret_key",
                                                                                  "CDSE_S3_SECRET_KEY")
        if c.href.startswith("s3://") and key and sec:
            return c.href, {"AWS_S3_ENDPOINT": os.environ.get("CDSE_S3_ENDPOINT", S3_ENDPOINT),
                            "AWS_ACCESS_KEY_ID": key.reveal(), "AWS_SECRET_ACCESS_KEY": sec.reveal(),
                            "AWS_VIRTUAL_HOSTING": "FALSE", "AWS_HTTPS": "YES", "AWS_REGION": "default"}
        https = c.alternates.get("https") or (c.href if c.href.startswith("http") else None)
        if https is None:
            raise NeedsAccess(f"{safe_url(c.href)}: CDSE assets need S3 keys (CDSE_S3_ACCESS_KEY, CDSE_S3_SECRET_KEY)")
        token = self.token()
        if token is None:
            raise NeedsAccess("CDSE assets need credentials: set CDSE_S3_ACCESS_KEY and CDSE_S3_SECRET_KEY, or "
                              "CDSE_TOKEN, or CDSE_USERNAME and CDSE_PASSWORD")
        return https, {"GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}"}

    def token(self) -> str | None:
        given = self.key("cdse_token", "CDSE_TOKEN")
        if given is not None:
            return given.reveal()
        user, password = self.key("cdse_username", "CDSE_USERNAME"), self.key("cdse_password", "CDSE_PASSWORD")
        if user is None or password is None:
            return None
        if self._token is not None and self._token[1] > time.monotonic():
            return self._token[0]
        doc = fetch_json(os.environ.get("CDSE_TOKEN_URL", TOKEN_URL), self.http, method="POST",
                         form={"client_id": "cdse-public", "grant_type": "password", "username": user.reveal(),
                               "password": password.reveal()})
        tok = doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(tok, str):
            raise FetchError("the CDSE identity server answered without an access token; check CDSE_USERNAME")
        life = doc.get("expires_in") if isinstance(doc.get("expires_in"), int | float) else 300
        self._token = (tok, time.monotonic() + max(30.0, float(life) - 30.0))
        return tok


@register
class CdseS2(_Cdse):
    info = SourceInfo(
        kind="imagery", name="cdse-s2", title="Sentinel-2 L2A (Copernicus/ESA) via Copernicus Data Space",
        licence="Copernicus-Sentinel-data-terms", licence_url=COPERNICUS_TERMS, attribution=ATTRIBUTION,
        homepage="https://dataspace.copernicus.eu", key_env=KEYS)
    collection = "sentinel-2-l2a"
    assets = ("TCI_10m", "visual")


@register
class CdseS1(_Cdse):
    info = SourceInfo(
        kind="imagery", name="cdse-s1", title="Sentinel-1 GRD (Copernicus/ESA) via Copernicus Data Space",
        licence="Copernicus-Sentinel-data-terms", licence_url=COPERNICUS_TERMS, attribution=ATTRIBUTION,
        homepage="https://dataspace.copernicus.eu", key_env=KEYS)
    collection = "sentinel-1-grd"
    assets = ("vv", "hh", "vh", "hv")
