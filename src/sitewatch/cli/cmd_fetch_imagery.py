"""``sitewatch fetch imagery``: satellite scenes of the watched sites from STAC catalogues.

Attached to the shared ``fetch`` group (:func:`sitewatch.cli.cmd_fetch.fetch_group`); the
sources live in :mod:`sitewatch.acquire` (``earth_search``, ``cdse``, ``maxar``, ``planet``,
``stac``), the shared steps in :mod:`sitewatch.acquire._imagery`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from sitewatch.cli._common import Ctx, dumps, pass_ctx, set_exit_code
from sitewatch.cli.cmd_fetch import fetch_group
from sitewatch.errors import InputError, SitewatchError

PRESETS = ("earth-search-s2", "earth-search-s1", "cdse-s2", "cdse-s1", "maxar", "planet")
DEFAULT_DAYS = 7

WHOLE_WATCH = """\b
A whole watch of Hmeimim from nothing but names (the site's airport, the sources'):
  sitewatch init ./syria && cd syria
  sitewatch site add hmeimim --airport OSLK --radius-km 6
  sitewatch watch source add adsb adsblol --site hmeimim
  sitewatch watch source add s2 earth-search-s2 --site hmeimim --max-cloud 40
  sitewatch watch add airlift --type A124,IL76 --near hmeimim --radius-km 50
  sitewatch watch channel log alerts.log
  sitewatch watch run --every 15m      # fetch, analyse, assess, alert; Ctrl-C stops
"""


def _when(value: str | None, name: str) -> datetime | None:
    from sitewatch.params import parse_time

    return parse_time(value, name) if value is not None else None


@click.command("imagery")
@click.option("--preset", metavar="NAME",
              help=f"A known catalogue: {', '.join(PRESETS)}. Without it, --stac names any STAC API.")
@click.option("--stac", "stac_url", metavar="URL",
              help="STAC API landing page (or, with --preset, a mirror of the preset's catalogue).")
@click.option("--collection", metavar="ID", help="Collection (preset default: sentinel-2-l2a, sentinel-1-grd, "
              "PSScene; maxar: the event, e.g. Kahramanmaras-turkey-earthquake-23).")
@click.option("--site", "site_names", multiple=True, metavar="NAME",
              help="Watched site (repeatable; default: every site of the workspace).")
@click.option("--from", "t_from", metavar="TIME", help=f"Start (UTC, ISO 8601; default: --to minus {DEFAULT_DAYS} days).")
@click.option("--to", "t_to", metavar="TIME", help="End (UTC, exclusive; default: now).")
@click.option("--max-cloud", type=click.FloatRange(0, 100), metavar="PERCENT",
              help="Leave out items cloudier than this (the item's eo:cloud_cover, whole tile).")
@click.option("--asset", metavar="NAME", help="Asset to read (preset default: visual, TCI_10m, vv, ortho_visual).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="At most this many items per site.")
@click.option("--margin-m", type=click.FloatRange(0, 50_000), default=0.0, show_default=True,
              help="Widen the site's box by this much before cutting the window.")
@click.option("--max-megapixels", type=click.FloatRange(0.01, 2000), default=64.0, show_default=True,
              help="A larger window is read decimated (from the COG's overviews); its GSD is what is reported.")
@click.option("--download-dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Where windows go, a folder per site (default: WORKSPACE/imagery/SOURCE).")
@click.option("--no-coreg", is_flag=True, help="Do not co-register the site's scenes afterwards.")
@pass_ctx
def fetch_imagery(ctx: Ctx, preset: str | None, stac_url: str | None, collection: str | None,
                  site_names: tuple[str, ...], t_from: str | None, t_to: str | None, max_cloud: float | None,
                  asset: str | None, limit: int, margin_m: float, max_megapixels: float, download_dir: str | None,
                  no_coreg: bool) -> None:
    """Search a STAC catalogue for scenes of the watched sites and keep each site's window.

    Only the site's window of each Cloud-Optimised GeoTIFF is read, over HTTP range
    requests (a few MB of a ~100 MB Sentinel-2 tile), and registered as a scene with its
    provider, time, GSD, cloud cover and licence; provenance (asset URL, sha256, licence,
    attribution) goes to the report's sources. Each scene's line says what the pipeline's
    GSD gate lets it count (an object must span 4 px): 10 m Sentinel-2 shows ships and
    aircraft ≥ 40 m, not vehicles (≤ 2 m), but the built-in detector counts none of them
    there (measured: aircraft to 5 m, ships to 1 m) — count them by eye as observations;
    Maxar's ~0.5 m counts every class. Keys come from the
    environment only: PL_API_KEY (planet); CDSE_S3_ACCESS_KEY/CDSE_S3_SECRET_KEY or
    CDSE_TOKEN or CDSE_USERNAME/CDSE_PASSWORD (cdse-*); AWS credentials (earth-search-s1,
    requester pays). One JSON line per item and one summary line per site on stdout.

    \b
    Examples:
      sitewatch fetch imagery --preset earth-search-s2 --site hmeimim --from 2024-12-01 --to 2024-12-20 --max-cloud 30
      sitewatch fetch imagery --stac https://earth-search.aws.element84.com/v1 --collection sentinel-2-c1-l2a --site hmeimim
      sitewatch fetch imagery --preset maxar --collection Kahramanmaras-turkey-earthquake-23 --site kahramanmaras --from 2023-02-01 --to 2023-03-01
      PL_API_KEY=… sitewatch fetch imagery --preset planet --site hmeimim --max-cloud 10
    """
    from sitewatch.acquire import get
    from sitewatch.acquire._imagery import fetch
    from sitewatch.params import check_window

    if not preset and not stac_url:
        raise InputError(f"give --preset NAME ({', '.join(PRESETS)}) or --stac URL with --collection ID")
    t1 = _when(t_to, "--to") or datetime.now(UTC)
    t0 = _when(t_from, "--from") or (t1 - timedelta(days=DEFAULT_DAYS))
    check_window(t0, t1)
    source = get("imagery", preset or "stac").configured(stac_url, collection, asset)
    with ctx.open() as ws:
        sites = [ws.site(n) for n in site_names] if site_names else list(ws.sites.values())
        if not sites:
            raise InputError("the workspace watches no site: add one first (sitewatch site add hmeimim --airport OSLK)")
        failed = 0
        for site in sites:
            folder = Path(download_dir) if download_dir else None
            try:
                res = fetch(ws, source, site, t0, t1, max_cloud=max_cloud, limit=limit, folder=folder,
                            max_pixels=int(max_megapixels * 1e6), margin_m=margin_m, coreg=not no_coreg,
                            on_scene=lambda s: _say(ctx, s))
            except SitewatchError as exc:
                click.echo(f"error: {site.name}: {exc}", err=True)
                failed += 1
                continue
            failed += len(res.failed)
            click.echo(dumps(res.summary()))
        if failed:
            set_exit_code(1)


def _say(ctx: Ctx, scene: Any) -> None:
    click.echo(dumps(scene.as_json()))
    if not ctx.quiet:
        click.echo(scene.sentence(), err=True)


def register(root: click.Group) -> None:
    group = fetch_group(root)
    group.add_command(fetch_imagery)
    if WHOLE_WATCH not in (group.epilog or ""):
        group.epilog = f"{group.epilog}\n\n{WHOLE_WATCH}" if group.epilog else WHOLE_WATCH
