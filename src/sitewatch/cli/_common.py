"""Shared CLI plumbing: the context object, output formats, progress bars, time parsing.

A command runs either here, on the workspace folder opened directly, or inside the
``sitewatch serve`` process that owns the workspace (:mod:`sitewatch.cli._remote` sends it
there): :meth:`Ctx.open` then lends the server's open workspace (:func:`served`), and the
exit code, terminal width and cancellation are per thread (:func:`job`).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sys
import textwrap
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import click

from sitewatch.params import check_window, fmt_time
from sitewatch.params import iso as _iso
from sitewatch.workspace import Workspace

__all__ = ["check_window", "fmt_time"]

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class Job:
    """A command run for a client by the server that owns the workspace."""

    workspace: Workspace
    columns: int = 160
    cancelled: threading.Event = field(default_factory=threading.Event)
    on_cancel: list[Callable[[], None]] = field(default_factory=list)

    def cancel(self) -> None:
        self.cancelled.set()
        for fn in list(self.on_cancel):
            fn()


_LOCAL = threading.local()


def job() -> Job | None:
    """The server job this thread runs, or ``None`` when the command runs here."""
    return getattr(_LOCAL, "job", None)


def served(j: Job | None) -> None:
    """Make this thread run commands for job ``j`` (``None``: back to running here)."""
    _LOCAL.job = j
    _LOCAL.exit = 0


def on_cancel(fn: Callable[[], None]) -> None:
    """Call ``fn`` when the client of this thread's job goes away (a live stream stops)."""
    j = job()
    if j is not None:
        j.on_cancel.append(fn)
        if j.cancelled.is_set():
            fn()


def set_exit_code(code: int) -> None:
    """Let a command finish normally but make ``main`` return ``code`` (e.g. partial failure)."""
    _LOCAL.exit = max(getattr(_LOCAL, "exit", 0), code)


def take_exit_code() -> int:
    code = getattr(_LOCAL, "exit", 0)
    _LOCAL.exit = 0
    return code


@dataclass
class Ctx:
    workspace: str | None
    verbose: int = 0
    quiet: bool = False

    def open(self, read_only: bool = False) -> Workspace:
        """The workspace: the server's own (lent) when the server runs this command, else the
        folder opened directly."""
        j = job()
        if j is not None:
            return j.workspace.borrowed()
        return Workspace.open(self.workspace, read_only=read_only)


pass_ctx = click.make_pass_decorator(Ctx)


def format_option(*choices: str, default: str = "table") -> Any:
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default,
                        show_default=True, help="Output format (machine formats go to stdout).")


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
    """Columns of the terminal (``$COLUMNS`` or 160 when stdout is not one; the client's in a job)."""
    j = job()
    if j is not None:
        return max(60, j.columns)
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
