"""AIS positions exported as CSV: MarineCadastre (US, BOEM/NOAA) and the Danish Maritime Authority.

Both are read in streamed Arrow blocks (pyarrow.csv, every cell as text) and converted by
whole columns; a file of millions of rows never becomes Python objects.

* **marinecadastre** (2015–2023 layout): ``MMSI, BaseDateTime, LAT, LON, SOG, COG, Heading,
  VesselName, IMO, CallSign, VesselType, Status, Length, Width, Draft, Cargo,
  TransceiverClass`` (also the 2024+ snake_case names ``base_date_time``, ``latitude``, …).
  Times are UTC. MarineCadastre wrote COG through a signed 12-bit field, so values in
  [-204.8, 0) are COG − 409.6 and are unwrapped (counter ``cog_unwrapped``).
* **dma** (``aisdata.ais.dk``): ``# Timestamp, Type of mobile, MMSI, Latitude, Longitude,
  Navigational status, ROT, SOG, COG, Heading, IMO, Callsign, Name, Ship type, …, Width,
  Length, …, Draught, Destination, ETA, …``. Times ``dd/mm/YYYY HH:MM:SS`` UTC; navigation
  status and ship type are words, mapped to their AIS codes. Rows of base stations and aids
  to navigation ("Type of mobile") are counted (``not_vessel_rows``), not stored.

Bad-record policy: a row with a missing or unreadable time, MMSI, latitude or longitude,
or coordinates out of range (91/181 included) is quarantined with its line number and the
reason; a row with the wrong number of cells likewise. Other unreadable cells become NULL
and are counted (``bad_cells``). Blank lines are skipped. Line numbers assume no quoted
newlines (neither source writes any).

Static columns (name, call sign, IMO, type, dimensions, destination) also yield
``vessel_reports`` rows: one per MMSI each time the static tuple changes within the file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sitewatch.errors import FormatError
from sitewatch.sources.ais._common import NAV_STATUS, coord_ok, positions_table, reports_table
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject, register

BLOCK_BYTES = 16 << 20
_NUM_RE = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_STATUS_CODE = {v: k for k, v in NAV_STATUS.items()}
_STATUS_CODE.update({
    "under way": 0, "underway using engine": 0, "constrained by draught": 4,
    "constrained by her draught": 4, "unknown value": 15, "unknown": 15,
    "ais-sart": 14, "ais-sart (active)": 14, "power-driven vessel towing astern": 11,
    "power-driven vessel pushing ahead or towing alongside": 12, "restricted maneuverability": 3,
    "reserved for future amendment [hsc]": 9, "reserved for future amendment [wig]": 10,
    "reserved for future use": 13,
})
# DMA ship types (words) → representative AIS ship-and-cargo codes (ITU-R M.1371 table 53)
_DMA_SHIP_TYPE = {
    "wig": 20, "fishing": 30, "towing": 31, "towing long/wide": 32, "dredging": 33, "diving": 34,
    "military": 35, "sailing": 36, "pleasure": 37, "hsc": 40, "pilot": 50, "sar": 51, "tug": 52,
    "port tender": 53, "anti-pollution": 54, "law enforcement": 55, "medical": 58,
    "not party to conflict": 59, "passenger": 60, "cargo": 70, "tanker": 80, "other": 90,
    "reserved": 90, "spare 1": 95, "spare 2": 96,
}


@dataclass(frozen=True)
class _Layout:
    fmt: str
    columns: dict[str, tuple[str, ...]]  # our name → accepted header names (lower case)
    time_formats: tuple[str, ...]
    status_words: bool = False
    type_words: bool = False
    required: tuple[str, ...] = ("mmsi", "t", "lat", "lon")
    extra_sniff: tuple[str, ...] = field(default_factory=tuple)


MARINECADASTRE = _Layout(
    "marinecadastre",
    {
        "mmsi": ("mmsi",), "t": ("basedatetime", "base_date_time"),
        "lat": ("lat", "latitude"), "lon": ("lon", "longitude"),
        "sog": ("sog",), "cog": ("cog",), "heading": ("heading",),
        "name": ("vesselname", "vessel_name"), "imo": ("imo",), "callsign": ("callsign", "call_sign"),
        "ship_type": ("vesseltype", "vessel_type"), "status": ("status",),
        "length": ("length",), "width": ("width",), "draught": ("draft",),
    },
    ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"),
)
DMA = _Layout(
    "dma",
    {
        "mmsi": ("mmsi",), "t": ("# timestamp", "timestamp"),
        "lat": ("latitude",), "lon": ("longitude",),
        "sog": ("sog",), "cog": ("cog",), "heading": ("heading",),
        "name": ("name",), "imo": ("imo",), "callsign": ("callsign",),
        "ship_type": ("ship type",), "status": ("navigational status",),
        "length": ("length",), "width": ("width",), "draught": ("draught",),
        "destination": ("destination",), "mobile": ("type of mobile",),
    },
    ("%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S"),
    status_words=True,
    type_words=True,
    extra_sniff=("type of mobile",),
)


def _header(head: bytes) -> list[str]:
    first = head.split(b"\n", 1)[0].decode("utf-8-sig", "replace").strip("\r")
    return [h.strip().lower() for h in first.split(",")]


def _match(layout: _Layout, header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for ours, names in layout.columns.items():
        for i, h in enumerate(header):
            if h in names:
                found[ours] = i
                break
    return found


class _CsvAis:
    kind = "ais"
    name = ""
    layout: _Layout

    def sniff(self, head: bytes, name: str) -> float:
        header = _header(head)
        found = _match(self.layout, header)
        if not all(r in found for r in self.layout.required):
            return 0.0
        extra = all(x in header for x in self.layout.extra_sniff)
        return 0.9 if extra else 0.3

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        with src.open() as f:
            head = f.read(1 << 16)
        header_raw = head.split(b"\n", 1)[0].decode("utf-8-sig", "replace").strip("\r").split(",")
        header = [h.strip().lower() for h in header_raw]
        found = _match(self.layout, header)
        missing = [self.layout.columns[r][0] for r in self.layout.required if r not in found]
        if missing:
            raise FormatError(
                f"not {self.layout.fmt} CSV: missing columns {missing}; header is {header_raw[:8]}…; "
                "pass the right --format", path=src.name)
        names = [f"c{i}" for i in range(len(header))]
        invalid: list[tuple[int, str]] = []

        def on_invalid(row: Any) -> str:
            invalid.append((int(row.number or 0), str(row.text)))
            return "skip"

        state = _FileState()
        with src.open() as raw:
            try:
                reader = pacsv.open_csv(
                    raw,
                    read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK_BYTES,
                                                   use_threads=False),
                    parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
                    convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                         strings_can_be_null=True),
                )
                first_row = 0
                for rb in reader:
                    yield from self._convert(rb, found, first_row, invalid, state)
                    first_row += rb.num_rows
            except pa.ArrowInvalid as exc:  # a header alone (no newline), bytes that are not UTF-8
                if not head.partition(b"\n")[2].strip():
                    return
                raise FormatError(f"not readable as {self.layout.fmt} CSV: {exc}", path=src.name) from None
        if invalid:
            rejects = [Reject(n, text, f"{len(text.split(','))} cells, header has {len(header)}")
                       for n, text in invalid]
            yield Batch("positions", positions_table(
                t_utc_us=np.zeros(0, np.int64), mmsi=[], lat=np.zeros(0), lon=np.zeros(0),
                fmt=self.layout.fmt, rec_offset=np.zeros(0, np.int64)), rejects)

    def _convert(self, rb: pa.RecordBatch, found: dict[str, int], first_row: int,
                 invalid: list[tuple[int, str]], state: _FileState) -> Iterator[Batch]:
        n = rb.num_rows
        counters: dict[str, int] = {}
        # physical line numbers: header is line 1; rows skipped as invalid shift later rows
        lines = np.arange(first_row, first_row + n, dtype=np.int64) + 2
        for bad_line, _ in sorted(invalid):
            lines[lines >= bad_line] += 1

        def col(ours: str) -> pa.Array | None:
            i = found.get(ours)
            return None if i is None else rb.column(i)

        blank = np.ones(n, dtype=bool)
        for i in range(rb.num_columns):
            blank &= np.asarray(rb.column(i).is_null().to_numpy(zero_copy_only=False))
        t_us, t_ok = _times(col("t"), self.layout.time_formats)
        mmsi_txt = pc.utf8_trim_whitespace(col("mmsi"))
        mmsi_ok = np.asarray(pc.fill_null(pc.match_substring_regex(mmsi_txt, r"^\d{1,9}$"), False))
        lat, lat_ok = _floats(col("lat"))
        lon, lon_ok = _floats(col("lon"))
        why = np.full(n, "", dtype=object)
        why[~coord_ok(lat, lon)] = "latitude/longitude missing or out of range"
        why[~(lat_ok & lon_ok)] = "latitude/longitude not a number"
        why[~mmsi_ok] = "MMSI missing or not 1-9 digits"
        why[~t_ok] = "time missing or not in the expected format"
        fixed = np.zeros(n, dtype=bool)
        if col("mobile") is not None:  # DMA: base stations and aids to navigation are not vessels
            mobile = pc.utf8_lower(pc.utf8_trim_whitespace(col("mobile")))
            fixed = np.asarray(pc.fill_null(pc.is_in(mobile, pa.array(["base station", "aton"])), False))
            counters["not_vessel_rows"] = int((fixed & ~blank).sum())
        bad = (why != "") & ~blank & ~fixed
        keep = (why == "") & ~blank & ~fixed
        counters["blank_lines"] = int(blank.sum())
        rejects = [Reject(int(lines[k]), _row_text(rb, int(k)), str(why[k])) for k in np.flatnonzero(bad)]

        def num(ours: str) -> np.ndarray:
            c = col(ours)
            if c is None:
                return np.full(n, np.nan)
            v, ok = _floats(c)
            counters["bad_cells"] = counters.get("bad_cells", 0) + int((~ok & keep).sum())
            return v

        sog, cog, heading = num("sog"), num("cog"), num("heading")
        wrapped = (cog < 0) & (cog >= -204.8)
        counters["cog_unwrapped"] = int((wrapped & keep).sum())
        cog = np.where(wrapped, cog + 409.6, cog)
        status = self._status(col("status"), n, counters)
        names = _text(col("name"), n)
        mmsi = np.array(mmsi_txt.to_pylist(), dtype=object)
        if keep.any():
            mmsi[keep] = np.char.zfill(mmsi[keep].astype(str), 9).astype(object)
        rows = positions_table(
            t_utc_us=t_us[keep], mmsi=mmsi[keep], lat=lat[keep], lon=lon[keep], fmt=self.layout.fmt,
            rec_offset=lines[keep], speed_kt=sog[keep], track_deg=cog[keep], heading_deg=heading[keep],
            status_code=status[keep], name=list(names[keep]),
        )
        reports = self._reports(col, n, keep, t_us, mmsi, names, lines, state, counters)
        yield Batch("positions", rows, rejects, counters)
        if reports.num_rows:
            yield Batch("vessel_reports", reports)

    def _status(self, c: pa.Array | None, n: int, counters: dict[str, int]) -> np.ndarray:
        if c is None:
            return np.full(n, -1, dtype=np.int64)
        if self.layout.status_words:
            words = [None if w is None else w.strip().lower() for w in c.to_pylist()]
            return np.array([_STATUS_CODE.get(w, -1) if w else -1 for w in words], dtype=np.int64)
        v, _ = _floats(c)
        out = np.where(np.isnan(v), -1, v).astype(np.int64)
        return np.where((out >= 0) & (out <= 15), out, -1)

    def _reports(self, col: Any, n: int, keep: np.ndarray, t_us: np.ndarray, mmsi: np.ndarray,
                 names: np.ndarray, lines: np.ndarray, state: _FileState,
                 counters: dict[str, int]) -> pa.Table:
        callsign = _text(col("callsign"), n)
        imo_txt = _text(col("imo"), n)
        dest = _text(col("destination"), n)
        if self.layout.type_words:
            tc = col("ship_type")
            words = tc.to_pylist() if tc is not None else [None] * n
            stype = np.array([_DMA_SHIP_TYPE.get((w or "").strip().lower(), -1) for w in words])
        else:
            v, _ = _floats(col("ship_type")) if col("ship_type") is not None else (np.full(n, np.nan), None)
            stype = np.where(np.isnan(v) | (v < 0) | (v > 255), -1, v).astype(np.int64)
        length, width, draught = (_floats(col(k))[0] if col(k) is not None else np.full(n, np.nan)
                                  for k in ("length", "width", "draught"))
        rows: list[dict[str, Any]] = []
        for k in np.flatnonzero(keep & _any_static(names, callsign, imo_txt, dest, stype, length)):
            rep = {
                "name": names[k], "callsign": callsign[k], "imo": _imo(imo_txt[k]),
                "ship_type": int(stype[k]) if stype[k] >= 0 else None,
                "length_m": _pos(length[k]), "width_m": _pos(width[k]), "draught_m": _pos(draught[k]),
                "destination": dest[k],
            }
            sig = (mmsi[k], *rep.values())
            if state.last.get(mmsi[k]) == sig:
                continue
            state.last[mmsi[k]] = sig
            rep.update(t_utc_us=int(t_us[k]), mmsi=mmsi[k], rec_offset=int(lines[k]))
            rows.append(rep)
        counters["static_reports"] = len(rows)
        return reports_table(rows, self.layout.fmt)


@dataclass
class _FileState:
    last: dict[str, tuple[Any, ...]] = field(default_factory=dict)


def _any_static(*cols: np.ndarray) -> np.ndarray:
    names, callsign, imo, dest, stype, length = cols
    return (
        (names != None) | (callsign != None) | (imo != None) | (dest != None)  # noqa: E711
        | (stype >= 0) | ~np.isnan(length)
    )


def _text(c: pa.Array | None, n: int) -> np.ndarray:
    if c is None:
        return np.full(n, None, dtype=object)
    trimmed = pc.utf8_trim_whitespace(c)
    vals = np.array(trimmed.to_pylist(), dtype=object)
    vals[vals == ""] = None
    return vals


def _floats(c: pa.Array | None) -> tuple[np.ndarray, np.ndarray]:
    """(float64 with NaN for null/unreadable, readable-or-null mask)."""
    if c is None:
        return np.zeros(0), np.zeros(0, dtype=bool)
    ok = pc.match_substring_regex(c, _NUM_RE)
    clean = pc.if_else(ok, c, pa.scalar(None, pa.string()))
    v = pc.cast(pc.utf8_trim_whitespace(clean), pa.float64()).to_numpy(zero_copy_only=False)
    readable = np.asarray(pc.fill_null(pc.or_kleene(ok, c.is_null()), True).to_numpy(zero_copy_only=False))
    return np.asarray(v, dtype=np.float64), readable & ~np.asarray(c.is_null().to_numpy(zero_copy_only=False))


def _times(c: pa.Array | None, formats: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    if c is None:
        raise FormatError("no time column")
    c = pc.utf8_trim_whitespace(c)
    out: pa.Array | None = None
    for f in formats:
        parsed = pc.strptime(c, format=f, unit="us", error_is_null=True)
        out = parsed if out is None else pc.coalesce(out, parsed)
    assert out is not None
    ok = np.asarray(out.is_valid().to_numpy(zero_copy_only=False))
    us = out.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    return np.asarray(us, dtype=np.int64), ok


def _imo(text: str | None) -> int | None:
    if not text:
        return None
    digits = text.upper().removeprefix("IMO").strip()
    if not digits.isdigit() or int(digits) == 0:
        return None
    return int(digits)


def _pos(v: float) -> float | None:
    return float(v) if np.isfinite(v) and v > 0 else None


def _row_text(rb: pa.RecordBatch, k: int) -> str:
    buf = io.StringIO()
    buf.write(",".join("" if (v := rb.column(i)[k].as_py()) is None else str(v) for i in range(rb.num_columns)))
    return buf.getvalue()


@register
class MarineCadastreCsv(_CsvAis):
    name = "marinecadastre"
    layout = MARINECADASTRE


@register
class DmaCsv(_CsvAis):
    name = "dma"
    layout = DMA
