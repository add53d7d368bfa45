"""Run a detector over a stored scene and turn what it finds into ``detections`` rows.

:func:`detect_scene` opens the scene's image (plain JPEG/PNG decoded whole; anything
else read by windows through rasterio, so memory stays bounded on a 20,000 × 20,000 px
GeoTIFF), runs the detector at the scene's GSD and returns the rows.
:func:`detection_rows` is the pure part, usable on any :class:`Detections`:

* ``poly_px``: the rotated box's corners in scene pixels;
* for a georeferenced scene (``crs`` + ``transform``), centre ``lon``/``lat`` and the box
  as lon/lat WKT; a plain image aligned to a georeferenced reference scene (usable
  ``coreg`` with ``H``, scene px → reference px) goes through the reference's georeference;
* ``zone``: the site zone holding the centre (needs lon/lat);
* ``length_m``/``width_m``: the box's sides × GSD (as drawn, not bias-corrected);
  ``size_class`` from the box length (for aircraft from the corrected size);
* for aircraft, ``type_candidates`` holds the identification of
  :func:`sitewatch.detect.types.identify_aircraft` as one JSON object, not a ranked list:
  ``measured`` (the bias-corrected sides ``long_m``/``short_m`` with their ``±`` errors at
  the detector's working GSD, and the box they came from), ``fits`` (every in-service type
  within the error, in table order: not a ranking), ``fits_not_in_service``, ``named``
  (the one fitting type, or null when several or none fit), ``size_class`` and ``label``
  ("very large transport aircraft (≈ 74 m)"). ``heavy_transport`` is true when every
  fitting type is a heavy airlifter, false when none is, null when mixed or none fit.

A scene without a GSD is refused: sizes, types and resampling all need it
(``sitewatch ingest imagery --gsd-m`` sets it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from sitewatch.detect import types as T
from sitewatch.detect.base import Detections
from sitewatch.detect.raster import open_raster
from sitewatch.detect.yolo_obb import YoloObbDetector
from sitewatch.errors import InputError
from sitewatch.sites import Site

F64 = NDArray[np.float64]
AIRCRAFT = ("plane", "helicopter")
PixelToLonLat = Callable[[F64, F64], tuple[F64, F64]]


def georeference(scene: dict[str, Any], reference: dict[str, Any] | None = None) -> PixelToLonLat | None:
    """Scene pixels → lon/lat, from the scene's own georeference or its reference's; else None."""
    from sitewatch.imagery import scenes as S

    def own(s: dict[str, Any]) -> PixelToLonLat | None:
        crs, tf = s.get("crs"), s.get("transform")
        if not crs or not tf:
            return None
        tf6 = tuple(float(v) for v in tf)
        return lambda x, y: S.pixel_to_lonlat(crs, tf6, x, y)  # type: ignore[arg-type]

    f = own(scene)
    if f is not None:
        return f
    coreg = scene.get("coreg") or {}
    if reference is None or coreg.get("H") is None or coreg.get("status") not in ("aligned", "georef"):
        return None
    ref_f = own(reference)
    if ref_f is None:
        return None
    from sitewatch.imagery.coreg import apply_h

    h = np.asarray(coreg["H"], dtype=float)
    return lambda x, y: ref_f(*apply_h(h, x, y))


def _aircraft_cols(classes: list[str], length: F64, width: F64, gsd_m: float,
                   work_gsd_m: Mapping[str, float | None]) -> dict[str, list[Any]]:
    """``size_class``, ``type_candidates`` and ``heavy_transport`` of every row (None for non-aircraft)."""
    size: list[str | None] = []
    cands: list[str | None] = []
    heavy: list[bool | None] = []
    for c, lm, wm in zip(classes, length, width, strict=True):
        if c not in AIRCRAFT or not (lm > 0 and wm > 0):
            size.append(T.size_class(c, float(lm)))
            cands.append(None)
            heavy.append(None)
            continue
        ident = T.identify_aircraft(float(lm), float(wm), gsd_m, work_gsd_m.get(c), rotorcraft=c == "helicopter")
        size.append(ident.size_class)
        cands.append(json.dumps(ident.as_json(), ensure_ascii=False))
        heavy.append(ident.heavy_transport)
    return {"size_class": size, "type_candidates": cands, "heavy_transport": heavy}


def detection_rows(
    det: Detections, *, scene_id: str, site: Site | str, gsd_m: float | None,
    to_lonlat: PixelToLonLat | None = None, model: str = "",
    work_gsd_m: Mapping[str, float | None] | None = None,
) -> pa.Table:
    """``detections`` rows for ``det`` found in scene ``scene_id`` (see module doc).

    ``work_gsd_m`` maps a class to the GSD the detector ran at for it (it sets the size
    error; default: the scene's own ``gsd_m``).
    """
    site_name = site.name if isinstance(site, Site) else site
    n = len(det)
    order = np.lexsort((det.cx_px, det.cy_px))  # stable ids: top to bottom, left to right
    det = det.select(order)
    corners = det.corners()
    classes = det.classes.tolist()
    cols: dict[str, Any] = {
        "det_id": [f"{scene_id}-{i:05d}" for i in range(n)],
        "scene_id": [scene_id] * n, "site": [site_name] * n, "class": classes,
        "score": det.score.round(4), "cx_px": det.cx_px.round(2), "cy_px": det.cy_px.round(2),
        "w_px": det.w_px.round(2), "h_px": det.h_px.round(2), "angle_rad": det.angle_rad.round(4),
        "poly_px": [json.dumps(c.round(1).tolist()) for c in corners], "model": [model] * n,
    }
    lon = lat = None
    if to_lonlat is not None and n:
        lon, lat = to_lonlat(det.cx_px, det.cy_px)
        plon, plat = to_lonlat(corners[:, :, 0].ravel(), corners[:, :, 1].ravel())
        plon, plat = plon.reshape(n, 4), plat.reshape(n, 4)
        cols["lon"], cols["lat"] = lon.round(7), lat.round(7)
        cols["poly_wkt"] = [
            "POLYGON((" + ", ".join(f"{x:.7f} {y:.7f}" for x, y in [*zip(po, pa_, strict=True), (po[0], pa_[0])])
            + "))" for po, pa_ in zip(plon, plat, strict=True)]
        if isinstance(site, Site) and site.zones:
            cols["zone"] = list(site.zone_of(lat, lon))
    if gsd_m is not None and n:
        length, width = det.w_px * gsd_m, det.h_px * gsd_m
        cols["length_m"], cols["width_m"] = length.round(2), width.round(2)
        cols.update(_aircraft_cols(classes, length, width, gsd_m, work_gsd_m or {}))
    return pa.table(cols)


def working_gsd(detector: YoloObbDetector, gsd_m: float) -> dict[str, float | None]:
    """The GSD each class is detected at in a scene of ``gsd_m`` (the detector's passes)."""
    return {c: p.gsd_m for p in detector.passes(gsd_m) for c in p.classes}


def detect_scene(
    scene: dict[str, Any], site: Site, detector: YoloObbDetector, model: str,
    reference: dict[str, Any] | None = None, on_slice: Callable[[int, int], Any] | None = None,
) -> tuple[pa.Table, dict[str, Any]]:
    """Detect objects in a ``scenes`` row; returns (detections rows, ``detect_runs`` row)."""
    gsd = scene.get("gsd_m")
    if gsd is None or not gsd > 0:
        raise InputError(f"scene {scene['scene_id']} has no ground sample distance; re-ingest it with "
                         "--gsd-m G (metres per pixel)", path=scene.get("path"))
    t0 = time.perf_counter()
    with open_raster(scene["path"]) as raster:
        if (raster.width_px, raster.height_px) != (scene.get("width_px") or raster.width_px,
                                                   scene.get("height_px") or raster.height_px):
            raise InputError(f"the image is {raster.width_px}×{raster.height_px} px but scene "
                             f"{scene['scene_id']} was ingested as {scene['width_px']}×{scene['height_px']}; "
                             "was the file replaced? re-ingest it", path=scene["path"])
        det = detector.detect(raster, float(gsd), on_slice=on_slice)
    rows = detection_rows(det, scene_id=scene["scene_id"], site=site, gsd_m=float(gsd),
                          to_lonlat=georeference(scene, reference), model=model,
                          work_gsd_m=working_gsd(detector, float(gsd)))
    run = {"scene_id": scene["scene_id"], "site": site.name, "model": model, "n_detections": rows.num_rows,
           "settings": json.dumps(detector.settings(), sort_keys=True),
           "seconds": round(time.perf_counter() - t0, 3), "t_run_utc": datetime.now(UTC)}
    return rows, run
