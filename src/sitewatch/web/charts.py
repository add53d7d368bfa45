"""Which indicator charts the dashboard draws, and in what order: what drives the judgement first.

The leading assessment's body names what it rests on: its ``contributions`` (one per
indicator item, with the series read and its log-odds) and the rows of its ACH matrix (items,
diagnostic first). :func:`plan` ranks the site's series by that: series cited by the judgement,
then series of the other items in the matrix, then every other series with a non-zero observed
day; series that are zero or unobserved on every day are *quiet* (listed, not drawn: a flat
line on an empty axis says nothing an editor can quote).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# the series each item reads (fusion/items.py) where the name differs; key-event items read events
# rather than one series: these are the series that show the same events day by day
KEY_EVENT_SERIES: dict[str, tuple[str, ...]] = {
    "airlift": ("heavy_departures", "heavy_arrivals"),  # one item read from two series
    "military_flying": ("military_movements",),
    "ships_in_port": ("ships_at_quay",),
    "dark_transport": ("dark_visits", "heavy_arrivals"),
    "navy_offshore": ("vessel_departures", "loitering"),
    "navy_nearby": ("loitering",),
    "staging": ("vehicles", "heavy_arrivals"),
    "passenger_sailings": ("passenger_departures", "passenger_newcomers"),
    "sealift": ("naval_calls",),
    "vessel_departures": ("other_departures", "vessel_departures"),
}
WORDS = {"CC": "strongly consistent with", "C": "consistent with", "N": "neutral to",
         "I": "inconsistent with", "II": "strongly inconsistent with"}


def body_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The decoded JSON body of an assessments row (empty when absent or unreadable)."""
    b = row.get("body")
    if isinstance(b, str):
        try:
            b = json.loads(b)
        except ValueError:
            return {}
    return b if isinstance(b, dict) else {}


def _item_series(bodies: Iterable[Mapping[str, Any]], names: set[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for b in bodies:
        for c in b.get("contributions") or []:
            s = c.get("series")
            if c.get("indicator") and s in names:
                out.setdefault(str(c["indicator"]), [])
                if s not in out[c["indicator"]]:
                    out[c["indicator"]].append(str(s))
    for item, series in KEY_EVENT_SERIES.items():
        out.setdefault(item, [])
        out[item] += [s for s in series if s in names and s not in out[item]]
    for n in names:
        out.setdefault(n, [n])
    return out


def _cited(lead: Mapping[str, Any], names: set[str]) -> list[tuple[str, float, str]]:
    """(series, weight, item) of the leading judgement's contributions, heaviest first."""
    rows = []
    for c in lead.get("contributions") or []:
        if c.get("series") in names:
            w = abs(float(c.get("log_odds") or 0.0)) * float(c.get("weight") or 1.0)
            rows.append((str(c["series"]), w, str(c.get("indicator") or c["series"])))
    rows.sort(key=lambda r: -r[1])
    return rows


def _why(item: str, ach_rows: Mapping[str, Mapping[str, Any]], lead: str) -> str:
    row = ach_rows.get(item)
    if row is None:
        return ""
    cell = (row.get("cells") or {}).get(lead) or {}
    words = WORDS.get(str(cell.get("consistency")), "")
    reading = f"{row.get('label') or item}: {row.get('state')}"
    return f"{reading}, {words} {lead}" if words and lead else reading


def _observed(s: Mapping[str, Any]) -> list[float]:
    return [float(p["value"]) for p in s.get("points") or [] if p.get("value") is not None]


def plan(series: Sequence[dict[str, Any]], assessment: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``series`` in chart order, each given ``rank`` (0 first), ``group`` (``cited`` — the
    leading judgement rests on it —, ``matrix`` — another item of the ACH matrix —, ``other``
    or ``quiet``), ``chart`` (draw it?) and ``why`` (the item's reading and how it bears on the
    leading hypothesis)."""
    names = {str(s["name"]) for s in series}
    bodies = [body_of(r) for r in assessment]
    lead = bodies[0] if bodies else {}
    lead_h = str(assessment[0].get("hypothesis") or "") if assessment else ""
    ach = lead.get("ach") or {}
    ach_rows = {str(r.get("item")): r for r in ach.get("rows") or []}
    by_item = _item_series(bodies, names)
    group: dict[str, str] = {}
    why: dict[str, str] = {}
    order: list[str] = []

    def take(name: str, g: str, item: str) -> None:
        if name in names and name not in group:
            group[name] = g
            why[name] = _why(item, ach_rows, lead_h)
            order.append(name)

    for name, _, item in _cited(lead, names):
        take(name, "cited", item)
    for item in ach_rows:
        for name in by_item.get(item, []):
            take(name, "matrix", item)
    rest = sorted((s for s in series if s["name"] not in group), key=lambda s: -abs(float(s.get("score") or 0.0)))
    for s in rest:
        vals = _observed(s)
        g = "other" if vals and any(v != 0 for v in vals) else "quiet"
        group[s["name"]], why[s["name"]] = g, ""
        order.append(s["name"])
    by_name = {s["name"]: s for s in series}
    out = []
    for rank, name in enumerate(sorted(order, key=lambda n: ("cited", "matrix", "other", "quiet").index(group[n]))):
        s = dict(by_name[name])
        vals = _observed(s)
        s.update(rank=rank, group=group[name], why=why[name],
                 chart=bool(vals) and (group[name] != "quiet"),
                 observed_days=len(vals), max_value=max(vals) if vals else None)
        out.append(s)
    return out
