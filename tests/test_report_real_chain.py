"""The whole chain on real data: ADS-B (traffic sample: a US Navy C-2A landing at NAS North
Island), AIS (tracktable: New York harbour, 8 Dec 2020) and a real harbour image (DOTA P0706,
0.256 m) → analyze, detect → timeline, indicators, assessment and report for each site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import shared, tracktable, traffic
from sitewatch.cli import main

pytestmark = pytest.mark.slow

HARBOUR_IMAGE = "data/imagery/dota/P0706.png"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, f"{argv}: exit {code}: {err[-800:]}"
    return out


def test_real_air_sea_imagery_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c2 = traffic("military/aircraft_carrier.json.gz")
    ais = tracktable("python_example_data/NYHarbor_2020_12_08.traj")
    image = shared(HARBOUR_IMAGE)
    w = str(tmp_path / "ws")
    run(capsys, "init", w)
    run(capsys, "-w", w, "site", "add", "northisland", "--airport", "KNZY", "--radius-km", "5")
    run(capsys, "-w", w, "site", "add", "nyc", "--port", "New York City", "--radius-km", "8")
    assert json.loads(run(capsys, "-w", w, "ingest", "adsb", str(c2)))["accepted"] > 1000
    assert json.loads(run(capsys, "-w", w, "ingest", "ais", str(ais)))["accepted"] > 1000
    run(capsys, "-w", w, "ingest", "imagery", str(image), "--site", "nyc", "--time", "2020-12-08T15:00Z",
        "--gsd-m", "0.256", "--provider", "DOTA")
    detected = main(["-w", w, "detect", "--site", "nyc"]) == 0  # needs the shared ONNX model
    capsys.readouterr()
    run(capsys, "-w", w, "analyze")

    tl = [json.loads(x) for x in run(capsys, "-w", w, "timeline", "northisland", "--format", "ndjson").splitlines()]
    arrival = next(r for r in tl if r["kind"] == "air.arrival")
    assert arrival["file_sha256"] and arrival["ref"]["subject"] == "ae0455"
    sea = [json.loads(x) for x in run(capsys, "-w", w, "timeline", "nyc", "--format", "ndjson").splitlines()]
    assert any(r["kind"].startswith("sea.") and r["sensor"] == "ais" for r in sea)
    assert any(r["kind"] == "imagery.scene" for r in sea)
    if detected:
        ships = [r for r in sea if r["kind"] == "imagery.count" and r["ref"]["class"] == "ship"]
        assert sum(r["value"] for r in ships) > 100  # P0706 has 531 labelled ships

    ind = {s["name"]: s for s in json.loads(run(capsys, "-w", w, "indicators", "northisland", "--format", "json"))}
    assert ind["military_movements"]["status"] == "observed" or ind["heavy_arrivals"]["status"] == "observed"
    assert ind["ships_at_quay"]["status"] in ("observed", "not observed")
    items = json.loads(run(capsys, "-w", w, "assess", "northisland", "--format", "json"))
    assert {"withdrawal", "reinforcement", "evacuation", "routine"} <= {a["hypothesis"] for a in items}
    assert all(a["confidence"] in ("low", "moderate", "high") and a["revision"] == 1 for a in items)

    out = tmp_path / "northisland.html"
    res = json.loads(run(capsys, "-w", w, "report", "northisland", "--out", str(out)))
    html = out.read_text(encoding="utf-8")
    appendix = Path(res["appendix"]).read_text(encoding="utf-8")
    assert res["evidence_rows"] >= 3 and 'class="track adsb"' in html and 'id="evidence-table"' in appendix
    assert "ICAO ae0455" in html  # no aircraft database loaded: the code, saying which code it is
    out = tmp_path / "nyc.html"
    run(capsys, "-w", w, "report", "nyc", "--out", str(out))
    html = out.read_text(encoding="utf-8")
    assert 'class="track ais"' in html  # tracks
    if detected:
        assert "data:image/jpeg;base64," in html and 'class="chip"' in html  # the real scene's chip
    for text in (html, appendix):
        assert str(tmp_path) not in text and "/shared/" not in text  # files by name, never by path
