"""COSMIC demo: COSMIC against JPEG and the learned codecs it is compared with, at matched
rate, with the decoder alone as the ablation and the paper's tile-seam test.

See :func:`demo` for the protocol; :mod:`.pipeline` holds the training and evaluation code.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ...demo import DemoResult, finish, new_figure
from ...seed import seed_everything, single_thread
from .baselines import build_baseline, real_coding
from .data import write_fixture
from .metrics import (
    bits_per_pixel,
    jpeg_at_bpp,
    jpeg_file_bytes,
    jpeg_overhead_bytes,
    jpeg_roundtrip,
    ms_ssim,
    psnr_batch,
    seam_ratio,
)
from .model import COSMIC, COSMICConfig, encoder_flops_report
from .pipeline import (
    evaluate,
    load_split,
    save_model,
    train_codec,
    train_compensation,
    train_rd_codec,
)

__all__ = ["demo", "explain_ms_ssim", "match_rate", "tiles_to_batch", "batch_to_tiles"]

_LEARNED = ("scale_hyperprior", "mean_scale_hyperprior")


def match_rate(points: list[dict[str, float]], bpp: float) -> dict[str, float] | None:
    """A baseline's metrics at the rate ``bpp`` from its RD operating points.

    Linear interpolation (in bpp) of every metric between the two points that bracket
    ``bpp``; the lowest-rate point when it is already at or above ``bpp`` (the baseline then
    spends at least as many bits as the method, which favours it); ``None`` when every point
    is below ``bpp`` (no honest match: extrapolation is not done). The result holds
    ``"bpp"`` (the matched rate) and ``"matched"`` (1 interpolated, 0 operating point).
    """
    pts = sorted(points, key=lambda p: p["bpp"])
    if not pts or pts[-1]["bpp"] < bpp:
        return None
    if pts[0]["bpp"] >= bpp:
        return {**pts[0], "matched": 0.0}
    for lo, hi in zip(pts[:-1], pts[1:], strict=True):
        if lo["bpp"] <= bpp <= hi["bpp"]:
            a = (bpp - lo["bpp"]) / max(hi["bpp"] - lo["bpp"], 1e-12)
            out = {k: lo[k] + a * (hi[k] - lo[k]) for k in lo if k in hi}
            out["bpp"] = bpp
            out["matched"] = 1.0
            return out
    return None  # pragma: no cover (unreachable: the points bracket bpp)


def batch_to_tiles(x: Tensor, tile: int) -> Tensor:
    """``(B, C, H, W)`` -> ``(B * (H / tile) * (W / tile), C, tile, tile)``, row-major."""
    b, c, h, w = x.shape
    t = x.reshape(b, c, h // tile, tile, w // tile, tile).permute(0, 2, 4, 1, 3, 5)
    return t.reshape(-1, c, tile, tile)


def tiles_to_batch(t: Tensor, b: int, h: int, w: int) -> Tensor:
    """Inverse of :func:`batch_to_tiles` (tiles of any common size; ``h, w`` in tiles x
    tile size)."""
    c, th, tw = t.shape[1:]
    x = t.reshape(b, h // th, w // tw, c, th, tw).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, c, h, w)


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """Train COSMIC and the learned baselines on synthetic fMoW-layout imagery, code held-out
    scenes into real bitstreams, and compare at matched rate.

    Every codec is trained the same way: same synthetic training scenes (written by the
    fixture writer, read by :class:`~.data.FMoWRGB`), same crops, steps, optimiser and
    ``lambda``; evaluation scenes are drawn after the training ones (unseen). Baselines:

    * ``scale_hyperprior`` (Balle et al. 2018) and ``mean_scale_hyperprior`` (Minnen et al.
      2018: COSMIC's entropy model with a dense encoder): compressai models of COSMIC's
      widths, see :mod:`.baselines` (which also has the factorized prior; it is not run here
      for time: it was the weakest learned baseline in every run we made);
    * ``jpeg_file``: JPEG charged for its whole file, at COSMIC's rate if it reaches it,
      else at quality 1 (its lowest rate, then higher than COSMIC's);
    * ``jpeg_scan_only``: JPEG charged for its entropy-coded scan only (headers free),
      interpolated on its RD curve at COSMIC's rate.

    **Rate matching.** COSMIC's rate is its real bitstream (12-byte header included). Each
    learned baseline is trained at COSMIC's ``lambda`` first. If its real rate is below
    COSMIC's it is retrained at twice the ``lambda`` (up to twice) until a point is at or
    above COSMIC's rate. In the full demo, a first point above 1.25 x COSMIC's rate is
    followed by retraining at half the ``lambda`` (up to twice) to get a point below. PSNR /
    MS-SSIM are then interpolated linearly in bpp between the two points bracketing COSMIC's
    rate, or, without a point below (always in the quick demo, which skips that search for
    time), taken at the lowest-rate point at or above it: the baseline then spends more bits
    than COSMIC, which favours it (:func:`match_rate`). ``details["rate_matching"]`` says
    which rule applied; the baselines' ``bpp`` is the rate they are compared at (never below
    COSMIC's).

    **Method and ablations.** ``metrics["psnr"]`` is COSMIC's PSNR-oriented output (decoder +
    compensation decoded with ``rho = 0``, one DDIM step from ``x_T = 0``);
    ``psnr_rho1`` / ``ms_ssim_rho1`` the true sampler (``rho = 1``, ``sample_steps`` DDIM
    steps from noise), reported as information (a sampler trades PSNR for realism). The
    ablation ``decoder_only`` is the same codec without the compensation; ``sampler_rho1``
    repeats the sampler's numbers. Primary metric PSNR, margin 0.2 dB, against the strongest
    baseline.

    ``ms_ssim`` trailing a JPEG file is explained only when that file spends over twice
    COSMIC's bits (it cannot reach COSMIC's rate); any other regression fails the demo.

    **Tile seams** (the paper's tile test, reported as information): each held-out scene
    is cut into 64-pixel tiles coded independently, then stitched; COSMIC's compensation runs
    on the stitched mosaic (the ground has all tiles). ``seam_ratio`` (lower is better, 1 = no seam) is the mean squared
    gradient of the error across tile boundaries over that inside tiles
    (:func:`~.metrics.seam_ratio`).

    LPIPS and FID are not reported: they need VGG / Inception weights (none ship, nothing
    downloads). ``details["cpu_seconds"]`` is the process CPU time (one thread). The trained
    model is saved as ``out_dir/cosmic_demo.pt`` (``details["checkpoint"]``).
    """
    started = time.perf_counter()
    cpu0 = time.process_time()
    seed_everything(seed)
    # one thread: the same float order (so the same result) on any core count; small
    # tensors gain nothing from more (and thrash a busy machine)
    with single_thread():
        return _demo(out_dir, quick, seed, started, cpu0)


def explain_ms_ssim(ours: float, rate: float,
                    baselines: dict[str, dict[str, float]]) -> dict[str, str]:
    """The ``ms_ssim`` explanation, given only while its text holds.

    JPEG files cannot go below ~0.12 bpp (headers and tables): when COSMIC's MS-SSIM trails
    only JPEG (the file and its scan-only accounting, the same decoded image) and the JPEG
    file spends well over twice COSMIC's bits, that is said, with every better baseline's
    rate. Any other baseline better on MS-SSIM (a learned codec, even when a JPEG file is
    better still) leaves the regression unexplained. (Before the 2026-12-06 audit only the
    best baseline was checked, so "only JPEG files beat it" could hide a learned codec.)"""
    better = {n: b for n, b in baselines.items() if b["ms_ssim"] > ours}
    if (not better or not set(better) <= {"jpeg_file", "jpeg_scan_only"}
            or "jpeg_file" not in better or not better["jpeg_file"]["bpp"] > 2 * rate):
        return {}
    rates = ", ".join(f"{n} at {b['bpp'] / rate:.1f}x" for n, b in better.items())
    return {"ms_ssim": f"only JPEG beats it ({rates} COSMIC's rate; a JPEG file cannot "
                       "reach COSMIC's rate)"}


def _point(x_hat: Tensor, images: Tensor, sizes: list[int]) -> dict[str, float]:
    h, w = images.shape[-2:]
    return {"bpp": bits_per_pixel(sizes, h, w), "psnr": psnr_batch(x_hat, images),
            "ms_ssim": ms_ssim(x_hat, images)}


def _cosmic_tiles(model: COSMIC, val_x: Tensor, val_m: Tensor, tile: int,
                  seed: int) -> dict[str, Tensor]:
    """COSMIC on independently coded tiles; compensation on the stitched mosaic."""
    b, _, h, w = val_x.shape
    items = model.codec.compress(batch_to_tiles(val_x, tile))
    dec = model.codec.decompress(items)
    x_hat = tiles_to_batch(dec["x_hat"], b, h, w)
    cell = model.codec.multiple // 4
    y_hat = tiles_to_batch(dec["y_hat"], b, h // cell, w // cell)
    gen = torch.Generator().manual_seed(seed)
    x_tilde = model.compensate(x_hat, y_hat, val_m, None, gen, 0.0)
    return {"decoder_only": x_hat, "cosmic": x_tilde}


def _demo(out_dir: Path, quick: bool, seed: int, started: float, cpu0: float) -> DemoResult:
    import tempfile

    cfg = COSMICConfig.tiny()
    lmbda = 0.01
    codec_steps = 120 if quick else 300
    comp_steps = 50 if quick else 120
    n_train, n_val = (16, 4) if quick else (24, 6)
    tile = 64
    with tempfile.TemporaryDirectory() as tmp:
        root = write_fixture(Path(tmp) / "fmow-rgb", n_train=n_train, n_val=n_val, size=192,
                             seed=seed)
        train_x, train_m = load_split(root, "train")
        val_x, val_m = load_split(root, "val")
    h, w = val_x.shape[-2:]
    b = val_x.shape[0]

    # ---- COSMIC: codec (stage 1), compensation (stage 2), real coding
    torch.manual_seed(seed)
    model = COSMIC(cfg)
    model.eval()
    model.codec.update(force=True)
    untrained = _point(model.codec.decompress(items := model.codec.compress(val_x))["x_hat"],
                       val_x, [it.num_bytes for it in items])
    t0 = time.process_time()
    codec_hist = train_codec(model, train_x, train_m, lmbda=lmbda, steps=codec_steps, seed=seed)
    t1 = time.process_time()
    comp_hist = train_compensation(model, train_x, train_m, steps=comp_steps, seed=seed)
    t2 = time.process_time()
    res = evaluate(model, val_x, val_m, seed=seed)
    rate = res["bpp"]

    # ---- learned baselines: same data, steps, lambda; doubled lambda until the rate is met
    learned: dict[str, dict[str, Any]] = {}
    recon: dict[str, Tensor] = {}
    t3 = time.process_time()
    for kind in _LEARNED:
        points, lambdas = [], []
        lam = lmbda
        for _ in range(3):
            torch.manual_seed(seed)
            codec = build_baseline(kind, cfg.n, cfg.m, cfg.latent_gain)  # type: ignore[arg-type]
            train_rd_codec(codec, train_x, train_m, lmbda=lam, steps=codec_steps, seed=seed)
            x_b, sizes = real_coding(codec, val_x)
            points.append(_point(x_b, val_x, sizes))
            lambdas.append(lam)
            if len(points) == 1:
                recon[kind] = x_b
                tiles, _ = real_coding(codec, batch_to_tiles(val_x, tile))
                recon[kind + "_tiles"] = tiles_to_batch(tiles, b, h, w)
            above = [p["bpp"] for p in points if p["bpp"] >= rate]
            bracketed = bool(above) and len(above) < len(points)
            if above and (quick or bracketed or min(above) <= 1.25 * rate):
                break
            lam = max(lambdas) * 2 if not above else min(lambdas) / 2
        learned[kind] = {"points": points, "lambdas": lambdas,
                         "matched": match_rate(points, rate)}
    t4 = time.process_time()

    # ---- JPEG: whole file (matched if reachable, else quality 1) and scan data only
    jpeg = jpeg_at_bpp(val_x, rate)
    q_base = max(1, int(jpeg["quality"]))
    curve = []
    for q in (1, 2, 3, 5, 8, 10, 15, 20, 30):
        dec, bpp = jpeg_roundtrip(val_x, q)
        head = bits_per_pixel([jpeg_overhead_bytes(f) for f in jpeg_file_bytes(val_x, q)], h, w)
        curve.append({"quality": q, "bpp": bpp, "scan_bpp": bpp - head,
                      "psnr": psnr_batch(dec, val_x), "ms_ssim": ms_ssim(dec, val_x)})
    scan = match_rate([{"bpp": c["scan_bpp"], "psnr": c["psnr"], "ms_ssim": c["ms_ssim"]}
                       for c in curve], rate)
    jt, _ = jpeg_roundtrip(batch_to_tiles(val_x, tile), q_base)
    jpeg_tiles = tiles_to_batch(torch.as_tensor(jt, dtype=torch.float32), b, h, w)

    # ---- tile seams
    ct = _cosmic_tiles(model, val_x, val_m, tile, seed)
    seams = {"cosmic": seam_ratio(ct["cosmic"], val_x, tile),
             "decoder_only": seam_ratio(ct["decoder_only"], val_x, tile),
             "jpeg_file": seam_ratio(jpeg_tiles, val_x, tile)}
    for kind in _LEARNED:
        seams[kind] = seam_ratio(recon[kind + "_tiles"], val_x, tile)
    seams_whole = {"cosmic": seam_ratio(res["x_tilde"], val_x, tile),
                   "decoder_only": seam_ratio(res["x_hat"], val_x, tile)}
    tile_psnr = {"cosmic": psnr_batch(ct["cosmic"], val_x),
                 "decoder_only": psnr_batch(ct["decoder_only"], val_x)}

    # ---- the contract
    metrics = {"bpp": rate, "psnr": res["psnr"], "ms_ssim": res["ms_ssim"],
               "psnr_rho1": res["psnr_sampled"], "ms_ssim_rho1": res["ms_ssim_sampled"],
               "seam_ratio": seams["cosmic"]}
    directions = {"bpp": "min", "psnr": "max", "ms_ssim": "max", "psnr_rho1": "info",
                  "ms_ssim_rho1": "info", "seam_ratio": "info"}
    baselines: dict[str, dict[str, float]] = {
        "jpeg_file": {"bpp": jpeg["bpp"], "psnr": jpeg["psnr"], "ms_ssim": jpeg["ms_ssim"],
                      "seam_ratio": seams["jpeg_file"]},
    }
    if scan is not None:
        baselines["jpeg_scan_only"] = {"bpp": scan["bpp"], "psnr": scan["psnr"],
                                       "ms_ssim": scan["ms_ssim"]}
    unmatched = []
    for kind in _LEARNED:
        m = learned[kind]["matched"]
        if m is None:  # never reached COSMIC's rate: compare at its highest point, flagged
            unmatched.append(kind)
            m = max(learned[kind]["points"], key=lambda p: p["bpp"])
        baselines[kind] = {"bpp": m["bpp"], "psnr": m["psnr"], "ms_ssim": m["ms_ssim"],
                           "seam_ratio": seams[kind]}
    explained = explain_ms_ssim(res["ms_ssim"], rate, baselines)
    ablations = {
        "decoder_only": {"bpp": rate, "psnr": res["psnr_decoder"],
                         "ms_ssim": res["ms_ssim_decoder"], "seam_ratio": seams["decoder_only"]},
        "sampler_rho1": {"bpp": rate, "psnr": res["psnr_sampled"],
                         "ms_ssim": res["ms_ssim_sampled"]},
    }

    fig, axes = new_figure(5, 1, size=3.2)
    ax = axes[0][0]
    ax.plot([c["bpp"] for c in curve], [c["psnr"] for c in curve], "o-", label="JPEG (file)")
    ax.plot([c["scan_bpp"] for c in curve], [c["psnr"] for c in curve], ":", color="grey",
            label="JPEG scan only")
    for kind, marker in zip(_LEARNED, ("D", "o"), strict=True):
        pts = sorted(learned[kind]["points"], key=lambda p: p["bpp"])
        ax.plot([p["bpp"] for p in pts], [p["psnr"] for p in pts], marker + "--", label=kind)
    for key, marker, label in (("psnr", "s", "COSMIC rho=0"), ("psnr_decoder", "^",
                                                                "decoder only"),
                               ("psnr_sampled", "v", "COSMIC rho=1")):
        ax.plot([rate], [res[key]], marker, label=label)
    ax.set_xlabel("bpp")
    ax.set_ylabel("PSNR (dB)")
    ax.set_xlim(0, max(0.45, rate * 1.5))
    ax.legend(fontsize=6)
    ax.set_title("rate-distortion (held-out)")
    for a, img, title in (
            (axes[0][1], val_x[0], "original"),
            (axes[0][2], res["x_tilde"][0], f"COSMIC rho=0 {rate:.3f} bpp"),
            (axes[0][3], recon["scale_hyperprior"][0],
             f"hyperprior {learned['scale_hyperprior']['points'][0]['bpp']:.3f} bpp"),
            (axes[0][4], ct["cosmic"][0], f"COSMIC, {tile}-px tiles (seam "
                                          f"{seams['cosmic']:.2f})")):
        a.imshow(np.clip(img.numpy().transpose(1, 2, 0), 0, 1))
        a.set_title(title, fontsize=8)
        a.axis("off")
    cpu = time.process_time() - cpu0
    ckpt = save_model(model, Path(out_dir) / "cosmic_demo.pt")
    flops_paper = encoder_flops_report(COSMICConfig.paper(), size=256)
    details = {
        "rate_matching": {
            "rule": ("learned baselines: trained at COSMIC's lambda, retrained at 2x lambda "
                     "while below COSMIC's rate and (full demo) at lambda / 2 while above "
                     "1.25 x it; interpolated linearly in bpp between bracketing points, else "
                     "the lowest-rate point at or above COSMIC's rate; JPEG file: interpolated "
                     "if reachable, else quality 1 (higher rate); JPEG scan-only: "
                     "interpolated on its scan-bpp curve"),
            **{kind: {"lambdas": learned[kind]["lambdas"],
                      "points": learned[kind]["points"],
                      "how": ("not matched: never reached COSMIC's rate"
                              if kind in unmatched else
                              "interpolated" if learned[kind]["matched"]["matched"]
                              else "operating point at >= COSMIC's rate")}
               for kind in _LEARNED},
            "jpeg_file": ("interpolated" if jpeg["reachable"] else
                          f"quality {q_base} (lowest reachable rate)"),
        },
        "unmatched_baselines": unmatched,
        "cosmic_untrained_codec": untrained,
        "jpeg_curve": curve,
        "jpeg_header_bpp": bits_per_pixel(
            [jpeg_overhead_bytes(f) for f in jpeg_file_bytes(val_x, q_base)], h, w),
        "tile_test": {"tile": tile, "seam_ratio_tiled": seams,
                      "seam_ratio_whole_image_coding": seams_whole,
                      "psnr_tiled": tile_psnr,
                      "note": ("tiles coded independently and stitched; COSMIC's compensation "
                               "runs on the stitched mosaic; 1 = no seam")},
        "encoder_flops_paper_widths": flops_paper,
        "encoder_flops_ratio_vs_hyperprior": flops_paper["flops_ratio"],
        "cpu_seconds": round(cpu, 2),
        "cpu_seconds_codec_training": round(t1 - t0, 2),
        "cpu_seconds_compensation_training": round(t2 - t1, 2),
        "cpu_seconds_baselines": round(t4 - t3, 2),
        "codec_loss_first_last": [float(np.mean(codec_hist[:5])),
                                  float(np.mean(codec_hist[-10:]))],
        "compensation_loss_first_last": [float(np.mean(comp_hist[:5])),
                                         float(np.mean(comp_hist[-10:]))],
        "checkpoint": str(ckpt),
        "config": {"n": cfg.n, "m": cfg.m, "unet_width": cfg.unet_width,
                   "sample_steps": cfg.sample_steps, "codec_steps": codec_steps,
                   "compensation_steps": comp_steps, "lambda": lmbda, "crop": 128,
                   "batch_size": 2, "lr": 2e-3},
        "val_images": int(b), "image_size": int(h),
        "highlights": {
            "encoder FLOPs ratio, hyperprior encoder / COSMIC encoder (paper widths, 256 px)":
                flops_paper["flops_ratio"],
            "compensation gain over the decoder alone (dB, rho = 0)":
                res["psnr"] - res["psnr_decoder"],
            "PSNR of the true sampler (rho = 1) minus rho = 0 (dB)":
                res["psnr_sampled"] - res["psnr"],
        },
    }
    return finish("cosmic", metrics, baselines=baselines, primary="psnr", margin=0.2,
                  directions=directions, figure=fig, out_dir=out_dir, started=started,
                  ablations=ablations, regressions_explained=explained, details=details)
