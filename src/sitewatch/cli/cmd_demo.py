"""``sitewatch demo``: the main job on the embedded default.

Until the scenario simulator exists this builds a workspace with the two real sites of
the December 2024 story (Hmeimim air base, Tartus naval port) and prints their summary.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from sitewatch import sites as S
from sitewatch.cli._common import emit
from sitewatch.workspace import Workspace


@click.command("demo")
@click.option("--out", default="demo-out", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the demo workspace (replaced if it holds an earlier demo).")
def demo_cmd(out: str) -> None:
    """Build the demo workspace (Hmeimim air base and Tartus naval port) and summarise it.

    \b
    Example:
      sitewatch demo --out demo-out && sitewatch -w demo-out/workspace site list
    """
    folder = Path(out) / "workspace"
    if folder.exists():
        shutil.rmtree(folder)
    with Workspace.init(folder, name="demo") as ws:
        ws.put_site(S.from_airport("hmeimim", "OSLK", 6.0))
        ws.put_site(S.from_port("tartus", "Tartus, Syria", 3.0))
        rows = [{"name": s.name, "kind": s.kind, "lat": round(s.lat, 4), "lon": round(s.lon, 4),
                 "radius_km": s.radius_km, "source": s.source, "label": s.label} for s in ws.sites.values()]
    emit(rows, "table")
    click.echo(f"workspace: {folder.resolve()}")


def register(root: click.Group) -> None:
    root.add_command(demo_cmd)
