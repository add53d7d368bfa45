"""``sitewatch report``: a short HTML report per site that an editor reads in two minutes,
and an appendix beside it with everything else.

Contract: :func:`build_report` judges the site once (:func:`sitewatch.report.judged.judge`,
or takes a :class:`~sitewatch.report.judged.Judged` it is given) and renders from it —
never reading or recomputing the evidence a second time — ``report/templates/report.html``:
the bottom line first (the leading judgement in plain words, its ICD-203 likelihood and
confidence, what would change it), the key judgements (percentages adding up to 100), the
ACH matrix, the key evidence named as a reader names it (aircraft by type and registration,
ships by name, class and flag; which airframes were at the base on which day), a short
day-by-day digest of the key events, a labelled map, annotated imagery chips of the scenes
that drive the judgement, the indicator charts of the diagnostic items, and the sources
with their licences. Footnotes link to the numbered rows of the evidence table in the
appendix written beside it (``<name>.appendix.html``, with the full assessment, indicators,
timeline and evidence table; ``<name>.evidence.csv`` and ``<name>.timeline.csv``). No local
path appears: files are named by name and sha256 prefix. A SIMULATED banner tops every page
whose evidence includes simulated rows. Nothing refers to the network. A report with
``--to`` is a what-if: nothing is issued. :func:`to_pdf` prints it with headless Chromium.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from markupsafe import Markup

from sitewatch import __version__
from sitewatch.errors import DependencyError, SitewatchError
from sitewatch.fusion import evidence as EV
from sitewatch.fusion import indicators as IND
from sitewatch.fusion import items as IT
from sitewatch.fusion.rules import Rule
from sitewatch.report import chips as CH
from sitewatch.report import content as C
from sitewatch.report import keyevents as K
from sitewatch.report import sources as SRC
from sitewatch.report import svgmap
from sitewatch.report.charts import series_svg
from sitewatch.report.judged import Judged, judge
from sitewatch.report.mapping import key_layers, map_layers
from sitewatch.report.names import Names
from sitewatch.sites import Site
from sitewatch.store import detections as DET
from sitewatch.store import events as EVT
from sitewatch.store import scenes as SC
from sitewatch.store.db import Store

__all__ = ["ReportResult", "build_report", "chromium_path", "map_layers", "pdf_pages", "to_pdf"]

DEFAULT_DAYS = 90  # default period: the site's evidence, at most one baseline window back
KEY_DAYS = IT.KEY_DAYS  # the key window: the days the judgement's key events are read from
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
    appendix: str | None = None
    csv: list[str] = field(default_factory=list)
    pages: int | None = None


def _t(v: datetime) -> str:
    return v.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.2f}"


def _ref_text(r: Mapping[str, Any]) -> str:
    """Where a row comes from, without local paths (files by name)."""
    ref = r["ref"] or {}
    t = ref.get("table")
    if t == "events":
        files = "; ".join(f"{SRC.file_name(f.get('path'))} records {f.get('first')}–{f.get('last')}"
                          for f in (ref.get("files") or [])[:2])
        return f"event {ref.get('event_id')}" + (f" ({files})" if files else "")
    if t == "detections":
        n = len(ref.get("det_ids") or [])
        return f"scene {str(ref.get('scene_id'))[:12]}" + (f", {n} boxes" if n else "")
    if t == "scenes":
        return f"scene {str(ref.get('scene_id'))[:12]} · {SRC.file_name(ref.get('path'))}"
    if t == "observations":
        where = f"{SRC.file_name(ref.get('path'))} line {ref.get('line')}" if ref.get("line") else ""
        return " ".join(x for x in (where, ref.get("url") or "") if x)
    if t == "positions":
        return f"positions {ref.get('source')} {ref.get('day')} ({ref.get('ids')} ids, {ref.get('files')} file(s))"
    return ""


def _files_text(r: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    shas = [s for s in str(r.get("file_sha256") or "").split(",") if s]
    return "; ".join(labels.get(s, f"sha256 {s[:SRC.SHA_CHARS]}") for s in shas[:3]) + (
        f" (+{len(shas) - 3})" if len(shas) > 3 else "")


def _cut(s: IND.Series, t_from: datetime, t_to: datetime) -> IND.Series:
    d0, d1 = t_from.date(), (t_to - timedelta(microseconds=1)).date()
    return dataclasses.replace(s, days=[d for d in s.days if d0 <= d.day <= d1])


def _lead_ids(judged: Judged) -> list[str]:
    lead = judged.leading
    if lead is None:
        return []
    ids: list[str] = []
    for s in [lead.judgement, *lead.supporting, *lead.against]:
        ids += [i for i in s.evidence if i not in ids]
    return ids


def build_report(store: Store, site: Site, rules: Mapping[str, Rule], out: str | Path,
                 t_from: datetime | None = None, t_to: datetime | None = None,
                 near_km: float = EV.DEFAULT_NEAR_KM, window_days: int = IND.WINDOW_DAYS,
                 others: Sequence[Site] = (), judged: Judged | None = None) -> ReportResult:
    """Write the report of ``site`` to ``out`` and its appendix beside it; return a summary.

    ``others``: the other watched sites (drawn on the map when near); ``judged``: render this
    judgement instead of judging (it must be of ``site`` as of ``t_to``)."""
    # a report of another period is a what-if: shown, never issued over the current assessment
    if judged is None:
        judged = judge(store, site, rules, t_to, near_km, window_days, issue=t_to is None)
    as_of = judged.as_of
    t_to = t_to or as_of
    rows = judged.rows
    if t_from is None:
        first = min((r["t_start"] for r in rows), default=t_to - timedelta(days=1))
        first = first.replace(hour=0, minute=0, second=0, microsecond=0)
        t_from = max(first, t_to - timedelta(days=DEFAULT_DAYS))
    if t_from >= t_to:
        raise SitewatchError(f"--from {t_from.isoformat()} is not before --to {t_to.isoformat()}")
    by_id = judged.by_id
    period_all = [r for r in rows if t_from <= r["t_start"] < t_to]
    period = [r for r in period_all if r["kind"] not in IND.COVERAGE_KINDS]
    lead = judged.leading
    lead_ids = set(_lead_ids(judged))
    key_from = max(t_from, as_of - timedelta(days=KEY_DAYS))
    krows = K.key_rows(rows, lead_ids, key_from, as_of)

    names = Names.load(store, [*period_all, *krows])
    scenes = [s for s in SC.site_scenes(store, site.name) if s["t_utc"] is not None and t_from <= s["t_utc"] < t_to]
    dets = DET.measured(store, [str(s["scene_id"]) for s in scenes])
    names.sizes = {str(d["det_id"]): float(d["length_m"]) for d in dets if d.get("length_m") is not None}
    names.named = {str(d["det_id"]): str(d["named_type"]) for d in dets if d.get("named_type")}
    names.size_words = {str(d["det_id"]): str(d["size_words"]) for d in dets if d.get("size_words")}

    out = Path(out)
    stem = out.name[:-5] if out.name.lower().endswith(".html") else out.name
    appendix = out.with_name(f"{stem}.appendix.html")
    ev_csv, tl_csv = out.with_name(f"{stem}.evidence.csv"), out.with_name(f"{stem}.timeline.csv")
    citer = C.Citer(by_id, appendix.name, names.text)

    # map: the key subjects' tracks in the key window, gaps and dark-visit links, labelled
    key_events = {str((r.get("ref") or {}).get("event_id")) for r in krows if (r.get("ref") or {}).get("event_id")}
    near = [e for e in EVT.site_events(store, site.name, EV.near_bbox(site, near_km))
            if key_from <= e["t_start"] < as_of or e["event_id"] in key_events]
    events: list[Mapping[str, Any]] = [e for e in near if e["event_id"] in key_events
              and (e["subject_kind"] != "aircraft" or _key_aircraft(e, names))]
    if not any(e["subject_kind"] in ("aircraft", "vessel") for e in events):
        events = _busiest(near)  # nothing key to draw: the most active subjects of the key window
    layers = key_layers(store, events, names, key_from, as_of, site.lat, site.lon)
    bbox = svgmap.fit_bbox(site, layers, max(MAP_MAX_KM, near_km * 1.1), max(3.0, (site.radius_km or 3.0) * 2.5))
    map_svg, map_note = svgmap.render(site, layers, bbox, [o for o in others if o.name != site.name], inset=True)

    count_rows = [r for r in period if r["kind"] in ("imagery.count", "imagery.limit")]
    grids = SC.scene_grids(store, [str(s["scene_id"]) for s in scenes])
    # the scenes of the items the leading judgement is judged on (its sentences and the ACH rows)
    ach_ids = {i for r in (lead.ach.get("rows", []) if lead else []) if r["diagnostic"] for i in r["evidence"]}
    plans = CH.plan(scenes, count_rows, dets, lead_ids | ach_ids, as_of, KEY_DAYS)
    strips = CH.render(plans, count_rows, dets, grids, names.measured, names.what)
    _adsb_beside_imagery(store, site, strips)

    diag = [r["item"] for r in (lead.ach.get("rows", []) if lead else []) if r["diagnostic"]]
    obs = {o.item: o for o in judged.observations}
    chart_series = []
    for item in diag:
        o = obs.get(item)
        s = judged.series_named(o.series) if o and o.series else None
        if s is not None and s not in chart_series:
            chart_series.append(s)
    charts = [(s, Markup(series_svg(_cut(s, t_from, t_to), f"chart-{i}", 700, 96)))
              for i, s in enumerate(chart_series)]

    judgements = C.key_judgements(judged.assessments)
    grid = K.presence(krows, names, key_from, as_of, rows)
    if not any(g.heavy or g.note != "count on the scene" or any(c.symbol not in ("", "0") for c in g.cells)
               for g in grid.rows):
        grid.rows = []  # nothing but zeros on imagery: no aircraft to show
    sim_rows = sum(1 for r in {r["evidence_id"]: r for r in [*period_all, *(by_id[i] for i in lead_ids)]}.values()
                   if r["simulated"])
    files = SRC.files_used(store, [*period_all, *krows])
    labels = {f.full: f"{f.name} · sha256 {f.sha}" for f in files}
    attributions = SRC.attributions(store, site, period_all, [str(a.get("db_source") or "")
                                                              for a in names.aircraft.values()],
                                    [str(s["scene_id"]) for s in scenes], [str(s.get("provider") or "")
                                                                           for s in scenes])
    ctx: dict[str, Any] = {
        "site": site, "version": __version__, "generated": _t(datetime.now(UTC)),
        "period_text": f"{_t(t_from)} to {_t(t_to)}", "as_of_text": C.when(as_of),
        "through_text": C.when(lead.evidence_through) if lead else "", "what_if": bool(lead and lead.what_if),
        "revision": lead.revision if lead else 0, "key_from_text": K.day_label(key_from.date()),
        "key_to_text": K.day_label((as_of - timedelta(microseconds=1)).date()),
        "bottom": C.bottom_line(judged.assessments, rules, site), "judgements": judgements,
        "pcts": {j.hypothesis: j.pct for j in judgements},
        "lead": lead, "ach": C.ach_view(lead.ach, judged.assessments) if lead else {},
        "digest": K.digest(krows, names), "grid": grid,
        "where": "at the base" if site.kind == "airbase" else "at or near the site",
        "ships": K.ships(krows, names), "map_svg": Markup(map_svg), "map_note": map_note,
        "n_tracks": sum(1 for x in layers if x.kind == "track"), "n_links": sum(1 for x in layers if x.kind == "link"),
        "strips": strips, "frame_svg": lambda f: Markup(CH.frame_svg(f)), "n_scenes": len(scenes),
        "charts": charts, "files": files, "attributions": attributions, "rules": list(rules.values()),
        "cite": citer, "fmt": _fmt, "tfmt": _t, "appendix_name": appendix.name, "csv_names": [ev_csv.name,
                                                                                              tl_csv.name],
        "simulated_rows": sim_rows, "n_evidence": len(period), "window_days": window_days,
        "near_km": near_km, "key_days": KEY_DAYS, "names": names,
    }
    env = _env()
    html = env.get_template("report.html").render(**ctx)
    _write(out, html)

    # appendix: the full assessment, indicators, timeline and the numbered evidence table
    citer.target = ""
    cut = [_cut(s, t_from, t_to) for s in judged.series]
    actx = {**ctx, "assessments": sorted(judged.assessments, key=lambda a: (a.rank or 99, -a.probability)),
            "series": cut, "evidence": [], "timeline": [], "report_name": out.name,
            "n_coverage": len(period_all) - len(period),
            "series_charts": [(s, Markup(series_svg(s, f"achart-{i}", 1000, 110))) for i, s in enumerate(cut)
                              if s.status == "observed" or any(d.status == "not resolvable" for d in s.days)]}
    tpl = env.get_template("appendix.html")
    tpl.render(**actx)  # first pass: every citation numbered
    table = _evidence_table(citer, period_all, by_id, names, labels)
    timeline = [{"t": _t(r["t_start"]), "kind": r["kind"], "text": names.text(r), "sensor": r["sensor"],
                 "subject": names.subject(r), "n": citer.numbers[r["evidence_id"]], "simulated": bool(r["simulated"])}
                for r in period]
    actx.update({"evidence": table, "timeline": timeline})
    _write(appendix, tpl.render(**actx))
    _write_csv(ev_csv, ["n", "evidence_id", "time_utc", "end_utc", "kind", "value", "text", "subject", "sensor",
                        "provider", "source_files", "reference", "confidence", "simulated", "cited"],
               [[e["n"], e["id"], e["t"], e["t_end"], e["kind"], e["value"], e["text"], e["subject"], e["sensor"],
                 e["provider"] or "", e["files"], e["ref"], f"{e['confidence']:.2f}", e["simulated"], e["cited"]]
                for e in table])
    _write_csv(tl_csv, ["time_utc", "kind", "text", "subject", "sensor", "evidence_n", "simulated"],
               [[x["t"], x["kind"], x["text"], x["subject"], x["sensor"], x["n"], x["simulated"]] for x in timeline])
    return ReportResult(str(out), len(html.encode()), len(period), sim_rows,
                        [{"hypothesis": a.hypothesis, "likelihood": a.likelihood, "probability": round(a.probability, 3),
                          "confidence": a.confidence, "revision": a.revision}
                         for a in sorted(judged.assessments, key=lambda a: -a.probability)],
                        appendix=str(appendix), csv=[str(ev_csv), str(tl_csv)])


def _key_aircraft(e: Mapping[str, Any], names: Names) -> bool:
    """Aircraft whose tracks the map draws: heavy transports, military aircraft, aircraft
    that went dark."""
    if e["kind"] in ("dark-gap", "dark-visit"):
        return True
    a = names.airframe(str(e["subject"]))
    return bool(a.get("heavy") or a.get("military") or e.get("ac_military"))


def _busiest(events: Sequence[Mapping[str, Any]], n: int = 10) -> list[Mapping[str, Any]]:
    """The events of the ``n`` aircraft and vessels with most events."""
    count: dict[str, int] = {}
    for e in events:
        if e["subject_kind"] in ("aircraft", "vessel") and e["subject"]:
            count[str(e["subject"])] = count.get(str(e["subject"]), 0) + 1
    top = set(sorted(count, key=lambda k: -count[k])[:n])
    return [e for e in events if str(e["subject"]) in top]


def _evidence_table(citer: C.Citer, period_all: Sequence[Mapping[str, Any]], by_id: Mapping[str, Any],
                    names: Names, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    cited = list(citer.order)
    for r in period_all:  # the rest of the period, numbered after the cited rows
        citer.number(str(r["evidence_id"]))
    out = []
    for i in citer.order:
        r = by_id[i]
        out.append({"n": citer.numbers[i], "anchor": f"ev-{citer.numbers[i]}", "id": i, "t": _t(r["t_start"]),
                    "t_end": _t(r["t_end"]) if r.get("t_end") else "", "kind": r["kind"], "value": _fmt(r["value"]),
                    "text": names.text(r), "subject": names.subject(r), "sensor": r["sensor"],
                    "provider": r["provider"], "files": _files_text(r, labels), "ref": _ref_text(r),
                    "confidence": float(r["confidence"]), "simulated": bool(r["simulated"]),
                    "cited": i in cited})
    return out


def _env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("sitewatch.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)
    env.filters["shy"] = _shy
    return env


def _shy(word: str) -> str:
    """A soft hyphen in the middle of a long word (after a vowel), for narrow table heads."""
    if len(word) < 12:
        return word
    for suffix in ("ment", "ing", "ation", "tion"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 5:
            k = len(word) - len(suffix)
            return word[:k] + "\u00ad" + word[k:]
    k = len(word) // 2
    return word[:k] + "\u00ad" + word[k:]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, path)


def chromium_path() -> str | None:
    """The Chromium binary to use, or ``None`` when there is none."""
    env = os.environ.get("SITEWATCH_CHROMIUM")
    for cand in (env, CHROMIUM, shutil.which("chromium"), shutil.which("chromium-browser")):
        if cand and Path(cand).is_file():
            return cand
    return None


CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")
# links to the appendix file: a PDF would carry them as absolute file:// URLs (a local path)
_FILE_LINK = re.compile(r'\shref="(?!#|https?:|mailto:|data:)[^"]*"')


def to_pdf(html_path: str | Path, pdf_path: str | Path, timeout_s: float = 120.0) -> str:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium; return the PDF path.

    Links to other files (the appendix) are dropped from the printed copy: a PDF would
    keep them as absolute ``file://`` URLs, i.e. a local path."""
    exe = chromium_path()
    if exe is None:
        raise DependencyError("--pdf needs Chromium (/usr/bin/chromium); install it, e.g. "
                              "`apt-get install chromium`, or open the HTML and print it from a browser")
    pdf = Path(pdf_path).resolve()
    html = Path(html_path).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="sitewatch-chromium-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(_FILE_LINK.sub("", html), encoding="utf-8")
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}", "--no-pdf-header-footer",
               f"--print-to-pdf={pdf}", page.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise SitewatchError(f"Chromium did not print the PDF within {timeout_s:.0f} s") from None
    if not pdf.is_file() or pdf.stat().st_size == 0:
        tail = " ".join(proc.stderr.split())[-300:]
        raise SitewatchError(f"Chromium could not print the PDF (exit {proc.returncode}): {tail}")
    return str(pdf)


_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def pdf_pages(pdf_path: str | Path) -> int:
    """Pages of a PDF printed by Chromium (its page objects are not compressed)."""
    return len(_PAGE.findall(Path(pdf_path).read_bytes()))


def _adsb_beside_imagery(store: Store, site: Site, strips: Sequence[CH.Strip]) -> None:
    """Beside each frame, what ADS-B saw land that day of a type that fits the measured size
    ("an object of An-124 size … ; An-124 RA-82040 landed 03:29 UTC"), footnoted to the
    arrival rows; two facts side by side, never a claim that the object *is* that aircraft."""
    from sitewatch.detect import facts as FX

    for st in strips:
        for f in st.frames:
            for q in FX.scene_quotes(store, site.name, f.scene_id):
                if q["adsb"]:
                    ids = [EV.evidence_id(site.name, "events", a["event_id"]) for a in q["adsb"] if a.get("event_id")]
                    f.quotes.append((str(q["text"]), ids))
