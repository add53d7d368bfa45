"""Streaming exports of store tables to CSV / Parquet, written atomically.

Rows arrive in Arrow batches (bounded memory; positions from
:func:`sitewatch.store.positions.position_batches`), are written to ``OUT.partial`` and
renamed over ``OUT`` only when complete — an interrupted export never leaves a truncated
file. :func:`read_table` hands a whole table to an engine that reads it elsewhere (Spark).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sitewatch import schema as S
from sitewatch.errors import InputError
from sitewatch.store.db import Store


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


def read_table(store: Store, table: str) -> pa.Table:
    """Every row of a declared ``table`` (the name is checked against the schema)."""
    return store.arrow(f'SELECT * FROM "{S.table(table).name}"')


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
