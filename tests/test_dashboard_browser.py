"""The dashboard as an editor sees it, driven in Chromium (Playwright) over a SIMULATED demo.

One demo workspace (``demo --scale 0.2 --no-imagery`` plus one rendered scene of Hmeimim, so
that there is an image chip) is built per module. Each test asserts on what is *visible* —
the SIMULATED banner, the as-of of the judgement, the chart titles, the chip, the time window,
the provenance, the server's error message, the layout at 390 px — and keeps screenshots in
``test-artifacts/`` (git-ignored). Skipped with the reason when Chromium or Playwright is absent.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sitewatch.cli import main

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
MOBILE = {"width": 390, "height": 844}

pytestmark = pytest.mark.slow


def _scene(raw: Path) -> Path:
    """One scene of Hmeimim as the demo renders it (a SIMULATED GeoTIFF)."""
    from sitewatch.simulate import scenario, scenes

    sc = scenario.build(2024, 0.2)
    plan = next(p for p in sc.scenes if p.site == "hmeimim")
    rgb, bounds, _ = scenes.render_scene(plan, sc)
    path = raw / f"hmeimim-{plan.t_utc:%Y%m%dT%H%MZ}.SIMULATED.tif"
    scenes.write_geotiff(path, rgb, bounds, plan.t_utc, plan.provider)
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if CHROMIUM is None:
        pytest.skip("Debian chromium not installed (apt-get install chromium); needed for the dashboard tests")
    pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e .[test])")
    out = tmp_path_factory.mktemp("dash") / "demo"
    with contextlib.redirect_stdout(io.StringIO()):
        # the dashboard needs the workspace, not the demo's reports (a failing step there is
        # another test's business): the steps up to `assess` must have run
        main(["-q", "demo", "--out", str(out), "--scale", "0.2", "--no-imagery"])
        ws = out / "workspace"
        assert (ws / "sitewatch.duckdb").is_file(), "the demo did not build its workspace"
        assert main(["-q", "-w", str(ws), "ingest", "imagery", str(_scene(out / "raw")), "--site", "hmeimim"]) == 0
    return ws


class _Server:
    def __init__(self, folder: Path) -> None:
        import uvicorn

        from sitewatch.web.app import create_app

        self.app = create_app(folder, host="127.0.0.1", live_poll_s=0.5)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        self.base = f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def server(workspace: Path) -> Iterator[_Server]:
    s = _Server(workspace)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser(workspace: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()


def _shot(page: Any, name: str, full: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


def _site(page: Any, server: _Server, site: str) -> None:
    page.goto(f"{server.base}/#/site/{site}")
    page.wait_for_function("s => { const t = document.querySelector('main h1'); "
                           "return t && t.innerText.startsWith(s + ' ') && document.querySelector('#assessment .as-of') "
                           "&& document.querySelector('#charts figure.chart'); }", arg=site, timeout=60_000)


def _no_horizontal_overflow(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= MOBILE["width"], f"the page is {width} px wide at {MOBILE['width']} px"


def test_sites_page_says_simulated_and_dates_each_judgement(page: Any, server: _Server) -> None:
    page.goto(server.base + "/")
    page.wait_for_selector(".site-card[data-site=tartus] .as-of")
    banner = page.locator("#sim-banner")
    assert banner.is_visible() and "SIMULATED" in banner.inner_text()
    for site in ("hmeimim", "tartus"):
        card = page.locator(f".site-card[data-site={site}]")
        assert "as of 2024-12-" in card.inner_text()
        assert card.locator(".sim-badge").is_visible()
    _shot(page, "dashboard-sites")
    assert page.errors == []


def test_site_page_judgement_charts_and_chip(page: Any, server: _Server) -> None:
    _site(page, server, "hmeimim")
    assert "SIMULATED" in page.locator("#sim-banner").inner_text()
    assert page.locator("#sim-banner").is_visible()
    head = page.inner_text("#assessment")
    assert "Withdrawal" in head and "as of 2024-12-" in head and "evidence through" in head
    titles = page.locator("#charts .chart-title").all_inner_texts()
    assert titles and any("vehicles" in t for t in titles), titles
    cited = page.locator("#charts h3").first.inner_text()
    assert cited == "Cited by the judgement"
    # the charts' y axes follow the data: no 0–100 axis for a series that peaks at a few a day
    assert "100" not in page.locator("#charts figure.chart[data-series=heavy_arrivals]").inner_text()
    # the image chip is drawn and loads
    img = page.locator("#chips figure.chip img").first
    img.scroll_into_view_if_needed()
    page.wait_for_function("() => { const i = document.querySelector('#chips figure.chip img'); "
                           "return i && i.complete && i.naturalWidth > 0; }", timeout=60_000)
    assert "SIM" in page.inner_text("#chips")
    _shot(page, "dashboard-site-hmeimim")
    _site(page, server, "tartus")
    titles = page.locator("#charts .chart-title").all_inner_texts()
    assert any("ships in port" in t for t in titles), titles
    _shot(page, "dashboard-site-tartus")
    assert page.errors == []


def test_time_window_from_to(page: Any, server: _Server) -> None:
    _site(page, server, "hmeimim")
    page.click("#window button >> text=all")
    n_all = page.locator("#map path.track").count()
    label_all = page.inner_text("#timeline-count")
    t_to = int(page.eval_on_selector("#time-to", "s => s.max"))
    # a one-day window a week before the end: fewer tracks, fewer timeline rows, and the
    # window's start moves with it (a window, not "everything up to")
    page.eval_on_selector("#time-to", "(s, t) => { s.value = t; s.dispatchEvent(new Event('input')); }",
                          str(t_to - 7 * 86400_000))
    page.eval_on_selector("#time-from", "(s, t) => { s.value = t; s.dispatchEvent(new Event('input')); }",
                          str(t_to - 8 * 86400_000))
    assert "(1.0 days)" in page.inner_text("#window-label")
    assert page.locator("#map path.track").count() < n_all
    assert page.inner_text("#timeline-count") != label_all
    # pushing "from" past "to" moves "to" along instead of making an empty window
    page.eval_on_selector("#time-from", "(s, t) => { s.value = t; s.dispatchEvent(new Event('input')); }",
                          str(t_to - 6 * 86400_000))
    assert int(page.eval_on_selector("#time-to", "s => s.value")) > int(
        page.eval_on_selector("#time-from", "s => s.value"))
    _shot(page, "dashboard-window", full=False)
    assert page.errors == []


def test_provenance_is_readable(page: Any, server: _Server) -> None:
    _site(page, server, "hmeimim")
    page.click("#window button >> text=all")
    page.select_option("#timeline-kind", "air.dark-visit")
    row = page.locator("#timeline tr.clickable").first
    full = row.inner_text()
    assert "An-124" in full and "on the ground" in full, full  # the whole sentence, not cut at 60 characters
    row.click()
    page.wait_for_selector("#provenance:not([hidden]) button.more")
    page.click("#provenance button.more >> text=open the event")
    page.wait_for_selector("#provenance:not([hidden]) .evidence-block table")
    text = page.inner_text("#prov-body")
    assert "air.dark-visit" in text and "evidence 1: positions" in text
    assert '{"' not in text and '":' not in text, "raw JSON in the provenance panel"
    # nothing clipped: the details' own text is whole (the candidate airfields are a table)
    assert page.locator("#prov-body dl.kv table").count() >= 1
    _shot(page, "dashboard-provenance", full=False)
    assert page.errors == []


def test_server_error_messages_are_shown(page: Any, server: _Server) -> None:
    page.goto(server.base + "/#/query")
    page.fill("input[name=a]", "hmeimim")
    page.fill("input[name=b]", "hmeimim")
    page.fill("input[name=max]", "0")
    page.click("text=Run two-box query")
    page.wait_for_selector("#query-out .error")
    msg = page.inner_text("#query-out .error")
    assert "max_gap_s" in msg and "greater than or equal to 1" in msg and "HTTP 422" not in msg, msg
    page.fill("input[name=a]", "nowhere")
    page.fill("input[name=max]", "8")
    page.click("text=Run two-box query")
    page.wait_for_function("() => document.querySelector('#query-out').innerText.includes('nowhere')")
    assert "neither a site" in page.inner_text("#query-out .error")
    _shot(page, "dashboard-query-error", full=False)
    page.fill("input[name=a]", "hmeimim")
    page.fill("input[name=b]", "44.0,42.0,46.0,45.0")
    page.click("text=Run two-box query")
    page.wait_for_selector("#query-out table")
    # a bad address shows the server's words too
    page.goto(server.base + "/#/site/nowhere")
    page.wait_for_selector("#view .error")
    assert "no site named 'nowhere'" in page.inner_text("#view .error")


def test_sources_panel_says_which_source_is_down_and_since_when(page: Any, server: _Server,
                                                                  workspace: Path) -> None:
    """A watched source that keeps failing (here: its host unreachable) shows as down, with
    the time of its first failure, beside the sources that work."""
    import json as _json

    status = workspace / "watch-status.json"
    status.write_text(_json.dumps({"sources": {
        "adsb-history": {"entry": "adsb-history", "source": "adsblol", "kind": "adsb", "sites": ["hmeimim"],
                         "last_success_utc": "2024-12-19T06:00:00Z", "down_since_utc": "2024-12-20T03:00:00Z",
                         "errors_total": 3, "last_error": {"t_utc": "2024-12-20T09:00:00Z",
                                                           "message": "connection refused", "unreachable": True}},
        "s2": {"entry": "s2", "source": "earth-search-s2", "kind": "imagery", "sites": ["hmeimim"],
               "last_success_utc": "2024-12-20T08:00:00Z", "errors_total": 0}}}), encoding="utf-8")
    try:
        page.goto(server.base + "/")
        page.wait_for_selector("#sources table")
        text = page.inner_text("#sources")
        assert "down since 2024-12-20 03:00:00Z (host unreachable)" in text, text
        assert "ok" in page.inner_text("#sources tr:has-text('earth-search-s2')")
        assert page.errors == []
    finally:
        status.unlink()


def test_usable_at_390px(browser: Any, server: _Server) -> None:
    ctx = browser.new_context(viewport=MOBILE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    try:
        page.goto(server.base + "/")
        page.wait_for_selector(".site-card .as-of")
        _no_horizontal_overflow(page)
        _shot(page, "dashboard-390-sites")
        _site(page, server, "hmeimim")
        page.wait_for_timeout(500)
        _no_horizontal_overflow(page)
        assert page.locator("#sim-banner").is_visible()
        box = page.locator("#map").bounding_box()
        assert box is not None and box["width"] <= MOBILE["width"]
        _shot(page, "dashboard-390-site")
        page.click("#evidence tr.clickable >> nth=0")
        page.wait_for_selector("#provenance:not([hidden]) table")
        _no_horizontal_overflow(page)
        _shot(page, "dashboard-390-provenance", full=False)
        page.goto(server.base + "/#/query")
        page.wait_for_selector("#two-box-form")
        _no_horizontal_overflow(page)
    finally:
        ctx.close()
