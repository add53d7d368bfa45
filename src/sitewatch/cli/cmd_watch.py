"""``sitewatch watch …`` (rules and channels) and ``sitewatch alerts`` (what fired)."""

from __future__ import annotations

import click

from sitewatch.alerts import engine
from sitewatch.alerts import rules as R
from sitewatch.cli._common import Ctx, emit, format_option, pass_ctx
from sitewatch.errors import InputError
from sitewatch.store.alert_queries import list_alerts


@click.group("watch")
def watch_group() -> None:
    """Watch rules (watch.yaml in the workspace) and where alerts are sent."""


@watch_group.command("add")
@click.argument("name")
@click.option("--type", "types", help="Aircraft ICAO types, comma-separated (type-near rule).")
@click.option("--military", is_flag=True, help="Any military aircraft (type-near rule).")
@click.option("--near", "near", metavar="SITE", help="Site for a type-near rule.")
@click.option("--radius-km", type=float, default=50.0, show_default=True, help="Radius for --near.")
@click.option("--event", "event_kind", metavar="KIND", help="Event kind (event rule), e.g. dark-visit.")
@click.option("--min-confidence", type=float, default=0.0, show_default=True, help="For --event.")
@click.option("--evidence", "evidence_kind", metavar="KIND", help="Evidence/indicator kind (evidence rule).")
@click.option("--assessment", "hypothesis", metavar="HYPOTHESIS", help="Hypothesis (assessment rule).")
@click.option("--site", help="Site (event rules: optional; evidence/assessment rules: required).")
@click.option("--below", type=float, help="Fire when the value is below this.")
@click.option("--above", type=float, help="Fire when the value is above this.")
@click.option("--at-least", type=float, help="Fire when the value is at least this.")
@pass_ctx
def watch_add(ctx: Ctx, name: str, types: str | None, military: bool, near: str | None, radius_km: float,
              event_kind: str | None, min_confidence: float, evidence_kind: str | None, hypothesis: str | None,
              site: str | None, below: float | None, above: float | None, at_least: float | None) -> None:
    """Add watch rule NAME.

    \b
    Examples:
      sitewatch watch add airlift --type A124,IL76 --near hmeimim --radius-km 50
      sitewatch watch add dark --event dark-visit
      sitewatch watch add quay-empty --evidence ships-at-quay --site tartus --below 2
      sitewatch watch add withdrawal --assessment withdrawal --site hmeimim --at-least 0.8
    """
    thresholds = [(op, v) for op, v in (("<", below), (">", above), (">=", at_least)) if v is not None]
    if len(thresholds) > 1:
        raise InputError("give at most one of --below, --above, --at-least")
    op, value = thresholds[0] if thresholds else (">=", 0.0)
    kinds = [k for k, on in (("type-near", near or types or military), ("event", event_kind),
                             ("evidence", evidence_kind), ("assessment", hypothesis)) if on]
    if len(kinds) != 1:
        raise InputError("give exactly one rule form: --type/--military with --near, --event, --evidence or --assessment")
    d: dict[str, object] = {"name": name, "kind": kinds[0]}
    if kinds[0] == "type-near":
        d.update(site=near, types=[t for t in (types or "").split(",") if t], military=military, radius_km=radius_km)
    elif kinds[0] == "event":
        d.update(event_kind=event_kind, site=site, min_confidence=min_confidence)
    elif kinds[0] == "evidence":
        d.update(evidence_kind=evidence_kind, site=site, op=op, value=value)
    else:
        d.update(hypothesis=hypothesis, site=site, op=op, value=value)
    rule = R.parse_rule({k: v for k, v in d.items() if v is not None}, "command line")
    with ctx.open() as ws:
        if rule.site and rule.kind != "event":
            ws.site(rule.site)
        cfg = R.load(ws.folder)
        if any(r.name == name for r in cfg.rules):
            raise InputError(f"watch rule {name!r} exists; remove it first (sitewatch watch remove {name})")
        cfg.rules.append(rule)
        R.save(ws.folder, cfg)
    click.echo(f"watch rule {name}: {rule.describe()}", err=True)


@watch_group.command("list")
@format_option("table", "json")
@pass_ctx
def watch_list(ctx: Ctx, fmt: str) -> None:
    """List watch rules and channels.

    \b
    Example:
      sitewatch watch list --format json
    """
    with ctx.open() as ws:
        cfg = R.load(ws.folder)
    emit([{"name": r.name, "kind": r.kind, "rule": r.describe()} for r in cfg.rules]
         + [{"name": f"channel:{c['type']}", "kind": "channel",
             "rule": str(c.get("url") or c.get("to") or c.get("path"))} for c in cfg.channels], fmt)


@watch_group.command("remove")
@click.argument("name")
@pass_ctx
def watch_remove(ctx: Ctx, name: str) -> None:
    """Remove watch rule NAME (alerts it raised are kept).

    \b
    Example:
      sitewatch watch remove airlift
    """
    with ctx.open() as ws:
        cfg = R.load(ws.folder)
        cfg.rule(name)
        cfg.rules = [r for r in cfg.rules if r.name != name]
        R.save(ws.folder, cfg)


@watch_group.command("channel")
@click.argument("kind", type=click.Choice(R.CHANNEL_TYPES))
@click.argument("target")
@click.option("--smtp", metavar="HOST:PORT", help="SMTP server for email channels.")
@click.option("--from", "sender", default="sitewatch@localhost", show_default=True, help="Email sender.")
@pass_ctx
def watch_channel(ctx: Ctx, kind: str, target: str, smtp: str | None, sender: str) -> None:
    """Send alerts to a log file, a webhook URL or an email address.

    \b
    Examples:
      sitewatch watch channel log alerts.log
      sitewatch watch channel webhook http://127.0.0.1:9000/hook
      sitewatch watch channel email analyst@example.org --smtp 127.0.0.1:2525
    """
    ch: dict[str, object] = {"type": kind}
    if kind == "log":
        ch["path"] = target
    elif kind == "webhook":
        ch["url"] = target
    else:
        ch.update(to=target, smtp=smtp, **{"from": sender})
    parsed = R.parse_channel(ch, "command line")
    with ctx.open() as ws:
        cfg = R.load(ws.folder)
        cfg.channels.append(parsed)
        R.save(ws.folder, cfg)


@watch_group.command("check")
@click.option("--no-send", is_flag=True, help="Record new alerts without sending them.")
@format_option("table", "ndjson", default="ndjson")
@pass_ctx
def watch_check(ctx: Ctx, no_send: bool, fmt: str) -> None:
    """Evaluate every rule now; raise and send each new firing once.

    \b
    Example:
      sitewatch analyze && sitewatch watch check
    """
    with ctx.open() as ws:
        cfg = R.load(ws.folder)
        raised = engine.check(ws.store, ws.sites, cfg, ws.folder, send=not no_send)
    emit(raised if fmt == "ndjson" else [{k: r[k] for k in ("rule", "t_utc", "site", "text")} for r in raised], fmt)
    if fmt != "ndjson" or ctx.verbose:
        click.echo(f"{len(raised)} new alert(s)", err=True)


@click.command("alerts")
@click.option("--rule", help="Only this rule's alerts.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True, help="Most recent N.")
@format_option("table", "ndjson", "json")
@pass_ctx
def alerts_cmd(ctx: Ctx, rule: str | None, limit: int, fmt: str) -> None:
    """List raised alerts, newest first, with each channel's delivery outcome.

    \b
    Example:
      sitewatch alerts --rule airlift --format ndjson
    """
    with ctx.open() as ws:
        rows = list_alerts(ws.store, limit, rule)
    emit(rows, fmt)


def register(root: click.Group) -> None:
    root.add_command(watch_group)
    root.add_command(alerts_cmd)
