"""Store: schema drift, migration, idempotent and transactional ingest, quarantine, export."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sitewatch import schema
from sitewatch import sites as S
from sitewatch.errors import FormatError
from sitewatch.sources.base import Batch, InputFile, ReadOptions, iter_inputs
from sitewatch.store.db import Store
from sitewatch.store.export import csv_schema, write_batches
from sitewatch.store.ingest import ingest_paths, run_reader
from sitewatch.store.positions import POSITION_COLUMNS, position_batches
from sitewatch.workspace import Workspace

HEADER = "t_utc,source,id,lat,lon,alt_ft,speed_kt,track_deg,onground\n"


def _csv(path: Path, n: int, start_lat: float = 35.40, bad_every: int = 0) -> Path:
    with open(path, "w") as f:
        f.write(HEADER)
        for i in range(n):
            if bad_every and i % bad_every == 0:
                f.write(f"2024-12-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z,adsb,151abc,not-a-lat,35.9,,,,\n")
                continue
            f.write(f"2024-12-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z,adsb,151abc,{start_lat + i * 1e-4:.6f},"
                    f"35.9487,{1000 + i},{150.0},{90.0},false\n")
    return path


def test_schema_drift_duckdb_matches_declarations() -> None:
    st = Store()
    for t in schema.TABLES.values():
        have = st.columns(t.name)
        assert [n for n, _ in have] == t.names, t.name
        for (n, typ), col in zip(have, t.columns, strict=True):
            want = "VARCHAR" if col.type == "JSON" else col.type
            assert typ.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ") == want, (t.name, n)
        assert t.arrow_schema().names == t.names
    assert st.meta_get("schema_version") == str(schema.SCHEMA_VERSION)


def test_migration_adds_missing_columns(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    st = Store(db)
    st.sql('ALTER TABLE positions DROP COLUMN "squawk"')
    st.close()
    st2 = Store(db)
    assert "squawk" in [n for n, _ in st2.columns("positions")]
    st2.sql("UPDATE meta SET value='999' WHERE key='schema_version'")
    st2.close()
    with pytest.raises(Exception, match="newer sitewatch"):
        Store(db)


def test_conform_rejects_unknown_columns() -> None:
    with pytest.raises(KeyError, match="not declared"):
        schema.conform("positions", pa.table({"t_utc": [1], "bogus": [2]}))


def test_ingest_is_idempotent_and_counts(ws: Workspace, tmp_path: Path) -> None:
    f = _csv(tmp_path / "a.csv", 100)
    s1 = ingest_paths(ws.store, "positions", [f])
    assert s1.as_json() == {"files": 1, "accepted": 100, "rejected": 0, "duplicates": 0, "skipped_files": 0}
    s2 = ingest_paths(ws.store, "positions", [f])
    assert s2.as_json() == {"files": 0, "accepted": 0, "rejected": 0, "duplicates": 0, "skipped_files": 1}
    assert ws.store.count("positions") == 100
    # a different file holding the same records: all counted as duplicates, none added
    g = tmp_path / "b.csv"
    g.write_text(f.read_text() + "\n")
    s3 = ingest_paths(ws.store, "positions", [g])
    assert s3.duplicates == 100 and s3.accepted == 0
    assert ws.store.count("positions") == 100


def test_bad_rows_are_quarantined_with_line_and_reason(ws: Workspace, tmp_path: Path) -> None:
    f = _csv(tmp_path / "bad.csv", 50, bad_every=10)
    s = ingest_paths(ws.store, "positions", [f])
    assert (s.accepted, s.rejected) == (45, 5)
    q = ws.store.rows("SELECT rec_offset, raw, reason, path FROM quarantine ORDER BY rec_offset")
    assert [r["rec_offset"] for r in q] == [2, 12, 22, 32, 42]  # header is line 1
    assert all("not-a-lat" in r["raw"] and r["reason"] and r["path"].endswith("bad.csv") for r in q)


def test_not_our_format_is_reported_and_ingest_goes_on(ws: Workspace, tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("hello world\n")
    good = _csv(tmp_path / "good.csv", 10)
    s = ingest_paths(ws.store, "positions", [junk, good])
    assert s.failed_files == 1 and s.files == 1 and s.accepted == 10
    assert "junk.txt" in s.as_json()["errors"][0]
    with pytest.raises(FormatError, match=r"junk\.txt"):
        from sitewatch.sources.base import detect

        detect("positions", next(iter_inputs([junk])))


class _Exploding:
    kind = "positions"
    name = "csv"

    def __init__(self, real: object, after: int) -> None:
        self.real, self.after = real, after

    def sniff(self, head: bytes, name: str) -> float:
        return 1.0

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        for i, b in enumerate(self.real.read(src, opts)):  # type: ignore[attr-defined]
            if i == self.after:
                raise RuntimeError("simulated crash in the middle of a file")
            yield b


def test_crash_mid_file_leaves_nothing(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sitewatch.sources.positions import readers as R

    monkeypatch.setattr(R, "BATCH_ROWS", 10)
    f = _csv(tmp_path / "a.csv", 55, bad_every=7)
    src = next(iter_inputs([f]))
    reader = _Exploding(R.PositionsCsv(), after=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_reader(ws.store, "positions", src, reader, src.sha256(), ReadOptions())
    for t in ("positions", "quarantine", "ingest_log", "ingest_stats"):
        assert ws.store.count(t) == 0, t
    # and the file ingests whole afterwards
    s = ingest_paths(ws.store, "positions", [f])
    assert s.accepted + s.rejected == 55 and s.rejected == 8


def test_sigkill_during_ingest_leaves_only_whole_files(tmp_path: Path) -> None:
    """Kill a real ingest process with SIGKILL while it writes; the store holds whole files only."""
    files = [_csv(tmp_path / f"f{i}.csv", 20_000, start_lat=30 + i) for i in range(6)]
    ws_dir = tmp_path / "ws"
    Workspace.init(ws_dir).close()
    script = textwrap.dedent(f"""
        import sys
        from sitewatch.workspace import Workspace
        from sitewatch.store.ingest import ingest_paths
        from sitewatch.sources.positions import readers as R
        R.BATCH_ROWS = 2000
        ws = Workspace.open({str(ws_dir)!r})
        print("start", flush=True)
        ingest_paths(ws.store, "positions", {[str(f) for f in files]!r})
        print("done", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "start"
    time.sleep(1.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ws = Workspace.open(ws_dir)
    logged = ws.store.rows("SELECT file_id, accepted FROM ingest_log")
    per_file = ws.store.rows("SELECT file_id, count(*) AS n FROM positions GROUP BY file_id")
    assert {r["file_id"]: r["accepted"] for r in logged} == {r["file_id"]: r["n"] for r in per_file}
    assert all(r["n"] == 20_000 for r in per_file)
    # a re-run completes with exactly the rows of an uninterrupted run
    ingest_paths(ws.store, "positions", files)
    assert ws.store.count("positions") == 6 * 20_000
    assert ws.store.count("ingest_log") == 6
    ws.close()


def test_compressed_and_tar_inputs(ws: Workspace, tmp_path: Path) -> None:
    import gzip
    import tarfile

    import zstandard

    f = _csv(tmp_path / "a.csv", 30)
    gz = tmp_path / "a.csv.gz"
    gz.write_bytes(gzip.compress(f.read_bytes()))
    zs = tmp_path / "b.csv.zst"
    zs.write_bytes(zstandard.ZstdCompressor().compress(_csv(tmp_path / "b.csv", 20, 31).read_bytes()))
    tgz = tmp_path / "c.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        t.add(_csv(tmp_path / "c1.csv", 5, 32), arcname="day/c1.csv")
        t.add(_csv(tmp_path / "c2.csv", 6, 33), arcname="day/c2.csv")
    names = [i.name for i in iter_inputs([gz, zs, tgz])]
    assert names[2].endswith("c.tar.gz!day/c1.csv")
    s = ingest_paths(ws.store, "positions", [gz, zs, tgz])
    assert s.accepted == 30 + 20 + 5 + 6 and s.files == 4


def test_export_positions_csv_parquet_and_site_filter(ws: Workspace, tmp_path: Path) -> None:
    ws.put_site(S.from_airport("hmeimim", "OSLK", 2.0))
    ingest_paths(ws.store, "positions", [_csv(tmp_path / "a.csv", 300)])  # lat 35.40 → 35.43
    site = ws.site("hmeimim")
    inside = sum(rb.num_rows for rb in position_batches(ws.store, site))
    assert 0 < inside < 300
    out = tmp_path / "o.parquet"
    n = write_batches(position_batches(ws.store, site),
                      pa.schema([schema.POSITIONS.arrow_schema().field(c) for c in POSITION_COLUMNS]), out, "parquet")
    t = pq.read_table(out)
    assert n == inside == t.num_rows and t.column_names == list(POSITION_COLUMNS)
    out_csv = tmp_path / "o.csv"
    sch = csv_schema(pa.schema([schema.POSITIONS.arrow_schema().field(c) for c in POSITION_COLUMNS]))
    write_batches(position_batches(ws.store), sch, out_csv, "csv")
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 300 and rows[0]["t_utc"].endswith("Z") and rows[0]["id"] == "151abc"
    assert not (tmp_path / "o.csv.partial").exists()
    # round trip: the exported file ingests into another workspace with identical rows
    ws2 = Workspace.init(tmp_path / "ws2")
    s = ingest_paths(ws2.store, "positions", [out_csv, out])
    assert s.accepted == 300 and s.duplicates == inside


def test_memory_limit_from_settings_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``[settings.store] memory_limit`` (or SITEWATCH_MEMORY_LIMIT) caps DuckDB; a bad value is named."""
    from sitewatch.errors import ConfigError
    from sitewatch.workspace import Workspace

    monkeypatch.delenv("SITEWATCH_MEMORY_LIMIT", raising=False)
    ws = Workspace.init(tmp_path / "ws")
    ws.config["settings"]["store"] = {"memory_limit": "300MB"}
    ws.save()
    ws.close()
    with Workspace.open(tmp_path / "ws") as w:
        assert w.store.scalar("SELECT current_setting('memory_limit')") == "286.1 MiB"  # 300 MB in MiB
    monkeypatch.setenv("SITEWATCH_MEMORY_LIMIT", "1GiB")
    with Workspace.open(tmp_path / "ws") as w:
        assert w.store.scalar("SELECT current_setting('memory_limit')") == "1.0 GiB"
    monkeypatch.setenv("SITEWATCH_MEMORY_LIMIT", "half the RAM; DROP TABLE positions")
    with Workspace.open(tmp_path / "ws") as w, pytest.raises(ConfigError, match="memory_limit"):
        _ = w.store
