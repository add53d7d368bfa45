"""``sitewatch site add|list|show|remove`` and ``sitewatch site zone add|remove``."""

from __future__ import annotations

import json

import click

from sitewatch import sites as S
from sitewatch.cli._common import Ctx, emit, format_option, pass_ctx
from sitewatch.errors import InputError


@click.group("site")
def site_group() -> None:
    """Watched sites (air bases, ports, depots) and their zones."""


@site_group.command("add")
@click.argument("name")
@click.option("--airport", metavar="ICAO", help="From the airportsdata package (ICAO/IATA code or name).")
@click.option("--port", metavar="NAME", help='From the bundled World Port Index ("Tartus", "Name, Country", WPI:n, UN/LOCODE).')
@click.option("--point", metavar="LAT,LON", help="A point in decimal degrees.")
@click.option("--geojson", "geojson", type=click.Path(exists=True, dir_okay=False),
              help="A Polygon/MultiPolygon or FeatureCollection; features with a 'zone' property become zones.")
@click.option("--kind", type=click.Choice(S.KINDS), help="Site kind (default: airbase for --airport, port for --port, other).")
@click.option("--radius-km", type=float, help="Radius of the circular watch area (default 5 airbase, 3 port, 2 other).")
@click.option("--replace", is_flag=True, help="Replace an existing site of that name.")
@format_option("table", "json")
@pass_ctx
def site_add(ctx: Ctx, name: str, airport: str | None, port: str | None, point: str | None,
             geojson: str | None, kind: str | None, radius_km: float | None, replace: bool, fmt: str) -> None:
    """Add a site NAME from exactly one of --airport, --port, --point, --geojson.

    \b
    Examples:
      sitewatch site add hmeimim --airport OSLK --radius-km 6
      sitewatch site add tartus --port "Tartus"
      sitewatch site add depot7 --point 35.10,36.20 --kind depot --radius-km 1.5
      sitewatch site add hmeimim --geojson hmeimim_zones.geojson --kind airbase
    """
    given = [x for x in (airport, port, point, geojson) if x]
    if len(given) != 1:
        raise InputError("give exactly one of --airport, --port, --point, --geojson")
    S.validate_name(name)
    if airport:
        site = S.from_airport(name, airport, radius_km, kind or "airbase")
    elif port:
        site = S.from_port(name, port, radius_km, kind or "port")
    elif point:
        lat, lon = S.parse_point(point)
        site = S.circle_site(name, kind or "other", lat, lon, radius_km, source="point")
    else:
        assert geojson is not None
        site = S.from_geojson(name, geojson, kind or "other")
    with ctx.open() as ws:
        ws.put_site(site, replace=replace)
    _show([site], fmt)


@site_group.command("list")
@format_option("table", "json", "geojson")
@pass_ctx
def site_list(ctx: Ctx, fmt: str) -> None:
    """List the workspace's sites.

    \b
    Examples:
      sitewatch site list
      sitewatch site list --format json | jq '.[].name'
    """
    with ctx.open() as ws:
        _show(list(ws.sites.values()), fmt)


@site_group.command("show")
@click.argument("name")
@format_option("table", "json", "geojson", default="json")
@pass_ctx
def site_show(ctx: Ctx, name: str, fmt: str) -> None:
    """Show one site (GeoJSON gives the watch area and zones as features).

    \b
    Example:
      sitewatch site show hmeimim --format geojson > hmeimim.geojson
    """
    with ctx.open() as ws:
        _show([ws.site(name)], fmt)


@site_group.command("remove")
@click.argument("name")
@pass_ctx
def site_remove(ctx: Ctx, name: str) -> None:
    """Remove site NAME (its data in the store is kept).

    \b
    Example:
      sitewatch site remove depot7
    """
    with ctx.open() as ws:
        ws.remove_site(name)
    click.echo(f"removed site {name}", err=True)


@site_group.group("zone")
def zone_group() -> None:
    """Named zones inside a site (runway, apron, quay, vehicle park …)."""


@zone_group.command("add")
@click.argument("site")
@click.argument("zone")
@click.option("--geojson", "geojson", type=click.Path(exists=True, dir_okay=False), required=True,
              help="Polygon of the zone (lon/lat).")
@click.option("--kind", default="", help="Zone kind (apron, runway, quay, vehicle-park …).")
@pass_ctx
def zone_add(ctx: Ctx, site: str, zone: str, geojson: str, kind: str) -> None:
    """Add (or replace) ZONE of SITE from a GeoJSON polygon.

    \b
    Example:
      sitewatch site zone add hmeimim apron --geojson apron.geojson --kind apron
    """
    z = S.zone_from_geojson(zone, geojson)
    z = S.Zone(z.name, z.geometry, kind)
    with ctx.open() as ws:
        ws.put_site(ws.site(site).with_zone(z), replace=True)
    click.echo(f"zone {zone} added to {site}", err=True)


@zone_group.command("remove")
@click.argument("site")
@click.argument("zone")
@pass_ctx
def zone_remove(ctx: Ctx, site: str, zone: str) -> None:
    """Remove ZONE from SITE.

    \b
    Example:
      sitewatch site zone remove hmeimim apron
    """
    from dataclasses import replace as dc_replace

    with ctx.open() as ws:
        s = ws.site(site)
        s.zone(zone)
        ws.put_site(dc_replace(s, zones=tuple(z for z in s.zones if z.name != zone)), replace=True)


def _show(sites: list[S.Site], fmt: str) -> None:
    if fmt == "geojson":
        feats = [f for s in sites for f in s.to_geojson()["features"]]
        click.echo(json.dumps({"type": "FeatureCollection", "features": feats}))
        return
    rows = [
        {"name": s.name, "kind": s.kind, "lat": round(s.lat, 6), "lon": round(s.lon, 6),
         "radius_km": s.radius_km, "zones": [z.name for z in s.zones], "source": s.source,
         "label": s.label}
        for s in sites
    ]
    emit(rows, "json" if fmt == "json" else "table")


def register(root: click.Group) -> None:
    root.add_command(site_group)
