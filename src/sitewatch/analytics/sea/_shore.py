"""Distance from a point at sea to the nearest shore, from the ``global_land_mask`` package.

``global_land_mask`` (MIT) ships a 1 km land/sea raster (30 arc-second cells, 21600 ×
43200, from the GLOBE elevation data) and answers ``is_land(lat, lon)``; it has no
distance to shore. We derive one, once per machine, and cache it under
``$SITEWATCH_CACHE/shore/`` (building takes about 30 s and 1 GB of memory; loading the
cache well under a second):

* *coast cells*: land cells with a sea cell among their four neighbours, thinned to one
  point per 0.025° block (the block centre); a k-d tree on their unit vectors gives the
  great-circle distance to the nearest one;
* *inland blocks*: 0.05° blocks that are land in every 1 km cell; points there are on land
  (distance 0), whatever the distance to the coast.

Approximation: the nearest coast point may be up to ~2 km (half a 0.025° block diagonal)
plus ~1 km (mask resolution) from the true shoreline, so distances are good to about
±3 km: ample for the 20 NM (37 km) loitering and 50 NM (93 km) gap thresholds, useless
for harbour-scale questions (use port distance for those).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.errors import DependencyError
from sitewatch.geo import EARTH_RADIUS_M

_CELL_DEG = 1.0 / 120.0  # global_land_mask resolution (30 arc-seconds)
_COAST_F = 3  # coast thinning: 3 cells = 0.025°
_LAND_F = 6  # inland blocks: 6 cells = 0.05°
_VERSION = "v1"


@dataclass(frozen=True)
class _Shore:
    tree: Any  # scipy.spatial.cKDTree on coast points (metres, Earth-centred)
    inland: np.ndarray  # packed bits, (180/0.05) × (360/0.05) blocks, row 0 at 90°N


def cache_path() -> Path:
    from sitewatch.samples import cache_dir

    return cache_dir() / "shore" / f"shore-{_VERSION}.npz"


def _xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return EARTH_RADIUS_M * np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def build_arrays() -> dict[str, np.ndarray]:
    """Coast points and inland blocks from the package's 1 km mask (slow; see module doc)."""
    try:
        from global_land_mask import globe
    except ImportError as exc:  # declared dependency; a broken install is the only way here
        raise DependencyError("the global-land-mask package is needed for distance to shore: "
                              "pip install global-land-mask") from exc
    # the package's raster is its *ocean* mask (is_ocean reads it, is_land negates it),
    # row 0 at 90°N, column 0 at 180°W
    mask = ~np.asarray(globe._mask, dtype=bool)
    ny, nx = mask.shape
    coast = np.zeros_like(mask)
    coast[1:] |= ~mask[:-1]
    coast[:-1] |= ~mask[1:]
    coast[:, 1:] |= ~mask[:, :-1]
    coast[:, :-1] |= ~mask[:, 1:]
    coast &= mask
    c = coast.reshape(ny // _COAST_F, _COAST_F, nx // _COAST_F, _COAST_F).any(axis=(1, 3))
    del coast
    rows, cols = np.nonzero(c)
    inland = mask.reshape(ny // _LAND_F, _LAND_F, nx // _LAND_F, _LAND_F).all(axis=(1, 3))
    return {"coast_row": rows.astype(np.int32), "coast_col": cols.astype(np.int32),
            "inland_bits": np.packbits(inland, axis=None), "inland_shape": np.array(inland.shape)}


@lru_cache(maxsize=1)
def _shore() -> _Shore:
    from scipy.spatial import cKDTree

    path = cache_path()
    if path.is_file():
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
    else:
        arrays = build_arrays()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.partial.npz")
        np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]  # numpy stub types kwds too narrowly
        os.replace(tmp, path)
    step = _COAST_F * _CELL_DEG
    lat = 90.0 - (arrays["coast_row"] + 0.5) * step
    lon = -180.0 + (arrays["coast_col"] + 0.5) * step
    shape = tuple(int(v) for v in arrays["inland_shape"])
    inland = np.unpackbits(arrays["inland_bits"], count=shape[0] * shape[1]).astype(bool).reshape(shape)
    return _Shore(cKDTree(_xyz(lat, lon)), inland)


def distance_to_shore_m(lat: Any, lon: Any) -> np.ndarray:
    """Approximate distance in metres from each point to the nearest shore (0 on land)."""
    la = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    lo = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    if la.size == 0:
        return np.zeros(0)
    sh = _shore()
    chord, _ = sh.tree.query(_xyz(la, lo))
    dist = 2 * EARTH_RADIUS_M * np.arcsin(np.clip(np.asarray(chord) / (2 * EARTH_RADIUS_M), 0.0, 1.0))
    step = _LAND_F * _CELL_DEG
    r = np.clip(((90.0 - la) / step).astype(np.int64), 0, sh.inland.shape[0] - 1)
    c = np.clip(((lo + 180.0) / step).astype(np.int64), 0, sh.inland.shape[1] - 1)
    return np.where(sh.inland[r, c], 0.0, dist)
