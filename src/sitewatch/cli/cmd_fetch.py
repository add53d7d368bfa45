"""``sitewatch fetch …``: download published open data for the watched sites, then ingest it.

The ``fetch`` group is shared: other source modules attach their subcommand to it with
:func:`fetch_group` (``fetch adsb`` is defined here). Sources live in :mod:`sitewatch.acquire`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from sitewatch.cli._common import Ctx, dumps, pass_ctx, progress, set_exit_code
from sitewatch.errors import InputError, SitewatchError


def fetch_group(root: click.Group) -> click.Group:
    """The ``fetch`` group of ``root`` (created by whichever module asks first)."""
    group = root.commands.get("fetch")
    if not isinstance(group, click.Group):
        group = click.Group("fetch", help="Download published open data (ADS-B history, …) for the watched "
                                          "sites and ingest it. Nothing is downloaded unless you run one.")
        root.add_command(group)
    return group


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{name} {value!r} is not a date like 2024-12-06") from None


# -- what every daily-archive fetch shares (``fetch adsb``, ``fetch ais``) ---------------------------
F = TypeVar("F", bound=Callable[..., Any])


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(fn: F) -> F:
        for d in reversed(decorators):
            fn = d(fn)
        return fn

    return apply


def day_options(margin_km: float, margin_help: str) -> Callable[[F], F]:
    """``--date``, ``--to``, ``--margin-km`` (its default and help per archive) and ``--site``."""
    return _stack(
        click.option("--date", "day", required=True, metavar="DAY", help="Day to fetch (UTC), e.g. 2024-12-06."),
        click.option("--to", "to_day", default=None, metavar="DAY", help="Last day of a range (inclusive)."),
        click.option("--margin-km", default=margin_km, show_default=True, type=click.FloatRange(0, 20000),
                     help=margin_help),
        click.option("--site", "site_names", multiple=True, metavar="NAME",
                     help="Only these watched sites (repeatable; default: every site of the workspace)."))


def download_options(mirror_help: str, folder_help: str, keep_help: str) -> Callable[[F], F]:
    """``--mirror``, ``--download-dir`` and ``--keep-download`` (their help per archive)."""
    return _stack(
        click.option("--mirror", default=None, metavar="URL", help=mirror_help),
        click.option("--download-dir", default=None, type=click.Path(file_okay=False), metavar="DIR",
                     help=folder_help),
        click.option("--keep-download", is_flag=True, help=keep_help))


def day_span(day: str, to_day: str | None) -> list[date]:
    """The days of ``--date DAY [--to DAY]``."""
    from sitewatch.acquire.adsblol import days

    first = _day(day, "--date")
    assert first is not None
    return days(first, _day(to_day, "--to"))


def fetch_days(span: Iterable[date], one: Callable[[date], dict[str, Any]]) -> None:
    """``one(day)`` for every day: a JSON line each on stdout; a day that fails is said on stderr, the
    others go on, and the exit code is 1."""
    failed = 0
    for d in span:
        try:
            out = one(d)
        except SitewatchError as exc:
            click.echo(f"error: {d.isoformat()}: {exc}", err=True)
            failed += 1
            continue
        click.echo(dumps(out))
    if failed:
        set_exit_code(1)


@click.command("adsb")
@click.option("--archive", "archive", default="adsblol", show_default=True, metavar="NAME",
              help="Which archive: adsblol (adsb.lol globe_history, ODbL).")
@day_options(300.0, "Keep aircraft passing within this distance of a watched site's area.")
@click.option("--military-only", is_flag=True,
              help="Near the sites, keep only military aircraft and those of the watch types.")
@click.option("--watch-anywhere", is_flag=True,
              help="Also keep military / watch-type aircraft wherever they fly that day.")
@click.option("--watch-types", default="default", show_default=True, metavar="CODES",
              help="ICAO types that count as watched ('default' = airlifters, tankers, ISR), e.g. IL76,A124.")
@click.option("--all-aircraft", is_flag=True, help="Keep every aircraft of the day (no site filter; ~100 M points).")
@download_options("Fetch from a mirror with GitHub's layout (http(s):// or file:// folder) instead of github.com.",
                  "Where the parts go (default: WORKSPACE/downloads/adsblol). Partial files resume there.",
                  "Keep the downloaded parts after a successful ingest.")
@click.option("--workers", default=None, type=click.IntRange(0, 64), metavar="N",
              help="Threads reading the archive (default: up to 2).")
@pass_ctx
def fetch_adsb(ctx: Ctx, archive: str, day: str, to_day: str | None, margin_km: float, site_names: tuple[str, ...],
               military_only: bool, watch_anywhere: bool, watch_types: str, all_aircraft: bool, mirror: str | None,
               download_dir: str | None, keep_download: bool, workers: int | None) -> None:
    """Download a day of ADS-B history and keep the aircraft that matter to the watched sites.

    adsb.lol publishes every day's complete readsb history (one release per day, about
    2 GB, split in .tar.aa/.tar.ab parts) under the Open Database License. The parts are
    downloaded with resume (an interrupted run continues where it stopped) and checked
    (size; SHA-256 where published), streamed through the readsb trace reader without
    unpacking, and only the aircraft passing within --margin-km of a watched site (or
    military / watch-type ones, see the flags) are stored. Provenance (URL, SHA-256,
    licence, attribution) is recorded for reports. One JSON line per day on stdout.

    \b
    Examples:
      sitewatch -w ./syria site add hmeimim --airport OSLK --radius-km 6
      sitewatch -w ./syria fetch adsb --archive adsblol --date 2024-12-06
      sitewatch -w ./syria fetch adsb --archive adsblol --date 2024-12-01 --to 2024-12-08 --margin-km 150
      sitewatch -w ./syria fetch adsb --archive adsblol --date 2024-12-06 --military-only --watch-anywhere
      sitewatch -w ./syria fetch adsb --archive adsblol --date 2024-12-06 --mirror file:///data/adsblol
    """
    from sitewatch.acquire import get

    span = day_span(day, to_day)
    source = get("adsb", archive).configured(mirror)
    with ctx.open() as ws:
        rule = _rule(ws, site_names, margin_km, military_only, watch_anywhere, watch_types, all_aircraft)
        folder = Path(download_dir) if download_dir else ws.folder / "downloads" / archive
        n_workers = workers if workers is not None else min(2, os.cpu_count() or 1)
        fetch_days(span, lambda d: _fetch_day(ctx, ws, source, d, folder, rule, n_workers, keep_download))


def _rule(ws: Any, names: tuple[str, ...], margin_km: float, military_only: bool, watch_anywhere: bool,
          watch_types: str, all_aircraft: bool) -> Any:
    from sitewatch.reference.types import DEFAULT_WATCH, parse_codes
    from sitewatch.sources.adsb.globe import KeepRule, WatchedArea

    codes = DEFAULT_WATCH if watch_types.strip().lower() == "default" else parse_codes(watch_types)
    sites = [ws.site(n) for n in names] if names else list(ws.sites.values())
    if not sites and not (all_aircraft or watch_anywhere):
        raise InputError("the workspace watches no site: add one first (sitewatch site add hmeimim --airport OSLK), "
                         "or pass --watch-anywhere / --all-aircraft")
    areas = tuple(WatchedArea(s.name, s.lat, s.lon, _radius_km(s)) for s in sites)
    return KeepRule(areas, margin_km, military_only, watch_anywhere, frozenset(codes), all_aircraft)


def _radius_km(site: Any) -> float:
    """A site's reach from its point: its radius, else the farthest corner of its area's box."""
    if site.radius_km:
        return float(site.radius_km)
    from sitewatch.geo import haversine_m

    x0, y0, x1, y1 = site.area.bounds
    return float(max(haversine_m(site.lat, site.lon, y, x) for x in (x0, x1) for y in (y0, y1))) / 1000.0


def _fetch_day(ctx: Ctx, ws: Any, source: Any, d: date, folder: Path, rule: Any, workers: int,
               keep: bool) -> dict[str, Any]:
    from sitewatch.acquire.adsblol import DayResult
    from sitewatch.acquire.http import local_path

    rel = source.release(d)
    bars: dict[str, Any] = {}

    def tell(name: str, n: int, total: int | None) -> None:
        bar = bars.get(name)
        if bar is None:
            bar = bars[name] = progress(ctx, total=total, desc=f"download {name}", unit="B")
        bar.update(n - bar.n)

    try:
        files = source.download(rel, folder, progress=tell)
    finally:
        for b in bars.values():
            b.close()
    res = DayResult(d, rel.tag, files)
    bar = progress(ctx, desc=f"ingest {rel.tag}", unit="rec")
    try:
        res.ingest = source.ingest(ws.store, rel, files, rule, workers, progress=bar.update)
    finally:
        bar.close()
    if not keep:
        for f in files:
            if local_path(f.url) is None:  # never delete a local mirror's files
                f.path.unlink(missing_ok=True)
    return res.as_json()


def register(root: click.Group) -> None:
    fetch_group(root).add_command(fetch_adsb)
