"""Windowed, resampling image readers for the detector: NumPy arrays and rasterio files.

Both implement :class:`sitewatch.detect.base.Raster`: ``read(x0, y0, x1, y1, out_w, out_h)``
returns source pixels ``[y0:y1, x0:x1]`` resampled to ``out_h × out_w`` uint8 RGB, zeros
outside the image. :class:`RasterioRaster` reads only the window asked for (decimated
by GDAL when shrinking), so a 20,000 × 20,000 px GeoTIFF never sits whole in memory.

Bands: 3 or more → bands 1-3 as RGB; 1 band → grey repeated; non-uint8 data is
stretched to 0..255 between the 2nd and 98th percentiles of a decimated overview read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sitewatch.errors import FormatError, InputError

U8 = NDArray[np.uint8]
_PLAIN = {".jpg", ".jpeg", ".png", ".bmp"}


def _clip(x0: int, y0: int, x1: int, y1: int, width: int, height: int, out_w: int, out_h: int
          ) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]] | None:
    """Source window clipped to the image and the output rectangle it maps to."""
    if x1 <= x0 or y1 <= y0:
        raise InputError(f"empty window {x0},{y0}-{x1},{y1}")
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if cx1 <= cx0 or cy1 <= cy0:
        return None
    sx, sy = out_w / (x1 - x0), out_h / (y1 - y0)
    ox0, oy0 = round((cx0 - x0) * sx), round((cy0 - y0) * sy)
    ox1, oy1 = min(out_w, round((cx1 - x0) * sx)), min(out_h, round((cy1 - y0) * sy))
    if ox1 <= ox0 or oy1 <= oy0:
        return None
    return (cx0, cy0, cx1, cy1), (ox0, oy0, ox1, oy1)


def to_rgb8(a: NDArray[Any]) -> U8:
    """An image array (H×W, H×W×1, H×W×3, H×W×4; any dtype) as H×W×3 uint8."""
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise InputError(f"image array must be H×W or H×W×C, got shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] >= 3:
        a = a[..., :3]
    else:
        raise InputError(f"image with {a.shape[2]} channels: need 1, 3 or 4")
    if a.dtype != np.uint8:
        lo, hi = np.percentile(a[::4, ::4], [2, 98])
        a = np.clip((a.astype(np.float32) - lo) * (255.0 / max(float(hi - lo), 1e-6)), 0, 255)
    return np.ascontiguousarray(a, dtype=np.uint8)


class ArrayRaster:
    """A Raster over an in-memory H×W×3 uint8 RGB array."""

    def __init__(self, image: NDArray[Any]) -> None:
        self.image = to_rgb8(np.asarray(image))
        self.height_px, self.width_px = self.image.shape[:2]

    def read(self, x0: int, y0: int, x1: int, y1: int, out_w: int, out_h: int) -> U8:
        import cv2

        out = np.zeros((out_h, out_w, 3), np.uint8)
        c = _clip(x0, y0, x1, y1, self.width_px, self.height_px, out_w, out_h)
        if c is None:
            return out
        (cx0, cy0, cx1, cy1), (ox0, oy0, ox1, oy1) = c
        src = self.image[cy0:cy1, cx0:cx1]
        ow, oh = ox1 - ox0, oy1 - oy0
        if (ow, oh) == (src.shape[1], src.shape[0]):
            out[oy0:oy1, ox0:ox1] = src
        else:
            shrink = ow < src.shape[1]
            out[oy0:oy1, ox0:ox1] = cv2.resize(src, (ow, oh),
                                               interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return out


class RasterioRaster:
    """A Raster over an open rasterio dataset (GeoTIFF, COG, JPEG2000 …), read by windows.

    The caller owns the dataset (open it with :func:`sitewatch.imagery.scenes.open_dataset`
    for scenes, which bounds GDAL's block cache and reads archive members).
    """

    def __init__(self, ds: Any) -> None:
        self.ds = ds
        self.width_px, self.height_px = int(ds.width), int(ds.height)
        self.indexes = [1, 2, 3] if ds.count >= 3 else [1]
        self._stretch: tuple[float, float] | None = None
        if ds.dtypes[0] != "uint8":
            scale = max(self.width_px, self.height_px) / 1024
            ow, oh = max(1, int(self.width_px / scale)), max(1, int(self.height_px / scale))
            sample = ds.read(self.indexes, out_shape=(len(self.indexes), oh, ow))
            lo, hi = np.percentile(sample, [2, 98])
            self._stretch = (float(lo), float(max(hi - lo, 1e-6)))

    def read(self, x0: int, y0: int, x1: int, y1: int, out_w: int, out_h: int) -> U8:
        from rasterio.enums import Resampling
        from rasterio.windows import Window

        out = np.zeros((out_h, out_w, 3), np.uint8)
        c = _clip(x0, y0, x1, y1, self.width_px, self.height_px, out_w, out_h)
        if c is None:
            return out
        (cx0, cy0, cx1, cy1), (ox0, oy0, ox1, oy1) = c
        ow, oh = ox1 - ox0, oy1 - oy0
        shrink = ow < cx1 - cx0
        data = self.ds.read(self.indexes, window=Window(cx0, cy0, cx1 - cx0, cy1 - cy0),
                            out_shape=(len(self.indexes), oh, ow),
                            resampling=Resampling.average if shrink else Resampling.bilinear)
        if self._stretch is not None:
            lo, span = self._stretch
            data = np.clip((data.astype(np.float32) - lo) * (255.0 / span), 0, 255)
        block = np.moveaxis(data, 0, -1)
        if block.shape[2] == 1:
            block = np.repeat(block, 3, axis=2)
        out[oy0:oy1, ox0:ox1] = block
        return out


def read_plain(path: str | Path) -> ArrayRaster:
    """A plain JPEG/PNG decoded in memory (OpenCV), as a Raster."""
    import cv2

    p = Path(path)
    if not p.is_file():
        raise InputError("image file not found", path=str(p))
    bgr = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if bgr is None:
        raise FormatError("cannot decode the image (not a readable JPEG/PNG)", path=str(p))
    if bgr.ndim == 3 and bgr.shape[2] >= 3:
        bgr = bgr[..., [2, 1, 0]]  # OpenCV decodes BGR
    return ArrayRaster(bgr)


def is_plain(path: str | Path) -> bool:
    """True for JPEG/PNG files decoded whole rather than read by windows."""
    return Path(path).suffix.lower() in _PLAIN and Path(path).is_file()


@contextmanager
def open_raster(path: str | Path) -> Iterator[ArrayRaster | RasterioRaster]:
    """A Raster for ``path``: plain JPEG/PNG in memory, anything else by windows with rasterio."""
    if is_plain(path):
        yield read_plain(path)
        return
    from sitewatch.imagery.scenes import open_dataset

    with open_dataset(path) as ds:
        yield RasterioRaster(ds)
