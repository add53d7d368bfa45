"""The same analytics on Apache Spark, over a GeoParquet positions dataset.

``sitewatch analyze --engine spark --input DIR --out DIR`` runs here. The input is what
``sitewatch export positions --format geoparquet`` writes (hive ``day=/cell=`` partitions);
the workspace gives the sites, settings and identity tables (aircraft, vessels).

How the work is split, and why the results are identical to the embedded engine:

* **air** — Spark shuffles the ADS-B positions so each aircraft's reports sit whole in one
  partition, sorted by time (``repartition(id)`` + ``sortWithinPartitions``), and runs the
  embedded per-partition kernel (:func:`sitewatch.analytics.air._pipeline.process`: legs,
  raw site events, gap rows, coverage keys) on every partition in parallel
  (``mapInArrow``). The driver then runs the global step (:func:`~._pipeline.combine`:
  runway inference over all landings, gap classification against the whole coverage
  map) and the registered air analyses turn that result into events — the same code the
  embedded engine runs, so the same events and the same ids.
* **sea** — every sea analysis except ``encounter`` is per vessel (port visits, AIS gaps,
  quay departures, loitering), so Spark partitions by MMSI and each partition runs the
  registered sea analyses on an in-memory store holding only its vessels. Encounters pair
  vessels across partitions and stay on the embedded engine (documented in docs/scale.md).

Events are written to ``OUT/events.parquet`` with the columns of the ``events`` table,
atomically; ``sitewatch ingest events OUT/events.parquet`` brings them into a workspace.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sitewatch import schema
from sitewatch.errors import DependencyError, InputError
from sitewatch.store.export import read_table

SEA_SEPARABLE = ("sea.port-visits", "sea.gaps", "sea.departures", "sea.loitering")
POSITION_COLUMNS = ("t_utc", "source", "id", "lat", "lon", "alt_ft", "speed_kt", "track_deg", "onground",
                    "vrate_fpm", "heading_deg", "callsign", "squawk", "status", "time_inferred", "format",
                    "rec_offset")
ROWS_PER_PARTITION = 2_000_000  # bounds each executor's memory: one partition is held whole


@dataclass
class SparkRun:
    events: int = 0
    by_analysis: dict[str, int] = field(default_factory=dict)
    positions: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    out: str = ""


def session(master: str = "local[2]", app: str = "sitewatch") -> Any:
    """A Spark session in UTC, with Arrow transfers and the UI off."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise DependencyError(
            "the Spark engine needs pyspark and a Java 17+ runtime: pip install 'sitewatch[spark]' "
            "(Debian: apt-get install openjdk-17-jre-headless)") from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return (SparkSession.builder.master(master).appName(app)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.driver.memory", os.environ.get("SITEWATCH_SPARK_DRIVER_MEMORY", "2g"))
            .getOrCreate())


def run(ws: Any, input_dir: str | Path, out_dir: str | Path, master: str = "local[2]",
        partitions: int | None = None, spark: Any = None) -> SparkRun:
    """Run the Spark engine for workspace ``ws`` over ``input_dir``; write ``out_dir``."""
    from sitewatch.analytics.air import _pipeline
    from sitewatch.analytics.air._airfields import Airfields
    from sitewatch.analytics.air._params import from_settings

    src = Path(input_dir)
    if not src.is_dir():
        raise InputError("is not a folder; give the GeoParquet dataset written by "
                         "`sitewatch export positions --format geoparquet`", path=str(src))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    res = SparkRun(out=str(out / "events.parquet"))
    own = spark is None
    spark = spark or session(master)
    t0 = time.perf_counter()
    try:
        df = spark.read.option("basePath", str(src)).parquet(str(src))
        missing = [c for c in ("t_utc", "source", "id", "lat", "lon") if c not in df.columns]
        if missing:
            raise InputError(f"not a positions dataset: missing columns {missing}", path=str(src))
        cols = [c for c in POSITION_COLUMNS if c in df.columns]
        df = df.select(*cols)
        res.positions = df.count()
        n_parts = partitions or max(2, -(-res.positions // ROWS_PER_PARTITION))
        res.seconds["read"] = time.perf_counter() - t0

        # -- air: per-aircraft kernel on the executors, global combine on the driver --------
        t1 = time.perf_counter()
        p = from_settings(ws.settings)
        af = Airfields.default(ws.sites.values())
        air = df.where("source = 'adsb'").select(
            "id", "t_utc", "lat", "lon", "alt_ft", "speed_kt", "track_deg", "onground", "vrate_fpm")
        air = air.repartition(n_parts, "id").sortWithinPartitions("id", "t_utc")
        use_flags = p.use_onground_flags
        piece_schema = "piece binary"

        def air_kernel(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            got = list(batches)
            if not got:  # an empty partition (more partitions than aircraft)
                return
            table = pa.Table.from_batches(got)
            if table.num_rows == 0:
                return
            piece = _pipeline.process(_track_table(table), af, p, use_flags)
            yield pa.RecordBatch.from_pydict({"piece": [pickle.dumps(piece, protocol=5)]})

        pieces = [pickle.loads(r["piece"]) for r in air.mapInArrow(air_kernel, piece_schema).collect()]
        from sitewatch.analytics._outages import Outages

        result = _pipeline.combine(pieces, p, Outages.load(ws.store, "adsb"))
        res.seconds["air"] = time.perf_counter() - t1

        # -- events from the air result, built by the registered analyses -------------------
        tables = _air_events(ws, result)

        # -- sea: per-vessel analyses on the executors --------------------------------------
        t2 = time.perf_counter()
        vessels = read_table(ws.store, "vessels")
        vessel_ipc = _ipc(vessels)
        sites, settings = ws.sites, dict(ws.settings)
        ev_schema = schema.EVENTS.arrow_schema()

        def sea_kernel(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            got = list(batches)
            if not got:
                return
            table = pa.Table.from_batches(got)
            if table.num_rows == 0:
                return
            for t in _sea_events(table, _from_ipc(vessel_ipc), sites, settings):
                yield from t.cast(ev_schema).to_batches()

        sea = df.where("source = 'ais'").repartition(n_parts, "id")
        rows = sea.mapInArrow(sea_kernel, _ddl(schema.EVENTS)).toArrow()
        tables.append(rows.cast(ev_schema))
        res.seconds["sea"] = time.perf_counter() - t2
    finally:
        if own:
            spark.stop()
    events = pa.concat_tables([t.cast(schema.EVENTS.arrow_schema()) for t in tables if t.num_rows])
    events = events.sort_by([("t_start", "ascending"), ("event_id", "ascending")]) if events.num_rows else \
        schema.EVENTS.arrow_schema().empty_table()
    tmp = out / "events.parquet.partial"
    pq.write_table(events, tmp, compression="zstd")
    os.replace(tmp, out / "events.parquet")
    res.events = events.num_rows
    for name in events.column("analysis").to_pylist() if events.num_rows else []:
        res.by_analysis[name] = res.by_analysis.get(name, 0) + 1
    res.seconds["total"] = time.perf_counter() - t0
    return res


_SPARK_TYPES = {"VARCHAR": "string", "JSON": "string", "DOUBLE": "double", "FLOAT": "float", "BIGINT": "bigint",
                "INTEGER": "int", "SMALLINT": "smallint", "BOOLEAN": "boolean", "TIMESTAMPTZ": "timestamp",
                "BLOB": "binary"}


def _ddl(table: schema.Table) -> str:
    """Spark DDL schema string of a declared table (timestamps are UTC: session time zone)."""
    return ", ".join(f"`{c.name}` {_SPARK_TYPES[c.type]}" for c in table.columns)


def _track_table(t: pa.Table) -> pa.Table:
    """Spark's partition rows → the kernel's track layout (``t_s`` seconds, sorted)."""
    from sitewatch.store import positions_air as AIR

    t_s = pc.divide(pc.cast(pc.cast(t.column("t_utc"), pa.timestamp("us", tz="UTC")).cast(pa.int64()),
                            pa.float64()), 1e6)
    t = t.drop_columns(["t_utc"]).append_column("t_s", t_s)
    return t.sort_by([("id", "ascending"), ("t_s", "ascending")]).select(list(AIR.TRACK_COLUMNS))


def _air_events(ws: Any, result: Any) -> list[pa.Table]:
    """Run the registered air analyses on ``result`` (the combined Spark pass)."""
    from sitewatch.analytics import base
    from sitewatch.analytics.air import _pipeline
    from sitewatch.store.db import Store

    mem = Store()
    for name in ("aircraft", "vessels"):
        mem.insert(name, read_table(ws.store, name), dedupe=False)
    ctx = base.AnalysisContext(mem, ws.sites, ws.settings)
    # the driver's store holds no positions: the Spark pass is this run's air pass
    _pipeline.preset(ctx, result)
    out = []
    for name, a in base.discover().items():
        if name.startswith("air."):
            t = a.fn(ctx)
            if t.num_rows:
                out.append(schema.conform("events", t))
    return out


def _sea_events(positions: pa.Table, vessels: pa.Table, sites: dict[str, Any],
                settings: dict[str, Any]) -> list[pa.Table]:
    """The per-vessel sea analyses over one partition of whole vessels."""
    from sitewatch.analytics import base
    from sitewatch.store.db import Store

    mem = Store()
    ids = pc.unique(positions.column("id"))
    mem.insert("positions", positions, dedupe=False)
    if vessels.num_rows:
        mem.insert("vessels", vessels.filter(pc.is_in(vessels.column("mmsi"), ids)), dedupe=False)
    ctx = base.AnalysisContext(mem, sites, settings)
    regs = base.discover()
    out = []
    for name in SEA_SEPARABLE:
        if name in regs:
            t = regs[name].fn(ctx)
            if t.num_rows:
                out.append(schema.conform("events", t))
    mem.close()
    return out


def _ipc(t: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    return bytes(sink.getvalue().to_pybytes())


def _from_ipc(b: bytes) -> pa.Table:
    return pa.ipc.open_stream(b).read_all()
