"""Imagery chips for the report: before/after thumbnails of a site's scenes with their boxes.

Contract: :func:`chip` reads one stored scene's image (Pillow, or rasterio for GeoTIFFs
Pillow cannot read), draws its detections' rotated boxes, scales it to at most
``max_px`` on the long side and returns a base64 PNG with the counts per class; when the
file is gone or unreadable it returns the reason instead (the report says so).
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.store import fusion_queries as Q
from sitewatch.store.db import Store

MAX_PX = 420
CLASS_COLORS = {"plane": (230, 60, 60), "helicopter": (230, 140, 40), "ship": (40, 160, 230),
                "large-vehicle": (250, 220, 40), "small-vehicle": (120, 230, 90)}


@dataclass
class Chip:
    scene_id: str
    t_utc: Any
    provider: str | None
    gsd_m: float | None
    simulated: bool
    counts: dict[str, int] = field(default_factory=dict)
    png_b64: str | None = None
    note: str = ""


def _read(path: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.thumbnail((4096, 4096))
            return np.asarray(im.convert("RGB"))
    except Exception:  # fall back to rasterio for GeoTIFFs Pillow cannot decode
        import rasterio

        with rasterio.open(path) as ds:
            f = max(1, math.ceil(max(ds.width, ds.height) / 4096))
            bands = [1, 2, 3] if ds.count >= 3 else [1, 1, 1]
            a = ds.read(bands, out_shape=(3, ds.height // f, ds.width // f)).astype(np.float64)
            hi = np.percentile(a, 99) or 1.0
            return np.clip(a / hi * 255, 0, 255).astype(np.uint8).transpose(1, 2, 0)  # type: ignore[no-any-return]


def chip(store: Store, scene: dict[str, Any], max_px: int = MAX_PX) -> Chip:
    from PIL import Image, ImageDraw

    dets = Q.scene_detections(store, scene["scene_id"])
    c = Chip(scene["scene_id"], scene["t_utc"], scene.get("provider"), scene.get("gsd_m"),
             bool(scene.get("simulated")), dict(Counter(str(d["class"]) for d in dets)))
    path = scene.get("path")
    if not path or not Path(path).is_file():
        c.note = f"image file not found ({path}); counts from the store"
        return c
    try:
        arr = _read(path)
    except Exception as exc:  # an unreadable image must not lose the report
        c.note = f"image unreadable ({type(exc).__name__}: {exc})"
        return c
    h, w = arr.shape[:2]
    src_w, src_h = float(scene.get("width_px") or w), float(scene.get("height_px") or h)
    k = max(w, h) / max_px if max(w, h) > max_px else 1.0
    im = Image.fromarray(arr).resize((max(1, int(w / k)), max(1, int(h / k))))
    sx, sy = im.width / src_w, im.height / src_h
    draw = ImageDraw.Draw(im)
    for d in dets:
        color = CLASS_COLORS.get(str(d["class"]), (255, 255, 255))
        poly = json.loads(d["poly_px"]) if d.get("poly_px") else None
        if not poly and d.get("w_px") and d.get("h_px"):
            a = float(d.get("angle_rad") or 0.0)
            ca, sa = math.cos(a), math.sin(a)
            hw, hh = float(d["w_px"]) / 2, float(d["h_px"]) / 2
            poly = [[d["cx_px"] + ca * dx - sa * dy, d["cy_px"] + sa * dx + ca * dy]
                    for dx, dy in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh))]
        if poly:
            draw.polygon([(float(x) * sx, float(y) * sy) for x, y in poly], outline=color)
        else:
            x, y = float(d["cx_px"]) * sx, float(d["cy_px"]) * sy
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), outline=color)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    c.png_b64 = base64.b64encode(buf.getvalue()).decode("ascii")
    return c


def before_after(store: Store, scenes: list[dict[str, Any]]) -> list[Chip]:
    """Chips of the first and last scene (time order) of ``scenes`` (one chip if only one)."""
    timed = [s for s in scenes if s.get("t_utc") is not None]
    if not timed:
        return []
    picks = [timed[0]] if len(timed) == 1 else [timed[0], timed[-1]]
    return [chip(store, s) for s in picks]
