"""Training and the demo of SGNet (inference lives in :mod:`.inference`, re-exported here).

* :class:`SGNetTask`: LightningModule training SGNet (main + auxiliary + boundary-consistency
  losses, Sec. 3.4) or the plain base network (``method="sliding"``, CE only).
* :func:`train_model`: CPU training with Lightning, optional checkpoint.
* Re-exported from :mod:`.inference` (no Lightning there): :func:`save_checkpoint`,
  :func:`load_model`, :func:`predict_patches`, :func:`segment_raster` (streaming GeoTIFF
  inference through :func:`geoneurips.raster.engine.predict_raster`),
  :func:`evaluate_prediction`.
* :func:`demo`: the synthetic ultra-image task (:func:`.data.make_ambiguous_scene`, written
  in the Inria layout) where SGNet beats the plain sliding window of the same base network.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import InvalidInputError
from .data import IGNORE_INDEX
from .inference import (
    CONFIG_KEY,
    evaluate_prediction,
    load_model,
    predict_patches,
    save_checkpoint,
    segment_raster,
)
from .model import SGNetConfig, SGNetLoss, build_model

__all__ = [
    "CONFIG_KEY",
    "SGNetTask",
    "demo",
    "evaluate_prediction",
    "load_model",
    "materialize",
    "predict_patches",
    "save_checkpoint",
    "segment_raster",
    "train_model",
]

try:  # Lightning is a core dependency; keep the import local to this module.
    import lightning as L

    _LightningBase: Any = L.LightningModule
except ImportError:  # pragma: no cover
    _LightningBase = nn.Module


class SGNetTask(_LightningBase):  # type: ignore[misc]
    """LightningModule for SGNet (or the plain sliding-window baseline).

    Args:
        config: model config (``config.method`` picks SGNet or the plain base network).
        lr: AdamW learning rate.
        aux_weight: weight of the auxiliary CE.
        boundary_weight: weight of the boundary-consistency L1.

    Batches are :class:`.data.SurroundingPatches` samples; the boundary term is used when
    they carry a shifted second patch (``image_b``, ``shift``).
    """

    def __init__(self, config: SGNetConfig, lr: float = 3e-3, aux_weight: float = 0.4,
                 boundary_weight: float = 0.5) -> None:
        super().__init__()
        self.config = config
        self.lr = lr
        self.model = build_model(config)
        self.criterion = SGNetLoss(aux_weight=aux_weight, boundary_weight=boundary_weight,
                                   ignore_index=IGNORE_INDEX)

    def forward(self, image: torch.Tensor, context: torch.Tensor | None = None) -> Any:
        return predict_patches(self.model, self.config, image, context)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        if self.config.method == "sliding":
            out = self(batch["image"])["out"]
            loss = F.cross_entropy(out, batch["mask"], ignore_index=IGNORE_INDEX)
            self.log("train_loss", loss, batch_size=len(out))
            return loss
        out_a = self(batch["image"], batch["context"])
        out_b = shift = mask_b = None
        if "image_b" in batch:
            out_b = self(batch["image_b"], batch["context_b"])
            s = batch["shift"][0]
            if not bool((batch["shift"] == s).all()):
                raise InvalidInputError("all pairs of a batch must share the same shift")
            shift = (int(s[0]), int(s[1]))
            mask_b = batch["mask_b"]
        terms: dict[str, torch.Tensor] = self.criterion(
            out_a, batch["mask"], batch.get("context_mask"), out_b, shift, mask_b
        )
        for k, v in terms.items():
            self.log(f"train_{k}", v, batch_size=len(batch["image"]))
        return terms["loss"]

    def configure_optimizers(self) -> Any:
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=1e-4)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"][CONFIG_KEY] = json.dumps(self.config.to_dict())

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"].pop(CONFIG_KEY, None)


def materialize(dataset: Any, limit: int | None = None) -> list[dict[str, torch.Tensor]]:
    """Read samples of a dataset once into a list (small training sets, fast epochs)."""
    n = len(dataset) if limit is None else min(limit, len(dataset))
    return [dataset[i] for i in range(n)]


def train_model(
    config: SGNetConfig, samples: Any, *, epochs: int = 10, batch_size: int = 16,
    lr: float = 3e-3, seed: int = 0, progress: bool = False,
    checkpoint: str | Path | None = None,
) -> nn.Module:
    """Train SGNet or the plain baseline with Lightning on CPU; return the model (eval mode).

    Args:
        config: model config.
        samples: a dataset (or list) of :class:`.data.SurroundingPatches` samples.
        epochs: epochs.
        batch_size: batch size.
        lr: learning rate.
        seed: seed (model init and shuffling).
        progress: show Lightning's progress bar.
        checkpoint: if given, save a plain checkpoint there after training.
    """
    from torch.utils.data import DataLoader

    from ...nn.training import make_trainer
    from ...seed import seed_everything

    seed_everything(seed)
    task = SGNetTask(config, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(samples, batch_size=batch_size, shuffle=True, generator=gen,
                        drop_last=len(samples) > batch_size)
    trainer = make_trainer(max_epochs=epochs, progress=progress, seed=seed)
    trainer.fit(task, loader)
    model = task.model.eval()
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, config)
    return model


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> Any:
    """SGNet vs. the plain sliding window of the same SmallUNet on the ambiguous-patch task.

    Synthetic Inria-layout scenes (:func:`.data.write_fixture` with
    :func:`.data.make_ambiguous_scene`) are read through :class:`.data.InriaAerial` and
    :class:`.data.SurroundingPatches`; both models are trained for the same epochs on the
    ``train`` split, then every ``val`` image is segmented through the streaming GeoTIFF
    engine and scored by mIoU. Checkpoints of both models are saved in ``out_dir``.
    """
    import tempfile

    from ...demo import finish, new_figure
    from ...raster.io import read_raster
    from ...seed import seed_everything
    from .data import InriaAerial, SurroundingPatches, write_fixture

    started = time.perf_counter()
    seed_everything(seed)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    size = 192 if quick else 256
    spi = 112 if quick else 64
    epochs = 5 if quick else 6
    cfg_s = SGNetConfig.tiny(method="sgnet", context_scale=3.0)
    tile = cfg_s.patch_size  # inference tile = training patch (the paper's sliding setting)
    cfg_p = SGNetConfig.tiny(method="sliding")
    with tempfile.TemporaryDirectory(prefix="sgnet_demo_") as tmpd:
        tmp = Path(tmpd)
        write_fixture(tmp / "data", size=size, images_per_city=7 if not quick else 6,
                      seed=seed)
        train = InriaAerial(tmp / "data", "train")
        val = InriaAerial(tmp / "data", "val")
        p = cfg_s.patch_size
        train_masks: list[Path] = []
        for _, gt_path in train.files:
            assert gt_path is not None  # labelled split
            train_masks.append(gt_path)
        patches = SurroundingPatches([f[0] for f in train.files], train_masks,
                                     patch_size=p, context_scale=cfg_s.context_scale,
                                     samples_per_image=spi, pair_shift=(0, p // 2), seed=seed)
        samples = materialize(patches)
        patches.close()
        plain_samples = [{"image": s["image"], "mask": s["mask"]} for s in samples]
        t0 = time.perf_counter()
        sg = train_model(cfg_s, samples, epochs=epochs, seed=seed,
                         checkpoint=out / "sgnet_model.pt")
        t1 = time.perf_counter()
        pl = train_model(cfg_p, plain_samples, epochs=epochs, seed=seed,
                         checkpoint=out / "sliding_model.pt")
        t2 = time.perf_counter()
        preds: dict[str, list[np.ndarray]] = {"sgnet": [], "sliding": []}
        targets: list[np.ndarray] = []
        images: list[np.ndarray] = []
        val_files = val.files[:4] if quick else val.files
        for i, (img_path, gt_path) in enumerate(val_files):
            assert gt_path is not None
            gt, _ = read_raster(gt_path)
            targets.append(InriaAerial.encode_mask(gt[0], gt_path))
            images.append(read_raster(img_path)[0])
            for name, model, cfg in (("sgnet", sg, cfg_s), ("sliding", pl, cfg_p)):
                dst = tmp / f"{name}_{i}.tif"
                segment_raster(img_path, dst, model, cfg, tile_size=tile, overlap=8,
                               progress=False)
                preds[name].append(read_raster(dst)[0][0].astype(np.int64))
        t3 = time.perf_counter()
    tgt = np.stack(targets)
    m_sg = evaluate_prediction(np.stack(preds["sgnet"]), tgt, 2)
    m_pl = evaluate_prediction(np.stack(preds["sliding"]), tgt, 2)
    fig, axes = new_figure(4, 1, size=3.2)
    panels = [(images[0].transpose(1, 2, 0), "val image"), (targets[0], "reference"),
              (preds["sliding"][0], f"sliding window mIoU {m_pl['miou']:.2f}"),
              (preds["sgnet"][0], f"SGNet mIoU {m_sg['miou']:.2f}")]
    for ax, (arr, title) in zip(axes[0], panels, strict=True):
        ax.imshow(arr, cmap=None if arr.ndim == 3 else "viridis", interpolation="nearest",
                  **({} if arr.ndim == 3 else {"vmin": 0, "vmax": 1}))
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    return finish(
        "sgnet", m_sg, m_pl, primary="miou", margin=0.10, higher_is_better=True, figure=fig,
        out_dir=out, started=started,
        details={"baseline": "plain sliding window, same SmallUNet, same epochs",
                 "train_patches": len(samples), "val_images": len(targets), "image_size": size,
                 "patch_size": p, "inference_tile": tile,
                 "context_scale": cfg_s.context_scale, "epochs": epochs,
                 "seconds_train_sgnet": round(t1 - t0, 2),
                 "seconds_train_sliding": round(t2 - t1, 2),
                 "seconds_inference": round(t3 - t2, 2),
                 "checkpoints": [str(out / "sgnet_model.pt"), str(out / "sliding_model.pt")]},
    )
