"""Pixel-level change between two co-registered images: IR-MAD with morphological clean-up.

:func:`irmad` is the iteratively reweighted multivariate alteration detection of Nielsen
(2007, IEEE TIP 16(2)): canonical correlation of the two dates' bands, MAD variates
``X a − Y b`` whose no-change variance is ``2(1 − ρ)``, a chi-square statistic per
pixel, and weights ``1 − P(χ²)`` that make the next iteration learn "no change" from
the pixels that most likely did not change. It is invariant to linear radiometric
differences (sun, gain, haze offsets), which is why it is used instead of a plain
difference.

:func:`change_mask` thresholds the (robust) statistic at :data:`Z_CHANGE` and cleans the mask: opening then closing with a
:data:`MORPH_M`-metre square, and components smaller than :data:`MIN_AREA_M2` removed —
isolated pixels are noise or parallax, not a new vehicle park or stockpile.

:func:`greying_mask` is a second, directional product: surfaces that turned grey (colour
saturation dropped by more than :data:`GREY_DROP` and by more than Otsu's split of the
drops) — new roofs, paving, hard standing, vehicle parks on former soil or grass. It was
added because IR-MAD cannot tell construction from the seasonal change around it on
LEVIR-CD (its floor was chosen there among 0, 0.05 and 0.08, so its LEVIR figure is
optimistic).

:func:`pixel_change_scenes` warps both stored scenes into the reference frame at a
working resolution, computes the mask over their overlap and summarises it per zone
(``zone: null`` for the whole overlap), with the largest changed regions and their
positions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import Polygon

from sitewatch.errors import InputError
from sitewatch.imagery import coreg as C
from sitewatch.imagery import scenes as S
from sitewatch.sites import Site

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

# Sum of squared robust z-scores of the 4 MAD variates above which a pixel is changed:
# about one variate at 10 robust σ. Chosen on one Airbus pair (Atlanta, two dates): at
# 100 it marked all 62 arrived/departed aircraft and 29 % of the 28 that stayed, and 7 %
# of the scene; at 13 (the χ²₄ 99 % point) it marked 30 % of the scene and every aircraft.
Z_CHANGE = 100.0
MORPH_M = 2.5  # structuring element side, metres (5 px at 0.5 m)
MIN_AREA_M2 = 10.0  # smallest changed region kept, m² (40 px at 0.5 m)
WORK_PX = 1024  # longest side of the reference frame for the pixel comparison (≈ 1.3 m at 0.5 m GSD)
MAX_ITER = 20  # Nielsen (2007) reports convergence within a few tens; the tolerance usually stops it sooner
TOL_RHO = 1e-3


def features(rgb: NDArray[np.uint8], gsd_m: float) -> F64:
    """Per-pixel features: lightly smoothed RGB and local gradient magnitude (edges of
    new buildings and parked objects), as an (H·W, 4) array."""
    import cv2

    sigma = max(0.5, 0.75 / gsd_m)  # ≈ 0.75 m: suppresses JPEG noise, keeps vehicles
    f = cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), sigma)
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gm = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3))
    gm = cv2.GaussianBlur(gm, (0, 0), 2 * sigma)
    return np.dstack([f, gm]).reshape(-1, 4).astype(np.float64)


def _robust_chi2(mad: F64) -> F64:
    """Sum of squared MAD variates, each standardised by its median absolute deviation."""
    med = np.median(mad, axis=0)
    sig = 1.4826 * np.median(np.abs(mad - med), axis=0)
    return np.asarray((((mad - med) / np.maximum(sig, 1e-9)) ** 2).sum(axis=1), dtype=float)


FIT_SAMPLE = 100_000  # pixels the canonical transform is fitted on (then applied to all)


def irmad(x: F64, y: F64, max_iter: int = MAX_ITER, robust: bool = True,
          fit_sample: int = FIT_SAMPLE) -> tuple[F64, F64]:
    """(chi-square statistic per row, canonical correlations) of IR-MAD on rows of x, y.

    With ``robust`` each MAD variate is standardised by its median absolute deviation
    instead of its modelled no-change variance ``2(1 − ρ)``: where most of the scene did
    change (a new suburb) the weighted variance collapses and flags nearly every pixel,
    while the median keeps "change" meaning "unusual for this pair"."""
    from scipy.linalg import eigh
    from scipy.stats import chi2

    if x.shape != y.shape or x.ndim != 2 or len(x) < 10:
        raise InputError("IR-MAD needs two equally shaped (pixels, bands) arrays with ≥ 10 pixels")
    full_x, full_y = x, y
    if len(x) > fit_sample:  # a fixed-seed sample keeps results reproducible
        idx = np.random.default_rng(0).choice(len(x), fit_sample, replace=False)
        x, y = x[idx], y[idx]
    n, p = x.shape
    w = np.ones(n)
    rho_old: F64 | None = None
    rho = np.zeros(p)
    z = np.zeros(n)
    a = b = np.eye(p)
    mx, my = x.mean(axis=0), y.mean(axis=0)
    for _ in range(max_iter):
        sw = w.sum()
        mx, my = (w @ x) / sw, (w @ y) / sw
        xc, yc = x - mx, y - my
        xy = np.hstack([xc, yc])
        s = (xy * w[:, None]).T @ xy / sw
        s += np.eye(2 * p) * 1e-9 * np.trace(s)  # keeps flat bands from making s singular
        sxx, syy, sxy = s[:p, :p], s[p:, p:], s[:p, p:]
        lam, a = eigh(sxy @ np.linalg.solve(syy, sxy.T), sxx)
        rho = np.sqrt(np.clip(lam, 0.0, 1.0))
        b = np.linalg.solve(syy, sxy.T @ a)
        a /= np.sqrt(np.einsum("ij,ij->j", a, sxx @ a))[None, :]
        b /= np.sqrt(np.einsum("ij,ij->j", b, syy @ b))[None, :]
        b *= np.sign(np.einsum("ij,ij->j", a, sxy @ b))[None, :]
        mad = xc @ a - yc @ b
        z = _robust_chi2(mad) if robust else (mad**2 / np.maximum(2 * (1 - rho), 1e-6)).sum(axis=1)
        w = 1 - chi2.cdf(z, p)
        if rho_old is not None and np.abs(rho - rho_old).max() < TOL_RHO:
            break
        rho_old = rho
    if full_x is x:
        return z, rho
    mad_s = (x - mx) @ a - (y - my) @ b
    mad = (full_x - mx) @ a - (full_y - my) @ b
    if robust:
        med = np.median(mad_s, axis=0)
        sig = 1.4826 * np.median(np.abs(mad_s - med), axis=0)
        return np.asarray((((mad - med) / np.maximum(sig, 1e-9)) ** 2).sum(axis=1), dtype=float), rho
    return np.asarray((mad**2 / np.maximum(2 * (1 - rho), 1e-6)).sum(axis=1), dtype=float), rho


def change_mask(before: NDArray[np.uint8], after: NDArray[np.uint8], gsd_m: float,
                valid: B | None = None, robust: bool = True, z_change: float = Z_CHANGE) -> tuple[B, F64]:
    """(cleaned change mask, statistic image) of two aligned RGB images.

    ``robust=False, z_change=13.28`` (the χ²₄ 99 % point) is Nielsen's original test."""
    import cv2

    if before.shape != after.shape:
        raise InputError(f"images differ in shape {before.shape} vs {after.shape}; align them first")
    h, w = before.shape[:2]
    ok = np.ones((h, w), bool) if valid is None else valid
    fx, fy = features(before, gsd_m), features(after, gsd_m)
    sel = ok.ravel()
    z = np.zeros(h * w)
    zs, _ = irmad(fx[sel], fy[sel], robust=robust)
    z[sel] = zs
    zimg = z.reshape(h, w)
    m = ((zimg > z_change) & ok).astype(np.uint8)
    k = max(1, round(MORPH_M / gsd_m))
    kernel = np.ones((k, k), np.uint8)
    cleaned = cv2.morphologyEx(cv2.morphologyEx(m, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
    n, lab, st, _ = cv2.connectedComponentsWithStats(cleaned, connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = st[1:, cv2.CC_STAT_AREA] * gsd_m**2 >= MIN_AREA_M2
    return keep[lab] & ok, zimg


GREY_DROP = 0.05  # saturation drop (0..1) below which greying is noise; 3 % of an unchanged-looking airport pair passes it


def greying_mask(before: NDArray[np.uint8], after: NDArray[np.uint8], gsd_m: float,
                 valid: B | None = None) -> B:
    """Where the surface turned grey between the dates (see the module docstring), cleaned."""
    import cv2

    if before.shape != after.shape:
        raise InputError(f"images differ in shape {before.shape} vs {after.shape}; align them first")
    ok = np.ones(before.shape[:2], bool) if valid is None else valid
    sigma = max(0.5, 1.0 / gsd_m)  # 1 m: roofs and vehicles, not texture

    def saturation(rgb: NDArray[np.uint8]) -> F64:
        f = cv2.GaussianBlur(rgb.astype(np.float32) / 255.0, (0, 0), sigma)
        mx, mn = f.max(axis=2), f.min(axis=2)
        return np.asarray((mx - mn) / np.maximum(mx, 1e-3), dtype=float)

    drop = saturation(before) - saturation(after)
    q = ((np.clip(drop[ok], -1, 1) + 1) * 127.5).astype(np.uint8).reshape(-1, 1)
    otsu, _ = cv2.threshold(q, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    m = ((drop > max(otsu / 127.5 - 1, GREY_DROP)) & ok).astype(np.uint8)
    k = max(1, round(MORPH_M / gsd_m))
    kernel = np.ones((k, k), np.uint8)
    cleaned = cv2.morphologyEx(cv2.morphologyEx(m, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
    return np.asarray(cleaned > 0, dtype=bool) & ok


def f1_score(pred: B, truth: B) -> tuple[float, float, float]:
    """(precision, recall, F1) of a binary mask against a reference mask."""
    tp = float((pred & truth).sum())
    fp = float((pred & ~truth).sum())
    fn = float((~pred & truth).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)


# -- scenes ----------------------------------------------------------------------------------


def _warped(scene: dict[str, Any], h_ref: F64, size: tuple[int, int]) -> tuple[NDArray[np.uint8], B]:
    """The scene warped into the (scaled) reference frame, and where it has pixels."""
    import cv2

    side = round(max(size) / max(C.scale_of(h_ref), 1e-6))
    rgb, s = S.read_overview(scene["path"], max(64, min(side, 8192)))
    m = C.index_h(h_ref @ np.diag([1 / s, 1 / s, 1.0]))
    img = cv2.warpPerspective(rgb, m, size, flags=cv2.INTER_LINEAR)
    valid = cv2.warpPerspective(np.ones(rgb.shape[:2], np.uint8), m, size, flags=cv2.INTER_NEAREST) > 0
    return np.asarray(img, np.uint8), np.asarray(valid, bool)


def pixel_change_scenes(a: dict[str, Any], b: dict[str, Any], ref: dict[str, Any], site: Site | None,
                        map_out: str | None = None) -> dict[str, Any]:
    """Pixel change between stored scenes a and b in the reference frame, summarised."""
    import cv2

    ha, hb = (np.asarray(s["coreg"]["H"], float) for s in (a, b))
    scale = min(1.0, WORK_PX / max(ref["width_px"], ref["height_px"]))
    size = (max(1, round(ref["width_px"] * scale)), max(1, round(ref["height_px"] * scale)))
    sc = np.diag([scale, scale, 1.0])
    ia, va = _warped(a, sc @ ha, size)
    ib, vb = _warped(b, sc @ hb, size)
    valid = cv2.erode((va & vb).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if valid.sum() < 100:
        raise InputError(f"scenes {a['scene_id']} and {b['scene_id']} hardly overlap; nothing to compare")
    gsd_ref = ref.get("gsd_m") or a.get("gsd_m") or b.get("gsd_m")
    gsd = (gsd_ref or 0.5) / scale
    mask, _ = change_mask(ia, ib, gsd, valid)
    grey = greying_mask(ia, ib, gsd, valid)
    if map_out:  # red: IR-MAD change, green: turned grey (yellow: both)
        cv2.imwrite(map_out, np.dstack([np.zeros_like(mask), grey, mask]).astype(np.uint8) * 255)
    px_m2 = gsd**2 if gsd_ref else None
    zones: list[dict[str, Any]] = [_summary(None, mask, valid, px_m2, grey)]
    georef = bool(ref.get("crs") and ref.get("transform"))
    if site is not None and georef:
        for z in site.zones:
            zm = _zone_mask(z.geometry, ref, scale, size)
            if zm.any():
                zones.append(_summary(z.name, mask & zm, valid & zm, px_m2, grey & zm))
    return {"method": "irmad-robust", "z_change": Z_CHANGE, "work_gsd_m": round(gsd, 3) if gsd_ref else None,
            "zones": zones, "regions": _regions(mask, ref, site, scale, px_m2, georef)}


def _summary(zone: str | None, mask: B, valid: B, px_m2: float | None, grey: B) -> dict[str, Any]:
    n_valid = int(valid.sum())
    n, g = int(mask.sum()), int(grey.sum())
    return {"zone": zone, "changed_frac": round(n / n_valid, 4) if n_valid else None,
            "changed_area_m2": round(n * px_m2, 1) if px_m2 else None,
            "greyed_frac": round(g / n_valid, 4) if n_valid else None,
            "greyed_area_m2": round(g * px_m2, 1) if px_m2 else None, "compared_px": n_valid}


def _zone_mask(geom: Any, ref: dict[str, Any], scale: float, size: tuple[int, int]) -> B:
    import cv2

    m = np.zeros((size[1], size[0]), np.uint8)
    polys = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
    for p in polys:
        lon, lat = np.asarray(p.exterior.coords).T
        x, y = S.lonlat_to_pixel(ref["crs"], tuple(ref["transform"]), lon, lat)
        pts = np.stack([x * scale, y * scale], 1).round().astype(np.int32)
        cv2.fillPoly(m, [pts], (1,))
    return m > 0


MAX_REGIONS = 25  # largest changed regions listed with positions


def _regions(mask: B, ref: dict[str, Any], site: Site | None, scale: float, px_m2: float | None,
             georef: bool) -> list[dict[str, Any]]:
    import cv2

    n, _, st, cen = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    order: list[int] = (np.argsort(-st[1:, cv2.CC_STAT_AREA])[:MAX_REGIONS] + 1).tolist() if n > 1 else []
    out = []
    for i in order:
        x, y = cen[i] / scale
        r: dict[str, Any] = {"x_ref_px": round(float(x), 1), "y_ref_px": round(float(y), 1),
                             "area_px": int(st[i, cv2.CC_STAT_AREA] / scale**2)}
        if px_m2:
            r["area_m2"] = round(float(st[i, cv2.CC_STAT_AREA]) * px_m2, 1)
        if georef:
            lon, lat = S.pixel_to_lonlat(ref["crs"], tuple(ref["transform"]), [x], [y])
            r["lon"], r["lat"] = round(float(lon[0]), 7), round(float(lat[0]), 7)
            r["zone"] = site.zone_of(r["lat"], r["lon"])[0] if site is not None and site.zones else None
        out.append(r)
    return out


def footprint_overlap(a: dict[str, Any], b: dict[str, Any]) -> Polygon:
    """The overlap of two aligned scenes in reference pixels."""
    return C.outline(np.asarray(a["coreg"]["H"], float), a["width_px"], a["height_px"]).intersection(
        C.outline(np.asarray(b["coreg"]["H"], float), b["width_px"], b["height_px"]))
