"""The ``detections`` and ``detect_runs`` tables: what a detector found in each scene.

A scene's detections are replaced as a whole, in one transaction, so a re-run with
another model or settings never mixes two runs. :func:`counted` returns one row per
detection with its scene's time, for :func:`sitewatch.detect.counts.counts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from sitewatch.store.db import Store
from sitewatch.store.where import Where


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
    w = Where().eq("d.site", site).eq("d.scene_id", scene_id)
    return store.rows("SELECT d.scene_id AS scene, s.t_utc, d.zone, d.class, d.lon, d.lat "
                      f"FROM detections d JOIN scenes s USING (scene_id) WHERE {w.sql} "
                      "ORDER BY s.t_utc NULLS LAST, d.scene_id", w.params)


def run_scenes(store: Store, site: str, scene_id: str | None = None) -> list[dict[str, Any]]:
    """Scenes of ``site`` that went through a detector (even with nothing found), oldest first."""
    w = Where().eq("r.site", site).eq("r.scene_id", scene_id)
    return store.rows("SELECT r.scene_id AS scene, s.t_utc, s.gsd_m, r.settings FROM detect_runs r "
                      "JOIN scenes s USING (scene_id) "
                      f"WHERE {w.sql} ORDER BY s.t_utc NULLS LAST, r.scene_id", w.params)


def detections(store: Store, scene_id: str, classes: list[str] | None = None) -> pa.Table:
    """Detections of one scene (optionally only some classes), ordered by det_id."""
    w = Where().eq("scene_id", scene_id).any("class", classes or None)
    return store.arrow(f"SELECT * FROM detections WHERE {w.sql} ORDER BY det_id", w.params)


def detection_counts(store: Store, site: str, max_ids: int = 50) -> list[dict[str, Any]]:
    """Detections of ``site`` counted per scene, zone, class and type — the type only where the
    measured size names exactly one in service (:mod:`sitewatch.detect.types`), otherwise the
    size class in words ("very large transport aircraft").

    ``det_ids`` and ``boxes_px`` ([cx, cy, w, h] in pixels) hold at most ``max_ids`` per group
    (enough to cite and check by eye, bounded).
    """
    return store.rows(
        "SELECT scene_id, zone, class, "
        # the type only where the measured size names one; else its size class in words
        "coalesce(json_extract_string(type_candidates, '$.named.type'), "
        "json_extract_string(type_candidates, '$.size_words'), "
        "json_extract_string(type_candidates, '$[0].type')) AS top_type, count(*) AS n, "
        "avg(score) AS mean_score, avg(lat) AS lat, avg(lon) AS lon, "
        f"list(det_id ORDER BY det_id)[1:{int(max_ids)}] AS det_ids, "
        f"list([round(cx_px, 1), round(cy_px, 1), round(w_px, 1), round(h_px, 1)] ORDER BY det_id)"
        f"[1:{int(max_ids)}] AS boxes_px "
        "FROM detections WHERE site = ? GROUP BY ALL ORDER BY scene_id, zone NULLS FIRST, class, top_type",
        [site],
    )


def class_counts(store: Store, scene_id: str) -> list[dict[str, Any]]:
    """Detections of one scene counted per class and zone."""
    return store.rows("SELECT class, zone, count(*) AS n FROM detections WHERE scene_id = ? "
                      "GROUP BY class, zone ORDER BY class, zone", [scene_id])


def measured(store: Store, scene_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Detections of the scenes with their pixel boxes and measured size (metres; aircraft
    corrected for the detector's box bias, the same size :mod:`sitewatch.detect.facts` quotes).

    ``named_type``: the type the measured size names, when the detector recorded one
    (``type_candidates.named``), and ``size_words`` its size class in words ("very large
    transport aircraft"); never the detector's ranked type guesses."""
    keys = sorted(set(scene_ids))
    if not keys:
        return []
    w = Where().any("scene_id", keys)
    return store.rows(
        "SELECT det_id, scene_id, class, score, cx_px, cy_px, w_px, h_px, angle_rad, poly_px, zone, "
        # aircraft: the size corrected for the detector's measured box bias (detect.types), as
        # every other quote of the same object; other classes: the box as measured
        "coalesce(TRY_CAST(json_extract_string(type_candidates, '$.measured.long_m') AS DOUBLE), length_m) "
        "AS length_m, coalesce(TRY_CAST(json_extract_string(type_candidates, '$.measured.short_m') AS DOUBLE), "
        "width_m) AS width_m, model, json_extract_string(type_candidates, '$.named.type') AS named_type, "
        "json_extract_string(type_candidates, '$.size_words') AS size_words "
        f"FROM detections WHERE {w.sql} ORDER BY scene_id, det_id", w.params)


def scene_models(store: Store, scene_ids: Sequence[str]) -> list[str]:
    """The detector models that ran over the scenes."""
    keys = sorted(set(scene_ids))
    if not keys:
        return []
    w = Where("model IS NOT NULL").any("scene_id", keys)
    rows = store.sql(f"SELECT DISTINCT model FROM detect_runs WHERE {w.sql} ORDER BY model", w.params)
    return [str(r[0]) for r in rows]


def aircraft_detections(store: Store, site: str, scene_id: str | None = None) -> list[dict[str, Any]]:
    """Plane and helicopter detections of ``site`` (or of one scene) with their scene's time
    and GSD, oldest scene first."""
    w = Where("d.class IN ('plane', 'helicopter')").eq("d.site", site).eq("d.scene_id", scene_id)
    return store.rows(
        "SELECT d.det_id, d.scene_id, d.site, d.zone, d.class, d.score, d.length_m, d.width_m, "
        "d.type_candidates, s.t_utc, s.gsd_m FROM detections d LEFT JOIN scenes s USING (scene_id) "
        f"WHERE {w.sql} ORDER BY s.t_utc NULLS LAST, d.scene_id, d.det_id", w.params)
