"""One workspace database used by many threads of one process (the server, its live feeds).

DuckDB lets one *process* write a database file, but inside that process it runs many
connections at once with snapshot isolation: a reader on its own connection sees the last
committed state while a writer's transaction is open. :class:`SharedStore` is a
:class:`~sitewatch.store.db.Store` whose ``con`` is a connection of the calling *thread*
(created on first use, closed when the thread is gone), so

* reads never wait for writes: a dashboard request reads while an ingest's transaction of a
  whole file is open on another thread;
* writes take one process-wide gate (:attr:`SharedStore.gate`, re-entrant): a transaction,
  ``insert``, ``upsert``, ``meta_set``, ``next_file_id`` or a ``sql`` statement that is not a
  query holds it, so two writers never conflict. An operation that must be one writer for
  its whole length (an ingest, ``analyze``) holds the gate itself (``with store.gate:``).

Everything else is the plain :class:`Store`, inherited: the SQL of the query modules does
not know it is shared.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from sitewatch.store.db import Store

_QUERY = re.compile(r"^\s*(\(\s*)*(SELECT|WITH|FROM|DESCRIBE|SHOW|EXPLAIN|SUMMARIZE|PRAGMA)\b", re.IGNORECASE)


class _Session:
    __slots__ = ("con", "lock", "thread")

    def __init__(self, con: duckdb.DuckDBPyConnection, thread: threading.Thread) -> None:
        self.con = con
        self.lock = threading.RLock()
        self.thread = thread


class SharedStore(Store):
    """A :class:`Store` shared by the threads of one process (see the module docstring)."""

    def __init__(self, root: Store) -> None:  # no super().__init__(): the root is open already
        self.root = root
        self.path = root.path
        self.read_only = root.read_only
        self.gate = threading.RLock()
        self._sessions: dict[int, _Session] = {}
        self._registry_lock = threading.Lock()

    # -- the calling thread's connection -----------------------------------------------------
    def _session(self) -> _Session:
        me = threading.current_thread()
        s = self._sessions.get(me.ident or 0)
        if s is not None and s.thread is me:
            return s
        with self._registry_lock:
            self._prune()
            s = _Session(self.root.cursor(), me)
            self._sessions[me.ident or 0] = s
        return s

    def _prune(self) -> None:
        """Close the connections of threads that have ended (thread ids are reused)."""
        for ident, s in list(self._sessions.items()):
            if not s.thread.is_alive():
                del self._sessions[ident]
                with contextlib.suppress(duckdb.Error):  # already closed with the database
                    s.con.close()

    @property
    def con(self) -> duckdb.DuckDBPyConnection:  # type: ignore[override]
        return self._session().con

    @property
    def _lock(self) -> threading.RLock:  # type: ignore[override]
        return self._session().lock

    def sessions(self) -> int:
        """Connections open now (one per thread that used the store and is alive)."""
        with self._registry_lock:
            self._prune()
            return len(self._sessions)

    def close(self) -> None:
        with self._registry_lock:
            for s in self._sessions.values():
                with contextlib.suppress(duckdb.Error):
                    s.con.close()
            self._sessions.clear()
        self.root.close()

    # -- writes pass the gate ----------------------------------------------------------------
    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        if _QUERY.match(query):
            return super().sql(query, params)
        with self.gate:
            return super().sql(query, params)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.gate, super().transaction() as con:
            yield con

    def insert(self, table: str, data: pa.Table, dedupe: bool = True) -> int:
        with self.gate:
            return super().insert(table, data, dedupe)

    def upsert(self, table: str, data: pa.Table) -> int:
        with self.gate:
            return super().upsert(table, data)

    def next_file_id(self) -> int:
        with self.gate:
            return super().next_file_id()

    def meta_set(self, key: str, value: str | dict[str, Any]) -> None:
        with self.gate:
            super().meta_set(key, value)

    def migrate(self) -> None:
        with self.gate:
            super().migrate()
