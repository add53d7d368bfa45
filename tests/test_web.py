"""Dashboard server: auth (tries to get in without a token), validation, traversal, live stream,
and the pages driven in headless Chromium (skipped with a reason where it is absent)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from sitewatch import sites as S
from sitewatch.analytics.base import events_table, position_ref
from sitewatch.errors import SitewatchError
from sitewatch.web import auth
from sitewatch.workspace import Workspace

T0 = datetime(2024, 12, 6, 6, 0, tzinfo=UTC)
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def _seed(folder: Path) -> dict[str, str]:
    ws = Workspace.init(folder)
    ws.put_site(S.from_airport("hmeimim", "OSLK", 6))
    rows: list[tuple[str, datetime, float, float]] = []
    for i in range(60):  # an An-124 landing from the west, an Il-76 leaving to the north
        rows.append(("151abc", T0 + timedelta(minutes=i), 35.40, 35.30 + 0.0108 * i))
        rows.append(("151def", T0 + timedelta(hours=3, minutes=i), 35.40 + 0.0108 * i, 35.95))
    ws.store.insert("positions", pa.table({
        "t_utc": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")), "source": ["adsb"] * len(rows),
        "id": [r[0] for r in rows], "lat": [r[2] for r in rows], "lon": [r[3] for r in rows],
        "alt_ft": [1000.0] * len(rows), "file_id": pa.array([1] * len(rows), pa.int64())}))
    ws.store.insert("events", events_table([
        {"kind": "arrival", "site": "hmeimim", "t_start": T0 + timedelta(minutes=59), "subject": "151abc",
         "subject_kind": "aircraft", "confidence": 0.9, "lat": 35.40, "lon": 35.94, "details": {"typecode": "A124"},
         "summary": "An-124 151abc arrived at hmeimim",
         "evidence": [position_ref("adsb", "151abc", T0, T0 + timedelta(minutes=59))]},
        {"kind": "departure", "site": "hmeimim", "t_start": T0 + timedelta(hours=3), "subject": "151def",
         "confidence": 0.85, "lat": 35.41, "lon": 35.95, "details": {}, "summary": "Il-76 151def departed hmeimim",
         "evidence": [position_ref("adsb", "151def", T0 + timedelta(hours=3), T0 + timedelta(hours=4))]},
    ], "test"))
    tokens = {"read": auth.create(ws.store, "read", "r"), "write": auth.create(ws.store, "write", "w")}
    (folder / "chips").mkdir()
    (folder / "secret.txt").write_text("do not serve me")
    ws.close()
    return tokens


class _Server:
    def __init__(self, folder: Path, host: str) -> None:
        import uvicorn

        from sitewatch.web.app import create_app

        self.app = create_app(folder, host=host, live_poll_s=0.2)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        sock = self.server.servers[0].sockets[0]
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("web") / "ws"
    return folder, _seed(folder)


@pytest.fixture(scope="module")
def public(seeded: tuple[Path, dict[str, str]]) -> Iterator[_Server]:
    """The app as if bound to 0.0.0.0: every request needs a token."""
    s = _Server(seeded[0], "0.0.0.0")
    yield s
    s.stop()


def req(base: str, path: str, token: str | None = None, method: str = "GET", body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    if body is not None:
        h.setdefault("Content-Type", "application/json")
    r = urllib.request.Request(base + path, data=body, method=method, headers=h)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(r, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a: Any, **k: Any) -> None:
        return None


def test_refuses_to_serve_publicly_without_tokens(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "w").close()
    from sitewatch.web.app import create_app

    with pytest.raises(SitewatchError, match="token create"):
        create_app(tmp_path / "w", host="0.0.0.0")


@pytest.mark.parametrize("path", ["/", "/api/sites", "/api/events", "/openapi.json", "/api/sites/hmeimim/tracks",
                                  "/api/stream", "/api/events/arrival-x", "/api/subjects/151abc"])
def test_no_token_is_refused_beyond_localhost(public: _Server, path: str) -> None:
    code, _, _ = req(public.base, path)
    assert code == 401
    code, _, _ = req(public.base, path, token="swt_deadbeef_wrong")
    assert code == 401
    code, _, _ = req(public.base, path, token="not-even-a-token")
    assert code == 401


def test_tokens_and_scopes(public: _Server, seeded: tuple[Path, dict[str, str]]) -> None:
    tok = seeded[1]
    code, headers, body = req(public.base, "/api/sites", tok["read"])
    assert code == 200 and json.loads(body)[0]["name"] == "hmeimim"
    for k in ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"):
        assert k in headers
    obs = json.dumps({"site": "hmeimim", "t_utc": "2024-12-13T10:00:00Z", "text": "2 × An-124 on apron",
                      "count": 2, "class": "A124", "source": "Maxar"}).encode()
    assert req(public.base, "/api/observations", None, "POST", obs)[0] == 401
    assert req(public.base, "/api/observations", tok["read"], "POST", obs)[0] == 403
    code, _, body = req(public.base, "/api/observations", tok["write"], "POST", obs)
    assert code == 201 and json.loads(body)["created"]
    assert req(public.base, "/api/observations", tok["write"], "POST", obs)[0] == 200  # same record: no duplicate
    # a cookie obtained through /?token= works for reads
    code, headers, _ = req(public.base, f"/?token={tok['read']}")
    assert code == 303 and "HttpOnly" in headers.get("set-cookie", "")
    cookie = headers["set-cookie"].split(";")[0]
    assert req(public.base, "/api/sites", headers={"Cookie": cookie})[0] == 200
    # …but never for writes (no CSRF through the browser's cookie)
    assert req(public.base, "/api/observations", None, "POST", obs, headers={"Cookie": cookie})[0] == 401


def test_revoked_token_is_refused(public: _Server, seeded: tuple[Path, dict[str, str]]) -> None:
    store = public.app.state.ws.store
    tok = auth.create(store, "read", "temp")
    assert req(public.base, "/api/sites", tok)[0] == 200
    from sitewatch.store.tokens import revoke_token

    revoke_token(store, tok.split("_")[1])
    assert req(public.base, "/api/sites", tok)[0] == 401


def test_validation_traversal_and_oversized_bodies(public: _Server, seeded: tuple[Path, dict[str, str]]) -> None:
    tok = seeded[1]["read"]
    for path in ["/api/scenes/..%2F..%2Fsecret.txt/chip", "/api/scenes/%2E%2E/chip", "/static/../secret.txt",
                 "/static/..%2F..%2F..%2Fsecret.txt", "/api/scenes/....//secret.txt/chip"]:
        code, _, body = req(public.base, path, tok)
        assert code in (404, 422) and b"do not serve me" not in body, path
    for bad in ["/api/events?site=x'%20OR%201=1--", "/api/events?limit=-1", "/api/events?limit=abc",
                "/api/sites/HMEIMIM;DROP", "/api/events?from=yesterday", "/api/sites/hmeimim/tracks?max_points=1e12",
                "/api/subjects/a%27b", "/api/basemap?lat=95&lon=0"]:
        assert req(public.base, bad, tok)[0] in (404, 422), bad
    assert req(public.base, "/api/sites/nowhere", tok)[0] == 404
    wtok = seeded[1]["write"]
    assert req(public.base, "/api/observations", wtok, "POST", b"{not json")[0] == 422
    assert req(public.base, "/api/observations", wtok, "POST", json.dumps(
        {"site": "hmeimim", "t_utc": "2024-12-13", "text": "x", "url": "javascript:alert(1)"}).encode())[0] == 422
    # an oversized body is refused from its declared length, before it is read
    import http.client

    host, port = public.base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/api/observations")
    conn.putheader("Authorization", f"Bearer {wtok}")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(5_000_000))
    conn.endheaders()
    conn.send(b'{"site": "hmeimim", "text": "' + b"x" * 1000)
    assert conn.getresponse().status == 413
    conn.close()


def test_api_content(public: _Server, seeded: tuple[Path, dict[str, str]]) -> None:
    tok = seeded[1]["read"]
    tracks = json.loads(req(public.base, "/api/sites/hmeimim/tracks", tok)[2])
    assert {f["properties"]["id"] for f in tracks["features"]} == {"151abc", "151def"}
    evs = json.loads(req(public.base, "/api/events?site=hmeimim&kind=arrival", tok)[2])
    assert [e["subject"] for e in evs] == ["151abc"]
    one = json.loads(req(public.base, f"/api/events/{evs[0]['event_id']}", tok)[2])
    assert len(one["evidence_rows"][0]) == 60
    land = json.loads(req(public.base, "/api/basemap?lat=35.4&lon=35.95&span_deg=0.5", tok)[2])
    assert land["features"], "Syria's coast should give land polygons"


def test_kinds_windows_and_messages(public: _Server, seeded: tuple[Path, dict[str, str]]) -> None:
    tok = seeded[1]["read"]
    for kind in ("arrival", "air.arrival"):  # one vocabulary: the short and the canonical name
        evs = json.loads(req(public.base, f"/api/events?site=hmeimim&kind={kind}", tok)[2])
        assert [(e["subject"], e["kind"], e["canonical_kind"]) for e in evs] == [("151abc", "arrival", "air.arrival")]
    code, _, body = req(public.base, "/api/events?kind=nothing", tok)
    assert code == 422 and "air.arrival" in json.loads(body)["detail"]
    code, _, body = req(public.base, "/api/events?from=2024-12-10&to=2024-12-01", tok)
    assert code == 422 and "not after" in json.loads(body)["detail"]
    code, _, body = req(public.base, "/api/sites/hmeimim/tracks?from=2024-12-10&to=2024-12-01", tok)
    assert code == 422
    health = json.loads(req(public.base, "/api/health", tok)[2])
    assert health["simulated"] is False
    site = json.loads(req(public.base, "/api/sites", tok)[2])[0]
    assert site["simulated"] is False and site["events_last_day"] == 2 and site["t_last_event"].startswith("2024-12-06")


def test_simulated_data_is_flagged(tmp_path: Path) -> None:
    from sitewatch import schema
    from sitewatch.store import evidence as EVD
    from sitewatch.store import ingest_log as ILOG

    with Workspace.init(tmp_path / "w") as ws:
        ws.put_site(S.from_airport("hmeimim", "OSLK", 6))
        assert not ILOG.workspace_simulated(ws.store)
        row = {"obs_id": "o1", "site": "hmeimim", "t_utc": T0, "text": "2 × A124 on apron", "simulated": True}
        ws.store.insert("observations", pa.Table.from_pylist([row], schema=pa.schema(
            [schema.OBSERVATIONS.arrow_schema().field(k) for k in row])))
        assert EVD.simulated_sites(ws.store) == {"hmeimim": True}
        assert ILOG.workspace_simulated(ws.store)


def test_chart_plan_puts_what_the_judgement_cites_first() -> None:
    from sitewatch.web import charts

    def series(name: str, values: list[float | None], score: float = 0.0) -> dict[str, Any]:
        return {"name": name, "label": name, "score": score,
                "points": [{"day": f"2024-12-{i + 1:02d}", "value": v, "baseline": 0} for i, v in enumerate(values)]}

    all_series = [series("adsb_gaps", [0, 1, 0], 3.0), series("vehicles", [None, 40, 90]),
                  series("heavy_arrivals", [0, 0, 0]), series("heavy_departures", [1, 2, 5]),
                  series("dark_visits", [0, 0, 1]), series("ships_at_quay", [0, 0, 0]), series("loitering", [None] * 3)]
    body = {"contributions": [
        {"indicator": "airlift", "series": "heavy_departures", "log_odds": 0.6, "weight": 0.6},
        {"indicator": "vehicles", "series": "vehicles", "log_odds": 0.9, "weight": 0.8}],
        "ach": {"rows": [
            {"item": "vehicles", "label": "vehicles (imagery)", "state": "up", "cells": {"withdrawal": {"consistency": "C"}}},
            {"item": "dark_transport", "label": "heavy transport dark visit", "state": "seen",
             "cells": {"withdrawal": {"consistency": "CC"}}}]}}
    plan = charts.plan(all_series, [{"hypothesis": "withdrawal", "body": json.dumps(body)}])
    assert [(s["name"], s["group"], s["chart"]) for s in plan] == [
        ("vehicles", "cited", True), ("heavy_departures", "cited", True), ("dark_visits", "matrix", True),
        ("heavy_arrivals", "matrix", True), ("adsb_gaps", "other", True), ("ships_at_quay", "quiet", False),
        ("loitering", "quiet", False)]
    assert plan[0]["why"] == "vehicles (imagery): up, consistent with withdrawal"
    assert plan[0]["max_value"] == 90 and plan[0]["observed_days"] == 2
    assert [s["group"] for s in charts.plan(all_series, [])][:1] == ["other"]  # no assessment yet


def test_live_stream_delivers_new_events(public: _Server, seeded: tuple[Path, dict[str, str]]) -> None:
    tok = seeded[1]["read"]
    r = urllib.request.Request(public.base + "/api/stream", headers={"Authorization": f"Bearer {tok}"})
    got: list[str] = []

    def reader() -> None:
        with urllib.request.urlopen(r, timeout=15) as resp:
            for line in resp:
                got.append(line.decode())
                if line.startswith(b"data:") and b"dark-visit" in line:
                    return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    time.sleep(0.6)
    public.app.state.ws.store.insert("events", events_table([{
        "kind": "dark-visit", "site": "hmeimim", "t_start": T0 + timedelta(hours=8), "subject": "151abc",
        "confidence": 0.7, "details": {}, "summary": "streamed dark visit"}], "test.live"))
    t.join(10)
    assert any("streamed dark visit" in g for g in got)


# --------------------------------------------------------------------------- browser
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("Debian chromium not installed (apt-get install chromium); needed for the dashboard test")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.mark.slow
def test_dashboard_in_chromium(browser: Any, tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    _seed(folder)
    srv = _Server(folder, "127.0.0.1")
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(srv.base + "/")
        page.wait_for_selector(".site-card[data-site=hmeimim]")
        page.screenshot(path=str(ARTIFACTS / "dashboard-sites.png"))
        page.click("text=hmeimim")
        page.wait_for_selector("#map path.track", state="attached")
        page.wait_for_selector("#timeline tr.clickable")
        assert page.locator("#map path.track").count() == 2
        assert page.locator("#map path.event-marker").count() == 2
        assert "An-124 151abc arrived" in page.inner_text("#timeline")
        page.screenshot(path=str(ARTIFACTS / "dashboard-site.png"))
        # the time window filters: before the Il-76's departure only the An-124's track is drawn…
        set_t = "(s, t) => { s.value = t; s.dispatchEvent(new Event('input')); }"
        page.eval_on_selector("#time-to", set_t, str(int((T0 + timedelta(hours=2)).timestamp() * 1000)))
        assert page.locator("#map path.track").count() == 1
        assert page.locator("#map path.event-marker").count() == 1
        # …and a window after the An-124 landed shows only the Il-76 (a window, not "up to")
        page.eval_on_selector("#time-to", set_t, str(int((T0 + timedelta(hours=5)).timestamp() * 1000)))
        page.eval_on_selector("#time-from", set_t, str(int((T0 + timedelta(hours=2)).timestamp() * 1000)))
        assert page.locator("#map path.track").count() == 1
        assert "Il-76 151def departed" in page.inner_text("#timeline")
        assert "An-124 151abc arrived" not in page.inner_text("#timeline")
        page.click("#window button >> text=all")
        assert page.locator("#map path.track").count() == 2
        assert page.locator("#sim-banner").is_hidden()  # nothing simulated in this workspace
        # a click shows provenance: the file and rows behind the event
        page.click("#timeline tr.clickable >> nth=0")
        page.wait_for_selector("#provenance:not([hidden]) table")
        assert "evidence 1: positions 151abc" in page.inner_text("#prov-body")
        page.screenshot(path=str(ARTIFACTS / "dashboard-provenance.png"))
        page.click("#prov-close")
        # a new event streamed in appears without reload
        srv.app.state.ws.store.insert("events", events_table([{
            "kind": "dark-visit", "site": "hmeimim", "t_start": T0 + timedelta(hours=9), "subject": "151abc",
            "confidence": 0.7, "lat": 35.2, "lon": 35.6, "details": {}, "summary": "live: An-124 went dark"}],
            "test.live"))
        page.wait_for_selector("tr.live-row", timeout=10_000)
        assert "live: An-124 went dark" in page.inner_text("#timeline")
        page.screenshot(path=str(ARTIFACTS / "dashboard-live.png"))
        assert errors == []
    finally:
        srv.stop()


def test_live_feed_streamed_by_the_server_reaches_the_page_stream(tmp_path: Path) -> None:
    """`serve --adsb-sbs HOST:PORT`: positions from a live receiver arrive on /api/stream."""
    import socket

    folder = tmp_path / "ws"
    _seed(folder)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]
    stop = threading.Event()

    def receiver() -> None:  # a dump1090-like SBS feed: one position a second for 4CA2D6
        conn, _ = lsock.accept()
        i = 0
        while not stop.is_set():
            t = (datetime.now(UTC)).strftime("%Y/%m/%d,%H:%M:%S.000")
            line = f"MSG,3,1,1,4CA2D6,1,{t},{t},,12000,,,{35.30 + i * 0.001:.4f},35.8000,,,0,0,0,0\r\n"
            try:
                conn.sendall(line.encode())
            except OSError:
                return
            i += 1
            time.sleep(0.2)
        conn.close()

    threading.Thread(target=receiver, daemon=True).start()
    import uvicorn

    from sitewatch.web.app import create_app

    app = create_app(folder, host="127.0.0.1", live_poll_s=0.3, live_feeds=[("adsb-sbs", f"127.0.0.1:{port}")])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    try:
        deadline = time.time() + 20
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        base_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        got: list[str] = []
        with urllib.request.urlopen(base_url + "/api/stream", timeout=20) as resp:
            t_end = time.time() + 20
            for line in resp:
                got.append(line.decode())
                if b"4ca2d6" in line or time.time() > t_end:
                    break
        assert any("4ca2d6" in g for g in got), got[-5:]
    finally:
        stop.set()
        server.should_exit = True
        th.join(15)
        lsock.close()
