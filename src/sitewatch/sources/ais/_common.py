"""What every AIS reader shares: navigation status words, "not available" rules, row tables.

Contract: readers build ``positions`` rows with :func:`positions_table` and static rows
with :func:`reports_table`; both take NumPy/list columns and return Arrow tables whose
columns are declared in :mod:`sitewatch.schema`.

Positions of vessels: ``source='ais'``, ``id`` = MMSI as a string, ``speed_kt`` = SOG,
``track_deg`` = COG, ``heading_deg`` = true heading, ``status`` = navigation status in
words (ITU-R M.1371-5 table 45), ``callsign`` = ship name when known at that time.

``onground`` (for ships: "not under way at a berth or anchorage"), derived from the
navigation status only: **true** for 1 at anchor, 5 moored, 6 aground; **false** for the
other defined statuses (0, 2, 3, 4, 7, 8, 9–14); **NULL** for 15 "not defined" or a
missing status. Speed is not used, so a drifting ship that reports "moored" stays true.

"Not available" values of the standard become NULL, never numbers: SOG 102.3 kn, COG
360.0°, heading 511, latitude 91°, longitude 181°.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

NAV_STATUS: dict[int, str] = {
    0: "under way using engine",
    1: "at anchor",
    2: "not under command",
    3: "restricted manoeuvrability",
    4: "constrained by her draught",
    5: "moored",
    6: "aground",
    7: "engaged in fishing",
    8: "under way sailing",
    9: "reserved (HSC)",
    10: "reserved (WIG)",
    11: "power-driven vessel towing astern",
    12: "power-driven vessel pushing ahead or towing alongside",
    13: "reserved",
    14: "AIS-SART / MOB / EPIRB active",
    15: "not defined",
}
AT_BERTH_STATUS = (1, 5, 6)  # at anchor, moored, aground → onground true
SOG_NA_KT = 102.3
COG_NA_DEG = 360.0
HEADING_NA = 511

_STATUS_ARROW = pa.array([NAV_STATUS[i] for i in range(16)], pa.string())

FloatArr = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

TS = pa.timestamp("us", tz="UTC")


def _f64(values: FloatArr) -> pa.Array:
    """Float column with NaN → NULL."""
    v = np.asarray(values, dtype=np.float64)
    return pa.array(v, pa.float64(), mask=np.isnan(v))


def status_columns(status_code: IntArr) -> tuple[pa.Array, pa.Array]:
    """(status words, onground) from integer navigation status codes (<0 = missing)."""
    code = np.asarray(status_code, dtype=np.int64)
    missing = (code < 0) | (code > 15)
    safe = np.where(missing, 15, code)
    words = pc.take(_STATUS_ARROW, pa.array(safe, pa.int64(), mask=missing))
    onground = np.isin(safe, AT_BERTH_STATUS)
    return words, pa.array(onground, pa.bool_(), mask=missing | (safe == 15))


def clean_sog(sog_kt: FloatArr) -> FloatArr:
    v = np.asarray(sog_kt, dtype=np.float64).copy()
    v[(v >= SOG_NA_KT - 1e-6) | (v < 0)] = np.nan
    return v


def clean_cog(cog_deg: FloatArr) -> FloatArr:
    v = np.asarray(cog_deg, dtype=np.float64).copy()
    v[(v >= COG_NA_DEG - 1e-6) | (v < 0)] = np.nan
    return v


def clean_heading(heading_deg: FloatArr) -> FloatArr:
    v = np.asarray(heading_deg, dtype=np.float64).copy()
    v[(v >= 360) | (v < 0)] = np.nan  # 511 = not available; 360–510 are not used
    return v


def positions_table(
    *,
    t_utc_us: npt.NDArray[np.int64],
    mmsi: Sequence[str] | npt.NDArray[Any] | pa.Array,
    lat: FloatArr,
    lon: FloatArr,
    fmt: str,
    rec_offset: IntArr,
    speed_kt: FloatArr | None = None,
    track_deg: FloatArr | None = None,
    heading_deg: FloatArr | None = None,
    status_code: IntArr | None = None,
    name: Sequence[str | None] | pa.Array | None = None,
    time_inferred: BoolArr | None = None,
) -> pa.Table:
    """A ``positions`` batch from columns (times as int64 µs since the epoch, UTC)."""
    n = len(lat)
    nan = np.full(n, np.nan)
    cols: dict[str, pa.Array] = {
        "t_utc": pa.array(np.asarray(t_utc_us, dtype=np.int64), pa.int64()).cast(TS),
        "source": pa.repeat(pa.scalar("ais"), n),
        "id": mmsi if isinstance(mmsi, pa.Array) else pa.array(np.asarray(mmsi, dtype=object), pa.string()),
        "lat": pa.array(np.asarray(lat, dtype=np.float64), pa.float64()),
        "lon": pa.array(np.asarray(lon, dtype=np.float64), pa.float64()),
        "speed_kt": _f64(clean_sog(speed_kt) if speed_kt is not None else nan),
        "track_deg": _f64(clean_cog(track_deg) if track_deg is not None else nan),
        "heading_deg": _f64(clean_heading(heading_deg) if heading_deg is not None else nan),
    }
    words, onground = status_columns(status_code if status_code is not None else np.full(n, -1))
    cols["status"] = words
    cols["onground"] = onground
    if isinstance(name, pa.Array):
        cols["callsign"] = name
    else:
        cols["callsign"] = pa.array(list(name) if name is not None else [None] * n, pa.string())
    ti = np.zeros(n, dtype=bool) if time_inferred is None else np.asarray(time_inferred, dtype=bool)
    cols["time_inferred"] = pa.array(ti, pa.bool_())
    cols["format"] = pa.repeat(pa.scalar(fmt), n)
    cols["rec_offset"] = pa.array(np.asarray(rec_offset, dtype=np.int64), pa.int64())
    return pa.table(cols)


REPORT_FIELDS = ("name", "callsign", "imo", "ship_type", "length_m", "width_m", "draught_m", "destination")


def reports_table(rows: list[dict[str, Any]], fmt: str) -> pa.Table:
    """A ``vessel_reports`` batch from dicts with t_utc_us, mmsi, rec_offset and static fields."""
    return pa.table(
        {
            "t_utc": pa.array([r["t_utc_us"] for r in rows], pa.int64()).cast(TS),
            "mmsi": pa.array([r["mmsi"] for r in rows], pa.string()),
            "name": pa.array([r.get("name") for r in rows], pa.string()),
            "callsign": pa.array([r.get("callsign") for r in rows], pa.string()),
            "imo": pa.array([r.get("imo") for r in rows], pa.int64()),
            "ship_type": pa.array([r.get("ship_type") for r in rows], pa.int32()),
            "length_m": pa.array([r.get("length_m") for r in rows], pa.float64()),
            "width_m": pa.array([r.get("width_m") for r in rows], pa.float64()),
            "draught_m": pa.array([r.get("draught_m") for r in rows], pa.float64()),
            "destination": pa.array([r.get("destination") for r in rows], pa.string()),
            "msg_type": pa.array([r.get("msg_type") for r in rows], pa.int32()),
            "time_inferred": pa.array([bool(r.get("time_inferred", False)) for r in rows], pa.bool_()),
            "format": pa.array([fmt] * len(rows), pa.string()),
            "rec_offset": pa.array([r["rec_offset"] for r in rows], pa.int64()),
        }
    )


def valid_mmsi(text: str) -> bool:
    """An MMSI is 1–9 decimal digits (leading zeros dropped by some sources)."""
    return text.isdigit() and 0 < len(text) <= 9


def norm_mmsi(text: str) -> str:
    """Canonical MMSI text: 9 digits, zero-padded (``"2320001"`` → ``"002320001"``)."""
    return text.strip().zfill(9)


def mmsi_text(mmsi: npt.NDArray[np.int64]) -> pa.Array:
    """MMSI integers as 9-digit zero-padded text (Arrow, no Python loop)."""
    return pc.utf8_lpad(pa.array(np.asarray(mmsi, dtype=np.int64)).cast(pa.string()), 9, "0")


def coord_ok(lat: FloatArr, lon: FloatArr) -> BoolArr:
    """Finite and within ±90 / ±180 (91 / 181 "not available" fail)."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (np.abs(lat) <= 90) & (np.abs(lon) <= 180)  # type: ignore[no-any-return]
