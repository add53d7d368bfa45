"""Fusion commands: ``ingest observations``, ``timeline``, ``indicators``, ``assess``,
``rules list|show|edit`` and ``export events|evidence``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click

from sitewatch import kinds as K
from sitewatch.cli._common import Ctx, dumps, emit, parse_time, pass_ctx
from sitewatch.cli.cmd_export import export_group
from sitewatch.cli.cmd_ingest import ingest_group, run_ingest
from sitewatch.errors import ConfigError
from sitewatch.workspace import Workspace


def _near_km(ws: Workspace) -> float:
    return ws.fusion.near_km  # [settings.fusion], read in one place for the CLI, the dashboard, the report


def _window(ws: Workspace) -> int:
    return ws.fusion.window_days


@ingest_group.command("observations")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["auto", "csv", "yaml"]), default="auto", show_default=True,
              help="Input format.")
@pass_ctx
def ingest_observations(ctx: Ctx, paths: tuple[str, ...], fmt: str) -> None:
    """Ingest analyst observations (what a person read in an image, a video, a post).

    CSV with a header (t_utc, site, text, count, class, zone, source, url, confidence,
    simulated) or without one as `date, site, text, source, url[, confidence]`; or YAML, a
    list of mappings with the same keys. Counts and classes are read from texts such as
    "2 × A124 on apron". Bad lines are quarantined with their line number.

    \b
    Example:
      echo "2024-12-13, hmeimim, 2 × A124 on apron, Maxar, https://example.org/p" > obs.csv
      sitewatch ingest observations obs.csv
      sitewatch ingest observations notes.yaml --format yaml
    """
    run_ingest(ctx, "observations", paths, fmt)  # warns of observations naming unknown sites


@click.command("timeline")
@click.argument("site")
@click.option("--from", "t_from", metavar="T", help="From this time (ISO 8601 UTC).")
@click.option("--to", "t_to", metavar="T", help="Before this time (ISO 8601 UTC).")
@click.option("--kind", "kinds", multiple=True,
              help="Only these evidence kinds, canonical (air.arrival) or short (arrival). Repeatable.")
@click.option("--coverage", is_flag=True,
              help="Include the daily coverage rows (positions received near the site, per sensor and day).")
@click.option("--format", "fmt", type=click.Choice(["table", "ndjson", "json", "csv"]), default="table",
              show_default=True, help="Output format.")
@pass_ctx
def timeline_cmd(ctx: Ctx, site: str, t_from: str | None, t_to: str | None, kinds: tuple[str, ...],
                 coverage: bool, fmt: str) -> None:
    """One evidence timeline for SITE: every event, imagery count and observation in time order.

    The evidence is rebuilt from the events, scenes, detections and observations tables
    first, so it is always current. Each row carries its sensor, provider, source-file hash,
    reference (event id, scene and boxes, observation line) and confidence.

    \b
    Examples:
      sitewatch timeline hmeimim
      sitewatch timeline hmeimim --from 2024-12-01 --to 2024-12-15 --format ndjson
      sitewatch timeline tartus --kind sea.vessel-departure --format csv > departures.csv
      sitewatch timeline hmeimim --coverage   # also the days each sensor saw the area
    """
    with ctx.open() as ws:
        rows, skipped = ws.timeline_rows(site, parse_time(t_from, "--from"), parse_time(t_to, "--to"),
                                         K.split(kinds), coverage)
    if skipped:
        click.echo(f"note: not in the timeline (cannot be placed in time): {skipped}", err=True)
    if fmt == "table":
        emit([{"t_start": r["t_start"], "kind": r["kind"], "value": r["value"], "sensor": r["sensor"],
               "confidence": round(r["confidence"], 2), "sim": "SIM" if r["simulated"] else "",
               "text": r["text"], "evidence_id": r["evidence_id"]} for r in rows], "table")
        return
    emit(rows, fmt, list(rows[0].keys()) if rows else None)


@click.command("indicators")
@click.argument("site")
@click.option("--at", "at", metavar="T", help="As of this time (exclusive; default: end of the last evidence day).")
@click.option("--from", "t_from", metavar="T", help="Report days from this date.")
@click.option("--days", is_flag=True, help="Include every day of every series (json/ndjson).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "ndjson"]), default="table",
              show_default=True, help="Output format.")
@pass_ctx
def indicators_cmd(ctx: Ctx, site: str, at: str | None, t_from: str | None, days: bool, fmt: str) -> None:
    """Daily indicators of SITE against its own trailing baseline, with a score and a sentence.

    Days no sensor observed are "not observed", never zero; imagery too coarse for a class
    is "not resolvable".

    \b
    Examples:
      sitewatch indicators hmeimim
      sitewatch indicators hmeimim --at 2024-12-14 --format json --days
    """
    with ctx.open() as ws:
        series = ws.indicator_series(site, parse_time(at, "--at"), parse_time(t_from, "--from"))
    if fmt == "table":
        emit([{"indicator": x.name, "sensor": x.sensor, "value": x.value, "day": x.value_day,
               "median": x.baseline_median, "score": None if x.score is None else round(x.score, 1),
               "status": x.status, "sentence": x.sentence} for x in series], "table")
        return
    out = []
    for x in series:
        j = x.as_json()
        if not days:
            j.pop("days")
        out.append(j)
    emit(out, fmt)


@click.command("assess")
@click.argument("site")
@click.option("--at", "at", metavar="T",
              help="What-if: as of this time (exclusive). Not saved, and never replaces the current "
                   "assessment, unless --save.")
@click.option("--save", is_flag=True, help="Store a what-if (--at) as an issued revision too.")
@click.option("--rule", "rule_names", multiple=True,
              help="Only show these hypotheses (the whole set is always judged: they compete).")
@click.option("--history", is_flag=True, help="Show the revision history of each hypothesis (text) / include it (json).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@pass_ctx
def assess_cmd(ctx: Ctx, site: str, at: str | None, save: bool, rule_names: tuple[str, ...], history: bool,
               fmt: str) -> None:
    """Assess SITE: one exhaustive set of competing hypotheses (withdrawal, reinforcement,
    evacuation, precautionary repositioning, exercise or rotation, routine, other) whose
    probabilities sum to 1, with the ACH matrix, the linchpins of the leading judgement,
    the observation that would best separate the top two, and every sentence footnoted to
    the evidence rows its numbers are computed from.

    Without --at the assessment is as of the end of the last evidence day and a new
    revision is issued (and kept) whenever the evidence, the hypothesis files or the result
    changed. With --at it is a what-if: shown, not saved (add --save to keep it). With no
    fresh evidence the answer is "insufficient current evidence", not a probability.

    \b
    Examples:
      sitewatch assess hmeimim
      sitewatch assess hmeimim --format json
      sitewatch assess hmeimim --at 2024-12-14          # what-if, not saved
      sitewatch assess tartus --rule withdrawal --history
    """
    from sitewatch.fusion import assessment as A
    from sitewatch.fusion import rules as R
    from sitewatch.store import evidence as EVD

    if save and not at:
        raise click.UsageError("--save only applies to a what-if (--at T); the current assessment is always saved")
    with ctx.open() as ws:
        s = ws.site(site)
        rules = R.load_all(ws.folder)
        wanted = set(rule_names)
        for n in wanted:
            R.get(n, ws.folder)  # unknown names fail with the list of known ones
        items = A.assess(ws.store, s, rules, parse_time(at, "--at"), _near_km(ws), _window(ws),
                         issue=(at is None) or save)
        ev = {r["evidence_id"]: r for r in EVD.list_evidence(ws.store, s.name)}
    if wanted:
        items = [a for a in items if a.hypothesis in wanted]
    if fmt == "json":
        out = []
        for a in sorted(items, key=lambda x: -x.probability):
            j = a.as_json()
            if not history:
                j.pop("history")
            j["footnotes"] = {i: {k: ev[i][k] for k in ("t_start", "t_end", "kind", "text", "sensor", "provider",
                                                         "file_sha256", "confidence", "simulated", "ref", "value",
                                                         "subject")}
                              for i in a.evidence_ids() if i in ev}
            out.append(j)
        click.echo(dumps(out))
        return
    text = A.render_text(items, ev)
    if history:
        lines = ["Revision history:"]
        for a in items:
            for h in a.history:
                lines.append(f"  {a.hypothesis} r{h['revision']} {_iso(h['issued'])}: {h['likelihood']} "
                             f"({h['probability']:.2f}), confidence {h['confidence']} — "
                             f"{(h['changes'] or {}).get('reason', '')}")
        text += "\n".join(lines) + "\n"
    sys.stdout.write(text)


def _iso(v: Any) -> str:
    return v.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if isinstance(v, datetime) else str(v)


@click.group("rules")
def rules_group() -> None:
    """The competing hypotheses (withdrawal, reinforcement, evacuation, repositioning,
    exercise, routine, other) in YAML: list, show, edit, calibrate."""


@rules_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output format.")
@pass_ctx
def rules_list(ctx: Ctx, fmt: str) -> None:
    """List the rules: shipped ones and the workspace's own (which override them).

    \b
    Example:
      sitewatch rules list
    """
    from sitewatch.fusion import rules as R

    folder = _folder_or_none(ctx)
    emit([{"name": r.name, "title": r.title, "prior": r.prior, "items": len(r.expects),
           "site_kinds": ",".join(r.site_kinds) or "all",
           "source": "shipped" if r.shipped else r.path} for r in R.load_all(folder).values()], fmt)


@rules_group.command("show")
@click.argument("name")
@click.option("--shipped", is_flag=True, help="The file shipped with sitewatch, even where the workspace has its "
              "own (to compare, or to update an old one).")
@pass_ctx
def rules_show(ctx: Ctx, name: str, shipped: bool) -> None:
    """Print rule NAME's YAML.

    \b
    Examples:
      sitewatch rules show withdrawal
      sitewatch rules show withdrawal --shipped
    """
    from pathlib import Path

    from sitewatch.fusion import rules as R

    r = R.get(name, None if shipped else _folder_or_none(ctx))
    if r.shipped:
        from importlib import resources

        sys.stdout.write((resources.files("sitewatch.fusion") / "rules" / f"{r.name}.yaml").read_text("utf-8"))
    else:
        sys.stdout.write(Path(r.path).read_text(encoding="utf-8"))


@rules_group.command("edit")
@click.argument("name")
@click.option("--path-only", is_flag=True, help="Copy the rule into the workspace and print its path; no editor.")
@pass_ctx
def rules_edit(ctx: Ctx, name: str, path_only: bool) -> None:
    """Edit rule NAME in $EDITOR: the shipped rule is copied to the workspace's rules/
    folder first (a new NAME starts from a template); the result is validated.

    \b
    Examples:
      sitewatch rules edit withdrawal
      sitewatch rules edit withdrawal --path-only   # then edit rules/withdrawal.yaml yourself
    """
    from sitewatch.fusion import rules as R

    with ctx.open() as ws:
        path = R.copy_to_workspace(name, ws.folder)
    if not path_only:
        click.edit(filename=str(path))
    try:
        R.parse(path.read_text(encoding="utf-8"), str(path))
    except ConfigError as exc:
        raise ConfigError(f"{exc} (the file is kept; fix it and run `sitewatch rules edit {name}` again)") from None
    click.echo(str(path))


@rules_group.command("calibrate")
@click.option("--runs", type=click.IntRange(6, 100_000), default=300, show_default=True,
              help="Number of randomised SIMULATED scenarios.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same scenarios).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@pass_ctx
def rules_calibrate(ctx: Ctx, runs: int, seed: int, fmt: str) -> None:
    """Check that the hypotheses' probabilities mean what they say: generate RUNS randomised
    SIMULATED scenarios (every hypothesis but the remainder, airbases and ports, varied timing,
    coverage outages, decoys such as a rotation's airlift burst), assess each with the
    workspace's current hypothesis files and score the result: top-1 accuracy, multi-class
    Brier score (0 best, 2 worst) and, per probability bin, how often the hypothesis was
    true. Targets: top-1 >= 0.90, Brier <= 0.20, every bin with >= 20 cases within 0.10.

    It also says what chance alone does at this many runs: each bin's standard error, the
    top-1 a forecaster whose probabilities were all true would reach, and how often such a
    forecaster meets the bin target — about one time in three at 500 runs, 19 in 20 at 2,000
    (bins of 20–50 cases have standard errors near 0.1): judge the bins on 2,000 runs or more.

    \b
    Examples:
      sitewatch rules calibrate --runs 300 --seed 1
      sitewatch rules calibrate --runs 2000 --seed 3 --format json > calibration.json
      sitewatch rules calibrate --runs 60 --seed 7 --format json > calibration.json
    """
    from sitewatch.fusion import rules as R
    from sitewatch.simulate import calibration as C

    folder = _folder_or_none(ctx)
    rules = R.load_all(folder)
    with click.progressbar(length=runs, label="SIMULATED scenarios", file=sys.stderr) as bar:
        res = C.calibrate(rules, runs, seed, progress=lambda n: bar.update(1))
    res["seed"] = seed
    res["simulated"] = True
    if fmt == "json":
        click.echo(dumps(res))
        return
    lines = [f"Calibration on {res['runs']} SIMULATED scenarios (seed {seed}):",
             f"  top-1 accuracy {res['top1_accuracy']:.3f} (target >= 0.90)",
             f"  Brier score    {res['brier']:.3f} (target <= 0.20; 0 best, 2 worst)",
             "  reliability (stated probability vs how often true):"]
    for b in res["reliability"]:
        if b["n"]:
            flag = "" if b["n"] < 20 or b["gap"] <= 0.10 else "  <- off by more than 0.10"
            if flag and b.get("within_sampling_error"):
                flag += " (within its sampling error)"
            lines.append(f"    {b['bin'][0]:.1f}-{b['bin'][1]:.1f}: n={b['n']:5}  stated {b['mean_p']:.3f}  "
                         f"true {b['observed']:.3f}  ± {1.96 * b['sd_if_calibrated']:.3f}{flag}")
    lines.append("  per true hypothesis: " + ", ".join(f"{t} {v['top1_accuracy']:.2f}"
                                                       for t, v in res["per_truth"].items()))
    sm = res.get("sampling") or {}
    if sm:
        lines += [
            "  what chance alone does at this many runs (were every stated probability true):",
            f"    top-1 would be {sm['top1_expected_if_calibrated']:.3f} ± {sm['top1_sd_if_calibrated']:.3f} "
            f"(the mean stated probability of the leader; measured {res['top1_accuracy']:.3f})",
            f"    the bin target (±0.10) would be met in {100 * sm['bins_target_pass_chance_if_calibrated']:.0f}% "
            f"of such samples; every bin with >= 20 cases within 1.96 standard errors: "
            f"{'yes' if sm['bins_n>=20_within_sampling_error'] else 'no'}"]
    click.echo("\n".join(lines))


def _folder_or_none(ctx: Ctx) -> Any:
    from sitewatch.errors import WorkspaceError

    try:
        with ctx.open(read_only=True) as ws:
            return ws.folder
    except WorkspaceError:
        return None


_EXPORT_FORMATS = ["geojson", "kml", "csv", "parquet", "geoparquet"]
_FORMAT_HELP = ("Output format. Times are ISO 8601 UTC (…T12:59:55.000000Z) in text formats; "
                "geoparquet adds a WKB point geometry column (lon/lat WGS84).")


@export_group.command("events")
@click.option("--format", "fmt", type=click.Choice(_EXPORT_FORMATS), required=True, help=_FORMAT_HELP)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output file (written atomically).")
@click.option("--site", help="Only events at this site.")
@click.option("--from", "t_from", metavar="T", help="Events ending at or after T (ISO 8601 UTC).")
@click.option("--to", "t_to", metavar="T", help="Events starting before T (ISO 8601 UTC).")
@click.option("--layers", type=click.Choice(["single", "split"]), default="single", show_default=True,
              help="geojson only: single = points and tracks in one file (mixed geometry); split = "
                   "NAME.points.geojson and NAME.tracks.geojson beside --out NAME.geojson.")
@pass_ctx
def export_events(ctx: Ctx, fmt: str, out: str, site: str | None, t_from: str | None, t_to: str | None,
                  layers: str) -> None:
    """Export events; GeoJSON and KML include each event's track (KML: gx:Track with altitudes,
    for Google Earth; KML fields are ExtendedData, so GIS tools show them as attributes).

    \b
    Examples:
      sitewatch export events --format kml --out hmeimim.kml --site hmeimim
      sitewatch export events --format geojson --out events.geojson --from 2024-12-01
      sitewatch export events --format geojson --layers split --out events.geojson   # for QGIS
    """
    _export(ctx, "events", fmt, out, site, t_from, t_to, layers)


@export_group.command("evidence")
@click.option("--format", "fmt", type=click.Choice(_EXPORT_FORMATS), required=True, help=_FORMAT_HELP)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output file (written atomically).")
@click.option("--site", help="Only this site's evidence (rebuilt first).")
@click.option("--from", "t_from", metavar="T", help="From this time (ISO 8601 UTC).")
@click.option("--to", "t_to", metavar="T", help="Before this time (ISO 8601 UTC).")
@pass_ctx
def export_evidence(ctx: Ctx, fmt: str, out: str, site: str | None, t_from: str | None, t_to: str | None) -> None:
    """Export evidence rows with their provenance (sensor, provider, file hash, reference).

    \b
    Examples:
      sitewatch export evidence --format csv --out evidence.csv --site hmeimim
      sitewatch export evidence --format parquet --out evidence.parquet
    """
    _export(ctx, "evidence", fmt, out, site, t_from, t_to)


def _export(ctx: Ctx, what: str, fmt: str, out: str, site: str | None, t_from: str | None,
            t_to: str | None, layers: str = "single") -> None:
    from sitewatch.fusion import evidence as E
    from sitewatch.fusion.export import export

    with ctx.open() as ws:
        if site:
            ws.site(site)
        if what == "evidence":
            targets = [ws.site(site)] if site else list(ws.sites.values())
            E.refresh(ws.store, targets, _near_km(ws))
        summary = export(ws.store, what, fmt, out, site, parse_time(t_from, "--from"), parse_time(t_to, "--to"),
                         layers)
    click.echo(dumps(summary))


def register(root: click.Group) -> None:
    root.add_command(timeline_cmd)
    root.add_command(indicators_cmd)
    root.add_command(assess_cmd)
    root.add_command(rules_group)
