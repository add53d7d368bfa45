"""The GSD gate: which objects a scene of a given ground sample distance can count.

**The rule: an object is countable when its length spans at least** :data:`MIN_PX` **(4)
pixels.** Below that it is a speck or a blob of two or three pixels that cannot be told
from its neighbour or from clutter; at 4 px its length is about two resolution cells of a
sensor whose blur spans ~2 px (Sentinel-2's MTF at Nyquist is specified at 0.15–0.3), so a
cross of an aircraft or the hull of a ship stands out as a shape. So a scene of ``gsd_m``
counts the objects at least ``countable_length_m(gsd_m) = 4 × gsd_m`` long, and a class is

* ``all``: countable whole, when even its smallest typical object is that long;
* ``part``: countable from that length up ("aircraft ≥ 40 m"), when its largest is;
* ``none``: when not even its largest is.

The typical lengths (:data:`CLASS_LENGTH_M`) are the ones the code already knows: aircraft
from the type table (:mod:`sitewatch.reference.types`: the larger of length and span of
the in-service types, F-16 15 m … A380 80 m; helicopters Ka-52 16 m … Mi-26 40 m, with
12 m for the light ones the table does not list), ships and vehicles from the size classes
of :mod:`sitewatch.detect.types` (ships from 20 m — what the old gate took as a ship's
smallest — to 400 m; large vehicles 8–20 m, a truck to an articulated lorry; small
vehicles 4–8 m, a car to a van). At 10 m (Sentinel-2) that gives: aircraft ≥ 40 m (the
heavy transports and wide-bodies: Il-76, C-17, An-124 …) and ships ≥ 40 m, not vehicles
(a large vehicle needs ≤ 2 m, a small one ≤ 1 m); at 0.5 m everything.

**What a detector counts is narrower** (:func:`detector_gate`): a detector declares its
measured reach per class (:data:`REACH`, :func:`declare_reach`), the coarsest GSD at which
its recall was measured acceptable and the pixels it needs there; a class is counted by the
detector from ``max(MIN_PX, min_px) × gsd_m`` up, and not at all beyond ``max_gsd_m``. The
built-in ``yolov8-obb`` (DOTA-trained) was measured on the labelled images of ../shared
(recall at IoU ≥ 0.3, scenes shrunk to each working GSD; ``tools/eval_gate.py``):

=============  ===================================================================
class          recall by pixels along the object's length
=============  ===================================================================
aircraft       Airbus 0.5 m scenes, every 2nd (41, 1,281 aircraft; axis-aligned labels): at
               2.5 m 12–16 px 0.93; at 5 m 8–10 px 0.30, 10–12 px 0.62, 12–16 px 0.84,
               ≥ 16 px 0.86; at 7.5 m ≥ 11 px 0.67; at 10 m 71 of 1,281 found (0.21 of
               those ≥ 8 px) → reach 5 m, 12 px
ships          DOTA P0706 (525 boats, 7–13 m): at 0.6 m 10–16 px 0.86–0.88, ≥ 16 px
               0.94–0.96; at 1 m 12–16 px 0.69, 16–24 px 0.92; at 2 m 0.04 → 1 m, 16 px
vehicles       DOTA P1888 (64): 0.92 at 0.5 m, 0.84 at 0.6 m, 0.11 at 1 m → 0.6 m, 8 px
helicopters    no labelled helicopters: the aircraft pass's 1.25 m, 12 px (not measured)
=============  ===================================================================

So ``yolov8-obb`` counts nothing at 10 m — what a 10 m scene shows (large aircraft and
ships) an analyst counts by eye (``sitewatch ingest observations``), or a detector made for
such imagery with its own reach. A detector with no declared reach is held to the scene
rule alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MIN_PX = 4.0  # pixels along its length an object needs to be counted (see the module docstring)

WATCHED_CLASSES = ("plane", "helicopter", "ship", "large-vehicle", "small-vehicle")
VEHICLE_CLASSES = ("large-vehicle", "small-vehicle")
WORDS = {"plane": "aircraft", "helicopter": "helicopters", "ship": "ships", "large-vehicle": "large vehicles",
         "small-vehicle": "small vehicles"}


def _aircraft_lengths() -> dict[str, tuple[float, float]]:
    from sitewatch.reference.types import TYPES

    def span(rotor: bool) -> tuple[float, float]:
        sizes = [max(t.length_m, t.span_m) for t in TYPES.values() if t.in_service and t.rotorcraft == rotor]
        return min(sizes), max(sizes)

    plane, heli = span(False), span(True)
    return {"plane": plane, "helicopter": (min(12.0, heli[0]), heli[1])}


# (smallest, largest) typical length of each class, metres (see the module docstring)
CLASS_LENGTH_M: dict[str, tuple[float, float]] = {
    **_aircraft_lengths(), "ship": (20.0, 400.0), "large-vehicle": (8.0, 20.0), "small-vehicle": (4.0, 8.0),
}


@dataclass(frozen=True)
class Reach:
    """What a detector was measured to count of one class: up to ``max_gsd_m``, from ``min_px`` px."""

    max_gsd_m: float
    min_px: float
    measured: str = ""


REACH: dict[str, dict[str, Reach]] = {
    "yolov8-obb": {
        "plane": Reach(5.0, 12.0, "Airbus aircraft: 0.84–0.93 recall from 12 px up to 5 m; 0.06 at 10 m"),
        "helicopter": Reach(1.25, 12.0, "not measured (no labelled helicopters): the aircraft pass"),
        "ship": Reach(1.0, 16.0, "DOTA P0706: 0.92–0.99 at ≥ 16 px up to 1 m; 0.04 at 2 m"),
        "large-vehicle": Reach(0.6, 8.0, "DOTA P1888: 0.84 at 0.6 m, 0.11 at 1 m"),
        "small-vehicle": Reach(0.6, 8.0, "DOTA P1888: 0.84 at 0.6 m, 0.11 at 1 m"),
    },
}
DEFAULT_DETECTOR = "yolov8-obb"  # the built-in detector; runs that do not name one used it


def declare_reach(detector: str, reach: dict[str, Reach]) -> None:
    """Declare what ``detector`` was measured to count (a detector module calls this once)."""
    REACH[detector] = dict(reach)


@dataclass(frozen=True)
class Gate:
    """Whether a class is countable at a GSD: ``all``, ``part`` (from ``from_m`` up), ``none`` or
    ``unknown`` (no GSD); ``why`` says what limits it."""

    cls: str
    gsd_m: float | None
    status: str
    from_m: float | None = None
    why: str = ""

    @property
    def countable(self) -> bool | None:
        """True for all/part, False for none, None when the GSD is unknown."""
        return None if self.status == "unknown" else self.status in ("all", "part")


def countable_length_m(gsd_m: float, min_px: float = MIN_PX) -> float:
    """The shortest object a scene of ``gsd_m`` counts (``min_px`` pixels along it)."""
    return max(MIN_PX, min_px) * gsd_m


def need_gsd_m(cls: str, min_px: float = MIN_PX, whole: bool = True) -> float | None:
    """The coarsest GSD at which ``cls`` is countable whole (``whole=False``: at all)."""
    size = CLASS_LENGTH_M.get(cls)
    if size is None:
        return None
    return (size[0] if whole else size[1]) / max(MIN_PX, min_px)


def gate(cls: str, gsd_m: float | None, min_px: float = MIN_PX) -> Gate:
    """The scene rule for ``cls`` at ``gsd_m`` (a class the gate does not know is always countable)."""
    if gsd_m is None or not gsd_m > 0:
        return Gate(cls, None, "unknown", None, "GSD unknown")
    size = CLASS_LENGTH_M.get(cls)
    if size is None:
        return Gate(cls, gsd_m, "all")
    need = countable_length_m(gsd_m, min_px)
    px = f"{max(MIN_PX, min_px):g} px"
    if size[0] >= need - 1e-9:
        return Gate(cls, gsd_m, "all", size[0])
    if size[1] >= need - 1e-9:
        return Gate(cls, gsd_m, "part", need,
                    f"{WORDS.get(cls, cls)} shorter than {need:.0f} m span under {px} at {gsd_m:.3g} m")
    return Gate(cls, gsd_m, "none", None,
                f"{WORDS.get(cls, cls)} (≤ {size[1]:.0f} m) span under {px} at {gsd_m:.3g} m; they need "
                f"≤ {size[0] / max(MIN_PX, min_px):.2g} m")


def detector_of(settings: str | dict[str, Any] | None) -> str | None:
    """The detector a ``detect_runs.settings`` document names (None: the built-in one)."""
    if isinstance(settings, str):
        try:
            settings = json.loads(settings or "{}")
        except ValueError:
            settings = None
    name = settings.get("detector") if isinstance(settings, dict) else None
    return str(name) if name else None


def reach_of(detector: str | None) -> dict[str, Reach] | None:
    """The declared reach of ``detector`` (``None``: the built-in one), or None when it declared none."""
    return REACH.get(detector or DEFAULT_DETECTOR)


def detector_gate(cls: str, gsd_m: float | None, detector: str | None = None) -> Gate:
    """What ``detector`` counts of ``cls`` at ``gsd_m``: the scene rule narrowed by its measured reach."""
    reach = (reach_of(detector) or {}).get(cls)
    if reach is None:
        return gate(cls, gsd_m)
    name = detector or DEFAULT_DETECTOR
    if gsd_m is not None and gsd_m > reach.max_gsd_m + 1e-9:
        return Gate(cls, gsd_m, "none", None,
                    f"the detector ({name}) was measured to count {WORDS.get(cls, cls)} only up to "
                    f"{reach.max_gsd_m:g} m GSD")
    g = gate(cls, gsd_m, reach.min_px)
    if g.status == "none":
        return Gate(cls, gsd_m, "none", None, f"{g.why} for the detector ({name})")
    return g


def _examples(length_m: float, n: int = 3) -> str:
    """Aircraft types at least ``length_m`` long, heavy transports first ("Il-76, C-17, An-124")."""
    from sitewatch.reference.types import TYPES, short_name

    fits = sorted((t for t in TYPES.values() if t.in_service and not t.rotorcraft
                   and max(t.length_m, t.span_m) >= length_m),
                  key=lambda t: (not t.heavy_transport, max(t.length_m, t.span_m)))
    return ", ".join(dict.fromkeys(short_name(t) for t in fits[:n]))


def _what(gates: list[Gate]) -> str:
    whole = [WORDS.get(g.cls, g.cls) for g in gates if g.status == "all"]
    part = []
    for g in gates:
        if g.status == "part" and g.from_m is not None:
            eg = f" ({_examples(g.from_m)} …)" if g.cls == "plane" and _examples(g.from_m) else ""
            part.append(f"{WORDS.get(g.cls, g.cls)} ≥ {g.from_m:.0f} m{eg}")
    return ", ".join(whole + part)


def scene_gate(gsd_m: float | None, detector: str | None = None,
               classes: tuple[str, ...] = WATCHED_CLASSES) -> dict[str, Any]:
    """What a scene of ``gsd_m`` can count, for the output of ``fetch imagery`` and ``watch run``.

    ``countable``: the classes the pipeline (``detector``'s reach within the scene rule) counts,
    whole or in part; ``from_m``: for those counted in part, the length they are counted from;
    ``shows``: the classes the scene rule alone lets be counted (by eye, or by a detector made
    for such imagery); ``says``: a sentence.
    """
    if gsd_m is None:
        return {"countable": [], "from_m": {}, "shows": [], "not_countable": list(classes),
                "says": "GSD unknown: nothing is counted"}
    scene = [gate(c, gsd_m) for c in classes]
    det = [detector_gate(c, gsd_m, detector) for c in classes]
    yes = [g.cls for g in det if g.countable]
    name = detector or DEFAULT_DETECTOR
    shows = _what(scene)
    counts = _what(det)
    no_scene = [g for g in scene if g.status == "none"]
    need = " or ".join(f"{WORDS.get(g.cls, g.cls)} (≤ {need_gsd_m(g.cls):.2g} m needed)" for g in no_scene)
    if not shows:
        says = (f"at {gsd_m:.3g} m nothing is countable: objects shorter than {countable_length_m(gsd_m):.0f} m "
                f"span under {MIN_PX:g} px; not {need}")
    else:
        says = f"at {gsd_m:.3g} m it shows {shows}" + (f"; not {need}" if need else "")
        if counts == shows:
            says += f" — the detector ({name}) counts them"
        elif counts:
            says += f" — the detector ({name}) counts {counts}"
        else:
            says += (f" — the detector ({name}) counts none of them at this GSD (measured reach); count them "
                     "by eye and record an observation")
    return {"countable": yes, "from_m": {g.cls: round(g.from_m, 1) for g in det if g.status == "part"
                                         and g.from_m is not None},
            "shows": [g.cls for g in scene if g.countable], "not_countable": [c for c in classes if c not in yes],
            "says": says}

