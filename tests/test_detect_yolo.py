"""YOLOv8-OBB detector: slicing, decoding, and accuracy on real labelled images in ../shared."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared
from sitewatch.detect.evaluate import count_error, match, read_airbus, read_dota
from sitewatch.detect.raster import ArrayRaster, read_plain
from sitewatch.detect.yolo_obb import DOTA_CLASSES, decode, plan_slices

MODEL = "models/yolov8n-obb.onnx"
# a fixed tenth of the 82 labelled Airbus scenes (every 10th by name): the full set is
# evaluated by `python -m bench imagery`, whose figures DESIGN.md reports
AIRBUS_SUBSET = slice(0, None, 10)


@pytest.mark.parametrize(("w", "h", "scale"), [(2560, 2560, 0.4), (5000, 700, 1.0), (300, 200, 1.0),
                                               (20000, 20000, 0.4)])
def test_slices_cover_the_scene(w, h, scale):
    tile, overlap = 1024, 100
    sl = plan_slices(w, h, scale, tile, overlap)
    cov = np.zeros((min(h, 400), min(w, 400)), bool)
    for s in sl:
        assert s.out_w <= tile and s.out_h <= tile
        assert 0 <= s.x0 < s.x1 <= w and 0 <= s.y0 < s.y1 <= h
        cov[s.y0 * 400 // h: -(-s.y1 * 400 // h), s.x0 * 400 // w: -(-s.x1 * 400 // w)] = True
    assert cov.all()
    xs = sorted({s.x0 for s in sl})
    if len(xs) > 1:  # neighbours overlap by the requested amount (in resampled pixels)
        assert (xs[1] - xs[0]) * scale == pytest.approx(tile - overlap, abs=1)
        assert max(s.x1 for s in sl) == w  # last slice aligned to the edge


def test_small_scene_is_one_letterboxed_slice():
    (s,) = plan_slices(300, 200, 1.0, 1024, 100)
    assert (s.out_w, s.out_h) == (300, 200)
    assert not (s.inner_left or s.inner_right or s.inner_top or s.inner_bottom)


def test_decode_long_side_form():
    out = np.zeros((1, 20, 3), np.float32)
    out[0, :4, 0] = [100, 50, 10, 40]  # w < h: swapped, angle + π/2
    out[0, 4 + 1, 0] = 0.9  # ship
    out[0, 19, 0] = -0.5
    out[0, :4, 1] = [10, 10, 30, 5]
    out[0, 4 + 0, 1] = 0.2  # below threshold
    out[0, :4, 2] = [20, 20, 30, 5]
    out[0, 4 + 9, 2] = 0.5
    out[0, 19, 2] = 3.5  # wraps into [0, π)
    _cx, _cy, w, h, a, _score, cls = decode(out, 0.25, 15)
    assert cls.tolist() == [1, 9]
    assert (w >= h).all() and w[0] == 40 and h[0] == 10
    assert a[0] == pytest.approx(np.pi / 2 - 0.5, abs=1e-6)
    assert a[1] == pytest.approx(3.5 - np.pi, abs=1e-6)


@pytest.fixture(scope="module")
def detector():
    from sitewatch.detect.yolo_obb import YoloObbDetector

    return YoloObbDetector(shared(MODEL), threads=2)


def test_class_names_from_model_metadata(detector):
    assert detector.class_names == DOTA_CLASSES


def test_detect_on_numpy_array_and_blank_image(detector):
    blank = np.full((700, 900, 3), 90, np.uint8)
    assert len(detector.detect(blank, gsd_m=0.5)) == 0
    img = read_plain(shared("data/imagery/dota/P1888.png")).image
    det = detector.detect(img, gsd_m=0.266, classes=["large-vehicle", "small-vehicle"])
    assert set(det.counts()) <= {"large-vehicle", "small-vehicle"}
    assert det.cx_px.max() < img.shape[1] and det.cy_px.max() < img.shape[0]


@pytest.mark.slow
@pytest.mark.shared
def test_airbus_planes_subset(detector):
    root = shared("data/imagery/airbus-aircraft")
    labels = read_airbus(root / "annotations.csv")
    names = sorted(labels)[AIRBUS_SUBSET]
    total, errors = None, []
    for n in names:
        det = detector.detect(read_plain(root / "images" / n), gsd_m=0.5, classes=["plane"])
        s = match(det, labels[n], iou_thr=0.3, axis_aligned=True)
        total = s if total is None else total + s
        errors.append(count_error(len(det), len(labels[n])))
    med = float(np.median(errors))
    print(f"\nAirbus planes, {len(names)} of {len(labels)} scenes: P={total.precision:.3f} "
          f"R={total.recall:.3f} F1={total.f1:.3f} median |count error|={med:.1%}")
    assert total.f1 >= 0.90
    assert med <= 0.08


@pytest.mark.slow
@pytest.mark.shared
def test_dota_harbour_ships(detector):
    img = read_plain(shared("data/imagery/dota/P0706.png"))
    labels = read_dota(shared("data/imagery/dota/P0706.txt")).of_class("ship")
    det = detector.detect(img, gsd_m=0.256, classes=["ship"])
    s = match(det, labels, iou_thr=0.3)
    print(f"\nDOTA P0706 ships: {len(det)} found, {s.n_labels} labelled (+{len(labels) - s.n_labels} difficult): "
          f"recall={s.recall:.3f} precision={s.precision:.3f}")
    assert len(det) > 300  # no cap on detections
    assert s.recall >= 0.80


@pytest.mark.slow
@pytest.mark.shared
def test_dota_parking_vehicles(detector):
    img = read_plain(shared("data/imagery/dota/P1888.png"))
    lab = read_dota(shared("data/imagery/dota/P1888.txt"))
    det = detector.detect(img, gsd_m=0.266, classes=["large-vehicle", "small-vehicle"])
    from sitewatch.detect.evaluate import Labels

    veh = [lab.of_class("large-vehicle"), lab.of_class("small-vehicle")]
    both = Labels(np.concatenate([v.corners for v in veh]), veh[0].classes + veh[1].classes,
                  np.concatenate([v.ignore for v in veh]))
    s = match(det, both, iou_thr=0.3)  # a vehicle found as either size class counts
    per = {c: match(det.of_class(c), lab.of_class(c), iou_thr=0.3).recall for c in ("large-vehicle", "small-vehicle")}
    print(f"\nDOTA P1888 vehicles: recall={s.recall:.3f} precision={s.precision:.3f} "
          f"(large {per['large-vehicle']:.3f}, small {per['small-vehicle']:.3f} with the class required)")
    assert s.recall >= 0.85


def test_array_raster_reads_windows_with_zero_fill():
    a = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    r = ArrayRaster(a)
    out = r.read(-5, -5, 15, 15, 20, 20)
    assert out.shape == (20, 20, 3)
    assert (out[:5] == 0).all() and (out[5:, 5:] == a[:15, :15]).all()
    half = r.read(0, 0, 30, 20, 15, 10)
    assert half.shape == (10, 15, 3)
