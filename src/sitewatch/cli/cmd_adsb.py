"""``sitewatch ingest adsb``, ``sitewatch aircraft …`` and ``sitewatch stream adsb``.

A thin skin: the readers live in :mod:`sitewatch.sources.adsb`, the aircraft database in
:mod:`sitewatch.reference.aircraft_db`, the live client in :mod:`sitewatch.live.adsb`.
"""

from __future__ import annotations

from typing import Any

import click

from sitewatch.cli._common import Ctx, format_option, pass_ctx
from sitewatch.cli.cmd_ingest import format_choice, ingest_group, run_ingest
from sitewatch.errors import InputError
from sitewatch.params import parse_ref

__all__ = ["parse_ref"]


@ingest_group.command("adsb")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@format_choice("adsb")
@click.option("--start", default=None, metavar="TIME",
              help="Time of the first record, for files that carry no absolute time (Beast, hex without "
                   "time). ISO 8601, UTC if no offset.")
@click.option("--ref", default=None, metavar="LAT,LON",
              help="Reference position for surface CPR decoding (default: the aircraft's last airborne fix).")
@click.option("--airport", default=None, metavar="ICAO", help="Like --ref, at this airport.")
@click.option("--icao24", default=None, metavar="HEX",
              help="Aircraft address for files that carry none (Flightradar24 CSV exports).")
@click.option("--watch-types", default=None, metavar="CODES",
              help="Keep only aircraft of these ICAO types ('default' = airlifters, tankers, ISR); "
                   "needs the aircraft database in the workspace (sitewatch aircraft load-db).")
@click.option("--per-member", is_flag=True,
              help="Read a globe_history day's members as files, each logged on its own (slower; the "
                   "default reads the day as one stream, as `fetch adsb` does).")
@pass_ctx
def ingest_adsb(ctx: Ctx, paths: tuple[str, ...], fmt: str, start: str | None, ref: str | None,
                airport: str | None, icao24: str | None, watch_types: str | None, per_member: bool) -> None:
    """Ingest ADS-B / Mode S files: raw frames, receiver outputs, archives, trajectories.

    Formats: hex (CSV ``ts,hex`` or JSON lines ``{"timestamp":…,"frame":…}``), beast,
    sbs (BaseStation), readsb-trace (``trace_full_*.json``), readsb-aircraft (``aircraft.json``
    snapshots), opensky (state vectors CSV/Parquet), fr24 (per-flight CSV), traffic (the
    traffic library's JSON/Parquet), readsb-api and opensky-api (answers of the live APIs saved to
    a file: ``curl https://api.adsb.lol/v2/point/35.4/35.9/50 > point.json``; the rows ``stream
    adsb`` would store). ``.gz``, ``.zst``, ``.bz2``, ``.xz`` files, ``.tar`` and ``.zip``
    archives are read in place; a folder or archive of small files (a receiver's snapshots) is
    stored a group at a time, each file still logged on its own.

    A globe_history day downloaded by hand — adsb.lol's ``.tar``, or its split parts
    ``.tar.aa``, ``.tar.ab`` … given together — is read as one stream without unpacking, as
    ``fetch adsb`` reads it: every aircraft kept (or those of ``--watch-types``), heatmaps and
    README counted as skipped members, one ``ingest_log`` row with the day's SHA-256; a missing
    or short part is refused before anything is read.

    \b
    Example:
      sitewatch ingest adsb flights.jsonl.gz
      sitewatch ingest adsb capture.bin --format beast --start 2024-12-13T06:00Z --airport OSLK
      sitewatch ingest adsb globe_history_2024_12_13.tar
      sitewatch ingest adsb v2024.12.10-planes-readsb-prod-0.tar.aa v2024.12.10-planes-readsb-prod-0.tar.ab
      sitewatch ingest adsb 2ce4f83f.csv --format fr24 --icao24 3b7777
      sitewatch ingest adsb globe_history_2024_12_13.tar --watch-types A124,IL76,C17
    """
    if icao24 is not None and not (len(icao24) == 6 and all(c in "0123456789abcdefABCDEF" for c in icao24)):
        raise InputError(f"--icao24 {icao24!r} is not a 24-bit hex address (e.g. 3b7777)")
    run_ingest(ctx, "adsb", paths, fmt, start=start, ref=ref, airport=airport, icao24=icao24,
               watch_types=watch_types, per_member=per_member or None)


@click.group("aircraft")
def aircraft_group() -> None:
    """Aircraft identity: load a database, show one aircraft, list types of interest."""


@aircraft_group.command("load-db")
@click.argument("path", type=click.Path(exists=True))
@click.option("--watch-types", default=None, metavar="CODES",
              help="Load only these ICAO types, comma-separated (e.g. A124,IL76,C17).")
@pass_ctx
def load_db(ctx: Ctx, path: str, watch_types: str | None) -> None:
    """Load a tar1090-db folder or an OpenSky aircraft-database CSV into the workspace.

    Registration, ICAO type, type name, operator and a military flag (the database's own
    flag, or the address lying in a military ICAO block). Loading again updates rows;
    fields the database leaves empty keep what the feed taught (e.g. the ADS-B category).

    \b
    Example:
      sitewatch aircraft load-db ../shared/data/reference/tar1090-db
      sitewatch aircraft load-db aircraftDatabase.csv --watch-types A124,IL76,AN26,C17
    """
    from pathlib import Path

    from sitewatch.cli._common import dumps, progress
    from sitewatch.reference import aircraft_db as D
    from sitewatch.reference.types import parse_codes
    from sitewatch.store.aircraft import merge_aircraft

    codes = parse_codes(watch_types)
    p = Path(path)
    tables = D.read_tar1090(p, codes) if p.is_dir() else D.read_opensky_csv(p, codes)
    loaded = military = 0
    with ctx.open() as ws:
        bar = progress(ctx, desc="load aircraft db", unit="rec")
        try:
            for t in tables:
                loaded += merge_aircraft(ws.store, t)
                military += sum(1 for v in t.column("military").to_pylist() if v)
                bar.update(t.num_rows)
        finally:
            bar.close()
    click.echo(dumps({"loaded": loaded, "military": military, "source": "tar1090-db" if p.is_dir() else "opensky-db",
                      "watch_types": list(codes)}))


@aircraft_group.command("show")
@click.argument("icao24")
@format_option("table", "json")
@pass_ctx
def show(ctx: Ctx, icao24: str, fmt: str) -> None:
    """Show what the workspace knows about one aircraft (identity, type, activity).

    \b
    Example:
      sitewatch aircraft show 3b7777
      sitewatch aircraft show AE0455 --format json
    """
    from sitewatch.cli._common import emit
    from sitewatch.errors import NotFoundError
    from sitewatch.reference.aircraft_db import military_by_address
    from sitewatch.reference.types import lookup
    from sitewatch.store.aircraft import aircraft_row
    from sitewatch.store.positions import aircraft_activity

    hexid = icao24.strip().lower()
    if not (len(hexid) == 6 and all(c in "0123456789abcdef" for c in hexid)):
        raise InputError(f"{icao24!r} is not a 24-bit hex address (e.g. 3b7777)")
    with ctx.open(read_only=True) as ws:
        row = aircraft_row(ws.store, hexid)
        act = aircraft_activity(ws.store, hexid)
    if row is None and not act["positions"]:
        raise NotFoundError("aircraft", hexid, hint="Ingest a feed with it, or load a database: "
                                                    "sitewatch aircraft load-db PATH")
    out = dict(row or {"icao24": hexid})
    out["military_address_block"] = bool(military_by_address([int(hexid, 16)])[0])
    t = lookup(out.get("typecode"))
    if t is not None:
        out["type_of_interest"] = {"name": t.name, "role": t.role, "heavy_transport": t.heavy_transport,
                                   "length_m": t.length_m, "span_m": t.span_m}
    out.update(act)
    if fmt == "json":
        emit([out], "json")
    else:
        emit([{"field": k, "value": v} for k, v in out.items()], "table", ["field", "value"])


@aircraft_group.command("list")
@click.option("--watch-types", default=None, metavar="CODES",
              help="Only these ICAO types (comma-separated); 'default' = airlifters, tankers, ISR.")
@click.option("--military", is_flag=True, help="Only military aircraft.")
@click.option("--seen", is_flag=True, help="Only aircraft with positions in the workspace.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 1_000_000))
@format_option("table", "json", "ndjson", "csv")
@pass_ctx
def list_cmd(ctx: Ctx, watch_types: str | None, military: bool, seen: bool, limit: int, fmt: str) -> None:
    """List aircraft, most recently seen first, filtered by type and military flag.

    \b
    Example:
      sitewatch aircraft list --watch-types A124,IL76 --seen
      sitewatch aircraft list --watch-types default --military --format csv
    """
    from sitewatch.cli._common import emit
    from sitewatch.reference.types import DEFAULT_WATCH, parse_codes
    from sitewatch.store.aircraft import list_aircraft

    codes = DEFAULT_WATCH if (watch_types or "").strip().lower() == "default" else parse_codes(watch_types)
    with ctx.open(read_only=True) as ws:
        rows = list_aircraft(ws.store, codes, military, seen, limit)
    emit(rows, fmt)


@aircraft_group.command("types")
@format_option("table", "json", "csv")
def types_cmd(fmt: str) -> None:
    """The built-in table of aircraft types of interest (names, roles, speeds, sizes).

    \b
    Example:
      sitewatch aircraft types --format csv
    """
    from dataclasses import asdict

    from sitewatch.cli._common import emit
    from sitewatch.reference.types import TYPES

    emit([asdict(t) for t in TYPES.values()], fmt)


def stream_options(commit_default: float) -> Any:
    """The options both ``stream`` commands share, one vocabulary (older names kept as aliases)."""
    def deco(f: Any) -> Any:
        f = click.option("--max-messages", "--max-frames", "max_messages", default=None, type=click.IntRange(1),
                         metavar="N", help="Stop after N messages (frames, sentences).")(f)
        f = click.option("--duration", "--max-s", "max_s", default=None, type=click.FloatRange(0.1), metavar="S",
                         help="Stop after S seconds (default: run until Ctrl-C).")(f)
        return click.option("--commit-every", "--batch-s", "commit_s", default=commit_default, show_default=True,
                            type=click.FloatRange(0.05, 60), metavar="S",
                            help="Seconds between commits (at most this much is lost on a crash).")(f)
    return deco


def run_stream(ctx: Ctx, stream: Any, show: Any) -> None:
    """Run a live feed until it stops (Ctrl-C, its limits, or — in the server — its client leaving)."""
    import contextlib

    from sitewatch.cli._common import dumps, on_cancel

    stream.on_batch = show
    on_cancel(stream.stop)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: run() commits what it holds
        stream.run()
    if not ctx.quiet:
        click.echo("", err=True)
    click.echo(dumps(stream.stats.as_json()))


def api_options(polled: bool) -> Any:
    """``--site``, ``--radius-nm`` (and ``--interval`` for polled APIs): the area and pace of a web API feed."""
    def deco(f: Any) -> Any:
        if polled:
            f = click.option("--interval", "interval_s", default=None, type=click.FloatRange(1, 3600), metavar="S",
                             help="Seconds between two polls of each site (default 10; OpenSky: what its daily "
                                  "credits allow).")(f)
        f = click.option("--radius-nm", default=None, type=click.FloatRange(1, 250), metavar="N",
                         help="Radius around each site, NM (default: the site's reach + 100 km).")(f)
        return click.option("--site", "site_names", multiple=True, metavar="NAME",
                            help="Watch this site (repeatable; default: every site of the workspace).")(f)
    return deco


@click.command("adsb")
@click.option("--beast", "beast", default=None, metavar="HOST:PORT", help="Beast binary output (port 30005).")
@click.option("--sbs", "sbs", default=None, metavar="HOST:PORT", help="SBS/BaseStation output (port 30003).")
@click.option("--api", "api", default=None, metavar="BASE",
              help="Poll a readsb-style v2 JSON API: adsblol, airplaneslive, adsbfi, adsbx (key in ADSBX_API_KEY), "
                   "a base URL (e.g. https://api.adsb.lol/v2), or a receiver's aircraft.json URL.")
@click.option("--api-layout", default=None, type=click.Choice(["point", "lat-lon-dist", "aircraft-json"]),
              help="How --api BASE is asked: BASE/point/LAT/LON/NM (adsb.lol, airplanes.live), "
                   "BASE/lat/LAT/lon/LON/dist/NM (adsb.fi, ADS-B Exchange) or the URL as is (aircraft.json).")
@click.option("--opensky", is_flag=True,
              help="Poll OpenSky's REST state vectors for the sites' boxes (OAuth2 client credentials from "
                   "OPENSKY_CLIENT_ID/OPENSKY_CLIENT_SECRET; anonymous when unset).")
@click.option("--opensky-url", default=None, metavar="URL", help="OpenSky API base (default https://opensky-network.org/api).")
@click.option("--opensky-token-url", default=None, metavar="URL", help="OpenSky OAuth2 token endpoint.")
@api_options(polled=True)
@stream_options(2.0)
@click.option("--ref", default=None, metavar="LAT,LON", help="Receiver position (surface CPR decoding).")
@click.option("--airport", default=None, metavar="ICAO", help="Like --ref, at this airport.")
@pass_ctx
def stream_adsb(ctx: Ctx, beast: str | None, sbs: str | None, api: str | None, api_layout: str | None,
                opensky: bool, opensky_url: str | None, opensky_token_url: str | None, site_names: tuple[str, ...],
                radius_nm: float | None, interval_s: float | None, commit_s: float, max_s: float | None,
                max_messages: int | None, ref: str | None, airport: str | None) -> None:
    """Stream live ADS-B into the workspace: a receiver's output, or a web API for the sites.

    A receiver (dump1090/readsb) over TCP: --beast or --sbs; decoded continuously,
    reconnecting with backoff when the feed drops. A web API, polled for each watched site:
    --api (readsb v2 APIs: adsb.lol, airplanes.live, adsb.fi, ADS-B Exchange, or a
    receiver's aircraft.json) or --opensky. Polling is polite: one request a second at
    most, 429 Retry-After honoured, failures backed off; an API that fails or is rate-limited
    is recorded as a coverage outage of the site's area, so `analyze` never reads the
    silence it causes as transponders switched off. Keys come from the environment only.
    Commits every few seconds, shows a line of rates on stderr, prints a JSON summary at
    the end. Options as for `stream ais`: --commit-every, --duration, --max-messages (the
    older --batch-s, --max-s, --max-frames work too).

    \b
    Examples:
      sitewatch stream adsb --beast 127.0.0.1:30005 --airport OSLK
      sitewatch stream adsb --sbs 192.168.1.20:30003 --duration 3600
      sitewatch stream adsb --api adsblol --site hmeimim --duration 600
      sitewatch stream adsb --api https://api.airplanes.live/v2 --site hmeimim --radius-nm 80 --interval 15
      sitewatch stream adsb --api adsbfi --site hmeimim
      sitewatch stream adsb --api http://192.168.1.20/tar1090/data/aircraft.json --interval 5
      OPENSKY_CLIENT_ID=… OPENSKY_CLIENT_SECRET=… sitewatch stream adsb --opensky --site hmeimim
    """
    from sitewatch.live import feed_for

    chosen = [n for n, v in (("--beast", beast), ("--sbs", sbs), ("--api", api), ("--opensky", opensky)) if v]
    if len(chosen) != 1:
        raise InputError("give exactly one of --beast HOST:PORT, --sbs HOST:PORT, --api BASE or --opensky")
    if api or opensky:
        _stream_api(ctx, api, api_layout, opensky_url, opensky_token_url, site_names, radius_nm, interval_s,
                    commit_s, max_s, max_messages)
        return
    mode = "beast" if beast else "sbs"
    target = beast or sbs or ""

    def show(s: Any) -> None:
        if not ctx.quiet:
            click.echo(f"\r{mode} {target}  {s.rate_line()}", err=True, nl=False)

    with ctx.open() as ws:
        stream = feed_for(ws, f"adsb-{mode}", target, f"--{mode}", commit_s=commit_s, max_s=max_s, max_messages=max_messages,
                          reference=parse_ref(ref, airport))
        run_stream(ctx, stream, show)


def _stream_api(ctx: Ctx, api: str | None, layout: str | None, opensky_url: str | None, token_url: str | None,
                site_names: tuple[str, ...], radius_nm: float | None, interval_s: float | None, commit_s: float,
                max_s: float | None, max_messages: int | None) -> None:
    from sitewatch.live import api_feed, sites_of
    from sitewatch.live._poll import PollOptions

    opts = PollOptions(interval_s=interval_s or 10.0)
    with ctx.open() as ws:
        sites = sites_of(ws, site_names)
        if api:
            from sitewatch.acquire.readsb_api import service

            client: Any = service(api, layout, ws.settings).client(sites, radius_nm, opts)
        else:
            from sitewatch.acquire.opensky import OpenSky

            src = OpenSky().configured(opensky_url, token_url, ws.settings)
            client = src.client(sites, radius_nm, opts, interval_given=interval_s is not None)
        label = client.source

        def show(s: Any) -> None:
            if not ctx.quiet:
                click.echo(f"\r{label}  {s.rate_line()}", err=True, nl=False)

        run_stream(ctx, api_feed(ws, client, commit_s=commit_s, max_s=max_s, max_messages=max_messages), show)


def register(root: click.Group) -> None:
    # ``ingest adsb`` is attached to the ingest group above, at import
    root.add_command(aircraft_group)
    group = root.commands.get("stream")  # shared with other live sources (AIS)
    if not isinstance(group, click.Group):
        group = click.Group("stream", help="Stream live feeds into the workspace (ADS-B, AIS).")
        root.add_command(group)
    group.add_command(stream_adsb)
