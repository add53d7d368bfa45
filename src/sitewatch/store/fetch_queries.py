"""What was fetched from published sources: provenance for reports (the SQL of ``sitewatch fetch``).

A fetched archive is one ``ingest_log`` row; its ``options`` JSON carries ``provenance``:
source name and title, licence and its URL, the attribution line to show, the release,
and per downloaded file its URL (no query string), name, size and SHA-256.
"""

from __future__ import annotations

import json
from typing import Any

from sitewatch.store.db import Store


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
