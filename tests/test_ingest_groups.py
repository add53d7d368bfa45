"""An archive's small members are stored a group at a time: the same result as one by one.

``ingest_paths`` reads an archive's members and stores them together (one transaction, one
insert per table); each member must still end exactly as if it had been ingested alone — its
rows and file_id, its ``ingest_log`` row, counters, quarantine, duplicates counted to it, its
place in the results — and a member that cannot be stored must fail alone.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from tests.test_readsb_speed import readsb_layout

from sitewatch.errors import InputError
from sitewatch.simulate.readsb_trace import TraceSpec, compress, specs, trace_bytes
from sitewatch.sources.base import iter_inputs
from sitewatch.store import ingest as ING
from sitewatch.store import writer as WR
from sitewatch.store.db import Store


def _archive(path: Path) -> None:
    members = [(f"traces/{int(s.icao, 16) % 256:02x}/trace_full_{s.icao}.json", compress(trace_bytes(s), "gzip"))
               for s in specs(24, 150, seed=4)]
    out = list(members)
    out.insert(5, ("traces/xx/copy.json", members[3][1]))  # the same content again: skipped
    doc = json.loads(gzip.decompress(members[7][1]))
    doc["trace"] = doc["trace"][: len(doc["trace"]) // 2]  # half of another member's points: duplicates
    out.insert(9, ("traces/xx/half.json", compress(readsb_layout(doc), "gzip")))
    out.insert(12, ("traces/xx/cut.json", members[11][1][:200]))  # a truncated gzip: fails
    bad = json.loads(trace_bytes(TraceSpec("7e7e7e", 1733443200.0, 10.0, 10.0, 0.0, 20, 0)))
    bad["trace"][5][1] = 95.0  # a latitude out of range: one quarantined point
    out.insert(15, ("traces/7e/trace_full_7e7e7e.json", compress(readsb_layout(bad), "gzip")))
    out.insert(18, ("traces/xx/readme.txt", b"not a trace\n"))  # no reader: fails
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in out:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())


def _state(store: Store, results: list[ING.FileResult]) -> dict[str, Any]:
    return {
        "results": [(r.path, r.format, r.accepted, r.rejected, r.duplicates, r.skipped, r.error,
                     sorted(r.counters.items())) for r in results],
        "rows_by_file": store.rows("SELECT l.path, count(p.id), sum(hash(p.id, p.t_utc, p.lat, p.lon, p.alt_ft, "
                                   "p.callsign, p.status, p.rec_offset)) FROM ingest_log l "
                                   "LEFT JOIN positions p USING (file_id) GROUP BY l.path ORDER BY l.path"),
        "log": store.rows("SELECT path, sha256, format, size_bytes, accepted, rejected, duplicates, options, "
                          "t_end_utc IS NOT NULL FROM ingest_log ORDER BY path"),
        "stats": store.rows("SELECT l.path, s.name, s.value FROM ingest_stats s JOIN ingest_log l USING (file_id) "
                            "ORDER BY 1, 2"),
        "quarantine": store.rows("SELECT q.path, q.rec_offset, q.reason, l.path FROM quarantine q "
                                 "JOIN ingest_log l USING (file_id) ORDER BY 1, 2"),
        "aircraft": store.rows("SELECT * EXCLUDE (t_updated_utc) FROM aircraft ORDER BY icao24"),
        "file_ids_distinct": store.scalar("SELECT count(DISTINCT file_id) = count(*) FROM ingest_log"),
    }


def _ingest(tar: Path) -> tuple[ING.IngestSummary, dict[str, Any], Store]:
    store = Store(":memory:")
    s = ING.ingest_paths(store, "adsb", [tar])
    return s, _state(store, s.results), store


@pytest.fixture
def tar(tmp_path: Path) -> Path:
    path = tmp_path / "day.tar"
    _archive(path)
    return path


@pytest.fixture
def alone(tar: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The reference: every member in a group of its own (stored as a single file is)."""
    with monkeypatch.context() as m:
        m.setattr(ING, "GROUP_FILES", 1)
        return _ingest(tar)[1]


def test_members_stored_together_end_as_if_stored_alone(tar: Path, alone: dict[str, Any]) -> None:
    s, together, store = _ingest(tar)
    assert together == alone
    assert s.files == 26 and s.skipped_files == 1 and s.failed_files == 2 and s.rejected == 1
    assert s.duplicates > 0 and dict((r[0].rsplit("!", 1)[1], r[4]) for r in together["results"])[
        "traces/xx/half.json"] == s.duplicates  # counted to the member that repeats the points
    assert [r.path.rsplit("!", 1)[1] for r in s.results][12] == "traces/xx/cut.json"  # results in member order
    again = ING.ingest_paths(store, "adsb", [tar])
    assert again.files == 0 and again.skipped_files == 27 and again.failed_files == 2


def test_groups_are_bounded_and_still_equal(tar: Path, alone: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = WR.store_together

    def spy(writers: Any) -> None:
        calls.append(len(writers))
        real(writers)

    monkeypatch.setattr(ING, "store_together", spy)
    monkeypatch.setattr(ING, "GROUP_ROWS", 600)  # a few members' points
    assert _ingest(tar)[1] == alone
    assert len(calls) > 3 and max(calls) < 26
    # members over the size limit go alone, between groups: still in order, still equal
    sizes = sorted(f.size_bytes or 0 for f in iter_inputs([tar]))  # (a member's size as read: decompressed)
    monkeypatch.setattr(ING, "GROUP_MEMBER_BYTES", sizes[len(sizes) // 2])
    monkeypatch.setattr(ING, "GROUP_ROWS", 100_000)
    calls.clear()
    assert _ingest(tar)[1] == alone
    assert len(calls) > 3


def test_a_group_that_cannot_be_stored_is_stored_one_by_one(tar: Path, alone: dict[str, Any],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(writers: Any) -> None:
        raise RuntimeError("simulated failure while storing a group")

    monkeypatch.setattr(ING, "store_together", broken)
    assert _ingest(tar)[1] == alone


def test_a_member_that_cannot_be_stored_fails_alone(tar: Path, alone: dict[str, Any],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real = WR.BatchWriter.add

    def add(self: WR.BatchWriter, batch: Any) -> Any:
        if self.path.endswith("trace_full_7e7e7e.json"):
            raise InputError("simulated: this member cannot be stored", path=self.path)
        return real(self, batch)

    monkeypatch.setattr(WR.BatchWriter, "add", add)
    s, state, _ = _ingest(tar)
    failed = [r for r in s.results if r.error]
    assert [r.path.rsplit("!", 1)[1] for r in failed] == ["traces/xx/cut.json", "traces/7e/trace_full_7e7e7e.json",
                                                          "traces/xx/readme.txt"]
    assert "cannot be stored" in (failed[1].error or "")
    # every other member exactly as before
    keep = [r for r in alone["results"] if not r[0].endswith("trace_full_7e7e7e.json")]
    assert [r for r in state["results"] if not r[0].endswith("trace_full_7e7e7e.json")] == keep
    assert state["rows_by_file"] == [r for r in alone["rows_by_file"] if not r["path"].endswith("trace_full_7e7e7e.json")]


def test_a_folder_of_small_files_is_stored_as_its_files_one_by_one(tmp_path: Path, tar: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "snapshots"
    with tarfile.open(tar) as t:
        for m in t.getmembers():
            data = t.extractfile(m).read()  # type: ignore[union-attr]
            if data[:2] == b"\x1f\x8b" and not m.name.endswith("cut.json"):
                data = gzip.decompress(data)  # plain files, as a receiver writes them ...
            out = folder / m.name.replace("/", "_")
            out.parent.mkdir(exist_ok=True)
            out.write_bytes(data)
    (folder / "zz_compressed.json.gz").write_bytes(gzip.compress((folder / "traces_7e_trace_full_7e7e7e.json")
                                                                 .read_bytes().replace(b"7e7e7e", b"7e7e7f")))

    def run() -> dict[str, Any]:
        store = Store(":memory:")
        s = ING.ingest_paths(store, "adsb", [folder])
        return _state(store, s.results)

    with monkeypatch.context() as m:
        m.setattr(ING, "GROUP_FILES", 1)
        alone = run()
    calls: list[int] = []
    real = WR.store_together
    monkeypatch.setattr(ING, "store_together", lambda ws: (calls.append(len(ws)), real(ws)))
    together = run()
    assert together == alone
    assert calls and max(calls) >= 20  # the folder's small files went in groups
    assert any(r[0].endswith("zz_compressed.json.gz") and r[2] > 0 for r in together["results"])  # ... and alone
