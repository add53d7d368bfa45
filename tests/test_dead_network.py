"""A dead network fails fast: an unreachable host is tried 3 times in 3 s, a source that keeps
failing gives up within its retry budget, and ``watch run`` records it and goes on."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sitewatch.acquire import _stacapi
from sitewatch.acquire.http import FetchError, HttpOptions, Unreachable, download, get_bytes, head_size
from sitewatch.alerts import watch_config as W
from sitewatch.alerts.watch_run import run_cycle
from sitewatch.alerts.watch_status import read
from sitewatch.cli import main
from sitewatch.sites import from_airport
from sitewatch.workspace import Workspace


def _dead_url() -> str:
    """A local port nobody listens on (connections are refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture()
def hanging() -> Iterator[str]:
    """A stand-in server that accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join(2)
    for c in held:
        c.close()
    srv.close()


def test_an_unreachable_host_is_tried_three_times_in_three_seconds(tmp_path: Path) -> None:
    waits: list[float] = []
    opts = HttpOptions(sleep=waits.append)  # the default policy, sleeps recorded
    url = _dead_url() + "/file"
    for call in (lambda: get_bytes(url, opts), lambda: head_size(url, opts),
                 lambda: download(url, tmp_path / "f", opts=opts), lambda: _stacapi.fetch_json(url, opts)):
        waits.clear()
        t0 = time.monotonic()
        with pytest.raises(Unreachable, match=r"cannot reach the host .*after 2 retries"):
            call()
        assert waits == [1.0, 2.0] and time.monotonic() - t0 < 2.0  # was 8 waits, 2 … 256 s: 510 s
    # an ordinary fault (5xx, a cut body) keeps the full backoff
    assert HttpOptions().retries == 8


def test_a_hanging_server_costs_the_budget_not_the_timeouts(hanging: str) -> None:
    opts = HttpOptions(timeout_s=60.0).with_budget(1.5)
    t0 = time.monotonic()
    with pytest.raises(FetchError, match=r"retry budget is 1\.5 s"):
        get_bytes(hanging + "/v1", opts)
    first = time.monotonic() - t0
    assert first < 3.0  # one attempt cut to the budget (was 9 × 60 s of timeouts and 510 s of waits)
    t1 = time.monotonic()
    with pytest.raises(FetchError, match="retry budget"):  # the budget is the source's: spent, the next gives up
        _stacapi.fetch_json(hanging + "/search", opts)
    assert time.monotonic() - t1 < 1.6


def test_watch_run_records_a_dead_source_and_goes_on(tmp_path: Path, hanging: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.put_site(from_airport("hmeimim", "OSLK", 6.0))
    ws.config["watch"] = {"retry_budget": "2s", "sources": {
        "s2": {"source": "earth-search-s2", "sites": ["hmeimim"], "lookback": "5d", "stac": hanging + "/v1"},
        "adsb": {"source": "adsblol", "sites": ["hmeimim"], "lookback": "3d", "mirror": _dead_url()}}}
    ws.save()
    plan = W.load(ws.config)
    assert plan.retry_budget_s == 2.0
    said: list[dict[str, object]] = []
    t0 = time.monotonic()
    cyc = run_cycle(ws, plan, now=datetime(2024, 12, 7, 6, tzinfo=UTC), say=said.append)
    took = time.monotonic() - t0
    assert took < 10.0, took  # was ~43 min: s2 9 × 60 s timeouts + 510 s of waits, adsb 3 days × 510 s
    assert cyc.errors == 2 and [x["entry"] for x in said] == ["s2", "adsb"]  # both tried, one after the other
    st = read(ws.folder)["sources"]
    assert st["s2"]["last_error"]["unreachable"] is False and "retry budget" in st["s2"]["last_error"]["message"]
    a = st["adsb"]
    assert a["last_error"]["unreachable"] is True and "cannot reach the host" in a["last_error"]["message"]
    assert "last_success_utc" not in a and a["down_since_utc"] == "2024-12-07T06:00:00Z"
    assert a["consecutive_errors"] == 1 and not a.get("days_done")
    assert any("later day(s) not tried" in n for n in said[1].get("notes", []))  # type: ignore[union-attr]
    ws.close()
    capsys.readouterr()
    assert main(["-w", str(ws.folder), "watch", "source", "list", "--format", "json"]) == 0
    listed = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["adsb"]["down_since"] == "2024-12-07T06:00:00Z" and "cannot reach" in listed["adsb"]["last_error"]
    assert main(["watch", "run", "--help"]) == 0  # the CLI can override the configuration
    assert "--retry-budget DURATION" in capsys.readouterr().out


def test_retry_budget_is_configurable() -> None:
    from sitewatch.errors import ConfigError

    assert W.load({}).retry_budget_s == 30.0
    assert W.load({"watch": {"retry_budget": "2m"}}).retry_budget_s == 120.0
    with pytest.raises(ConfigError, match="retry_budget"):
        W.load({"watch": {"retry_budget": "soon"}})
