"""Both engines on the same positions: embedded (DuckDB/NumPy) vs Apache Spark local[2].

Input: the real C-2A and C-135FR tracks (traffic 2.13) and the Virginia Beach AIS
(tracktable-data) replicated to each size in ``SITEWATCH_BENCH_SPARK_SIZES`` (default
``250000,1000000``); each replica gets its own ICAO addresses / MMSIs and a shift of whole
days. ``SITEWATCH_BENCH_SPARK_ENGINES=embedded`` runs only the embedded engine. For each
size: the embedded engine runs the air analyses and the per-vessel sea analyses on the
workspace; Spark runs the same on the GeoParquet export (``export positions --format
geoparquet``, timed separately). Prints positions/s of each engine (wall clock: the JVM's
CPU is not in this process' CPU time, so compare on an idle machine), the ratio, the events
found, and how each engine's time grows with size.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from sitewatch import samples
from sitewatch import sites as S
from sitewatch.analytics import base
from sitewatch.store.ingest import ingest_paths
from sitewatch.workspace import Workspace


def _workspace(folder: Path, target_rows: int) -> int:
    carrier = samples.traffic_sample("military/aircraft_carrier.json.gz", download=True)
    refuel = samples.traffic_sample("military/inflight_refuelling.json.gz", download=True)
    vb = samples.tracktable_sample("python_example_data/VirginiaBeach_2020_06_04_to_06_filtered.traj", download=True)
    ws = Workspace.init(folder)
    ws.put_site(S.from_airport("north-island", "KNZY"))
    ws.put_site(S.from_airport("istres", "LFMI"))
    ws.put_site(S.circle_site("norfolk", "port", 36.95, -76.33, 3.0))
    ingest_paths(ws.store, "adsb", [carrier, refuel], "traffic")
    ingest_paths(ws.store, "ais", [vb], "traj")
    n0 = ws.store.count("positions")
    # the replicated block: the first four days of the real files (whole tracks), copied once
    # into a temporary table so the replicas (shifted by whole days) never feed later replicas
    ws.store.sql("CREATE TEMP TABLE bench_block AS SELECT * FROM positions WHERE t_utc < "
                 "(SELECT min(t_utc) + INTERVAL 4 DAY FROM positions) AND file_id IS NOT NULL AND file_id <= 3")
    m = int(ws.store.scalar("SELECT count(*) FROM bench_block"))
    reps = max(0, round((target_rows - n0) / m)) if m else 0
    step = 64  # replicas per statement: bounded memory, few statements at 100 M rows
    for r0 in range(1, reps + 1, step):  # replicas: new ids (prefix), shifted by r days
        r1 = min(reps, r0 + step - 1)
        ws.store.sql(
            "INSERT INTO positions SELECT t_utc + to_days(r::INTEGER), source, "
            "CASE WHEN source = 'adsb' THEN printf('%06x', (('0x' || id)::INTEGER + r * 4099) % 16777216) "
            "ELSE printf('%09d', (id::BIGINT + r * 1000003) % 1000000000) END, lat, lon, alt_ft, speed_kt, "
            "track_deg, onground, vrate_fpm, heading_deg, callsign, squawk, status, time_inferred, format, "
            "file_id, rec_offset FROM bench_block CROSS JOIN range(?, ?) AS g(r)", [r0, r1 + 1])
    ws.store.sql("DROP TABLE bench_block")
    n = ws.store.count("positions")
    ws.close()
    return n


def _embedded(folder: Path) -> float:
    from sitewatch.engines.spark import SEA_SEPARABLE

    ws = Workspace.open(folder)
    ctx = base.AnalysisContext(ws.store, ws.sites, ws.settings)
    t0 = time.perf_counter()
    base.run(ctx, [n for n in base.discover() if n.startswith("air.") or n in SEA_SEPARABLE])
    dt = time.perf_counter() - t0
    ws.close()
    return dt


def _same_events(folder: Path, spark_events: Path) -> str:
    """Do both engines' events carry the same ids? (the row-by-row check is the test's)"""
    import pyarrow.parquet as pq

    ws = Workspace.open(folder, read_only=True)
    ours = {r["event_id"] for r in ws.store.rows("SELECT event_id FROM events")}
    ws.close()
    theirs = set(pq.read_table(spark_events, columns=["event_id"]).column("event_id").to_pylist())
    if ours == theirs:
        return f"same {len(ours):,} event ids"
    return f"DIFFERENT events: {len(ours - theirs):,} only embedded, {len(theirs - ours):,} only Spark"


def main() -> None:
    sizes = [int(s) for s in os.environ.get("SITEWATCH_BENCH_SPARK_SIZES", "250000,1000000").split(",")]
    try:
        import pyspark  # noqa: F401
    except ImportError:
        print("pyspark not installed: pip install 'sitewatch[spark]'; Spark figures not measured")
        return
    if shutil.which("java") is None:
        print("no Java runtime: Spark figures not measured")
        return
    from sitewatch.engines import spark as SP
    from sitewatch.store import geoparquet
    from sitewatch.store.positions import position_batches

    engines = set(os.environ.get("SITEWATCH_BENCH_SPARK_ENGINES", "embedded,spark").split(","))
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; engines: "
          f"{', '.join(sorted(engines))}")
    sess = SP.session("local[2]") if "spark" in engines else None
    rows = []
    try:
        for size in sizes:
            tmp = Path(tempfile.mkdtemp(prefix="bench-spark-"))
            try:
                t0 = time.perf_counter()
                n = _workspace(tmp / "ws", size)
                print(f"{n:>11,} positions in the workspace ({time.perf_counter() - t0:.1f} s)", flush=True)
                t_emb = _embedded(tmp / "ws") if "embedded" in engines else float("nan")
                if sess is None:
                    print(f"{n:>11,} positions: embedded {n / t_emb:>10,.0f} pos/s ({t_emb:6.1f} s)", flush=True)
                    rows.append((n, t_emb, float("nan"), float("nan"), 0))
                    continue
                ws = Workspace.open(tmp / "ws")
                t0 = time.perf_counter()
                cols = tuple(c for c in SP.POSITION_COLUMNS)
                geoparquet.write(position_batches(ws.store, columns=cols), tmp / "pos")
                t_exp = time.perf_counter() - t0
                t0 = time.perf_counter()
                r = SP.run(ws, tmp / "pos", tmp / "out", spark=sess)
                t_spark = time.perf_counter() - t0
                ws.close()
                rows.append((n, t_emb, t_exp, t_spark, r.events))
                same = _same_events(tmp / "ws", tmp / "out" / "events.parquet") if "embedded" in engines else ""
                print(f"{n:>11,} positions: embedded {n / t_emb:>10,.0f} pos/s ({t_emb:6.1f} s) | "
                      f"spark local[2] {n / t_spark:>10,.0f} pos/s ({t_spark:6.1f} s; export {t_exp:5.1f} s) | "
                      f"embedded/spark = {t_spark / t_emb:5.2f}x | {r.events} events; {same}", flush=True)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if sess is not None:
            sess.stop()
    if len(rows) >= 2:
        (n1, e1, _, s1, _), (n2, e2, _, s2, _) = rows[0], rows[-1]
        print(f"growth {n1:,} → {n2:,} positions (x{n2 / n1:.1f}): embedded time x{e2 / e1:.2f}, "
              f"spark time x{s2 / s1:.2f} (spark has a fixed start-up and shuffle cost per run)")


if __name__ == "__main__":
    main()
