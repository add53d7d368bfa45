"""Names a reader uses: aircraft by type and registration, ships by name, class and flag.

Contract: :class:`Names` is loaded once per report from the workspace's ``aircraft`` and
``vessels`` tables for the subjects of the evidence rows (:meth:`Names.load`); it names a
subject (``"An-124 RA-82035"``, ``"ADMIRAL GRIGOROVICH"``) and rewrites a row's stored text
for a reader (:meth:`Names.text`): the ICAO hex code or MMSI of an event's subject becomes
its name, an analyst's type designator its type name, and an imagery count is said by class
and measured size — never by the detector's type guess, which the evidence row may carry.
What cannot be named stays as the code, saying which code it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sitewatch.reference import types as T
from sitewatch.store.db import Store

Row = Mapping[str, Any]

CLASS_WORDS = {"plane": ("aircraft", "aircraft"), "helicopter": ("helicopter", "helicopters"),
               "ship": ("ship", "ships"), "large-vehicle": ("large vehicle", "large vehicles"),
               "small-vehicle": ("small vehicle", "small vehicles"), "heavy-transport": (
                   "heavy transport aircraft", "heavy transport aircraft")}
# AIS ship-and-cargo type (ITU-R M.1371, table 53): first digit → words; a few exact codes
SHIP_TYPE_EXACT = {30: "fishing vessel", 31: "towing vessel", 32: "towing vessel", 33: "dredger",
                   34: "diving vessel", 35: "military vessel", 36: "sailing vessel", 37: "pleasure craft",
                   50: "pilot vessel", 51: "search and rescue vessel", 52: "tug", 53: "port tender",
                   54: "anti-pollution vessel", 55: "law enforcement vessel", 58: "medical transport"}
SHIP_TYPE_TENS = {2: "wing-in-ground craft", 4: "high-speed craft", 6: "passenger ship", 7: "cargo ship",
                  8: "tanker", 9: "vessel (other type)"}
_SIM = re.compile(r"\s*\((?:SIMULATED[^)]*)\)", re.IGNORECASE)


def class_words(cls: str, n: float | int | None = 2) -> str:
    one, many = CLASS_WORDS.get(cls, (cls, cls))
    return one if n == 1 else many


def short_type(typecode: str | None, type_name: str | None = None) -> str | None:
    """A reader's short name of an aircraft type: ``An-124``, ``Il-76MD``, ``Boeing 747-8``."""
    name = type_name
    if not name and typecode:
        t = T.lookup(typecode)
        name = t.name if t else None
    if not name:
        return typecode.upper() if typecode else None
    name = _SIM.sub("", name).strip()
    words = name.split()
    for i, w in enumerate(words):
        if any(c.isdigit() for c in w):
            if w[0].isdigit() and i > 0:
                return f"{words[i - 1]} {w}"
            return w
    return name


def ship_type_words(code: int | None) -> str | None:
    if code is None:
        return None
    c = int(code)
    if c in SHIP_TYPE_EXACT:
        return SHIP_TYPE_EXACT[c]
    return SHIP_TYPE_TENS.get(c // 10)


@dataclass
class Names:
    aircraft: dict[str, dict[str, Any]] = field(default_factory=dict)
    vessels: dict[str, dict[str, Any]] = field(default_factory=dict)
    sizes: dict[str, float] = field(default_factory=dict)  # det_id → measured length (m)
    named: dict[str, str] = field(default_factory=dict)  # det_id → type its measured size names
    size_words: dict[str, str] = field(default_factory=dict)  # det_id → its size class in words

    @classmethod
    def load(cls, store: Store, rows: Iterable[Row]) -> Names:
        from sitewatch.store import aircraft as AC
        from sitewatch.store import vessels as VS

        icao, mmsi = set(), set()
        for r in rows:
            ref = r.get("ref") or {}
            subj = ref.get("subject") or r.get("subject")
            if ref.get("subject_kind") == "aircraft" and subj:
                icao.add(str(subj))
            elif ref.get("subject_kind") == "vessel" and subj:
                mmsi.add(str(subj))
        return cls(AC.identities(store, sorted(icao)), VS.identities(store, sorted(mmsi)))

    # -- aircraft ---------------------------------------------------------------------

    def airframe(self, icao24: str, row: Row | None = None) -> dict[str, Any]:
        """What is known of an airframe: the database row, else the event's own attributes."""
        a = dict(self.aircraft.get(str(icao24).lower(), {}))
        ref = (row or {}).get("ref") or {}
        a.setdefault("typecode", ref.get("typecode"))
        if not a.get("typecode"):
            a["typecode"] = ref.get("typecode")
        if not a.get("type_name"):
            a["type_name"] = ref.get("type_name")
        if a.get("military") is None:
            a["military"] = ref.get("military")
        a["heavy"] = bool(ref.get("heavy")) or bool((T.lookup(a.get("typecode")) or _NoType).heavy_transport)
        return a

    def aircraft_type(self, icao24: str, row: Row | None = None) -> str | None:
        a = self.airframe(icao24, row)
        return short_type(a.get("typecode"), a.get("type_name"))

    def aircraft_name(self, icao24: str, row: Row | None = None) -> str:
        a = self.airframe(icao24, row)
        typ = short_type(a.get("typecode"), a.get("type_name"))
        reg = a.get("registration")
        if typ and reg:
            return f"{typ} {reg}"
        if reg:
            return f"aircraft {reg}"
        return f"{typ or 'aircraft'} (ICAO {icao24})"

    def aircraft_operator(self, icao24: str) -> str | None:
        a = self.aircraft.get(str(icao24).lower(), {})
        return a.get("operator") or None

    # -- vessels ----------------------------------------------------------------------

    def vessel_name(self, mmsi: str, row: Row | None = None) -> str:
        v = self.vessels.get(str(mmsi), {})
        name = v.get("name") or ((row or {}).get("ref") or {}).get("vessel_name")
        return str(name) if name else f"vessel MMSI {mmsi}"

    def vessel_class(self, mmsi: str, row: Row | None = None) -> str:
        """``military vessel, flag RU, 125 m`` — what is known of a ship beyond its name."""
        v = self.vessels.get(str(mmsi), {})
        ref = (row or {}).get("ref") or {}
        parts = []
        words = ship_type_words(v.get("ship_type", ref.get("ship_type")))
        gov = v.get("government", ref.get("government"))
        if words:
            parts.append(words)
        if gov and words not in ("military vessel", "law enforcement vessel"):
            parts.append("government")
        if v.get("flag"):
            parts.append(f"flag {v['flag']}")
        if v.get("length_m"):
            parts.append(f"{float(v['length_m']):.0f} m")
        return ", ".join(parts)

    # -- rows -------------------------------------------------------------------------

    def subject(self, row: Row) -> str:
        """The reader's name of what a row is about ('' when it is about the site itself)."""
        ref = row.get("ref") or {}
        subj = ref.get("subject") or row.get("subject")
        kind = ref.get("subject_kind")
        if kind == "aircraft" and subj:
            return self.aircraft_name(str(subj), row)
        if kind == "vessel" and subj:
            return self.vessel_name(str(subj), row)
        return ""

    def text(self, row: Row) -> str:
        """The row's text as a reader reads it (names instead of codes, no detector type guess)."""
        ref = row.get("ref") or {}
        text = str(row.get("text") or "")
        kind = str(row.get("kind") or "")
        if kind == "imagery.count":
            return self._count_text(row)
        if kind == "analyst.observation":
            code = str(ref.get("class") or "")
            typ = T.lookup(code)
            if typ is not None:
                text = re.sub(rf"\b{re.escape(code)}\b", short_type(code, typ.name) or code, text)
            return text
        subj = ref.get("subject") or row.get("subject")
        if ref.get("subject_kind") == "aircraft" and subj:
            name = self.aircraft_name(str(subj), row)
            reg = (self.aircraft.get(str(subj).lower()) or {}).get("registration")
            if not (reg and reg in text):
                text = re.sub(rf"\b{re.escape(str(subj))}\b", name, text, count=1)
        elif ref.get("subject_kind") == "vessel" and subj:
            name = self.vessel_name(str(subj), row)
            if name not in text:
                # a text that says "MMSI 273…" (the ship had no name when the event was written): the
                # name goes in its place, or nothing when there is still none
                tag = re.compile(rf"\bMMSI {re.escape(str(subj))}\b")
                if name == f"vessel MMSI {subj}" and tag.search(text):
                    pass
                elif tag.search(text):
                    text = tag.sub(f"{name} (MMSI {subj})", text, count=1)
                else:
                    text = re.sub(rf"\b{re.escape(str(subj))}\b", f"{name} (MMSI {subj})", text, count=1)
        return text

    def measured(self, det_ids: Iterable[str]) -> list[float]:
        return sorted(self.sizes[d] for d in det_ids if d in self.sizes)

    def named_type(self, det_ids: Iterable[str]) -> str | None:
        """The type every one of these detections' measured size names, or ``None``."""
        types = {self.named.get(d) for d in det_ids}
        if len(types) != 1 or None in types:
            return None
        return short_type(types.pop())

    def what(self, cls: str, n: int, det_ids: Iterable[str]) -> str:
        """``2 × what``: the type the size names, else the size class in words when all the
        boxes share one, else the class ("aircraft")."""
        ids = list(det_ids)
        typ = self.named_type(ids) if n else None
        if typ:
            return f"{class_words(cls, n)} ({typ} by measured size)"
        words = {self.size_words.get(d) for d in ids}
        if n and len(words) == 1 and None not in words:
            return str(words.pop())
        return class_words(cls, n)

    def _count_text(self, row: Row) -> str:
        ref = row.get("ref") or {}
        n = int(row.get("value") or 0)
        cls = str(ref.get("class") or "object")
        zone = ref.get("zone")
        where = f"zone {zone}" if zone else "the site"
        lengths = self.measured(ref.get("det_ids") or [])
        size = ""
        if lengths:
            lo, hi = lengths[0], lengths[-1]
            rng = f"{lo:.0f} m" if round(lo) == round(hi) else f"{lo:.0f}–{hi:.0f} m"
            part = "" if len(lengths) >= n else f" ({len(lengths)} of them measured)"
            size = f", measured {rng} long{part}"
        gsd = ref.get("gsd_m")
        gsd_text = f"{float(gsd):.2f} m GSD" if gsd is not None else "unknown GSD"
        what = self.what(cls, n, ref.get("det_ids") or [])
        text = (f"{n} × {what} in {where}{size}; scene {str(ref.get('scene_id') or '')[:12]} "
                f"({row.get('provider') or 'unknown provider'}, {gsd_text})")
        if ref.get("resolvable") is False:
            text += "; below the reliable size at this GSD"
        return text


class _NoType:
    heavy_transport = False
