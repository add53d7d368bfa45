"""Ground truth from on-ground flags, and matching of detected events against it.

Contract: :func:`flag_transitions` reads **only** the feed's on-ground flags (reports
without a flag are ignored; flag runs shorter than ``flag_debounce_s`` are flicker) and
returns the ground/air transitions that happen within ``radius_m`` of the nearest of the
given airfields (an airborne run in which the aircraft moves less than ``min_air_move_m``
is a corrupt flag, not a flight: real feeds flip the flag on parked aircraft): ``arrival`` at the first report of a ground run that follows at least
``min_run_s`` in the air, ``departure`` at the first airborne report after at least
``min_run_s`` on the ground. :func:`match` pairs detections with truths of the same kind,
aircraft and airfield within ``tol_s`` and returns precision, recall and the lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sitewatch import geo
from sitewatch.analytics.air import _tracks as T
from sitewatch.analytics.air._params import AirParams


@dataclass(frozen=True)
class Transition:
    kind: str
    subject: str
    t_s: float
    airfield: str


def flag_transitions(tr: T.Tracks, p: AirParams, airfields: dict[str, tuple[float, float]],
                     radius_m: float = 6000.0, min_run_s: float = 30.0,
                     min_air_move_m: float = 1000.0) -> list[Transition]:
    has = np.flatnonzero(tr.onground >= 0)
    sub = tr.take(has)
    state = T.debounce(sub, sub.onground.astype(np.int8), p.flag_debounce_s)
    r = T.runs(sub, state)
    out: list[Transition] = []
    for k in range(1, r.start.size):
        i = int(r.start[k])
        if sub.ac[i] != sub.ac[int(r.start[k - 1])]:
            continue
        if r.dur_s[k - 1] < min_run_s or r.dur_s[k] < min_run_s:
            continue
        kind = "arrival" if r.value[k] == 1 else "departure"
        air = k - 1 if kind == "arrival" else k
        a0, a1 = int(r.start[air]), int(r.stop[air]) - 1
        if geo.haversine_m(sub.lat[a0], sub.lon[a0], sub.lat[a1], sub.lon[a1]) < min_air_move_m:
            continue  # flag says airborne but the aircraft did not move: a corrupt flag
        where = i if kind == "arrival" else i - 1
        dists = {code: float(geo.haversine_m(la, lo, sub.lat[where], sub.lon[where]))
                 for code, (la, lo) in airfields.items()}
        code = min(dists, key=lambda c: dists[c])
        if dists[code] <= radius_m:
            out.append(Transition(kind, str(sub.ids[sub.ac[i]]), float(sub.t_s[i]), code))
    return out


@dataclass
class Score:
    tp: int
    fp: int
    fn: int
    false_pos: list[dict[str, Any]] = field(default_factory=list)
    missed: list[Transition] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def event_time_s(e: dict[str, Any]) -> float:
    """The time a detection claims the wheels touched/left: end of an arrival, start of a departure."""
    return float(e["t_end_s"] if e["kind"] == "arrival" else e["t_start_s"])


def _offset_s(e: dict[str, Any], t_s: float) -> float:
    """Distance in time from ``t_s`` to the event's interval [t_start, t_end] (0 inside)."""
    return float(max(0.0, e["t_start_s"] - t_s, t_s - e["t_end_s"]))


def match(events: list[dict[str, Any]], truth: list[Transition], airfields: set[str],
          tol_s: float = 180.0) -> Score:
    det = [e for e in events if e["kind"] in ("arrival", "departure") and e["details"].get("airfield") in airfields]
    used: set[int] = set()
    tp, false_pos = 0, []
    for e in sorted(det, key=event_time_s):
        best, best_dt = -1, tol_s
        for j, t in enumerate(truth):
            if j in used or t.kind != e["kind"] or t.subject != e["subject"] or t.airfield != e["details"]["airfield"]:
                continue
            dt = _offset_s(e, t.t_s)
            if dt <= best_dt:
                best, best_dt = j, dt
        if best >= 0:
            used.add(best)
            tp += 1
        else:
            false_pos.append(e)
    missed = [t for j, t in enumerate(truth) if j not in used]
    return Score(tp, len(false_pos), len(missed), false_pos, missed)
