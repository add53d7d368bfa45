"""Rows as Arrow tables for the façade's reads, and back: what ``Workspace`` and
``RemoteWorkspace`` return and the server sends (Arrow IPC).

Nested values whose shape varies row to row (an event's ``details``, an evidence ``ref``)
travel as JSON text with times as ISO 8601 UTC, as the CLI prints them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from sitewatch.fusion.assessment import Assessment

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
