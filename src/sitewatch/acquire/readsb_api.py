"""readsb-style v2 JSON APIs, polled live: adsb.lol, airplanes.live, adsb.fi, ADS-B Exchange — or a receiver.

How they are called (each answers readsb's JSON, ADS-B Exchange v2 compatible):

* **adsb.lol** ``https://api.adsb.lol/v2/point/{lat}/{lon}/{radius_nm}`` — no key today;
  dynamic rate limits. Output under ODbL 1.0: attribute "adsb.lol".
* **airplanes.live** ``https://api.airplanes.live/v2/point/{lat}/{lon}/{radius_nm}`` (radius at
  most 250 NM) — no key, 1 request/s, non-commercial use.
* **adsb.fi** ``https://opendata.adsb.fi/api/v2/lat/{lat}/lon/{lon}/dist/{nm}`` (at most 250 NM) —
  1 request/s, personal non-commercial use, cite adsb.fi with a link (layout ``lat-lon-dist``).
* **ADS-B Exchange** (RapidAPI) ``https://adsbexchange-com1.p.rapidapi.com/v2/lat/{lat}/lon/{lon}/dist/{nm}/``
  with headers ``X-RapidAPI-Key`` (from ``ADSBX_API_KEY``) and ``X-RapidAPI-Host``; a paid monthly quota.
* a receiver's ``aircraft.json`` (readsb, dump1090-fa, tar1090): the URL itself, polled whole
  (layout ``aircraft-json``).

Every answer is ``{"ac"|"aircraft": [...], "now": …}``; **v2 APIs give ``now`` in milliseconds,
a receiver's ``aircraft.json`` in seconds** — told apart by magnitude and converted. Each
aircraft with ``lat``/``lon`` is a position at ``now - seen_pos``, read by the
``readsb-aircraft`` file reader (same rows, same quarantine rules: a record without ``hex``, or
with one of lat/lon missing or out of range, is quarantined; unknown fields are ignored).
An answer that is not JSON or not that envelope is quarantined whole and makes its area dark
(an outage, see :mod:`sitewatch.live.api`). Field reference: readsb ``README-json.md``.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sitewatch.acquire import SourceInfo, register
from sitewatch.acquire._keys import Secret, secret
from sitewatch.acquire._polled import PolledClient
from sitewatch.acquire.http import safe_url
from sitewatch.errors import InputError
from sitewatch.live._net import Document
from sitewatch.live._outages import BBox
from sitewatch.live._poll import PollOptions, Request
from sitewatch.live.api import Taken
from sitewatch.sources.adsb.api_answers import parse_envelope, read_aircraft

LAYOUTS = ("point", "lat-lon-dist", "aircraft-json")
NM_KM = 1.852


@dataclass(frozen=True)
class Api:
    """Where a readsb-style API is and how it is asked."""

    base: str
    layout: str = "point"
    max_radius_nm: float = 250.0
    spacing_s: float = 1.0  # the least time between two requests
    key_name: str = ""  # [settings.keys] name and …
    key_env: str = ""  # … default environment variable of its key ("" = no key)
    key_header: str = ""
    extra_headers: tuple[tuple[str, str], ...] = ()
    trailing_slash: bool = False


class ReadsbApi:
    """A readsb v2 API source (one registered instance per service, see :func:`_preset`)."""

    info = SourceInfo(
        kind="adsb-live", name="readsb-api", title="readsb-compatible JSON API",
        licence="unknown", licence_url="",
        attribution="ADS-B data from a readsb-compatible API (check its terms of use)", homepage="")
    api = Api("", "point")

    def configured(self, base: str | None = None, layout: str | None = None,
                   settings: Mapping[str, Any] | None = None) -> ReadsbApi:
        """This service, or ``base`` (a URL: matched to a known service by its host)."""
        new = type(self)()
        if base:
            url = base.rstrip("/")
            if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise InputError(f"--api {base!r}: give a known service ({', '.join(sorted(presets()))}) "
                                 "or an http(s) URL")
            known = by_host(url)
            if known is not None:
                new = type(known)()
            lay = layout or ("aircraft-json" if url.endswith(".json") else new.api.layout)
            new.api = replace(new.api, base=url, layout=lay)
        elif layout:
            new.api = replace(new.api, layout=layout)
        if new.api.layout not in LAYOUTS:
            raise InputError(f"--api-layout {new.api.layout!r}: one of {', '.join(LAYOUTS)}")
        new._key = secret(settings, new.api.key_name, new.api.key_env) if new.api.key_env else None
        if new.api.key_env and new._key is None:
            raise InputError(f"{new.info.title} needs a key: set {new.api.key_env} in the environment "
                             f"(or [settings.keys] {new.api.key_name} = \"env:VARIABLE\" in sitewatch.toml)")
        return new

    _key: Secret | None = None

    def headers(self) -> dict[str, str]:
        h = dict(self.api.extra_headers)
        if self._key is not None and self.api.key_header:
            h[self.api.key_header] = self._key.reveal()
        return h

    def url_for(self, lat: float, lon: float, radius_nm: float) -> str:
        a = self.api
        if a.layout == "aircraft-json":
            return a.base
        r = f"{radius_nm:g}"
        path = (f"/point/{lat:.5f}/{lon:.5f}/{r}" if a.layout == "point"
                else f"/lat/{lat:.5f}/lon/{lon:.5f}/dist/{r}")
        return a.base + path + ("/" if a.trailing_slash else "")

    def client(self, sites: Sequence[Any], radius_nm: float | None, poll_opts: PollOptions) -> ReadsbClient:
        return ReadsbClient(self, sites, radius_nm, poll_opts)


class ReadsbClient(PolledClient):
    """The live side of :class:`ReadsbApi` (an :class:`~sitewatch.live.api.ApiClient`)."""

    kind = "adsb"
    fmt = "readsb-api"
    counted = ("positions",)
    repeat_window_s = 1.0

    def __init__(self, api: ReadsbApi, sites: Sequence[Any], radius_nm: float | None, opts: PollOptions) -> None:
        super().__init__(opts, api.headers)
        self.api = api
        a = api.api
        opts.spacing_s = max(opts.spacing_s, a.spacing_s)
        self.radius_nm: dict[str, float] = {}
        if a.layout == "aircraft-json":
            self.requests = [Request("receiver", a.base)]
            self._areas["receiver"] = None  # a receiver's reach is not known
        else:
            if not sites:
                raise InputError("no site to watch: add one (sitewatch site add hmeimim --airport OSLK) or pass --site")
            for s in sites:
                r = radius_nm if radius_nm is not None else default_radius_nm(s)
                if r > a.max_radius_nm:
                    raise InputError(f"--radius-nm {r:g} is over the {a.max_radius_nm:g} NM this API allows")
                self.radius_nm[s.name] = r
                self.requests.append(Request(s.name, api.url_for(s.lat, s.lon, r)))
                self._areas[s.name] = circle_box(s.lat, s.lon, r)
        self._seen_aircraft: set[str] = set()

    @property
    def source(self) -> str:
        return f"readsb-api:{safe_url(self.api.api.base)}"

    def options(self) -> dict[str, object]:
        return {"api": safe_url(self.api.api.base), "layout": self.api.api.layout, "interval_s": self.opts.interval_s,
                "radius_nm": self.radius_nm}

    def provenance(self) -> dict[str, object]:
        return {**self.api.info.as_json(), "endpoint": safe_url(self.api.api.base), "live": True,
                "keep": {"sites": [o for o, b in self._areas.items() if b is not None]}}

    def take(self, doc: Document) -> Taken:
        self._docs += 1
        try:
            now_s, recs, counters = parse_envelope(doc.data, doc.t_recv_s)
        except ValueError as exc:
            return self.unreadable(doc, exc)
        base = self._records
        self._records += len(recs)
        self._pending.extend(read_aircraft(now_s, recs, base, self.fmt, counters, self._seen_aircraft))
        return Taken(True, "", len(recs))


def circle_box(lat: float, lon: float, radius_nm: float) -> BBox:
    """(lat_min, lat_max, lon_min, lon_max) around a circle of ``radius_nm``."""
    dlat = radius_nm * NM_KM / 111.2
    dlon = min(180.0, dlat / max(0.01, math.cos(math.radians(lat))))
    return (max(-90.0, lat - dlat), min(90.0, lat + dlat), max(-180.0, lon - dlon), min(180.0, lon + dlon))


def reach_km(site: Any) -> float:
    """A site's reach from its point: its radius, else the farthest corner of its area's box."""
    if site.radius_km:
        return float(site.radius_km)
    from sitewatch.geo import haversine_m

    x0, y0, x1, y1 = site.area.bounds
    return float(max(haversine_m(site.lat, site.lon, y, x) for x in (x0, x1) for y in (y0, y1))) / 1000.0


def default_radius_nm(site: Any, near_km: float = 100.0) -> float:
    """The site's reach plus the 100 km in which the analytics look for what happens near it."""
    return float(min(250.0, math.ceil((reach_km(site) + near_km) / NM_KM)))


# -- the services ---------------------------------------------------------------------------------
_SERVICES: dict[str, ReadsbApi] = {}


def presets() -> dict[str, ReadsbApi]:
    return dict(_SERVICES)


def by_host(url: str) -> ReadsbApi | None:
    host = urllib.parse.urlsplit(url).hostname or ""
    for s in _SERVICES.values():
        if host and urllib.parse.urlsplit(s.api.base).hostname == host:
            return s
    return None


def _preset(info: SourceInfo, api: Api) -> None:
    cls = type(f"ReadsbApi_{info.name}", (ReadsbApi,), {"info": info, "api": api})
    register(cls)
    _SERVICES[info.name] = cls()


_preset(SourceInfo(
    kind="adsb-live", name="adsblol", title="adsb.lol live API (readsb v2)", licence="ODbL-1.0",
    licence_url="https://opendatacommons.org/licenses/odbl/1-0/",
    attribution="Contains ADS-B data from adsb.lol (https://adsb.lol), made available under the Open Database "
                "License (ODbL) 1.0", homepage="https://api.adsb.lol/docs"),
    Api("https://api.adsb.lol/v2", "point"))
_preset(SourceInfo(
    kind="adsb-live", name="airplaneslive", title="airplanes.live REST API (readsb v2)",
    licence="airplanes.live-terms", licence_url="https://airplanes.live/api-guide/",
    attribution="ADS-B data from airplanes.live (https://airplanes.live), non-commercial use",
    homepage="https://airplanes.live/api-guide/"),
    Api("https://api.airplanes.live/v2", "point"))
_preset(SourceInfo(
    kind="adsb-live", name="adsbfi", title="adsb.fi open data API (readsb v2)", licence="adsb.fi-opendata-terms",
    licence_url="https://github.com/adsbfi/opendata",
    attribution="ADS-B data from adsb.fi (https://adsb.fi), personal non-commercial use",
    homepage="https://github.com/adsbfi/opendata"),
    Api("https://opendata.adsb.fi/api/v2", "lat-lon-dist"))
_preset(SourceInfo(
    kind="adsb-live", name="adsbx", title="ADS-B Exchange API via RapidAPI (readsb v2)",
    licence="adsbexchange-api-terms", licence_url="https://www.adsbexchange.com/legal-and-privacy/",
    attribution="ADS-B data from ADS-B Exchange (https://www.adsbexchange.com)",
    homepage="https://rapidapi.com/adsbx/api/adsbexchange-com1", key_env=("ADSBX_API_KEY",)),
    Api("https://adsbexchange-com1.p.rapidapi.com/v2", "lat-lon-dist", key_name="adsbx", key_env="ADSBX_API_KEY",
        key_header="X-RapidAPI-Key", extra_headers=(("X-RapidAPI-Host", "adsbexchange-com1.p.rapidapi.com"),),
        trailing_slash=True))


@register
class CustomReadsbApi(ReadsbApi):
    """Any other readsb-compatible API or receiver (``--api URL``)."""


def service(name_or_url: str, layout: str | None = None, settings: Mapping[str, Any] | None = None) -> ReadsbApi:
    """The service ``--api`` names (a preset, or a URL matched to one by host, else a custom one)."""
    if name_or_url in _SERVICES:
        return _SERVICES[name_or_url].configured(None, layout, settings)
    return CustomReadsbApi().configured(name_or_url, layout, settings)
