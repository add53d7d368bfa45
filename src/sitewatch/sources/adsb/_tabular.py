"""State-vector tables (CSV, Parquet, JSON records) → canonical ``positions`` columns.

A :class:`ColumnMap` declares one family of column names (traffic's, OpenSky's …): which
source column is the time, and for every other column its ``positions`` name and the
factor that converts its unit (OpenSky speaks m/s and metres; we store kt, ft, ft/min).
:func:`to_canonical` applies a map to an Arrow table; :func:`read_csv` and
:func:`read_parquet` stream files in batches of :data:`BATCH_ROWS` (bounded memory) and
return ``positions`` batches validated by :func:`~sitewatch.sources.adsb._common.positions_batch`.

CSV lines that do not have the header's number of fields are quarantined with their
line number; a header that fits no map raises :class:`~sitewatch.errors.FormatError`
listing the columns expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sitewatch.errors import FormatError
from sitewatch.sources.adsb._common import BATCH_ROWS, epoch_to_ts, iso_to_ts, positions_batch
from sitewatch.sources.base import Batch, InputFile, Reject, seekable

M_TO_FT = 1.0 / 0.3048
MPS_TO_KT = 3600.0 / 1852.0
MPS_TO_FPM = 60.0 / 0.3048


@dataclass(frozen=True)
class ColumnMap:
    """One family of column names: source name → (positions name, unit factor)."""

    family: str
    time: str
    columns: dict[str, tuple[str, float]]
    required: tuple[str, ...]

    def fits(self, names: Sequence[str]) -> bool:
        have = {n.strip().lower() for n in names}
        return all(r.lower() in have for r in self.required)


TRAFFIC = ColumnMap(
    "traffic",
    "timestamp",
    {
        "icao24": ("id", 1.0),
        "latitude": ("lat", 1.0),
        "longitude": ("lon", 1.0),
        "altitude": ("alt_ft", 1.0),
        "groundspeed": ("speed_kt", 1.0),
        "track": ("track_deg", 1.0),
        "vertical_rate": ("vrate_fpm", 1.0),
        "heading": ("heading_deg", 1.0),
        "onground": ("onground", 1.0),
        "callsign": ("callsign", 1.0),
        "squawk": ("squawk", 1.0),
    },
    ("timestamp", "icao24", "latitude", "longitude"),
)

# OpenSky Impala/Trino ``state_vectors_data4`` and the REST/CSV dumps use these names.
OPENSKY = ColumnMap(
    "opensky",
    "time",
    {
        "icao24": ("id", 1.0),
        "lat": ("lat", 1.0),
        "lon": ("lon", 1.0),
        "baroaltitude": ("alt_ft", M_TO_FT),
        "velocity": ("speed_kt", MPS_TO_KT),
        "heading": ("track_deg", 1.0),
        "vertrate": ("vrate_fpm", MPS_TO_FPM),
        "onground": ("onground", 1.0),
        "callsign": ("callsign", 1.0),
        "squawk": ("squawk", 1.0),
    },
    ("time", "icao24", "lat", "lon"),
)

_STRING_TARGETS = {"id", "callsign", "squawk"}


def pick(names: Sequence[str], maps: Sequence[ColumnMap]) -> ColumnMap | None:
    for m in maps:
        if m.fits(names):
            return m
    return None


def to_canonical(t: pa.Table, cmap: ColumnMap) -> pa.Table:
    """Rename, convert units and parse the time column of ``t`` per ``cmap``.

    Text that should be a number but is not becomes NULL and the row gets a reason in
    the extra column ``_bad`` (which :func:`positions_batch` turns into a reject).
    """
    lower = {n.strip().lower(): n for n in t.column_names}
    bad = np.full(t.num_rows, None, dtype=object)
    time_src = t.column(lower[cmap.time.lower()])
    cols: dict[str, Any] = {"t_utc": _time_column(time_src)}
    for src, (dst, factor) in cmap.columns.items():
        name = lower.get(src.lower())
        if name is None:
            continue
        col = t.column(name)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if dst in _STRING_TARGETS:
            cols[dst] = _to_string(col, squawk=dst == "squawk")
        elif dst == "onground":
            cols[dst] = _to_bool(col)
        else:
            num, wrong = _to_float(col)
            if wrong is not None:
                bad[wrong & (bad == None)] = f"{src} is not a number"  # noqa: E711
            cols[dst] = pc.multiply(num, factor) if factor != 1.0 else num
    if (bad != None).any():  # noqa: E711
        cols["_bad"] = pa.array(bad, pa.string())
    return pa.table(cols)


_NUM = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def _time_column(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    ts = pa.timestamp("us", tz="UTC")
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            col = col.cast(pa.timestamp(col.type.unit, tz="UTC"))
        return col.cast(ts)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return epoch_to_ts(col.to_numpy(zero_copy_only=False).astype(np.float64))
    s = col.cast(pa.string())
    numeric = pc.fill_null(pc.match_substring_regex(s, _NUM), False)
    if pc.all(pc.or_(numeric, pc.is_null(s))).as_py():
        return epoch_to_ts(pc.if_else(numeric, s, None).cast(pa.float64()).to_numpy(zero_copy_only=False))
    return iso_to_ts(s.to_pylist())


def _to_float(col: pa.Array) -> tuple[pa.Array, np.ndarray | None]:
    if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
        return col.cast(pa.float64()), None
    if pa.types.is_null(col.type):
        return pa.nulls(len(col), pa.float64()), None
    if pa.types.is_boolean(col.type):
        return col.cast(pa.float64()), None
    s = pc.utf8_trim_whitespace(col.cast(pa.string()))
    empty = pc.fill_null(pc.equal(s, ""), True)
    numeric = pc.fill_null(pc.match_substring_regex(s, _NUM), False)
    wrong = pc.and_(pc.invert(numeric), pc.invert(empty)).to_numpy(zero_copy_only=False)
    return pc.if_else(numeric, s, None).cast(pa.float64()), (wrong if wrong.any() else None)


def _to_string(col: pa.Array, squawk: bool = False) -> pa.Array:
    if squawk and (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        # a squawk read as a number lost its leading zeros: 700 → "0700"
        return pa.array([None if v is None else f"{int(v):04d}" for v in col.to_pylist()], pa.string())
    return col.cast(pa.string())


def _to_bool(col: pa.Array) -> pa.Array:
    if pa.types.is_boolean(col.type):
        return col
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return pc.not_equal(col, 0)
    s = pc.utf8_lower(pc.utf8_trim_whitespace(col.cast(pa.string())))
    known = pc.is_in(s, value_set=pa.array(["true", "1", "t", "yes", "false", "0", "f", "no"]))
    val = pc.is_in(s, value_set=pa.array(["true", "1", "t", "yes"]))
    return pc.if_else(known, val, pa.scalar(None, pa.bool_()))


def records_batch(records: list[dict[str, Any]], offsets: list[int], cmap: ColumnMap, fmt: str,
                  offset_unit: str, counters: dict[str, int] | None = None) -> Batch:
    """JSON records (one dict per row) → a validated positions batch."""
    import json

    if not records:
        return Batch("positions", pa.table({}), [], dict(counters or {}))
    try:
        struct = pa.array(records)  # one C++ pass; fails on mixed value types
        t = pa.Table.from_struct_array(struct) if pa.types.is_struct(struct.type) else None
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        t = None
    if t is None or cmap.time not in t.column_names:
        keys = {k for r in records[:1000] for k in r} | set(records[-1])
        t = pa.table({k: _loose_array([r.get(k) for r in records]) for k in sorted(keys)})
    canon = to_canonical(t, cmap)
    return positions_batch(canon, offsets, fmt, lambda i: json.dumps(records[i])[:2000], offset_unit,
                           counters)


def _loose_array(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def read_parquet(src: InputFile, maps: Sequence[ColumnMap], fmt: str) -> Iterator[Batch]:
    with src.open() as f:
        data = seekable(f)
        try:
            pf = pq.ParquetFile(data)
        except (pa.ArrowInvalid, OSError) as exc:
            raise FormatError(f"unreadable Parquet: {exc}", path=src.name) from None
        names = pf.schema_arrow.names
        cmap = pick(names, maps)
        if cmap is None:
            raise FormatError(_missing_msg(names, maps), path=src.name)
        lower = {n.lower(): n for n in names}
        keep = [lower[k.lower()] for k in (cmap.time, *cmap.columns) if k.lower() in lower]
        row0 = 0
        for rb in pf.iter_batches(batch_size=BATCH_ROWS, columns=keep):
            t = pa.Table.from_batches([rb])
            offs = np.arange(row0, row0 + t.num_rows, dtype=np.int64)
            row0 += t.num_rows
            canon = to_canonical(t, cmap)
            # the rows say which layout they came in (traffic and OpenSky Parquet share a sniff)
            yield positions_batch(canon, offs, cmap.family, _row_text(t, ", "), "row")


def read_csv(src: InputFile, maps: Sequence[ColumnMap], fmt: str) -> Iterator[Batch]:
    head = re.split(rb"\r\n|\r|\n", src.head(), maxsplit=1)[0]  # lines end as the CSV parser ends them
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("the header line is not UTF-8 text", path=src.name, offset=1) from None
    first = head.decode("utf-8-sig", "replace")  # a byte-order mark is not part of the first name (pyarrow drops it too)
    names = [h.strip().strip('"') for h in first.split(",")]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise FormatError(f"columns {dup} appear more than once in the header", path=src.name, offset=1)
    cmap = pick(names, maps)
    if cmap is None:
        raise FormatError(_missing_msg(names, maps), path=src.name, offset=1)
    with src.open() as f:
        bad: list[Reject] = []

        def on_invalid(row: Any) -> str:
            # with use_threads=False pyarrow gives the 1-based line number (header = 1)
            bad.append(Reject(int(row.number or 0), str(row.text), f"{row.actual_columns} fields, "
                              f"header has {row.expected_columns}"))
            return "skip"

        try:
            reader = pacsv.open_csv(
                f,
                read_options=pacsv.ReadOptions(block_size=8 << 20, use_threads=False),
                parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
                # everything as text: a bad value must reject its row, not the whole block
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
            )
        except pa.ArrowInvalid as exc:
            raise FormatError(f"CSV cannot be parsed: {exc}", path=src.name) from None
        if [n.strip().strip('"') for n in reader.schema.names] != names:  # e.g. a carriage return inside it
            shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in ", ".join(names)[:200])
            raise FormatError(f"the header line does not read as the columns it names ({shown}): "
                              "a stray carriage return or quote in it? fix the header line", path=src.name,
                              offset=1)
        line0 = 2
        for rb in _iter_reader(reader, src):
            t = pa.Table.from_batches([rb])
            # line numbers hold for files without quoted newlines (these formats have none);
            # skipped invalid lines shift the count, so they are added back in order
            offs = np.arange(line0, line0 + t.num_rows, dtype=np.int64)
            for r in sorted(bad, key=lambda r: r.offset):
                offs[offs >= r.offset] += 1
            line0 = int(offs[-1]) + 1 if t.num_rows else line0 + len(bad)
            canon = to_canonical(t, cmap)
            b = positions_batch(canon, offs, fmt, _row_text(t, ","))
            b.rejects[:0] = bad
            bad.clear()
            yield b
        if bad:
            yield Batch("positions", pa.table({}), list(bad))


def _row_text(t: pa.Table, sep: str) -> Callable[[int], str]:
    def text(i: int) -> str:
        return sep.join("" if v is None else str(v) for v in t.slice(i, 1).to_pylist()[0].values())

    return text


def _iter_reader(reader: Any, src: InputFile) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            rb = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise FormatError(f"CSV cannot be parsed: {exc}", path=src.name) from None
        yield rb


def _missing_msg(names: Sequence[str], maps: Sequence[ColumnMap]) -> str:
    wants = "; ".join(f"{m.family}: {', '.join(m.required)}" for m in maps)
    return f"columns {list(names)[:20]} fit no known layout; expected at least ({wants})"
