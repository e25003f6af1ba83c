"""COSMIC training, evaluation and the demo.

Training follows the paper's two stages (Sec. 3.4): (1) the compression module end to end
with the rate-distortion loss ``L = bpp + lambda * 255^2 * MSE`` (plus compressai's auxiliary
quantile loss for the entropy bottleneck); (2) the compensation diffusion model with the
codec frozen, on the residual between images and their ground-decoded reconstructions.
:func:`train_codec` / :func:`train_compensation` are plain loops (fast on CPU);
:class:`COSMICTask` wraps the same losses in a LightningModule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ...errors import InvalidInputError
from .data import FMoWRGB
from .metrics import bits_per_pixel, ms_ssim, psnr_batch
from .model import COSMIC, COSMICConfig

__all__ = [
    "COSMICTask",
    "evaluate",
    "load_model",
    "load_split",
    "random_crops",
    "rd_loss",
    "save_model",
    "train_codec",
    "train_compensation",
    "train_rd_codec",
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
    """Rate-distortion loss ``bpp + lambda * 255^2 * MSE`` (CompressAI convention); the rate
    is ``out["bpp"]`` (COSMIC's codec) or ``-sum log2 p / pixels`` from
    ``out["likelihoods"]`` (any compressai model)."""
    from .baselines import rate_bits

    mse = F.mse_loss(out["x_hat"], x)
    bpp = out["bpp"] if "bpp" in out else rate_bits(out["likelihoods"]) / (
        x.shape[0] * x.shape[-2] * x.shape[-1])
    return bpp + lmbda * 255**2 * mse, bpp, mse


def train_codec(model: COSMIC, images: Tensor, meta: Tensor, *, lmbda: float, steps: int,
                batch_size: int = 2, crop: int = 128, lr: float = 2e-3, seed: int = 0,
                progress: bool = False) -> list[float]:
    """Stage 1: train the compression module (:func:`train_rd_codec` on ``model.codec``);
    returns the loss history."""
    return train_rd_codec(model.codec, images, meta, lmbda=lmbda, steps=steps,
                          batch_size=batch_size, crop=crop, lr=lr, seed=seed, progress=progress)


def train_rd_codec(codec: Any, images: Tensor, meta: Tensor, *, lmbda: float, steps: int,
                   batch_size: int = 2, crop: int = 128, lr: float = 2e-3, seed: int = 0,
                   density_lr_scale: float = 10.0, progress: bool = False) -> list[float]:
    """Train a learned codec (COSMIC's or a compressai baseline) with the rate-distortion
    loss; the same ``seed`` gives every codec the same crops. Returns the loss history.

    ``crop`` must be a multiple of 64 and at least 128: the hyper latent ``z`` is 64x
    downsampled, so a 64-pixel crop has a single ``z`` value and every latent touches the
    border; a codec trained on such crops learns rates that do not transfer to whole
    images (its real bitstreams on 192-pixel images came out ~10x above its training rate).

    ``density_lr_scale`` multiplies the learning rate of the factorized entropy model's
    density parameters (``entropy_bottleneck.*``) [choice, applied to every codec alike]: a
    factorized prior starts far from the latents' distribution and, at the transforms'
    learning rate, does not fit it in a few hundred steps (compressai's factorized-prior
    baseline kept a real rate near 0.7 bpp whatever ``lambda`` at scale 1; 0.07 bpp at 10).
    """
    from tqdm.auto import tqdm

    mult = int(getattr(codec, "multiple", 64))
    if crop % mult or crop < 2 * mult:
        raise InvalidInputError(f"crop must be a multiple of {mult} and >= {2 * mult}, got {crop}")
    if min(images.shape[-2:]) < crop:
        raise InvalidInputError(f"training images {tuple(images.shape[-2:])} are smaller than "
                                f"the crop {crop}")
    codec.train()
    named = [(n, p) for n, p in codec.named_parameters() if not n.endswith(".quantiles")]
    main = [p for _, p in named]
    density = [p for n, p in named if n.startswith("entropy_bottleneck.")]
    rest = [p for n, p in named if not n.startswith("entropy_bottleneck.")]
    aux = [p for n, p in codec.named_parameters() if n.endswith(".quantiles")]
    opt = torch.optim.Adam([{"params": rest, "lr": lr},
                            {"params": density, "lr": lr * density_lr_scale}])
    aux_opt = torch.optim.Adam(aux, lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 10)
    gen = torch.Generator().manual_seed(seed)
    history = []
    for _ in tqdm(range(steps), disable=not progress, desc="codec"):
        x, _ = random_crops(images, meta, crop, batch_size, gen)
        loss, _, _ = rd_loss(codec(x), x, lmbda)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
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


def _aligned_crops(x: Tensor, x_hat: Tensor, y_hat: Tensor, meta: Tensor, size: int,
                   count: int, cell: int, generator: torch.Generator
                   ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``count`` random ``size`` crops of images, decoded images and latents, aligned to the
    latent grid (offsets multiples of ``cell``, the encoder's downsampling)."""
    n, _, h, w = x.shape
    idx = torch.randint(0, n, (count,), generator=generator)
    tops = torch.randint(0, (h - size) // cell + 1, (count,), generator=generator)
    lefts = torch.randint(0, (w - size) // cell + 1, (count,), generator=generator)
    s = size // cell
    xs, xh, ys = [], [], []
    for i in range(count):
        t, le = int(tops[i]), int(lefts[i])
        xs.append(x[idx[i], :, t * cell:t * cell + size, le * cell:le * cell + size])
        xh.append(x_hat[idx[i], :, t * cell:t * cell + size, le * cell:le * cell + size])
        ys.append(y_hat[idx[i], :, t:t + s, le:le + s])
    return torch.stack(xs), torch.stack(xh), torch.stack(ys), meta[idx]


def train_compensation(model: COSMIC, images: Tensor, meta: Tensor, *, steps: int,
                       batch_size: int = 8, crop: int = 64, lr: float = 2e-3, seed: int = 0,
                       progress: bool = False) -> list[float]:
    """Stage 2: train the metadata-conditioned diffusion compensation (codec frozen).

    The frozen codec decodes the **whole** training images once (hard rounding, as after
    real coding); training crops of images, decoded images and latents are then cut on the
    16-pixel latent grid. (Decoding small crops instead gives border artefacts that whole
    images do not have: a compensation trained on them learned to "fix" those and lowered
    the PSNR of whole images.)
    """
    from tqdm.auto import tqdm

    cell = model.codec.multiple // 4  # g_a downsampling (16)
    if crop % cell or crop > min(images.shape[-2:]):
        raise InvalidInputError(f"crop must be a multiple of {cell} and fit the images, got "
                                f"{crop}")
    gen = torch.Generator().manual_seed(seed + 1)
    x_hat, y_hat = [], []
    for i in range(0, len(images), 8):
        a, b = decode_for_training(model, images[i:i + 8])
        x_hat.append(a)
        y_hat.append(b)
    xh_all, yh_all = torch.cat(x_hat), torch.cat(y_hat)
    params = list(model.unet.parameters()) + list(model.meta_encoder.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 10)
    model.unet.train()
    model.meta_encoder.train()
    history = []
    for _ in tqdm(range(steps), disable=not progress, desc="compensation"):
        xs, xh, ys, ms = _aligned_crops(images, xh_all, yh_all, meta, crop, batch_size, cell,
                                        gen)
        loss = model.compensation_loss(xs, xh, ys, ms, generator=gen)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
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


_CONFIG_KEY = "__cosmic_config__"
#: entropy-coder tables that :meth:`COSMICCodec.update` derives from the learned parameters
_DERIVED = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")


def save_model(model: COSMIC, path: str | Path) -> Path:
    """Write a COSMIC checkpoint (weights + configuration), atomically.

    The range coder's tables (``_quantized_cdf`` ...) are not stored: :func:`load_model`
    rebuilds them from the learned entropy parameters with ``update(force=True)``, so the
    encoder and the decoder side always derive identical tables from the same weights.
    """
    from ...io import save_checkpoint

    state: dict[str, Any] = {k: v for k, v in model.state_dict().items()
                             if not k.endswith(_DERIVED)}
    state[_CONFIG_KEY] = model.config.to_dict()
    return save_checkpoint(path, state)


def load_model(path: str | Path) -> COSMIC:
    """Load a checkpoint written by :func:`save_model` (through
    :func:`geoneurips.io.load_checkpoint`, ``weights_only=True``), ready to code
    (eval mode, range-coder tables built).

    Raises:
        CheckpointError: missing or unsafe file, no COSMIC configuration, or weights that do
            not fit the configuration.
    """
    from ...errors import CheckpointError
    from ...io import load_checkpoint

    state = load_checkpoint(path)
    cfg = state.pop(_CONFIG_KEY, None)
    if not isinstance(cfg, dict):
        raise CheckpointError(
            f"{str(path)!r} is not a COSMIC checkpoint (no {_CONFIG_KEY!r} entry; write it "
            "with geoneurips.restoration.cosmic.pipeline.save_model)")
    try:
        model = COSMIC(COSMICConfig.from_dict(cfg))
        missing, unexpected = model.load_state_dict(state, strict=False)
    except (TypeError, ValueError, RuntimeError, InvalidInputError) as exc:
        raise CheckpointError(f"{str(path)!r} does not match COSMIC: {exc}") from exc
    missing = [k for k in missing if not k.endswith(_DERIVED)]
    if missing or unexpected:
        raise CheckpointError(f"{str(path)!r} does not match COSMIC: missing {missing[:5]}, "
                              f"unexpected {list(unexpected)[:5]}")
    model.eval()
    model.codec.update(force=True)
    return model


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
                    assert isinstance(opts, list)  # two optimizers (configure_optimizers)
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
                    assert not isinstance(opts, list)  # one optimizer (configure_optimizers)
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
