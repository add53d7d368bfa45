"""Positions in sitewatch's own layout, as CSV or Parquet (round trip of ``export positions``).

Required columns: ``t_utc`` (ISO 8601; naive means UTC), ``source`` (adsb|ais), ``id``,
``lat``, ``lon``. Optional: any other column of the ``positions`` table. Rows with a bad
time, an id that is empty, or lat/lon out of range are quarantined with their line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sitewatch import schema
from sitewatch.errors import FormatError
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject, register, seekable, text_lines

REQUIRED = ("t_utc", "source", "id", "lat", "lon")
BATCH_ROWS = 200_000
_BOOL = {"true": True, "1": True, "t": True, "false": False, "0": False, "f": False, "": None}


@register
class PositionsCsv:
    kind = "positions"
    name = "csv"

    def sniff(self, head: bytes, name: str) -> float:
        first = head.split(b"\n", 1)[0].decode("utf-8", "replace").lower().strip("\r")
        try:
            cols = [c.strip() for c in next(csv.reader([first]), [])]
        except csv.Error:
            return 0.0
        return 0.9 if all(c in cols for c in REQUIRED) else 0.0

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        decl = schema.POSITIONS
        lines = text_lines(src)
        try:
            _, header_line = next(lines)
        except StopIteration:
            raise FormatError("empty file", path=src.name) from None
        try:
            header = [h.strip() for h in next(csv.reader([header_line]), [])]
        except csv.Error as exc:
            raise FormatError(f"header is not CSV ({exc})", path=src.name) from None
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise FormatError(f"missing columns {missing}; expected at least {list(REQUIRED)}", path=src.name)
        unknown = [h for h in header if h not in decl.names]
        if unknown:
            raise FormatError(f"unknown columns {unknown}; allowed: {decl.names}", path=src.name)
        cols: dict[str, list[Any]] = {h: [] for h in header}
        offsets: list[int] = []
        rejects: list[Reject] = []
        for lineno, line in lines:
            if not line.strip():
                continue
            try:
                values = next(csv.reader([line]))
                if len(values) != len(header):
                    raise ValueError(f"{len(values)} fields, header has {len(header)}")
                row = {h: _convert(decl.column(h).type, v) for h, v in zip(header, values, strict=True)}
                _check(row)
            except (ValueError, TypeError, csv.Error) as exc:
                rejects.append(Reject(lineno, line, str(exc)))
                continue
            for h in header:
                cols[h].append(row[h])
            offsets.append(lineno)
            if len(offsets) >= BATCH_ROWS:
                yield self._batch(cols, offsets, rejects, src)
                cols, offsets, rejects = {h: [] for h in header}, [], []
        if offsets or rejects:
            yield self._batch(cols, offsets, rejects, src)

    def _batch(self, cols: dict[str, list[Any]], offsets: list[int], rejects: list[Reject],
               src: InputFile) -> Batch:
        decl = schema.POSITIONS
        arrays = {h: pa.array(v, decl.column(h).arrow_type) for h, v in cols.items()}
        arrays["rec_offset"] = pa.array(offsets, pa.int64())
        arrays.setdefault("format", pa.array(["positions-csv"] * len(offsets)))
        return Batch("positions", pa.table(arrays), rejects)


@register
class PositionsParquet:
    kind = "positions"
    name = "parquet"

    def sniff(self, head: bytes, name: str) -> float:
        return 0.95 if head[:4] == b"PAR1" else 0.0

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        with src.open() as f:
            data = seekable(f)
            pf = pq.ParquetFile(data)
            names = pf.schema_arrow.names
            missing = [c for c in REQUIRED if c not in names]
            if missing:
                raise FormatError(f"missing columns {missing}", path=src.name)
            keep = [n for n in names if n in schema.POSITIONS.names and n not in ("file_id", "rec_offset")]
            row0 = 0
            for rb in pf.iter_batches(batch_size=BATCH_ROWS, columns=keep):
                t = pa.Table.from_batches([rb])
                t = t.append_column("rec_offset", pa.array(range(row0, row0 + t.num_rows), pa.int64()))
                row0 += t.num_rows
                yield _validate_table(t, src)


def _validate_table(t: pa.Table, src: InputFile) -> Batch:
    import pyarrow.compute as pc

    lat, lon = t.column("lat"), t.column("lon")
    ok = pc.and_kleene(
        pc.and_kleene(pc.greater_equal(lat, -90), pc.less_equal(lat, 90)),
        pc.and_kleene(pc.greater_equal(lon, -180), pc.less_equal(lon, 180)),
    )
    ok = pc.and_kleene(ok, pc.is_valid(t.column("t_utc")))
    ok = pc.fill_null(ok, False)
    bad = t.filter(pc.invert(ok))
    rejects = [
        Reject(int(r["rec_offset"]), str({k: v for k, v in r.items() if k != "rec_offset"}),
               "missing time or lat/lon out of range", "row")
        for r in bad.to_pylist()
    ]
    good = t.filter(ok)
    if "format" not in good.column_names:
        good = good.append_column("format", pa.array(["positions-parquet"] * good.num_rows))
    return Batch("positions", good, rejects)


def _convert(sql_type: str, v: str) -> Any:
    v = v.strip()
    if sql_type == "TIMESTAMPTZ":
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    if v == "":
        return None
    if sql_type in ("DOUBLE", "FLOAT"):
        return float(v)
    if sql_type in ("BIGINT", "INTEGER", "SMALLINT"):
        return int(v)
    if sql_type == "BOOLEAN":
        if v.lower() not in _BOOL:
            raise ValueError(f"{v!r} is not a boolean")
        return _BOOL[v.lower()]
    return v


def _check(row: dict[str, Any]) -> None:
    if row["source"] not in ("adsb", "ais"):
        raise ValueError(f"source {row['source']!r} is not 'adsb' or 'ais'")
    if not row["id"]:
        raise ValueError("empty id")
    if row["lat"] is None or not -90 <= row["lat"] <= 90:
        raise ValueError(f"lat {row['lat']} out of range")
    if row["lon"] is None or not -180 <= row["lon"] <= 180:
        raise ValueError(f"lon {row['lon']} out of range")
