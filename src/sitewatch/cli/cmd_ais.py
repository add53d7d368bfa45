"""``sitewatch ingest ais``, ``sitewatch vessels …`` and ``sitewatch stream ais``: AIS on the command line.

A thin skin: reading is :mod:`sitewatch.sources.ais`, identity is :mod:`sitewatch.vessels`,
the live feed is :mod:`sitewatch.live.ais`.
"""

from __future__ import annotations

import contextlib

import click

from sitewatch.cli._common import Ctx, dumps, emit, format_option, parse_time, pass_ctx
from sitewatch.cli.cmd_ingest import ingest_group, run_ingest
from sitewatch.errors import InputError, NotFoundError
from sitewatch.sources.base import ReadOptions

AIS_FORMATS = ["auto", "nmea", "marinecadastre", "dma", "traj"]


@ingest_group.command("ais")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(AIS_FORMATS), default="auto", show_default=True,
              help="Input format (auto: sniffed from the file's first bytes).")
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
    Compressed files (.gz .zst .bz2 .xz) and tar archives are read in place.

    \b
    Example:
      sitewatch ingest ais AIS_2020_06_30.csv.zip.csv
      sitewatch ingest ais NYHarbor_2020_12_first_week.traj --format traj
      sitewatch ingest ais feed-2024-12-08.nmea.gz --start 2024-12-08T00:00Z
    """
    extra = {"keep_bad_checksum": True} if keep_bad_checksum else {}
    opts = ReadOptions(start=parse_time(start, "--start"), extra=extra)
    run_ingest(ctx, "ais", paths, fmt, opts)
    from sitewatch.vessels import refresh_workspace

    with ctx.open() as ws:
        refresh_workspace(ws)


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
    from sitewatch.store.ais_queries import vessel_rows

    cond, params = [], []
    if government:
        cond.append("government")
    if watched:
        cond.append("watch")
    if flag_:
        cond.append("flag = ?")
        params.append(flag_.upper())
    with ctx.open(read_only=True) as ws:
        rows = vessel_rows(ws.store, " AND ".join(cond), params)
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
    from sitewatch.store.ais_queries import vessel_activity, vessel_rows

    with ctx.open(read_only=True) as ws:
        if who.strip().isdigit():
            rows = vessel_rows(ws.store, "mmsi = ?", [who.strip().zfill(9)])
        else:
            rows = vessel_rows(ws.store, "upper(name) = ?", [" ".join(who.upper().split())])
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
    from sitewatch.vessels import refresh_workspace, set_watchlist, watchlist

    with ctx.open() as ws:
        set_watchlist(ws, [*watchlist(ws), *entries])
        refresh_workspace(ws)
        n = ws.store.scalar("SELECT count(*) FROM vessels WHERE watch")
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
              "rtl_ais, a coastal authority's feed); reconnects with backoff.")
@click.option("--udp", "udp", metavar="PORT", type=int, help="Listen for NMEA lines in UDP datagrams.")
@click.option("--batch-s", default=1.0, show_default=True, help="Commit a batch at least this often (seconds).")
@click.option("--max-s", type=float, help="Stop after this many seconds.")
@click.option("--max-messages", type=int, help="Stop after this many AIS messages.")
@pass_ctx
def stream_ais(ctx: Ctx, tcp: str | None, udp: int | None, batch_s: float, max_s: float | None,
               max_messages: int | None) -> None:
    """Stream live AIS into the workspace: one transaction per batch, vessels refreshed each minute.

    Sentences without a time of their own get their batch's reception time. Stop with
    Ctrl-C: the last batch is committed; the summary JSON goes to stdout.

    \b
    Example:
      sitewatch stream ais --tcp 127.0.0.1:10110
      sitewatch stream ais --udp 10110 --max-s 3600
    """
    from sitewatch.live.ais import AisStream, StreamStats
    from sitewatch.vessels import watchlist

    if (tcp is None) == (udp is None):
        raise InputError("give exactly one of --tcp HOST:PORT or --udp PORT")
    target = None
    if tcp:
        host, _, port = tcp.rpartition(":")
        if not host or not port.isdigit():
            raise InputError(f"--tcp {tcp!r} is not HOST:PORT (e.g. 127.0.0.1:10110)")
        target = (host, int(port))

    def show(s: StreamStats) -> None:
        if not ctx.quiet:
            click.echo(f"\r{s.messages:,} messages, {s.positions:,} positions, {s.rejected:,} quarantined, "
                       f"{s.connects} connects", err=True, nl=False)

    with ctx.open() as ws:
        stream = AisStream(ws.store, tcp=target, udp_port=udp, batch_s=batch_s, max_s=max_s,
                           max_messages=max_messages, watch=watchlist(ws), on_batch=show)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: run() has committed the last batch
            stream.run()
    if not ctx.quiet:
        click.echo("", err=True)
    click.echo(dumps(stream.stats.as_json()))


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
