"""Imagery facts you can quote: size bias measured on real aircraft, vehicles counted once, ADS-B beside.

Real data (skipped with a reason when ../shared is absent): DOTA plane boxes with
silhouettes measured by eye (``data/imagery/dota-planes``), the DOTA P1888 parking area
(50 large, 14 small vehicles), and the YOLOv8-OBB ONNX model.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from conftest import shared
from sitewatch.detect import facts as F
from sitewatch.detect import types as T
from sitewatch.detect.base import Detections
from sitewatch.detect.dedupe import merge_vehicles, vehicle_parts
from sitewatch.detect.evaluate import iou_matrix, read_dota
from sitewatch.detect.raster import read_plain
from sitewatch.detect.scene import detection_rows
from sitewatch.detect.yolo_obb import DOTA_CLASSES, YoloObbDetector

MODEL = "models/yolov8n-obb.onnx"
PLANES = "data/imagery/dota-planes"
P2805 = "P2805__1024__0___0"
P2805_GSD = 0.242183449549
# silhouettes measured by eye on the P2805 tile (dota-planes/README.md): label line → (length, span) m
AIRLINERS = {1: (31.0, 35.0), 2: (37.0, 34.0), 4: (44.5, 33.0)}
CLS = {c: k for k, c in enumerate(DOTA_CLASSES)}


def _detector(**kw: Any) -> YoloObbDetector:
    return YoloObbDetector(shared(MODEL), threads=2, **kw)


def _label_lines(path: Any) -> list[int]:
    lines = path.read_text().splitlines()
    return [k + 1 for k, line in enumerate(lines) if len(line.split()) >= 9 and ":" not in line]


def _matched(det: Detections, label_path: Any) -> dict[int, tuple[float, float]]:
    """Label line → (long, short) box side in px of the detection matching it (IoU ≥ 0.5)."""
    labels = read_dota(label_path)
    iou = iou_matrix(det.corners(), labels.corners, False)
    out = {}
    for j, line in enumerate(_label_lines(label_path)):
        if labels.classes[j] == "plane" and len(det) and iou[:, j].max() >= 0.5:
            i = int(iou[:, j].argmax())
            out[line] = (float(det.w_px[i]), float(det.h_px[i]))
    return out


def _ratios(truth: dict[int, tuple[float, float]], boxes: dict[int, tuple[float, float]], gsd: float
            ) -> list[tuple[float, float]]:
    """(box long ÷ larger dimension, box short ÷ smaller dimension) per matched aircraft."""
    return [(b[0] * gsd / max(truth[k]), b[1] * gsd / min(truth[k])) for k, b in boxes.items() if k in truth]


# -- the size bias, measured on real aircraft ------------------------------------------

@pytest.mark.slow
@pytest.mark.shared
def test_size_bias_on_dota_airliners_against_silhouettes():
    """The model's plane boxes on airliners read ×1.11 long / ×1.23 short against the silhouettes."""
    img = read_plain(shared(f"{PLANES}/images/{P2805}.png"))
    lab = shared(f"{PLANES}/labelTxt/{P2805}.txt")
    ratios, covered = [], []
    for work in (P2805_GSD, 0.5, 1.25):  # native, a 0.5 m satellite, the production aircraft pass
        det = _detector(target_gsd_m=work).detect(img, P2805_GSD, classes=["plane"])
        boxes = _matched(det, lab)
        assert set(AIRLINERS) <= set(boxes), f"an airliner was missed at {work} m"
        ratios += _ratios(AIRLINERS, boxes, P2805_GSD)
        for k, (w, h) in boxes.items():
            if k in AIRLINERS:
                m = T.measure_aircraft(w * P2805_GSD, h * P2805_GSD, P2805_GSD, work)
                big, small = max(AIRLINERS[k]), min(AIRLINERS[k])
                covered.append(abs(m.long_m - big) <= m.long_err_m and abs(m.short_m - small) <= m.short_err_m)
    r = np.asarray(ratios)
    print(f"\nairliner box ÷ silhouette over {len(r)} boxes: long ×{r[:, 0].mean():.3f} ± {r[:, 0].std(ddof=1):.3f}, "
          f"short ×{r[:, 1].mean():.3f} ± {r[:, 1].std(ddof=1):.3f}")
    assert abs(r[:, 0].mean() - T.LARGE_BIAS.long) <= 0.03 and abs(r[:, 1].mean() - T.LARGE_BIAS.short) <= 0.04
    assert r[:, 0].std(ddof=1) <= 2 * T.LARGE_BIAS.long_sd and r[:, 1].std(ddof=1) <= 2 * T.LARGE_BIAS.short_sd
    assert all(covered)  # every silhouette lies within the measurement's ± error


@pytest.mark.slow
@pytest.mark.shared
def test_size_bias_on_dota_light_aircraft():
    """P0248's boxes hug the silhouettes (checked by eye): the model's boxes of light aircraft barely read long."""
    rows = list(csv.DictReader(shared(f"{PLANES}/planes.csv").open()))
    gsd = float(rows[0]["gsd_m"])
    truth = {int(r["label_line"]): (float(r["box_short_m"]), float(r["box_long_m"]))
             for r in rows if r["image"] == "P0248.png"}
    img = read_plain(shared(f"{PLANES}/images/P0248.png"))
    det = _detector(target_gsd_m=gsd).detect(img, gsd, classes=["plane"])
    boxes = _matched(det, shared(f"{PLANES}/labelTxt/P0248.txt"))
    assert len(boxes) >= 11
    r = np.asarray(_ratios(truth, boxes, gsd))
    print(f"\nlight aircraft box ÷ silhouette ({len(r)}): long ×{r[:, 0].mean():.3f}, short ×{r[:, 1].mean():.3f}")
    assert abs(r[:, 0].mean() - T.LIGHT_BIAS.long) <= 0.03 and abs(r[:, 1].mean() - T.LIGHT_BIAS.short) <= 0.04
    ids = [T.identify_aircraft(w * gsd, h * gsd, gsd) for w, h in boxes.values()]
    assert all(i.named is None and i.size_class == "light" for i in ids)


# -- vehicles counted once -------------------------------------------------------------

def _dets(rows: list[tuple[str, float, float, float, float, float, float]]) -> Detections:
    """(class, cx, cy, w, h, angle, score) → Detections."""
    a = np.asarray([r[1:] for r in rows], float)
    return Detections(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5],
                      np.asarray([CLS[r[0]] for r in rows], np.int64), DOTA_CLASSES)


def test_a_cab_inside_a_truck_is_not_a_second_vehicle():
    det = _dets([
        ("large-vehicle", 100, 100, 40, 10, 0.3, 0.8),  # a truck, 10 m at 0.25 m/px
        ("small-vehicle", 100 + 15 * np.cos(0.3), 100 + 15 * np.sin(0.3), 9, 9.5, 0.3, 0.6),  # its cab
        ("small-vehicle", 200, 100, 18, 8, 0.0, 0.7),  # two cars side by side, touching
        ("small-vehicle", 200, 108.5, 18, 8, 0.0, 0.7),
        ("plane", 400, 400, 200, 180, 0.0, 0.9),  # a plane with a tug under its wing: not merged
        ("small-vehicle", 420, 400, 16, 8, 0.0, 0.5),
    ])
    assert vehicle_parts(det).tolist() == [False, True, False, False, False, False]
    kept, info = merge_vehicles(det, gsd_m=0.25)
    assert kept.counts() == {"plane": 1, "large-vehicle": 1, "small-vehicle": 3}
    assert info.as_json() == {"n_before": 6, "parts_dropped": 1, "relabelled": 0}


def test_same_vehicle_in_both_classes_counts_once_and_truck_sized_small_is_large():
    det = _dets([
        ("large-vehicle", 50, 50, 36, 10, 1.0, 0.5),
        ("small-vehicle", 50.5, 50, 35, 10, 1.0, 0.6),  # the same van/truck called both: one kept
        ("small-vehicle", 150, 50, 42, 10, 0.0, 0.6),  # 10.5 m "small vehicle": a truck by size
    ])
    kept, info = merge_vehicles(det, gsd_m=0.25)
    assert len(kept) == 2 and info.parts_dropped == 1 and info.relabelled == 1
    assert kept.counts() == {"large-vehicle": 2}
    no_gsd, info = merge_vehicles(det, gsd_m=None)  # no size, no relabelling
    assert no_gsd.counts() == {"large-vehicle": 1, "small-vehicle": 1} and info.relabelled == 0
    assert merge_vehicles(Detections.empty(DOTA_CLASSES), 0.3)[1].n_before == 0


@pytest.mark.slow
@pytest.mark.shared
def test_p1888_vehicle_counts_before_and_after_merging():
    """DOTA P1888 (truth 50 large, 14 small): no cab is split off there, so merging changes nothing."""
    img = read_plain(shared("data/imagery/dota/P1888.png"))
    raw = _detector(merge_vehicle_parts=False).detect(img, 0.266, classes=["large-vehicle", "small-vehicle"])
    merged, info = merge_vehicles(raw, 0.266)
    before, after = raw.counts(), merged.counts()
    print(f"\nP1888 vehicles (truth 50 large, 14 small): before {before}, after {after}, {info.as_json()}")
    assert abs(before["large-vehicle"] - 50) <= 2 and 14 <= before["small-vehicle"] <= 19
    assert after == before and info.parts_dropped == 0 and info.relabelled == 0
    assert _detector().detect(img, 0.266, classes=["large-vehicle", "small-vehicle"]).counts() == after


@pytest.mark.slow
@pytest.mark.shared
def test_demo_scene_an124_and_il76_are_measured_not_misnamed():
    """The simulator's 15 Dec Hmeimim scene: two An-124 and an Il-76 silhouettes, 97 trucks with cabs."""
    from sitewatch.simulate import scenario, scenes

    sc = scenario.build()
    plan = next(p for p in sc.scenes if p.site == "hmeimim" and (p.t_utc.month, p.t_utc.day) == (12, 15))
    rgb, _, truth = scenes.render_scene(plan, sc)
    det = _detector()
    found = det.detect(rgb, 0.5)
    rows = detection_rows(found, scene_id="s", site="hmeimim", gsd_m=0.5,
                          work_gsd_m={"plane": 1.25}).to_pylist()
    planes = [json.loads(r["type_candidates"]) for r in rows if r["class"] == "plane"]
    assert len(planes) == truth["plane"] == 3
    assert all(p["named"] is None for p in planes)  # neither "A225" nor "DC10", nor any single guess
    assert sorted(p["label"].split(" (")[0] for p in planes) == [
        "large aircraft", "very large transport aircraft", "very large transport aircraft"]
    assert all("A124" in [f["type"] for f in p["fits"]] for p in planes if p["size_class"] == "very-large")
    assert "IL76" in [f["type"] for p in planes if p["size_class"] == "large" for f in p["fits"]]
    counts = found.counts()
    assert counts.get("small-vehicle", 0) <= 2  # cabs no longer counted as cars
    assert abs(counts["large-vehicle"] - truth["large-vehicle"]) <= 0.05 * truth["large-vehicle"]


# -- the ADS-B arrival beside the imagery fact -----------------------------------------

T_IMG = datetime(2024, 12, 17, 10, 30, tzinfo=UTC)


def _t(h: int, m: int, day: int = 17) -> datetime:
    return datetime(2024, 12, day, h, m, tzinfo=UTC)


def _event(eid: str, kind: str, icao: str, t0: datetime, t1: datetime | None = None) -> dict[str, Any]:
    return {"event_id": eid, "kind": kind, "site": "hmeimim", "t_start": t0, "t_end": t1 or t0,
            "subject": icao, "subject_kind": "aircraft", "details": "{}", "evidence": "[]",
            "analysis": "air.site-events", "t_computed_utc": T_IMG, "confidence": 1.0, "summary": ""}


@pytest.fixture
def store(ws):
    st = ws.store
    st.insert("scenes", pa.Table.from_pylist([
        {"scene_id": "scn1", "site": "hmeimim", "t_utc": T_IMG, "provider": "test", "path": "x.tif",
         "sha256": "0", "gsd_m": 0.5, "width_px": 2000, "height_px": 2000}]))
    # an An-124-sized and an Il-76-sized box as the detector drew them (0.5 m scene, 1.25 m pass)
    det = _dets([("plane", 500, 500, 164.0, 151.0, 0.2, 0.9), ("plane", 900, 500, 109.0, 101.4, 0.2, 0.9)])
    rows = detection_rows(det, scene_id="scn1", site="hmeimim", gsd_m=0.5, work_gsd_m={"plane": 1.25}).to_pylist()
    for r in rows:
        r["zone"] = "apron"
    st.insert("detections", pa.Table.from_pylist(rows))
    st.insert("aircraft", pa.Table.from_pylist([
        {"icao24": "154073", "registration": "RA-82035", "typecode": "A124"},
        {"icao24": "1533e1", "registration": "RA-78817", "typecode": "IL76"},
        {"icao24": "ae1234", "registration": "07-7183", "typecode": "C17"},
        {"icao24": "15406e", "registration": "RA-82030", "typecode": "A124"}]))
    st.insert("events", pa.Table.from_pylist([
        _event("a1", "arrival", "154073", _t(6, 12)),  # landed that morning, still there
        _event("a2", "arrival", "ae1234", _t(5, 0)),  # a C-17 that left before the image
        _event("d2", "departure", "ae1234", _t(7, 0)),
        _event("a3", "arrival", "1533e1", _t(11, 5)),  # after the image: cannot be in it
        _event("a4", "arrival", "15406e", _t(20, 0, day=16)),  # the day before
    ]))
    return st


def test_arrivals_that_day_still_on_the_ground(store):
    arr = F.adsb_arrivals(store, "hmeimim", T_IMG)
    assert [(a.registration, a.typecode) for a in arr] == [("RA-82035", "A124")]
    assert arr[0].text(T_IMG) == "An-124 RA-82035 landed 06:12 UTC"
    wider = F.adsb_arrivals(store, "hmeimim", T_IMG, since=_t(0, 0, day=16))
    assert [a.registration for a in wider] == ["RA-82030", "RA-82035"]
    assert wider[0].text(T_IMG) == "An-124 RA-82030 landed 16 Dec 20:00 UTC"


def test_quote_sets_the_fitting_arrival_beside_the_measured_object(store):
    facts = F.aircraft_facts(store, "hmeimim")
    assert [f.label for f in facts] == ["very large transport aircraft (≈ 74 m)", "large aircraft (≈ 49 m)"]
    big, mid = facts
    assert big.named is None and "A124" in big.fits and "A225" not in big.fits
    arr = F.adsb_arrivals(store, "hmeimim", T_IMG)
    assert F.quote(big, arr) == ("an object of An-124 size (≈ 74 m) on the apron at 10:30 UTC; "
                                 "An-124 RA-82035 landed 06:12 UTC")
    assert F.quote(mid, arr) == "a large aircraft (≈ 49 m) on the apron at 10:30 UTC"  # no Il-76 yet
    assert big.size_text == "74 ± 7 m by 61 ± 8 m"


def test_dark_visit_and_scene_quotes(store):
    store.insert("events", pa.Table.from_pylist([
        _event("v1", "dark-visit", "1533e1", _t(9, 0), _t(14, 0))]))
    quotes = F.scene_quotes(store, "hmeimim", "scn1")
    assert [q["text"] for q in quotes] == [
        "an object of An-124 size (≈ 74 m) on the apron at 10:30 UTC; An-124 RA-82035 landed 06:12 UTC",
        "an object of Il-76 size (≈ 49 m) on the apron at 10:30 UTC; "
        "Il-76 RA-78817 probably landed unheard (ADS-B lost it at 09:00 UTC)"]
    assert quotes[0]["adsb"][0]["registration"] == "RA-82035" and quotes[0]["named"] is None
    assert quotes[1]["facts"][0]["long_err_m"] > 0 and quotes[0]["n"] == 1


def test_rows_stored_before_the_correction_are_remeasured(store):
    store.sql("UPDATE detections SET type_candidates = ? WHERE det_id = 'scn1-00000'",
              [json.dumps([{"type": "A225", "name": "Antonov An-225 Mriya", "likelihood": 0.8}])])
    f = F.aircraft_facts(store, "hmeimim", "scn1")[0]
    assert f.named is None and "A225" not in f.fits and f.label.startswith("very large transport aircraft")


def test_groups_and_words():
    assert F.where_text("apron", "hmeimim") == "on the apron"
    assert F.where_text("park-north", "hmeimim") == "in zone park-north"
    assert F.where_text(None, "hmeimim") == "at hmeimim"
    assert F._article("An-124 (≈ 74 m)") == "an An-124 (≈ 74 m)"
    assert F._article("MD-11 (≈ 61 m)") == "an MD-11 (≈ 61 m)"
    assert F._article("C-17 (≈ 53 m)") == "a C-17 (≈ 53 m)"
    assert F._article("large aircraft") == "a large aircraft"
