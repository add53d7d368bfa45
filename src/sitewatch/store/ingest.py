"""The ingest machinery every source uses: idempotent, transactional, nothing lost.

For each logical input file:

1. its decompressed content is hashed; if ``(sha256, kind)`` is in ``ingest_log`` the
   file is skipped (``skipped_files``) — re-running an ingest adds nothing;
2. the reader's batches are inserted in **one transaction** together with the file's
   quarantine rows, decoder counters and its ``ingest_log`` row; an exception (or a
   killed process) rolls the whole file back, so a crash leaves nothing of it;
3. records already in the store (same natural key, e.g. an overlapping trace) are
   counted as ``duplicates`` and not inserted twice;
4. a file that is not in the format at all, or that cannot be read to its end (a
   compressed file cut short by an interrupted download, corrupt data: the error names
   the file and the byte where its data end), is rolled back whole, reported
   (``failed_files``, one line) and the ingest goes on with the next file.

:func:`ingest_paths` returns an :class:`IngestSummary` whose :meth:`~IngestSummary.as_json`
is the one JSON line the CLI prints.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from sitewatch.errors import InputError, SitewatchError
from sitewatch.sources.base import Batch, InputFile, Reader, ReadOptions, detect, iter_inputs, readers
from sitewatch.store.db import Store

log = logging.getLogger(__name__)

MAX_RAW_CHARS = 2000  # quarantine keeps at most this much of a bad record
COMMIT_ROWS = 1_000_000  # a streamed input commits every so many rows (bounded memory)


@dataclass
class FileResult:
    path: str
    format: str | None
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    skipped: bool = False
    error: str | None = None
    counters: dict[str, int] = field(default_factory=dict)


@dataclass
class IngestSummary:
    files: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    skipped_files: int = 0
    failed_files: int = 0
    results: list[FileResult] = field(default_factory=list)

    def add(self, r: FileResult) -> None:
        self.results.append(r)
        if r.error is not None:
            self.failed_files += 1
        elif r.skipped:
            self.skipped_files += 1
        else:
            self.files += 1
            self.accepted += r.accepted
            self.rejected += r.rejected
            self.duplicates += r.duplicates

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "files": self.files,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "skipped_files": self.skipped_files,
        }
        if self.failed_files:
            out["failed_files"] = self.failed_files
            out["errors"] = [r.error for r in self.results if r.error]
        return out


ProgressHook = Callable[[int], None]


def ingest_paths(
    store: Store,
    kind: str,
    paths: Iterable[str | Path],
    fmt: str = "auto",
    opts: ReadOptions | None = None,
    progress: ProgressHook | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> IngestSummary:
    """Ingest every input under ``paths`` as ``kind`` data (see the module docstring)."""
    opts = opts or ReadOptions()
    summary = IngestSummary()
    hints: dict[str, Reader] = {}  # archive → the reader of its last member: sniffed once, not per member
    for src in iter_inputs(paths):
        archive = src.name.rsplit("!", 1)[0] if "!" in src.name else None
        try:
            result = ingest_file(store, kind, src, fmt, opts, progress,
                                 hint=hints.get(archive) if archive else None)
            if archive and result.format and result.error is None:
                hints[archive] = readers(kind)[result.format]
        except SitewatchError as exc:
            result = FileResult(src.name, None, error=str(exc))
            # the caller's hook reports it (the CLI prints one line); else the log does
            log.log(logging.DEBUG if on_file else logging.ERROR, "%s", exc)
        summary.add(result)
        if on_file:
            on_file(result)
    return summary


def ingest_file(
    store: Store,
    kind: str,
    src: InputFile,
    fmt: str = "auto",
    opts: ReadOptions | None = None,
    progress: ProgressHook | None = None,
    hint: Reader | None = None,
) -> FileResult:
    """Ingest one logical file in one transaction; see the module docstring.

    ``hint``: a reader to try first when ``fmt`` is ``auto`` (the one that read the previous
    member of the same archive); used when its sniffer is sure (≥ 0.9), else every sniffer runs."""
    opts = opts or ReadOptions()
    digest = src.sha256()
    prior = store.scalar(
        "SELECT file_id FROM ingest_log WHERE sha256=? AND kind=?", [digest, kind]
    )
    if fmt == "auto" and hint is not None and hint.sniff(src.head(), src.basename) >= 0.9:
        reader = hint
    else:
        reader = detect(kind, src, fmt)
    if prior is not None:
        log.info("%s: already ingested (file_id %s), skipped", src.name, prior)
        return FileResult(src.name, reader.name, skipped=True)
    return run_reader(store, kind, src, reader, digest, opts, progress)


def run_reader(
    store: Store,
    kind: str,
    src: InputFile,
    reader: Reader,
    digest: str,
    opts: ReadOptions,
    progress: ProgressHook | None = None,
    batches: Iterator[Batch] | None = None,
) -> FileResult:
    """Insert ``reader``'s batches for ``src`` atomically and log the file."""
    result = FileResult(src.name, reader.name)
    t0 = datetime.now(UTC)
    with store.transaction():
        file_id = store.next_file_id()
        for batch in batches if batches is not None else reader.read(src, opts):
            _store_batch(store, file_id, src, batch, result)
            if progress:
                progress(batch.rows.num_rows + len(batch.rejects))
        _log_file(store, file_id, kind, src, reader.name, digest, opts, result, t0)
    return result


def _store_batch(store: Store, file_id: int, src: InputFile, batch: Batch, result: FileResult) -> None:
    rows = batch.rows
    if rows.num_rows:
        n = rows.num_rows
        if "file_id" in _declared(batch.table) and "file_id" not in rows.column_names:
            rows = rows.append_column("file_id", pa.repeat(pa.scalar(file_id, pa.int64()), n))
        inserted = store.insert(batch.table, rows)
        result.accepted += inserted
        result.duplicates += n - inserted
    if batch.rejects:
        now = datetime.now(UTC)
        paths = getattr(batch, "reject_paths", None) or [src.name] * len(batch.rejects)  # archive!member
        q = pa.table(
            {
                "file_id": pa.array([file_id] * len(batch.rejects), pa.int64()),
                "path": paths,
                "rec_offset": pa.array([r.offset for r in batch.rejects], pa.int64()),
                "offset_unit": [r.offset_unit for r in batch.rejects],
                "raw": [r.raw[:MAX_RAW_CHARS] for r in batch.rejects],
                "reason": [r.reason for r in batch.rejects],
                "t_utc": pa.array([now] * len(batch.rejects), pa.timestamp("us", tz="UTC")),
            }
        )
        store.insert("quarantine", q, dedupe=False)
        result.rejected += len(batch.rejects)
    for k, v in batch.counters.items():
        result.counters[k] = result.counters.get(k, 0) + int(v)


def _declared(table: str) -> list[str]:
    from sitewatch.schema import table as decl

    return decl(table).names


def _log_file(
    store: Store,
    file_id: int,
    kind: str,
    src: InputFile,
    fmt: str,
    digest: str,
    opts: ReadOptions,
    result: FileResult,
    t0: datetime,
    finished: bool = True,
) -> None:
    store.insert(
        "ingest_log",
        pa.table(
            {
                "file_id": pa.array([file_id], pa.int64()),
                "path": [src.name],
                "sha256": [digest],
                "kind": [kind],
                "format": [fmt],
                "size_bytes": pa.array([src.size_bytes], pa.int64()),
                "accepted": pa.array([result.accepted], pa.int64()),
                "rejected": pa.array([result.rejected], pa.int64()),
                "duplicates": pa.array([result.duplicates], pa.int64()),
                "t_start_utc": pa.array([t0], pa.timestamp("us", tz="UTC")),
                "t_end_utc": pa.array([datetime.now(UTC) if finished else None], pa.timestamp("us", tz="UTC")),
                "options": [json.dumps(opts.as_json(), sort_keys=True)],
            }
        ),
        dedupe=False,
    )
    if result.counters and finished:
        store.insert(
            "ingest_stats",
            pa.table(
                {
                    "file_id": pa.array([file_id] * len(result.counters), pa.int64()),
                    "name": list(result.counters),
                    "value": pa.array(list(result.counters.values()), pa.int64()),
                }
            ),
            dedupe=False,
        )


def ingest_stream(
    store: Store,
    kind: str,
    name: str,
    digest: str,
    fmt: str,
    batches: Iterable[Batch],
    opts: ReadOptions,
    size_bytes: int | None = None,
    progress: ProgressHook | None = None,
    commit_rows: int = COMMIT_ROWS,
) -> FileResult:
    """Ingest one logical input read as a stream of batches (a fetched archive), like a file.

    Idempotent: skipped when a finished ``ingest_log`` row has the same content hash, kind
    *and* options (the same archive read with another filter adds what the filter now keeps;
    rows already stored count as duplicates). A batch may name each reject's path
    (``reject_paths``: ``archive!member``).

    Memory stays bounded however large the input: its ``ingest_log`` row is written first,
    unfinished (``t_end_utc`` NULL), and the rows are committed every ``commit_rows`` (DuckDB
    keeps a transaction's rows in memory until it commits). An error rolls back what the
    input stored; a killed process leaves an unfinished row, and the next ingest of the same
    input first removes what that run stored — either way the input ends whole or absent.
    """
    options = json.dumps(opts.as_json(), sort_keys=True)
    same = "sha256=? AND kind=? AND options=?"
    prior = store.scalar(f"SELECT file_id FROM ingest_log WHERE {same} AND t_end_utc IS NOT NULL",
                         [digest, kind, options])
    if prior is not None:
        log.info("%s: already ingested with these options (file_id %s), skipped", name, prior)
        return FileResult(name, fmt, skipped=True)
    for (stale,) in store.sql(f"SELECT file_id FROM ingest_log WHERE {same} AND t_end_utc IS NULL",
                              [digest, kind, options]):
        log.info("%s: removing what an interrupted ingest stored (file_id %s)", name, stale)
        forget_file(store, int(stale))

    def opener() -> Any:
        raise InputError("a streamed input cannot be opened again", path=name)

    src = InputFile(name, opener, size_bytes, digest)
    result = FileResult(name, fmt)
    t0 = datetime.now(UTC)
    with store.transaction():
        file_id = store.next_file_id()
        _log_file(store, file_id, kind, src, fmt, digest, opts, result, t0, finished=False)
    try:
        with store.transaction():
            pending = 0
            for batch in batches:
                _store_batch(store, file_id, src, batch, result)
                pending += batch.rows.num_rows
                if pending >= commit_rows:
                    store.commit_and_continue()
                    pending = 0
                if progress:
                    progress(batch.rows.num_rows + len(batch.rejects))
            store.sql("DELETE FROM ingest_log WHERE file_id = ?", [file_id])
            _log_file(store, file_id, kind, src, fmt, digest, opts, result, t0)
    except BaseException:
        forget_file(store, file_id)
        raise
    return result


def forget_file(store: Store, file_id: int) -> None:
    """Remove every row an ingest of ``file_id`` stored, and its ``ingest_log`` row."""
    from sitewatch.schema import TABLES

    with store.transaction():
        for t in TABLES.values():
            if "file_id" in t.names:
                store.sql(f'DELETE FROM "{t.name}" WHERE file_id = ?', [file_id])


def require_paths(paths: Iterable[str]) -> list[str]:
    out = list(paths)
    if not out:
        raise InputError("no input given; pass one or more files or folders")
    return out
