"""SGNet vs. plain sliding window: peak memory and throughput on a GeoTIFF > 2 GiB.

Builds (window by window, never whole in memory) an uncompressed 3-band uint8 GeoTIFF of
``--size`` x ``--size`` pixels (default 27,000: 2.04 GiB of pixels; the file is 2.06 GiB) or
uses ``--image``; then segments the *whole* raster with an untrained SGNet and with the
plain sliding window of the same base network, both through
``geoneurips.raster.engine.predict_raster`` (via ``pipeline.segment_raster``), each in its
own child process. For each run it reports:

* ``peak_rss_mib``: ``ru_maxrss`` of that child (imports, model and run included);
* ``rss_before_run_mib``: ``ru_maxrss`` just before ``segment_raster`` (imports + model),
  so ``peak_rss_mib - rss_before_run_mib`` is what the streaming run itself added;
* ``seconds`` (wall), ``cpu_seconds`` (user + system of the child), Mpix/s of wall time
  and Mpix per CPU second;

and the SGNet / plain ratios of peak RSS, of the run's added RSS, of the throughput (wall)
and of the throughput per CPU second (the one to trust on a loaded, shared machine).

Weights are random (memory and throughput do not depend on them); the network size is
configurable so that a 27,000 x 27,000 raster is feasible on a small CPU: the defaults
(``--base-width 4 --base-depth 1 --context-channels 8 --tile 1024``) are the smallest
SGNet that keeps every component (SmallUNet base, SCB encoder, W-MSA + conv + GAP SCI
module, RoI-aligned concat fusion). Both methods use the same base network, tile size and
overlap. The built raster's content is a few synthetic scenes
(:func:`geoneurips.segmentation.sgnet.data.make_ambiguous_scene`) repeated over the grid
(the cost of the networks does not depend on pixel values). The built raster is deleted at
the end unless ``--keep-image``. Not run in CI.

    # full size (what benchmarks/README.md reports; ~1 h on a loaded 2-core machine)
    python benchmarks/sgnet_memory.py --out /tmp/sgnet_bench --json r.json --concurrent \
        --threads 1 --progress
    # same width, 1/13 of the height: the peak RSS should not change
    python benchmarks/sgnet_memory.py --height 2048 --out /tmp/sgnet_bench --concurrent \
        --threads 1
    # smaller raster, the default-size networks (SGNetConfig defaults)
    python benchmarks/sgnet_memory.py --size 4096 --base-width 16 --base-depth 3 \
        --context-channels 32 --window-size 8 --num-heads 4 --out /tmp/sgnet_bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import torch
spec = json.loads(sys.argv[1])
torch.set_num_threads(spec["threads"])
from geoneurips.segmentation.sgnet.model import SGNetConfig, build_model
from geoneurips.segmentation.sgnet.inference import segment_raster
torch.manual_seed(0)
cfg = SGNetConfig.tiny(**spec["config"])
model = build_model(cfg).eval()
n_params = sum(p.numel() for p in model.parameters())
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t, c = time.perf_counter(), cpu()
segment_raster(spec["image"], spec["output"], model, cfg, tile_size=spec["tile"],
               overlap=spec["overlap"], progress=spec["progress"])
sec, csec = time.perf_counter() - t, cpu() - c
print(json.dumps({"method": cfg.method, "seconds": sec, "cpu_seconds": csec,
                  "rss_before_run_mib": before, "parameters": n_params,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

SCENE_BLOCK = 1024


def build_raster(path: Path, size: int, height: int | None = None, block: int = SCENE_BLOCK,
                 n_scenes: int = 8) -> Path:
    """Write a ``size`` (wide) x ``height`` (default ``size``) 3-band uint8 GeoTIFF window by
    window (tiled 256, no compression, BigTIFF). ``n_scenes`` synthetic ``block``-sided
    scenes are drawn once and repeated over the grid, so building takes minutes, not tens of
    minutes."""
    height = size if height is None else height
    import numpy as np
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    from geoneurips.io import atomic_path
    from geoneurips.segmentation.sgnet.data import make_ambiguous_scene

    rng = np.random.default_rng(0)
    scenes = [make_ambiguous_scene(block, rng)[0] for _ in range(n_scenes)]
    profile = {"driver": "GTiff", "width": size, "height": height, "count": 3, "dtype": "uint8",
               "crs": "EPSG:32614", "transform": Affine(0.3, 0, 600000.0, 0, -0.3, 3400000.0),
               "tiled": True, "blockxsize": 256, "blockysize": 256, "BIGTIFF": "YES"}
    k = 0
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        for r in range(0, height, block):
            for c in range(0, size, block):
                h, w = min(block, height - r), min(block, size - c)
                dst.write(scenes[k % n_scenes][:, :h, :w], window=Window(c, r, w, h))
                k += 1
    return path


def machine() -> dict[str, object]:
    """CPU model, core count, memory and load average at the time of the call."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem_gib,
            "loadavg": list(os.getloadavg()), "niceness": os.nice(0),
            "python": platform.python_version()}


def start_method(method: str, image: Path, out_dir: Path,
                 args: argparse.Namespace) -> tuple[subprocess.Popen[str], Path, list[float]]:
    """Start segmenting ``image`` with ``method`` in a child process."""
    config = {"method": method, "base_width": args.base_width, "base_depth": args.base_depth,
              "context_channels": args.context_channels, "window_size": args.window_size,
              "num_heads": args.num_heads, "context_scale": args.context_scale,
              "patch_size": args.tile}
    out = out_dir / f"pred_{method}.tif"
    spec = {"config": config, "image": str(image), "output": str(out), "tile": args.tile,
            "overlap": args.overlap, "threads": args.threads, "progress": args.progress}
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    load = list(os.getloadavg())
    proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=None, text=True, env=env)
    return proc, out, load


def finish_method(method: str, proc: subprocess.Popen[str], out: Path,
                  load: list[float]) -> dict:
    """Wait for a child started by :func:`start_method`; return its measurements."""
    stdout, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the {method} run failed (exit code {proc.returncode})")
    run = json.loads(stdout.strip().splitlines()[-1])
    run["loadavg_start"] = load
    run["loadavg_end"] = list(os.getloadavg())
    run["output_mib"] = out.stat().st_size / 2**20
    out.unlink(missing_ok=True)
    print(f"[sgnet_memory] {method}: {json.dumps(run)}", file=sys.stderr, flush=True)
    return run


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image", type=Path, help="existing 3-band GeoTIFF (skips building one)")
    ap.add_argument("--size", type=int, default=27000, help="side (width) of the built raster")
    ap.add_argument("--height", type=int, help="height of the built raster (default: --size); "
                    "a short strip of the same width checks that memory does not grow with it")
    ap.add_argument("--tile", type=int, default=1024, help="tile side")
    ap.add_argument("--overlap", type=int, default=64, help="tile overlap")
    ap.add_argument("--base-width", type=int, default=4, help="SmallUNet width")
    ap.add_argument("--base-depth", type=int, default=1, help="SmallUNet depth")
    ap.add_argument("--context-channels", type=int, default=8, help="SCB channels")
    ap.add_argument("--window-size", type=int, default=4, help="W-MSA window")
    ap.add_argument("--num-heads", type=int, default=2, help="W-MSA heads")
    ap.add_argument("--context-scale", type=float, default=3.0, help="surrounding scale")
    ap.add_argument("--threads", type=int, default=2, help="torch threads per run")
    ap.add_argument("--methods", default="sliding,sgnet", help="comma-separated, in order")
    ap.add_argument("--out", type=Path, default=Path("sgnet_bench"), help="work folder")
    ap.add_argument("--concurrent", action="store_true",
                    help="run the methods at the same time (same load; memory is per child)")
    ap.add_argument("--keep-image", action="store_true", help="keep the built raster")
    ap.add_argument("--progress", action="store_true", help="progress bars on stderr")
    ap.add_argument("--json", type=Path, help="also write the report here")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    image = args.image
    t_build = 0.0
    built = False
    if image is None:
        height = args.height or args.size
        image = args.out / f"ultra_{args.size}x{height}.tif"
        if not image.exists():
            t = time.perf_counter()
            build_raster(image, args.size, height)
            t_build = time.perf_counter() - t
            built = True
            print(f"[sgnet_memory] built {image} in {t_build:.0f} s", file=sys.stderr,
                  flush=True)
    from geoneurips.raster.io import raster_info

    info = raster_info(image)
    report: dict[str, object] = {
        "image": str(image), "file_gib": image.stat().st_size / 2**30,
        "pixel_gib": info.width * info.height * info.count / 2**30,
        "width": info.width, "height": info.height, "bands": info.count,
        "tile": args.tile, "overlap": args.overlap, "threads": args.threads,
        "concurrent": args.concurrent,
        "network": {"base_width": args.base_width, "base_depth": args.base_depth,
                    "context_channels": args.context_channels,
                    "window_size": args.window_size, "num_heads": args.num_heads,
                    "context_scale": args.context_scale},
        "build_seconds": t_build, "machine": machine(),
    }
    runs: dict[str, dict] = {}
    methods = [m.strip() for m in args.methods.split(",")]
    try:
        if args.concurrent:  # both children at once: they see the same machine load
            started = {m: start_method(m, image, args.out, args) for m in methods}
            for m in methods:
                runs[m] = finish_method(m, *started[m])
        else:
            for m in methods:
                runs[m] = finish_method(m, *start_method(m, image, args.out, args))
    finally:
        if built and not args.keep_image:
            image.unlink(missing_ok=True)
    mpx = info.width * info.height / 1e6
    for r in runs.values():
        r["mpx_per_s"] = mpx / r["seconds"]
        r["mpx_per_cpu_s"] = mpx / r["cpu_seconds"]
        r["run_added_rss_mib"] = r["peak_rss_mib"] - r["rss_before_run_mib"]
    report["runs"] = runs
    if "sgnet" in runs and "sliding" in runs:
        sg, pl = runs["sgnet"], runs["sliding"]
        report["ratio_peak_rss_sgnet_over_plain"] = sg["peak_rss_mib"] / pl["peak_rss_mib"]
        report["ratio_run_added_rss_sgnet_over_plain"] = (sg["run_added_rss_mib"]
                                                          / pl["run_added_rss_mib"])
        report["ratio_throughput_sgnet_over_plain"] = sg["mpx_per_s"] / pl["mpx_per_s"]
        report["ratio_cpu_seconds_sgnet_over_plain"] = sg["cpu_seconds"] / pl["cpu_seconds"]
        # throughput per CPU second: less sensitive to the load of a shared machine (and to
        # --concurrent, where the method that finishes first leaves the other more CPU)
        report["ratio_cpu_throughput_sgnet_over_plain"] = sg["mpx_per_cpu_s"] / pl["mpx_per_cpu_s"]
    report["machine_end"] = {"loadavg": list(os.getloadavg())}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json is not None:
        from geoneurips.io import write_text

        write_text(args.json, text + "\n")
    return report


if __name__ == "__main__":
    main()
