"""The fusion commands as a user drives them: ingest observations, timeline, indicators,
assess, rules, export events|evidence (GeoJSON, KML, CSV, Parquet)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sitewatch.cli import main
from sitewatch.workspace import Workspace
from test_fusion_scenario import Scenario, build, hmeimim

KML = "{http://www.opengis.net/kml/2.2}"
GX = "{http://www.google.com/kml/ext/2.2}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def wsw(ws: Workspace) -> Workspace:
    ws.put_site(hmeimim())
    build(ws.store, "withdrawal")
    ws.close()
    return ws


def test_ingest_observations_and_timeline(ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws.put_site(hmeimim())
    ws.close()
    w = str(ws.folder)
    f = tmp_path / "obs.csv"
    f.write_text("2024-12-13, hmeimim, 2 × A124 on apron, Maxar, https://example.org/a\n"
                 "2024-12-14, hmeimim, columns of trucks heading north, BBC Verify, https://example.org/b\n"
                 "not-a-date, hmeimim, x, y, z\n"
                 "2024-12-14, tartus, warships gone, Planet, https://example.org/c\n")
    code, out, err = run(capsys, "-w", w, "ingest", "observations", str(f))
    assert code == 0 and json.loads(out) == {"files": 1, "accepted": 3, "rejected": 1, "duplicates": 0,
                                            "skipped_files": 0}
    assert "tartus" in err and "sitewatch site add" in err
    code, out, _ = run(capsys, "-w", w, "timeline", "hmeimim", "--format", "ndjson")
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and [r["text"] for r in rows] == ["2 × A124 on apron", "columns of trucks heading north"]
    assert rows[0]["sensor"] == "analyst" and rows[0]["ref"]["url"] == "https://example.org/a"
    code, out, _ = run(capsys, "-w", w, "timeline", "hmeimim")
    assert code == 0 and "analyst.observation" in out.splitlines()[0] + out.splitlines()[2]
    code, _, err = run(capsys, "-w", w, "timeline", "hmeimin")
    assert code == 2 and "hmeimim" in err


def test_indicators_and_assess(wsw: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(wsw.folder)
    code, out, _ = run(capsys, "-w", w, "indicators", "hmeimim", "--at", "2024-12-14", "--format", "json")
    ind = {s["name"]: s for s in json.loads(out)}
    assert code == 0 and ind["heavy_departures"]["value"] == 6 and "days" not in ind["heavy_departures"]
    code, out, _ = run(capsys, "-w", w, "assess", "hmeimim", "--at", "2024-12-14", "--format", "json")
    items = json.loads(out)
    assert code == 0 and items[0]["hypothesis"] == "withdrawal"
    assert items[0]["likelihood"] in ("likely", "very likely", "almost certain")
    assert abs(sum(a["probability"] for a in items) - 1.0) < 1e-9 and len(items) == 7
    assert set(items[0]["judgement"]["evidence"]) <= set(items[0]["footnotes"])
    assert items[0]["revision"] == 0 and items[0]["what_if"]  # --at is a what-if: not issued
    assert items[0]["ach"]["rows"] and items[0]["as_of"].startswith("2024-12-14")
    code, out, _ = run(capsys, "-w", w, "assess", "hmeimim", "--at", "2024-12-14", "--save", "--rule", "withdrawal",
                       "--history")
    assert code == 0 and "Withdrawal or drawdown of forces (the leading hypothesis): it is" in out
    assert "Evidence:" in out and "ACH matrix" in out and "assessment as of 2024-12-14T00:00:00Z" in out
    assert "Revision history:" in out and "withdrawal r1" in out
    code, _, err = run(capsys, "-w", w, "assess", "hmeimim", "--save")
    assert code == 2 and "--at" in err
    code, out, _ = run(capsys, "-w", w, "timeline", "hmeimim", "--format", "ndjson")
    kinds = {json.loads(x)["kind"] for x in out.splitlines()}
    assert code == 0 and "air.departure" in kinds and "air.coverage" not in kinds
    code, out, _ = run(capsys, "-w", w, "timeline", "hmeimim", "--coverage", "--format", "ndjson")
    assert {"air.coverage", "sea.coverage"} <= {json.loads(x)["kind"] for x in out.splitlines()}


def test_rules_list_show_edit(ws: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
                              ) -> None:
    w = str(ws.folder)
    code, out, _ = run(capsys, "-w", w, "rules", "list", "--format", "json")
    assert code == 0 and {r["name"] for r in json.loads(out)} == {
        "withdrawal", "reinforcement", "evacuation", "repositioning", "exercise", "routine", "other"}
    code, out, _ = run(capsys, "-w", w, "rules", "show", "withdrawal")
    assert code == 0 and "dark_transport" in out and "expects:" in out
    code, out, _ = run(capsys, "-w", w, "rules", "edit", "withdrawal", "--path-only")
    path = Path(out.strip())
    assert code == 0 and path.is_file() and path.parent == Path(w) / "rules"
    path.write_text(path.read_text().replace("prior: 0.08", "prior: 0.35"))
    code, out, _ = run(capsys, "-w", w, "rules", "list", "--format", "json")
    mine = next(r for r in json.loads(out) if r["name"] == "withdrawal")
    assert mine["prior"] == 0.35 and mine["source"] == str(path)
    path.write_text(path.read_text().replace("{up:", "{sideways:", 1))
    code, _, err = run(capsys, "-w", w, "rules", "list")
    assert code == 2 and "sideways" in err and str(path) in err
    code, _, err = run(capsys, "-w", w, "rules", "show", "withdrawl")
    assert code == 2 and "withdrawal" in err


def test_export_events_and_evidence_in_every_format(wsw: Workspace, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    w = str(wsw.folder)
    sc = Scenario()  # one event with a real track, so KML and GeoJSON carry a track
    from datetime import date

    sc.event("departure", date(2024, 12, 13), "151a09", hour=21, typecode="A124")
    sc.positions += [{"t_utc": sc.events[0]["t_start"].replace(minute=m), "source": "adsb", "id": "151a09",
                      "lat": 35.40 + m / 100, "lon": 35.95 - m / 200} for m in range(1, 6)]
    sc.events[0]["evidence"][0]["t_to"] = sc.events[0]["t_start"].replace(minute=5)
    with Workspace.open(w) as ws2:
        sc.write(ws2.store)
    for what in ("events", "evidence"):
        for fmt in ("geojson", "kml", "csv", "parquet"):
            out_path = tmp_path / f"{what}.{fmt}"
            code, out, err = run(capsys, "-w", w, "export", what, "--format", fmt, "--out", str(out_path),
                                 "--site", "hmeimim")
            assert code == 0, err
            assert json.loads(out)["records"] > 50 and out_path.stat().st_size > 0
    fc = json.loads((tmp_path / "events.geojson").read_text())
    tracks = [f for f in fc["features"] if f["properties"].get("role") == "track"]
    assert fc["type"] == "FeatureCollection" and tracks
    t = next(x for x in tracks if x["properties"]["subject"] == "151a09")
    assert t["geometry"]["type"] == "LineString" and len(t["geometry"]["coordinates"]) == 6
    root = ET.parse(tmp_path / "events.kml").getroot()
    assert root.tag == f"{KML}kml"
    marks = root.findall(f".//{KML}Placemark")
    assert len(marks) > 50 and all(":" not in (m.get("id") or "") for m in marks)
    track = root.findall(f".//{GX}Track")
    assert track and len(track[-1].findall(f"{KML}when")) == len(track[-1].findall(f"{GX}coord")) >= 2
    ev = pq.read_table(tmp_path / "evidence.parquet")
    assert {"evidence_id", "file_sha256", "ref", "simulated"} <= set(ev.column_names)
    import csv

    with open(tmp_path / "evidence.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == ev.num_rows and rows[0]["t_start"].endswith("Z") and json.loads(rows[0]["ref"])


def test_every_fusion_command_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in (["timeline"], ["indicators"], ["assess"], ["rules", "list"], ["rules", "show"], ["rules", "edit"],
                ["export", "events"], ["export", "evidence"], ["ingest", "observations"], ["report"]):
        code, out, _ = run(capsys, *cmd, "--help")
        assert code == 0 and "Example" in out, cmd
