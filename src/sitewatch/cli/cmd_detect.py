"""``sitewatch detect`` (objects in scenes) and ``sitewatch counts`` (per scene, zone, class)."""

from __future__ import annotations

import json
from typing import Any

import click

from sitewatch.cli._common import Ctx, emit, format_option, pass_ctx, progress
from sitewatch.errors import InputError
from sitewatch.workspace import Workspace


def _detector(ws: Workspace, target_gsd_m: float | None, conf: float | None) -> tuple[Any, str]:
    from sitewatch.detect.yolo_obb import YoloObbDetector
    from sitewatch.models import registry

    entry = registry.resolve(ws)
    kw: dict[str, Any] = {}
    for key in ("target_gsd_m", "fine_gsd_m", "overlap_m", "fine_overlap_m", "conf_thr", "iou_thr"):
        v = ws.setting(f"detect.{key}")
        if v is not None:
            kw[key] = float(v)
    if target_gsd_m is not None:
        kw["target_gsd_m"] = target_gsd_m
    if conf is not None:
        kw["conf_thr"] = conf
    return YoloObbDetector(entry.path, **kw), entry.label


@click.command("detect")
@click.option("--site", help="Only scenes of this site.")
@click.option("--scene", "scene_id", metavar="ID", help="Only this scene (id or unique prefix).")
@click.option("--force", is_flag=True, help="Run again on scenes already detected with the same model and settings.")
@click.option("--target-gsd-m", type=float, help="Resample scenes to this GSD before detection "
              "(default: settings.detect.target_gsd_m, else the measured best for the model).")
@click.option("--conf", type=float, help="Score threshold 0..1 (default 0.25).")
@format_option("table", "json", "ndjson")
@pass_ctx
def detect_cmd(ctx: Ctx, site: str | None, scene_id: str | None, force: bool, target_gsd_m: float | None,
               conf: float | None, fmt: str) -> None:
    """Detect aircraft, ships and vehicles in scenes (YOLOv8-OBB, ONNX, CPU).

    Each scene is resampled to the model's working GSD, sliced with overlap, and the
    rotated boxes are merged across slices; detections replace the scene's previous
    ones and carry pixel and (georeferenced scenes) lon/lat polygons, zone, size class
    and, for aircraft, type candidates.

    \b
    Examples:
      sitewatch detect --site hmeimim
      sitewatch detect --scene 3fa2c1 --force
      sitewatch counts --site hmeimim --format ndjson
    """
    from sitewatch.detect.scene import detect_scene
    from sitewatch.store import detections as DET
    from sitewatch.store import scenes as SC

    with ctx.open() as ws:
        if scene_id is not None:
            scenes = [SC.get_scene(ws.store, scene_id)]
            if site is not None and scenes[0]["site"] != site:
                raise InputError(f"scene {scenes[0]['scene_id']} belongs to site {scenes[0]['site']}, not {site}")
        else:
            if site is not None:
                ws.site(site)
            scenes = SC.list_scenes(ws.store, site)
        if not scenes:
            raise InputError("no scenes to run on; ingest some with `sitewatch ingest imagery PATH --site S`")
        detector, model = _detector(ws, target_gsd_m, conf)
        settings = json.dumps(detector.settings(), sort_keys=True)
        done = DET.runs(ws.store, [s["scene_id"] for s in scenes])
        out: list[dict[str, Any]] = []
        for s in scenes:
            prev = done.get(s["scene_id"])
            if prev is not None and not force and prev["model"] == model and prev["settings"] == settings:
                out.append({"scene": s["scene_id"], "site": s["site"], "detections": prev["n_detections"],
                            "seconds": None, "skipped": True, "counts": None})
                continue
            ref = None
            coreg = s.get("coreg") or {}
            if not s.get("crs") and coreg.get("ref") and coreg.get("ref") != s["scene_id"]:
                ref = SC.get_scene(ws.store, coreg["ref"])
            bar = progress(ctx, desc=f"detect {s['scene_id'][:10]}", unit="slice")

            def on_slice(done: int, total: int, bar: Any = bar) -> None:
                bar.total = total
                bar.update(1)

            try:
                rows, run = detect_scene(s, ws.site(s["site"]), detector, model, reference=ref,
                                         on_slice=on_slice)
            finally:
                bar.close()
            DET.replace_detections(ws.store, s["scene_id"], rows, run)
            classes = rows.column("class").to_pylist() if rows.num_rows else []
            out.append({"scene": s["scene_id"], "site": s["site"], "detections": rows.num_rows,
                        "seconds": run["seconds"], "skipped": False,
                        "counts": {c: classes.count(c) for c in sorted(set(classes))}})
    emit(out, fmt, ["scene", "site", "detections", "seconds", "skipped", "counts"])


@click.command("counts")
@click.option("--site", required=True, help="Site whose scenes to count.")
@click.option("--scene", "scene_id", metavar="ID", help="Only this scene.")
@format_option("table", "json", "ndjson", "csv")
@pass_ctx
def counts_cmd(ctx: Ctx, site: str, scene_id: str | None, fmt: str) -> None:
    """Objects per scene, per zone (zone null = whole site) and per class, after `sitewatch detect`.

    `countable` says what the scene's GSD lets the detector count of each class: all, part
    (complete only from `complete_from_m` metres up) or none (what was found is not a count).

    \b
    Examples:
      sitewatch counts --site hmeimim --format ndjson
      sitewatch counts --site tartus --scene 3fa2c1
    """
    from sitewatch.detect.counts import counts
    from sitewatch.store import scenes as SC

    with ctx.open(read_only=True) as ws:
        s = ws.site(site)
        sid = SC.get_scene(ws.store, scene_id)["scene_id"] if scene_id else None
        rows = counts(ws.store, s, sid)
    emit(rows, fmt, ["scene", "t_utc", "zone", "class", "count", "countable", "complete_from_m"])


def register(root: click.Group) -> None:
    root.add_command(detect_cmd)
    root.add_command(counts_cmd)
