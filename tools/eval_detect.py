"""Accuracy of the detector on the labelled images in ../shared (the figures DESIGN.md reports).

* Airbus airport scenes (82 labelled, 0.5 m): aircraft F1 at IoU ≥ 0.3 (axis-aligned hull
  of each rotated box against the upright labels; ``Truncated_airplane`` labels neither
  missed nor false when matched), and the median absolute count error per scene
  (detections against all labels, truncated ones included).
* DOTA P0706 (harbour, 0.256 m): ship recall; P1888 (parking, 0.266 m): vehicle recall
  (a vehicle found as either size class counts), IoU ≥ 0.3, rotated.

Usage: ``python tools/eval_detect.py [--model M.onnx] [--target-gsd-m G] [--conf C] [--every N]``
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from sitewatch import samples
from sitewatch.detect.evaluate import Labels, count_error, match, read_airbus, read_dota
from sitewatch.detect.raster import read_plain
from sitewatch.detect.yolo_obb import DEFAULT_GSD_M, YoloObbDetector


def airbus(det: YoloObbDetector, every: int = 1) -> dict[str, float]:
    root = samples.shared_path("data/imagery/airbus-aircraft")
    if root is None:
        raise SystemExit("../shared/data/imagery/airbus-aircraft not found")
    labels = read_airbus(root / "annotations.csv")
    names = sorted(labels)[::every]
    total, errors, t0 = None, [], time.perf_counter()
    for n in names:
        found = det.detect(read_plain(root / "images" / n), 0.5, classes=["plane"])
        s = match(found, labels[n], iou_thr=0.3, axis_aligned=True)
        total = s if total is None else total + s
        errors.append(count_error(len(found), len(labels[n])))
    secs = time.perf_counter() - t0
    assert total is not None
    out = {"scenes": len(names), "precision": total.precision, "recall": total.recall, "f1": total.f1,
           "median_count_error": float(np.median(errors)), "mean_count_error": float(np.mean(errors)),
           "seconds_per_scene": secs / len(names)}
    print(f"Airbus aircraft, {len(names)} scenes: P={out['precision']:.3f} R={out['recall']:.3f} "
          f"F1={out['f1']:.3f}; count error median {out['median_count_error']:.1%} mean "
          f"{out['mean_count_error']:.1%}; {out['seconds_per_scene']:.2f} s/scene", flush=True)
    return out


def dota(det: YoloObbDetector) -> dict[str, float]:
    root = samples.shared_path("data/imagery/dota")
    if root is None:
        raise SystemExit("../shared/data/imagery/dota not found")
    ships = read_dota(root / "P0706.txt").of_class("ship")
    found = det.detect(read_plain(root / "P0706.png"), 0.256, classes=["ship"])
    s = match(found, ships, iou_thr=0.3)
    lab = read_dota(root / "P1888.txt")
    v = [lab.of_class("large-vehicle"), lab.of_class("small-vehicle")]
    veh = Labels(np.concatenate([x.corners for x in v]), v[0].classes + v[1].classes,
                 np.concatenate([x.ignore for x in v]))
    fv = det.detect(read_plain(root / "P1888.png"), 0.266, classes=["large-vehicle", "small-vehicle"])
    sv = match(fv, veh, iou_thr=0.3)
    print(f"DOTA P0706 ships: {len(found)} found, recall {s.recall:.3f}, precision {s.precision:.3f}", flush=True)
    print(f"DOTA P1888 vehicles: {len(fv)} found, recall {sv.recall:.3f}, precision {sv.precision:.3f}", flush=True)
    return {"ship_recall": s.recall, "vehicle_recall": sv.recall}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None)
    ap.add_argument("--target-gsd-m", type=float, default=DEFAULT_GSD_M)
    ap.add_argument("--conf", type=float, default=0.25)
    ap.add_argument("--every", type=int, default=1, help="use every Nth Airbus scene (1 = all 82)")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args(argv)
    model = a.model or samples.shared_path("models/yolov8n-obb.onnx")
    if model is None:
        raise SystemExit("no model: pass --model or provide ../shared/models/yolov8n-obb.onnx")
    det = YoloObbDetector(model, target_gsd_m=a.target_gsd_m, conf_thr=a.conf, threads=a.threads)
    print(f"model {model}, target GSD {a.target_gsd_m} m, conf {a.conf}", flush=True)
    dota(det)
    airbus(det, a.every)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
