"""Rotated boxes: corners, exact rotated IoU and greedy rotated-IoU NMS.

A rotated box is ``(cx, cy, w, h, angle_rad)`` in pixels, the angle turning the box's
``w`` side from the +x axis towards +y (image rows grow downwards, so a positive angle
looks clockwise on screen). Everything is vectorised over arrays of boxes.

IoU is exact (vectorised Sutherland–Hodgman clipping of the two rectangles), not the
Gaussian approximation Ultralytics uses: parked aircraft wing to wing and moored boats
hull to hull have near-zero exact overlap, which is what keeps them apart in NMS.
Candidate pairs are those whose axis-aligned envelopes overlap (an STR-tree query), so
NMS on thousands of boxes never builds an N×N matrix.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
_CHUNK = 200_000  # pairs per vectorised IoU batch: bounds memory on dense harbours


def corners(cx: F64, cy: F64, w: F64, h: F64, angle_rad: F64) -> F64:
    """Corners of each box, shape (n, 4, 2), in order around the box."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    hw, hh = np.asarray(w) / 2.0, np.asarray(h) / 2.0
    # local corner offsets (±hw, ±hh) rotated by the angle
    dx = np.stack([-hw, hw, hw, -hw], axis=-1)
    dy = np.stack([-hh, -hh, hh, hh], axis=-1)
    x = np.asarray(cx)[..., None] + dx * c[..., None] - dy * s[..., None]
    y = np.asarray(cy)[..., None] + dx * s[..., None] + dy * c[..., None]
    return np.stack([x, y], axis=-1).astype(np.float64)


def polygons(corner_xy: F64) -> NDArray[np.object_]:
    """Shapely polygons from corners of shape (n, 4, 2)."""
    return np.asarray(shapely.polygons(np.asarray(corner_xy, dtype=np.float64)), dtype=object)


def _shoelace(x: F64, y: F64) -> F64:
    return 0.5 * (x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1)


def _clip(px: F64, py: F64, cnt: I64, ax: F64, ay: F64, bx: F64, by: F64, sgn: F64
          ) -> tuple[F64, F64, I64]:
    """One Sutherland–Hodgman step: each row's polygon clipped to the inner side of edge a→b."""
    n, m = px.shape
    ox, oy = np.zeros((n, m + 1)), np.zeros((n, m + 1))
    ptr = np.zeros(n, np.int64)
    rows = np.arange(n)
    safe = np.maximum(cnt, 1)
    for k in range(m):
        valid = k < cnt
        prev = np.where(k == 0, safe - 1, k - 1)
        cxv, cyv = px[:, k], py[:, k]
        pxv, pyv = px[rows, prev], py[rows, prev]
        d_cur = sgn * ((bx - ax) * (cyv - ay) - (by - ay) * (cxv - ax))
        d_prev = sgn * ((bx - ax) * (pyv - ay) - (by - ay) * (pxv - ax))
        in_cur, in_prev = d_cur >= 0, d_prev >= 0
        cross = valid & (in_cur != in_prev)
        if cross.any():
            t = d_prev[cross] / (d_prev[cross] - d_cur[cross])
            r = rows[cross]
            ox[r, ptr[cross]] = pxv[cross] + t * (cxv[cross] - pxv[cross])
            oy[r, ptr[cross]] = pyv[cross] + t * (cyv[cross] - pyv[cross])
            ptr[cross] += 1
        put = valid & in_cur
        r = rows[put]
        ox[r, ptr[put]] = cxv[put]
        oy[r, ptr[put]] = cyv[put]
        ptr[put] += 1
    return ox, oy, ptr


def intersection_area(a_xy: F64, b_xy: F64) -> F64:
    """Exact area of the intersection of convex quadrilaterals, pairwise ((n, 4, 2) each).

    Vectorised Sutherland–Hodgman: ``a`` is clipped by the four edges of ``b``.
    """
    n = len(a_xy)
    if n == 0:
        return np.zeros(0)
    px, py = a_xy[:, :, 0].astype(np.float64), a_xy[:, :, 1].astype(np.float64)
    cnt = np.full(n, 4, np.int64)
    sgn = np.sign(_shoelace(b_xy[:, :, 0], b_xy[:, :, 1]))
    for k in range(4):
        a, b = b_xy[:, k], b_xy[:, (k + 1) % 4]
        px, py, cnt = _clip(px, py, cnt, a[:, 0], a[:, 1], b[:, 0], b[:, 1], sgn)
    pad = np.arange(px.shape[1])[None, :] >= cnt[:, None]
    px = np.where(pad, px[:, :1], px)
    py = np.where(pad, py[:, :1], py)
    return np.where(cnt >= 3, np.abs(_shoelace(px, py)), 0.0)


def rects_overlap(a_xy: F64, b_xy: F64) -> NDArray[np.bool_]:
    """Whether rectangles overlap, pairwise: separating-axis test on the four edge normals."""
    out = np.ones(len(a_xy), bool)
    for r in (a_xy, b_xy):
        for k in range(2):  # a rectangle has two edge directions
            e = r[:, k + 1] - r[:, k]
            nx, ny = -e[:, 1], e[:, 0]
            pa = a_xy[:, :, 0] * nx[:, None] + a_xy[:, :, 1] * ny[:, None]
            pb = b_xy[:, :, 0] * nx[:, None] + b_xy[:, :, 1] * ny[:, None]
            out &= (pa.max(1) >= pb.min(1)) & (pb.max(1) >= pa.min(1))
    return out


def quad_area(xy: F64) -> F64:
    return np.abs(_shoelace(xy[:, :, 0], xy[:, :, 1]))


def pair_iou(a_xy: F64, b_xy: F64) -> F64:
    """Exact IoU of quadrilaterals taken pairwise (same length arrays of (n, 4, 2))."""
    inter = intersection_area(a_xy, b_xy)
    union = quad_area(a_xy) + quad_area(b_xy) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def pair_overlap_of_smaller(a_xy: F64, b_xy: F64) -> F64:
    """Intersection over the smaller quadrilateral's area, pairwise."""
    inter = intersection_area(a_xy, b_xy)
    smaller = np.minimum(quad_area(a_xy), quad_area(b_xy))
    return np.where(smaller > 0, inter / np.maximum(smaller, 1e-12), 0.0)


def candidate_pairs(corner_xy: F64) -> tuple[I64, I64]:
    """Index pairs (i ≠ j, both directions) whose axis-aligned envelopes overlap (STR-tree)."""
    n = len(corner_xy)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lo, hi = corner_xy.min(axis=1), corner_xy.max(axis=1)
    boxes = shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])
    a, b = shapely.STRtree(boxes).query(boxes)
    keep = a != b
    return a[keep].astype(np.int64), b[keep].astype(np.int64)


def rotated_nms(
    cx: F64, cy: F64, w: F64, h: F64, angle_rad: F64, score: F64, class_id: I64,
    iou_thr: float = 0.5, contain_thr: float | None = None, fragile: NDArray[np.bool_] | None = None,
) -> I64:
    """Indices of the boxes kept by greedy, per-class rotated-IoU NMS, best first.

    A box is suppressed by a better kept box of the same class when their IoU exceeds
    ``iou_thr``. ``fragile`` marks boxes that touch a slice edge inside the scene (maybe a
    fragment of an object the neighbouring slice sees whole): they rank after every sound
    box, and with ``contain_thr`` a fragile box is also suppressed when its overlap with a
    better box covers more than that fraction of the smaller of the two. No cap on the
    number kept.
    """
    n = len(cx)
    if n == 0:
        return np.zeros(0, np.int64)
    frag = np.zeros(n, bool) if fragile is None else np.asarray(fragile, bool)
    xy = corners(cx, cy, w, h, angle_rad)
    i, j = candidate_pairs(xy)
    keep = (class_id[i] == class_id[j]) & (i < j)
    i, j = i[keep], j[keep]
    keep = rects_overlap(xy[i], xy[j])  # cheap exact test first: most envelope pairs do not touch
    i, j = i[keep], j[keep]
    hit = np.zeros(len(i), bool)
    for c0 in range(0, len(i), _CHUNK):
        a, b = xy[i[c0:c0 + _CHUNK]], xy[j[c0:c0 + _CHUNK]]
        h_iou = pair_iou(a, b) > iou_thr
        if contain_thr is not None:
            f = (frag[i[c0:c0 + _CHUNK]] | frag[j[c0:c0 + _CHUNK]]) & ~h_iou
            if f.any():
                h_iou[f] = pair_overlap_of_smaller(a[f], b[f]) > contain_thr
        hit[c0:c0 + _CHUNK] = h_iou
    i, j = i[hit], j[hit]
    order = np.lexsort((-score, frag))  # sound boxes first, then by score
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    better = np.where(rank[i] < rank[j], i, j)
    worse = np.where(rank[i] < rank[j], j, i)
    if contain_thr is not None:
        # containment only lets a fragile box give way, never a sound one
        ok = ~(frag[better] & ~frag[worse]) | (pair_iou(xy[better], xy[worse]) > iou_thr)
        better, worse = better[ok], worse[ok]
    by_better = np.argsort(rank[better], kind="stable")
    better, worse = better[by_better], worse[by_better]
    rb = rank[better]
    starts = np.searchsorted(rb, np.arange(n))
    ends = np.searchsorted(rb, np.arange(n), side="right")
    suppressed = np.zeros(n, bool)
    kept: list[int] = []
    for r, idx in enumerate(order):
        if suppressed[idx]:
            continue
        kept.append(int(idx))
        suppressed[worse[starts[r]:ends[r]]] = True
    return np.asarray(kept, np.int64)
