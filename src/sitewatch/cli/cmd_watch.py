"""``sitewatch watch …`` (rules, channels, sources, ``watch run``) and ``sitewatch alerts`` (what fired)."""

from __future__ import annotations

from typing import Any

import click

from sitewatch.alerts import engine
from sitewatch.alerts import rules as R
from sitewatch.cli._common import Ctx, emit, format_option, pass_ctx
from sitewatch.errors import InputError
from sitewatch.store.alerts import list_alerts


@click.group("watch")
def watch_group() -> None:
    """Watch rules (watch.yaml in the workspace), where alerts are sent, the sources each site is
    fetched from ([watch.sources] in sitewatch.toml), and `watch run`, which does it all."""


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


@watch_group.group("source")
def watch_source_group() -> None:
    """The sources `watch run` fetches for each site ([watch.sources] in sitewatch.toml)."""


@watch_source_group.command("add")
@click.argument("name")
@click.argument("source")
@click.option("--site", "site_names", multiple=True, metavar="SITE", help="Site (repeatable; default: every site).")
@click.option("--lookback", metavar="DURATION", help="How far back each run looks (default: imagery 5d, adsb 2d).")
@click.option("--every", metavar="DURATION", help="Fetch at most this often (default: every cycle).")
@click.option("--max-cloud", type=click.FloatRange(0, 100), help="Imagery: leave out items cloudier than this.")
@click.option("--collection", metavar="ID", help="Imagery: collection (default: the preset's).")
@click.option("--stac", metavar="URL", help="Imagery: catalogue URL (required for source `stac`).")
@click.option("--margin-km", type=click.FloatRange(0, 20000), help="ADS-B archives: keep aircraft this near a site.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Any other source option (e.g. --set military_only=true, --set limit=20).")
@pass_ctx
def watch_source_add(ctx: Ctx, name: str, source: str, site_names: tuple[str, ...], lookback: str | None,
                     every: str | None, max_cloud: float | None, collection: str | None, stac: str | None,
                     margin_km: float | None, sets: tuple[str, ...]) -> None:
    """Watch SOURCE for the sites under entry NAME.

    SOURCE is a registered source: adsblol (ADS-B history), earth-search-s2,
    earth-search-s1, cdse-s2, cdse-s1, maxar, planet, or stac (with --stac and
    --collection). Keys come from the environment, never from this file.

    \b
    Examples:
      sitewatch watch source add adsb adsblol --site hmeimim --margin-km 300
      sitewatch watch source add s2 earth-search-s2 --site hmeimim --site tartus --max-cloud 40 --lookback 10d
      sitewatch watch source add planet planet --site hmeimim --every 6h --set limit=5
    """
    from sitewatch.alerts import watch_config as W

    d: dict[str, Any] = {"source": source}
    if site_names:
        d["sites"] = list(site_names)
    for k, v in (("lookback", lookback), ("every", every), ("max_cloud", max_cloud), ("collection", collection),
                 ("stac", stac), ("margin_km", margin_km)):
        if v is not None:
            d[k] = v
    for kv in sets:
        k, sep, v = kv.partition("=")
        if not sep or not k.strip():
            raise InputError(f"--set {kv!r}: give KEY=VALUE")
        d[k.strip()] = _value(v.strip())
    entry = W.parse_source(name, d)
    with ctx.open() as ws:
        for s in entry.sites:
            ws.site(s)
        W.put(ws.config, entry)
        ws.save()
    click.echo(f"watch source {name}: {source} for {', '.join(entry.sites) or 'every site'}", err=True)


def _value(text: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


@watch_source_group.command("list")
@format_option("table", "json", "ndjson")
@pass_ctx
def watch_source_list(ctx: Ctx, fmt: str) -> None:
    """List the watched sources with their last fetch, errors and coverage.

    \b
    Example:
      sitewatch watch source list --format json
    """
    from sitewatch.alerts import watch_config as W
    from sitewatch.alerts.watch_status import read

    with ctx.open(read_only=True) as ws:
        plan = W.load(ws.config)
        st = read(ws.folder)["sources"]
    rows = []
    for e in plan.sources:
        r = st.get(e.name) or {}
        cov = r.get("coverage") or {}
        err = r.get("last_error") or {}
        rows.append({"name": e.name, "source": e.source, "kind": e.kind, "sites": ",".join(e.sites) or "*",
                     "last_success": r.get("last_success_utc"), "coverage": f"{cov.get('from', '')}/{cov.get('to', '')}"
                     if cov else None, "errors": r.get("errors_total", 0), "down_since": r.get("down_since_utc"),
                     "last_error": err.get("message")})
    emit(rows, fmt, ["name", "source", "kind", "sites", "last_success", "coverage", "errors", "down_since",
                     "last_error"])


@watch_source_group.command("remove")
@click.argument("name")
@pass_ctx
def watch_source_remove(ctx: Ctx, name: str) -> None:
    """Stop watching entry NAME (what it fetched stays).

    \b
    Example:
      sitewatch watch source remove s2
    """
    from sitewatch.alerts import watch_config as W

    with ctx.open() as ws:
        W.remove(ws.config, name)
        ws.save()


@watch_group.command("run")
@click.option("--every", metavar="DURATION", help="Run a cycle every DURATION (15m, 1h …) until Ctrl-C.")
@click.option("--once", is_flag=True, help="One cycle, then exit (the default without --every or [watch] every).")
@click.option("--retry-budget", metavar="DURATION",
              help="Most time one source may spend failing per cycle (default: [watch] retry_budget, 30s).")
@pass_ctx
def watch_run(ctx: Ctx, every: str | None, once: bool, retry_budget: str | None) -> None:
    """Fetch every watched source for every site, then analyse, assess and alert.

    Sources come from [watch.sources] in sitewatch.toml (see `watch source add`); a
    source that fails is recorded (`watch source list`, the dashboard's Sources panel)
    and the others go on. New data → detector on new scenes the GSD gate lets count
    something, every analysis, each site's assessment; then the watch rules (watch.yaml)
    send their new alerts. One JSON line per source and per cycle on stdout. With --every
    the workspace is closed between cycles; Ctrl-C (or SIGTERM) stops cleanly. On a dead
    network each source gives up within its retry budget (a host that cannot be reached
    is tried 3 times in 3 s) and says so in watch-status.json; the next cycle tries again.

    \b
    Examples:
      sitewatch watch run --once
      sitewatch watch run --every 15m
      sitewatch watch run --every 1h --retry-budget 10s
    """
    from sitewatch.alerts import watch_config as W

    if every is not None and once:
        raise InputError("give --every DURATION or --once, not both")
    with ctx.open(read_only=True) as ws:
        plan = W.load(ws.config)
    pace = W.duration_s(every, "--every") if every is not None else (None if once else plan.every_s)
    budget = W.duration_s(retry_budget, "--retry-budget") if retry_budget is not None else None
    _watch_loop(ctx, pace, budget)


def _watch_loop(ctx: Ctx, pace: float | None, retry_budget_s: float | None = None) -> None:
    import dataclasses
    import signal
    import threading

    from sitewatch.alerts import watch_config as W
    from sitewatch.alerts.watch_run import run_cycle
    from sitewatch.cli._common import dumps, on_cancel, set_exit_code

    stop = threading.Event()
    on_cancel(stop.set)
    restore = None
    if pace is not None and threading.current_thread() is threading.main_thread():
        restore = signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def say(line: dict[str, Any]) -> None:
        click.echo(dumps(line))
        if not ctx.quiet:
            what = line.get("error") or f"{line.get('new', 0)} new" + (
                f", {line['pending']} pending" if line.get("pending") else "") + (
                f", {len(line['errors'])} error(s)" if line.get("errors") else "")
            click.echo(f"watch {line['entry']} ({line['source']}): {what}", err=True)

    try:
        while not stop.is_set():
            with ctx.open() as ws:
                plan = W.load(ws.config)
                if retry_budget_s is not None:
                    plan = dataclasses.replace(plan, retry_budget_s=retry_budget_s)
                cyc = run_cycle(ws, plan, say=say)
            click.echo(dumps({"cycle": True, "started": cyc.started, "finished": cyc.finished, **cyc.summary()}))
            if not ctx.quiet:
                click.echo(f"watch cycle: {cyc.new} new, {len(cyc.alerts)} alert(s), {cyc.errors} error(s)"
                           + (f"; next in {W.fmt_duration(pace)}" if pace else ""), err=True)
            if cyc.errors:
                set_exit_code(1)
            if pace is None or stop.wait(pace):
                break
    except KeyboardInterrupt:
        click.echo("watch stopped (Ctrl-C); what each source fetched is kept", err=True)
    finally:
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)


def register(root: click.Group) -> None:
    root.add_command(watch_group)
    root.add_command(alerts_cmd)
