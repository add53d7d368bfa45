"""Co-registration: every scene of a site aligned to the site's reference scene.

Method (one facade, :func:`align`):

1. Both scenes are read as overviews at a common ground resolution (the reference's
   longest side at most :data:`WORK_PX`; the other scaled by the GSD ratio when both are
   known), converted to grey and contrast-equalised (CLAHE) so that sun, season and
   sensor differences weigh less.
2. ORB keypoints (SIFT with ``method="sift"``, and as the fallback when ORB fails; AKAZE
   left OpenCV's main modules in 5.0) are matched with Lowe's ratio test (0.8, Lowe 2004)
   and a homography is fitted with MAGSAC++ RANSAC (Barath et al. 2020).
   For a georeferenced scene and reference, the georeferences give the first guess and
   only matches that agree with it within :data:`GEOREF_SLACK_M` are kept: image matching
   then *refines* the georeference.
3. A local refinement at full resolution: phase correlation of up to 16 windows spread
   over the overlap gives local offsets; a correction homography is fitted to them when
   enough windows agree.
4. The residual is the median distance, in reference pixels, between the points
   matched and the homography's prediction (phase-correlation windows after step 3).

A scene is ``aligned`` when at least :data:`MIN_INLIERS` matches agree, the residual is
at most :data:`MAX_RESIDUAL_PX` and the homography is plausible (scale within 1:4, no
strong perspective); a georeferenced scene whose refinement fails keeps its georeference
(status ``georef``); anything else is ``failed`` with the reason — callers must not use
a failed scene for change (:func:`usable`). The transform stored maps scene pixels to
reference pixels (``H`` 3×3, row-major) and goes in ``scenes.coreg`` with the residual.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import Polygon

from sitewatch.errors import InputError
from sitewatch.imagery import scenes as S
from sitewatch.store import scenes as SC
from sitewatch.store.db import Store

log = logging.getLogger(__name__)

F64 = NDArray[np.float64]

WORK_PX = 1600  # longest side of the reference at matching resolution (≈ 1.5 s of SIFT on one core)
MIN_INLIERS = 25  # fewer RANSAC inliers than this and a homography is not trusted
MAX_RESIDUAL_PX = 4.0  # median residual above this (reference px) means misaligned
GEOREF_SLACK_M = 150.0  # georeferences of commercial scenes agree to tens of metres
RATIO = 0.8  # Lowe's ratio test
RANSAC_PX = 3.0  # inlier threshold at matching resolution
AFFINE_SHARE = 0.95  # an affine fit keeping 95 % of the homography's inliers is preferred


@dataclass
class CoregResult:
    """Outcome of aligning one scene to its site's reference scene."""

    scene_id: str
    ref: str
    status: str  # reference | aligned | georef | failed
    H: list[list[float]] | None = None  # scene px → reference px
    residual_px: float | None = None
    inliers: int = 0
    matches: int = 0
    method: str = "orb+magsac"
    reason: str | None = None
    refined_windows: int = 0
    t_utc: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def matrix(self) -> F64:
        if self.H is None:
            raise InputError(f"scene {self.scene_id} has no transform to its reference ({self.status})")
        return np.asarray(self.H, dtype=float)


def usable(coreg: dict[str, Any] | None) -> bool:
    """True when a scene's stored co-registration may be used to compare it with others."""
    if not coreg:
        return False
    return coreg.get("status") in ("reference", "aligned", "georef") and coreg.get("H") is not None


# -- geometry helpers ----------------------------------------------------------------------


def apply_h(h: F64, xs: Any, ys: Any) -> tuple[F64, F64]:
    """Apply a homography to pixel coordinates."""
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    d = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    return (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / d, (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / d


def index_h(h: F64) -> F64:
    """A homography between corner-convention coordinates (pixel i spans [i, i+1), what
    ``H`` and the georeference use) as one between pixel indices (what OpenCV warps use)."""
    t = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    return np.asarray(np.linalg.inv(t) @ h @ t, dtype=float)


def scale_of(h: F64) -> float:
    """Linear scale of a homography's affine part (reference px per scene px)."""
    return float(np.sqrt(abs(np.linalg.det(h[:2, :2] / h[2, 2]))))


def _scale(s: float) -> F64:
    return np.diag([s, s, 1.0])


def outline(h: F64, w: int, h_px: int) -> Polygon:
    """The outline of a w×h scene mapped by ``h`` (reference pixels)."""
    x, y = apply_h(h, [0, w, w, 0], [0, 0, h_px, h_px])
    return Polygon(list(zip(x, y, strict=True)))


def _georef_h(scene: dict[str, Any], ref: dict[str, Any]) -> F64:
    """Scene px → reference px through both georeferences (least squares over a grid)."""
    import cv2

    g = np.linspace(0.0, 1.0, 5)
    gx, gy = np.meshgrid(g * scene["width_px"], g * scene["height_px"])
    lon, lat = S.pixel_to_lonlat(scene["crs"], tuple(scene["transform"]), gx.ravel(), gy.ravel())
    rx, ry = S.lonlat_to_pixel(ref["crs"], tuple(ref["transform"]), lon, lat)
    src = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
    dst = np.stack([rx, ry], 1).astype(np.float32)
    h, _ = cv2.findHomography(src, dst, 0)
    return np.asarray(h, dtype=float)


def _georeferenced(s: dict[str, Any]) -> bool:
    return bool(s.get("crs")) and bool(s.get("transform"))


# -- matching --------------------------------------------------------------------------------


def _grey(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    import cv2

    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return np.asarray(cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(g), dtype=np.uint8)


def _features(grey: NDArray[np.uint8], method: str) -> tuple[F64, Any]:
    import cv2

    det: Any
    if method == "orb":
        det = cv2.ORB_create(nfeatures=12000, fastThreshold=10)  # type: ignore[attr-defined]
    else:
        det = cv2.SIFT_create(nfeatures=8000)  # type: ignore[attr-defined]
    kp, desc = det.detectAndCompute(grey, None)
    pts = np.array([k.pt for k in kp], dtype=float).reshape(-1, 2)
    return pts, desc


def _match(d1: Any, d2: Any, method: str) -> list[tuple[int, int]]:
    import cv2

    if d1 is None or d2 is None or len(d1) < 2 or len(d2) < 2:
        return []
    m: Any
    if method == "orb":
        m = cv2.BFMatcher(cv2.NORM_HAMMING)
    else:
        m = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 64})
    out = []
    for pair in m.knnMatch(d1, d2, k=2):
        if len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance:
            out.append((pair[0].queryIdx, pair[0].trainIdx))
    return out


def _stamp(path: str) -> tuple[int, int]:
    """(size, mtime) so that a cached reference is dropped when its file changes."""
    try:
        st = os.stat(path)
        return st.st_size, st.st_mtime_ns
    except OSError:  # archive members: their archive's changes are caught by the sha256 at ingest
        return 0, 0


# A site's scenes are all aligned to one reference: its features and pixels are computed
# once per run rather than once per scene (two entries: a few MB of descriptors, ≤ 120 MB of pixels).
@lru_cache(maxsize=2)
def _ref_features(path: str, method: str, stamp: tuple[int, int]) -> tuple[F64, Any, float]:
    rgb, s = S.read_overview(path, WORK_PX)
    pts, desc = _features(_grey(rgb), method)
    return pts, desc, s


@lru_cache(maxsize=1)
def _ref_pixels(path: str, stamp: tuple[int, int]) -> _Pixels:
    return _Pixels(path)


def _plausible(h: F64, w: int, hh: int) -> str | None:
    a = h[:2, :2] / h[2, 2]
    sv = np.linalg.svd(a, compute_uv=False)
    if not np.all(np.isfinite(sv)) or sv[1] <= 0 or sv[0] / sv[1] > 4 or not 0.25 <= np.sqrt(sv[0] * sv[1]) <= 4:
        return f"implausible scale/shear (singular values {sv[0]:.3g}, {sv[1]:.3g})"
    persp = abs(h[2, 0] / h[2, 2]) * w + abs(h[2, 1] / h[2, 2]) * hh
    if persp > 0.3:
        return f"implausible perspective ({persp:.2f})"
    return None


def align(
    scene_path: str, ref_path: str, *, scene_gsd: float | None = None, ref_gsd: float | None = None,
    init_h: F64 | None = None, slack_px: float | None = None, method: str = "orb", refine: bool = True,
) -> CoregResult:
    """Align the scene at ``scene_path`` to the one at ``ref_path`` (see the module docstring).

    ``init_h`` (scene px → reference px, from georeferences) restricts matches to those
    within ``slack_px`` reference pixels of it. Returns a result with ids left empty.
    """
    import cv2

    if method not in ("sift", "orb"):
        raise InputError(f"co-registration method {method!r}: choose sift or orb")
    p_ref, d_ref, s_ref = _ref_features(ref_path, method, _stamp(ref_path))
    side = WORK_PX
    if scene_gsd and ref_gsd:
        with S.open_dataset(scene_path) as ds:
            full = max(ds.width, ds.height)
        side = max(64, min(full, round(full * s_ref * scene_gsd / ref_gsd)))
    scn_rgb, s_scn = S.read_overview(scene_path, side)
    p_scn, d_scn = _features(_grey(scn_rgb), method)
    pairs = _match(d_scn, d_ref, method)
    res = CoregResult("", "", "failed", method=f"{method}+magsac", matches=len(pairs))
    if len(pairs) < MIN_INLIERS:
        res.reason = f"only {len(pairs)} feature matches (need {MIN_INLIERS}); scenes may not overlap"
        return res
    idx = np.asarray(pairs)
    # keypoints are at pixel indices; (i + 0.5) / s is the full-resolution corner coordinate
    src = (p_scn[idx[:, 0]] + 0.5) / s_scn
    dst = (p_ref[idx[:, 1]] + 0.5) / s_ref
    if init_h is not None:
        px, py = apply_h(init_h, src[:, 0], src[:, 1])
        near = np.hypot(px - dst[:, 0], py - dst[:, 1]) <= (slack_px or np.inf)
        src, dst = src[near], dst[near]
        if len(src) < MIN_INLIERS:
            res.reason = f"only {len(src)} matches agree with the georeference (need {MIN_INLIERS})"
            return res
    h, mask = cv2.findHomography(src.astype(np.float32), dst.astype(np.float32), cv2.USAC_MAGSAC,
                                 RANSAC_PX / s_ref, maxIters=20000, confidence=0.9999)
    if h is None:
        res.reason = "RANSAC found no consistent homography"
        return res
    h = np.asarray(h, dtype=float)
    inl = mask.ravel().astype(bool)
    # Satellite scenes of flat ground are nearly affine (push-broom, narrow field of view):
    # prefer the 6-parameter model when it explains as many matches, as it extrapolates
    # to the corners more stably than a homography's 8 parameters.
    aff, amask = cv2.estimateAffine2D(src.astype(np.float32), dst.astype(np.float32), method=cv2.RANSAC,
                                      ransacReprojThreshold=RANSAC_PX / s_ref, maxIters=20000,
                                      confidence=0.9999)
    if aff is not None and amask.ravel().sum() >= AFFINE_SHARE * inl.sum():
        h, inl = np.vstack([aff, [0.0, 0.0, 1.0]]), amask.ravel().astype(bool)
        res.method = f"{method}+affine-ransac"
    res.inliers = int(inl.sum())
    with S.open_dataset(scene_path) as ds:
        w, hh = ds.width, ds.height
    bad = _plausible(h, w, hh)
    if res.inliers < MIN_INLIERS or bad:
        res.reason = bad or f"only {res.inliers} RANSAC inliers (need {MIN_INLIERS})"
        return res
    px, py = apply_h(h, src[inl, 0], src[inl, 1])
    res.residual_px = float(np.median(np.hypot(px - dst[inl, 0], py - dst[inl, 1])))
    if refine:
        h, n_win, resid = _refine(scene_path, ref_path, h)
        res.refined_windows = n_win
        if resid is not None:
            res.residual_px = resid
    res.H = h.tolist()
    if res.residual_px is not None and res.residual_px > MAX_RESIDUAL_PX:
        res.reason = f"median residual {res.residual_px:.1f} px exceeds {MAX_RESIDUAL_PX} px"
        return res
    res.status = "aligned"
    return res


# -- full-resolution refinement ----------------------------------------------------------------

REFINE_WIN = 384  # window side (reference px) for phase correlation
REFINE_GRID = 4  # 4 × 4 windows over the overlap
MIN_REFINE_WINDOWS = 6  # a correction homography needs this many agreeing windows
MIN_PEAK = 0.08  # phase-correlation peak below this is noise (flat or changed area)


class _Pixels:
    """Windows of one scene: small scenes are decoded once (JPEG/PNG cannot be read by
    window), large ones are read window by window through GDAL."""

    WHOLE_PX = 40_000_000  # ≤ 40 Mpx (120 MB RGB) is decoded once

    def __init__(self, path: str) -> None:
        self.path = path
        with S.open_dataset(path) as ds:
            self.width, self.height = ds.width, ds.height
        self._all: NDArray[np.uint8] | None = None
        if self.width * self.height <= self.WHOLE_PX:
            self._all = S.read_window(path, 0, 0, self.width, self.height)

    def window(self, x0: int, y0: int, x1: int, y1: int) -> NDArray[np.uint8]:
        if self._all is None:
            return S.read_window(self.path, x0, y0, x1, y1)
        out = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, self.width), min(y1, self.height)
        if cx1 > cx0 and cy1 > cy0:
            out[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] = self._all[cy0:cy1, cx0:cx1]
        return out


def _refine(scene_path: str, ref_path: str, h: F64) -> tuple[F64, int, float | None]:
    """Phase-correlate full-resolution windows; return (refined H, windows used, residual)."""
    import cv2

    ref_px, scn_px = _ref_pixels(ref_path, _stamp(ref_path)), _Pixels(scene_path)

    rw, rh, sw, sh = ref_px.width, ref_px.height, scn_px.width, scn_px.height
    overlap = outline(h, sw, sh).intersection(Polygon([(0, 0), (rw, 0), (rw, rh), (0, rh)]))
    if overlap.is_empty:
        return h, 0, None
    minx, miny, maxx, maxy = overlap.bounds
    half = REFINE_WIN / 2
    xs = np.linspace(minx + half, maxx - half, REFINE_GRID)
    ys = np.linspace(miny + half, maxy - half, REFINE_GRID)
    hinv = np.asarray(np.linalg.inv(h), dtype=float)
    win = (np.hanning(REFINE_WIN)[:, None] * np.hanning(REFINE_WIN)[None, :]).astype(np.float32)
    src_pts, dst_pts = [], []
    for cy in ys:
        for cx in xs:
            x0, y0 = round(cx - half), round(cy - half)
            if x0 < 0 or y0 < 0 or x0 + REFINE_WIN > rw or y0 + REFINE_WIN > rh:
                continue
            ref_win = _grey(ref_px.window(x0, y0, x0 + REFINE_WIN, y0 + REFINE_WIN)).astype(np.float32)
            # the scene region that maps onto this window, warped into the window's frame
            qx, qy = apply_h(hinv, [x0, x0 + REFINE_WIN, x0 + REFINE_WIN, x0],
                             [y0, y0, y0 + REFINE_WIN, y0 + REFINE_WIN])
            sx0, sy0 = int(np.floor(qx.min())) - 2, int(np.floor(qy.min())) - 2
            sx1, sy1 = int(np.ceil(qx.max())) + 2, int(np.ceil(qy.max())) + 2
            if sx1 - sx0 > 4 * REFINE_WIN or sy1 - sy0 > 4 * REFINE_WIN:
                continue
            scn = scn_px.window(sx0, sy0, sx1, sy1)
            t = np.array([[1, 0, sx0], [0, 1, sy0], [0, 0, 1]], dtype=float)
            m = index_h(np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], dtype=float) @ h @ t)
            warped = np.asarray(cv2.warpPerspective(scn, m, (REFINE_WIN, REFINE_WIN),
                                                    flags=cv2.INTER_LINEAR), dtype=np.uint8)
            scn_win = _grey(warped).astype(np.float32)
            (dx, dy), peak = cv2.phaseCorrelate(scn_win, ref_win, win)
            if peak < MIN_PEAK or np.hypot(dx, dy) > REFINE_WIN / 4:
                continue
            c = REFINE_WIN / 2
            src_pts.append((x0 + c, y0 + c))
            dst_pts.append((x0 + c + dx, y0 + c + dy))
    n = len(src_pts)
    if n < MIN_REFINE_WINDOWS:
        return h, n, None
    a, b = np.asarray(src_pts, np.float32), np.asarray(dst_pts, np.float32)
    corr, mask = cv2.estimateAffine2D(a, b, method=cv2.RANSAC, ransacReprojThreshold=2.0)
    if corr is None:
        return h, n, None
    inl = mask.ravel().astype(bool)
    if inl.sum() < MIN_REFINE_WINDOWS:
        return h, int(inl.sum()), None
    c3 = np.vstack([corr, [0, 0, 1]])
    px, py = apply_h(c3, a[inl, 0], a[inl, 1])
    resid = float(np.median(np.hypot(px - b[inl, 0], py - b[inl, 1])))
    # phase correlation is sub-pixel but quantised; the residual cannot honestly be below 0.1 px
    return c3 @ h, int(inl.sum()), max(resid, 0.1)


# -- per site ------------------------------------------------------------------------------------


def choose_reference(scenes: list[dict[str, Any]], reference: str | None = None) -> dict[str, Any]:
    """The site's reference scene: ``reference`` if given, else the one marked, else the
    earliest georeferenced scene, else the earliest scene."""
    if not scenes:
        raise InputError("the site has no scenes; ingest some with `sitewatch ingest imagery`")
    if reference:
        for s in scenes:
            if s["scene_id"].startswith(reference):
                return s
        raise InputError(f"scene {reference!r} is not a scene of this site; see `sitewatch scenes --site …`")
    for s in scenes:
        if (s.get("coreg") or {}).get("status") == "reference":
            return s

    def key(s: dict[str, Any]) -> tuple[int, Any, str]:
        t = s.get("t_utc") or datetime.max.replace(tzinfo=UTC)
        return (0 if _georeferenced(s) else 1, t, s["scene_id"])

    return min(scenes, key=key)


def align_site(store: Store, site: str, reference: str | None = None, force: bool = False,
               method: str = "orb") -> list[CoregResult]:
    """Align every scene of ``site`` to its reference; store and return the results."""
    scenes = SC.list_scenes(store, site)
    if not scenes:
        return []
    ref = choose_reference(scenes, reference)
    out: list[CoregResult] = []
    for s in scenes:
        c = s.get("coreg") or {}
        if s is ref:
            r = CoregResult(s["scene_id"], s["scene_id"], "reference", np.eye(3).tolist(), 0.0, method="identity")
        elif c and c.get("ref") == ref["scene_id"] and not force:
            out.append(CoregResult(**{k: v for k, v in c.items() if k in CoregResult.__dataclass_fields__}))
            continue
        else:
            r = align_scene(s, ref, method)
        fp, gsd = _derived_footprint(s, ref, r)
        SC.set_coreg(store, s["scene_id"], r.as_json(), fp, gsd)
        out.append(r)
    return out


def align_scene(scene: dict[str, Any], ref: dict[str, Any], method: str = "orb") -> CoregResult:
    """Align one stored scene to the stored reference scene."""
    init = slack = None
    if _georeferenced(scene) and _georeferenced(ref):
        init = _georef_h(scene, ref)
        slack = GEOREF_SLACK_M / (ref.get("gsd_m") or 1.0)
    r = CoregResult("", "", "failed", reason="not tried")
    for m in dict.fromkeys((method, "sift")):
        try:
            r = align(scene["path"], ref["path"], scene_gsd=scene.get("gsd_m"), ref_gsd=ref.get("gsd_m"),
                      init_h=init, slack_px=slack, method=m)
        except Exception as exc:  # OpenCV raises cv2.error on degenerate input; report it, do not crash
            if not isinstance(exc, InputError) and type(exc).__module__ != "cv2":
                raise
            r = CoregResult("", "", "failed", reason=f"{type(exc).__name__}: {exc}")
        if r.status == "aligned":
            break
    r.scene_id, r.ref = scene["scene_id"], ref["scene_id"]
    if r.status == "failed" and init is not None:
        r.status, r.H, r.method = "georef", init.tolist(), "georeference"
        r.reason = f"image matching failed ({r.reason}); georeference kept"
    if r.status == "failed":
        log.warning("scene %s not co-registered to %s: %s", r.scene_id, r.ref, r.reason)
    return r


def _derived_footprint(scene: dict[str, Any], ref: dict[str, Any], r: CoregResult) -> tuple[str | None, float | None]:
    """Footprint and GSD of a non-georeferenced scene through its alignment to a georeferenced reference."""
    if _georeferenced(scene) or not _georeferenced(ref) or not usable(r.as_json()):
        return None, None
    h = r.matrix
    t = np.linspace(0.0, 1.0, 8, endpoint=False)
    w, hh = scene["width_px"], scene["height_px"]
    cols = np.concatenate([t * w, np.full_like(t, w), (1 - t) * w, np.zeros_like(t)])
    rows = np.concatenate([np.zeros_like(t), t * hh, np.full_like(t, hh), (1 - t) * hh])
    rx, ry = apply_h(h, cols, rows)
    lon, lat = S.pixel_to_lonlat(ref["crs"], tuple(ref["transform"]), rx, ry)
    fp = Polygon(list(zip(lon.round(7), lat.round(7), strict=True))).wkt
    scale = float(np.sqrt(abs(np.linalg.det(h[:2, :2] / h[2, 2]))))
    gsd = ref["gsd_m"] * scale if ref.get("gsd_m") else None
    return fp, gsd
