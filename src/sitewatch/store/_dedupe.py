"""How :meth:`Store.insert <sitewatch.store.db.Store.insert>` finds the rows already stored, and appends.

A row of a batch is a duplicate when its key ``IS NOT DISTINCT FROM`` the key of a row of the
table, or of an earlier row of the batch (the first occurrence is kept). Found in three steps,
each skipped when it cannot find anything:

1. **within the batch**: DuckDB's 64-bit ``hash`` of the key columns proves the keys distinct
   when the hashes are (the usual case, told by one vectorised sort); only when two agree are
   the keys compared (``row_number() OVER (PARTITION BY key)``);
2. **which rows could be in the table** — for a table whose key holds ``t_utc`` and an
   identity column (a non-null ``VARCHAR``: ``positions.id``, ``vessel_reports.mmsi``): the
   side table ``_sw_spans`` keeps, per identity, the first and last ``t_utc`` stored. A row
   whose identity is absent there, or whose time lies outside that span, cannot be stored
   yet. So a batch of new aircraft (an archive day read aircraft by aircraft) or of new
   points of known ones (a live feed: each point later than the last) is checked against a
   table of one row per identity, not against the positions: the cost of the check follows
   the batch, not the table;
3. **the exact check**, for the rows step 2 left (if any): an anti-join on the whole key
   against the table rows of those identities within those rows' time span.

``_sw_spans`` is written in the same transaction as the rows it describes, by every
:meth:`Store.insert` (with or without ``dedupe``), and counts them (``n`` per identity). The
spans are trusted only while their count equals the table's: rows removed (a ``DELETE``) or
written by anything but ``Store.insert`` make the next de-duplicating insert rebuild them from
the table (one ``GROUP BY``) first. (A rollback takes the rows and their spans back together.)

Appends keep the table in whole row groups (:data:`ROW_GROUP_ROWS`), which is what makes a
large one quick. DuckDB's parallel insert writes one row group per thread and leaves each
thread's last one partial, in the middle of the table (the next checkpoint rewrites them: a
fresh day of 4.6 M positions in 250,000-row batches, +1.6 s CPU at close); its serial insert
fills the table's last, partial row group first. So a batch with :data:`PARALLEL_MIN_ROWS` or more
of whole row groups (once the part that fills that row group is set aside) goes in as three
statements, in one transaction (the caller's, or one of its own):

* **head** (serial): the rows that fill the last row group the transaction's earlier appends
  began (DuckDB keeps a transaction's rows apart: they never fill a committed row group);
* **body** (parallel, one contiguous Arrow chunk): the whole row groups that follow;
* **tail** (serial): the rest, the start of a new, partial row group, which the next batch's
  head fills.

Smaller batches, and every batch on one thread, run the serial insert alone (``threads = 1``
for the statement). How many rows of a batch end the table on a row-group boundary:
:func:`aligned_rows` (the file writer hands over that many and keeps the rest for the next
batch, so that in a large ingest the head and tail are empty).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sitewatch import schema as S

SPANS = "_sw_spans"
SERIAL_ROWS = 10_000  # appends of this many rows or more run DuckDB's serial insert (or the aligned one)
ROW_GROUP_ROWS = 122_880  # DuckDB's row group (the default; workspaces are created with it)
PARALLEL_MIN_ROWS = 2 * ROW_GROUP_ROWS  # a parallel insert of fewer whole row groups keeps one thread busy


@dataclass(frozen=True)
class Key:
    """A table's natural key, and the identity column whose time spans are kept (or None)."""

    table: str
    columns: tuple[str, ...]
    ident: str | None

    @staticmethod
    def of(decl: S.Table) -> Key:
        ident = None
        if "t_utc" in decl.key:
            ids = [k for k in decl.key if k != "t_utc" and not decl.column(k).nullable
                   and decl.column(k).type == "VARCHAR"]
            ident = ids[-1] if ids else None
        return Key(decl.name, tuple(decl.key), ident)


def duplicates(con: duckdb.DuckDBPyConnection, key: Key, data: pa.Table) -> np.ndarray:
    """Per row of ``data`` (conformed): is its key already in the table or earlier in ``data``?"""
    n = data.num_rows
    dup = np.zeros(n, bool)
    cols = ", ".join(f'"{k}"' for k in key.columns)
    kb = data.select(list(key.columns)).append_column("_sw_row", pa.array(np.arange(n, dtype=np.int64)))
    con.register("_sw_keys", kb)
    try:
        if n > 1 and _has_equal(con.execute(f"SELECT hash({cols}) AS h FROM _sw_keys").fetchnumpy()["h"]):
            dup[_rows(con.execute(
                f"SELECT _sw_row FROM (SELECT _sw_row, row_number() OVER (PARTITION BY {cols} "
                "ORDER BY _sw_row) AS rn FROM _sw_keys) WHERE rn > 1"))] = True
        if key.ident is None:
            dup[_in_table(con, key, kb, "_sw_keys")] = True
            return dup
        _spans_valid(con, key, rebuild=True)
        cand = _rows(con.execute(
            f'SELECT b._sw_row FROM _sw_keys b JOIN {SPANS} s ON s.tbl = ? AND s.ident = b."{key.ident}" '
            "WHERE b.t_utc BETWEEN s.t_min AND s.t_max", [key.table]))
    finally:
        con.unregister("_sw_keys")
    if len(cand):
        sub = kb.take(pa.array(np.sort(cand)))
        con.register("_sw_cand", sub)
        try:
            dup[_in_table(con, key, sub, "_sw_cand")] = True
        finally:
            con.unregister("_sw_cand")
    return dup


def _in_table(con: duckdb.DuckDBPyConnection, key: Key, kb: pa.Table, view: str) -> np.ndarray:
    """``_sw_row`` of the rows of ``view`` (holding ``kb``) whose key is in the table: an anti-join
    limited to ``kb``'s time span and identities when the key has them."""
    on = " AND ".join(f'b."{k}" IS NOT DISTINCT FROM t."{k}"' for k in key.columns)
    span, params = "", []
    if "t_utc" in key.columns:
        tt = kb.column("t_utc")
        lo, hi = pc.min(tt).as_py(), pc.max(tt).as_py()
        if lo is None:
            return np.zeros(0, np.int64)
        span, params = " AND t.t_utc BETWEEN ? AND ?", [lo, hi]
        if key.ident:
            span += f' AND t."{key.ident}" IN (SELECT DISTINCT "{key.ident}" FROM {view})'
        if not con.execute(f'SELECT EXISTS (SELECT 1 FROM "{key.table}" t WHERE true{span})',
                           params).fetchall()[0][0]:
            return np.zeros(0, np.int64)
    return _rows(con.execute(
        f'SELECT b._sw_row FROM {view} b WHERE EXISTS (SELECT 1 FROM "{key.table}" t WHERE {on}{span})', params))


def append(con: duckdb.DuckDBPyConnection, key: Key | None, table: str, data: pa.Table,
           spans_valid: bool | None = None) -> None:
    """Insert ``data`` (conformed) into ``table`` and, when the table keeps spans, record them.

    ``spans_valid``: whether the spans described the table before this append (``None``:
    look it up)."""
    keep_spans = key is not None and key.ident is not None
    if keep_spans and spans_valid is None:
        assert key is not None
        spans_valid = _spans_valid(con, key, rebuild=False)
    n = data.num_rows
    threads = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0]) if n >= SERIAL_ROWS else 0
    local = _LOCAL.get(id(con))  # None: not in a Store transaction
    head, body = split(local.get(table, 0) if local else 0, n) if threads > 1 else (n, 0)
    own = body > 0 and local is None and not _in_transaction(con)  # several statements: one transaction
    if own:
        con.execute("BEGIN TRANSACTION")
    serial = 1 if threads > 1 else 0
    try:
        if head:
            _insert(con, table, data.slice(0, head), serial, threads)
        if body:
            _insert(con, table, data.slice(head, body).combine_chunks(), 0, threads)
        if head + body < n:
            _insert(con, table, data.slice(head + body), serial, threads)
        if keep_spans and spans_valid:
            assert key is not None
            con.register("_sw_batch", data)
            try:
                _add_spans(con, key, "_sw_batch")
            finally:
                con.unregister("_sw_batch")
    except BaseException:
        if own:
            con.execute("ROLLBACK")
        raise
    else:
        if own:
            con.execute("COMMIT")
    if local is not None:
        local[table] = local.get(table, 0) + n


def split(have: int, n: int) -> tuple[int, int]:
    """``(head, body)`` of ``n`` rows appended after ``have`` rows of the same transaction (see
    the module docstring): ``head`` rows fill the last row group those began, then ``body``
    rows are whole row groups; ``(n, 0)`` when the body would be under
    :data:`PARALLEL_MIN_ROWS` (all serial)."""
    head = min(n, -have % ROW_GROUP_ROWS)
    body = (n - head) // ROW_GROUP_ROWS * ROW_GROUP_ROWS
    return (head, body) if body >= PARALLEL_MIN_ROWS else (n, 0)


def aligned_rows(con: duckdb.DuckDBPyConnection, table: str, n: int) -> int:
    """How many of ``n`` new rows to append now so that the transaction's rows of ``table``
    end on a row-group boundary after a parallel body (0: wait for more rows)."""
    local = _LOCAL.get(id(con))
    head, body = split(local.get(table, 0) if local else 0, n)
    return head + body if body else 0


# -- the rows a transaction appended -----------------------------------------------------------
# DuckDB keeps a transaction's appends apart from the table's committed rows (a committed
# partial row group is not filled by them), so row groups align to the rows appended in the
# transaction: counted here per connection between begin() and end() (Store.transaction).
_LOCAL: dict[int, dict[str, int]] = {}


def begin(con: duckdb.DuckDBPyConnection) -> None:
    """A transaction starts on ``con``: no rows appended yet."""
    _LOCAL[id(con)] = {}


def end(con: duckdb.DuckDBPyConnection) -> None:
    """The transaction on ``con`` committed or rolled back."""
    _LOCAL.pop(id(con), None)


def _in_transaction(con: duckdb.DuckDBPyConnection) -> bool:
    """Is a transaction open on ``con`` (one begun behind the Store, too)? Outside one, every
    statement is its own transaction and gets a new id."""
    q = "SELECT txid_current()"
    return bool(con.execute(q).fetchall()[0][0] == con.execute(q).fetchall()[0][0])


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, threads: int, setting: int) -> None:
    """``INSERT`` on ``threads`` threads (0: as the connection is set, ``setting``), then the
    connection's setting again."""
    if threads:
        con.execute(f"SET threads = {threads}")
    con.register("_sw_part", data)
    try:
        con.execute(f'INSERT INTO "{table}" SELECT * FROM _sw_part')
    finally:
        con.unregister("_sw_part")
        if threads:
            con.execute(f"SET threads = {setting}")


# -- the spans -------------------------------------------------------------------------------------

def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The spans table (run by :meth:`Store.migrate <sitewatch.store.db.Store.migrate>`)."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {SPANS} (tbl VARCHAR NOT NULL, ident VARCHAR NOT NULL, "
                "t_min TIMESTAMPTZ NOT NULL, t_max TIMESTAMPTZ NOT NULL, n BIGINT NOT NULL)")


def _spans_valid(con: duckdb.DuckDBPyConnection, key: Key, rebuild: bool) -> bool:
    """Do the spans describe every row of the table? With ``rebuild``, make them do so."""
    have, described = con.execute(f'SELECT (SELECT count(*) FROM "{key.table}"), '
                                  f"(SELECT coalesce(sum(n), 0) FROM {SPANS} WHERE tbl = ?)", [key.table]).fetchall()[0]
    if have == described:
        return True
    if not rebuild:
        return False
    con.execute(f"DELETE FROM {SPANS} WHERE tbl = ?", [key.table])
    con.execute(f'INSERT INTO {SPANS} SELECT ?, "{key.ident}", min(t_utc), max(t_utc), count(*) FROM "{key.table}" '
                f'GROUP BY "{key.ident}"', [key.table])
    return True


def _add_spans(con: duckdb.DuckDBPyConnection, key: Key, view: str) -> None:
    con.execute(
        f"MERGE INTO {SPANS} s USING (SELECT ? AS tbl, \"{key.ident}\" AS ident, min(t_utc) AS lo, "
        f'max(t_utc) AS hi, count(*) AS k FROM {view} GROUP BY "{key.ident}") g '
        "ON s.tbl = g.tbl AND s.ident = g.ident "
        "WHEN MATCHED THEN UPDATE SET t_min = least(s.t_min, g.lo), t_max = greatest(s.t_max, g.hi), n = s.n + g.k "
        "WHEN NOT MATCHED THEN INSERT VALUES (g.tbl, g.ident, g.lo, g.hi, g.k)", [key.table])


# -- helpers ---------------------------------------------------------------------------------------

def _has_equal(h: np.ndarray) -> bool:
    s = np.sort(h)  # a vectorised sort: far quicker than a hash set of the values
    return bool((s[1:] == s[:-1]).any())


def _rows(res: duckdb.DuckDBPyConnection) -> np.ndarray:
    return np.asarray(res.fetchnumpy()["_sw_row"], np.int64)
