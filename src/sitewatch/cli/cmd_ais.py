"""``sitewatch ingest ais``, ``sitewatch vessels …`` and ``sitewatch stream ais``: AIS on the command line.

A thin skin: reading is :mod:`sitewatch.sources.ais`, identity is :mod:`sitewatch.vessels`,
the live feed is :mod:`sitewatch.live.ais`.
"""

from __future__ import annotations

import click

from sitewatch.cli._common import Ctx, parse_time, pass_ctx
from sitewatch.cli.cmd_ingest import ingest_group, run_ingest
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


def register(root: click.Group) -> None:
    """``ingest ais`` attaches to the ingest group on import; nothing else to add yet."""
