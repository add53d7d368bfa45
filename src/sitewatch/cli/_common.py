"""Shared CLI plumbing: the context object, output formats, progress bars, time parsing."""

from __future__ import annotations

import csv
import io
import json
import sys
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


def parse_time(text: str | None, name: str = "time") -> datetime | None:
    """ISO 8601 date or datetime → aware UTC datetime (naive input is taken as UTC)."""
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{name} {text!r} is not ISO 8601 (e.g. 2024-12-13 or 2024-12-13T06:00Z)") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


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


def table(rows: Sequence[dict[str, Any]], cols: Sequence[str], max_width: int = 60) -> str:
    if not rows:
        return "(none)\n"
    cells = [[_cell(r.get(c))[:max_width] for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    buf = io.StringIO()
    buf.write("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip() + "\n")
    buf.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        buf.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
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
