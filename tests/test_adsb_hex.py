"""The ``hex`` reader (CSV and JSON lines of raw frames) end to end into the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import traffic

from sitewatch.store.ingest import ingest_paths
from sitewatch.workspace import Workspace


def _recs(n: int | None = None) -> list[dict]:
    out = []
    with open(traffic("rs1090/full_flight_short.jsonl")) as f:
        for i, line in enumerate(f):
            if n is not None and i >= n:
                break
            out.append(json.loads(line))
    return out


def test_hex_csv_with_bad_lines(ws: Workspace, tmp_path: Path) -> None:
    recs = _recs(12000)
    lines = ["ts,hex,signal"] + [f"{r['timestamp']},{r['frame']},-12.5" for r in recs]
    bad = {
        100: "1720248200.1,8f39332238,-3",          # 10 hex digits
        200: "1720248200.2,zz393322384a02aea63afc43dcba,-3",
        300: "not-a-time,8f393322384a02aea63afc43dcba,-3",
        400: "1720248200.4,8f393322384a02aea63afc43dcba",  # a field short
    }
    for at in sorted(bad, reverse=True):
        lines.insert(at, bad[at])
    (tmp_path / "frames.csv").write_text("\n".join(lines) + "\n")
    s = ingest_paths(ws.store, "adsb", [tmp_path / "frames.csv"])
    assert s.failed_files == 0 and s.rejected == 4
    q = ws.store.rows("SELECT rec_offset, reason, raw FROM quarantine ORDER BY rec_offset")
    assert [r["rec_offset"] for r in q] == [101, 202, 303, 404]  # 1-based line numbers
    assert "10 hex digits" in q[0]["reason"] and q[1]["reason"] == "not hexadecimal"
    assert "time" in q[2]["reason"] and "fields" in q[3]["reason"]
    pos = ws.store.rows("SELECT count(*) n, count(DISTINCT id) a, sum(onground::int) g, max(alt_ft) alt "
                        "FROM positions WHERE format='hex'")[0]
    assert pos["n"] > 1000 and pos["a"] == 1 and pos["g"] > 500 and pos["alt"] > 5000
    # rec_offset points at the frame's own line
    row = ws.store.rows("SELECT rec_offset, lat FROM positions ORDER BY t_utc LIMIT 1")[0]
    frame = lines[row["rec_offset"] - 1].split(",")[1]
    assert frame.startswith("8") and int(frame[:2], 16) >> 3 == 17
    stats = dict(ws.store.sql("SELECT name, value FROM ingest_stats"))
    assert stats["frames"] == 12000 and stats["positions_global"] > 1000
    assert ws.store.rows("SELECT icao24, db_source FROM aircraft") == [{"icao24": "393322",
                                                                       "db_source": "feed:hex"}]


def test_hex_jsonl_broken_lines_and_headerless_csv(ws: Workspace, tmp_path: Path) -> None:
    recs = _recs(3000)
    lines = [json.dumps({"timestamp": r["timestamp"], "frame": r["frame"]}) for r in recs]
    lines.insert(10, '{"timestamp": 1720248190.0, "frame": ')
    lines.insert(20, '{"timestamp": 1720248190.0}')
    (tmp_path / "f.jsonl").write_text("\n".join(lines) + "\n")
    s = ingest_paths(ws.store, "adsb", [tmp_path / "f.jsonl"])
    assert s.rejected == 2 and s.accepted > 100
    reasons = [r[0] for r in ws.store.sql("SELECT reason FROM quarantine ORDER BY rec_offset")]
    assert reasons[0].startswith("broken JSON") and "no frame" in reasons[1]
    # TIME,HEX without a header, milliseconds, dump1090's *…; wrapping
    (tmp_path / "raw.txt").write_text("".join(f"{int(r['timestamp'] * 1000)},*{r['frame']};\n" for r in recs[:3000]))
    s2 = ingest_paths(ws.store, "adsb", [tmp_path / "raw.txt"])
    # the same frames: as many positions (times now to the millisecond, so few are duplicates)
    assert s2.failed_files == 0 and s2.rejected == 0
    assert s2.accepted + s2.duplicates == s.accepted + s.duplicates


@pytest.mark.slow
def test_full_a321_flight_jsonl(ws: Workspace) -> None:
    s = ingest_paths(ws.store, "adsb", [traffic("rs1090/full_flight_short.jsonl")])
    # 8,324 decoded positions, 43 of them repeated frames (same time and place), + 1 aircraft row
    assert (s.accepted, s.duplicates, s.rejected) == (8281 + 1, 43, 0)
    ends = ws.store.rows("SELECT lat, lon FROM positions ORDER BY t_utc")
    assert abs(ends[0]["lat"] - 49.0) < 0.05 and abs(ends[-1]["lat"] - 43.63) < 0.05  # LFPG → LFBO


def test_opensky_raw_message_columns(ws: Workspace, tmp_path: Path) -> None:
    """OpenSky's raw tables: ``rawmsg`` first, ``mintime`` later, extra columns ignored."""
    recs = _recs(6000)  # includes the take-off: surface fixes need an airborne fix (or --ref)
    lines = ["rawmsg,icao24,mintime,serials"] + [f"{r['frame']},{r['icao24']},{r['timestamp']},1" for r in recs]
    (tmp_path / "raw.csv").write_text("\n".join(lines) + "\n")
    s = ingest_paths(ws.store, "adsb", [tmp_path / "raw.csv"])
    assert s.failed_files == 0 and s.rejected == 0 and s.accepted > 100
    assert ws.store.scalar("SELECT DISTINCT format FROM positions") == "hex"
