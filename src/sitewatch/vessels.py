"""Vessel identity: AIS static reports merged per MMSI, flag state, government markers, watchlist.

:func:`refresh` rebuilds the ``vessels`` table from ``vessel_reports`` (the latest non-null
value of each static field: name, call sign, IMO, ship type, length, beam, draught,
destination) and every MMSI seen in AIS positions, then sets:

* ``flag``: ISO alpha-2 of the MMSI's MID (:mod:`sitewatch.reference.mid`), ``station``
  the kind of station its form denotes (ship, coast-station, sar-aircraft …);
* ``government`` with ``gov_reason`` when any of these holds (all are listed):

  - ship type 35 "military operations" or 55 "law enforcement" (ITU-R M.1371 table 53);
  - an MMSI block of government ships (:data:`GOV_MMSI_BLOCKS`, each with its evidence);
  - a SAR aircraft MMSI (``111MIDxxx``, ITU-R M.585);
  - a name with a naval or government prefix (:data:`GOV_NAME_PREFIXES`) — a heuristic,
    reported as such, and only for ship types a warship or patrol boat may report (unknown,
    0, 35, 55, 90–99): a tug called "HMS LIBERTY" (type 31) is not marked;

* ``watch``: on the user's watchlist, kept in ``sitewatch.toml`` under
  ``[settings.ais] watch = [...]``: 1–9 digits match an MMSI, anything else a ship name
  (case and repeated blanks ignored; ``*`` and ``?`` are wildcards).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from sitewatch.errors import InputError
from sitewatch.reference.mid import flag, station
from sitewatch.store.db import Store
from sitewatch.store.vessels import latest_static, replace_vessels
from sitewatch.workspace import Workspace

GOV_SHIP_TYPES = {35: "ship type 35 (military operations)", 55: "ship type 55 (law enforcement)"}
# (MMSI prefix, why): only blocks whose use we can show on public data
GOV_MMSI_BLOCKS: tuple[tuple[str, str], ...] = (
    ("3699", "US federal ship block 3699xxxxx (US Navy / Military Sealift Command units, e.g. at "
             "Naval Station Norfolk in MarineCadastre 2020 data)"),
    ("366999", "US Coast Guard block 366999xxx (e.g. CG SHRIKE 366999618, CG HAWSER 366999973 "
               "in MarineCadastre 2020 data)"),
)
NAME_HEURISTIC_TYPES = frozenset({0, 35, 55, *range(90, 100)})
GOV_NAME_PREFIXES = ("USS ", "USNS ", "USCGC ", "USCG ", "CG ", "HMS ", "HMCS ", "HMAS ", "HMNZS ",
                     "WARSHIP", "NAVY ", "COAST GUARD", "COASTGUARD", "POLICE ")


def government_reason(mmsi: str, ship_type: int | None, name: str | None) -> str | None:
    """Why ``mmsi`` looks like a government vessel ('; '-joined), or ``None``."""
    why: list[str] = []
    if ship_type in GOV_SHIP_TYPES:
        why.append(GOV_SHIP_TYPES[ship_type])
    for prefix, reason in GOV_MMSI_BLOCKS:
        if mmsi.startswith(prefix):
            why.append(reason)
    if station(mmsi)[0] == "sar-aircraft":
        why.append("SAR aircraft MMSI (111MIDxxx)")
    up = _norm_name(name or "") + " "
    hit = next((p for p in GOV_NAME_PREFIXES if up.startswith(p)), None)
    if hit and (ship_type is None or ship_type in NAME_HEURISTIC_TYPES):
        why.append(f"name starts with {hit.strip()!r} (heuristic)")
    return "; ".join(why) or None


def _norm_name(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip().upper())


def parse_watch(entry: str) -> tuple[str, str]:
    """('mmsi', 9-digit text) or ('name', normalised pattern) for a watchlist entry."""
    e = entry.strip()
    if not e:
        raise InputError("empty watchlist entry; give an MMSI (digits) or a ship name")
    if e.isdigit():
        if len(e) > 9:
            raise InputError(f"{e!r} has {len(e)} digits; an MMSI has at most 9")
        return "mmsi", e.zfill(9)
    return "name", _norm_name(e)


def on_watch(mmsi: str, name: str | None, watch: Sequence[str]) -> bool:
    up = _norm_name(name or "")
    for entry in watch:
        kind, value = parse_watch(entry)
        if kind == "mmsi" and value == mmsi:
            return True
        if kind == "name" and up and fnmatch.fnmatchcase(up, value):
            return True
    return False


def watchlist(ws: Workspace) -> list[str]:
    """The workspace's watchlist entries (``[settings.ais] watch``)."""
    return list(ws.setting("ais.watch", []) or [])


def set_watchlist(ws: Workspace, entries: Sequence[str]) -> None:
    for e in entries:
        parse_watch(e)  # validates
    ws.settings.setdefault("ais", {})["watch"] = list(dict.fromkeys(entries))
    ws.save()


def identity_rows(latest: pa.Table, watch: Sequence[str]) -> pa.Table:
    """``vessels`` rows from :func:`latest_static` output plus flag, station, markers and watch."""
    rows: list[dict[str, Any]] = latest.to_pylist()
    for r in rows:
        m = r["mmsi"]
        r["flag"] = flag(m)
        r["station"] = station(m)[0]
        r["gov_reason"] = government_reason(m, r["ship_type"], r["name"])
        r["government"] = r["gov_reason"] is not None
        r["watch"] = on_watch(m, r["name"], watch)
    if not rows:
        return pa.table({"mmsi": pa.array([], pa.string())})
    return pa.Table.from_pylist(rows)


def refresh(store: Store, watch: Sequence[str] = ()) -> int:
    """Rebuild ``vessels`` from the reports and positions in ``store``; returns its row count."""
    return replace_vessels(store, identity_rows(latest_static(store), watch))


def refresh_workspace(ws: Workspace) -> int:
    """:func:`refresh` with the workspace's watchlist."""
    return refresh(ws.store, watchlist(ws))
