"""``sitewatch fetch ais``: download published daily AIS archives (DMA, MarineCadastre) and ingest them.

A thin skin over :mod:`sitewatch.acquire.ais_archives`; attached to the shared ``fetch`` group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sitewatch.cli._common import Ctx, pass_ctx, progress
from sitewatch.cli.cmd_fetch import day_options, day_span, download_options, fetch_days, fetch_group
from sitewatch.errors import InputError


@click.command("ais")
@click.option("--archive", "archive", required=True, type=click.Choice(["dma", "marinecadastre"]),
              help="Which archive: dma (Danish Maritime Authority, Danish waters) or marinecadastre (US coasts).")
@day_options(100.0, "Keep the vessels that pass within this distance of a watched site's area that day.")
@click.option("--all-vessels", is_flag=True, help="Keep every vessel of the day (no site filter).")
@download_options("Fetch from a mirror with the publisher's file names (http(s):// or a file:// folder).",
                  "Where the zips go (default: WORKSPACE/downloads/ARCHIVE). Partial files resume there.",
                  "Keep the downloaded zip after a successful ingest.")
@pass_ctx
def fetch_ais(ctx: Ctx, archive: str, day: str, to_day: str | None, margin_km: float, site_names: tuple[str, ...],
              all_vessels: bool, mirror: str | None, download_dir: str | None, keep_download: bool) -> None:
    """Download a day of published AIS history and keep the vessels that matter to the watched sites.

    The Danish Maritime Authority (aisdk-YYYY-MM-DD.zip, Danish waters, attribution
    required) and MarineCadastre.gov (AIS_YYYY_MM_DD.zip, US coasts, public domain) publish
    every day's AIS as a zipped CSV. The zip is downloaded with resume (an interrupted run
    continues where it stopped) and its size checked against the server's, then the CSV is
    streamed out of the zip through the AIS CSV reader — the same rows and quarantine as
    `ingest ais` — keeping the vessels that pass within --margin-km of a watched site (their
    whole day and static reports). Provenance (URL, SHA-256, licence, attribution) is
    recorded for reports; a day already ingested is skipped. One JSON line per day.

    \b
    Examples:
      sitewatch -w ./baltic site add aarhus --port AARHUS
      sitewatch -w ./baltic fetch ais --archive dma --date 2024-12-06
      sitewatch -w ./baltic fetch ais --archive dma --date 2024-12-01 --to 2024-12-03 --margin-km 50
      sitewatch -w ./norfolk fetch ais --archive marinecadastre --date 2023-01-11 --site norfolk
      sitewatch -w ./baltic fetch ais --archive dma --date 2024-12-06 --mirror file:///data/aisdk
    """
    from sitewatch.acquire import get
    from sitewatch.acquire.ais_archives import KeepVessels, areas_for

    span = day_span(day, to_day)
    source = get("ais", archive).configured(mirror)
    with ctx.open() as ws:
        sites = [ws.site(n) for n in site_names] if site_names else list(ws.sites.values())
        if not sites and not all_vessels:
            raise InputError("the workspace watches no site: add one first (sitewatch site add tartus --port TARTUS), "
                             "or pass --all-vessels")
        keep = KeepVessels(areas_for(sites, margin_km), margin_km, all_vessels)
        folder = Path(download_dir) if download_dir else ws.folder / "downloads" / archive
        fetch_days(span, lambda d: _fetch_day(ctx, ws, source, d, folder, keep, keep_download))


def _fetch_day(ctx: Ctx, ws: Any, source: Any, d: Any, folder: Path, keep: Any, keep_download: bool) -> dict[str, Any]:
    from sitewatch.acquire.ais_archives import DayResult
    from sitewatch.acquire.http import local_path
    from sitewatch.vessels import refresh_workspace

    bar = progress(ctx, desc=f"download {source.file_name(d)}", unit="B")

    def tell(n: int, total: int | None) -> None:
        if total and bar.total != total:
            bar.total = total
        bar.update(n - bar.n)

    try:
        f = source.fetch(d, folder, progress=tell)
    finally:
        bar.close()
    res = DayResult(d, [f])
    ibar = progress(ctx, desc=f"ingest {f.path.name}", unit="rec")
    try:
        res.ingest = source.ingest(ws.store, d, f, keep, progress=ibar.update)
    finally:
        ibar.close()
    if res.ingest.accepted:
        refresh_workspace(ws)
    if not keep_download and local_path(f.url) is None:  # never delete a local mirror's files
        f.path.unlink(missing_ok=True)
    return res.as_json()


def register(root: click.Group) -> None:
    fetch_group(root).add_command(fetch_ais)
