"""What a workspace does: the one library entry point behind the CLI, the server, the demo
and notebooks.

:class:`Facade` is mixed into :class:`~sitewatch.workspace.Workspace` (the folder opened
directly) and mirrored method for method by :class:`~sitewatch.remote.RemoteWorkspace`
(the same workspace through the server that owns it):

* writes — :meth:`~Facade.ingest`, :meth:`~Facade.analyze`, :meth:`~Facade.report`
  (and :meth:`~Facade.assess`, which issues a revision when the judgement changed);
* reads — :meth:`~Facade.events`, :meth:`~Facade.positions`, :meth:`~Facade.timeline`,
  :meth:`~Facade.indicators` return a :class:`pyarrow.Table` (``.to_pandas()`` works);
  :meth:`~Facade.assess` returns :class:`~sitewatch.fusion.assessment.Assessment` objects,
  one per hypothesis, highest probability first (:func:`assessments_table` makes a table).

Logic that used to live only in CLI modules lives here: the AIS vessel refresh after an AIS
ingest, ``watch_types`` resolved to aircraft addresses, the co-registration after an imagery
ingest, and the fusion settings (:class:`FusionSettings`) read from one place, so the
dashboard, ``timeline``/``assess`` and the report agree.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from sitewatch import kinds as K
from sitewatch.errors import InputError
from sitewatch.params import parse_ref
from sitewatch.params import parse_time as _time
from sitewatch.params import window as _window

if TYPE_CHECKING:
    from sitewatch.fusion.assessment import Assessment
    from sitewatch.report.build import ReportResult
    from sitewatch.sites import Site
    from sitewatch.store.db import Store
    from sitewatch.store.ingest import FileResult, IngestSummary

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
Warn = Callable[[str], None]

EVENT_COLUMNS = ("event_id", "kind", "site", "t_start", "t_end", "subject", "subject_kind", "confidence", "lat",
                 "lon", "summary", "details", "evidence", "analysis", "canonical_kind")
_TS = pa.timestamp("us", tz="UTC")
EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("kind", pa.string()), ("site", pa.string()), ("t_start", _TS), ("t_end", _TS),
    ("subject", pa.string()), ("subject_kind", pa.string()), ("confidence", pa.float64()), ("lat", pa.float64()),
    ("lon", pa.float64()), ("summary", pa.string()), ("details", pa.string()), ("evidence", pa.string()),
    ("analysis", pa.string()), ("canonical_kind", pa.string()),
])


def to_json(v: Any) -> str:
    """Nested values as JSON text, times as ISO 8601 UTC (``…Z``), as the CLI prints them."""
    return json.dumps(v, default=_jsonable, ensure_ascii=False)


def _jsonable(v: Any) -> Any:
    from datetime import UTC, date

    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(v, date):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return str(v)


@dataclass(frozen=True)
class FusionSettings:
    """``[settings.fusion]``: read once per use, the same for every consumer."""

    near_km: float
    window_days: int

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> FusionSettings:
        from sitewatch.fusion.evidence import DEFAULT_NEAR_KM
        from sitewatch.fusion.indicators import WINDOW_DAYS

        fusion = settings.get("fusion") if isinstance(settings.get("fusion"), Mapping) else {}
        assert isinstance(fusion, Mapping)
        try:
            return cls(float(fusion.get("near_km", DEFAULT_NEAR_KM)), int(fusion.get("window_days", WINDOW_DAYS)))
        except (TypeError, ValueError):
            from sitewatch.errors import ConfigError

            raise ConfigError("[settings.fusion] near_km must be a number and window_days a whole number "
                              "of days; fix sitewatch.toml") from None


@dataclass
class AnalyzeSummary:
    """What ``analyze`` did: events per analysis and the time it took."""

    by_analysis: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"analyses": len(self.by_analysis), "events": sum(self.by_analysis.values()),
                "by_analysis": dict(self.by_analysis), "seconds": round(self.seconds, 2)}


# -- ingest options, per kind ------------------------------------------------------------------
@dataclass
class Prepared:
    """Read options for one ingest, and what to do once the files are in."""

    options: Any  # sitewatch.sources.base.ReadOptions
    after: Callable[[Any, IngestSummary, Warn], None] | None = None


def _prepare_adsb(ws: Any, o: dict[str, Any]) -> Prepared:
    from sitewatch.sources.base import ReadOptions

    extra: dict[str, Any] = {}
    icao24 = o.pop("icao24", None)
    if icao24 is not None:
        if not (len(icao24) == 6 and all(c in "0123456789abcdefABCDEF" for c in icao24)):
            raise InputError(f"icao24 {icao24!r} is not a 24-bit hex address (e.g. 3b7777)")
        extra["icao24"] = icao24.lower()
    watch = o.pop("watch_types", None)
    if watch:
        codes, ids = resolve_watch_types(ws.store, watch)
        extra["watch_types"] = ",".join(codes)
        extra["only_ids"] = frozenset(ids)  # not JSON: used, not recorded
    reference = parse_ref(o.pop("ref", None), o.pop("airport", None))
    return Prepared(ReadOptions(start=_time(o.pop("start", None), "--start"), reference=reference, extra=extra))


def resolve_watch_types(store: Store, watch_types: str | Sequence[str]) -> tuple[list[str], set[str]]:
    """``"A124,IL76"`` or ``"default"`` → (type codes, addresses of aircraft of those types)."""
    from sitewatch.reference.types import DEFAULT_WATCH, parse_codes
    from sitewatch.store.aircraft_queries import ids_of_types

    text = watch_types if isinstance(watch_types, str) else ",".join(watch_types)
    codes = list(DEFAULT_WATCH) if text.strip().lower() == "default" else list(parse_codes(text))
    ids = set(ids_of_types(store, codes))
    if not ids:
        raise InputError(f"no aircraft of types {','.join(codes)} in the workspace; load a database first: "
                         "sitewatch aircraft load-db PATH")
    return codes, ids


def _prepare_ais(ws: Any, o: dict[str, Any]) -> Prepared:
    from sitewatch.sources.base import ReadOptions

    extra = {"keep_bad_checksum": True} if o.pop("keep_bad_checksum", False) else {}

    def after(w: Any, summary: IngestSummary, warn: Warn) -> None:
        from sitewatch.vessels import refresh_workspace

        refresh_workspace(w)

    return Prepared(ReadOptions(start=_time(o.pop("start", None), "--start"), extra=extra), after)


def _prepare_observations(ws: Any, o: dict[str, Any]) -> Prepared:
    from sitewatch.sources.base import ReadOptions

    def after(w: Any, summary: IngestSummary, warn: Warn) -> None:
        from sitewatch.store.fusion_queries import observed_sites

        unknown = sorted(observed_sites(w.store) - set(w.sites))
        if unknown:
            warn(f"observations name sites that are not in this workspace: {', '.join(unknown)}; "
                 "add them with `sitewatch site add` to use these observations")

    return Prepared(ReadOptions(), after)


def _prepare_imagery(ws: Any, o: dict[str, Any]) -> Prepared:
    from sitewatch.sources.base import ReadOptions

    site = o.pop("site", None)
    if not site:
        raise InputError("imagery needs the site the scenes show (site=NAME / --site NAME)")
    ws.site(site)  # fails early, naming close matches
    extra: dict[str, Any] = {"site": site}
    t = _time(o.pop("time", None), "--time")
    if t is not None:
        extra["time"] = t.isoformat()
    gsd = o.pop("gsd_m", None)
    if gsd is not None:
        if float(gsd) <= 0:
            raise InputError("--gsd-m must be positive (metres per pixel)")
        extra["gsd_m"] = float(gsd)
    for k in ("provider", "crs", "corners"):
        v = o.pop(k, None)
        if v is not None:
            extra[k] = v
    coreg = bool(o.pop("coreg", True))

    def after(w: Any, summary: IngestSummary, warn: Warn) -> None:
        if not coreg or not summary.accepted:
            return
        from sitewatch.imagery import coreg as C

        for r in C.align_site(w.store, site):
            if r.status == "failed":
                warn(f"scene {r.scene_id} could not be co-registered: {r.reason}")

    return Prepared(ReadOptions(extra=extra), after)


def _prepare_plain(ws: Any, o: dict[str, Any]) -> Prepared:
    from sitewatch.sources.base import ReadOptions

    return Prepared(ReadOptions(start=_time(o.pop("start", None), "--start")))


PREPARE: dict[str, Callable[[Any, dict[str, Any]], Prepared]] = {
    "adsb": _prepare_adsb, "ais": _prepare_ais, "observations": _prepare_observations,
    "imagery": _prepare_imagery, "positions": _prepare_plain, "events": _prepare_plain,
}
INGEST_OPTIONS = {"adsb": ("start", "ref", "airport", "icao24", "watch_types"), "ais": ("start", "keep_bad_checksum"),
                  "observations": (), "imagery": ("site", "time", "gsd_m", "provider", "crs", "corners", "coreg"),
                  "positions": ("start",), "events": ("start",)}


def prepare(ws: Any, kind: str, options: Mapping[str, Any]) -> Prepared:
    """Read options for ``kind`` from keyword options (unknown ones are an error naming the valid ones)."""
    if kind not in PREPARE:
        raise InputError(f"unknown kind of data {kind!r}; one of: {', '.join(PREPARE)}")
    o = {k: v for k, v in options.items() if v is not None}
    prepared = PREPARE[kind](ws, o)
    if o:
        valid = ", ".join(INGEST_OPTIONS[kind]) or "none"
        raise InputError(f"unknown {kind} ingest option(s) {', '.join(sorted(o))}; valid: {valid}")
    return prepared


# -- helpers shared with the server and the remote client --------------------------------------
def events_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Events rows (``details``/``evidence`` decoded or not) as a table of :data:`EVENT_SCHEMA`;
    ``details``, ``evidence`` (and ``evidence_rows`` when present) are JSON text."""
    def text(v: Any) -> str | None:
        return v if v is None or isinstance(v, str) else to_json(v)

    cols: dict[str, list[Any]] = {c: [r.get(c) for r in rows] for c in EVENT_COLUMNS}
    for c in ("details", "evidence"):
        cols[c] = [text(v) for v in cols[c]]
    t = pa.table(cols, schema=EVENT_SCHEMA)
    if rows and "evidence_rows" in rows[0]:
        t = t.append_column("evidence_rows", pa.array([text(r.get("evidence_rows")) for r in rows], pa.string()))
    return t


def decode_events(table: pa.Table) -> list[dict[str, Any]]:
    """Rows of :func:`events_table` with ``details``, ``evidence`` (``evidence_rows``) as objects again."""
    rows = table.to_pylist()
    for r in rows:
        for c in ("details", "evidence", "evidence_rows"):
            if c in r and isinstance(r[c], str):
                r[c] = json.loads(r[c])
        r.setdefault("details", {})
    return rows


def rows_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Dict rows as a table; nested values (dicts, lists: their shapes vary row to row) as JSON text."""
    out = [{k: (to_json(v) if isinstance(v, dict | list | tuple) else v) for k, v in r.items()} for r in rows]
    return pa.Table.from_pylist(out)


def assessments_table(items: Sequence[Assessment]) -> pa.Table:
    """One row per hypothesis: site, hypothesis, title, probability, likelihood, confidence,
    status, leading, rank, as_of, judgement (text), evidence_ids; ``body`` the whole JSON."""
    rows = [{"site": a.site, "hypothesis": a.hypothesis, "title": a.title, "probability": a.probability,
             "likelihood": a.likelihood, "confidence": a.confidence, "status": a.status, "leading": a.leading,
             "rank": a.rank, "as_of": a.as_of, "revision": a.revision, "what_if": a.what_if,
             "judgement": a.judgement.text, "evidence_ids": a.evidence_ids(),
             "body": to_json(a.as_json())} for a in items]
    return pa.Table.from_pylist(rows)


def assessment_from_json(j: Mapping[str, Any]) -> Assessment:
    """An :class:`~sitewatch.fusion.assessment.Assessment` back from its ``as_json`` (over HTTP)."""
    from sitewatch.fusion.assessment import Assessment, Contribution, Sentence

    def t(v: Any) -> datetime | None:
        return datetime.fromisoformat(v.replace("Z", "+00:00")) if isinstance(v, str) else v

    d = dict(j)
    for k in ("judgement", "confidence_sentence"):
        d[k] = Sentence(**d[k])
    for k in ("supporting", "against", "neutral"):
        d[k] = [Sentence(**s) for s in d[k]]
    d["contributions"] = [Contribution(**c) for c in d["contributions"]]
    for k in ("as_of", "issued", "evidence_through"):
        d[k] = t(d.get(k))
    known = set(Assessment.__dataclass_fields__)
    return Assessment(**{k: v for k, v in d.items() if k in known})


# -- the façade ----------------------------------------------------------------------------------
class Facade:
    """The operations of a workspace opened directly (mixed into :class:`Workspace`)."""

    # provided by Workspace
    folder: Path

    @property
    def store(self) -> Store:  # pragma: no cover - Workspace's
        raise NotImplementedError

    @property
    def settings(self) -> dict[str, Any]:  # pragma: no cover - Workspace's
        raise NotImplementedError

    @property
    def sites(self) -> dict[str, Site]:  # pragma: no cover - Workspace's
        raise NotImplementedError

    def site(self, name: str) -> Site:  # pragma: no cover - Workspace's
        raise NotImplementedError

    @property
    def fusion(self) -> FusionSettings:
        return FusionSettings.of(self.settings)

    def _writing(self) -> Any:
        """The store's write gate when shared by a server's threads (one writer at a time), else a no-op."""
        import contextlib

        return getattr(self.store, "gate", None) or contextlib.nullcontext()

    # -- writes ------------------------------------------------------------------------------
    def ingest(self, kind: str, paths: str | Path | Iterable[str | Path], format: str = "auto", *,
               progress: Progress | None = None, on_file: Callable[[FileResult], None] | None = None,
               on_warning: Warn | None = None, **options: Any) -> IngestSummary:
        """Ingest files (or folders, archives) as ``kind`` data: ``adsb``, ``ais``, ``imagery``,
        ``observations``, ``positions`` or ``events``. ``options`` are the kind's (e.g. ``start``,
        ``airport``, ``watch_types`` for adsb; ``site``, ``provider`` for imagery). Idempotent:
        a file already ingested is skipped. Returns the summary the CLI prints."""
        from sitewatch.store.ingest import ingest_paths, require_paths

        plist = [str(paths)] if isinstance(paths, str | Path) else [str(p) for p in paths]
        require_paths(plist)
        warn = on_warning or (lambda m: log.warning("%s", m))
        with self._writing():
            prepared = prepare(self, kind, options)
            summary = ingest_paths(self.store, kind, plist, format, prepared.options, progress=progress,
                                   on_file=on_file)
            if prepared.after is not None:
                prepared.after(self, summary, warn)
        return summary

    def analyze(self, only: Sequence[str] | None = None, t_from: datetime | str | None = None,
                t_to: datetime | str | None = None, progress: Callable[[str], None] | None = None) -> AnalyzeSummary:
        """(Re)compute the events of every registered analysis (or those named by ``only``)."""
        from sitewatch.analytics.base import AnalysisContext, run

        t0, t1 = _window(t_from, t_to)
        with self._writing():
            results = run(AnalysisContext(self.store, self.sites, self.settings, t0, t1, progress=progress),
                          list(only) if only else None)
        return AnalyzeSummary({r.analysis: r.events for r in results}, sum(r.seconds for r in results))

    def report(self, site: str, out: str | Path, t_from: datetime | str | None = None,
               t_to: datetime | str | None = None, pdf: bool = False) -> ReportResult:
        """Write the HTML report of ``site`` (and its appendix) to ``out``; ``pdf`` also prints it."""
        from sitewatch.fusion import rules as R
        from sitewatch.report.build import build_report, pdf_pages, to_pdf

        s = self.site(site)
        t0, t1 = _window(t_from, t_to)
        f = self.fusion
        with self._writing():
            others = [o for o in self.sites.values() if o.name != s.name]
            res = build_report(self.store, s, R.load_all(self.folder), out, t0, t1, f.near_km, f.window_days,
                               others=others)
        if pdf:
            res.pdf = to_pdf(str(out), Path(out).with_suffix(".pdf"))
            res.pages = pdf_pages(res.pdf)
        return res

    def assess(self, site: str, at: datetime | str | None = None, save: bool = False) -> list[Assessment]:
        """Judge the hypothesis set of ``site``: one :class:`Assessment` per hypothesis, highest
        probability first. Without ``at`` a revision is issued when anything changed; ``at`` is
        a what-if, issued only with ``save``."""
        from sitewatch.fusion import assessment as A
        from sitewatch.fusion import rules as R

        s = self.site(site)
        t_at = _time(at, "--at")
        f = self.fusion
        with self._writing():
            items = A.assess(self.store, s, R.load_all(self.folder), t_at, f.near_km, f.window_days,
                             issue=(t_at is None) or save)
        return sorted(items, key=lambda a: -a.probability)

    # -- reads ---------------------------------------------------------------------------------
    def events(self, site: str | None = None, kind: str | Sequence[str] | None = None, subject: str | None = None,
               t_from: datetime | str | None = None, t_to: datetime | str | None = None, limit: int | None = None,
               evidence: bool = False) -> pa.Table:
        """Events in time order (:data:`EVENT_COLUMNS`; ``details``/``evidence`` as JSON text).
        ``kind``: canonical (``air.arrival``) or short (``arrival``) names, a list or comma-separated."""
        from sitewatch.store.events import evidence_rows, list_events

        if site:
            self.site(site)
        t0, t1 = _window(t_from, t_to)
        requested = K.split([kind] if isinstance(kind, str) else list(kind or []))
        short, wanted = K.resolve_events(self.store, requested) if requested else ([], set())
        rows = list_events(self.store, site, short or None, t0, t1, subject, limit)
        K.name_rows(rows)
        rows = [r for r in rows if not wanted or r["canonical_kind"] in wanted]
        if evidence:
            for r in rows:
                r["evidence_rows"] = [evidence_rows(self.store, ref) for ref in r["evidence"]]
        return events_table(rows)

    def positions(self, site: str | None = None, source: str | None = None, subject: str | None = None,
                  t_from: datetime | str | None = None, t_to: datetime | str | None = None,
                  limit: int | None = None) -> pa.Table:
        """Positions in time order (t_utc, source, id, lat, lon, alt_ft, speed_kt, track_deg,
        onground), inside ``site``'s watch area when given; ``subject`` an icao24 or MMSI."""
        from sitewatch.store.export import POSITION_COLUMNS, position_batches

        s = self.site(site) if site else None
        if source not in (None, "adsb", "ais"):
            raise InputError(f"source {source!r} is not adsb or ais")
        if limit is not None and limit < 0:
            raise InputError("limit must be >= 0")
        t0, t1 = _window(t_from, t_to)
        out: list[pa.RecordBatch] = []
        n = 0
        for rb in position_batches(self.store, s, t0, t1, source):
            if subject is not None:
                rb = rb.filter(pa.compute.equal(rb.column("id"), subject))
            if limit is not None and n + rb.num_rows > limit:
                rb = rb.slice(0, limit - n)
            out.append(rb)
            n += rb.num_rows
            if limit is not None and n >= limit:
                break
        if not out:
            from sitewatch.store import schema

            decl = schema.POSITIONS.arrow_schema()
            return pa.schema([decl.field(c) for c in POSITION_COLUMNS]).empty_table()
        return pa.Table.from_batches(out)

    def timeline(self, site: str, t_from: datetime | str | None = None, t_to: datetime | str | None = None,
                 kind: str | Sequence[str] | None = None, coverage: bool = False) -> pa.Table:
        """The evidence timeline of ``site`` (rebuilt first), in time order; ``ref`` as JSON text."""
        rows, _ = self.timeline_rows(site, t_from, t_to, kind, coverage)
        return rows_table(rows)

    def timeline_rows(self, site: str, t_from: datetime | str | None = None, t_to: datetime | str | None = None,
                      kind: str | Sequence[str] | None = None,
                      coverage: bool = False) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """(rows, what could not be placed in time) of the timeline: the CLI's form."""
        from sitewatch.fusion import evidence as E
        from sitewatch.store import fusion_queries as Q

        s = self.site(site)
        t0, t1 = _window(t_from, t_to)
        with self._writing():
            res = E.refresh(self.store, [s], self.fusion.near_km)[0]
        requested = K.split([kind] if isinstance(kind, str) else list(kind or []))
        kind_list = K.resolve_evidence(self.store, requested) if requested else []
        rows = Q.list_evidence(self.store, s.name, t0, t1, kind_list or None)
        if not coverage and not kind_list:
            rows = [r for r in rows if not r["kind"].endswith(".coverage")]
        return rows, dict(res.skipped)

    def indicators(self, site: str, at: datetime | str | None = None, t_from: datetime | str | None = None,
                   days: bool = False) -> pa.Table:
        """One row per daily indicator of ``site`` (value, baseline, score, status, sentence);
        ``days`` adds each series' days as JSON text."""
        out = []
        for x in self.indicator_series(site, at, t_from):
            j = x.as_json()
            if not days:
                j.pop("days", None)
            out.append(j)
        return rows_table(out)

    def indicator_series(self, site: str, at: datetime | str | None = None,
                         t_from: datetime | str | None = None) -> list[Any]:
        """The indicator series objects (:class:`sitewatch.fusion.indicators.Series`)."""
        from sitewatch.fusion import evidence as E
        from sitewatch.fusion import indicators as I

        s = self.site(site)
        f = self.fusion
        with self._writing():
            E.refresh(self.store, [s], f.near_km)
        return list(I.compute(self.store, s, _time(at, "--at"), _time(t_from, "--from"), f.window_days,
                              near_km=f.near_km))
