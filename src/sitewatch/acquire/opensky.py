"""OpenSky Network REST state vectors, polled live for the watched sites' boxes.

How it is called (``https://openskynetwork.github.io/opensky-api/rest.html``):

* ``GET https://opensky-network.org/api/states/all?lamin=&lomin=&lamax=&lomax=&extended=1`` →
  ``{"time": s, "states": [[icao24, callsign, origin_country, time_position, last_contact,
  longitude, latitude, baro_altitude_m, on_ground, velocity_ms, true_track, vertical_rate_ms,
  sensors, geo_altitude_m, squawk, spi, position_source(, category)], …] | null}``.
* Auth: **OAuth2 client credentials** only (``OPENSKY_CLIENT_ID``, ``OPENSKY_CLIENT_SECRET`` from
  the environment): ``POST https://auth.opensky-network.org/auth/realms/opensky-network/protocol/
  openid-connect/token`` (``grant_type=client_credentials``) → ``access_token`` (30 minutes),
  sent as ``Authorization: Bearer``; renewed before it expires and on a 401. Without them the
  feed runs anonymously (latest states only, 10 s resolution).
* **Credits** per day: anonymous 400, a standard account 4,000; ``/states/all`` costs 1 credit
  per box up to 25 square degrees (2 to 100, 3 to 400, else 4). The default interval spends
  at most the day's credits; a faster ``--interval`` is allowed (with a warning) and, once the
  credits run out, the 429s (``X-Rate-Limit-Retry-After-Seconds``) are outages.

Rows: a position at ``time_position`` (``last_contact`` when the position has no time of its
own, counted), altitude m → ft, speed m/s → kt, vertical rate m/s → ft/min. A state without a
position is counted (``no_position``); one with fewer than 17 fields, or with an icao24 that is
not hex, is quarantined. Licence: OpenSky's terms of use (non-commercial, research; cite
"The OpenSky Network, https://opensky-network.org").
"""

from __future__ import annotations

import json
import logging
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from sitewatch.acquire import SourceInfo, register
from sitewatch.acquire._keys import Secret, secret
from sitewatch.acquire._polled import PolledClient
from sitewatch.acquire.http import FetchError, safe_url
from sitewatch.acquire.readsb_api import circle_box, default_radius_nm
from sitewatch.errors import InputError
from sitewatch.live._net import Document
from sitewatch.live._outages import BBox
from sitewatch.live._poll import PollOptions, Request
from sitewatch.live.api import Taken
from sitewatch.sources.adsb.api_answers import parse_states

log = logging.getLogger(__name__)

API = "https://opensky-network.org/api"
TOKEN_URL = "https://auth.opensky-network.org/auth/realms/opensky-network/protocol/openid-connect/token"
CREDITS_PER_DAY = {"anonymous": 400, "account": 4000}
MIN_INTERVAL_S = {"anonymous": 10.0, "account": 5.0}  # the resolution of the states served

INFO = SourceInfo(
    kind="adsb-live", name="opensky", title="OpenSky Network REST API (state vectors)",
    licence="OpenSky-terms-of-use", licence_url="https://opensky-network.org/about/terms-of-use",
    attribution="ADS-B data from The OpenSky Network (https://opensky-network.org), used under its terms of use",
    homepage="https://openskynetwork.github.io/opensky-api/rest.html",
    key_env=("OPENSKY_CLIENT_ID", "OPENSKY_CLIENT_SECRET"))


def credits_of(box: BBox) -> int:
    """Credits one ``/states/all`` of ``box`` costs (by its area in square degrees)."""
    area = abs(box[1] - box[0]) * abs(box[3] - box[2])
    return 1 if area <= 25 else 2 if area <= 100 else 3 if area <= 400 else 4


class Token:
    """An OAuth2 client-credentials access token, renewed a minute before it expires."""

    def __init__(self, url: str, client_id: Secret, client_secret: Secret, timeout_s: float = 20.0) -> None:
        self.url, self._id, self._secret, self.timeout_s = url, client_id, client_secret, timeout_s
        self._token: Secret | None = None
        self._expires = 0.0

    def header(self) -> dict[str, str]:
        if self._token is None or time.monotonic() >= self._expires:
            self.renew()
        assert self._token is not None
        return {"Authorization": f"Bearer {self._token.reveal()}"}

    def renew(self) -> bool:
        body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": self._id.reveal(),
                                       "client_secret": self._secret.reveal()}).encode()
        req = urllib.request.Request(self.url, data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                doc = json.loads(resp.read(1 << 20))
        except urllib.error.HTTPError as exc:
            exc.close()
            raise FetchError(f"{safe_url(self.url)}: HTTP {exc.code}: OpenSky refused the client credentials "
                             "(OPENSKY_CLIENT_ID / OPENSKY_CLIENT_SECRET)") from None
        except (OSError, ValueError) as exc:
            raise FetchError(f"{safe_url(self.url)}: no token ({type(exc).__name__}); try again later") from None
        tok = doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(tok, str) or not tok:
            raise FetchError(f"{safe_url(self.url)}: the token answer has no access_token")
        ttl = doc.get("expires_in", 1800)
        self._token = Secret(tok, "OpenSky access token")
        self._expires = time.monotonic() + max(30.0, float(ttl if isinstance(ttl, int | float) else 1800) - 60.0)
        return True


@register
class OpenSky:
    """The ``opensky`` live source (``sitewatch stream adsb --opensky``)."""

    info = INFO

    def __init__(self, base: str = API, token_url: str = TOKEN_URL) -> None:
        self.base, self.token_url = base.rstrip("/"), token_url
        self.token: Token | None = None

    def configured(self, base: str | None = None, token_url: str | None = None,
                   settings: Mapping[str, Any] | None = None) -> OpenSky:
        new = OpenSky(base or self.base, token_url or self.token_url)
        cid = secret(settings, "opensky_client_id", "OPENSKY_CLIENT_ID")
        csec = secret(settings, "opensky_client_secret", "OPENSKY_CLIENT_SECRET")
        if (cid is None) != (csec is None):
            raise InputError("OpenSky needs both OPENSKY_CLIENT_ID and OPENSKY_CLIENT_SECRET (an API client made on "
                             "your account page), or neither for anonymous access")
        if cid is not None and csec is not None:
            new.token = Token(new.token_url, cid, csec)
        return new

    @property
    def tier(self) -> str:
        return "account" if self.token is not None else "anonymous"

    def headers(self) -> dict[str, str]:
        return self.token.header() if self.token is not None else {}

    def unauthorized(self) -> bool:
        return self.token.renew() if self.token is not None else False

    def client(self, sites: Sequence[Any], radius_nm: float | None, opts: PollOptions,
               interval_given: bool) -> OpenSkyClient:
        return OpenSkyClient(self, sites, radius_nm, opts, interval_given)


class OpenSkyClient(PolledClient):
    """The live side of :class:`OpenSky` (an :class:`~sitewatch.live.api.ApiClient`)."""

    kind = "adsb"
    fmt = "opensky-api"
    counted = ("positions",)
    repeat_window_s = 1.0

    def __init__(self, src: OpenSky, sites: Sequence[Any], radius_nm: float | None, opts: PollOptions,
                 interval_given: bool) -> None:
        if not sites:
            raise InputError("no site to watch: add one (sitewatch site add hmeimim --airport OSLK) or pass --site")
        super().__init__(opts, src.headers, src.unauthorized)
        self.src = src
        cost = 0
        for s in sites:
            box = circle_box(s.lat, s.lon, radius_nm if radius_nm is not None else default_radius_nm(s))
            self._areas[s.name] = box
            cost += credits_of(box)
            q = urllib.parse.urlencode({"lamin": f"{box[0]:.4f}", "lomin": f"{box[2]:.4f}", "lamax": f"{box[1]:.4f}",
                                        "lomax": f"{box[3]:.4f}", "extended": 1})
            self.requests.append(Request(s.name, f"{src.base}/states/all?{q}"))
        budget = CREDITS_PER_DAY[src.tier]
        least = max(MIN_INTERVAL_S[src.tier], 86400.0 * cost / budget)
        self.credits_per_day = math.ceil(86400.0 / opts.interval_s * cost) if interval_given else budget
        if not interval_given:
            opts.interval_s = least
        elif opts.interval_s < least:
            log.warning("OpenSky (%s): %d credits per round every %.0f s spend %d credits a day of %d; the feed "
                        "will be rate-limited (an outage) once they run out: --interval %.0f fits", src.tier, cost,
                        opts.interval_s, self.credits_per_day, budget, least)

    @property
    def source(self) -> str:
        return f"opensky:{safe_url(self.src.base)}"

    def options(self) -> dict[str, object]:
        return {"api": safe_url(self.src.base), "tier": self.src.tier, "interval_s": round(self.opts.interval_s, 1),
                "boxes": {k: [round(x, 4) for x in v] for k, v in self._areas.items() if v is not None}}

    def provenance(self) -> dict[str, object]:
        return {**self.src.info.as_json(), "endpoint": safe_url(self.src.base), "live": True,
                "keep": {"sites": list(self._areas)}}

    def take(self, doc: Document) -> Taken:
        self._docs += 1
        try:
            batch, n = parse_states(doc.data, self._records)
        except ValueError as exc:
            return self.unreadable(doc, exc)
        self._records += n
        self._pending.append(batch)
        return Taken(True, "", n)
