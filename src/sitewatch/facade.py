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
ingest (:mod:`sitewatch.ingest_options`), and the fusion settings (:class:`FusionSettings`)
read from one place, so the dashboard, ``timeline``/``assess`` and the report agree. Rows
become tables in :mod:`sitewatch.tables`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from sitewatch import kinds as K
from sitewatch.errors import InputError, SitewatchError
from sitewatch.ingest_options import Warn, prepare, resolve_watch_types
from sitewatch.params import parse_time as _time
from sitewatch.params import window as _window
from sitewatch.tables import (
    EVENT_COLUMNS,
    assessment_from_json,
    assessments_table,
    decode_events,
    events_table,
    rows_table,
)

__all__ = ["EVENT_COLUMNS", "AnalyzeSummary", "Facade", "FusionSettings", "Progress", "Warn", "assessment_from_json",
           "assessments_table", "decode_events", "events_table", "resolve_watch_types", "rows_table"]

if TYPE_CHECKING:
    from sitewatch.fusion.assessment import Assessment
    from sitewatch.report.build import ReportResult
    from sitewatch.sites import Site
    from sitewatch.sources.adsb.globe_parts import DayFiles
    from sitewatch.sources.base import ReadOptions
    from sitewatch.store.db import Store
    from sitewatch.store.ingest import FileResult, IngestSummary

log = logging.getLogger(__name__)

Progress = Callable[[int], None]

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
        a file already ingested is skipped. Returns the summary the CLI prints.

        A globe_history day among adsb ``paths`` (a ``.tar``, or its ``.tar.aa``, ``.tar.ab`` …
        parts) is read as one stream, as ``fetch adsb`` reads it, and logged as one input;
        ``per_member=True`` reads its members as files instead, each logged on its own."""
        from sitewatch.store.ingest import IngestSummary, ingest_paths, require_paths

        plist = [str(paths)] if isinstance(paths, str | Path) else [str(p) for p in paths]
        require_paths(plist)
        per_member = bool(options.pop("per_member", False))
        warn = on_warning or (lambda m: log.warning("%s", m))
        with self._writing():
            prepared = prepare(self, kind, options)
            days: list[DayFiles] = []
            if kind == "adsb" and format in ("auto", "readsb-trace") and not per_member:
                from sitewatch.sources.adsb.globe_parts import split_days

                days, plist = split_days(plist)
            summary = ingest_paths(self.store, kind, plist, format, prepared.options, progress=progress,
                                   on_file=on_file) if plist else IngestSummary()
            for day in days:
                r = _ingest_day(self.store, day, prepared.options, progress)
                summary.add(r)
                if on_file:
                    on_file(r)
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
        from sitewatch.store.events import list_events
        from sitewatch.store.evidence import evidence_rows

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
        from sitewatch.store.positions import POSITION_COLUMNS, position_batches

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
            from sitewatch import schema

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
        from sitewatch.store import evidence as EVD

        s = self.site(site)
        t0, t1 = _window(t_from, t_to)
        with self._writing():
            res = E.refresh(self.store, [s], self.fusion.near_km)[0]
        requested = K.split([kind] if isinstance(kind, str) else list(kind or []))
        kind_list = K.resolve_evidence(self.store, requested) if requested else []
        rows = EVD.list_evidence(self.store, s.name, t0, t1, kind_list or None)
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


def _ingest_day(store: Store, day: DayFiles, opts: ReadOptions, progress: Progress | None) -> FileResult:
    """One globe_history day read as a stream; a day that cannot be read fails alone."""
    import os

    from sitewatch.acquire.adsblol import ingest_day_files
    from sitewatch.store.ingest import FileResult

    try:
        return ingest_day_files(store, day, opts, min(2, os.cpu_count() or 1), progress=progress)
    except SitewatchError as exc:
        return FileResult(day.name, None, error=str(exc))
