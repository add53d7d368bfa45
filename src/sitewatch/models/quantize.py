"""int8 quantisation of a detector model with onnxruntime's static (QDQ) quantiser.

Activations are calibrated on real images (slices as the detector feeds them: RGB 0..1,
letterboxed to the model's input size); weights are quantised per channel. The head
(DFL softmax, angle and box decoding) is kept in float: quantising the box regression
moves boxes by whole pixels. Whether the result is worth using is measured, not
assumed: ``tools/eval_detect.py --model`` gives its F1 beside the float model's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sitewatch import samples
from sitewatch.errors import DependencyError, InputError

CALIBRATION_IMAGES = 8


def _calibration_slices(paths: Iterable[Path], size: int) -> list[NDArray[np.float32]]:
    from sitewatch.detect.raster import read_plain

    out = []
    for p in paths:
        r = read_plain(p)
        tile = r.read(0, 0, r.width_px, r.height_px, size, size)  # whole image shrunk to one slice
        out.append(tile.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)
    return out


def default_calibration() -> list[Path]:
    """A fixed handful of the shared Airbus airport images (development machines)."""
    d = samples.shared_path("data/imagery/airbus-aircraft/images")
    if d is None:
        raise InputError("no calibration images: pass some with --calibrate (JPEG/PNG scenes like yours)")
    return sorted(d.glob("*.jpg"))[:CALIBRATION_IMAGES]


def quantize(src: str | Path, dst: str | Path, calibration: list[Path] | None = None) -> Path:
    """Write the int8 QDQ model of ``src`` to ``dst``; returns ``dst``."""
    try:
        import onnx
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise DependencyError("onnxruntime with quantization tools is needed") from exc
    model = onnx.load(str(src))
    inp = model.graph.input[0]
    size = int(inp.type.tensor_type.shape.dim[2].dim_value or 1024)
    data = _calibration_slices(calibration or default_calibration(), size)

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.it = iter(data)

        def get_next(self) -> dict[str, Any] | None:
            x = next(self.it, None)
            return None if x is None else {inp.name: x}

    # keep the decoding head in float: every node after the last Conv of the detection branches
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    head = [n.name for n in model.graph.node if n.op_type not in ("Conv", "Mul", "Sigmoid", "Add",
                                                                    "Concat", "Split", "MaxPool", "Resize")]
    out = Path(dst)
    tmp = out.with_name(out.name + ".partial.onnx")
    quantize_static(str(src), str(tmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
                    nodes_to_quantize=convs, nodes_to_exclude=head)
    tmp.replace(out)
    return out
