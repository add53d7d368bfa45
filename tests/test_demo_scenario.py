"""`sitewatch demo` at reduced size: the story's key events and the assessment come out of
the ordinary pipeline (nothing is written into the store around it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sitewatch.cli import main
from sitewatch.simulate import scenario


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, _ = capsys.readouterr()
    return code, out


def _events(capsys: pytest.CaptureFixture[str], ws: str, *args: str) -> list[dict]:
    code, out = _cli(capsys, "-w", ws, "events", "--format", "ndjson", *args)
    assert code == 0
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "out"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["-q", "demo", "--out", str(out), "--scale", "0.2", "--no-imagery"])
    assert code == 0
    return out, buf.getvalue()


def test_last_line_is_the_report_index(demo: tuple[Path, str]) -> None:
    out, stdout = demo
    last = stdout.strip().splitlines()[-1]
    assert Path(last) == (out / "index.html").resolve() and Path(last).is_file()
    page = Path(last).read_text()
    assert "SIMULATED" in page and "report-hmeimim" in page
    for site in ("hmeimim", "tartus"):
        rep = out / f"report-{site}.SIMULATED.html"
        assert rep.is_file() and "SIMULATED" in rep.read_text()
    # every raw file's name, or its folder's (tar1090-db files must be named by address prefix)
    assert all("SIMULATED" in str(p.relative_to(out / "raw")) for p in (out / "raw").rglob("*") if p.is_file())


def test_airlift_and_dark_visit_found_by_air_analytics(demo: tuple[Path, str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(demo[0] / "workspace")
    heavy = {a.icao24 for a in scenario.AN124 + scenario.IL76}
    arr = [e for e in _events(capsys, ws, "--site", "hmeimim", "--kind", "arrival", "--from", "2024-12-11",
                              "--to", "2024-12-20") if e["subject"] in heavy]
    base = [e for e in _events(capsys, ws, "--site", "hmeimim", "--kind", "arrival", "--to", "2024-12-08")
            if e["subject"] in heavy]
    assert len(arr) >= 20 and len(arr) / 9 > 3 * max(len(base), 1) / 10  # the airlift against the baseline
    (dv,) = [e for e in _events(capsys, ws, "--kind", "dark-visit", "--subject", scenario.AN124[2].icao24)]
    assert dv["site"] == "hmeimim" and dv["t_start"].startswith("2024-12-17") and dv["confidence"] >= 0.5
    (gap,) = [e for e in _events(capsys, ws, "--kind", "dark-gap", "--subject", scenario.AN124[2].icao24)]
    assert 5.9 * 3600 < gap["details"]["duration_s"] < 6.1 * 3600


def test_ships_leave_tartus_and_loiter(demo: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(demo[0] / "workspace")
    navy = {s.mmsi for s in scenario.NAVY}
    dep = {e["subject"] for e in _events(capsys, ws, "--site", "tartus", "--kind", "vessel-departure",
                                         "--from", "2024-12-09", "--to", "2024-12-11")}
    assert navy <= dep
    loiter = {e["subject"] for e in _events(capsys, ws, "--kind", "loitering") if e["subject"] in navy}
    assert loiter == navy


def test_assessment_reached_by_the_pipeline(demo: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(demo[0] / "workspace")
    code, out = _cli(capsys, "-w", ws, "assess", "hmeimim", "--rule", "withdrawal", "--format", "json")
    assert code == 0
    text = out.lower()
    assert "withdrawal" in text and ("likely" in text or "almost certain" in text)
    assert "unlikely" not in json.dumps(_withdrawal(json.loads(out))).lower()
    code, out = _cli(capsys, "-w", ws, "assess", "hmeimim", "--format", "json")
    conf = json.loads(out)[0]["confidence_sentence"]["text"]
    assert code == 0 and "analyst reports point to" in conf  # a plural noun: not "reports points to"


def _withdrawal(doc: object) -> object:
    """The withdrawal hypothesis' entry, wherever the JSON puts it."""
    if isinstance(doc, dict):
        if doc.get("hypothesis") == "withdrawal" or doc.get("rule") == "withdrawal":
            return {k: doc[k] for k in doc if k in ("likelihood", "probability", "confidence")}
        for v in doc.values():
            found = _withdrawal(v)
            if found is not None:
                return found
    if isinstance(doc, list):
        for v in doc:
            found = _withdrawal(v)
            if found is not None:
                return found
    return None


def test_competing_judgements_on_the_demo(demo: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's bar: Hmeimim leads with withdrawal, reinforcement <= 0.15, the leading
    judgement cites the An-124's dark visit; Tartus's leader cites the departures and the
    loitering offshore; every sentence's numbers are backed by its footnotes."""
    _meets_the_issues_bar(str(demo[0] / "workspace"), capsys)


def test_the_bar_holds_for_another_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue asks for the demo's judgements at any seed: another seed's background traffic,
    timings and noise, the same bar."""
    out = tmp_path / "out"
    code, _ = _cli(capsys, "-q", "demo", "--out", str(out), "--scale", "0.2", "--no-imagery", "--seed", "7")
    assert code == 0
    _meets_the_issues_bar(str(out / "workspace"), capsys)


def _meets_the_issues_bar(ws: str, capsys: pytest.CaptureFixture[str]) -> None:
    from sitewatch.fusion import footnotes as F
    from sitewatch.workspace import Workspace

    docs = {}
    for site in ("hmeimim", "tartus"):
        code, out = _cli(capsys, "-w", ws, "assess", site, "--format", "json")
        assert code == 0
        docs[site] = json.loads(out)
        assert abs(sum(a["probability"] for a in docs[site]) - 1.0) < 1e-9
    hm = {a["hypothesis"]: a for a in docs["hmeimim"]}
    lead = docs["hmeimim"][0]
    assert lead["hypothesis"] == "withdrawal" and hm["reinforcement"]["probability"] <= 0.15
    an124 = scenario.AN124[2].icao24
    cited = [lead["footnotes"][i] for i in lead["judgement"]["evidence"]]
    assert any(r["kind"] == "air.dark-visit" and r["subject"] == an124 for r in cited)
    ta = docs["tartus"][0]
    kinds = {ta["footnotes"][i]["kind"] for i in ta["judgement"]["evidence"]}
    assert {"sea.vessel-departure", "sea.loitering"} <= kinds, kinds
    with Workspace.open(ws, read_only=True) as w:
        from sitewatch.store import evidence as EVD

        for site, items in docs.items():
            rows = {r["evidence_id"]: r for r in EVD.list_evidence(w.store, site)}
            assert F.check(items, rows, [w.site(site).label]) == []
