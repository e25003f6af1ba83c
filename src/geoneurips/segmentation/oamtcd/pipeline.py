"""Training and the demo of the OAM-TCD semantic baseline.

* :class:`TCDTask`: LightningModule (U-Net + focal loss as released, normalized, or CE
  with ``loss="ce"``; AdamW or Adam at the config's lr).
* :func:`train_model`: Lightning training on CPU through
  :func:`geoneurips.nn.training.make_trainer`; optional checkpoint.
* :func:`evaluate`: global semantic scores (:func:`.metrics.semantic_scores`) of a model on
  a dataset.

The demo (diverse vs. single-biome training) is in :mod:`.demo`.

Released training recipe (``Restor-Foundation/tcd``: ``models/smpmodule.py``,
``models/segmentationmodule.py``, ``data/datamodule.py``, ``unet_resnet34.yaml``) and the
deliberate differences here:

* transform: flips, ``Rotate``, ``RandomBrightnessContrast``, ``OneOf(Blur, Sharpen)``,
  ``HueSaturationValue(5, 4, 5)``, ``RandomCrop(1024)`` -> ``augment="released"``
  (:func:`_augment_released`, written in torch: albumentations is not a dependency);
* AdamW at lr 1e-3 with ``ReduceLROnPlateau`` (patience 5) on the validation loss, up to 75
  epochs with early stopping (patience 10): here a constant lr (or ``schedule="cosine"``)
  for a fixed number of epochs, since the CPU runs have no validation split;
* loss: ``smp.losses.FocalLoss("multiclass", normalized=True)``. In the version read
  (commit 095d86d) the module's ``forward`` returns ``softmax`` probabilities and the loss
  is applied to them as if they were logits; here it is applied to the logits, as smp
  documents the loss.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import InvalidInputError
from .inference import (
    CONFIG_KEY,
    green_baseline,
    load_model,
    normalize,
    predict_batch,
    save_checkpoint,
    segment_raster,
)
from .metrics import semantic_scores
from .model import FocalLoss, TCDConfig, build_model

__all__ = ["TCDTask", "evaluate", "green_baseline", "load_model", "save_checkpoint",
           "segment_raster", "train_model"]

try:
    import lightning as L

    _LightningBase: Any = L.LightningModule
except ImportError:  # pragma: no cover
    _LightningBase = nn.Module


class TCDTask(_LightningBase):  # type: ignore[misc]
    """LightningModule of the semantic baseline (focal loss, AdamW as released)."""

    def __init__(self, config: TCDConfig) -> None:
        super().__init__()
        self.config = config
        self.model = build_model(config)
        self.criterion: nn.Module = (
            FocalLoss(gamma=config.gamma, form=config.focal_form,
                      normalized=config.focal_normalized) if config.loss == "focal"
            else nn.CrossEntropyLoss(ignore_index=255))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model(normalize(image, self.config))  # type: ignore[no-any-return]

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        image, mask = batch["image"], batch["mask"]
        if self.config.num_classes == 2:
            mask = (mask > 0).long()
        loss = self.criterion(self(image), mask)
        self.log("train_loss", loss, batch_size=len(image))
        return loss  # type: ignore[no-any-return]

    def configure_optimizers(self) -> Any:
        cls = torch.optim.AdamW if self.config.optimizer == "adamw" else torch.optim.Adam
        opt = cls(self.parameters(), lr=self.config.lr)
        if self.config.schedule == "constant":
            return opt
        steps = max(1, int(self.trainer.estimated_stepping_batches))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"][CONFIG_KEY] = json.dumps(self.config.to_dict())

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"].pop(CONFIG_KEY, None)


def _stack(batch: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Collate image and mask only (no augmentation)."""
    return {"image": torch.stack([s["image"] for s in batch]),
            "mask": torch.stack([s["mask"] for s in batch])}


def _augment(batch: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Collate with random flips / 90-degree rotations (same for image and mask)."""
    imgs, masks = [], []
    for s in batch:
        k = int(torch.randint(0, 4, ()))
        img, m = torch.rot90(s["image"], k, (1, 2)), torch.rot90(s["mask"], k, (0, 1))
        if bool(torch.randint(0, 2, ())):
            img, m = img.flip(2), m.flip(1)
        imgs.append(img)
        masks.append(m)
    return {"image": torch.stack(imgs), "mask": torch.stack(masks)}


def _rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """``(3, H, W)`` RGB in 0-1 -> HSV (hue in 0-1 turns, saturation and value 0-1)."""
    mx, arg = x.max(0)
    mn = x.min(0).values
    d = mx - mn
    safe = torch.where(d > 0, d, torch.ones_like(d))
    r, g, b = x
    h = torch.stack([((g - b) / safe) % 6, (b - r) / safe + 2, (r - g) / safe + 4])
    hue = torch.where(d > 0, h.gather(0, arg[None])[0] / 6.0, torch.zeros_like(d))
    sat = torch.where(mx > 0, d / torch.where(mx > 0, mx, torch.ones_like(mx)),
                      torch.zeros_like(mx))
    return torch.stack([hue % 1.0, sat, mx])


def _hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`_rgb_to_hsv`."""
    h, s, v = x
    k = (torch.tensor([5.0, 3.0, 1.0])[:, None, None] + h[None] * 6) % 6
    out: torch.Tensor = v[None] - v[None] * s[None] * torch.clamp(
        torch.minimum(k, 4 - k), 0, 1)
    return out


def _u(a: float, b: float) -> float:
    """One draw of U(a, b) from torch's global generator."""
    return float(torch.empty(()).uniform_(a, b))


def _released_photometric(img: torch.Tensor) -> torch.Tensor:
    """The released training transform's colour part on one ``(3, H, W)`` 0-255 tile
    (``Restor-Foundation/tcd``, ``data/datamodule.py``, albumentations defaults; every
    result clipped to 0-255 as albumentations does for uint8):

    * ``RandomBrightnessContrast()`` (p 0.5): ``x * (1 + U(-0.2, 0.2)) + 255 * U(-0.2,
      0.2)`` (contrast gain, brightness offset by max value);
    * ``OneOf([Blur(), Sharpen()])`` (p 0.5, either equally likely): box blur with a
      random odd kernel of 3-7 px, or sharpening with alpha U(0.2, 0.5), lightness
      U(0.5, 1.0) (kernel ``(1 - alpha) * identity + alpha * [[-1]*3, [-1, 8 + l, -1],
      [-1]*3]``);
    * ``HueSaturationValue(hue_shift_limit=5, sat_shift_limit=4, val_shift_limit=5)``
      (p 0.5; OpenCV 8-bit scales: hue in 0-180, so +-10 degrees, saturation and value
      +-4 / +-5 of 255).
    """
    if _u(0, 1) < 0.5:
        img = (img * (1 + _u(-0.2, 0.2)) + 255 * _u(-0.2, 0.2)).clamp(0, 255)
    if _u(0, 1) < 0.5:
        x = F.pad(img[None], (3, 3, 3, 3), mode="reflect")
        if _u(0, 1) < 0.5:
            k = int(torch.randint(1, 4, ())) * 2 + 1
            kern = torch.full((3, 1, k, k), 1.0 / (k * k))
            x = x[..., 3 - k // 2:x.shape[-2] - 3 + k // 2, 3 - k // 2:x.shape[-1] - 3 + k // 2]
        else:
            a, light = _u(0.2, 0.5), _u(0.5, 1.0)
            eff = -torch.ones(3, 3)
            eff[1, 1] = 8 + light
            ident = torch.zeros(3, 3)
            ident[1, 1] = 1
            kern = ((1 - a) * ident + a * eff).expand(3, 1, 3, 3).contiguous()
            x = x[..., 2:-2, 2:-2]
        img = F.conv2d(x, kern, groups=3)[0].clamp(0, 255)
    if _u(0, 1) < 0.5:
        hsv = _rgb_to_hsv(img / 255.0)
        hsv[0] = (hsv[0] + _u(-5, 5) / 180.0) % 1.0
        hsv[1] = (hsv[1] + _u(-4, 4) / 255.0).clamp(0, 1)
        hsv[2] = (hsv[2] + _u(-5, 5) / 255.0).clamp(0, 1)
        img = (_hsv_to_rgb(hsv) * 255.0).clamp(0, 255)
    return img


def _rotate(img: torch.Tensor, mask: torch.Tensor, degrees: float
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate a tile and its mask about the centre (bilinear / nearest, reflected
    borders: albumentations ``Rotate``'s ``BORDER_REFLECT_101``)."""
    t = torch.tensor(degrees * torch.pi / 180.0)
    c, s = float(torch.cos(t)), float(torch.sin(t))
    theta = torch.tensor([[[c, -s, 0.0], [s, c, 0.0]]])
    grid = F.affine_grid(theta, [1, 1, *img.shape[-2:]], align_corners=False)
    im = F.grid_sample(img[None], grid, mode="bilinear", padding_mode="reflection",
                       align_corners=False)[0]
    m = F.grid_sample(mask[None, None].float(), grid, mode="nearest",
                      padding_mode="reflection", align_corners=False)[0, 0]
    return im, m.round().to(mask.dtype)


def _augment_released(batch: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Collate with the released code's training transform (``augment: on``): horizontal
    and vertical flips (p 0.5 each), ``Rotate(limit=90)`` (p 0.5), then the colour part
    :func:`_released_photometric`. (The released ``RandomCrop(1024)`` is a no-op on tiles
    of the training size.)"""
    imgs, masks = [], []
    for s in batch:
        img, m = s["image"].float(), s["mask"]
        if bool(torch.randint(0, 2, ())):
            img, m = img.flip(2), m.flip(1)
        if bool(torch.randint(0, 2, ())):
            img, m = img.flip(1), m.flip(0)
        if bool(torch.randint(0, 2, ())):
            img, m = _rotate(img, m, float(torch.empty(()).uniform_(-90, 90)))
        imgs.append(_released_photometric(img))
        masks.append(m)
    return {"image": torch.stack(imgs), "mask": torch.stack(masks)}


def _augment_colour(batch: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """:func:`_augment` plus colour jitter: per tile a brightness gain in [0.7, 1.3] and
    per-channel gains in [0.8, 1.2] (the usual first try at generalising across lighting
    and vegetation colour; not in the paper's configs)."""
    out = _augment(batch)
    n = len(out["image"])
    gain = (torch.empty(n, 1, 1, 1).uniform_(0.7, 1.3)
            * torch.empty(n, 3, 1, 1).uniform_(0.8, 1.2))
    out["image"] = (out["image"] * gain).clamp(0, 255)
    return out


def _augment_released_colour(batch: list[dict[str, torch.Tensor]]
                             ) -> dict[str, torch.Tensor]:
    """:func:`_augment_released` plus the colour jitter of :func:`_augment_colour`."""
    out = _augment_released(batch)
    n = len(out["image"])
    gain = (torch.empty(n, 1, 1, 1).uniform_(0.7, 1.3)
            * torch.empty(n, 3, 1, 1).uniform_(0.8, 1.2))
    out["image"] = (out["image"] * gain).clamp(0, 255)
    return out


_COLLATE: dict[bool | str, Any] = {
    False: _stack, True: _augment, "colour": _augment_colour,
    "released": _augment_released, "released_colour": _augment_released_colour}


def train_model(
    config: TCDConfig, samples: Any, *, epochs: int = 10, batch_size: int = 12,
    seed: int = 0, checkpoint: str | Path | None = None, progress: bool = False,
    augment: bool | str = True,
) -> nn.Module:
    """Train the U-Net with Lightning on CPU; return it in eval mode.

    ``samples``: a dataset or list of ``{"image", "mask"}`` samples of equal size.
    ``batch_size`` 12 is the paper's. ``augment``: ``"released"`` the released code's
    training transform (:func:`_augment_released`: flips, rotation up to 90 degrees,
    brightness / contrast, blur or sharpen, hue / saturation / value), ``True`` random
    flips and 90-degree rotations only, ``"colour"`` / ``"released_colour"`` those plus
    colour jitter (:func:`_augment_colour`), ``False`` none.

    Raises:
        InvalidInputError: an unknown ``augment``.
    """
    from torch.utils.data import DataLoader

    from ...nn.training import make_trainer
    from ...seed import seed_everything

    if augment not in _COLLATE:
        raise InvalidInputError(f"augment must be one of {sorted(map(str, _COLLATE))}, got "
                                f"{augment!r}")
    seed_everything(seed)
    task = TCDTask(config)
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(samples, batch_size=batch_size, shuffle=True, generator=gen,
                        collate_fn=_COLLATE[augment])
    trainer = make_trainer(max_epochs=epochs, progress=progress, seed=seed)
    trainer.fit(task, loader)
    model = task.model.eval()
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, config)
    return model


def evaluate(model: nn.Module, config: TCDConfig, dataset: Any) -> tuple[dict[str, float],
                                                                          list[np.ndarray]]:
    """Global scores over a dataset (one confusion matrix over all pixels) + predictions."""
    preds, targets = [], []
    for i in range(len(dataset)):
        s = dataset[i]
        prob = predict_batch(model, config, s["image"][None])[0]
        preds.append(prob.argmax(0).numpy().astype(np.int64))
        t = s["mask"].numpy()
        targets.append((t > 0).astype(np.int64) if config.num_classes == 2 else t)
    p = np.concatenate([x.ravel() for x in preds])
    t = np.concatenate([x.ravel() for x in targets])
    return semantic_scores(p, t, config.num_classes), preds
