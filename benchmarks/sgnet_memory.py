"""SGNet vs. plain sliding window: peak memory and throughput on a GeoTIFF > 2 GiB.

Builds (window by window, never whole in memory) an uncompressed 3-band uint8 GeoTIFF of
``--size`` x ``--size`` pixels (default 27,000: 2.04 GiB of pixels; the file is > 2 GiB) or
uses ``--image``; then segments it with a tiny untrained SGNet and with the plain sliding
window of the same base network through ``geoneurips.raster.engine.predict_raster``, each in
its own process, and reports peak RSS (``ru_maxrss`` of that process), seconds and
megapixels per second, and the SGNet / plain ratios. Not run in CI.

    python benchmarks/sgnet_memory.py --out /tmp/sgnet_bench            # full size
    python benchmarks/sgnet_memory.py --size 4096 --out /tmp/sgnet_bench  # smaller raster
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time, torch
torch.set_num_threads(int(sys.argv[5]))
from geoneurips.segmentation.sgnet.model import SGNetConfig, build_model
from geoneurips.segmentation.sgnet.pipeline import segment_raster
method, image, out, tile = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
torch.manual_seed(0)
cfg = SGNetConfig.tiny(method=method)
model = build_model(cfg).eval()
t = time.perf_counter()
segment_raster(image, out, model, cfg, tile_size=tile, overlap=tile // 8, progress=False)
sec = time.perf_counter() - t
print(json.dumps({"method": method, "seconds": sec,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build_raster(path: Path, size: int, block: int = 1024) -> Path:
    """Write a ``size`` x ``size`` 3-band uint8 GeoTIFF window by window (tiled, no compression)."""
    import numpy as np
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    from geoneurips.io import atomic_path
    from geoneurips.segmentation.sgnet.data import make_ambiguous_scene

    rng = np.random.default_rng(0)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8",
               "crs": "EPSG:32614", "transform": Affine(0.3, 0, 600000.0, 0, -0.3, 3400000.0),
               "tiled": True, "blockxsize": 256, "blockysize": 256, "BIGTIFF": "YES"}
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        for r in range(0, size, block):
            for c in range(0, size, block):
                h, w = min(block, size - r), min(block, size - c)
                img, _ = make_ambiguous_scene(block, rng)
                dst.write(img[:, :h, :w], window=Window(c, r, w, h))
    return path


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image", type=Path, help="existing 3-band GeoTIFF (skips building one)")
    ap.add_argument("--size", type=int, default=27000, help="side of the built raster")
    ap.add_argument("--tile", type=int, default=512, help="tile side")
    ap.add_argument("--threads", type=int, default=2, help="torch threads per run")
    ap.add_argument("--out", type=Path, default=Path("sgnet_bench"), help="work folder")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    image = args.image
    t_build = 0.0
    if image is None:
        image = args.out / f"ultra_{args.size}.tif"
        if not image.exists():
            t = time.perf_counter()
            build_raster(image, args.size)
            t_build = time.perf_counter() - t
    from geoneurips.raster.io import raster_info

    info = raster_info(image)
    runs = {}
    for method in ("sliding", "sgnet"):
        out = args.out / f"pred_{method}.tif"
        res = subprocess.run([sys.executable, "-c", CHILD, method, str(image), str(out),
                              str(args.tile), str(args.threads)],
                             capture_output=True, text=True, check=True)
        runs[method] = json.loads(res.stdout.strip().splitlines()[-1])
        out.unlink(missing_ok=True)
    mpx = info.width * info.height / 1e6
    for r in runs.values():
        r["mpx_per_s"] = mpx / r["seconds"]
    report = {
        "image": str(image), "file_gib": image.stat().st_size / 2**30,
        "width": info.width, "height": info.height, "tile": args.tile,
        "build_seconds": t_build, "runs": runs,
        "ratio_peak_rss_sgnet_over_plain": runs["sgnet"]["peak_rss_mib"]
        / runs["sliding"]["peak_rss_mib"],
        "ratio_seconds_sgnet_over_plain": runs["sgnet"]["seconds"] / runs["sliding"]["seconds"],
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
