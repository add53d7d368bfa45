"""YOLOv8-OBB (DOTA v1.0 classes) run with onnxruntime: resample, slice, decode, merge.

Contract of :class:`YoloObbDetector.detect` (image + its GSD → :class:`Detections`):

1. The scene is resampled, on the fly and slice by slice (only one slice of the
   resampled scene exists at a time), to the ground resolution the model works best at
   for the classes wanted: ``target_gsd_m`` for aircraft and large objects,
   ``fine_gsd_m`` for ships and vehicles (both measured: see ``DESIGN.md``).
2. Slices are the model's input size (1024 px) with ``overlap_m`` metres of overlap;
   the last slice of a row or column is aligned to the scene's edge, and a scene
   smaller than one slice is letterboxed (grey 114 padding, as in training).
3. ``output0`` ``[1, 4 + C + 1, N]`` is decoded as ``cx, cy, w, h`` (input pixels),
   ``C`` class scores (already sigmoid), and the angle in radians; boxes are put in
   long-side form (``w ≥ h``, angle in ``[0, π)``) and mapped back to source pixels.
4. Boxes are merged within and then across slices by exact rotated-IoU NMS (per class);
   fragments cut by an inner slice edge give way to the whole box from the neighbour.
   There is no cap on the number of detections.
5. Vehicles are counted once (:mod:`sitewatch.detect.dedupe`): a vehicle box lying mostly
   inside a larger vehicle box (a truck's cab found as a small vehicle) is dropped, and a
   truck-sized "small vehicle" becomes a large one (``merge_vehicle_parts=False`` keeps
   the model's raw boxes).

No PyTorch anywhere: the model is an ONNX file (``sitewatch models`` manages them).
"""

from __future__ import annotations

import ast
import logging
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sitewatch.detect.base import Detections, Raster, register
from sitewatch.detect.dedupe import PART_OF, TRUCK_MIN_M, merge_vehicles
from sitewatch.detect.geometry import rotated_nms
from sitewatch.detect.raster import ArrayRaster
from sitewatch.errors import DependencyError, FormatError, InputError

log = logging.getLogger(__name__)
DOTA_CLASSES = (
    "plane", "ship", "storage-tank", "baseball-diamond", "tennis-court", "basketball-court",
    "ground-track-field", "harbor", "bridge", "large-vehicle", "small-vehicle", "helicopter",
    "roundabout", "soccer-ball-field", "swimming-pool",
)
LETTERBOX_FILL = 114  # Ultralytics' letterbox grey
F64 = NDArray[np.float64]
CONTAIN_THR = 0.6  # a slice-edge fragment lying mostly inside a whole box is that box's part
# Measured on the shared labelled images (DESIGN.md, "Detection"): aircraft F1 on the 82
# Airbus 0.5 m scenes is best with the scene shrunk to 1.25 m; ship and vehicle recall
# on DOTA P0706 / P1888 falls from 0.99-1.0 at 0.3 m to 0.92 / 0.84 at 0.6 m.
DEFAULT_GSD_M = 1.25
DEFAULT_FINE_GSD_M = 0.3
FINE_CLASSES = frozenset({"ship", "large-vehicle", "small-vehicle", "helicopter", "swimming-pool"})


@dataclass(frozen=True)
class Slice:
    """One model input: source window ``[x0:x1, y0:y1]`` resampled to ``out_w × out_h``."""

    x0: int
    y0: int
    x1: int
    y1: int
    out_w: int
    out_h: int
    inner_left: bool  # the left edge is inside the scene (a neighbour slice overlaps it)
    inner_top: bool
    inner_right: bool
    inner_bottom: bool


def _starts(length: float, tile: float, step: float) -> list[float]:
    """Slice starts along one axis: regular steps, the last aligned to the far edge."""
    if length <= tile:
        return [0.0]
    starts = [k * step for k in range(math.ceil((length - tile) / step))]
    starts.append(length - tile)
    return starts


def plan_slices(width_px: int, height_px: int, scale: float, tile_px: int, overlap_px: int) -> list[Slice]:
    """Slices covering a ``width_px × height_px`` scene resampled by ``scale`` (out/in)."""
    if tile_px <= overlap_px:
        raise InputError(f"overlap {overlap_px} px must be smaller than the slice size {tile_px} px")
    tile_src, step_src = tile_px / scale, (tile_px - overlap_px) / scale
    xs = _starts(width_px, tile_src, step_src)
    ys = _starts(height_px, tile_src, step_src)
    out: list[Slice] = []
    for yi, y in enumerate(ys):
        for xi, x in enumerate(xs):
            x0, y0 = round(x), round(y)
            x1, y1 = min(width_px, round(x + tile_src)), min(height_px, round(y + tile_src))
            ow = min(tile_px, max(1, round((x1 - x0) * scale)))
            oh = min(tile_px, max(1, round((y1 - y0) * scale)))
            out.append(Slice(x0, y0, x1, y1, ow, oh, xi > 0, yi > 0, xi < len(xs) - 1, yi < len(ys) - 1))
    return out


def decode(output: NDArray[np.float32], conf_thr: float, n_classes: int
           ) -> tuple[F64, F64, F64, F64, F64, F64, NDArray[np.int64]]:
    """``output0`` of one image ``[4 + C + 1, N]`` → (cx, cy, w, h, angle, score, class) above ``conf_thr``.

    Boxes come back in long-side form: ``w ≥ h`` and angle in ``[0, π)``.
    """
    if output.ndim == 3:
        output = output[0]
    if output.shape[0] != 4 + n_classes + 1:
        raise FormatError(f"model output has {output.shape[0]} rows; expected 4 + {n_classes} classes + 1 angle")
    scores = output[4:4 + n_classes]
    cls = scores.argmax(axis=0)
    best = scores[cls, np.arange(scores.shape[1])]
    keep = best >= conf_thr
    cx, cy, w, h = (output[k, keep].astype(np.float64) for k in range(4))
    angle = output[4 + n_classes, keep].astype(np.float64)
    swap = w < h
    w, h = np.where(swap, h, w), np.where(swap, w, h)
    angle = np.mod(np.where(swap, angle + np.pi / 2, angle), np.pi)
    return cx, cy, w, h, angle, best[keep].astype(np.float64), cls[keep].astype(np.int64)


def _class_names(meta: dict[str, str], n: int) -> tuple[str, ...]:
    names = meta.get("names")
    if names:
        try:
            parsed = ast.literal_eval(names)
            if isinstance(parsed, dict) and len(parsed) == n:
                return tuple(str(parsed[k]).replace(" ", "-") for k in sorted(parsed))
        except (ValueError, SyntaxError):
            pass
    if n == len(DOTA_CLASSES):
        return DOTA_CLASSES
    raise FormatError(f"model has {n} classes and no readable 'names' metadata; cannot name them")


@dataclass(frozen=True)
class Pass:
    """One run of the model over the scene: at ``gsd_m`` (None: native), keeping ``classes``."""

    gsd_m: float | None
    overlap_m: float
    classes: frozenset[str]


@register("yolov8-obb")
class YoloObbDetector:
    """A YOLOv8-OBB ONNX model behind the :class:`~sitewatch.detect.base.Detector` interface.

    Two passes by default, because the model's best resolution depends on the object's
    size (measured, see ``DESIGN.md``): aircraft and other large objects at
    ``target_gsd_m`` (1.25 m), ships, vehicles and other small objects at ``fine_gsd_m``
    (0.3 m). A pass never upsamples: a scene coarser than a pass's GSD runs at its own
    resolution, and when both passes fall on the same resolution the model runs once.
    """

    name = "yolov8-obb"

    def __init__(
        self,
        model_path: str | Path,
        target_gsd_m: float = DEFAULT_GSD_M,
        fine_gsd_m: float = DEFAULT_FINE_GSD_M,
        overlap_m: float = 100.0,
        fine_overlap_m: float = 60.0,
        conf_thr: float = 0.25,
        iou_thr: float = 0.5,
        threads: int | None = None,
        merge_vehicle_parts: bool = True,
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - declared dependency
            raise DependencyError("onnxruntime is not installed; `pip install onnxruntime`") from exc
        p = Path(model_path)
        if not p.is_file():
            raise InputError("model file not found; see `sitewatch models list`", path=str(p))
        if (min(target_gsd_m, fine_gsd_m) <= 0 or min(overlap_m, fine_overlap_m) < 0
                or not 0 < conf_thr < 1 or not 0 < iou_thr < 1):
            raise InputError(
                f"bad detector settings target_gsd_m={target_gsd_m} fine_gsd_m={fine_gsd_m} "
                f"overlap_m={overlap_m} fine_overlap_m={fine_overlap_m} conf_thr={conf_thr} iou_thr={iou_thr}"
            )
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or min(os.cpu_count() or 1, 8)
        so.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise FormatError(f"onnxruntime cannot load the model: {exc}", path=str(p)) from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape
        self.tile_px = int(shape[2]) if isinstance(shape[2], int) else 1024
        n_out = self.session.get_outputs()[0].shape[1]
        n_classes = (int(n_out) if isinstance(n_out, int) else 20) - 5
        meta = self.session.get_modelmeta().custom_metadata_map
        self.class_names = _class_names(meta, n_classes)
        self.model_path = p
        self.target_gsd_m = target_gsd_m
        self.fine_gsd_m = fine_gsd_m
        self.overlap_m = overlap_m
        self.fine_overlap_m = fine_overlap_m
        self.conf_thr = conf_thr
        self.iou_thr = iou_thr
        self.merge_vehicle_parts = merge_vehicle_parts

    def settings(self) -> dict[str, Any]:
        """What changes the result: recorded with every run."""
        return {"detector": self.name, "model_path": str(self.model_path), "target_gsd_m": self.target_gsd_m,
                "fine_gsd_m": self.fine_gsd_m, "overlap_m": self.overlap_m,
                "fine_overlap_m": self.fine_overlap_m, "conf_thr": self.conf_thr, "iou_thr": self.iou_thr,
                "tile_px": self.tile_px,
                "vehicle_merge": {"part_of": PART_OF, "truck_min_m": TRUCK_MIN_M} if self.merge_vehicle_parts
                else None}

    def passes(self, gsd_m: float | None, classes: Iterable[str] | None = None) -> list[Pass]:
        """The passes needed for ``classes`` (default all) on a scene of ``gsd_m``."""
        wanted = frozenset(self.class_names if classes is None else classes)
        unknown = wanted - set(self.class_names)
        if unknown:
            raise InputError(f"unknown classes {sorted(unknown)}; the model knows {', '.join(self.class_names)}")
        if gsd_m is None:
            return [Pass(None, self.overlap_m, wanted)]
        if gsd_m <= 0:
            raise InputError(f"gsd_m must be positive, got {gsd_m}")
        fine = wanted & FINE_CLASSES
        coarse = wanted - FINE_CLASSES
        g_coarse, g_fine = max(self.target_gsd_m, gsd_m), max(self.fine_gsd_m, gsd_m)
        if math.isclose(g_coarse, g_fine, rel_tol=0.02) or not fine or not coarse:
            g = g_fine if fine else g_coarse
            return [Pass(g, self.fine_overlap_m if fine else self.overlap_m, wanted)]
        return [Pass(g_coarse, self.overlap_m, coarse), Pass(g_fine, self.fine_overlap_m, fine)]

    # -- one model input ---------------------------------------------------------------
    def infer(self, tile: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Raw ``output0`` for one RGB uint8 slice of at most ``tile_px`` per side (letterboxed)."""
        h, w = tile.shape[:2]
        if h > self.tile_px or w > self.tile_px:
            raise InputError(f"slice {w}×{h} is larger than the model input {self.tile_px}")
        canvas = np.full((self.tile_px, self.tile_px, 3), LETTERBOX_FILL, np.uint8)
        canvas[:h, :w] = tile
        x = canvas.transpose(2, 0, 1)[None].astype(np.float32) * np.float32(1 / 255)
        out: NDArray[np.float32] = self.session.run(None, {self.input_name: x})[0]
        return out

    def slices(self, raster: Raster, gsd_m: float | None, p: Pass) -> list[Slice]:
        """The slices of one pass over ``raster``."""
        scale = 1.0 if gsd_m is None or p.gsd_m is None else gsd_m / p.gsd_m
        g = p.gsd_m if p.gsd_m is not None else (gsd_m or 1.0)
        overlap_px = min(self.tile_px // 2, max(32, round(p.overlap_m / g)))
        return plan_slices(raster.width_px, raster.height_px, scale, self.tile_px, overlap_px)

    # -- a whole scene -----------------------------------------------------------------
    def detect(self, image: NDArray[np.uint8] | Raster, gsd_m: float | None,
               classes: Iterable[str] | None = None,
               on_slice: Callable[[int, int], Any] | None = None) -> Detections:
        """Detect objects in ``image`` whose ground sample distance is ``gsd_m`` m/px.

        ``gsd_m=None`` runs once at the image's own resolution. ``classes`` limits the
        classes returned (and the passes run). ``on_slice(done, total)`` is called after
        each slice (progress bars).
        """
        raster: Raster = ArrayRaster(image) if isinstance(image, np.ndarray) else image
        plans = [(p, self.slices(raster, gsd_m, p)) for p in self.passes(gsd_m, classes)]
        total = sum(len(sl) for _, sl in plans)
        done = 0
        out: list[Detections] = []
        for p, plan in plans:
            keep_ids = np.asarray([k for k, c in enumerate(self.class_names) if c in p.classes], np.int64)
            parts: list[Detections] = []
            fragile: list[NDArray[np.bool_]] = []
            for s in plan:
                tile = raster.read(s.x0, s.y0, s.x1, s.y1, s.out_w, s.out_h)
                det, frag = self._slice(tile, s, keep_ids)
                parts.append(det)
                fragile.append(frag)
                done += 1
                if on_slice is not None:
                    on_slice(done, total)
            det = Detections.concat(parts, self.class_names)
            if len(plan) > 1 and len(det):
                keep = rotated_nms(det.cx_px, det.cy_px, det.w_px, det.h_px, det.angle_rad, det.score,
                                   det.class_id, iou_thr=self.iou_thr, contain_thr=CONTAIN_THR,
                                   fragile=np.concatenate(fragile))
                keep.sort()
                det = det.select(keep)
            out.append(det)
        found = Detections.concat(out, self.class_names)
        if not self.merge_vehicle_parts:
            return found
        merged, info = merge_vehicles(found, gsd_m)
        if info.parts_dropped or info.relabelled:
            log.info("vehicles counted once: %d part boxes dropped, %d truck-sized small vehicles relabelled",
                     info.parts_dropped, info.relabelled)
        return merged

    def _slice(self, tile: NDArray[np.uint8], s: Slice, keep_ids: NDArray[np.int64]
               ) -> tuple[Detections, NDArray[np.bool_]]:
        """Boxes of one slice (classes ``keep_ids``), in source pixels, and which touch an inner edge."""
        cx, cy, w, h, a, score, cls = decode(self.infer(tile), self.conf_thr, len(self.class_names))
        m = np.isin(cls, keep_ids)
        cx, cy, w, h, a, score, cls = cx[m], cy[m], w[m], h[m], a[m], score[m], cls[m]
        keep = rotated_nms(cx, cy, w, h, a, score, cls, iou_thr=self.iou_thr)
        cx, cy, w, h, a, score, cls = cx[keep], cy[keep], w[keep], h[keep], a[keep], score[keep], cls[keep]
        fragile = _touches_inner_edge(cx, cy, w, h, a, s)
        sx, sy = s.out_w / (s.x1 - s.x0), s.out_h / (s.y1 - s.y0)
        k_len = 2.0 / (sx + sy)  # sx == sy up to rounding: lengths scale by their mean
        det = Detections(s.x0 + cx / sx, s.y0 + cy / sy, w * k_len, h * k_len, a, score, cls, self.class_names)
        return det, fragile


def _touches_inner_edge(cx: F64, cy: F64, w: F64, h: F64, a: F64, s: Slice,
                        margin_px: float = 4.0) -> NDArray[np.bool_]:
    """Boxes (slice pixels) reaching within ``margin_px`` of an edge a neighbour slice overlaps."""
    c, sn = np.abs(np.cos(a)), np.abs(np.sin(a))
    half_x = (w * c + h * sn) / 2
    half_y = (w * sn + h * c) / 2
    out = np.zeros(len(cx), bool)
    if s.inner_left:
        out |= cx - half_x <= margin_px
    if s.inner_top:
        out |= cy - half_y <= margin_px
    if s.inner_right:
        out |= cx + half_x >= s.out_w - margin_px
    if s.inner_bottom:
        out |= cy + half_y >= s.out_h - margin_px
    return out
