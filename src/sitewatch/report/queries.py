"""The SQL the report needs beyond the fusion queries: identities, measured detections, files.

Contract: every function takes a :class:`~sitewatch.store.db.Store` and plain values and
returns fully fetched rows (dicts). Nothing here writes. Lists of keys are passed as SQL
parameters, never formatted into the query text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sitewatch.store.db import Store


def _in(n: int) -> str:
    return ", ".join("?" for _ in range(n))


def aircraft(store: Store, icao24: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Rows of the ``aircraft`` table (registration, type, operator …) by ICAO address."""
    keys = sorted({str(k).lower() for k in icao24 if k})
    if not keys:
        return {}
    rows = store.rows(
        "SELECT icao24, registration, typecode, type_name, operator, military, db_source FROM aircraft "
        f"WHERE icao24 IN ({_in(len(keys))})", keys)
    return {str(r["icao24"]): r for r in rows}


def vessels(store: Store, mmsi: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Rows of the ``vessels`` table (name, type, flag, size, government marker) by MMSI."""
    keys = sorted({str(k) for k in mmsi if k})
    if not keys:
        return {}
    rows = store.rows(
        "SELECT mmsi, name, callsign, imo, ship_type, length_m, width_m, flag, government, gov_reason "
        f"FROM vessels WHERE mmsi IN ({_in(len(keys))})", keys)
    return {str(r["mmsi"]): r for r in rows}


def detections(store: Store, scene_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Detections of the scenes with their pixel boxes and measured size (metres; aircraft
    corrected for the detector's box bias, the same size :mod:`sitewatch.detect.facts` quotes).

    ``named_type``: the type the measured size names, when the detector recorded one
    (``type_candidates.named``), and ``size_words`` its size class in words ("very large
    transport aircraft"); never the detector's ranked type guesses."""
    keys = sorted(set(scene_ids))
    if not keys:
        return []
    return store.rows(
        "SELECT det_id, scene_id, class, score, cx_px, cy_px, w_px, h_px, angle_rad, poly_px, zone, "
        # aircraft: the size corrected for the detector's measured box bias (detect.types), as
        # every other quote of the same object; other classes: the box as measured
        "coalesce(TRY_CAST(json_extract_string(type_candidates, '$.measured.long_m') AS DOUBLE), length_m) "
        "AS length_m, coalesce(TRY_CAST(json_extract_string(type_candidates, '$.measured.short_m') AS DOUBLE), "
        "width_m) AS width_m, model, json_extract_string(type_candidates, '$.named.type') AS named_type, "
        "json_extract_string(type_candidates, '$.size_words') AS size_words "
        f"FROM detections WHERE scene_id IN ({_in(len(keys))}) ORDER BY scene_id, det_id", keys)


def files(store: Store, sha256: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Ingested files (``ingest_log``): all of them, or those with the given content hashes."""
    cols = "path, sha256, kind, format, accepted, t_end_utc"
    keys = sorted({s for s in sha256 if s})
    if not sha256:
        return store.rows(f"SELECT {cols} FROM ingest_log ORDER BY kind, path")
    if not keys:
        return []
    return store.rows(f"SELECT {cols} FROM ingest_log WHERE sha256 IN ({_in(len(keys))}) ORDER BY kind, path",
                      keys)


def observation_sources(store: Store, site: str) -> list[dict[str, Any]]:
    """Who reported the analyst observations of ``site`` (source, URL, how many)."""
    return store.rows(
        "SELECT source, url, count(*) AS n, bool_or(coalesce(simulated, false)) AS simulated FROM observations "
        "WHERE site = ? GROUP BY ALL ORDER BY source, url", [site])


def scene_models(store: Store, scene_ids: Sequence[str]) -> list[str]:
    """The detector models that ran over the scenes."""
    keys = sorted(set(scene_ids))
    if not keys:
        return []
    rows = store.sql(f"SELECT DISTINCT model FROM detect_runs WHERE scene_id IN ({_in(len(keys))}) "
                     "AND model IS NOT NULL ORDER BY model", keys)
    return [str(r[0]) for r in rows]


def scene_grids(store: Store, scene_ids: Sequence[str]) -> dict[str, tuple[str, list[float]]]:
    """(CRS, affine pixel→CRS transform) of the georeferenced scenes among ``scene_ids``."""
    import json

    keys = sorted(set(scene_ids))
    if not keys:
        return {}
    rows = store.sql(f"SELECT scene_id, crs, transform FROM scenes WHERE scene_id IN ({_in(len(keys))}) "
                     "AND crs IS NOT NULL AND transform IS NOT NULL", keys)
    out = {}
    for sid, crs, tf in rows:
        t = json.loads(tf) if isinstance(tf, str) else tf
        if isinstance(t, list) and len(t) == 6:
            out[str(sid)] = (str(crs), [float(v) for v in t])
    return out
