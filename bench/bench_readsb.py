"""readsb globe_history archive → store: sitewatch's fetch path against plain json + pandas, same run.

Input (SIMULATED, generated at bench time by :mod:`sitewatch.simulate.readsb_trace`): a
globe_history-style day tar in the real readsb trace layout — ``traces/xx/trace_full_<hex>.json``
gzip members, one point per line, 14 fields, a ``details`` object on about a quarter of the
points — of ``SITEWATCH_BENCH_READSB_AIRCRAFT`` aircraft (default 2,000) with
``SITEWATCH_BENCH_READSB_POINTS`` points on average (default 2,425: ≈ 4.9 M points, ≈ 160 MB,
the size of the issue's measurement). Unique traces are generated for a tenth of the aircraft
and repeated under other addresses and start times (the reading cost is per point either way).

Each measured path runs in its own Python process (``time``: wall clock and the CPU seconds of
all its threads; peak RSS), one after the other, best of ``SITEWATCH_BENCH_READSB_REPEAT`` runs
(default 1; the machine is shared: repeat for figures you quote):

1. **sitewatch** — the ``fetch adsb`` path on the tar read as one stream: members sniffed once,
   gzip members inflated, the vectorised readsb trace reader, every aircraft kept
   (``--all-aircraft``), ``Store.insert`` into a fresh on-disk workspace database (commits every
   1 M rows), ``close`` (its checkpoint) included; ``SITEWATCH_BENCH_READSB_WORKERS`` reading
   threads (default 2). The time spent in ``Store.insert`` (and ``close``) is printed with it;
2. the same with the default filter: aircraft passing within 300 km of Hmeimim;
3. **plain json + pandas → Parquet**: ``json.loads`` of each member, ``pandas.DataFrame`` of its
   points, times added, concatenated per 200 members and written with pyarrow's ParquetWriter;
   the ratio of 1. to 3. in points/s (wall) and in CPU per point;
4. ``ingest adsb day.tar`` on the same tar, through the workspace (what an analyst who
   downloaded the day by hand runs): the day read as one stream, as 1., after a first pass
   that hashes it; and ``--per-member`` (each member a logical file with its own ``ingest_log``
   row; members stored in groups of up to 100,000 rows, one transaction each).

Then the store alone: ``Store.insert`` of ``SITEWATCH_BENCH_READSB_INSERT_ROWS`` position rows
(default 2 M) — fresh, then all duplicates — against the insert it replaced
(:func:`bench.bench_store.previous_insert`), a plain append and DuckDB's own ``INSERT … SELECT``
from the Arrow table (no Python in between: the floor of any insert into the workspace's
DuckDB table, compression at checkpoint included); then the same rows in batches of
250,000 into one day and in batches of 2,400 (one aircraft each). Every position source:
:mod:`bench.bench_store`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

N_AIRCRAFT = int(os.environ.get("SITEWATCH_BENCH_READSB_AIRCRAFT", "2000"))
N_POINTS = int(os.environ.get("SITEWATCH_BENCH_READSB_POINTS", "2425"))
WORKERS = int(os.environ.get("SITEWATCH_BENCH_READSB_WORKERS", "2"))
REPEAT = int(os.environ.get("SITEWATCH_BENCH_READSB_REPEAT", "1"))  # best of REPEAT runs of each path
INSERT_ROWS = int(os.environ.get("SITEWATCH_BENCH_READSB_INSERT_ROWS", "2000000"))


def build_tar(path: Path, n_aircraft: int, points: int) -> dict[str, int]:
    """The day tar (see the module docstring); returns its aircraft, points and bytes."""
    import io

    from sitewatch.simulate.readsb_trace import TraceSpec, compress, specs, trace_bytes

    base = list(specs(max(1, n_aircraft // 10), points, seed=19))
    n_pts = 0
    with open(path, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.GNU_FORMAT) as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("README.txt", b"SIMULATED globe_history-style day (sitewatch bench)\n")
        for k in range(n_aircraft):
            s = base[k % len(base)]
            icao = f"{(0x200000 + k * 7919) % 0xFFFFFF:06x}"
            spec = TraceSpec(icao, s.t0_s + 60.0 * (k // len(base)), s.lat0, s.lon0, s.course_deg, s.n_points,
                             s.type_index)
            add(f"traces/{int(icao, 16) % 256:02x}/trace_full_{icao}.json", compress(trace_bytes(spec, 19), "gzip"))
            n_pts += s.n_points
        add("heatmap/00.bin.ttf", compress(bytes(4096), "gzip"))
    return {"aircraft": n_aircraft, "points": n_pts, "bytes": path.stat().st_size}


_PRELUDE = """
import json, os, resource, sys, time
t0, c0 = time.perf_counter(), time.process_time()
def done(**kw):
    kw.update(wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0,
              peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(kw))
"""

OURS = _PRELUDE + """
from pathlib import Path
from sitewatch.store.db import Store
_ins = {"s": 0.0, "rows": 0}
_orig_insert = Store.insert
def _timed_insert(self, table, data, dedupe=True):
    w = time.perf_counter()
    try:
        return _orig_insert(self, table, data, dedupe)
    finally:
        _ins["s"] += time.perf_counter() - w
        _ins["rows"] += data.num_rows if table == "positions" else 0
Store.insert = _timed_insert
from sitewatch.store.ingest import ingest_stream
from sitewatch.sources.adsb.globe import ConcatReader, KeepRule, WatchedArea, read_archive
from sitewatch.sources.base import ReadOptions
tar, db, workers, mode = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
rule = KeepRule(keep_all=True) if mode == "all" else KeepRule((WatchedArea("hmeimim", 35.4011, 35.9486, 6.0),), 300.0)
t0, c0 = time.perf_counter(), time.process_time()
st = Store(db)
with ConcatReader([tar]) as r:
    res = ingest_stream(st, "adsb", str(tar), "bench", "readsb-trace", read_archive(r, str(tar), rule, workers),
                        ReadOptions())
w = time.perf_counter()
st.close()
_ins["s"] += time.perf_counter() - w  # the checkpoint belongs to the insert
c = res.counters
done(points=res.accepted + res.rejected + c.get("stale_points", 0) + c.get("not_kept_points", 0),
     stored=res.accepted, aircraft_kept=c.get("aircraft_kept", 0), fast_members=c.get("members_read_fast", 0),
     insert_s=_ins["s"], insert_rows=_ins["rows"])
"""

PANDAS = _PRELUDE + """
import gzip, tarfile
import pandas as pd, pyarrow as pa, pyarrow.parquet as pq
tar, out = sys.argv[1], sys.argv[2]
cols = ["dt", "lat", "lon", "alt", "gs", "track", "flags", "vrate", "details", "source", "geom_alt", "geom_rate",
        "ias", "roll"]
t0, c0 = time.perf_counter(), time.process_time()
writer, frames, n = None, [], 0
def flush():
    global writer, frames
    df = pd.concat(frames, ignore_index=True)
    df["alt"] = pd.to_numeric(df["alt"], errors="coerce")
    df = df.drop(columns=["details"])
    t = pa.Table.from_pandas(df, preserve_index=False)
    if writer is None:
        writer = pq.ParquetWriter(out, t.schema)
    writer.write_table(t.cast(writer.schema))
    frames = []
with tarfile.open(tar) as tf:
    for m in tf:
        if not m.isfile() or "/trace_full_" not in m.name:
            continue
        doc = json.loads(gzip.decompress(tf.extractfile(m).read()))
        df = pd.DataFrame(doc["trace"], columns=cols[: len(doc["trace"][0])] if doc["trace"] else cols)
        df["icao"] = doc["icao"]
        df["t"] = pd.to_datetime(doc["timestamp"] + df["dt"], unit="s", utc=True)
        n += len(df)
        frames.append(df)
        if len(frames) >= 200:
            flush()
if frames:
    flush()
writer.close()
done(points=n, stored=n)
"""

INGEST = _PRELUDE + """
from sitewatch.workspace import Workspace
ws = Workspace.init(sys.argv[2])
t0, c0 = time.perf_counter(), time.process_time()
s = ws.ingest("adsb", [sys.argv[1]])
ws.close()
r = s.results[0]
done(points=s.accepted + s.rejected + r.counters.get("stale_points", 0), stored=s.accepted, files=s.files)
"""

PER_MEMBER = _PRELUDE + """
from sitewatch.store.db import Store
from sitewatch.store.ingest import ingest_paths
import sitewatch.sources.adsb
t0, c0 = time.perf_counter(), time.process_time()
st = Store(sys.argv[2])
s = ingest_paths(st, "adsb", [sys.argv[1]])
st.close()
stale = sum(r.counters.get("stale_points", 0) for r in s.results)  # read, and left out as readsb's own duplicates
done(points=s.accepted + s.rejected + stale, stored=s.accepted, files=s.files)
"""


def child(code: str, *args: str) -> dict[str, Any]:
    """The best (shortest wall) of ``REPEAT`` runs of ``code`` in a fresh process; peak RSS is the largest seen."""
    best: dict[str, Any] | None = None
    rss = 0.0
    for k in range(REPEAT):
        run_args = [a.replace("{k}", str(k)) for a in args]
        out = subprocess.run([sys.executable, "-c", code, *run_args], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-3000:])
        res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        rss = max(rss, res["peak_rss_mb"])
        for a in run_args:  # each run writes a fresh database / Parquet file
            for f in (Path(a), Path(a + ".wal")):
                if a.endswith((".duckdb", ".parquet")) and f.exists():
                    f.unlink()
        if best is None or res["wall_s"] < best["wall_s"]:
            best = res
    assert best is not None
    best["peak_rss_mb"] = rss
    return best


def line(label: str, r: dict[str, Any]) -> str:
    rate = r["points"] / r["wall_s"]
    out = (f"  {label:44s} {r['points']:>11,} points  {r['wall_s']:7.2f} s wall  {r['cpu_s']:7.2f} s cpu  "
           f"{rate / 1e6:5.2f} M points/s  peak RSS {r['peak_rss_mb']:6.0f} MB  stored {r['stored']:,}")
    if r.get("insert_rows"):
        out += (f"\n  {'':44s} of which Store.insert (+ close): {r['insert_s']:.2f} s wall for {r['insert_rows']:,} rows, "
                f"{r['insert_rows'] / r['insert_s'] / 1e6:.2f} M rows/s")
    return out


def insert_bench(workdir: Path, tar: Path) -> None:
    """``Store.insert`` of ``INSERT_ROWS`` position rows of the archive; each case into a fresh
    on-disk database, one transaction, ``close`` (its checkpoint) counted; best of ``REPEAT``."""
    import pyarrow as pa

    from bench.bench_store import previous_insert
    from sitewatch import schema as S
    from sitewatch.sources.adsb.globe import ConcatReader, KeepRule, read_archive
    from sitewatch.sources.base import Batch
    from sitewatch.store.db import Store
    from sitewatch.store.writer import BatchWriter

    parts = []
    n = 0
    with ConcatReader([tar]) as r:
        for b in read_archive(r, "x", KeepRule(keep_all=True), WORKERS):
            if b.table == "positions" and b.rows.num_rows:
                parts.append(b.rows)
                n += b.rows.num_rows
                if n >= INSERT_ROWS:
                    break
    rows = S.conform("positions", pa.concat_tables(parts).slice(0, INSERT_ROWS))
    rows = rows.set_column(rows.schema.get_field_index("file_id"), "file_id", pa.repeat(pa.scalar(1, pa.int64()),
                                                                                         rows.num_rows))
    n = rows.num_rows

    def timed(label: str, fn: Any, size: int = n, total: int = n, before: Any = None, finish: Any = None) -> None:
        best: tuple[float, float, int] | None = None
        for _ in range(REPEAT):
            db = workdir / f"ins-{time.monotonic_ns()}.duckdb"
            st = Store(db)
            if before is not None:
                with st.transaction():
                    before(st)
            w, c = time.perf_counter(), time.process_time()
            k = 0
            with st.transaction():
                for i in range(0, total, size):
                    k += fn(st, rows.slice(i, min(size, total - i)))
                if finish is not None:
                    k += finish(st)
            st.close()
            wall, cpu = time.perf_counter() - w, time.process_time() - c
            if best is None or wall < best[0]:
                best = (wall, cpu, k)
            for f in workdir.glob(db.name + "*"):
                f.unlink()
        assert best is not None
        wall, cpu, k = best
        print(f"  {label:44s} {total:>11,} rows    {wall:7.2f} s wall  {cpu:7.2f} s cpu  {total / wall / 1e6:5.2f} M rows/s"
              f"  {1e6 * cpu / total:5.2f} us cpu/row  (inserted {k:,})")

    def ours(st: Store, b: pa.Table) -> int:
        return st.insert("positions", b)

    def prev(st: Store, b: pa.Table) -> int:
        return previous_insert(st, "positions", b)

    def plain(st: Store, b: pa.Table) -> int:
        return st.insert("positions", b, dedupe=False)

    def duckdb_alone(st: Store, b: pa.Table) -> int:  # no Python between Arrow and the table
        cols = ", ".join(f'"{c}"' for c in b.column_names)
        st.con.register("_bench_rows", b)
        st.con.execute(f"INSERT INTO positions ({cols}) SELECT {cols} FROM _bench_rows")
        st.con.unregister("_bench_rows")
        return b.num_rows

    timed("Store.insert, new rows (de-duplicating)", ours)
    timed("previous insert", prev)
    timed("Store.insert(dedupe=False): append only", plain)
    timed("DuckDB alone: INSERT…SELECT (the floor)", duckdb_alone)
    timed("Store.insert, all rows already stored", ours, before=lambda st: plain(st, rows))
    print("  the same rows in batches of 250,000 (one day: every batch's time span overlaps the table):")
    timed("Store.insert", ours, 250_000)
    timed("previous insert", prev, 250_000)
    writers: dict[int, BatchWriter] = {}  # the file writer, as ingest runs it: whole row groups to the store

    def written(st: Store, b: pa.Table) -> int:
        return writers.setdefault(id(st), BatchWriter(st, 1, "bench")).add(Batch("positions", b))[0]

    timed("Store.insert via the file writer", written, 250_000, finish=lambda st: writers.pop(id(st)).flush()[0])
    small = min(n, 240_000)
    print(f"  the first {small:,} rows in batches of 2,400 (one aircraft each, as a member stored alone inserts):")
    timed("Store.insert", ours, 2_400, small)
    timed("previous insert", prev, 2_400, small)
    print("  (every position source: bench_store)")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sitewatch-bench-readsb-") as tmp:
        work = Path(tmp)
        tar = work / "globe_history_SIMULATED.tar"
        t = time.perf_counter()
        info = build_tar(tar, N_AIRCRAFT, N_POINTS)
        print(f"input: SIMULATED globe_history day, {info['aircraft']:,} aircraft, {info['points']:,} trace points, "
              f"{info['bytes'] / 1e6:.0f} MB tar (built in {time.perf_counter() - t:.0f} s); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {WORKERS} reading threads")
        ours = child(OURS, str(tar), str(work / "ours{k}.duckdb"), str(WORKERS), "all")
        print(line("sitewatch fetch path, every aircraft stored", ours))
        filt = child(OURS, str(tar), str(work / "filt{k}.duckdb"), str(WORKERS), "hmeimim")
        print(line("sitewatch fetch path, 300 km of Hmeimim", filt) + f" ({filt['aircraft_kept']} aircraft)")
        try:
            base = child(PANDAS, str(tar), str(work / "plain{k}.parquet"))
        except RuntimeError as exc:
            print(f"  plain json + pandas: failed ({str(exc).splitlines()[-1]})")
        else:
            print(line("plain json + pandas -> Parquet", base))
            r_ours, r_base = ours["points"] / ours["wall_s"], base["points"] / base["wall_s"]
            print(f"  ratio: sitewatch (every point stored) {r_ours / r_base:.1f}x plain json + pandas in points/s "
                  f"(wall), {base['cpu_s'] / ours['cpu_s']:.1f}x in CPU per point "
                  f"({1e6 * ours['cpu_s'] / ours['points']:.2f} us vs {1e6 * base['cpu_s'] / base['points']:.2f} us)")
        cpus = os.cpu_count() or 1
        print(f"  issue 19's 1 M points/s, every point stored, on {cpus} CPUs: at most {cpus:.2f} us CPU per point "
              f"with every CPU busy all the time; this run {1e6 * ours['cpu_s'] / ours['points']:.2f} us, of which the "
              "store's share is set by DuckDB's own insert (below: 'DuckDB alone', us cpu/row)")
        whole = child(INGEST, str(tar), str(work / "ingest{k}"))
        print(line("ingest adsb day.tar (the day as one stream, its SHA-256 first)", whole))
        pm = child(PER_MEMBER, str(tar), str(work / "pm{k}.duckdb"))
        print(line("ingest adsb day.tar --per-member (a logical file per member, stored in groups)", pm))
        print("store insert (positions rows from the same archive):")
        insert_bench(work, tar)


if __name__ == "__main__":
    main()
