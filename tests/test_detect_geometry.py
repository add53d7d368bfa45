"""Rotated boxes: corners, exact IoU (hand-checked and against GEOS), NMS behaviour."""

from __future__ import annotations

import math

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from sitewatch.detect.geometry import (
    corners,
    intersection_area,
    pair_iou,
    polygons,
    rects_overlap,
    rotated_nms,
)


def _box(cx: float, cy: float, w: float, h: float, a: float = 0.0) -> np.ndarray:
    return corners(np.array([cx]), np.array([cy]), np.array([w]), np.array([h]), np.array([a]))


def test_corners_of_an_axis_aligned_box():
    c = _box(10, 20, 4, 2)[0]
    assert sorted(map(tuple, c.round(9).tolist())) == [(8, 19), (8, 21), (12, 19), (12, 21)]


def test_corners_rotated_quarter_turn_swap_extent():
    c = _box(0, 0, 4, 2, math.pi / 2)[0]
    assert np.allclose(c[:, 0].min(), -1) and np.allclose(c[:, 1].max(), 2)


def test_iou_hand_checked():
    a, b = _box(0, 0, 2, 2), _box(1, 0, 2, 2)  # overlap 1×2 = 2, union 6
    assert np.isclose(pair_iou(a, b)[0], 1 / 3)
    # a square and itself turned 45°: intersection is the regular octagon
    c = _box(0, 0, 2, 2, math.pi / 4)
    octagon = 8 * (math.sqrt(2) - 1)
    assert np.isclose(intersection_area(a, c)[0], octagon)
    assert np.isclose(pair_iou(a, _box(5, 5, 1, 1))[0], 0.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(*(st.floats(0, 50),) * 2, *(st.floats(0.5, 30),) * 2, st.floats(0, math.pi)),
                min_size=2, max_size=2))
def test_iou_matches_geos(boxes):
    (a, b) = [_box(*x) for x in boxes]
    pa, pb = polygons(a), polygons(b)
    inter = shapely.area(shapely.intersection(pa, pb))[0]
    ref = inter / (shapely.area(pa)[0] + shapely.area(pb)[0] - inter)
    assert abs(pair_iou(a, b)[0] - ref) < 1e-9
    assert bool(rects_overlap(a, b)[0]) or inter < 1e-9


def _nms(boxes, scores, classes=None, **kw):
    b = np.asarray(boxes, float)
    cls = np.zeros(len(b), np.int64) if classes is None else np.asarray(classes, np.int64)
    return rotated_nms(b[:, 0], b[:, 1], b[:, 2], b[:, 3], b[:, 4], np.asarray(scores, float), cls, **kw)


def test_nms_keeps_parked_neighbours_at_45_degrees():
    # two aircraft parked wing to wing on a diagonal: their axis-aligned boxes overlap a lot
    # (IoU ≈ 0.6), their rotated boxes touch only at the edge
    a = math.pi / 4
    d = 10 / math.sqrt(2)
    kept = _nms([[0, 0, 40, 10, a], [d, -d, 40, 10, a]], [0.9, 0.8])
    assert sorted(kept.tolist()) == [0, 1]


def test_nms_suppresses_duplicates_and_is_per_class():
    kept = _nms([[0, 0, 40, 10, 0], [1, 0, 40, 10, 0.05], [0, 0, 40, 10, 0]], [0.9, 0.8, 0.7],
                classes=[0, 0, 1])
    assert sorted(kept.tolist()) == [0, 2]


def test_nms_has_no_cap():
    xs = np.arange(2000) * 20.0
    boxes = np.column_stack([xs, np.zeros(2000), np.full(2000, 10.0), np.full(2000, 5.0), np.zeros(2000)])
    assert len(_nms(boxes, np.linspace(0.3, 0.9, 2000))) == 2000


def test_fragment_gives_way_to_whole_box():
    whole, fragment = [0, 0, 40, 10, 0], [-10, 0, 20, 10, 0]  # fragment inside the whole, IoU 0.5
    kept = _nms([fragment, whole], [0.95, 0.6], iou_thr=0.6, contain_thr=0.6, fragile=np.array([True, False]))
    assert kept.tolist() == [1]
    # the same pair without the fragile mark: both kept (IoU under the threshold)
    assert sorted(_nms([fragment, whole], [0.95, 0.6], iou_thr=0.6).tolist()) == [0, 1]
