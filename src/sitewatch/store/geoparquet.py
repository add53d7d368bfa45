"""Positions as GeoParquet, partitioned by UTC day and a coarse spatial cell (for Spark/DuckDB).

Layout: ``OUT/day=YYYY-MM-DD/cell=<lat>_<lon>/part-*.parquet`` (hive partitioning), each file
a GeoParquet 1.1 file: a ``geometry`` column of WKB points (lon, lat; OGC:CRS84, the spec's
default, hence no ``crs`` key), a ``bbox`` covering column (struct xmin/ymin/xmax/ymax)
declared in the ``geo`` metadata so readers can prune by bounding box, and every positions
column. The cell is the 1° grid square ``floor(lat)_floor(lon)`` (e.g. ``35_035``): coarse
enough for few files per day, fine enough that a site's data lives in one or a handful of
cells.

Written into ``OUT.partial`` and renamed when complete: an interrupted export leaves no
half-written dataset under ``OUT``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from sitewatch.errors import InputError

GEO_VERSION = "1.1.0"
PARTITION_KEYS = ("day", "cell")


def wkb_points(lon: np.ndarray, lat: np.ndarray) -> pa.Array:
    """Little-endian WKB Points (21 bytes each), vectorised."""
    n = len(lon)
    rec = np.empty(n, dtype=[("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])
    rec["order"], rec["type"], rec["x"], rec["y"] = 1, 1, lon, lat
    buf = pa.py_buffer(rec.tobytes())
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * 21).tobytes())
    return pa.Array.from_buffers(pa.binary(), n, [None, offsets, buf])


def geo_metadata(covering: bool = True) -> dict[str, object]:
    """The ``geo`` file metadata for a ``geometry`` column of WKB points in lon/lat WGS84.

    ``crs`` is left out on purpose: the spec reads a *missing* key as OGC:CRS84 (lon/lat
    WGS84, what we write), whereas ``"crs": null`` means an *unknown* CRS (geopandas then
    loads the data with no CRS at all). ``covering`` declares the ``bbox`` struct column.
    """
    column: dict[str, object] = {"encoding": "WKB", "geometry_types": ["Point"]}
    if covering:
        column["covering"] = {"bbox": {"xmin": ["bbox", "xmin"], "ymin": ["bbox", "ymin"],
                                       "xmax": ["bbox", "xmax"], "ymax": ["bbox", "ymax"]}}
    return {"version": GEO_VERSION, "primary_column": "geometry", "columns": {"geometry": column}}


def _augment(rb: pa.RecordBatch, partition: tuple[str, ...]) -> pa.RecordBatch:
    lat = rb.column("lat").to_numpy(zero_copy_only=False)
    lon = rb.column("lon").to_numpy(zero_copy_only=False)
    cols = {name: rb.column(name) for name in rb.schema.names}
    cols["geometry"] = wkb_points(lon, lat)
    cols["bbox"] = pa.StructArray.from_arrays(
        [pa.array(lon), pa.array(lat), pa.array(lon), pa.array(lat)], names=["xmin", "ymin", "xmax", "ymax"])
    if "day" in partition:
        cols["day"] = pc.strftime(rb.column("t_utc"), format="%Y-%m-%d")
    if "cell" in partition:
        la = np.floor(lat).astype(np.int64)
        lo = np.floor(lon).astype(np.int64)
        cols["cell"] = pa.array([f"{a}_{b:03d}" if b >= 0 else f"{a}_-{-b:03d}" for a, b in zip(la, lo, strict=True)])
    return pa.RecordBatch.from_pydict(cols)


def write(batches: Iterator[pa.RecordBatch], out: str | Path, partition: tuple[str, ...] = PARTITION_KEYS,
          on_batch: Callable[[int], None] | None = None) -> int:
    """Write position batches as a partitioned GeoParquet dataset at ``out``; return rows."""
    bad = [p for p in partition if p not in PARTITION_KEYS]
    if bad:
        raise InputError(f"--partition {','.join(partition)}: unknown keys {bad}; use day and/or cell")
    out = Path(out)
    if out.is_file() or (out.is_dir() and any(out.iterdir())):
        raise InputError("already exists; choose a new folder for --out (exports never overwrite)", path=str(out))
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    count = [0]
    first = next(batches, None)
    if first is None:
        out.mkdir(parents=True, exist_ok=True)
        return 0

    def gen() -> Iterator[pa.RecordBatch]:
        for rb in _chain(first, batches):
            aug = _augment(rb, partition)
            count[0] += aug.num_rows
            if on_batch:
                on_batch(aug.num_rows)
            yield aug

    schema0 = _augment(first.slice(0, 1), partition).schema
    schema = schema0.with_metadata({b"geo": json.dumps(geo_metadata()).encode()})
    part = ds.partitioning(pa.schema([schema.field(p) for p in partition]), flavor="hive") if partition else None
    try:
        ds.write_dataset(
            pa.RecordBatchReader.from_batches(schema, (b.cast(schema) for b in gen())), tmp, format="parquet",
            partitioning=part, existing_data_behavior="error", basename_template="part-{i}.parquet",
            file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
            max_rows_per_group=256 * 1024,
        )
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return count[0]


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest
