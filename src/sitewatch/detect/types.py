"""What a detected aircraft measures, which types it can be, and size classes of other objects.

**Measured, not guessed.** A detector's oriented box is not the aircraft's silhouette:
the YOLOv8-OBB DOTA model learned DOTA's plane boxes, which on large aircraft include a
margin and part of the shadow. The box sides are therefore divided by a *size bias*
measured on real labelled aircraft whose silhouettes were measured by eye
(``../shared/data/imagery/dota-planes``; ``tests/test_imagery_facts.py`` re-measures it):

====================  ======  ============================  =============================
aircraft              boxes   long side ÷ larger dimension  short side ÷ smaller dimension
====================  ======  ============================  =============================
3 airliners (P2805)   21 [1]  ×1.11 ± 0.04 (SD)             ×1.23 ± 0.06 (SD)
  same, 1.25 m pass   3       ×1.08 ± 0.06                  ×1.24 ± 0.09
12 light (P0248)      24 [2]  ×1.02 ± 0.05                  ×1.10 ± 0.07
====================  ======  ============================  =============================

[1] the model run at 7 working GSDs (native 0.24 m, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0 m);
silhouettes 31 × 35, 37 × 34 and 44.5 × 33 m (±0.7 m, ±1.5 m for the last length).
[2] native 0.27 m and 0.5 m (at 1.25 m the model finds only 5 of the 12 light aircraft).
So the model's boxes on large aircraft read 11 % long on the long side and 23 % on the
short side (DOTA's own boxes of the same airliners read 10-26 % long). Between a
15 m and a 30 m box the light-aircraft bias blends linearly into the large one.
Helicopters have no silhouette truth here: no correction, a wider 8 % spread.

**The error** of each side is ``±K_ERR σ`` (two σ, about 95 %) with
``σ² = (rel_sd × size)² + (PX_SIGMA × work GSD)²``: the bias's spread, and 1.5 px at the
resolution the detector actually ran at (aircraft run at 1.25 m even in a 0.3 m scene).

**A type is named only when it is the only one that fits.** A type fits when its larger
and smaller dimensions (length and span, in either order: the box does not say which is
the fuselage) both lie within the measured sides ± error, among types in service
(:attr:`~sitewatch.reference.types.AircraftType.status`; the An-225 is not). One fit →
that type is named; several → none is named and the fits are listed; none → only the
size class. The size class is said from the measured size: "very large transport
aircraft (≈ 74 m)" (*transport* only when every fitting type is a transport, airliner,
tanker or government airframe). An An-124 and a Boeing 747 or C-5M have the same
footprint within a few metres, so at satellite resolution imagery alone cannot tell them
apart; :mod:`sitewatch.detect.facts` sets an ADS-B arrival of a fitting type beside it.

Vehicles and ships get a size class from their box length (:data:`VEHICLE_CLASSES`,
:data:`SHIP_CLASSES`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sitewatch.errors import InputError
from sitewatch.reference.types import TYPES, AircraftType, short_name


@dataclass(frozen=True)
class SizeBias:
    """Box side ÷ true size (mean ratio) and the ratio's relative spread (SD), per side."""

    long: float
    short: float
    long_sd: float
    short_sd: float


LARGE_BIAS = SizeBias(1.11, 1.23, 0.04, 0.06)  # 3 airliners × 7 working GSDs, DOTA P2805
LIGHT_BIAS = SizeBias(1.02, 1.10, 0.05, 0.07)  # 12 light aircraft × 2 working GSDs, DOTA P0248
HELICOPTER_BIAS = SizeBias(1.0, 1.0, 0.08, 0.08)  # no silhouette truth: uncorrected, wider
BLEND_M = (15.0, 30.0)  # box long side (m) over which LIGHT_BIAS gives way to LARGE_BIAS
PX_SIGMA = 1.5  # box edges are placed to about 1.5 px at the detector's working GSD
K_ERR = 2.0  # the quoted ± error is 2 σ (about 95 %)

# (upper bound of length_m, class name); last bound is infinity
VEHICLE_CLASSES = ((5.5, "car"), (8.0, "van-or-pickup"), (13.0, "truck"), (math.inf, "heavy-truck-or-trailer"))
SHIP_CLASSES = ((15.0, "boat"), (50.0, "small-ship"), (120.0, "medium-ship"), (250.0, "large-ship"),
                (math.inf, "very-large-ship"))
AIRCRAFT_CLASSES = ((15.0, "light"), (35.0, "medium"), (55.0, "large"), (math.inf, "very-large"))
_SIZE_TABLES = {
    "small-vehicle": VEHICLE_CLASSES, "large-vehicle": VEHICLE_CLASSES, "ship": SHIP_CLASSES,
    "plane": AIRCRAFT_CLASSES, "helicopter": AIRCRAFT_CLASSES,
}
TRANSPORT_ROLES = frozenset({"strategic-transport", "tactical-transport", "tanker", "government", "airliner"})


def plane_bias(box_long_m: float) -> SizeBias:
    """The size bias for a fixed-wing box whose long side is ``box_long_m`` metres."""
    w = float(np.clip((box_long_m - BLEND_M[0]) / (BLEND_M[1] - BLEND_M[0]), 0.0, 1.0))
    a, b = LIGHT_BIAS, LARGE_BIAS
    return SizeBias(*(float(x + w * (y - x)) for x, y in zip(
        (a.long, a.short, a.long_sd, a.short_sd), (b.long, b.short, b.long_sd, b.short_sd), strict=True)))


@dataclass(frozen=True)
class Measurement:
    """An aircraft's two plan dimensions from its box, corrected for the size bias, ± error (2 σ).

    ``long_m`` is the larger of length and span, ``short_m`` the smaller: which one is the
    fuselage the box does not say.
    """

    long_m: float
    long_err_m: float
    short_m: float
    short_err_m: float
    box_long_m: float
    box_short_m: float
    gsd_m: float
    work_gsd_m: float
    bias: SizeBias

    def as_json(self) -> dict[str, Any]:
        return {"long_m": round(self.long_m, 1), "long_err_m": round(self.long_err_m, 1),
                "short_m": round(self.short_m, 1), "short_err_m": round(self.short_err_m, 1),
                "box_long_m": round(self.box_long_m, 2), "box_short_m": round(self.box_short_m, 2),
                "gsd_m": round(self.gsd_m, 4), "work_gsd_m": round(self.work_gsd_m, 4),
                "bias_long": round(self.bias.long, 3), "bias_short": round(self.bias.short, 3),
                "error": f"±{K_ERR:g} sigma"}


def _err(size_m: float, rel_sd: float, work_gsd_m: float) -> float:
    return K_ERR * math.hypot(rel_sd * size_m, PX_SIGMA * work_gsd_m)


def measure_aircraft(box_long_m: float, box_short_m: float, gsd_m: float, work_gsd_m: float | None = None,
                     rotorcraft: bool = False) -> Measurement:
    """Correct a box of ``box_long_m × box_short_m`` (metres, at scene GSD ``gsd_m``) for the size bias.

    ``work_gsd_m`` is the GSD the detector ran at (default ``gsd_m``): it sets the pixel error.
    """
    if min(box_long_m, box_short_m, gsd_m) <= 0 or (work_gsd_m is not None and work_gsd_m <= 0):
        raise InputError(f"box sides and GSD must be positive (got {box_long_m}, {box_short_m}, {gsd_m}, "
                         f"{work_gsd_m})")
    box_long_m, box_short_m = max(box_long_m, box_short_m), min(box_long_m, box_short_m)
    work = max(gsd_m, work_gsd_m or gsd_m)
    b = HELICOPTER_BIAS if rotorcraft else plane_bias(box_long_m)
    long_m, short_m = box_long_m / b.long, box_short_m / b.short
    long_m, short_m = max(long_m, short_m), min(long_m, short_m)
    return Measurement(long_m, _err(long_m, b.long_sd, work), short_m, _err(short_m, b.short_sd, work),
                       box_long_m, box_short_m, gsd_m, work, b)


def fits(m: Measurement, t: AircraftType) -> bool:
    """Both of the type's plan dimensions lie within the measurement's ± error."""
    big, small = max(t.length_m, t.span_m), min(t.length_m, t.span_m)
    return abs(big - m.long_m) <= m.long_err_m and abs(small - m.short_m) <= m.short_err_m


def _type_json(t: AircraftType) -> dict[str, Any]:
    return {"type": t.code, "name": t.name, "short": short_name(t), "role": t.role,
            "heavy_transport": t.heavy_transport}


@dataclass(frozen=True)
class AircraftId:
    """What a measured aircraft can be said to be: its measurement, the fitting types, a size class."""

    measured: Measurement
    fits: tuple[AircraftType, ...]  # in-service types within the error, table order (not a ranking)
    fits_not_in_service: tuple[AircraftType, ...]  # would fit, but no longer fly (An-225 …)
    size_class: str  # light, medium, large, very-large (from the corrected larger dimension)
    rotorcraft: bool = False

    @property
    def named(self) -> AircraftType | None:
        """The type, when exactly one in-service type fits; else None."""
        return self.fits[0] if len(self.fits) == 1 else None

    @property
    def heavy_transport(self) -> bool | None:
        """True when every fitting type is a heavy airlifter, False when none is, None if mixed or unknown."""
        flags = {t.heavy_transport for t in self.fits}
        return flags.pop() if len(flags) == 1 else None

    @property
    def size_words(self) -> str:
        """"very large transport aircraft", "large aircraft", "medium helicopter" …"""
        size = self.size_class.replace("-", " ")
        if self.rotorcraft:
            return f"{size} helicopter"
        transport = bool(self.fits) and all(t.role in TRANSPORT_ROLES for t in self.fits)
        return f"{size} {'transport ' if transport else ''}aircraft"

    @property
    def label(self) -> str:
        """The quotable name: the named type or the size class, with the measured size."""
        size = f"≈ {self.measured.long_m:.0f} m"
        t = self.named
        return f"{short_name(t)} ({size})" if t is not None else f"{self.size_words} ({size})"

    def fits_text(self, limit: int = 6) -> str:
        """"fits An-124, C-5M, Boeing 747-400 …" or "fits no type in service"."""
        if not self.fits:
            return "fits no type in service"
        names = list(dict.fromkeys(short_name(t) for t in self.fits))
        more = f" and {len(names) - limit} more" if len(names) > limit else ""
        return "fits " + ", ".join(names[:limit]) + more

    def as_json(self) -> dict[str, Any]:
        """The ``detections.type_candidates`` value of an aircraft (see the module doc)."""
        named = self.named
        return {"measured": self.measured.as_json(), "fits": [_type_json(t) for t in self.fits],
                "fits_not_in_service": [{"type": t.code, "name": t.name, "status": t.status}
                                        for t in self.fits_not_in_service],
                "named": _type_json(named) if named is not None else None,
                "size_class": self.size_class, "size_words": self.size_words, "label": self.label}


def identify_aircraft(box_long_m: float, box_short_m: float, gsd_m: float, work_gsd_m: float | None = None,
                      rotorcraft: bool = False) -> AircraftId:
    """Measure a box and find the types that fit it (helicopter types for ``rotorcraft``)."""
    m = measure_aircraft(box_long_m, box_short_m, gsd_m, work_gsd_m, rotorcraft)
    fit = [t for t in TYPES.values() if t.rotorcraft == rotorcraft and fits(m, t)]
    cls = size_class("helicopter" if rotorcraft else "plane", m.long_m) or "very-large"
    return AircraftId(m, tuple(t for t in fit if t.in_service), tuple(t for t in fit if not t.in_service),
                      cls, rotorcraft)


def size_class(cls: str, length_m: float) -> str | None:
    """Size class of a detection of class ``cls`` with long side ``length_m`` (None if no table)."""
    table = _SIZE_TABLES.get(cls)
    if table is None or not length_m > 0:
        return None
    for bound, name in table:
        if length_m < bound:
            return name
    return None  # pragma: no cover - last bound is infinite
