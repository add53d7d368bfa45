"""One ingest wing for live feeds: the session batch writer, the AIS stream killed at random
points (its ``ingest_log`` row counts exactly what it kept), one reconnect loop, one option
vocabulary for both ``stream`` commands.

The crash test forks children from a ``forkserver`` with sitewatch preloaded (as
``tests/test_trust_crash.py`` does for the ADS-B stream) and SIGKILLs them; the number of
kill points is ``SITEWATCH_KILL_POINTS // 2`` (at least 3).
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

import numpy as np
import pyarrow as pa
import pytest

from sitewatch.sources.base import Batch, Reject
from sitewatch.store.db import Store
from sitewatch.store.writer import SessionWriter
from sitewatch.workspace import Workspace

KILLS = max(int(os.environ.get("SITEWATCH_KILL_POINTS", "6")) // 2, 3)
T0 = datetime(2024, 12, 13, 6, 0, tzinfo=UTC)


# -- the session writer ---------------------------------------------------------------------------
def _positions(ids: list[str], t: list[datetime]) -> pa.Table:
    return pa.table({"t_utc": pa.array(t, pa.timestamp("us", tz="UTC")), "source": ["ais"] * len(ids), "id": ids,
                     "lat": [35.0 + i * 1e-3 for i in range(len(ids))], "lon": [35.0] * len(ids)})


def test_session_writer_counts_each_batch_in_its_own_transaction() -> None:
    store = Store(":memory:")
    w = SessionWriter(store, "ais", "tcp://127.0.0.1:1", "nmea", {"commit_s": 1.0},
                      counted=("positions", "vessel_reports"))
    fid = w.open()
    t = [T0 + timedelta(seconds=i) for i in range(5)]
    got = w.write([Batch("positions", _positions(["1"] * 5, t), [Reject(7, "junk", "not an AIS sentence")],
                         {"messages": 5})])
    assert (got.accepted, got.duplicates, got.rejected) == (5, 0, 1)
    row = store.rows("SELECT * FROM ingest_log WHERE file_id = ?", [fid])[0]
    assert (row["accepted"], row["rejected"], row["format"], row["kind"]) == (5, 1, "nmea-stream", "ais")
    # the same rows again are duplicates; a failing batch leaves the totals as they were
    again = w.write([Batch("positions", _positions(["1"] * 5, t))])
    assert (again.accepted, again.duplicates) == (0, 5)
    with pytest.raises(Exception):  # noqa: B017 - any failure inside the batch rolls it back whole
        w.write([Batch("positions", _positions(["2"], [T0])), Batch("no_such_table", pa.table({"a": [1]}))])
    row = store.rows("SELECT accepted, duplicates FROM ingest_log WHERE file_id = ?", [fid])[0]
    assert (row["accepted"], row["duplicates"]) == (5, 5) and store.count("positions") == 5
    assert store.scalar("SELECT sum(value) FROM ingest_stats WHERE name = 'messages'") == 5
    assert store.scalar("SELECT file_id FROM quarantine") == fid and store.scalar("SELECT min(file_id) FROM positions") == fid
    w.close()
    assert store.scalar("SELECT t_end_utc FROM ingest_log WHERE file_id = ?", [fid]) is not None


def test_live_feeds_share_one_loop_and_one_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both streams are :class:`LiveFeed` s reading through the one reconnecting TCP reader."""
    from sitewatch.live import adsb, ais, base

    calls: list[tuple[str, int]] = []

    def fake(host: str, port: int, stop: threading.Event, **kw: Any) -> Any:
        calls.append((host, port))
        yield None

    monkeypatch.setattr(base, "tcp_chunks", fake)
    store = Store(":memory:")
    a = adsb.AdsbStream(store, "sbs", "127.0.0.1", 1, commit_s=0.05, max_messages=None, max_s=0.01)
    b = ais.AisStream(store, tcp=("127.0.0.1", 2), commit_s=0.05, max_s=0.01)
    assert isinstance(a, base.LiveFeed) and isinstance(b, base.LiveFeed)
    a.run()
    b.run()
    assert calls == [("127.0.0.1", 1), ("127.0.0.1", 2)]
    sessions = store.rows("SELECT kind, format, accepted FROM ingest_log ORDER BY file_id")
    assert sessions == [{"kind": "adsb", "format": "sbs-stream", "accepted": 0},
                        {"kind": "ais", "format": "nmea-stream", "accepted": 0}]
    # the older keyword names still work and mean the same
    assert ais.AisStream(store, tcp=("h", 1), batch_s=0.3).commit_s == 0.3
    assert adsb.AdsbStream(store, "sbs", "h", 1, max_frames=9).max_messages == 9


def test_both_stream_commands_take_one_vocabulary() -> None:
    from sitewatch.cli import root

    stream = root.commands["stream"]
    for name in ("adsb", "ais"):
        cmd = stream.commands[name]  # type: ignore[attr-defined]
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        assert {"--commit-every", "--duration", "--max-messages", "--batch-s", "--max-s", "--max-frames"} <= opts
        new = cmd.make_context(name, ["--commit-every", "0.5", "--duration", "3", "--max-messages", "7",
                                      *(["--sbs", "h:1"] if name == "adsb" else ["--udp", "1"])])
        old = cmd.make_context(name, ["--batch-s", "0.5", "--max-s", "3", "--max-frames", "7",
                                      *(["--sbs", "h:1"] if name == "adsb" else ["--udp", "1"])])
        for ctx in (new, old):
            assert (ctx.params["commit_s"], ctx.params["max_s"], ctx.params["max_messages"]) == (0.5, 3.0, 7)


# -- AIS stream killed at random points -----------------------------------------------------------
def _lines(n: int) -> list[bytes]:
    """``n`` position reports, message i of MMSI 201000000 + i // 1000 at T0 + i seconds."""
    from sitewatch.simulate.nmea import position_payloads, sentences

    out: list[bytes] = []
    for start in range(0, n, 1000):
        k = min(1000, n - start)
        i = np.arange(start, start + k)
        pay = position_payloads(201_000_000 + start // 1000, 30.0 + (i % 50_000) * 1e-4, np.full(k, 35.0),
                                np.full(k, 5.0), np.full(k, 90.0), np.full(k, 90.0), np.zeros(k), i % 60,
                                np.ones(k))
        t0 = int(T0.timestamp())
        out += [sentences(p, 0, t0 + int(j), "test")[0].encode() + b"\n" for p, j in zip(pay, i, strict=True)]
    return out


class _Feed:
    """NMEA position lines on 127.0.0.1 at ``rate`` lines/s to one client until stopped."""

    def __init__(self, lines: list[bytes], rate: int) -> None:
        self.lines, self.rate, self.sent = lines, rate, 0
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
                while not self.stop.is_set() and self.sent < len(self.lines):
                    due = min(int((time.monotonic() - t0) * self.rate), len(self.lines))
                    if due > self.sent:
                        try:
                            conn.sendall(b"".join(self.lines[self.sent:due]))
                        except OSError:
                            break
                        self.sent = due
                    time.sleep(0.005)
            return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.srv.close()


def _ctx() -> Any:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["sitewatch.live.ais", "sitewatch.sources.ais.nmea", "sitewatch.vessels",
                                "tests.test_live_writer"])
    return ctx


def _child_ais(ws_dir: str, port: int) -> None:
    from sitewatch.live.ais import AisStream

    ws = Workspace.open(ws_dir)
    AisStream(ws.store, tcp=("127.0.0.1", port), commit_s=0.2, backoff_s=0.05, max_s=60, refresh_s=1e9).run()
    ws.close()


def _kill_at(ctx: Any, delay_s: float, feed: _Feed, ws_dir: str) -> bool:
    p = ctx.Process(target=_child_ais, args=(ws_dir, feed.port))
    p.start()
    deadline = time.monotonic() + 60
    while feed.sent == 0 and p.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    p.join(delay_s)
    alive = p.is_alive()
    if alive:
        p.kill()
    p.join(30)
    assert not alive or p.exitcode == -9
    return alive


@pytest.mark.slow
def test_ais_stream_killed_logs_exactly_what_it_kept(tmp_path: Path) -> None:
    """Was: the AIS session's ``accepted`` was written when the stream closed, so a killed
    stream logged 0. Now every batch adds to it in the batch's own transaction."""
    lines = _lines(40_000)
    ctx = _ctx()
    rnd = random.Random(7)
    rate, commit_s, slack_s = 2000, 0.2, 1.0
    worst = 0
    for k in range(KILLS):
        ws_dir = tmp_path / f"a{k}"
        Workspace.init(ws_dir).close()
        feed = _Feed(lines, rate)
        try:
            assert _kill_at(ctx, rnd.uniform(1.0, 2.0), feed, str(ws_dir))
        finally:
            feed.close()
        with Workspace.open(ws_dir) as ws:
            got = ws.store.rows("SELECT id, t_utc FROM positions ORDER BY t_utc")
            session = ws.store.rows("SELECT kind, format, accepted, rejected FROM ingest_log")
            quarantined = ws.store.count("quarantine")
        n = len(got)
        assert n > 0, "nothing was committed before the kill"
        expect = [T0 + timedelta(seconds=i) for i in range(n)]
        assert [r["t_utc"] for r in got] == expect, "stored messages are not exactly the first ones sent"
        assert [r["id"] for r in got] == [str(201_000_000 + i // 1000) for i in range(n)]
        assert session == [{"kind": "ais", "format": "nmea-stream", "accepted": n, "rejected": quarantined}]
        lost = feed.sent - n
        worst = max(worst, lost)
        assert 0 <= lost <= rate * (commit_s + slack_s), f"lost {lost} of {feed.sent} messages"
    print(f"AIS stream kills: {KILLS}, worst loss {worst} messages at {rate}/s, commit every {commit_s}s")
