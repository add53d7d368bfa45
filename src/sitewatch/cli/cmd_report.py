"""``sitewatch report SITE --out FILE.html [--pdf]``."""

from __future__ import annotations

import click

from sitewatch.cli._common import Ctx, dumps, parse_time, pass_ctx


@click.command("report")
@click.argument("site")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output HTML file.")
@click.option("--from", "t_from", metavar="T", help="Start of the period (default: the first evidence, at most 90 days before --to).")
@click.option("--to", "t_to", metavar="T",
              help="End of the period and as-of time of the assessment (default: end of the last evidence day).")
@click.option("--pdf", is_flag=True, help="Also print FILE.pdf with headless Chromium (/usr/bin/chromium).")
@pass_ctx
def report_cmd(ctx: Ctx, site: str, out: str, t_from: str | None, t_to: str | None, pdf: bool) -> None:
    """Write one self-contained HTML report of SITE, readable offline.

    The assessment up top (every sentence footnoted to the evidence table), a map of
    tracks, gaps, dark-visit links and vessel movements over an offline basemap, indicator
    charts with baselines, the timeline, before/after imagery chips, the evidence table
    with provenance, methodology and caveats; a SIMULATED banner when any evidence comes
    from a simulator.

    \b
    Examples:
      sitewatch report hmeimim --out hmeimim.html
      sitewatch report tartus --from 2024-12-01 --to 2024-12-15 --out tartus.html --pdf
    """
    from pathlib import Path

    from sitewatch.cli.cmd_fusion import _near_km, _window
    from sitewatch.fusion import rules as R
    from sitewatch.report.build import build_report, to_pdf

    with ctx.open() as ws:
        s = ws.site(site)
        res = build_report(ws.store, s, R.load_all(ws.folder), out, parse_time(t_from, "--from"),
                           parse_time(t_to, "--to"), _near_km(ws), _window(ws))
    if pdf:
        res.pdf = to_pdf(out, Path(out).with_suffix(".pdf"))
    click.echo(dumps({"out": res.out, "bytes": res.bytes, "evidence_rows": res.evidence_rows,
                      "simulated_rows": res.simulated_rows, "pdf": res.pdf, "assessment": res.assessments}))


def register(root: click.Group) -> None:
    root.add_command(report_cmd)
