"""An offline basemap: land polygons for any bounding box, from ``global_land_mask``.

``global_land_mask`` (MIT) ships a 1 km global land/sea grid, but loading it takes
~1 GB and many seconds. The first use unpacks it once into a bit-packed file in the cache
(``$SITEWATCH_CACHE/basemap/land-30s.npy``, 116 MB) that later calls memory-map, so a
box is read in milliseconds. :func:`land_geojson` reads the box and traces the land/sea
boundary with ``contourpy`` (a matplotlib dependency) into GeoJSON polygons — no tile
server, no download. The outline is good to about the grid step (1/120°, ~1 km).
"""

from __future__ import annotations

import itertools
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.errors import DependencyError, InputError

MAX_CELLS = 800 * 800  # bounds memory and time (~0.5 s) whatever box is asked for
_N_LAT, _N_LON = 21600, 43200  # global_land_mask grid: 30 arc-second cells


def _cache_file() -> Path:
    from sitewatch.samples import cache_dir

    return cache_dir() / "basemap" / "land-30s.npy"


@lru_cache(maxsize=1)
def _packed() -> tuple[np.ndarray, float, float]:
    """(packed bits rows×cols/8 memory-mapped, lat of row 0, lat step) of the 1 km mask."""
    f = _cache_file()
    meta = f.with_suffix(".lat.npy")
    if not f.exists() or not meta.exists():
        try:
            import global_land_mask
        except ImportError as exc:
            raise DependencyError(f"the basemap needs global-land-mask ({exc}); reinstall sitewatch") from None
        src = Path(global_land_mask.__file__).parent / "globe_combined_mask_compressed.npz"
        with np.load(src) as z:
            mask, lat = z["mask"], z["lat"]
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_name(f.name + f".{os.getpid()}.partial.npy")
        np.save(tmp, np.packbits(mask, axis=1))
        del mask
        np.save(meta, np.array([lat[0], lat[1] - lat[0]]))
        os.replace(tmp, f)
    lat0, dlat = np.load(meta)
    return np.load(f, mmap_mode="r"), float(lat0), float(dlat)


def is_land(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Land/sea at 1 km for arrays of points (memory-mapped; no 1 GB load)."""
    bits, lat0, dlat = _packed()
    r = np.clip(((np.asarray(lat) - lat0) / dlat).astype(np.int64), 0, _N_LAT - 1)
    c = np.clip(((np.asarray(lon) + 180.0) * (_N_LON / 360.0)).astype(np.int64), 0, _N_LON - 1)
    ocean = (bits[r, c >> 3] >> (7 - (c & 7))) & 1  # the package's mask is True over the ocean
    return ocean == 0


def land_geojson(bbox: tuple[float, float, float, float], step_deg: float = 1 / 120) -> dict[str, Any]:
    """FeatureCollection of land polygons inside ``bbox`` = (min_lon, min_lat, max_lon, max_lat)."""
    x0, y0, x1, y1 = bbox
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise InputError(f"bbox {bbox} is not min_lon,min_lat,max_lon,max_lat within the globe")
    try:
        import contourpy
    except ImportError as exc:  # a dependency of matplotlib; a broken install gets a clear message
        raise DependencyError(f"the basemap needs contourpy ({exc}); reinstall sitewatch") from None
    nx = max(2, int((x1 - x0) / step_deg) + 1)  # a box narrower than one step is still a 2×2 grid
    ny = max(2, int((y1 - y0) / step_deg) + 1)
    if nx * ny > MAX_CELLS:
        f = np.sqrt(nx * ny / MAX_CELLS)
        nx, ny = max(2, int(nx / f)), max(2, int(ny / f))
    lon = np.linspace(x0, x1, nx)
    lat = np.linspace(y0, y1, ny)
    lo, la = np.meshgrid(lon, lat)
    land = is_land(la, lo).astype(np.float64)
    # pad with sea so coastlines touching the box edge still close into polygons
    land[0, :] = land[-1, :] = land[:, 0] = land[:, -1] = 0.0
    gen = contourpy.contour_generator(lon, lat, land, fill_type=contourpy.FillType.OuterOffset)
    filled: Any = gen.filled(0.5, 1.5)
    polys, offsets = filled[0], filled[1]
    feats = []
    for pts, offs in zip(polys, offsets, strict=True):
        rings = [np.round(pts[a:b], 5).tolist() for a, b in itertools.pairwise(offs)]
        if rings and len(rings[0]) >= 4:
            feats.append({"type": "Feature", "properties": {"kind": "land"},
                          "geometry": {"type": "Polygon", "coordinates": rings}})
    return {"type": "FeatureCollection", "features": feats,
            "properties": {"source": "global-land-mask (1 km grid), traced with contourpy"}}
