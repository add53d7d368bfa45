"""``sitewatch analyze`` (run the analytics) and ``sitewatch events`` (list what they found):
the CLI skin of :meth:`Workspace.analyze <sitewatch.facade.Facade.analyze>` and
:meth:`Workspace.events <sitewatch.facade.Facade.events>`."""

from __future__ import annotations

import click

from sitewatch.analytics.base import discover
from sitewatch.cli._common import Ctx, dumps, emit, parse_time, pass_ctx
from sitewatch.errors import InputError
from sitewatch.facade import decode_events


@click.command("analyze")
@click.option("--only", multiple=True, metavar="NAME",
              help="Run only analyses whose name starts with NAME (e.g. air, sea.port-visits). Repeatable.")
@click.option("--list", "list_only", is_flag=True, help="List the registered analyses and exit.")
@click.option("--from", "t_from", metavar="T", help="Only data from this time (ISO 8601 UTC).")
@click.option("--to", "t_to", metavar="T", help="Only data before this time (ISO 8601 UTC).")
@click.option("--engine", type=click.Choice(["embedded", "spark"]), default="embedded", show_default=True,
              help="embedded: DuckDB/NumPy in this process; spark: Apache Spark over a GeoParquet dataset.")
@click.option("--master", default="local[2]", show_default=True, help="Spark master URL (spark engine).")
@click.option("--input", "input_dir", type=click.Path(file_okay=False),
              help="spark: GeoParquet positions dataset (from `export positions --format geoparquet`).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="spark: folder for events.parquet (ingest it with `sitewatch ingest events`).")
@click.option("--partitions", type=click.IntRange(1, 100_000), help="spark: number of partitions (default: by size).")
@pass_ctx
def analyze_cmd(ctx: Ctx, only: tuple[str, ...], list_only: bool, t_from: str | None, t_to: str | None,
                engine: str, master: str, input_dir: str | None, out_dir: str | None,
                partitions: int | None) -> None:
    """(Re)compute every event from the stored data, idempotently.

    Each analysis replaces its previous events in one transaction: re-running gives the
    same events (same ids), and an interrupted run leaves the previous results.

    \b
    Examples:
      sitewatch analyze
      sitewatch analyze --only air --from 2024-12-01
      sitewatch analyze --list
      sitewatch export positions --format geoparquet --out pos/ && \
        sitewatch analyze --engine spark --master local[2] --input pos/ --out spark-out/ && \
        sitewatch ingest events spark-out/events.parquet
    """
    if engine == "spark":
        if not input_dir or not out_dir:
            raise InputError("--engine spark needs --input DIR (GeoParquet positions) and --out DIR")
        if only or t_from or t_to:
            raise InputError("--only/--from/--to are embedded-engine options; filter the exported dataset instead")
        from sitewatch.engines import spark

        with ctx.open() as ws:
            r = spark.run(ws, input_dir, out_dir, master, partitions)
        click.echo(dumps({"engine": "spark", "master": master, "positions": r.positions, "events": r.events,
                          "by_analysis": r.by_analysis, "out": r.out,
                          "seconds": {k: round(v, 2) for k, v in r.seconds.items()}}))
        return
    if list_only:
        emit([{"analysis": a.name, "order": a.order, "kinds": ",".join(a.kinds), "about": a.doc}
              for a in discover().values()], "table")
        return
    with ctx.open() as ws:
        summary = ws.analyze(only or None, parse_time(t_from, "--from"), parse_time(t_to, "--to"),
                             progress=None if ctx.quiet else (lambda n: click.echo(f"analysis {n} …", err=True)))
    click.echo(dumps(summary.as_json()))


@click.command("events")
@click.option("--site", help="Only events at this site.")
@click.option("--kind", "kinds", multiple=True,
              help="Only these kinds, canonical (air.arrival) or short (arrival); repeatable or comma-separated.")
@click.option("--subject", help="Only this aircraft (icao24) or vessel (MMSI).")
@click.option("--from", "t_from", metavar="T", help="Events ending at or after T (ISO 8601 UTC).")
@click.option("--to", "t_to", metavar="T", help="Events starting before T (ISO 8601 UTC).")
@click.option("--evidence", "with_evidence", is_flag=True,
              help="Include the stored rows each event rests on (ndjson/json only).")
@click.option("--limit", type=int, help="At most this many events.")
@click.option("--format", "fmt", type=click.Choice(["table", "ndjson", "json", "csv"]), default="table",
              show_default=True, help="Output format.")
@pass_ctx
def events_cmd(ctx: Ctx, site: str | None, kinds: tuple[str, ...], subject: str | None, t_from: str | None,
               t_to: str | None, with_evidence: bool, limit: int | None, fmt: str) -> None:
    """List events: kind, site, t_start, t_end, subject, confidence, details, evidence.

    Kinds are named <domain>.<what> (air.arrival, sea.vessel-departure), as in `timeline`;
    the short name (arrival) works too. Tables print the canonical name; json, ndjson and
    csv keep `kind` as the analysis stored it (arrival) and add `canonical_kind`.

    \b
    Examples:
      sitewatch events --site hmeimim --kind arrival,departure --format table
      sitewatch events --kind air.dark-visit --format ndjson --evidence | jq .
      sitewatch events --from 2024-12-01 --to 2024-12-15 --format csv > events.csv
    """
    if limit is not None and limit < 0:
        raise InputError("--limit must be >= 0")
    with ctx.open(read_only=False) as ws:
        rows = decode_events(ws.events(site, list(kinds), subject, parse_time(t_from, "--from"),
                                       parse_time(t_to, "--to"), limit, with_evidence))
    if fmt == "table":
        emit([{"t_start": r["t_start"], "t_end": r["t_end"], "kind": r["canonical_kind"], "site": r["site"],
               "subject": r["subject"], "confidence": round(r["confidence"], 2),
               "summary": r["summary"] or ""} for r in rows], "table")
        return
    if fmt == "csv":
        emit(rows, "csv", ["event_id", "kind", "site", "t_start", "t_end", "subject", "subject_kind",
                           "confidence", "lat", "lon", "summary", "details", "evidence", "analysis",
                           "canonical_kind"])
        return
    emit(rows, fmt)


def register(root: click.Group) -> None:
    root.add_command(analyze_cmd)
    root.add_command(events_cmd)
