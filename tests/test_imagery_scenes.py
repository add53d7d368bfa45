"""Scene ingest: GeoTIFF in UTM from real pixels, plain images, STAC items, flags, memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import shared

from sitewatch import geo
from sitewatch.cli import main
from sitewatch.imagery import scenes as S
from sitewatch.sources.base import ReadOptions
from sitewatch.store.ingest import ingest_paths
from sitewatch.store.scenes import list_scenes
from sitewatch.workspace import Workspace

AIRBUS = "data/imagery/airbus-aircraft/images/4c9d2482-788c-4d68-a3d4-478b2367abce.jpg"
CLOUDY = "data/imagery/airbus-aircraft/images/4e8c95f3-bbb6-4e2f-920d-8d3b2bd1d29f.jpg"
APRON = "data/imagery/airbus-aircraft/images/ca7b1077-0d37-4ada-9d56-0e66f864935e.jpg"
LAT, LON = 35.4011, 35.9487  # Hmeimim (OSLK)


def real_rgb(size: int = 512) -> np.ndarray:
    import cv2

    img = cv2.imread(str(shared(AIRBUS)))
    return np.ascontiguousarray(img[1000:1000 + size, 1000:1000 + size, ::-1])


def write_utm_tif(path: Path, rgb: np.ndarray, gsd: float = 0.5, tags: dict[str, str] | None = None,
                  lat: float = LAT, lon: float = LON) -> tuple[float, float]:
    """A UTM 36N GeoTIFF whose centre is (lat, lon); returns the UTM centre."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.warp import transform

    x, y = transform("EPSG:4326", "EPSG:32636", [lon], [lat])
    h, w = rgb.shape[:2]
    tf = from_origin(x[0] - w * gsd / 2, y[0] + h * gsd / 2, gsd, gsd)
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=3, dtype="uint8",
                       crs="EPSG:32636", transform=tf, tiled=True, blockxsize=256, blockysize=256) as d:
        d.write(np.moveaxis(rgb, -1, 0))
        if tags:
            d.update_tags(ns="IMAGERY", **tags)
    return x[0], y[0]


def add_site(ws: Workspace) -> None:
    from sitewatch.sites import circle_site

    ws.put_site(circle_site("hmeimim", "airbase", LAT, LON, 6))


def test_geotiff_utm_footprint_time_gsd(ws: Workspace, tmp_path: Path) -> None:
    rgb = real_rgb()
    tif = tmp_path / "scene.tif"
    write_utm_tif(tif, rgb, tags={"ACQUISITIONDATETIME": "2024-12-13T08:15:02Z"})
    add_site(ws)
    s = ingest_paths(ws.store, "imagery", [tif], opts=ReadOptions(extra={"site": "hmeimim", "provider": "Maxar"}))
    assert (s.accepted, s.rejected, s.failed_files) == (1, 0, 0)
    (row,) = list_scenes(ws.store, "hmeimim")
    assert row["crs"] == "EPSG:32636" and row["provider"] == "Maxar"
    assert row["t_utc"].isoformat() == "2024-12-13T08:15:02+00:00"
    assert row["meta"]["time_source"] == "IMAGERY:ACQUISITIONDATETIME"
    assert row["gsd_m"] == pytest.approx(0.5, rel=2e-3)  # UTM scale factor near 36 E
    assert row["path"] == str(tif.resolve()) and len(row["sha256"]) == 64
    from shapely import wkt

    fp = wkt.loads(row["footprint_wkt"])
    c = fp.centroid
    assert geo.haversine_m(LAT, LON, c.y, c.x) < 0.5
    pts = list(fp.exterior.coords)
    tl, tr, br = pts[0], pts[16], pts[32]  # 16 vertices per edge; UTM scale and the spherical
    # haversine each differ from the ellipsoid by a few parts per thousand here
    assert geo.haversine_m(tl[1], tl[0], tr[1], tr[0]) == pytest.approx(256, rel=5e-3)
    assert geo.haversine_m(tr[1], tr[0], br[1], br[0]) == pytest.approx(256, rel=5e-3)
    assert row["cloud_flag"] is False
    # re-ingest adds nothing; the image was not copied anywhere
    s2 = ingest_paths(ws.store, "imagery", [tif], opts=ReadOptions(extra={"site": "hmeimim"}))
    assert s2.skipped_files == 1 and ws.store.count("scenes") == 1
    assert not list(ws.folder.glob("*.tif"))


def test_simulator_tags_mark_the_scene_simulated(ws: Workspace, tmp_path: Path) -> None:
    import rasterio

    tif = tmp_path / "sim.tif"
    write_utm_tif(tif, real_rgb(128), tags={"ACQUISITIONDATETIME": "2024-12-18T09:00:00Z"})
    with rasterio.open(tif, "r+") as d:
        d.update_tags(SITEWATCH_SIMULATED="true", PROVIDER="simulator")
    add_site(ws)
    assert ingest_paths(ws.store, "imagery", [tif], opts=ReadOptions(extra={"site": "hmeimim"})).accepted == 1
    (row,) = list_scenes(ws.store)
    assert row["simulated"] is True and row["provider"] == "simulator"


def test_windowed_read_matches_pixels(tmp_path: Path) -> None:
    rgb = real_rgb()
    tif = tmp_path / "scene.tif"
    write_utm_tif(tif, rgb)
    win = S.read_window(tif, 100, 200, 300, 260)
    assert np.array_equal(win, rgb[200:260, 100:300])
    edge = S.read_window(tif, 500, 500, 520, 520)  # partly outside: zeros there
    assert np.array_equal(edge[:12, :12], rgb[500:, 500:]) and not edge[12:, :].any()
    # 16-bit data (as most providers deliver) come back stretched to uint8
    import rasterio

    with rasterio.open(tif) as src:
        prof = src.profile
        data = src.read().astype("uint16") * 40
    prof.update(dtype="uint16")
    tif16 = tmp_path / "scene16.tif"
    with rasterio.open(tif16, "w", **prof) as dst:
        dst.write(data)
    w16 = S.read_window(tif16, 100, 200, 300, 260)
    assert w16.dtype == np.uint8 and w16.shape == (60, 200, 3)
    assert np.corrcoef(w16.ravel().astype(float), win.ravel().astype(float))[0, 1] > 0.95
    ov, scale = S.read_overview(tif, 128)
    assert ov.shape == (128, 128, 3) and scale == pytest.approx(0.25)
    # the mean of an average-decimated overview equals the image's mean
    assert abs(float(ov.mean()) - float(rgb.mean())) < 1.0


def test_plain_image_needs_time_and_site(ws: Workspace, tmp_path: Path) -> None:
    import cv2

    png = tmp_path / "press.png"
    cv2.imwrite(str(png), real_rgb(256)[..., ::-1])
    add_site(ws)
    s = ingest_paths(ws.store, "imagery", [png], opts=ReadOptions(extra={"site": "hmeimim"}))
    assert s.failed_files == 1 and "--time" in s.results[0].error  # type: ignore[operator]
    s = ingest_paths(ws.store, "imagery", [png], opts=ReadOptions(extra={"time": "2024-12-16"}))
    assert s.failed_files == 1 and "--site" in s.results[0].error  # type: ignore[operator]
    s = ingest_paths(ws.store, "imagery", [png], opts=ReadOptions(
        extra={"site": "hmeimim", "time": "2024-12-16T09:00:00+00:00", "gsd_m": 0.5}))
    assert s.accepted == 1
    (row,) = list_scenes(ws.store)
    assert row["crs"] is None and row["footprint_wkt"] is None and row["gsd_m"] == 0.5
    assert row["meta"]["time_source"] == "option" and row["meta"]["format"] == "image"


def test_plain_image_world_file_and_corners(ws: Workspace, tmp_path: Path) -> None:
    import cv2

    add_site(ws)
    jpg = tmp_path / "wf.jpg"
    cv2.imwrite(str(jpg), real_rgb(200)[..., ::-1])
    d = 1e-5  # degrees per pixel
    (tmp_path / "wf.jgw").write_text(f"{d}\n0\n0\n{-d}\n{LON}\n{LAT}\n")
    png = tmp_path / "corners.png"
    cv2.imwrite(str(png), real_rgb(100)[..., ::-1])
    opts = {"site": "hmeimim", "time": "2024-12-16"}
    assert ingest_paths(ws.store, "imagery", [jpg], opts=ReadOptions(extra=opts)).accepted == 1
    corners = [[35.0, 35.5], [35.1, 35.5], [35.1, 35.4], [35.0, 35.4]]
    assert ingest_paths(ws.store, "imagery", [png], opts=ReadOptions(extra={**opts, "corners": corners})).accepted == 1
    rows = {r["path"]: r for r in list_scenes(ws.store)}
    from shapely import wkt

    wf = rows[str(jpg.resolve())]
    # the world file gives the centre of the top-left pixel
    assert wkt.loads(wf["footprint_wkt"]).bounds == pytest.approx(
        (LON - d / 2, LAT - 199.5 * d, LON + 199.5 * d, LAT + d / 2), abs=1e-7)
    assert wf["gsd_m"] == pytest.approx(1e-5 * 111_195 * np.sqrt(np.cos(np.radians(LAT))), rel=5e-3)
    cr = rows[str(png.resolve())]
    assert wkt.loads(cr["footprint_wkt"]).bounds == pytest.approx((35.0, 35.4, 35.1, 35.5))
    # a delivery folder as it is: the image again (skipped) and its world file (a sidecar)
    folder = tmp_path / "delivery"
    folder.mkdir()
    (folder / "wf.jpg").write_bytes(jpg.read_bytes())
    (folder / "wf.jgw").write_text((tmp_path / "wf.jgw").read_text())
    s = ingest_paths(ws.store, "imagery", [folder], opts=ReadOptions(extra=opts))
    assert (s.failed_files, s.skipped_files, s.accepted) == (0, 1, 0)
    assert [r.counters for r in s.results if r.format == "sidecar"] == [{"sidecar_files": 1}]


def test_stac_item_and_collection(ws: Workspace, tmp_path: Path) -> None:
    add_site(ws)
    tif = tmp_path / "img.tif"
    write_utm_tif(tif, real_rgb(256))
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "scene-1",
            "geometry": None, "properties": {"datetime": "2024-12-13T08:15:00Z", "gsd": 0.5,
                                             "constellation": "worldview", "eo:cloud_cover": 2},
            "assets": {"visual": {"href": "img.tif", "type": "image/tiff; application=geotiff"}}}
    (tmp_path / "item.json").write_text(json.dumps(item))
    s = ingest_paths(ws.store, "imagery", [tmp_path / "item.json"], opts=ReadOptions(extra={"site": "hmeimim"}))
    assert s.accepted == 1
    (row,) = list_scenes(ws.store)
    assert row["provider"] == "worldview" and row["meta"]["stac_id"] == "scene-1"
    assert row["path"] == str(tif.resolve())
    assert row["meta"]["time_source"] == "stac" and row["t_utc"].isoformat() == "2024-12-13T08:15:00+00:00"
    # a collection: one remote asset, one without datetime, one good (another image)
    tif2 = tmp_path / "img2.tif"
    write_utm_tif(tif2, real_rgb(300))
    remote = {**item, "id": "remote", "assets": {"visual": {"href": "https://x/y.tif"}}}
    no_t = {**item, "id": "not", "properties": {}}
    good = {**item, "id": "good", "assets": {"visual": {"href": str(tif2)}}}
    (tmp_path / "coll.json").write_text(json.dumps(
        {"type": "FeatureCollection", "stac_version": "1.0.0", "features": [remote, no_t, good]}))
    s = ingest_paths(ws.store, "imagery", [tmp_path / "coll.json"], opts=ReadOptions(extra={"site": "hmeimim"}))
    assert (s.accepted, s.rejected) == (1, 2)
    q = ws.store.rows("SELECT rec_offset, offset_unit, reason FROM quarantine ORDER BY rec_offset")
    assert [r["rec_offset"] for r in q] == [0, 1] and q[0]["offset_unit"] == "item"
    assert "remote" in q[0]["reason"] and "datetime" in q[1]["reason"]


def test_cloud_and_haze_flags_on_real_pixels() -> None:
    clear, _ = S.read_overview(shared(AIRBUS))
    flag, m = S.cloud_haze(clear)
    assert flag is False and m["cloud_frac"] is not None and m["cloud_frac"] < 0.01
    # a real Pléiades scene with cumulus over a quarter of it
    cloudy, _ = S.read_overview(shared(CLOUDY))
    flag, m = S.cloud_haze(cloudy)
    assert flag is True and m["cloud_frac"] is not None and m["cloud_frac"] > 0.15
    # a bright concrete apron is not cloud
    apron, _ = S.read_overview(shared(APRON))
    assert S.cloud_haze(apron)[0] is False
    hazy = (0.45 * clear + 0.55 * 235).astype(np.uint8)  # a uniform veil, as thin haze does
    flag, m = S.cloud_haze(hazy)
    assert flag is True and m["dark_channel_p05"] > S.HAZE_DARK_P05  # type: ignore[operator]
    # too small to tell cloud from a roof: not assessed
    assert S.cloud_haze(clear[:256, :256])[1]["cloud_frac"] is None


def test_cli_ingest_and_scenes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(tmp_path / "w")
    assert main(["init", w]) == 0
    assert main(["-w", w, "site", "add", "hmeimim", "--airport", "OSLK"]) == 0
    tif = tmp_path / "a.tif"
    write_utm_tif(tif, real_rgb(256), tags={"ACQUISITIONDATETIME": "2024-12-13T08:15:02Z"})
    capsys.readouterr()
    assert main(["-w", w, "ingest", "imagery", str(tif), "--site", "hmeimim", "--provider", "Maxar"]) == 0
    assert json.loads(capsys.readouterr().out)["accepted"] == 1
    assert main(["-w", w, "scenes", "--site", "hmeimim", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["provider"] == "Maxar" and row["coreg"] == "reference" and row["footprint_wkt"].startswith("POLYGON")
    code = main(["-w", w, "ingest", "imagery", str(tif), "--site", "nowhere"])
    assert code == 2 and "hmeimim" in capsys.readouterr().err


@pytest.mark.slow
def test_huge_sparse_geotiff_memory_bounded(tmp_path: Path) -> None:
    """20,000 × 20,000 px RGB (1.2 GB of pixels) ingested with a peak RSS far below that."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    rgb = real_rgb(512)
    path = tmp_path / "huge.tif"
    with rasterio.open(path, "w", driver="GTiff", width=20_000, height=20_000, count=3, dtype="uint8",
                       crs="EPSG:32636", transform=from_origin(760_000, 3_930_000, 0.5, 0.5),
                       tiled=True, blockxsize=512, blockysize=512, compress="deflate",
                       SPARSE_OK=True) as d:
        for i in range(0, 20_000, 2560):  # real pixels on a diagonal, the rest left sparse
            d.write(np.moveaxis(rgb, -1, 0), window=Window(i, i, 512, 512))
    ws_dir = tmp_path / "ws"
    Workspace.init(ws_dir).close()
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) pytest parent
    script = textwrap.dedent(f"""
        import json
        from sitewatch.workspace import Workspace
        from sitewatch.sites import circle_site
        from sitewatch.sources.base import ReadOptions
        from sitewatch.store.ingest import ingest_paths
        from sitewatch.imagery import scenes as S
        ws = Workspace.open({str(ws_dir)!r})
        ws.put_site(circle_site("hmeimim", "airbase", {LAT}, {LON}, 6))
        def status(key):
            for line in open("/proc/self/status"):
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
        base = status("VmRSS")
        try:
            open("/proc/self/clear_refs", "w").write("5")  # resets VmHWM to the current RSS
        except OSError:
            pass
        s = ingest_paths(ws.store, "imagery", [{str(path)!r}],
                         opts=ReadOptions(extra={{"site": "hmeimim", "time": "2024-12-13"}}))
        win = S.read_window({str(path)!r}, 10_000, 10_000, 12_048, 12_048)
        peak = status("VmHWM")
        print(json.dumps({{"accepted": s.accepted, "base_mb": base, "peak_mb": peak,
                          "win": list(win.shape)}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"20k x 20k GeoTIFF ingest + 2048 px window: peak RSS {r['peak_mb']:.0f} MB "
          f"(after imports {r['base_mb']:.0f} MB; the pixels are 1200 MB)")
    assert r["accepted"] == 1 and r["win"] == [2048, 2048, 3]
    assert r["peak_mb"] - r["base_mb"] < 300
