"""The SQL of object detection: replace a scene's detections, read them back for counts.

A scene's detections are replaced as a whole, in one transaction, so a re-run with
another model or settings never mixes two runs. :func:`counted` returns one row per
detection with its scene's time, for :func:`sitewatch.detect.counts.counts`.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sitewatch.store.db import Store


def replace_detections(store: Store, scene_id: str, rows: pa.Table, run: dict[str, Any]) -> int:
    """Replace the detections and the ``detect_runs`` row of ``scene_id`` (atomically)."""
    with store.transaction() as con:
        con.execute("DELETE FROM detections WHERE scene_id = ?", [scene_id])
        con.execute("DELETE FROM detect_runs WHERE scene_id = ?", [scene_id])
        n = store.insert("detections", rows, dedupe=False)
        store.insert("detect_runs", pa.Table.from_pylist([run]), dedupe=False)
    return n


def runs(store: Store, scene_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The ``detect_runs`` row of each of ``scene_ids`` that was run."""
    if not scene_ids:
        return {}
    rows = store.rows("SELECT * FROM detect_runs WHERE scene_id IN (SELECT unnest(?::VARCHAR[]))",
                      [scene_ids])
    return {str(r["scene_id"]): r for r in rows}


def counted(store: Store, site: str, scene_id: str | None = None) -> list[dict[str, Any]]:
    """Every detection of ``site``'s scenes: scene, t_utc, zone, class, lon, lat."""
    q = ("SELECT d.scene_id AS scene, s.t_utc, d.zone, d.class, d.lon, d.lat "
         "FROM detections d JOIN scenes s USING (scene_id) WHERE d.site = ?")
    params: list[Any] = [site]
    if scene_id is not None:
        q += " AND d.scene_id = ?"
        params.append(scene_id)
    return store.rows(q + " ORDER BY s.t_utc NULLS LAST, d.scene_id", params)


def run_scenes(store: Store, site: str, scene_id: str | None = None) -> list[dict[str, Any]]:
    """Scenes of ``site`` that went through a detector (even with nothing found), oldest first."""
    q = ("SELECT r.scene_id AS scene, s.t_utc FROM detect_runs r JOIN scenes s USING (scene_id) "
         "WHERE r.site = ?")
    params: list[Any] = [site]
    if scene_id is not None:
        q += " AND r.scene_id = ?"
        params.append(scene_id)
    return store.rows(q + " ORDER BY s.t_utc NULLS LAST, r.scene_id", params)
