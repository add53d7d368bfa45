"""The detector's reach by GSD: recall by pixels along the object, on the labelled images of ../shared.

Each labelled scene is shrunk to a coarser working GSD (the detector's own resampling) and the
recall (IoU ≥ 0.3) is counted per bin of the labels' length in pixels at that GSD. These are
the figures behind :data:`sitewatch.detect.gate.REACH` (see that module's docstring).

* Airbus aircraft (0.5 m): the label's long side is its axis-aligned box's (a rotated
  aircraft reads somewhat longer than it is);
* DOTA P0706 ships (0.256 m) and P1888 vehicles (0.266 m): the rotated label's long side.

Usage: ``python tools/eval_gate.py [--aircraft-gsd 1.25,2.5,5,7.5,10] [--fine-gsd 0.5,0.6,1,2,3]
[--every 2]`` (``--every N``: every Nth Airbus scene; 2 took ~2 min on 2 cores).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import numpy as np

from sitewatch import samples
from sitewatch.detect.evaluate import iou_matrix, read_airbus, read_dota
from sitewatch.detect.raster import read_plain
from sitewatch.detect.yolo_obb import YoloObbDetector

PX_BINS = (0, 4, 6, 8, 10, 12, 16, 24, 1e9)


def _taken(found: object, corners: np.ndarray, axis_aligned: bool) -> np.ndarray:
    """Which labels a detection matched (greedy, score order, IoU ≥ 0.3), as detect.evaluate.match."""
    iou = iou_matrix(found.corners(), corners, axis_aligned)  # type: ignore[attr-defined]
    taken = np.zeros(len(corners), bool)
    for d in np.argsort(-found.score, kind="stable"):  # type: ignore[attr-defined]
        if not len(corners):
            break
        row = np.where(taken, -1.0, iou[d])
        j = int(row.argmax())
        if row[j] >= 0.3:
            taken[j] = True
    return taken


def _report(what: str, gsd: float, length_m: np.ndarray, hit: np.ndarray) -> None:
    px = length_m / gsd
    print(f"{what} at {gsd:g} m: recall {hit.mean():.2f} ({int(hit.sum())}/{hit.size})", flush=True)
    for lo, hi in itertools.pairwise(PX_BINS):
        m = (px >= lo) & (px < hi)
        if m.any():
            top = f"{hi:g}" if hi < 1e9 else "∞"
            print(f"  {lo:g}–{top} px ({lo * gsd:.0f}–{hi * gsd if hi < 1e9 else float('inf'):.0f} m): "
                  f"recall {hit[m].mean():.2f} ({int(hit[m].sum())}/{int(m.sum())})", flush=True)


def aircraft(model: str, gsds: list[float], every: int) -> None:
    root = samples.shared_path("data/imagery/airbus-aircraft")
    if root is None:
        raise SystemExit("../shared/data/imagery/airbus-aircraft not found")
    labels = read_airbus(root / "annotations.csv")
    names = sorted(labels)[::every]
    for g in gsds:
        det = YoloObbDetector(model, target_gsd_m=g, threads=1)
        lengths, hits, t0 = [], [], time.perf_counter()
        for n in names:
            lab = labels[n]
            found = det.detect(read_plain(root / "images" / n), 0.5, classes=["plane"])
            taken = _taken(found, lab.corners, axis_aligned=True)
            c = lab.corners
            ext = np.maximum(np.ptp(c[:, :, 0], axis=1), np.ptp(c[:, :, 1], axis=1)) * 0.5
            lengths.append(ext[~lab.ignore])
            hits.append(taken[~lab.ignore])
        print(f"({len(names)} Airbus scenes, {time.perf_counter() - t0:.0f} s)", flush=True)
        _report("aircraft", g, np.concatenate(lengths), np.concatenate(hits))


def fine(model: str, gsds: list[float]) -> None:
    root = samples.shared_path("data/imagery/dota")
    if root is None:
        raise SystemExit("../shared/data/imagery/dota not found")
    for name, classes, gsd0 in (("P0706", ["ship"], 0.256), ("P1888", ["large-vehicle", "small-vehicle"], 0.266)):
        lab = read_dota(root / f"{name}.txt")
        keep = np.array([c in classes for c in lab.classes]) & ~lab.ignore
        c = lab.corners[keep]
        length_m = np.maximum(np.linalg.norm(c[:, 1] - c[:, 0], axis=1), np.linalg.norm(c[:, 2] - c[:, 1], axis=1)) * gsd0
        img = read_plain(root / f"{name}.png")
        for g in gsds:
            det = YoloObbDetector(model, target_gsd_m=max(g, 1.25), fine_gsd_m=g, threads=1)
            found = det.detect(img, gsd0, classes=classes)
            _report(f"{name} {'/'.join(classes)}", g, length_m, _taken(found, c, axis_aligned=False))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None)
    ap.add_argument("--aircraft-gsd", default="1.25,2.5,5,7.5,10")
    ap.add_argument("--fine-gsd", default="0.5,0.6,1,2,3")
    ap.add_argument("--every", type=int, default=2)
    a = ap.parse_args(argv)
    model = a.model or samples.shared_path("models/yolov8n-obb.onnx")
    if model is None:
        raise SystemExit("no model: pass --model or provide ../shared/models/yolov8n-obb.onnx")
    fine(str(model), [float(x) for x in a.fine_gsd.split(",") if x])
    aircraft(str(model), [float(x) for x in a.aircraft_gsd.split(",") if x], a.every)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
