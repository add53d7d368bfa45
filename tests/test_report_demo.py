"""The demo's Hmeimim report as an editor gets it: the bottom line first, aircraft named by
type and registration, imagery chips at a readable size, no local paths, an appendix (HTML
and CSV) beside it, and a PDF of at most 12 pages. Runs the SIMULATED demo once (scale 0.2,
with imagery) for the module."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from sitewatch.cli import main
from sitewatch.report.build import chromium_path, pdf_pages
from sitewatch.simulate import scenario

pytestmark = pytest.mark.slow

MAX_PAGES = 12


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["-q", "demo", "--out", str(out), "--scale", "0.2"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def hmeimim(demo: Path) -> tuple[Path, str]:
    p = demo / "report-hmeimim.SIMULATED.html"
    assert p.is_file()
    return p, p.read_text(encoding="utf-8")


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err[-600:]
    return out


def test_bottom_line_first(hmeimim: tuple[Path, str]) -> None:
    _, html = hmeimim
    body = html[html.index("<main>"):]
    assert body.index('id="bottom-line"') < body.index("<h2")
    bottom = body[body.index('id="bottom-line"'):body.index('id="judgements"')]
    assert re.search(r"We judge it (likely|very likely|almost certain) \(about \d+%\) that forces and equipment "
                     r"are being withdrawn from Bassel Al-Assad International Airport", bottom)
    assert "Confidence" in bottom and "What would change it" in bottom
    assert html.index('id="simulated-banner"') < html.index("<main>")  # SIMULATED before anything else


def test_aircraft_and_ships_named_as_a_reader_names_them(hmeimim: tuple[Path, str]) -> None:
    _, html = hmeimim
    main_part = html[html.index("<main>"):html.index('id="sources"')]
    dark = scenario.AN124[2]  # the An-124 that goes dark off the coast on 17 December
    assert f"An-124 {dark.registration}" in main_part
    grid = main_part[main_part.index('id="aircraft"'):main_part.index('id="timeline"')]
    named = set(re.findall(r"An-124 RA-\d{5}", grid))
    assert len(named) >= 3  # the An-124s that came and went, each by registration
    assert re.search(r"Il-76MD RA-\d{5}", grid)
    for a in scenario.AN124 + scenario.IL76:  # never a bare ICAO hex code where a name is known
        assert not re.search(rf"\b{a.icao24}\b (landed|took off)", main_part)
    assert "ADMIRAL GRIGOROVICH" in main_part and "military vessel, flag RU" in main_part
    # imagery objects by class and measured size, never the detector's type guess
    for guess in ("A225", "DC10", "B748", "C5M"):
        assert guess not in html


def test_chips_at_readable_size(hmeimim: tuple[Path, str]) -> None:
    _, html = hmeimim
    chips = re.findall(r'<svg[^>]*class="chip"[^>]*width="(\d+)" height="(\d+)" data-px-per-m="([\d.]+)"', html)
    if not chips:
        pytest.skip("no detector model on this machine: the demo's scenes were not counted")
    assert len(chips) >= 2
    assert all(float(ppm) >= 0.9 and int(w) >= 100 and int(h) >= 60 for w, h, ppm in chips)
    imagery = html[html.index('id="imagery"'):html.index('id="sources"')]
    assert "Before:" in imagery and re.search(r"aircraft \d+ m<", imagery)  # a pair, boxes labelled by size
    assert imagery.count("data:image/jpeg;base64,") == len(chips)


def test_appendix_written_linked_and_no_local_paths(demo: Path, hmeimim: tuple[Path, str]) -> None:
    out, html = hmeimim
    names = ["report-hmeimim.SIMULATED.appendix.html", "report-hmeimim.SIMULATED.evidence.csv",
             "report-hmeimim.SIMULATED.timeline.csv"]
    for n in names:
        assert (out.parent / n).is_file() and f'href="{n}"' in html
    appendix = (out.parent / names[0]).read_text(encoding="utf-8")
    rows = set(re.findall(r'<tr id="(ev-\d+)"', appendix))
    assert set(re.findall(r'appendix\.html#(ev-\d+)"', html)) <= rows
    for text in (html, appendix, *((out.parent / n).read_text(encoding="utf-8") for n in names[1:])):
        for bad in ("/tmp/", "/home/", "/work/", "/root/", str(demo)):
            assert bad not in text
    assert 'id="simulated-banner"' in appendix


def test_pdf_at_most_12_pages_without_paths(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if chromium_path() is None:
        pytest.skip("Chromium not installed (/usr/bin/chromium; apt-get install chromium): no PDF to measure")
    out = demo / "pdf" / "report-hmeimim.SIMULATED.html"
    res = json.loads(_cli(capsys, "-w", str(demo / "workspace"), "report", "hmeimim", "--out", str(out), "--pdf"))
    pdf = Path(res["pdf"])
    assert res["pages"] == pdf_pages(pdf) and 1 <= res["pages"] <= MAX_PAGES, res["pages"]
    data = pdf.read_bytes()
    assert str(demo).encode() not in data and b"file://" not in data


def _issued(ws: Path) -> int:
    from sitewatch.workspace import Workspace

    with Workspace.open(ws, read_only=True) as w:
        return int(w.store.scalar("SELECT count(*) FROM assessments"))


def test_report_to_is_a_what_if(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = demo / "workspace"
    before = _issued(ws)
    _cli(capsys, "-w", str(ws), "report", "hmeimim", "--to", "2024-12-16", "--out", str(demo / "whatif" / "r.html"))
    assert _issued(ws) == before and before > 0
    assert "What-if" in (demo / "whatif" / "r.html").read_text(encoding="utf-8")
