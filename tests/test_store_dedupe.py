"""``Store.insert``'s de-duplication: the same rows as the plain anti-join, whatever happened before.

The insert skips a row whose key ``IS NOT DISTINCT FROM`` a stored row's or an earlier row's of
the batch; it decides which rows can be stored at all from per-identity time spans
(:mod:`sitewatch.store._dedupe`). These tests hold it to the reference (``DISTINCT ON`` + ``NOT
EXISTS`` over the whole table) across sequences of inserts, inserts without the check, rows
written behind the store's back, deletes and rollbacks; and check that appends leave full row
groups (nothing for the checkpoint to rewrite).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitewatch import schema
from sitewatch.store import _dedupe
from sitewatch.store.db import Store

T0 = 1733443200_000000  # 2024-12-06, µs
DAY = 86_400_000_000
Row = tuple[int, int, float]  # (aircraft, time step, coordinate)


def positions(rows: list[Row], tag: int = 0) -> pa.Table:
    n = len(rows)
    return pa.table({
        "t_utc": pa.array([T0 + r[1] * 1_000_000 for r in rows], pa.timestamp("us", tz="UTC")),
        "source": ["adsb"] * n,
        "id": [f"{r[0]:06x}" for r in rows],
        "lat": [r[2] for r in rows],
        "lon": [r[2] * 2 for r in rows],
        "alt_ft": pa.array(np.arange(n, dtype=float) + tag),
    })


def reference_insert(store: Store, table: str, data: pa.Table) -> int:
    """The semantics, as one statement: first occurrences of keys the table does not hold."""
    decl = schema.table(table)
    data = schema.conform(table, data)
    key = ", ".join(f'"{k}"' for k in decl.key)
    on = " AND ".join(f'b."{k}" IS NOT DISTINCT FROM t."{k}"' for k in decl.key)
    before = store.count(table)
    with store.registered("_ref", data.append_column("_i", pa.array(np.arange(data.num_rows)))) as con:
        con.execute(f'INSERT INTO "{table}" SELECT * EXCLUDE (_i) FROM (SELECT DISTINCT ON ({key}) * FROM _ref '
                    f'ORDER BY _i) b WHERE NOT EXISTS (SELECT 1 FROM "{table}" t WHERE {on})')
    return store.count(table) - before


def _keys(store: Store) -> list[tuple[Any, ...]]:
    """The stored rows (key and which occurrence), NaN written as text so that rows compare."""
    rows = store.sql("SELECT source, id, t_utc, lat, lon, alt_ft FROM positions")
    return sorted((tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in r) for r in rows), key=repr)


coords = st.sampled_from([0.0, -0.0, 1.5, 2.5, math.nan])
rows_st = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6), coords), max_size=25)
ops = st.lists(st.one_of(
    st.tuples(st.just("insert"), rows_st, st.integers(0, 2)),  # day offset 0..2
    st.tuples(st.just("plain"), rows_st, st.integers(0, 2)),  # insert(dedupe=False)
    st.tuples(st.just("behind"), rows_st, st.integers(0, 2)),  # SQL insert, not through Store.insert
    st.tuples(st.just("delete"), st.integers(0, 3), st.integers(0, 6)),
    st.tuples(st.just("rollback"), rows_st, st.integers(0, 2)),
), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_insert_matches_the_reference_whatever_came_before(seq: list[tuple[Any, ...]]) -> None:
    ours, ref = Store(":memory:"), Store(":memory:")
    for k, (op, a, b) in enumerate(seq):
        if op in ("insert", "plain", "behind", "rollback"):
            data = positions([(r[0], r[1] + b * 86_400, r[2]) for r in a], tag=100 * k)
            if not data.num_rows:
                continue
        if op == "insert":
            assert ours.insert("positions", data) == reference_insert(ref, "positions", data)
        elif op == "plain":
            for s in (ours, ref):
                s.insert("positions", data, dedupe=False)
        elif op == "behind":
            for s in (ours, ref):
                with s.registered("_x", schema.conform("positions", data)) as con:
                    con.execute("INSERT INTO positions SELECT * FROM _x")
        elif op == "delete":
            for s in (ours, ref):
                s.sql("DELETE FROM positions WHERE id = ? AND epoch_us(t_utc) % 86400000000 >= ?",
                      [f"{a:06x}", b * 1_000_000])
        elif op == "rollback":
            with pytest.raises(RuntimeError), ours.transaction():
                ours.insert("positions", data)
                raise RuntimeError("rolled back")
        assert _keys(ours) == _keys(ref), (k, op)


def test_reingest_across_transactions_and_batches_stores_once(tmp_path: Path) -> None:
    st_ = Store(tmp_path / "w.duckdb")
    rows = [(a, t, 1.5) for a in range(5) for t in range(40)]
    batches = [positions(rows[i:i + 30]) for i in range(0, len(rows), 30)]
    with st_.transaction():
        assert sum(st_.insert("positions", b) for b in batches) == 200
    for _ in range(2):  # again, in one transaction and batch by batch
        with st_.transaction():
            assert sum(st_.insert("positions", b) for b in batches) == 0
        assert sum(st_.insert("positions", b) for b in batches) == 0
    assert st_.count("positions") == 200
    key = _dedupe.Key.of(schema.POSITIONS)
    assert _dedupe._spans_valid(st_.con, key, rebuild=False)  # kept by every insert: no rebuild needed
    st_.close()
    st2 = Store(tmp_path / "w.duckdb")  # a new process sees the same
    assert st2.insert("positions", positions(rows)) == 0
    assert st2.insert("positions", positions([(9, 0, 0.0), (9, 0, 0.0), (0, 0, 1.5)])) == 1


def test_rows_written_behind_the_store_are_still_duplicates() -> None:
    s = Store(":memory:")
    s.insert("positions", positions([(1, t, 0.0) for t in range(10)]))
    extra = schema.conform("positions", positions([(2, t, 0.0) for t in range(10)]))
    with s.registered("_x", extra) as con:
        con.execute("INSERT INTO positions SELECT * FROM _x")
    assert s.insert("positions", positions([(2, t, 0.0) for t in range(12)])) == 2
    s.sql("DELETE FROM positions WHERE id = '000001' AND t_utc > to_timestamp(1733443204)")
    assert s.insert("positions", positions([(1, t, 0.0) for t in range(10)])) == 5


def test_vessel_reports_nullable_key_columns() -> None:
    s = Store(":memory:")
    rep = pa.table({"t_utc": pa.array([T0, T0, T0 + 1], pa.timestamp("us", tz="UTC")),
                    "mmsi": ["211000001"] * 3, "name": [None, None, "X"], "imo": pa.array([None, None, 1], pa.int64())})
    assert s.insert("vessel_reports", rep) == 2  # NULL keys compare equal (IS NOT DISTINCT FROM)
    assert s.insert("vessel_reports", rep) == 0
    assert s.insert("vessel_reports", rep.slice(0, 1).set_column(2, "name", pa.array(["Y"]))) == 1


def test_appends_leave_full_row_groups(tmp_path: Path) -> None:
    """Large appends fill the previous partial row group (the checkpoint has nothing to merge)."""
    s = Store(tmp_path / "w.duckdb")
    threads = s.scalar("SELECT current_setting('threads')")
    n, size = 130_000, 122_880  # DuckDB's row group
    with s.transaction():
        for k in range(3):
            rows = positions([(k, t, 0.0) for t in range(n)])
            rows = pa.Table.from_batches(rows.to_batches(max_chunksize=40_000))  # several chunks, as readers give
            assert s.insert("positions", rows) == n
    counts = [r[0] for r in s.sql("SELECT max(count) FROM pragma_storage_info('positions') "
                                  "GROUP BY row_group_id ORDER BY row_group_id")]
    assert counts[:-1] == [size] * (len(counts) - 1) and sum(counts) == 3 * n
    assert s.scalar("SELECT current_setting('threads')") == threads  # the serial append gave it back
    s.close()


def _row_groups(s: Store) -> list[int]:
    return [int(r[0]) for r in s.sql("SELECT max(count) FROM pragma_storage_info('positions') "
                                      "GROUP BY row_group_id ORDER BY row_group_id")]


def test_split_fills_the_last_row_group_then_whole_row_groups() -> None:
    rg = _dedupe.ROW_GROUP_ROWS
    assert _dedupe.split(0, 5 * rg + 7) == (0, 5 * rg)  # aligned table: no head; 7 rows of tail
    assert _dedupe.split(rg + 100, 4 * rg) == (rg - 100, 3 * rg)  # the head fills the partial row group
    assert _dedupe.split(100, 2 * rg) == (2 * rg, 0)  # one whole row group after the head: all serial
    assert _dedupe.split(100, rg - 200) == (rg - 200, 0)


def test_a_large_append_runs_in_parallel_in_whole_row_groups(tmp_path: Path) -> None:
    """Head (serial) fills the partial row group, body (parallel) whole row groups, tail (serial);
    nothing is lost or doubled, the spans still describe the table and the setting comes back."""
    rg = _dedupe.ROW_GROUP_ROWS
    s = Store(tmp_path / "w.duckdb")
    s.sql("SET threads = 2")
    first = positions([(0, t, 0.0) for t in range(50_000)])
    big = positions([(1 + t // 100_000, t, 1.5) for t in range(rg - 50_000 + 2 * rg + 1_234)])
    big = pa.Table.from_batches(big.to_batches(max_chunksize=40_000))  # several chunks, as readers give
    assert _dedupe.split(50_000, big.num_rows) == (rg - 50_000, 2 * rg)  # the parallel path is taken
    with s.transaction():  # (rows of one transaction: DuckDB never fills a committed row group)
        assert s.insert("positions", first) == 50_000
        assert s.insert("positions", big) == big.num_rows
    assert s.scalar("SELECT current_setting('threads')") == 2
    groups = _row_groups(s)
    assert groups == [rg, rg, rg, 1_234]  # whole row groups; only the tail is partial
    key = _dedupe.Key.of(schema.POSITIONS)
    assert _dedupe._spans_valid(s.con, key, rebuild=False)
    assert s.insert("positions", big) == 0  # every row found again
    stored = s.sql("SELECT id, count(*), count(DISTINCT t_utc), min(alt_ft), max(alt_ft) FROM positions "
                   "GROUP BY id ORDER BY id")
    assert stored[0] == ("000000", 50_000, 50_000, 0.0, 49_999.0)
    assert sum(r[1] for r in stored) == 50_000 + big.num_rows
    assert all(r[1] == r[2] for r in stored)  # no row twice
    s.close()


def test_the_file_writer_hands_the_store_whole_row_groups_and_counts_every_row(tmp_path: Path) -> None:
    from sitewatch.sources.base import Batch
    from sitewatch.store.writer import GATHER_ROWS, BatchWriter

    rg = _dedupe.ROW_GROUP_ROWS
    s = Store(tmp_path / "w.duckdb")
    s.sql("SET threads = 2")
    s.insert("positions", positions([(0, t, 0.0) for t in range(7_000)]))  # a partial row group to fill
    n, size = 5 * rg + 3_333, 60_000
    rows = positions([(1 + t // 50_000, t, 2.5) for t in range(n)])
    with s.transaction():
        w = BatchWriter(s, 42, "x")
        stored = 0
        for i in range(0, n, size):
            stored += w.add(Batch("positions", rows.slice(i, size)))[0]
            assert sum(p.num_rows for p in w._waiting.get("positions", [])) < GATHER_ROWS + size
        stored += w.add(Batch("positions", rows.slice(0, 10)))[0]  # ten duplicates, still waiting
        assert stored < n  # some rows wait for the next batch...
        w.log("adsb", "test", "sha", "{}", datetime.now(UTC), datetime.now(UTC))  # ...until the log counts
    assert w.counts.accepted == n and w.counts.duplicates == 10
    assert not w._waiting.get("positions")
    assert s.scalar("SELECT accepted FROM ingest_log WHERE file_id = 42") == n
    assert s.scalar("SELECT count(*) FROM positions WHERE file_id = 42") == n
    groups = _row_groups(s)  # the committed partial row group stays as it was (DuckDB does not fill it)
    assert groups[0] == 7_000 and groups[1:-1] == [rg] * (len(groups) - 2) and sum(groups) == 7_000 + n
    s.close()


def test_a_large_append_outside_a_transaction_is_still_all_or_nothing(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    rg = _dedupe.ROW_GROUP_ROWS
    s = Store(tmp_path / "w.duckdb")
    s.sql("SET threads = 2")
    rows = positions([(t // 90_000, t, 0.5) for t in range(2 * rg + 500)])
    real = _dedupe._insert
    calls: list[int] = []

    def failing(con: Any, table: str, data: pa.Table, threads: int, setting: int) -> None:
        calls.append(data.num_rows)
        if len(calls) == 2:  # the tail, after the parallel body went in
            raise RuntimeError("disk full")
        real(con, table, data, threads, setting)

    monkeypatch.setattr(_dedupe, "_insert", failing)
    with pytest.raises(RuntimeError):
        s.insert("positions", rows)
    assert calls == [2 * rg, 500] and s.count("positions") == 0  # the body was rolled back with the tail
    monkeypatch.setattr(_dedupe, "_insert", real)
    assert s.insert("positions", rows) == rows.num_rows
    assert _row_groups(s) == [rg, rg, 500]
    s.close()


def test_a_large_append_inside_a_transaction_begun_behind_the_store_joins_it(tmp_path: Path) -> None:
    rg = _dedupe.ROW_GROUP_ROWS
    s = Store(tmp_path / "w.duckdb")
    s.sql("SET threads = 2")
    rows = positions([(t // 90_000, t, 0.5) for t in range(2 * rg + 10)])
    s.con.execute("BEGIN TRANSACTION")
    assert s.insert("positions", rows) == rows.num_rows
    s.con.execute("ROLLBACK")  # the caller's transaction decides: nothing stays
    assert s.count("positions") == 0
    s.close()
