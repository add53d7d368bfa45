"""End to end through the CLI: georeferenced scenes (UTM) of two dates, a georeference error
refined by image matching, change by zone with lon/lat positions, and chips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from tests.test_imagery_change import group_boxes
from tests.test_imagery_scenes import LAT, LON, write_utm_tif

from sitewatch.cli import main, root
from sitewatch.imagery import coreg as C
from sitewatch.store import scenes as SC
from sitewatch.workspace import Workspace

CROP = 1280
GEOREF_ERROR_M = 6.0  # the later scene's georeference is 6 m east of the truth


def _write_pair(tmp: Path) -> tuple[list[Path], list[list[tuple[str, float, float, float, float]]]]:
    import cv2

    folder, names, boxes = group_boxes("1")
    paths, kept = [], []
    for k, n in enumerate(names[:2]):
        rgb = np.ascontiguousarray(cv2.imread(str(folder / n))[:CROP, :CROP, ::-1])
        p = tmp / f"d{k}.tif"
        # same ground, but date 1 placed GEOREF_ERROR_M east: its centre longitude moves
        dlon = GEOREF_ERROR_M / (111_320 * np.cos(np.radians(LAT))) if k else 0.0
        write_utm_tif(p, rgb, tags={"ACQUISITIONDATETIME": f"2024-12-{10 + k}T08:00:00Z"},
                      lat=LAT, lon=LON + dlon)
        paths.append(p)
        kept.append([b for b in boxes[n] if (b[1] + b[3]) / 2 < CROP and (b[2] + b[4]) / 2 < CROP])
    return paths, kept


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_georeferenced_pair_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths, boxes = _write_pair(tmp_path)
    w = str(tmp_path / "ws")
    assert run(capsys, "init", w)[0] == 0
    # the apron zone: the western half of the scenes
    d = 320 / 111_320  # 320 m in degrees of latitude
    apron = {"type": "Polygon", "coordinates": [[[LON - d, LAT - d], [LON, LAT - d], [LON, LAT + d],
                                                  [LON - d, LAT + d], [LON - d, LAT - d]]]}
    (tmp_path / "apron.geojson").write_text(json.dumps(apron))
    assert run(capsys, "-w", w, "site", "add", "hmeimim", "--airport", "OSLK")[0] == 0
    assert run(capsys, "-w", w, "site", "zone", "add", "hmeimim", "apron", "--geojson",
               str(tmp_path / "apron.geojson"))[0] == 0
    code, out, err = run(capsys, "-w", w, "ingest", "imagery", *map(str, paths), "--site", "hmeimim",
                         "--provider", "Pleiades")
    assert code == 0, err
    assert json.loads(out)["accepted"] == 2
    code, out, _ = run(capsys, "-w", w, "scenes", "--site", "hmeimim", "--format", "json")
    scenes = json.loads(out)
    assert [s["coreg"] for s in scenes] == ["reference", "aligned"]
    ws = Workspace.open(w)
    try:
        rows = SC.list_scenes(ws.store, "hmeimim")
        h = np.asarray(rows[1]["coreg"]["H"])
        # georeferences alone say 12 px; the pixels say the two crops line up within a pixel
        init = C._georef_h(rows[1], rows[0])
        assert init[0, 2] == pytest.approx(GEOREF_ERROR_M / 0.5, abs=0.3)
        xs, ys = np.array([0, CROP, CROP, 0, CROP / 2]), np.array([0, 0, CROP, CROP, CROP / 2])
        hx, hy = C.apply_h(h, xs, ys)
        assert np.hypot(hx - xs, hy - ys).max() < 1.0 and rows[1]["coreg"]["residual_px"] < 1.0
        for s, bx in zip(rows, boxes, strict=True):
            n = len(bx)
            ws.store.insert("detections", pa.table({
                "det_id": [f"{s['scene_id']}:{b[0]}" for b in bx], "scene_id": [s["scene_id"]] * n,
                "site": ["hmeimim"] * n, "class": ["plane"] * n, "score": [1.0] * n,
                "cx_px": [(b[1] + b[3]) / 2 for b in bx], "cy_px": [(b[2] + b[4]) / 2 for b in bx],
                "w_px": [b[3] - b[1] for b in bx], "h_px": [b[4] - b[2] for b in bx]}))
    finally:
        ws.close()
    code, out, err = run(capsys, "-w", w, "change", "--site", "hmeimim", "--format", "json",
                         "--map-out", str(tmp_path / "map.png"))
    assert code == 0, err
    ch = json.loads(out)
    obj = ch["objects"]
    n_from, n_to = obj["counted"]["from"], obj["counted"]["to"]
    assert n_from == len(boxes[0]) and n_to == len(boxes[1])
    assert len(obj["stayed"]) + len(obj["departed"]) + obj["unobserved"]["from"] == n_from
    assert len(obj["stayed"]) + len(obj["arrived"]) + obj["unobserved"]["to"] == n_to
    assert len(obj["arrived"]) > 0 and len(obj["departed"]) > 0 and len(obj["stayed"]) > 0
    for it in obj["arrived"] + obj["departed"]:
        assert abs(it["lat"] - LAT) < 0.01 and abs(it["lon"] - LON) < 0.01
        assert it["zone"] == ("apron" if it["lon"] < LON else None)
    assert {r["zone"] for r in obj["by_class_zone"]} <= {"apron", None}
    zones = {z["zone"]: z for z in ch["pixels"]["zones"]}
    assert set(zones) == {None, "apron"} and 0 < zones[None]["changed_frac"] < 0.3
    assert (tmp_path / "map.png").stat().st_size > 0
    code, out, _ = run(capsys, "-w", w, "chips", "--site", "hmeimim", "--out", str(tmp_path / "chips"),
                       "--max-px", "512")
    files = json.loads(out)["chips"]
    assert code == 0 and len(files) == 3 and all(Path(f).stat().st_size > 10_000 for f in files)
    import cv2

    pair = cv2.imread(files[-1])
    assert pair is not None and pair.shape[1] > 1000  # two 512 px panels side by side


def test_every_imagery_command_has_an_example() -> None:
    import click

    ctx = click.Context(root)
    ingest = root.commands["ingest"]
    assert isinstance(ingest, click.Group)
    for cmd in (ingest.commands["imagery"], *(root.commands[c] for c in ("scenes", "coreg", "change", "chips"))):
        assert "Example" in (cmd.get_help(ctx) or ""), cmd.name


def test_change_refuses_a_site_without_two_aligned_scenes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(tmp_path / "ws")
    run(capsys, "init", w)
    run(capsys, "-w", w, "site", "add", "hmeimim", "--airport", "OSLK")
    code, out, err = run(capsys, "-w", w, "change", "--site", "hmeimim")
    assert code == 2 and out == "" and "two co-registered scenes" in err and "Traceback" not in err


def test_plain_image_gets_footprint_from_georeferenced_reference(ws: Workspace, tmp_path: Path) -> None:
    """A press image (no georeference, no GSD) aligned to a GeoTIFF inherits a lon/lat
    footprint and a GSD through its homography."""
    import cv2
    from shapely import wkt

    from sitewatch.sites import circle_site
    from sitewatch.sources.base import ReadOptions
    from sitewatch.store.ingest import ingest_paths

    folder, names, _ = group_boxes("1")
    rgb = np.ascontiguousarray(cv2.imread(str(folder / names[0]))[:1024, :1024, ::-1])
    tif = tmp_path / "ref.tif"
    write_utm_tif(tif, rgb, tags={"ACQUISITIONDATETIME": "2024-12-10T08:00:00Z"})
    # the press image: the centre 512 px, shrunk to half size (1 m per pixel)
    png = tmp_path / "press.png"
    cv2.imwrite(str(png), cv2.resize(rgb[256:768, 256:768, ::-1], (256, 256), interpolation=cv2.INTER_AREA))
    ws.put_site(circle_site("hmeimim", "airbase", LAT, LON, 6))
    for p, extra in ((tif, {}), (png, {"time": "2024-12-16T09:00:00Z"})):
        assert ingest_paths(ws.store, "imagery", [p], opts=ReadOptions(extra={"site": "hmeimim", **extra})).accepted == 1
    res = {r.scene_id: r for r in C.align_site(ws.store, "hmeimim")}
    rows = {Path(r["path"]).name: r for r in SC.list_scenes(ws.store, "hmeimim")}
    press = rows["press.png"]
    assert res[press["scene_id"]].status == "aligned", res[press["scene_id"]].reason
    assert press["gsd_m"] == pytest.approx(1.0, rel=0.02)
    fp = wkt.loads(press["footprint_wkt"])
    ref_fp = wkt.loads(rows["ref.tif"]["footprint_wkt"])
    # the centre quarter of the reference: same centre, a quarter of the area
    assert fp.centroid.distance(ref_fp.centroid) < 2e-6  # about 0.2 m
    assert fp.area / ref_fp.area == pytest.approx(0.25, rel=0.02)
