"""Imagery detection: km²/s of the whole pipeline against the bare ONNX model, and peak memory.

* Throughput: a 6,144 × 6,144 px GeoTIFF at 0.5 m (9.4 km², a mosaic of the real Airbus
  Pléiades airport scenes in ../shared) through ``YoloObbDetector.detect`` with both
  passes (aircraft at 1.25 m, ships/vehicles at 0.5 m, the scene's own resolution),
  against the same ONNX session run on the very same input tensors with nothing around
  it (tiles read and letterboxed beforehand, outside the timing). The ratio is the
  pipeline's overhead: windowed reading and resampling, decoding, NMS.
* Memory: peak resident memory (VmHWM) of a child process detecting aircraft on a
  20,000 × 20,000 px GeoTIFF (1.2 GB of pixels), read by windows.

Run: ``python -m bench imagery`` (needs ../shared; skips with a message otherwise).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sitewatch import samples

GSD_M = 0.5
THROUGHPUT_PX = 6144
MEMORY_PX = 20_000


def _mosaic_tif(path: Path, size_px: int, images: list[Path]) -> None:
    """A UTM GeoTIFF of ``size_px``² mosaicked from real 2560 px scenes, written block by block."""
    import cv2
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from sitewatch.imagery.scenes import gdal_env

    tf = from_origin(500_000.0, 3_920_000.0, GSD_M, GSD_M)
    with gdal_env(), rasterio.open(path, "w", driver="GTiff", width=size_px, height=size_px, count=3, dtype="uint8",
                       crs="EPSG:32636", transform=tf, tiled=True, blockxsize=512, blockysize=512,
                       compress="JPEG", photometric="YCBCR", BIGTIFF="YES") as ds:
        k = 0
        for y in range(0, size_px, 2560):
            for x in range(0, size_px, 2560):
                img = cv2.imread(str(images[k % len(images)]))[:, :, ::-1]
                k += 1
                w, h = min(2560, size_px - x), min(2560, size_px - y)
                ds.write(np.moveaxis(img[:h, :w], -1, 0), window=Window(x, y, w, h))


def _throughput(model: Path, tif: Path) -> None:
    import rasterio

    from sitewatch.detect.raster import RasterioRaster
    from sitewatch.detect.yolo_obb import LETTERBOX_FILL, YoloObbDetector

    det = YoloObbDetector(model)
    with rasterio.open(tif) as ds:
        raster = RasterioRaster(ds)
        det.detect(raster, GSD_M, classes=["plane"])  # warm-up (first runs allocate)
        t0 = time.perf_counter()
        found = det.detect(raster, GSD_M)
        t_pipe = time.perf_counter() - t0
        # the same model on the same input tensors, prepared beforehand
        tensors = []
        for p in det.passes(GSD_M):
            for s in det.slices(raster, GSD_M, p):
                canvas = np.full((det.tile_px, det.tile_px, 3), LETTERBOX_FILL, np.uint8)
                canvas[:s.out_h, :s.out_w] = raster.read(s.x0, s.y0, s.x1, s.y1, s.out_w, s.out_h)
                tensors.append(canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255)
    t0 = time.perf_counter()
    for x in tensors:
        det.session.run(None, {det.input_name: x})
    t_bare = time.perf_counter() - t0
    km2 = (THROUGHPUT_PX * GSD_M / 1000) ** 2
    print(f"scene {THROUGHPUT_PX}² px at {GSD_M} m = {km2:.1f} km², {len(tensors)} model inputs, "
          f"{len(found)} detections {found.counts()}")
    print(f"ours (whole pipeline): {km2 / t_pipe:.3f} km²/s ({t_pipe:.1f} s)")
    print(f"peer (bare onnxruntime, same tensors): {km2 / t_bare:.3f} km²/s ({t_bare:.1f} s)")
    print(f"ratio: pipeline overhead {t_pipe / t_bare - 1:+.1%} (target ≤ +15 %)")


_CHILD = """
import sys, time
from sitewatch.detect.raster import RasterioRaster
from sitewatch.detect.yolo_obb import YoloObbDetector
from sitewatch.imagery.scenes import open_dataset
det = YoloObbDetector(sys.argv[1])
t0 = time.perf_counter()
with open_dataset(sys.argv[2]) as ds:
    found = det.detect(RasterioRaster(ds), float(sys.argv[3]), classes=["plane"])
# VmHWM (not ru_maxrss, which Linux carries over from the parent across fork and exec)
hwm_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(len(found), time.perf_counter() - t0, hwm_kb)
"""


def _memory(model: Path, tif: Path) -> None:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(model), str(tif), str(GSD_M)],
                         capture_output=True, text=True, check=True).stdout.split()
    n, secs, rss_kb = int(out[0]), float(out[1]), int(out[2])
    pixels_mb = MEMORY_PX * MEMORY_PX * 3 / 1e6
    print(f"{MEMORY_PX}² px GeoTIFF ({pixels_mb:.0f} MB of pixels), aircraft pass: {n} detections in "
          f"{secs:.0f} s, peak RSS {rss_kb / 1024:.0f} MB ({rss_kb / 1024 / pixels_mb:.1%} of the pixels)")


def main() -> None:
    model = samples.shared_path("models/yolov8n-obb.onnx")
    imgs = samples.shared_path("data/imagery/airbus-aircraft/images")
    if model is None or imgs is None:
        print("skipped: ../shared (model and Airbus images) not found")
        return
    images = sorted(imgs.glob("*.jpg"))
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp) / "scene6k.tif", Path(tmp) / "scene20k.tif"
        _mosaic_tif(small, THROUGHPUT_PX, images)
        _throughput(model, small)
        _mosaic_tif(big, MEMORY_PX, images)
        _memory(model, big)


if __name__ == "__main__":
    main()
