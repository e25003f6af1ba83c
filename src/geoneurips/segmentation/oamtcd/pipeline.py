"""Training and the demo of the OAM-TCD semantic baseline.

* :class:`TCDTask`: LightningModule (U-Net + focal loss as released, normalized, or CE
  with ``loss="ce"``; AdamW or Adam at the config's lr).
* :func:`train_model`: Lightning training on CPU through
  :func:`geoneurips.nn.training.make_trainer`; optional checkpoint.
* :func:`evaluate`: global semantic scores (:func:`.metrics.semantic_scores`) of a model on
  a dataset.

The demo (diverse vs. single-biome training) is in :mod:`.demo`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

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
        opt = torch.optim.AdamW if self.config.optimizer == "adamw" else torch.optim.Adam
        return opt(self.parameters(), lr=self.config.lr)

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


def train_model(
    config: TCDConfig, samples: Any, *, epochs: int = 10, batch_size: int = 12,
    seed: int = 0, checkpoint: str | Path | None = None, progress: bool = False,
    augment: bool | str = True,
) -> nn.Module:
    """Train the U-Net with Lightning on CPU; return it in eval mode.

    ``samples``: a dataset or list of ``{"image", "mask"}`` samples of equal size.
    ``batch_size`` 12 is the paper's. ``augment``: ``True`` random flips and 90-degree
    rotations, ``"colour"`` those plus colour jitter (:func:`_augment_colour`), ``False``
    none.
    """
    from torch.utils.data import DataLoader

    from ...nn.training import make_trainer
    from ...seed import seed_everything

    seed_everything(seed)
    task = TCDTask(config)
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(samples, batch_size=batch_size, shuffle=True, generator=gen,
                        collate_fn=(_augment_colour if augment == "colour"
                                    else _augment if augment else _stack))
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
