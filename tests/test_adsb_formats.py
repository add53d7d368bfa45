"""Every ADS-B format on real data: traffic's Beast capture and readsb trace, and files the
tests write in each format from real tracks; bad input in each format is quarantined."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.conftest import traffic

from sitewatch.cli import main
from sitewatch.sources.base import ReadOptions, detect, iter_inputs
from sitewatch.store.ingest import ingest_paths
from sitewatch.workspace import Workspace

START = dt.datetime(2024, 12, 13, 6, 0, tzinfo=dt.UTC)


def _ingest(ws: Workspace, path: Path, **kw: Any) -> Any:
    opts = ReadOptions(**kw) if kw else None
    return ingest_paths(ws.store, "adsb", [path], "auto", opts)


def _fmt_of(path: Path) -> str:
    return detect("adsb", next(iter_inputs([path]))).name


def _track(rel: str = "military/inflight_refuelling.json.gz", n: int = 4000) -> list[dict[str, Any]]:
    return json.loads(gzip.open(traffic(rel)).read())[:n]


# -- Beast ------------------------------------------------------------------------------------

def _beast_bytes(frames: list[str], times: list[float]) -> bytes:
    out = bytearray()
    t0 = times[0]
    for fr, t in zip(frames, times, strict=True):
        raw = bytes.fromhex(fr)
        raw = raw[:7] if int(fr[:2], 16) >> 3 in (0, 4, 5, 11) else raw
        typ = b"2" if len(raw) == 7 else b"3"
        body = int((t - t0) * 12e6).to_bytes(6, "big") + b"\x80" + raw
        out += b"\x1a" + typ + body.replace(b"\x1a", b"\x1a\x1a")
    return bytes(out)


def test_beast_sample_needs_start_and_decodes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = traffic("dump1090/sample_dump1090.bin")
    w = str(tmp_path / "w")
    main(["init", w])
    assert main(["-w", w, "-q", "ingest", "adsb", str(sample)]) == 1
    assert "--start" in capsys.readouterr().err
    assert main(["-w", w, "-q", "ingest", "adsb", str(sample), "--start", "2024-12-13T06:00Z"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accepted"] == 4 + 1 and out["rejected"] == 0  # 4 positions, 1 aircraft row
    with Workspace.open(w, read_only=True) as ws:
        rows = ws.store.rows("SELECT * FROM positions ORDER BY t_utc")
        assert {r["id"] for r in rows} == {"48520a"} and all(r["time_inferred"] for r in rows)
        assert abs(rows[0]["lat"] - 43.64) < 0.01 and rows[0]["t_utc"] >= START  # near Toulouse
        assert rows[0]["format"] == "beast" and rows[0]["rec_offset"] == 837  # byte offset
        st = dict(ws.store.sql("SELECT name, value FROM ingest_stats"))
        assert st["frames"] == 239


def test_beast_written_from_real_frames_with_damage(ws: Workspace, tmp_path: Path) -> None:
    recs = [json.loads(line) for line in open(traffic("rs1090/full_flight_short.jsonl"))][:4000]
    data = _beast_bytes([r["frame"] for r in recs], [r["timestamp"] for r in recs])
    (tmp_path / "clean.bin").write_bytes(data)
    assert _fmt_of(tmp_path / "clean.bin") == "beast"
    clean = _ingest(ws, tmp_path / "clean.bin", start=START)
    assert clean.rejected == 0 and clean.accepted > 300
    # damage: garbage between messages, a frame cut short by the next marker, a cut tail
    at = data.index(b"\x1a3", 2000)
    cut = data.index(b"\x1a3", 5000)
    bad = data[:at] + b"\x00\x01garbage" + data[at:cut + 10] + data[cut:-5]
    (tmp_path / "bad.bin").write_bytes(bad)
    s = _ingest(ws, tmp_path / "bad.bin", start=START)
    assert s.failed_files == 0 and s.rejected == 3
    q = ws.store.rows("SELECT rec_offset, offset_unit, reason FROM quarantine ORDER BY rec_offset")
    assert [r["offset_unit"] for r in q] == ["byte"] * 3
    assert q[0]["rec_offset"] == at and q[0]["reason"].startswith("garbage")
    assert "truncated" in q[1]["reason"] and "truncated" in q[2]["reason"]


# -- SBS --------------------------------------------------------------------------------------

def _sbs_lines(recs: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in recs:
        t = dt.datetime.fromtimestamp(r["timestamp"] / 1000, dt.UTC)
        d, tm = t.strftime("%Y/%m/%d"), t.strftime("%H:%M:%S.%f")[:-3]
        ic = r["icao24"].upper()
        out.append(f"MSG,1,1,1,{ic},1,{d},{tm},{d},{tm},{r['callsign']},,,,,,,,,,,0")
        if r["groundspeed"] is not None:
            out.append(f"MSG,4,1,1,{ic},1,{d},{tm},{d},{tm},,,{r['groundspeed']},{r['track']},,,0,,,,,0")
        if r["latitude"] is not None:
            alt = "" if r["altitude"] is None else int(r["altitude"])
            out.append(f"MSG,3,1,1,{ic},1,{d},{tm},{d},{tm},,{alt},,,{r['latitude']:.6f},"
                       f"{r['longitude']:.6f},,,0,0,0,0")
    return out


def test_sbs_from_real_track(ws: Workspace, tmp_path: Path) -> None:
    recs = _track("military/aircraft_carrier.json.gz")
    lines = _sbs_lines(recs)
    n_pos = sum(1 for r in recs if r["latitude"] is not None)
    lines.insert(3, "STA,,5,179,AE0455,10103,2020/06/30,20:06:30.000,2020/06/30,20:06:30.000,RM")
    lines.insert(7, "MSG,3,1,1,AE0455,1,2020/06/30,20:06:30.000")
    lines.insert(11, "MSG,3,1,1,AE0455,1,2020/13/45,25:06:30.000,2020/06/30,20:06:30.000,,2550,,,43.6,4.8,,,0,0,0,0")
    (tmp_path / "feed.sbs").write_text("\n".join(lines) + "\n")
    assert _fmt_of(tmp_path / "feed.sbs") == "sbs"
    s = _ingest(ws, tmp_path / "feed.sbs")
    assert s.rejected == 2 and s.accepted + s.duplicates == n_pos
    q = ws.store.rows("SELECT rec_offset, reason FROM quarantine ORDER BY rec_offset")
    assert q[0]["rec_offset"] == 8 and "fields" in q[0]["reason"]
    assert q[1]["rec_offset"] == 12 and "time" in q[1]["reason"]
    row = ws.store.rows("SELECT * FROM positions WHERE speed_kt IS NOT NULL ORDER BY t_utc LIMIT 1")[0]
    assert row["callsign"] == "PSWRD35" and row["format"] == "sbs"


# -- readsb -----------------------------------------------------------------------------------

def test_readsb_trace_sample_and_archive(ws: Workspace, tmp_path: Path) -> None:
    trace = traffic("readsb/trace_full_ac671b.json")
    s = _ingest(ws, trace)
    assert s.accepted == 2425 + 1 and s.rejected == 0  # 2,500 points - 75 stale, + the aircraft row
    ac = ws.store.rows("SELECT * FROM aircraft")[0]
    assert ac["registration"] == "N899DN" and ac["typecode"] == "B739" and ac["operator"].startswith("DELTA")
    gap = ws.store.scalar("SELECT max(d) FROM (SELECT epoch(t_utc) - epoch(lag(t_utc) OVER (ORDER BY t_utc)) d "
                          "FROM positions)")
    assert gap > 30000  # the 30,185 s gap of the sample
    legs = ws.store.scalar("SELECT count(*) FROM positions WHERE status LIKE '%new-leg'")
    assert legs >= 1
    # a globe_history-like archive: gzip members inside a tar, one broken point, one broken file
    doc = json.loads(Path(trace).read_text())
    doc["icao"] = "ac671c"
    doc["trace"][5] = ["x", None]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("traces/1c/trace_full_ac671c.json", gzip.compress(json.dumps(doc).encode())),
                           ("traces/1d/trace_full_ac671d.json", b'{"icao":"ac671d","timestamp":1,"trace":[[0,')):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (tmp_path / "globe_history.tar.gz").write_bytes(buf.getvalue())
    s = _ingest(ws, tmp_path / "globe_history.tar.gz")
    assert s.files == 1 and s.failed_files == 1 and s.rejected == 1
    assert "ac671d" in s.results[-1].error and "broken JSON" in s.results[-1].error


def test_readsb_aircraft_snapshots(ws: Workspace, tmp_path: Path) -> None:
    recs = _track("military/aircraft_carrier.json.gz", 600)
    folder = tmp_path / "snaps"
    folder.mkdir()
    for k, r in enumerate(x for x in recs if x["latitude"] is not None):
        if k >= 5:
            break
        snap = {"now": r["timestamp"] / 1000 + 2.0, "messages": 10, "aircraft": [
            {"hex": r["icao24"], "flight": r["callsign"] + " ", "alt_baro": "ground" if r["onground"] else r["altitude"],
             "gs": r["groundspeed"], "track": r["track"], "lat": r["latitude"], "lon": r["longitude"],
             "seen_pos": 2.0, "type": "adsb_icao", "category": "A2", "t": "C2", "dbFlags": 1},
            {"hex": "a1b2c3", "alt_baro": 3000, "seen": 1.0},
            {"hex": "nothex", "lat": 10.0, "lon": 10.0, "seen_pos": 1.0},
        ]}
        (folder / f"aircraft_{k}.json").write_text(json.dumps(snap))
    assert _fmt_of(folder / "aircraft_0.json") == "readsb-aircraft"
    s = ingest_paths(ws.store, "adsb", [folder])
    assert s.files == 5 and s.rejected == 5
    rows = ws.store.rows("SELECT t_utc, lat FROM positions ORDER BY t_utc")
    assert len(rows) == 5 and rows[0]["t_utc"].timestamp() == pytest.approx(recs[0]["timestamp"] / 1000, abs=3)
    assert ws.store.rows("SELECT military, typecode FROM aircraft WHERE icao24='ae0455'") == [
        {"military": True, "typecode": "C2"}]


# -- OpenSky, Flightradar24 ---------------------------------------------------------------------

def test_opensky_csv_and_parquet_units(ws: Workspace, tmp_path: Path) -> None:
    recs = [r for r in _track("military/aircraft_carrier.json.gz", 3000) if r["latitude"] is not None]
    header = ["time", "icao24", "lat", "lon", "velocity", "heading", "vertrate", "callsign", "onground",
              "alert", "spi", "squawk", "baroaltitude", "geoaltitude", "lastposupdate", "lastcontact", "hour"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in recs:
        w.writerow([r["timestamp"] // 1000, r["icao24"], r["latitude"], r["longitude"],
                    "" if r["groundspeed"] is None else r["groundspeed"] * 1852 / 3600, r["track"] or "",
                    "" if r["vertical_rate"] is None else r["vertical_rate"] * 0.3048 / 60, r["callsign"],
                    r["onground"], False, False, "", "" if r["altitude"] is None else r["altitude"] * 0.3048,
                    "", r["timestamp"] // 1000, r["timestamp"] // 1000, 0])
    text = buf.getvalue().splitlines()
    text.insert(4, "1600120080,ae0455,32.7,-117.2,fast,1,2,X,False")
    (tmp_path / "states.csv").write_text("\n".join(text) + "\n")
    assert _fmt_of(tmp_path / "states.csv") == "opensky"
    s = _ingest(ws, tmp_path / "states.csv")
    assert s.rejected == 1 and s.accepted == len(recs)
    row = ws.store.rows("SELECT * FROM positions WHERE alt_ft > 1000 ORDER BY t_utc LIMIT 1")[0]
    src = next(r for r in recs if r["altitude"] and r["altitude"] > 1000)
    assert row["alt_ft"] == pytest.approx(src["altitude"], abs=0.01)
    assert row["speed_kt"] == pytest.approx(src["groundspeed"], abs=0.01) and row["format"] == "opensky"
    t = pa.csv.read_csv(io.BytesIO("\n".join(text[:4] + text[5:]).encode()))
    pq.write_table(t, tmp_path / "states.parquet")
    s = _ingest(ws, tmp_path / "states.parquet")
    assert s.rejected == 0 and s.duplicates == len(recs)


def test_opensky_csv_lines_end_as_the_csv_parser_ends_them(ws: Workspace, tmp_path: Path) -> None:
    """The header line is cut where pyarrow's CSV parser cuts it (\\r, \\n or \\r\\n): a lone carriage
    return inside it once left the header we judged and the columns pyarrow read apart (KeyError,
    found by fuzzing); a file of old Mac line endings reads whole."""
    lines = ["time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,baroaltitude",
             "1733990400,4b1805,35.40,35.95,120.0,90.0,0.0,RFF7801,False,3000.0",
             "1733990410,4b1805,35.41,35.96,120.0,90.0,0.0,RFF7801,False,3010.0"]
    (tmp_path / "cr.csv").write_bytes("\r".join(lines).encode() + b"\r")
    s = ws.ingest("adsb", [tmp_path / "cr.csv"], "opensky")
    assert s.results[0].error is None and s.accepted == 2
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")  # Excel's UTF-8
    s = ws.ingest("adsb", [tmp_path / "bom.csv"], "opensky")
    assert s.results[0].error is None and s.duplicates == 2
    (tmp_path / "broken.csv").write_bytes(b"time\r,icao24,lat,lon\n1733990400,4b1805,35.4,35.9\n")
    s = ws.ingest("adsb", [tmp_path / "broken.csv"], "opensky")
    assert s.accepted == 0 and "columns ['time'] fit no known layout" in str(s.results[0].error)


def test_fr24_csv_needs_icao24(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recs = [r for r in _track() if r["latitude"] is not None][:500]
    lines = ["Timestamp,UTC,Callsign,Position,Altitude,Speed,Direction"]
    for r in recs:
        t = dt.datetime.fromtimestamp(r["timestamp"] / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f'{r["timestamp"] // 1000},{t},{r["callsign"]},"{r["latitude"]:.5f},{r["longitude"]:.5f}",'
                     f'{int(r["altitude"])},{r["groundspeed"] or ""},{r["track"] or ""}')
    lines.insert(2, '1593547590,2020-06-30T20:06:30Z,FAF4011,"43.6",2550,0,0')
    (tmp_path / "flight.csv").write_text("\n".join(lines) + "\n")
    assert _fmt_of(tmp_path / "flight.csv") == "fr24"
    w = str(tmp_path / "w")
    main(["init", w])
    assert main(["-w", w, "-q", "ingest", "adsb", str(tmp_path / "flight.csv")]) == 1
    assert "--icao24" in capsys.readouterr().err
    assert main(["-w", w, "-q", "ingest", "adsb", str(tmp_path / "flight.csv"), "--icao24", "3B7777"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rejected"] == 1 and out["accepted"] + out["duplicates"] == 500
    with Workspace.open(w, read_only=True) as ws:
        assert ws.store.scalar("SELECT count(DISTINCT id) FROM positions WHERE id='3b7777'") == 1
        assert ws.store.scalar("SELECT rec_offset FROM quarantine") == 3


def test_wrong_headers_and_foreign_files_fail_clearly(ws: Workspace, tmp_path: Path) -> None:
    tmp_path = tmp_path / "in"
    tmp_path.mkdir()
    (tmp_path / "a.csv").write_text("time,foo,bar\n1,2,3\n")
    (tmp_path / "b.json").write_text('{"type": "FeatureCollection", "features": []}')
    (tmp_path / "c.bin").write_bytes(bytes(range(256)) * 4)
    s = ingest_paths(ws.store, "adsb", [tmp_path])
    assert s.failed_files == 3 and s.files == 0
    for r in s.results:
        assert Path(r.path).name in r.error and "--format" in r.error
    # forcing a format on the wrong file names the columns it needs
    s = ingest_paths(ws.store, "adsb", [tmp_path / "a.csv"], "opensky")
    assert "time, icao24, lat, lon" in s.results[0].error
    s = ingest_paths(ws.store, "adsb", [tmp_path / "a.csv"], "hex")
    assert "frame column" in s.results[0].error and "a.csv" in s.results[0].error
