"""What ``watch run`` knows of each watched source: ``WORKSPACE/watch-status.json``.

One record per ``[watch.sources]`` entry: its last attempt and last success (UTC), the last
error (time and message, no secret: messages never carry keys or query strings), error
counts, coverage (the time span the successful fetches searched), the newest data time seen,
what the last run added, and for ADS-B archives the days already fetched. While a source keeps
failing, ``down_since_utc`` says since when (its first failure after a success), and
``last_error.unreachable`` whether its host could not be reached at all (a dead network). Written atomically
after every source, so a killed watch leaves the state of the last finished fetch; read by
the dashboard (``/api/watch/sources``) and by the next run (``every``, days done).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FILE_NAME = "watch-status.json"
MAX_DAYS_KEPT = 120
_LOCK = threading.Lock()


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else None


def _time(v: Any) -> datetime | None:
    if not isinstance(v, str):
        return None
    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass
class Status:
    path: Path
    doc: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> Status:
        path = Path(folder) / FILE_NAME
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = {}
        if not isinstance(doc, dict):
            doc = {}
        doc.setdefault("sources", {})
        return cls(path, doc)

    def entry(self, name: str) -> dict[str, Any]:
        rec: dict[str, Any] = self.doc["sources"].setdefault(name, {
            "entry": name, "errors_total": 0, "consecutive_errors": 0, "last_error": None, "coverage": None,
            "new_total": 0})
        return rec

    def last_success(self, name: str) -> datetime | None:
        return _time(self.doc["sources"].get(name, {}).get("last_success_utc"))

    def attempt(self, name: str, source: str, kind: str, sites: list[str], now: datetime) -> None:
        rec = self.entry(name)
        rec.update(source=source, kind=kind, sites=sites, last_attempt_utc=_iso(now))

    def success(self, name: str, now: datetime, *, new: int, cover_from: datetime | None, cover_to: datetime | None,
                last_data: datetime | None, notes: list[str], errors: list[str], days: list[str] | None = None,
                pending: int = 0, unreachable: bool = False) -> None:
        rec = self.entry(name)
        rec["last_success_utc"] = _iso(now)
        rec["new_last"] = new
        rec["new_total"] = int(rec.get("new_total") or 0) + new
        rec["pending"] = pending
        rec["notes"] = notes[:20]
        cov = rec.get("coverage") or {}
        a, b = _time(cov.get("from")), _time(cov.get("to"))
        if cover_from is not None and cover_to is not None:
            a = cover_from if a is None or b is None or cover_from < a or cover_from > b else a
            b = cover_to if b is None or cover_to > b else b
            rec["coverage"] = {"from": _iso(a), "to": _iso(b)}
        prev = _time(rec.get("last_data_utc"))
        if last_data is not None and (prev is None or last_data > prev):
            rec["last_data_utc"] = _iso(last_data)
        if days is not None:
            rec["days_done"] = sorted(set(rec.get("days_done") or []) | set(days))[-MAX_DAYS_KEPT:]
        if errors:
            self._error(rec, now, "; ".join(errors[:3]) + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""),
                        len(errors), unreachable)
        else:
            rec["consecutive_errors"] = 0
            rec.pop("down_since_utc", None)

    def failure(self, name: str, now: datetime, message: str, unreachable: bool = False) -> None:
        self._error(self.entry(name), now, message, 1, unreachable)

    @staticmethod
    def _error(rec: dict[str, Any], now: datetime, message: str, n: int, unreachable: bool = False) -> None:
        rec["last_error"] = {"t_utc": _iso(now), "message": message[:500], "unreachable": unreachable}
        rec["errors_total"] = int(rec.get("errors_total") or 0) + n
        if not int(rec.get("consecutive_errors") or 0):
            rec["down_since_utc"] = _iso(now)
        rec["consecutive_errors"] = int(rec.get("consecutive_errors") or 0) + 1

    def cycle(self, started: datetime, finished: datetime, summary: dict[str, Any]) -> None:
        self.doc["cycles"] = int(self.doc.get("cycles") or 0) + 1
        self.doc["last_cycle"] = {"started_utc": _iso(started), "finished_utc": _iso(finished), **summary}

    def save(self) -> None:
        self.doc["updated_utc"] = _iso(datetime.now(UTC))
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with _LOCK:
            tmp.write_text(json.dumps(self.doc, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)


def read(folder: Path) -> dict[str, Any]:
    """The status document (empty when no watch ran here)."""
    return Status.load(folder).doc


def overview(folder: Path, config: dict[str, Any], store: Any) -> dict[str, Any]:
    """What the dashboard's Sources panel shows: each configured (or once watched) source with
    its last fetch, last error and coverage, and every fetched source with its licence."""
    from sitewatch.alerts.watch_config import load
    from sitewatch.errors import ConfigError
    from sitewatch.store.ingest_log import sources as fetched

    doc = read(folder)
    recs: dict[str, dict[str, Any]] = doc.get("sources") or {}
    out: dict[str, Any] = {"updated_utc": doc.get("updated_utc"), "cycles": doc.get("cycles", 0),
                           "last_cycle": doc.get("last_cycle"), "config_error": None}
    rows = []
    try:
        plan = load(config)
    except ConfigError as exc:
        out["config_error"] = str(exc)
        plan = None
    names = [e.name for e in plan.sources] if plan else []
    for e in plan.sources if plan else ():
        rec = recs.get(e.name) or {}
        rows.append({"entry": e.name, "source": e.source, "kind": e.kind, "sites": list(e.sites) or ["*"],
                     "configured": True, **{k: v for k, v in rec.items() if k not in ("entry", "source", "kind",
                                                                                       "sites", "days_done")}})
    for name, rec in recs.items():
        if name not in names:
            rows.append({**{k: v for k, v in rec.items() if k != "days_done"}, "configured": False})
    out["sources"] = rows
    out["fetched"] = fetched(store)
    return out
