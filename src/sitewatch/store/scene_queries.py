"""The SQL the imagery code needs: list and look up scenes, record co-registration, read detections.

Scenes are returned as plain dicts (small results: one row per image); JSON columns are
decoded (``transform``, ``coreg``, ``meta``). Detections come back as an Arrow table.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from sitewatch.errors import NotFoundError
from sitewatch.store.db import Store

_JSON_COLS = ("transform", "coreg", "meta")


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for c in _JSON_COLS:
        v = row.get(c)
        if isinstance(v, str):
            row[c] = json.loads(v)
    return row


def list_scenes(store: Store, site: str | None = None) -> list[dict[str, Any]]:
    """Scenes (all, or of ``site``) ordered by site, time, id."""
    q = "SELECT * FROM scenes"
    params: list[Any] = []
    if site is not None:
        q += " WHERE site = ?"
        params.append(site)
    q += " ORDER BY site, t_utc NULLS LAST, scene_id"
    return [_decode(r) for r in store.rows(q, params)]


def get_scene(store: Store, scene_id: str) -> dict[str, Any]:
    """One scene by id or unique id prefix; :class:`NotFoundError` with candidates otherwise."""
    rows = store.rows("SELECT * FROM scenes WHERE starts_with(scene_id, ?) ORDER BY scene_id LIMIT 5",
                      [scene_id])
    if len(rows) == 1:
        return _decode(rows[0])
    ids = [r["scene_id"] for r in rows]
    if not rows:
        near = [str(r[0]) for r in store.sql("SELECT scene_id FROM scenes ORDER BY t_utc DESC LIMIT 5")]
        raise NotFoundError("scene", scene_id, near, hint="list them with `sitewatch scenes`")
    raise NotFoundError("scene", scene_id, ids, hint="the prefix is ambiguous; give more characters")


def set_coreg(store: Store, scene_id: str, coreg: dict[str, Any], footprint_wkt: str | None = None,
              gsd_m: float | None = None) -> None:
    """Record a scene's co-registration (and, when derived from it, footprint and GSD)."""
    store.sql(
        "UPDATE scenes SET coreg = ?, footprint_wkt = coalesce(?, footprint_wkt), "
        "gsd_m = coalesce(gsd_m, ?) WHERE scene_id = ?",
        [json.dumps(coreg, sort_keys=True), footprint_wkt, gsd_m, scene_id],
    )


def detections(store: Store, scene_id: str, classes: list[str] | None = None) -> pa.Table:
    """Detections of one scene (optionally only some classes), ordered by det_id."""
    q = "SELECT * FROM detections WHERE scene_id = ?"
    params: list[Any] = [scene_id]
    if classes:
        q += " AND class IN (SELECT unnest(?::VARCHAR[]))"
        params.append(classes)
    return store.arrow(q + " ORDER BY det_id", params)


def detection_counts(store: Store, site: str) -> dict[str, int]:
    """Number of detections per scene of ``site``."""
    return {str(r[0]): int(r[1]) for r in store.sql(
        "SELECT scene_id, count(*) FROM detections WHERE site = ? GROUP BY scene_id", [site])}
