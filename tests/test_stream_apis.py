"""Live web APIs offline: readsb v2 APIs, a receiver's aircraft.json, OpenSky, aisstream.io — and their outages.

Stand-in servers on 127.0.0.1 replay the real recorded responses of ``../shared/data/api-samples``
(the ADSB-One ``/v2/icao`` answer: ``now`` in ms; a dump1090-fa ``aircraft.json``: ``now`` in s;
OpenSky ``/states/all``; skipped with a reason where absent) and messages built to the documented
schemas (aisstream.io's ``type-definition.yaml``: no real frame was recorded). Faults: 429 with
Retry-After, 503, a timeout, a body cut short, an HTML page instead of JSON, unknown fields
(tolerated), missing fields (quarantined), a dropped WebSocket, a refused key. Each server and
feed is bounded in requests and seconds. Keys and tokens must never reach logs, output or the
store. Tests that talk to the real services carry the ``live`` marker and run only with
``SITEWATCH_LIVE=1 pytest -m live tests/test_stream_apis.py``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from tests.conftest import shared

from sitewatch import sites as S
from sitewatch.acquire import sources
from sitewatch.acquire.aisstream import AisStream, go_time_us
from sitewatch.acquire.opensky import OpenSky, credits_of, parse_states
from sitewatch.acquire.readsb_api import parse_envelope, read_aircraft, service
from sitewatch.analytics._outages import Outages
from sitewatch.analytics.air import _pipeline
from sitewatch.analytics.air import gaps as G
from sitewatch.analytics.air._airfields import Airfields
from sitewatch.analytics.air._params import AirParams
from sitewatch.cli import main
from sitewatch.live import api_feed
from sitewatch.live._net import Document
from sitewatch.live._outages import OutageBook
from sitewatch.live._poll import PollOptions
from sitewatch.live._ws import WsOptions, accept_key, decode_frame, encode_frame
from sitewatch.store import positions_air as AIR
from sitewatch.store.db import Store
from sitewatch.store.ingest_log import sources as fetched_sources
from sitewatch.workspace import Workspace

SAMPLES = "data/api-samples"
V2 = f"{SAMPLES}/adsb-readsb/v2_icao_A9CEE9_adsb-one_2023-02-05.json"
RECEIVER = f"{SAMPLES}/adsb-readsb/aircraft_dump1090-fa_2020-05-19.json"
OS_EXT = f"{SAMPLES}/opensky/states_all_extended_python-opensky_2023-05-07.json"
OS_17 = f"{SAMPLES}/opensky/states_all_gopensky_2018-02-13.json"
OS_NULL = f"{SAMPLES}/opensky/states_all_null_python-opensky.json"
SECRET = "sk-test-Zq9fXw81-do-not-log"  # a stand-in key: it must appear nowhere but in requests


# -- stand-in HTTP API -------------------------------------------------------------------------------
@dataclass
class Step:
    """One scripted answer: status, body, headers; ``cut`` sends only that many bytes of a
    body announced whole; ``sleep_s`` waits before answering (a timeout)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    cut: int | None = None
    sleep_s: float = 0.0


@dataclass
class StandIn:
    """Routes by path prefix to scripted steps (consumed in order; the last one repeats)."""

    routes: dict[str, list[Step]]
    log: list[tuple[float, str, str, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""
    max_requests: int = 200

    def serve(self) -> Iterator[StandIn]:
        me = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                me.log.append((time.monotonic(), self.command, self.path, dict(self.headers), body))
                if len(me.log) > me.max_requests:  # bounded: a runaway client gets nothing more
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                key = max((k for k in me.routes if self.path.startswith(k)), key=len, default=None)
                steps = me.routes.get(key or "", [])
                step = (steps.pop(0) if len(steps) > 1 else steps[0]) if steps else Step(404)
                if callable(step):
                    step = step(self)
                if step.sleep_s:  # the client has given up by then: its socket may be gone
                    time.sleep(step.sleep_s)
                try:
                    self._send(step)
                except OSError:
                    self.close_connection = True

            def _send(self, step: Step) -> None:
                self.send_response(step.status)
                for k, v in step.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(step.body)))
                self.end_headers()
                if step.cut is not None:
                    self.wfile.write(step.body[: step.cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(step.body)

        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.daemon_threads = True
        self.url = f"http://127.0.0.1:{srv.server_address[1]}"
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            yield self
        finally:
            srv.shutdown()
            srv.server_close()


def _ws(tmp_path: Path, *sites: S.Site) -> Workspace:
    w = Workspace.init(tmp_path / "ws")
    for s in sites:
        w.put_site(s)
    return w


SPRINGFIELD = S.circle_site("springfield", "airbase", 37.36, -93.37, 10.0)  # where the real v2 aircraft flew


def _fast(**kw: Any) -> PollOptions:
    base = {"interval_s": 0.2, "spacing_s": 0.02, "backoff_s": 0.1, "backoff_max_s": 0.4, "timeout_s": 2.0}
    return PollOptions(**{**base, **kw})


def _secret_nowhere(ws: Workspace, *texts: str) -> None:
    for t in texts:
        assert SECRET not in t
    for table, cols in (("ingest_log", "path, options"), ("quarantine", "raw, reason"), ("feed_outages", "reason")):
        for row in ws.store.sql(f"SELECT {cols} FROM {table}"):
            assert SECRET not in json.dumps(row, default=str)


# -- readsb v2 APIs ----------------------------------------------------------------------------------
def test_now_is_ms_in_v2_and_s_in_aircraft_json() -> None:
    now_v2, recs_v2, c2 = parse_envelope(shared(V2).read_bytes(), 0.0)
    now_rx, recs_rx, c1 = parse_envelope(shared(RECEIVER).read_bytes(), 0.0)
    assert now_v2 == pytest.approx(1675633671.226) and c2 == {"now_in_ms": 1} and len(recs_v2) == 1
    assert now_rx == 1589902035.0 and c1 == {} and len(recs_rx) == 36
    for bad, why in ((b"<html>Too busy</html>", "not JSON"), (b'{"msg": "ok"}', "no 'ac'"), (b"[1]", "object")):
        with pytest.raises(ValueError, match=why):
            parse_envelope(bad, 0.0)


def test_records_missing_fields_quarantined_unknown_fields_tolerated() -> None:
    recs: list[Any] = [
        {"hex": "4b1805", "lat": 35.4, "lon": 35.9, "alt_baro": "ground", "seen_pos": 0.4, "flight": "RFF7801 ",
         "brand_new_field": {"x": 1}, "r": "RA-82042", "t": "A124", "dbFlags": 1},
        {"lat": 35.5, "lon": 35.8, "seen_pos": 1.0},  # no hex
        {"hex": "4b1806", "lat": 35.5, "seen_pos": 1.0},  # lon missing
        {"hex": "4b1807", "alt_baro": 9000},  # no position at all: counted, not an error
        "not-an-object",
    ]
    batches = read_aircraft(1700000000.0, recs, 100, "readsb-api", {"now_in_ms": 1}, set())
    pos = next(b for b in batches if b.table == "positions" and b.rows.num_rows)
    assert pos.rows.column("id").to_pylist() == ["4b1805"]
    assert pos.rows.column("onground").to_pylist() == [True]
    assert pos.rows.column("t_utc")[0].as_py() == datetime.fromtimestamp(1700000000.0 - 0.4, UTC)
    assert pos.rows.column("rec_offset").to_pylist() == [101] and pos.rows.column("format")[0].as_py() == "readsb-api"
    rejects = [r for b in batches for r in b.rejects]
    assert sorted(r.offset for r in rejects) == [102, 103, 105]
    assert {r.reason for r in rejects} >= {"icao24 is not a 24-bit hex address", "aircraft record is not an object"}
    counters = {k: v for b in batches for k, v in b.counters.items()}
    assert counters["no_position"] == 1 and counters["now_in_ms"] == 1
    ac = next(b for b in batches if b.table == "aircraft")
    assert ac.rows.column("typecode").to_pylist() == ["A124"] and ac.rows.column("military").to_pylist() == [True]


def test_v2_api_polled_replays_the_real_answer_once(tmp_path: Path) -> None:
    body = shared(V2).read_bytes()
    for srv in StandIn({"/v2/point/": [Step(200, body)]}).serve():
        with _ws(tmp_path, SPRINGFIELD) as ws:
            svc = service("adsblol")
            svc.api = replace(svc.api, base=f"{srv.url}/v2")  # adsb.lol's terms, the stand-in's address
            feed = api_feed(ws, svc.client([ws.site("springfield")], 40.0, _fast()), commit_s=0.3, max_messages=4)
            stats = feed.run()
            # four polls of the same answer: one position (same time and place), one aircraft
            assert stats.messages == 4 and stats.positions == 1 and stats.counters["repeated_positions"] == 3
            row = ws.store.rows("SELECT id, t_utc, alt_ft, callsign, format FROM positions")[0]
            assert row["id"] == "a9cee9" and row["callsign"] == "N731BP" and row["format"] == "readsb-api"
            assert abs(row["t_utc"].timestamp() - (1675633671.226 - 3.486)) < 1e-3
            paths = [p for _, _, p, _, _ in srv.log]
            assert paths[0] == "/v2/point/37.36000/-93.37000/40"
            src = fetched_sources(ws.store)
            assert src[0]["source"] == "adsblol" and src[0]["licence"] == "ODbL-1.0" and src[0]["rows"] == 1
            log = ws.store.rows("SELECT kind, format, accepted FROM ingest_log")[0]
            assert log == {"kind": "adsb", "format": "readsb-api-stream", "accepted": 1}
            assert ws.store.count("feed_outages") == 0


def test_receiver_aircraft_json_gives_the_file_readers_rows(tmp_path: Path) -> None:
    from sitewatch.sources.base import ReadOptions, iter_inputs, readers

    path = shared(RECEIVER)
    src = next(iter_inputs([path]))
    want = sum(b.rows.num_rows for b in readers("adsb")["readsb-aircraft"].read(src, ReadOptions())
               if b.table == "positions")
    for srv in StandIn({"/data/aircraft.json": [Step(200, path.read_bytes())]}).serve():
        with _ws(tmp_path) as ws:
            client = service(f"{srv.url}/data/aircraft.json").client([], None, _fast())
            assert client.api.api.layout == "aircraft-json" and client.areas() == {"receiver": None}
            feed = api_feed(ws, client, commit_s=0.3, max_messages=2)
            stats = feed.run()
            assert stats.positions == want >= 16
            t = ws.store.scalar("SELECT max(t_utc) FROM positions")
            assert t.date().isoformat() == "2020-05-19"  # seconds, not read as milliseconds


def test_faults_are_outages_and_the_feed_recovers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    body = shared(V2).read_bytes()
    steps = [Step(429, b"", {"Retry-After": "1"}), Step(503), Step(200, body, sleep_s=1.5),  # 429, 5xx, timeout
             Step(200, body, cut=40), Step(200, b"<html><body>rate limited</body></html>"), Step(200, body)]
    caplog.set_level(logging.DEBUG)
    for srv in StandIn({"/v2/point/": steps}).serve():
        with _ws(tmp_path, SPRINGFIELD) as ws:
            svc = service(f"{srv.url}/v2", "point")
            feed = api_feed(ws, svc.client([ws.site("springfield")], 30.0, _fast(timeout_s=0.7)), commit_s=0.2,
                            max_messages=3, max_s=20)
            t0 = time.monotonic()
            stats = feed.run()
            times = [t for t, *_ in srv.log]
            assert times[1] - times[0] >= 0.95  # Retry-After honoured
            assert time.monotonic() - t0 < 15
            assert stats.positions == 1
            out = ws.store.rows("SELECT origin, ongoing, failures, reason, lat_min, lat_max, t_start_utc, t_end_utc "
                                "FROM feed_outages")
            assert len(out) == 1, out  # one dark stretch: from the start to the first good answer
            o = out[0]
            assert o["origin"] == "springfield" and o["ongoing"] is False and o["failures"] == 5
            assert "not JSON" in o["reason"] and o["lat_min"] < 37.36 < o["lat_max"]
            assert o["t_end_utc"] > o["t_start_utc"]
            q = ws.store.rows("SELECT rec_offset, offset_unit, reason FROM quarantine")
            assert [r["offset_unit"] for r in q] == ["document"] and "not JSON" in q[0]["reason"]
    reasons = " ".join(r.getMessage() for r in caplog.records)
    assert "429" in reasons and "503" in reasons and "cut short" in reasons


def test_first_answer_404_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for srv in StandIn({"/": [Step(404)]}).serve():
        main(["init", str(tmp_path / "ws")])
        main(["-w", str(tmp_path / "ws"), "site", "add", "springfield", "--point", "37.36,-93.37"])
        capsys.readouterr()
        code = main(["-q", "-w", str(tmp_path / "ws"), "stream", "adsb", "--api", f"{srv.url}/nope",
                     "--duration", "5"])
        err = capsys.readouterr().err
        assert code == 2 and "HTTP 404 on the first request" in err and len(err.strip().splitlines()) == 1


def test_adsbx_key_from_the_environment_sent_never_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = shared(V2).read_bytes()
    monkeypatch.delenv("ADSBX_API_KEY", raising=False)
    main(["init", str(tmp_path / "ws")])
    main(["-w", str(tmp_path / "ws"), "site", "add", "springfield", "--point", "37.36,-93.37"])
    capsys.readouterr()
    assert main(["-w", str(tmp_path / "ws"), "stream", "adsb", "--api", "adsbx", "--duration", "1"]) == 2
    assert "set ADSBX_API_KEY" in capsys.readouterr().err
    monkeypatch.setenv("MY_ADSBX", SECRET)
    with Workspace.open(tmp_path / "ws") as ws:  # the workspace names the variable, not the key
        ws.config["settings"]["keys"] = {"adsbx": "env:MY_ADSBX"}
        ws.save()
    for srv in StandIn({"/v2/lat/": [Step(429, b"", {"Retry-After": "0"}), Step(200, body)]}).serve():
        from sitewatch.acquire import readsb_api

        cls = type(readsb_api._SERVICES["adsbx"])
        monkeypatch.setattr(cls, "api", replace(cls.api, base=f"{srv.url}/v2"))
        code = main(["-w", str(tmp_path / "ws"), "stream", "adsb", "--api", "adsbx", "--radius-nm", "25",
                     "--max-messages", "1", "--duration", "10", "--interval", "1"])
        out = capsys.readouterr()
        assert code == 0, out.err
        summary = json.loads(out.out.strip().splitlines()[-1])
        assert summary["positions"] == 1 and summary["outages"] == 1
        sent = [{k.lower(): v for k, v in h.items()} for *_, h, _b in srv.log]
        assert all(h.get("x-rapidapi-key") == SECRET for h in sent)
        assert srv.log[-1][2] == "/v2/lat/37.36000/lon/-93.37000/dist/25/"
        with Workspace.open(tmp_path / "ws") as ws:
            _secret_nowhere(ws, out.out, out.err, " ".join(r.getMessage() for r in caplog.records))
            (cfg,) = [p.read_text() for p in (tmp_path / "ws").glob("sitewatch.toml")]
            assert SECRET not in cfg
    with Workspace.open(tmp_path / "ws") as ws:
        ws.config["settings"]["keys"] = {"adsbx": SECRET}  # a literal key: refused without repeating it
        ws.save()
    code = main(["-w", str(tmp_path / "ws"), "stream", "adsb", "--api", "adsbx", "--duration", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "must name an environment variable" in err and SECRET not in err


def test_stream_cli_needs_one_source_and_lists_api_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stream", "adsb", "--help"]) == 0
    text = capsys.readouterr().out
    for example in ("--api adsblol --site hmeimim", "--opensky --site hmeimim", "aircraft.json"):
        assert example in text
    assert main(["stream", "ais", "--help"]) == 0
    assert "--aisstream --site tartus" in capsys.readouterr().out
    assert main(["-w", "/nonexistent-sitewatch-ws", "stream", "adsb", "--api", "adsblol", "--opensky"]) == 2
    assert "exactly one of" in capsys.readouterr().err
    assert set(sources("adsb-live")) >= {"adsblol", "airplaneslive", "adsbfi", "adsbx", "opensky"}


# -- OpenSky -------------------------------------------------------------------------------------------
def test_opensky_real_state_vectors() -> None:
    b, n = parse_states(shared(OS_EXT).read_bytes())
    assert n == 4 and b.rows.num_rows == 4 and not b.rejects
    r = b.rows.to_pylist()[0]
    assert r["id"] == "ab1644" and r["callsign"] == "UAL421"
    assert r["alt_ft"] == pytest.approx(2217.42 * 3.28084) and r["speed_kt"] == pytest.approx(137.8 * 1.943844)
    assert r["vrate_fpm"] == pytest.approx(13 * 196.850394) and r["t_utc"] == datetime.fromtimestamp(1683488743, UTC)
    b17, n17 = parse_states(shared(OS_17).read_bytes())  # 17-field vectors, one on ground without position
    assert n17 == 6 and b17.rows.num_rows + b17.counters.get("no_position", 0) == 6
    bnull, nnull = parse_states(shared(OS_NULL).read_bytes())
    assert nnull == 0 and bnull.rows.num_rows == 0
    short, _ = parse_states(b'{"time": 1, "states": [["abcdef", "X"], ["zzzzzz", null, "", 1, 1, 10.0, 50.0, '
                            b'1000, false, 100, 90, 0, null, null, null, false, 0, 1]]}')
    assert sorted(r.reason for r in short.rejects) == ["icao24 is not a 24-bit hex address",
                                                       "state vector with 2 fields, expected 17 or 18"]
    assert credits_of((35.0, 36.0, 35.0, 36.5)) == 1 and credits_of((30.0, 40.0, 30.0, 40.0)) == 2


def test_opensky_oauth_token_renewed_on_401(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = shared(OS_EXT).read_bytes()
    tokens = iter([f"{SECRET}-token-1", f"{SECRET}-token-2"])

    def token(_h: Any) -> Step:
        return Step(200, json.dumps({"access_token": next(tokens), "expires_in": 1800}).encode())

    def states(h: Any) -> Step:  # the first token "expires" after one answer
        if h.headers.get("Authorization", "").endswith("token-1") and sum("/states/" in p for _, _, p, _, _ in
                                                                          srv.log) > 1:
            return Step(401)
        return Step(200, body)

    monkeypatch.setenv("OPENSKY_CLIENT_ID", "sitewatch-test")
    monkeypatch.setenv("OPENSKY_CLIENT_SECRET", SECRET)
    for srv in StandIn({"/auth/token": [token], "/api/states/all": [states]}).serve():
        with _ws(tmp_path, SPRINGFIELD) as ws:
            src = OpenSky().configured(f"{srv.url}/api", f"{srv.url}/auth/token", ws.settings)
            client = src.client([ws.site("springfield")], 60.0, _fast(interval_s=0.3), interval_given=True)
            stats = api_feed(ws, client, commit_s=0.2, max_messages=3, max_s=10).run()
            assert stats.messages == 3 and stats.positions == 4  # same states again: no new rows
            posts = [b.decode() for _, m, p, _, b in srv.log if m == "POST"]
            assert len(posts) == 2 and all("grant_type=client_credentials" in b for b in posts)
            q = next(p for _, m, p, _, _ in srv.log if m == "GET")
            assert q.startswith("/api/states/all?lamin=") and "extended=1" in q
            opts = json.loads(ws.store.scalar("SELECT options FROM ingest_log"))
            assert opts["tier"] == "account" and opts["provenance"]["source"] == "opensky"
            assert opts["provenance"]["keep"] == {"sites": ["springfield"]}
            _secret_nowhere(ws, " ".join(r.getMessage() for r in caplog.records), repr(src.token))


def test_opensky_anonymous_interval_fits_the_daily_credits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENSKY_CLIENT_ID", raising=False)
    monkeypatch.delenv("OPENSKY_CLIENT_SECRET", raising=False)
    src = OpenSky().configured(None, None, {})
    assert src.tier == "anonymous" and src.headers() == {}
    opts = PollOptions()
    client = src.client([SPRINGFIELD, S.circle_site("b", "airbase", 35.4, 35.95, 6.0)], 60.0, opts, False)
    assert opts.interval_s == pytest.approx(86400 * 2 / 400)  # two 1-credit boxes, 400 credits a day
    assert client.credits_per_day == 400
    monkeypatch.setenv("OPENSKY_CLIENT_ID", "only-the-id")
    with pytest.raises(Exception, match="both OPENSKY_CLIENT_ID and OPENSKY_CLIENT_SECRET"):
        OpenSky().configured(None, None, {})


# -- aisstream.io over a stand-in WebSocket ------------------------------------------------------------
def test_websocket_framing_matches_rfc6455() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3
    hello = bytes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])  # §5.7, masked "Hello"
    assert decode_frame(hello) == (True, 0x1, b"Hello", len(hello))
    assert encode_frame(0x1, b"Hello", None) == bytes([0x81, 0x05]) + b"Hello"
    assert encode_frame(0x1, b"Hello", bytes([0x37, 0xFA, 0x21, 0x3D])) == hello
    for n in (125, 126, 65535, 65536):
        fr = encode_frame(0x2, bytes(n), b"abcd")
        assert decode_frame(fr) == (True, 0x2, bytes(n), len(fr)) and decode_frame(fr[:-1]) is None


@dataclass
class WsStandIn:
    """A WebSocket server on 127.0.0.1: per connection, a script of messages, then a close or a drop."""

    scripts: list[list[bytes | str]]  # per connection; "drop" ends it without a close frame, "close" with one
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    sub_delay_s: list[float] = field(default_factory=list)
    url: str = ""

    def serve(self) -> Iterator[WsStandIn]:
        srv = socket.create_server(("127.0.0.1", 0))
        srv.settimeout(0.2)
        self.url = f"ws://127.0.0.1:{srv.getsockname()[1]}/v0/stream"
        stop = threading.Event()

        def run() -> None:
            k = 0
            while not stop.is_set() and k < len(self.scripts):
                try:
                    conn, _ = srv.accept()
                except TimeoutError:
                    continue
                with conn:
                    self._session(conn, self.scripts[k])
                k += 1

        t = threading.Thread(target=run, daemon=True)
        t.start()
        try:
            yield self
        finally:
            stop.set()
            t.join(5)
            srv.close()

    def _session(self, conn: socket.socket, script: list[bytes | str]) -> None:
        conn.settimeout(5)
        req = b""
        while b"\r\n\r\n" not in req:
            req += conn.recv(4096)
        t_open = time.monotonic()
        key = next(ln.split(":", 1)[1].strip() for ln in req.decode().split("\r\n")
                   if ln.lower().startswith("sec-websocket-key"))
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode())
        buf = b""
        while (fr := decode_frame(buf)) is None:  # the client's subscription, masked
            buf += conn.recv(4096)
        self.sub_delay_s.append(time.monotonic() - t_open)
        self.subscriptions.append(json.loads(fr[2]))
        for m in script:
            if m == "drop":
                conn.shutdown(socket.SHUT_RDWR)
                return
            if m == "close":
                conn.sendall(encode_frame(0x8, struct.pack("!H", 1000), None))
                return
            if m == "ping":
                conn.sendall(encode_frame(0x9, b"hi", None))
                continue
            data = m if isinstance(m, bytes) else m.encode()
            half = len(data) // 2  # fragmented: a text frame without FIN, then its continuation
            conn.sendall(_frame(0x1, data[:half], fin=False) + _frame(0x0, data[half:], fin=True))
            time.sleep(0.01)
        time.sleep(0.3)


def _frame(opcode: int, payload: bytes, fin: bool) -> bytes:
    fr = bytearray(encode_frame(opcode, payload, None))
    fr[0] = (0x80 if fin else 0) | opcode
    return bytes(fr)


T_UTC = "2024-12-08 06:00:01.123456789 +0000 UTC"


def _position(mmsi: int, lat: float, lon: float, t: str = T_UTC, mtype: str = "PositionReport",
              **extra: Any) -> str:
    body = {"MessageID": 1, "RepeatIndicator": 0, "UserID": mmsi, "Valid": True, "NavigationalStatus": 5,
            "RateOfTurn": 0, "Sog": 0.1, "PositionAccuracy": True, "Longitude": lon, "Latitude": lat, "Cog": 360,
            "TrueHeading": 511, "Timestamp": 1, "SpecialManoeuvreIndicator": 0, "Spare": 0, "Raim": False,
            "CommunicationState": 0, **extra}
    return json.dumps({"MessageType": mtype, "MetaData": {"MMSI": mmsi, "MMSI_String": str(mmsi),
                                                          "ShipName": "ADMIRAL GRIGOROVICH  ", "latitude": lat,
                                                          "longitude": lon, "time_utc": t},
                       "Message": {mtype: body}})


def _static(mmsi: int) -> str:
    body = {"MessageID": 5, "RepeatIndicator": 0, "UserID": mmsi, "Valid": True, "AisVersion": 1,
            "ImoNumber": 0, "CallSign": "RMAD ", "Name": "ADMIRAL GRIGOROVICH@@@@", "Type": 35,
            "Dimension": {"A": 100, "B": 25, "C": 8, "D": 7}, "FixType": 1,
            "Eta": {"Month": 12, "Day": 9, "Hour": 6, "Minute": 0}, "MaximumStaticDraught": 4.2,
            "Destination": "TARTUS", "Dte": False, "Spare": False, "SomeFutureField": [1, 2]}
    return json.dumps({"MessageType": "ShipStaticData", "MetaData": {"MMSI": mmsi, "time_utc": T_UTC},
                       "Message": {"ShipStaticData": body}})


TARTUS = S.circle_site("tartus", "port", 34.9, 35.87, 5.0)


_HOSTILE = (float("inf"), float("-inf"), float("nan"), 10 ** 400, -(10 ** 400), 1e300, 2 ** 63, True, "12", None,
            [1], {"x": 1})


def test_aisstream_hostile_numbers_are_quarantined_or_dropped_never_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """JSON admits Infinity, NaN and integers beyond any float: each numeric field of a position
    report and a static report, given each such value, once stopped the stream (OverflowError)."""
    monkeypatch.setenv("AISSTREAM_API_KEY", SECRET)
    client = AisStream().configured(None, {}).client([TARTUS], 20.0, WsOptions())
    pos_fields = ("UserID", "Latitude", "Longitude", "Sog", "Cog", "TrueHeading", "NavigationalStatus")
    static_fields = ("ImoNumber", "Type", "MaximumStaticDraught")
    n = 0
    for v in _HOSTILE:
        for f in pos_fields:
            doc = json.loads(_position(273456780, 34.91, 35.86))
            doc["Message"]["PositionReport"][f] = v
            client.take(Document(json.dumps(doc).encode(), "tartus", 1733637600.0))
            n += 1
        for f in static_fields:
            doc = json.loads(_static(273456780))
            doc["Message"]["ShipStaticData"][f] = v
            client.take(Document(json.dumps(doc).encode(), "tartus", 1733637600.0))
            n += 1
        doc = json.loads(_static(273456780))
        doc["Message"]["ShipStaticData"]["Dimension"] = {"A": v, "B": 1, "C": v, "D": 2}
        client.take(Document(json.dumps(doc).encode(), "tartus", 1733637600.0))
        n += 1
    out = client.drain(True)
    pos = [b for b in out if b.table == "positions" and b.rows.num_rows]
    rejects = [r for b in out for r in b.rejects]
    stored = sum(b.rows.num_rows for b in pos)
    reports = sum(b.rows.num_rows for b in out if b.table == "vessel_reports")
    # each position message is stored or quarantined with a reason; each static one makes a report
    assert stored + len(rejects) == len(_HOSTILE) * len(pos_fields)
    assert reports == n - len(_HOSTILE) * len(pos_fields)
    assert {r.reason for r in rejects} <= {"PositionReport without a usable UserID (MMSI)",
                                           "PositionReport without Latitude/Longitude",
                                           "latitude/longitude out of range (91/181: not available)"}
    rows = pa.concat_tables([b.rows for b in pos]).to_pylist()
    assert all(r["status"] is None or isinstance(r["status"], str) for r in rows)
    assert all(r["speed_kt"] is None or math.isfinite(r["speed_kt"]) for r in rows)


def test_go_time_layout() -> None:
    assert go_time_us(T_UTC) == round(datetime(2024, 12, 8, 6, 0, 1, 123456, UTC).timestamp() * 1e6)
    assert go_time_us("2024-12-08 08:00:01 +0200 EET") == round(datetime(2024, 12, 8, 6, 0, 1, tzinfo=UTC)
                                                                .timestamp() * 1e6)
    assert go_time_us("yesterday") is None and go_time_us(None) is None


def test_aisstream_stream_with_a_drop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AISSTREAM_API_KEY", SECRET)
    first = [_position(273456780, 34.91, 35.86), _static(273456780), "ping",
             _position(273456781, 34.92, 35.85, mtype="StandardClassBPositionReport", ClassBUnit=True),
             json.dumps({"MessageType": "BaseStationReport", "MetaData": {}, "Message": {"BaseStationReport": {}}}),
             "{not json", _position(273456782, 91.0, 181.0),  # 91/181: not available
             json.dumps({"MessageType": "PositionReport", "MetaData": {"MMSI": 273456783},
                         "Message": {"PositionReport": {"UserID": 273456783, "Valid": True}}}),
             _position(273456784, 34.9, 35.8, Valid=False), "drop"]
    second = [_position(273456780, 34.915, 35.861, t="2024-12-08 06:05:00 +0000 UTC"), "close"]
    for srv in WsStandIn([first, second]).serve():
        with _ws(tmp_path, TARTUS) as ws:
            client = AisStream().configured(srv.url, ws.settings).client(
                [ws.site("tartus")], 20.0, WsOptions(backoff_s=0.2, backoff_max_s=0.4, timeout_s=2.0))
            feed = api_feed(ws, client, commit_s=0.2, max_s=8, max_messages=9)
            stats = feed.run()
            assert len(srv.subscriptions) == 2 and max(srv.sub_delay_s) < 3.0  # within aisstream's 3 s
            sub = srv.subscriptions[0]
            assert sub["APIKey"] == SECRET and "PositionReport" in sub["FilterMessageTypes"]
            (box,) = sub["BoundingBoxes"]
            assert box[0][0] < 34.9 < box[1][0] and box[0][1] < 35.87 < box[1][1]
            pos = ws.store.rows("SELECT id, t_utc, onground, heading_deg, callsign, format FROM positions ORDER BY t_utc, id")
            assert [p["id"] for p in pos] == ["273456780", "273456781", "273456780"]
            assert pos[0]["onground"] is True and pos[0]["heading_deg"] is None  # moored; 511 = n/a
            assert pos[0]["callsign"] == "ADMIRAL GRIGOROVICH" and pos[0]["format"] == "aisstream"
            assert pos[0]["t_utc"] == datetime(2024, 12, 8, 6, 0, 1, 123456, UTC)
            rep = ws.store.rows("SELECT name, callsign, ship_type, length_m, width_m, destination, imo "
                                "FROM vessel_reports")
            assert rep == [{"name": "ADMIRAL GRIGOROVICH", "callsign": "RMAD", "ship_type": 35, "length_m": 125.0,
                            "width_m": 15.0, "destination": "TARTUS", "imo": None}]
            assert ws.store.scalar("SELECT name FROM vessels WHERE mmsi = '273456780'") == "ADMIRAL GRIGOROVICH"
            reasons = sorted(r[0] for r in ws.store.sql("SELECT reason FROM quarantine"))
            assert len(reasons) == 4 and any("not JSON" in r for r in reasons)
            assert any("out of range" in r for r in reasons) and any("without Latitude" in r for r in reasons)
            assert any("not valid" in r for r in reasons)
            assert stats.counters["other_message_types"] == 1
            (o,) = ws.store.rows("SELECT origin, ongoing, lat_min FROM feed_outages")
            assert o["origin"] == "tartus" and o["ongoing"] is False and o["lat_min"] < 34.9
            log = ws.store.rows("SELECT kind, format, accepted FROM ingest_log")[0]
            assert log == {"kind": "ais", "format": "aisstream-stream", "accepted": 4}
            _secret_nowhere(ws, " ".join(r.getMessage() for r in caplog.records), repr(client.key))


def test_aisstream_refused_key_is_one_line_without_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AISSTREAM_API_KEY", SECRET)
    refusal = json.dumps({"error": f"Api Key Is Not Valid: {SECRET}"})  # even if the server echoed it
    for srv in WsStandIn([[refusal, "close"]]).serve():
        main(["init", str(tmp_path / "ws")])
        main(["-w", str(tmp_path / "ws"), "site", "add", "tartus", "--point", "34.9,35.87", "--kind", "port"])
        capsys.readouterr()
        code = main(["-w", str(tmp_path / "ws"), "stream", "ais", "--aisstream", "--aisstream-url", srv.url,
                     "--duration", "5"])
        out = capsys.readouterr()
        assert code == 2 and "refused the subscription" in out.err and SECRET not in out.err + out.out
    monkeypatch.delenv("AISSTREAM_API_KEY")
    assert main(["-w", str(tmp_path / "ws"), "stream", "ais", "--aisstream", "--duration", "1"]) == 2
    assert "AISSTREAM_API_KEY" in capsys.readouterr().err


# -- Kystverket's open NMEA feed through --tcp ------------------------------------------------------------
def test_kystverket_capture_over_tcp_gives_the_file_rows_and_its_terms(tmp_path: Path) -> None:
    from sitewatch.acquire import kystverket
    from sitewatch.live.ais import AisStream as NmeaStream
    from sitewatch.sources.base import ReadOptions, detect, iter_inputs

    path = shared(f"{SAMPLES}/kystverket-ais/Ais1000Lines.nm4")
    src = next(iter_inputs([path]))
    want = sum(b.rows.num_rows for b in detect("ais", src).read(src, ReadOptions()) if b.table == "positions")
    data = path.read_bytes()
    data += b"" if data.endswith(b"\n") else b"\r\n"  # the capture's last line ends at the file's end
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(10)

    def feed() -> None:
        conn, _ = srv.accept()
        with conn:
            for k in range(0, len(data), 4096):  # as it arrives: lines cut across reads
                conn.sendall(data[k:k + 4096])
                time.sleep(0.005)
            time.sleep(0.5)

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    try:
        with _ws(tmp_path) as ws:
            assert kystverket.address("kystverket") == "153.44.253.27:5631"
            stream = NmeaStream(ws.store, tcp=srv.getsockname()[:2], commit_s=0.2, max_s=3,
                                provenance=kystverket.provenance("153.44.253.27", 5631))
            stats = stream.run()
            assert stats.positions == want > 500
            (s,) = fetched_sources(ws.store)
            assert s["source"] == "kystverket" and s["licence"] == "NLOD-2.0" and "Kystverket" in s["attribution"]
    finally:
        t.join(5)
        srv.close()
    assert kystverket.provenance("127.0.0.1", 5631) is None


# -- outages are never dark gaps -----------------------------------------------------------------------
T0 = datetime(2024, 12, 8, 6, 0, tzinfo=UTC)


def _line(ident: str, t0: float, t1: float, lat: float, lon0: float, lon1: float, alt: float,
          step: float = 20.0) -> pa.Table:
    t = np.arange(t0, t1 + 1e-9, step)
    f = (t - t0) / max(t1 - t0, 1e-9)
    n = t.size
    return pa.table({
        "t_utc": pa.array([T0 + timedelta(seconds=float(s)) for s in t], pa.timestamp("us", tz="UTC")),
        "source": ["adsb"] * n, "id": [ident] * n, "lat": np.full(n, lat), "lon": lon0 + f * (lon1 - lon0),
        "alt_ft": np.full(n, alt), "speed_kt": np.full(n, 250.0), "track_deg": np.full(n, 90.0),
        "onground": [False] * n})


def _outage(ws_store: Store, t0_s: float, t1_s: float, box: tuple[float, float, float, float]) -> None:
    book = OutageBook("adsb", "readsb-api:http://stand-in/v2", {"hmeimim": box}, t0_s=0.0,
                      clock=lambda: 0.0)
    book.up("hmeimim", (T0 + timedelta(seconds=t0_s)).timestamp())
    book.down("hmeimim", (T0 + timedelta(seconds=t0_s + 60)).timestamp(), "HTTP 503")
    book.up("hmeimim", (T0 + timedelta(seconds=t1_s)).timestamp())
    (b,) = book.rows()
    ws_store.insert("feed_outages", b.rows.append_column("file_id", pa.array([1] * b.rows.num_rows, pa.int64())))


def test_an_outage_is_never_a_dark_gap(tmp_path: Path) -> None:
    p = AirParams()
    target = pa.concat_tables([_line("ccccc3", 0, 600, 35.0, 35.0, 35.2, 30000),
                               _line("ccccc3", 2400, 3000, 35.0, 35.6, 35.8, 30000)])  # 30 min unheard
    other = _line("ddddd4", 0, 3600, 35.05, 35.1, 35.3, 20000)  # heard all along (another feed)
    box = (34.0, 36.0, 34.5, 36.5)
    results = {}
    for name, outage in (("none", None), ("whole", (600.0, 2400.0)), ("part", (600.0, 1200.0))):
        st = Store(tmp_path / f"{name}.duckdb")
        st.insert("positions", pa.concat_tables([target, other]))
        if outage:
            _outage(st, *outage, box)
        results[name] = {e["subject"]: e for e in G.compute(st, AIR.store_relation(), p)}
        # the one-pass pipeline (analyze, Spark) agrees
        parts = list(AIR.track_partitions(st, AIR.store_relation(), total_rows=st.count("positions")))
        res = _pipeline.run(parts, Airfields(["XXXX"], [0.0], [0.0], [0.0], []), p, outages=Outages.load(st))
        assert {e["subject"] for e in res.gap_events} == set(results[name])
        if name == "whole":
            assert [(g["subject"], g["outage_s"]) for g in res.outage_gaps] == [("ccccc3", 1800.0)]
        st.close()
    assert results["none"]["ccccc3"]["details"]["cause"] == "likely transponder-off"
    assert "ccccc3" not in results["whole"]  # the feed was blind: no dark gap, hence no dark visit
    part = results["part"]["ccccc3"]  # 10 of 30 min blind: the rest still says others were heard
    assert part["details"]["outage_s"] == 600.0 and part["details"]["cause"] == "likely transponder-off"
    assert part["details"]["bins"] < results["none"]["ccccc3"]["details"]["bins"]


def test_outage_book_keeps_open_outages_and_closes_them_at_stop() -> None:
    now = [100.0]
    book = OutageBook("ais", "aisstream", {"a": (1.0, 2.0, 3.0, 4.0), "b": None}, t0_s=50.0, clock=lambda: now[0])
    book.down("a", 60.0, "HTTP 503")
    book.down("a", 70.0, "timeout")
    (b,) = book.rows()
    r = b.rows.to_pylist()[0]
    assert r["ongoing"] is True and r["failures"] == 2 and r["reason"] == "timeout"
    assert r["t_start_utc"] == datetime.fromtimestamp(50.0, UTC)  # nothing heard since the start
    assert book.rows() == []  # nothing changed since
    book.down("b", 80.0, "drop")
    now[0] = 120.0
    rows = book.rows(final=True)[0].rows.to_pylist()
    assert {x["origin"]: x["ongoing"] for x in rows} == {"a": False, "b": False}
    assert all(x["t_end_utc"] == datetime.fromtimestamp(120.0, UTC) for x in rows)
    assert [x["lat_min"] for x in rows if x["origin"] == "b"] == [None]


# -- the real services, only on request -----------------------------------------------------------------
live = pytest.mark.skipif(os.environ.get("SITEWATCH_LIVE") != "1",
                          reason="calls the real service: run with SITEWATCH_LIVE=1 pytest -m live")


@pytest.mark.live
@live
def test_live_adsblol_point_query(tmp_path: Path) -> None:
    with _ws(tmp_path, S.from_airport("lfpg", "LFPG")) as ws:
        stats = api_feed(ws, service("adsblol").client([ws.site("lfpg")], 30.0, PollOptions(interval_s=10.0)),
                         max_messages=2, max_s=60).run()
        assert stats.messages == 2


@pytest.mark.live
@live
def test_live_opensky_anonymous(tmp_path: Path) -> None:
    with _ws(tmp_path, S.from_airport("lfpg", "LFPG")) as ws:
        client = OpenSky().configured(None, None, ws.settings).client([ws.site("lfpg")], 30.0, PollOptions(), False)
        assert api_feed(ws, client, max_messages=1, max_s=60).run().messages == 1


@pytest.mark.live
@live
def test_live_aisstream(tmp_path: Path) -> None:
    if not os.environ.get("AISSTREAM_API_KEY"):
        pytest.skip("AISSTREAM_API_KEY not set")
    with _ws(tmp_path, S.from_port("rotterdam", "Rotterdam")) as ws:
        client = AisStream().configured(None, ws.settings).client([ws.site("rotterdam")], 20.0, WsOptions())
        assert api_feed(ws, client, max_messages=5, max_s=120).run().messages >= 1

