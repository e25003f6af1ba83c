"""Training (Lightning), inference and the synthetic demo of FUSU-Net.

Optimisation follows the public ``train.py`` (Adam, weight decay 1e-4, heads at 10x the
encoder learning rate, poly decay with power 0.9, random flip/rotation). Two fixes:

* images are scaled to [0, 1] *before* the ImageNet normalisation (the code normalises
  ``ToTensor`` output, already in [0, 1], with 0-255 means, which maps every pixel to about
  -2);
* random flips/rotations are applied to the Sentinel series as well (the code flips only
  the HR images and labels, so the fused Sentinel features no longer line up with them).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from ...demo import DemoResult, finish, new_figure
from ...errors import CheckpointError
from ...io import load_checkpoint, save_checkpoint
from ...seed import seed_everything
from .baselines import SiameseUNetSCD, SiameseUNetSeriesChannels
from .data import FUSU, collate_fusu, month_index, write_fixture
from .metrics import SCDMetric
from .model import FUSUNet, FUSUNetConfig, fusu_loss

__all__ = [
    "FUSUTask",
    "demo",
    "explain_regressions",
    "flip_rotate",
    "load_model",
    "make_synthetic_scenes",
    "predict",
    "save_model",
]

_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def normalize_images(image: Tensor) -> tuple[Tensor, Tensor]:
    """``(B, 2, 3, H, W)`` raw 0-255 RGB -> two ImageNet-normalised ``(B, 3, H, W)`` stacks."""
    x = image.float() / 255.0
    return (x[:, 0] - _MEAN) / _STD, (x[:, 1] - _MEAN) / _STD


def flip_rotate(batch: dict[str, Tensor], generator: torch.Generator | None = None
                ) -> dict[str, Tensor]:
    """Random flip / 90-degree rotation applied alike to images, labels and time series."""
    k = int(torch.randint(0, 4, (1,), generator=generator))
    flip = bool(torch.randint(0, 2, (1,), generator=generator))
    out = dict(batch)
    for key in ("image", "mask", "change", "time_series"):
        if key in out:
            v = torch.rot90(out[key], k, dims=(-2, -1))
            out[key] = torch.flip(v, dims=(-1,)) if flip else v
    return out


class FUSUTask(L.LightningModule):
    """LightningModule training FUSU-Net with the published loss.

    Args:
        config: model configuration.
        lr: encoder learning rate (paper code 1.5e-4; heads and the rest use ``10 * lr``).
        weight_decay: Adam weight decay (1e-4).
        total_steps: steps of the poly(0.9) schedule (``None``: constant learning rate).
        augment: random flips/rotations during training.
        ts_mean, ts_std: per-band normalisation of the Sentinel series (``None``: raw).
        model: train this bi-temporal baseline instead of a FUSU-Net built from ``config``.
    """

    ts_mean: Tensor  # buffers, registered in __init__
    ts_std: Tensor

    def __init__(
        self,
        config: FUSUNetConfig | None = None,
        lr: float = 1.5e-4,
        weight_decay: float = 1e-4,
        total_steps: int | None = None,
        augment: bool = True,
        ts_mean: list[float] | None = None,
        ts_std: list[float] | None = None,
        model: SiameseUNetSCD | None = None,
    ) -> None:
        super().__init__()
        self.model: FUSUNet | SiameseUNetSCD = (
            model if model is not None else FUSUNet(config or FUSUNetConfig()))
        self.lr, self.weight_decay, self.total_steps = lr, weight_decay, total_steps
        self.augment = augment
        c = self.model.config.ts_channels
        mean = torch.tensor(ts_mean if ts_mean is not None else [0.0] * c)
        std = torch.tensor(ts_std if ts_std is not None else [1.0] * c)
        self.register_buffer("ts_mean", mean.view(1, 1, c, 1, 1).float())
        self.register_buffer("ts_std", std.view(1, 1, c, 1, 1).float())

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        x1, x2 = normalize_images(batch["image"])
        ts = batch.get("time_series")
        series_channels = isinstance(self.model, SiameseUNetSeriesChannels)
        if ts is not None and (series_channels or (isinstance(self.model, FUSUNet)
                                                   and self.model.utae is not None)):
            ts = (ts - self.ts_mean) / self.ts_std
            pad = batch.get("pad_mask")
            if pad is not None:
                ts = ts.masked_fill(pad[:, :, None, None, None], 0.0)  # U-TAE pad value
            if series_channels:
                return self.model(x1, x2, ts)  # type: ignore[no-any-return]
            return self.model(x1, x2, ts, batch["dates"], pad)  # type: ignore[no-any-return]
        return self.model(x1, x2)  # type: ignore[no-any-return]

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        if self.augment:
            batch = flip_rotate(batch)
        loss, parts = fusu_loss(self(batch), batch["mask"], batch["change"])
        self.log("train_loss", loss, prog_bar=True, batch_size=batch["image"].shape[0])
        return loss

    def configure_optimizers(self) -> Any:
        enc = [p for n, p in self.model.named_parameters() if n.startswith("encoder.")]
        rest = [p for n, p in self.model.named_parameters() if not n.startswith("encoder.")]
        opt = torch.optim.Adam([{"params": enc, "lr": self.lr},
                                {"params": rest, "lr": self.lr * 10.0}],
                               lr=self.lr, weight_decay=self.weight_decay)
        if not self.total_steps:
            return opt
        total = self.total_steps
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: max(1.0 - step / total, 0.0) ** 0.9
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


@torch.no_grad()
def predict(task: FUSUTask, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """Land use ``(B, 2, H, W)`` in FUSU labels 1..K and binary change ``(B, H, W)``."""
    task.eval()
    out = task(batch)
    seg = torch.stack([out["seg1"].argmax(1), out["seg2"].argmax(1)], dim=1) + 1
    change = (torch.sigmoid(out["change"]) > 0.5).long()
    return seg, change


_CONFIG_KEY = "fusu_config"
_META_KEY = "fusu_meta"


def save_model(
    model_or_task: FUSUNet | FUSUTask,
    path: str | Path,
    *,
    tile_size: int | None = None,
    series_window: int | None = None,
) -> Path:
    """Save FUSU-Net weights, its configuration and the series normalisation, atomically.

    The file is a flat dict of tensors and plain values (loadable with
    ``weights_only=True``): the :class:`FUSUTask` state dict (``model.*`` weights and the
    ``ts_mean``/``ts_std`` buffers; a bare :class:`FUSUNet` gets mean 0 / std 1), the
    configuration under ``"fusu_config"`` and the training patch geometry under
    ``"fusu_meta"``.

    Args:
        model_or_task: a :class:`FUSUNet` or a :class:`FUSUTask`.
        path: destination (``.pt``).
        tile_size: HR patch edge the model was trained on (pixels), used as the default
            tile of ``geoneurips fusu-change``.
        series_window: edge of the Sentinel patch that went with it (series pixels).
    """
    if isinstance(model_or_task, FUSUTask):
        if not isinstance(model_or_task.model, FUSUNet):
            raise TypeError("save_model writes FUSU-Net checkpoints only, not baselines")
        state: dict[str, Any] = dict(model_or_task.state_dict())
        cfg = model_or_task.model.config
    elif isinstance(model_or_task, FUSUNet):
        cfg = model_or_task.config
        state = {f"model.{k}": v for k, v in model_or_task.state_dict().items()}
        c = cfg.ts_channels
        state["ts_mean"] = torch.zeros(1, 1, c, 1, 1)
        state["ts_std"] = torch.ones(1, 1, c, 1, 1)
    else:
        raise TypeError(f"save_model needs a FUSUNet or FUSUTask, got {type(model_or_task)}")
    from dataclasses import asdict

    state[_CONFIG_KEY] = asdict(cfg)
    state[_META_KEY] = {
        "tile_size": None if tile_size is None else int(tile_size),
        "series_window": None if series_window is None else int(series_window),
    }
    return save_checkpoint(path, state)


def load_model(path: str | Path) -> tuple[FUSUTask, dict[str, Any]]:
    """Load a checkpoint written by :func:`save_model` (through
    :func:`geoneurips.io.load_checkpoint`, ``weights_only=True``).

    Returns:
        ``(task in eval mode, meta)``; ``meta`` holds ``tile_size`` and ``series_window``
        (``None`` when unknown).

    Raises:
        CheckpointError: missing file, unsafe content, no FUSU-Net configuration, or weights
            that do not fit the configuration.
    """
    state = load_checkpoint(path)
    cfg = state.pop(_CONFIG_KEY, None)
    meta = state.pop(_META_KEY, None)
    if not isinstance(cfg, dict):
        raise CheckpointError(
            f"{str(path)!r} is not a FUSU-Net checkpoint (no {_CONFIG_KEY!r} entry; write it "
            "with geoneurips.change.fusu.pipeline.save_model)")
    meta_out: dict[str, Any] = {"tile_size": None, "series_window": None}
    if isinstance(meta, dict):
        meta_out.update({k: meta.get(k) for k in meta_out})
    try:
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                  for k, v in cfg.items()}
        task = FUSUTask(FUSUNetConfig(**fields))
        task.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{str(path)!r} does not match FUSU-Net: {exc}") from exc
    except Exception as exc:  # e.g. InvalidInputError from an inconsistent configuration
        raise CheckpointError(f"{str(path)!r} holds an unusable FUSU-Net config: {exc}") \
            from exc
    return task.eval(), meta_out


def evaluate(task: FUSUTask, loader: DataLoader[Any]) -> dict[str, Any]:
    """SECOND-style SCD metrics (SeK, binary mIoU, Score, per-class IoU) over ``loader``."""
    metric = SCDMetric(task.model.config.num_classes)
    for batch in loader:
        seg, change = predict(task, batch)
        metric.update(seg.numpy(), change.numpy(), batch["mask"].numpy(),
                      batch["change"].numpy())
    return metric.compute()


# --------------------------------------------------------------------------- synthetic data
#: Synthetic classes: two built-up classes with distinct looks and two green classes that
#: look the same in RGB and differ only in their temporal dynamics (in the time series).
BUILT = (1, 3)  # traffic land, residential land
GREEN = (4, 17)  # cropland, grass
_RGB = {1: (125, 125, 130), 3: (185, 85, 75), 4: (80, 150, 70), 17: (80, 150, 70)}


#: acquisition months of the synthetic series: year A (date-1 land use), year C (date 2)
_MONTHS_A = (8, 9, 11, 12)
_MONTHS_C = (2, 5, 8, 11)
#: range of the green classes' deviation from 0.5 in the synthetic series
_AMPLITUDE = (0.25, 0.4)


def _parcel_series(cls: int, n_dates: int, bands: int, amp: float, sign: float
                   ) -> npt.NDArray[np.float32]:
    """``(n_dates, bands)`` series of one parcel of class ``cls`` over one period.

    The green classes have the **same distribution at every single date**: ``0.5 + s a``
    with the parcel's random sign ``s`` and amplitude ``a ~ U(0.25, 0.4)``, so no date and no
    band leaks the class; only the dynamics tell them apart: cropland alternates (``s``
    flips every date: growing / harvested, so its mean over an even number of dates is
    0.5), grass keeps its level (mean ``0.5 + s a``). Built-up classes are constant.
    """
    sig = np.full((n_dates, bands), 0.3, np.float32)
    if cls == 1:
        sig[:] = 0.45
    elif cls == 3:
        sig[:, 0::2] = 0.6
    elif cls in GREEN:
        k = np.arange(n_dates)
        steps = (-1.0) ** k if cls == GREEN[0] else np.ones(n_dates)
        sig[:] = (0.5 + amp * sign * steps)[:, None]
    return sig


def make_synthetic_scenes(
    n: int, rng: np.random.Generator, size: int = 32, ts_size: int = 12, bands: int = 4,
    dates_per_period: int = 4, block: int = 8, change_prob: float = 0.4,
) -> list[dict[str, npt.NDArray[Any]]]:
    """Bi-temporal scenes whose green classes are told apart only by temporal dynamics.

    The Sentinel grid has ``ts_size`` pixels of ``size // (ts_size - 2*margin)`` HR pixels;
    the HR patch is its centre. Parcels are ``block`` HR pixels wide. A parcel changes with
    probability ``change_prob`` between the built and green groups (visible in RGB, so the
    bi-temporal pair alone locates every change and every built-up class); which green
    class it is (cropland or grass) shows only in the series' dynamics
    (:func:`_parcel_series`; a parcel keeps its amplitude and sign in both years): dates of
    year A follow the date-1 land use, dates of year C the date-2 land use.
    """
    scale = 4
    foot = size // scale
    margin = (ts_size - foot) // 2
    pb = block // scale  # parcel size in Sentinel pixels
    grid = ts_size // pb
    if not 1 <= dates_per_period <= len(_MONTHS_A):
        raise ValueError(f"dates_per_period must be 1..{len(_MONTHS_A)}")
    dates = [month_index("A", m) for m in _MONTHS_A[:dates_per_period]] + \
        [month_index("C", m) for m in _MONTHS_C[:dates_per_period]]
    scenes: list[dict[str, npt.NDArray[Any]]] = []
    for _ in range(n):
        c1 = rng.choice(BUILT + GREEN, size=(grid, grid))
        c2 = c1.copy()
        flip = rng.random((grid, grid)) < change_prob
        for (i, j) in zip(*np.nonzero(flip), strict=True):
            group = GREEN if c1[i, j] in BUILT else BUILT
            c2[i, j] = rng.choice(group)
        amp = rng.uniform(*_AMPLITUDE, (grid, grid))
        sign = rng.choice([-1.0, 1.0], (grid, grid))
        ts = np.zeros((2 * dates_per_period, bands, ts_size, ts_size), np.float32)
        for period, cls_map in enumerate((c1, c2)):
            t0 = period * dates_per_period
            for i in range(grid):
                for j in range(grid):
                    sig = _parcel_series(int(cls_map[i, j]), dates_per_period, bands,
                                         float(amp[i, j]), float(sign[i, j]))
                    ts[t0:t0 + dates_per_period, :, i * pb:(i + 1) * pb, j * pb:(j + 1) * pb] \
                        = sig[:, :, None, None]
        ts += rng.normal(0, 0.05, ts.shape).astype(np.float32)
        lab_ts1 = np.kron(c1, np.ones((pb, pb), int))
        lab_ts2 = np.kron(c2, np.ones((pb, pb), int))
        sl = slice(margin, margin + foot)
        l1 = np.kron(lab_ts1[sl, sl], np.ones((scale, scale), int)).astype(np.uint8)
        l2 = np.kron(lab_ts2[sl, sl], np.ones((scale, scale), int)).astype(np.uint8)
        ims = []
        for lab in (l1, l2):
            rgb = np.zeros((size, size, 3), np.float32)
            for cls, col in _RGB.items():
                rgb[lab == cls] = col
            rgb *= rng.uniform(0.85, 1.15)
            rgb += rng.normal(0, 12, rgb.shape)
            ims.append(np.clip(rgb, 0, 255).astype(np.uint8))
        scenes.append({"im1": ims[0], "im2": ims[1], "label1": l1, "label2": l2,
                       "time_series": ts, "dates": np.array(dates)})
    return scenes


def _load(root: Path, split: str, batch_size: int, shuffle: bool) -> DataLoader[Any]:
    ds = FUSU(root, split)
    samples = [ds[i] for i in range(len(ds))]  # small: read once, keep in memory
    gen = torch.Generator().manual_seed(0)
    return DataLoader(samples, batch_size=batch_size, shuffle=shuffle,  # type: ignore[arg-type]
                      collate_fn=collate_fusu, generator=gen)


#: The variants :func:`train_and_evaluate` trains.
VARIANTS = ("fusu_net", "no_series", "siamese_unet", "siamese_unet_series_channels")


def train_and_evaluate(
    root: Path, variant: str, epochs: int, seed: int = 0, lr: float = 2e-3, bands: int = 4,
) -> tuple[FUSUTask, dict[str, Any]]:
    """Train one variant on ``root``'s train split and score its val split.

    ``variant``: ``"fusu_net"`` (with the U-TAE series branch), ``"no_series"`` (the same
    network without it), ``"siamese_unet"`` (:class:`SiameseUNetSCD`) or
    ``"siamese_unet_series_channels"`` (:class:`SiameseUNetSeriesChannels`: the same Siamese
    U-Net with the whole normalised series as extra input channels of both dates, the plain
    way to use the series). All get the same loss, optimiser, schedule, epochs and seed.
    """
    from ...nn.training import make_trainer

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}")
    seed_everything(seed)
    train = _load(root, "train", 8, True)
    val = _load(root, "val", 8, False)
    cfg = FUSUNetConfig.tiny(ts_channels=bands, crop_size=8,
                             use_time_series=variant == "fusu_net")
    # per-band normalisation of the series from the training split (as the paper's loader)
    samples: list[dict[str, Tensor]] = list(train.dataset)  # type: ignore[call-overload]
    model: SiameseUNetSCD | None = None
    if variant == "siamese_unet":
        model = SiameseUNetSCD(cfg)
    elif variant == "siamese_unet_series_channels":
        model = SiameseUNetSeriesChannels(cfg, n_dates=int(samples[0]["time_series"].shape[0]))
    ts = torch.cat([x["time_series"].transpose(0, 1).reshape(bands, -1) for x in samples], 1)
    mean, std = ts.mean(1).tolist(), (ts.std(1) + 1e-6).tolist()
    task = FUSUTask(cfg, lr=lr, total_steps=epochs * len(train), model=model,
                    ts_mean=mean, ts_std=std)
    trainer = make_trainer(max_epochs=epochs, seed=seed)
    trainer.fit(task, train)
    return task, evaluate(task, val)


#: The binary-change metrics: every change is built <-> green, visible in the RGB pair.
CHANGE_METRICS = ("miou_bin", "iou_c")
#: "Near-perfect": the lowest binary-change score (miou_bin or iou_c) over all variants
#: that still counts. Measured (quick and full demos, seeds 0-2): the lowest of any variant
#: 0.99969 (the network without the series, full seed 2), most exactly 1.
NEAR_PERFECT = 0.995
#: Largest deficit on a binary-change metric explained as training noise. Measured
#: seed-to-seed spread (max - min over seeds 0-2 of one variant's value, quick or full): at
#: most 0.00031 (the network without the series, iou_c, full); the deficits themselves:
#: 0.00013 / 0.00015 (miou_bin / iou_c, quick seed 2), none in the other five runs. The
#: bound is about 6 times the largest spread (a dozen change pixels of the validation set).
CHANGE_NOISE = 0.002


def explain_regressions(ours: dict[str, float],
                        baselines: dict[str, dict[str, float]]) -> dict[str, str]:
    """The demo's explanations of binary-change regressions, given only while measured.

    A deficit on ``miou_bin`` or ``iou_c`` is explained when the binary change is
    near-perfect for every variant (ours and each baseline score at least
    :data:`NEAR_PERFECT` on both metrics) and the deficit is within training noise (at most
    :data:`CHANGE_NOISE`, set from the measured seed-to-seed spread). Any other
    regression, or one whose condition fails, stays unexplained, so the demo fails."""
    out: dict[str, str] = {}
    variants = {"fusu_net": ours, **baselines}
    floor = min(v[k] for v in variants.values() for k in CHANGE_METRICS)
    if floor < NEAR_PERFECT:
        return out
    for metric in CHANGE_METRICS:
        name = max(baselines, key=lambda n: baselines[n][metric])
        deficit = baselines[name][metric] - ours[metric]
        if 0 < deficit <= CHANGE_NOISE:
            out[metric] = (
                f"binary change is fully visible in the RGB pair by construction (every "
                f"change is built <-> green), so every variant locates it almost perfectly "
                f"(lowest miou_bin / iou_c of all variants here {floor:.4f}, near-perfect "
                f"from {NEAR_PERFECT}); {name} is ahead by {deficit:.4f}, within training "
                f"noise (explained up to {CHANGE_NOISE}, set from a measured seed-to-seed "
                f"spread of at most 0.0003); "
                f"the series only adds which green class it is.")
    return out


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """FUSU-Net against bi-temporal baselines on synthetic scenes in the FUSU layout.

    Task (:func:`make_synthetic_scenes`): the RGB pair shows every change and every built-up
    class; cropland and grass look identical in RGB and have identical single-date series
    values, only their temporal dynamics differ, so the series carries information the
    pair lacks without leaking the label. Baselines (same loss, optimiser, epochs, seed):
    the same network without the U-TAE branch (also the ablation), the public model zoo's
    Siamese U-Net, and that Siamese U-Net given the series as plain input channels (the
    practitioner's first way to use the series, :class:`SiameseUNetSeriesChannels`; it
    tells "the series helps" apart from "FUSU-Net's fusion helps"). Validation scenes come
    from a random stream never used for
    training (``default_rng([seed, 1])`` vs ``[seed, 0]``). Primary metric: SeK.

    The trained FUSU-Net is saved to ``out_dir/fusu_demo.pt`` (:func:`save_model`, 32 px HR
    tiles with 12 px series windows at a resolution ratio of 4), for ``geoneurips
    fusu-change``; its path is ``details["checkpoint"]``."""
    from ...seed import single_thread

    # one intra-op thread for training and evaluation: the same float order, so the
    # same result, on any core count (two threads in `make demo`: full seed-0 lead 0.063, not 0.101)
    with single_thread():
        return _demo(out_dir, quick, seed)


def _demo(out_dir: Path, quick: bool, seed: int) -> DemoResult:
    import tempfile

    started = time.perf_counter()
    seed_everything(seed)
    n_train, epochs = (24, 80) if quick else (32, 100)
    n_val = 16
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fusu"
        write_fixture(root, {
            "train": make_synthetic_scenes(n_train, np.random.default_rng([seed, 0])),
            "val": make_synthetic_scenes(n_val, np.random.default_rng([seed, 1])),
        })
        task, full = train_and_evaluate(root, "fusu_net", epochs, seed)
        _, no_series = train_and_evaluate(root, "no_series", epochs, seed)
        _, siamese = train_and_evaluate(root, "siamese_unet", epochs, seed)
        _, channels = train_and_evaluate(root, "siamese_unet_series_channels", epochs, seed)
        ds = FUSU(root, "val")
        sample = ds[0]
        batch = collate_fusu([sample])
        seg, change = predict(task, batch)
    checkpoint = save_model(task, Path(out_dir) / "fusu_demo.pt", tile_size=32,
                            series_window=12)
    keys = ("sek", "score", "miou_bin", "iou_c", "seg_miou")
    metrics = {k: float(full[k]) for k in keys}
    base_ns = {k: float(no_series[k]) for k in keys}
    base_su = {k: float(siamese[k]) for k in keys}
    base_ch = {k: float(channels[k]) for k in keys}
    baselines = {"no_time_series": base_ns, "siamese_unet": base_su,
                 "siamese_unet_series_channels": base_ch}
    fig, axes = new_figure(ncols=6, nrows=1, size=2.4)
    from .data import PALETTE

    pal = np.array(PALETTE, dtype=np.float64) / 255
    panels = [
        ("image t1", sample["image"][0].permute(1, 2, 0).numpy() / 255),
        ("image t2", sample["image"][1].permute(1, 2, 0).numpy() / 255),
        ("label t2", pal[sample["mask"][1].numpy()]),
        ("FUSU-Net t2", pal[seg[0, 1].numpy()]),
        ("change (ref)", sample["change"].numpy()),
        ("change (pred)", change[0].numpy()),
    ]
    for ax, (title, arr) in zip(axes[0], panels, strict=True):
        ax.imshow(np.clip(arr, 0, 1), cmap="gray" if arr.ndim == 2 else None,
                  interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.suptitle(f"FUSU-Net SeK {metrics['sek']:.3f} vs no series {base_ns['sek']:.3f}, "
                 f"Siamese U-Net {base_su['sek']:.3f}, + series channels "
                 f"{base_ch['sek']:.3f}")
    return finish(
        "fusu", metrics,
        baselines=baselines,
        primary="sek", margin=0.05,
        directions={k: "max" for k in keys},
        ablations={"without_time_series": base_ns},
        regressions_explained=explain_regressions(metrics, baselines),
        figure=fig, out_dir=out_dir, started=started,
        details={
            "baselines": {
                "no_time_series": "the same FUSU-Net without the U-TAE time-series branch",
                "siamese_unet": "public model zoo unet.py: Siamese U-Net, change decoder on "
                                "feature differences, no time series",
                "siamese_unet_series_channels": "the same Siamese U-Net whose input for each "
                                "date is its RGB plus the whole normalised series (8 dates x 4 "
                                "bands) as channels, cropped to the tile and upsampled "
                                "(nearest) to the HR grid: the series without U-TAE/fusion",
            },
            "train_scenes": n_train, "val_scenes": n_val, "epochs": epochs,
            "train_stream": [seed, 0], "val_stream": [seed, 1],
            "per_class_iou": {k: full[k] for k in full if k.startswith("iou_")
                              and k[4:].isdigit() and np.isfinite(full[k])},
            "score_weight": 0.5,
            "checkpoint": str(checkpoint),
        },
    )
