"""Reading the PyTorch checkpoint without torch, and the ONNX graph built from it."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import shared
from sitewatch.errors import FormatError
from sitewatch.models.torch_pickle import Module, load

PT = "models/yolov8n-obb.pt"
ONNX = "models/yolov8n-obb.onnx"


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /dev/null",))


def _zip_with(tmp_path: Path, payload: bytes) -> Path:
    p = tmp_path / "evil.pt"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("evil/data.pkl", payload)
        z.writestr("evil/byteorder", "little")
    return p


def test_restricted_unpickler_refuses_code(tmp_path):
    p = _zip_with(tmp_path, pickle.dumps({"model": _Evil()}, protocol=2))
    with pytest.raises(FormatError, match="allow-list"):
        load(p)


def test_not_a_zip(tmp_path):
    p = tmp_path / "x.pt"
    p.write_bytes(b"not a zip")
    with pytest.raises(FormatError, match="zip"):
        load(p)


def test_tensor_rebuilt_from_storage(tmp_path):
    # a hand-written pickle of what torch.save writes for one 2×3 float tensor, strided
    buf = io.BytesIO()

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", _Storage, "0", "cpu", 6) if obj is _STORE else None

    class _Rebuild:
        def __reduce__(self):
            return (_rebuild, (_STORE, 0, (3, 2), (1, 3), False, {}))

    P(buf, protocol=2).dump({"t": _Rebuild()})
    raw = buf.getvalue().replace(b"test_models_torch\n_rebuild", b"torch._utils\n_rebuild_tensor_v2")
    raw = raw.replace(b"test_models_torch\n_Storage", b"torch\nFloatStorage")
    p = tmp_path / "t.pt"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("t/data.pkl", raw)
        z.writestr("t/data/0", np.arange(6, dtype="<f4").tobytes())
    t = load(p)["t"]
    assert t.shape == (3, 2) and t.tolist() == [[0, 3], [1, 4], [2, 5]]  # the transpose view


class _Storage:
    pass


_STORE = object()


def _rebuild(*a):
    return a


@pytest.mark.shared
def test_checkpoint_structure():
    ck = load(shared(PT))
    m = ck["model"]
    assert isinstance(m, Module) and m.kind == "OBBModel"
    assert m.attr("names")[0] == "plane" and len(m.attr("names")) == 15
    conv = m.child("model").child("0").child("conv")
    assert conv.param("weight").shape == (16, 3, 3, 3)


@pytest.mark.slow
@pytest.mark.shared
def test_built_onnx_matches_the_reference_export(tmp_path):
    import onnxruntime as ort

    from sitewatch.detect.raster import read_plain
    from sitewatch.models.onnx_build import convert

    built = convert(shared(PT), tmp_path / "built.onnx")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    a = ort.InferenceSession(str(built), opts, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(shared(ONNX)), opts, providers=["CPUExecutionProvider"])
    imgs = [read_plain(shared("data/imagery/dota/P0706.png")),
            read_plain(sorted(shared("data/imagery/airbus-aircraft/images").glob("*.jpg"))[0])]
    for r in imgs:
        tile = r.read(0, 0, r.width_px, r.height_px, 1024, 1024)
        x = tile.transpose(2, 0, 1)[None].astype(np.float32) / 255
        ya, yb = a.run(None, {"images": x})[0], b.run(None, {"images": x})[0]
        assert ya.shape == yb.shape == (1, 20, 21504)
        confident = yb[0, 4:19].max(axis=0) > 0.25
        assert confident.sum() > 10
        box_err = np.abs(ya[0, :4] - yb[0, :4])[:, confident].max()
        score_err = np.abs(ya[0, 4:19] - yb[0, 4:19]).max()
        angle_err = np.abs(ya[0, 19] - yb[0, 19])[confident].max()
        print(f"\nbuilt vs reference ONNX: max |Δbox| {box_err:.2e} px, |Δscore| {score_err:.2e}, "
              f"|Δangle| {angle_err:.2e} rad")
        assert box_err < 0.05 and score_err < 1e-3 and angle_err < 1e-3
