"""Crash safety: SIGKILL an ingest, a live stream and ``analyze`` at seeded random points.

Children are forked from a ``forkserver`` that has sitewatch already imported, so a kill
point costs milliseconds of start-up, not seconds; each child is killed with SIGKILL
(no clean-up runs) at a time drawn from the length of an uninterrupted run.

* **ingest**: after every kill the store opens, every logged file holds all of its rows
  (``ingest_log.accepted`` = its rows, quarantine rows only for logged files), and a re-run
  ends with exactly the rows and quarantine of an uninterrupted run;
* **stream**: what is stored is exactly the first *k* messages sent (nothing reordered,
  duplicated or invented), the session's ``ingest_log`` row reports the rows it kept, and
  the loss is at most what arrived within one commit interval (plus slack for a loaded CI);
* **analyze**: killed mid-run, the previous events are intact; a re-run gives the same events.

``SITEWATCH_KILL_POINTS`` sets the number of kill points per test (default 6; 20 for the figures in the report).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sitewatch.workspace import Workspace

KILLS = int(os.environ.get("SITEWATCH_KILL_POINTS", "6"))
T0 = datetime(2024, 12, 13, 6, 0, tzinfo=UTC)


def _ctx() -> Any:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["sitewatch.store.ingest", "sitewatch.sources.positions.readers",
                                "sitewatch.live.adsb", "sitewatch.cli", "sitewatch.analytics.base",
                                "tests.test_trust_crash"])
    return ctx


# -- children (run in forked processes) -------------------------------------------------------
def _child_ingest(ws_dir: str, files: list[str]) -> None:
    from sitewatch.sources.positions import readers as R
    from sitewatch.store.ingest import ingest_paths

    R.BATCH_ROWS = 500  # many batches per file: kills land inside a file's transaction
    ws = Workspace.open(ws_dir)
    ingest_paths(ws.store, "positions", files)
    ws.close()


def _child_stream(ws_dir: str, port: int) -> None:
    from sitewatch.live.adsb import AdsbStream

    ws = Workspace.open(ws_dir)
    AdsbStream(ws.store, "sbs", "127.0.0.1", port, commit_s=0.2, backoff_s=0.05, max_s=60).run()
    ws.close()


def _child_analyze(ws_dir: str) -> None:
    from sitewatch.cli import main

    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    main(["-q", "-w", ws_dir, "analyze"])


def _timed(ctx: Any, target: Any, *args: Any) -> float:
    p = ctx.Process(target=target, args=args)
    t = time.monotonic()
    p.start()
    p.join(120)
    assert p.exitcode == 0, f"uninterrupted run failed ({p.exitcode})"
    return time.monotonic() - t


def _kill_at(ctx: Any, delay_s: float, target: Any, *args: Any, ready: Any = None) -> bool:
    """Start a child, SIGKILL it ``delay_s`` after ``ready()`` (or its start); True if it was still running."""
    p = ctx.Process(target=target, args=args)
    p.start()
    deadline = time.monotonic() + 60
    while ready is not None and not ready() and p.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    p.join(delay_s)
    alive = p.is_alive()
    if alive:
        p.kill()
    p.join(30)
    assert not alive or p.exitcode == -9
    assert alive or p.exitcode == 0, f"child failed on its own ({p.exitcode})"
    return alive


# -- ingest -----------------------------------------------------------------------------------
def _positions_csv(path: Path, n: int, seed: int) -> Path:
    rnd = random.Random(seed)
    lines = ["t_utc,source,id,lat,lon,alt_ft"]
    for i in range(n):
        t = (T0 + timedelta(seconds=i + seed * 100_000)).isoformat()
        if rnd.random() < 0.01:
            lines.append(f"{t},adsb,{seed:06x},95.0,0.0,1000")  # out of range: quarantined
        else:
            lines.append(f"{t},adsb,{seed:06x},{30 + i * 1e-4:.6f},{35 + seed * 0.01:.4f},{1000 + i % 300}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _store_state(ws_dir: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], dict[str, int]]:
    with Workspace.open(ws_dir) as ws:
        s = ws.store
        pos = sorted(tuple(r.values()) for r in s.rows("SELECT id, t_utc, lat, lon, alt_ft FROM positions"))
        quar = sorted(tuple(r.values()) for r in s.rows(
            "SELECT l.path, q.rec_offset, q.reason FROM quarantine q JOIN ingest_log l USING (file_id)"))
        logged = {r["path"]: r["accepted"] for r in s.rows("SELECT path, accepted FROM ingest_log")}
        per_file = {r["file_id"]: r["n"] for r in s.rows("SELECT file_id, count(*) AS n FROM positions GROUP BY 1")}
        log_ids = {r["file_id"]: r["accepted"] for r in s.rows("SELECT file_id, accepted FROM ingest_log")}
        orphans = s.scalar("SELECT count(*) FROM quarantine WHERE file_id NOT IN (SELECT file_id FROM ingest_log)")
    assert per_file == {k: v for k, v in log_ids.items() if v}, "a file is stored in part"
    assert orphans == 0, "quarantine rows of a file that was never logged"
    return pos, quar, logged


@pytest.mark.slow
def test_ingest_killed_at_random_points_keeps_whole_files(tmp_path: Path) -> None:
    from sitewatch.store.ingest import ingest_paths

    files = [str(_positions_csv(tmp_path / f"f{i}.csv", 3000, i + 1)) for i in range(4)]
    ref = tmp_path / "ref"
    with Workspace.init(ref) as ws:
        ingest_paths(ws.store, "positions", files)
    ref_pos, ref_quar, ref_logged = _store_state(ref)
    assert len(ref_pos) > 11_500 and len(ref_quar) > 40
    ctx = _ctx()
    work = tmp_path / "work"
    Workspace.init(work).close()
    full_s = _timed(ctx, _child_ingest, str(work), files)
    rnd = random.Random(11)
    killed = rounds = 0
    while killed < KILLS:
        ws_dir = tmp_path / f"w{rounds}"
        Workspace.init(ws_dir).close()
        rounds += 1
        while True:
            remaining = 1 - len(_store_state(ws_dir)[2]) / len(files)
            if not _kill_at(ctx, rnd.uniform(0.0, full_s * remaining + 0.05), _child_ingest, str(ws_dir), files):
                break  # the run finished before its kill point: this round is complete
            killed += 1
            pos, _, logged = _store_state(ws_dir)  # opens, holds whole files only
            assert all(ref_logged[p] == n for p, n in logged.items())
            assert len(pos) == sum(logged.values())
            if killed >= KILLS:
                _child_ingest(str(ws_dir), files)  # the re-run after the last kill, in-process
                break
        assert _store_state(ws_dir) == (ref_pos, ref_quar, ref_logged)
    print(f"ingest: {killed} kill points in {rounds} rounds; uninterrupted run {full_s:.2f} s")


# -- stream -----------------------------------------------------------------------------------
def _sbs(i: int) -> bytes:
    t = T0 + timedelta(milliseconds=10 * i)
    d, tm = t.strftime("%Y/%m/%d"), t.strftime("%H:%M:%S.%f")[:-3]
    lat = 30.0 + (i % 50_000) * 1e-4
    return (f"MSG,3,1,1,{0x400000 + i // 1000:06X},1,{d},{tm},{d},{tm},,{1000 + i % 5000},,,{lat:.6f},"
            f"35.000000,,,0,0,0,0\n").encode()


class _Feed:
    """An SBS feed on 127.0.0.1 sending ``rate`` lines/s to one client until stopped; counts what it sent."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.sent = 0
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.srv.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.srv.accept()
            except TimeoutError:
                continue
            t0 = time.monotonic()
            with conn:
                while not self.stop.is_set():
                    due = int((time.monotonic() - t0) * self.rate)
                    if due > self.sent:
                        try:
                            conn.sendall(b"".join(_sbs(i) for i in range(self.sent, due)))
                        except OSError:
                            break
                        self.sent = due
                    time.sleep(0.005)
            return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.srv.close()


@pytest.mark.slow
def test_stream_killed_loses_at_most_the_uncommitted_batch(tmp_path: Path) -> None:
    ctx = _ctx()
    rnd = random.Random(5)
    rate, commit_s, slack_s = 2000, 0.2, 1.0
    worst = 0
    for k in range(max(KILLS // 2, 3)):
        ws_dir = tmp_path / f"s{k}"
        Workspace.init(ws_dir).close()
        feed = _Feed(rate)
        try:
            assert _kill_at(ctx, rnd.uniform(1.0, 2.0), _child_stream, str(ws_dir), feed.port,
                            ready=lambda f=feed: f.sent > 0)
        finally:
            feed.close()
        with Workspace.open(ws_dir) as ws:
            got = ws.store.rows("SELECT id, t_utc FROM positions ORDER BY t_utc")
            session = ws.store.rows("SELECT file_id, format, accepted, t_end_utc FROM ingest_log")
        n = len(got)
        assert n > 0, "nothing was committed before the kill"
        expect = [T0 + timedelta(milliseconds=10 * i) for i in range(n)]
        assert [r["t_utc"] for r in got] == expect, "stored messages are not exactly the first ones sent"
        assert len(session) == 1 and session[0]["format"] == "sbs-stream" and session[0]["accepted"] == n
        lost = feed.sent - n
        worst = max(worst, lost)
        assert 0 <= lost <= rate * (commit_s + slack_s), f"lost {lost} of {feed.sent} messages"
    print(f"stream kills: worst loss {worst} messages at {rate}/s, commit every {commit_s}s")


# -- analyze ----------------------------------------------------------------------------------
def _seed_analysis(ws_dir: Path) -> None:
    import pyarrow as pa

    from sitewatch import geo
    from sitewatch import sites as S

    with Workspace.init(ws_dir) as ws:
        site = S.from_airport("hmeimim", "OSLK")
        ws.put_site(site)
        parts = []
        for j in range(30):  # 30 landings and take-offs, an hour apart, by 30 aircraft
            ident = f"{0x150000 + j:06x}"
            td = geo.destination(site.lat, site.lon, 250.0, 1500.0)
            far = geo.destination(float(td[0]), float(td[1]), 250.0, 40_000.0)
            out = geo.destination(float(td[0]), float(td[1]), 70.0, 40_000.0)
            base = j * 3600.0
            rows = []
            for s in range(0, 601, 10):  # approach
                f = s / 600
                rows.append((base + s, far[0] + f * (td[0] - far[0]), far[1] + f * (td[1] - far[1]), 8000 - 7800 * f,
                             False))
            for s in range(610, 1801, 30):  # on the ground
                rows.append((base + s, float(td[0]), float(td[1]), 150.0, True))
            for s in range(1810, 2401, 10):  # climb-out
                f = (s - 1810) / 590
                rows.append((base + s, td[0] + f * (out[0] - td[0]), td[1] + f * (out[1] - td[1]), 300 + 8700 * f,
                             False))
            parts.append(pa.table({
                "t_utc": pa.array([T0 + timedelta(seconds=r[0]) for r in rows], pa.timestamp("us", tz="UTC")),
                "source": ["adsb"] * len(rows), "id": [ident] * len(rows),
                "lat": [float(r[1]) for r in rows], "lon": [float(r[2]) for r in rows],
                "alt_ft": [float(r[3]) for r in rows], "speed_kt": [250.0] * len(rows),
                "onground": [r[4] for r in rows]}))
        ws.store.insert("positions", pa.concat_tables(parts))


def _events(ws_dir: Path) -> list[tuple[Any, ...]]:
    with Workspace.open(ws_dir) as ws:
        cols = [c["column_name"] for c in ws.store.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'events'")]
        keep = [c for c in ("event_id", "kind", "site", "subject", "t_start", "t_end", "confidence", "summary")
                if c in cols]
        return sorted(tuple(r.values()) for r in ws.store.rows(f"SELECT {', '.join(keep)} FROM events"))


@pytest.mark.slow
def test_analyze_killed_keeps_previous_results_and_rerun_is_identical(tmp_path: Path) -> None:
    ws_dir = tmp_path / "a"
    _seed_analysis(ws_dir)
    ctx = _ctx()
    full_s = _timed(ctx, _child_analyze, str(ws_dir))
    before = _events(ws_dir)
    assert len(before) >= 30, f"the seeded landings gave only {len(before)} events"
    rnd = random.Random(3)
    killed = 0
    for _ in range(KILLS * 3):
        if _kill_at(ctx, rnd.uniform(0.0, full_s), _child_analyze, str(ws_dir)):
            killed += 1
            assert _events(ws_dir) == before, "a killed analyze changed the stored events"
        if killed >= KILLS:
            break
    assert killed >= KILLS // 2
    _timed(ctx, _child_analyze, str(ws_dir))
    assert _events(ws_dir) == before
    print(f"analyze: {killed} kill points, {len(before)} events intact each time; uninterrupted run {full_s:.2f} s")
