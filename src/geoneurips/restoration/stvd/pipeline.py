"""Joint training (Lightning), evaluation and the demo of STVD (arXiv 2312.06071).

Training follows section 3.3 / public ``trainer.py``: Adam (lr 1e-4, betas (0.9, 0.99)),
cosine annealing to 5e-7, gradient clipping at 1.0, EMA of the weights (0.995), one loss
for the downscaler and the residual diffusion model together.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import lightning as L
import numpy as np
import torch

from ...demo import DemoResult, finish, new_figure
from ...errors import CheckpointError
from .data import FV3GFSDownscaling, write_fixture
from .metrics import stvd_metrics
from .model import STVD, STVDConfig

__all__ = ["STVDModule", "bilinear_baseline", "demo", "downscale_raster", "evaluate",
           "load_model", "save_model", "train"]

SYSTEM = "stvd"


class STVDModule(L.LightningModule):
    """LightningModule wrapping :class:`STVD` for joint training.

    Args:
        cfg: model configuration.
        lr: Adam learning rate (paper 1e-4); ``max_steps``: cosine-annealing horizon;
        ema_decay: decay of the weight EMA used for evaluation (paper 0.995; ``None``: off).
    """

    def __init__(self, cfg: STVDConfig | None = None, lr: float = 1e-4, max_steps: int = 2_000_000,
                 ema_decay: float | None = 0.995) -> None:
        super().__init__()
        self.model = STVD(cfg)
        self.lr, self.max_steps, self.ema_decay = lr, max_steps, ema_decay
        self.ema: torch.optim.swa_utils.AveragedModel | None = None
        if ema_decay is not None:
            # torch leaves get_ema_multi_avg_fn unannotated
            ema_fn = torch.optim.swa_utils.get_ema_multi_avg_fn(ema_decay)  # type: ignore[no-untyped-call]
            self.ema = torch.optim.swa_utils.AveragedModel(self.model, multi_avg_fn=ema_fn,
                                                           use_buffers=True)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        out = self.model.loss(batch["image"], batch["topo"], batch["target"])
        self.log_dict({k: v.detach() for k, v in out.items()}, prog_bar=True)
        return out["loss"]

    def on_train_batch_end(self, *args: Any) -> None:
        if self.ema is not None:
            self.ema.update_parameters(self.model)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.Adam(self.model.parameters(), lr=self.lr, betas=(0.9, 0.99),
                               foreach=True)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.max_steps, eta_min=5e-7)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def trained_model(self) -> STVD:
        """The EMA weights when EMA is on, else the raw weights."""
        if self.ema is not None:
            return cast(STVD, self.ema.module)
        return self.model


def train(dataset: FV3GFSDownscaling, cfg: STVDConfig, *, steps: int, batch_size: int = 1,
          lr: float = 1e-4, ema_decay: float | None = 0.995, seed: int = 0,
          progress: bool = False) -> STVD:
    """Train STVD jointly for ``steps`` optimiser steps on ``dataset``; returns the model
    (EMA weights when ``ema_decay`` is set) in eval mode."""
    from torch.utils.data import DataLoader

    from ...nn.training import make_trainer

    gen = torch.Generator().manual_seed(seed)
    loader: DataLoader[dict[str, Any]] = DataLoader(
        dataset, batch_size=batch_size, shuffle=True,
        generator=gen, num_workers=0, drop_last=True)
    module = STVDModule(cfg, lr=lr, max_steps=steps, ema_decay=ema_decay)
    trainer = make_trainer(max_epochs=-1, max_steps=steps, gradient_clip_val=1.0, seed=seed,
                           progress=progress)
    trainer.fit(module, loader)
    model = module.trained_model()
    model.eval()
    return model


def bilinear_baseline(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """Bilinear upsampling of the coarse precipitation channel, ``(B, T, 1, H, W)``, in the
    normalised [0, 1] space (the trivial baseline)."""
    import torch.nn.functional as F

    b, t, _, h, w = lr.shape
    up = F.interpolate(lr[:, :, :1].reshape(b * t, 1, h, w), scale_factor=scale,
                       mode="bilinear", align_corners=False)
    return up.reshape(b, t, 1, h * scale, w * scale).clamp(0, 1)


def evaluate(model: STVD, dataset: FV3GFSDownscaling, *, clips: int, members: int = 8,
             steps: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Metrics of the diffusion ensemble, the deterministic downscaler and bilinear
    upsampling on the first ``clips`` clips of ``dataset`` (normalised [0, 1] space).

    Returns ``{"stvd": ..., "downscaler": ..., "bilinear": ..., "arrays": {...}}``.
    """
    gen = torch.Generator().manual_seed(seed)
    ens, det, bil, tgt = [], [], [], []
    for i in range(min(clips, len(dataset))):
        s = dataset[i]
        lr, topo = s["image"][None], s["topo"][None]
        out = model.sample(lr, topo, n_samples=members, steps=steps, generator=gen)
        ens.append(out.samples[:, 0].clamp(0, 1).numpy())
        det.append(out.warped[0].clamp(0, 1).numpy())
        bil.append(bilinear_baseline(lr, model.cfg.scale)[0].numpy())
        tgt.append(s["target"].numpy())
    e = np.stack(ens, axis=1)  # (S, N, T, 1, H, W)
    d, b, y = np.stack(det)[None], np.stack(bil)[None], np.stack(tgt)
    return {
        "stvd": stvd_metrics(e, y), "downscaler": stvd_metrics(d, y),
        "bilinear": stvd_metrics(b, y),
        "arrays": {"ensemble": e, "downscaler": d[0], "bilinear": b[0], "target": y},
    }


def save_model(model: STVD, path: str | Path,
               stats: dict[str, dict[str, dict[str, float]]] | None = None) -> Path:
    """Save weights, configuration and (optionally) the dataset's normalisation ``stats``
    (``FV3GFSDownscaling.stats``), the latter two as uint8 JSON tensors, atomically; loadable
    with :func:`load_model` through ``geoneurips.io.load_checkpoint`` (weights_only)."""
    import json

    from ...io import save_checkpoint

    def blob(obj: Any) -> torch.Tensor:
        return torch.tensor(list(json.dumps(obj).encode()), dtype=torch.uint8)

    state: dict[str, Any] = dict(model.state_dict())
    state["stvd_config_json"] = blob(model.cfg.to_dict())
    if stats is not None:
        state["stvd_stats_json"] = blob(stats)
    return save_checkpoint(path, state)


def load_model(path: str | Path) -> STVD:
    """Rebuild an :class:`STVD` saved by :func:`save_model` (safe loading only); the saved
    normalisation statistics, if any, are in ``model.norm_stats``."""
    import json

    from ...io import load_checkpoint

    state = load_checkpoint(path)
    raw = state.pop("stvd_config_json", None)
    stats = state.pop("stvd_stats_json", None)
    if raw is None:
        raise CheckpointError(f"{str(path)!r} is not an STVD checkpoint (no stvd_config_json)")
    d = json.loads(bytes(raw.tolist()).decode())
    d["dim_mults"] = tuple(d["dim_mults"])
    model = STVD(STVDConfig(**d))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{str(path)!r} does not match its STVD configuration: {exc}") from exc
    model.norm_stats = json.loads(bytes(stats.tolist()).decode()) if stats is not None else None
    return model.eval()


def downscale_raster(coarse: str | Path, output: str | Path, checkpoint: str | Path, *,
                     members: int = 0, steps: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Downscale a GeoTIFF whose bands are consecutive coarse precipitation frames
    (kg m-2 s-1) with a precipitation-only STVD checkpoint (``lr_channels=1``, no
    topography) saved with its normalisation statistics.

    ``members=0`` writes the deterministic downscaler (one band per frame); ``members=N``
    writes N diffusion ensemble members (``N x frames`` bands, member-major). The output grid
    keeps the CRS and origin, with pixels ``scale`` times smaller. The coarse raster is held
    in memory (coarse inputs are small; the output is written atomically).
    """
    from affine import Affine

    from ...errors import InvalidInputError
    from ...raster.io import read_raster, write_raster
    from .data import EPS

    model = load_model(checkpoint)
    cfg, st = model.cfg, model.norm_stats
    if cfg.lr_channels != 1 or cfg.use_topo:
        raise InvalidInputError(
            f"checkpoint {str(checkpoint)!r} expects {cfg.lr_channels} coarse channels"
            f"{' and topography' if cfg.use_topo else ''}; downscale needs a precipitation-only "
            "model (lr_channels=1, use_topo=False)"
        )
    if st is None:
        raise CheckpointError(f"{str(checkpoint)!r} has no normalisation statistics "
                              "(save it with save_model(model, path, stats=dataset.stats))")
    arr, info = read_raster(coarse)
    x = arr.astype(np.float64)
    bad = ~np.isfinite(x)
    if info.nodata is not None:
        bad |= x == info.nodata
    if bad.any():
        raise InvalidInputError(f"{str(coarse)!r} has {int(bad.sum())} NaN/nodata pixels; "
                                "fill them before downscaling")
    if info.crs is None:
        raise InvalidInputError(f"{str(coarse)!r} has no CRS")
    if (x < 0).any():
        raise InvalidInputError(f"{str(coarse)!r} has negative precipitation rates")
    pc = st["c48_chl"]["PRATEsfc_coarse"]
    lc = st["c48_log_chl"]["PRATEsfc_coarse"]
    xn = (np.log(np.maximum(x - pc["min"], 0) + EPS) - lc["min"]) / (lc["max"] - lc["min"])
    lr = torch.from_numpy(np.clip(xn, 0, 1).astype(np.float32))[None, :, None]
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if members > 0:
            y = model.sample(lr, None, n_samples=members, steps=steps, generator=gen).samples
            y = y[:, 0, :, 0].reshape(-1, *y.shape[-2:])
        else:
            y = model.downscale(lr, None)[0, :, 0]
    lf, pf = st["c384_log_chl"]["PRATEsfc"], st["c384_chl"]["PRATEsfc"]
    yv = y.clamp(0, 1).double().numpy()
    fine = np.exp(yv * (lf["max"] - lf["min"]) + lf["min"]) - EPS + pf["min"]
    fine = np.maximum(fine, 0.0).astype(np.float32)
    t = x.shape[0]
    names = ([f"member{m + 1}_t{i}" for m in range(members) for i in range(t)] if members
             else [f"t{i}" for i in range(t)])
    out = write_raster(output, fine, crs=info.crs,
                       transform=info.transform @ Affine.scale(1 / cfg.scale),
                       descriptions=names)
    return {"output": str(out), "frames": t, "members": members, "scale": cfg.scale,
            "width": int(fine.shape[-1]), "height": int(fine.shape[-2]),
            "mean_rate": float(fine.mean())}


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """Synthetic advected precipitation in the FV3GFS zarr layout (4x4 coarse -> 16x16 fine,
    x4, 5-frame clips): joint training of a tiny STVD, then MSE/CRPS/EMD/PE/SAE of the
    diffusion ensemble, the deterministic downscaler and bilinear upsampling on the held-out
    member. Primary metric: CRPS (ensemble vs bilinear)."""
    import tempfile

    from ...seed import seed_everything

    started = time.perf_counter()
    seed_everything(seed)
    out = Path(out_dir)
    steps = 80 if quick else 250
    clips, members, ddim = (3, 6, 10) if quick else (4, 8, 20)
    cfg = STVDConfig.tiny(scale=4, det_weight=1.0)
    with tempfile.TemporaryDirectory() as tmp:
        root = write_fixture(Path(tmp) / "fv3gfs", members=3, tiles=6, time_steps=10,
                             coarse_size=4, scale=4, seed=seed)
        kw: dict[str, Any] = {"train_members": (1, 2), "eval_member": 3}
        train_ds = FV3GFSDownscaling(root, "train", **kw)
        test_ds = FV3GFSDownscaling(root, "test", **kw)
        model = train(train_ds, cfg, steps=steps, batch_size=1, lr=2e-3, ema_decay=None,
                      seed=seed)
        res = evaluate(model, test_ds, clips=clips, members=members, steps=ddim, seed=seed)
        sample = test_ds[0]
    a = res["arrays"]
    fig, axes = new_figure(ncols=5, nrows=1, size=2.6)
    panels = [("coarse (bilinear)", a["bilinear"][0, 2, 0]), ("target", a["target"][0, 2, 0]),
              ("downscaler", a["downscaler"][0, 2, 0]), ("STVD member 1", a["ensemble"][0, 0, 2, 0]),
              ("STVD member 2", a["ensemble"][1, 0, 2, 0])]
    for ax, (title, img) in zip(axes[0], panels, strict=True):
        ax.imshow(img, vmin=0, vmax=1, cmap="Blues")
        ax.set_title(title)
        ax.set_axis_off()
    del sample
    metrics = dict(res["stvd"])
    metrics.update({f"downscaler_{k}": v for k, v in res["downscaler"].items()})
    return finish(
        SYSTEM, metrics, res["bilinear"], primary="crps", margin=0.0, higher_is_better=False,
        figure=fig, out_dir=out, started=started,
        details={"train_steps": steps, "eval_clips": clips, "ensemble_members": members,
                 "ddim_steps": ddim, "coarse": [4, 4], "fine": [16, 16], "frames": 5,
                 "config": cfg.to_dict(), "space": "normalised [0, 1] (published log + min-max)",
                 "note": "short CPU run: det_weight=1.0 adds an MSE term on the downscaler "
                         "output (paper: diffusion loss only), lr 2e-3 without EMA (paper: "
                         "1e-4, EMA 0.995), tiny widths, x4 instead of x8"},
    )
