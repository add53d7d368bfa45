"""``sitewatch report``: one self-contained HTML file per site, readable offline.

Contract: :func:`build_report` refreshes the site's evidence, issues/reads the current
assessment (:func:`sitewatch.fusion.assessment.assess`), computes the indicators and
renders ``report/templates/report.html`` with: the assessment up top (every sentence
footnoted to the numbered evidence table), an inline-SVG map (tracks, gaps, dark-visit
links, vessel movements over an offline land basemap), inline-SVG indicator charts with
baselines, the timeline, before/after imagery chips (base64 PNG), the evidence table
with provenance, methodology and caveats, and a SIMULATED banner when any evidence in
the period comes from a simulator. Nothing in the file refers to the network.
:func:`to_pdf` prints it with headless Chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from sitewatch import __version__
from sitewatch.errors import DependencyError, SitewatchError
from sitewatch.fusion import assessment as A
from sitewatch.fusion import evidence as EV
from sitewatch.fusion import indicators as IND
from sitewatch.fusion.rules import Rule
from sitewatch.report import chips as CH
from sitewatch.report import svgmap
from sitewatch.report.charts import series_svg
from sitewatch.sites import Site
from sitewatch.store import fusion_queries as Q
from sitewatch.store.db import Store

DEFAULT_DAYS = 90  # default period: the site's evidence, at most one baseline window back
MAX_TIMELINE_ROWS = 400
MAX_EVIDENCE_ROWS = 1500
MAX_TRACK_SUBJECTS = 80
MAP_MAX_KM = 120.0
CHROMIUM = "/usr/bin/chromium"


@dataclass
class ReportResult:
    out: str
    bytes: int
    evidence_rows: int
    simulated_rows: int
    assessments: list[dict[str, Any]]
    pdf: str | None = None


def _t(v: datetime) -> str:
    return v.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.2f}"


def _ref_text(r: Mapping[str, Any]) -> str:
    ref = r["ref"] or {}
    t = ref.get("table")
    if t == "events":
        files = "; ".join(f"{Path(str(f.get('path'))).name}:{f.get('first')}–{f.get('last')}"
                          for f in (ref.get("files") or [])[:2])
        return f"event {ref.get('event_id')}" + (f" ({files})" if files else "")
    if t == "detections":
        n = len(ref.get("det_ids") or [])
        return f"scene {str(ref.get('scene_id'))[:12]}" + (f", {n} boxes" if n else "")
    if t == "scenes":
        return f"scene {str(ref.get('scene_id'))[:12]} {ref.get('path') or ''}"
    if t == "observations":
        where = f"{ref.get('path') or ''}:{ref.get('line')}" if ref.get("line") else ""
        return " ".join(x for x in (where, ref.get("url") or "") if x)
    return str(ref)[:80]


def map_layers(store: Store, site: Site, events: Sequence[Mapping[str, Any]], t_from: datetime,
               t_to: datetime) -> list[svgmap.MapLayer]:
    """Tracks of the subjects of ``events`` in the period, gaps, dark-visit links, markers."""
    layers: list[svgmap.MapLayer] = []
    subjects: dict[tuple[str, str], str] = {}
    for e in events:
        if e["subject_kind"] in ("aircraft", "vessel") and e["subject"]:
            src = "adsb" if e["subject_kind"] == "aircraft" else "ais"
            subjects.setdefault((src, str(e["subject"])), str(e.get("ac_type_name") or e.get("vs_name") or ""))
    import pyarrow as pa

    chosen = list(subjects.items())[:MAX_TRACK_SUBJECTS]
    ts = pa.timestamp("us", tz="UTC")
    refs = pa.table({"key": pa.array([f"{s}|{i}" for (s, i), _ in chosen], pa.string()),
                     "source": pa.array([s for (s, _), _ in chosen], pa.string()),
                     "id": pa.array([i for (_, i), _ in chosen], pa.string()),
                     "t_from": pa.array([t_from] * len(chosen), ts), "t_to": pa.array([t_to] * len(chosen), ts)})
    found = Q.tracks_for(store, refs, 400)
    for (src, ident), name in chosen:
        pts = found.get(f"{src}|{ident}", [])
        if len(pts) >= 2:
            layers.append(svgmap.MapLayer("track", src, [(lat, lon) for _, lat, lon in pts],
                                          f"{ident} {name}".strip()))
    gaps = {e["event_id"]: e for e in events if e["kind"] == "dark-gap"}
    for e in events:
        d = e["details"] or {}
        if e["kind"] in ("dark-gap", "ais-gap"):
            lost, re = d.get("lost") or d.get("last_before") or {}, d.get("reacquired") or d.get("first_after") or {}
            if lost.get("lat") is not None and re.get("lat") is not None:
                layers.append(svgmap.MapLayer("gap", "adsb" if e["kind"] == "dark-gap" else "ais",
                                              [(lost["lat"], lost["lon"]), (re["lat"], re["lon"])],
                                              e.get("summary") or e["kind"]))
        if e["kind"] == "dark-visit" and e["lat"] is not None:
            g = gaps.get(str(d.get("gap_event_id")))
            gd = (g or {}).get("details") or {}
            lost, re = gd.get("lost") or {}, gd.get("reacquired") or {}
            link: list[tuple[float, float]] = [(float(e["lat"]), float(e["lon"]))]
            if lost.get("lat") is not None:
                link.insert(0, (float(lost["lat"]), float(lost["lon"])))
            if re.get("lat") is not None:
                link.append((float(re["lat"]), float(re["lon"])))
            if len(link) >= 2:
                layers.append(svgmap.MapLayer("link", "adsb", link, e.get("summary") or "dark visit"))
        if e["lat"] is not None and e["lon"] is not None:
            sensor = EV.sensor_of_event(e)
            layers.append(svgmap.MapLayer("marker", sensor, [(float(e["lat"]), float(e["lon"]))],
                                          f"{_t(e['t_start'])} {e.get('summary') or e['kind']}",
                                          {"r": 3.5}))
    return layers


def build_report(store: Store, site: Site, rules: Mapping[str, Rule], out: str | Path,
                 t_from: datetime | None = None, t_to: datetime | None = None,
                 near_km: float = EV.DEFAULT_NEAR_KM, window_days: int = IND.WINDOW_DAYS) -> ReportResult:
    """Write the report of ``site`` to ``out`` (atomically) and return a summary."""
    import jinja2

    # a report of another period is a what-if: shown, never issued over the current assessment
    assessments = A.assess(store, site, rules, t_to, near_km, window_days, issue=t_to is None)
    as_of = assessments[0].as_of if assessments else (t_to or datetime.now(UTC))
    t_to = t_to or as_of
    all_rows = Q.list_evidence(store, site.name)
    if t_from is None:
        first = min((r["t_start"] for r in all_rows if r["t_start"] < t_to), default=t_to - timedelta(days=1))
        first = first.replace(hour=0, minute=0, second=0, microsecond=0)
        t_from = max(first, t_to - timedelta(days=DEFAULT_DAYS))
    if t_from >= t_to:
        raise SitewatchError(f"--from {t_from.isoformat()} is not before --to {t_to.isoformat()}")
    by_id = {r["evidence_id"]: r for r in all_rows}
    coverage = Q.coverage_days(store, EV.near_bbox(site, near_km))
    series = IND.compute_from_rows([r for r in all_rows if r["t_start"] < t_to], coverage, site, t_to, t_from,
                                   window_days)
    # daily coverage rows back "observed" zeros; they appear in the tables only when cited
    period_all = [r for r in all_rows if t_from <= r["t_start"] < t_to]
    period = [r for r in period_all if r["kind"] not in IND.COVERAGE_KINDS]

    # footnotes: cited rows first, numbered in order of citation
    cited: list[str] = []

    def cite(ids: Sequence[str]) -> Markup:
        marks = []
        for i in ids:
            if i not in by_id:
                continue
            if i not in cited:
                cited.append(i)
            n = cited.index(i) + 1
            marks.append(f'<a href="#ev-{n}" title="{escape(by_id[i]["text"])}">[{n}]</a>')
        return Markup(f"<sup>{''.join(marks)}</sup>") if marks else Markup("")

    events = [e for e in Q.site_events(store, site.name, EV.near_bbox(site, near_km))
              if t_from <= e["t_start"] < t_to]
    layers = map_layers(store, site, events, t_from, t_to)
    bbox = svgmap.fit_bbox(site, layers, max(MAP_MAX_KM, near_km * 1.1), max(3.0, (site.radius_km or 3.0) * 2.5))
    map_svg, map_note = svgmap.render(site, layers, bbox)
    shown = [s for s in series if s.status == "observed" or any(d.status == "not resolvable" for d in s.days)]
    charts = [(s, series_svg(s, f"chart-{i}")) for i, s in enumerate(shown)]
    all_scenes = Q.site_scenes(store, site.name)
    scenes = [s for s in all_scenes if s["t_utc"] is not None and t_from <= s["t_utc"] < t_to]
    chip_list = CH.before_after(store, scenes)

    env = jinja2.Environment(loader=jinja2.PackageLoader("sitewatch.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)
    tpl = env.get_template("report.html")
    ordered = sorted(assessments, key=lambda a: -a.probability)
    # render once to collect the citations in reading order, then build the tables
    ctx: dict[str, Any] = {
        "site": site, "version": __version__, "generated": _t(datetime.now(UTC)),
        "period_text": f"{_t(t_from)} to {_t(t_to)}", "as_of_text": _t(as_of),
        "assessments": ordered, "map_svg": Markup(map_svg), "map_note": map_note,
        "ach": ordered[0].ach if ordered else {}, "abbr": A._ABBR,
        "n_tracks": sum(1 for x in layers if x.kind == "track"), "n_gaps": sum(1 for x in layers if x.kind == "gap"),
        "n_links": sum(1 for x in layers if x.kind == "link"),
        "n_markers": sum(1 for x in layers if x.kind == "marker"),
        "series": series, "charts": charts, "unobserved": [s for s in series if s not in shown],
        "window_days": window_days, "short_days": IND.SHORT_DAYS, "near_km": near_km,
        "chips": chip_list, "n_scenes_all": len(all_scenes) - len(scenes), "rules": list(rules.values()), "cite": cite, "fmt": _fmt, "tfmt": _t,
        "timeline": [], "timeline_more": 0, "evidence": [], "evidence_more": 0,
        "simulated_rows": 0, "n_evidence": 0, "n_coverage": 0, "sensors_text": "",
    }
    tpl.render(**ctx)
    ev_rows = [by_id[i] for i in cited] + [r for r in period if r["evidence_id"] not in set(cited)]
    shown_rows = ev_rows[:MAX_EVIDENCE_ROWS]
    anchor: dict[str, str] = {}
    table = []
    for n, r in enumerate(shown_rows, start=1):
        anchor[r["evidence_id"]] = f"ev-{n}"
        table.append({"n": n, "anchor": f"ev-{n}", "t": _t(r["t_start"]), "kind": r["kind"], "value": r["value"],
                      "text": r["text"], "sensor": r["sensor"], "provider": r["provider"],
                      "sha": (r["file_sha256"] or "")[:16], "ref": _ref_text(r), "confidence": r["confidence"],
                      "simulated": bool(r["simulated"])})
    tl = [r for r in period if not (r["kind"] in ("imagery.count", "imagery.limit") and not r["value"])]
    timeline = [{"t": _t(r["t_start"]), "kind": r["kind"], "text": r["text"], "sensor": r["sensor"],
                 "simulated": bool(r["simulated"]), "anchor": anchor.get(r["evidence_id"], ""),
                 "short": r["evidence_id"]} for r in tl[:MAX_TIMELINE_ROWS]]
    sim = sum(1 for r in {r["evidence_id"]: r for r in [*period, *(by_id[i] for i in cited)]}.values()
              if r["simulated"])
    sensors: dict[str, int] = {}
    for r in period:
        sensors[r["sensor"]] = sensors.get(r["sensor"], 0) + 1
    ctx.update({"evidence": table, "evidence_more": max(0, len(ev_rows) - len(shown_rows)),
                "timeline": timeline, "timeline_more": max(0, len(period) - len(timeline)),
                "simulated_rows": sim, "n_evidence": len(period), "n_coverage": len(period_all) - len(period),
                "sensors_text": ", ".join(f"{n} {k}" for k, n in sorted(sensors.items())) or "none"})
    html = tpl.render(**ctx)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, out)
    return ReportResult(str(out), len(html.encode()), len(period), sim,
                        [{"hypothesis": a.hypothesis, "likelihood": a.likelihood, "probability": round(a.probability, 3),
                          "confidence": a.confidence, "revision": a.revision} for a in ordered])


def chromium_path() -> str | None:
    """The Chromium binary to use, or ``None`` when there is none."""
    env = os.environ.get("SITEWATCH_CHROMIUM")
    for cand in (env, CHROMIUM, shutil.which("chromium"), shutil.which("chromium-browser")):
        if cand and Path(cand).is_file():
            return cand
    return None


CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")


def to_pdf(html_path: str | Path, pdf_path: str | Path, timeout_s: float = 120.0) -> str:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium; return the PDF path."""
    exe = chromium_path()
    if exe is None:
        raise DependencyError("--pdf needs Chromium (/usr/bin/chromium); install it, e.g. "
                              "`apt-get install chromium`, or open the HTML and print it from a browser")
    pdf = Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory(prefix="sitewatch-chromium-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
               f"--print-to-pdf={pdf}", Path(html_path).resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise SitewatchError(f"Chromium did not print the PDF within {timeout_s:.0f} s") from None
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise SitewatchError(f"Chromium could not print the PDF (exit {proc.returncode}): {proc.stderr[-400:]}")
    return str(pdf)
