"""``sitewatch ingest ais``, ``sitewatch vessels …`` and ``sitewatch stream ais``: AIS on the command line.

A thin skin: reading is :mod:`sitewatch.sources.ais`, identity is :mod:`sitewatch.vessels`,
the live feed is :mod:`sitewatch.live.ais`.
"""

from __future__ import annotations

from typing import Any

import click

from sitewatch.cli._common import Ctx, dumps, emit, format_option, pass_ctx
from sitewatch.cli.cmd_adsb import api_options, run_stream, stream_options
from sitewatch.cli.cmd_ingest import format_choice, ingest_group, run_ingest
from sitewatch.errors import InputError, NotFoundError


@ingest_group.command("ais")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@format_choice("ais", "Input format (auto: sniffed from the file's first bytes).")
@click.option("--start", metavar="T",
              help="Time of the first line for NMEA files whose lines carry no time (ISO 8601 UTC); "
                   "such positions are flagged time_inferred.")
@click.option("--keep-bad-checksum", is_flag=True,
              help="Keep NMEA sentences whose checksum fails (default: quarantine them).")
@pass_ctx
def ingest_ais(ctx: Ctx, paths: tuple[str, ...], fmt: str, start: str | None, keep_bad_checksum: bool) -> None:
    """Ingest AIS: NMEA (!AIVDM/!AIVDO, tag blocks, $PGHP), MarineCadastre or DMA CSV, tracktable .traj.

    Positions go to the positions table (source 'ais', id = MMSI); static and voyage
    reports update the vessels table (name, call sign, IMO, type, size, flag, markers).
    Compressed files (.gz .zst .bz2 .xz), tar and zip archives (a DMA or MarineCadastre
    day as published) are read in place; a folder or archive of small files is stored a
    group at a time, each file still logged on its own.

    \b
    Example:
      sitewatch ingest ais AIS_2020_06_30.csv.zip.csv
      sitewatch ingest ais aisdk-2024-12-10.zip
      sitewatch ingest ais NYHarbor_2020_12_first_week.traj --format traj
      sitewatch ingest ais feed-2024-12-08.nmea.gz --start 2024-12-08T00:00Z
    """
    run_ingest(ctx, "ais", paths, fmt, start=start, keep_bad_checksum=keep_bad_checksum)  # vessels refreshed too


@click.group("vessels")
def vessels_group() -> None:
    """Vessel identity from AIS: names, flags, government markers and your watchlist."""


_LIST_COLUMNS = ["mmsi", "name", "callsign", "flag", "ship_type", "length_m", "government", "watch",
                 "destination", "t_updated_utc"]


@vessels_group.command("list")
@click.option("--government", is_flag=True, help="Only vessels with a government / naval marker.")
@click.option("--watch", "watched", is_flag=True, help="Only vessels on the watchlist.")
@click.option("--flag", "flag_", metavar="XX", help="Only this flag state (ISO alpha-2, e.g. RU).")
@format_option("table", "json", "ndjson", "csv")
@pass_ctx
def vessels_list(ctx: Ctx, government: bool, watched: bool, flag_: str | None, fmt: str) -> None:
    """List vessels (one row per MMSI seen in AIS).

    \b
    Example:
      sitewatch vessels list --government
      sitewatch vessels list --flag RU --format csv > russian.csv
    """
    from sitewatch.store.vessels import vessel_rows

    with ctx.open(read_only=True) as ws:
        rows = vessel_rows(ws.store, government=government, watched=watched, flag=flag_.upper() if flag_ else None)
    emit(rows if fmt != "table" else [{k: r[k] for k in _LIST_COLUMNS} for r in rows], fmt)


@vessels_group.command("show")
@click.argument("who")
@format_option("json", "table")
@pass_ctx
def vessels_show(ctx: Ctx, who: str, fmt: str) -> None:
    """Show one vessel by MMSI or name: identity, markers and AIS activity.

    \b
    Example:
      sitewatch vessels show 273456780
      sitewatch vessels show "ADMIRAL GRIGOROVICH"
    """
    from sitewatch.store.positions import vessel_activity
    from sitewatch.store.vessels import vessel_rows

    with ctx.open(read_only=True) as ws:
        if who.strip().isdigit():
            rows = vessel_rows(ws.store, mmsi=who.strip().zfill(9))
        else:
            rows = vessel_rows(ws.store, name=" ".join(who.upper().split()))
        if not rows:
            raise NotFoundError("vessel", who, hint="list them with `sitewatch vessels list`")
        out = [{**r, **vessel_activity(ws.store, r["mmsi"])} for r in rows]
    if fmt == "json":
        click.echo(dumps(out if len(out) > 1 else out[0]))
    else:
        emit(out, "table")


@vessels_group.group("watch")
def watch_group() -> None:
    """The watchlist (MMSIs or ship names, kept in sitewatch.toml)."""


@watch_group.command("add")
@click.argument("entries", nargs=-1, required=True)
@pass_ctx
def watch_add(ctx: Ctx, entries: tuple[str, ...]) -> None:
    """Add MMSIs or ship names (``*`` wildcards allowed) to the watchlist.

    \b
    Example:
      sitewatch vessels watch add 273456780 "ADMIRAL *"
    """
    from sitewatch.store.vessels import watched_count
    from sitewatch.vessels import refresh_workspace, set_watchlist, watchlist

    with ctx.open() as ws:
        set_watchlist(ws, [*watchlist(ws), *entries])
        refresh_workspace(ws)
        n = watched_count(ws.store)
        click.echo(dumps({"watchlist": watchlist(ws), "vessels_on_watch": n}))


@watch_group.command("remove")
@click.argument("entries", nargs=-1, required=True)
@pass_ctx
def watch_remove(ctx: Ctx, entries: tuple[str, ...]) -> None:
    """Remove entries from the watchlist.

    \b
    Example:
      sitewatch vessels watch remove 273456780
    """
    from sitewatch.vessels import refresh_workspace, set_watchlist, watchlist

    with ctx.open() as ws:
        have = watchlist(ws)
        missing = [e for e in entries if e not in have]
        if missing:
            raise NotFoundError("watchlist entry", missing[0], have)
        set_watchlist(ws, [e for e in have if e not in entries])
        refresh_workspace(ws)
        click.echo(dumps({"watchlist": watchlist(ws)}))


@watch_group.command("list")
@pass_ctx
def watch_list(ctx: Ctx) -> None:
    """Print the watchlist as JSON.

    \b
    Example:
      sitewatch vessels watch list
    """
    from sitewatch.vessels import watchlist

    with ctx.open(read_only=True) as ws:
        click.echo(dumps({"watchlist": watchlist(ws)}))


@click.command("ais")
@click.option("--tcp", "tcp", metavar="HOST:PORT", help="Connect to a TCP feed of NMEA lines (AIS-catcher, "
              "rtl_ais, a coastal authority's open feed: 'kystverket' is Norway's, NLOD); reconnects with backoff.")
@click.option("--udp", "udp", metavar="PORT", type=click.IntRange(1, 65535),
              help="Listen for NMEA lines in UDP datagrams.")
@click.option("--aisstream", is_flag=True,
              help="aisstream.io's WebSocket for the sites' boxes (key in AISSTREAM_API_KEY).")
@click.option("--aisstream-url", default=None, metavar="URL",
              help="aisstream WebSocket URL (default wss://stream.aisstream.io/v0/stream).")
@api_options(polled=False)
@stream_options(1.0)
@pass_ctx
def stream_ais(ctx: Ctx, tcp: str | None, udp: int | None, aisstream: bool, aisstream_url: str | None,
               site_names: tuple[str, ...], radius_nm: float | None, commit_s: float,
               max_s: float | None, max_messages: int | None) -> None:
    """Stream live AIS into the workspace: one transaction per batch, vessels refreshed each minute.

    NMEA over TCP (--tcp; --tcp kystverket is Norway's open feed, 153.44.253.27:5631, whose
    licence and attribution are recorded) or UDP (--udp):
    sentences without a time of their own get their batch's reception time. aisstream.io
    (--aisstream): the watched sites' boxes are subscribed over a WebSocket; a dropped
    connection is recorded as a coverage outage of those boxes and reconnected with backoff.
    Stop with Ctrl-C: the last batch is committed; the summary JSON goes to stdout. Options
    as for `stream adsb`: --commit-every, --duration, --max-messages (the older --batch-s,
    --max-s, --max-frames work too).

    \b
    Examples:
      sitewatch stream ais --tcp 127.0.0.1:10110
      sitewatch stream ais --tcp kystverket --duration 3600
      sitewatch stream ais --udp 10110 --duration 3600
      AISSTREAM_API_KEY=… sitewatch stream ais --aisstream --site tartus --duration 600
    """
    from sitewatch.live import feed_for

    chosen = [v for v in (tcp, udp, aisstream) if v]
    if len(chosen) != 1:
        raise InputError("give exactly one of --tcp HOST:PORT, --udp PORT or --aisstream")

    def show(s: Any) -> None:
        if not ctx.quiet:
            line = s.rate_line() if aisstream else (f"{s.messages:,} messages, {s.positions:,} positions, "
                                                    f"{s.rejected:,} quarantined, {s.connects} connects")
            click.echo(f"\r{line}", err=True, nl=False)

    with ctx.open() as ws:
        if aisstream:
            from sitewatch.acquire.aisstream import AisStream
            from sitewatch.live import api_feed, sites_of
            from sitewatch.live._ws import WsOptions

            client = AisStream().configured(aisstream_url, ws.settings).client(sites_of(ws, site_names), radius_nm,
                                                                               WsOptions())
            stream = api_feed(ws, client, commit_s=commit_s, max_s=max_s, max_messages=max_messages)
        else:
            stream = feed_for(ws, "ais-tcp" if tcp else "ais-udp", tcp or str(udp), "--tcp" if tcp else "--udp",
                              commit_s=commit_s, max_s=max_s, max_messages=max_messages)
        run_stream(ctx, stream, show)


def register(root: click.Group) -> None:
    """``ingest ais`` attaches to the ingest group on import; here ``vessels`` and ``stream ais``.

    ``stream`` is shared with other sources: the group is created here only if no other
    module has registered it yet.
    """
    root.add_command(vessels_group)
    group = root.commands.get("stream")
    if not isinstance(group, click.Group):
        group = click.Group("stream", help="Stream live feeds into the workspace (ADS-B, AIS).")
        root.add_command(group)
    group.add_command(stream_ais)
