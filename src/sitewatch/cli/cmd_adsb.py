"""``sitewatch ingest adsb``, ``sitewatch aircraft …`` and ``sitewatch stream adsb``.

A thin skin: the readers live in :mod:`sitewatch.sources.adsb`, the aircraft database in
:mod:`sitewatch.reference.aircraft_db`, the live client in :mod:`sitewatch.live.adsb`.
"""

from __future__ import annotations

import click

from sitewatch.cli._common import Ctx, parse_time, pass_ctx
from sitewatch.cli.cmd_ingest import ingest_group, run_ingest
from sitewatch.errors import InputError
from sitewatch.sources.base import ReadOptions

FORMATS = ["auto", "hex", "beast", "sbs", "readsb-trace", "readsb-aircraft", "opensky", "fr24", "traffic"]


def parse_ref(ref: str | None, airport: str | None) -> tuple[float, float] | None:
    """``--ref LAT,LON`` or ``--airport ICAO`` → (lat, lon) for surface/local CPR decoding."""
    if ref and airport:
        raise InputError("give --ref or --airport, not both")
    if airport:
        from sitewatch.reference.airports import lookup

        a = lookup(airport)
        return (a.lat, a.lon)
    if not ref:
        return None
    try:
        lat_s, lon_s = ref.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        raise InputError(f"--ref {ref!r} is not LAT,LON (e.g. --ref 49.01,2.55)") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"--ref {ref!r} is out of range")
    return (lat, lon)


@ingest_group.command("adsb")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="Input format (auto: detected from the content).")
@click.option("--start", default=None, metavar="TIME",
              help="Time of the first record, for files that carry no absolute time (Beast, hex without "
                   "time). ISO 8601, UTC if no offset.")
@click.option("--ref", default=None, metavar="LAT,LON",
              help="Reference position for surface CPR decoding (default: the aircraft's last airborne fix).")
@click.option("--airport", default=None, metavar="ICAO", help="Like --ref, at this airport.")
@click.option("--icao24", default=None, metavar="HEX",
              help="Aircraft address for files that carry none (Flightradar24 CSV exports).")
@pass_ctx
def ingest_adsb(ctx: Ctx, paths: tuple[str, ...], fmt: str, start: str | None, ref: str | None,
                airport: str | None, icao24: str | None) -> None:
    """Ingest ADS-B / Mode S files: raw frames, receiver outputs, archives, trajectories.

    Formats: hex (CSV ``ts,hex`` or JSON lines ``{"timestamp":…,"frame":…}``), beast,
    sbs (BaseStation), readsb-trace (``trace_full_*.json``), readsb-aircraft (``aircraft.json``
    snapshots), opensky (state vectors CSV/Parquet), fr24 (per-flight CSV), traffic (the
    traffic library's JSON/Parquet). ``.gz``, ``.zst``, ``.tar`` archives are read in place.

    \b
    Example:
      sitewatch ingest adsb flights.jsonl.gz
      sitewatch ingest adsb capture.bin --format beast --start 2024-12-13T06:00Z --airport OSLK
      sitewatch ingest adsb globe_history_2024_12_13.tar
      sitewatch ingest adsb 2ce4f83f.csv --format fr24 --icao24 3b7777
    """
    extra: dict[str, str] = {}
    if icao24 is not None:
        if not (len(icao24) == 6 and all(c in "0123456789abcdefABCDEF" for c in icao24)):
            raise InputError(f"--icao24 {icao24!r} is not a 24-bit hex address (e.g. 3b7777)")
        extra["icao24"] = icao24.lower()
    opts = ReadOptions(start=parse_time(start, "--start"), reference=parse_ref(ref, airport), extra=extra)
    run_ingest(ctx, "adsb", paths, fmt, opts)


def register(root: click.Group) -> None:
    # ``ingest adsb`` is attached to the ingest group above, at import
    pass
