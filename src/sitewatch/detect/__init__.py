"""Object detection in scenes: a detector interface, the YOLOv8-OBB ONNX detector, types.

>>> from sitewatch.detect import create                        # doctest: +SKIP
>>> det = create("yolov8-obb", model_path="yolov8n-obb.onnx")  # doctest: +SKIP
>>> found = det.detect(rgb_array, gsd_m=0.5)                   # doctest: +SKIP
>>> found.counts()                                             # doctest: +SKIP
{'plane': 31, 'small-vehicle': 4}
"""

from sitewatch.detect.base import DETECTORS, Detections, Detector, Raster, create, register

__all__ = ["DETECTORS", "Detections", "Detector", "Raster", "create", "register"]
