"""Alerts fire exactly once per rule and subject/event, and reach a webhook and an SMTP sink."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from sitewatch import sites as S
from sitewatch.alerts import channels as C
from sitewatch.alerts import engine
from sitewatch.alerts import rules as R
from sitewatch.analytics.base import events_table
from sitewatch.cli import main
from sitewatch.errors import ConfigError
from sitewatch.workspace import Workspace

T0 = datetime(2024, 12, 6, 8, 0, tzinfo=UTC)


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Hook.fail_first > 0:
            _Hook.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a: Any) -> None:
        pass


class _Smtp(socketserver.StreamRequestHandler):
    """A minimal SMTP sink: enough of RFC 5321 for smtplib.send_message."""

    messages: ClassVar[list[str]] = []

    def handle(self) -> None:
        w = self.wfile.write
        w(b"220 sink ready\r\n")
        data_mode, buf = False, []
        while line := self.rfile.readline():
            if data_mode:
                if line in (b".\r\n", b".\n"):
                    _Smtp.messages.append(b"".join(buf).decode())
                    data_mode, buf = False, []
                    w(b"250 queued\r\n")
                else:
                    buf.append(line)
                continue
            cmd = line[:4].upper()
            if cmd == b"EHLO":
                w(b"250-sink\r\n250 OK\r\n")
            elif cmd == b"DATA":
                data_mode = True
                w(b"354 go ahead\r\n")
            elif cmd == b"QUIT":
                w(b"221 bye\r\n")
                return
            else:
                w(b"250 OK\r\n")


@pytest.fixture
def servers() -> Iterator[tuple[str, str]]:
    _Hook.received, _Hook.fail_first, _Smtp.messages = [], 0, []
    http = HTTPServer(("127.0.0.1", 0), _Hook)
    smtp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    for s in (http, smtp):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_port}/hook", f"127.0.0.1:{smtp.server_address[1]}"
    http.shutdown()
    smtp.shutdown()


def _seed(ws: Workspace) -> None:
    ws.put_site(S.from_airport("hmeimim", "OSLK"))
    ws.store.insert("aircraft", pa.table({"icao24": ["151abc", "4b1234"], "typecode": ["A124", "A320"],
                                          "registration": ["RA-82079", "HB-XYZ"], "military": [True, False]}))
    pos = []
    for i in range(30):  # An-124 approaching Hmeimim from 60 km west, and an A320 overhead
        t = T0 + timedelta(minutes=i)
        pos.append(("151abc", t, 35.40, 35.95 - 0.66 * (1 - i / 29)))
        pos.append(("4b1234", t, 35.40, 35.95))
    ws.store.insert("positions", pa.table({
        "t_utc": pa.array([p[1] for p in pos], pa.timestamp("us", tz="UTC")), "source": ["adsb"] * len(pos),
        "id": [p[0] for p in pos], "lat": [p[2] for p in pos], "lon": [p[3] for p in pos]}))
    ws.store.insert("events", events_table([
        {"kind": "dark-visit", "site": "hmeimim", "t_start": T0, "t_end": T0 + timedelta(hours=6),
         "subject": "151abc", "confidence": 0.8, "details": {}, "summary": "An-124 likely landed at hmeimim"},
        {"kind": "arrival", "site": "hmeimim", "t_start": T0, "subject": "151abc", "confidence": 0.9, "details": {}},
    ], "test"))


def test_alert_fires_once_per_rule_and_event_and_reaches_channels(ws: Workspace, servers: tuple[str, str]) -> None:
    hook, smtp = servers
    _seed(ws)
    cfg = R.WatchConfig(
        [R.parse_rule({"name": "airlift", "kind": "type-near", "types": ["A124", "IL76"], "site": "hmeimim",
                       "radius_km": 50}),
         R.parse_rule({"name": "dark", "kind": "event", "event_kind": "dark-visit"})],
        [{"type": "webhook", "url": hook, "backoff_s": 0.01}, {"type": "email", "to": "a@example.org", "smtp": smtp},
         {"type": "log", "path": "alerts.log"}],
    )
    raised = engine.check(ws.store, ws.sites, cfg, ws.folder)
    assert sorted(r["rule"] for r in raised) == ["airlift", "dark"]
    airlift = next(r for r in raised if r["rule"] == "airlift")
    assert airlift["subject"] == "151abc" and airlift["data"]["dist_km"] <= 50  # entered the 50 km circle
    assert all(set(r["delivery"].values()) == {"ok"} for r in raised)
    assert len(_Hook.received) == 2 and len(_Smtp.messages) == 2
    assert "An-124 likely landed" in "".join(_Smtp.messages)
    assert len((ws.folder / "alerts.log").read_text().splitlines()) == 2
    # exactly once: a second check raises nothing and sends nothing
    assert engine.check(ws.store, ws.sites, cfg, ws.folder) == []
    assert len(_Hook.received) == 2 and ws.store.count("alerts") == 2


def test_webhook_retries_with_backoff_then_records_failure(servers: tuple[str, str], tmp_path: Path) -> None:
    hook, _ = servers
    _Hook.fail_first = 2
    assert C.send({"type": "webhook", "url": hook, "backoff_s": 0.01}, {"x": 1}, tmp_path) == "ok"
    assert _Hook.received == [{"x": 1}]
    out = C.send({"type": "webhook", "url": "http://127.0.0.1:9/none", "attempts": 2, "backoff_s": 0.01},
                 {"x": 1}, tmp_path)
    assert out.startswith("error: webhook failed after 2 attempts")


def test_bad_rules_are_refused_with_the_rule_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'x'.*kind"):
        R.parse_rule({"name": "x", "kind": "nope"})
    with pytest.raises(ConfigError, match="needs 'site'"):
        R.parse_rule({"name": "x", "kind": "evidence", "evidence_kind": "ships-at-quay"})
    with pytest.raises(ConfigError, match="unknown keys"):
        R.parse_rule({"name": "x", "kind": "event", "event_kind": "a", "sitee": "t"})
    (tmp_path / "watch.yaml").write_text("rules: [\n  - name: a\n    kind: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        R.load(tmp_path)


def test_watch_cli_round_trip(ws: Workspace, servers: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    hook, _ = servers
    _seed(ws)
    w = str(ws.folder)
    ws.close()
    assert main(["-w", w, "watch", "add", "airlift", "--type", "A124,IL76", "--near", "hmeimim"]) == 0
    assert main(["-w", w, "watch", "add", "dark", "--event", "dark-visit"]) == 0
    assert main(["-w", w, "watch", "add", "dark", "--event", "dark-visit"]) == 2
    assert main(["-w", w, "watch", "channel", "webhook", hook]) == 0
    capsys.readouterr()
    assert main(["-w", w, "watch", "check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and len(_Hook.received) == 2
    assert main(["-w", w, "watch", "check"]) == 0
    assert capsys.readouterr().out.strip() == ""
    assert main(["-w", w, "alerts", "--format", "ndjson"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
