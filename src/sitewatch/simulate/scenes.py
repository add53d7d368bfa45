"""Rendered GeoTIFF scenes of Hmeimim and Tartus: what a 0.5 m satellite would have seen.

Contract: :func:`render_scene` draws one :class:`~sitewatch.simulate.scenario.ScenePlan`
from the scenario's ground truth at the acquisition time — aircraft on their stands,
vehicles in the parks, ships at their berths — and :func:`render_all` writes every plan
as a north-up GeoTIFF (EPSG:4326, 3 × uint8, deflate) with the acquisition time in the
``IMAGERY:ACQUISITIONDATETIME`` and ``TIFFTAG_DATETIME`` tags and ``SIMULATED`` in
``TIFFTAG_IMAGEDESCRIPTION`` and ``SITEWATCH_SIMULATED=true``. Each written scene
reports what was drawn (``truth``), so tests can compare detections with it.

How the scenes are made (said in every file's description): procedural textures
(multi-octave value noise) for soil, asphalt, concrete with joints, gravel and water;
runway markings; top-down aircraft silhouettes at their published length and span
(fuselage, swept wings, tailplane, engine nacelles); trucks 8.5–10 m long with a
darker cab, parked in rows; ships as hulls with superstructure blocks; every object
with a sun shadow; anti-aliased polygon edges; a light blur (sensor MTF) and noise.
Sizes and spacings were tuned by running the YOLOv8-OBB DOTA model on the renders
(``DESIGN.md``, "Scenario simulator"): a detector trained on real imagery finds them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sitewatch.simulate import layout as L
from sitewatch.simulate.scenario import Scenario, ScenePlan
from sitewatch.simulate.writer import SceneFile

XY = tuple[float, float]
F32 = NDArray[np.float32]
DESCRIPTION = ("SIMULATED scene rendered by sitewatch.simulate (procedural textures, object "
               "silhouettes at real sizes, shadows, blur, noise); not a satellite image")

_TYPE_DIMS = {"A124": (68.96, 73.3, (203, 205, 207)), "IL76": (46.59, 50.5, (178, 181, 183))}
_SHADOW_M = {"plane": (-2.0, 1.5), "vehicle": (-1.5, 1.0), "ship": (-3.0, 2.0)}  # metres east, north


class Canvas:
    """An RGB float image over a local east/north metre frame, north up."""

    def __init__(self, x0: float, y0: float, x1: float, y1: float, gsd_m: float, rng: np.random.Generator):
        self.x0, self.y1, self.gsd = x0, y1, gsd_m
        self.w = round((x1 - x0) / gsd_m)
        self.h = round((y1 - y0) / gsd_m)
        self.rng = rng
        self.img = np.zeros((self.h, self.w, 3), np.float32)

    def px(self, pts: Sequence[XY]) -> NDArray[np.int32]:
        a = np.asarray(pts, np.float64)
        col = (a[:, 0] - self.x0) / self.gsd
        row = (self.y1 - a[:, 1]) / self.gsd
        return np.round(np.stack([col, row], 1) * 16).astype(np.int32)  # cv2 shift=4

    def _window(self, polys: Sequence[Sequence[XY]]) -> tuple[int, int, int, int, list[NDArray[np.int32]]] | None:
        """Pixel window (c0, r0, c1, r1) holding the polygons, and the polygons in it (1/16 px)."""
        pp = [self.px(p) for p in polys]
        allp = np.concatenate(pp) // 16
        c0, r0 = max(int(allp[:, 0].min()) - 2, 0), max(int(allp[:, 1].min()) - 2, 0)
        c1, r1 = min(int(allp[:, 0].max()) + 3, self.w), min(int(allp[:, 1].max()) + 3, self.h)
        if c1 <= c0 or r1 <= r0:
            return None
        off = np.array([c0 * 16, r0 * 16], np.int32)
        return c0, r0, c1, r1, [q - off for q in pp]

    def mask(self, polys: Sequence[Sequence[XY]]) -> tuple[tuple[slice, slice], F32] | None:
        """Anti-aliased coverage (0..1) of the polygons within their window."""
        import cv2

        win = self._window(polys)
        if win is None:
            return None
        c0, r0, c1, r1, pp = win
        m = np.zeros((r1 - r0, c1 - c0), np.uint8)
        cv2.fillPoly(m, pp, 255, lineType=cv2.LINE_AA, shift=4)
        return (slice(r0, r1), slice(c0, c1)), m.astype(np.float32) / 255.0

    def noise(self, amp: float, shape: tuple[int, int] | None = None, scales: Sequence[int] = (64, 16, 4)) -> F32:
        import cv2

        h, w = shape or (self.h, self.w)
        out = np.zeros((h, w), np.float32)
        for sc, a in zip(scales, (1.0, 0.5, 0.3), strict=False):
            n = self.rng.normal(0, 1, (h // sc + 2, w // sc + 2)).astype(np.float32)
            out += a * cv2.resize(n, (w + 2 * sc, h + 2 * sc), interpolation=cv2.INTER_CUBIC)[sc:sc + h, sc:sc + w]
        return out * amp

    def fill_all(self, color: Sequence[float], amp: float) -> None:
        n = self.noise(amp)
        self.img[:] = np.asarray(color, np.float32) + n[..., None]

    def paint(self, polys: Sequence[Sequence[XY]], color: Sequence[float], amp: float = 0.0) -> None:
        got = self.mask(polys)
        if got is None:
            return
        win, m = got
        c = np.asarray(color, np.float32)
        layer = c + (self.noise(amp, m.shape)[..., None] if amp else 0.0)
        m3 = m[..., None]
        self.img[win] = self.img[win] * (1 - m3) + layer * m3

    def shade(self, polys: Sequence[Sequence[XY]], offset_m: XY, strength: float) -> None:
        moved = [[(x + offset_m[0], y + offset_m[1]) for x, y in p] for p in polys]
        got = self.mask(moved)
        if got is None:
            return
        win, m = got
        self.img[win] *= 1 - strength * m[..., None]

    def finish(self) -> NDArray[np.uint8]:
        import cv2

        img = np.asarray(cv2.GaussianBlur(self.img, (0, 0), 0.6), np.float32)
        img = img + self.rng.normal(0, 2.5, img.shape).astype(np.float32)
        return np.clip(img, 0, 255).astype(np.uint8)


def _place(shape: Sequence[XY], cx: float, cy: float, hdg_deg: float) -> list[XY]:
    """Local shape (x forward, y left) → east/north, nose toward heading ``hdg_deg``."""
    h = math.radians(hdg_deg)
    fx, fy = math.sin(h), math.cos(h)  # forward unit vector (east, north)
    lx, ly = -fy, fx  # left
    return [(cx + x * fx + y * lx, cy + x * fy + y * ly) for x, y in shape]


def aircraft_parts(length_m: float, span_m: float) -> list[list[XY]]:
    """Top-down silhouette: fuselage, wings, tailplane, four nacelles (x forward)."""
    lm, s = length_m, span_m
    fw = lm * 0.09
    parts = [[(lm / 2, 0), (lm / 2 - fw * 0.6, fw / 2), (-lm / 2 + fw, fw / 2), (-lm / 2, fw * 0.15),
              (-lm / 2, -fw * 0.15), (-lm / 2 + fw, -fw / 2), (lm / 2 - fw * 0.6, -fw / 2)]]
    x0, chord, sweep = lm * 0.08, lm * 0.16, s * 0.22
    for sg in (1, -1):
        parts.append([(x0, 0), (x0 - sweep, sg * s / 2), (x0 - sweep - chord * 0.4, sg * s / 2), (x0 - chord, 0)])
        tx, ts = -lm / 2 + fw * 1.2, s * 0.33
        parts.append([(tx + lm * 0.06, 0), (tx - ts * 0.25 + lm * 0.02, sg * ts / 2), (tx - ts * 0.25, sg * ts / 2),
                      (tx - lm * 0.02, 0)])
        for f in (0.32, 0.62):
            ex, ey = x0 - sweep * f - chord * 0.1, sg * s / 2 * f
            parts.append([(ex + 3, ey - 1.3), (ex + 3, ey + 1.3), (ex - 3, ey + 1.3), (ex - 3, ey - 1.3)])
    return parts


def _rect(length: float, width: float, x: float = 0.0) -> list[XY]:
    return [(x + length / 2, width / 2), (x + length / 2, -width / 2), (x - length / 2, -width / 2),
            (x - length / 2, width / 2)]


def ship_parts(length_m: float, beam_m: float, navy: bool) -> tuple[list[XY], list[list[XY]]]:
    lm, b = length_m, beam_m
    hull = [(lm / 2, 0), (lm / 2 - lm * 0.18, b / 2), (-lm / 2 + 2, b / 2), (-lm / 2, b * 0.35),
            (-lm / 2, -b * 0.35), (-lm / 2 + 2, -b / 2), (lm / 2 - lm * 0.18, -b / 2)]
    if navy:
        blocks = [_rect(0.25 * lm, 0.6 * b, 0.05 * lm), _rect(0.12 * lm, 0.5 * b, -0.2 * lm),
                  _rect(0.06 * lm, 0.3 * b, 0.22 * lm)]
    else:
        blocks = [_rect(0.12 * lm, 0.85 * b, -0.38 * lm)] + [_rect(0.1 * lm, 0.7 * b, x * lm)
                                                            for x in (-0.2, -0.05, 0.1, 0.25)]
    return hull, blocks


def _vehicles(cv: Canvas, park: L.Rect, n: int, per_row: int) -> int:
    """Draw ``n`` trucks in rows inside ``park``; returns how many were drawn."""
    drawn = 0
    rng = cv.rng
    pitch_u, pitch_v = 5.7, 16.5
    rows = math.ceil(n / per_row)
    u0 = park.cu - park.w_m / 2 + 12
    v0 = park.cv + park.l_m / 2 - 14
    for r in range(rows):
        for k in range(min(per_row, n - drawn)):
            u = u0 + k * pitch_u + float(rng.normal(0, 0.3))
            v = v0 - r * pitch_v + float(rng.normal(0, 0.4))
            x, y = L.rot(u, v, park.hdg_deg)
            length, width = float(rng.uniform(8.5, 10.0)), float(rng.uniform(2.5, 2.6))
            hdg = park.hdg_deg + float(rng.normal(0, 2.0))
            body = _place(_rect(length, width), x, y, hdg)
            cab = _place(_rect(length * 0.22, width * 0.95, length * 0.38), x, y, hdg)
            tone = np.array([196, 184, 150]) + rng.normal(0, 8, 3)
            cv.shade([body], _SHADOW_M["vehicle"], 0.7)
            cv.paint([body], tone.tolist())
            cv.paint([cab], (tone * 0.78).tolist())
            drawn += 1
    return drawn


def _hmeimim(plan: ScenePlan, sc: Scenario, rng: np.random.Generator) -> tuple[Canvas, dict[str, int]]:
    cv = Canvas(*L.H_SCENE_XY, plan.gsd_m, rng)
    cv.fill_all((168, 152, 122), 9)  # dry soil
    hd = L.RUNWAY_HDG_DEG
    cv.paint([L.H_RUNWAY.corners_xy()], (78, 78, 80), 4)
    cv.paint([L.H_TAXIWAY.corners_xy()], (92, 92, 94), 4)
    for v in (-200.0, 10.0, 220.0):  # connectors apron ↔ taxiway ↔ runway
        cv.paint([L.Rect("c", "", -70.0, v, 110.0, 24.0, hd).corners_xy()], (92, 92, 94), 4)
    cv.paint([L.H_APRON.corners_xy()], (176, 173, 166), 6)
    for du in np.arange(-L.H_APRON.w_m / 2, L.H_APRON.w_m / 2, 7.5):  # concrete joints
        cv.paint([L.Rect("j", "", L.H_APRON.cu + du, L.H_APRON.cv, 0.25, L.H_APRON.l_m, hd).corners_xy()],
                 (150, 148, 142))
    for v in np.arange(-L.RUNWAY_LEN_M / 2, L.RUNWAY_LEN_M / 2, 50.0):  # centreline dashes
        cv.paint([L.Rect("m", "", 0.0, float(v), 0.9, 30.0, hd).corners_xy()], (235, 235, 235))
    for park in (L.H_PARK_N, L.H_PARK_S):
        cv.paint([park.corners_xy()], (108, 106, 102), 7)
    truth = {"plane": 0, "large-vehicle": 0}
    for stay in sc.aircraft_at(plan.t_utc):
        length, span, colour = _TYPE_DIMS[stay.airframe.typecode]
        su, sv = L.H_STANDS[stay.stand]
        x, y = L.rot(su, sv, hd)
        parts = [_place(p, x, y, hd + 90.0) for p in aircraft_parts(length, span)]
        cv.shade(parts, _SHADOW_M["plane"], 0.55)
        cv.paint(parts, colour, 3)
        truth["plane"] += 1
    for park in (L.H_PARK_N, L.H_PARK_S):
        truth["large-vehicle"] += _vehicles(cv, park, sc.vehicles_at("hmeimim", park.name, plan.t_utc), 21)
    return cv, truth


def _tartus(plan: ScenePlan, sc: Scenario, rng: np.random.Generator) -> tuple[Canvas, dict[str, int]]:
    cv = Canvas(*L.T_SCENE_XY, plan.gsd_m, rng)
    cv.fill_all((40, 62, 74), 3)  # sea
    x0, y0, x1, y1 = L.T_SCENE_XY
    cv.paint([[(L.T_COAST_X, y0), (x1, y0), (x1, y1), (L.T_COAST_X, y1)]], (158, 153, 143), 8)
    for r in (L.T_PIER_N, L.T_PIER_S):
        cv.paint([r.corners_xy()], (170, 167, 160), 5)
    cv.paint([L.T_BREAKWATER.corners_xy()], (128, 122, 112), 10)
    cv.paint([L.T_PARK.corners_xy()], (108, 106, 102), 7)
    truth = {"ship": 0, "large-vehicle": 0}
    for voyage, lat, lon in sc.ships_at(plan.t_utc):
        x, y = L.to_xy(L.TARTUS_LAT, L.TARTUS_LON, lon, lat)
        if not (x0 + 40 < x < x1 - 40 and y0 + 20 < y < y1 - 20):
            continue
        ship = voyage.ship
        hull, blocks = ship_parts(ship.length_m, ship.beam_m, ship.navy)
        hdg = 270.0 if ship.navy else 90.0
        cv.shade([_place(hull, x, y, hdg)], _SHADOW_M["ship"], 0.5)
        cv.paint([_place(hull, x, y, hdg)], (80, 84, 90) if ship.navy else (72, 46, 40), 3)
        deck = [(px * (1 - 2 / ship.length_m), py * (1 - 2 / ship.beam_m)) for px, py in hull]  # 1 m gunwale
        cv.paint([_place(deck, x, y, hdg)], (138, 141, 145) if ship.navy else (96, 60, 50), 3)
        cv.paint([_place(b, x, y, hdg) for b in blocks], (172, 174, 177) if ship.navy else (150, 96, 66), 3)
        truth["ship"] += 1
    truth["large-vehicle"] = _vehicles(cv, L.T_PARK, sc.vehicles_at("tartus", "park", plan.t_utc), 16)
    return cv, truth


def render_scene(plan: ScenePlan, sc: Scenario) -> tuple[NDArray[np.uint8], tuple[float, float, float, float],
                                                          dict[str, int]]:
    """(RGB image, (west, south, east, north) in degrees, what was drawn)."""
    rng = np.random.default_rng([sc.seed, int(plan.t_utc.timestamp()), len(plan.site)])
    if plan.site == "hmeimim":
        cv, truth = _hmeimim(plan, sc, rng)
        lat0, lon0, ext = L.HMEIMIM_LAT, L.HMEIMIM_LON, L.H_SCENE_XY
    else:
        cv, truth = _tartus(plan, sc, rng)
        lat0, lon0, ext = L.TARTUS_LAT, L.TARTUS_LON, L.T_SCENE_XY
    west, south = L.to_lonlat(lat0, lon0, ext[0], ext[1])
    east, north = L.to_lonlat(lat0, lon0, ext[2], ext[3])
    return cv.finish(), (west, south, east, north), truth


def write_geotiff(path: Path, rgb: NDArray[np.uint8], bounds: tuple[float, float, float, float], t: datetime,
                  provider: str) -> None:
    import rasterio
    from rasterio.transform import Affine

    h, w = rgb.shape[:2]
    west, south, east, north = bounds
    tf = Affine((east - west) / w, 0.0, west, 0.0, -(north - south) / h, north)
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=3, dtype="uint8", crs="EPSG:4326",
                       transform=tf, compress="deflate", photometric="RGB") as ds:
        ds.write(rgb.transpose(2, 0, 1))
        ds.update_tags(TIFFTAG_DATETIME=t.strftime("%Y:%m:%d %H:%M:%S"), TIFFTAG_IMAGEDESCRIPTION=DESCRIPTION,
                       SITEWATCH_SIMULATED="true", PROVIDER=provider)
        ds.update_tags(ns="IMAGERY", ACQUISITIONDATETIME=t.strftime("%Y-%m-%dT%H:%M:%SZ"))


def render_all(sc: Scenario, folder: Path, say: Callable[[str], None] | None = None) -> list[SceneFile]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for plan in sc.scenes:
        if say:
            say(f"rendering {plan.site} {plan.t_utc:%Y-%m-%d %H:%M}Z")
        rgb, bounds, truth = render_scene(plan, sc)
        p = folder / f"{plan.site}-{plan.t_utc:%Y%m%dT%H%MZ}.SIMULATED.tif"
        write_geotiff(p, rgb, bounds, plan.t_utc, plan.provider)
        out.append(SceneFile(plan.site, plan.t_utc, plan.provider, plan.gsd_m, p, truth))
    return out
