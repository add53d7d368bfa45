"""Live streams under stress on 127.0.0.1: drops, stalls, garbage, bursts; bounded memory; exact counts.

A scripted feed server plays a list of actions to the stream client (``sitewatch stream``'s
classes, run in a forked child so that its peak RSS is its own): send bytes, drop the
connection (the client reconnects), stall with the connection open, or burst faster than
the client decodes. After the child stops on its own (``max_frames``/``max_messages``), the
store must hold every valid message exactly once, and the quarantine one row per bad line
(each cut line, each garbage line). Peak RSS is measured in the child (``ru_maxrss``).

The soak (``bench/bench_soak.py``) runs the same path with 1 000 000 messages; here
:data:`SOAK_MESSAGES` (default 200 000) keeps ``make test`` short.
"""

from __future__ import annotations

import json
import os
import random
import resource
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.test_trust_crash import _ctx

from sitewatch.workspace import Workspace

SOAK_MESSAGES = int(os.environ.get("SITEWATCH_SOAK_MESSAGES", "200000"))
T0 = datetime(2024, 12, 13, 6, 0, tzinfo=UTC)
RSS_BOUND_MB = 400  # growth of the stream process' peak RSS over its start


def sbs_line(i: int) -> bytes:
    """The i-th valid SBS position: unique (id, time), 1000 messages per aircraft."""
    t = T0 + timedelta(milliseconds=10 * i)
    d, tm = t.strftime("%Y/%m/%d"), t.strftime("%H:%M:%S.%f")[:-3]
    return (f"MSG,3,1,1,{0x400000 + i // 1000:06X},1,{d},{tm},{d},{tm},,{1000 + i % 5000},,,"
            f"{30.0 + (i % 1000) * 1e-3:.6f},{35.0 + (i // 1000) % 100 * 1e-2:.6f},,,0,0,0,0\n").encode()


def sbs_block(start: int, n: int) -> bytes:
    return b"".join(sbs_line(i) for i in range(start, start + n))


class ScriptedFeed:
    """Plays ``actions`` over TCP: ("send", bytes) | ("drop",) | ("stall", s); then holds the line open."""

    def __init__(self, actions: list[tuple[Any, ...]]) -> None:
        self.actions = actions
        self.connections = 0
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.done = threading.Event()
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _accept(self) -> socket.socket | None:
        self.srv.settimeout(0.2)
        while not self.done.is_set():
            try:
                conn, _ = self.srv.accept()
            except TimeoutError:
                continue
            self.connections += 1
            return conn
        return None

    def _run(self) -> None:
        conn = self._accept()
        try:
            for act in self.actions:
                if conn is None:
                    return
                if act[0] == "send":
                    conn.sendall(act[1])
                elif act[0] == "stall":
                    time.sleep(act[1])
                elif act[0] == "drop":
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
                    conn = self._accept()
            self.finished.set()
            self.done.wait(120)
        finally:
            if conn is not None:
                conn.close()

    def close(self) -> None:
        self.done.set()
        self.thread.join(5)
        self.srv.close()


def _child_adsb(ws_dir: str, port: int, max_frames: int, out: str) -> None:
    from sitewatch.live.adsb import AdsbStream

    ws = Workspace.open(ws_dir)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    s = AdsbStream(ws.store, "sbs", "127.0.0.1", port, commit_s=0.3, batch_frames=20_000, backoff_s=0.05,
                   backoff_max_s=0.2, max_frames=max_frames, max_s=240)
    t = time.monotonic()
    stats = s.run()
    ws.close()
    Path(out).write_text(json.dumps({**stats.as_json(), "rss0_mb": rss0 / 1024, "seconds": time.monotonic() - t,
                                     "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _child_ais(ws_dir: str, port: int, max_messages: int, out: str) -> None:
    from sitewatch.live.ais import AisStream

    ws = Workspace.open(ws_dir)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    s = AisStream(ws.store, tcp=("127.0.0.1", port), batch_s=0.3, backoff_s=0.05, backoff_max_s=0.2,
                  max_messages=max_messages, max_s=240, refresh_s=1e9)
    stats = s.run()
    ws.close()
    Path(out).write_text(json.dumps({**stats.as_json(), "rss0_mb": rss0 / 1024,
                                     "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_stream(child: Any, ws_dir: Path, actions: list[tuple[Any, ...]], stop_after: int,
               timeout_s: float = 240) -> dict[str, Any]:
    """Run ``child`` against a scripted feed until it stops by itself; its stats as a dict."""
    Workspace.init(ws_dir).close()
    feed = ScriptedFeed(actions)
    out = ws_dir.parent / f"{ws_dir.name}.json"
    ctx = _ctx()
    p = ctx.Process(target=child, args=(str(ws_dir), feed.port, stop_after, str(out)))
    p.start()
    try:
        p.join(timeout_s)
        assert not p.is_alive(), f"the stream did not stop within {timeout_s} s (a hang)"
    finally:
        if p.is_alive():
            p.kill()
            p.join(10)
        feed.close()
    assert p.exitcode == 0, f"the stream process failed ({p.exitcode})"
    stats = json.loads(out.read_text())
    stats["connections"] = feed.connections
    return stats


def _exactly_once(ws_dir: Path, n_valid: int) -> dict[str, Any]:
    """Every valid message 0..n_valid-1 is stored once; returns the store's counts."""
    with Workspace.open(ws_dir) as ws:
        r = ws.store.rows(
            "SELECT count(*) AS n, count(DISTINCT (id, t_utc)) AS distinct_n, min(t_utc) AS t_min, "
            "max(t_utc) AS t_max, sum(epoch_ms(t_utc) - epoch_ms(TIMESTAMPTZ '2024-12-13 06:00:00+00')) AS ms "
            "FROM positions")[0]
        log = ws.store.rows("SELECT accepted, rejected, duplicates FROM ingest_log")
        reasons = ws.store.rows("SELECT reason, count(*) AS n FROM quarantine GROUP BY 1")
    assert r["n"] == n_valid, f"stored {r['n']} of {n_valid} valid messages"
    assert r["distinct_n"] == n_valid
    assert r["t_min"] == T0 and r["t_max"] == T0 + timedelta(milliseconds=10 * (n_valid - 1))
    assert r["ms"] == 10 * n_valid * (n_valid - 1) // 2  # with n distinct grid times in range: all of them
    assert len(log) == 1 and log[0]["accepted"] == n_valid and log[0]["duplicates"] == 0
    return {"log": log[0], "reasons": {x["reason"]: x["n"] for x in reasons}}


@pytest.mark.slow
def test_sbs_stream_survives_drops_stalls_garbage_and_bursts(tmp_path: Path) -> None:
    rnd = random.Random(7)
    actions: list[tuple[Any, ...]] = []
    i = 0
    bad = 0
    cut = 0
    for round_ in range(6):
        k = rnd.randint(500, 3000)
        actions.append(("send", sbs_block(i, k)))
        i += k
        junk = [b"GARBAGE LINE", b"MSG,3,1,1,ZZZZZZ,too,few", b"\x00\x01\x02\xff\xfe", b'"', b"MSG,3,\"q",
                bytes(rnd.choice(b"abcdefXYZ0123456789 ;:.") for _ in range(rnd.randint(1, 300)))]
        actions.append(("send", b"\n".join(junk) + b"\n"))
        bad += len(junk)
        if round_ % 2 == 0:  # drop in the middle of a valid line: that line is cut, and quarantined
            line = sbs_line(10**7 + round_)
            actions += [("send", line[: rnd.randint(5, len(line) - 5)]), ("drop",)]
            cut += 1
        else:
            actions.append(("stall", rnd.uniform(0.5, 1.5)))
    burst = 100_000
    actions.append(("send", sbs_block(i, burst)))  # much faster than one commit interval
    i += burst
    # a "line" of 100 KiB without a newline, then a valid tail
    actions += [("send", b"Z" * 100_000 + b"\n"), ("send", sbs_block(i, 10))]
    i += 10
    msg_lines = sum(ln.startswith(b"MSG") for a in actions if a[0] == "send" for ln in a[1].split(b"\n")[:-1])
    stats = run_stream(_child_adsb, tmp_path / "w", actions, stop_after=msg_lines)
    counts = _exactly_once(tmp_path / "w", i)
    assert stats["connections"] == 4 and stats["disconnects"] >= 3
    reasons = counts["reasons"]
    assert reasons.get("line cut by a dropped connection", 0) == cut
    # each garbage line is one quarantine row; the 100 KiB line is one too, or, when the buffer
    # passed 64 KiB before its newline arrived, one for its head and one for its tail
    long_rows = sum(n for r, n in reasons.items() if "fields, SBS has 22" in r) - bad
    assert long_rows + reasons.get("line longer than 64 KiB", 0) in (1, 2)
    assert stats["positions"] == i and counts["log"]["rejected"] == sum(reasons.values())
    growth = stats["rss_peak_mb"] - stats["rss0_mb"]
    print(f"sbs stress: {i} valid + {bad} garbage + {cut} cut lines, 3 drops, 3 stalls; "
          f"RSS {stats['rss0_mb']:.0f} → {stats['rss_peak_mb']:.0f} MB")
    assert growth < RSS_BOUND_MB, f"RSS grew {growth:.0f} MB"


def _ais_lines(n: int, start: int = 0) -> list[bytes]:
    import numpy as np

    from sitewatch.simulate import nmea

    out = []
    for j in range(start, start + n, 500):
        m = min(500, start + n - j)
        idx = np.arange(j, j + m)
        mmsi = 211_000_000 + j // 500
        pays = nmea.position_payloads(mmsi, 54.0 + (idx % 500) * 1e-3, 10.0 + (idx % 500) * 1e-3,
                                      np.full(m, 10.0), np.full(m, 90.0), np.full(m, 90.0), np.zeros(m),
                                      idx % 60, np.ones(m))
        t0 = int(T0.timestamp())
        for k, p in enumerate(pays):
            out.append((nmea.sentences(p, 0, t0 + int(idx[k]) % 500, "trust")[0] + "\n").encode())
    return out


@pytest.mark.slow
def test_ais_stream_survives_drops_stalls_and_garbage(tmp_path: Path) -> None:
    lines = _ais_lines(6000)
    rnd = random.Random(9)
    actions: list[tuple[Any, ...]] = []
    pos = bad = 0
    for round_ in range(4):
        k = rnd.randint(500, 1500)
        actions.append(("send", b"".join(lines[pos:pos + k])))
        pos += k
        junk = [b"not nmea at all", b"!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*00", b"\xff\xfe\x00garbage"]
        actions.append(("send", b"\n".join(junk) + b"\n"))
        bad += len(junk)
        if round_ % 2 == 0:
            actions += [("send", lines[pos][:30]), ("drop",)]  # cut line
            pos += 1
            bad += 1
        else:
            actions.append(("stall", 0.8))
    actions.append(("send", b"".join(lines[pos:])))
    valid = len(lines) - 2  # the two cut lines
    stats = run_stream(_child_ais, tmp_path / "a", actions, stop_after=valid)
    with Workspace.open(tmp_path / "a") as ws:
        n = ws.store.scalar("SELECT count(*) FROM positions")
        distinct = ws.store.scalar("SELECT count(DISTINCT (id, t_utc)) FROM positions")
        rejected = ws.store.scalar("SELECT count(*) FROM quarantine")
    assert n == distinct == valid, (n, distinct, valid)
    assert stats["connections"] == 3 and rejected == bad == stats["rejected"]
    assert stats["rss_peak_mb"] - stats["rss0_mb"] < RSS_BOUND_MB


@pytest.mark.slow
def test_soak_sbs_every_valid_message_exactly_once(tmp_path: Path) -> None:
    """SOAK_MESSAGES valid SBS positions in 10 000-line bursts through the live path."""
    n = SOAK_MESSAGES
    actions: list[tuple[Any, ...]] = [("send", sbs_block(j, min(10_000, n - j))) for j in range(0, n, 10_000)]
    t = time.monotonic()
    stats = run_stream(_child_adsb, tmp_path / "soak", actions, stop_after=n, timeout_s=600)
    wall = time.monotonic() - t
    _exactly_once(tmp_path / "soak", n)
    print(f"soak: {n} messages in {wall:.1f} s ({n / wall:.0f}/s); RSS {stats['rss0_mb']:.0f} → "
          f"{stats['rss_peak_mb']:.0f} MB")
    assert stats["rss_peak_mb"] - stats["rss0_mb"] < RSS_BOUND_MB
