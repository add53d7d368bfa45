"""Rendered scenes: georeference and tags, and what the real detector finds in them."""

from __future__ import annotations

from pathlib import Path

import pytest
import rasterio
import shapely
from tests.conftest import shared

from sitewatch.simulate import layout, scenario, scenes


@pytest.fixture(scope="module")
def sc() -> scenario.Scenario:
    return scenario.build(seed=11, scale=0.3)


def _plan(sc: scenario.Scenario, site: str, day: int) -> scenario.ScenePlan:
    return next(p for p in sc.scenes if p.site == site and p.t_utc.month == 12 and p.t_utc.day == day)


def test_geotiff_tags_and_georeference(tmp_path: Path, sc: scenario.Scenario) -> None:
    plan = _plan(sc, "hmeimim", 13)
    rgb, bounds, truth = scenes.render_scene(plan, sc)
    assert truth == {"plane": 2, "large-vehicle": sc.vehicles_at("hmeimim", "park-north", plan.t_utc)
                     + sc.vehicles_at("hmeimim", "park-south", plan.t_utc)}
    p = tmp_path / "s.tif"
    scenes.write_geotiff(p, rgb, bounds, plan.t_utc, plan.provider)
    with rasterio.open(p) as ds:
        assert ds.crs.to_epsg() == 4326 and ds.count == 3 and ds.width == ds.height == 1200
        assert ds.tags()["TIFFTAG_DATETIME"] == plan.t_utc.strftime("%Y:%m:%d %H:%M:%S")
        assert ds.tags()["SITEWATCH_SIMULATED"] == "true" and "SIMULATED" in ds.tags()["TIFFTAG_IMAGEDESCRIPTION"]
        assert ds.tags(ns="IMAGERY")["ACQUISITIONDATETIME"] == plan.t_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        # 0.5 m pixels, and every zone of the site but the runway's far ends inside the footprint
        gsd_y = abs(ds.transform.e) * 111_320.0
        assert gsd_y == pytest.approx(0.5, rel=1e-3)
        footprint = shapely.box(*ds.bounds)
    site = layout.site_objects()[0]
    for z in ("apron", "park-north", "park-south"):
        assert footprint.contains(site.zone(z).geometry)
    # same seed, same pixels
    again, _, _ = scenes.render_scene(plan, sc)
    assert (again == rgb).all()


@pytest.mark.slow
def test_detector_finds_what_was_drawn(sc: scenario.Scenario) -> None:
    from sitewatch.detect.yolo_obb import YoloObbDetector

    det = YoloObbDetector(shared("models/yolov8n-obb.onnx"), threads=2)
    # Hmeimim, Wednesday 18 December: two An-124 and more than 100 trucks
    rgb, _, truth = scenes.render_scene(_plan(sc, "hmeimim", 18), sc)
    found = det.detect(rgb, 0.5).counts()
    assert found.get("plane", 0) == truth["plane"] == 2
    vehicles = found.get("large-vehicle", 0)  # trucks; the model adds some small-vehicle boxes on cabs
    assert truth["large-vehicle"] > 100 and abs(vehicles - truth["large-vehicle"]) <= 0.1 * truth["large-vehicle"]
    # Tartus before the departures: the squadron alongside
    rgb, _, truth = scenes.render_scene(_plan(sc, "tartus", 6), sc)
    found = det.detect(rgb, 0.5).counts()
    assert truth["ship"] >= 4 and found.get("ship", 0) >= truth["ship"] - 1
