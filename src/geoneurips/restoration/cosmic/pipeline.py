"""COSMIC training, evaluation and the demo.

Training follows the paper's two stages (Sec. 3.4): (1) the compression module end to end
with the rate-distortion loss ``L = bpp + lambda * 255^2 * MSE`` (plus compressai's auxiliary
quantile loss for the entropy bottleneck); (2) the compensation diffusion model with the
codec frozen, on the residual between images and their ground-decoded reconstructions.
:func:`train_codec` / :func:`train_compensation` are plain loops (fast on CPU);
:class:`COSMICTask` wraps the same losses in a LightningModule.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ...demo import DemoResult, finish, new_figure
from ...errors import InvalidInputError
from ...seed import seed_everything
from .data import FMoWRGB, write_fixture
from .metrics import (
    bits_per_pixel,
    fid,
    jpeg_at_bpp,
    jpeg_roundtrip,
    lpips_distance,
    ms_ssim,
    psnr_batch,
)
from .model import COSMIC, COSMICConfig, encoder_flops_report

__all__ = [
    "COSMICTask",
    "demo",
    "evaluate",
    "load_split",
    "random_crops",
    "rd_loss",
    "train_codec",
    "train_compensation",
]


def load_split(root: str | Path, split: str) -> tuple[Tensor, Tensor]:
    """All images ``(N, 3, H, W)`` and metadata ``(N, 7)`` of an fMoW split (same-size
    images)."""
    ds = FMoWRGB(root, split=split)
    samples = [ds[i] for i in range(len(ds))]
    shapes = {tuple(s["image"].shape) for s in samples}
    if len(shapes) != 1:
        raise InvalidInputError(f"load_split needs one image size, got {sorted(shapes)}")
    return (torch.stack([s["image"] for s in samples]),
            torch.stack([s["metadata"] for s in samples]))


def random_crops(images: Tensor, meta: Tensor, size: int, count: int,
                 generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``count`` random ``size`` crops (with random flips) and their images' metadata."""
    n, _, h, w = images.shape
    idx = torch.randint(0, n, (count,), generator=generator)
    tops = torch.randint(0, h - size + 1, (count,), generator=generator)
    lefts = torch.randint(0, w - size + 1, (count,), generator=generator)
    flips = torch.rand(count, generator=generator) < 0.5
    crops = []
    for i in range(count):
        c = images[idx[i], :, tops[i]:tops[i] + size, lefts[i]:lefts[i] + size]
        crops.append(c.flip(-1) if flips[i] else c)
    return torch.stack(crops), meta[idx]


def rd_loss(out: dict[str, Any], x: Tensor, lmbda: float) -> tuple[Tensor, Tensor, Tensor]:
    """Rate-distortion loss ``bpp + lambda * 255^2 * MSE`` (CompressAI convention)."""
    mse = F.mse_loss(out["x_hat"], x)
    return out["bpp"] + lmbda * 255**2 * mse, out["bpp"], mse


def train_codec(model: COSMIC, images: Tensor, meta: Tensor, *, lmbda: float, steps: int,
                batch_size: int = 8, crop: int = 64, lr: float = 2e-3, seed: int = 0,
                progress: bool = False) -> list[float]:
    """Stage 1: train the compression module; returns the loss history."""
    from tqdm.auto import tqdm

    codec = model.codec
    codec.train()
    main = [p for n, p in codec.named_parameters() if not n.endswith(".quantiles")]
    aux = [p for n, p in codec.named_parameters() if n.endswith(".quantiles")]
    opt = torch.optim.Adam(main, lr=lr)
    aux_opt = torch.optim.Adam(aux, lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 10)
    gen = torch.Generator().manual_seed(seed)
    history = []
    for _ in tqdm(range(steps), disable=not progress, desc="codec"):
        x, _ = random_crops(images, meta, crop, batch_size, gen)
        loss, _, _ = rd_loss(codec(x), x, lmbda)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main, 50.0)
        opt.step()
        sched.step()
        aux_loss = codec.aux_loss()
        aux_opt.zero_grad()
        aux_loss.backward()
        aux_opt.step()
        history.append(float(loss.detach()))
    codec.eval()
    codec.update(force=True)
    return history


@torch.no_grad()
def decode_for_training(model: COSMIC, x: Tensor) -> tuple[Tensor, Tensor]:
    """Ground reconstruction with hard rounding (what the decoder sees after real coding)."""
    codec = model.codec
    codec.eval()
    y = codec.g_a(codec._pad(x))
    z_hat = codec.entropy_bottleneck.quantize(
        codec.h_a(y), "dequantize", codec.entropy_bottleneck._get_medians())
    _, means = codec.h_s(z_hat)
    y_hat = torch.round(y - means) + means
    x_hat = codec.g_s(y_hat)[..., :x.shape[-2], :x.shape[-1]].clamp(0, 1)
    return x_hat, y_hat


def train_compensation(model: COSMIC, images: Tensor, meta: Tensor, *, steps: int,
                       batch_size: int = 8, crop: int = 64, pool: int = 128,
                       lr: float = 2e-3, seed: int = 0, progress: bool = False) -> list[float]:
    """Stage 2: train the metadata-conditioned diffusion compensation (codec frozen)."""
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(seed + 1)
    xs, ms = random_crops(images, meta, crop, pool, gen)
    x_hat, y_hat = decode_for_training(model, xs)
    params = list(model.unet.parameters()) + list(model.meta_encoder.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 10)
    model.unet.train()
    model.meta_encoder.train()
    history = []
    for _ in tqdm(range(steps), disable=not progress, desc="compensation"):
        idx = torch.randint(0, pool, (batch_size,), generator=gen)
        loss = model.compensation_loss(xs[idx], x_hat[idx], y_hat[idx], ms[idx], generator=gen)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        history.append(float(loss.detach()))
    model.eval()
    return history


def evaluate(model: COSMIC, images: Tensor, meta: Tensor, *, sample_steps: int | None = None,
             seed: int = 0, noise_scales: tuple[float, float] = (0.0, 1.0)) -> dict[str, Any]:
    """Real coding of ``images``: bpp from the byte strings; PSNR / MS-SSIM of the ground
    decoder alone (``*_decoder``), of decoder + compensation decoded with
    ``rho = noise_scales[0]`` (``psnr``, ``ms_ssim``, images ``x_tilde``; distortion-oriented
    by default) and with ``rho = noise_scales[1]`` (``*_sampled``, images ``x_sampled``;
    the standard sampler, perception-oriented)."""
    model.eval()
    items = model.codec.compress(images)
    h, w = images.shape[-2:]
    dec = model.codec.decompress(items)
    out: dict[str, Any] = {
        "bpp": bits_per_pixel([it.num_bytes for it in items], h, w),
        "psnr_decoder": psnr_batch(dec["x_hat"], images),
        "ms_ssim_decoder": ms_ssim(dec["x_hat"], images),
        "x_hat": dec["x_hat"],
    }
    for key, suffix, rho in (("x_tilde", "", noise_scales[0]),
                             ("x_sampled", "_sampled", noise_scales[1])):
        gen = torch.Generator().manual_seed(seed)
        x = model.compensate(dec["x_hat"], dec["y_hat"], meta, sample_steps, gen, rho)
        out[key] = x
        out["psnr" + suffix] = psnr_batch(x, images)
        out["ms_ssim" + suffix] = ms_ssim(x, images)
    return out


class COSMICTask:
    """LightningModule factory for the two training stages (``stage="codec"`` or
    ``"compensation"``); batches are fMoW sample dicts (``image``, ``metadata``).

    ``COSMICTask(config, lmbda=0.01, stage="codec")`` returns a ``lightning.LightningModule``
    (the class is built lazily so that importing this module does not import Lightning).
    """

    def __new__(cls, config: COSMICConfig | None = None, lmbda: float = 0.01,
                stage: str = "codec", lr: float = 1e-3, model: COSMIC | None = None) -> Any:
        import lightning as L

        if stage not in ("codec", "compensation"):
            raise InvalidInputError(f"stage must be 'codec' or 'compensation', got {stage!r}")

        class _Task(L.LightningModule):
            def __init__(self) -> None:
                super().__init__()
                self.model = model or COSMIC(config or COSMICConfig.tiny())
                self.lmbda = lmbda
                self.stage = stage
                self.lr = lr
                self.automatic_optimization = False

            def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
                x, meta = batch["image"], batch["metadata"]
                opts = self.optimizers()
                if self.stage == "codec":
                    opt, aux_opt = opts
                    loss, bpp, mse = rd_loss(self.model.codec(x), x, self.lmbda)
                    opt.zero_grad()
                    self.manual_backward(loss)
                    opt.step()
                    aux = self.model.codec.aux_loss()
                    aux_opt.zero_grad()
                    self.manual_backward(aux)
                    aux_opt.step()
                    self.log_dict({"loss": loss, "bpp": bpp, "mse": mse})
                else:
                    x_hat, y_hat = decode_for_training(self.model, x)
                    loss = self.model.compensation_loss(x, x_hat, y_hat, meta)
                    opts.zero_grad()
                    self.manual_backward(loss)
                    opts.step()
                    self.log("loss", loss)
                return loss.detach()

            def on_train_end(self) -> None:
                self.model.codec.update(force=True)

            def configure_optimizers(self) -> Any:
                codec = self.model.codec
                if self.stage == "codec":
                    main = [p for n, p in codec.named_parameters()
                            if not n.endswith(".quantiles")]
                    aux = [p for n, p in codec.named_parameters() if n.endswith(".quantiles")]
                    return [torch.optim.Adam(main, lr=self.lr), torch.optim.Adam(aux, lr=1e-2)]
                params = list(self.model.unet.parameters()) + list(
                    self.model.meta_encoder.parameters())
                return torch.optim.Adam(params, lr=self.lr)

        return _Task()


# ----------------------------------------------------------------------------------- demo


def _feature_net(seed: int) -> Any:
    """A fixed random convolutional feature network: the demo's stand-in for the user's
    LPIPS/FID network (e.g. VGG/Inception weights from a local checkpoint)."""
    gen = torch.Generator().manual_seed(seed)
    w1 = torch.randn(16, 3, 3, 3, generator=gen) / 5
    w2 = torch.randn(32, 16, 3, 3, generator=gen) / 12

    def layers(x: Tensor) -> list[Tensor]:
        a = F.relu(F.conv2d(x.float() * 2 - 1, w1, padding=1))
        b = F.relu(F.conv2d(F.avg_pool2d(a, 2), w2, padding=1))
        return [a, b]

    return layers


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """Train COSMIC on synthetic fMoW-layout imagery, code the validation images into real
    bitstreams, and compare with JPEG at the same bits per pixel.

    Primary metric: PSNR (dB) of COSMIC (decoder + diffusion compensation decoded with
    ``rho = 0``) against JPEG's PSNR interpolated at COSMIC's bpp, at the lowest-rate point;
    margin 0.5 dB.
    """
    started = time.perf_counter()
    seed_everything(seed)
    threads = torch.get_num_threads()
    # tiny tensors: intra-op threading costs more than it gains (and thrashes a busy machine)
    torch.set_num_threads(1)
    try:
        return _demo(out_dir, quick, seed, started)
    finally:
        torch.set_num_threads(threads)


def _demo(out_dir: Path, quick: bool, seed: int, started: float) -> DemoResult:
    import tempfile

    cfg = COSMICConfig.tiny()
    lambdas = [0.02] if quick else [0.01, 0.04]
    codec_steps = 150 if quick else 300
    comp_steps = 60 if quick else 120
    with tempfile.TemporaryDirectory() as tmp:
        root = write_fixture(Path(tmp) / "fmow-rgb", n_train=12 if quick else 24,
                             n_val=4 if quick else 6, size=192, seed=seed)
        train_x, train_m = load_split(root, "train")
        val_x, val_m = load_split(root, "val")
    points = []
    model: COSMIC | None = None
    result: dict[str, Any] = {}
    for i, lmbda in enumerate(lambdas):
        torch.manual_seed(seed + i)
        model = COSMIC(cfg)
        train_codec(model, train_x, train_m, lmbda=lmbda, steps=codec_steps, seed=seed + i)
        train_compensation(model, train_x, train_m, steps=comp_steps, seed=seed + i)
        result = evaluate(model, val_x, val_m, seed=seed)
        jpeg = jpeg_at_bpp(val_x, result["bpp"])
        points.append({"lambda": lmbda, "bpp": result["bpp"], "psnr": result["psnr"],
                       "ms_ssim": result["ms_ssim"], "psnr_decoder": result["psnr_decoder"],
                       "ms_ssim_decoder": result["ms_ssim_decoder"],
                       "psnr_sampled": result["psnr_sampled"],
                       "ms_ssim_sampled": result["ms_ssim_sampled"], "jpeg_psnr": jpeg["psnr"],
                       "jpeg_ms_ssim": jpeg["ms_ssim"], "jpeg_quality": jpeg["quality"],
                       "jpeg_reachable": jpeg["reachable"], "jpeg_bpp": jpeg["bpp"]})
    assert model is not None
    low = min(points, key=lambda p: p["bpp"])
    # LPIPS/FID on the last (highest-lambda) model; JPEG at that model's bpp
    top = points[-1]
    # LPIPS / FID with a stand-in feature network (fixed random convolutions)
    feats = _feature_net(seed)
    jpeg_dec, _ = jpeg_roundtrip(val_x, max(1, int(top["jpeg_quality"])))
    jpeg_t = torch.as_tensor(jpeg_dec, dtype=torch.float32)
    last = result  # the last trained model's reconstructions

    def pooled(x: Tensor) -> Tensor:
        return torch.cat([f.mean(dim=(2, 3)) for f in feats(x)], dim=1)[:, :8]

    lp_cosmic = float(np.mean(lpips_distance(last["x_tilde"], val_x, feats)))
    lp_sampled = float(np.mean(lpips_distance(last["x_sampled"], val_x, feats)))
    lp_jpeg = float(np.mean(lpips_distance(jpeg_t, val_x, feats)))
    fid_cosmic = fid(val_x, last["x_tilde"], pooled)
    fid_jpeg = fid(val_x, jpeg_t, pooled)
    flops = encoder_flops_report(cfg, size=256)
    flops_paper = encoder_flops_report(COSMICConfig.paper(), size=256)

    metrics = {"bpp": low["bpp"], "psnr": low["psnr"], "ms_ssim": low["ms_ssim"],
               "psnr_decoder_only": low["psnr_decoder"], "psnr_gain_vs_jpeg":
               low["psnr"] - low["jpeg_psnr"], "lpips_standin": lp_cosmic,
               "fid_standin": fid_cosmic}
    baseline = {"bpp": low["bpp"], "psnr": low["jpeg_psnr"], "ms_ssim": low["jpeg_ms_ssim"],
                "psnr_decoder_only": low["jpeg_psnr"], "psnr_gain_vs_jpeg": 0.0,
                "lpips_standin": lp_jpeg, "fid_standin": fid_jpeg}

    fig, axes = new_figure(4, 1, size=3.2)
    ax = axes[0][0]
    jq = [jpeg_roundtrip(val_x, q) for q in (2, 5, 10, 20, 35, 50, 70)]
    ax.plot([b for _, b in jq], [psnr_batch(d, val_x) for d, _ in jq], "o-", label="JPEG")
    ax.plot([p["bpp"] for p in points], [p["psnr"] for p in points], "s-", label="COSMIC")
    ax.plot([p["bpp"] for p in points], [p["psnr_decoder"] for p in points], "^--",
            label="COSMIC w/o diffusion")
    ax.set_xlabel("bpp")
    ax.set_ylabel("PSNR (dB)")
    ax.legend(fontsize=7)
    ax.set_title("rate-distortion (val)")
    for a, img, title in ((axes[0][1], val_x[0], "original"),
                          (axes[0][2], last["x_tilde"][0], f"COSMIC {points[-1]['bpp']:.2f} bpp"),
                          (axes[0][3], jpeg_t[0], f"JPEG q{max(1, int(top['jpeg_quality']))}")):
        a.imshow(np.clip(img.numpy().transpose(1, 2, 0), 0, 1))
        a.set_title(title, fontsize=8)
        a.axis("off")
    details = {
        "rd_points": points,
        "lpips_standin_sampled_rho1": lp_sampled,
        "encoder_flops_tiny": flops,
        "encoder_flops_paper_widths": flops_paper,
        "encoder_flops_ratio_vs_hyperprior": flops_paper["flops_ratio"],
        "config": {"n": cfg.n, "m": cfg.m, "unet_width": cfg.unet_width,
                   "sample_steps": cfg.sample_steps, "codec_steps": codec_steps,
                   "compensation_steps": comp_steps, "lambdas": lambdas},
        "val_images": int(val_x.shape[0]), "image_size": int(val_x.shape[-1]),
        "note": ("bpp from real compressai range-coder bytes (12-byte header included); JPEG "
                 "bpp from whole Pillow files, PSNR/MS-SSIM interpolated at COSMIC's bpp. "
                 "LPIPS/FID use a fixed random conv net as a stand-in user feature network."),
    }
    return finish("cosmic", metrics, baseline, primary="psnr", margin=0.5,
                  higher_is_better=True, figure=fig, out_dir=out_dir, started=started,
                  details=details)
