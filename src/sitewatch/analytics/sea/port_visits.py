"""``port-visit`` events: when a vessel arrived at and left a port, Global Fishing Watch style.

Ports are (a) every watched site of kind ``port`` (its point is the anchorage; events
carry ``site``), (b) every other watched site, whatever its kind (``airbase``, ``depot``,
``other``): a vessel that stops in its watch area visits it — each such site is its own
anchor layer, with the entry radius widened to reach the whole area (exit 1 km beyond),
and only visits whose mean position lies in the area are kept — and (c) every port of the
bundled World Port Index (``site`` is the watched site whose area holds the port, else the
one whose area holds the visit, else NULL). The method follows GFW's port events
(GFW technical documentation, "Anchorages, voyages and port visits",
https://globalfishingwatch.github.io/GFW_technical_documentation/Anchorages-and-voyages.html):

* PORT ENTRY: a vessel not in port comes within ``entry_km`` (3 km) of a port point;
* PORT EXIT: a vessel in port goes beyond ``exit_km`` (4 km) of every port point
  (between 3 and 4 km the state does not change: hysteresis);
* PORT STOP: speed below ``stop_kt`` (0.2 kn); it ends when speed exceeds ``move_kt`` (0.5 kn);
* PORT GAP: an AIS gap of more than ``port_gap_h`` (4 h) while in port; it counts as
  part of the stay (the visit is not split). Our addition: a silence longer than
  ``max_port_gap_h`` (240 h) is a hole in the data, not a stay; it ends the visit
  (departure unobserved) and the next position starts a new one (arrival unobserved).

Confidence levels are GFW's (``compute_confidence`` in GlobalFishingWatch/pipe-anchorages,
``pipe_anchorages/transforms/create_port_visits.py``):

* 4: (stop or gap) and entry and exit;
* 3: (stop or gap) and (entry or exit);
* 2: stop or gap only (the track starts and ends in port);
* 1: entry and/or exit only (passed through without stopping).

``details.confidence_level`` holds the level; ``confidence`` is level / 4. Visits below
``min_confidence`` (default 2, i.e. passages are dropped) are not emitted. ``t_start`` is
the arrival (first in-port position), ``t_end`` the departure (the first position beyond
the exit radius) when it was observed, else the last in-port position, with
``departure_observed: false``. Speeds come from ``speed_kt`` or, where the feed has none
(tracktable ``.traj``), from the implied speed between consecutive positions.

Two engines compute the same visits (``[settings.sea] engine``): ``numpy`` (default, one
sorted pass: :mod:`._scan`) and ``sql`` (DuckDB window functions:
:func:`sitewatch.store.positions_sea.port_visit_rows`, the reference for a Spark port).

A WPI visit that overlaps in time a visit of the same vessel to a watched site whose
point is within ``site_merge_km`` of the WPI port is dropped: the site's event says it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from sitewatch import geo
from sitewatch.analytics.base import AnalysisContext, event_id, events_table, position_ref, register_analysis
from sitewatch.analytics.sea import _common as C
from sitewatch.analytics.sea import _scan
from sitewatch.sites import Site
from sitewatch.store import positions_sea

ANALYSIS = "sea.port-visits"
DEFAULTS = {
    "entry_km": 3.0, "exit_km": 4.0, "stop_kt": 0.2, "move_kt": 0.5, "port_gap_h": 4.0, "max_port_gap_h": 240.0,
    "min_confidence": 2, "site_merge_km": 10.0,
}


def confidence_level(has_entry: bool, has_exit: bool, has_stop: bool, has_gap: bool) -> int:
    """GFW's port-visit confidence (see the module docstring)."""
    stay = has_stop or has_gap
    if stay and has_entry and has_exit:
        return 4
    if stay and (has_entry or has_exit):
        return 3
    if stay:
        return 2
    return 1


def visits(ctx: AnalysisContext, anchor_lat: np.ndarray, anchor_lon: np.ndarray,
           p: dict[str, float]) -> list[dict[str, Any]]:
    """Visits to one set of anchors as dicts (one per visit, all confidence levels)."""
    return visits_by_layer(ctx, [(anchor_lat, anchor_lon)], p)[0]


def visits_by_layer(ctx: AnalysisContext, layers: list[tuple[np.ndarray, np.ndarray]],
                    p: dict[str, float], radii: list[tuple[float, float]] | None = None
                    ) -> list[list[dict[str, Any]]]:
    """Visits to each set of anchors (each is its own state machine), one pass over the data.

    Anchors at identical coordinates (the WPI lists a few ports twice) are merged into the
    first of them, so ties never make the result depend on the engine. ``radii``: (entry,
    exit) in metres per layer, by default ``entry_km``/``exit_km`` for all.
    """
    firsts, uniq = [], []
    for la, lo in layers:
        pts = np.column_stack([np.asarray(la, float), np.asarray(lo, float)])
        _, first_idx = np.unique(pts, axis=0, return_index=True)
        first_idx = np.sort(first_idx)
        firsts.append(first_idx)
        uniq.append((pts[first_idx, 0], pts[first_idx, 1]))
    radii = radii or [(p["entry_km"] * 1000, p["exit_km"] * 1000)] * len(layers)
    if C.engine(ctx) == "sql":
        out = []
        for (la, lo), (r_in, r_out) in zip(uniq, radii, strict=True):
            tbl = positions_sea.port_visit_rows(ctx.store, la, lo, r_in, r_out, p["stop_kt"], p["move_kt"],
                                              p["port_gap_h"] * 3600, p["max_port_gap_h"] * 3600, ctx.t_from,
                                              ctx.t_to)
            out.append(tbl.to_pylist() if tbl.num_rows else [])
    else:
        out = _scan.visit_rows(ctx.store, uniq, p["entry_km"] * 1000, p["exit_km"] * 1000, p["stop_kt"],
                               p["move_kt"], p["port_gap_h"] * 3600, p["max_port_gap_h"] * 3600, ctx.t_from,
                               ctx.t_to, radii=radii)
    for rows, first_idx in zip(out, firsts, strict=True):
        for r in rows:
            r["has_exit"] = r["exit_t"] is not None
            r["has_stop"] = r["n_stopped"] > 0
            r["has_gap"] = r["n_gaps"] > 0
            r["level"] = confidence_level(bool(r["has_entry"]), r["has_exit"], r["has_stop"], r["has_gap"])
            r["entry_anchor"] = int(first_idx[r["entry_anchor"]])
            if r["stop_anchor"] is not None:
                r["stop_anchor"] = int(first_idx[r["stop_anchor"]])
            r["anchor"] = r["stop_anchor"] if r["stop_anchor"] is not None else r["entry_anchor"]
    return out


@register_analysis(ANALYSIS, order=40, kinds=("port-visit",))
def port_visits(ctx: AnalysisContext) -> pa.Table:
    """Port visits (GFW method, confidence 1-4) at watched ports and World Port Index ports."""
    from sitewatch.reference import ports

    p = C.params(ctx, "port_visit", DEFAULTS)
    sites = C.port_sites(ctx)
    others = [s for _, s in sorted(ctx.sites.items()) if s.kind != "port"]
    labels, plat, plon = ports.arrays()
    default = (p["entry_km"] * 1000, p["exit_km"] * 1000)
    site_rows, wpi_rows, *other_rows = visits_by_layer(
        ctx, [(np.array([s.lat for s in sites]), np.array([s.lon for s in sites])), (plat, plon),
              *((np.array([s.lat]), np.array([s.lon])) for s in others)],
        p, [default, default, *(_area_radii(s, p) for s in others)])
    # visits to the watched sites, as (site, row); a site of another kind only where it holds the stay
    at_sites = [(sites[r["anchor"]], r) for r in site_rows if r["level"] >= p["min_confidence"]]
    at_sites += [(s, r) for s, rows in zip(others, other_rows, strict=True) for r in rows
                 if r["level"] >= p["min_confidence"] and bool(s.contains(r["lat"], r["lon"]))]
    info = C.vessel_labels(ctx, [r["id"] for r in [*site_rows, *wpi_rows, *(x for rows in other_rows for x in rows)]])
    events = [_event(r, s.label or s.name, s.name, "site", p, info) for s, r in at_sites]
    by_vessel: dict[str, list[tuple[Site, dict[str, Any]]]] = {}  # to drop WPI duplicates of the same stay
    for s, r in at_sites:
        by_vessel.setdefault(r["id"], []).append((s, r))
    for r in wpi_rows:
        if r["level"] < p["min_confidence"] or _site_says_it(r, by_vessel.get(r["id"], []), plat, plon, p):
            continue
        a = r["anchor"]
        site = C.site_at(ctx.sites.values(), float(plat[a]), float(plon[a])) or \
            C.site_at(ctx.sites.values(), r["lat"], r["lon"])
        events.append(_event(r, str(labels[a]), site, "wpi", p, info))
    return events_table(events, ANALYSIS)


def _area_radii(site: Site, p: dict[str, float]) -> tuple[float, float]:
    """(entry, exit) radii in metres around a site's point that reach its whole watch area."""
    xy = shapely.get_coordinates(site.area)
    reach = float(np.max(geo.haversine_m(site.lat, site.lon, xy[:, 1], xy[:, 0]))) if len(xy) else 0.0
    entry = max(p["entry_km"] * 1000, reach)
    return entry, entry + (p["exit_km"] - p["entry_km"]) * 1000


def _site_says_it(r: dict[str, Any], same_vessel: list[tuple[Site, dict[str, Any]]], plat: np.ndarray,
                  plon: np.ndarray, p: dict[str, float]) -> bool:
    """Whether a WPI visit is the same stay as one of the vessel's visits to a watched site nearby."""
    a = r["anchor"]
    t1 = r["exit_t"] or r["t_last"]
    return any(v["t_first"] <= t1 and r["t_first"] <= (v["exit_t"] or v["t_last"])
               and float(geo.haversine_m(s.lat, s.lon, plat[a], plon[a])) <= p["site_merge_km"] * 1000
               for s, v in same_vessel)


def _event(r: dict[str, Any], port: str, site: str | None, layer: str, p: dict[str, float],
           info: dict[str, dict[str, Any]]) -> dict[str, Any]:
    t0 = r["t_first"]
    t1 = r["exit_t"] if r["has_exit"] else r["t_last"]
    stay = ", ".join(x for x, ok in (("stopped", r["has_stop"]), (f"{r['n_gaps']} AIS gap(s) in port", r["has_gap"]))
                     if ok) or "no stop"
    arr = C.hhmm(t0) if r["has_entry"] else f"before {C.hhmm(t0)} (in port when first seen)"
    dep = C.hhmm(t1) if r["has_exit"] else f"after {C.hhmm(t1)} (in port when last seen)"
    details = {
        "vessel": info.get(r["id"]),
        "port": port, "layer": layer, "arrival": t0, "departure": t1,
        "arrival_observed": bool(r["has_entry"]), "departure_observed": r["has_exit"],
        "duration_h": C.hours((t1 - t0).total_seconds()), "confidence_level": r["level"],
        "gfw_events": [n for n, ok in (("entry", r["has_entry"]), ("stop", r["has_stop"]),
                                       ("gap", r["has_gap"]), ("exit", r["has_exit"])) if ok],
        "first_stop": r["stop_t"], "stopped_positions": r["n_stopped"], "stopped_h": C.hours(r["stopped_s"]),
        "port_gaps": r["n_gaps"],
        "port_gap_h": C.hours(r["gap_s"]), "positions": r["n_pos"], "min_dist_m": round(r["min_d_m"], 1),
        "exit_lat": r["exit_lat"], "exit_lon": r["exit_lon"],
        "params": {k: p[k] for k in ("entry_km", "exit_km", "stop_kt", "move_kt", "port_gap_h", "max_port_gap_h")},
    }
    return {
        "event_id": event_id("port-visit", r["id"], t0, ANALYSIS, f"{layer}:{port}"),
        "kind": "port-visit", "site": site, "t_start": t0, "t_end": t1, "subject": r["id"],
        "subject_kind": "vessel", "confidence": r["level"] / 4.0, "lat": r["lat"], "lon": r["lon"],
        "details": details,
        "evidence": [position_ref("ais", r["id"], t0, t1, role="visit")],
        "summary": f"{C.who(r['id'], info)} at {port}: arrived {arr}, left {dep}; {stay} "
                   f"(GFW confidence {r['level']}).",
    }
