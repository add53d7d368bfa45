"""``readsb-trace`` and ``readsb-aircraft``: readsb / tar1090 JSON (also adsb.lol ``globe_history``).

**readsb-trace** (``trace_full_<hex>.json`` / ``trace_recent_<hex>.json``)::

    {"icao": "ac671b", "r": "N899DN", "t": "B739", "desc": …, "ownOp": …, "dbFlags": 0,
     "timestamp": 1738703622.619,
     "trace": [[dt_s, lat, lon, alt_ft|"ground"|null, gs_kt, track_deg, flags, vrate_fpm,
                {details}|null, source_type, geom_alt_ft, geom_rate_fpm, ias_kt, roll_deg], …]}

Times are ``timestamp + dt_s``. ``flags``: 1 = stale (a repeat of an earlier fix written
when the aircraft was lost: skipped and counted as ``stale_points``), 2 = start of a new
leg (counted, and kept in ``status`` as ``<source>;new-leg``), 4/8 = rate/altitude are
geometric. ``alt == "ground"`` sets ``onground``. Callsign and squawk come from the
latest ``details`` object. Offsets are point numbers (``offset_unit='record'``).

**readsb-aircraft** (``aircraft.json`` snapshots, e.g. a folder or tar of them)::

    {"now": 1700000000.1, "aircraft": [{"hex": "4ca2d6", "flight": "RYR1AB ", "alt_baro": 37000,
      "gs": 450, "track": 270, "baro_rate": -64, "squawk": "7700", "lat": 51.5, "lon": -0.1,
      "seen_pos": 1.2, "type": "adsb_icao", "category": "A3", "r": …, "t": …}, …]}

A position is written for each aircraft with ``lat``/``lon``, at ``now - seen_pos``.
Both yield ``aircraft`` rows from the database fields readsb attaches (registration,
type, operator, military bit of ``dbFlags``, category).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch.errors import FormatError
from sitewatch.reference.aircraft_db import military_by_address
from sitewatch.sources.adsb._common import epoch_to_ts, positions_batch, watch_filtered
from sitewatch.sources.adsb._common import json_num as _num
from sitewatch.sources.adsb._common import json_str as _str
from sitewatch.sources.adsb._trace_docs import read_docs
from sitewatch.sources.base import Batch, InputFile, ReadOptions, register

_TS = pa.timestamp("us", tz="UTC")
MAX_JSON_BYTES = 512 << 20


def _load(src: InputFile) -> Any:
    with src.open() as f:
        data = f.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise FormatError("readsb JSON over 512 MiB: not a trace or snapshot", path=src.name)
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise FormatError(f"broken JSON at character {exc.pos}: {exc.msg} (truncated download?)",
                          path=src.name) from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise FormatError(f"not JSON text ({type(exc).__name__}: {exc})", path=src.name) from None


def _aircraft_row(icao: str, obj: dict[str, Any], fmt: str) -> pa.Table:
    flags = obj.get("dbFlags")
    mil = bool(int(flags) & 1) if isinstance(flags, int | float) and abs(flags) < 2**62 else False  # not NaN/inf
    with contextlib.suppress(ValueError, OverflowError):  # a non-hex (or too long) id has no address range
        mil = mil or bool(military_by_address([int(icao.lstrip("~"), 16)])[0])
    return pa.table({
        "icao24": pa.array([icao], pa.string()),
        "registration": pa.array([_str(obj.get("r"))], pa.string()),
        "typecode": pa.array([_str(obj.get("t"))], pa.string()),
        "type_name": pa.array([_str(obj.get("desc"))], pa.string()),
        "operator": pa.array([_str(obj.get("ownOp"))], pa.string()),
        "military": pa.array([mil]),
        "category": pa.array([_str(obj.get("category"))], pa.string()),
        "db_source": pa.array([f"feed:{fmt}"]),
        "t_updated_utc": pa.array([datetime.now(UTC)], _TS),
    })


@register
class ReadsbTraceReader:
    kind = "adsb"
    name = "readsb-trace"

    def sniff(self, head: bytes, name: str) -> float:
        h = head.lstrip()
        if h[:1] == b"{" and b'"trace"' in h and b'"icao"' in h:
            return 0.95
        return 0.3 if name.startswith(("trace_full_", "trace_recent_")) and h[:1] == b"{" else 0.0

    @watch_filtered
    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        with src.open() as f:
            data = f.read(MAX_JSON_BYTES + 1)
        res = read_docs([(src.name, data)], self.name)
        if res.failed:
            raise FormatError(res.failed[0][1], path=src.name)
        yield res.positions
        if res.aircraft is not None:
            yield Batch("aircraft", res.aircraft)


@register
class ReadsbAircraftReader:
    kind = "adsb"
    name = "readsb-aircraft"

    def sniff(self, head: bytes, name: str) -> float:
        h = head.lstrip()
        if h[:1] == b"{" and b'"aircraft"' in h and b'"now"' in h:
            return 0.95
        return 0.0

    @watch_filtered
    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        doc = _load(src)
        if not isinstance(doc, dict) or not isinstance(doc.get("aircraft"), list) or "now" not in doc:
            raise FormatError("not a readsb aircraft.json: needs an object with now and aircraft", path=src.name)
        now = _num(doc["now"])
        recs = [a for a in doc["aircraft"] if isinstance(a, dict)]
        n = len(recs)

        def col(key: str, alt: str | None = None) -> list[Any]:
            return [a.get(key, a.get(alt) if alt else None) for a in recs]

        ages = np.array([_num(a.get("seen_pos", a.get("seen", 0.0))) for a in recs], dtype=np.float64)
        alt_raw = col("alt_baro", "altitude")
        ground = np.array([v == "ground" for v in alt_raw], bool)
        alt = np.array([_num(v) for v in alt_raw], np.float64)
        lat = np.array([_num(v) for v in col("lat")], np.float64)
        lon = np.array([_num(v) for v in col("lon")], np.float64)
        canon = pa.table({
            "t_utc": epoch_to_ts(now - np.nan_to_num(ages, nan=0.0), "s"),
            "id": pa.array([str(a.get("hex", "")) for a in recs], pa.string()),
            "lat": pa.array(lat, from_pandas=True), "lon": pa.array(lon, from_pandas=True),
            "alt_ft": pa.array(alt, from_pandas=True),
            "speed_kt": pa.array([_num(v) for v in col("gs")], pa.float64(), from_pandas=True),
            "track_deg": pa.array([_num(v) for v in col("track")], pa.float64(), from_pandas=True),
            "vrate_fpm": pa.array([_num(v) for v in col("baro_rate", "geom_rate")], pa.float64(),
                                  from_pandas=True),
            "onground": pa.array(ground),
            "callsign": pa.array([str(v) if v is not None else None for v in col("flight")], pa.string()),
            "squawk": pa.array([str(v) if v is not None else None for v in col("squawk")], pa.string()),
            "status": pa.array([str(v) if v is not None else None for v in col("type")], pa.string()),
        })
        yield positions_batch(canon, np.arange(1, n + 1), self.name, lambda i: json.dumps(recs[i]), "record")
        rows = [_aircraft_row(str(a.get("hex")).lower(), a, self.name) for a in recs
                if a.get("hex") and (a.get("r") or a.get("t") or a.get("category"))]
        if rows:
            yield Batch("aircraft", pa.concat_tables(rows))

