"""Shared CLI plumbing: the context object, output formats, progress bars, time parsing."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sys
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import click

from sitewatch.errors import InputError
from sitewatch.workspace import Workspace

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


_EXIT: list[int] = [0]


def set_exit_code(code: int) -> None:
    """Let a command finish normally but make ``main`` return ``code`` (e.g. partial failure)."""
    _EXIT[0] = max(_EXIT[0], code)


def take_exit_code() -> int:
    code, _EXIT[0] = _EXIT[0], 0
    return code


@dataclass
class Ctx:
    workspace: str | None
    verbose: int = 0
    quiet: bool = False

    def open(self, read_only: bool = False) -> Workspace:
        return Workspace.open(self.workspace, read_only=read_only)


pass_ctx = click.make_pass_decorator(Ctx)


def format_option(*choices: str, default: str = "table") -> Any:
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default,
                        show_default=True, help="Output format (machine formats go to stdout).")


def _iso(text: str, name: str) -> datetime:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{name} {text!r} is not ISO 8601 (e.g. 2024-12-13 or 2024-12-13T06:00Z)") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def parse_time(text: str | None, name: str = "time") -> datetime | None:
    """ISO 8601 date or datetime → aware UTC datetime (naive input is taken as UTC).

    Parsing ``--to`` also checks it against the same command's ``--from`` (its ``t_from``
    parameter): a window that ends before it starts is a one-line error, not an empty answer.
    """
    if text is None:
        return None
    t = _iso(text, name)
    if name == "--to":
        check_window(_sibling_param("t_from"), t)
    return t


def _sibling_param(key: str) -> datetime | None:
    ctx = click.get_current_context(silent=True)
    raw = ctx.params.get(key) if ctx is not None else None
    return _iso(raw, "--from") if isinstance(raw, str) else None


def check_window(t_from: datetime | None, t_to: datetime | None, names: tuple[str, str] = ("--from", "--to")) -> None:
    """Refuse a time window that is empty because its ends are swapped or equal."""
    if t_from is not None and t_to is not None and t_to <= t_from:
        raise InputError(f"{names[1]} {fmt_time(t_to)} is not after {names[0]} {fmt_time(t_from)}: "
                         f"swap them (the window is {names[0]} ≤ t < {names[1]})")


def fmt_time(t: datetime) -> str:
    """A time as people read it in a table: ISO 8601 UTC to the second (``2024-12-13T06:12:05Z``)."""
    t = (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(v, date):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return v


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=_jsonable, ensure_ascii=False)


def emit(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str] | None = None) -> None:
    """Write ``rows`` to stdout as json, ndjson, csv or an aligned table."""
    out = sys.stdout
    if fmt == "json":
        out.write(json.dumps([{k: _jsonable(v) for k, v in r.items()} for r in rows], default=_jsonable,
                             ensure_ascii=False, indent=2) + "\n")
        return
    if fmt == "ndjson":
        for r in rows:
            out.write(dumps({k: _jsonable(v) for k, v in r.items()}) + "\n")
        return
    cols = list(columns or (rows[0].keys() if rows else []))
    if fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in cols])
        return
    out.write(table(rows, cols))


def _cell(v: Any) -> str:
    v = _jsonable(v)
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dict | list):
        return json.dumps(v, default=_jsonable)
    return str(v)


_ISO_FRACTION = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})\.\d+(Z|[+-]\d{2}:?\d{2})?$")
MIN_COLUMN = 12  # a wrapped column is never narrower than this (or its header)


def _table_cell(v: Any) -> str:
    """A cell for people: times to the second, everything else as in machine output."""
    if isinstance(v, datetime):
        return fmt_time(v)
    text = _cell(v)
    m = _ISO_FRACTION.match(text)
    return f"{m.group(1)}{m.group(2) or ''}" if m else text


def terminal_width() -> int:
    """Columns of the terminal (``$COLUMNS`` or 160 when stdout is not one)."""
    return max(60, shutil.get_terminal_size((160, 24)).columns)


def _fit(widths: list[int], floors: list[int], avail: int) -> list[int]:
    """Narrow the widest columns (never below their floor) until the table fits ``avail``."""
    widths = list(widths)
    while sum(widths) + 2 * (len(widths) - 1) > avail:
        i = max(range(len(widths)), key=lambda k: widths[k] - floors[k])
        if widths[i] <= floors[i]:
            break
        widths[i] -= 1
    return widths


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for part in text.split("\n"):
        lines += textwrap.wrap(part, width, break_on_hyphens=False) or [""]
    return lines


def table(rows: Sequence[dict[str, Any]], cols: Sequence[str], max_width: int = 60, width: int | None = None) -> str:
    """An aligned text table whose long cells wrap (at ``max_width``, narrower to fit the
    terminal) instead of being cut: every word of every cell is printed."""
    if not rows:
        return "(none)\n"
    cells = [[_table_cell(r.get(c)) for c in cols] for r in rows]
    natural = [max(len(c), *(len(line) for row in cells for line in row[i].split("\n"))) for i, c in enumerate(cols)]
    floors = [min(n, max(len(c), MIN_COLUMN)) for n, c in zip(natural, cols, strict=True)]
    widths = _fit([min(n, max(f, max_width)) for n, f in zip(natural, floors, strict=True)], floors,
                  width or terminal_width())
    buf = io.StringIO()
    buf.write("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip() + "\n")
    buf.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        wrapped = [_wrap(v, w) for v, w in zip(row, widths, strict=True)]
        for k in range(max(len(x) for x in wrapped)):
            parts = [(x[k] if k < len(x) else "").ljust(w) for x, w in zip(wrapped, widths, strict=True)]
            buf.write("  ".join(parts).rstrip() + "\n")
    return buf.getvalue()


def progress(ctx: Ctx, total: int | None = None, desc: str = "", unit: str = "rec") -> Any:
    """A tqdm progress bar on stderr (disabled with -q or when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr,
                disable=ctx.quiet or None, leave=False, dynamic_ncols=True)


def iter_progress(ctx: Ctx, items: Iterable[Any], desc: str, total: int | None = None) -> Iterator[Any]:
    bar = progress(ctx, total=total, desc=desc, unit="it")
    try:
        for it in items:
            yield it
            bar.update(1)
    finally:
        bar.close()
