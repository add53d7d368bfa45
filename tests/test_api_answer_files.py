"""Saved answers of the live ADS-B APIs ingested as files (``readsb-api``, ``opensky-api``).

Real recorded answers from ``../shared/data/api-samples`` (adsb.one's v2 ``/icao`` answer, the
OpenSky ``/states/all`` answers of python-opensky and gopensky; skipped with a reason where
absent) and answers built to the documented envelopes for the faults.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from tests.conftest import shared
from tests.test_stream_apis import OS_17, OS_EXT, OS_NULL, RECEIVER, V2

from sitewatch.acquire.readsb_api import parse_envelope, read_aircraft
from sitewatch.sources.adsb.api_answers import OpenSkyApiReader, ReadsbApiReader
from sitewatch.sources.base import InputFile, ReadOptions, readers
from sitewatch.workspace import Workspace

POS_COLS = ["t_utc", "id", "lat", "lon", "alt_ft", "speed_kt", "track_deg", "vrate_fpm", "onground", "callsign",
            "squawk", "status", "format", "rec_offset"]


def _formats(ws: Workspace) -> dict[str, str]:
    return {Path(p).name: f for p, f in ws.store.sql("SELECT path, format FROM ingest_log")}


def _best(head: bytes, name: str) -> str:
    scores = {fmt: r.sniff(head, name) for fmt, r in readers("adsb").items()}
    return max(scores, key=lambda k: scores[k])


def test_each_saved_answer_is_told_by_its_content() -> None:
    for rel, fmt in ((V2, "readsb-api"), (RECEIVER, "readsb-aircraft"), (OS_EXT, "opensky-api"),
                     (OS_17, "opensky-api"), (OS_NULL, "opensky-api")):
        p = shared(rel)
        assert _best(p.read_bytes()[:4096], "answer.json") == fmt, rel


def test_saved_v2_answer_gives_the_rows_a_polled_one_gives(tmp_path: Path) -> None:
    p = shared(V2)
    ws = Workspace.init(tmp_path / "ws")
    s = ws.ingest("adsb", [p])
    assert s.results[0].error is None and _formats(ws) == {p.name: "readsb-api"}
    got = ws.store.arrow(f"SELECT {', '.join(POS_COLS)} FROM positions ORDER BY t_utc").to_pylist()
    assert len(got) == 1
    row = got[0]
    # now 1675633671226 ms (2023-02-05T21:47:51.226Z) less seen_pos 3.486 s
    assert row["t_utc"] == datetime(2023, 2, 5, 21, 47, 47, 740000, tzinfo=UTC)
    assert (row["id"], row["lat"], row["lon"], row["alt_ft"]) == ("a9cee9", 37.358322, -93.374147, 38000.0)
    assert (row["callsign"], row["squawk"], row["rec_offset"]) == ("N731BP", "3301", 1)
    # the same bytes as stream adsb polls them: the same rows
    now_s, recs, counters = parse_envelope(p.read_bytes(), 0.0)
    live = next(b for b in read_aircraft(now_s, recs, 0, "readsb-api", counters, set())
                if b.table == "positions" and b.rows.num_rows)
    want = live.rows.select([c for c in POS_COLS if c in live.rows.column_names]).to_pylist()[0]
    assert {k: row[k] for k in want} == want
    assert ws.store.sql("SELECT typecode IS NULL, category FROM aircraft WHERE icao24 = 'a9cee9'") == [(True, "A2")]
    again = ws.ingest("adsb", [p])  # idempotent: the same content is skipped
    assert again.accepted == 0 and again.skipped_files == 1
    ws.close()


def test_saved_opensky_answers(tmp_path: Path) -> None:
    ext, v17, empty = shared(OS_EXT), shared(OS_17), shared(OS_NULL)
    ws = Workspace.init(tmp_path / "ws")
    s = ws.ingest("adsb", [ext, v17, empty])
    assert [r.error for r in s.results] == [None, None, None]
    assert set(_formats(ws).values()) == {"opensky-api"}
    counts = dict(ws.store.sql("SELECT l.path, count(p.id) FROM ingest_log l LEFT JOIN positions p "
                               "ON p.file_id = l.file_id GROUP BY 1"))
    # python-opensky's 4 states; gopensky's 6 less the one on the ground without a position;
    # "states": null (nothing matched) is an answer with no rows, not an error
    assert {Path(k).name: v for k, v in counts.items()} == {ext.name: 4, v17.name: 5, empty.name: 0}
    r = ws.store.arrow("SELECT * FROM positions WHERE id = 'ab1644'").to_pylist()[0]
    assert r["callsign"] == "UAL421" and r["t_utc"] == datetime.fromtimestamp(1683488743, UTC)
    assert r["alt_ft"] == pytest.approx(2217.42 * 3.28084)
    ws.close()


def _read(reader: ReadsbApiReader | OpenSkyApiReader, data: bytes) -> list[pa.Table]:
    src = InputFile("answer.json", lambda: io.BytesIO(data), len(data))
    return [b.rows for b in reader.read(src, ReadOptions())]


def test_faults_in_saved_answers(tmp_path: Path) -> None:
    from sitewatch.errors import FormatError

    ok = {"hex": "4b1805", "lat": 35.4, "lon": 35.9, "seen_pos": 0.4}
    # no time: refused, never given the time of ingest
    for doc in ({"ac": [ok], "msg": "No error"}, {"ac": [ok], "now": None}):
        with pytest.raises(FormatError, match=r"answer\.json.*no usable 'now'"):
            _read(ReadsbApiReader(), json.dumps(doc).encode())
    # a truncated download
    with pytest.raises(FormatError, match=r"answer\.json.*not JSON"):
        _read(ReadsbApiReader(), b'{"now": 1700000000000, "ac": [{"hex": "4b18')
    # a 'now' too large for a float once crashed the live poller (OverflowError): now it is no time
    huge = b'{"ac": [], "now": 1' + b"0" * 400 + b"}"
    assert parse_envelope(huge, 1700000000.0) == (1700000000.0, [], {"now_missing": 1})
    with pytest.raises(FormatError, match="no usable 'now'"):
        _read(ReadsbApiReader(), huge)
    big = "1" + "0" * 400  # beyond any float: the field is empty, the state kept
    vec = f'["4b1805", "RFF7801 ", "Russia", 1700000000, 1700000000, 35.9, 35.4, {big}, false, {big}, 90.0, ' \
          f'Infinity, null, null, "1234", false, 0]'
    (row,) = _read(OpenSkyApiReader(), f'{{"time": 1700000000, "states": [{vec}]}}'.encode())[0].to_pylist()
    assert row["alt_ft"] is None and row["speed_kt"] is None and row["vrate_fpm"] is None and row["lat"] == 35.4
    with pytest.raises(FormatError, match="not an OpenSky /states/all answer"):
        _read(OpenSkyApiReader(), b'{"time": 1700000000, "error": "rate limited"}')
    # through the workspace: a bad record quarantined with its record number, the rest kept
    f = tmp_path / "point.json"
    f.write_text(json.dumps({"now": 1700000000000, "msg": "No error",
                             "ac": [ok, {"lat": 1.0, "lon": 2.0, "seen_pos": 1}, {**ok, "hex": "4b1806", "unknown": 1}]}))
    ws = Workspace.init(tmp_path / "ws")
    s = ws.ingest("adsb", [f])
    assert s.accepted == 2 and s.rejected == 1
    assert ws.store.sql("SELECT rec_offset, offset_unit, reason FROM quarantine") == [(2, "record", "icao24 is not a 24-bit hex address")]
    assert [r[0] for r in ws.store.sql("SELECT id FROM positions ORDER BY id")] == ["4b1805", "4b1806"]
    # an answer saved without its time is told by its "ac" list and refused for that reason
    g = tmp_path / "no-time.json"
    g.write_text(json.dumps({"ac": [ok], "msg": "No error", "total": 1}))
    s = ws.ingest("adsb", [g])
    assert s.accepted == 0 and "no usable 'now'" in str(s.results[0].error) and "no-time.json" in str(s.results[0].error)
    ws.close()
