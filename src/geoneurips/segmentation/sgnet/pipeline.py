"""Training, checkpoints, streaming GeoTIFF inference and the demo of SGNet.

* :class:`SGNetTask`: LightningModule training SGNet (main + auxiliary + boundary-consistency
  losses, Sec. 3.4) or the plain base network (``method="sliding"``, CE only).
* :func:`save_checkpoint` / :func:`load_model`: plain state-dict checkpoints holding the
  model config beside the weights (key ``"__config__"``, a JSON string); Lightning
  checkpoints of :class:`SGNetTask` carry the same key. Loading goes only through
  :func:`geoneurips.io.load_checkpoint` (``weights_only=True``).
* :func:`segment_raster`: streams a GeoTIFF through :func:`geoneurips.raster.engine.predict_raster`;
  for SGNet every tile's kernel reads the tile's surrounding window (boundless) from the
  sources, resizes it to the tile size and runs both branches (Sec. 3.1); the plain
  baseline runs the base network on the tile alone. Tile probabilities are blended over the
  overlaps and the class map (uint8) is written on the input grid, atomically.
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

from ...errors import CheckpointError, InvalidInputError
from .data import IGNORE_INDEX, surrounding_window
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

#: Key of the JSON model config stored beside the weights in every checkpoint.
CONFIG_KEY = "__config__"


def _normalize(x: torch.Tensor, config: SGNetConfig) -> torch.Tensor:
    mean = torch.tensor(config.mean, dtype=x.dtype, device=x.device)[:, None, None]
    std = torch.tensor(config.std, dtype=x.dtype, device=x.device)[:, None, None]
    return (x - mean) / std


def predict_patches(
    model: nn.Module, config: SGNetConfig, image: torch.Tensor,
    context: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Run the model on raw (un-normalised) ``(B, C, H, W)`` patches (and contexts)."""
    x = _normalize(image, config)
    if config.method == "sgnet":
        if context is None:
            raise InvalidInputError("SGNet needs the surrounding context of every patch")
        return model(x, _normalize(context, config))  # type: ignore[no-any-return]
    return model(x)  # type: ignore[no-any-return]


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
        terms = self.criterion(out_a, batch["mask"], batch.get("context_mask"), out_b, shift,
                               mask_b)
        for k, v in terms.items():
            self.log(f"train_{k}", v, batch_size=len(batch["image"]))
        return terms["loss"]

    def configure_optimizers(self) -> Any:
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=1e-4)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"][CONFIG_KEY] = json.dumps(self.config.to_dict())

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"].pop(CONFIG_KEY, None)


def save_checkpoint(path: str | Path, model: nn.Module, config: SGNetConfig) -> Path:
    """Write a plain state-dict checkpoint with the config beside the weights (atomic)."""
    from ...io import atomic_path

    state: dict[str, Any] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    state[CONFIG_KEY] = json.dumps(config.to_dict())
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load_model(checkpoint: str | Path) -> tuple[nn.Module, SGNetConfig]:
    """Rebuild a model from a checkpoint written by :func:`save_checkpoint` or by Lightning
    (:class:`SGNetTask`), in eval mode.

    Raises:
        CheckpointError: no config stored, or weights that do not fit the config.
    """
    from ...io import load_checkpoint

    state = load_checkpoint(checkpoint)
    raw = state.pop(CONFIG_KEY, None)
    if not isinstance(raw, str):
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} holds no SGNet config (key {CONFIG_KEY!r}); "
            "save it with geoneurips.segmentation.sgnet.pipeline.save_checkpoint or train "
            "it with SGNetTask"
        )
    try:
        config = SGNetConfig.from_dict(json.loads(raw))
        model = build_model(config)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"bad SGNet config in {str(checkpoint)!r}: {exc}") from exc
    if any(k.startswith("model.") for k in state):  # Lightning: strip the task prefix
        state = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"weights in {str(checkpoint)!r} do not match its {config.method} config: {exc}"
        ) from exc
    model.eval()
    return model, config


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


def _make_kernel(model: nn.Module, config: SGNetConfig, multiple: int) -> Any:
    """The per-tile kernel of :func:`segment_raster` (class probabilities)."""

    def kernel(tile: np.ndarray, ctx: Any) -> np.ndarray:
        c, h, w = tile.shape
        if c != config.in_channels:
            raise InvalidInputError(
                f"the model expects {config.in_channels} bands, the raster has {c}"
            )
        ph, pw = (-h) % multiple, (-w) % multiple
        x = torch.from_numpy(np.ascontiguousarray(tile, dtype=np.float32))
        context = None
        if config.method == "sgnet":
            r0, c0, sh, sw = surrounding_window(ctx.row_off, ctx.col_off, h + ph, w + pw,
                                                config.context_scale)
            sur = torch.from_numpy(np.asarray(ctx.read(r0, c0, sh, sw), dtype=np.float32))
            sur = torch.nan_to_num(sur, nan=0.0)
            context = F.interpolate(sur[None], size=(h + ph, w + pw), mode="area")
        x = torch.nan_to_num(x, nan=0.0)
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        with torch.inference_mode():
            out = predict_patches(model, config, x[None], context)["out"]
        prob = out.softmax(1)[0, :, :h, :w]
        return prob.numpy().astype(np.float32)

    return kernel


def segment_raster(
    image: str | Path,
    output: str | Path,
    model: nn.Module,
    config: SGNetConfig,
    *,
    tile_size: int | None = None,
    overlap: int | None = None,
    probabilities: bool = False,
    progress: bool = True,
) -> Path:
    """Segment a GeoTIFF of any size (streamed window by window) and write the result.

    Args:
        image: input raster (``config.in_channels`` bands).
        output: output GeoTIFF, on the input grid (CRS and transform kept), written
            atomically: one uint8 band of class ids (255 = nodata), or with
            ``probabilities=True`` one float32 band of probability per class.
        model: the model (from :func:`load_model` or :func:`train_model`).
        config: its config (``config.method`` decides SGNet or plain sliding window).
        tile_size: tile side (default ``config.patch_size``).
        overlap: tile overlap (default a quarter of the tile).
        probabilities: write class probabilities instead of class ids.
        progress: progress bar.
    """
    from ...raster.engine import predict_raster
    from ...raster.io import raster_info

    info = raster_info(image)
    if info.count != config.in_channels:
        raise InvalidInputError(
            f"raster {str(image)!r} has {info.count} band(s) but the model expects "
            f"{config.in_channels}"
        )
    multiple = 2**config.base_depth
    if config.method == "sgnet":
        multiple = max(multiple, 4)
    t = int(tile_size or config.patch_size)
    t = max(multiple, t - t % multiple)
    ov = int(overlap if overlap is not None else t // 4)
    model.eval()
    kernel = _make_kernel(model, config, multiple)
    k = config.num_classes
    names = [f"p_class{i}" for i in range(k)]
    if probabilities:
        return predict_raster([image], output, kernel, out_bands=k, tile_size=t, overlap=ov,
                              blend="cosine", out_dtype="float32", band_descriptions=names,
                              progress=progress)

    def finalize(prob: np.ndarray) -> np.ndarray:
        return np.argmax(prob, axis=0)[None].astype(np.float32)

    return predict_raster([image], output, kernel, out_bands=k, tile_size=t, overlap=ov,
                          blend="cosine", out_dtype="uint8", out_nodata=255,
                          band_descriptions=["class"], finalize=finalize, final_bands=1,
                          progress=progress)


def evaluate_prediction(pred: np.ndarray, target: np.ndarray, num_classes: int) -> dict[str, float]:
    """mIoU / IoU per class / OA / mF1 with the confusion-matrix conventions of the project
    (the paper reports mIoU)."""
    from ...metrics.confusion import confusion_matrix, segmentation_scores

    cm = confusion_matrix(pred, target, num_classes, ignore_index=IGNORE_INDEX)
    s = segmentation_scores(cm)
    out = {"miou": float(s["miou"]), "oa": float(s["oa"]), "mf1": float(s["mf1"])}
    for i, v in enumerate(np.asarray(s["iou"]).tolist()):
        out[f"iou_{i}"] = float(v)
    return out


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
        patches = SurroundingPatches([f[0] for f in train.files], [f[1] for f in train.files],
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
