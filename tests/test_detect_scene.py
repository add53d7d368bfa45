"""Detection over stored scenes: georeferenced rows, zones, `sitewatch detect` and `counts`."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import shapely
from shapely import wkt

from conftest import shared
from sitewatch.cli import main
from sitewatch.detect.base import Detections
from sitewatch.detect.raster import ArrayRaster, RasterioRaster
from sitewatch.detect.scene import detection_rows
from sitewatch.detect.yolo_obb import DOTA_CLASSES
from sitewatch.sites import Zone, circle_site
from sitewatch.workspace import Workspace

AIRBUS = "data/imagery/airbus-aircraft/images/cbd51501-ed0f-411c-b472-df4357cca40c.jpg"  # 25 aircraft top-left
LAT, LON = 35.4011, 35.9487


def _rgb(size: int = 1024) -> np.ndarray:
    import cv2

    img = cv2.imread(str(shared(AIRBUS)))
    return np.ascontiguousarray(img[:size, :size, ::-1])


def _utm_tif(path: Path, rgb: np.ndarray, gsd: float = 0.5) -> tuple[str, list[float]]:
    """A UTM 36N GeoTIFF of real pixels centred on (LAT, LON), for the georeference plumbing."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.warp import transform

    x, y = transform("EPSG:4326", "EPSG:32636", [LON], [LAT])
    h, w = rgb.shape[:2]
    tf = from_origin(x[0] - w * gsd / 2, y[0] + h * gsd / 2, gsd, gsd)
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=3, dtype="uint8",
                       crs="EPSG:32636", transform=tf, tiled=True, blockxsize=256, blockysize=256) as d:
        d.write(np.moveaxis(rgb, -1, 0))
    return "EPSG:32636", list(tf)[:6]


def _scene(ws: Workspace, scene_id: str, path: Path, w: int, h: int, crs: str | None = None,
           tf: list[float] | None = None, t: str = "2024-12-13T09:00:00") -> None:
    row = {"scene_id": scene_id, "site": "apt", "t_utc": datetime.fromisoformat(t).replace(tzinfo=UTC),
           "provider": "test", "path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
           "gsd_m": 0.5, "width_px": w, "height_px": h, "crs": crs, "transform": json.dumps(tf) if tf else None}
    ws.store.insert("scenes", pa.Table.from_pylist([row]))


def _site_with_apron(ws: Workspace) -> None:
    site = circle_site("apt", "airbase", LAT, LON, 3)
    # the northern half of the 512 m scene and beyond
    apron = shapely.box(LON - 0.004, LAT, LON + 0.004, LAT + 0.003)
    ws.put_site(site.with_zone(Zone("apron", apron, "apron")))


def test_detection_rows_georeference_zone_and_types():
    det = Detections(np.array([100.0, 10.0]), np.array([50.0, 10.0]), np.array([100.0, 10.0]),
                     np.array([90.0, 4.0]), np.array([0.0, 0.3]), np.array([0.9, 0.5]),
                     np.array([0, 10]), DOTA_CLASSES)
    site = circle_site("apt", "airbase", 0.0, 0.0, 5)
    site = site.with_zone(Zone("north", shapely.box(-0.01, 0.0, 0.01, 0.01)))

    def to_lonlat(x, y):  # 1 px = 1e-5 degree, image top-left at (0, 0.001), north up
        return np.asarray(x) * 1e-5, 0.001 - np.asarray(y) * 1e-5

    rows = detection_rows(det, scene_id="s", site=site, gsd_m=0.5, to_lonlat=to_lonlat, model="m@1").to_pylist()
    assert [r["det_id"] for r in rows] == ["s-00000", "s-00001"]  # top to bottom
    car, plane = rows
    assert car["class"] == "small-vehicle" and car["size_class"] == "car" and car["type_candidates"] is None
    assert plane["length_m"] == 50.0 and plane["width_m"] == 45.0
    ident = json.loads(plane["type_candidates"])  # a measurement and the types that fit, no guess
    assert ident["named"] is None and ident["measured"]["box_long_m"] == 50.0
    codes = {f["type"] for f in ident["fits"]}  # a 50 × 45 m box is a ≈ 45 × 37 m aircraft
    assert {"K35R", "A321", "B752"} <= codes and not codes & {"IL76", "DC10", "C17"}
    assert ident["label"] == "large aircraft (≈ 45 m)"
    assert plane["size_class"] == "large" and plane["heavy_transport"] is False
    assert plane["zone"] == "north" and car["zone"] == "north"
    poly = wkt.loads(plane["poly_wkt"])
    assert poly.contains(shapely.Point(plane["lon"], plane["lat"]))
    assert len(json.loads(plane["poly_px"])) == 4


@pytest.mark.shared
def test_rasterio_raster_matches_array(tmp_path):
    rgb = _rgb(512)
    _utm_tif(tmp_path / "s.tif", rgb)
    import rasterio

    with rasterio.open(tmp_path / "s.tif") as ds:
        r = RasterioRaster(ds)
        a = ArrayRaster(rgb)
        assert np.array_equal(r.read(-10, 20, 300, 400, 310, 380), a.read(-10, 20, 300, 400, 310, 380))
        shrunk = r.read(0, 0, 512, 512, 256, 256).astype(int) - a.read(0, 0, 512, 512, 256, 256).astype(int)
        assert np.abs(shrunk).mean() < 1.0  # box average in both (GDAL vs OpenCV rounding)


@pytest.mark.slow
@pytest.mark.shared
def test_cli_detect_and_counts(ws, tmp_path, capsys):
    _site_with_apron(ws)
    rgb = _rgb(1024)
    crs, tf = _utm_tif(tmp_path / "geo.tif", rgb)
    _scene(ws, "geo1", tmp_path / "geo.tif", 1024, 1024, crs, tf)
    import cv2

    cv2.imwrite(str(tmp_path / "plain.png"), rgb[:, :, ::-1])
    _scene(ws, "plain1", tmp_path / "plain.png", 1024, 1024, t="2024-12-14T09:00:00")
    ws.close()
    w = str(ws.folder)
    assert main(["-w", w, "-q", "detect", "--site", "apt", "--format", "json"]) == 0
    out = {r["scene"]: r for r in json.loads(capsys.readouterr().out)}
    assert out["geo1"]["counts"] == out["plain1"]["counts"]  # same pixels, same detections
    n_planes = out["geo1"]["counts"].get("plane", 0)
    assert n_planes >= 15

    with Workspace.open(w) as ws2:
        rows = ws2.store.rows("SELECT * FROM detections WHERE scene_id = 'geo1' AND class = 'plane'")
        site = ws2.site("apt")
        apron = site.zone("apron").geometry
        for r in rows:
            assert r["lon"] is not None and r["poly_wkt"].startswith("POLYGON")
            inside = apron.intersects(shapely.Point(r["lon"], r["lat"]))
            assert (r["zone"] == "apron") == inside
            assert r["length_m"] == pytest.approx(r["w_px"] * 0.5, abs=0.01)
        plain = ws2.store.rows("SELECT lon, zone FROM detections WHERE scene_id = 'plain1'")
        assert all(r["lon"] is None and r["zone"] is None for r in plain)
        n_apron = sum(r["zone"] == "apron" for r in rows)
        assert 0 < n_apron < n_planes  # the zone splits the scene

    assert main(["-w", w, "counts", "--site", "apt", "--format", "ndjson"]) == 0
    counts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {tuple(sorted(c)) for c in counts} == {("class", "complete_from_m", "count", "countable", "scene",
                                                   "t_utc", "zone")}
    assert {c["countable"] for c in counts if c["scene"] == "geo1" and c["class"] == "plane"} == {"all"}
    whole = {(c["scene"], c["class"]): c["count"] for c in counts if c["zone"] is None}
    assert whole[("geo1", "plane")] == n_planes == whole[("plain1", "plane")]
    zoned = {(c["scene"], c["class"]): c["count"] for c in counts if c["zone"] == "apron"}
    assert zoned[("geo1", "plane")] == n_apron and zoned[("plain1", "plane")] == 0
    assert counts[0]["t_utc"].startswith("2024-12-13")

    # a second run skips; --force replaces (no duplicates)
    assert main(["-w", w, "-q", "detect", "--scene", "geo1", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["skipped"] is True
    assert main(["-w", w, "-q", "detect", "--scene", "geo1", "--force", "--format", "json"]) == 0
    capsys.readouterr()
    with Workspace.open(w) as ws3:
        assert ws3.store.scalar("SELECT count(*) FROM detections WHERE scene_id='geo1' AND class='plane'") == n_planes


def test_detect_refuses_scene_without_gsd(ws, tmp_path, capsys):
    ws.put_site(circle_site("apt", "airbase", LAT, LON, 3))
    p = tmp_path / "x.png"
    import cv2

    cv2.imwrite(str(p), np.zeros((64, 64, 3), np.uint8))
    ws.store.insert("scenes", pa.Table.from_pylist([{
        "scene_id": "nogsd", "site": "apt", "path": str(p), "sha256": "0" * 64, "width_px": 64, "height_px": 64}]))
    ws.close()
    assert main(["-w", str(ws.folder), "detect", "--scene", "nogsd"]) == 2
    assert "--gsd-m" in capsys.readouterr().err


def test_plain_scene_georeferenced_through_its_reference():
    from sitewatch.detect.scene import georeference

    # reference: EPSG:4326, 1e-5° per pixel, top-left at (36.0 E, 35.0 N)
    ref = {"scene_id": "ref", "crs": "EPSG:4326", "transform": [1e-5, 0, 36.0, 0, -1e-5, 35.0]}
    # the plain scene is the reference shrunk by 2 and shifted by (100, 50) reference px
    h = [[2.0, 0.0, 100.0], [0.0, 2.0, 50.0], [0.0, 0.0, 1.0]]
    plain = {"scene_id": "p", "crs": None, "transform": None, "coreg": {"status": "aligned", "H": h, "ref": "ref"}}
    f = georeference(plain, ref)
    assert f is not None
    lon, lat = f(np.array([10.0]), np.array([20.0]))
    assert lon[0] == pytest.approx(36.0 + 120 * 1e-5) and lat[0] == pytest.approx(35.0 - 90 * 1e-5)
    failed = {**plain, "coreg": {"status": "failed", "H": h, "ref": "ref"}}
    assert georeference(failed, ref) is None  # a scene that could not be aligned is not placed


def test_counts_say_what_the_scene_can_count():
    """`counts` beside each number: all, part (complete from N m up) or none (not a count)."""
    from datetime import date

    from sitewatch.detect.counts import counts
    from sitewatch.store.db import Store
    from test_fusion_scenario import Scenario, hmeimim

    store = Store()
    sc = Scenario()
    sc.scene(date(2024, 12, 5), {("plane", "apron"): 3, ("large-vehicle", None): 4}, gsd_m=3.0,
             provider="PlanetScope")
    sc.scene(date(2024, 12, 6), {("plane", "apron"): 2, ("large-vehicle", None): 5}, gsd_m=10.0,
             provider="Sentinel-2")
    sc.scene(date(2024, 12, 7), {("plane", "apron"): 12, ("large-vehicle", None): 40}, gsd_m=0.5)
    sc.write(store)
    rows = {(str(r["t_utc"])[:10], r["class"]): r for r in counts(store, hmeimim()) if r["zone"] is None}
    at3, at10, at05 = ("2024-12-05", "plane"), ("2024-12-06", "plane"), ("2024-12-07", "plane")
    assert rows[at3]["countable"] == "part" and rows[at3]["complete_from_m"] == 36.0
    assert rows[at10]["countable"] == "none" and rows[at10]["count"] == 2  # found, but not a count
    assert rows[("2024-12-06", "large-vehicle")]["countable"] == "none"
    assert rows[at05]["countable"] == "all" and rows[at05]["complete_from_m"] is None
