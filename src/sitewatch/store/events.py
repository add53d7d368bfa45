"""Queries over the ``events`` table and the evidence rows an event rests on."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sitewatch.errors import InputError
from sitewatch.store.db import Store
from sitewatch.store.where import Where

MAX_EVIDENCE_ROWS = 200  # per reference: enough to show the track, bounded for output


def list_events(
    store: Store,
    site: str | None = None,
    kinds: list[str] | None = None,
    t_from: datetime | None = None,
    t_to: datetime | None = None,
    subject: str | None = None,
    limit: int | None = None,
    event_id: str | None = None,
) -> list[dict[str, Any]]:
    """Events in time order, filtered; ``details``/``evidence`` decoded from JSON."""
    w = (Where().eq("site", site or None).any("kind", kinds or None).window(t_from, t_to)
         .eq("subject", subject or None).eq("event_id", event_id or None))
    q = ("SELECT event_id, kind, site, t_start, t_end, subject, subject_kind, confidence, lat, lon, "
         f"summary, details, evidence, analysis FROM events WHERE {w.sql} ORDER BY t_start, kind, subject")
    if limit is not None:
        if limit < 0:
            raise InputError("--limit must be >= 0")
        q += f" LIMIT {int(limit)}"
    rows = store.rows(q, w.params)
    for r in rows:
        r["details"] = json.loads(r["details"]) if r["details"] else {}
        r["evidence"] = json.loads(r["evidence"]) if r["evidence"] else []
    return rows


def evidence_rows(store: Store, ref: dict[str, Any], limit: int = MAX_EVIDENCE_ROWS) -> list[dict[str, Any]]:
    """The stored rows behind one evidence reference (positions, events, detections …)."""
    table = ref.get("table")
    if table == "positions":
        return store.rows(
            "SELECT p.t_utc, p.source, p.id, p.lat, p.lon, p.alt_ft, p.speed_kt, p.track_deg, p.onground, "
            "p.rec_offset, l.path, l.sha256 FROM positions p LEFT JOIN ingest_log l USING (file_id) "
            "WHERE p.source = ? AND p.id = ? AND p.t_utc BETWEEN ? AND ? ORDER BY p.t_utc LIMIT ?",
            [ref["source"], ref["id"], ref["t_from"], ref["t_to"], limit],
        )
    if table == "events":
        return store.rows("SELECT * FROM events WHERE event_id = ?", [ref["event_id"]])
    if table == "detections":
        ids = ref.get("det_ids") or []
        if not ids:
            return []
        return store.rows(
            f"SELECT * FROM detections WHERE det_id IN ({', '.join('?' for _ in ids)}) LIMIT ?", [*ids, limit]
        )
    if table == "scenes":
        return store.rows("SELECT * FROM scenes WHERE scene_id = ?", [ref["scene_id"]])
    if table == "observations":
        return store.rows("SELECT * FROM observations WHERE obs_id = ?", [ref["obs_id"]])
    return []
