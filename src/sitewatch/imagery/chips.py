"""Annotated PNG chips: a scene with its detections, and before/after pairs with change.

* :func:`scene_chip` — the scene (or a window of it) shrunk to at most ``max_px`` on its
  longest side, each detection drawn as its rotated box in a colour per class, with the
  class and score; a title strip gives scene id, time and provider.
* :func:`pair_chip` — two scenes warped into the reference frame over their overlap,
  side by side: departed objects circled red on the *before* image, arrived green on the
  *after* image, stayed objects yellow on both (from :func:`sitewatch.imagery.change.object_change`).

Both read the pixels through :mod:`sitewatch.imagery.scenes` (bounded memory) and write
the PNG atomically (temporary file, then rename).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from sitewatch.errors import InputError
from sitewatch.imagery import coreg as C
from sitewatch.imagery import scenes as S

U8 = NDArray[np.uint8]

# BGR colours per class family; anything else is white
_COLOURS = {"plane": (0, 200, 255), "helicopter": (255, 128, 0), "ship": (255, 255, 0),
            "large-vehicle": (255, 0, 255), "small-vehicle": (180, 105, 255)}
_ARRIVED, _DEPARTED, _STAYED = (0, 220, 0), (0, 0, 255), (0, 220, 255)
_TITLE_PX = 28


def _write_png(img_bgr: U8, out: str | Path) -> Path:
    import cv2

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.png")
    if not cv2.imwrite(str(tmp), img_bgr):
        raise InputError(f"could not write {out}; is the folder writable?")
    os.replace(tmp, out)
    return out


def _title(img: U8, text: str) -> U8:
    import cv2

    strip = np.zeros((_TITLE_PX, img.shape[1], 3), np.uint8)
    cv2.putText(strip, text[:160], (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return np.vstack([strip, img])


def _corners(row: dict[str, Any]) -> NDArray[np.float64]:
    poly = row.get("poly_px")
    if poly:
        pts = json.loads(poly) if isinstance(poly, str) else poly
        return np.asarray(pts, dtype=float)
    cx, cy = row["cx_px"], row["cy_px"]
    w, h = row.get("w_px") or 10.0, row.get("h_px") or 10.0
    a = row.get("angle_rad") or 0.0
    c, s = np.cos(a), np.sin(a)
    dx = np.array([-w, w, w, -w]) / 2
    dy = np.array([-h, -h, h, h]) / 2
    return np.stack([cx + dx * c - dy * s, cy + dx * s + dy * c], 1)


def _describe(scene: dict[str, Any]) -> str:
    t = scene.get("t_utc")
    t_s = t.isoformat().replace("+00:00", "Z") if isinstance(t, datetime) else str(t)
    return f"{scene['scene_id']}  {t_s}  {scene.get('provider') or ''}"


def scene_chip(scene: dict[str, Any], detections: pa.Table, out: str | Path, max_px: int = 1024,
               window: tuple[int, int, int, int] | None = None) -> Path:
    """Write the scene (or ``window`` = x0, y0, x1, y1 in scene px) with its detections."""
    import cv2

    if window is None:
        rgb, s = S.read_overview(scene["path"], max_px)
        x0 = y0 = 0
    else:
        x0, y0, x1, y1 = window
        s = min(1.0, max_px / max(x1 - x0, y1 - y0))
        rgb = S.read_window(scene["path"], x0, y0, x1, y1, max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s)))
    img = np.ascontiguousarray(rgb[..., ::-1])
    thick = 1 if max(img.shape) <= 1200 else 2
    rows = detections.to_pylist()
    for r in rows:
        pts = ((_corners(r) - (x0, y0)) * s).round().astype(np.int32)
        colour = _COLOURS.get(r["class"], (255, 255, 255))
        cv2.polylines(img, [pts], True, colour, thick, cv2.LINE_AA)
        if len(rows) <= 200:  # labels on crowded scenes only hide the image
            cv2.putText(img, f"{r['class']} {r['score']:.2f}", (int(pts[:, 0].min()), int(pts[:, 1].min()) - 3),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    return _write_png(_title(img, f"{_describe(scene)}  {len(rows)} detections"), out)


def _warp_overlap(scene: dict[str, Any], h: NDArray[np.float64], box: tuple[float, float, float, float],
                  size: tuple[int, int]) -> U8:
    import cv2

    bx0, by0, bx1, _ = box
    s = size[0] / (bx1 - bx0)
    to_chip = np.array([[s, 0, -bx0 * s], [0, s, -by0 * s], [0, 0, 1]]) @ h
    side = round(max(scene["width_px"], scene["height_px"]) * C.scale_of(to_chip))
    rgb, so = S.read_overview(scene["path"], max(64, min(side * 2, 8192)))
    m = C.index_h(to_chip @ np.diag([1 / so, 1 / so, 1.0]))
    return np.asarray(cv2.warpPerspective(rgb, m, size, flags=cv2.INTER_AREA), np.uint8)


def pair_chip(a: dict[str, Any], b: dict[str, Any], change: dict[str, Any], out: str | Path,
              max_px: int = 900) -> Path:
    """Write before (a) | after (b) over their overlap, with arrived/departed/stayed marked."""
    import cv2

    ha, hb = (np.asarray(x["coreg"]["H"], float) for x in (a, b))
    ov = C.outline(ha, a["width_px"], a["height_px"]).intersection(C.outline(hb, b["width_px"], b["height_px"]))
    if ov.is_empty:
        raise InputError(f"scenes {a['scene_id']} and {b['scene_id']} do not overlap")
    box = ov.bounds
    s = max_px / max(box[2] - box[0], box[3] - box[1])
    size = (max(1, round((box[2] - box[0]) * s)), max(1, round((box[3] - box[1]) * s)))
    before = np.ascontiguousarray(_warp_overlap(a, ha, box, size)[..., ::-1])
    after = np.ascontiguousarray(_warp_overlap(b, hb, box, size)[..., ::-1])
    r = max(4, round(6 * s / 0.5 * (a.get("gsd_m") or 0.5)))  # ≈ a 12 m ring at any scale

    def mark(img: U8, items: list[dict[str, Any]], colour: tuple[int, int, int]) -> None:
        for it in items:
            x, y = (it["x_ref_px"] - box[0]) * s, (it["y_ref_px"] - box[1]) * s
            cv2.circle(img, (round(x), round(y)), r, colour, 2, cv2.LINE_AA)

    obj = change.get("objects", change)
    mark(before, obj.get("departed", []), _DEPARTED)
    mark(after, obj.get("arrived", []), _ARRIVED)
    mark(before, obj.get("stayed", []), _STAYED)
    mark(after, obj.get("stayed", []), _STAYED)
    gap = np.full((size[1], 6, 3), 255, np.uint8)
    img = np.hstack([before, gap, after])
    n = {k: len(obj.get(k, [])) for k in ("arrived", "departed", "stayed")}
    title = (f"before {_describe(a)} | after {_describe(b)} | arrived {n['arrived']} (green) "
             f"departed {n['departed']} (red) stayed {n['stayed']} (yellow)")
    return _write_png(_title(img, title), out)
