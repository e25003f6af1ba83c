"""Training, inference, evaluation, checkpoints and the demo of FeINFN.

Evaluation follows the MHIF toolbox conventions (research notes Sec. 7): reflectance in
``[0, 1]`` (``const=1``), PSNR as the mean of per-band PSNRs with peak 1, SSIM per band
(Gaussian window 11 / 1.5), SAM in degrees averaged over pixels with non-zero spectra, ERGAS
``100 / ratio * sqrt(mean_b MSE_b / mean_b^2)``, each per image and averaged over images.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ...demo import DemoResult, finish, new_figure
from ...errors import CheckpointError, InvalidInputError
from ...io import load_checkpoint, save_checkpoint
from ...metrics.image import ergas, psnr, sam, ssim
from ...seed import seed_everything
from .data import HISRDataset, _display, write_fixture
from .model import FeINFN, FeINFNConfig, count_parameters, l1_ssim_loss

__all__ = [
    "FeINFNTask",
    "demo",
    "evaluate",
    "load_model",
    "predict",
    "save_model",
    "train",
]

_CONFIG_KEY = "feinfn_config"
_ORDER_KEY = "feinfn_msi_order"


def evaluate(pred: np.ndarray | Tensor, gt: np.ndarray | Tensor, ratio: int) -> dict[str, float]:
    """PSNR / SSIM / SAM / ERGAS of one ``(C, H, W)`` image or the mean over a ``(N, C, H,
    W)`` batch (per image, then averaged), data range 1."""
    p = pred.detach().cpu().numpy() if isinstance(pred, Tensor) else np.asarray(pred)
    g = gt.detach().cpu().numpy() if isinstance(gt, Tensor) else np.asarray(gt)
    if p.shape != g.shape:
        raise InvalidInputError(f"prediction shape {p.shape} differs from reference {g.shape}")
    if p.ndim == 3:
        p, g = p[None], g[None]
    rows = [
        {"psnr": psnr(a, b, data_range=1.0, band_axis=0), "ssim": ssim(a, b, 1.0, band_axis=0),
         "sam": sam(a, b, band_axis=0), "ergas": ergas(a, b, ratio=ratio, band_axis=0)}
        for a, b in zip(p.astype(np.float64), g.astype(np.float64), strict=True)
    ]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def _batch(sample: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    return sample["lrhsi"], sample["rgb"], sample["hsi_up"], sample.get("gt")


def train(
    model: FeINFN,
    dataset: Dataset[dict[str, Tensor]],
    epochs: int = 10,
    batch_size: int = 4,
    lr: float = 1e-3,
    ssim_weight: float = 0.1,
    seed: int = 0,
    progress: bool = False,
    max_seconds: float | None = None,
) -> list[float]:
    """Train ``model`` with Adam on the ``l1ssim`` loss (cosine learning-rate decay to 5 %).

    The optimiser uses :meth:`~geoneurips.restoration.feinfn.model.FeINFN.param_groups`
    (the SFID hidden layers at ``lr / omega0``).

    Args:
        model: the network (modified in place).
        dataset: samples with ``lrhsi``, ``rgb``, ``hsi_up`` and ``gt``.
        epochs: passes over ``dataset``.
        batch_size: samples per step.
        lr: initial learning rate of the encoders, the Spa-Fre IFF and the output layer.
        ssim_weight: weight of ``1 - SSIM`` in the loss.
        seed: shuffling seed.
        progress: show a tqdm bar over epochs.
        max_seconds: stop early after this wall time (off by default; a wall-time cut makes
            the result depend on the machine's load, so the demo does not use it).

    Returns:
        The mean loss of each epoch.
    """
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=gen)
    opt = torch.optim.Adam(model.param_groups(lr), lr=lr)
    steps = max(1, epochs * len(loader))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: 0.05 + 0.95 * 0.5 * (1.0 + np.cos(np.pi * min(k, steps) / steps)))
    history: list[float] = []
    started = time.perf_counter()
    model.train()
    for _ in tqdm(range(epochs), disable=not progress, desc="FeINFN"):
        losses = []
        for sample in loader:
            lrhsi, rgb, up, gt = _batch(sample)
            if gt is None:
                raise InvalidInputError("training samples need a 'gt' reference")
            loss = l1_ssim_loss(model(lrhsi, rgb, up), gt, ssim_weight)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        history.append(float(np.mean(losses)))
        if max_seconds is not None and time.perf_counter() - started > max_seconds:
            break
    model.eval()
    return history


@torch.no_grad()
def predict(model: FeINFN, lrhsi: Tensor, rgb: Tensor, hsi_up: Tensor | None = None) -> Tensor:
    """Fuse one ``(C, h, w)`` / ``(3, H, W)`` pair or a batch; returns the HR-HSI."""
    model.eval()
    single = lrhsi.ndim == 3
    if single:
        lrhsi, rgb = lrhsi[None], rgb[None]
        hsi_up = None if hsi_up is None else hsi_up[None]
    out = model(lrhsi.float(), rgb.float(), None if hsi_up is None else hsi_up.float())
    result: Tensor = out[0] if single else out
    return result


def save_model(model: FeINFN, path: str | Path, msi_order: str = "rgb") -> Path:
    """Save weights, configuration and MSI channel order (a flat dict of tensors and
    plain values, loadable with ``weights_only=True``), atomically."""
    state: dict[str, Any] = dict(model.state_dict())
    state[_CONFIG_KEY] = model.config.to_dict()
    state[_ORDER_KEY] = msi_order
    return save_checkpoint(path, state)


def load_model(path: str | Path) -> tuple[FeINFN, str]:
    """Load a checkpoint written by :func:`save_model` (through
    :func:`geoneurips.io.load_checkpoint`, ``weights_only=True``).

    Returns:
        ``(model in eval mode, msi_order)``.

    Raises:
        CheckpointError: missing file, unsafe content, no FeINFN configuration, or weights
            that do not fit the configuration.
    """
    state = load_checkpoint(path)
    cfg = state.pop(_CONFIG_KEY, None)
    order = str(state.pop(_ORDER_KEY, "rgb"))
    if not isinstance(cfg, dict):
        raise CheckpointError(
            f"{str(path)!r} is not a FeINFN checkpoint (no {_CONFIG_KEY!r} entry; write it with "
            "geoneurips.restoration.feinfn.pipeline.save_model)")
    try:
        model = FeINFN(FeINFNConfig(**cfg))
        model.load_state_dict(state)
    except (TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{str(path)!r} does not match FeINFN: {exc}") from exc
    return model.eval(), order


class FeINFNTask(L.LightningModule):
    """Lightning wrapper: ``l1ssim`` training, PSNR/SAM validation, Adam (with
    :meth:`~geoneurips.restoration.feinfn.model.FeINFN.param_groups`) + cosine."""

    def __init__(self, config: dict[str, Any] | None = None, lr: float = 1e-3,
                 ssim_weight: float = 0.1, ratio: int = 4, max_epochs: int = 100) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = FeINFN(FeINFNConfig(**config) if config else FeINFNConfig())

    def forward(self, lrhsi: Tensor, rgb: Tensor, hsi_up: Tensor | None = None) -> Tensor:
        out: Tensor = self.model(lrhsi, rgb, hsi_up)
        return out

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        lrhsi, rgb, up, gt = _batch(batch)
        assert gt is not None
        loss = l1_ssim_loss(self.model(lrhsi, rgb, up), gt, self.hparams["ssim_weight"])
        self.log("train_loss", loss, prog_bar=True, batch_size=lrhsi.shape[0])
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        lrhsi, rgb, up, gt = _batch(batch)
        assert gt is not None
        m = evaluate(self.model(lrhsi, rgb, up).clamp(0, 1), gt, self.hparams["ratio"])
        self.log_dict({f"val_{k}": v for k, v in m.items()}, batch_size=lrhsi.shape[0])

    def configure_optimizers(self) -> Any:
        opt = torch.optim.Adam(self.model.param_groups(self.hparams["lr"]),
                               lr=self.hparams["lr"])
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=self.hparams["max_epochs"])
        return {"optimizer": opt, "lr_scheduler": sched}


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """Train a small FeINFN on synthetic CAVE-like data and compare with bicubic upsampling.

    Writes a training and a test file in the published ``.h5`` layout
    (:func:`~geoneurips.restoration.feinfn.data.write_fixture`, ratio 4, 31 bands), reads
    them through :class:`~geoneurips.restoration.feinfn.data.HISRDataset`, trains the tiny
    configuration with :func:`train` (Adam, ``lr = 3e-3``, SFID hidden layers at
    ``lr / omega0``, batch 4, a fixed number of steps: 80 on 16 images with ``quick``, 200 on
    32 otherwise) and reports PSNR / SSIM / SAM / ERGAS of FeINFN and of the bicubic
    ``HSI_up`` baseline on 3 held-out 64 x 64 images. Primary metric: PSNR, margin 1 dB.

    The step count, not a wall-time budget, bounds the run, so a seed gives the same numbers
    on any machine.
    """
    import tempfile

    started = time.perf_counter()
    seed_everything(seed)
    out_dir = Path(out_dir)
    n_train, epochs, lr = (16, 20, 3e-3) if quick else (32, 25, 3e-3)
    batch_size = 4
    with tempfile.TemporaryDirectory() as tmp:
        write_fixture(tmp, "train", n=n_train, size=32, seed=seed)
        write_fixture(tmp, "test", n=3, size=64, seed=seed + 1000)
        train_ds = HISRDataset(tmp, "train")
        test_ds = HISRDataset(tmp, "test")
        torch.manual_seed(seed)
        model = FeINFN(FeINFNConfig.tiny())
        history = train(model, train_ds, epochs=epochs, batch_size=batch_size, lr=lr,
                        seed=seed)
        samples = [test_ds[i] for i in range(len(test_ds))]
    lr_b = torch.stack([s["lrhsi"] for s in samples])
    rgb_b = torch.stack([s["rgb"] for s in samples])
    up_b = torch.stack([s["hsi_up"] for s in samples])
    gt_b = torch.stack([s["gt"] for s in samples])
    pred = predict(model, lr_b, rgb_b, up_b).clamp(0, 1)
    metrics = evaluate(pred, gt_b, ratio=4)
    baseline = evaluate(up_b, gt_b, ratio=4)

    fig, axes = new_figure(ncols=5, nrows=1, size=2.6)
    panels = [("RGB (HR-MSI)", _display(rgb_b[0], "bgr")),
              ("bicubic HSI_up", _display(up_b[0])), ("FeINFN", _display(pred[0])),
              ("reference", _display(gt_b[0]))]
    for ax, (title, img) in zip(axes[0][:4], panels, strict=True):
        ax.imshow(img)
        ax.set_title(title)
        ax.set_axis_off()
    y, x = 20, 20
    wl = np.linspace(400, 700, gt_b.shape[1])
    for name, arr in (("reference", gt_b), ("bicubic", up_b), ("FeINFN", pred)):
        axes[0][4].plot(wl, arr[0, :, y, x].numpy(), label=name)
    axes[0][4].set_xlabel("wavelength (nm)")
    axes[0][4].set_title(f"spectrum at ({y}, {x})")
    axes[0][4].legend(fontsize=7)
    return finish(
        "feinfn", metrics, baseline, primary="psnr", margin=1.0, higher_is_better=True,
        figure=fig, out_dir=out_dir, started=started,
        details={"train_samples": n_train, "epochs_run": len(history),
                 "steps": len(history) * -(-n_train // batch_size), "lr": lr,
                 "first_loss": history[0], "final_loss": history[-1],
                 "parameters": count_parameters(model),
                 "ratio": 4, "bands": 31, "test_images": len(samples), "quick": quick,
                 "config": model.config.to_dict()},
    )
