"""Accuracy of detections against labelled boxes: matching, precision/recall/F1, count error.

Matching is greedy by detection score: each detection takes the unmatched label it
overlaps most, if the IoU reaches ``iou_thr``. Labels flagged ``ignore`` (Airbus
``Truncated_airplane``, DOTA ``difficult``) neither count as misses when unmatched nor
make a detection matched to them a false alarm. ``axis_aligned=True`` compares the
axis-aligned hull of each rotated box with the label (the Airbus labels are upright
rectangles); otherwise polygons are compared exactly.

Also here: readers for the two labelled sample formats (Airbus ``annotations.csv``,
DOTA ``x1 y1 … x4 y4 class difficult`` text).
"""

from __future__ import annotations

import ast
import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from numpy.typing import NDArray

from sitewatch.detect.base import Detections
from sitewatch.errors import FormatError

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Labels:
    """Labelled objects of one image: polygons (n, 4, 2) in pixels, class, ignore flag."""

    corners: F64
    classes: tuple[str, ...]
    ignore: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.classes)

    def of_class(self, name: str) -> Labels:
        m = np.asarray([c == name for c in self.classes], bool)
        return Labels(self.corners[m], tuple(c for c, k in zip(self.classes, m, strict=True) if k),
                      self.ignore[m])


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int
    n_labels: int  # labels that count (not ignored)
    n_detections: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: Score) -> Score:
        return Score(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn,
                     self.n_labels + other.n_labels, self.n_detections + other.n_detections)


def _hull(c: F64) -> F64:
    lo, hi = c.min(axis=1), c.max(axis=1)
    return np.stack([np.stack([lo[:, 0], lo[:, 1]], -1), np.stack([hi[:, 0], lo[:, 1]], -1),
                     np.stack([hi[:, 0], hi[:, 1]], -1), np.stack([lo[:, 0], hi[:, 1]], -1)], axis=1)


def iou_matrix(det_corners: F64, label_corners: F64, axis_aligned: bool) -> F64:
    """IoU of every detection (rows) with every label (columns)."""
    if len(det_corners) == 0 or len(label_corners) == 0:
        return np.zeros((len(det_corners), len(label_corners)))
    if axis_aligned:
        det_corners, label_corners = _hull(det_corners), _hull(label_corners)
    a = shapely.polygons(det_corners)[:, None]
    b = shapely.polygons(label_corners)[None, :]
    a_b = np.broadcast_arrays(a, b)
    inter = shapely.area(shapely.intersection(a_b[0], a_b[1]))
    union = shapely.area(a) + shapely.area(b) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def match(det: Detections, labels: Labels, iou_thr: float = 0.3, axis_aligned: bool = False) -> Score:
    """Greedy score-ordered matching of ``det`` to ``labels`` (see module doc)."""
    iou = iou_matrix(det.corners(), labels.corners, axis_aligned)
    taken = np.zeros(len(labels), bool)
    tp = fp = 0
    for d in np.argsort(-det.score, kind="stable"):
        if len(labels) == 0:
            fp += 1
            continue
        row = np.where(taken, -1.0, iou[d])
        j = int(row.argmax())
        if row[j] >= iou_thr:
            taken[j] = True
            tp += 0 if labels.ignore[j] else 1
        else:
            fp += 1
    fn = int((~taken & ~labels.ignore).sum())
    return Score(tp, fp, fn, int((~labels.ignore).sum()), len(det))


def count_error(n_detected: int, n_labelled: int) -> float:
    """Absolute count error relative to the labelled count."""
    return abs(n_detected - n_labelled) / max(n_labelled, 1)


def read_airbus(path: str | Path) -> dict[str, Labels]:
    """Airbus aircraft ``annotations.csv`` → labels per image file name.

    ``geometry`` is a closed ring of (x, y) pixel tuples; ``Truncated_airplane`` is ignore.
    """
    per: dict[str, list[tuple[F64, str, bool]]] = defaultdict(list)
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                ring = np.asarray(ast.literal_eval(row["geometry"]), np.float64)[:4]
            except (ValueError, SyntaxError, KeyError) as exc:
                raise FormatError(f"bad geometry ({exc})", path=str(path), offset=line) from None
            if ring.shape != (4, 2):
                raise FormatError(f"geometry has shape {ring.shape}, expected 4 corners", str(path), line)
            per[row["image_id"]].append((ring, "plane", row["class"] == "Truncated_airplane"))
    return {k: Labels(np.stack([r for r, _, _ in v]), tuple(c for _, c, _ in v),
                      np.asarray([i for _, _, i in v], bool)) for k, v in per.items()}


def read_dota(path: str | Path) -> Labels:
    """DOTA v1 label file: ``x1 y1 x2 y2 x3 y3 x4 y4 class difficult``; header lines skipped."""
    rings, classes, ignore = [], [], []
    for line_no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if len(parts) < 9 or ":" in line:
            continue
        try:
            xy = np.asarray([float(v) for v in parts[:8]]).reshape(4, 2)
        except ValueError:
            raise FormatError("corner coordinates are not numbers", str(path), line_no) from None
        rings.append(xy)
        classes.append(parts[8])
        ignore.append(len(parts) > 9 and parts[9] == "1")
    return Labels(np.stack(rings) if rings else np.zeros((0, 4, 2)), tuple(classes), np.asarray(ignore, bool))
