"""``readsb-api`` and ``opensky-api``: answers of the live ADS-B APIs, saved to a file.

An analyst who ran ``curl https://api.adsb.lol/v2/point/35.4/35.9/100 > snap.json`` (or kept
the answers of OpenSky's ``/states/all``) ingests them like any other file; ``stream adsb``
hands every answer it polls to these same parsers, so a saved answer and a polled one give the
same rows.

**readsb-api** — a readsb-style v2 API answer (adsb.lol, airplanes.live, adsb.fi, adsb.one,
ADS-B Exchange v2)::

    {"ac": [{"hex": "a9cee9", "flight": "N731BP  ", "alt_baro": 38000, "gs": 338.9, "track": 276.1,
             "baro_rate": 0, "squawk": "3301", "lat": 37.358322, "lon": -93.374147, "seen_pos": 3.486, …}],
     "msg": "No error", "now": 1675633671226, "total": 1, "ctime": …, "ptime": …}

``now`` is in **milliseconds** in v2 answers and in seconds in a receiver's ``aircraft.json``
(told apart by magnitude; ``aircraft.json`` files themselves are the ``readsb-aircraft``
format). Each aircraft with ``lat``/``lon`` is a position at ``now - seen_pos``, read by the
``readsb-aircraft`` reader's rules (a record without ``hex``, or with lat/lon out of range, is
quarantined with its record number; unknown fields are ignored). A saved answer without
``now`` is refused: the positions' times would be a guess.

**opensky-api** — an OpenSky REST ``/states/all`` answer ``{"time": s, "states": [[icao24,
callsign, origin_country, time_position, last_contact, lon, lat, baro_altitude_m, on_ground,
velocity_ms, true_track, vertical_rate_ms, sensors, geo_altitude_m, squawk, spi,
position_source(, category)], …]}``: 17 fields, 18 with ``extended=1``. A state's time is
``time_position`` (``last_contact`` when that is null: counted as ``time_from_last_contact``);
metres, m/s become ft, kt and ft/min. ``"states": null`` (nothing matched) is an answer with no
rows. A vector of another length is quarantined with its record number.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch.errors import FormatError
from sitewatch.sources.adsb._common import _empty, epoch_to_ts, positions_batch, watch_filtered
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject, finite_number, register

MAX_JSON_BYTES = 512 << 20
MAX_RECORDS = 100_000  # aircraft in one readsb answer (a point query's; more is not an answer)
MAX_NOW = 1e14  # a 'now' beyond this (milliseconds: year 5138) is not a time
IDENTITY_FIELDS = frozenset({"r", "t", "desc", "ownOp", "category", "dbFlags", "year"})
FT_M = 3.28084
KT_MS = 1.943844
FPM_MS = 196.850394


def _data(src: InputFile) -> bytes:
    with src.open() as f:
        data = f.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise FormatError("an API answer over 512 MiB: not one answer", path=src.name)
    return data


def _head_keys(head: bytes, *keys: bytes) -> bool:
    h = head.lstrip()
    return h[:1] == b"{" and all(k in h for k in keys)


# -- readsb-style v2 APIs --------------------------------------------------------------------------

def parse_envelope(data: bytes, t_recv_s: float | None) -> tuple[float, list[Any], dict[str, int]]:
    """(``now`` in seconds, aircraft records, counters) of a v2 API answer or an ``aircraft.json``.

    ``t_recv_s``: when the answer was received (a live poll), the time of an answer without
    ``now``; ``None`` for a saved file, where such an answer is refused (``ValueError``)."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"not JSON ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    if "ac" in doc:
        recs = doc["ac"] if doc["ac"] is not None else []  # some servers send null for none
    else:
        recs = doc.get("aircraft")
    if not isinstance(recs, list):
        raise ValueError("no 'ac' (v2 API) or 'aircraft' (aircraft.json) list: not a readsb answer")
    if len(recs) > MAX_RECORDS:
        raise ValueError(f"{len(recs):,} aircraft in one answer: not a point query")
    counters: dict[str, int] = {}
    now = finite_number(doc.get("now"))
    if now is not None and 0 < now < MAX_NOW:
        if now > 1e11:  # v2 APIs: milliseconds; aircraft.json: seconds
            now = now / 1000.0
            counters["now_in_ms"] = 1
        now_s = now
    elif t_recv_s is not None:
        now_s = t_recv_s
        counters["now_missing"] = 1
    else:
        raise ValueError("the answer has no usable 'now' (its time): the positions' times are unknown; "
                         "save the API's whole answer")
    return now_s, recs, counters


def read_aircraft(now_s: float, recs: list[Any], base: int, fmt: str, counters: dict[str, int],
                  seen: set[str]) -> list[Batch]:
    """Positions (and new aircraft identities) of one answer, through the ``readsb-aircraft`` reader.

    ``base``: records before this answer (record numbers go on from it); ``seen``: the aircraft
    whose identity was already read (updated)."""
    from sitewatch.sources.adsb.readsb import ReadsbAircraftReader

    rejects = [Reject(base + i + 1, json.dumps(r)[:2000] if r is not None else "null", "aircraft record is not an object",
                      "record") for i, r in enumerate(recs) if not isinstance(r, dict)]
    # an aircraft's identity (registration, type, …) is read once a session: the reader builds
    # one row per aircraft that carries it, the slow part of an answer
    objs = [r if str(r.get("hex", "")).lower() not in seen else {k: v for k, v in r.items() if k not in IDENTITY_FIELDS}
            for r in recs if isinstance(r, dict)]
    keep_offsets = [base + i + 1 for i, r in enumerate(recs) if isinstance(r, dict)]
    data = json.dumps({"now": now_s, "aircraft": objs}).encode()
    src = InputFile(f"{fmt}", lambda: io.BytesIO(data), len(data))
    out: list[Batch] = []
    for b in ReadsbAircraftReader().read(src, ReadOptions()):
        if b.table == "positions":
            rows = b.rows
            if rows.num_rows:
                offs = pa.array([keep_offsets[int(o) - 1] for o in rows.column("rec_offset").to_pylist()], pa.int64())
                rows = rows.set_column(rows.column_names.index("rec_offset"), "rec_offset", offs)
                rows = rows.set_column(rows.column_names.index("format"), "format",
                                       pa.repeat(pa.scalar(fmt), rows.num_rows))
            rj = [Reject(keep_offsets[r.offset - 1], r.raw, r.reason, "record") for r in b.rejects]
            merged = dict(b.counters)
            for k, v in counters.items():
                merged[k] = merged.get(k, 0) + v
            out.append(Batch("positions", rows, rj + rejects, merged))
            rejects, counters = [], {}
        elif b.table == "aircraft" and b.rows.num_rows:
            ids = b.rows.column("icao24").to_pylist()
            new = [i not in seen for i in ids]
            seen.update(ids)
            if any(new):
                rows = b.rows.filter(pa.array(new))
                rows = rows.set_column(rows.column_names.index("db_source"), "db_source",
                                       pa.repeat(pa.scalar(f"feed:{fmt}"), rows.num_rows))
                out.append(Batch("aircraft", rows))
    if rejects or counters:
        out.append(Batch("positions", _empty(), rejects, dict(counters)))
    return out


@register
class ReadsbApiReader:
    """A saved readsb-style v2 API answer (see the module docstring)."""

    kind = "adsb"
    name = "readsb-api"

    def sniff(self, head: bytes, name: str) -> float:
        if not _head_keys(head, b'"ac"'):
            return 0.0
        return 0.95 if b'"now"' in head else 0.6  # (without its time it is refused, saying why)

    @watch_filtered
    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        try:
            now_s, recs, counters = parse_envelope(_data(src), None)
        except ValueError as exc:
            raise FormatError(f"not a readsb v2 API answer: {exc}", path=src.name) from None
        yield from read_aircraft(now_s, recs, 0, self.name, counters, set())


# -- OpenSky /states/all ---------------------------------------------------------------------------

def parse_states(data: bytes, base: int = 0, fmt: str = "opensky-api") -> tuple[Batch, int]:
    """The positions batch of a ``/states/all`` answer and its number of states (``ValueError``
    when it is not one); ``base``: records before this answer."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"not JSON ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(doc, dict) or "states" not in doc:
        raise ValueError("no 'states' in the answer: not an OpenSky /states/all response")
    states = doc["states"] or []
    if not isinstance(states, list):
        raise ValueError("'states' is not a list")
    rejects: list[Reject] = []
    rows: list[list[Any]] = []
    offs: list[int] = []
    counters: dict[str, int] = {}
    for i, s in enumerate(states):
        if not isinstance(s, list) or len(s) < 17:
            n = len(s) if isinstance(s, list) else 0
            rejects.append(Reject(base + i + 1, json.dumps(s)[:2000], f"state vector with {n} fields, expected 17 or 18",
                                  "record"))
            continue
        rows.append(s)
        offs.append(base + i + 1)

    def num(k: int) -> np.ndarray:
        return np.array([_num(s[k]) for s in rows], np.float64)

    t_pos, t_contact = num(3), num(4)
    from_contact = np.isnan(t_pos) & ~np.isnan(t_contact) & ~np.isnan(num(6))
    counters["time_from_last_contact"] = int(from_contact.sum())
    t = np.where(np.isnan(t_pos), t_contact, t_pos)
    canon = pa.table({
        "t_utc": epoch_to_ts(t, "s"),
        "id": pa.array([s[0] if isinstance(s[0], str) else "" for s in rows], pa.string()),
        "lat": pa.array(num(6), pa.float64(), from_pandas=True),
        "lon": pa.array(num(5), pa.float64(), from_pandas=True),
        "alt_ft": pa.array(num(7) * FT_M, pa.float64(), from_pandas=True),
        "speed_kt": pa.array(num(9) * KT_MS, pa.float64(), from_pandas=True),
        "track_deg": pa.array(num(10), pa.float64(), from_pandas=True),
        "vrate_fpm": pa.array(num(11) * FPM_MS, pa.float64(), from_pandas=True),
        "onground": pa.array([s[8] if isinstance(s[8], bool) else None for s in rows], pa.bool_()),
        "callsign": pa.array([s[1] if isinstance(s[1], str) else None for s in rows], pa.string()),
        "squawk": pa.array([s[14] if isinstance(s[14], str) else None for s in rows], pa.string()),
    })
    b = positions_batch(canon, offs, fmt, lambda i: json.dumps(rows[i])[:2000], "record", counters)
    b.rejects.extend(rejects)
    return b, len(states)


def _num(v: Any) -> float:
    """A JSON number as a finite float, NaN for anything else (a string, a boolean, an integer too
    large for a float)."""
    f = finite_number(v)
    return float("nan") if f is None else f


@register
class OpenSkyApiReader:
    """A saved OpenSky REST ``/states/all`` answer (see the module docstring)."""

    kind = "adsb"
    name = "opensky-api"

    def sniff(self, head: bytes, name: str) -> float:
        return 0.9 if _head_keys(head, b'"states"', b'"time"') else 0.0

    @watch_filtered
    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        try:
            batch, _ = parse_states(_data(src))
        except ValueError as exc:
            raise FormatError(f"not an OpenSky /states/all answer: {exc}", path=src.name) from None
        yield batch
