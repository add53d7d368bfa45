"""Hand-made site histories whose right answer is known, written straight into the tables
the producers fill (events, positions, scenes, detections, aircraft): fusion is tested
against the tables, not against the air/sea/imagery modules.

The builders are imported by the other ``test_fusion_*`` and ``test_report_*`` modules.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from sitewatch import geo
from sitewatch.analytics.base import events_table, position_ref
from sitewatch.sites import Site, Zone, circle_site
from sitewatch.store.db import Store

LAT, LON = 35.4011, 35.9487  # Hmeimim (OSLK)
START = date(2024, 10, 1)
AS_OF = datetime(2024, 12, 14, tzinfo=UTC)
HEAVY = ("151a01", "151a02", "151a03", "151a04")  # An-124s
FIGHTER = "151f01"


def hmeimim() -> Site:
    # kind "other": one site watched by air, sea and space at once, so every rule indicator applies
    s = circle_site("hmeimim", "other", LAT, LON, 6.0, label="Hmeimim air base")
    box = geo.circle(LAT + 0.01, LON - 0.01, 500.0)
    park = geo.circle(LAT - 0.01, LON + 0.01, 500.0)
    return s.with_zone(Zone("apron", box, "apron")).with_zone(Zone("north-park", park, "vehicle-park"))


def at(d: date, hour: int = 10) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


class Scenario:
    """Collects rows for the producer tables, then writes them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.positions: list[dict[str, Any]] = []
        self.scenes: list[dict[str, Any]] = []
        self.detections: list[dict[str, Any]] = []

    # -- air / sea -----------------------------------------------------------------------
    def cover(self, d: date, source: str = "adsb") -> None:
        """One position near the site: the sensor saw the area that day."""
        self.positions.append({"t_utc": at(d, 3), "source": source, "id": "cover0" if source == "adsb" else "1",
                               "lat": LAT + 0.2, "lon": LON - 0.3})

    def event(self, kind: str, d: date, subject: str, subject_kind: str = "aircraft", hour: int = 10,
              t_end: datetime | None = None, **details: Any) -> None:
        t = at(d, hour)
        src = "adsb" if subject_kind == "aircraft" else "ais"
        self.positions.append({"t_utc": t, "source": src, "id": subject, "lat": LAT, "lon": LON})
        analysis = "air.site-events" if subject_kind == "aircraft" else "sea.port-events"
        self.events.append({"kind": kind, "site": "hmeimim", "t_start": t, "t_end": t_end or t,
                            "subject": subject, "subject_kind": subject_kind, "confidence": 0.9,
                            "lat": LAT, "lon": LON, "details": details, "analysis": analysis,
                            "summary": f"{kind} of {subject}",
                            "evidence": [position_ref(src, subject, t, t)]})

    # -- imagery -------------------------------------------------------------------------
    def scene(self, d: date, counts: dict[tuple[str, str | None], int], gsd_m: float = 0.5,
              provider: str = "Maxar", simulated: bool = False) -> str:
        sid = "sc" + hashlib.sha1(f"{d}{provider}{gsd_m}".encode()).hexdigest()[:14]
        self.scenes.append({"scene_id": sid, "site": "hmeimim", "t_utc": at(d, 8), "provider": provider,
                            "path": f"/img/{sid}.tif", "sha256": hashlib.sha256(sid.encode()).hexdigest(),
                            "gsd_m": gsd_m, "width_px": 1000, "height_px": 1000, "simulated": simulated})
        i = 0
        for (cls, zone), n in counts.items():
            for _ in range(n):
                self.detections.append({"det_id": f"{sid}-{i}", "scene_id": sid, "site": "hmeimim", "class": cls,
                                        "score": 0.8, "cx_px": 10.0 + i, "cy_px": 20.0, "zone": zone,
                                        "lat": LAT, "lon": LON})
                i += 1
        return sid

    def write(self, store: Store) -> None:
        by_analysis: dict[str, list[dict[str, Any]]] = {}
        for e in self.events:
            by_analysis.setdefault(e["analysis"], []).append(e)
        for name, evs in by_analysis.items():
            store.insert("events", events_table(evs, name))
        if self.positions:
            store.insert("positions", pa.Table.from_pylist(self.positions))
        if self.scenes:
            store.insert("scenes", pa.Table.from_pylist(self.scenes))
        if self.detections:
            store.insert("detections", pa.Table.from_pylist(self.detections))
        if self.scenes:  # the detector ran over every scene (a run with no detections is a zero)
            store.insert("detect_runs", pa.Table.from_pylist([
                {"scene_id": s["scene_id"], "site": s["site"], "model": "yolov8n-obb test",
                 "n_detections": sum(1 for d in self.detections if d["scene_id"] == s["scene_id"]),
                 "t_run_utc": s["t_utc"] or at(date(2024, 12, 31))} for s in self.scenes]))
        store.insert("aircraft", pa.Table.from_pylist(
            [{"icao24": h, "typecode": "A124", "military": True} for h in HEAVY]
            + [{"icao24": FIGHTER, "typecode": "SU27", "military": True}]))


def baseline(sc: Scenario, end: date = date(2024, 12, 9), quay_until: date = date(2024, 12, 20)) -> None:
    """Ten quiet weeks: daily ADS-B and AIS coverage, a fighter sortie every 3 days, an
    An-124 every 20 days, three ships staying in port, a vessel departure every 15 days,
    a weekly 0.5 m scene with about 12 aircraft and 20 vehicles."""
    d, i = START, 0
    while d <= end:
        sc.cover(d, "adsb")
        sc.cover(d, "ais")
        if i % 3 == 0:
            sc.event("arrival", d, FIGHTER, typecode="SU27")
        if i % 20 == 5:
            sc.event("arrival", d, HEAVY[0], typecode="A124")
            sc.event("departure", d + timedelta(days=1), HEAVY[0], typecode="A124")
        if i % 15 == 7:
            sc.event("vessel-departure", d, f"27300{i:04d}", "vessel")
        if i % 7 == 2:
            sc.scene(d, {("plane", "apron"): 12 + (i % 2), ("large-vehicle", "north-park"): 20 + (i % 3)})
        d += timedelta(days=1)
        i += 1
    for k in range(3):  # three ships in port throughout
        sc.event("port-visit", START, f"27310000{k}", "vessel", t_end=at(quay_until))


def withdrawal(sc: Scenario) -> None:
    """10–13 Dec: the airlift and the sealift of a withdrawal (the article's pattern)."""
    for d in (date(2024, 12, 10), date(2024, 12, 11), date(2024, 12, 12), date(2024, 12, 13)):
        sc.cover(d, "adsb")
        sc.cover(d, "ais")
    for n, d in enumerate((date(2024, 12, 10), date(2024, 12, 11), date(2024, 12, 12), date(2024, 12, 13))):
        sc.event("arrival", d, HEAVY[n], hour=6, typecode="A124")
        sc.event("departure", d, HEAVY[n], hour=14, typecode="A124")
        sc.event("departure", d, HEAVY[(n + 1) % 4], hour=20, typecode="A124")
    sc.event("dark-visit", date(2024, 12, 12), HEAVY[2], hour=3, typecode="A124")
    sc.event("dark-visit", date(2024, 12, 13), HEAVY[3], hour=3, typecode="A124")
    for k in range(3):
        sc.event("vessel-departure", date(2024, 12, 11), f"27320000{k}", "vessel", hour=5 + k)
        sc.event("vessel-departure", date(2024, 12, 12), f"27330000{k}", "vessel", hour=5 + k)
    sc.scene(date(2024, 12, 12), {("plane", "apron"): 6, ("large-vehicle", "north-park"): 112})


def mixed(sc: Scenario) -> None:
    """10–13 Dec: ADS-B shows extra airlift out, but the port is quiet and imagery shows
    fewer vehicles and more aircraft: the sources disagree."""
    for d in (date(2024, 12, 10), date(2024, 12, 11), date(2024, 12, 12), date(2024, 12, 13)):
        sc.cover(d, "adsb")
        sc.cover(d, "ais")
    for n, d in enumerate((date(2024, 12, 11), date(2024, 12, 12), date(2024, 12, 13))):
        sc.event("departure", d, HEAVY[n], hour=14, typecode="A124")
        sc.event("departure", d, HEAVY[n + 1], hour=15, typecode="A124")
    for k in range(4):
        sc.event("port-visit", date(2024, 12, 11), f"27340000{k}", "vessel", t_end=at(date(2024, 12, 20)))
    sc.scene(date(2024, 12, 12), {("plane", "apron"): 22, ("large-vehicle", "north-park"): 8})


def build(store: Store, pattern: str = "withdrawal") -> Site:
    sc = Scenario()
    baseline(sc, quay_until=date(2024, 12, 11) if pattern == "withdrawal" else date(2024, 12, 20))
    {"withdrawal": withdrawal, "mixed": mixed, "none": lambda s: None}[pattern](sc)
    sc.write(store)
    return hmeimim()


def test_scenario_writes_into_the_producer_tables() -> None:
    store = Store()
    build(store)
    assert store.count("events") > 50 and store.count("scenes") == 11 and store.count("detections") > 300
    assert store.scalar("SELECT count(*) FROM aircraft WHERE typecode = 'A124'") == 4


@pytest.fixture
def store() -> Store:
    return Store()
