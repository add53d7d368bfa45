"""Change between two co-registered scenes of a site: objects (arrived / departed / stayed)
and pixels (a cleaned change map summarised per zone).

Object level (:func:`match_objects`, :func:`object_change`): the detections of both scenes
are mapped into the reference scene's pixel frame through their stored homographies.
Only objects whose centre falls inside *both* scenes (the overlap, less half the
object's size, so objects cut by an edge are not called departed) are compared; the rest
are counted ``unobserved``. Per class, a one-to-one assignment (Hungarian, SciPy) pairs
objects whose centres are within :data:`GATE_FRAC` of their mean size: paired objects
``stayed``, unpaired ones of the earlier scene ``departed``, of the later ``arrived``.
The gate is relative to size because an aircraft re-parked on the same stand moves by
a fraction of its length, while neighbouring stands are about one length apart.

Pixel level: see :mod:`sitewatch.imagery.pixchange`; :func:`scene_change` combines both.

A scene whose co-registration is missing or failed is refused with a message, never
compared silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import Polygon

from sitewatch.errors import InputError
from sitewatch.imagery import coreg as C
from sitewatch.imagery import scenes as S
from sitewatch.sites import Site
from sitewatch.store import detections as DET
from sitewatch.store import scenes as SC
from sitewatch.store.db import Store

F64 = NDArray[np.float64]

GATE_FRAC = 0.5  # centres within half the objects' mean size are the same parked object


@dataclass(frozen=True)
class Objects:
    """Objects of one scene in that scene's pixels (``size_px``: sqrt of box area)."""

    ids: list[str]
    cls: list[str]
    x_px: F64
    y_px: F64
    size_px: F64
    zone: list[str | None]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Matching:
    """Indices into the earlier (a) and later (b) objects."""

    stayed: list[tuple[int, int]]
    departed: list[int]
    arrived: list[int]
    unobserved_a: list[int]
    unobserved_b: list[int]


def _inside(poly: Polygon, x: F64, y: F64, margin: F64) -> NDArray[np.bool_]:
    import shapely

    inside = shapely.contains_xy(poly, x, y)
    dist = shapely.distance(poly.exterior, shapely.points(x, y))
    return np.asarray(inside & (dist >= margin), dtype=bool)


def match_objects(a: Objects, b: Objects, ha: F64, hb: F64, frame_a: tuple[int, int],
                  frame_b: tuple[int, int], gate_frac: float = GATE_FRAC) -> Matching:
    """Match objects of scene a (earlier) and b (later); ``ha``/``hb`` map each scene's
    pixels to the reference frame; ``frame_*`` are (width, height) of each scene."""
    from scipy.optimize import linear_sum_assignment

    ax, ay = C.apply_h(ha, a.x_px, a.y_px)
    bx, by = C.apply_h(hb, b.x_px, b.y_px)
    sa = a.size_px * C.scale_of(ha)
    sb = b.size_px * C.scale_of(hb)
    overlap = C.outline(ha, *frame_a).intersection(C.outline(hb, *frame_b))
    if not isinstance(overlap, Polygon) or overlap.is_empty:
        return Matching([], [], [], list(range(len(a))), list(range(len(b))))
    ina = _inside(overlap, ax, ay, sa / 2) if len(a) else np.zeros(0, bool)
    inb = _inside(overlap, bx, by, sb / 2) if len(b) else np.zeros(0, bool)
    stayed: list[tuple[int, int]] = []
    used_a: set[int] = set()
    used_b: set[int] = set()
    for cls in sorted(set(a.cls) | set(b.cls)):
        ia = [i for i in range(len(a)) if a.cls[i] == cls and ina[i]]
        ib = [j for j in range(len(b)) if b.cls[j] == cls and inb[j]]
        if not ia or not ib:
            continue
        d = np.hypot(ax[ia][:, None] - bx[ib][None, :], ay[ia][:, None] - by[ib][None, :])
        gate = gate_frac * (sa[ia][:, None] + sb[ib][None, :]) / 2
        cost = np.where(d <= gate, d / np.maximum(gate, 1e-9), 1e6)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            if cost[r, c] <= 1.0:
                stayed.append((ia[r], ib[c]))
                used_a.add(ia[r])
                used_b.add(ib[c])
    departed = [i for i in range(len(a)) if ina[i] and i not in used_a]
    arrived = [j for j in range(len(b)) if inb[j] and j not in used_b]
    return Matching(stayed, departed, arrived, [i for i in range(len(a)) if not ina[i]],
                    [j for j in range(len(b)) if not inb[j]])


# -- from the store ---------------------------------------------------------------------------


def objects_of(store: Store, scene: dict[str, Any], classes: list[str] | None = None) -> tuple[Objects, Any]:
    """The detections of a stored scene as :class:`Objects` (and the raw Arrow table)."""
    t = DET.detections(store, scene["scene_id"], classes)
    d = t.to_pydict()
    n = t.num_rows
    w = np.array([v if v is not None else np.nan for v in d.get("w_px", [None] * n)], dtype=float)
    h = np.array([v if v is not None else np.nan for v in d.get("h_px", [None] * n)], dtype=float)
    size = np.sqrt(np.abs(w * h))
    if n and np.isnan(size).any():
        gsd = scene.get("gsd_m") or 0.5
        size = np.where(np.isnan(size), 10.0 / gsd, size)  # 10 m: a vehicle-sized default
    obj = Objects(list(d.get("det_id", [])), list(d.get("class", [])),
                  np.asarray(d.get("cx_px", []), dtype=float), np.asarray(d.get("cy_px", []), dtype=float),
                  size, list(d.get("zone", [None] * n)))
    return obj, t


def _h(scene: dict[str, Any]) -> F64:
    c = scene.get("coreg")
    if not C.usable(c):
        status = (c or {}).get("status", "not co-registered")
        reason = (c or {}).get("reason") or "run `sitewatch coreg --site …`"
        raise InputError(f"scene {scene['scene_id']} cannot be compared: co-registration {status} ({reason})")
    return np.asarray(c["H"], dtype=np.float64)  # type: ignore[index]


def _position(ref: dict[str, Any], site: Site | None, x: float, y: float, zone: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"x_ref_px": round(float(x), 1), "y_ref_px": round(float(y), 1)}
    if ref.get("crs") and ref.get("transform"):
        lon, lat = S.pixel_to_lonlat(ref["crs"], tuple(ref["transform"]), [x], [y])
        out["lon"], out["lat"] = round(float(lon[0]), 7), round(float(lat[0]), 7)
        if zone is None and site is not None and site.zones:
            zone = site.zone_of(out["lat"], out["lon"])[0]
    out["zone"] = zone
    return out


def object_change(store: Store, site: Site | None, a: dict[str, Any], b: dict[str, Any],
                  ref: dict[str, Any], classes: list[str] | None = None) -> dict[str, Any]:
    """Arrived / departed / stayed between stored scenes ``a`` (earlier) and ``b``."""
    ha, hb = _h(a), _h(b)
    oa, _ = objects_of(store, a, classes)
    ob, _ = objects_of(store, b, classes)
    m = match_objects(oa, ob, ha, hb, (a["width_px"], a["height_px"]), (b["width_px"], b["height_px"]))
    ax, ay = C.apply_h(ha, oa.x_px, oa.y_px)
    bx, by = C.apply_h(hb, ob.x_px, ob.y_px)
    gsd = ref.get("gsd_m")

    def item(o: Objects, i: int, x: F64, y: F64) -> dict[str, Any]:
        return {"det_id": o.ids[i], "class": o.cls[i], **_position(ref, site, x[i], y[i], o.zone[i])}

    departed = [item(oa, i, ax, ay) for i in m.departed]
    arrived = [item(ob, j, bx, by) for j in m.arrived]
    stayed = []
    for i, j in m.stayed:
        s = item(ob, j, bx, by)
        s["from_det_id"] = oa.ids[i]
        moved = float(np.hypot(ax[i] - bx[j], ay[i] - by[j]))
        s["moved_px"] = round(moved, 1)
        if gsd:
            s["moved_m"] = round(moved * gsd, 1)
        stayed.append(s)
    summary: dict[tuple[str, str | None], dict[str, Any]] = {}
    for kind, items in (("arrived", arrived), ("departed", departed), ("stayed", stayed)):
        for it in items:
            k = (it["class"], it["zone"])
            row = summary.setdefault(k, {"class": k[0], "zone": k[1], "arrived": 0, "departed": 0, "stayed": 0})
            row[kind] += 1
    return {
        "by_class_zone": sorted(summary.values(), key=lambda r: (r["class"], r["zone"] or "")),
        "arrived": arrived, "departed": departed, "stayed": stayed,
        "unobserved": {"from": len(m.unobserved_a), "to": len(m.unobserved_b)},
        "counted": {"from": len(oa), "to": len(ob)},
    }


def _iso(t: Any) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if isinstance(t, datetime) else None


def _scene_brief(s: dict[str, Any]) -> dict[str, Any]:
    c = s.get("coreg") or {}
    return {"scene": s["scene_id"], "t_utc": _iso(s.get("t_utc")), "provider": s.get("provider"),
            "coreg": c.get("status"), "residual_px": c.get("residual_px")}


def pick_pair(scenes: list[dict[str, Any]], t_from: str | None, t_to: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two scenes to compare: the ones named, else the last two usable by time."""
    def find(sid: str) -> dict[str, Any]:
        hits = [s for s in scenes if s["scene_id"].startswith(sid)]
        if len(hits) != 1:
            raise InputError(f"scene {sid!r} matches {len(hits)} scenes of the site; see `sitewatch scenes`")
        return hits[0]

    if t_from and t_to:
        return find(t_from), find(t_to)
    if t_from or t_to:
        raise InputError("give both --from and --to, or neither (the last two scenes)")
    ok = [s for s in scenes if C.usable(s.get("coreg"))]
    if len(ok) < 2:
        bad = [f"{s['scene_id']} ({(s.get('coreg') or {}).get('status', 'not co-registered')})"
               for s in scenes if not C.usable(s.get("coreg"))]
        raise InputError("need two co-registered scenes of the site; "
                         + (f"not usable: {', '.join(bad)}" if bad else "ingest more imagery"))
    return ok[-2], ok[-1]


def scene_change(store: Store, site: Site, t_from: str | None = None, t_to: str | None = None,
                 classes: list[str] | None = None, pixels: bool = True,
                 map_out: str | None = None) -> dict[str, Any]:
    """Object and pixel change between two scenes of ``site`` (see the module docstring)."""
    scenes = SC.list_scenes(store, site.name)
    a, b = pick_pair(scenes, t_from, t_to)
    if a.get("t_utc") and b.get("t_utc") and a["t_utc"] > b["t_utc"]:
        a, b = b, a
    refs = [s for s in scenes if (s.get("coreg") or {}).get("status") == "reference"]
    ref = refs[0] if refs else a
    out: dict[str, Any] = {"site": site.name, "from": _scene_brief(a), "to": _scene_brief(b),
                           "reference": ref["scene_id"]}
    out["objects"] = object_change(store, site, a, b, ref, classes)
    if pixels:
        from sitewatch.imagery import pixchange

        out["pixels"] = pixchange.pixel_change_scenes(a, b, ref, site, map_out=map_out)
    return json.loads(json.dumps(out, default=str))
