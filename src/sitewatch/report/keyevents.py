"""The key evidence of a report, as a reader names it: a day-by-day digest of the key
events, which aircraft were at the base on which day, and which ships did what.

Contract: every function takes evidence rows (dicts of the ``evidence`` table, ``ref``
decoded), :class:`~sitewatch.report.names.Names` and the key window, and returns plain
objects for the template. Each number or name shown carries the evidence ids it comes
from, so the template footnotes it to the appendix's rows. Nothing here reads the store.

* :func:`key_rows` — the rows the digest is made of: those the judgements cite, and in the
  key window the movements of heavy or military aircraft, warships and government vessels,
  dark visits, loitering, analyst reports and imagery counts.
* :func:`digest` — one line per day and sensor (ADS-B movements grouped by type with the
  registrations, a scene's counts by class and measured size, analysts' reports).
* :func:`presence` — a grid of airframes × days: landed, took off, on the ground between,
  went dark; with the imagery and analysts' aircraft counts as extra rows.
* :func:`ships` — each named vessel of the key rows: class, flag, what it did, when.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sitewatch.report.names import Names, class_words, short_type

Row = Mapping[str, Any]

AIR_MOVES = ("air.arrival", "air.departure")
KEY_KINDS = ("air.dark-visit", "air.dark-gap", "sea.loitering", "sea.vessel-departure", "sea.port-visit",
             "sea.encounter", "analyst.observation", "imagery.count")
AIRCRAFT_CLASSES = ("plane", "helicopter", "heavy-transport")


def _day(t: datetime) -> date:
    return t.astimezone(UTC).date()


def day_label(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b}"


def _hm(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%H:%M")


def key_rows(rows: Sequence[Row], cited: set[str], key_from: datetime, as_of: datetime) -> list[Row]:
    """Cited rows (any time) and, in [key_from, as_of), the rows of key kinds (see module)."""
    out = []
    for r in rows:
        kind = str(r["kind"])
        if kind.endswith(".coverage") or kind in ("imagery.scene", "imagery.limit"):
            continue
        if r["evidence_id"] in cited:
            out.append(r)
            continue
        if not (key_from <= r["t_start"] < as_of):
            continue
        ref = r.get("ref") or {}
        air = kind in AIR_MOVES and bool(ref.get("heavy") or ref.get("military"))
        other = kind in KEY_KINDS and (not kind.startswith("sea.") or bool(ref.get("government"))
                                       or kind == "sea.loitering")
        if air or other:
            out.append(r)
    return sorted(out, key=lambda r: (r["t_start"], r["kind"], r["evidence_id"]))


@dataclass
class Line:
    sensor: str  # ADS-B | AIS | imagery | analysts
    text: str
    evidence: list[str]
    source: str = ""  # who reported it (analysts)


@dataclass
class DayEntry:
    day: date
    label: str
    lines: list[Line] = field(default_factory=list)


def digest(rows: Sequence[Row], names: Names) -> list[DayEntry]:
    """One entry per day with key rows; lines grouped per sensor (see module)."""
    days: dict[date, list[Row]] = {}
    for r in rows:
        days.setdefault(_day(r["t_start"]), []).append(r)
    out = []
    for d in sorted(days):
        e = DayEntry(d, day_label(d))
        e.lines += _air_lines(days[d], names)
        e.lines += _scene_lines(days[d], names)
        for r in days[d]:
            kind = str(r["kind"])
            if kind in AIR_MOVES or kind == "imagery.count":
                continue
            if kind == "air.dark-gap" and any(x["kind"] == "air.dark-visit" for x in days[d]):
                continue  # the dark visit says it, with the gap
            sensor = {"adsb": "ADS-B", "ais": "AIS", "analyst": "analysts", "imagery": "imagery"}.get(
                str(r["sensor"]), str(r["sensor"]))
            who = str(r.get("provider") or "") if kind == "analyst.observation" else ""
            e.lines.append(Line(sensor, f"{_hm(r['t_start'])} {names.text(r)}", [str(r["evidence_id"])], who))
        if e.lines:
            out.append(e)
    return out


def _air_lines(rows: Iterable[Row], names: Names) -> list[Line]:
    by_type: dict[str, dict[str, list[tuple[str, str]]]] = {}
    ids: dict[str, list[str]] = {}
    for r in rows:
        if r["kind"] not in AIR_MOVES:
            continue
        subj = str((r.get("ref") or {}).get("subject") or r.get("subject") or "")
        typ = names.aircraft_type(subj, r) or "aircraft"
        reg = (names.aircraft.get(subj.lower()) or {}).get("registration") or f"ICAO {subj}"
        verb = "landed" if r["kind"] == "air.arrival" else "took off"
        by_type.setdefault(typ, {}).setdefault(verb, []).append((reg, _hm(r["t_start"])))
        ids.setdefault(typ, []).append(str(r["evidence_id"]))
    out = []
    for typ in sorted(by_type, key=lambda t: (-sum(len(v) for v in by_type[t].values()), t)):
        parts = []
        for verb in ("landed", "took off"):
            moves = by_type[typ].get(verb, [])
            if len(moves) > 2:  # a shuttle: the airframes, not every time
                regs = list(dict.fromkeys(reg for reg, _ in moves))
                parts.append(f"{len(moves)} {verb} (" + ", ".join(regs) + ")")
            elif moves:
                parts.append(f"{len(moves)} {verb} (" + ", ".join(f"{reg} at {hm}" for reg, hm in moves) + ")")
        out.append(Line("ADS-B", f"{typ}: " + "; ".join(parts), ids[typ]))
    return out


def _scene_lines(rows: Iterable[Row], names: Names) -> list[Line]:
    scenes: dict[str, list[Row]] = {}
    for r in rows:
        if r["kind"] == "imagery.count":
            scenes.setdefault(str((r.get("ref") or {}).get("scene_id")), []).append(r)
    out = []
    for sid, rs in scenes.items():
        t = min(r["t_start"] for r in rs)
        by_cls: dict[str, list[Row]] = {}
        for r in rs:
            by_cls.setdefault(str(r["ref"].get("class")), []).append(r)
        parts = []
        for cls in sorted(by_cls, key=lambda c: (c not in AIRCRAFT_CLASSES, c)):
            n = int(sum(float(r.get("value") or 0) for r in by_cls[cls]))
            if n == 0 and cls != "plane":
                continue
            lengths = names.measured(d for r in by_cls[cls] for d in (r["ref"].get("det_ids") or []))
            size = ""
            if n and lengths and cls in ("plane", "helicopter", "ship"):
                lo, hi = lengths[0], lengths[-1]
                size = f" ({lo:.0f} m long)" if round(lo) == round(hi) else f" ({lo:.0f}–{hi:.0f} m long)"
            parts.append(f"{n} {class_words(cls, n)}{size}" if n else f"no {class_words(cls)}")
        if not parts:
            continue
        prov = rs[0].get("provider") or "unknown provider"
        out.append(Line("imagery", f"{_hm(t)} scene {sid[:12]} ({prov}): " + ", ".join(parts),
                        [str(r["evidence_id"]) for r in rs]))
    return out


# -- presence grid -----------------------------------------------------------------------

@dataclass
class Cell:
    symbol: str = ""
    title: str = ""
    evidence: list[str] = field(default_factory=list)
    state: str = ""  # css class: arr | dep | ground | dark | count | none


@dataclass
class GridRow:
    name: str
    note: str
    cells: list[Cell]
    heavy: bool = False

    @property
    def evidence(self) -> list[str]:
        return [i for c in self.cells for i in c.evidence]


def _grid_evidence(rows: Sequence[GridRow]) -> list[str]:
    return [i for g in rows for i in g.evidence]


@dataclass
class Grid:
    days: list[date]
    rows: list[GridRow]

    @property
    def evidence(self) -> list[str]:
        return _grid_evidence(self.rows)

    @property
    def labels(self) -> list[tuple[str, str]]:
        return [(f"{d:%a}"[:2], f"{d.day}") for d in self.days]


def presence(rows: Sequence[Row], names: Names, key_from: datetime, as_of: datetime,
             all_rows: Sequence[Row] = ()) -> Grid:
    """Airframes × days of the key window (see module); ``all_rows`` give the arrivals before
    the window that make an airframe on the ground at its start."""
    d0, d1 = _day(key_from), _day(as_of - timedelta(microseconds=1))
    days = [d0 + timedelta(days=i) for i in range((d1 - d0).days + 1)]
    idx = {d: i for i, d in enumerate(days)}
    moves: dict[str, list[Row]] = {}
    for r in rows:
        if r["kind"] in (*AIR_MOVES, "air.dark-visit"):
            subj = str((r.get("ref") or {}).get("subject") or r.get("subject") or "")
            if subj:
                moves.setdefault(subj, []).append(r)
    before: dict[str, Row] = {}
    for r in all_rows:  # last movement before the window: on the ground at its start?
        subj = str((r.get("ref") or {}).get("subject") or "")
        if subj in moves and r["kind"] in AIR_MOVES and r["t_start"] < key_from and (
                subj not in before or r["t_start"] > before[subj]["t_start"]):
            before[subj] = r
    grid_rows = []
    for subj, rs in moves.items():
        rs = sorted(rs, key=lambda r: r["t_start"])
        cells = [Cell() for _ in days]
        on_ground_from: int | None = -1 if subj in before and before[subj]["kind"] == "air.arrival" else None
        for r in rs:
            i = idx.get(_day(r["t_start"]))
            if i is None:
                continue
            c = cells[i]
            c.evidence.append(str(r["evidence_id"]))
            hm = _hm(r["t_start"])
            if r["kind"] == "air.arrival":
                c.symbol += "▼"
                c.title += f"landed {hm}; "
                c.state = c.state or "arr"
                on_ground_from = i
            elif r["kind"] == "air.departure":
                c.symbol += "▲"
                c.title += f"took off {hm}; "
                c.state = "dep" if c.state in ("", "ground") else c.state
                if on_ground_from is not None:
                    for j in range(on_ground_from + 1, i):
                        if not cells[j].symbol:
                            cells[j].symbol, cells[j].state, cells[j].title = "■", "ground", "on the ground"
                on_ground_from = None
            else:
                c.symbol += "◆"
                c.title += f"went dark nearby; inferred landing {hm}; "
                c.state = "dark"
        if on_ground_from is not None:  # still on the ground at the as-of
            for j in range(on_ground_from + 1, len(days)):
                if not cells[j].symbol:
                    cells[j].symbol, cells[j].state, cells[j].title = "■", "ground", "on the ground (no take-off seen)"
        a = names.airframe(subj, rs[0])
        op = names.aircraft_operator(subj)
        note = ", ".join(x for x in (op or "", "military" if a.get("military") else "") if x)
        grid_rows.append(GridRow(names.aircraft_name(subj, rs[0]), note, cells, bool(a.get("heavy"))))
    grid_rows.sort(key=lambda g: (not g.heavy, g.name))
    grid_rows += _count_rows(rows, names, days, idx)
    return Grid(days, grid_rows)


def _count_rows(rows: Sequence[Row], names: Names, days: list[date], idx: Mapping[date, int]) -> list[GridRow]:
    """Aircraft counted on imagery and reported by analysts, per day, as extra grid rows."""
    img = [Cell() for _ in days]
    ana: dict[str, list[Cell]] = {}
    for r in rows:
        ref = r.get("ref") or {}
        i = idx.get(_day(r["t_start"]))
        if i is None:
            continue
        if r["kind"] == "imagery.count" and ref.get("class") in ("plane", "helicopter"):
            c = img[i]
            n = int(float(c.symbol or 0) + float(r.get("value") or 0))
            c.symbol, c.state = str(n), "count"
            c.evidence.append(str(r["evidence_id"]))
            lengths = names.measured(ref.get("det_ids") or [])
            if lengths:
                c.title += f"{len(lengths)} measured {lengths[0]:.0f}–{lengths[-1]:.0f} m; "
        elif r["kind"] == "analyst.observation" and r.get("value") is not None:
            cls = str(ref.get("class") or "")
            typ = short_type(cls) if cls not in ("large-vehicle", "small-vehicle", "ship") else None
            if typ is None and cls != "heavy-transport":
                continue
            label = typ if cls != "heavy-transport" else "heavy transports"
            cells = ana.setdefault(str(label), [Cell() for _ in days])
            c = cells[i]
            c.symbol, c.state = f"{float(r['value']):g}", "count"
            c.title += f"{r['text']}; "
            c.evidence.append(str(r["evidence_id"]))
    out = []
    if any(c.symbol for c in img):
        out.append(GridRow("aircraft on imagery", "count on the scene", img))
    for label, cells in sorted(ana.items()):
        out.append(GridRow(f"{label} reported", "analysts' count", cells))
    return out


# -- ships -----------------------------------------------------------------------------

@dataclass
class ShipEntry:
    name: str
    cls: str
    mmsi: str
    what: list[Line]


def ships(rows: Sequence[Row], names: Names) -> list[ShipEntry]:
    """Each vessel of the key rows with what it did (one line per row, time order)."""
    by: dict[str, list[Row]] = {}
    for r in rows:
        ref = r.get("ref") or {}
        if ref.get("subject_kind") == "vessel" and ref.get("subject"):
            by.setdefault(str(ref["subject"]), []).append(r)
    out = []
    for mmsi, rs in by.items():
        name = names.vessel_name(mmsi, rs[0])
        lines = [Line("AIS", f"{day_label(_day(r['t_start']))} {_hm(r['t_start'])}: {_without_name(names.text(r), name)}",
                      [str(r["evidence_id"])]) for r in sorted(rs, key=lambda r: r["t_start"])]
        out.append(ShipEntry(name, names.vessel_class(mmsi, rs[0]), mmsi, lines))
    out.sort(key=lambda s: (not ("military" in s.cls or "government" in s.cls), s.name))
    return out


def _without_name(text: str, name: str) -> str:
    """``NAME (MMSI …, government) loitered …`` → ``loitered …`` (the table names the ship)."""
    if not text.startswith(name):
        return text
    rest = text[len(name):].lstrip()
    if rest.startswith("("):
        close = rest.find(")")
        rest = rest[close + 1:].lstrip() if close >= 0 else rest
    return rest or text
