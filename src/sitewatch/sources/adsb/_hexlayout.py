"""Which columns of a delimited text file hold the time and the Mode S frame, from its content.

Receivers and archives write raw frames in many delimited layouts: ``TIME,HEX``; the frame
quoted (``1720248189.52,"8d4840d6…"``); further columns around them (address, type code,
signal level, receiver serial, a second time); tabs or semicolons instead of commas; a
header line whose names we do not know. :func:`sniff` reads the first lines and finds

* the **delimiter** (``,`` tab ``;`` ``|``, then a blank) giving one field count on most lines;
* the **frame column**: 14 or 28 hex digits (optionally dump1090's ``*…;``) on at least
  :data:`MIN_SHARE` of the sampled lines;
* the **time column**: epoch seconds or milliseconds (1980–2100) or ISO 8601 on at least as
  many lines; a file with exactly one other numeric column takes that one (relative times);
* a **header**: a first line of names only (no frame, no time) is skipped.

It returns a :class:`Layout` (with a sentence saying what was taken, for the ingest log), or
:class:`Ambiguous` saying why the columns cannot be told apart (two different frame columns,
two time columns that disagree, no time column), or ``None`` when no column holds frames.
Columns that repeat the same values (OpenSky's ``mintime``/``maxtime`` within seconds) are
not ambiguous: the first is taken.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

MIN_SHARE = 0.9  # a column is a frame/time column when this share of sampled lines say so
SAMPLE_LINES = 200
DELIMITERS = (",", "\t", ";", "|", " ")
AGREE_S = 60.0  # two time columns this close on every sampled line are one time, twice
_FRAME = re.compile(r"^\*?(?:[0-9a-fA-F]{14}|[0-9a-fA-F]{28});?$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .()/#-]*$")
_EPOCH_S = (3.15e8, 4.11e9)  # 1980 .. 2100
_DELIM_NAME = {",": "','", "\t": "tab", ";": "';'", "|": "'|'", " ": "blank"}


@dataclass(frozen=True)
class Layout:
    delimiter: str
    ncols: int
    time_col: int  # 0-based
    frame_col: int
    header: bool  # the first line is a header (skipped)
    time_kind: str  # "epoch seconds", "epoch milliseconds", "ISO 8601", "numbers"; "" when named
    named: bool = False  # the header names the columns (else the content told them)

    @property
    def summary(self) -> str:
        head = "a header of unknown names (skipped)" if self.header else "no header"
        return (f"{_DELIM_NAME[self.delimiter]}-delimited, {self.ncols} columns, {head}: time from column "
                f"{self.time_col + 1} ({self.time_kind}), frame from column {self.frame_col + 1}")


@dataclass(frozen=True)
class Ambiguous:
    why: str


def sniff(head: bytes) -> Layout | Ambiguous | None:
    """The layout of a file starting with ``head`` (see the module docstring)."""
    lines = _sample(head)
    if not lines:
        return None
    found: Ambiguous | None = None
    for delim in DELIMITERS:
        out = _try(lines, delim)
        if isinstance(out, Layout):
            return out
        found = found or out
    return found


def _sample(head: bytes) -> list[str]:
    text = head.decode("utf-8", "replace")
    parts = text.split("\n")
    if len(parts) > 1 and not text.endswith("\n"):
        parts = parts[:-1]  # the last line may be cut by the sniff window
    return [p.rstrip("\r") for p in parts if p.strip()][: SAMPLE_LINES + 1]


def _split(lines: list[str], delim: str) -> list[list[str]]:
    if delim == " ":  # single blanks, as the CSV parser splits them
        return [ln.strip().split(" ") for ln in lines]
    return [[f.strip() for f in row] for row in csv.reader(lines, delimiter=delim, quotechar='"')]


def _try(lines: list[str], delim: str) -> Layout | Ambiguous | None:
    try:
        rows = _split(lines, delim)
    except csv.Error:  # stray carriage returns, NULs, huge fields: not a delimited text file
        return None
    header = bool(rows) and len(rows) > 1 and _is_header(rows[0])
    data = rows[1:] if header else rows
    counts = Counter(len(r) for r in data)
    if not counts:
        return None
    ncols, n = counts.most_common(1)[0]
    if ncols < 2 or n < MIN_SHARE * len(data):
        return None
    rows = [r for r in data if len(r) == ncols]
    frames = [c for c in range(ncols) if _share(rows, c, _is_frame) >= MIN_SHARE]
    if not frames:
        return None
    frame = _one_frame(rows, frames)
    if isinstance(frame, Ambiguous):
        return frame
    time = _time_column(rows, ncols, frame)
    if isinstance(time, Ambiguous):
        return time
    col, kind = time
    return Layout(delim, ncols, col, frame, header, kind)


def _is_header(row: list[str]) -> bool:
    return all(_NAME.match(f) for f in row) and not any(_is_frame(f) for f in row)


def _share(rows: list[list[str]], col: int, test: Callable[[str], bool]) -> float:
    return sum(1 for r in rows if test(r[col])) / len(rows)


def _is_frame(v: str) -> bool:
    return bool(_FRAME.match(v))


def _number(v: str) -> float | None:
    try:
        x = float(v)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _epoch_s(v: str) -> float | None:
    """Seconds since 1970 if ``v`` is epoch seconds/milliseconds (1980–2100) or ISO 8601."""
    x = _number(v)
    if x is not None:
        if _EPOCH_S[0] <= x <= _EPOCH_S[1]:
            return x
        if _EPOCH_S[0] * 1e3 <= x <= _EPOCH_S[1] * 1e3:
            return x / 1e3
        return None
    if _ISO.match(v):
        from sitewatch.sources.adsb._common import parse_time_value

        t = parse_time_value(v)
        return t.timestamp() if t is not None else None
    return None


def _one_frame(rows: list[list[str]], cols: list[int]) -> int | Ambiguous:
    if all(len({r[c].strip("*;").lower() for c in cols}) == 1 for r in rows):
        return cols[0]
    return Ambiguous(f"columns {_names(cols)} all hold 14/28-hex-digit frames, with different values")


def _time_column(rows: list[list[str]], ncols: int, frame: int) -> tuple[int, str] | Ambiguous:
    others = [c for c in range(ncols) if c != frame]
    strong = [c for c in others if _share(rows, c, lambda v: _epoch_s(v) is not None) >= MIN_SHARE]
    if strong:
        if not _agree(rows, strong):
            return Ambiguous(f"columns {_names(strong)} all hold times, and they disagree")
        return strong[0], _time_kind(rows, strong[0])
    numeric = [c for c in others if _share(rows, c, lambda v: _number(v) is not None) >= MIN_SHARE]
    if len(numeric) == 1:
        return numeric[0], "numbers"
    if numeric:
        return Ambiguous(f"no column holds epoch or ISO 8601 times, and columns {_names(numeric)} "
                         "all hold numbers")
    return Ambiguous(f"frames in column {frame + 1}, but no column holds times (epoch seconds or "
                     "milliseconds, ISO 8601) on every line")


def _agree(rows: list[list[str]], cols: list[int]) -> bool:
    for r in rows:
        ts = [_epoch_s(r[c]) for c in cols]
        vals = [t for t in ts if t is not None]
        if vals and max(vals) - min(vals) > AGREE_S:
            return False
    return True


def _time_kind(rows: list[list[str]], col: int) -> str:
    vals = [_number(r[col]) for r in rows]
    nums = [v for v in vals if v is not None]
    if len(nums) < len(vals) / 2:
        return "ISO 8601"
    return "epoch milliseconds" if sorted(nums)[len(nums) // 2] > _EPOCH_S[1] else "epoch seconds"


def _names(cols: list[int]) -> str:
    return ", ".join(str(c + 1) for c in cols[:-1]) + f" and {cols[-1] + 1}" if len(cols) > 1 else str(cols[0] + 1)
