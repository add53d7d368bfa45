"""aisstream.io: live AIS over a WebSocket for the watched sites' boxes.

How it is called (``https://aisstream.io/documentation``; message models: github
``aisstream/ais-message-models`` ``type-definition.yaml``):

* connect to ``wss://stream.aisstream.io/v0/stream`` and, **within 3 seconds**, send the
  subscription ``{"APIKey": KEY, "BoundingBoxes": [[[lat1, lon1], [lat2, lon2]], …],
  "FilterMessageTypes": [...]}`` (the key from ``AISSTREAM_API_KEY``; it stays in this process);
* each message is ``{"MessageType": T, "MetaData": {"MMSI", "ShipName", "latitude",
  "longitude", "time_utc": "2022-12-29 18:22:32.318353 +0000 UTC"}, "Message": {T: {…}}}``
  (``time_utc`` in Go's layout, not ISO 8601; ``ShipName`` space-padded); an error is
  ``{"error": "…"}`` and the server closes the socket.

Rows: ``PositionReport`` (class A), ``StandardClassBPositionReport`` and
``ExtendedClassBPositionReport`` give ``positions`` (MMSI = ``UserID``, SOG, COG, true
heading, navigation status for class A; "not available" values become NULL as for every AIS
reader, :mod:`sitewatch.sources.ais._common`); ``ShipStaticData`` (type 5),
``StaticDataReport`` (type 24) and the extended class B report (type 19) give
``vessel_reports``. A message missing a field it needs (``UserID``, ``Latitude``,
``Longitude``), marked ``Valid: false``, with coordinates out of range, or that is not JSON,
is quarantined with its text; other message types are counted; unknown fields are ignored.
A message without ``time_utc`` gets its reception time (``time_inferred``).

An error message before any data (a refused key) ends the stream with a one-line error (the
key scrubbed from it); later, a dropped socket is an outage of every box, and the feed
reconnects with a backoff. Terms: aisstream.io's terms of service (no data licence
published); attribute "aisstream.io".
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from sitewatch.acquire import SourceInfo, register
from sitewatch.acquire._keys import Secret, secret
from sitewatch.acquire.http import FetchError, safe_url
from sitewatch.acquire.readsb_api import circle_box, default_radius_nm
from sitewatch.errors import InputError
from sitewatch.live._net import Chunk, Document
from sitewatch.live._outages import BBox
from sitewatch.live._ws import HandshakeRefused, WsOptions, messages
from sitewatch.live.api import Taken, reject_batch
from sitewatch.sources.ais._common import coord_ok, positions_table, reports_table, valid_mmsi
from sitewatch.sources.base import Batch, Reject, finite_number

URL = "wss://stream.aisstream.io/v0/stream"
ORIGIN = "aisstream"
POSITION_TYPES = ("PositionReport", "StandardClassBPositionReport", "ExtendedClassBPositionReport")
STATIC_TYPES = ("ShipStaticData", "StaticDataReport", "ExtendedClassBPositionReport")
SUBSCRIBED = ("PositionReport", "StandardClassBPositionReport", "ExtendedClassBPositionReport", "ShipStaticData",
              "StaticDataReport")
_GO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*(?:([+-]\d{2}):?(\d{2}))?")

INFO = SourceInfo(
    kind="ais-live", name="aisstream", title="aisstream.io WebSocket API (live AIS)",
    licence="aisstream.io-terms", licence_url="https://aisstream.io/",
    attribution="AIS data from aisstream.io (https://aisstream.io)",
    homepage="https://aisstream.io/documentation", key_env=("AISSTREAM_API_KEY",))


def go_time_us(text: Any) -> int | None:
    """``2022-12-29 18:22:32.318353 +0000 UTC`` (Go's layout; ISO too) → µs since the epoch."""
    if not isinstance(text, str):
        return None
    m = _GO_TIME.match(text.strip())
    if not m:
        return None
    try:
        t = datetime.fromisoformat(f"{m[1]}T{m[2]}").replace(tzinfo=UTC)
    except ValueError:
        return None
    us = round(t.timestamp()) * 1_000_000 + int((m[3] or "0")[:6].ljust(6, "0"))
    if m[4]:
        sign = -1 if m[4].startswith("-") else 1
        us -= sign * (abs(int(m[4])) * 3600 + int(m[5])) * 1_000_000
    return us


@register
class AisStream:
    """The ``aisstream`` live source (``sitewatch stream ais --aisstream``)."""

    info = INFO

    def __init__(self, url: str = URL) -> None:
        self.url = url
        self.key: Secret | None = None

    def configured(self, url: str | None = None, settings: Mapping[str, Any] | None = None) -> AisStream:
        new = AisStream(url or self.url)
        if not new.url.startswith(("ws://", "wss://")):
            raise InputError(f"--aisstream-url {new.url!r} is not a WebSocket URL (wss://…)")
        new.key = secret(settings, "aisstream", "AISSTREAM_API_KEY")
        if new.key is None:
            raise InputError("aisstream.io needs an API key: set AISSTREAM_API_KEY in the environment (or "
                             '[settings.keys] aisstream = "env:VARIABLE" in sitewatch.toml); get one at aisstream.io')
        return new

    def client(self, sites: Sequence[Any], radius_nm: float | None, opts: WsOptions) -> AisStreamClient:
        return AisStreamClient(self, sites, radius_nm, opts)


class AisStreamClient:
    """The live side of :class:`AisStream` (an :class:`~sitewatch.live.api.ApiClient`)."""

    kind = "ais"
    fmt = "aisstream"
    counted = ("positions", "vessel_reports")
    repeat_window_s = 0.0

    def __init__(self, src: AisStream, sites: Sequence[Any], radius_nm: float | None, opts: WsOptions) -> None:
        if not sites:
            raise InputError("no site to watch: add one (sitewatch site add tartus --port 'TARTUS') or pass --site")
        assert src.key is not None
        self.src, self.opts, self.key = src, opts, src.key
        self._areas: dict[str, BBox | None] = {
            s.name: circle_box(s.lat, s.lon, radius_nm if radius_nm is not None else default_radius_nm(s))
            for s in sites}
        self._pos: list[dict[str, Any]] = []
        self._reports: list[dict[str, Any]] = []
        self._rejects: list[Reject] = []
        self._counters: dict[str, int] = {}
        self._n = 0
        self._data_seen = False

    @property
    def source(self) -> str:
        return f"aisstream:{safe_url(self.src.url)}"

    def areas(self) -> dict[str, BBox | None]:
        return dict(self._areas)

    def origins(self, origin: str) -> Sequence[str]:
        return tuple(self._areas) if origin == ORIGIN else (origin,)

    def subscription(self) -> str:
        boxes = [[[b[0], b[2]], [b[1], b[3]]] for b in self._areas.values() if b is not None]
        return json.dumps({"APIKey": self.key.reveal(), "BoundingBoxes": boxes,
                           "FilterMessageTypes": list(SUBSCRIBED)})

    def transport(self, stop: threading.Event, tick_s: float) -> Iterator[Chunk]:
        self.opts.tick_s = tick_s
        return messages(self.src.url, ORIGIN, self.subscription, stop, self.opts, self._refused)

    def _refused(self, exc: HandshakeRefused, answered: bool) -> None:
        if not answered and exc.status in (401, 403, 404):
            raise FetchError(f"{safe_url(self.src.url)}: {exc}: the WebSocket handshake was refused")

    def options(self) -> dict[str, object]:
        return {"url": safe_url(self.src.url), "boxes": {k: [round(x, 4) for x in v]
                                                       for k, v in self._areas.items() if v is not None}}

    def provenance(self) -> dict[str, object]:
        return {**self.src.info.as_json(), "endpoint": safe_url(self.src.url), "live": True,
                "keep": {"sites": list(self._areas)}}

    def _count(self, key: str) -> None:
        self._counters[key] = self._counters.get(key, 0) + 1

    def take(self, doc: Document) -> Taken:
        self._n += 1
        n = self._n
        raw = self.key.scrub(doc.data[:2000].decode("utf-8", "replace"))
        try:
            msg = json.loads(doc.data)
        except (ValueError, RecursionError) as exc:
            self._rejects.append(Reject(n, raw, f"not JSON ({type(exc).__name__})", "record"))
            return Taken(True, "", 1)
        if isinstance(msg, dict) and "error" in msg and "MessageType" not in msg:
            why = self.key.scrub(str(msg.get("error"))[:300])
            if not self._data_seen:
                raise FetchError(f"aisstream.io refused the subscription: {why} (check AISSTREAM_API_KEY)")
            return Taken(False, f"server error: {why}", 0)
        self._data_seen = True
        why = self._read(msg, n, doc.t_recv_s)
        if why:
            self._rejects.append(Reject(n, raw, why, "record"))
        return Taken(True, "", 1)

    def _read(self, msg: Any, n: int, t_recv_s: float) -> str:
        """Rows of one message into the pending lists; the reason when it must be quarantined."""
        if not isinstance(msg, dict):
            return "not a JSON object"
        mtype = msg.get("MessageType")
        body = (msg.get("Message") or {}).get(mtype) if isinstance(msg.get("Message"), dict) else None
        if not isinstance(mtype, str) or not isinstance(body, dict):
            return "missing MessageType or its Message body"
        if mtype not in POSITION_TYPES and mtype not in STATIC_TYPES:
            self._count("other_message_types")
            return ""
        meta_raw = msg.get("MetaData")
        meta: dict[str, Any] = meta_raw if isinstance(meta_raw, dict) else {}
        if body.get("Valid") is False:
            return f"{mtype} marked not valid by aisstream's decoder"
        user = body.get("UserID", meta.get("MMSI"))
        if isinstance(user, bool) or not isinstance(user, int | str) or not valid_mmsi(str(user).strip()):
            return f"{mtype} without a usable UserID (MMSI)"
        mmsi = str(user).strip().zfill(9)
        t_us = go_time_us(meta.get("time_utc"))
        inferred = t_us is None
        if t_us is None:
            t_us = round(t_recv_s * 1e6)
        name = _text(meta.get("ShipName"))
        if mtype in POSITION_TYPES:
            lat, lon = body.get("Latitude"), body.get("Longitude")
            if not _isnum(lat) or not _isnum(lon):
                return f"{mtype} without Latitude/Longitude"
            if not bool(coord_ok(np.array([lat], float), np.array([lon], float))[0]):
                return "latitude/longitude out of range (91/181: not available)"
            self._pos.append({"t": t_us, "mmsi": mmsi, "lat": _f(lat), "lon": _f(lon),
                              "sog": _f(body.get("Sog")), "cog": _f(body.get("Cog")),
                              "heading": _f(body.get("TrueHeading")),
                              "status": _nav_status(body.get("NavigationalStatus")), "name": name,
                              "inferred": inferred, "n": n})
        if mtype in STATIC_TYPES:
            rep = _static(mtype, body)
            if rep is not None:
                rep.update(t_utc_us=t_us, mmsi=mmsi, rec_offset=n, time_inferred=inferred)
                self._reports.append(rep)
        return ""

    def drain(self, final: bool) -> list[Batch]:
        out: list[Batch] = []
        p, self._pos = self._pos, []
        if p:
            out.append(Batch("positions", positions_table(
                t_utc_us=np.array([r["t"] for r in p], np.int64), mmsi=[r["mmsi"] for r in p],
                lat=np.array([r["lat"] for r in p]), lon=np.array([r["lon"] for r in p]), fmt=self.fmt,
                rec_offset=np.array([r["n"] for r in p], np.int64), speed_kt=np.array([r["sog"] for r in p]),
                track_deg=np.array([r["cog"] for r in p]), heading_deg=np.array([r["heading"] for r in p]),
                status_code=np.array([r["status"] for r in p], np.int64), name=[r["name"] for r in p],
                time_inferred=np.array([r["inferred"] for r in p], bool))))
        reps, self._reports = self._reports, []
        if reps:
            out.append(Batch("vessel_reports", reports_table(reps, self.fmt)))
        rj, self._rejects = self._rejects, []
        cnt, self._counters = self._counters, {}
        if rj or cnt:
            out.append(reject_batch(rj, cnt))
        return out


def _static(mtype: str, body: dict[str, Any]) -> dict[str, Any] | None:
    dim = body.get("Dimension")
    if mtype == "StaticDataReport":
        a, b = body.get("ReportA") or {}, body.get("ReportB") or {}
        rep: dict[str, Any] = {"msg_type": 24}
        if isinstance(a, dict) and a.get("Valid") is not False and a.get("Name"):
            rep["name"] = _text(a.get("Name"))
        if isinstance(b, dict) and b.get("Valid") is not False:
            rep["callsign"] = _text(b.get("CallSign"))
            rep["ship_type"] = _int_pos(b.get("ShipType"))
            dim = b.get("Dimension")
        else:
            dim = None
    else:
        rep = {"msg_type": 5 if mtype == "ShipStaticData" else 19, "name": _text(body.get("Name")),
               "ship_type": _int_pos(body.get("Type"))}
        if mtype == "ShipStaticData":
            imo = body.get("ImoNumber")
            rep.update(callsign=_text(body.get("CallSign")), destination=_text(body.get("Destination")),
                       imo=_imo(imo),
                       draught_m=_pos(body.get("MaximumStaticDraught")))
    if isinstance(dim, dict):
        a_, b_, c_, d_ = (_f(dim.get(k)) for k in "ABCD")
        rep["length_m"] = _pos(a_ + b_)
        rep["width_m"] = _pos(c_ + d_)
    fields = ("name", "callsign", "imo", "ship_type", "length_m", "width_m", "draught_m", "destination")
    return rep if any(rep.get(k) is not None for k in fields) else None


def _isnum(v: Any) -> bool:
    return finite_number(v) is not None


def _f(v: Any) -> float:
    f = finite_number(v)
    return float("nan") if f is None else f


def _pos(v: Any) -> float | None:
    f = finite_number(v)
    return f if f is not None and 0 < f < 1e6 else None


def _int_pos(v: Any) -> int | None:
    f = finite_number(v)
    return int(f) if f is not None and 0 < f < 256 else None


def _imo(v: Any) -> int | None:
    f = finite_number(v)
    return int(f) if f is not None and 0 < f < 1e10 else None  # IMO numbers have 7 digits


def _nav_status(v: Any) -> int:
    """The navigation status code (0–15), -1 when absent or out of range."""
    f = finite_number(v)
    return int(f) if f is not None and 0 <= f <= 15 else -1


def _text(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    t = " ".join(v.replace("@", " ").split())
    return t or None
