"""The batch writer of live sessions (``stream adsb``, ``stream ais``, feeds of ``serve``).

A live session is one ``ingest_log`` row (``path`` = the feed, ``format`` = ``<fmt>-stream``)
whose ``file_id`` its rows carry. :meth:`SessionWriter.write` stores one batch — reader
batches of any table, their quarantined records and counters — **and adds the batch's
totals to the session's ``ingest_log`` row, in one transaction**: whatever is stored is
counted, so a session killed at any point (SIGKILL, power) logs exactly the rows it kept.

Rows go in through :func:`sitewatch.store.ingest._store_batch`, the very code of file
ingest (``file_id`` added where the table declares it, natural-key dedupe, quarantine rows
with their offsets and reasons, counters): a live feed and a file of the same records give
the same rows, quarantine and counters. Tables named in ``replace`` (``feed_outages``: an
outage's row is rewritten while it lasts) are upserted on their key instead, in the same
transaction.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from sitewatch.sources.base import Batch, InputFile
from sitewatch.store.db import Store
from sitewatch.store.ingest import FileResult, _store_batch

_TS = pa.timestamp("us", tz="UTC")


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
        self._src = InputFile(source, lambda: io.BytesIO(b""), 0)

    def open(self) -> int:
        """Create the session's ``ingest_log`` row; its ``file_id``."""
        with self.store.transaction():
            file_id = self.store.next_file_id()
            self.store.insert("ingest_log", pa.table({
                "file_id": pa.array([file_id], pa.int64()), "path": [self.source],
                "sha256": [f"stream:{uuid.uuid4().hex}"], "kind": [self.kind], "format": [f"{self.fmt}-stream"],
                "accepted": pa.array([0], pa.int64()), "rejected": pa.array([0], pa.int64()),
                "duplicates": pa.array([0], pa.int64()), "t_start_utc": pa.array([datetime.now(UTC)], _TS),
                "options": [json.dumps(self.options, sort_keys=True, default=str)],
            }), dedupe=False)
        self.file_id = file_id
        return file_id

    def write(self, batches: Iterable[Batch]) -> Written:
        """Store ``batches`` and count them in the session's row, in one transaction."""
        if self.file_id is None:
            raise RuntimeError("SessionWriter.open() first")
        r = FileResult(self.source, self.fmt)
        accepted = duplicates = 0
        by_table: dict[str, int] = {}
        with self.store.transaction():
            for b in batches:
                if b.table in self.replace:
                    by_table[b.table] = by_table.get(b.table, 0) + self._upsert(b)
                    continue
                acc0, dup0 = r.accepted, r.duplicates
                _store_batch(self.store, self.file_id, self._src, b, r)
                stored = r.accepted - acc0
                by_table[b.table] = by_table.get(b.table, 0) + stored
                if self.counted is None or b.table in self.counted:
                    accepted += stored
                    duplicates += r.duplicates - dup0
            if r.counters:
                self.store.insert("ingest_stats", pa.table({
                    "file_id": pa.array([self.file_id] * len(r.counters), pa.int64()),
                    "name": list(r.counters), "value": pa.array(list(r.counters.values()), pa.int64()),
                }), dedupe=False)
            self.store.sql("UPDATE ingest_log SET accepted = accepted + ?, rejected = rejected + ?, "
                           "duplicates = duplicates + ?, t_end_utc = ? WHERE file_id = ?",
                           [accepted, r.rejected, duplicates, datetime.now(UTC), self.file_id])
        return Written(accepted, duplicates, r.rejected, by_table)

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
