"""The report: one self-contained offline HTML file with the bottom line first and an appendix
beside it (HTML and CSV) that holds every footnoted row; rendered in headless Chromium it
shows the map, charts and chips without console errors; --pdf prints it."""

from __future__ import annotations

import csv
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from sitewatch.fusion import evidence as EV
from sitewatch.fusion import rules as R
from sitewatch.report.build import ReportResult, build_report, chromium_path, pdf_pages, to_pdf
from sitewatch.sites import circle_site
from sitewatch.store.db import Store
from test_fusion_scenario import AS_OF, Scenario, baseline, hmeimim, withdrawal

SECTIONS = ("bottom-line", "judgements", "ach", "key-evidence", "timeline", "map-section", "imagery", "sources",
            "methodology", "appendix-link")


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
    assert html.count('class="chart"') >= 3 and 'id="site-map"' in html and "SIMULATED —" not in html


def test_bottom_line_comes_first_in_plain_words(report: tuple[Path, ReportResult]) -> None:
    html = report[0].read_text(encoding="utf-8")
    body = html[html.index("<main>"):]
    order = [body.index(f'id="{s}"') for s in SECTIONS]
    assert order == sorted(order)
    assert body.index('id="bottom-line"') < body.index("<h2")  # nothing before the bottom line
    bottom = body[body.index('id="bottom-line"'):body.index('id="judgements"')]
    assert re.search(r"We judge it (likely|very likely|almost certain) \(about \d+%\) that forces and equipment are being withdrawn", bottom)
    assert re.search(r"Confidence in the set is (low|moderate|high)", bottom)
    assert "What would change it" in bottom and "best separate withdrawal from" in bottom
    assert "as of" in body[:body.index('id="judgements"') + 4000]


def test_key_judgements_add_up_to_100(report: tuple[Path, ReportResult]) -> None:
    html = report[0].read_text(encoding="utf-8")
    table = html[html.index('id="judgements"'):html.index('id="ach"')]
    shown = table.replace("&lt;0.1%", "0.0%")  # a share under 0.1% is said so; it counts 0.0 in the sum
    pcts = [float(x) for x in re.findall(r'<span class="bar"[^>]*></span>(\d+\.\d)%', shown)]
    assert len(pcts) >= 4 and abs(sum(pcts) - 100.0) < 1e-9
    assert pcts == sorted(pcts, reverse=True) and "100.0%" in table


def test_footnotes_land_on_the_appendix_rows(report: tuple[Path, ReportResult]) -> None:
    out, res = report
    html = out.read_text(encoding="utf-8")
    assert res.appendix and Path(res.appendix).name == "hmeimim.appendix.html"
    appendix = Path(res.appendix).read_text(encoding="utf-8")
    targets = set(re.findall(r'href="hmeimim\.appendix\.html#(ev-\d+)"', html))
    rows = set(re.findall(r'<tr id="(ev-\d+)"', appendix))
    assert targets and targets <= rows
    inner = set(re.findall(r'href="#(ev-\d+)"', appendix))
    assert inner and inner <= rows
    # the appendix, and both CSVs, are written beside the report and linked from it
    for name in ("hmeimim.appendix.html", "hmeimim.evidence.csv", "hmeimim.timeline.csv"):
        assert (out.parent / name).is_file() and f'href="{name}"' in html
    with (out.parent / "hmeimim.evidence.csv").open(encoding="utf-8") as f:
        ev = list(csv.DictReader(f))
    assert [int(r["n"]) for r in ev] == list(range(1, len(ev) + 1)) and len(ev) == len(rows)
    cited = {int(t.split("-")[1]) for t in targets}
    assert all(ev[n - 1]["cited"] == "True" for n in cited)
    with (out.parent / "hmeimim.timeline.csv").open(encoding="utf-8") as f:
        tl = list(csv.DictReader(f))
    assert len(tl) == res.evidence_rows and all(1 <= int(r["evidence_n"]) <= len(ev) for r in tl)


def test_no_local_paths(report: tuple[Path, ReportResult]) -> None:
    out, res = report
    for p in (out, Path(str(res.appendix)), *map(Path, res.csv)):
        text = p.read_text(encoding="utf-8")
        for bad in ("/tmp/", "/home/", "/work/", "/root/", str(out.parent)):
            assert bad not in text, (p.name, bad)


def test_what_if_report_issues_nothing(tmp_path: Path) -> None:
    store = Store()
    sc = Scenario()
    baseline(sc, quay_until=date(2024, 12, 11))
    withdrawal(sc)
    sc.write(store)
    build_report(store, hmeimim(), R.load_all(), tmp_path / "r.html", None, AS_OF)
    assert store.count("assessments") == 0  # --to: a what-if, nothing issued
    html = (tmp_path / "r.html").read_text()
    assert "What-if" in html and "not issued" in html


def test_simulated_evidence_gets_a_banner(tmp_path: Path) -> None:
    store = Store()
    sc = Scenario()
    sc.cover(date(2024, 12, 1))
    sc.scene(date(2024, 12, 2), {("plane", "apron"): 3}, simulated=True, provider="simulator")
    sc.write(store)
    res = build_report(store, hmeimim(), {"routine": R.shipped()["routine"]}, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert res.simulated_rows > 0 and 'id="simulated-banner"' in html and "SIMULATED" in html
    assert 'id="simulated-banner"' in Path(str(res.appendix)).read_text()


def test_shares_names_and_marks() -> None:
    from sitewatch.report.content import Citer, shares
    from sitewatch.report.names import ship_type_words, short_type

    for ps in ([0.885, 0.04, 0.027, 0.019, 0.017, 0.011, 0.001], [1 / 3] * 3, [0.5, 0.5], [0.0004, 0.9996]):
        assert abs(sum(shares(ps)) - 100.0) < 1e-9
    assert short_type("A124", "Antonov An-124 Ruslan (SIMULATED scenario identity)") == "An-124"
    assert short_type("IL76", "Ilyushin Il-76MD") == "Il-76MD"
    assert short_type("B748", None) == "Boeing 747-8" and short_type("ZZZZ") == "ZZZZ"
    assert ship_type_words(35) == "military vessel" and ship_type_words(71) == "cargo ship"
    # a ship with no name: its event text already says "MMSI …" — not "MMSI vessel MMSI … (MMSI …)"
    from sitewatch.report.names import Names

    ref = {"subject": "366999413", "subject_kind": "vessel"}
    unnamed = {"ref": ref, "text": "MMSI 366999413 (government) left Brooklyn"}
    assert Names().text(unnamed) == "MMSI 366999413 (government) left Brooklyn"
    named = Names(vessels={"366999413": {"name": "HUDSON"}})
    assert named.text(unnamed) == "HUDSON (MMSI 366999413) (government) left Brooklyn"
    assert named.text({"ref": ref, "text": "366999413 moored"}) == "HUDSON (MMSI 366999413) moored"
    cite = Citer({f"e{i}": {"text": f"row {i}"} for i in range(10)}, "a.html")
    pair = str(cite(["e5", "e6"]))  # numbered in order of first citation; two in a row stay two marks
    marks = str(cite(["e0", "e1", "e2", "e5", "nope"]))  # a run of three or more collapses
    assert re.findall(r">\[([^\]]+)\]<", pair) == ["1", "2"] and 'href="a.html#ev-1"' in pair
    assert re.findall(r">\[([^\]]+)\]<", marks) == ["1", "3–5"] and 'href="a.html#ev-3"' in marks


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report: tuple[Path, ReportResult]) -> None:
    exe = chromium_path()
    if exe is None:
        pytest.skip("Chromium not installed (/usr/bin/chromium; apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    out, res = report
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
            assert page.locator("#site-map text.map-label").count() >= 1  # labelled
            charts = page.locator("svg.chart")
            assert charts.count() >= 3 and charts.first.is_visible()
            assert page.locator("svg.chip").count() >= 2 and page.locator("svg.chip").first.is_visible()
            first = page.locator("main section").first
            assert first.get_attribute("id") == "bottom-line" and first.is_visible()
            assert re.search(r"(likely|almost certain) \(\d+%\)", first.inner_text())
            # printed, nothing is wider than A4 less its margins (else Chromium shrinks every page)
            page.emulate_media(media="print")
            page.set_viewport_size({"width": 718, "height": 1000})
            assert page.evaluate("document.documentElement.scrollWidth") <= 718
            page.goto(Path(str(res.appendix)).resolve().as_uri(), wait_until="load")
            rows = page.locator("#evidence-table tbody tr")
            assert rows.count() > 20 and rows.first.is_visible()
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
    assert data[:5] == b"%PDF-" and len(data) > 20_000 and 1 <= pdf_pages(pdf) <= 12
    assert b"file://" not in data and str(out.parent).encode() not in data  # the appendix link is not kept


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
    link.label = "An-124 RA-82035: dark"
    svg, _ = render(site, layers, fit_bbox(site, layers, 150.0, 10.0))
    assert 'class="gap"' in svg and 'class="link"' in svg and svg.count("<circle") == 2
    assert "An-124 RA-82035: dark" in svg and 'class="map-label"' in svg


def test_adsb_beside_imagery_quotes_are_footnoted() -> None:
    """An aircraft on a scene and a fitting type ADS-B saw land that day are two facts side by
    side, the ADS-B one footnoted to the arrival row (detect.facts.scene_quotes)."""
    from sitewatch.report import build as B
    from sitewatch.report import chips as CH

    frame = CH.Frame("sc1", datetime(2024, 12, 13, 8, tzinfo=UTC), "p", 0.5, True, "after", 10.0, 10.0, 1.0)
    strip = CH.Strip("aircraft", "apron", "t", [frame])
    import sitewatch.detect.facts as FX

    orig = FX.scene_quotes
    FX.scene_quotes = lambda store, site, scene_id=None: [  # type: ignore[assignment]
        {"text": "2 objects of An-124 size (≈ 74 m) on the apron at 08:06 UTC; An-124 RA-82040 landed 03:29 UTC",
         "adsb": [{"event_id": "e1"}]},
        {"text": "an aircraft with no fitting arrival", "adsb": []}]
    try:
        site = circle_site("hmeimim", "airbase", 35.4, 35.9)
        B._adsb_beside_imagery(Store(), site, [strip])
    finally:
        FX.scene_quotes = orig
    (text, ids), = frame.quotes
    assert "RA-82040 landed" in text and ids == [EV.evidence_id("hmeimim", "events", "e1")]
