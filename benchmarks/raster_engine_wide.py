"""Raster engine on a very wide raster: peak memory independent of the width, and the
engine's throughput as a ratio to the bare kernel on the same tiles.

Not run in CI. The scenario of issue 8: a 16-class segmentation model (16 output bands,
argmax to a uint8 class map) over a mosaic at least 100,000 pixels wide. The old engine
held a float64 accumulator of one whole tile row (``8 x 16 x 512 x 100,000`` bytes =
6.1 GiB); the engine now works in column stripes sized by ``memory_mb``.

Each measurement runs in its own child process so that ``getrusage``'s peak RSS covers that
run alone (imports included):

* ``engine``: ``predict_raster`` with the default memory budget at each width;
* ``one-stripe``: the same with an unlimited budget (one stripe = the old behaviour's memory),
  at the smaller widths only (it grows linearly with the width);
* ``bare``: the same kernel over the same tile grid read with the engine's reader, results
  discarded (no blending, no writing): the throughput reference.

Usage::

    nice python benchmarks/raster_engine_wide.py [--widths 25000,50000,100000] [--height 1024]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BANDS = 3
CLASSES = 16


def create_input(path: Path, width: int, height: int) -> None:
    """A ``BANDS`` x height x width uint8 GeoTIFF, written 512 rows at a time."""
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    profile = {
        "driver": "GTiff", "width": width, "height": height, "count": BANDS,
        "dtype": "uint8", "crs": "EPSG:32618",
        "transform": Affine(0.5, 0.0, 300000.0, 0.0, -0.5, 5000000.0), "nodata": 0,
        "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
        "zlevel": 1, "BIGTIFF": "YES",
    }
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 24, (BANDS, 512, 4096 + 97), dtype=np.uint8)
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, height, 512):
            h = min(512, height - r0)
            block = np.empty((BANDS, h, width), np.uint8)
            for c0 in range(0, width, 4096):
                w = min(4096, width - c0)
                s = (c0 // 4096 * 31) % 97
                block[:, :, c0:c0 + w] = 100 + noise[:, :h, s:s + w]
            block[:, :, :300] = 0  # nodata collar on the left edge
            dst.write(block, window=Window(0, r0, width, h))


_W = np.random.default_rng(1).normal(size=(CLASSES, BANDS)).astype(np.float32) / 60.0


def kernel(tile: np.ndarray, ctx: object) -> np.ndarray:
    """A stand-in for a 16-class segmentation model: a per-pixel linear map and tanh."""
    return np.tanh(np.einsum("kc,chw->khw", _W, tile - 110.0)).astype(np.float32)


def argmax(p: np.ndarray) -> np.ndarray:
    return p.argmax(0).astype(np.uint8)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_one(mode: str, src: Path, out: Path, tile: int, overlap: int, memory_mb: float) -> dict:
    from geoneurips.raster.engine import _Plan, _SourceStack, predict_raster
    from geoneurips.raster.io import raster_info

    before = peak_rss_mib()
    t0 = time.perf_counter()
    if mode == "bare":
        info = raster_info(src)
        plan = _Plan(paths=(src,), info=info, tile=tile, overlap=overlap, out_bands=CLASSES,
                     fill_value=0.0, blend="cosine")
        stack = _SourceStack([src], info.height, info.width)
        n = 0
        try:
            for ti in range(plan.n_rows):
                for tj in range(plan.n_cols):
                    x, _ = stack.read(ti * plan.stride, tj * plan.stride, tile, tile, 0.0)
                    kernel(x, None)
                    n += 1
        finally:
            stack.close()
        tiles = n
    else:
        budget = 1e9 if mode == "one-stripe" else memory_mb
        predict_raster(src, out, kernel, out_bands=CLASSES, tile_size=tile, overlap=overlap,
                       finalize=argmax, final_bands=1, out_dtype="uint8", progress=False,
                       memory_mb=budget)
        tiles = -1
    return {"mode": mode, "seconds": round(time.perf_counter() - t0, 2),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "peak_rss_mib_before_run": round(before, 1), "tiles": tiles}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="25000,50000,100000")
    ap.add_argument("--one-stripe-widths", default="12500,25000")
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--tile-size", type=int, default=512)
    ap.add_argument("--overlap", type=int, default=64)
    ap.add_argument("--memory-mb", type=float, default=512.0)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--one", nargs=3, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--create", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.create:
        create_input(Path(args.create[0]), int(args.create[1]), args.height)
        return 0
    if args.one:
        mode, src, out = args.one
        print(json.dumps(run_one(mode, Path(src), Path(out), args.tile_size, args.overlap,
                                 args.memory_mb)))
        return 0

    work = args.workdir or Path(tempfile.mkdtemp(prefix="geoneurips_wide_"))
    work.mkdir(parents=True, exist_ok=True)
    common = ["--height", str(args.height), "--tile-size", str(args.tile_size),
              "--overlap", str(args.overlap), "--memory-mb", str(args.memory_mb)]
    rows: list[dict] = []

    def child(*extra: str) -> dict:
        res = subprocess.run([sys.executable, __file__, *common, *extra], check=True,
                             capture_output=True, text=True)
        return json.loads(res.stdout.strip().splitlines()[-1]) if res.stdout.strip() else {}

    try:
        widths = [int(w) for w in args.widths.split(",")]
        one = [int(w) for w in args.one_stripe_widths.split(",") if w]
        for width in sorted(set(widths) | set(one)):
            src = work / f"in_{width}.tif"
            if not src.exists():
                child("--create", str(src), str(width))
            modes = (["bare", "engine"] if width in widths else []) + \
                (["one-stripe"] if width in one else [])
            for mode in modes:
                r = child("--one", mode, str(src), str(work / f"out_{mode}_{width}.tif"))
                r.update(width=width, height=args.height)
                rows.append(r)
                print(json.dumps(r), flush=True)
        by = {(r["mode"], r["width"]): r for r in rows}
        summary = []
        for width in widths:
            e, b = by[("engine", width)], by[("bare", width)]
            summary.append({
                "width": width, "engine_s": e["seconds"], "bare_kernel_s": b["seconds"],
                "engine_throughput_over_bare": round(b["seconds"] / e["seconds"], 3),
                "engine_peak_rss_mib": e["peak_rss_mib"],
                "bare_peak_rss_mib": b["peak_rss_mib"],
                "old_accumulator_mib": round(8 * CLASSES * args.tile_size * width / 2**20, 1),
            })
        for width in one:
            summary.append({"width": width, "one_stripe_peak_rss_mib":
                             by[("one-stripe", width)]["peak_rss_mib"],
                             "one_stripe_s": by[("one-stripe", width)]["seconds"]})
        print(json.dumps(summary, indent=2))
        if args.json:
            from geoneurips.io import write_json

            write_json(args.json, {"runs": rows, "summary": summary})
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
