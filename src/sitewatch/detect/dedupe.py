"""Vehicles counted once: parts of a vehicle found as vehicles of their own are merged into it.

The DOTA model finds a truck as a ``large-vehicle`` and, often, its cab (or trailer, or
load) again as a ``small-vehicle`` lying inside the truck's box. NMS runs per class, so it
keeps both, and every such truck would be counted twice. Two rules, applied after NMS:

1. **Part of a bigger vehicle.** A vehicle box (either class) whose area lies at least
   :data:`PART_OF` (60 %) inside a *larger* vehicle box is a part of that vehicle and is
   dropped. Side-by-side cars and trucks in a park overlap by a few per cent at most,
   so real neighbours are never merged.
2. **Truck-sized "small vehicle".** A ``small-vehicle`` box at least :data:`TRUCK_MIN_M`
   (9 m) long is a truck or bus by its size (a long van's box is under 8 m), so it is
   counted as a ``large-vehicle``. Needs the GSD; skipped without one.

Measured (``tests/test_imagery_facts.py``; the detector's default two passes, CPU): on
DOTA P1888 (truth 50 large, 14 small vehicles) the model finds 51 large and 18 small
before and after these rules: no small box lies inside a large one there, and the 4 extra
small boxes are isolated (unlabelled cars or false alarms), so the rules change nothing on
real imagery where the model does not split vehicles. On the simulated demo's truck
parks (trucks with a darker cab, 97 drawn in the 15 Dec Hmeimim scene) the model found
88 large + 49 small before (41 of the small boxes are cabs inside a truck box, 8 are
whole trucks called small) and 96 large + 0 small after.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from sitewatch.detect.base import Detections
from sitewatch.detect.geometry import candidate_pairs, pair_overlap_of_smaller, quad_area, rects_overlap

VEHICLES = ("large-vehicle", "small-vehicle")
PART_OF = 0.6  # a box this much inside a larger vehicle box is a part of it
TRUCK_MIN_M = 9.0  # a "small-vehicle" box this long is a truck or bus


@dataclass(frozen=True)
class VehicleMerge:
    """What :func:`merge_vehicles` did: boxes dropped as parts, small vehicles relabelled large."""

    n_before: int
    parts_dropped: int
    relabelled: int

    def as_json(self) -> dict[str, int]:
        return {"n_before": self.n_before, "parts_dropped": self.parts_dropped, "relabelled": self.relabelled}


def _vehicle_mask(det: Detections) -> NDArray[np.bool_]:
    ids = [det.class_names.index(c) for c in VEHICLES if c in det.class_names]
    return np.isin(det.class_id, ids)


def vehicle_parts(det: Detections, part_of: float = PART_OF) -> NDArray[np.bool_]:
    """Which detections are vehicle boxes lying ≥ ``part_of`` of their area inside a larger vehicle box."""
    out = np.zeros(len(det), bool)
    veh = np.flatnonzero(_vehicle_mask(det))
    if len(veh) < 2:
        return out
    xy = det.corners()[veh]
    i, j = candidate_pairs(xy)
    keep = i < j
    i, j = i[keep], j[keep]
    touching = rects_overlap(xy[i], xy[j])
    i, j = i[touching], j[touching]
    inside = pair_overlap_of_smaller(xy[i], xy[j]) >= part_of
    i, j = i[inside], j[inside]
    area = quad_area(xy)
    smaller = np.where(area[i] < area[j], i, np.where(area[j] < area[i], j,
                       np.where(det.score[veh][i] < det.score[veh][j], i, j)))
    out[veh[smaller]] = True
    return out


def merge_vehicles(det: Detections, gsd_m: float | None, part_of: float = PART_OF,
                   truck_min_m: float = TRUCK_MIN_M) -> tuple[Detections, VehicleMerge]:
    """``det`` with vehicle parts dropped and truck-sized small vehicles relabelled (module doc)."""
    parts = vehicle_parts(det, part_of)
    kept = det.select(~parts)
    relabel = np.zeros(len(kept), bool)
    if gsd_m is not None and "small-vehicle" in kept.class_names and "large-vehicle" in kept.class_names:
        small = kept.class_id == kept.class_names.index("small-vehicle")
        relabel = small & (kept.w_px * gsd_m >= truck_min_m)
        if relabel.any():
            cid = kept.class_id.copy()
            cid[relabel] = kept.class_names.index("large-vehicle")
            kept = replace(kept, class_id=cid)
    return kept, VehicleMerge(len(det), int(parts.sum()), int(relabel.sum()))
