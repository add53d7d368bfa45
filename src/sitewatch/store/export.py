"""Streaming exports of store tables to CSV / Parquet, written atomically.

Rows are read in Arrow batches (bounded memory), filtered by the site polygon in NumPy
after a bounding-box pre-filter in SQL, written to ``OUT.partial`` and renamed over
``OUT`` only when complete — an interrupted export never leaves a truncated file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sitewatch.errors import InputError
from sitewatch.sites import Site
from sitewatch.store.db import Store
from sitewatch.store.where import Where

POSITION_COLUMNS = ("t_utc", "source", "id", "lat", "lon", "alt_ft", "speed_kt", "track_deg", "onground")


def position_batches(
    store: Store,
    site: Site | None = None,
    t_from: datetime | None = None,
    t_to: datetime | None = None,
    source: str | None = None,
    columns: tuple[str, ...] = POSITION_COLUMNS,
    rows_per_batch: int = 500_000,
) -> Iterator[pa.RecordBatch]:
    """Positions in time order, optionally inside ``site``'s watch area and a time window."""
    w = (Where().bbox(site.bbox() if site is not None else None).since("t_utc", t_from).before("t_utc", t_to)
         .eq("source", source))
    cols = ", ".join(f'"{c}"' for c in columns)
    q = f"SELECT {cols} FROM positions WHERE {w.sql} ORDER BY t_utc, source, id"
    for rb in store.batches(q, w.params, rows_per_batch):
        if site is not None and rb.num_rows:
            lat = rb.column("lat").to_numpy(zero_copy_only=False)
            lon = rb.column("lon").to_numpy(zero_copy_only=False)
            mask = np.asarray(site.contains(lat, lon), dtype=bool)
            rb = rb.filter(pa.array(mask))
        if rb.num_rows:
            yield rb


def write_batches(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema, out: str | Path, fmt: str,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Write ``batches`` to ``out`` as csv or parquet atomically; return rows written.

    ``schema`` (all fields nullable) is the file's schema; batches are cast to it.
    """
    schema = pa.schema([f.with_nullable(True) for f in schema])
    out = Path(out)
    if out.is_dir():
        raise InputError("is a folder; give a file path for --out", path=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    n = 0
    writer: Any
    try:
        if fmt == "parquet":
            writer = pq.ParquetWriter(tmp, schema, compression="zstd")
        elif fmt == "csv":
            writer = pacsv.CSVWriter(tmp, schema)
        else:
            raise InputError(f"format {fmt!r} is not csv or parquet")
        try:
            for rb in batches:
                if fmt == "csv":
                    rb = _iso_times(rb)
                rb = rb.cast(schema)
                writer.write_batch(rb) if fmt == "parquet" else writer.write(rb)
                n += rb.num_rows
                if on_batch:
                    on_batch(rb.num_rows)
        finally:
            writer.close()
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


def _iso_times(rb: pa.RecordBatch) -> pa.RecordBatch:
    # CSV gets ISO 8601 with a Z suffix, which every spreadsheet and pandas read as UTC
    arrays = []
    for _name, col in zip(rb.schema.names, rb.columns, strict=True):
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S.%fZ")
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=rb.schema.names)


def csv_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, pa.string()) if pa.types.is_timestamp(f.type) else f for f in schema])
