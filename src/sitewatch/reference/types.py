"""Aircraft types of interest: ICAO type designator → name, role, speeds and dimensions.

Contract: :data:`TYPES` maps an ICAO Doc 8643 type designator (upper case, e.g. ``A124``)
to a frozen :class:`AircraftType`. :func:`lookup` returns one or ``None``; :func:`get`
raises :class:`~sitewatch.errors.NotFoundError` with the closest codes; :func:`parse_codes`
turns a user's ``--watch-types A124,IL76`` into validated codes. :func:`by_size` ranks
types by how well a measured length/span fits (imagery type estimation).

Figures are public manufacturer / reference-book values, rounded: length and span in
metres (for helicopters ``span_m`` is the main-rotor diameter and ``length_m`` the length
with rotors turning), typical cruise and final-approach speeds in knots. They are meant
for plausibility checks (is 140 kt on final credible for this type? does a 69 m × 73 m
silhouette fit an An-124?), not for performance modelling. Every designator here exists
in the ICAO list shipped by tar1090-db (a test checks it).

``heavy_transport`` marks the strategic / heavy military airlifters whose presence at a
site is a logistics indicator (An-124, An-22, Il-76, C-17, C-5M, A400M, Y-20 …).

``status`` says whether the type still flies: ``in-service`` (default), ``retired`` (no
airframe flies any more) or ``destroyed`` (the only airframe was lost: the An-225, at
Hostomel in February 2022). Lookups by code keep every row (an ADS-B database may still
name an old type); imagery size matching (:func:`by_size`,
:func:`sitewatch.detect.types.identify_aircraft`) considers only types in service, so a
very large silhouette is never "an An-225".
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sitewatch.errors import InputError, NotFoundError

ROLES = (
    "strategic-transport",
    "tactical-transport",
    "tanker",
    "isr",  # airborne early warning, reconnaissance, maritime patrol
    "bomber",
    "fighter",
    "helicopter",
    "uav",
    "government",  # VIP / government transport on airliner airframes
    "airliner",
)
STATUSES = ("in-service", "retired", "destroyed")


@dataclass(frozen=True)
class AircraftType:
    """One ICAO aircraft type with the figures analytics and imagery need."""

    code: str
    name: str
    role: str
    military: bool
    heavy_transport: bool
    cruise_kt: float
    approach_kt: float
    length_m: float
    span_m: float
    wake: str  # ICAO wake turbulence category: L, M, H, J
    status: str = "in-service"  # one of STATUSES
    status_note: str = ""  # why and since when, for status other than in-service

    @property
    def rotorcraft(self) -> bool:
        return self.role == "helicopter"

    @property
    def in_service(self) -> bool:
        return self.status == "in-service"


def _t(code: str, name: str, role: str, military: bool, heavy: bool, cruise_kt: float,
       approach_kt: float, length_m: float, span_m: float, wake: str, status: str = "in-service",
       status_note: str = "") -> AircraftType:
    if role not in ROLES or status not in STATUSES:  # a typo in the table below must fail at import
        raise ValueError(f"unknown role {role!r} or status {status!r} for {code}")
    return AircraftType(code, name, role, military, heavy, cruise_kt, approach_kt, length_m, span_m, wake,
                        status, status_note)


_ROWS: tuple[AircraftType, ...] = (
    # strategic / heavy airlifters
    _t("A124", "Antonov An-124 Ruslan", "strategic-transport", True, True, 430, 140, 68.96, 73.30, "H"),
    _t("A225", "Antonov An-225 Mriya", "strategic-transport", False, True, 430, 140, 84.00, 88.40, "H",
       "destroyed", "the only airframe was destroyed at Hostomel in February 2022"),
    _t("AN22", "Antonov An-22 Antei", "strategic-transport", True, True, 300, 130, 57.92, 64.40, "H"),
    _t("IL76", "Ilyushin Il-76 / Il-78 / A-50 airframe", "strategic-transport", True, True, 430, 140,
       46.59, 50.50, "H"),
    _t("C17", "Boeing C-17 Globemaster III", "strategic-transport", True, True, 450, 115, 53.04, 51.75, "H"),
    _t("C5M", "Lockheed C-5M Super Galaxy", "strategic-transport", True, True, 450, 135, 75.31, 67.89, "H"),
    _t("A400", "Airbus A400M Atlas", "strategic-transport", True, True, 420, 115, 45.10, 42.40, "H"),
    _t("Y20", "Xian Y-20 Kunpeng", "strategic-transport", True, True, 430, 135, 47.00, 45.00, "H"),
    # tactical transports
    _t("AN12", "Antonov An-12", "tactical-transport", True, False, 300, 115, 33.10, 38.00, "M"),
    _t("AN24", "Antonov An-24", "tactical-transport", False, False, 245, 100, 23.53, 29.20, "M"),
    _t("AN26", "Antonov An-26", "tactical-transport", True, False, 235, 100, 23.80, 29.20, "M"),
    _t("AN30", "Antonov An-30 (survey)", "isr", True, False, 235, 100, 24.26, 29.20, "M"),
    _t("AN32", "Antonov An-32", "tactical-transport", True, False, 255, 100, 23.78, 29.20, "M"),
    _t("AN72", "Antonov An-72 / An-74", "tactical-transport", True, False, 325, 100, 28.07, 31.89, "M"),
    _t("A148", "Antonov An-148", "tactical-transport", False, False, 450, 130, 29.13, 28.91, "M"),
    _t("C130", "Lockheed C-130 Hercules (A–H)", "tactical-transport", True, False, 290, 120, 29.79, 40.41,
       "M"),
    _t("C30J", "Lockheed Martin C-130J Super Hercules", "tactical-transport", True, False, 345, 120,
       34.69, 40.41, "M"),
    _t("C160", "Transall C-160", "tactical-transport", True, False, 275, 115, 32.40, 40.00, "M"),
    _t("C295", "Airbus C295", "tactical-transport", True, False, 260, 110, 24.50, 25.81, "M"),
    _t("CN35", "Airbus CN-235", "tactical-transport", True, False, 240, 105, 21.40, 25.81, "M"),
    _t("E390", "Embraer C-390 Millennium", "tactical-transport", True, False, 470, 130, 35.20, 35.05, "M"),
    _t("C2", "Grumman C-2 Greyhound", "tactical-transport", True, False, 250, 100, 17.32, 24.56, "M"),
    _t("V22", "Bell Boeing V-22 Osprey", "tactical-transport", True, False, 240, 100, 17.48, 25.78, "M"),
    # tankers
    _t("K35R", "Boeing KC-135R Stratotanker", "tanker", True, False, 460, 150, 41.53, 39.88, "H"),
    _t("C135", "Boeing C-135 family (C-135FR, KC-135)", "tanker", True, False, 460, 150, 41.53, 39.88, "H"),
    _t("A332", "Airbus A330-200 / A330 MRTT", "tanker", False, False, 470, 140, 58.82, 60.30, "H"),
    _t("A310", "Airbus A310 / A310 MRTT", "tanker", False, False, 460, 135, 46.66, 43.90, "H"),
    # ISR, AEW, maritime patrol
    _t("A50", "Beriev A-50 Mainstay", "isr", True, False, 430, 140, 49.59, 50.50, "H"),
    _t("E3TF", "Boeing E-3 Sentry (turbofan)", "isr", True, False, 360, 140, 46.61, 44.42, "H"),
    _t("E3CF", "Boeing E-3 Sentry (CFM56)", "isr", True, False, 360, 140, 46.61, 44.42, "H"),
    _t("R135", "Boeing RC-135", "isr", True, False, 430, 150, 41.10, 39.88, "H"),
    _t("P8", "Boeing P-8 Poseidon", "isr", True, False, 440, 140, 39.47, 37.64, "M"),
    _t("IL38", "Ilyushin Il-38", "isr", True, False, 330, 125, 40.19, 37.42, "M"),
    _t("IL18", "Ilyushin Il-18 / Il-20 / Il-22", "isr", False, False, 340, 120, 35.90, 37.40, "M"),
    _t("E2", "Northrop Grumman E-2 Hawkeye", "isr", True, False, 255, 105, 17.60, 24.56, "M"),
    # bombers
    _t("T160", "Tupolev Tu-160", "bomber", True, False, 520, 160, 54.10, 55.70, "H"),
    _t("TU95", "Tupolev Tu-95 / Tu-142", "bomber", True, False, 380, 150, 46.20, 50.10, "H"),
    _t("TU22", "Tupolev Tu-22M", "bomber", True, False, 490, 155, 42.46, 34.28, "H"),
    _t("B52", "Boeing B-52 Stratofortress", "bomber", True, False, 450, 140, 48.50, 56.40, "H"),
    _t("B1", "Rockwell B-1 Lancer", "bomber", True, False, 480, 160, 44.50, 41.80, "H"),
    # fighters / attack (figures: spread wings for variable-geometry types)
    _t("SU24", "Sukhoi Su-24", "fighter", True, False, 470, 155, 22.53, 17.64, "M"),
    _t("SU25", "Sukhoi Su-25", "fighter", True, False, 405, 135, 15.33, 14.36, "M"),
    _t("SU27", "Sukhoi Su-27 / Su-30 / Su-34 / Su-35", "fighter", True, False, 480, 145, 21.94, 14.70,
       "M"),
    _t("MG29", "Mikoyan MiG-29", "fighter", True, False, 480, 140, 17.32, 11.36, "M"),
    _t("MG31", "Mikoyan MiG-31", "fighter", True, False, 520, 155, 22.69, 13.46, "M"),
    _t("F16", "General Dynamics F-16", "fighter", True, False, 480, 140, 15.06, 9.96, "M"),
    _t("F15", "Boeing F-15", "fighter", True, False, 495, 140, 19.43, 13.05, "M"),
    _t("F35", "Lockheed Martin F-35", "fighter", True, False, 480, 140, 15.70, 10.70, "M"),
    _t("F18S", "Boeing F/A-18E/F Super Hornet", "fighter", True, False, 480, 140, 18.31, 13.62, "M"),
    _t("EUFI", "Eurofighter Typhoon", "fighter", True, False, 480, 140, 15.96, 10.95, "M"),
    _t("RFAL", "Dassault Rafale", "fighter", True, False, 480, 130, 15.27, 10.90, "M"),
    _t("TOR", "Panavia Tornado", "fighter", True, False, 480, 150, 16.72, 13.91, "M"),
    # helicopters (span_m = main rotor diameter)
    _t("MI8", "Mil Mi-8 / Mi-17", "helicopter", True, False, 120, 60, 25.24, 21.29, "M"),
    _t("MI24", "Mil Mi-24 / Mi-35", "helicopter", True, False, 140, 60, 21.35, 17.30, "M"),
    _t("MI26", "Mil Mi-26", "helicopter", True, False, 137, 60, 40.03, 32.00, "H"),
    _t("MI28", "Mil Mi-28", "helicopter", True, False, 145, 60, 21.60, 17.20, "M"),
    _t("KA52", "Kamov Ka-52", "helicopter", True, False, 140, 60, 16.00, 14.50, "M"),
    _t("H47", "Boeing CH-47 Chinook", "helicopter", True, False, 160, 60, 30.14, 18.29, "M"),
    _t("H60", "Sikorsky UH-60 Black Hawk", "helicopter", True, False, 150, 60, 19.76, 16.36, "M"),
    # uncrewed
    _t("Q9", "General Atomics MQ-9 Reaper", "uav", True, False, 170, 90, 11.00, 20.00, "L"),
    _t("Q4", "Northrop Grumman RQ-4 Global Hawk", "uav", True, False, 310, 110, 14.50, 39.90, "M"),
    # government / VIP transports (Soviet-built airliners still flown by air forces)
    _t("IL62", "Ilyushin Il-62", "government", False, False, 460, 140, 53.12, 43.20, "H"),
    _t("IL96", "Ilyushin Il-96", "government", False, False, 470, 140, 55.35, 57.66, "H"),
    _t("T134", "Tupolev Tu-134", "government", False, False, 440, 140, 37.10, 29.00, "M"),
    _t("T154", "Tupolev Tu-154", "government", False, False, 460, 140, 47.90, 37.55, "M"),
    _t("T204", "Tupolev Tu-204 / Tu-214", "government", False, False, 450, 135, 46.10, 42.00, "M"),
    _t("SU95", "Sukhoi Superjet 100", "government", False, False, 450, 130, 29.94, 27.80, "M"),
    # common airliners, so a detection or a track can be told apart from the types of interest
    _t("A319", "Airbus A319", "airliner", False, False, 450, 130, 33.84, 35.80, "M"),
    _t("A320", "Airbus A320", "airliner", False, False, 450, 135, 37.57, 35.80, "M"),
    _t("A321", "Airbus A321", "airliner", False, False, 450, 140, 44.51, 35.80, "M"),
    _t("B738", "Boeing 737-800", "airliner", False, False, 455, 145, 39.50, 35.79, "M"),
    _t("B752", "Boeing 757-200", "airliner", False, False, 460, 135, 47.32, 38.05, "M"),
    _t("B763", "Boeing 767-300", "airliner", False, False, 460, 140, 54.94, 47.57, "H"),
    _t("B742", "Boeing 747-200 (E-4B, VC-25A)", "government", False, False, 490, 150, 70.66, 59.64, "H"),
    _t("B744", "Boeing 747-400", "airliner", False, False, 490, 150, 70.66, 64.44, "H"),
    _t("B748", "Boeing 747-8", "airliner", False, False, 490, 155, 76.30, 68.40, "H"),
    _t("B77W", "Boeing 777-300ER", "airliner", False, False, 490, 150, 73.86, 64.80, "H"),
    _t("DC10", "McDonnell Douglas DC-10 / KC-10", "tanker", False, False, 490, 150, 55.35, 50.40, "H"),
    # more airliners and freighters of every size: a silhouette that fits only one type of
    # interest must not be named after it because the common type of that size was missing
    _t("AT76", "ATR 72-600", "airliner", False, False, 275, 110, 27.17, 27.05, "M"),
    _t("DH8D", "De Havilland Canada Dash 8-400", "airliner", False, False, 360, 120, 32.83, 28.42, "M"),
    _t("CRJ9", "Bombardier CRJ900", "airliner", False, False, 450, 135, 36.20, 24.85, "M"),
    _t("E190", "Embraer E190", "airliner", False, False, 450, 130, 36.24, 28.72, "M"),
    _t("E195", "Embraer E195", "airliner", False, False, 450, 130, 38.65, 28.72, "M"),
    _t("B712", "Boeing 717-200", "airliner", False, False, 440, 130, 37.81, 28.45, "M"),
    _t("BCS3", "Airbus A220-300", "airliner", False, False, 450, 130, 38.71, 35.10, "M"),
    _t("A20N", "Airbus A320neo", "airliner", False, False, 450, 135, 37.57, 35.80, "M"),
    _t("A21N", "Airbus A321neo", "airliner", False, False, 450, 140, 44.51, 35.80, "M"),
    _t("B38M", "Boeing 737 MAX 8", "airliner", False, False, 455, 145, 39.52, 35.92, "M"),
    _t("B739", "Boeing 737-900ER", "airliner", False, False, 455, 145, 42.11, 35.79, "M"),
    _t("MD82", "McDonnell Douglas MD-81/82/83/88", "airliner", False, False, 440, 135, 45.06, 32.87, "M"),
    _t("MD90", "McDonnell Douglas MD-90", "airliner", False, False, 440, 135, 46.51, 32.87, "M"),
    _t("B762", "Boeing 767-200", "airliner", False, False, 460, 140, 48.51, 47.57, "H"),
    _t("B753", "Boeing 757-300", "airliner", False, False, 460, 140, 54.43, 38.05, "M"),
    _t("A306", "Airbus A300-600", "airliner", False, False, 460, 135, 54.08, 44.84, "H"),
    _t("B788", "Boeing 787-8", "airliner", False, False, 490, 140, 56.72, 60.12, "H"),
    _t("MD11", "McDonnell Douglas MD-11", "airliner", False, False, 475, 155, 61.62, 51.97, "H"),
    _t("A333", "Airbus A330-300", "airliner", False, False, 470, 140, 63.66, 60.30, "H"),
    _t("A343", "Airbus A340-300", "airliner", False, False, 470, 140, 63.69, 60.30, "H"),
    _t("B77L", "Boeing 777-200LR / 777F", "airliner", False, False, 490, 145, 63.73, 64.80, "H"),
    _t("A359", "Airbus A350-900", "airliner", False, False, 480, 140, 66.80, 64.75, "H"),
    _t("A35K", "Airbus A350-1000", "airliner", False, False, 480, 145, 73.79, 64.75, "H"),
    _t("A346", "Airbus A340-600", "airliner", False, False, 480, 150, 75.36, 63.45, "H"),
    _t("A388", "Airbus A380-800", "airliner", False, False, 490, 140, 72.72, 79.75, "J"),
)

TYPES: dict[str, AircraftType] = {t.code: t for t in _ROWS}
"""Every known type by ICAO designator."""

DEFAULT_WATCH: tuple[str, ...] = tuple(
    t.code for t in _ROWS if t.heavy_transport or t.role in ("tactical-transport", "tanker", "isr")
)
"""Codes watched when the user gives no ``--watch-types``: airlifters, tankers, ISR."""


def lookup(code: str | None) -> AircraftType | None:
    """The type for ``code`` (case-insensitive), or ``None`` when unknown or empty."""
    if not code:
        return None
    return TYPES.get(code.strip().upper())


def get(code: str) -> AircraftType:
    """The type for ``code``; raises :class:`NotFoundError` with the closest codes."""
    t = lookup(code)
    if t is None:
        close = difflib.get_close_matches(code.strip().upper(), list(TYPES), n=5, cutoff=0.5)
        raise NotFoundError("aircraft type", code, close,
                            "Use an ICAO type designator such as A124, IL76, C17")
    return t


def short_name(t: AircraftType) -> str:
    """The name an editor would write: ``An-124``, ``Il-76``, ``C-5M``, ``Boeing 747-400``, ``Rafale``.

    The first designation with a digit (and the capitals or numbers right after it:
    ``737 MAX 8``), without the maker unless the designation is a bare model number
    (``Boeing 747-400``); names without one lose the maker (``Dassault
    Rafale`` becomes ``Rafale``).
    """
    words = t.name.split(" (")[0].split(" / ")[0].split()
    for k, w in enumerate(words):
        if any(ch.isdigit() for ch in w):
            end = k + 1
            while end < len(words) and (words[end].isupper() or words[end].isdigit()):
                end += 1  # "737 MAX 8"
            return " ".join(words[k - 1 if w[0].isdigit() and k > 0 else k:end])
    return " ".join(words[1:]) if len(words) > 1 else " ".join(words)


def heavy_transports() -> list[AircraftType]:
    """The heavy airlifters, largest first."""
    return sorted((t for t in _ROWS if t.heavy_transport), key=lambda t: -t.length_m)


def parse_codes(text: str | None, strict: bool = False) -> tuple[str, ...]:
    """``"A124, il76"`` → ``("A124", "IL76")``.

    Any well-formed ICAO designator (2–4 letters/digits) is accepted, because the
    aircraft database knows many more types than :data:`TYPES`; with ``strict`` only
    codes in :data:`TYPES` are. Raises :class:`InputError` naming the bad code.
    """
    if text is None or not text.strip():
        return ()
    out: list[str] = []
    for part in text.split(","):
        code = part.strip().upper()
        if not code:
            continue
        if not (2 <= len(code) <= 4 and code.isalnum()):
            raise InputError(f"{part.strip()!r} is not an ICAO type designator (2-4 letters/digits, e.g. A124)")
        if strict:
            get(code)
        if code not in out:
            out.append(code)
    return tuple(out)


def in_service() -> list[AircraftType]:
    """The types still flying (``status == "in-service"``), in table order."""
    return [t for t in _ROWS if t.in_service]


def by_size(length_m: float, span_m: float, tolerance: float = 0.15,
            roles: tuple[str, ...] | None = None, only_in_service: bool = True
            ) -> list[tuple[AircraftType, float]]:
    """Types whose length and span are within ``tolerance`` (relative) of the measured ones.

    Returns ``(type, score)`` best first; ``score`` in [0, 1] is 1 for an exact fit and
    falls linearly to 0 at the tolerance on the worse of the two dimensions. Length and
    span may be swapped by the caller's measurement, so both orientations are tried.
    Types no longer flying are left out unless ``only_in_service`` is false.
    """
    if length_m <= 0 or span_m <= 0 or tolerance <= 0:
        raise InputError(f"length_m, span_m and tolerance must be positive (got {length_m}, {span_m}, {tolerance})")
    out: list[tuple[AircraftType, float]] = []
    for t in _ROWS:
        if (roles is not None and t.role not in roles) or (only_in_service and not t.in_service):
            continue
        err = min(
            max(abs(length_m - t.length_m) / t.length_m, abs(span_m - t.span_m) / t.span_m),
            max(abs(span_m - t.length_m) / t.length_m, abs(length_m - t.span_m) / t.span_m),
        )
        if err <= tolerance:
            out.append((t, 1.0 - err / tolerance))
    out.sort(key=lambda x: -x[1])
    return out
