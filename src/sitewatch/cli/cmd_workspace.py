"""``sitewatch init`` and ``sitewatch status``."""

from __future__ import annotations

import click

from sitewatch import schema
from sitewatch.cli._common import Ctx, emit, format_option, pass_ctx
from sitewatch.workspace import Workspace


@click.command("init")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--name", help="Workspace name (default: the folder's name).")
def init_cmd(folder: str, name: str | None) -> None:
    """Create a workspace in FOLDER (sitewatch.toml + sitewatch.duckdb).

    \b
    Example:
      sitewatch init ./syria && cd syria && sitewatch site add hmeimim --airport OSLK
    """
    ws = Workspace.init(folder, name)
    click.echo(f"created workspace {ws.folder.resolve()}", err=True)
    ws.close()


@click.command("status")
@format_option("table", "json")
@pass_ctx
def status_cmd(ctx: Ctx, fmt: str) -> None:
    """Show the workspace: sites and row counts of every table.

    \b
    Example:
      sitewatch -w ./syria status --format json
    """
    with ctx.open() as ws:
        counts = {t: ws.store.count(t) for t in schema.TABLES}
        sites = list(ws.sites)
        if fmt == "json":
            emit([{"workspace": str(ws.folder.resolve()), "sites": sites, "rows": counts}], "ndjson")
            return
        click.echo(f"workspace {ws.folder.resolve()}  sites: {', '.join(sites) or '(none)'}")
        emit([{"table": t, "rows": n} for t, n in counts.items()], "table")


def register(root: click.Group) -> None:
    root.add_command(init_cmd)
    root.add_command(status_cmd)
