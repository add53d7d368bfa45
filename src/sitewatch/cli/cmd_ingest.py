"""``sitewatch ingest …``: the group every source's ingest command attaches to.

Source modules add their subcommand with ``@ingest_group.command("adsb")`` and call
:func:`run_ingest`, which runs :meth:`sitewatch.facade.Facade.ingest` (so what follows an
ingest — the AIS vessel refresh, imagery co-registration — is the library's, not the CLI's),
shows a progress bar, prints the one-line JSON summary on stdout and sets exit code 1 when
some files could not be read at all. A file that fails is named once on stderr; the
summary's ``errors`` list repeats it only when stdout is not a terminal (for the program
reading it). :func:`format_choice` makes a ``--format`` option from the reader registry.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from sitewatch.cli._common import Ctx, dumps, pass_ctx, progress, set_exit_code
from sitewatch.sources.base import ReadOptions, formats
from sitewatch.store.ingest import FileResult, IngestSummary, ingest_paths, require_paths


class FormatChoice(click.Choice):  # type: ignore[type-arg]
    """``auto`` and the registered readers of one kind, looked up when first needed (the
    readers are imported then, not when the CLI starts)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__([], case_sensitive=True)

    @property  # type: ignore[override]
    def choices(self) -> list[str]:  # type: ignore[override]
        return ["auto", *formats(self.kind)]

    @choices.setter
    def choices(self, _: object) -> None:
        pass


def format_choice(kind: str, help: str = "Input format (auto: detected from the content).") -> Any:
    """``--format`` with the registered readers of ``kind`` as its choices (plus ``auto``)."""
    return click.option("--format", "fmt", type=FormatChoice(kind), default="auto", show_default=True, help=help)


@click.group("ingest")
def ingest_group() -> None:
    """Bring files into the workspace (idempotent: re-ingesting a file adds nothing)."""


def run_ingest(ctx: Ctx, kind: str, paths: tuple[str, ...], fmt: str = "auto",
               opts: ReadOptions | None = None, **options: Any) -> IngestSummary:
    """Ingest ``paths`` as ``kind`` into the context's workspace and print the summary.

    ``options`` are the kind's ingest options (:data:`sitewatch.facade.INGEST_OPTIONS`);
    ``opts``, ready-made read options, bypass them (and what follows an ingest)."""
    require_paths(paths)
    with ctx.open() as ws:
        bar = progress(ctx, desc=f"ingest {kind}", unit="rec")

        def on_file(r: FileResult) -> None:
            if r.error:
                click.echo(f"error: {r.error}", err=True)
            elif r.skipped:
                click.echo(f"{r.path}: already ingested, skipped", err=True)
            elif ctx.verbose:
                click.echo(f"{r.path}: {r.format} accepted={r.accepted} rejected={r.rejected} "
                           f"duplicates={r.duplicates}", err=True)

        try:
            if opts is not None:
                summary = ingest_paths(ws.store, kind, paths, fmt, opts, progress=bar.update, on_file=on_file)
            else:
                summary = ws.ingest(kind, paths, fmt, progress=bar.update, on_file=on_file,
                                    on_warning=lambda m: click.echo(f"warning: {m}", err=True), **options)
        finally:
            bar.close()
    out = summary.as_json()
    if sys.stdout.isatty():  # a person reads both streams: each failed file was said once, on stderr
        out.pop("errors", None)
    click.echo(dumps(out))
    if summary.failed_files:
        set_exit_code(1)
    return summary


@ingest_group.command("positions")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@format_choice("positions", "Input format.")
@pass_ctx
def ingest_positions(ctx: Ctx, paths: tuple[str, ...], fmt: str) -> None:
    """Ingest positions in sitewatch's own export layout (CSV or Parquet).

    Columns: t_utc, source, id, lat, lon[, alt_ft, speed_kt, track_deg, onground, …].

    \b
    Example:
      sitewatch export positions --format parquet --out pos.parquet -w ws1
      sitewatch ingest positions pos.parquet -w ws2
    """
    run_ingest(ctx, "positions", paths, fmt)


@ingest_group.command("events")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@pass_ctx
def ingest_events(ctx: Ctx, paths: tuple[str, ...]) -> None:
    """Ingest event tables computed elsewhere (Parquet with the events columns).

    Events already present (same event_id) count as duplicates, so ingesting the Spark
    engine's output over the embedded engine's results adds nothing when they agree.

    \b
    Example:
      sitewatch analyze --engine spark --input pos/ --out spark-out/
      sitewatch ingest events spark-out/events.parquet
    """
    run_ingest(ctx, "events", paths, "auto")


def register(root: click.Group) -> None:
    root.add_command(ingest_group)
