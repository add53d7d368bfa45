"""The one batch writer: how reader batches become rows, quarantine and counters.

Every ingest goes through :class:`BatchWriter`: file ingest (:func:`sitewatch.store.ingest.run_reader`),
fetched archives read as streams (:func:`~sitewatch.store.ingest.ingest_stream`) and live
sessions (:class:`SessionWriter`: ``stream adsb``, ``stream ais``, the feeds of ``serve``).
So a live feed and a file of the same records give the same rows, quarantine and counters:

* rows get the input's ``file_id`` where their table declares one, and rows already stored
  (same natural key) count as ``duplicates`` instead of going in twice (``Store.insert``);
* rejected records go to ``quarantine`` with their path (``archive!member`` when the batch
  names one), offset, raw text (at most :data:`MAX_RAW_CHARS`) and reason;
* decoder counters add up, and :meth:`BatchWriter.log` / :meth:`BatchWriter.save_counters`
  write the input's ``ingest_log`` and ``ingest_stats`` rows.

The writer opens no transaction: its caller does (one per file for file ingest, one per
batch for a live session), so what is stored and what is counted commit together.

A file's writer (``gather=True``, the default) hands a table's rows to the store in runs of
whole row groups (:meth:`Store.aligned_rows <sitewatch.store.db.Store.aligned_rows>`): batches
are gathered until :data:`GATHER_ROWS` and the rows past the last whole row group wait for the
next batch (at most :data:`GATHER_ROWS` plus one batch per table are held), so a large ingest
appends in parallel, in whole row groups. :meth:`BatchWriter.flush` stores what waits; it runs
before :meth:`BatchWriter.log` and :meth:`BatchWriter.save_counters` count anything, so the
counts never miss a row. A live session's writer stores each batch as it comes.

A live session is one ``ingest_log`` row (``path`` = the feed, ``format`` = ``<fmt>-stream``)
whose ``file_id`` its rows carry. :meth:`SessionWriter.write` stores one batch **and adds
its totals to the session's row in the same transaction**: a session killed at any point
(SIGKILL, power) logs exactly the rows it kept. Tables named in ``replace``
(``feed_outages``: an outage's row is rewritten while it lasts) are upserted on their key
instead, in the same transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from sitewatch.schema import table as declared
from sitewatch.sources.base import Batch
from sitewatch.store.db import Store

MAX_RAW_CHARS = 2000  # quarantine keeps at most this much of a bad record
GATHER_ROWS = 4 * 122_880  # a table's rows gathered before they go to the store (whole row groups)

_TS = pa.timestamp("us", tz="UTC")


@dataclass
class Counts:
    """What a writer stored so far: rows (and duplicates left out), rejects, counters."""

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    counters: dict[str, int] = field(default_factory=dict)


class BatchWriter:
    """Stores the batches of one input (``file_id``; ``path`` names it in quarantine rows)
    and counts them in :attr:`counts` (see the module docstring)."""

    def __init__(self, store: Store, file_id: int, path: str, gather: bool = True) -> None:
        self.store, self.file_id, self.path = store, file_id, path
        self.gather = gather
        self.counts = Counts()
        self._waiting: dict[str, list[pa.Table]] = {}

    def add(self, batch: Batch) -> tuple[int, int]:
        """Store one batch; ``(rows stored, duplicates left out)`` by this call (with
        ``gather``, rows of earlier batches may be among them, and rows of this one may wait)."""
        c = self.counts
        stored = dups = 0
        rows = batch.rows
        if rows.num_rows:
            n = rows.num_rows
            if "file_id" in declared(batch.table).names and "file_id" not in rows.column_names:
                rows = rows.append_column("file_id", pa.repeat(pa.scalar(self.file_id, pa.int64()), n))
            if self.gather:
                stored, dups = self._gather(batch.table, rows)
            else:
                stored, dups = self._store(batch.table, rows)
        if batch.rejects:
            self._quarantine(batch)
        for k, v in batch.counters.items():
            c.counters[k] = c.counters.get(k, 0) + int(v)
        return stored, dups

    def flush(self) -> tuple[int, int]:
        """Store every row still waiting; ``(rows stored, duplicates left out)``."""
        stored = dups = 0
        for table in list(self._waiting):
            parts = self._waiting.pop(table)
            s, d = self._store(table, parts[0] if len(parts) == 1 else pa.concat_tables(parts))
            stored, dups = stored + s, dups + d
        return stored, dups

    def _gather(self, table: str, rows: pa.Table) -> tuple[int, int]:
        stored = dups = 0
        parts = self._waiting.setdefault(table, [])
        if parts and parts[0].schema != rows.schema:  # (a reader's batches may differ in columns)
            stored, dups = self._store(table, pa.concat_tables(parts))
            parts.clear()
        parts.append(rows)
        held = sum(p.num_rows for p in parts)
        if held < GATHER_ROWS:
            return stored, dups
        rows = pa.concat_tables(parts)
        k = self.store.aligned_rows(table, held) or held
        self._waiting[table] = [rows.slice(k)] if k < held else []
        s, d = self._store(table, rows.slice(0, k))
        return stored + s, dups + d

    def _store(self, table: str, rows: pa.Table) -> tuple[int, int]:
        n = rows.num_rows
        stored = self.store.insert(table, rows)
        self.counts.accepted += stored
        self.counts.duplicates += n - stored
        return stored, n - stored

    def _quarantine(self, batch: Batch) -> None:
        rejects = batch.rejects
        n = len(rejects)
        paths = getattr(batch, "reject_paths", None) or [self.path] * n
        self.store.insert("quarantine", pa.table({
            "file_id": pa.array([self.file_id] * n, pa.int64()),
            "path": paths,
            "rec_offset": pa.array([r.offset for r in rejects], pa.int64()),
            "offset_unit": [r.offset_unit for r in rejects],
            "raw": [r.raw[:MAX_RAW_CHARS] for r in rejects],
            "reason": [r.reason for r in rejects],
            "t_utc": pa.array([datetime.now(UTC)] * n, _TS),
        }), dedupe=False)
        self.counts.rejected += n

    def log(self, kind: str, fmt: str, sha256: str, options: str, t_start: datetime,
            t_end: datetime | None, size_bytes: int | None = None) -> None:
        """Write the input's ``ingest_log`` row with the counts so far (``t_end`` None: an
        input still being read; ``options``: its read options as JSON text)."""
        self.store.insert("ingest_log", self.log_row(kind, fmt, sha256, options, t_start, t_end, size_bytes),
                          dedupe=False)

    def log_row(self, kind: str, fmt: str, sha256: str, options: str, t_start: datetime,
                t_end: datetime | None, size_bytes: int | None = None) -> pa.Table:
        """The ``ingest_log`` row :meth:`log` writes (what waits is stored first, to be counted)."""
        self.flush()
        c = self.counts
        return pa.table({
            "file_id": pa.array([self.file_id], pa.int64()), "path": [self.path], "sha256": [sha256],
            "kind": [kind], "format": [fmt], "size_bytes": pa.array([size_bytes], pa.int64()),
            "accepted": pa.array([c.accepted], pa.int64()), "rejected": pa.array([c.rejected], pa.int64()),
            "duplicates": pa.array([c.duplicates], pa.int64()),
            "t_start_utc": pa.array([t_start], _TS), "t_end_utc": pa.array([t_end], _TS),
            "options": [options],
        })

    def save_counters(self) -> None:
        """Add the counters so far to ``ingest_stats``."""
        rows = self.counter_rows()
        if rows.num_rows:
            self.store.insert("ingest_stats", rows, dedupe=False)

    def counter_rows(self) -> pa.Table:
        """The ``ingest_stats`` rows :meth:`save_counters` adds (what waits is stored first)."""
        self.flush()
        counters = self.counts.counters
        return pa.table({
            "file_id": pa.array([self.file_id] * len(counters), pa.int64()),
            "name": pa.array(list(counters), pa.string()), "value": pa.array(list(counters.values()), pa.int64()),
        })


def store_together(writers: Sequence[BatchWriter]) -> None:
    """Store the rows ``writers`` hold (file writers whose inputs are small: nothing stored yet)
    with one insert per table, in the writers' order, and count each writer's stored rows and
    duplicates as its own :meth:`~BatchWriter.flush` would have: a row is a duplicate of a
    stored one or of an earlier writer's, exactly as when the writers store one after another.
    Many small inputs (an archive's members) then cost a few statements, not a few each."""
    if not writers:
        return
    store = writers[0].store
    for table in dict.fromkeys(t for w in writers for t in w._waiting):
        run: list[tuple[BatchWriter, pa.Table]] = []
        for w in writers:
            for part in w._waiting.pop(table, []):
                if run and run[0][1].schema != part.schema:  # (readers' batches may differ in columns)
                    _store_run(store, table, run)
                    run = []
                run.append((w, part))
        _store_run(store, table, run)


def _store_run(store: Store, table: str, run: Sequence[tuple[BatchWriter, pa.Table]]) -> None:
    if not run:
        return
    dup = store.insert_marked(table, pa.concat_tables([p for _, p in run]) if len(run) > 1 else run[0][1])
    k = 0
    for w, part in run:
        d = int(dup[k:k + part.num_rows].sum())
        k += part.num_rows
        w.counts.accepted += part.num_rows - d
        w.counts.duplicates += d


@dataclass
class Written:
    """What one batch added: rows stored and duplicates (of the counted tables), rejects, and
    rows stored per table."""

    accepted: int
    duplicates: int
    rejected: int
    by_table: dict[str, int]


class SessionWriter:
    """One live session's ``ingest_log`` row and its batches (see the module docstring).

    ``counted``: tables whose stored rows count as the session's ``accepted`` (default every
    table, as file ingest counts them); ``replace``: tables whose rows replace the stored row
    of the same key (never counted)."""

    def __init__(self, store: Store, kind: str, source: str, fmt: str, options: Mapping[str, object] | None = None,
                 counted: Iterable[str] | None = None, replace: Iterable[str] = ()) -> None:
        self.store, self.kind, self.source, self.fmt = store, kind, source, fmt
        self.options = dict(options or {})
        self.counted = None if counted is None else frozenset(counted)
        self.replace = frozenset(replace)
        self.file_id: int | None = None

    def open(self) -> int:
        """Create the session's ``ingest_log`` row; its ``file_id``."""
        with self.store.transaction():
            file_id = self.store.next_file_id()
            BatchWriter(self.store, file_id, self.source).log(
                self.kind, f"{self.fmt}-stream", f"stream:{uuid.uuid4().hex}",
                json.dumps(self.options, sort_keys=True, default=str), datetime.now(UTC), None)
        self.file_id = file_id
        return file_id

    def write(self, batches: Iterable[Batch]) -> Written:
        """Store ``batches`` and count them in the session's row, in one transaction."""
        if self.file_id is None:
            raise RuntimeError("SessionWriter.open() first")
        w = BatchWriter(self.store, self.file_id, self.source, gather=False)
        accepted = duplicates = 0
        by_table: dict[str, int] = {}
        with self.store.transaction():
            for b in batches:
                if b.table in self.replace:
                    by_table[b.table] = by_table.get(b.table, 0) + self._upsert(b)
                    continue
                stored, dups = w.add(b)
                by_table[b.table] = by_table.get(b.table, 0) + stored
                if self.counted is None or b.table in self.counted:
                    accepted += stored
                    duplicates += dups
            w.save_counters()
            self.store.sql("UPDATE ingest_log SET accepted = accepted + ?, rejected = rejected + ?, "
                           "duplicates = duplicates + ?, t_end_utc = ? WHERE file_id = ?",
                           [accepted, w.counts.rejected, duplicates, datetime.now(UTC), self.file_id])
        return Written(accepted, duplicates, w.counts.rejected, by_table)

    def _upsert(self, b: Batch) -> int:
        rows = b.rows
        if not rows.num_rows:
            return 0
        if "file_id" not in rows.column_names:
            rows = rows.append_column("file_id", pa.repeat(pa.scalar(self.file_id, pa.int64()), rows.num_rows))
        return self.store.upsert(b.table, rows)

    def close(self) -> None:
        """Stamp the session's end (its totals are current after every batch already)."""
        if self.file_id is not None:
            self.store.sql("UPDATE ingest_log SET t_end_utc = ? WHERE file_id = ?",
                           [datetime.now(UTC), self.file_id])
