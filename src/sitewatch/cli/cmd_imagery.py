"""``sitewatch ingest imagery``, ``scenes``, ``coreg``, ``change`` and ``chips``."""

from __future__ import annotations

import click

from sitewatch.cli._common import Ctx, dumps, emit, format_option, parse_time, pass_ctx, set_exit_code
from sitewatch.cli.cmd_ingest import format_choice, ingest_group, run_ingest
from sitewatch.errors import InputError


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
@format_choice("imagery", "Input format.")
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
    if gsd_m is not None and gsd_m <= 0:
        raise InputError("--gsd-m must be positive (metres per pixel)")
    run_ingest(ctx, "imagery", paths, fmt, site=site, time=parse_time(t, "--time"), gsd_m=gsd_m, provider=provider,
               crs=crs, corners=_corners(corners), coreg=not no_coreg)  # co-registered after, unless --no-coreg


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
    from sitewatch.store.scenes import list_scenes

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
        if fmt != "table":
            d["coreg_reason"] = c.get("reason")
        if fmt == "table":
            d["footprint_wkt"] = "yes" if r.get("footprint_wkt") else None
            d.pop("path")
        out.append(d)
    cols = [c for c in _SCENE_COLS if fmt != "table" or c != "path"]
    if fmt != "table":
        cols.append("coreg_reason")
    emit(out, fmt, cols)


@click.command("coreg")
@click.option("--site", required=True, help="Site whose scenes to align.")
@click.option("--reference", metavar="SCENE", help="Scene to align the others to (default: the earliest georeferenced).")
@click.option("--force", is_flag=True, help="Align again even scenes already aligned to the reference.")
@click.option("--method", type=click.Choice(["orb", "sift"]), default="orb", show_default=True,
              help="Feature detector (SIFT is tried when ORB fails).")
@format_option("table", "json", "ndjson")
@pass_ctx
def coreg_cmd(ctx: Ctx, site: str, reference: str | None, force: bool, method: str, fmt: str) -> None:
    """Co-register every scene of a site to its reference scene; report residuals.

    Exit code 1 when some scene could not be aligned (it is then never used for change).

    \b
    Examples:
      sitewatch coreg --site hmeimim
      sitewatch coreg --site hmeimim --reference 8d7335da --force --format json
    """
    from sitewatch.imagery import coreg

    with ctx.open() as ws:
        ws.site(site)
        results = coreg.align_site(ws.store, site, reference, force, method)
    rows = [{"scene_id": r.scene_id, "ref": r.ref, "status": r.status, "residual_px": r.residual_px,
             "inliers": r.inliers, "method": r.method, "reason": r.reason} for r in results]
    emit(rows, fmt, ["scene_id", "ref", "status", "residual_px", "inliers", "method", "reason"])
    if any(r.status == "failed" for r in results):
        set_exit_code(1)


@click.command("change")
@click.option("--site", required=True, help="Site to compare scenes of.")
@click.option("--from", "t_from", metavar="SCENE", help="Earlier scene id (or unique prefix).")
@click.option("--to", "t_to", metavar="SCENE", help="Later scene id (default: the last two usable scenes).")
@click.option("--class", "classes", multiple=True, help="Only these detection classes (repeatable).")
@click.option("--no-pixels", is_flag=True, help="Skip the pixel-level change map.")
@click.option("--map-out", type=click.Path(dir_okay=False), help="Write the pixel change mask as PNG.")
@format_option("json", "table", default="json")
@pass_ctx
def change_cmd(ctx: Ctx, site: str, t_from: str | None, t_to: str | None, classes: tuple[str, ...],
               no_pixels: bool, map_out: str | None, fmt: str) -> None:
    """Change between two co-registered scenes: objects arrived / departed / stayed by class
    and zone (from the detections), and a pixel change map summarised per zone.

    \b
    Examples:
      sitewatch change --site hmeimim --format json
      sitewatch change --site hmeimim --from 8d7335da --to 5efaf3e9 --class plane --map-out change.png
    """
    from sitewatch.imagery import change

    with ctx.open(read_only=True) as ws:
        result = change.scene_change(ws.store, ws.site(site), t_from, t_to, list(classes) or None,
                                     pixels=not no_pixels, map_out=map_out)
    if fmt == "json":
        click.echo(dumps(result))
    else:
        emit(result["objects"]["by_class_zone"], "table", ["class", "zone", "arrived", "departed", "stayed"])


@click.command("chips")
@click.option("--site", required=True, help="Site whose scenes to draw.")
@click.option("--scene", "scene_ids", multiple=True, metavar="SCENE", help="Only these scenes (repeatable).")
@click.option("--pair", nargs=2, metavar="FROM TO", help="Also a before/after chip of these two scenes.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the PNG files.")
@click.option("--max-px", type=int, default=1024, show_default=True, help="Longest side of each chip.")
@pass_ctx
def chips_cmd(ctx: Ctx, site: str, scene_ids: tuple[str, ...], pair: tuple[str, str] | None, out: str,
              max_px: int) -> None:
    """Annotated PNG chips of scenes with their detections, and a before/after pair.

    Without --pair, the pair is the last two co-registered scenes (when there are two).

    \b
    Examples:
      sitewatch chips --site hmeimim --out chips/
      sitewatch chips --site hmeimim --scene 8d7335da --pair 8d7335da 5efaf3e9 --out chips/
    """
    from pathlib import Path

    from sitewatch.imagery import change, chips
    from sitewatch.imagery import coreg as C
    from sitewatch.store import detections as DET
    from sitewatch.store import scenes as SC

    if max_px < 64:
        raise InputError("--max-px must be at least 64")
    written: list[str] = []
    with ctx.open(read_only=True) as ws:
        s = ws.site(site)
        scenes = SC.list_scenes(ws.store, site)
        chosen = [SC.get_scene(ws.store, i) for i in scene_ids] if scene_ids else scenes
        for sc in chosen:
            dets = DET.detections(ws.store, sc["scene_id"])
            written.append(str(chips.scene_chip(sc, dets, Path(out) / f"scene_{sc['scene_id']}.png", max_px)))
        usable = [x for x in scenes if C.usable(x.get("coreg"))]
        if pair or len(usable) >= 2:
            a, b = change.pick_pair(scenes, *(pair or (None, None)))
            refs = [x for x in scenes if (x.get("coreg") or {}).get("status") == "reference"]
            obj = change.object_change(ws.store, s, a, b, refs[0] if refs else a)
            p = Path(out) / f"pair_{a['scene_id']}_{b['scene_id']}.png"
            written.append(str(chips.pair_chip(a, b, obj, p, max_px)))
    click.echo(dumps({"chips": written}))


def register(root: click.Group) -> None:
    for cmd in (scenes_cmd, coreg_cmd, change_cmd, chips_cmd):
        root.add_command(cmd)
