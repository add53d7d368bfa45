"""The Workspace façade — ``sitewatch.open(path)`` — opened directly: ingest, analyze, reads as
Arrow tables, assess as Assessment objects, one fusion setting for every consumer; and the
reader registry as the source of ``--format`` (a new ADS-B format is one module)."""

from __future__ import annotations

import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import sitewatch
from sitewatch import sites as S
from sitewatch.errors import InputError, NotFoundError
from sitewatch.workspace import Workspace

T0 = datetime(2024, 12, 13, 6, 0, tzinfo=UTC)


def _track_csv(path: Path, icao: str, n: int, t0: datetime, lat0: float = 35.40) -> Path:
    lines = ["t_utc,source,id,lat,lon,alt_ft"]
    for i in range(n):
        lines.append(f"{(t0 + timedelta(seconds=10 * i)).isoformat()},adsb,{icao},{lat0:.4f},"
                     f"{35.30 + 0.002 * i:.5f},{1000 + i}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def ws(tmp_path: Path) -> Any:
    w = Workspace.init(tmp_path / "ws")
    w.put_site(S.from_airport("hmeimim", "OSLK", 6))
    w.close()
    opened = sitewatch.open(tmp_path / "ws")
    yield opened
    opened.close()


def test_open_gives_the_folder_when_no_server_owns_it(ws: Any) -> None:
    assert isinstance(ws, Workspace) and isinstance(ws, sitewatch.WorkspaceAPI)
    assert sorted(ws.sites) == ["hmeimim"]


def test_ingest_analyze_and_read_tables(ws: Any, tmp_path: Path) -> None:
    f1 = _track_csv(tmp_path / "a.csv", "151abc", 60, T0)
    f2 = _track_csv(tmp_path / "b.csv", "151def", 30, T0 + timedelta(hours=1), 35.41)
    seen: list[int] = []
    s = ws.ingest("positions", [f1, f2], progress=seen.append)
    assert (s.files, s.accepted, s.rejected) == (2, 90, 0) and sum(seen) == 90
    assert ws.ingest("positions", f1).skipped_files == 1  # idempotent
    pos = ws.positions()
    assert isinstance(pos, pa.Table) and pos.num_rows == 90
    assert pos.column_names[:5] == ["t_utc", "source", "id", "lat", "lon"]
    assert ws.positions(subject="151def").num_rows == 30
    assert ws.positions(limit=7).num_rows == 7
    assert ws.positions(t_from=T0 + timedelta(hours=1)).num_rows == 30
    df = pos.to_pandas()
    assert len(df) == 90 and str(df["t_utc"].dt.tz) == "UTC"
    summary = ws.analyze()
    assert summary.as_json()["analyses"] == len(summary.by_analysis) > 5
    ev = ws.events()
    assert isinstance(ev, pa.Table) and "canonical_kind" in ev.column_names and ev.num_rows == summary.as_json()["events"]
    assert ws.events(site="hmeimim", kind="air.arrival,departure").num_rows <= ev.num_rows


def test_unknown_things_are_one_line_errors(ws: Any, tmp_path: Path) -> None:
    f = _track_csv(tmp_path / "a.csv", "151abc", 3, T0)
    with pytest.raises(InputError, match="valid: start"):
        ws.ingest("positions", f, colour="red")
    with pytest.raises(InputError, match="unknown kind"):
        ws.events(kind="air.nonsense")
    with pytest.raises(NotFoundError):
        ws.timeline("nowhere")
    with pytest.raises(InputError, match="not after"):
        ws.events(t_from="2024-12-14", t_to="2024-12-13")
    with pytest.raises(InputError, match="load a database first"):
        ws.ingest("adsb", f, watch_types="A124")  # watch types resolved by the library, not the CLI


def test_fusion_reads_and_assessment_objects(ws: Any, tmp_path: Path) -> None:
    from sitewatch.fusion.assessment import Assessment

    obs = tmp_path / "obs.csv"
    obs.write_text("\n".join(f"2024-12-{d:02d}, hmeimim, {n} × A124 on apron, Maxar, https://example.org/{d}"
                             for d, n in [(1, 1), (5, 1), (9, 2), (12, 6)]) + "\n")
    warnings: list[str] = []
    ws.ingest("observations", obs, on_warning=warnings.append)
    assert warnings == []
    tl = ws.timeline("hmeimim")
    assert isinstance(tl, pa.Table) and tl.num_rows == 4 and set(tl.column("kind").to_pylist()) == {
        "analyst.observation"}
    ind = ws.indicators("hmeimim", days=True)
    assert {"name", "value", "score", "status", "sentence", "days"} <= set(ind.column_names)
    items = ws.assess("hmeimim", at="2024-12-13")
    assert all(isinstance(a, Assessment) for a in items) and items[0].what_if
    assert [a.probability for a in items] == sorted((a.probability for a in items), reverse=True)
    assert abs(sum(a.probability for a in items) - 1) < 1e-6
    table = sitewatch.assessments_table(items)
    assert table.num_rows == len(items) and table.column("hypothesis").to_pylist()[0] == items[0].hypothesis


def test_one_fusion_setting_for_cli_dashboard_and_report(ws: Any) -> None:
    from sitewatch.cli.cmd_fusion import _near_km, _window

    ws.config["settings"]["fusion"] = {"near_km": 42.5, "window_days": 21}
    ws.save()
    again = sitewatch.open(ws.folder)
    assert again.fusion == sitewatch.FusionSettings(42.5, 21)
    assert (_near_km(again), _window(again)) == (42.5, 21)
    # a change made by someone else to sitewatch.toml is read again
    text = (ws.folder / "sitewatch.toml").read_text().replace("42.5", "10.0")
    (ws.folder / "sitewatch.toml").write_text(text)
    assert again.fusion.near_km == 10.0


# -- the reader registry ------------------------------------------------------------------------
NEW_FORMAT = '''
"""A made-up ADS-B format: ``T|ICAO|LAT|LON`` lines (a test of what adding a format takes)."""

from collections.abc import Iterator

import pyarrow as pa

from sitewatch.sources.base import Batch, InputFile, ReadOptions, register, text_lines


@register
class PipeReader:
    kind = "adsb"
    name = "pipe-test"

    def sniff(self, head: bytes, name: str) -> float:
        return 0.95 if head.startswith(b"PIPE|") else 0.0

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        rows = [ln.split("|")[1:] for _, ln in text_lines(src) if ln.startswith("PIPE|")]
        yield Batch("positions", pa.table({
            "t_utc": pa.array([int(r[0]) * 1_000_000 for r in rows], pa.timestamp("us", tz="UTC")),
            "source": ["adsb"] * len(rows), "id": [r[1] for r in rows],
            "lat": [float(r[2]) for r in rows], "lon": [float(r[3]) for r in rows]}))
'''


def test_a_new_adsb_format_is_one_module(tmp_path: Path, ws: Any) -> None:
    """Drop one module into the ADS-B readers' package: ``--format`` offers it, auto-detection
    finds it, and ingest reads it — no list edited anywhere."""
    import sitewatch.sources.adsb as pkg
    from sitewatch.cli import main
    from sitewatch.sources import base

    extra = tmp_path / "extra_readers"
    extra.mkdir()
    (extra / "pipe_test.py").write_text(textwrap.dedent(NEW_FORMAT))
    pkg.__path__.append(str(extra))
    base._DISCOVERED.discard("adsb")
    try:
        assert "pipe-test" in base.formats("adsb")
        data = tmp_path / "feed.txt"
        data.write_text("PIPE|1734069600|4b1a2c|35.40|35.90\nPIPE|1734069610|4b1a2c|35.41|35.91\n")
        assert main(["-q", "-w", str(ws.folder), "ingest", "adsb", str(data), "--format", "pipe-test"]) == 0
        data2 = tmp_path / "feed2.txt"
        data2.write_text("PIPE|1734069620|4b1a2c|35.42|35.92\n")
        assert ws.ingest("adsb", data2).accepted == 1  # found by its sniffer
        assert ws.positions(subject="4b1a2c").num_rows == 3
    finally:
        pkg.__path__.remove(str(extra))
        base._REGISTRY["adsb"].pop("pipe-test", None)
        sys.modules.pop("sitewatch.sources.adsb.pipe_test", None)


def test_format_choices_come_from_the_registry() -> None:
    from sitewatch.cli import root
    from sitewatch.sources.base import formats

    ingest = root.commands["ingest"]
    for kind in ("adsb", "ais", "positions", "imagery", "observations"):
        fmt = next(p for p in ingest.commands[kind].params if p.name == "fmt")  # type: ignore[attr-defined]
        assert list(fmt.type.choices) == ["auto", *formats(kind)], kind  # type: ignore[attr-defined]
    assert "sidecar" not in formats("imagery")  # chosen by sniffing only
