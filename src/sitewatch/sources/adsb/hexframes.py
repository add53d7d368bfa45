"""``hex`` format: raw Mode S frames as hex text with a time, decoded by :mod:`sitewatch.modes`.

Layouts (detected from the first line):

* **CSV with a header** naming a time column (``ts``, ``timestamp``, ``time``, ``t``,
  ``mintime``) and a frame column (``hex``, ``frame``, ``rawmsg``, ``msg``, ``message``,
  ``raw``); other columns are ignored;
* **delimited text whose columns the content tells** (:mod:`._hexlayout`): ``TIME,HEX``,
  the frame quoted, further columns (address, type code, signal level …) anywhere, tab,
  ``;``, ``|`` or blank delimiters, a header of names we do not know. The column holding
  14/28-hex-digit frames and the one holding times (epoch s/ms, ISO 8601) are found on the
  first lines; the ingest log says which were taken (``-v``) and ``ingest_stats`` keeps them
  (``hex_time_column``, ``hex_frame_column``, 1-based). Columns that cannot be told apart
  are a one-line error naming the file and saying to add a header;
* **JSON lines**: ``{"timestamp": 1720248189.52, "frame": "8f39…"}`` (also ``ts``/``time``,
  ``hex``/``rawmsg``).

Times are Unix seconds (milliseconds are recognised by magnitude) or ISO 8601 text.
Frames may be wrapped ``*…;`` (dump1090 raw). Lines that are not JSON, have the wrong
number of fields, an unreadable time, or a frame that is not 14/28 hex digits are
quarantined with their line number; frames failing CRC are counted (``crc_failed``),
not quarantined: on a radio channel that is noise, not a broken file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sitewatch.errors import FormatError
from sitewatch.modes.frames import from_hex
from sitewatch.sources.adsb import _hexlayout
from sitewatch.sources.adsb._common import watch_filtered
from sitewatch.sources.adsb._frames import CHUNK_FRAMES, FrameSink
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject, register, text_lines

FORMAT = "hex"
TIME_COLS = ("ts", "timestamp", "time", "t", "mintime")
FRAME_COLS = ("hex", "frame", "rawmsg", "msg", "message", "raw")
log = logging.getLogger(__name__)


def _header_cols(first: str) -> tuple[int, int] | None:
    cols = [c.strip().strip('"').lower() for c in first.split(",")]
    ti = next((i for i, c in enumerate(cols) if c in TIME_COLS), None)
    fi = next((i for i, c in enumerate(cols) if c in FRAME_COLS), None)
    return (ti, fi) if ti is not None and fi is not None else None


@register
class HexReader:
    kind = "adsb"
    name = FORMAT

    def sniff(self, head: bytes, name: str) -> float:
        first = head.split(b"\n", 1)[0].strip(b"\r")
        if first.lstrip().startswith(b"{"):
            try:
                obj = json.loads(first)
            except (ValueError, RecursionError):
                return 0.3 if b'"frame"' in first or b'"rawmsg"' in first else 0.0
            if isinstance(obj, dict) and any(k in obj for k in ("frame", "rawmsg", "hex")):
                return 0.9
            return 0.0
        if _header_cols(first.decode("utf-8", "replace")) is not None:
            return 0.9
        layout = _hexlayout.sniff(head)
        if isinstance(layout, _hexlayout.Layout):
            return 0.8
        return 0.5 if layout is not None else 0.0  # frames, ambiguous columns: read() says why

    @watch_filtered
    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        first = src.head().split(b"\n", 1)[0].strip(b"\r")
        sink = FrameSink(FORMAT, opts)
        if first.lstrip().startswith(b"{"):
            yield from _read_jsonl(src, sink)
        else:
            layout = _layout(src, first.decode("utf-8", "replace"))
            if not layout.named:
                log.info("%s: raw frames, %s", src.name, layout.summary)
                yield Batch("positions", pa.table({}), [], {"hex_time_column": layout.time_col + 1,
                                                            "hex_frame_column": layout.frame_col + 1})
            yield from _read_csv(src, sink, layout)
        yield from sink.finish()


_WHAT_TO_DO = (f"add a header line naming the time and the frame column (time: {'/'.join(TIME_COLS)}; "
               f"frame: {'/'.join(FRAME_COLS)}), or give TIME,HEX lines")


def _layout(src: InputFile, first: str) -> _hexlayout.Layout:
    """The columns to read: named by a header, else told by the content (or a FormatError)."""
    hdr = _header_cols(first)
    if hdr is not None:
        return _hexlayout.Layout(",", len(first.split(",")), hdr[0], hdr[1], True, "", named=True)
    found = _hexlayout.sniff(src.head())
    if isinstance(found, _hexlayout.Layout):
        return found
    if found is None:
        raise FormatError(f"not hex frames: no column holds 14/28-hex-digit Mode S frames; {_WHAT_TO_DO}",
                          path=src.name, offset=1)
    raise FormatError(f"hex frames, but the columns are ambiguous: {found.why}; {_WHAT_TO_DO}",
                      path=src.name, offset=1)


def _chunk(sink: FrameSink, times: pa.Array, frames: pa.Array, offsets: np.ndarray, raw: list[str] | None,
           rejects: list[Reject]) -> list[Batch]:
    """Validate times and frames of one chunk, quarantine bad rows, decode the rest."""
    msg, nb, reason = from_hex(frames)
    t = _times(times)
    bad_t = np.isnan(t)
    reason = np.where(bad_t & (reason == None), "missing or unreadable time", reason)  # noqa: E711
    nb = np.where(bad_t, 0, nb).astype(np.int8)
    for i in np.flatnonzero(nb == 0):
        text = raw[i] if raw is not None else f"{times[i].as_py()},{frames[i].as_py()}"
        rejects.append(Reject(int(offsets[i]), str(text), str(reason[i] or "bad frame")))
    return sink.batches(msg, nb, np.where(bad_t, 0.0, t), offsets, rejects)


def _times(col: pa.Array) -> np.ndarray:
    """Time column → float seconds (NaN where unreadable)."""
    s: pa.Array | None = None
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        v = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    else:
        s = pc.utf8_trim_whitespace(col.cast(pa.string()))
        try:  # fast path: every time is a plain number
            v = s.cast(pa.float64()).to_numpy(zero_copy_only=False)
            s = None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    if s is not None:
        num = pc.fill_null(pc.match_substring_regex(s, r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"), False)
        v = pc.if_else(num, s, None).cast(pa.float64()).to_numpy(zero_copy_only=False)
        iso = ~num.to_numpy(zero_copy_only=False) & pc.is_valid(s).to_numpy(zero_copy_only=False)
        if iso.any():
            from sitewatch.sources.adsb._common import iso_to_ts

            ts = iso_to_ts(pc.filter(s, pa.array(iso)).to_pylist())
            us = ts.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
            v[iso] = np.where(pc.is_valid(ts).to_numpy(zero_copy_only=False), us / 1e6, np.nan)
    v = np.asarray(v, dtype=np.float64)
    finite = v[np.isfinite(v)]
    if finite.size and np.median(np.abs(finite)) > 1e11:  # milliseconds
        v = v / 1000.0
    return np.where(np.isfinite(v) & (np.abs(v) < 4e9), v, np.nan)


def _read_csv(src: InputFile, sink: FrameSink, layout: _hexlayout.Layout) -> Iterator[Batch]:
    bad: list[Reject] = []

    def on_invalid(row: Any) -> str:
        bad.append(Reject(int(row.number or 0), str(row.text),
                          f"{row.actual_columns} fields, expected {row.expected_columns}"))
        return "skip"

    first_line = 2 if layout.header else 1
    names = [f"f{i}" for i in range(layout.ncols)]
    keep = [names[layout.time_col], names[layout.frame_col]]
    with src.open() as f:
        read_opts = pacsv.ReadOptions(block_size=16 << 20, use_threads=False, column_names=names,
                                      skip_rows=1 if layout.header else 0)
        try:
            reader = pacsv.open_csv(
                f, read_options=read_opts,
                parse_options=pacsv.ParseOptions(delimiter=layout.delimiter, invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(keep, pa.string()),
                                                     include_columns=keep),
            )
        except pa.ArrowInvalid as exc:
            raise FormatError(f"CSV cannot be parsed: {exc}", path=src.name) from None
        ti, fi = 0, 1  # the kept columns, in include_columns order
        line = first_line
        pending: list[pa.RecordBatch] = []
        n_pending = 0
        while True:
            try:
                rb = reader.read_next_batch()
            except StopIteration:
                rb = None
            except pa.ArrowInvalid as exc:
                raise FormatError(f"CSV cannot be parsed: {exc}", path=src.name) from None
            if rb is not None:
                pending.append(rb)
                n_pending += rb.num_rows
            if pending and (rb is None or n_pending >= CHUNK_FRAMES):
                t = pa.Table.from_batches(pending).combine_chunks()
                pending, n_pending = [], 0
                offs = np.arange(line, line + t.num_rows, dtype=np.int64)
                for r in sorted(bad, key=lambda r: r.offset):
                    offs[offs >= r.offset] += 1
                line = int(offs[-1]) + 1 if t.num_rows else line
                rejects, bad[:] = list(bad), []
                yield from _chunk(sink, t.column(ti).chunk(0) if t.column(ti).num_chunks else pa.array([], pa.string()),
                                  t.column(fi).chunk(0) if t.column(fi).num_chunks else pa.array([], pa.string()),
                                  offs, None, rejects)
            if rb is None:
                break
        if bad:
            yield Batch("positions", pa.table({}), list(bad))


def _read_jsonl(src: InputFile, sink: FrameSink) -> Iterator[Batch]:
    times: list[Any] = []
    frames: list[Any] = []
    offs: list[int] = []
    raws: list[str] = []
    rejects: list[Reject] = []
    for no, line in text_lines(src):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("line is not a JSON object")
        except (ValueError, RecursionError) as exc:
            rejects.append(Reject(no, line, f"broken JSON: {exc}"))
            continue
        fr = obj.get("frame", obj.get("rawmsg", obj.get("hex")))
        ts = obj.get("timestamp", obj.get("ts", obj.get("time")))
        if not isinstance(fr, str):
            rejects.append(Reject(no, line, "no frame (frame/rawmsg/hex) in the record"))
            continue
        times.append(None if isinstance(ts, bool) else ts)
        frames.append(fr)
        offs.append(no)
        raws.append(line)
        if len(frames) >= CHUNK_FRAMES:
            yield from _chunk(sink, _loose_times(times), pa.array(frames, pa.string()),
                              np.array(offs, np.int64), raws, rejects)
            times, frames, offs, raws, rejects = [], [], [], [], []
    if frames or rejects:
        yield from _chunk(sink, _loose_times(times), pa.array(frames, pa.string()),
                          np.array(offs, np.int64), raws, rejects)


def _loose_times(values: list[Any]) -> pa.Array:
    if all(isinstance(v, int | float) for v in values):  # JSON ints beyond int64/float range are no time
        return pa.array([float(v) if abs(v) < 1e300 else None for v in values], pa.float64())
    return pa.array([None if v is None else str(v) for v in values], pa.string())

