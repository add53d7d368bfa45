"""``sitewatch export …``: tables out in open formats. Other modules add subcommands."""

from __future__ import annotations

import click
import pyarrow as pa

from sitewatch import schema
from sitewatch.cli._common import Ctx, dumps, parse_time, pass_ctx, progress
from sitewatch.store.export import csv_schema, write_batches
from sitewatch.store.positions import POSITION_COLUMNS, position_batches


@click.group("export")
def export_group() -> None:
    """Write workspace data to open formats (CSV, Parquet, GeoJSON, KML …)."""


@export_group.command("positions")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "geoparquet"]), required=True,
              help="Output format; geoparquet writes a partitioned dataset folder.")
@click.option("--out", required=True, type=click.Path(), help="Output file, or folder for geoparquet (written atomically).")
@click.option("--partition", default="day,cell", show_default=True,
              help="geoparquet only: partition keys, any of day (UTC) and cell (1° grid).")
@click.option("--site", help="Only positions inside this site's watch area.")
@click.option("--from", "t_from", metavar="T", help="Start time, ISO 8601 UTC (inclusive).")
@click.option("--to", "t_to", metavar="T", help="End time, ISO 8601 UTC (exclusive).")
@click.option("--source", type=click.Choice(["adsb", "ais"]), help="Only aircraft or only vessels.")
@pass_ctx
def export_positions(ctx: Ctx, fmt: str, out: str, partition: str, site: str | None, t_from: str | None,
                     t_to: str | None, source: str | None) -> None:
    """Export positions: t_utc, source, id, lat, lon, alt_ft, speed_kt, track_deg, onground.

    CSV times are ISO 8601 UTC with microseconds (2024-12-05T22:00:00.000000Z), typed as
    timestamps by DuckDB, pandas and GDAL; GeoParquet geometry is lon/lat WGS84 (OGC:CRS84).

    \b
    Examples:
      sitewatch export positions --format csv --out hmeimim.csv --site hmeimim --from 2024-12-01
      sitewatch export positions --format parquet --out all.parquet
      sitewatch export positions --format geoparquet --partition day,cell --out positions/
    """
    with ctx.open(read_only=False) as ws:
        s = ws.site(site) if site else None
        if fmt == "geoparquet":
            from sitewatch.store import geoparquet

            keys = tuple(k.strip() for k in partition.split(",") if k.strip())
            cols = tuple(c for c in schema.POSITIONS.names if c not in ("file_id",))
            batches = position_batches(ws.store, s, parse_time(t_from, "--from"), parse_time(t_to, "--to"), source,
                                       columns=cols)
            bar = progress(ctx, desc="export", unit="row")
            try:
                n = geoparquet.write(batches, out, keys, on_batch=bar.update)
            finally:
                bar.close()
            click.echo(dumps({"rows": n, "out": out, "format": fmt, "partition": list(keys)}))
            return
        batches = position_batches(ws.store, s, parse_time(t_from, "--from"), parse_time(t_to, "--to"), source)
        decl = schema.POSITIONS.arrow_schema()
        sch = pa.schema([decl.field(c) for c in POSITION_COLUMNS])
        if fmt == "csv":
            from sitewatch.fusion.export import iso_times

            sch = csv_schema(sch)
            batches = (iso_times(rb) for rb in batches)  # t_utc as ISO 8601 UTC text, one form for every row
        bar = progress(ctx, desc="export", unit="row")
        try:
            n = write_batches(batches, sch, out, fmt, on_batch=bar.update)
        finally:
            bar.close()
    click.echo(dumps({"rows": n, "out": out, "format": fmt}))


def register(root: click.Group) -> None:
    root.add_command(export_group)
