"""A real-data control over every port in reach of real AIS: none may look like a crisis.

The AIS of tracktable-data 1.7.3.1 (MarineCadastre, US public domain) — New York harbour 1–7
December 2020, Virginia Beach / Norfolk 4–6 June 2020, the US coast on 30 June 2020 — and
every World Port Index port inside those two harbours' boxes as a port site (32 ports). None
of them was being withdrawn from, reinforced or evacuated that week: no hypothesis other than
routine may pass 0.5, each set sums to 1, and every sentence's numbers are backed by its rows.

Before the port's regular government craft were told apart from warships sailing (2026-12-08),
Bayonne and Brooklyn read "exercise" at 0.63 and 0.62 on harbour boats' daily trips, and four
more ports stood at routine 0.22 against withdrawal 0.21.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import tracktable

from sitewatch.cli import main
from sitewatch.fusion import footnotes as F
from sitewatch.reference import ports
from sitewatch.store import evidence as EVD
from sitewatch.workspace import Workspace

pytestmark = pytest.mark.slow

FILES = ("NYHarbor_2020_12_first_week.traj", "VirginiaBeach_2020_06_04_to_06_filtered.traj",
         "US_coastal_2020_06_30.traj")
BOXES = ((40.4, 41.0, -74.4, -73.6), (36.7, 37.1, -76.5, -75.8))  # lat, lat, lon, lon


def _cli(args: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        rc = main(args)
    return rc, buf.getvalue()


def test_no_real_port_reads_as_a_crisis(tmp_path: Path) -> None:
    files = [tracktable(f"python_example_data/{n}") for n in FILES]
    ws = tmp_path / "ws"
    assert _cli(["init", str(ws), "--name", "sweep"])[0] == 0
    sites = [p for p in ports.all_ports() if any(a <= p.lat <= b and c <= p.lon <= d for a, b, c, d in BOXES)]
    assert len(sites) >= 30
    for p in sites:
        assert _cli(["-w", str(ws), "site", "add", f"wpi{p.wpi}", "--port", f"WPI:{p.wpi}"])[0] == 0
    for f in files:
        assert _cli(["-w", str(ws), "ingest", "ais", str(f), "--format", "traj"])[0] == 0
    assert _cli(["-w", str(ws), "analyze"])[0] == 0
    high: dict[str, dict[str, float]] = {}
    judged: dict[str, list[dict[str, Any]]] = {}
    for p in sites:
        name = f"wpi{p.wpi}"
        rc, out = _cli(["-w", str(ws), "assess", name, "--format", "json"])
        assert rc == 0
        items = json.loads(out)
        judged[name] = items
        assert abs(sum(float(a["probability"]) for a in items) - 1.0) < 1e-9
        odd = {str(a["hypothesis"]): round(float(a["probability"]), 3) for a in items
               if a["hypothesis"] != "routine" and float(a["probability"]) > 0.5}
        if odd:
            high[f"{p.name} ({name})"] = odd
    assert not high, high
    with Workspace.open(ws, read_only=True) as w:
        for name, items in judged.items():
            rows = {r["evidence_id"]: r for r in EVD.list_evidence(w.store, name)}
            assert F.check(items, rows, [w.site(name).label]) == [], name
    # most of them are judged on their evidence, not left at the priors: the control tests something
    assessed = sum(items[0]["status"] == "assessed" for items in judged.values())
    assert assessed >= len(sites) // 2, assessed
