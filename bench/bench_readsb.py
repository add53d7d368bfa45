"""readsb globe_history archive → store: sitewatch's fetch path against plain json + pandas, same run.

Input (SIMULATED, generated at bench time by :mod:`sitewatch.simulate.readsb_trace`): a
globe_history-style day tar in the real readsb trace layout — ``traces/xx/trace_full_<hex>.json``
gzip members, one point per line, 14 fields, a ``details`` object on about a quarter of the
points — of ``SITEWATCH_BENCH_READSB_AIRCRAFT`` aircraft (default 2,000) with
``SITEWATCH_BENCH_READSB_POINTS`` points on average (default 2,425: ≈ 4.9 M points, ≈ 160 MB,
the size of the issue's measurement). Unique traces are generated for a tenth of the aircraft
and repeated under other addresses and start times (the reading cost is per point either way).

Each measured path runs in its own Python process (``time``: wall clock and the CPU seconds of
all its threads; peak RSS), one after the other:

1. **sitewatch** — the ``fetch adsb`` path on the tar read as one stream: members sniffed once,
   gzip members inflated, the vectorised readsb trace reader, every aircraft kept
   (``--all-aircraft``), ``Store.insert`` into a fresh on-disk workspace database, one
   transaction; ``SITEWATCH_BENCH_READSB_WORKERS`` reading threads (default 2).
2. the same with the default filter: aircraft passing within 300 km of Hmeimim.
3. **plain json + pandas → Parquet**: ``json.loads`` of each member, ``pandas.DataFrame`` of its
   points, times added, concatenated per 200 members and written with pyarrow's ParquetWriter.
4. ``ingest adsb day.tar`` (the per-member ingest: one logical file and one transaction per
   member) on the first tenth of the aircraft, for reference.

Then the store alone: ``Store.insert`` of 2 M position rows (fresh, then all duplicates)
against the de-duplicating insert it replaced (``DISTINCT ON`` + anti-join) and against a
plain DuckDB append (the ceiling: no duplicate check at all); then the same rows in batches
of 250,000 into one day, where the previous insert's anti-join re-read the growing table.
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
st.close()
c = res.counters
done(points=res.accepted + res.rejected + c.get("stale_points", 0) + c.get("not_kept_points", 0),
     stored=res.accepted, aircraft_kept=c.get("aircraft_kept", 0), fast_members=c.get("members_read_fast", 0))
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

PER_MEMBER = _PRELUDE + """
from sitewatch.store.db import Store
from sitewatch.store.ingest import ingest_paths
import sitewatch.sources.adsb
t0, c0 = time.perf_counter(), time.process_time()
st = Store(sys.argv[2])
s = ingest_paths(st, "adsb", [sys.argv[1]])
st.close()
done(points=s.accepted + s.rejected, stored=s.accepted, files=s.files)
"""


def child(code: str, *args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return res


def line(label: str, r: dict[str, Any]) -> str:
    rate = r["points"] / r["wall_s"]
    return (f"  {label:44s} {r['points']:>11,} points  {r['wall_s']:7.2f} s wall  {r['cpu_s']:7.2f} s cpu  "
            f"{rate / 1e6:5.2f} M points/s  peak RSS {r['peak_rss_mb']:6.0f} MB  stored {r['stored']:,}")


def subset(src: Path, dst: Path, n: int) -> None:
    with tarfile.open(src) as a, tarfile.open(dst, "w") as b:
        k = 0
        for m in a:
            if "/trace_full_" in m.name:
                if k >= n:
                    break
                k += 1
            b.addfile(m, a.extractfile(m) if m.isfile() else None)


def insert_bench(workdir: Path, tar: Path) -> None:
    """``Store.insert`` of ``INSERT_ROWS`` position rows: new, then all duplicates; old insert; plain append."""
    import pyarrow as pa

    from sitewatch import schema as S
    from sitewatch.sources.adsb.globe import ConcatReader, KeepRule, read_archive
    from sitewatch.store.db import Store

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

    def timed(label: str, fn: Any, rows_n: int | None = None) -> None:
        db = workdir / f"ins-{time.monotonic_ns()}.duckdb"
        st = Store(db)
        m = rows_n or n
        w, c = time.perf_counter(), time.process_time()
        k = fn(st)
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        print(f"  {label:44s} {m:>11,} rows    {wall:7.2f} s wall  {cpu:7.2f} s cpu  {m / wall / 1e6:5.2f} M rows/s"
              f"  (inserted {k:,})")
        st.close()

    def ours(st: Store) -> int:
        with st.transaction():
            return st.insert("positions", rows)

    def again() -> None:
        db = workdir / "again.duckdb"
        st = Store(db)
        with st.transaction():
            st.insert("positions", rows, dedupe=False)
        w, c = time.perf_counter(), time.process_time()
        with st.transaction():
            k = st.insert("positions", rows)
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        print(f"  {'Store.insert, all rows already stored':44s} {n:>11,} rows    {wall:7.2f} s wall  {cpu:7.2f} s cpu  "
              f"{n / wall / 1e6:5.2f} M rows/s  (inserted {k:,})")
        st.close()

    def old(st: Store) -> int:
        before = st.count("positions")
        key = "source, id, t_utc, lat, lon"
        on = " AND ".join(f"b.{k} IS NOT DISTINCT FROM t.{k}" for k in key.split(", "))
        with st.transaction(), st.registered("_b", rows) as con:
            con.execute(f"INSERT INTO positions SELECT b.* FROM (SELECT DISTINCT ON ({key}) * FROM _b) b WHERE NOT "
                        f"EXISTS (SELECT 1 FROM positions t WHERE {on} AND t.t_utc BETWEEN (SELECT min(t_utc) FROM _b)"
                        " AND (SELECT max(t_utc) FROM _b))")
        return st.count("positions") - before

    def plain(st: Store) -> int:
        with st.transaction():
            st.insert("positions", rows, dedupe=False)
        return n

    def batched(fn: Any, size: int = 250_000, total: int = n) -> Any:
        def run(st: Store) -> int:
            k = 0
            with st.transaction():
                for i in range(0, total, size):
                    k += fn(st, rows.slice(i, min(size, total - i)))
            return k
        return run

    def old_one(st: Store, b: Any) -> int:
        before = st.count("positions")
        key = "source, id, t_utc, lat, lon"
        on = " AND ".join(f"x.{k} IS NOT DISTINCT FROM t.{k}" for k in key.split(", "))
        with st.registered("_b", b) as con:
            con.execute(f"INSERT INTO positions SELECT x.* FROM (SELECT DISTINCT ON ({key}) * FROM _b) x WHERE NOT "
                        f"EXISTS (SELECT 1 FROM positions t WHERE {on} AND t.t_utc BETWEEN (SELECT min(t_utc) FROM _b)"
                        " AND (SELECT max(t_utc) FROM _b))")
        return st.count("positions") - before

    timed("Store.insert, new rows (de-duplicating)", ours)
    timed("previous insert (DISTINCT ON + anti-join)", old)
    timed("plain DuckDB append (no duplicate check)", plain)
    again()
    print("  the same rows in batches of 250,000 (one day: every batch's time span overlaps the table):")
    timed("Store.insert", batched(lambda st, b: st.insert("positions", b)))
    timed("previous insert", batched(old_one))
    small = min(n, 240_000)
    print(f"  the first {small:,} rows in batches of 2,400 (one aircraft each, as `ingest adsb day.tar` inserts):")
    timed("Store.insert", batched(lambda st, b: st.insert("positions", b), 2_400, small), small)
    timed("previous insert", batched(old_one, 2_400, small), small)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sitewatch-bench-readsb-") as tmp:
        work = Path(tmp)
        tar = work / "globe_history_SIMULATED.tar"
        t = time.perf_counter()
        info = build_tar(tar, N_AIRCRAFT, N_POINTS)
        print(f"input: SIMULATED globe_history day, {info['aircraft']:,} aircraft, {info['points']:,} trace points, "
              f"{info['bytes'] / 1e6:.0f} MB tar (built in {time.perf_counter() - t:.0f} s); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {WORKERS} reading threads")
        ours = child(OURS, str(tar), str(work / "ours.duckdb"), str(WORKERS), "all")
        print(line("sitewatch fetch path, every aircraft stored", ours))
        filt = child(OURS, str(tar), str(work / "filt.duckdb"), str(WORKERS), "hmeimim")
        print(line("sitewatch fetch path, 300 km of Hmeimim", filt) + f" ({filt['aircraft_kept']} aircraft)")
        try:
            base = child(PANDAS, str(tar), str(work / "plain.parquet"))
        except RuntimeError as exc:
            print(f"  plain json + pandas: failed ({str(exc).splitlines()[-1]})")
        else:
            print(line("plain json + pandas -> Parquet", base))
            r_ours, r_base = ours["points"] / ours["wall_s"], base["points"] / base["wall_s"]
            print(f"  ratio (wall): sitewatch {r_ours / r_base:.1f}x plain json + pandas; "
                  f"cpu per point {1e6 * ours['cpu_s'] / ours['points']:.2f} us vs "
                  f"{1e6 * base['cpu_s'] / base['points']:.2f} us")
        small = work / "subset.tar"
        subset(tar, small, max(1, N_AIRCRAFT // 10))
        pm = child(PER_MEMBER, str(small), str(work / "pm.duckdb"))
        print(line(f"ingest adsb (per member), {max(1, N_AIRCRAFT // 10)} aircraft", pm))
        print("store insert (positions rows from the same archive):")
        insert_bench(work, tar)


if __name__ == "__main__":
    main()
