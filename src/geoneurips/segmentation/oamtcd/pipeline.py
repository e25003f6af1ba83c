"""Training and the demo of the OAM-TCD semantic baseline.

* :class:`TCDTask`: LightningModule (U-Net + focal loss, Adam at the config's lr).
* :func:`train_model`: Lightning training on CPU through
  :func:`geoneurips.nn.training.make_trainer`; optional checkpoint.
* :func:`evaluate`: global semantic scores (:func:`.metrics.semantic_scores`) of a model on
  a dataset.
* :func:`demo`: synthetic tree-crown tiles written with :func:`.data.write_fixture` (the
  published COCO layout), read back through :class:`.data.OAMTCD`; the U-Net is compared
  with the excess-green threshold baseline on tree IoU.
"""

from __future__ import annotations

import json
import time
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

__all__ = ["TCDTask", "demo", "evaluate", "green_baseline", "load_model", "save_checkpoint",
           "segment_raster", "train_model"]

try:
    import lightning as L

    _LightningBase: Any = L.LightningModule
except ImportError:  # pragma: no cover
    _LightningBase = nn.Module


class TCDTask(_LightningBase):  # type: ignore[misc]
    """LightningModule of the semantic baseline (focal loss, Adam)."""

    def __init__(self, config: TCDConfig) -> None:
        super().__init__()
        self.config = config
        self.model = build_model(config)
        self.criterion = FocalLoss(gamma=config.gamma, form=config.focal_form)

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
        return torch.optim.Adam(self.parameters(), lr=self.config.lr)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"][CONFIG_KEY] = json.dumps(self.config.to_dict())

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"].pop(CONFIG_KEY, None)


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


def train_model(
    config: TCDConfig, samples: Any, *, epochs: int = 10, batch_size: int = 12,
    seed: int = 0, checkpoint: str | Path | None = None, progress: bool = False,
) -> nn.Module:
    """Train the U-Net with Lightning on CPU; return it in eval mode.

    ``samples``: a dataset or list of ``{"image", "mask"}`` samples of equal size.
    ``batch_size`` 12 is the paper's.
    """
    from torch.utils.data import DataLoader

    from ...nn.training import make_trainer
    from ...seed import seed_everything

    seed_everything(seed)
    task = TCDTask(config)
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(samples, batch_size=batch_size, shuffle=True, generator=gen,
                        collate_fn=_augment)
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


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> Any:
    """U-Net (focal loss) vs. the excess-green threshold on synthetic OAM-TCD tiles.

    The tiles hold bright-green grass (as green as trees) and two vegetation classes
    (single trees, canopy groups), so the threshold cannot separate them; the primary
    metric is the tree-class IoU of the 3-class task (margin 0.15). The trained model is
    saved as ``oamtcd_model.pt`` (usable by ``geoneurips tcd-segment``).
    """
    import tempfile

    from ...demo import finish, new_figure
    from ...seed import seed_everything
    from .data import OAMTCD, write_fixture

    started = time.perf_counter()
    seed_everything(seed)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_train, size, epochs = (32, 64, 30) if quick else (64, 96, 40)
    config = TCDConfig.tiny()
    with tempfile.TemporaryDirectory(prefix="oamtcd_demo_") as tmpd:
        root = write_fixture(Path(tmpd) / "data", n_train=n_train, n_test=8, size=size,
                             folds=2, seed=seed)
        train = OAMTCD(root, "train")
        test = OAMTCD(root, "test")
        samples = [train[i] for i in range(len(train))]
        t0 = time.perf_counter()
        model = train_model(config, samples, epochs=epochs, seed=seed,
                            checkpoint=out / "oamtcd_model.pt")
        t1 = time.perf_counter()
        scores, preds = evaluate(model, config, test)
        test_samples = [test[i] for i in range(len(test))]
    base_preds = [green_baseline(s["image"].numpy()) for s in test_samples]
    tgt = np.concatenate([s["mask"].numpy().ravel() for s in test_samples])
    base = semantic_scores(np.concatenate([b.ravel() for b in base_preds]), tgt, 3)
    fig, axes = new_figure(4, 1, size=3.0)
    s0 = test_samples[0]
    panels = [(s0["image"].numpy().transpose(1, 2, 0) / 255.0, "test tile"),
              (s0["mask"].numpy(), "reference (1 tree, 2 canopy)"),
              (base_preds[0], f"excess green: tree IoU {base['iou_tree']:.2f}"),
              (preds[0], f"U-Net: tree IoU {scores['iou_tree']:.2f}")]
    for ax, (arr, title) in zip(axes[0], panels, strict=True):
        kw: dict[str, Any] = {} if arr.ndim == 3 else {"vmin": 0, "vmax": 2,
                                                        "cmap": "viridis"}
        ax.imshow(np.clip(arr, 0, 2) if arr.ndim == 3 else arr, interpolation="nearest", **kw)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    return finish(
        "oamtcd", scores, base, primary="iou_tree", margin=0.15, higher_is_better=True,
        figure=fig, out_dir=out, started=started,
        details={"baseline": "excess-green threshold (2G-R-B > 20) -> tree",
                 "train_tiles": len(samples), "test_tiles": len(test_samples),
                 "tile_size": size, "epochs": epochs, "model": "SmallUNet width 8 depth 2",
                 "loss": "focal (smp multiclass form), gamma 2", "seconds_train": round(t1 - t0, 2),
                 "checkpoint": str(out / "oamtcd_model.pt"),
                 "note": "synthetic tiles; the paper's numbers are on the real OAM-TCD"},
    )
