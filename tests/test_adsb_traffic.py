"""The ``traffic`` reader and ``sitewatch ingest adsb`` on traffic's real military samples."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.conftest import traffic

from sitewatch.cli import main
from sitewatch.sources.adsb.traffic import TrafficReader
from sitewatch.sources.base import ReadOptions, iter_inputs
from sitewatch.store.ingest import ingest_paths
from sitewatch.workspace import Workspace


def _ingest(ws: Workspace, *paths: Path, fmt: str = "auto") -> dict[str, int]:
    s = ingest_paths(ws.store, "adsb", [str(p) for p in paths], fmt)
    return s.as_json()


def test_cli_ingests_military_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    carrier = traffic("military/aircraft_carrier.json.gz")
    refuel = traffic("military/inflight_refuelling.json.gz")
    w = str(tmp_path / "w")
    assert main(["init", w]) == 0
    code = main(["-w", w, "-q", "ingest", "adsb", str(carrier), str(refuel)])
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 0
    summary = json.loads(out)
    # 9,024 + 10,397 records; 1,689 + 1 of them carry no position (counted, not rejected)
    assert summary == {"files": 2, "accepted": 7335 + 10396, "rejected": 0, "duplicates": 0, "skipped_files": 0}
    with Workspace.open(w, read_only=True) as ws:
        st = dict(ws.store.sql("SELECT name, sum(value) FROM ingest_stats GROUP BY name"))
        assert st["no_position"] == 1690
        last = ws.store.rows("SELECT * FROM positions WHERE id='ae0455' ORDER BY t_utc DESC LIMIT 1")[0]
        # the C-2A ends at NAS North Island (32.70 N, 117.20 W), on the ground
        assert last["lat"] == pytest.approx(32.70, abs=0.02) and last["lon"] == pytest.approx(-117.2, abs=0.03)
        assert last["callsign"] == "PSWRD35" and last["format"] == "traffic" and last["t_utc"].tzinfo
        fr = ws.store.rows("SELECT min(lon) lo, max(t_utc) t FROM positions WHERE id='3b7777'")[0]
        assert fr["t"].isoformat().startswith("2020-06-30T22:59:41")
    # idempotent: the same files again add nothing
    assert main(["-w", w, "-q", "ingest", "adsb", str(carrier)]) == 0
    assert json.loads(capsys.readouterr().out)["skipped_files"] == 1


def test_parquet_and_csv_written_from_a_real_track(ws: Workspace, tmp_path: Path) -> None:
    recs = json.loads(gzip.open(traffic("military/aircraft_carrier.json.gz")).read())
    t = pa.Table.from_pylist(recs)
    t = t.set_column(t.schema.get_field_index("timestamp"), "timestamp",
                     pa.array([r["timestamp"] * 1000 for r in recs], pa.timestamp("us", tz="UTC")))
    pq.write_table(t, tmp_path / "carrier.parquet")
    assert _ingest(ws, tmp_path / "carrier.parquet")["accepted"] == 7335
    # CSV with ISO times, a short line and a bad number: both quarantined by line
    lines = ["timestamp,icao24,latitude,longitude,altitude,groundspeed,track,callsign,onground"]
    for r in recs[2000:2100]:
        if r["latitude"] is None:
            continue
        lines.append(f"2020-09-14 22:{r['timestamp'] // 1000 % 3600 // 60:02d}:{r['timestamp'] // 1000 % 60:02d}"
                     f",{r['icao24']},{r['latitude']},{r['longitude']},{r['altitude'] or ''},"
                     f"{r['groundspeed'] or ''},{r['track'] or ''},{r['callsign']},{r['onground']}")
    n_good = len(lines) - 1
    lines.insert(5, "2020-09-14 22:00:00,ae0455,32.7")
    lines.insert(9, "2020-09-14 22:00:00,ae0455,32.7,-117.2,abc,1,2,X,False")
    (tmp_path / "carrier.csv").write_text("\n".join(lines) + "\n")
    s = _ingest(ws, tmp_path / "carrier.csv")
    assert s["accepted"] + s["duplicates"] == n_good and s["rejected"] == 2
    q = ws.store.rows("SELECT rec_offset, reason FROM quarantine ORDER BY rec_offset")
    assert [r["rec_offset"] for r in q] == [6, 10]
    assert "fields" in q[0]["reason"] and "altitude is not a number" in q[1]["reason"]


def test_broken_and_truncated_json_are_quarantined(ws: Workspace, tmp_path: Path) -> None:
    recs = [{"timestamp": 1600120071000 + i * 1000, "icao24": "AE0455", "latitude": 32.7, "longitude": -117.2,
             "callsign": "PSWRD35 "} for i in range(10)]
    text = json.dumps(recs).replace('"latitude": 32.7, "longitude": -117.2, "callsign": "PSWRD35 "}, {"time',
                                    '"latitude": 32.7 "longitude": -117.2}, {"time', 1)
    (tmp_path / "broken.json").write_text(text)
    s = _ingest(ws, tmp_path / "broken.json")
    assert s["accepted"] == 9 and s["rejected"] == 1
    (tmp_path / "cut.json").write_text(json.dumps(recs[:5])[:-30])
    s = _ingest(ws, tmp_path / "cut.json")
    assert s["rejected"] == 2  # the cut record and the unclosed array
    reasons = [r[0] for r in ws.store.sql("SELECT reason FROM quarantine ORDER BY file_id, rec_offset")]
    assert reasons[0].startswith("broken JSON") and "truncated" in reasons[-1]
    row = ws.store.rows("SELECT id, callsign FROM positions LIMIT 1")[0]
    assert row == {"id": "ae0455", "callsign": "PSWRD35"}
    # an out-of-range latitude is a reject, with its record number
    (tmp_path / "lat.json").write_text(json.dumps([{**recs[0], "latitude": 95.0}]))
    assert _ingest(ws, tmp_path / "lat.json")["rejected"] == 1


def test_not_adsb_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(tmp_path / "w")
    main(["init", w])
    (tmp_path / "notes.txt").write_text("hello, this is not a flight\n")
    code = main(["-w", w, "-q", "ingest", "adsb", str(tmp_path / "notes.txt")])
    out, err = capsys.readouterr()
    assert code == 1 and json.loads(out)["failed_files"] == 1
    assert "notes.txt" in err and "--format" in err


@pytest.mark.slow
def test_paris_collection_reads_with_onground_flags() -> None:
    src = next(iter_inputs([traffic("collections/quickstart.json.gz")]))
    n = ground = 0
    ids: set[str] = set()
    for b in TrafficReader().read(src, ReadOptions()):
        assert not b.rejects
        n += b.rows.num_rows
        ground += sum(1 for v in b.rows.column("onground").to_pylist() if v)
        ids |= set(b.rows.column("id").to_pylist())
    assert n == 284505 and len(ids) >= 200 and ground > 1000


def test_zst_and_tar_archives_read_in_place(ws: Workspace, tmp_path: Path) -> None:
    import io
    import tarfile

    import zstandard

    raw = gzip.open(traffic("military/aircraft_carrier.json.gz")).read()
    (tmp_path / "carrier.json.zst").write_bytes(zstandard.ZstdCompressor().compress(raw))
    assert _ingest(ws, tmp_path / "carrier.json.zst")["accepted"] == 7335
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("day/carrier.json")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    (tmp_path / "day.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(buf.getvalue()))
    s = _ingest(ws, tmp_path / "day.tar.zst")
    assert s["skipped_files"] == 1  # same content as the .zst file: recognised by its hash
