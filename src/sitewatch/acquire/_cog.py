"""Read a site's window of a remote Cloud-Optimised GeoTIFF over HTTP range requests.

:func:`read_window` opens the asset through GDAL's ``/vsicurl/`` (``/vsis3/`` for ``s3://``),
which reads the header and then only the tiles under the window (a COG's tiles and
overviews are laid out for this; a 1,200 px window of a 10,980 px Sentinel-2 tile costs a
few MB of a ~100 MB file), and writes the window as a local tiled GeoTIFF with the
acquisition time in its tags, so the scene is an ordinary local image from then on.

* The window is the site's box in the asset's CRS (box corners densified); pixels outside the
  asset are left out. Assets without a geotransform but with ground control points
  (Sentinel-1 GRD) are warped to the site's UTM zone first.
* A window over ``max_pixels`` is read decimated (GDAL takes the COG's overview), and the
  GSD reported is the one of the pixels written.
* Faults: GDAL retries ``429``/``5xx`` itself (``GDAL_HTTP_MAX_RETRY``) and re-asks a tile whose
  body was cut; what still fails is retried here with the fetchers' backoff. ``401``/``403``
  is :class:`NeedsAccess`, ``404`` a :class:`~sitewatch.acquire.http.NotFoundOnServer`; no
  retry for either. Messages never show a URL's query string (signed URLs carry tokens).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.acquire.http import FetchError, HttpOptions, NotFoundOnServer, _pause, _Retry, _waits, safe_url


class NeedsAccess(FetchError):
    """The asset needs credentials the environment does not give (or refused those given)."""


class OutsideScene(FetchError):
    """The site's window holds no pixel of the asset (outside it, or only nodata)."""


MIN_VALID_FRACTION = 0.01  # a window with less data than this is "no data over the site"
_URL = re.compile(r"((?:https?|s3)://[^\s?'\"]+)\?[^\s'\"]*")
_STATUS = re.compile(r"(?:HTTP (?:response )?code:? |response_code=|HTTP error code ?: ?)(\d{3})")


@dataclass(frozen=True)
class Window:
    """What was written: size, GSD of the written pixels, decimation, CRS, valid fraction."""

    path: Path
    width_px: int
    height_px: int
    gsd_m: float
    decimation: int
    crs: str
    valid_fraction: float


def vsi_path(href: str) -> str:
    """GDAL's name for a remote asset: ``/vsicurl/https://…``, ``/vsis3/bucket/key``."""
    if href.startswith("s3://"):
        return "/vsis3/" + href[5:]
    if href.startswith(("http://", "https://")):
        return "/vsicurl/" + href
    if href.startswith("file://"):
        return href[7:]
    return href


def scrub(text: str) -> str:
    """``text`` with every URL's query string removed (signed URLs, tokens)."""
    return _URL.sub(r"\1", text)


def gdal_options(http: HttpOptions) -> dict[str, str | int]:
    return {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "GDAL_HTTP_MAX_RETRY": str(min(http.retries, 5 if http.budget is None else 2)),
        "GDAL_HTTP_RETRY_DELAY": f"{max(http.backoff_s, 0.01):g}",
        "GDAL_HTTP_TIMEOUT": str(max(1, int(http.attempt_timeout_s()))),
        "GDAL_HTTP_CONNECTTIMEOUT": str(max(1, int(min(http.attempt_timeout_s(), 30)))),
        "GDAL_HTTP_USERAGENT": http.user_agent,
        "GDAL_HTTP_MULTIRANGE": "YES",
        "GDAL_CACHEMAX": 64 * 1024 * 1024,
        "VSI_CACHE": "TRUE",
    }


def utm_epsg(lon: float, lat: float) -> int:
    zone = int((lon + 180) // 6) + 1
    return (32600 if lat >= 0 else 32700) + min(max(zone, 1), 60)


def read_window(href: str, bbox: tuple[float, float, float, float], out: Path, *, when: datetime,
                http: HttpOptions, env: Mapping[str, str] | None = None, max_pixels: int = 64_000_000,
                tags: Mapping[str, str] | None = None) -> Window:
    """Write the part of ``href`` inside ``bbox`` (lon/lat) to ``out`` (see the module docstring)."""
    from rasterio.errors import RasterioIOError

    waits = _waits(http)
    while True:
        gdal: list[str] = []
        t0 = time.monotonic()
        try:
            with _gdal_messages(gdal):
                return _read(vsi_path(href), bbox, out, when, http, env or {}, max_pixels, tags or {})
        except RasterioIOError as exc:
            msg = scrub(str(exc))
            codes = [int(m[1]) for t in (msg, *gdal) for m in _STATUS.finditer(t)]
            status = next((c for c in codes if c in (401, 403, 404)), codes[0] if codes else None)
            if status in (401, 403):
                raise NeedsAccess(f"{safe_url(href)}: refused (HTTP {status}); the asset needs credentials "
                                  "(see the source's help for the environment variables it reads)") from None
            if status == 404:
                raise NotFoundOnServer(f"{safe_url(href)}: HTTP 404 (the asset is not there)") from None
            _pause(href, _Retry(f"reading the window failed ({msg[:200]})", elapsed_s=time.monotonic() - t0),
                   waits, http)
        except FetchError:
            raise
        except Exception as exc:  # GDAL's other errors (a format it cannot read, a bad CRS): not transient
            raise FetchError(f"{safe_url(href)}: cannot read a window of it ({scrub(str(exc))[:300]})") from None


def _read(path: str, bbox: tuple[float, float, float, float], out: Path, when: datetime, http: HttpOptions,
          env: Mapping[str, str], max_pixels: int, tags: Mapping[str, str]) -> Window:
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window as RWindow
    from rasterio.windows import from_bounds

    with rasterio.Env(**gdal_options(http), **env), warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as src, _georeferenced(src, bbox) as ds:
            left, bottom, right, top = transform_bounds("EPSG:4326", ds.crs, *bbox, densify_pts=21)
            win = from_bounds(left, bottom, right, top, ds.transform)
            full = RWindow(0, 0, ds.width, ds.height)
            try:
                win = win.intersection(full)
            except Exception:  # rasterio raises WindowError for disjoint windows
                raise OutsideScene("the site lies outside this asset") from None
            col0, row0 = math.floor(win.col_off), math.floor(win.row_off)
            col1, row1 = math.ceil(win.col_off + win.width), math.ceil(win.row_off + win.height)
            w, h = col1 - col0, row1 - row0
            if w < 1 or h < 1:
                raise OutsideScene("the site lies outside this asset")
            win = RWindow(col0, row0, w, h)
            f = max(1, math.ceil(math.sqrt(w * h / max_pixels))) if w * h > max_pixels else 1
            ow, oh = max(1, math.ceil(w / f)), max(1, math.ceil(h / f))
            data = ds.read(window=win, out_shape=(ds.count, oh, ow),
                           resampling=Resampling.average if f > 1 else Resampling.nearest)
            transform = ds.window_transform(win) @ rasterio.Affine.scale(w / ow, h / oh)
            nodata = ds.nodata
            valid = _valid_fraction(data, nodata)
            if valid < MIN_VALID_FRACTION:
                raise OutsideScene(f"no data over the site (only {valid:.1%} of the window has pixels)")
            profile = {"driver": "GTiff", "width": ow, "height": oh, "count": ds.count, "dtype": data.dtype.name,
                       "crs": ds.crs, "transform": transform, "nodata": nodata, "tiled": True,
                       "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
            crs = ds.crs.to_string()
            colorinterp = ds.colorinterp
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.unlink(missing_ok=True)  # what a killed run left
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        with contextlib.suppress(Exception):  # a band layout GDAL will not label keeps its default
            dst.colorinterp = colorinterp
        dst.update_tags(ns="IMAGERY", ACQUISITIONDATETIME=when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        if tags:
            dst.update_tags(**{k: str(v)[:200] for k, v in tags.items()})
    os.replace(tmp, out)
    from sitewatch.imagery.scenes import gsd_m

    gsd = gsd_m(crs, (transform.a, transform.b, transform.c, transform.d, transform.e, transform.f), ow, oh)
    return Window(out, ow, oh, gsd, f, crs, valid)


@contextlib.contextmanager
def _gdal_messages(into: list[str]) -> Iterator[None]:
    """Collect what GDAL reports while reading (the HTTP status of a failed range request is only there)."""
    import logging

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            into.append(scrub(record.getMessage())[:300])

    logger = logging.getLogger("rasterio._err")
    h = Keep(logging.DEBUG)
    logger.addHandler(h)
    try:
        yield
    finally:
        logger.removeHandler(h)


@contextlib.contextmanager
def _georeferenced(src: Any, bbox: tuple[float, float, float, float]) -> Iterator[Any]:
    """``src`` itself, or warped to the site's UTM zone when it has only ground control points."""
    if src.crs is not None and not src.transform.is_identity:
        yield src
        return
    gcps, gcp_crs = src.gcps
    if not gcps or gcp_crs is None:
        raise OutsideScene("the asset is not georeferenced (no transform, no ground control points)")
    from rasterio.vrt import WarpedVRT

    lon, lat = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
    with WarpedVRT(src, crs=f"EPSG:{utm_epsg(lon, lat)}") as vrt:
        yield vrt


def _valid_fraction(data: Any, nodata: float | None) -> float:
    if data.size == 0:
        return 0.0
    if nodata is None:
        return 1.0
    valid = np.any(data != nodata, axis=0) if not (isinstance(nodata, float) and math.isnan(nodata)) \
        else np.any(~np.isnan(data), axis=0)
    return float(valid.mean())
