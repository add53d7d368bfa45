"""``sbs`` format: SBS-1 / BaseStation CSV (port 30003 of dump1090/readsb), as a file.

22 fields per line, no header::

    MSG,3,1,1,4CA2D6,1,2024/12/13,06:00:00.123,2024/12/13,06:00:00.123,RYR1234,37000,450,270,51.5,-0.1,-64,7700,0,0,0,0
    type,ttype,session,aircraft,hex,flight,date_gen,time_gen,date_log,time_log,callsign,alt_ft,gs_kt,
    track_deg,lat,lon,vrate_fpm,squawk,alert,emergency,spi,onground

Only ``MSG`` lines carry data; a position row is written for each ``MSG,2`` (surface) or
``MSG,3`` (airborne) line with a latitude and longitude, with the aircraft's latest
callsign (``MSG,1``), velocity (``MSG,4``, ≤ 30 s old) and squawk (``MSG,6``) filled in.
Times are the "generated" date and time, taken as UTC (what dump1090 and readsb write).
Other message types (``SEL``, ``ID``, ``AIR``, ``STA``, ``CLK``) are counted and skipped.
Lines with the wrong number of fields or an unreadable time are quarantined by line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sitewatch.errors import FormatError
from sitewatch.sources.adsb._common import positions_batch, watch_filtered
from sitewatch.sources.adsb._ffill import ForwardFill
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject, register

FORMAT = "sbs"
NAMES = ["type", "ttype", "session", "aircraft", "hex", "flight", "date_gen", "time_gen", "date_log",
         "time_log", "callsign", "alt_ft", "speed_kt", "track_deg", "lat", "lon", "vrate_fpm", "squawk",
         "alert", "emergency", "spi", "onground"]
_LINE = re.compile(rb"^(MSG|SEL|ID|AIR|STA|CLK),\d*,")
CHUNK_LINES = 500_000


@register
class SbsReader:
    kind = "adsb"
    name = FORMAT

    def sniff(self, head: bytes, name: str) -> float:
        lines = [ln for ln in head.split(b"\n")[:20] if ln.strip()]
        if not lines:
            return 0.0
        hits = sum(1 for ln in lines if _LINE.match(ln) and (ln.count(b",") == 21 or not ln.startswith(b"MSG")))
        return 0.9 if hits >= max(1, len(lines) // 2) else 0.0

    @watch_filtered
    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        yield from read_sbs(src, new_fill())


def new_fill() -> ForwardFill:
    """The per-aircraft fill state of one SBS feed (a file, or a live session)."""
    return ForwardFill(("callsign", "speed_kt", "track_deg", "vrate_fpm", "squawk"),
                       {"speed_kt": 30.0, "track_deg": 30.0, "vrate_fpm": 30.0})


def read_sbs(src: InputFile, ff: ForwardFill) -> Iterator[Batch]:
    """Batches of one SBS text, filling fields with (and updating) ``ff``."""
    bad: list[Reject] = []

    def on_invalid(row: Any) -> str:
        text = str(row.text)
        if _LINE.match(text.encode()) and not text.startswith("MSG"):
            bad.append(Reject(int(row.number or 0), "", "skip"))  # SEL/ID/AIR/STA/CLK: 10 fields
        else:
            bad.append(Reject(int(row.number or 0), text, f"{row.actual_columns} fields, SBS has 22"))
        return "skip"

    line = 1
    with src.open() as f:
        try:
            reader = pacsv.open_csv(
                f,
                read_options=pacsv.ReadOptions(column_names=NAMES, block_size=16 << 20, use_threads=False),
                # SBS never quotes: a stray '"' must not swallow the lines after it into one field
                parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, quote_char=False),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(NAMES, pa.string())),
            )
        except pa.ArrowInvalid as exc:
            raise FormatError(f"not SBS/BaseStation CSV: {exc}", path=src.name) from None
        while True:
            try:
                rb = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise FormatError(f"not SBS/BaseStation CSV: {exc}", path=src.name) from None
            t = pa.Table.from_batches([rb])
            offs = np.arange(line, line + t.num_rows, dtype=np.int64)
            for r in sorted(bad, key=lambda r: r.offset):
                offs[offs >= r.offset] += 1
            line = int(offs[-1]) + 1 if t.num_rows else line
            skipped = sum(1 for r in bad if r.reason == "skip")
            rejects = [r for r in bad if r.reason != "skip"]
            bad.clear()
            b = _batch(t, offs, ff)
            b.rejects[:0] = rejects
            if skipped:
                b.counters["sbs_other_lines"] = b.counters.get("sbs_other_lines", 0) + skipped
            yield b
    if bad:
        rejects = [r for r in bad if r.reason != "skip"]
        yield Batch("positions", pa.table({}), rejects,
                    {"sbs_other_lines": sum(1 for r in bad if r.reason == "skip")})


def _batch(t: pa.Table, offs: np.ndarray, ff: ForwardFill) -> Batch:
    typ = t.column("type").to_numpy(zero_copy_only=False)
    is_msg = typ == "MSG"
    counters = {"sbs_other_lines": int((~is_msg).sum())}
    t = t.filter(pa.array(is_msg))
    offs = offs[is_msg]
    tt_txt = t.column("ttype")  # a transmission type that is not 1-8 is no type (not an error here)
    tt_txt = pc.if_else(pc.fill_null(pc.match_substring_regex(tt_txt, r"^[1-8]$"), False), tt_txt, None)
    ttype = pc.cast(tt_txt, pa.int8()) if t.num_rows else pa.array([], pa.int8())
    tt = _times(t)
    hexid = pc.utf8_lower(pc.utf8_trim_whitespace(t.column("hex"))).to_numpy(zero_copy_only=False)
    tsec = tt.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64) / 1e6
    tsec = np.where(pc.is_valid(tt).to_numpy(zero_copy_only=False), tsec, np.nan)
    tnum = ttype.to_numpy(zero_copy_only=False)
    cols = {
        "callsign": _text(t.column("callsign")),
        "squawk": _text(t.column("squawk")),
        "speed_kt": _num(t.column("speed_kt")),
        "track_deg": _num(t.column("track_deg")),
        "vrate_fpm": _num(t.column("vrate_fpm")),
    }
    is_pos = np.isin(tnum, [2, 3]) & (_num(t.column("lat")) == _num(t.column("lat")))
    filled = ff.fill(hexid.astype(object), np.nan_to_num(tsec, nan=-1e18), cols, is_pos)
    rows = np.flatnonzero(is_pos)
    mask = pa.array(is_pos)
    onground = pc.is_in(pc.utf8_trim_whitespace(t.column("onground")), value_set=pa.array(["-1", "1"]))
    onground = pc.or_(onground, pc.equal(ttype, 2))
    canon = pa.table({
        "t_utc": tt.filter(mask),
        "id": pa.array(hexid[rows], pa.string()),
        "lat": pa.array(_num(t.column("lat"))[rows]),
        "lon": pa.array(_num(t.column("lon"))[rows]),
        "alt_ft": pa.array(_num(t.column("alt_ft"))[rows], from_pandas=True),
        "speed_kt": pa.array(filled["speed_kt"][rows], pa.float64(), from_pandas=True),
        "track_deg": pa.array(filled["track_deg"][rows], pa.float64(), from_pandas=True),
        "vrate_fpm": pa.array(filled["vrate_fpm"][rows], pa.float64(), from_pandas=True),
        "callsign": pa.array(filled["callsign"][rows], pa.string()),
        "squawk": pa.array(filled["squawk"][rows], pa.string()),
        "onground": onground.filter(mask),
    })

    def raw(i: int) -> str:
        return ",".join(v or "" for v in t.slice(int(rows[i]), 1).to_pylist()[0].values())

    return positions_batch(canon, offs[rows], FORMAT, raw, "line", counters)


def _times(t: pa.Table) -> pa.Array:
    d = pc.replace_substring(pc.utf8_trim_whitespace(t.column("date_gen")), "/", "-")
    s = pc.binary_join_element_wise(d, pc.utf8_trim_whitespace(t.column("time_gen")), "T")
    ok = pc.fill_null(pc.match_substring_regex(s, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?$"), False)
    s = pc.if_else(ok, s, None)
    whole = pc.utf8_slice_codeunits(s, 0, 19)
    secs = pc.strptime(whole, format="%Y-%m-%dT%H:%M:%S", unit="us", error_is_null=True)
    frac = pc.utf8_rpad(pc.utf8_slice_codeunits(s, 20, 26), 6, "0")
    frac_us = pc.cast(pc.if_else(pc.equal(frac, "000000"), "0", frac), pa.int64())
    us = pc.add(pc.cast(secs, pa.int64()), frac_us)
    return pc.cast(pc.cast(us, pa.timestamp("us")), pa.timestamp("us", tz="UTC"))


def _num(col: pa.ChunkedArray) -> np.ndarray:
    s = pc.utf8_trim_whitespace(col)
    ok = pc.fill_null(pc.match_substring_regex(s, r"^[-+]?(\d+\.?\d*|\.\d+)$"), False)
    return np.asarray(pc.if_else(ok, s, None).cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)


def _text(col: pa.ChunkedArray) -> np.ndarray:
    s = pc.utf8_trim_whitespace(col)
    return np.asarray(pc.if_else(pc.equal(s, ""), None, s).to_numpy(zero_copy_only=False), dtype=object)
