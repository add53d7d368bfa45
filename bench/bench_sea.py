"""Sea analytics throughput: port visits and AIS gaps over >= 10 M real AIS positions.

Input: the three real tracktable-data AIS files (New York harbour week, Virginia Beach, US
coast day; 448,468 positions) read through sitewatch's ``traj`` reader, replicated over
new MMSIs (replica k prefixes every MMSI with k, so tracks keep their real shape, speed
and gaps) until ``SITEWATCH_BENCH_SEA_ROWS`` (default 10,000,000) positions, stored in an
on-disk DuckDB workspace database. Measured end to end, as ``sitewatch analyze`` runs
them: ``sea.port-visits`` (every World Port Index port plus a watched ``norfolk`` site:
hysteresis, stops, port gaps, GFW confidence) and ``sea.gaps`` (6 h gaps, density
before, distance to shore of both ends, intentional flag). DuckDB's memory limit is set
to ``SITEWATCH_BENCH_SEA_MEM`` (default 4GB): windows spill to disk beyond it.

Peer: no installable tool computes GFW port visits (GFW's pipe-anchorages is an Apache
Beam pipeline over BigQuery), so the peer is the same method written the way that
pipeline runs it, one message at a time in Python (a state machine per vessel), with the
nearest-port distances precomputed by a SciPy k-d tree as GFW precomputes anchorage
proximity. It runs on a 1 M-position subset, and its visit and gap counts are checked
against ours on that subset (the benchmark fails if they differ).
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sitewatch import samples
from sitewatch.analytics.base import AnalysisContext
from sitewatch.analytics.sea import gaps as G
from sitewatch.analytics.sea import port_visits as PV
from sitewatch.reference import ports
from sitewatch.sites import circle_site
from sitewatch.store.db import Store
from sitewatch.store.ingest import ingest_paths

FILES = ("NYHarbor_2020_12_first_week.traj", "VirginiaBeach_2020_06_04_to_06_filtered.traj",
         "US_coastal_2020_06_30.traj")
PEER_ROWS = 1_000_000


def real_positions() -> pa.Table:
    s = Store(":memory:")
    for f in FILES:
        p = samples.tracktable_sample(f"python_example_data/{f}", download=True)
        if p is None:
            raise RuntimeError(f"tracktable-data sample {f} not available")
        ingest_paths(s, "ais", [str(p)], "traj")
    t = s.arrow("SELECT t_utc, source, id, lat, lon, speed_kt FROM positions ORDER BY id, t_utc")
    s.close()
    return t


def replicate(base: pa.Table, rows: int) -> list[pa.Table]:
    out, k, n = [], 0, 0
    while n < rows:
        ids = pc.binary_join_element_wise(pa.array([f"{k:03d}"] * base.num_rows), base.column("id"), "")
        out.append(base.set_column(base.schema.get_field_index("id"), "id", ids))
        n += base.num_rows
        k += 1
    return out


def build_store(path: str, rows: int, mem: str) -> tuple[Store, int]:
    base = real_positions()
    s = Store(path)
    s.sql(f"SET memory_limit = '{mem}'")
    for part in replicate(base, rows):
        s.insert("positions", part, dedupe=False)
    return s, s.count("positions")


def ctx_for(s: Store) -> AnalysisContext:
    site = circle_site("norfolk", "port", 36.95, -76.33, label="Naval Station Norfolk")
    return AnalysisContext(s, {"norfolk": site})


def peer_python(tbl: pa.Table, p: dict[str, float]) -> tuple[int, int, float]:
    """(visits of confidence >= 1 at WPI ports, gaps >= min_gap_h, seconds): one message at a time."""
    from scipy.spatial import cKDTree

    t0 = time.perf_counter()
    _, plat, plon = ports.arrays()
    R = 6_371_008.8

    def xyz(la: np.ndarray, lo: np.ndarray) -> np.ndarray:
        a, b = np.radians(la), np.radians(lo)
        return R * np.column_stack([np.cos(a) * np.cos(b), np.cos(a) * np.sin(b), np.sin(a)])

    lat = tbl.column("lat").to_numpy()
    lon = tbl.column("lon").to_numpy()
    chord, _ = cKDTree(xyz(plat, plon)).query(xyz(lat, lon))
    dist = 2 * R * np.arcsin(np.clip(chord / (2 * R), 0, 1))
    ids = tbl.column("id").to_pylist()
    ts = [t.timestamp() for t in tbl.column("t_utc").to_pylist()]
    entry_m, exit_m, gap_s = p["entry_km"] * 1000, p["exit_km"] * 1000, G.DEFAULTS["min_gap_h"] * 3600
    max_gap = p["max_port_gap_h"] * 3600
    visits = gaps = 0
    prev_id: Any = None
    state = 0
    prev_t = 0.0
    for i in range(len(ids)):
        if ids[i] != prev_id:
            prev_id, state, prev_t = ids[i], 0, ts[i]
            new = 0
        else:
            new = 1
        dt = ts[i] - prev_t
        if new and dt >= gap_s:
            gaps += 1
        d = dist[i]
        was = state
        if d < entry_m:
            state = 1
        elif d > exit_m:
            state = 0
        if state == 1 and (was == 0 or not new or dt > max_gap):
            visits += 1
        prev_t = ts[i]
    return visits, gaps, time.perf_counter() - t0


def ours_on(tbl: pa.Table, p: dict[str, float]) -> tuple[int, int]:
    s = Store(":memory:")
    s.insert("positions", tbl, dedupe=False)
    _, plat, plon = ports.arrays()
    v = PV.visits(AnalysisContext(s, {}), plat, plon, p)
    g = G.ais_gaps(AnalysisContext(s, {}))
    s.close()
    return len(v), g.num_rows


def main() -> None:
    rows = int(os.environ.get("SITEWATCH_BENCH_SEA_ROWS", "10000000"))
    mem = os.environ.get("SITEWATCH_BENCH_SEA_MEM", "4GB")
    tmp = tempfile.mkdtemp(prefix="sw-bench-sea-")
    try:
        t = time.perf_counter()
        s, n = build_store(os.path.join(tmp, "bench.duckdb"), rows, mem)
        print(f"input: {n:,} AIS positions (real tracks replicated), built in {time.perf_counter() - t:.1f} s")
        ctx = ctx_for(s)
        G.ais_gaps(AnalysisContext(Store(":memory:"), {}))  # imports (SciPy) and the shore cache: not per-row work
        t, c = time.perf_counter(), time.process_time()
        pv = PV.port_visits(ctx)
        t_pv, c_pv = time.perf_counter() - t, time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        gp = G.ais_gaps(ctx)
        t_gap, c_gap = time.perf_counter() - t, time.process_time() - c
        print(f"ours  port visits: {pv.num_rows:,} events in {t_pv:.1f} s wall ({c_pv:.1f} s CPU) = "
              f"{n / t_pv:,.0f} positions/s wall, {n / c_pv:,.0f} per CPU-second")
        print(f"ours  ais gaps:    {gp.num_rows:,} events in {t_gap:.1f} s wall ({c_gap:.1f} s CPU) = "
              f"{n / t_gap:,.0f} positions/s wall, {n / c_gap:,.0f} per CPU-second")
        ours_rate = n / (t_pv + t_gap)
        print(f"ours  both:        {ours_rate:,.0f} positions/s wall, {n / (c_pv + c_gap):,.0f} per CPU-second "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")

        # peer on a 1 M subset of whole vessels, with a cross-check of the counts
        sub = s.arrow(f"SELECT t_utc, source, id, lat, lon, speed_kt FROM positions WHERE id IN "
                      f"(SELECT id FROM positions GROUP BY id ORDER BY id) ORDER BY id, t_utc, lat, lon "
                      f"LIMIT {PEER_ROWS}")
        last = sub.column("id")[-1].as_py()
        sub = sub.filter(pc.not_equal(sub.column("id"), last))  # whole vessels only
        s.close()
        p = {k: float(v) for k, v in PV.DEFAULTS.items()}
        c = time.process_time()
        pv_n, gap_n, peer_s = peer_python(sub, p)
        peer_cpu = time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        our_v, our_g = ours_on(sub, p)
        ours_sub_s, ours_sub_cpu = time.perf_counter() - t, time.process_time() - c
        peer_rate = sub.num_rows / peer_s
        print(f"peer  row-at-a-time Python state machine (pipe-anchorages style), {sub.num_rows:,} positions: "
              f"{pv_n:,} visits, {gap_n:,} gaps in {peer_s:.1f} s wall ({peer_cpu:.1f} s CPU) = "
              f"{peer_rate:,.0f} positions/s wall, {sub.num_rows / peer_cpu:,.0f} per CPU-second")
        print(f"ours  same subset: {our_v:,} visits, {our_g:,} gaps in {ours_sub_s:.1f} s wall "
              f"({ours_sub_cpu:.1f} s CPU) = {sub.num_rows / ours_sub_s:,.0f} positions/s wall, "
              f"{sub.num_rows / ours_sub_cpu:,.0f} per CPU-second")
        if (pv_n, gap_n) != (our_v, our_g):
            raise AssertionError(f"peer and ours disagree on the subset: peer {pv_n}/{gap_n}, ours {our_v}/{our_g}")
        print(f"ratio (ours at {n:,} / peer at {sub.num_rows:,}): {ours_rate / peer_rate:.2f}x wall; "
              f"same subset: {(sub.num_rows / ours_sub_s) / peer_rate:.2f}x wall, "
              f"{peer_cpu / ours_sub_cpu:.2f}x CPU; counts agree")
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process (build + analyses + peer): {rss_mb:,.0f} MB; "
              f"finished {datetime.now().isoformat(timespec='seconds')}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
