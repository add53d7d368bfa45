"""The analysis registry and runner behind ``sitewatch analyze``.

An *analysis* is a function ``(AnalysisContext) -> pyarrow.Table`` returning rows of the
``events`` table (see :func:`events_table`). It is registered with
``@register_analysis("air.site-events", order=20, kinds=(...))``, where each kind is a
short name or a :class:`sitewatch.kinds.EventKind` (its map layer, whether it counts for a
site it happened near): what a kind is is declared here, once. Modules under
``sitewatch.analytics`` are imported by :func:`discover`, so adding an analysis never
edits a central file.

:func:`run` executes the registered analyses in ``order`` and replaces each one's
previous events in one transaction (delete by ``analysis`` name, insert new rows):
re-running ``analyze`` is idempotent, and a crash leaves the previous results intact.
Event ids are deterministic (:func:`event_id`), so the same data gives the same ids.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import pkgutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from sitewatch import schema
from sitewatch.kinds import EventKind, declare
from sitewatch.sites import Site
from sitewatch.store.db import Store
from sitewatch.store.events import replace_analysis

log = logging.getLogger(__name__)


@dataclass
class AnalysisContext:
    """What an analysis may use: the store, the sites, settings and an optional window."""

    store: Store
    sites: dict[str, Site]
    settings: Mapping[str, Any] = field(default_factory=dict)
    t_from: datetime | None = None
    t_to: datetime | None = None
    progress: Callable[[str], None] | None = None

    def setting(self, key: str, default: Any) -> Any:
        """Dotted setting from ``sitewatch.toml`` ``[settings]``, e.g. ``air.gap_low_s``."""
        node: Any = self.settings
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node


AnalysisFn = Callable[[AnalysisContext], pa.Table]


@dataclass(frozen=True)
class Analysis:
    name: str
    fn: AnalysisFn
    order: int
    kinds: tuple[str, ...]
    doc: str
    event_kinds: tuple[EventKind, ...] = ()


_REGISTRY: dict[str, Analysis] = {}


def register_analysis(name: str, order: int = 50,
                      kinds: Sequence[str | EventKind] = ()) -> Callable[[AnalysisFn], AnalysisFn]:
    """Decorator: register ``fn`` as analysis ``name`` producing event ``kinds`` (short names or
    :class:`~sitewatch.kinds.EventKind` declarations)."""
    declared = declare(name, kinds)

    def deco(fn: AnalysisFn) -> AnalysisFn:
        _REGISTRY[name] = Analysis(name, fn, order, tuple(k.name for k in declared),
                                   (fn.__doc__ or "").strip().split("\n")[0], declared)
        return fn

    return deco


def discover() -> dict[str, Analysis]:
    """Import every module under ``sitewatch.analytics`` and return the registry."""
    import sitewatch.analytics as pkg

    for m in pkgutil.walk_packages(pkg.__path__, prefix="sitewatch.analytics."):
        if m.name.rsplit(".", 1)[-1].startswith("_") and not m.ispkg:
            continue
        importlib.import_module(m.name)
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))


@dataclass
class RunResult:
    analysis: str
    events: int
    seconds: float


def run(ctx: AnalysisContext, only: Iterable[str] | None = None) -> list[RunResult]:
    """Run the registered analyses (all, or those whose name starts with one of ``only``)."""
    import time

    regs = discover()
    wanted = list(only or [])
    results = []
    for name, a in regs.items():
        if wanted and not any(name == w or name.startswith(w + ".") or name.startswith(w) for w in wanted):
            continue
        if ctx.progress:
            ctx.progress(name)
        t0 = time.perf_counter()
        rows = a.fn(ctx)
        rows = schema.conform("events", rows) if rows.num_rows else rows
        n = replace_analysis(ctx.store, name, rows)
        results.append(RunResult(name, n, time.perf_counter() - t0))
        log.info("analysis %s: %d events in %.1f s", name, n, results[-1].seconds)
    return results


def event_id(kind: str, subject: str | None, t_start: datetime, analysis: str, extra: str = "") -> str:
    """Deterministic event id: same inputs, same id, across runs and engines."""
    t = t_start.astimezone(UTC).isoformat() if t_start.tzinfo else t_start.isoformat()
    h = hashlib.sha1(f"{analysis}|{kind}|{subject}|{t}|{extra}".encode()).hexdigest()
    return f"{kind}-{h[:16]}"


def events_table(events: Sequence[Mapping[str, Any]], analysis: str) -> pa.Table:
    """Rows of the ``events`` table from dicts.

    Each dict needs ``kind``, ``t_start``, ``confidence`` and ``details`` (a dict); may have
    ``site``, ``t_end``, ``subject``, ``subject_kind``, ``lat``, ``lon``, ``summary``,
    ``evidence`` (list of references, see :func:`position_ref`) and ``event_id``.
    """
    now = datetime.now(UTC)
    cols: dict[str, list[Any]] = {c: [] for c in schema.EVENTS.names}
    for e in events:
        t_start = e["t_start"]
        cols["event_id"].append(e.get("event_id") or event_id(e["kind"], e.get("subject"), t_start, analysis,
                                                              str(e.get("site") or "")))
        cols["kind"].append(e["kind"])
        cols["site"].append(e.get("site"))
        cols["t_start"].append(t_start)
        cols["t_end"].append(e.get("t_end"))
        cols["subject"].append(e.get("subject"))
        cols["subject_kind"].append(e.get("subject_kind"))
        cols["confidence"].append(float(max(0.0, min(1.0, e["confidence"]))))
        cols["lat"].append(e.get("lat"))
        cols["lon"].append(e.get("lon"))
        cols["details"].append(json.dumps(e["details"], default=_json_default, sort_keys=True))
        cols["evidence"].append(json.dumps(e.get("evidence", []), default=_json_default))
        cols["summary"].append(e.get("summary"))
        cols["analysis"].append(analysis)
        cols["t_computed_utc"].append(now)
    decl = schema.EVENTS
    return pa.table({c: pa.array(v, decl.column(c).arrow_type) for c, v in cols.items()})


def position_ref(source: str, ident: str, t0: datetime, t1: datetime | None = None,
                 role: str = "") -> dict[str, Any]:
    """An evidence reference to the positions of ``ident`` between ``t0`` and ``t1``."""
    ref: dict[str, Any] = {"table": "positions", "source": source, "id": ident,
                           "t_from": t0, "t_to": t1 or t0}
    if role:
        ref["role"] = role
    return ref


def _json_default(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if hasattr(v, "item"):
        return v.item()
    if hasattr(v, "tolist"):
        return v.tolist()
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")
