"""The report: one self-contained offline HTML file; rendered in headless Chromium it shows
the map, the charts and the evidence table without console errors; --pdf prints it."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from sitewatch.fusion import rules as R
from sitewatch.report.build import ReportResult, build_report, chromium_path, to_pdf
from sitewatch.store.db import Store
from test_fusion_scenario import AS_OF, Scenario, baseline, hmeimim, withdrawal


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportResult]:
    store = Store()
    sc = Scenario()
    baseline(sc, quay_until=date(2024, 12, 11))
    withdrawal(sc)
    sc.write(store)
    out = tmp_path_factory.mktemp("report") / "hmeimim.html"
    res = build_report(store, hmeimim(), R.load_all(), out, None, AS_OF)
    return out, res


def test_report_is_one_self_contained_file(report: tuple[Path, ReportResult]) -> None:
    out, res = report
    html = out.read_text(encoding="utf-8")
    assert res.bytes == len(html.encode()) and res.simulated_rows == 0
    # nothing fetched from the network: no external scripts, styles, images or fonts
    assert not re.search(r"<script[^>]*\bsrc=", html) and "<link" not in html
    assert not re.search(r"""(src|href)=["']https?:""", html) and "url(http" not in html
    # the assessment comes first, then the map, indicators, timeline, imagery, evidence, methodology
    order = [html.index(f'id="{s}"') for s in ("assessment", "map-section", "indicators", "timeline",
                                              "imagery", "evidence", "methodology")]
    assert order == sorted(order)
    assert re.search(r"Bottom line: Withdrawal or drawdown of forces \(the leading hypothesis\): it is (very )?likely",
                     html)
    assert "Analysis of competing hypotheses" in html and "probabilities sum to 100%" in html
    # every footnote link lands on a row of the evidence table
    targets = set(re.findall(r'href="#(ev-\d+)"', html))
    rows = set(re.findall(r'<tr id="(ev-\d+)"', html))
    assert targets and targets <= rows
    assert html.count('class="chart"') >= 5 and 'id="site-map"' in html and "SIMULATED —" not in html


def test_simulated_evidence_gets_a_banner(tmp_path: Path) -> None:
    store = Store()
    sc = Scenario()
    sc.cover(date(2024, 12, 1))
    sc.scene(date(2024, 12, 2), {("plane", "apron"): 3}, simulated=True, provider="simulator")
    sc.write(store)
    res = build_report(store, hmeimim(), {"routine": R.shipped()["routine"]}, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert res.simulated_rows > 0 and 'id="simulated-banner"' in html and "SIMULATED" in html


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report: tuple[Path, ReportResult]) -> None:
    exe = chromium_path()
    if exe is None:
        pytest.skip("Chromium not installed (/usr/bin/chromium; apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    out, _ = report
    problems: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning")
                    else None)
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(out.resolve().as_uri(), wait_until="load")
            box = page.locator("#site-map").bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 200
            assert page.locator("#site-map path.land").count() > 0  # the offline basemap drew land
            charts = page.locator("svg.chart")
            assert charts.count() >= 5 and charts.first.is_visible()
            assert page.locator("svg.chart rect.bar").count() > 50
            rows = page.locator("#evidence-table tbody tr")
            assert rows.count() > 20 and rows.first.is_visible()
            assert "very likely" in page.locator("#assessment").inner_text() or \
                "likely" in page.locator("#assessment").inner_text()
        finally:
            browser.close()
    assert problems == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests


@pytest.mark.slow
def test_pdf_through_chromium(report: tuple[Path, ReportResult], tmp_path: Path) -> None:
    if chromium_path() is None:
        pytest.skip("Chromium not installed (/usr/bin/chromium; apt-get install chromium)")
    out, _ = report
    pdf = Path(to_pdf(out, tmp_path / "r.pdf"))
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 20_000


def test_map_draws_gaps_and_dark_visit_links() -> None:
    from datetime import UTC, datetime

    from sitewatch.report.build import map_layers
    from sitewatch.report.svgmap import fit_bbox, render

    t = datetime(2024, 12, 12, 3, tzinfo=UTC)
    gap = {"event_id": "dark-gap-1", "kind": "dark-gap", "subject": "151a03", "subject_kind": "aircraft",
           "t_start": t, "lat": 35.6, "lon": 35.3, "summary": "151a03 unheard for 5 h",
           "details": {"lost": {"lat": 35.6, "lon": 35.3}, "reacquired": {"lat": 35.9, "lon": 35.4}}}
    visit = {"event_id": "dark-visit-1", "kind": "dark-visit", "subject": "151a03", "subject_kind": "aircraft",
             "t_start": t, "lat": 35.4011, "lon": 35.9487, "summary": "An-124 likely landed at hmeimim",
             "details": {"gap_event_id": "dark-gap-1"}, "analysis": "air.dark-visits"}
    site = hmeimim()
    layers = map_layers(Store(), site, [gap, visit], t, t)
    kinds = [x.kind for x in layers]
    assert kinds.count("gap") == 1 and kinds.count("link") == 1 and kinds.count("marker") == 2
    link = next(x for x in layers if x.kind == "link")
    assert link.points == [(35.6, 35.3), (35.4011, 35.9487), (35.9, 35.4)]
    svg, _ = render(site, layers, fit_bbox(site, layers, 150.0, 10.0))
    assert 'class="gap"' in svg and 'class="link"' in svg and svg.count("<circle") == 2
