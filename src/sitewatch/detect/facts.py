"""Imagery facts you can quote, with what ADS-B saw arrive that day set beside them.

An aircraft found in a scene is quoted by what was measured, never by a guessed type
(:mod:`sitewatch.detect.types`): "a very large transport aircraft (≈ 74 m) on the apron
at 08:06 UTC". Imagery cannot tell an An-124 from a Boeing 747 or a C-5M by size, but
ADS-B may have seen one land: when an aircraft of a type that *fits the measured size*
landed at the site earlier that UTC day and had not taken off again before the image,
the fact is written with it: "an object of An-124 size (≈ 74 m) on the apron at 08:06
UTC; An-124 RA-82040 landed 03:29 UTC". The two stay two facts (size from imagery,
type and registration from ADS-B): nothing says that object *is* that aircraft.

* :func:`aircraft_facts` — one :class:`AircraftFact` per stored aircraft detection of a
  site (optionally one scene), read from ``detections`` + ``scenes``;
* :func:`adsb_arrivals` — the :class:`Arrival` s at the site from the start of the image's
  UTC day (or ``since``) to the image time, still on the ground then as far as ADS-B
  knows: ``arrival`` events (landings seen) and ``dark-visit`` events (probably landed
  with the transponder unheard), with registration and type from the ``aircraft`` table;
* :func:`quote` — the sentence for one fact; :func:`scene_quotes` — one sentence per
  scene, zone and size group (``2 objects of An-124 size …``), with the arrivals that
  fit, as plain dicts for a report or an API.

A detection stored before sizes were bias-corrected (``type_candidates`` a ranked list)
is re-measured from its box and scene GSD at the detector's default working GSD.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sitewatch.detect import types as T
from sitewatch.detect.yolo_obb import DEFAULT_FINE_GSD_M, DEFAULT_GSD_M
from sitewatch.reference.types import lookup, short_name
from sitewatch.store import detections, events
from sitewatch.store.db import Store

SURFACES = ("apron", "runway", "taxiway", "ramp", "hangar")  # zones one is "on", not "in"
_LETTER_AN = frozenset("AEFHILMNORSX")  # letters read with a leading vowel: "an MD-11", "an F-16"


@dataclass(frozen=True)
class AircraftFact:
    """One aircraft detection, as it may be quoted: measured size, fitting types, where, when."""

    det_id: str
    scene_id: str
    site: str
    t_utc: datetime | None
    zone: str | None
    cls: str
    score: float
    label: str  # "very large transport aircraft (≈ 74 m)" or "An-124 (≈ 74 m)"
    size_words: str  # "very large transport aircraft"
    named: str | None  # the one fitting type code, else None
    fits: tuple[str, ...]  # in-service type codes within the error (not a ranking)
    long_m: float
    long_err_m: float
    short_m: float
    short_err_m: float

    @property
    def size_text(self) -> str:
        """"74 ± 7 m by 61 ± 8 m" (larger, smaller plan dimension; which is the fuselage is unknown)."""
        return (f"{self.long_m:.0f} ± {self.long_err_m:.0f} m by {self.short_m:.0f} ± {self.short_err_m:.0f} m")

    def as_json(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["fits"] = list(self.fits)
        d["t_utc"] = _iso(self.t_utc)
        d["size_text"] = self.size_text
        return d


@dataclass(frozen=True)
class Arrival:
    """An aircraft ADS-B saw land at the site (``arrival``) or that probably landed unheard (``dark-visit``)."""

    event_id: str
    kind: str
    icao24: str
    registration: str | None
    typecode: str | None
    t_utc: datetime
    t_departed: datetime | None  # the next take-off ADS-B saw (end of the gap for a dark visit)

    @property
    def type_text(self) -> str:
        t = lookup(self.typecode)
        return short_name(t) if t is not None else (self.typecode or "aircraft of unknown type")

    def text(self, day: datetime | None = None) -> str:
        """"An-124 RA-82040 landed 03:29 UTC" (the date too when not on ``day``'s UTC date)."""
        who = f"{self.type_text} {self.registration or self.icao24}"
        when = _clock(self.t_utc, day)
        if self.kind == "dark-visit":
            return f"{who} probably landed unheard (ADS-B lost it at {when})"
        return f"{who} landed {when}"

    def as_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "kind": self.kind, "icao24": self.icao24,
                "registration": self.registration, "typecode": self.typecode, "type": self.type_text,
                "t_utc": _iso(self.t_utc), "t_departed": _iso(self.t_departed)}


# -- reading ---------------------------------------------------------------------------

def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else None


def _clock(t: datetime, day: datetime | None) -> str:
    t = t.astimezone(UTC)
    if day is not None and t.date() == day.astimezone(UTC).date():
        return f"{t:%H:%M} UTC"
    return f"{t.day} {t:%b %H:%M} UTC"


def _identification(row: dict[str, Any]) -> dict[str, Any] | None:
    """The stored identification of an aircraft row; re-measured for rows stored as a ranked list."""
    raw = row.get("type_candidates")
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:  # unreadable: measure the box again
        data = None
    if isinstance(data, dict) and "measured" in data:
        return data
    gsd, lm, wm = row.get("gsd_m"), row.get("length_m"), row.get("width_m")
    if not gsd or not lm or not wm:
        return None
    heli = row["class"] == "helicopter"
    work = max(float(gsd), DEFAULT_FINE_GSD_M if heli else DEFAULT_GSD_M)
    return T.identify_aircraft(float(lm), float(wm), float(gsd), work, rotorcraft=heli).as_json()


def _fact(row: dict[str, Any]) -> AircraftFact | None:
    ident = _identification(row)
    if ident is None:
        return None
    m, named = ident["measured"], ident.get("named")
    return AircraftFact(
        det_id=row["det_id"], scene_id=row["scene_id"], site=row["site"], t_utc=row.get("t_utc"),
        zone=row.get("zone"), cls=row["class"], score=float(row.get("score") or 0.0), label=ident["label"],
        size_words=ident.get("size_words") or ident["label"].split(" (")[0],
        named=named["type"] if named else None, fits=tuple(f["type"] for f in ident.get("fits", [])),
        long_m=float(m["long_m"]), long_err_m=float(m["long_err_m"]), short_m=float(m["short_m"]),
        short_err_m=float(m["short_err_m"]))


def aircraft_facts(store: Store, site: str, scene_id: str | None = None) -> list[AircraftFact]:
    """Every aircraft detection of ``site`` (or of one scene) as a fact, oldest scene first."""
    rows = detections.aircraft_detections(store, site, scene_id)
    return [f for f in map(_fact, rows) if f is not None]


def adsb_arrivals(store: Store, site: str, at: datetime, since: datetime | None = None) -> list[Arrival]:
    """Aircraft that landed at ``site`` between ``since`` (default: ``at``'s UTC midnight) and ``at``
    and had not taken off again by ``at`` (as far as ADS-B saw), oldest first."""
    at = at.astimezone(UTC)
    since = since or at.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = events.aircraft_arrivals(store, site, since, at)
    if not rows:
        return []
    deps: dict[str, list[datetime]] = {}
    for d in events.departures(store, site, sorted({str(r["subject"]) for r in rows}), since):
        deps.setdefault(str(d["subject"]), []).append(d["t_start"])
    out = []
    for r in rows:
        a = _arrival(r, deps.get(str(r["subject"]), []))
        if a.t_departed is None or a.t_departed > at:
            out.append(a)
    return out


def _arrival(r: dict[str, Any], departures: list[datetime]) -> Arrival:
    """An ``arrival``/``dark-visit`` events row as an :class:`Arrival`; ``departures`` of its aircraft, in order."""
    details = r.get("details") or {}
    if isinstance(details, str):
        details = json.loads(details)
    code = r.get("typecode") or details.get("typecode") or details.get("type")
    dep: datetime | None
    if r["kind"] == "dark-visit":
        dep = r.get("t_end")
    else:
        dep = next((d for d in departures if d > r["t_start"]), None)
    return Arrival(str(r["event_id"]), str(r["kind"]), str(r["subject"]), r.get("registration"),
                   str(code).upper() if code else None, r["t_start"], dep)


# -- writing ---------------------------------------------------------------------------

def _article(text: str) -> str:
    first = text.split()[0]
    abbrev = any(ch.isdigit() for ch in first) or "-" in first or first.isupper()
    vowel = first[0].upper() in _LETTER_AN if abbrev else first[0].lower() in "aeiou"
    return f"{'an' if vowel else 'a'} {text}"


def where_text(zone: str | None, site: str) -> str:
    """"on the apron", "in zone park-north", "at hmeimim"."""
    if not zone:
        return f"at {site}"
    return f"on the {zone}" if any(s in zone.lower() for s in SURFACES) else f"in zone {zone}"


def fitting(fits: Iterable[str], arrivals: Sequence[Arrival]) -> list[Arrival]:
    """The arrivals whose type is one of the measured object's fitting types."""
    codes = set(fits)
    return [a for a in arrivals if a.typecode in codes]


def _when(t: datetime | None) -> str:
    return f" at {t.astimezone(UTC):%H:%M} UTC" if t is not None else ""


def quote(fact: AircraftFact, arrivals: Sequence[Arrival] = ()) -> str:
    """The sentence for one fact, with the fitting arrivals beside it (module doc)."""
    where = where_text(fact.zone, fact.site) + _when(fact.t_utc)
    match = fitting(fact.fits, arrivals)
    if not match:
        return f"{_article(fact.label)} {where}"
    types = " or ".join(dict.fromkeys(a.type_text for a in match))
    return (f"an object of {types} size (≈ {fact.long_m:.0f} m) {where}; "
            + "; ".join(a.text(fact.t_utc) for a in match))


def _size_range(facts: Sequence[AircraftFact]) -> str:
    lo, hi = round(min(f.long_m for f in facts)), round(max(f.long_m for f in facts))
    return f"≈ {lo} m" if lo == hi else f"≈ {lo}–{hi} m"


def _group_text(facts: Sequence[AircraftFact], match: Sequence[Arrival]) -> str:
    f0, n = facts[0], len(facts)
    where = where_text(f0.zone, f0.site) + _when(f0.t_utc)
    size = _size_range(facts)
    if match:
        types = " or ".join(dict.fromkeys(a.type_text for a in match))
        what = f"{'an object' if n == 1 else f'{n} objects'} of {types} size ({size})"
        return f"{what} {where}; " + "; ".join(a.text(f0.t_utc) for a in match)
    named = lookup(f0.named)
    if named is not None:
        what = f"{_article(short_name(named))}" if n == 1 else f"{n} × {short_name(named)}"
    else:
        words = f0.size_words if n == 1 or f0.cls == "plane" else f0.size_words + "s"
        what = _article(words) if n == 1 else f"{n} {words}"
    return f"{what} ({size}) {where}"


def scene_quotes(store: Store, site: str, scene_id: str | None = None) -> list[dict[str, Any]]:
    """One quotable sentence per scene, zone and group of like aircraft.

    Aircraft group when they share scene, zone, class, size words, named type and the
    types of the fitting arrivals. Each dict: ``scene_id``, ``t_utc``, ``zone``,
    ``class``, ``n``, ``text``, ``det_ids``, ``fits`` (union over the group, table order),
    ``named``, ``facts`` (each :meth:`AircraftFact.as_json`) and ``adsb`` (the fitting
    :class:`Arrival` s, :meth:`Arrival.as_json`).
    """
    facts = aircraft_facts(store, site, scene_id)
    arrivals: dict[str, list[Arrival]] = {}
    groups: dict[tuple[Any, ...], tuple[list[AircraftFact], list[Arrival]]] = {}
    for f in facts:
        if f.scene_id not in arrivals:
            arrivals[f.scene_id] = adsb_arrivals(store, site, f.t_utc) if f.t_utc is not None else []
        match = fitting(f.fits, arrivals[f.scene_id])
        key = (f.scene_id, f.zone, f.cls, f.size_words, f.named, tuple(a.event_id for a in match))
        groups.setdefault(key, ([], match))[0].append(f)
    out = []
    for (sid, zone, cls, _words, named, _ev), (members, match) in groups.items():
        fits = [c for c in dict.fromkeys(c for f in members for c in f.fits)]
        out.append({"scene_id": sid, "t_utc": _iso(members[0].t_utc), "zone": zone, "class": cls,
                    "n": len(members), "text": _group_text(members, match),
                    "det_ids": [f.det_id for f in members], "fits": fits, "named": named,
                    "facts": [f.as_json() for f in members], "adsb": [a.as_json() for a in match]})
    return out
