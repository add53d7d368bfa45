"""``sitewatch ingest imagery``, ``scenes``, ``coreg``, ``change`` and ``chips``."""

from __future__ import annotations

from typing import Any

import click

from sitewatch.cli._common import Ctx, emit, format_option, parse_time, pass_ctx
from sitewatch.cli.cmd_ingest import ingest_group, run_ingest
from sitewatch.errors import InputError
from sitewatch.sources.base import ReadOptions


def _corners(text: str | None) -> list[list[float]] | None:
    if not text:
        return None
    try:
        pts = [[float(v) for v in p.split(",")] for p in text.split(";")]
    except ValueError:
        pts = []
    if len(pts) != 4 or any(len(p) != 2 for p in pts):
        raise InputError(f"--corners {text!r}: give four LON,LAT pairs separated by ';' "
                         "(top-left;top-right;bottom-right;bottom-left)")
    return pts


@ingest_group.command("imagery")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--site", required=True, help="Site the scenes show (see `sitewatch site list`).")
@click.option("--time", "t", metavar="ISO", help="Acquisition time, UTC (wins over the file's tags).")
@click.option("--gsd-m", type=float, help="Ground sample distance, metres per pixel (plain images).")
@click.option("--provider", help="Provider / sensor, e.g. Maxar, Planet, Pleiades.")
@click.option("--crs", help="CRS of a world file's coordinates (default EPSG:4326), e.g. EPSG:32636.")
@click.option("--corners", metavar="LON,LAT;…", help="Four lon/lat corners TL;TR;BR;BL of a plain image.")
@click.option("--format", "fmt", type=click.Choice(["auto", "geotiff", "image", "stac"]), default="auto",
              show_default=True, help="Input format.")
@click.option("--no-coreg", is_flag=True, help="Do not co-register the site's scenes after ingest.")
@pass_ctx
def ingest_imagery(ctx: Ctx, paths: tuple[str, ...], site: str, t: str | None, gsd_m: float | None,
                   provider: str | None, crs: str | None, corners: str | None, fmt: str,
                   no_coreg: bool) -> None:
    """Ingest scenes: GeoTIFF/COG (any CRS), JPEG/PNG, or local STAC item JSON.

    The image files stay where they are: each scene records the file's absolute path and
    sha256. After ingest the site's scenes are co-registered to its reference scene.

    \b
    Examples:
      sitewatch ingest imagery maxar_2024-12-13.tif --site hmeimim --provider Maxar
      sitewatch ingest imagery press.jpg --site hmeimim --time 2024-12-16T09:00Z --gsd-m 0.5
      sitewatch ingest imagery item.json --site tartus
    """
    with ctx.open(read_only=True) as ws:
        ws.site(site)  # fails early, naming close matches
    tt = parse_time(t, "--time")
    extra: dict[str, Any] = {"site": site}
    if tt is not None:
        extra["time"] = tt.isoformat()
    if gsd_m is not None:
        if gsd_m <= 0:
            raise InputError("--gsd-m must be positive (metres per pixel)")
        extra["gsd_m"] = gsd_m
    for k, v in (("provider", provider), ("crs", crs), ("corners", _corners(corners))):
        if v is not None:
            extra[k] = v
    summary = run_ingest(ctx, "imagery", paths, fmt, ReadOptions(extra=extra))
    if not no_coreg and summary.accepted:
        from sitewatch.imagery import coreg

        with ctx.open() as ws:
            for r in coreg.align_site(ws.store, site):
                if r.status == "failed":
                    click.echo(f"warning: scene {r.scene_id} could not be co-registered: {r.reason}", err=True)


_SCENE_COLS = ["scene_id", "site", "t_utc", "provider", "gsd_m", "width_px", "height_px", "crs",
               "cloud_flag", "coreg", "residual_px", "footprint_wkt", "path"]


@click.command("scenes")
@click.option("--site", help="Only this site's scenes.")
@format_option("table", "json", "ndjson", "csv")
@pass_ctx
def scenes_cmd(ctx: Ctx, site: str | None, fmt: str) -> None:
    """List scenes: time, provider, GSD, footprint, cloud/haze flag, co-registration.

    \b
    Examples:
      sitewatch scenes --site hmeimim
      sitewatch scenes --format json
    """
    from sitewatch.store.scene_queries import list_scenes

    with ctx.open(read_only=True) as ws:
        if site:
            ws.site(site)
        rows = list_scenes(ws.store, site)
    out = []
    for r in rows:
        c = r.get("coreg") or {}
        d = {k: r.get(k) for k in _SCENE_COLS if k in r}
        d["coreg"] = c.get("status")
        d["residual_px"] = c.get("residual_px")
        if fmt == "table":
            d["footprint_wkt"] = "yes" if r.get("footprint_wkt") else None
            d.pop("path")
        out.append(d)
    cols = [c for c in _SCENE_COLS if fmt != "table" or c != "path"]
    emit(out, fmt, cols)


def register(root: click.Group) -> None:
    root.add_command(scenes_cmd)
