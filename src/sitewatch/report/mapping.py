"""What the report's map draws: the key tracks, gaps and dark-visit links, each labelled.

Contract: :func:`key_layers` turns the events behind the cited evidence rows into
:class:`~sitewatch.report.svgmap.MapLayer` items: the track of each key aircraft or vessel
over the period (thinned), the transponder gap and the inferred dark-visit link of a dark
visit, a marker for each key event with a position away from the site, and a label naming
the subject as a reader does (type and registration, ship name). :func:`map_layers` is the
same over a list of events, without names (kept for callers that have only events).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sitewatch.fusion import evidence as EV
from sitewatch.report import svgmap
from sitewatch.report.names import Names
from sitewatch.store import positions as POS
from sitewatch.store.db import Store

MAX_TRACK_SUBJECTS = 24
TRACK_POINTS = 300


def _t(v: datetime) -> str:
    return v.astimezone(UTC).strftime("%a %d %b %H:%MZ")


def _tracks(store: Store, subjects: Sequence[tuple[str, str]], t_from: datetime,
            t_to: datetime) -> dict[str, list[tuple[datetime, float, float]]]:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    refs = pa.table({"key": pa.array([f"{s}|{i}" for s, i in subjects], pa.string()),
                     "source": pa.array([s for s, _ in subjects], pa.string()),
                     "id": pa.array([i for _, i in subjects], pa.string()),
                     "t_from": pa.array([t_from] * len(subjects), ts),
                     "t_to": pa.array([t_to] * len(subjects), ts)})
    return POS.tracks_for(store, refs, TRACK_POINTS)


def key_layers(store: Store, events: Sequence[Mapping[str, Any]], names: Names, t_from: datetime,
               t_to: datetime, site_lat: float, site_lon: float) -> list[svgmap.MapLayer]:
    """Layers for the key ``events`` (rows of the events table), labelled with ``names``."""
    layers: list[svgmap.MapLayer] = []
    subjects: dict[tuple[str, str], str] = {}
    for e in events:
        if e["subject_kind"] in ("aircraft", "vessel") and e["subject"]:
            src = "adsb" if e["subject_kind"] == "aircraft" else "ais"
            name = (names.aircraft_name(str(e["subject"])) if src == "adsb"
                    else names.vessel_name(str(e["subject"])))
            subjects.setdefault((src, str(e["subject"])), name)
    chosen = list(subjects.items())[:MAX_TRACK_SUBJECTS]
    found = _tracks(store, [k for k, _ in chosen], t_from, t_to) if chosen else {}
    for (src, ident), name in chosen:
        pts = found.get(f"{src}|{ident}", [])
        if len(pts) >= 2:
            layers.append(svgmap.MapLayer("track", src, [(lat, lon) for _, lat, lon in pts], name,
                                          label=name))
    layers += _gaps_and_links(events, names)
    for e in events:
        if e["lat"] is None or e["lon"] is None or e["kind"] in ("arrival", "departure"):
            continue
        if abs(float(e["lat"]) - site_lat) < 0.02 and abs(float(e["lon"]) - site_lon) < 0.02:
            continue  # at the site itself: the site's own marker says it
        layers.append(svgmap.MapLayer("marker", EV.sensor_of_event(e), [(float(e["lat"]), float(e["lon"]))],
                                      f"{_t(e['t_start'])} {_title(e, names)}", {"r": 3.5}))
    return layers


def _title(e: Mapping[str, Any], names: Names | None) -> str:
    """The event's sentence with its subject named (hover text)."""
    text = str(e.get("summary") or e["kind"])
    if names is None:
        return text
    return names.text({"text": text, "kind": e["kind"], "subject": e["subject"],
                       "ref": {"subject": e["subject"], "subject_kind": e["subject_kind"]}})


def _gaps_and_links(events: Sequence[Mapping[str, Any]], names: Names | None) -> list[svgmap.MapLayer]:
    layers: list[svgmap.MapLayer] = []
    gaps = {e["event_id"]: e for e in events if e["kind"] == "dark-gap"}
    for e in events:
        d = e["details"] or {}
        who = ""
        if names is not None and e["subject_kind"] == "aircraft" and e["subject"]:
            who = names.aircraft_name(str(e["subject"]))
        if e["kind"] in ("dark-gap", "ais-gap"):
            lost, re = d.get("lost") or d.get("last_before") or {}, d.get("reacquired") or d.get("first_after") or {}
            if lost.get("lat") is not None and re.get("lat") is not None:
                layers.append(svgmap.MapLayer("gap", "adsb" if e["kind"] == "dark-gap" else "ais",
                                              [(lost["lat"], lost["lon"]), (re["lat"], re["lon"])],
                                              _title(e, names)))
        if e["kind"] == "dark-visit" and e["lat"] is not None:
            g = gaps.get(str(d.get("gap_event_id")))
            gd = (g or {}).get("details") or {}
            lost, re = gd.get("lost") or {}, gd.get("reacquired") or {}
            link: list[tuple[float, float]] = [(float(e["lat"]), float(e["lon"]))]
            if lost.get("lat") is not None:
                link.insert(0, (float(lost["lat"]), float(lost["lon"])))
            if re.get("lat") is not None:
                link.append((float(re["lat"]), float(re["lon"])))
            if len(link) >= 2:
                label = f"{who}: dark, inferred landing {e['t_start']:%a %d}" if who else ""
                layers.append(svgmap.MapLayer("link", "adsb", link, _title(e, names), label=label))
    return layers


def map_layers(store: Store, site: Any, events: Sequence[Mapping[str, Any]], t_from: datetime,
               t_to: datetime) -> list[svgmap.MapLayer]:
    """Tracks of the subjects of ``events``, gaps, dark-visit links and event markers (unnamed)."""
    subjects: list[tuple[str, str]] = []
    for e in events:
        if e["subject_kind"] in ("aircraft", "vessel") and e["subject"]:
            k = ("adsb" if e["subject_kind"] == "aircraft" else "ais", str(e["subject"]))
            if k not in subjects:
                subjects.append(k)
    subjects = subjects[:MAX_TRACK_SUBJECTS]
    found = _tracks(store, subjects, t_from, t_to) if subjects else {}
    layers = [svgmap.MapLayer("track", s, [(lat, lon) for _, lat, lon in found[f"{s}|{i}"]], i)
              for s, i in subjects if len(found.get(f"{s}|{i}", [])) >= 2]
    layers += _gaps_and_links(events, None)
    for e in events:
        if e["lat"] is not None and e["lon"] is not None:
            layers.append(svgmap.MapLayer("marker", EV.sensor_of_event(e), [(float(e["lat"]), float(e["lon"]))],
                                          f"{_t(e['t_start'])} {e.get('summary') or e['kind']}", {"r": 3.5}))
    return layers
