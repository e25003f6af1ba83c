"""Benchmark of geoneurips.raster.engine.predict_raster on a raster larger than 2 GiB.

Not run in CI. Steps:

1. (in a child process, so that its memory does not count) write a synthetic 4-band uint8
   GeoTIFF of ``--size`` x ``--size`` pixels (default 24000: 2.15 GiB of pixels), window by
   window, with a nodata collar;
2. run ``predict_raster`` with the local driver and a cheap kernel (normalized difference
   of bands 4 and 3, one float32 band) and report the process's peak RSS
   (``getrusage``, which covers the whole process life: imports and the run) as a ratio of
   the raster's uncompressed size, plus the throughput in Mpix/s;
3. with ``--dask``: cut a ``--crop`` x ``--crop`` window, run the local and the Dask driver
   on it and check that the two outputs hold identical pixels.

Usage::

    nice python benchmarks/raster_engine.py [--workdir DIR] [--size 24000] [--dask]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def create_input(path: Path, size: int, bands: int, rows_per_write: int = 512) -> None:
    """Write a ``bands`` x ``size`` x ``size`` uint8 GeoTIFF by windows (bounded memory)."""
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": bands, "dtype": "uint8",
        "crs": "EPSG:32618", "transform": Affine(10.0, 0.0, 300000.0, 0.0, -10.0, 5000000.0),
        "nodata": 0, "tiled": True, "blockxsize": 512, "blockysize": 512,
        "compress": "deflate", "zlevel": 1, "interleave": "pixel", "BIGTIFF": "YES",
    }
    # noise drawn once and reused for every strip (shifted), to keep creation fast
    noise = np.random.default_rng(0).integers(0, 16, (bands, rows_per_write, size + 97),
                                              dtype=np.uint8)
    cols = np.arange(size, dtype=np.float32)
    collar = size // 50
    with rasterio.open(path, "w", **profile) as dst:
        for k, r0 in enumerate(range(0, size, rows_per_write)):
            h = min(rows_per_write, size - r0)
            rows = np.arange(r0, r0 + h, dtype=np.float32)[:, None]
            block = np.empty((bands, h, size), np.uint8)
            shift = (k * 31) % 97
            for b in range(bands):
                col_wave = np.cos(cols / (410 - 50 * b))[None, :]
                smooth = 120 + 60 * np.sin(rows / (300 + 70 * b)) * col_wave
                block[b] = np.clip(smooth, 1, 239).astype(np.uint8)
                block[b] += noise[b, :h, shift:shift + size]
            # nodata collar: a diagonal band in the upper-left corner
            diag = (rows + cols[None, :]) < collar * 10
            block[:, diag] = 0
            dst.write(block, window=Window(0, r0, size, h))


def nd_kernel(tile: np.ndarray, ctx: object) -> np.ndarray:
    """Normalized difference (b4 - b3) / (b4 + b3): a stand-in for a cheap model."""
    a, b = tile[3], tile[2]
    return ((a - b) / (a + b + 1e-6))[None].astype(np.float32)


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux: ru_maxrss is in KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(kib) * (1 if sys.platform == "darwin" else 1024)


def crop(src: Path, dst: Path, size: int) -> None:
    import rasterio
    from rasterio.windows import Window

    from geoneurips.raster.io import raster_info

    info = raster_info(src)
    prof = info.profile()
    prof.update(width=size, height=size)
    with rasterio.open(src) as s, rasterio.open(dst, "w", **prof) as d:
        for r0 in range(0, size, 512):
            h = min(512, size - r0)
            d.write(s.read(window=Window(0, r0, size, h)), window=Window(0, r0, size, h))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where to write the rasters (default: a temporary folder, removed)")
    ap.add_argument("--size", type=int, default=24000, help="raster edge in pixels")
    ap.add_argument("--bands", type=int, default=4)
    ap.add_argument("--tile-size", type=int, default=512)
    ap.add_argument("--overlap", type=int, default=64)
    ap.add_argument("--dask", action="store_true", help="also compare the Dask driver")
    ap.add_argument("--crop", type=int, default=3000, help="crop edge for the Dask check")
    ap.add_argument("--threads", type=int, default=2, help="Dask worker threads")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the rasters")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--create-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.create_only is not None:
        create_input(args.create_only, args.size, args.bands)
        return 0

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="geoneurips_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / f"input_{args.size}.tif"
    results: dict[str, object] = {"size": args.size, "bands": args.bands,
                                  "tile_size": args.tile_size, "overlap": args.overlap,
                                  "cpus": os.cpu_count()}
    try:
        if not src.exists():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--create-only", str(src),
                            "--size", str(args.size), "--bands", str(args.bands)], check=True)
            results["create_s"] = round(time.perf_counter() - t0, 1)
        raster_bytes = args.size * args.size * args.bands  # uint8
        results["raster_bytes"] = raster_bytes
        results["raster_gib"] = round(raster_bytes / 2**30, 3)
        results["input_file_bytes"] = src.stat().st_size

        from geoneurips.raster.engine import predict_raster

        rss_before = peak_rss_bytes()
        t0 = time.perf_counter()
        out = predict_raster(src, workdir / "nd_local.tif", nd_kernel, out_bands=1,
                             tile_size=args.tile_size, overlap=args.overlap,
                             progress=not args.no_progress)
        elapsed = time.perf_counter() - t0
        peak = peak_rss_bytes()
        results.update({
            "local_s": round(elapsed, 1),
            "local_mpix_per_s": round(args.size**2 / elapsed / 1e6, 2),
            "peak_rss_mib_before_run": round(rss_before / 2**20, 1),
            "peak_rss_mib": round(peak / 2**20, 1),
            "peak_rss_over_raster_bytes": round(peak / raster_bytes, 4),
            "output_file_bytes": out.stat().st_size,
        })
        print(json.dumps(results, indent=2), flush=True)

        if args.dask:
            import rasterio
            from distributed import Client, LocalCluster

            small = workdir / f"crop_{args.crop}.tif"
            crop(src, small, args.crop)
            kw = dict(out_bands=1, tile_size=args.tile_size, overlap=args.overlap,
                      progress=not args.no_progress)
            t0 = time.perf_counter()
            a_path = predict_raster(small, workdir / "crop_local.tif", nd_kernel, **kw)
            t_local = time.perf_counter() - t0
            with LocalCluster(n_workers=1, threads_per_worker=args.threads, processes=False,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                t0 = time.perf_counter()
                b_path = predict_raster(small, workdir / "crop_dask.tif", nd_kernel,
                                        driver="dask", dask_client=client, **kw)
                t_dask = time.perf_counter() - t0
            with rasterio.open(a_path) as a, rasterio.open(b_path) as b:
                equal = bool(np.array_equal(a.read(), b.read(), equal_nan=True))
            results.update({
                "dask_crop": args.crop, "dask_threads": args.threads,
                "crop_local_s": round(t_local, 1), "crop_dask_s": round(t_dask, 1),
                "crop_local_mpix_per_s": round(args.crop**2 / t_local / 1e6, 2),
                "crop_dask_mpix_per_s": round(args.crop**2 / t_dask / 1e6, 2),
                "dask_equals_local": equal,
            })
            print(json.dumps(results, indent=2), flush=True)
            if not equal:
                return 1
        if args.json is not None:
            from geoneurips.io import write_json

            write_json(args.json, results)
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    assert math.isfinite(float(str(results["peak_rss_over_raster_bytes"])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
