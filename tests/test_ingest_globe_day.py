"""A globe_history day downloaded by hand: ``ingest adsb DAY.tar`` (or its split parts) reads
it as one stream, as ``fetch adsb`` does.

Checked: the rows are those the per-member reading stores; heatmaps and the README are
skipped members, not failures; a broken member is quarantined as ``archive!member``; the
parts of a split day, in any order, read as the whole tar (same SHA-256: re-ingesting either
is skipped); a missing, short or absent-last part is refused and nothing is stored;
``--watch-types`` keeps only the aircraft asked for; a tar that is not a day is read as before.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from tests.conftest import shared

from sitewatch.acquire.adsblol import ingest_day_files
from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.simulate.readsb_trace import compress, specs, trace_bytes
from sitewatch.sources.adsb import globe_parts as GP
from sitewatch.sources.base import ReadOptions
from sitewatch.store.db import Store
from sitewatch.store.ingest_log import sources
from sitewatch.workspace import Workspace

TAG = "v2024.12.10-planes-readsb-prod-0"
ROWS_SQL = ("SELECT id, t_utc, lat, lon, alt_ft, speed_kt, track_deg, onground, vrate_fpm, callsign, squawk, status "
            "FROM positions ORDER BY id, t_utc")


def _tar(path: Path, broken: bool = False, n: int = 12) -> Path:
    members = [("README.txt", b"adsb.lol globe_history release (test)\n")]
    members += [(f"heatmap/{k:02d}.bin.ttf", compress(bytes(2048), "gzip")) for k in range(3)]
    for s in specs(n, 120, seed=8):
        members.append((f"traces/{int(s.icao, 16) % 256:02x}/trace_full_{s.icao}.json", compress(trace_bytes(s), "gzip")))
    if broken:
        members.insert(7, ("traces/7e/trace_full_7e7e7e.json", compress(b'{"icao":"7e7e7e","timestamp":1,"trace":[[0,', "gzip")))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return path


def _split(tar: Path, folder: Path, parts: int = 3) -> list[Path]:
    data = tar.read_bytes()
    size = -(-len(data) // parts)
    folder.mkdir(exist_ok=True)
    out = []
    for k in range(parts):
        p = folder / f"{TAG}.tar.a{chr(97 + k)}"
        p.write_bytes(data[k * size:(k + 1) * size])
        out.append(p)
    return out


def _ws(tmp_path: Path, name: str) -> Workspace:
    return Workspace.init(tmp_path / name)


def row_count(ws: Workspace) -> int:
    return int(ws.store.scalar("SELECT accepted FROM ingest_log"))


def _rows(store: Store) -> list[dict[str, object]]:
    return store.rows(ROWS_SQL)


def test_a_day_reads_as_one_stream_with_the_rows_of_its_members(tmp_path: Path) -> None:
    tar = _tar(tmp_path / "day.tar")
    a = _ws(tmp_path, "a")
    s = a.ingest("adsb", [tar])
    assert (s.files, s.failed_files, s.rejected) == (1, 0, 0)
    log = a.store.rows("SELECT path, format, accepted FROM ingest_log")
    assert log == [{"path": str(tar), "format": "readsb-trace", "accepted": s.accepted}]
    counters = {r["name"]: r["value"] for r in a.store.rows("SELECT name, value FROM ingest_stats")}
    assert counters["members_skipped"] == 4 and counters["members_traces"] == 12  # README + 3 heatmaps
    b = _ws(tmp_path, "b")
    pm = b.ingest("adsb", [tar], per_member=True)
    assert pm.files == 12 and pm.failed_files == 4  # the old reading: every non-trace member a failure
    assert len(_rows(a.store)) > 1000 and _rows(a.store) == _rows(b.store)
    again = a.ingest("adsb", [tar])
    assert (again.files, again.skipped_files) == (0, 1)


def test_a_broken_member_is_quarantined_and_the_rest_kept(tmp_path: Path) -> None:
    tar = _tar(tmp_path / "day.tar", broken=True)
    ws = _ws(tmp_path, "w")
    s = ws.ingest("adsb", [tar])
    assert (s.files, s.failed_files, s.rejected) == (1, 0, 1)
    assert ws.store.scalar("SELECT path FROM quarantine") == f"{tar}!traces/7e/trace_full_7e7e7e.json"
    assert ws.store.scalar("SELECT count(DISTINCT id) FROM positions") == 12


def test_split_parts_in_any_order_read_as_the_whole_tar(tmp_path: Path) -> None:
    tar = _tar(tmp_path / "day.tar")
    parts = _split(tar, tmp_path / "parts")
    day = GP.DayFiles(tuple(parts))
    assert GP.sha256(day) == GP.sha256(GP.DayFiles((tar,)))
    whole = _ws(tmp_path, "whole")
    whole.ingest("adsb", [tar])
    split = _ws(tmp_path, "split")
    s = split.ingest("adsb", [parts[2], parts[0], parts[1]])
    assert (s.files, s.failed_files) == (1, 0)
    assert _rows(split.store) == _rows(whole.store)
    (row,) = split.store.rows("SELECT path, sha256, options FROM ingest_log")
    assert row["path"] == f"{parts[0]}+ab+ac" and row["sha256"] == GP.sha256(day)
    prov = json.loads(row["options"])["provenance"]  # named as an adsb.lol release: its licence and attribution
    assert prov["licence"] == "ODbL-1.0" and prov["release"] == TAG and "file name" in prov["identified_by"]
    assert [f["name"] for f in prov["files"]] == [p.name for p in parts]
    (src,) = sources(split.store)  # what the report's sources section lists
    assert src["source"] == "adsblol" and "adsb.lol" in src["attribution"] and src["rows"] == row_count(split)
    assert split.ingest("adsb", [tmp_path / "parts"]).skipped_files == 1  # the folder: the same day again


def test_a_missing_or_short_part_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    tar = _tar(tmp_path / "day.tar")
    parts = _split(tar, tmp_path / "parts", 4)
    ws = _ws(tmp_path, "w")
    with pytest.raises(InputError, match=r"lacks part .*\.tar\.ab"):
        ws.ingest("adsb", [parts[0], parts[2], parts[3]])
    with pytest.raises(InputError, match=r"lacks part .*\.tar\.aa"):
        ws.ingest("adsb", parts[1:])
    moved = tmp_path / "elsewhere"  # parts uploaded one by one, each in a folder of its own: still one day
    moved.mkdir()
    (moved / parts[3].name).write_bytes(parts[3].read_bytes())
    (day,), rest = GP.split_days([*parts[:3], moved / parts[3].name])
    assert rest == [] and day.parts == (*parts[:3], moved / parts[3].name)
    with pytest.raises(InputError, match="given twice"):
        GP.split_days([*parts, moved / parts[3].name])
    parts[1].write_bytes(parts[1].read_bytes()[:-1000])  # cut short
    with pytest.raises(InputError, match=r"one size but for a smaller last one.*\.tar\.ab is cut short"):
        ws.ingest("adsb", parts)
    assert ws.store.scalar("SELECT count(*) FROM ingest_log") == 0


def test_a_day_without_its_last_part_fails_whole(tmp_path: Path) -> None:
    tar = _tar(tmp_path / "day.tar")
    parts = _split(tar, tmp_path / "parts", 3)
    ws = _ws(tmp_path, "w")
    s = ws.ingest("adsb", parts[:2])
    assert s.failed_files == 1 and s.files == 0
    assert "end early" in str(s.results[0].error) and "is " + parts[1].name + " the day's last part" in str(
        s.results[0].error)
    assert ws.store.scalar("SELECT count(*) FROM positions") == 0
    assert ws.store.scalar("SELECT count(*) FROM ingest_log") == 0  # the input ends whole or absent


def test_only_the_watched_aircraft_are_kept(tmp_path: Path) -> None:
    tar = _tar(tmp_path / "day.tar")
    st = Store(":memory:")
    everyone = ingest_day_files(st, GP.DayFiles((tar,)))
    ids = sorted(r["id"] for r in st.rows("SELECT DISTINCT id FROM positions"))[:3]
    st2 = Store(":memory:")
    r = ingest_day_files(st2, GP.DayFiles((tar,)), ReadOptions(extra={"watch_types": "IL76",
                                                                     "only_ids": frozenset(ids)}))
    assert sorted(x["id"] for x in st2.rows("SELECT DISTINCT id FROM positions")) == ids
    kept = st2.scalar("SELECT count(*) FROM positions")
    assert r.counters["not_watched"] == st.scalar("SELECT count(*) FROM positions") - kept
    assert everyone.counters.get("not_watched", 0) == 0
    assert "only_ids" not in st2.scalar("SELECT options FROM ingest_log")  # used, not recorded


def test_a_tar_that_is_not_a_day_is_read_member_by_member(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for k in range(3):
            data = f"timestamp,frame\n{1733800000 + k},8D4840D6202CC371C32CE0576098\n".encode()
            info = tarfile.TarInfo(f"frames/{k}.csv")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "frames.tar"
    path.write_bytes(buf.getvalue())
    assert not GP.is_day(path)
    other = tmp_path / "csv"
    other.mkdir()
    (other / "a.csv").write_text("timestamp,frame\n")
    assert GP.split_days([path, other]) == ([], [str(path), str(other)])  # as given
    assert GP.split_days([tmp_path]) == ([], [str(other / "a.csv"), str(path)])  # a folder with a tar: its files


def test_the_cli_ingests_the_parts_of_a_day(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tar = _tar(tmp_path / "day.tar")
    parts = _split(tar, tmp_path / "parts")
    ws = str(tmp_path / "w")
    assert main(["-q", "init", ws]) == 0
    capsys.readouterr()
    assert main(["-q", "-w", ws, "ingest", "adsb", *map(str, parts)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["files"] == 1 and out["accepted"] > 1000 and "failed_files" not in out
    assert main(["-q", "-w", ws, "ingest", "adsb", str(parts[0]), str(parts[2])]) != 0
    err = capsys.readouterr().err
    assert "lacks part" in err and f"{TAG}.tar.ab" in err and len(err.strip().splitlines()) == 1


def test_the_real_trace_inside_a_split_day_reads_as_the_file_alone(tmp_path: Path) -> None:
    """Real data: the recorded readsb trace (N899DN, 2,500 points) gzipped inside a day whose
    README is adsb.lol's own template, split in two: the same rows as the trace file ingested
    alone by the readsb-trace reader."""
    real = shared("data/api-samples/adsb-readsb/trace_full_ac671b.json")
    readme = shared("data/api-samples/adsblol-globe-history/globe_history_2024_README.txt.template")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in (("README.txt", readme.read_bytes()), ("heatmap/00.bin.ttf", compress(bytes(512), "gzip")),
                           ("traces/1b/trace_full_ac671b.json", compress(real.read_bytes(), "gzip"))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    day = tmp_path / f"{TAG}.tar"
    day.write_bytes(buf.getvalue())
    parts = _split(day, tmp_path / "parts", 2)
    a = _ws(tmp_path, "a")
    s = a.ingest("adsb", parts)
    assert (s.files, s.failed_files, s.rejected) == (1, 0, 0)
    b = _ws(tmp_path, "b")
    b.ingest("adsb", [real], "readsb-trace")
    rows = _rows(a.store)
    assert len(rows) > 2000 and rows == _rows(b.store)
    assert {r["id"] for r in rows} == {"ac671b"}


def test_the_shape_of_split_parts() -> None:
    """``split -b``: parts of one size but for a smaller last one (fetch checks its downloads so too)."""
    assert [GP.uneven_part(s) for s in ([5], [5, 5], [5, 3], [5, 5, 5])] == [None] * 4
    assert [GP.uneven_part(s) for s in ([5, 6], [5, 4, 3], [5, 5, 6], [5, 4, 5, 2])] == [1, 1, 2, 1]
