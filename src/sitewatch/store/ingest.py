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
is the one JSON line the CLI prints. Rows, quarantine, counters and the ``ingest_log`` row
are written by :class:`~sitewatch.store.writer.BatchWriter`, the writer live feeds use too;
this module decides what is read, when it is skipped and what one transaction holds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sitewatch.errors import InputError, SitewatchError
from sitewatch.sources.base import Batch, InputFile, Reader, ReadOptions, detect, iter_inputs, readers
from sitewatch.store.db import Store
from sitewatch.store.writer import BatchWriter, Counts

log = logging.getLogger(__name__)

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
    t0 = datetime.now(UTC)
    with store.transaction():
        w = BatchWriter(store, store.next_file_id(), src.name)
        for batch in batches if batches is not None else reader.read(src, opts):
            w.add(batch)
            if progress:
                progress(batch.rows.num_rows + len(batch.rejects))
        _log_file(w, kind, src, reader.name, digest, opts, t0)
    return _result(src.name, reader.name, w.counts)


def _result(path: str, fmt: str, c: Counts) -> FileResult:
    return FileResult(path, fmt, accepted=c.accepted, rejected=c.rejected, duplicates=c.duplicates,
                      counters=dict(c.counters))


def _log_file(w: BatchWriter, kind: str, src: InputFile, fmt: str, digest: str, opts: ReadOptions,
              t0: datetime, finished: bool = True) -> None:
    """The file's ``ingest_log`` row and, once finished, its counters."""
    w.log(kind, fmt, digest, json.dumps(opts.as_json(), sort_keys=True), t0,
          datetime.now(UTC) if finished else None, src.size_bytes)
    if finished:
        w.save_counters()


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
    t0 = datetime.now(UTC)
    with store.transaction():
        w = BatchWriter(store, store.next_file_id(), name)
        _log_file(w, kind, src, fmt, digest, opts, t0, finished=False)
    try:
        with store.transaction():
            pending = 0
            for batch in batches:
                w.add(batch)
                pending += batch.rows.num_rows
                if pending >= commit_rows:
                    store.commit_and_continue()
                    pending = 0
                if progress:
                    progress(batch.rows.num_rows + len(batch.rejects))
            store.sql("DELETE FROM ingest_log WHERE file_id = ?", [w.file_id])
            _log_file(w, kind, src, fmt, digest, opts, t0)
    except BaseException:
        forget_file(store, w.file_id)
        raise
    return _result(name, fmt, w.counts)


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
