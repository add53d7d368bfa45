"""The ``ingest_log`` table read back: which files were ingested, what was fetched (with its
provenance), whether any of it was simulated. (Its rows are written by
:mod:`sitewatch.store.writer`.)

A fetched archive is one ``ingest_log`` row; its ``options`` JSON carries ``provenance``:
source name and title, licence and its URL, the attribution line to show, the release,
and per downloaded file its URL (no query string), name, size and SHA-256.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sitewatch.store import evidence
from sitewatch.store.db import Store
from sitewatch.store.where import Where


def fetched(store: Store) -> list[dict[str, Any]]:
    """Every fetched input, oldest first: provenance plus file id, rows stored and when."""
    rows = store.rows(
        "SELECT file_id, path, sha256, kind, accepted, rejected, duplicates, t_end_utc, options FROM ingest_log "
        "WHERE options LIKE '%\"provenance\"%' ORDER BY t_start_utc, file_id")
    out = []
    for r in rows:
        try:
            prov = json.loads(r.pop("options") or "{}").get("provenance")
        except ValueError:
            continue
        if isinstance(prov, dict):
            out.append({**r, **prov})
    return out


def sources(store: Store) -> list[dict[str, Any]]:
    """One row per fetched source: title, licence, attribution, how many inputs and rows."""
    seen: dict[str, dict[str, Any]] = {}
    for f in fetched(store):
        s = seen.setdefault(str(f.get("source")), {
            "source": f.get("source"), "title": f.get("title"), "licence": f.get("licence"),
            "licence_url": f.get("licence_url"), "attribution": f.get("attribution"), "inputs": 0, "rows": 0})
        s["inputs"] += 1
        s["rows"] += int(f.get("accepted") or 0)
    return list(seen.values())


def files(store: Store, sha256: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Ingested files (``ingest_log``): all of them, or those with the given content hashes."""
    keys = sorted({s for s in sha256 if s})
    if sha256 and not keys:
        return []
    w = Where().any("sha256", keys or None)
    return store.rows(f"SELECT path, sha256, kind, format, accepted, t_end_utc FROM ingest_log WHERE {w.sql} "
                      "ORDER BY kind, path", w.params)


def workspace_simulated(store: Store) -> bool:
    """Whether the workspace holds any SIMULATED data: a file the simulator wrote (its name says
    SIMULATED) or a simulated evidence row, scene or observation."""
    files = store.scalar("SELECT count(*) FROM ingest_log WHERE coalesce(path ILIKE '%simulated%' "
                         "OR format ILIKE '%sim%' OR options ILIKE '%\"simulated\": true%', false)")
    return bool(files) or any(evidence.simulated_sites(store).values())
