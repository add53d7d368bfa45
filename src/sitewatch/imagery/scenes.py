"""Open, describe and read scenes — GeoTIFF/COG, JPEG/PNG — without holding them whole.

Contract:

* :func:`describe` returns a :class:`SceneInfo`: size, bands, CRS (``"EPSG:n"`` or WKT),
  the affine pixel→CRS transform, the footprint as a lon/lat polygon, the ground sample
  distance in metres, and the acquisition time from the file's tags when present
  (GDAL ``IMAGERY`` domain ``ACQUISITIONDATETIME``, ``ACQUISITION_DATETIME``, …, then
  ``TIFFTAG_DATETIME``). It reads headers only.
* Plain images get their georeference from a world file beside them (``.jgw``, ``.pgw``,
  ``.wld``; GDAL reads it) with ``crs`` given (default EPSG:4326), or from ``corners``
  (four lon/lat corners: top-left, top-right, bottom-right, bottom-left).
* :func:`read_overview` and :func:`read_window` read decimated overviews and windows as
  H×W×3 ``uint8`` through GDAL's block cache, capped at :data:`GDAL_CACHE_MB`, so a
  20,000 × 20,000 px scene never sits whole in memory. Non-``uint8`` data are stretched
  between the 2nd and 98th percentiles of an overview.
* :func:`cloud_haze` flags cloud (bright, white, smooth blobs) and haze (a raised dark
  channel, He et al. 2009) on an overview; the measured fractions go in ``meta``.

Paths may name an archive member as ``archive.tar!member.tif`` (read into memory).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import Polygon

from sitewatch import geo
from sitewatch.errors import FormatError, InputError

U8 = NDArray[np.uint8]
Affine6 = tuple[float, float, float, float, float, float]

GDAL_CACHE_MB = 64  # block cache ceiling for every read: bounds peak memory on huge scenes
OVERVIEW_PX = 1024  # longest side of the overview used for flags and stretch statistics

# Tags that hold the acquisition time, best first ((namespace, key)); TIFFTAG_DATETIME is
# the file's own date and only a fallback.
_TIME_TAGS = (
    ("IMAGERY", "ACQUISITIONDATETIME"),
    (None, "ACQUISITIONDATETIME"),
    (None, "ACQUISITION_DATETIME"),
    (None, "ACQUISITION_DATE"),
    (None, "DATETIME_ACQUIRED"),
    (None, "DATE_ACQUIRED"),
    (None, "DATETIME"),
    (None, "TIFFTAG_DATETIME"),
)


@dataclass(frozen=True)
class SceneInfo:
    """What the header of an image says (no pixels read)."""

    width_px: int
    height_px: int
    bands: int
    dtype: str
    crs: str | None
    transform: Affine6 | None  # rasterio order: a, b, c, d, e, f (x = a*col + b*row + c)
    footprint: Polygon | None  # lon/lat
    gsd_m: float | None
    t_utc: datetime | None
    time_source: str | None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def georeferenced(self) -> bool:
        return self.crs is not None and self.transform is not None


# -- opening ---------------------------------------------------------------------------


def gdal_env() -> Any:
    """The rasterio environment every read runs in (bounded block cache, no sidecar scans)."""
    import rasterio

    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 1024 * 1024, GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR")


@contextmanager
def open_dataset(path: str | Path) -> Iterator[Any]:
    """A rasterio dataset for ``path`` (a file, or ``archive!member``), closed on exit."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    name = str(path)
    with gdal_env(), warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        if "!" in name and not Path(name).exists():
            data = _member_bytes(name)
            with rasterio.MemoryFile(data) as mem, mem.open() as ds:
                yield ds
            return
        if not Path(name).exists():
            raise InputError("image file not found; was it moved? re-ingest it from its new place", path=name)
        # world files (.jgw/.wld) are only read when GDAL may list the folder
        env = rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="FALSE")
        try:
            with env, rasterio.open(name) as ds:
                yield ds
        except RasterioIOError as exc:
            raise FormatError(f"not an image GDAL can read ({exc})", path=name) from None
        except UnicodeDecodeError:  # a tag or CRS text in the file that is not UTF-8
            raise FormatError("the image's metadata is not UTF-8 text (a damaged file?)", path=name) from None


def _member_bytes(name: str) -> bytes:
    from sitewatch.sources.base import iter_inputs

    archive = name.split("!", 1)[0]
    for src in iter_inputs([archive]):
        if src.name == name:
            with src.open() as f:
                return f.read()
    raise InputError("archive member not found; was the archive changed?", path=name)


# -- describing ------------------------------------------------------------------------


def describe(
    path: str | Path,
    crs: str | None = None,
    corners: list[tuple[float, float]] | None = None,
) -> SceneInfo:
    """Header facts of the image at ``path`` (see the module docstring)."""
    with open_dataset(path) as ds:
        tags = {k: str(v) for k, v in ds.tags().items()}
        try:
            imagery = {k: str(v) for k, v in ds.tags(ns="IMAGERY").items()}
        except Exception:  # some drivers raise for an unknown domain
            imagery = {}
        t, t_src = acquisition_time(tags, imagery)
        ds_crs = ds.crs.to_string() if ds.crs else None
        tf = ds.transform
        has_tf = not tf.is_identity
        transform: Affine6 | None = (tf.a, tf.b, tf.c, tf.d, tf.e, tf.f) if has_tf else None
        w, h = int(ds.width), int(ds.height)
        info_bands, dtype = int(ds.count), str(ds.dtypes[0])
    if corners is not None:
        transform = affine_from_corners(corners, w, h)
        ds_crs = "EPSG:4326"
    elif transform is not None and ds_crs is None:
        ds_crs = crs or "EPSG:4326"
        if ds_crs == "EPSG:4326" and not _plausible_lonlat(transform, w, h):
            raise InputError(
                "the world file's coordinates are not longitude/latitude; give the image's CRS "
                "with --crs (e.g. --crs EPSG:32636)", path=str(path))
    footprint = gsd = None
    if transform is not None and ds_crs is not None:
        try:
            footprint = footprint_lonlat(ds_crs, transform, w, h)
            gsd = gsd_m(ds_crs, transform, w, h)
        except Exception as exc:  # rasterio/PROJ raise several types (e.g. an engineering CRS)
            raise InputError(f"the image's CRS cannot be turned into longitude/latitude ({str(exc)[:120]}); "
                             "give --crs or --corners", path=str(path)) from None
    return SceneInfo(w, h, info_bands, dtype, ds_crs, transform, footprint, gsd, t, t_src,
                     {**tags, **{f"IMAGERY:{k}": v for k, v in imagery.items()}})


def acquisition_time(tags: dict[str, str], imagery: dict[str, str]) -> tuple[datetime | None, str | None]:
    """(UTC time, tag it came from) from GDAL metadata, or (None, None)."""
    upper = {k.upper(): v for k, v in tags.items()}
    img = {k.upper(): v for k, v in imagery.items()}
    for ns, key in _TIME_TAGS:
        raw = (img if ns == "IMAGERY" else upper).get(key)
        if raw:
            t = parse_tag_time(raw)
            if t is not None:
                return t, (f"{ns}:{key}" if ns else key)
    return None, None


def parse_tag_time(raw: str) -> datetime | None:
    """``2024:12:13 08:15:02`` (TIFF), ISO 8601, or a date; naive means UTC."""
    s = raw.strip().replace("Z", "+00:00")
    if len(s) >= 19 and s[4] == ":" and s[7] == ":":
        s = s[:4] + "-" + s[5:7] + "-" + s[8:]
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _plausible_lonlat(tf: Affine6, w: int, h: int) -> bool:
    xs = [tf[2], tf[0] * w + tf[1] * h + tf[2]]
    ys = [tf[5], tf[3] * w + tf[4] * h + tf[5]]
    return all(-180 <= x <= 180 for x in xs) and all(-90 <= y <= 90 for y in ys)


def affine_from_corners(corners: list[tuple[float, float]], w: int, h: int) -> Affine6:
    """Least-squares affine (pixel→lon/lat) through four (lon, lat) corners TL, TR, BR, BL."""
    if len(corners) != 4:
        raise InputError("--corners needs four LON,LAT pairs: top-left;top-right;bottom-right;bottom-left")
    px = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)
    a = np.hstack([px, np.ones((4, 1))])
    ll = np.asarray(corners, dtype=float)
    if not (np.all(np.abs(ll[:, 0]) <= 180) and np.all(np.abs(ll[:, 1]) <= 90)):
        raise InputError("--corners must be LON,LAT pairs in degrees (lon -180..180, lat -90..90)")
    cx, *_ = np.linalg.lstsq(a, ll[:, 0], rcond=None)
    cy, *_ = np.linalg.lstsq(a, ll[:, 1], rcond=None)
    return (float(cx[0]), float(cx[1]), float(cx[2]), float(cy[0]), float(cy[1]), float(cy[2]))


def pixel_to_crs(tf: Affine6, cols: Any, rows: Any) -> tuple[Any, Any]:
    c, r = np.asarray(cols, dtype=float), np.asarray(rows, dtype=float)
    return tf[0] * c + tf[1] * r + tf[2], tf[3] * c + tf[4] * r + tf[5]


def to_lonlat(crs: str, xs: Any, ys: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """CRS coordinates → (lon, lat) arrays."""
    xs_a, ys_a = np.atleast_1d(np.asarray(xs, dtype=float)), np.atleast_1d(np.asarray(ys, dtype=float))
    if crs in ("EPSG:4326", "OGC:CRS84"):
        return xs_a, ys_a
    from rasterio.warp import transform

    lon, lat = transform(crs, "EPSG:4326", xs_a.tolist(), ys_a.tolist())
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def from_lonlat(crs: str, lon: Any, lat: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(lon, lat) → CRS coordinates."""
    lo, la = np.atleast_1d(np.asarray(lon, dtype=float)), np.atleast_1d(np.asarray(lat, dtype=float))
    if crs in ("EPSG:4326", "OGC:CRS84"):
        return lo, la
    from rasterio.warp import transform

    x, y = transform("EPSG:4326", crs, lo.tolist(), la.tolist())
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def pixel_to_lonlat(crs: str, tf: Affine6, cols: Any, rows: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return to_lonlat(crs, *pixel_to_crs(tf, cols, rows))


def lonlat_to_pixel(crs: str, tf: Affine6, lon: Any, lat: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, y = from_lonlat(crs, lon, lat)
    a, b, c, d, e, f = tf
    det = a * e - b * d
    xs, ys = x - c, y - f
    return (e * xs - b * ys) / det, (-d * xs + a * ys) / det


def footprint_lonlat(crs: str, tf: Affine6, w: int, h: int, per_edge: int = 16) -> Polygon:
    """The image outline in lon/lat, densified along each edge (curved in other CRSs)."""
    t = np.linspace(0.0, 1.0, per_edge, endpoint=False)
    cols = np.concatenate([t * w, np.full_like(t, w), (1 - t) * w, np.zeros_like(t)])
    rows = np.concatenate([np.zeros_like(t), t * h, np.full_like(t, h), (1 - t) * h])
    lon, lat = pixel_to_lonlat(crs, tf, cols, rows)
    return Polygon(list(zip(lon.round(7), lat.round(7), strict=True)))


def gsd_m(crs: str, tf: Affine6, w: int, h: int) -> float:
    """Ground sample distance at the image centre: geometric mean of pixel width and height (m)."""
    step = max(1.0, min(w, h) / 10)  # a longer baseline keeps the estimate precise
    cx, cy = w / 2, h / 2
    lon, lat = pixel_to_lonlat(crs, tf, [cx, cx + step, cx], [cy, cy, cy + step])
    dx = float(geo.haversine_m(lat[0], lon[0], lat[1], lon[1])) / step
    dy = float(geo.haversine_m(lat[0], lon[0], lat[2], lon[2])) / step
    return float(np.sqrt(dx * dy))


# -- reading pixels ---------------------------------------------------------------------


def _band_indexes(count: int) -> list[int]:
    return [1, 2, 3] if count >= 3 else [1]


def _to_rgb8(a: NDArray[Any], stretch: tuple[float, float] | None) -> U8:
    """(C, H, W) array → H×W×3 uint8 (grey repeated; non-uint8 stretched)."""
    if a.dtype != np.uint8:
        lo, hi = stretch if stretch is not None else _percentiles(a)
        a = np.clip((a.astype(np.float32) - lo) * (255.0 / max(hi - lo, 1e-6)), 0, 255).astype(np.uint8)
    img = np.moveaxis(a, 0, -1)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img)


def _percentiles(a: NDArray[Any]) -> tuple[float, float]:
    lo, hi = np.percentile(a[:, ::4, ::4], [2, 98])
    return float(lo), float(hi)


def read_overview(path: str | Path, max_side_px: int = OVERVIEW_PX) -> tuple[U8, float]:
    """The whole scene shrunk so its longest side is at most ``max_side_px``.

    Returns ``(rgb, scale)`` where ``scale`` is overview pixels per scene pixel (≤ 1).
    GDAL uses the file's overviews when it has them and otherwise decimates block by block.
    """
    from rasterio.enums import Resampling

    with open_dataset(path) as ds:
        scale = min(1.0, max_side_px / max(ds.width, ds.height))
        ow, oh = max(1, round(ds.width * scale)), max(1, round(ds.height * scale))
        a = ds.read(_band_indexes(ds.count), out_shape=(min(ds.count, 3), oh, ow),
                    resampling=Resampling.average if scale < 1 else Resampling.nearest)
        sx = ow / ds.width
    return _to_rgb8(a, None), sx


def read_window(
    path: str | Path, x0: int, y0: int, x1: int, y1: int,
    out_w: int | None = None, out_h: int | None = None,
    stretch: tuple[float, float] | None = None,
) -> U8:
    """Scene pixels ``[y0:y1, x0:x1]`` (zeros outside the image), resampled to out_h×out_w."""
    from rasterio.enums import Resampling
    from rasterio.windows import Window

    if x1 <= x0 or y1 <= y0:
        raise InputError(f"empty window {x0},{y0}-{x1},{y1}")
    ow, oh = out_w or (x1 - x0), out_h or (y1 - y0)
    with open_dataset(path) as ds:
        if stretch is None and ds.dtypes[0] != "uint8":
            stretch = _percentiles(ds.read(_band_indexes(ds.count), out_shape=(
                min(ds.count, 3), min(ds.height, 256), min(ds.width, 256))))
        a = ds.read(_band_indexes(ds.count), window=Window(x0, y0, x1 - x0, y1 - y0),
                    out_shape=(min(ds.count, 3), oh, ow), boundless=True, fill_value=0,
                    resampling=Resampling.average if ow < x1 - x0 else Resampling.bilinear)
    return _to_rgb8(a, stretch)


# -- cloud and haze -----------------------------------------------------------------------

CLOUD_FRAC = 0.05  # flag when bright-white-smooth blobs cover more than 5 % of the scene
HAZE_DARK_P05 = 0.30  # flag when even the darkest 5 % of the dark channel is above 30 % grey
_MIN_BLOB_FRAC = 0.002  # blobs smaller than 0.2 % of the scene are roofs and aprons, not cloud


MIN_CLOUD_SIDE_PX = 512  # smaller images (tiles, chips) are too small to tell cloud from roofs


def cloud_haze(rgb: U8) -> tuple[bool, dict[str, float | None]]:
    """(flag, metrics) on an overview: cloud fraction and dark-channel 5th percentile.

    Cloud: bright (max channel > 0.70), nearly grey (saturation < 0.07: concrete aprons
    measure 0.10-0.13, clouds 0.02-0.04 on the Airbus Pléiades samples) and smooth, in
    blobs of at least 0.2 % of the scene. Not assessed (``cloud_frac`` None) on images
    under :data:`MIN_CLOUD_SIDE_PX`. Haze: the dark channel's 5th percentile.
    """
    import cv2

    f = rgb.astype(np.float32) / 255.0
    vmax, vmin = f.max(axis=2), f.min(axis=2)
    dark = cv2.erode(vmin, np.ones((15, 15), np.uint8))  # dark channel, 15 px patch (He et al.)
    dark_p05 = float(np.percentile(dark, 5))
    metrics: dict[str, float | None] = {"cloud_frac": None, "dark_channel_p05": round(dark_p05, 4)}
    flag = dark_p05 > HAZE_DARK_P05
    if min(rgb.shape[:2]) < MIN_CLOUD_SIDE_PX:
        return bool(flag), metrics
    sat = (vmax - vmin) / np.maximum(vmax, 1e-6)
    grey = f.mean(axis=2)
    k = (9, 9)
    local_sd = np.sqrt(np.maximum(cv2.blur(grey * grey, k) - cv2.blur(grey, k) ** 2, 0.0))
    cand = ((vmax > 0.70) & (sat < 0.07) & (local_sd < 0.03)).astype(np.uint8)
    cand = cv2.morphologyEx(cand, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA] if n > 1 else np.zeros(0, np.int64)
    cloud_frac = float(areas[areas >= _MIN_BLOB_FRAC * cand.size].sum()) / cand.size
    metrics["cloud_frac"] = round(cloud_frac, 4)
    return bool(flag or cloud_frac > CLOUD_FRAC), metrics


# -- rows --------------------------------------------------------------------------------


def scene_row(
    *, scene_id: str, site: str, path: str, sha256: str, info: SceneInfo,
    t_utc: datetime | None, provider: str | None, gsd: float | None,
    cloud_flag: bool | None, meta: dict[str, Any], footprint: Polygon | None = None,
    simulated: bool = False,
) -> dict[str, Any]:
    """One ``scenes`` row (without provenance columns)."""
    fp = footprint if footprint is not None else info.footprint
    return {
        "scene_id": scene_id, "site": site, "t_utc": t_utc, "provider": provider, "path": path,
        "sha256": sha256, "gsd_m": gsd, "width_px": info.width_px, "height_px": info.height_px,
        "crs": info.crs, "transform": json.dumps(list(info.transform)) if info.transform else None,
        "footprint_wkt": fp.wkt if fp is not None else None, "coreg": None, "cloud_flag": cloud_flag,
        "simulated": simulated, "meta": json.dumps(meta, sort_keys=True, default=str),
    }
