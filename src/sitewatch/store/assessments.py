"""The ``assessments`` table: issued revisions of each site's competing hypotheses.

JSON columns (``evidence_ids``, ``body``, ``changes``) are encoded on insert and decoded by
:func:`assessment_revisions`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow as pa

from sitewatch import schema as S
from sitewatch.store.db import Store
from sitewatch.store.where import Where


def assessment_revisions(store: Store, site: str, hypothesis: str | None = None,
                         as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Issued assessment revisions, oldest first; JSON columns decoded."""
    w = Where().eq("site", site).eq("hypothesis", hypothesis or None).eq("t_as_of", as_of)
    rows = store.rows(f"SELECT * FROM assessments WHERE {w.sql} ORDER BY hypothesis, t_as_of, revision", w.params)
    for r in rows:
        for k in ("evidence_ids", "body", "changes"):
            r[k] = json.loads(r[k]) if r[k] else None
    return rows


def insert_assessment(store: Store, row: dict[str, Any]) -> None:
    """Store one assessment revision (a dict with the ``assessments`` columns)."""
    data = {}
    for c in S.ASSESSMENTS.columns:
        v = row.get(c.name)
        if c.type == "JSON" and v is not None and not isinstance(v, str):
            v = json.dumps(v, sort_keys=True, default=str)
        data[c.name] = pa.array([v], c.arrow_type)
    store.insert("assessments", pa.table(data))


def latest_assessments(store: Store, site: str) -> list[dict[str, Any]]:
    """The most recently issued set of competing hypotheses of ``site`` (issued together, so
    their probabilities sum to 1); what-ifs are never issued unless saved."""
    return store.rows(
        "SELECT site, hypothesis, t_as_of, revision, t_issued_utc, probability, likelihood, confidence, body "
        "FROM assessments WHERE site = ? AND t_issued_utc = (SELECT max(t_issued_utc) FROM assessments "
        "WHERE site = ?) ORDER BY probability DESC", [site, site])


def assessment_history(store: Store, site: str, hypothesis: str) -> list[dict[str, Any]]:
    """Every issued revision of one hypothesis of ``site`` (probabilities, confidence), oldest first."""
    return store.rows(
        "SELECT assessment_id, t_as_of, revision, probability, likelihood, confidence FROM assessments "
        "WHERE site = ? AND hypothesis = ? ORDER BY t_issued_utc", [site, hypothesis])
