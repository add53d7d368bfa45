"""The ingest machinery every source uses: idempotent, transactional, nothing lost.

For each logical input file:

1. its decompressed content is hashed; if ``(sha256, kind)`` is in ``ingest_log`` the
   file is skipped (``skipped_files``) — re-running an ingest adds nothing;
2. the reader's batches are inserted in **one transaction** together with the file's
   quarantine rows, decoder counters and its ``ingest_log`` row; an exception (or a
   killed process) rolls the whole file back, so a crash leaves nothing of it. An
   archive's small members, and a folder's small files, share their group's transaction
   (:func:`ingest_paths`): each still ends whole or absent, with its own ``ingest_log`` row;
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
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from sitewatch.errors import InputError, SitewatchError
from sitewatch.sources.base import Batch, InputFile, Reader, ReadOptions, detect, iter_inputs, readers
from sitewatch.store.db import Store
from sitewatch.store.writer import BatchWriter, Counts, store_together

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


# an archive's small members are read up to this many rows, then stored together: below one row
# group (122,880), because DuckDB writes a commit of a row group or more straight out as new row
# groups and leaves each commit's last one partial (a day in 250,000-row groups: 55 row groups
# instead of 41, a file 139 MB instead of 94 MB after the checkpoint, +300 MB peak while it runs)
GROUP_ROWS = 100_000
GROUP_FILES = 1_000  # ... or this many members
GROUP_MEMBER_BYTES = 8 << 20  # members (decompressed, as read) and plain files up to this size are grouped


@dataclass
class _Read:
    """An archive member read whole, waiting to be stored with the rest of its group."""

    src: InputFile
    reader: Reader
    digest: str
    batches: list[Batch]
    t0: datetime


def ingest_paths(
    store: Store,
    kind: str,
    paths: Iterable[str | Path],
    fmt: str = "auto",
    opts: ReadOptions | None = None,
    progress: ProgressHook | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> IngestSummary:
    """Ingest every input under ``paths`` as ``kind`` data (see the module docstring).

    An archive's small members (a globe_history day holds thousands of one-aircraft traces),
    and a folder's small uncompressed files (a receiver's ``aircraft.json`` snapshots), are
    read a group at a time and stored in one transaction with one insert per table
    (:func:`~sitewatch.store.writer.store_together`); each keeps its own ``ingest_log`` row,
    counts and quarantine, as if stored alone. If storing a group fails, its members are
    stored one by one, so a member that cannot be stored fails alone."""
    opts = opts or ReadOptions()
    summary = IngestSummary()
    hints: dict[str, Reader] = {}  # archive → the reader of its last member: sniffed once, not per member
    group: list[_Read | FileResult] = []
    group_of: str | None = None
    seen: set[str] = set()  # digests read into the group (a member repeated inside it is skipped)
    held = 0

    def done(result: FileResult) -> None:
        summary.add(result)
        if on_file:
            on_file(result)

    def failed(name: str, exc: SitewatchError) -> FileResult:
        # the caller's hook reports it (the CLI prints one line); else the log does
        log.log(logging.DEBUG if on_file else logging.ERROR, "%s", exc)
        return FileResult(name, None, error=str(exc))

    def flush() -> None:
        nonlocal held, group_of
        taken = list(group)  # taken out first: a failure while storing never stores it twice
        group.clear()
        seen.clear()
        held, group_of = 0, None
        for r in _store_group(store, kind, taken, opts):
            done(r)

    try:
        for src in iter_inputs(paths):
            archive = src.name.rsplit("!", 1)[0] if "!" in src.name else None
            # grouped: an archive's members, or the files of one folder; alone: a file whose size
            # is not known before reading it (compressed) or above the limit
            where = archive if archive is not None else os.path.dirname(src.name)
            size = src.size_bytes if archive is None else (src.size_bytes or 0)
            alone = size is None or size > GROUP_MEMBER_BYTES
            if group and (alone or where != group_of):  # in order: the group first
                flush()
            hint = hints.get(archive) if archive else None
            if alone:
                try:
                    result = ingest_file(store, kind, src, fmt, opts, progress, hint=hint)
                except SitewatchError as exc:
                    result = failed(src.name, exc)
                if archive and result.format and result.error is None:
                    hints[archive] = readers(kind)[result.format]
                done(result)
                continue
            try:
                item = _read_member(store, kind, src, fmt, opts, progress, hint, seen)
            except SitewatchError as exc:
                item = failed(src.name, exc)
            rows = sum(b.rows.num_rows for b in item.batches) if isinstance(item, _Read) else 0
            if group and held + rows > GROUP_ROWS:  # stored before it would pass the limit
                flush()
            group.append(item)
            group_of = where
            if isinstance(item, _Read):
                seen.add(item.digest)
                held += rows
            if archive is not None:  # (a folder's files are sniffed each: they need not share a format)
                if isinstance(item, _Read):
                    hints[archive] = item.reader
                elif item.format and item.error is None:  # skipped: its reader still read the archive
                    hints[archive] = readers(kind)[item.format]
            if held >= GROUP_ROWS or len(group) >= GROUP_FILES:
                flush()
    finally:
        flush()  # what was read is stored, also when the archive itself ends early
    return summary


def _plan(store: Store, kind: str, src: InputFile, fmt: str, hint: Reader | None) -> tuple[Reader, str, bool]:
    """(the reader, the content's sha256, whether an input with that content was ingested)."""
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
    return reader, digest, prior is not None


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
    reader, digest, ingested = _plan(store, kind, src, fmt, hint)
    if ingested:
        return FileResult(src.name, reader.name, skipped=True)
    return run_reader(store, kind, src, reader, digest, opts, progress)


def _read_member(store: Store, kind: str, src: InputFile, fmt: str, opts: ReadOptions,
                 progress: ProgressHook | None, hint: Reader | None, seen: set[str]) -> _Read | FileResult:
    """Read one small archive member whole (nothing stored yet), or say it is skipped."""
    t0 = datetime.now(UTC)
    reader, digest, ingested = _plan(store, kind, src, fmt, hint)
    if ingested or digest in seen:
        return FileResult(src.name, reader.name, skipped=True)
    batches = []
    for batch in reader.read(src, opts):
        batches.append(batch)
        if progress:
            progress(batch.rows.num_rows + len(batch.rejects))
    return _Read(src, reader, digest, batches, t0)


def _store_group(store: Store, kind: str, group: list[_Read | FileResult], opts: ReadOptions) -> list[FileResult]:
    """Store the members read in ``group`` in one transaction; every member's result, in order."""
    reads = [g for g in group if isinstance(g, _Read)]
    stored: dict[int, FileResult] = {}
    try:
        if reads:
            with store.transaction():
                writers = [BatchWriter(store, fid, r.src.name)
                           for fid, r in zip(store.next_file_ids(len(reads)), reads, strict=True)]
                for w, r in zip(writers, reads, strict=True):
                    for batch in r.batches:
                        w.add(batch)
                store_together(writers)
                # every member's ingest_log row and counters, as _log_file writes them, in one insert each
                options, t_end = json.dumps(opts.as_json(), sort_keys=True), datetime.now(UTC)
                store.insert("ingest_log", pa.concat_tables([
                    w.log_row(kind, r.reader.name, r.digest, options, r.t0, t_end, r.src.size_bytes)
                    for w, r in zip(writers, reads, strict=True)]), dedupe=False)
                store.insert("ingest_stats", pa.concat_tables([w.counter_rows() for w in writers]), dedupe=False)
            stored = {id(r): _result(r.src.name, r.reader.name, w.counts) for w, r in zip(writers, reads, strict=True)}
    except Exception:  # one of them cannot be stored: one by one, as single files (it fails alone)
        log.debug("storing %d members together failed; storing them one by one", len(reads), exc_info=True)
        for r in reads:
            try:
                stored[id(r)] = run_reader(store, kind, r.src, r.reader, r.digest, opts, batches=iter(r.batches))
            except SitewatchError as exc:
                log.error("%s", exc)
                stored[id(r)] = FileResult(r.src.name, r.reader.name, error=str(exc))
    return [stored[id(g)] if isinstance(g, _Read) else g for g in group]


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
