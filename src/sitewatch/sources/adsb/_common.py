"""Helpers every ADS-B reader shares: turn canonical columns into a ``positions`` batch.

Contract of :func:`positions_batch`: it takes an Arrow table whose columns already carry
``positions`` names (``t_utc`` as ``timestamp[us, UTC]``, ``id``, ``lat``, ``lon`` and any
of the optional columns), plus one ``rec_offset`` per row, and returns a :class:`Batch`
in which

* rows with a missing time, an id that is not a 24-bit hex address, or lat/lon out of
  range are **rejected** (quarantined with their offset and the reason);
* rows with both lat and lon missing are **not** errors (state vectors often carry only
  an altitude or a speed): they are counted in ``counters["no_position"]``;
* ``id`` is lowercased, ``callsign`` stripped (empty → NULL), ``format`` filled.

:func:`iter_json_records` streams the records of a JSON array (or JSON lines) without
loading the whole document, keeping memory bounded on large files.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sitewatch import schema
from sitewatch.sources.base import Batch, Reject

BATCH_ROWS = 100_000
MAX_RECORD_CHARS = 16 << 20  # one JSON record larger than this is treated as broken
_TS = pa.timestamp("us", tz="UTC")

# Optional positions columns a reader may supply, with their Arrow types.
OPTIONAL = {c.name: c.arrow_type for c in schema.POSITIONS.columns
            if c.name not in ("t_utc", "source", "id", "lat", "lon", "file_id", "rec_offset")}


def positions_batch(
    t: pa.Table,
    offsets: np.ndarray | list[int],
    fmt: str,
    raw: Callable[[int], str],
    offset_unit: str = "line",
    counters: dict[str, int] | None = None,
) -> Batch:
    """Validate canonical columns and return the batch (see the module docstring).

    ``raw(i)`` gives the text of row ``i`` for the quarantine (called only for rejects).
    """
    n = t.num_rows
    counters = dict(counters or {})
    offs = np.asarray(offsets, dtype=np.int64)
    if n == 0:
        return Batch("positions", _empty(), [], counters)
    ids = pc.utf8_lower(pc.utf8_trim_whitespace(t.column("id").cast(pa.string())))
    lat = t.column("lat").cast(pa.float64())
    lon = t.column("lon").cast(pa.float64())
    tt = t.column("t_utc")
    if tt.type != _TS:
        tt = tt.cast(_TS)
    nopos = pc.and_(pc.is_null(lat, nan_is_null=True), pc.is_null(lon, nan_is_null=True)).to_numpy(
        zero_copy_only=False)
    ok_id = pc.fill_null(pc.match_substring_regex(ids, r"^~?[0-9a-f]{6}$"), False).to_numpy(zero_copy_only=False)
    latv = lat.to_numpy(zero_copy_only=False).astype(np.float64)
    lonv = lon.to_numpy(zero_copy_only=False).astype(np.float64)
    with np.errstate(invalid="ignore"):
        ok_ll = (np.abs(latv) <= 90.0) & (np.abs(lonv) <= 180.0)
    ok_t = pc.is_valid(tt).to_numpy(zero_copy_only=False)
    reason = np.full(n, "", dtype=object)
    reason[~ok_ll] = "latitude/longitude missing or out of range"
    reason[~ok_id] = "icao24 is not a 24-bit hex address"
    reason[~ok_t] = "missing or unreadable time"
    bad = (~ok_t | ~ok_id | ~ok_ll) & ~nopos
    if "_bad" in t.column_names:  # values the caller could not convert
        extra = t.column("_bad").to_numpy(zero_copy_only=False)
        has = np.array([x is not None for x in extra], dtype=bool)
        reason[has & ~bad] = extra[has & ~bad]
        bad |= has
    good = ~bad & ~nopos
    rejects = [Reject(int(offs[i]), raw(int(i)), str(reason[i]), offset_unit) for i in np.flatnonzero(bad)]
    if nopos.any():
        counters["no_position"] = counters.get("no_position", 0) + int(nopos.sum())
    mask = pa.array(good)
    cols: dict[str, pa.Array | pa.ChunkedArray] = {
        "t_utc": tt.filter(mask),
        "source": pa.repeat(pa.scalar("adsb"), int(good.sum())),
        "id": ids.filter(mask),
        "lat": lat.filter(mask),
        "lon": lon.filter(mask),
    }
    for name, typ in OPTIONAL.items():
        if name in t.column_names and name not in ("format",):
            col = t.column(name).filter(mask)
            if name in ("callsign", "squawk", "status"):
                col = pc.utf8_trim_whitespace(col.cast(pa.string()))
                col = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
            cols[name] = col.cast(typ)
    cols["format"] = pa.repeat(pa.scalar(fmt), int(good.sum()))
    cols["rec_offset"] = pa.array(offs[good], pa.int64())
    return Batch("positions", pa.table(cols), rejects, counters)


ReadFn = Callable[[Any, Any, Any], Iterator[Batch]]


def watch_filtered(read: ReadFn) -> ReadFn:
    """Decorate a reader's ``read``: keep only aircraft in ``opts.extra["only_ids"]``.

    ``only_ids`` (a frozenset of lowercase addresses, set by ``ingest adsb --watch-types``
    from the workspace's aircraft database) is not recorded in the ingest options; the
    codes are. Positions of other aircraft are counted as ``not_watched``.
    """

    @functools.wraps(read)
    def wrapper(self: Any, src: Any, opts: Any) -> Iterator[Batch]:
        yield from only_watched(read(self, src, opts), opts.extra.get("only_ids"))

    return wrapper


def only_watched(batches: Iterable[Batch], ids: frozenset[str] | None) -> Iterator[Batch]:
    """``batches`` with only the aircraft in ``ids`` (all when None); the positions of the
    others counted as ``not_watched``. A batch keeps its type (an archive's names its rejects)."""
    value_set = pa.array(sorted(ids), pa.string()) if ids is not None else None
    for b in batches:
        if value_set is not None and b.rows.num_rows and b.table in ("positions", "aircraft"):
            col = "id" if b.table == "positions" else "icao24"
            kept = b.rows.filter(pc.is_in(b.rows.column(col), value_set=value_set))
            counters = dict(b.counters)
            if b.table == "positions":
                counters["not_watched"] = counters.get("not_watched", 0) + b.rows.num_rows - kept.num_rows
            b = dataclasses.replace(b, rows=kept, counters=counters)
        yield b


def _empty() -> pa.Table:
    return schema.POSITIONS.arrow_schema().empty_table().drop_columns(["file_id"])


def json_str(v: Any) -> str | None:
    """A JSON value as text, or None when it is not a string."""
    return v if isinstance(v, str) else None


def json_num(v: Any) -> float:
    """A JSON value as a float, NaN when it is missing, a boolean or not a number."""
    if isinstance(v, bool) or v is None:
        return np.nan
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a JSON integer beyond float range
        return np.nan


def epoch_to_ts(values: Any, unit: str = "auto") -> pa.Array:
    """Numbers since 1970 → ``timestamp[us, UTC]``; ``auto`` tells ms from s by magnitude."""
    v = np.asarray(values, dtype=np.float64)
    if unit == "auto":
        finite = v[np.isfinite(v)]
        unit = "ms" if finite.size and np.nanmedian(np.abs(finite)) > 1e11 else "s"
    scale = 1e3 if unit == "ms" else 1e6
    with np.errstate(invalid="ignore"):
        us = np.round(v * scale)
    ok = np.isfinite(us) & (np.abs(us) < 4e15)  # about year 2096: beyond that the value is garbage
    out = np.where(ok, us, 0).astype(np.int64)
    return pa.array(out, _TS, mask=~ok)


def iso_to_ts(values: list[Any]) -> pa.Array:
    """ISO 8601 strings (naive = UTC) or epoch numbers → ``timestamp[us, UTC]``; bad → null."""
    out: list[datetime | None] = []
    for v in values:
        out.append(parse_time_value(v))
    return pa.array(out, _TS)


def parse_time_value(v: Any) -> datetime | None:
    """One time value: epoch seconds/milliseconds, or ISO 8601 text. ``None`` when unreadable."""
    if v is None:
        return None
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        if v != v:
            return None
        x = float(v) / 1000.0 if abs(v) > 1e11 else float(v)
        try:
            return datetime.fromtimestamp(x, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    s = str(v).strip()
    if not s:
        return None
    try:
        return parse_time_value(float(s))
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def iter_json_records(f: IO[bytes], chunk_chars: int = 4 << 20) -> Iterator[tuple[int, Any, str | None]]:
    """Yield ``(record_number, value, error)`` for each element of a top-level JSON array.

    Record numbers start at 1. The text is cut into pieces at ``},`` boundaries and each
    piece is parsed in one call (fast path); a piece that fails is re-read record by
    record, so a malformed element yields ``(n, raw_text, reason)`` and the scan goes on
    after it. Memory holds one piece. Raises ``ValueError`` if the text is not an array.
    """
    import io

    text = io.TextIOWrapper(f, encoding="utf-8", errors="replace")
    buf = text.read(chunk_chars).lstrip()
    if not buf.startswith("["):
        raise ValueError("not a JSON array")
    buf = buf[1:]
    n = 0
    eof = closed = False
    while not eof:
        nxt = text.read(chunk_chars)
        eof = not nxt
        buf += nxt
        if not eof:
            cut = buf.rfind("},")
            if cut < 0:
                if len(buf) > MAX_RECORD_CHARS:
                    raise ValueError(f"no record boundary in {MAX_RECORD_CHARS} characters")
                continue
            try:
                values = json.loads("[" + buf[: cut + 1] + "]")
            except json.JSONDecodeError:
                pass  # a "}," inside a string, or a broken record: go record by record
            else:
                for v in values:
                    n += 1
                    yield n, v, None
                buf = buf[cut + 2:]
                continue
        out: list[tuple[Any, str | None]] = []
        buf, seen_end = _slow_records(buf, eof, out)
        closed = closed or seen_end
        for v, err in out:
            n += 1
            yield n, v, err
        if eof and not closed:
            n += 1
            yield n, "", "JSON array not closed (truncated file?)"


def _slow_records(buf: str, final: bool, out: list[tuple[Any, str | None]]) -> tuple[str, bool]:
    """Parse records of ``buf`` one at a time into ``out``, resyncing after broken ones.

    Returns the unparsed tail (a record cut by the chunk end, unless ``final``) and
    whether the closing ``]`` was seen.
    """
    dec = json.JSONDecoder()
    pos, end = 0, len(buf)
    while True:
        while pos < end and buf[pos] in " \t\r\n,":
            pos += 1
        if pos >= end:
            return "", False
        if buf[pos] == "]":
            return "", True
        try:
            value, nxt = dec.raw_decode(buf, pos)
        except json.JSONDecodeError as exc:
            # a literal cut by the chunk end ("fal|se") fails at its start, a few chars back
            cut_by_chunk = exc.pos >= end - 16 or exc.msg.startswith("Unterminated")
            if cut_by_chunk and not final:
                return buf[pos:], False
            cut = _resync(buf, pos)
            out.append((buf[pos:cut][:2000], f"broken JSON: {exc.msg}"))
            pos = cut
        else:
            out.append((value, None))
            pos = nxt


def _resync(buf: str, pos: int) -> int:
    for token in ("},", "}\n"):
        i = buf.find(token, pos)
        if i >= 0:
            return i + 1
    return len(buf)
