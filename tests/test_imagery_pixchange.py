"""Pixel-level change (robust IR-MAD): radiometric invariance, airport pair, LEVIR-CD F1."""

from __future__ import annotations

import ast
import csv

import numpy as np
import pytest
from tests.conftest import shared

from sitewatch.imagery import pixchange as P

ATL_A = "4c9d2482-788c-4d68-a3d4-478b2367abce.jpg"
ATL_B = "996ba764-cd2a-49c0-9c9f-b166207de0ab.jpg"


def _read(rel: str) -> np.ndarray:
    import cv2

    return np.ascontiguousarray(cv2.imread(str(shared(rel)))[..., ::-1])


def test_linear_radiometric_change_is_not_change_but_a_new_object_is() -> None:
    img = _read(f"data/imagery/airbus-aircraft/images/{ATL_A}")[1200:1712, 1200:1712]
    after = (img.astype(float) * 0.8 + 20).astype(np.uint8)  # other sun, other gain (no clipping)
    after[200:260, 300:380] = img[20:80, 20:100]  # something new, 30 m × 40 m at 0.5 m
    mask, _ = P.change_mask(img, after, 0.5)
    inside = mask[200:260, 300:380].mean()
    outside = np.delete(mask, np.s_[190:270], axis=0).mean()
    assert inside > 0.5 and outside < 0.01


def _boxes(image_id: str, scale: float) -> list[tuple[float, ...]]:
    with open(shared("data/imagery/airbus-aircraft/annotations.csv")) as f:
        out = []
        for r in csv.DictReader(f):
            if r["image_id"] == image_id:
                p = np.array(ast.literal_eval(r["geometry"]), float) * scale
                out.append((*p.min(0), *p.max(0)))
    return out


def _iou(x: tuple[float, ...], y: tuple[float, ...]) -> float:
    ix = max(0.0, min(x[2], y[2]) - max(x[0], y[0]))
    iy = max(0.0, min(x[3], y[3]) - max(x[1], y[1]))
    return ix * iy / ((x[2] - x[0]) * (x[3] - x[1]) + (y[2] - y[0]) * (y[3] - y[1]) - ix * iy)


@pytest.mark.slow
def test_airport_pair_change_marks_aircraft_that_moved() -> None:
    """Two dates of Atlanta (already aligned as delivered), at 1 m: the change map should
    cover the aircraft that arrived or left, much less those that stayed, and little else."""
    import cv2

    a = cv2.resize(_read(f"data/imagery/airbus-aircraft/images/{ATL_A}"), (1280, 1280), interpolation=cv2.INTER_AREA)
    b = cv2.resize(_read(f"data/imagery/airbus-aircraft/images/{ATL_B}"), (1280, 1280), interpolation=cv2.INTER_AREA)
    mask, _ = P.change_mask(a, b, 1.0)
    ba, bb = _boxes(ATL_A, 0.5), _boxes(ATL_B, 0.5)
    stayed = [x for x in ba if max(_iou(x, y) for y in bb) >= 0.3]
    moved = [x for x in ba if max(_iou(x, y) for y in bb) < 0.3] + \
            [y for y in bb if max(_iou(y, x) for x in ba) < 0.3]

    def hit(bx: list[tuple[float, ...]]) -> float:
        return float(np.mean([mask[int(y0):int(y1), int(x0):int(x1)].mean() > 0.2 for x0, y0, x1, y1 in bx]))

    grey = P.greying_mask(a, b, 1.0)
    assert grey.mean() < 0.05  # the apron did not turn grey between the dates
    print(f"airport pair: turned grey {grey.mean():.3f}; changed {mask.mean():.3f} of the scene; aircraft that moved marked "
          f"{hit(moved):.2f} (n={len(moved)}), that stayed {hit(stayed):.2f} (n={len(stayed)})")
    assert hit(moved) >= 0.9 and hit(stayed) <= 0.5 and mask.mean() < 0.15


@pytest.mark.slow
def test_levir_cd_pixel_f1_measured() -> None:
    import cv2

    root = shared("data/imagery/levir-cd")
    names = sorted(p.name for p in (root / "A").glob("*.png"))
    assert len(names) == 11
    pairs = [(cv2.imread(str(root / "A" / n))[..., ::-1], cv2.imread(str(root / "B" / n))[..., ::-1],
              cv2.imread(str(root / "label" / n), cv2.IMREAD_GRAYSCALE) > 127) for n in names]
    base = float(np.mean([g.mean() for _, _, g in pairs]))
    marked = {}
    for label, kw in (("robust IR-MAD (default)", {}),
                      ("classic IR-MAD, chi2_4 99%", {"robust": False, "z_change": 13.28})):
        tp = fp = fn = 0
        flagged = []
        for a, b, g in pairs:
            m, _ = P.change_mask(np.ascontiguousarray(a), np.ascontiguousarray(b), 0.5, **kw)  # type: ignore[arg-type]
            tp, fp, fn = tp + int((m & g).sum()), fp + int((m & ~g).sum()), fn + int((~m & g).sum())
            flagged.append(float(m.mean()))
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        marked[label] = float(np.mean(flagged))
        print(f"LEVIR-CD 11 pairs, {label}: pixel F1 {f1:.3f} (precision {tp / max(1, tp + fp):.3f}, "
              f"recall {tp / max(1, tp + fn):.3f}), marked {marked[label]:.3f} of pixels")
    tp = fp = fn = 0
    for a, b, g in pairs:
        m = P.greying_mask(np.ascontiguousarray(a), np.ascontiguousarray(b), 0.5)
        tp, fp, fn = tp + int((m & g).sum()), fp + int((m & ~g).sum()), fn + int((~m & g).sum())
    grey_f1 = 2 * tp / max(1, 2 * tp + fp + fn)
    print(f"LEVIR-CD 11 pairs, turned-grey mask: pixel F1 {grey_f1:.3f} (precision {tp / max(1, tp + fp):.3f}, "
          f"recall {tp / max(1, tp + fn):.3f}; its floor was chosen on these pairs)")
    print(f"LEVIR-CD: labelled {base:.3f} of pixels; marking every pixel would give F1 {2 * base / (1 + base):.3f}")
    assert grey_f1 > 2 * base / (1 + base)
    # the default must not call most of a scene changed (a map that marks everything says nothing)
    assert marked["robust IR-MAD (default)"] < 0.5
