"""Training, benchmarking and the demo of AllClear.

* :class:`AllClearTask`: LightningModule training :class:`~.model.UnCRtainTS` on AllClear
  samples (Gaussian NLL on the clear target pixels, UnCRtainTS' loss; or L1).
* :func:`load_samples`: reads an :class:`~.data.AllClearDataset` once into stacked tensors.
* :func:`benchmark`: runs least-cloudy, mosaicing and (optionally) a trained model and
  scores them with :func:`~.metrics.evaluate` (aggregate and per land-cover class).
* :func:`demo`: the paper's data-scaling claim on synthetic AllClear-layout data (fractal
  clouds and shadows): a small UnCRtainTS trained on all training ROIs against the same
  model trained the same steps on 1/10 of them, least-cloudy, mosaicing and per-pixel
  compositing.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ...demo import DemoResult, finish, new_figure
from ...errors import InvalidInputError
from ...nn.training import make_trainer
from ...seed import seed_everything, single_thread
from .data import DW_CLASSES, AllClearDataset, write_fixture
from .metrics import clear_mask, evaluate
from .model import (
    StackUNet,
    UnCRtainTS,
    UnCRtainTSConfig,
    gaussian_nll,
    least_cloudy,
    median_clear,
    mosaicing,
    nearest_clear,
    pixel_least_cloudy,
)

__all__ = ["AllClearTask", "CropDataset", "benchmark", "demo", "explain_regressions",
           "load_samples"]


def load_samples(dataset: AllClearDataset) -> dict[str, torch.Tensor]:
    """Stack every sample of ``dataset`` (tensors only) into batched tensors."""
    if len(dataset) == 0:
        raise InvalidInputError(f"AllClear dataset at {str(dataset.root)!r} holds no sample")
    items = [dataset[i] for i in range(len(dataset))]
    return {k: torch.stack([it[k] for it in items]) for k, v in items[0].items()
            if isinstance(v, torch.Tensor)}


class CropDataset(Dataset[dict[str, torch.Tensor]]):
    """Random ``crop x crop`` windows (with flips) of stacked samples, for training."""

    def __init__(self, samples: dict[str, torch.Tensor], crop: int, length: int, seed: int = 0):
        self.s = samples
        self.crop = crop
        self.length = length
        self.rng = np.random.default_rng(seed)
        h, w = samples["target"].shape[-2:]
        if crop > min(h, w):
            raise InvalidInputError(f"training crop {crop} exceeds the sample size {h} x {w}")

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        n = self.s["target"].shape[0]
        h, w = self.s["target"].shape[-2:]
        i = int(self.rng.integers(n))
        y, x = int(self.rng.integers(h - self.crop + 1)), int(self.rng.integers(w - self.crop + 1))
        flip = bool(self.rng.integers(2))
        out = {}
        for k in ("input_images", "input_cld_shdw", "target", "target_cld_shdw"):
            v = self.s[k][i, ..., y:y + self.crop, x:x + self.crop]
            out[k] = v.flip(-1) if flip else v
        out["time_differences"] = self.s["time_differences"][i]
        return out


class AllClearTask(L.LightningModule):
    """Train :class:`UnCRtainTS` on AllClear batches.

    Args:
        config: model configuration (default :meth:`UnCRtainTSConfig.tiny`).
        model: another network with UnCRtainTS' call signature (the demo's
            :class:`~.model.StackUNet` baseline); ``config`` is then ignored.
        lr: Adam learning rate (no weight decay).
        loss: ``"nll"`` (Gaussian NLL, needs ``variance=True``; UnCRtainTS) or ``"l1"``.
        warmup: steps of linear learning-rate warm-up.
        decay: fraction of the training steps, at the end, over which the learning rate
            falls to 0 on a half cosine (0: constant).
    """

    def __init__(self, config: UnCRtainTSConfig | None = None, lr: float = 2e-3,
                 loss: Literal["nll", "l1"] = "nll", model: nn.Module | None = None,
                 warmup: int = 0, decay: float = 0.0) -> None:
        super().__init__()
        self.model = UnCRtainTS(config) if model is None else model
        variance = bool(getattr(getattr(self.model, "config", None), "variance", False))
        if loss == "nll" and not variance:
            raise InvalidInputError("loss='nll' needs a model with variance=True")
        self.lr = lr
        self.warmup = warmup
        self.decay = decay
        self.loss_name = loss

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        out: tuple[torch.Tensor, torch.Tensor | None] = self.model(
            batch["input_images"], batch["time_differences"], batch["input_cld_shdw"])
        return out

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        mean, var = self(batch)
        target = batch["target"][:, :, 0]
        mask = clear_mask(batch["target_cld_shdw"][:, :, 0])
        if self.loss_name == "nll" and var is not None:
            loss = gaussian_nll(mean, var, target, mask)
        else:
            m = mask.to(mean.dtype).expand_as(mean)
            loss = ((mean - target).abs() * m).sum() / m.sum().clamp_min(1.0)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self) -> Any:
        opt = torch.optim.Adam(self.parameters(), lr=self.lr)
        if self.warmup <= 0 and self.decay <= 0:
            return opt
        warm = max(self.warmup, 1)
        total = int(self.trainer.estimated_stepping_batches)
        n_decay = round(self.decay * total)
        start = total - n_decay

        def factor(step: int) -> float:
            f = min(1.0, (step + 1) / warm)
            if n_decay > 0 and step >= start:
                f *= 0.5 * (1.0 + math.cos(math.pi * min(step - start + 1, n_decay) / n_decay))
            return f

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    @torch.inference_mode()
    def predict_samples(self, samples: dict[str, torch.Tensor], batch_size: int = 8
                        ) -> torch.Tensor:
        """Predicted mean images ``(N, 13, H, W)`` for stacked samples."""
        self.eval()
        outs = []
        n = samples["target"].shape[0]
        for i in range(0, n, batch_size):
            batch = {k: v[i:i + batch_size] for k, v in samples.items()}
            outs.append(self(batch)[0])
        return torch.cat(outs)


def benchmark(
    samples: dict[str, torch.Tensor], predictions: dict[str, torch.Tensor] | None = None
) -> dict[str, dict[str, Any]]:
    """Score the training-free baselines (least-cloudy and mosaicing as in the paper, plus
    per-pixel least-cloudy, median and nearest-in-time clear compositing) and any given
    predictions on stacked samples.

    Args:
        samples: output of :func:`load_samples` (needs ``target_cld_shdw`` and ``target_dw``
            for the clear mask and the land-cover breakdown).
        predictions: extra method name -> ``(N, 13, H, W)``.
    """
    s2 = samples["input_images"][:, :13]
    masks = samples["input_cld_shdw"]
    methods = {
        "least_cloudy": least_cloudy(s2, masks),
        "mosaicing": mosaicing(s2, masks),
        "pixel_least_cloudy": pixel_least_cloudy(s2, masks),
        "median_clear": median_clear(s2, masks),
        **({"nearest_clear": nearest_clear(s2, masks, samples["time_differences"])}
           if "time_differences" in samples else {}),
        **(predictions or {}),
    }
    target = samples["target"][:, :, 0]
    mask = clear_mask(samples["target_cld_shdw"][:, :, 0])
    lulc = samples["target_dw"][:, :, 0] if "target_dw" in samples else None
    return {name: evaluate(out, target, mask, lulc) for name, out in methods.items()}


def _metrics_only(res: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in res.items() if k in ("MAE", "RMSE", "PSNR", "SAM", "SSIM")}


#: PSNR margin (dB) of the full-data model over the strongest baseline (the 1/10-data model
#: on every run measured): fixed before measuring, as the smallest gain worth calling data
#: scaling. The dev seeds clear it at 1x and 2x (+1.32 to +3.27 dB), final seed 0 at 1x
#: does not (-0.89 dB), so AllClear is ``partial`` (its notes give the 1x / 2x tables).
DEMO_MARGIN = 0.5
#: The small-data arm trains on the first ``1 / DATA_FRACTION`` of the training ROIs (same
#: model, recipe and steps): the paper's scaling table goes down to 1/30 of its data, but
#: 1 of the demo's 30 ROIs leaves the model below per-pixel compositing (starved, see notes).
DATA_FRACTION = 10
#: the small-data baseline's name in the demo's results
SMALL_ARM = f"uncrtaints_1_{DATA_FRACTION}_data"
DIRECTIONS = {"MAE": "min", "RMSE": "min", "PSNR": "max", "SAM": "min", "SSIM": "max"}
#: the per-pixel compositing baselines (copy an observed clear spectrum per pixel)
PER_PIXEL_COMPOSITING = ("pixel_least_cloudy", "median_clear", "nearest_clear")


def explain_regressions(ours: dict[str, float],
                        baselines: dict[str, dict[str, float]]) -> dict[str, str]:
    """The demo's explanations, given only where the measured condition holds.

    A SAM deficit is explained when the baseline holding the best SAM is per-pixel
    compositing (:data:`PER_PIXEL_COMPOSITING`: it copies an observed spectrum, so its angle
    is only the date-to-date change) and the method leads that same baseline on both
    magnitude metrics, PSNR and RMSE (the compositing fails in magnitude where no clear date
    exists or the masks miss a cloud). Any other regression stays unexplained, so the demo
    fails."""
    out: dict[str, str] = {}
    holder = min(baselines, key=lambda n: baselines[n]["SAM"])
    h = baselines[holder]
    deficit = ours["SAM"] - h["SAM"]
    if (deficit > 0 and holder in PER_PIXEL_COMPOSITING
            and ours["PSNR"] > h["PSNR"] and ours["RMSE"] < h["RMSE"]):
        out["SAM"] = (
            f"the best SAM ({h['SAM']:.2f} vs {ours['SAM']:.2f} degrees) is held by per-pixel "
            f"compositing ({holder}), which copies an observed spectrum wherever a clear date "
            "exists, so its angle there is only the date-to-date change; it fails in magnitude "
            "where no clear date exists or the masks miss a cloud, and the network leads it on "
            f"both magnitude metrics: PSNR {ours['PSNR']:.2f} vs {h['PSNR']:.2f} dB, RMSE "
            f"{ours['RMSE']:.4f} vs {h['RMSE']:.4f}")
    return out


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """AllClear's data-scaling claim on synthetic AllClear data (paper section 5: the PSNR of
    UnCRtainTS rises from 28.47 to 33.87 dB with 30x more training data).

    Data: synthetic cloudy Sentinel-2 series written in the published layout
    (:func:`~.data.write_fixture`, :func:`demo_data`) and read by :class:`~.data.AllClearDataset`;
    every ROI has its own class spectra, and the test ROIs come from another seed than the
    training ROIs. Method: the benchmark model (a small UnCRtainTS) trained on all training
    ROIs. Baselines: the same model, recipe and step count on the first ``1 / DATA_FRACTION``
    of the ROIs (so the comparison is data, not steps); the paper's least-cloudy and
    mosaicing; per-pixel compositing (least-cloudy clear pixel, median of clear pixels, clear
    pixel nearest in time). Reported, not deciding: a
    plain U-Net on the stacked dates trained on the full data with the same recipe
    (:class:`~.model.StackUNet`; an alternative architecture, not the paper's claim). Metrics:
    AllClear's MAE, RMSE, PSNR, SAM, SSIM on clear target pixels. Primary metric PSNR (dB),
    margin :data:`DEMO_MARGIN` over the strongest baseline.
    """
    started = time.perf_counter()
    # one thread: the same float order on any core count (tiny convolutions gain nothing)
    with single_thread():
        return _demo(out_dir, quick, seed, started)


@dataclass(frozen=True)
class Recipe:
    """How the demo trains both learned arms (UnCRtainTS and the stacked U-Net alike).

    UnCRtainTS' published optimiser settings (its README's training command and AllClear's
    UnCRtainTS baseline configuration) are Adam, learning rate 1e-3, ``gamma 1.0`` for the
    per-epoch exponential decay (a constant rate), no weight decay, no gradient clipping,
    batches of 4 full tiles for 20 epochs. The defaults keep Adam without weight decay or
    clipping and deviate where the demo's budget (batches of 8 random 24 x 24 crops, 600
    steps) needs it, chosen on dev seeds 10-12 with both arms trained alike (full-demo PSNR
    of UnCRtainTS / U-Net, seeds 10, 11, 12):

    * 1e-3 constant (published): seed 10 36.53 / 32.00 dB: both arms undertrained;
    * 3e-3 constant: 41.28 / 35.52, 39.50 / 31.74, 35.09 / 35.06, and UnCRtainTS moved by
      0.81 dB on a 1e-5 change of the date encoding (seed 10);
    * 3e-3 on a cosine over all steps: 38.51 / 32.55, 37.12 / 31.03, 33.06 / 30.25 (stable
      to 0.001 dB, but the U-Net loses up to 4.8 dB against a constant rate);
    * 3e-3 constant, then a half cosine to 0 over the last quarter (the default): 41.32 /
      35.94, 41.40 / 32.87, 36.12 / 35.51, UnCRtainTS moving 0.04 / 0.05 / 0.32 dB under
      the perturbation. The U-Net is strongest with it on every dev seed.

    These choices were made on the former demo (600 steps of 24 x 24 crops, 15 training
    series, UnCRtainTS against the U-Net). The data-scaling demo keeps the optimiser and
    spends its CPU on more, smaller updates: 800 steps of 4 random 12 x 12 crops. Profiled
    (cProfile, dev seed 10): 75-80 % of a step is the network's forward and backward,
    whose cost is far from linear in the batch at this size (small-tensor convolutions:
    fwd + bwd 24 ms for 4 crops of 16 x 16, 47 ms for 8); writing the data takes 7 s and the
    evaluation 2 s. Progress follows the number of updates much more than the pixels per
    update (full-data UnCRtainTS, dev seed 10, one core of the busy 2-core host, CPU per
    arm): 300 x 8 x 16 px 31.95 dB (16 s; the former recipe), 600 x 4 x 16 px 39.69 (24 s),
    1200 x 2 x 16 px 41.61 (30 s), 900 x 4 x 12 px 41.43 (24 s), 1200 x 4 x 12 px 42.06
    (30 s), 1200 x 8 x 16 px 43.15 (about 60 s); width 16 instead of 32 saves only a fifth
    (12 s instead of 16 at 300 x 8 x 16 px) and loses 3.1 dB; lr 1e-2 with 30 warm-up steps
    loses 6.1 dB. The full demo: 59-73 s CPU (dev seeds 10-12, 1x).

    Attributes:
        lr: Adam learning rate.
        warmup: steps of linear learning-rate warm-up (then constant).
        decay: the fraction of the steps at the end over which the learning rate falls to 0
            on a half cosine (0: constant to the end).
        clip: gradient-norm clip (``None``: no clipping).
        steps: training steps of the full demo (batches of ``batch`` random crops).
        quick_steps: training steps of the quick demo.
        crop: side of the random training crops (12; it was 16, and 24 before that).
        batch: crops per training step (4; it was 8).
    """

    lr: float = 3e-3
    warmup: int = 0
    decay: float = 0.25
    clip: float | None = None
    steps: int = 800
    quick_steps: int = 200
    crop: int = 12
    batch: int = 4


#: The demo's training recipe for the UnCRtainTS arm.
RECIPE = Recipe()
#: The demo's training recipe for the stacked U-Net arm.
UNET_RECIPE = Recipe()


def subset(samples: dict[str, torch.Tensor], fraction: int) -> dict[str, torch.Tensor]:
    """The first ``1 / fraction`` of the samples (at least one; one sample per ROI in
    :func:`demo_data`, so a fraction of the ROIs, as the paper's scaling table)."""
    n = max(1, samples["target"].shape[0] // fraction)
    return {k: v[:n] for k, v in samples.items()}


def uncrtaints_arm(recipe: Recipe = RECIPE,
                   config: UnCRtainTSConfig | None = None) -> AllClearTask:
    """The demo's UnCRtainTS arm, untrained (Gaussian NLL, ``recipe``'s optimiser)."""
    return AllClearTask(config or UnCRtainTSConfig.tiny(), lr=recipe.lr, loss="nll",
                        warmup=recipe.warmup, decay=recipe.decay)


def unet_arm(c: int, t: int, recipe: Recipe = RECIPE) -> AllClearTask:
    """The demo's stacked-dates U-Net baseline for ``c`` bands x ``t`` dates, untrained (L1,
    the same optimiser settings as :func:`uncrtaints_arm`)."""
    return AllClearTask(lr=recipe.lr, loss="l1", model=StackUNet(c, t, width=12, depth=2),
                        warmup=recipe.warmup, decay=recipe.decay)


def _fit(task: AllClearTask, train: dict[str, torch.Tensor], steps: int, seed: int,
         clip: float | None = None, crop: int = RECIPE.crop, batch: int = RECIPE.batch) -> Any:
    """Train ``task`` for ``steps`` batches of ``batch`` random ``crop x crop`` windows;
    returns the trainer."""
    loader = DataLoader(CropDataset(train, crop=crop, length=steps * batch, seed=seed),
                        batch_size=batch)
    clip_kw: dict[str, Any] = ({} if clip is None else
                               {"gradient_clip_val": clip, "gradient_clip_algorithm": "norm"})
    trainer = make_trainer(max_epochs=1, seed=seed, **clip_kw)
    trainer.fit(task, loader)
    return trainer


def demo_data(root: Path, seed: int, quick: bool = False
              ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The demo's synthetic train / test samples, written under ``root`` in the published
    layout and read back (train: 30 ROIs, quick 10, one sample each, in ROI order; test: 6
    unseen ROIs from seed ``seed + 1``). Every ROI has its own class spectra
    (:func:`~.synthetic.roi_spectra`, as regions differ in the real world), so more ROIs
    show the model more of the spectra it meets at test time."""
    write_fixture(root, n_rois=10 if quick else 30, samples_per_roi=1, size=50, crop=48,
                  split="train", seed=seed, start_id=20000, roi_spectra=True)
    write_fixture(root, n_rois=6, samples_per_roi=1, size=50, crop=48, split="test",
                  seed=seed + 1, start_id=30000, roi_spectra=True)
    return (load_samples(AllClearDataset(root, "train", center_crop_size=48)),
            load_samples(AllClearDataset(root, "test", center_crop_size=48)))


def _demo(out_dir: Path, quick: bool, seed: int, started: float, recipe: Recipe = RECIPE,
          config: UnCRtainTSConfig | None = None, unet_recipe: Recipe | None = None
          ) -> DemoResult:
    urecipe = unet_recipe or UNET_RECIPE
    seed_everything(seed)
    out = Path(out_dir)
    steps = recipe.quick_steps if quick else recipe.steps
    train, test = demo_data(out / "allclear_synthetic", seed, quick)
    small = subset(train, DATA_FRACTION)
    preds: dict[str, torch.Tensor] = {}
    params: dict[str, int] = {}
    c, t = train["input_images"].shape[1:3]
    for name, data in (("uncrtaints", train), (SMALL_ARM, small), ("stack_unet", train)):
        seed_everything(seed)  # every arm: the same initialisation and crop stream
        r = urecipe if name == "stack_unet" else recipe
        task = unet_arm(c, t, r) if name == "stack_unet" else uncrtaints_arm(r, config)
        _fit(task, data, steps, seed, r.clip, r.crop, r.batch)
        preds[name] = task.predict_samples(test)
        params[name] = sum(p.numel() for p in task.model.parameters())
    results = benchmark(test, preds)
    model_m = _metrics_only(results["uncrtaints"])
    unet_m = _metrics_only(results.pop("stack_unet"))
    baselines = {k: _metrics_only(v) for k, v in results.items() if k != "uncrtaints"}
    fig, axes = new_figure(ncols=6, nrows=1, size=2.6)
    i = 0

    def rgb(x: torch.Tensor) -> np.ndarray:
        return np.clip(x[[3, 2, 1]].permute(1, 2, 0).numpy() * 3.0, 0, 1)

    s2, masks = test["input_images"][:, :13], test["input_cld_shdw"]
    shown = [(test["input_images"][i, :13, 0], "input t0"),
             (mosaicing(s2, masks)[i], f"mosaicing {baselines['mosaicing']['PSNR']:.1f} dB"),
             (median_clear(s2, masks)[i],
              f"median clear {baselines['median_clear']['PSNR']:.1f} dB"),
             (preds[SMALL_ARM][i], f"1/{DATA_FRACTION} data {baselines[SMALL_ARM]['PSNR']:.1f} dB"),
             (preds["uncrtaints"][i], f"full data {model_m['PSNR']:.1f} dB"),
             (test["target"][i, :, 0], "target")]
    for ax, (img, title) in zip(axes[0], shown, strict=True):
        ax.imshow(rgb(img))
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    lulc = {DW_CLASSES[c]: {m: round(v, 4) for m, v in row.items()}
            for c, row in results["uncrtaints"].get("lulc", {}).items()
            if row["pixels"] > 0}
    return finish(
        "allclear", model_m, baselines=baselines, primary="PSNR", margin=DEMO_MARGIN,
        directions=DIRECTIONS, figure=fig, out_dir=out, started=started,
        regressions_explained=explain_regressions(model_m, baselines),
        details={
            "train_rois": int(train["target"].shape[0]),
            "small_data_train_rois": int(small["target"].shape[0]),
            "test_rois": int(test["target"].shape[0]),
            "steps": steps,
            "uncrtaints_recipe": dataclasses.asdict(recipe),
            "stack_unet_recipe": dataclasses.asdict(urecipe),
            "train_seed": seed,
            "test_seed": seed + 1,
            "uncrtaints_parameters": params["uncrtaints"],
            "stack_unet_parameters": params["stack_unet"],
            # reported, not deciding: another architecture on the same (full) data
            "stack_unet_full_data": unet_m,
            "uncrtaints_by_landcover": lulc,
        },
    )
