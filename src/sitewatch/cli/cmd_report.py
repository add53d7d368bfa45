"""``sitewatch report SITE --out FILE.html [--pdf]``."""

from __future__ import annotations

import click

from sitewatch.cli._common import Ctx, dumps, parse_time, pass_ctx


@click.command("report")
@click.argument("site")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output HTML file.")
@click.option("--from", "t_from", metavar="T", help="Start of the period (default: the first evidence, at most 90 days before --to).")
@click.option("--to", "t_to", metavar="T",
              help="End of the period and as-of time of the assessment (default: end of the last evidence day); "
                   "a what-if: nothing is issued.")
@click.option("--pdf", is_flag=True, help="Also print FILE.pdf with headless Chromium (/usr/bin/chromium).")
@pass_ctx
def report_cmd(ctx: Ctx, site: str, out: str, t_from: str | None, t_to: str | None, pdf: bool) -> None:
    """Write a short HTML report of SITE, readable offline, and its appendix beside it.

    The bottom line first (the leading judgement in plain words, its likelihood and
    confidence, what would change it), the key judgements, the ACH matrix, the key
    evidence named as a reader names it (aircraft by type and registration, ships by
    name), a day-by-day digest of the key events, a labelled map, annotated imagery chips,
    the indicators behind the judgement, sources and licences. Footnotes point at the
    numbered evidence rows of FILE.appendix.html (full assessment, indicators, timeline,
    evidence), also written as FILE.evidence.csv and FILE.timeline.csv. A SIMULATED banner
    when any evidence comes from a simulator.

    \b
    Examples:
      sitewatch report hmeimim --out hmeimim.html
      sitewatch report tartus --from 2024-12-01 --to 2024-12-15 --out tartus.html --pdf
    """
    from pathlib import Path

    from sitewatch.cli.cmd_fusion import _near_km, _window
    from sitewatch.fusion import rules as R
    from sitewatch.report.build import build_report, pdf_pages, to_pdf

    with ctx.open() as ws:
        s = ws.site(site)
        others = [o for o in ws.sites.values() if o.name != s.name]
        res = build_report(ws.store, s, R.load_all(ws.folder), out, parse_time(t_from, "--from"),
                           parse_time(t_to, "--to"), _near_km(ws), _window(ws), others=others)
    if pdf:
        res.pdf = to_pdf(out, Path(out).with_suffix(".pdf"))
        res.pages = pdf_pages(res.pdf)
    click.echo(dumps({"out": res.out, "bytes": res.bytes, "evidence_rows": res.evidence_rows,
                      "simulated_rows": res.simulated_rows, "appendix": res.appendix, "csv": res.csv,
                      "pdf": res.pdf, "pages": res.pages, "assessment": res.assessments}))


def register(root: click.Group) -> None:
    root.add_command(report_cmd)
