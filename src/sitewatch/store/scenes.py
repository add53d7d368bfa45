"""The ``scenes`` table: list and look up scenes, record co-registration, georeference.

Scenes are returned as plain dicts (small results: one row per image); JSON columns are
decoded (``transform``, ``coreg``, ``meta``) by :func:`list_scenes` and :func:`get_scene`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sitewatch.errors import NotFoundError
from sitewatch.store.db import Store
from sitewatch.store.where import Where

_JSON_COLS = ("transform", "coreg", "meta")


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for c in _JSON_COLS:
        v = row.get(c)
        if isinstance(v, str):
            row[c] = json.loads(v)
    return row


def list_scenes(store: Store, site: str | None = None) -> list[dict[str, Any]]:
    """Scenes (all, or of ``site``) ordered by site, time, id."""
    w = Where().eq("site", site)
    rows = store.rows(f"SELECT * FROM scenes WHERE {w.sql} ORDER BY site, t_utc NULLS LAST, scene_id", w.params)
    return [_decode(r) for r in rows]


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


def site_scenes(store: Store, site: str) -> list[dict[str, Any]]:
    """Scenes of ``site`` in time order (scenes without a time last).

    ``detected`` is true when a detector ran over the scene (a ``detect_runs`` row, or stored
    detections): only then is a class without detections a count of zero; ``model`` names it.
    """
    return store.rows(
        "SELECT s.scene_id, s.site, s.t_utc, s.provider, s.path, s.sha256, s.gsd_m, s.width_px, s.height_px, "
        "s.crs, s.footprint_wkt, s.cloud_flag, "
        "(coalesce(s.simulated, false) OR s.path ILIKE '%simulated%') AS simulated, s.meta, "
        "(r.scene_id IS NOT NULL OR EXISTS (SELECT 1 FROM detections d WHERE d.scene_id = s.scene_id)) "
        "AS detected, r.model FROM scenes s LEFT JOIN detect_runs r ON r.scene_id = s.scene_id "
        "WHERE s.site = ? ORDER BY s.t_utc NULLS LAST, s.scene_id",
        [site],
    )


def scene_summaries(store: Store, site: str | None) -> list[dict[str, Any]]:
    """What the dashboard lists of each scene (of ``site``; every scene when None), by time."""
    w = Where().eq("site", site or None)
    return store.rows("SELECT scene_id, site, t_utc, provider, gsd_m, width_px, height_px, footprint_wkt, simulated "
                      f"FROM scenes WHERE {w.sql} ORDER BY t_utc", w.params)


def scene_grids(store: Store, scene_ids: Sequence[str]) -> dict[str, tuple[str, list[float]]]:
    """(CRS, affine pixel→CRS transform) of the georeferenced scenes among ``scene_ids``."""
    keys = sorted(set(scene_ids))
    if not keys:
        return {}
    w = Where("crs IS NOT NULL", "transform IS NOT NULL").any("scene_id", keys)
    rows = store.sql(f"SELECT scene_id, crs, transform FROM scenes WHERE {w.sql}", w.params)
    out = {}
    for sid, crs, tf in rows:
        t = json.loads(tf) if isinstance(tf, str) else tf
        if isinstance(t, list) and len(t) == 6:
            out[str(sid)] = (str(crs), [float(v) for v in t])
    return out
