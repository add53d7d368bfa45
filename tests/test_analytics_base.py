"""The analysis runner: registration, idempotent replacement, deterministic ids, events listing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from sitewatch.analytics import base as B
from sitewatch.cli import main
from sitewatch.store.events import list_events
from sitewatch.store.evidence import evidence_rows
from sitewatch.store.ingest import ingest_paths
from sitewatch.workspace import Workspace

T0 = datetime(2024, 12, 1, tzinfo=UTC)


@pytest.fixture
def toy_analysis() -> object:
    calls = {"n": 0}

    @B.register_analysis("test.toy", order=999, kinds=("toy",))
    def toy(ctx: B.AnalysisContext) -> pa.Table:
        """Toy: one event per aircraft, at its first position."""
        calls["n"] += 1
        rows = ctx.store.rows("SELECT id, min(t_utc) AS t0, max(t_utc) AS t1, count(*) AS n "
                              "FROM positions GROUP BY id ORDER BY id")
        return B.events_table([
            {"kind": "toy", "t_start": r["t0"], "t_end": r["t1"], "subject": r["id"], "confidence": 0.5,
             "details": {"n": r["n"]}, "evidence": [B.position_ref("adsb", r["id"], r["t0"], r["t1"])]}
            for r in rows
        ], "test.toy")

    yield calls
    B._REGISTRY.pop("test.toy", None)


def test_run_is_idempotent_with_stable_ids(ws: Workspace, tmp_path: Path, toy_analysis: dict[str, int]) -> None:
    f = tmp_path / "p.csv"
    f.write_text("t_utc,source,id,lat,lon\n" + "".join(
        f"{(T0 + timedelta(seconds=10 * i)).isoformat()},adsb,{a},35.4,35.9\n" for a in ("aaa111", "bbb222")
        for i in range(5)))
    ingest_paths(ws.store, "positions", [f])
    ctx = B.AnalysisContext(ws.store, ws.sites)
    r1 = B.run(ctx, ["test.toy"])
    ids1 = [e["event_id"] for e in list_events(ws.store)]
    r2 = B.run(ctx, ["test.toy"])
    ids2 = [e["event_id"] for e in list_events(ws.store)]
    assert r1[0].events == r2[0].events == 2 and ids1 == ids2 and toy_analysis["n"] == 2
    ev = list_events(ws.store, kinds=["toy"], subject="aaa111")[0]
    assert ev["details"] == {"n": 5}
    rows = evidence_rows(ws.store, ev["evidence"][0])
    assert len(rows) == 5 and rows[0]["path"].endswith("p.csv") and rows[0]["sha256"]


def test_events_cli_formats(ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            toy_analysis: dict[str, int]) -> None:
    f = tmp_path / "p.csv"
    f.write_text("t_utc,source,id,lat,lon\n2024-12-01T00:00:00Z,adsb,aaa111,35.4,35.9\n")
    ingest_paths(ws.store, "positions", [f])
    ws.close()
    w = str(ws.folder)
    assert main(["-w", w, "analyze", "--only", "test.toy"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["events"] == 1
    assert main(["-w", w, "events", "--format", "ndjson", "--evidence"]) == 0
    ev = json.loads(capsys.readouterr().out.splitlines()[0])
    assert set(ev) >= {"kind", "site", "t_start", "t_end", "subject", "confidence", "details", "evidence",
                       "evidence_rows"}
    assert ev["evidence_rows"][0][0]["id"] == "aaa111"
    assert main(["-w", w, "events", "--format", "csv", "--kind", "toy"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("event_id,kind,site,t_start")
    assert main(["-w", w, "events", "--kind", "nothing"]) == 2  # an unknown kind lists the valid ones
    assert "unknown kind" in capsys.readouterr().err
