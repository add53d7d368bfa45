"""Evidence rows from the producer tables: provenance, ids, sensor limits, observations."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sitewatch.fusion import evidence as E
from sitewatch.store import evidence as EVD
from sitewatch.store.db import Store
from sitewatch.store.ingest import ingest_paths
from test_fusion_scenario import Scenario, build, hmeimim


def test_every_row_has_provenance_and_ids_are_stable() -> None:
    store = Store()
    site = build(store, "withdrawal")
    first = E.refresh(store, [site])[0]
    rows = EVD.list_evidence(store, "hmeimim")
    assert len(rows) == first.rows.num_rows and first.by_sensor.keys() == {"adsb", "ais", "imagery"}
    for r in rows:
        assert r["site"] == "hmeimim" and r["t_start"] is not None and r["kind"] and r["text"]
        assert r["sensor"] in ("adsb", "ais", "imagery") and 0 <= r["confidence"] <= 1 and r["ref"]
    dep = next(r for r in rows if r["kind"] == "air.departure")
    assert dep["ref"]["table"] == "events" and dep["ref"]["heavy"] is True and dep["ref"]["military"] is True
    count = next(r for r in rows if r["kind"] == "imagery.count" and r["value"] == 112)
    assert count["ref"]["zone"] == "north-park" and len(count["ref"]["det_ids"]) == 50
    assert count["file_sha256"] and count["provider"] == "Maxar"
    E.refresh(store, [site])
    assert [r["evidence_id"] for r in EVD.list_evidence(store, "hmeimim")] == [r["evidence_id"] for r in rows]


def test_event_evidence_carries_the_source_file_hash(tmp_path: Path) -> None:
    store = Store()
    f = tmp_path / "p.csv"
    f.write_text("t_utc,source,id,lat,lon\n2024-12-10T10:00:00Z,adsb,151a01,35.40,35.95\n")
    ingest_paths(store, "positions", [f])
    sc = Scenario()
    sc.event("arrival", date(2024, 12, 10), "151a01", typecode="A124")
    sc.positions.clear()
    sc.write(store)
    row = next(r for r in E.build(store, hmeimim()).rows.to_pylist() if r["kind"] == "air.arrival")
    sha = store.scalar("SELECT sha256 FROM ingest_log")
    assert row["file_sha256"] == sha and row["sensor"] == "adsb"


def test_scene_without_time_is_reported_not_dropped() -> None:
    store = Store()
    sc = Scenario()
    sc.scene(date(2024, 12, 5), {("plane", "apron"): 2})
    sc.scenes[0]["t_utc"] = None
    sc.write(store)
    res = E.build(store, hmeimim())
    assert res.rows.num_rows == 0 and res.skipped == {"scene without acquisition time": 1,
                                                      "detections in a scene without acquisition time": 2}


def test_observations_become_analyst_evidence(tmp_path: Path) -> None:
    store = Store()
    f = tmp_path / "obs.csv"
    f.write_text("2024-12-13, hmeimim, 2 × A124 on apron, Maxar, https://example.org/x\n")
    ingest_paths(store, "observations", [f])
    rows = E.build(store, hmeimim()).rows.to_pylist()
    assert len(rows) == 1
    r = rows[0]
    ref = json.loads(r["ref"])
    assert r["kind"] == "analyst.observation" and r["value"] == 2 and r["sensor"] == "analyst"
    assert ref["class"] == "A124" and ref["zone"] == "apron" and ref["url"] == "https://example.org/x"
    assert ref["line"] == 1 and r["file_sha256"] and r["provider"] == "Maxar"


def test_gsd_limits() -> None:
    assert E.resolvable("small-vehicle", 0.5) is True
    assert E.resolvable("small-vehicle", 3.0) is False
    assert E.resolvable("plane", 1.5) is True
    assert E.resolvable("plane", None) is None
    # size-based: at 10 m an object must be ≥ 40 m long (4 px): ships and large aircraft, no vehicles
    assert E.resolvable("ship", 10.0) is True and E.resolvable("plane", 10.0) is True
    assert E.resolvable("large-vehicle", 10.0) is False and E.resolvable("small-vehicle", 10.0) is False


def test_the_gsd_gate_decides_what_a_10m_scene_counts() -> None:
    """A vehicle count from a 10 m scene never becomes evidence (an ``imagery.limit`` row); a ship
    count does where the detector that ran was measured to count ships there; the built-in
    detector was not (its measured reach stops at 1 m for ships), so its finds are limits too."""
    import pyarrow as pa

    from sitewatch.detect import gate as G

    def rows(detector: str | None) -> list[dict[str, object]]:
        store = Store()
        sc = Scenario()
        sid = sc.scene(date(2024, 12, 5), {("ship", None): 2, ("large-vehicle", "north-park"): 5}, gsd_m=10.0,
                       provider="Sentinel-2")
        sc.write(store)
        if detector:
            store.sql("DELETE FROM detect_runs")
            store.insert("detect_runs", pa.Table.from_pylist([
                {"scene_id": sid, "site": "hmeimim", "model": detector, "n_detections": 7,
                 "settings": json.dumps({"detector": detector}), "t_run_utc": sc.scenes[0]["t_utc"]}]))
        out = [r for r in E.build(store, hmeimim()).rows.to_pylist() if r["kind"].startswith("imagery.")]
        for r in out:
            r["ref"] = json.loads(r["ref"])
        return out

    def of(rs: list[dict[str, object]], cls: str) -> list[dict[str, object]]:
        return [r for r in rs if r["ref"].get("class") == cls]  # type: ignore[attr-defined]

    G.declare_reach("s2-ships-test", {"ship": G.Reach(20.0, 4.0, "a stand-in for a Sentinel-2 ship detector")})
    try:
        custom = rows("s2-ships-test")
    finally:
        G.REACH.pop("s2-ships-test", None)
    veh = of(custom, "large-vehicle")
    assert veh and all(r["kind"] == "imagery.limit" and r["value"] is None for r in veh)
    found = next(r for r in veh if r["ref"]["zone"] == "north-park")
    assert found["ref"]["found"] == 5 and "found in zone north-park but not counted" in str(found["text"])
    [ship] = of(custom, "ship")
    assert ship["kind"] == "imagery.count" and ship["value"] == 2 and ship["ref"]["resolvable"] is True
    assert ship["ref"]["from_m"] == 40.0 and "complete for ships ≥ 40 m" in str(ship["text"])
    # the built-in detector (no name in the run): nothing from 10 m is a count
    builtin = rows(None)
    assert not [r for r in builtin if r["kind"] == "imagery.count"]
    [ship] = of(builtin, "ship")
    assert ship["kind"] == "imagery.limit" and "only up to 1 m GSD" in str(ship["text"])
    # a 0.5 m scene counts every class as before
    store = Store()
    sc = Scenario()
    sc.scene(date(2024, 12, 5), {("ship", None): 2, ("large-vehicle", "north-park"): 5})
    sc.write(store)
    half = [r for r in E.build(store, hmeimim()).rows.to_pylist() if r["kind"].startswith("imagery.")]
    assert {r["kind"] for r in half} == {"imagery.scene", "imagery.count"}


def test_scene_never_detected_counts_nothing() -> None:
    store = Store()
    sc = Scenario()
    sc.scene(date(2024, 12, 5), {})
    sc.write(store)
    store.sql("DELETE FROM detect_runs")
    kinds = [r["kind"] for r in E.build(store, hmeimim()).rows.to_pylist()]
    assert kinds == ["imagery.scene"]
    sc2 = Scenario()
    sc2.scene(date(2024, 12, 5), {})
    sc2.write(store)  # now the detector ran and found nothing: real zeros
    zeros = [r for r in E.build(store, hmeimim()).rows.to_pylist() if r["kind"] == "imagery.count"]
    assert zeros and all(r["value"] == 0 for r in zeros)


def test_files_named_simulated_mark_their_evidence(tmp_path: Path) -> None:
    store = Store()
    f = tmp_path / "feed.SIMULATED.csv"
    f.write_text("t_utc,source,id,lat,lon\n2024-12-10T10:00:00Z,adsb,151a01,35.40,35.95\n")
    ingest_paths(store, "positions", [f])
    sc = Scenario()
    sc.event("arrival", date(2024, 12, 10), "151a01", typecode="A124")
    sc.positions.clear()
    sc.scene(date(2024, 12, 11), {("plane", "apron"): 1})
    sc.scenes[0]["path"] = "/x/hmeimim-2024-12-11.SIMULATED.tif"
    sc.write(store)
    rows = E.build(store, hmeimim()).rows.to_pylist()
    assert rows and all(r["simulated"] for r in rows)


def test_references_carry_lines_and_pixel_boxes(tmp_path: Path) -> None:
    store = Store()
    f = tmp_path / "p.csv"
    f.write_text("t_utc,source,id,lat,lon\n2024-12-10T09:59:00Z,adsb,151a01,35.40,35.95\n"
                 "2024-12-10T10:00:00Z,adsb,151a01,35.40,35.95\n")
    ingest_paths(store, "positions", [f])
    sc = Scenario()
    sc.event("arrival", date(2024, 12, 10), "151a01", typecode="A124")
    sc.events[0]["evidence"][0]["t_from"] = sc.events[0]["t_start"].replace(hour=9, minute=59)
    sc.positions.clear()
    sc.scene(date(2024, 12, 11), {("plane", "apron"): 2})
    sc.write(store)
    rows = {r["kind"]: json.loads(r["ref"]) for r in E.build(store, hmeimim()).rows.to_pylist()
            if r["kind"] in ("air.arrival", "imagery.count") and (r["value"] or 0) > 0}
    assert rows["air.arrival"]["files"] == [{"path": str(f), "sha256": store.scalar("SELECT sha256 FROM ingest_log"),
                                             "first": 2, "last": 3}]
    assert rows["imagery.count"]["boxes_px"] == [[10.0, 20.0, None, None], [11.0, 20.0, None, None]]


def test_scene_count_rows_add_up_and_every_zone_has_a_row() -> None:
    """Each detection is in exactly one count row, so a scene's rows of a class add up to its
    total; every zone gets a vehicle row (zero included), which is what observes a zone."""
    store = Store()
    sc = Scenario()
    sc.scene(date(2024, 12, 5), {("large-vehicle", "north-park"): 5, ("large-vehicle", None): 3,
                                 ("plane", "apron"): 2})
    sc.write(store)
    rows = [r for r in E.build(store, hmeimim()).rows.to_pylist() if r["kind"] == "imagery.count"]
    refs = [(json.loads(r["ref"]), r["value"]) for r in rows]
    large = {ref["zone"]: v for ref, v in refs if ref["class"] == "large-vehicle"}
    assert large == {"north-park": 5, None: 3, "apron": 0}
    small = {ref["zone"]: v for ref, v in refs if ref["class"] == "small-vehicle"}
    assert small == {None: 0, "north-park": 0, "apron": 0}
    assert {ref["zone"]: v for ref, v in refs if ref["class"] == "plane"} == {"apron": 2}
    assert {ref["zone"]: v for ref, v in refs if ref["class"] == "ship"} == {None: 0}


def test_refresh_writes_only_when_the_evidence_changed() -> None:
    """A read (timeline, assess, report) of unchanged evidence writes nothing."""
    from datetime import date

    from sitewatch.fusion import evidence as EV
    from sitewatch.store.db import Store
    from test_fusion_scenario import Scenario, build

    store = Store()
    site = build(store, "withdrawal")
    first = EV.refresh(store, [site])[0]
    assert first.changed and store.count("evidence") > 0
    again = EV.refresh(store, [site])[0]
    assert not again.changed  # same rows: nothing replaced
    sc = Scenario()
    sc.event("departure", date(2024, 12, 13), "151a09", hour=22, typecode="A124")
    sc.write(store)
    assert EV.refresh(store, [site])[0].changed
