"""Air analytics throughput: flights, dark gaps and site events end to end, positions per second.

Input: the real traffic 2.13 tracks (quickstart, C-2A, C-135FR) read through sitewatch's own
``traffic`` reader, replicated over many addresses and days (each replica gets its own ICAO
addresses and a shift of whole days) and stored as Parquet, one file per group of whole
aircraft (the partition layout of the Spark path). Pipeline per file, bounded memory:
DuckDB window functions (stale removal, dark gaps) + NumPy (legs, ground stays, arrivals,
departures, touch-and-goes, approaches at every airportsdata airfield, overflights of 10
watched sites); one DuckDB pass over all files builds the coverage map the gaps are judged on.

Peers, on the same 1 M-position subset, measured in the same run when they can be imported
from a separate Python (``SITEWATCH_PEER_PYTHON``, default ``/tmp/peervenv/bin/python``,
with ``pandas<3``, ``traffic==2.13``, ``movingpandas``; never project dependencies):

* traffic: ``Flight.split("10 min")`` and ``Flight.phases()`` (OpenAP phases: ground /
  climb / descent / level) for every aircraft. Its ``landing(...)`` methods need runway
  thresholds that traffic downloads from the network at first use, which this machine
  cannot reach, so phases stand in for its landing detection;
* movingpandas: ``ObservationGapSplitter(...).split(gap=10 min)`` on a TrajectoryCollection.

Sizes: ``SITEWATCH_BENCH_AIR_ROWS`` (default 10,000,000; 100,000,000 runs in about 13 min
on a busy 2-core machine, 1.3 GB of Parquet) plus the 1 M subset; below 100 M the 100 M
figure is extrapolated linearly from the measured rate (per-file work is independent).
Wall-clock and CPU time are both printed: on a shared machine the first depends on the
other load, the second is what the pipeline costs per core.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sitewatch import samples
from sitewatch import sites as S
from sitewatch.analytics.air import _pipeline
from sitewatch.analytics.air._airfields import Airfields
from sitewatch.analytics.air._params import AirParams
from sitewatch.store.db import Store
from sitewatch.store.ingest import ingest_paths

SAMPLES = ("collections/quickstart.json.gz", "military/aircraft_carrier.json.gz",
           "military/inflight_refuelling.json.gz")
SITES = (("paris-cdg", "LFPG"), ("orly", "LFPO"), ("le-bourget", "LFPB"), ("north-island", "KNZY"),
         ("istres", "LFMI"), ("hmeimim", "OSLK"), ("san-diego", "KSAN"), ("villacoublay", "LFPV"),
         ("creil", "LFPC"), ("evreux", "LFOE"))
ROWS_PER_FILE = 1_000_000
WORKERS = 2  # this machine's cores; per-file work is independent
COLUMNS = ("t_utc", "id", "lat", "lon", "alt_ft", "speed_kt", "track_deg", "onground", "vrate_fpm")


def base_tracks() -> pa.Table:
    """The real tracks, read by sitewatch's traffic reader."""
    import sitewatch.sources.adsb  # noqa: F401 - registers the readers

    paths = [samples.traffic_sample(s) for s in SAMPLES]
    if any(p is None for p in paths):
        raise SystemExit("traffic==2.13 samples not cached: run `python -m sitewatch.samples fetch`")
    st = Store(":memory:")
    ingest_paths(st, "adsb", [str(p) for p in paths], "traffic")
    t = st.arrow(f"SELECT {', '.join(COLUMNS)} FROM positions ORDER BY id, t_utc")
    st.close()
    return t


def replicate(base: pa.Table, n_rows: int, out_dir: Path) -> list[Path]:
    """Parquet files of about ``ROWS_PER_FILE`` rows holding ``n_rows`` in all: replica ``k``
    gets addresses ``k * n_ids + i`` and a shift of ``k`` days (whole aircraft per file)."""
    ids = base.column("id").to_numpy(zero_copy_only=False)
    uniq, inv = np.unique(ids, return_inverse=True)
    t_us = pc.cast(base.column("t_utc"), pa.int64()).to_numpy()
    files: list[Path] = []
    written, k, chunk = 0, 0, []
    while written < n_rows:
        take = min(base.num_rows, n_rows - written)
        new_ids = np.array([f"{(k * uniq.size + j) & 0xFFFFFF:06x}" for j in range(uniq.size)], dtype=object)
        rep = base.slice(0, take)
        rep = rep.set_column(0, "t_utc", pa.array(t_us[:take] + k * 86_400_000_000, pa.timestamp("us", tz="UTC")))
        rep = rep.set_column(1, "id", pa.array(new_ids[inv[:take]], pa.string()))
        chunk.append(rep)
        written += take
        k += 1
        if sum(c.num_rows for c in chunk) >= ROWS_PER_FILE or written >= n_rows:
            p = out_dir / f"part-{len(files):04d}.parquet"
            pq.write_table(pa.concat_tables(chunk), p, row_group_size=500_000)
            files.append(p)
            chunk = []
    return files


def _cpu_s() -> float:
    """CPU seconds of this process and its reaped children (worker processes), all threads."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_ours(files: list[Path], af: Airfields, p: AirParams, workers: int) -> dict[str, Any]:
    """The pipeline over ``files`` (one whole-aircraft partition per file) on ``workers`` processes."""
    c0, t0 = _cpu_s(), time.perf_counter()
    res = _pipeline.run_parquet(list(files), af, p, workers=workers)
    total, cpu = time.perf_counter() - t0, _cpu_s() - c0
    kinds: dict[str, int] = {}
    for e in res.site_events:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    return {"rows": res.n_rows, "legs": res.legs.num_rows, "site_events": kinds, "dark_gaps": len(res.gap_events),
            "seconds": res.seconds, "total_s": total, "cpu_s": cpu}


PEER_SCRIPT = r"""
import json, sys, time, warnings
from datetime import timedelta
warnings.filterwarnings("ignore")
import pandas as pd
path, which = sys.argv[1], sys.argv[2]
df = pd.read_parquet(path)
df = df.rename(columns={"t_utc": "timestamp", "id": "icao24", "lat": "latitude", "lon": "longitude",
                        "alt_ft": "altitude", "speed_kt": "groundspeed", "track_deg": "track",
                        "vrate_fpm": "vertical_rate"})
out = {"rows": len(df)}
if which == "traffic":
    from traffic.core import Traffic
    t0, c0 = time.perf_counter(), time.process_time()
    tr = Traffic(df)
    legs = phased = 0
    for f in tr:
        for leg in f.split("10 min"):
            legs += 1
            ph = leg.phases()
            phased += int((ph.data["phase"] == "GROUND").any())
    out.update(seconds=time.perf_counter() - t0, cpu_s=time.process_time() - c0, legs=legs,
               legs_with_ground=phased)
else:
    import geopandas as gpd
    import movingpandas as mpd
    t0, c0 = time.perf_counter(), time.process_time()
    gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.longitude, df.latitude), crs="EPSG:4326")
    gdf = gdf.set_index("timestamp")
    tc = mpd.TrajectoryCollection(gdf, traj_id_col="icao24")
    split = mpd.ObservationGapSplitter(tc).split(gap=timedelta(minutes=10))
    out.update(seconds=time.perf_counter() - t0, cpu_s=time.process_time() - c0, legs=len(split.trajectories))
print(json.dumps(out))
"""


def run_peer(python: str, which: str, parquet: Path, timeout_s: float) -> dict[str, Any]:
    try:
        proc = subprocess.run([python, "-c", PEER_SCRIPT, str(parquet), which], capture_output=True, text=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout_s:.0f} s"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    n_big = int(os.environ.get("SITEWATCH_BENCH_AIR_ROWS", "10000000"))
    p = AirParams()
    sites = [S.from_airport(name, icao) for name, icao in SITES]
    af = Airfields.default(sites)
    t0 = time.perf_counter()
    base = base_tracks()
    print(f"base: {base.num_rows:,} real positions of {len(set(base.column('id').to_pylist()))} aircraft "
          f"read in {time.perf_counter() - t0:.1f} s")
    tmp = Path(tempfile.mkdtemp(prefix="bench-air-"))
    try:
        (tmp / "1m").mkdir()
        (tmp / "big").mkdir()
        small = replicate(base, 1_000_000, tmp / "1m")
        big_dir = tmp / "big"
        t0 = time.perf_counter()
        big = replicate(base, n_big, big_dir)
        print(f"wrote {n_big:,} positions as {len(big)} Parquet files in {time.perf_counter() - t0:.1f} s "
              f"({sum(f.stat().st_size for f in big) / 1e6:.0f} MB)")
        load = os.getloadavg()[0]
        print(f"machine: {os.cpu_count()} cores, load average {load:.1f} at start (other work shares the cores: "
              "wall-clock rates below are what this run got; CPU rates are per busy core)")
        ours_1m = run_ours(small, af, p, workers=1)
        rate_1m = ours_1m["rows"] / ours_1m["total_s"]
        print(f"ours, 1 M subset, 1 process: {ours_1m['total_s']:.2f} s wall = {rate_1m:,.0f} positions/s; "
              f"{ours_1m['cpu_s']:.2f} CPU-s = {ours_1m['rows'] / ours_1m['cpu_s']:,.0f} positions per CPU-second "
              f"(legs {ours_1m['legs']}, dark gaps {ours_1m['dark_gaps']}, events {ours_1m['site_events']})")
        ours = run_ours(big, af, p, workers=WORKERS)
        rate = ours["rows"] / ours["total_s"]
        cpu_rate = ours["rows"] / ours["cpu_s"]
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in ours["seconds"].items())
        stages += f"; stage times are wall seconds summed over {WORKERS} worker processes"
        print(f"ours, {ours['rows']:,} positions, {WORKERS} processes: {ours['total_s']:.1f} s wall = {rate:,.0f} "
              f"positions/s; {ours['cpu_s']:.1f} CPU-s = {cpu_rate:,.0f} positions per CPU-second ({stages}); "
              f"legs {ours['legs']:,}, dark gaps {ours['dark_gaps']:,}, events {ours['site_events']}")
        import resource

        peak_mb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        how = ("measured" if ours["rows"] >= 100_000_000
               else f"extrapolated linearly from the measured {ours['rows']:,} (not run at 100 M)")
        print(f"100 M positions, {how}: {1e8 / rate:.0f} s at this run's wall-clock rate; "
              f"{1e8 / cpu_rate / WORKERS:.0f} s if both cores were free for it (CPU-bound estimate from "
              f"CPU-seconds; target < 120 s); peak RSS of one process {peak_mb:,.0f} MB; "
              f"load average now {os.getloadavg()[0]:.1f}")
        peer_py = os.environ.get("SITEWATCH_PEER_PYTHON", "/tmp/peervenv/bin/python")
        if not Path(peer_py).exists():
            print(f"peers: not measured ({peer_py} not found; see the module docstring to set one up)")
            return
        one = small[0]
        for which in ("traffic", "movingpandas"):
            r = run_peer(peer_py, which, one, timeout_s=900)
            if "error" in r:
                print(f"{which}: not measured ({r['error']})")
                continue
            peer_rate = r["rows"] / r["seconds"]
            print(f"{which} on the same {r['rows']:,} positions: {r['seconds']:.1f} s wall = {peer_rate:,.0f} "
                  f"positions/s, {r['cpu_s']:.1f} CPU-s ({r.get('legs')} legs); ours/peer = {rate_1m / peer_rate:.1f}x "
                  f"wall, {(ours_1m['rows'] / ours_1m['cpu_s']) / (r['rows'] / r['cpu_s']):.1f}x per CPU-second "
                  f"(ours does legs + gaps + site events, the peer only "
                  f"{'split + phases' if which == 'traffic' else 'gap split'})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
