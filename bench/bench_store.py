"""The store's de-duplicating insert, per position source: rows/s of ``Store.insert``, same run, same rows.

Sources, each read by its own reader and inserted in the batches that reader yields:

* ``adsb-trace`` — a SIMULATED globe_history day (:func:`bench.bench_readsb.build_tar`, real
  readsb layout) through the archive reader, every aircraft kept: 250,000-row batches;
* ``ais`` — the three real tracktable-data AIS ``.traj`` files (NY harbour week, Virginia
  Beach, US coast; 448,468 positions) through the ``traj`` reader, replicated over new MMSIs
  (replica k prefixes every MMSI with k): 200,000-row batches;
* ``positions`` — sitewatch's own Parquet layout (``export positions``) holding the rows of
  the two above, through the generic positions reader: 200,000-row batches.

``SITEWATCH_BENCH_STORE_ROWS`` rows per source (default 2,000,000). Each source runs in its own
process (peak RSS), every case into an on-disk workspace database, best of
``SITEWATCH_BENCH_STORE_REPEAT`` runs (default 3; wall clock and the CPU seconds of the process):

1. ``Store.insert``, new rows: every batch, one transaction, then ``close`` (the checkpoint is
   counted: an insert that leaves work for it is not faster); then the same rows as ingest
   stores them, through the file writer (:class:`~sitewatch.store.writer.BatchWriter`, which
   hands ``Store.insert`` runs of whole row groups);
2. the same rows again, into the store holding them (every one a duplicate);
3. the same identities a later period (times shifted past the data's extent), into that store;
4. new identities into a store already holding three times as many rows of the same period
   (other identities): the case where a check that reads the table grows with it;
5. the insert it replaced (the previous release's code, kept here: in-batch hash check, an
   ``EXISTS`` over the table's rows of the batch's identities and time span, then the anti-join;
   parallel append): new rows, and beside the rows of the same period;
6. ``Store.insert(dedupe=False)``: the append alone (the ceiling of any de-duplicating insert).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROWS = int(os.environ.get("SITEWATCH_BENCH_STORE_ROWS", "2000000"))
REPEAT = int(os.environ.get("SITEWATCH_BENCH_STORE_REPEAT", "3"))
SOURCES = ("adsb-trace", "ais", "positions")
DAY_US = 86_400_000_000


def _adsb(work: Path, rows: int) -> list[pa.Table]:
    from bench.bench_readsb import build_tar
    from sitewatch.sources.adsb.globe import ConcatReader, KeepRule, read_archive

    tar = work / "day.tar"
    build_tar(tar, max(10, rows // 2200), 2425)
    out: list[pa.Table] = []
    n = 0
    with ConcatReader([tar]) as r:
        for b in read_archive(r, str(tar), KeepRule(keep_all=True), 2):
            if b.table == "positions" and b.rows.num_rows and n < rows:
                out.append(b.rows.slice(0, rows - n))
                n += out[-1].num_rows
    tar.unlink()
    return out


def _ais(work: Path, rows: int) -> list[pa.Table]:
    from sitewatch import samples
    from sitewatch.sources.base import ReadOptions, iter_inputs, readers

    files = ("NYHarbor_2020_12_first_week.traj", "VirginiaBeach_2020_06_04_to_06_filtered.traj",
             "US_coastal_2020_06_30.traj")
    base: list[pa.Table] = []
    for f in files:
        p = samples.tracktable_sample(f"python_example_data/{f}", download=True)
        if p is None:
            raise RuntimeError(f"tracktable-data sample {f} not available (make samples)")
        for src in iter_inputs([p]):
            base += [b.rows for b in readers("ais")["traj"].read(src, ReadOptions())
                     if b.table == "positions" and b.rows.num_rows]
    out: list[pa.Table] = []
    n, k = 0, 0
    while n < rows:
        for t in base:
            if n >= rows:
                break
            t = t.slice(0, rows - n)
            ids = pc.binary_join_element_wise(pa.array([f"{k:03d}"] * t.num_rows), t.column("id"), "")
            out.append(t.set_column(t.schema.get_field_index("id"), "id", ids))
            n += t.num_rows
        k += 1
    return out


def _positions(work: Path, rows: int) -> list[pa.Table]:
    import pyarrow.parquet as pq

    from sitewatch import schema as S
    from sitewatch.sources.base import ReadOptions, iter_inputs, readers

    half = [*_adsb(work, rows // 2), *_ais(work, rows - rows // 2)]
    path = work / "positions.parquet"
    cols = [c for c in S.POSITIONS.names if c not in ("file_id", "rec_offset")]
    with pq.ParquetWriter(path, S.POSITIONS.arrow_schema().remove(S.POSITIONS.names.index("file_id"))) as w:
        for t in half:
            w.write_table(S.conform("positions", t).drop_columns(["file_id"]).select([*cols, "rec_offset"]))
    out: list[pa.Table] = []
    for src in iter_inputs([path]):
        out += [b.rows for b in readers("positions")["parquet"].read(src, ReadOptions()) if b.rows.num_rows]
    path.unlink()
    return out


def previous_insert(store: Any, table: str, data: pa.Table) -> int:
    """``Store.insert`` as the previous release wrote it (kept for this comparison only)."""
    from sitewatch import schema as S

    decl = S.table(table)
    data = S.conform(table, data)
    keys = list(decl.key)
    n = data.num_rows
    kb = data.select(keys).append_column("_sw_row", pa.array(np.arange(n, dtype=np.int64)))
    cols = ", ".join(f'"{k}"' for k in keys)
    on = " AND ".join(f'b."{k}" IS NOT DISTINCT FROM t."{k}"' for k in keys)
    con = store.con
    out: list[np.ndarray] = []
    con.register("_pk", kb)
    try:
        h = np.sort(con.execute(f"SELECT hash({cols}) AS h FROM _pk").fetchnumpy()["h"])
        if n > 1 and bool((h[1:] == h[:-1]).any()):
            out.append(np.asarray(con.execute(
                f"SELECT _sw_row FROM (SELECT _sw_row, row_number() OVER (PARTITION BY {cols} ORDER BY _sw_row) "
                "AS rn FROM _pk) WHERE rn > 1").fetchnumpy()["_sw_row"], np.int64))
        tt = data.column("t_utc")
        span = ' AND t.t_utc BETWEEN ? AND ? AND t."id" IN (SELECT DISTINCT "id" FROM _pk)'
        params = [pc.min(tt).as_py(), pc.max(tt).as_py()]
        if con.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}" t WHERE true{span})', params).fetchall()[0][0]:
            out.append(np.asarray(con.execute(
                f'SELECT b._sw_row FROM _pk b WHERE EXISTS (SELECT 1 FROM "{table}" t WHERE {on}{span})',
                params).fetchnumpy()["_sw_row"], np.int64))
    finally:
        con.unregister("_pk")
    if out:
        keep = np.ones(n, bool)
        keep[np.concatenate(out)] = False
        data = data.filter(pa.array(keep))
    con.register("_pb", data)
    try:
        con.execute(f'INSERT INTO "{table}" SELECT * FROM _pb')
    finally:
        con.unregister("_pb")
    return data.num_rows


def _shift(batches: list[pa.Table], us: int) -> list[pa.Table]:
    out = []
    for t in batches:
        i = t.schema.get_field_index("t_utc")
        ts = pc.add(t.column(i).cast(pa.int64()), us).cast(t.schema.field(i).type)
        out.append(t.set_column(i, t.schema.field(i), ts))
    return out


def _renamed(batches: list[pa.Table], suffix: str) -> list[pa.Table]:
    """Other identities that sort among the originals (a suffix: no zone map can tell them apart)."""
    out = []
    for t in batches:
        i = t.schema.get_field_index("id")
        ids = pc.binary_join_element_wise(t.column(i), pa.array([suffix] * t.num_rows), "")
        out.append(t.set_column(i, t.schema.field(i), ids))
    return out


def run_source(source: str) -> dict[str, Any]:
    import shutil

    from sitewatch.sources.base import Batch
    from sitewatch.store.db import Store
    from sitewatch.store.writer import BatchWriter

    with tempfile.TemporaryDirectory(prefix="sitewatch-bench-store-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        batches = {"adsb-trace": _adsb, "ais": _ais, "positions": _positions}[source](work, ROWS)
        file_id = pa.scalar(1, pa.int64())
        batches = [b.append_column("file_id", pa.repeat(file_id, b.num_rows)) if "file_id" not in b.column_names
                   else b for b in batches]
        n = sum(b.num_rows for b in batches)
        built = time.perf_counter() - t0
        times = pa.chunked_array([b.column("t_utc") for b in batches]).cast(pa.int64())
        extent = pc.max(times).as_py() - pc.min(times).as_py()
        later = _shift(batches, (extent // DAY_US + 1) * DAY_US)  # the same identities, a later period

        def insert_all(st: Any, bs: list[pa.Table], fn: Callable[..., int]) -> int:
            k = 0
            with st.transaction():
                if fn is written:  # the file writer: rows gathered into whole row groups
                    w = BatchWriter(st, 1, "bench")
                    for b in bs:
                        k += w.add(Batch("positions", b))[0]
                    k += w.flush()[0]
                    return k
                for b in bs:
                    k += fn(st, "positions", b)
            return k

        def written(st: Any, t: str, b: pa.Table) -> int:  # (a marker: insert_all runs the writer)
            raise AssertionError

        def ours(st: Any, t: str, b: pa.Table) -> int:
            return int(st.insert(t, b))

        def plain(st: Any, t: str, b: pa.Table) -> int:
            return int(st.insert(t, b, dedupe=False))

        def filled(name: str, parts: list[list[pa.Table]]) -> Path:
            db = work / f"{name}.duckdb"
            st = Store(db)
            for p in parts:
                insert_all(st, p, plain)
            st.close()
            return db

        same_period = filled("others", [_renamed(batches, f"x{k}") for k in range(3)])  # other ids, same times
        first = filled("first", [batches])
        results: dict[str, Any] = {}

        def case(label: str, fn: Callable[..., int], bs: list[pa.Table], base: Path | None = None) -> None:
            best: tuple[float, float, int] | None = None
            for _ in range(REPEAT):
                db = work / "case.duckdb"
                if base is not None:
                    shutil.copyfile(base, db)
                st = Store(db)
                w, c = time.perf_counter(), time.process_time()
                k = insert_all(st, bs, fn)
                st.close()  # the checkpoint belongs to the insert
                wall, cpu = time.perf_counter() - w, time.process_time() - c
                if best is None or wall < best[0]:
                    best = (wall, cpu, k)
                for f in work.glob("case.duckdb*"):
                    f.unlink()
            assert best is not None
            results[label] = {"wall_s": best[0], "cpu_s": best[1], "inserted": best[2]}

        held = 3 * n
        case("Store.insert, new rows", ours, batches)
        case("Store.insert via the file writer, new rows", written, batches)
        case("Store.insert, the same rows again", ours, batches, first)
        case("Store.insert, the same ids, a later period", ours, later, first)
        case(f"Store.insert, new ids beside {held / 1e6:.0f} M rows of their period", ours, batches, same_period)
        case("previous insert, new rows", previous_insert, batches)
        case(f"Store.insert via the file writer, new ids beside {held / 1e6:.0f} M rows", written, batches, same_period)
        case(f"previous insert, new ids beside {held / 1e6:.0f} M rows", previous_insert, batches, same_period)
        case("Store.insert(dedupe=False): append only", plain, batches)
    return {"source": source, "rows": n, "batches": len(batches), "input_s": built, "results": results,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    print(f"{ROWS:,} rows per source, best of {REPEAT}; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs (wall and process CPU seconds; insert + commit + close)")
    for source in SOURCES:
        out = subprocess.run([sys.executable, "-m", "bench.bench_store", "--source", source], capture_output=True,
                             text=True, check=False, cwd=Path(__file__).resolve().parent.parent)
        if out.returncode != 0:
            print(f"  {source}: failed\n{out.stderr[-3000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{source}: {r['rows']:,} rows in {r['batches']} batches (input read in {r['input_s']:.0f} s), "
              f"peak RSS {r['peak_rss_mb']:.0f} MB")
        for label, x in r["results"].items():
            print(f"  {label:42s} {x['wall_s']:6.2f} s wall {x['cpu_s']:6.2f} s cpu  "
                  f"{r['rows'] / x['wall_s'] / 1e6:5.2f} M rows/s  ({r['rows'] / x['cpu_s'] / 1e6:4.2f} M rows per "
                  f"CPU second; inserted {x['inserted']:,})")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--source":
        print(json.dumps(run_source(sys.argv[2])))
    else:
        main()
