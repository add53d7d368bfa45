"""Imagery chips for the report: the scenes that drive a judgement, cropped to where the
objects are, at a size a reader can count them, each box labelled by class and measured size.

Contract: :func:`plan` picks, for each object group the leading judgement cites (aircraft,
vehicles, ships — by the classes of the cited ``imagery.count`` rows), the scenes to show:
the last scene before the key window ("before") and the scenes inside it ("after"), as
many as fit across the page at :data:`MIN_PX_PER_M` for that group; one strip per zone the
objects lie in, cropped to the union of the group's boxes over those scenes (padded, in
lon/lat when the scenes are georeferenced, so every frame shows the same ground).
:func:`render` reads each crop (:func:`sitewatch.imagery.scenes.read_window`) at twice its
display size and returns :class:`Strip` objects whose frames carry a JPEG, the boxes in
display pixels and the counts, sizes and evidence rows of their caption; :func:`frame_svg`
draws one frame as inline SVG (the picture, vector boxes, length labels, a scale bar).
Boxes are named by class and measured length only, never by a detector's type guess. A
scene whose file is gone still gets its boxes, over grey, and says so.
"""

from __future__ import annotations

import base64
import io
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.report.names import class_words, short_type

GROUPS: dict[str, tuple[str, ...]] = {"aircraft": ("plane", "helicopter"),
                                      "vehicles": ("large-vehicle", "small-vehicle"), "ships": ("ship",)}
GROUP_TITLES = {"aircraft": "Aircraft", "vehicles": "Vehicles", "ships": "Ships"}
MIN_PX_PER_M = {"aircraft": 0.9, "vehicles": 2.0, "ships": 0.9}  # readable: a box of the group's
LABELLED = ("plane", "helicopter", "ship")  # classes whose boxes carry their measured length
MAX_LABELS = 30
PAGE_W = 700  # CSS px across the page
GAP = 8
MAX_CELL_W = 346
MAX_H = 300
MAX_FRAMES = 5
MAX_STRIPS = 4
PAD_M = 15.0
MIN_SIDE_M = 60.0
COLORS = {"plane": "#e63c3c", "helicopter": "#e68c28", "ship": "#28a0e6", "large-vehicle": "#f5d328",
          "small-vehicle": "#78e65a"}

Row = Mapping[str, Any]


@dataclass
class Box:
    cls: str
    points: list[tuple[float, float]]  # display px
    label: str = ""


@dataclass
class Count:
    cls: str
    n: int
    lengths: list[float]
    evidence: list[str]
    det_ids: list[str] = field(default_factory=list)
    words: str = ""  # what they are, in words (class, or size class / type named by size)


@dataclass
class Frame:
    scene_id: str
    t_utc: datetime
    provider: str | None
    gsd_m: float | None
    simulated: bool
    role: str  # before (the first of two or more frames) | after
    width: float
    height: float
    px_per_m: float
    image_b64: str | None = None
    boxes: list[Box] = field(default_factory=list)
    counts: list[Count] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    quotes: list[tuple[str, list[str]]] = field(default_factory=list)  # imagery + ADS-B sentences, footnotes
    note: str = ""

    @property
    def caption_counts(self) -> str:
        parts = []
        for c in self.counts:
            size = ""
            if c.n and c.lengths:
                lo, hi = c.lengths[0], c.lengths[-1]
                size = f" ({lo:.0f} m)" if round(lo) == round(hi) else f" ({lo:.0f}–{hi:.0f} m)"
            parts.append(f"{c.n} {c.words or class_words(c.cls, c.n)}{size}")
        return ", ".join(parts) if parts else "not counted"


@dataclass
class Strip:
    group: str
    zone: str | None
    title: str
    frames: list[Frame]
    cited: bool = True


@dataclass
class _Plan:
    group: str
    zone: str | None
    scenes: list[dict[str, Any]]
    cited: bool


def group_of(cls: str) -> str | None:
    return next((g for g, cs in GROUPS.items() if cls in cs), None)


def plan(scenes: Sequence[dict[str, Any]], count_rows: Sequence[Row], detections: Sequence[Row],
         cited: set[str], as_of: datetime, key_days: int) -> list[_Plan]:
    """Which scenes to show for which group and zone (see the module docstring)."""
    timed = sorted((s for s in scenes if s.get("t_utc") is not None), key=lambda s: s["t_utc"])
    rows_by_scene: dict[str, list[Row]] = {}
    for r in count_rows:
        rows_by_scene.setdefault(str((r.get("ref") or {}).get("scene_id")), []).append(r)
    groups = [g for g in GROUPS if any(r["evidence_id"] in cited and group_of(str(r["ref"].get("class"))) == g
                                       for r in count_rows)]
    was_cited = bool(groups)
    if not groups:  # nothing cited: the group with the most objects, so the imagery is still seen
        n: dict[str, int] = {}
        for d in detections:
            g = group_of(str(d["class"]))
            if g:
                n[g] = n.get(g, 0) + 1
        groups = [max(n, key=lambda g: n[g])] if n else []
    cut = as_of - timedelta(days=key_days)
    out: list[_Plan] = []
    for g in groups:
        classes = GROUPS[g]
        counted = [s for s in timed if any(str(r["ref"].get("class")) in classes
                                           for r in rows_by_scene.get(str(s["scene_id"]), []))]
        seq = counted or [s for s in timed if any(d["scene_id"] == s["scene_id"] and d["class"] in classes
                                                  for d in detections)]
        if not seq:
            continue
        recent = [s for s in seq if s["t_utc"] >= cut]
        older = [s for s in seq if s["t_utc"] < cut]
        frames = ([older[-1]] if older else []) + recent
        if len(frames) < 2:
            frames = seq[-2:]
        ids = {str(s["scene_id"]) for s in frames}
        zones = sorted({d["zone"] for d in detections if d["class"] in classes and str(d["scene_id"]) in ids},
                       key=lambda z: (z is None, str(z)))
        for z in zones or [None]:
            out.append(_Plan(g, z, frames, was_cited))
    return out[:MAX_STRIPS]


# -- geometry --------------------------------------------------------------------------

def _corners(d: Row) -> list[tuple[float, float]]:
    poly = d.get("poly_px")
    if isinstance(poly, str):
        poly = json.loads(poly)
    if poly:
        return [(float(x), float(y)) for x, y in poly]
    if d.get("w_px") and d.get("h_px"):
        a = float(d.get("angle_rad") or 0.0)
        ca, sa = math.cos(a), math.sin(a)
        hw, hh = float(d["w_px"]) / 2, float(d["h_px"]) / 2
        cx, cy = float(d["cx_px"]), float(d["cy_px"])
        return [(cx + ca * dx - sa * dy, cy + sa * dx + ca * dy) for dx, dy in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh))]
    cx, cy = float(d["cx_px"]), float(d["cy_px"])
    return [(cx - 2, cy - 2), (cx + 2, cy + 2)]


@dataclass
class _Crop:
    """Per scene: pixel window (x0, y0, x1, y1); and the ground size of the crop in metres."""

    windows: dict[str, tuple[float, float, float, float]]
    w_m: float
    h_m: float


def _crop(p: _Plan, dets: Sequence[Row], grids: Mapping[str, tuple[str, list[float]]]) -> _Crop | None:
    from sitewatch.imagery import scenes as S

    classes = GROUPS[p.group]
    mine = [d for d in dets if d["class"] in classes and d["zone"] == p.zone]
    ids = [str(s["scene_id"]) for s in p.scenes]
    if not mine:
        return None
    if all(i in grids for i in ids):  # the same ground in every frame
        lons, lats = [], []
        for d in mine:
            crs, tf = grids[str(d["scene_id"])]
            cols, rows = zip(*_corners(d), strict=True)
            lo, la = S.pixel_to_lonlat(crs, tuple(tf), cols, rows)  # type: ignore[arg-type]
            lons += list(lo)
            lats += list(la)
        lat0 = (min(lats) + max(lats)) / 2
        kx, ky = 111_320.0 * math.cos(math.radians(lat0)), 111_320.0
        w_m = max((max(lons) - min(lons)) * kx + 2 * PAD_M, MIN_SIDE_M)
        h_m = max((max(lats) - min(lats)) * ky + 2 * PAD_M, MIN_SIDE_M)
        cx, cy = (max(lons) + min(lons)) / 2, lat0
        box = (cx - w_m / 2 / kx, cy - h_m / 2 / ky, cx + w_m / 2 / kx, cy + h_m / 2 / ky)
        windows = {}
        for i in ids:
            crs, tf = grids[i]
            px, py = S.lonlat_to_pixel(crs, tuple(tf), [box[0], box[2], box[0], box[2]],  # type: ignore[arg-type]
                                       [box[1], box[1], box[3], box[3]])
            windows[i] = (float(min(px)), float(min(py)), float(max(px)), float(max(py)))
        return _Crop(_inside(windows, {str(s["scene_id"]): s for s in p.scenes}), w_m, h_m)
    gsd = next((float(s["gsd_m"]) for s in p.scenes if s.get("gsd_m")), 1.0)
    xs = [x for d in mine for x, _ in _corners(d)]
    ys = [y for d in mine for _, y in _corners(d)]
    pad = PAD_M / gsd
    x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad
    side = MIN_SIDE_M / gsd
    if x1 - x0 < side:
        x0, x1 = (x0 + x1 - side) / 2, (x0 + x1 + side) / 2
    if y1 - y0 < side:
        y0, y1 = (y0 + y1 - side) / 2, (y0 + y1 + side) / 2
    for s in p.scenes:  # within the image
        w, h = float(s.get("width_px") or x1), float(s.get("height_px") or y1)
        x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(w, x1), min(h, y1)
    return _Crop({i: (x0, y0, x1, y1) for i in ids}, (x1 - x0) * gsd, (y1 - y0) * gsd)


def _inside(windows: dict[str, tuple[float, float, float, float]], scenes: Mapping[str, Row]
            ) -> dict[str, tuple[float, float, float, float]]:
    """Shift every window by the same pixels so none runs off its image where it can (the
    frames keep showing the same ground); a window larger than an image stays as it is."""
    def shift(lo: list[float], hi: list[float], size: list[float]) -> float:
        need_up = max(max(0.0, -v) for v in lo)  # how far a window runs off the low edge
        need_down = max(max(0.0, h - s) for h, s in zip(hi, size, strict=True))
        room_up = min(s - h for h, s in zip(hi, size, strict=True))
        room_down = min(lo)
        if need_up > 0 and need_down == 0:
            return min(need_up, max(0.0, room_up))
        if need_down > 0 and need_up == 0:
            return -min(need_down, max(0.0, room_down))
        return 0.0

    ids = list(windows)
    ws = [float(scenes[i].get("width_px") or 0) or windows[i][2] for i in ids]
    hs = [float(scenes[i].get("height_px") or 0) or windows[i][3] for i in ids]
    dx = shift([windows[i][0] for i in ids], [windows[i][2] for i in ids], ws)
    dy = shift([windows[i][1] for i in ids], [windows[i][3] for i in ids], hs)
    return {i: (w[0] + dx, w[1] + dy, w[2] + dx, w[3] + dy) for i, w in windows.items()}


def _layout(group: str, n_frames: int, w_m: float, h_m: float) -> tuple[int, float, float]:
    """(frames that fit across the page, cell width, cell height) in CSS px: as large as a
    cell may be (:data:`MAX_CELL_W` × :data:`MAX_H`), shrunk to fit every frame in one row
    while the group stays readable (:data:`MIN_PX_PER_M`), else fewer frames."""
    ppm = min(MAX_H / h_m, (MAX_CELL_W if n_frames > 1 else PAGE_W) / w_m)
    k = max(1, int((PAGE_W + GAP) // (w_m * ppm + GAP)))
    if k < n_frames:
        ppm_all = (PAGE_W - GAP * (n_frames - 1)) / n_frames / w_m
        if ppm_all >= MIN_PX_PER_M[group]:
            ppm, k = ppm_all, n_frames
    k = min(k, n_frames, MAX_FRAMES)
    return k, w_m * ppm, h_m * ppm


# -- pixels ----------------------------------------------------------------------------

def _jpeg(scene: Row, win: tuple[float, float, float, float], w: int, h: int) -> tuple[str | None, str]:
    from PIL import Image

    from sitewatch.errors import SitewatchError
    from sitewatch.imagery import scenes as S

    x0, y0, x1, y1 = (round(v) for v in win)
    try:
        with warnings.catch_warnings():  # rasterio's own PendingDeprecationWarning on plain images
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            arr = S.read_window(str(scene["path"]), x0, y0, max(x1, x0 + 1), max(y1, y0 + 1), w, h)
    except (SitewatchError, OSError, ValueError) as exc:
        name = Path(str(scene.get("path") or "")).name
        return None, f"image {name or '(no file)'} not readable here ({type(exc).__name__}); boxes from the store"
    im = Image.fromarray(np.ascontiguousarray(arr[:, :, :3]))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=84, optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii"), ""


def render(plans: Sequence[_Plan], count_rows: Sequence[Row], dets: Sequence[Row],
           grids: Mapping[str, tuple[str, list[float]]], measured: Any, describe: Any = None) -> list[Strip]:
    """Strips of annotated frames for ``plans``; ``measured(det_ids)`` → sorted lengths,
    ``describe(cls, n, det_ids)`` → what the objects are in words (default: the class)."""
    by_scene: dict[str, list[Row]] = {}
    for d in dets:
        by_scene.setdefault(str(d["scene_id"]), []).append(d)
    strips: list[Strip] = []
    for p in plans:
        crop = _crop(p, dets, grids)
        if crop is None:
            continue
        k, cw, ch = _layout(p.group, len(p.scenes), crop.w_m, crop.h_m)
        scenes = p.scenes if len(p.scenes) <= k else ([p.scenes[0], *p.scenes[-(k - 1):]] if k > 1
                                                      else [p.scenes[-1]])
        frames = []
        for n, s in enumerate(scenes):
            sid = str(s["scene_id"])
            win = crop.windows[sid]
            ppm = cw / crop.w_m
            f = Frame(sid, s["t_utc"], s.get("provider"), s.get("gsd_m"), bool(s.get("simulated")),
                      "before" if n == 0 and len(scenes) > 1 else "after", round(cw, 1), round(ch, 1), ppm)
            f.image_b64, f.note = _jpeg(s, win, int(cw * 2), int(ch * 2))
            _boxes(f, p, by_scene.get(sid, []), win, cw, ch, crop)
            _counts(f, p, count_rows, measured, describe)
            frames.append(f)
        zone = f" in zone {p.zone}" if p.zone else ""
        strips.append(Strip(p.group, p.zone, f"{GROUP_TITLES[p.group]}{zone}", frames, p.cited))
    return strips


def _boxes(f: Frame, p: _Plan, dets: Sequence[Row], win: tuple[float, float, float, float], cw: float,
           ch: float, crop: _Crop) -> None:
    x0, y0, x1, y1 = win
    sx, sy = cw / max(x1 - x0, 1e-9), ch / max(y1 - y0, 1e-9)
    shown = [d for d in dets if d["class"] in GROUPS[p.group]]
    labelled = sum(1 for d in shown if d["class"] in LABELLED) <= MAX_LABELS
    for d in shown:
        pts = [((x - x0) * sx, (y - y0) * sy) for x, y in _corners(d)]
        if all(not (0 <= x <= cw and 0 <= y <= ch) for x, y in pts):
            continue
        label = ""
        if labelled and d["class"] in LABELLED and d.get("length_m"):
            what = short_type(str(d["named_type"])) if d.get("named_type") else class_words(str(d["class"]), 1)
            label = f"{what} {float(d['length_m']):.0f} m"
        f.boxes.append(Box(str(d["class"]), pts, label))


def _counts(f: Frame, p: _Plan, count_rows: Sequence[Row], measured: Any, describe: Any = None) -> None:
    by_cls: dict[str, Count] = {}
    for r in count_rows:
        ref = r.get("ref") or {}
        if str(ref.get("scene_id")) != f.scene_id or ref.get("class") not in GROUPS[p.group]:
            continue
        if ref.get("zone") != p.zone:
            continue
        cls = str(ref["class"])
        if r["kind"] == "imagery.limit":
            f.limits.append(f"{class_words(cls)} not countable at this resolution")
            f.evidence.append(str(r["evidence_id"]))
            continue
        c = by_cls.setdefault(cls, Count(cls, 0, [], []))
        c.n += int(r.get("value") or 0)
        c.lengths = sorted(c.lengths + list(measured(ref.get("det_ids") or [])))
        c.det_ids += [str(d) for d in ref.get("det_ids") or []]
        c.evidence.append(str(r["evidence_id"]))
        f.evidence.append(str(r["evidence_id"]))
    for r in count_rows:  # a class found nowhere in the scene has one site-wide zero row: zero here too
        ref = r.get("ref") or {}
        cls = str(ref.get("class"))
        if (str(ref.get("scene_id")) == f.scene_id and cls in GROUPS[p.group] and cls not in by_cls
                and p.zone is not None and ref.get("zone") is None and r["kind"] == "imagery.count"
                and not r.get("value")):
            by_cls[cls] = Count(cls, 0, [], [str(r["evidence_id"])])
            f.evidence.append(str(r["evidence_id"]))
    counts = [by_cls[c] for c in GROUPS[p.group] if c in by_cls]
    for c in counts:
        c.words = describe(c.cls, c.n, c.det_ids) if describe else ""
    f.counts = [c for c in counts if c.n] or counts[:1]  # zeros said once, by the group's first class


# -- SVG -------------------------------------------------------------------------------

def _nice(m: float) -> float:
    return min((10, 20, 25, 50, 100, 200, 250, 500, 1000), key=lambda v: abs(v - m))


def frame_svg(f: Frame) -> str:
    """One frame as inline SVG: the picture, the boxes, length labels, a scale bar."""
    w, h = f.width, f.height
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chip" viewBox="0 0 {w:.1f} {h:.1f}" '
           f'width="{w:.0f}" height="{h:.0f}" data-px-per-m="{f.px_per_m:.2f}" role="img" '
           f'aria-label="scene {escape(f.scene_id[:12])}">']
    if f.image_b64:
        out.append(f'<image href="data:image/jpeg;base64,{f.image_b64}" x="0" y="0" width="{w:.1f}" '
                   f'height="{h:.1f}" preserveAspectRatio="none"/>')
    else:
        out.append(f'<rect width="{w:.1f}" height="{h:.1f}" fill="#9a9a9a"/>')
    for b in f.boxes:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in b.points)
        out.append(f'<polygon class="det {escape(b.cls)}" points="{pts}" fill="none" '
                   f'stroke="{COLORS.get(b.cls, "#ffffff")}" stroke-width="1.4"/>')
    for b in f.boxes:
        if not b.label:
            continue
        x = min(max(min(px for px, _ in b.points), 2.0), w - 60)
        top = min(py for _, py in b.points)
        y = top - 3 if top > 14 else max(py for _, py in b.points) + 11
        out.append(f'<text x="{x:.1f}" y="{min(y, h - 3):.1f}" font-size="10.5" font-weight="600" fill="#fff" '
                   f'stroke="#000" stroke-width="2.4" paint-order="stroke">{escape(b.label)}</text>')
    bar_m = _nice(w / f.px_per_m / 4)
    bar_px = bar_m * f.px_per_m
    out.append(f'<g transform="translate(6,{h - 8:.1f})"><rect width="{bar_px:.1f}" height="4" fill="#fff" '
               f'stroke="#000" stroke-width="0.8"/><text y="-3" font-size="10" fill="#fff" stroke="#000" '
               f'stroke-width="2.2" paint-order="stroke">{bar_m:g} m</text></g>')
    out.append("</svg>")
    return "".join(out)
