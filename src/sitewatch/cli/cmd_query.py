"""``sitewatch query …``: the analyst's air queries (two boxes; aircraft of interest)."""

from __future__ import annotations

import click

from sitewatch.analytics.air import queries
from sitewatch.cli._common import Ctx, emit, parse_time, pass_ctx
from sitewatch.reference import types as ac_types


@click.group("query")
def query_group() -> None:
    """Ask the stored positions questions (two-box, aircraft, flights)."""


@query_group.command("two-box")
@click.option("--a", "area_a", required=True, metavar="BBOX|SITE",
              help="Where the aircraft was seen first: MIN_LON,MIN_LAT,MAX_LON,MAX_LAT or a site name.")
@click.option("--b", "area_b", required=True, metavar="BBOX|SITE", help="Where it was seen next.")
@click.option("--min-gap", default="0s", show_default=True, help="Shortest time between A and B (e.g. 1h, 45m).")
@click.option("--max-gap", default="8h", show_default=True, help="Longest time between A and B.")
@click.option("--from", "t_from", metavar="T", help="Only positions from T (ISO 8601 UTC).")
@click.option("--to", "t_to", metavar="T", help="Only positions before T (ISO 8601 UTC).")
@click.option("--format", "fmt", type=click.Choice(["table", "ndjson", "json", "csv"]), default="table",
              show_default=True, help="Output format.")
@pass_ctx
def two_box_cmd(ctx: Ctx, area_a: str, area_b: str, min_gap: str, max_gap: str, t_from: str | None,
                t_to: str | None, fmt: str) -> None:
    """Aircraft seen in A and then in B within the window: "vanished here, reappeared there".

    One row per exit from A followed by an entry into B: last time in A, first time in B,
    the gap, and n_between, the reports elsewhere in between (0: dark all the way).

    \b
    Examples:
      sitewatch query two-box --a hmeimim --b 33.0,34.5,36.0,36.0 --min-gap 1h --max-gap 8h
      sitewatch query two-box --a 35.5,35.0,36.5,35.8 --b tartus --format ndjson
    """
    with ctx.open(read_only=True) as ws:
        a = queries.parse_area(area_a, ws.sites, "--a")
        b = queries.parse_area(area_b, ws.sites, "--b")
        rows = queries.two_box(ws.store, a, b, queries.parse_duration(min_gap, "--min-gap"),
                               queries.parse_duration(max_gap, "--max-gap"), parse_time(t_from, "--from"),
                               parse_time(t_to, "--to"))
    emit(rows, fmt, ["id", "t_a", "t_b", "gap_s", "lat_a", "lon_a", "alt_a_ft", "lat_b", "lon_b", "alt_b_ft",
                     "n_between"])


@query_group.command("aircraft")
@click.option("--type", "type_codes", metavar="CODES", help="ICAO type designators, comma-separated (A124,IL76).")
@click.option("--military", is_flag=True, help="Only aircraft flagged military in the aircraft table.")
@click.option("--near", metavar="SITE|BBOX", help="Only positions inside this site's watch area or box.")
@click.option("--from", "t_from", metavar="T", help="From T (ISO 8601 UTC).")
@click.option("--to", "t_to", metavar="T", help="Before T (ISO 8601 UTC).")
@click.option("--format", "fmt", type=click.Choice(["table", "ndjson", "json", "csv"]), default="table",
              show_default=True, help="Output format.")
@pass_ctx
def aircraft_cmd(ctx: Ctx, type_codes: str | None, military: bool, near: str | None, t_from: str | None,
                 t_to: str | None, fmt: str) -> None:
    """Aircraft seen, with identity from the aircraft table, filtered by type, military flag and place.

    \b
    Examples:
      sitewatch query aircraft --type A124,IL76 --military --near hmeimim --from 2024-12-01
      sitewatch query aircraft --near 35.5,35.0,36.5,35.8 --format csv
    """
    codes = ac_types.parse_codes(type_codes)
    with ctx.open(read_only=True) as ws:
        area = queries.parse_area(near, ws.sites, "--near") if near else None
        rows = queries.aircraft(ws.store, codes, military, area, parse_time(t_from, "--from"),
                                parse_time(t_to, "--to"))
    emit(rows, fmt, ["id", "registration", "typecode", "role", "military", "callsign", "first_seen", "last_seen",
                     "n_positions", "min_alt_ft"])


@query_group.command("flights")
@click.option("--aircraft", "icao24", metavar="ICAO24", help="Only this aircraft (hex address).")
@click.option("--airfield", metavar="CODE", help="Only flights from or to this airfield (ICAO code or site name).")
@click.option("--from", "t_from", metavar="T", help="Flights ending at or after T (ISO 8601 UTC).")
@click.option("--to", "t_to", metavar="T", help="Flights starting before T (ISO 8601 UTC).")
@click.option("--limit", type=click.IntRange(min=0), help="At most this many flights.")
@click.option("--format", "fmt", type=click.Choice(["table", "ndjson", "json", "csv"]), default="table",
              show_default=True, help="Output format.")
@pass_ctx
def flights_cmd(ctx: Ctx, icao24: str | None, airfield: str | None, t_from: str | None, t_to: str | None,
                limit: int | None, fmt: str) -> None:
    """Flights (legs) computed by `sitewatch analyze`: origin and destination with distance and
    the number of other candidate airfields, and why each leg starts and ends.

    \b
    Examples:
      sitewatch query flights --airfield OSLK --from 2024-12-01
      sitewatch query flights --aircraft ae0455 --format ndjson
    """
    from sitewatch.store import flights as FL

    with ctx.open(read_only=True) as ws:
        rows = FL.flights(ws.store, icao24, airfield.upper() if airfield and len(airfield) == 4 else airfield,
                         parse_time(t_from, "--from"), parse_time(t_to, "--to"), limit).to_pylist()
    emit(rows, fmt, ["icao24", "t_start", "t_end", "origin", "origin_dist_m", "origin_candidates", "destination",
                     "destination_dist_m", "destination_candidates", "n_positions", "max_alt_ft", "split_start",
                     "split_end"] if fmt in ("table", "csv") else None)


def register(root: click.Group) -> None:
    root.add_command(query_group)
