"""The ``evidence`` table (one row per fact fusion weighs) and the stored rows an evidence
reference points at (:func:`evidence_rows`: positions, events, detections, scenes, observations).

``ref`` is JSON text in the table and decoded by the list functions.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any

import pyarrow as pa

from sitewatch.store.db import Store
from sitewatch.store.where import Where


def replace_evidence(store: Store, site: str, prefix: str, rows: pa.Table) -> int:
    """Replace ``site``'s evidence rows whose id starts with ``prefix`` by ``rows``, atomically."""
    with store.transaction():
        store.sql("DELETE FROM evidence WHERE site = ? AND starts_with(evidence_id, ?)", [site, prefix])
        return store.insert("evidence", rows) if rows.num_rows else 0


def list_evidence(
    store: Store,
    site: str | None = None,
    t_from: datetime | None = None,
    t_to: datetime | None = None,
    kinds: list[str] | None = None,
    ids: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Evidence rows in time order, filtered; ``ref`` decoded from JSON."""
    if ids is not None and not ids:
        return []
    w = Where().eq("site", site or None).window(t_from, t_to).any("kind", kinds or None).any("evidence_id", ids)
    rows = store.rows(f"SELECT * FROM evidence WHERE {w.sql} ORDER BY t_start, kind, evidence_id", w.params)
    for r in rows:
        r["ref"] = json.loads(r["ref"]) if r["ref"] else {}
    return rows


def evidence_for_site(store: Store, site: str, t_from: datetime | None, t_to: datetime | None,
                      limit: int) -> list[dict[str, Any]]:
    """At most ``limit`` evidence rows of ``site`` overlapping [t_from, t_to), oldest first."""
    w = Where().eq("site", site).window(t_from, t_to)
    rows = store.rows(f"SELECT * FROM evidence WHERE {w.sql} ORDER BY t_start LIMIT ?", [*w.params, limit])
    for r in rows:  # the reference is stored as JSON text: hand it on as an object
        if isinstance(r.get("ref"), str):
            with contextlib.suppress(ValueError):
                r["ref"] = json.loads(r["ref"])
    return rows


def evidence_of_kind(store: Store, kind: str, site: str) -> list[dict[str, Any]]:
    """``site``'s evidence rows of ``kind`` that carry a value, oldest first (an indicator's series)."""
    return store.rows(
        "SELECT evidence_id, t_start, value, text FROM evidence WHERE kind = ? AND site = ? "
        "AND value IS NOT NULL ORDER BY t_start", [kind, site])


MAX_EVIDENCE_ROWS = 200  # per reference: enough to show the track, bounded for output


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
        w = Where().any("det_id", ids)
        return store.rows(f"SELECT * FROM detections WHERE {w.sql} LIMIT ?", [*w.params, limit])
    if table == "scenes":
        return store.rows("SELECT * FROM scenes WHERE scene_id = ?", [ref["scene_id"]])
    if table == "observations":
        return store.rows("SELECT * FROM observations WHERE obs_id = ?", [ref["obs_id"]])
    return []


_SIM_PATH = "(path ILIKE '%simulated%')"


def simulated_sites(store: Store) -> dict[str, bool]:
    """site → whether any of its evidence, scenes or observations is SIMULATED."""
    rows = store.rows(
        "SELECT site, bool_or(sim) AS sim FROM ("
        "SELECT site, coalesce(simulated, false) AS sim FROM evidence "
        f"UNION ALL SELECT site, coalesce(simulated, false) OR coalesce({_SIM_PATH}, false) FROM scenes "
        "UNION ALL SELECT site, coalesce(simulated, false) FROM observations) WHERE site IS NOT NULL GROUP BY site")
    return {str(r["site"]): bool(r["sim"]) for r in rows}


def stored_kinds(store: Store) -> set[str]:
    """Every evidence kind stored."""
    return {str(r[0]) for r in store.sql("SELECT DISTINCT kind FROM evidence")}
