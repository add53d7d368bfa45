"""The workspace database: the only module (with its siblings in ``store/``) that speaks SQL.

A :class:`Store` wraps one DuckDB file. Opening it creates missing tables and adds
missing columns declared in :mod:`sitewatch.schema` (additive migration), and
records the schema version. Connections run with ``TimeZone='UTC'``.

``Store(":memory:")`` gives an in-memory store for tests.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from sitewatch import schema as S
from sitewatch.errors import ConfigError, StoreError
from sitewatch.store import _dedupe

_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


class Store:
    """One DuckDB database holding every table of a workspace."""

    def __init__(self, path: str | Path = ":memory:", read_only: bool = False,
                 memory_limit: str | None = None) -> None:
        """``memory_limit`` (e.g. ``"4GB"``) caps DuckDB's buffer pool; beyond it, sorts and
        joins spill to a temporary folder beside the database. Default: DuckDB's, 80 % of RAM."""
        limit = None if memory_limit is None else str(memory_limit).strip()
        if limit is not None and not _MEMORY.match(limit):
            raise ConfigError(f"memory limit {memory_limit!r} is not a size: write it like '4GB', '512MB' or "
                              "'2.5GiB' (setting [settings.store] memory_limit or SITEWATCH_MEMORY_LIMIT)")
        self.path = str(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:  # locked by another process, corrupt, …
            raise StoreError(
                f"cannot open the workspace database {self.path}: {exc}. "
                "If another sitewatch process (serve, stream) holds it, stop it or open read-only."
            ) from exc
        self.con.execute("SET TimeZone='UTC'")
        if limit is not None:
            self.con.execute(f"SET memory_limit = '{limit}'")  # checked against _MEMORY above
        if not read_only:
            self.migrate()

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the same database, for use from another thread."""
        cur = self.con.cursor()
        cur.execute("SET TimeZone='UTC'")
        return cur

    # -- schema ------------------------------------------------------------------------
    def migrate(self) -> None:
        """Create missing tables and columns, and record :data:`schema.SCHEMA_VERSION`."""
        con = self.con
        con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        rows = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchall()
        stored = int(rows[0][0]) if rows else 0
        if stored > S.SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer sitewatch (schema {stored} > "
                f"{S.SCHEMA_VERSION}); upgrade sitewatch to open it."
            )
        con.execute("CREATE SEQUENCE IF NOT EXISTS file_id_seq START 1")
        for t in S.TABLES.values():
            con.execute(t.ddl())
            have = {r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name=?", [t.name]
            ).fetchall()}
            for col in t.columns:
                if col.name not in have:
                    sql_type = "VARCHAR" if col.type == "JSON" else col.type
                    con.execute(f'ALTER TABLE "{t.name}" ADD COLUMN "{col.name}" {sql_type}')
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(S.SCHEMA_VERSION)]
        )
        _dedupe.create_tables(con)  # the insert's own side table (not a declared table)

    def columns(self, table: str) -> list[tuple[str, str]]:
        """(name, type) of the columns DuckDB actually has for ``table``."""
        return [
            (r[0], r[1])
            for r in self.con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name=? ORDER BY ordinal_position",
                [table],
            ).fetchall()
        ]

    # -- queries -----------------------------------------------------------------------
    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Execute ``query`` with bound ``params`` and return all result rows."""
        with self._lock:
            return self.con.execute(query, params or []).fetchall()

    def arrow(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pa.Table:
        """Run ``query`` and return the whole result as an Arrow table."""
        with self._lock:
            return self.con.sql(query, params=params or None).to_arrow_table()

    def batches(
        self, query: str, params: Sequence[Any] | None = None, rows_per_batch: int = 1_000_000
    ) -> Iterator[pa.RecordBatch]:
        """Stream ``query``'s result as Arrow record batches (bounded memory)."""
        cur = self.cursor()
        try:
            reader = cur.sql(query, params=params or None).to_arrow_reader(rows_per_batch)
            yield from reader
        finally:
            cur.close()

    def rows(self, query: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Run ``query`` and return rows as dicts (small results only)."""
        with self._lock:
            cur = self.con.execute(query, params or [])
            names = [d[0] for d in cur.description or []]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def scalar(self, query: str, params: Sequence[Any] | None = None) -> Any:
        with self._lock:
            rows = self.con.execute(query, params or []).fetchall()
        return rows[0][0] if rows else None

    def count(self, table: str) -> int:
        S.table(table)  # validates the name
        return int(self.scalar(f'SELECT count(*) FROM "{table}"'))

    @contextmanager
    def registered(self, name: str, data: pa.Table) -> Iterator[duckdb.DuckDBPyConnection]:
        """``data`` visible to SQL as view ``name`` for the block (the store's lock held)."""
        with self._lock:
            self.con.register(name, data)
            try:
                yield self.con
            finally:
                self.con.unregister(name)

    def query_with(self, name: str, data: pa.Table, query: str,
                   params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run ``query`` with ``data`` registered as view ``name``; return all rows."""
        with self.registered(name, data) as con:
            return con.execute(query, params or []).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """BEGIN … COMMIT, or ROLLBACK when the block raises (or the process dies)."""
        with self._lock:
            con = self.con
            con.execute("BEGIN TRANSACTION")
            _dedupe.begin(con)
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            else:
                con.execute("COMMIT")
            finally:
                _dedupe.end(con)

    def commit_and_continue(self) -> None:
        """Inside :meth:`transaction`: commit what is done and go on in a new transaction."""
        with self._lock:
            self.con.execute("COMMIT")
            self.con.execute("BEGIN TRANSACTION")
            _dedupe.begin(self.con)

    # -- writes ------------------------------------------------------------------------
    def insert(self, table: str, data: pa.Table, dedupe: bool = True) -> int:
        """Insert ``data`` (conformed to the declared schema) into ``table``.

        With ``dedupe`` and a declared key, rows whose key already exists (in the table
        or earlier in ``data``: the first occurrence is kept) are skipped. Returns the
        number of rows inserted. Call it inside :meth:`transaction` to make several
        inserts atomic. How duplicates are found, at a cost that follows the batch rather
        than the table: :mod:`sitewatch.store._dedupe`.
        """
        n = data.num_rows
        return n - int(self.insert_marked(table, data, dedupe).sum())

    def insert_marked(self, table: str, data: pa.Table, dedupe: bool = True) -> np.ndarray:
        """:meth:`insert`, returning per row of ``data`` whether it was left out as a duplicate
        (so that rows of several inputs stored at once are counted to each)."""
        decl = S.table(table)
        data = S.conform(table, data)
        dup = np.zeros(data.num_rows, bool)
        if data.num_rows == 0:
            return dup
        key = _dedupe.Key.of(decl) if decl.key else None
        with self._lock:
            spans_valid = None
            if dedupe and key is not None:
                dup = _dedupe.duplicates(self.con, key, data)
                spans_valid = True  # duplicates() brought the spans up to date
                if dup.any():
                    data = data.filter(pa.array(~dup))
            if data.num_rows:
                _dedupe.append(self.con, key, table, data, spans_valid)
            return dup

    def aligned_rows(self, table: str, n: int) -> int:
        """How many of ``n`` rows about to be inserted to hand over now, so that ``table`` ends
        on a row-group boundary after a parallel append (0: gather more first). A writer that
        keeps the rest for its next batch makes large ingests append in whole row groups
        (:mod:`sitewatch.store._dedupe`)."""
        with self._lock:
            return _dedupe.aligned_rows(self.con, table, n)

    def duplicate_rows(self, table: str, data: pa.Table) -> np.ndarray:
        """Row numbers of ``data`` (conformed) whose key is already in ``table`` or earlier in ``data``."""
        with self._lock:
            return np.flatnonzero(_dedupe.duplicates(self.con, _dedupe.Key.of(S.table(table)), data))

    def upsert(self, table: str, data: pa.Table) -> int:
        """Insert or replace rows of ``table`` by its declared key (identity tables)."""
        decl = S.table(table)
        if not decl.key:
            raise ValueError(f"table {table} has no key to upsert on")
        data = S.conform(table, data)
        if data.num_rows == 0:
            return 0
        key = ", ".join(f'"{k}"' for k in decl.key)
        on = " AND ".join(f't."{k}" = b."{k}"' for k in decl.key)
        with self._lock:
            self.con.register("_sw_batch", data)
            try:
                self.con.execute(
                    f'DELETE FROM "{table}" t USING (SELECT DISTINCT {key} FROM _sw_batch) b WHERE {on}'
                )
                self.con.execute(
                    f'INSERT INTO "{table}" SELECT * FROM (SELECT DISTINCT ON ({key}) * FROM _sw_batch)'
                )
            finally:
                self.con.unregister("_sw_batch")
        return data.num_rows

    def _count_unlocked(self, table: str) -> int:
        rows = self.con.execute(f'SELECT count(*) FROM "{table}"').fetchall()
        return int(rows[0][0]) if rows else 0

    def next_file_id(self) -> int:
        return int(self.scalar("SELECT nextval('file_id_seq')"))

    def next_file_ids(self, n: int) -> list[int]:
        """``n`` new file ids, ascending (one statement)."""
        if n <= 0:
            return []
        return sorted(int(r[0]) for r in self.sql("SELECT nextval('file_id_seq') FROM range(?)", [n]))

    def meta_get(self, key: str) -> str | None:
        v = self.scalar("SELECT value FROM meta WHERE key=?", [key])
        return None if v is None else str(v)

    def meta_set(self, key: str, value: str | dict[str, Any]) -> None:
        if not isinstance(value, str):
            value = json.dumps(value, sort_keys=True)
        self.sql("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])
