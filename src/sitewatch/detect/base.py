"""The detector interface, its registry and the :class:`Detections` value it returns.

A detector turns an image (a NumPy ``H×W×3`` uint8 RGB array or any :class:`Raster`)
with its ground sample distance into :class:`Detections`: rotated boxes in the
*source image's* pixel coordinates, with scores and class names. Detectors register
themselves with ``@register("name")``; :func:`create` builds one by name.

Class names are the DOTA v1.0 names with hyphens (``plane``, ``ship``,
``large-vehicle``, ``small-vehicle``, ``helicopter`` …).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from sitewatch.detect.geometry import corners
from sitewatch.errors import NotFoundError

F64 = NDArray[np.float64]


@runtime_checkable
class Raster(Protocol):
    """Something images can be read from by window, resampled on the fly.

    ``read(x0, y0, x1, y1, out_w, out_h)`` returns the source pixels ``[y0:y1, x0:x1]``
    resampled to ``out_h × out_w`` as uint8 RGB (``out_h × out_w × 3``). Windows may
    extend past the image; the outside is filled with zeros.
    """

    width_px: int
    height_px: int

    def read(self, x0: int, y0: int, x1: int, y1: int, out_w: int, out_h: int) -> NDArray[np.uint8]: ...


@dataclass(frozen=True)
class Detections:
    """Rotated boxes found in one image; parallel arrays, pixels of the source image.

    ``w_px`` is the long side and ``angle_rad`` (in ``[0, π)``) its direction.
    """

    cx_px: F64
    cy_px: F64
    w_px: F64
    h_px: F64
    angle_rad: F64
    score: F64
    class_id: NDArray[np.int64]
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.cx_px)

    @property
    def classes(self) -> NDArray[np.object_]:
        return np.asarray(self.class_names, dtype=object)[self.class_id] if len(self) else np.zeros(0, object)

    def corners(self) -> F64:
        """Corners (n, 4, 2) in source pixels."""
        return corners(self.cx_px, self.cy_px, self.w_px, self.h_px, self.angle_rad)

    def select(self, mask_or_index: Any) -> Detections:
        return Detections(
            self.cx_px[mask_or_index], self.cy_px[mask_or_index], self.w_px[mask_or_index],
            self.h_px[mask_or_index], self.angle_rad[mask_or_index], self.score[mask_or_index],
            self.class_id[mask_or_index], self.class_names,
        )

    def of_class(self, name: str) -> Detections:
        if name not in self.class_names:
            raise NotFoundError("class", name, list(self.class_names))
        return self.select(self.class_id == self.class_names.index(name))

    def counts(self) -> dict[str, int]:
        ids, n = np.unique(self.class_id, return_counts=True)
        return {self.class_names[int(i)]: int(c) for i, c in zip(ids, n, strict=True)}

    @classmethod
    def empty(cls, class_names: tuple[str, ...]) -> Detections:
        z = np.zeros(0)
        return cls(z, z, z, z, z, z, np.zeros(0, np.int64), class_names)

    @classmethod
    def concat(cls, parts: list[Detections], class_names: tuple[str, ...]) -> Detections:
        if not parts:
            return cls.empty(class_names)
        def cat(f: str) -> Any:
            return np.concatenate([getattr(p, f) for p in parts])

        return cls(cat("cx_px"), cat("cy_px"), cat("w_px"), cat("h_px"), cat("angle_rad"), cat("score"),
                   cat("class_id").astype(np.int64), class_names)


class Detector(Protocol):
    """Finds objects in an image whose ground sample distance is ``gsd_m`` metres/pixel."""

    name: str
    class_names: tuple[str, ...]

    def detect(self, image: NDArray[np.uint8] | Raster, gsd_m: float | None) -> Detections: ...


DETECTORS: dict[str, Callable[..., Detector]] = {}


def register(name: str) -> Callable[[Callable[..., Detector]], Callable[..., Detector]]:
    """Class decorator: make a detector constructible by ``name``."""

    def deco(factory: Callable[..., Detector]) -> Callable[..., Detector]:
        DETECTORS[name] = factory
        return factory

    return deco


def create(name: str, **kwargs: Any) -> Detector:
    """Build the detector registered as ``name``."""
    import sitewatch.detect.yolo_obb  # noqa: F401 - registers the built-in detector

    try:
        factory = DETECTORS[name]
    except KeyError:
        raise NotFoundError("detector", name, list(DETECTORS)) from None
    return factory(**kwargs)
