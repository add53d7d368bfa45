"""What a detected object probably is, from its oriented box and the scene's GSD.

Aircraft (``plane``, ``helicopter``): the box's two sides in metres are compared with the
length and span (rotor diameter for helicopters) of every type in
:data:`sitewatch.reference.types.TYPES`. Which side is the fuselage is unknown (a C-130 is
wider than long), so the box's long side is compared with the larger of a type's length
and span, and the short side with the smaller. Each side's
measurement error is Gaussian with σ = max(6 % of the size, 1.5 px × GSD): boxes from a
detector hug the silhouette to within about a pixel and a half, and tails, booms, wing
sweep and shadows add a few per cent. A type's likelihood is
``exp(-½(ΔL²/σL² + ΔS²/σS²))``, normalised over the types that fit within 3 σ on both
sides; none fitting gives no candidate (an unknown, not a forced guess).
``heavy_transport`` is true when the most likely type is a heavy airlifter (An-124,
Il-76, C-17, A400M …). Size alone rarely settles a type (an Il-76, a Tu-95 and an A-50
are within a few metres of each other), so the candidates, not the flag, carry the
uncertainty.

Vehicles and ships get a size class from their length (:data:`VEHICLE_CLASSES`,
:data:`SHIP_CLASSES`, :data:`AIRCRAFT_CLASSES`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sitewatch.errors import InputError
from sitewatch.reference.types import TYPES, AircraftType

REL_SIGMA = 0.06  # tails, booms, wing sweep and shadows: a few per cent of the size
PX_SIGMA = 1.5  # detector boxes hug the silhouette to about 1.5 px
MAX_Z = 3.0  # a type farther than 3 σ on either side does not fit
MAX_CANDIDATES = 5

# (upper bound of length_m, class name); last bound is infinity
VEHICLE_CLASSES = ((5.5, "car"), (8.0, "van-or-pickup"), (13.0, "truck"), (math.inf, "heavy-truck-or-trailer"))
SHIP_CLASSES = ((15.0, "boat"), (50.0, "small-ship"), (120.0, "medium-ship"), (250.0, "large-ship"),
                (math.inf, "very-large-ship"))
AIRCRAFT_CLASSES = ((15.0, "light"), (35.0, "medium"), (55.0, "large"), (math.inf, "very-large"))
_SIZE_TABLES = {
    "small-vehicle": VEHICLE_CLASSES, "large-vehicle": VEHICLE_CLASSES, "ship": SHIP_CLASSES,
    "plane": AIRCRAFT_CLASSES, "helicopter": AIRCRAFT_CLASSES,
}


@dataclass(frozen=True)
class Candidate:
    type: AircraftType
    likelihood: float

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type.code, "name": self.type.name, "likelihood": round(self.likelihood, 3),
                "heavy_transport": self.type.heavy_transport}


def _sigma(size_m: float, gsd_m: float) -> float:
    return max(REL_SIGMA * size_m, PX_SIGMA * gsd_m)


def aircraft_candidates(long_m: float, short_m: float, gsd_m: float, rotorcraft: bool | None = None
                        ) -> list[Candidate]:
    """Types that fit a box of ``long_m × short_m``, best first, likelihoods summing to 1.

    ``rotorcraft`` True/False restricts to helicopters / fixed-wing; None tries all.
    """
    if long_m <= 0 or short_m <= 0 or gsd_m <= 0:
        raise InputError(f"box sides and GSD must be positive (got {long_m}, {short_m}, {gsd_m})")
    scored: list[tuple[AircraftType, float]] = []
    for t in TYPES.values():
        if rotorcraft is not None and t.rotorcraft != rotorcraft:
            continue
        big, small = max(t.length_m, t.span_m), min(t.length_m, t.span_m)
        za = (long_m - big) / _sigma(big, gsd_m)
        zb = (short_m - small) / _sigma(small, gsd_m)
        if abs(za) <= MAX_Z and abs(zb) <= MAX_Z:
            scored.append((t, math.exp(-0.5 * (za * za + zb * zb))))
    total = sum(w for _, w in scored)
    if total <= 0:
        return []
    scored.sort(key=lambda x: -x[1])
    return [Candidate(t, w / total) for t, w in scored[:MAX_CANDIDATES]]


def heavy_transport(cands: list[Candidate]) -> bool:
    """The most likely type is a heavy airlifter."""
    return bool(cands) and cands[0].type.heavy_transport


def size_class(cls: str, length_m: float) -> str | None:
    """Size class of a detection of class ``cls`` with long side ``length_m`` (None if no table)."""
    table = _SIZE_TABLES.get(cls)
    if table is None or not length_m > 0:
        return None
    for bound, name in table:
        if length_m < bound:
            return name
    return None  # pragma: no cover - last bound is infinite
