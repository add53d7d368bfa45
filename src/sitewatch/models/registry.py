"""The model registry of a workspace: named ONNX files with their sha256, and the one in use.

Entries live in ``sitewatch.toml`` under ``[models.<name>]`` (``path``, ``sha256``,
``detector``, ``added_utc``, ``source``); ``settings.detect.model`` names the model the
workspace uses. :func:`resolve` picks the model ``sitewatch detect`` runs:

1. the workspace's chosen (or only) registered model, checked against its sha256;
2. otherwise ``yolov8n-obb`` installed in the cache (``sitewatch models install``);
3. otherwise ``../shared/models/yolov8n-obb.onnx`` (development machines);

and fails with what to run when there is none. A registered file whose content no
longer matches its sha256 is refused (``sitewatch models verify`` reports all of them).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sitewatch import samples
from sitewatch.errors import ConfigError, FormatError, InputError, NotFoundError
from sitewatch.workspace import Workspace

DEFAULT_NAME = "yolov8n-obb"
SHARED_ONNX = "models/yolov8n-obb.onnx"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    sha256: str
    detector: str = "yolov8-obb"
    source: str = ""
    added_utc: str = ""

    @property
    def label(self) -> str:
        """``name@sha256[:12]``: what detections record as their model."""
        return f"{self.name}@{self.sha256[:12]}"

    def as_row(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "sha256": self.sha256,
                "detector": self.detector, "source": self.source, "added_utc": self.added_utc}


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_onnx(path: str | Path) -> None:
    """Raise :class:`FormatError` unless ``path`` is an ONNX detector with a 4-D image input."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises its own DecodeError
        raise FormatError(f"not an ONNX model ({exc})", path=str(path)) from None
    inputs = [i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    if len(inputs) != 1 or len(inputs[0].type.tensor_type.shape.dim) != 4:
        raise FormatError("expected one image input of shape [1, 3, H, W]", path=str(path))


def entries(ws: Workspace) -> dict[str, ModelEntry]:
    out = {}
    for name, d in (ws.config.get("models") or {}).items():
        out[name] = ModelEntry(name, Path(d["path"]), d["sha256"], d.get("detector", "yolov8-obb"),
                               d.get("source", ""), d.get("added_utc", ""))
    return out


def add(ws: Workspace, path: str | Path, name: str | None = None, source: str = "",
        use: bool = False) -> ModelEntry:
    """Register the ONNX file at ``path`` under ``name`` (default: its file stem)."""
    p = Path(path).resolve()
    if not p.is_file():
        raise InputError("model file not found", path=str(path))
    check_onnx(p)
    name = name or p.stem
    e = ModelEntry(name, p, sha256_file(p), source=source or "file",
                   added_utc=datetime.now(UTC).isoformat(timespec="seconds"))
    models = ws.config.setdefault("models", {})
    models[name] = {k: v for k, v in e.as_row().items() if k != "name"}
    if use or len(models) == 1:
        ws.settings.setdefault("detect", {})["model"] = name
    ws.save()
    return e


def use(ws: Workspace, name: str) -> ModelEntry:
    known = entries(ws)
    if name not in known:
        raise NotFoundError("model", name, list(known), hint="register it with `sitewatch models add PATH`")
    ws.settings.setdefault("detect", {})["model"] = name
    ws.save()
    return known[name]


def verify(ws: Workspace) -> list[dict[str, Any]]:
    """Each registered model with ``ok`` (file present and sha256 unchanged)."""
    rows = []
    for e in entries(ws).values():
        actual = sha256_file(e.path) if e.path.is_file() else None
        rows.append({"name": e.name, "path": str(e.path), "expected": e.sha256, "actual": actual,
                     "ok": actual == e.sha256})
    return rows


def chosen_name(ws: Workspace) -> str | None:
    name = ws.setting("detect.model")
    known = entries(ws)
    if name is None and len(known) == 1:
        return next(iter(known))
    return str(name) if name is not None else None


def installed_path(name: str = DEFAULT_NAME) -> Path:
    """Where ``sitewatch models install NAME`` writes its ONNX file."""
    return samples.cache_dir() / "models" / f"{name}.onnx"


def resolve(ws: Workspace | None) -> ModelEntry:
    """The model to run (see the module doc for the order)."""
    if ws is not None:
        name = chosen_name(ws)
        if name is not None:
            known = entries(ws)
            if name not in known:
                raise ConfigError(f"settings.detect.model = {name!r} is not a registered model; "
                                  f"registered: {', '.join(known) or 'none'}")
            e = known[name]
            if not e.path.is_file():
                raise InputError(f"model {name} is missing; re-add it or run `sitewatch models install`",
                                 path=str(e.path))
            if sha256_file(e.path) != e.sha256:
                raise ConfigError(f"model {name} ({e.path}) changed since it was added (sha256 mismatch); "
                                  "re-add it with `sitewatch models add` if the change is intended")
            return e
    inst = installed_path()
    if inst.is_file():
        return ModelEntry(DEFAULT_NAME, inst, sha256_file(inst), source="installed")
    shared = samples.shared_path(SHARED_ONNX)
    if shared is not None:
        return ModelEntry(DEFAULT_NAME, shared, sha256_file(shared), source="shared")
    raise NotFoundError("model", DEFAULT_NAME, hint="install it with `sitewatch models install yolov8n-obb` "
                        "or register one with `sitewatch models add PATH`")
