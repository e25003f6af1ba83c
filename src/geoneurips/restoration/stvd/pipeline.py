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
from .metrics import PE_QUANTILE, emd, stvd_metrics
from .model import STVD, STVDConfig

__all__ = ["STVDModule", "bilinear_baseline", "demo", "downscale_raster", "evaluate",
           "explain_regressions", "load_model", "save_model", "train"]

SYSTEM = "stvd"
#: CRPS margin over the strongest baseline, kg m-2 s-1 (about a tenth of the baselines' CRPS,
#: 6.8e-4-1.3e-3 on the development seeds 10-12). The ensemble does not reach it at this
#: training budget (it trails the strongest baseline; see
#: tests/restoration/test_stvd_pipeline.py for the measured values)
CRPS_MARGIN = 1e-4
#: the learned, MSE-trained baseline (the deterministic stage trained alone)
MSE_DOWNSCALER = "downscaler_alone"
#: the distributional metrics on which the diffusion ensemble must lead the MSE-trained
#: downscaler for its MSE deficit to be explained (CRPS, spatial autocorrelation, spectrum)
DISTRIBUTIONAL = ("crps", "sae", "psd")


def explain_regressions(ours: dict[str, float], baselines: dict[str, dict[str, float]], *,
                        upper: dict[str, float], member_emd: list[float]) -> dict[str, str]:
    """The demo's explanations, given only where the measured condition holds.

    Args:
        ours: the diffusion ensemble's metrics; ``baselines``: name -> metrics.
        upper: the 99.999th percentile (the value PE compares, kg m-2 s-1) of ``"target"``, of
            ``"stvd"`` (the scored ensemble member) and of every baseline.
        member_emd: EMD of each ensemble member (the metric scores the first one only).

    * ``mse``: the best MSE is the MSE-trained downscaler's (:data:`MSE_DOWNSCALER`, the
      conditional-mean predictor) and the ensemble leads it on every distributional metric
      (:data:`DISTRIBUTIONAL`).
    * ``pe``: the best PE is an interpolation baseline's (:data:`INTERPOLATION`), whose
      extreme lies below the target's, while the learned predictors' (the scored member and
      the MSE-trained downscaler) lie above it.
    * ``emd``: the best EMD is the MSE-trained downscaler's and the deficit is within the
      ensemble's own member-to-member spread: the median member's EMD is at most the
      downscaler's (only the first member is scored).

    Any other regression stays unexplained, so the demo fails."""
    out: dict[str, str] = {}

    def holder(metric: str) -> tuple[str, dict[str, float]]:
        name = min(baselines, key=lambda n: baselines[n][metric])
        return name, baselines[name]

    name, h = holder("mse")
    if (ours["mse"] > h["mse"] and name == MSE_DOWNSCALER
            and all(ours[k] < h[k] for k in DISTRIBUTIONAL)):
        lead = ", ".join(f"{k.upper()} {ours[k]:.4f} vs {h[k]:.4f}" for k in DISTRIBUTIONAL)
        out["mse"] = (
            f"the best MSE ({h['mse']:.5f} vs {ours['mse']:.5f}) is the MSE-trained "
            "downscaler's, the conditional-mean predictor (the MSE optimum by construction); "
            "the ensemble mean keeps part of the sampled small-scale spread, and the diffusion "
            f"stage leads the downscaler on every distributional metric: {lead}")
    name, h = holder("pe")
    y, h_up = upper["target"], upper[name]
    learned = {"STVD member": upper["stvd"], "downscaler alone": upper[MSE_DOWNSCALER]}
    if (ours["pe"] > h["pe"] and name in INTERPOLATION and h_up < y
            and all(v > y for v in learned.values())):
        over = ", ".join(f"{k} {v:.4f}" for k, v in learned.items())
        out["pe"] = (
            "the 99.999th percentile of a few clips is the single most intense pixel: "
            f"{name} interpolation lands below the target's "
            f"({h_up:.4f} vs {y:.4f}) while the learned predictors overshoot it ({over})")
    name, h = holder("emd")
    if member_emd:
        med = float(np.median(member_emd))
        if ours["emd"] > h["emd"] and name == MSE_DOWNSCALER and med <= h["emd"]:
            out["emd"] = (
                f"EMD scores one ensemble member ({ours['emd']:.4f} vs the MSE-trained "
                f"downscaler's {h['emd']:.4f}); the deficit is within the ensemble's own "
                f"member-to-member spread: the {len(member_emd)} members' EMDs range "
                f"{min(member_emd):.4f}-{max(member_emd):.4f}, median {med:.4f} <= "
                f"{h['emd']:.4f} (the paper's EMD gain itself is not reproduced at this scale)")
    return out


class STVDModule(L.LightningModule):
    """LightningModule wrapping :class:`STVD` for joint training.

    Args:
        cfg: model configuration.
        lr: Adam learning rate (paper 1e-4); ``max_steps``: cosine-annealing horizon;
        ema_decay: decay of the weight EMA used for evaluation (paper 0.995; ``None``: off).
        mode: ``"joint"`` (the paper: downscaler + residual diffusion, one loss) or
            ``"downscaler"`` (the deterministic stage alone, MSE on its output: the
            baseline of the demo; the denoiser is left untrained and unused).
    """

    def __init__(self, cfg: STVDConfig | None = None, lr: float = 1e-4, max_steps: int = 2_000_000,
                 ema_decay: float | None = 0.995, mode: str = "joint") -> None:
        super().__init__()
        if mode not in ("joint", "downscaler"):
            raise ValueError(f"mode must be 'joint' or 'downscaler', not {mode!r}")
        self.mode = mode
        self.model = STVD(cfg)
        self.lr, self.max_steps, self.ema_decay = lr, max_steps, ema_decay
        self.ema: torch.optim.swa_utils.AveragedModel | None = None
        if ema_decay is not None:
            # torch leaves get_ema_multi_avg_fn unannotated
            ema_fn = torch.optim.swa_utils.get_ema_multi_avg_fn(ema_decay)  # type: ignore[no-untyped-call]
            self.ema = torch.optim.swa_utils.AveragedModel(self.model, multi_avg_fn=ema_fn,
                                                           use_buffers=True)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        if self.mode == "downscaler":
            pred = self.model.downscaler(self.model.condition(batch["image"], batch["topo"]),
                                         batch["image"].shape[1]).warped
            y = batch["target"].reshape(pred.shape) * 2 - 1
            loss = torch.nn.functional.mse_loss(pred, y)
            self.log("det_mse", loss.detach(), prog_bar=True)
            return loss
        out = self.model.loss(batch["image"], batch["topo"], batch["target"])
        self.log_dict({k: v.detach() for k, v in out.items()}, prog_bar=True)
        return out["loss"]

    def on_train_batch_end(self, *args: Any) -> None:
        if self.ema is not None:
            self.ema.update_parameters(self.model)

    def configure_optimizers(self) -> Any:
        params = (self.model.downscaler.parameters() if self.mode == "downscaler"
                  else self.model.parameters())
        opt = torch.optim.Adam(params, lr=self.lr, betas=(0.9, 0.99),
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
          progress: bool = False, mode: str = "joint") -> STVD:
    """Train STVD jointly (``mode="joint"``) or its deterministic downscaler alone
    (``mode="downscaler"``) for ``steps`` optimiser steps on ``dataset``; returns the model
    (EMA weights when ``ema_decay`` is set) in eval mode."""
    from torch.utils.data import DataLoader

    from ...nn.training import make_trainer

    gen = torch.Generator().manual_seed(seed)
    loader: DataLoader[dict[str, Any]] = DataLoader(
        dataset, batch_size=batch_size, shuffle=True,
        generator=gen, num_workers=0, drop_last=True)
    module = STVDModule(cfg, lr=lr, max_steps=steps, ema_decay=ema_decay, mode=mode)
    trainer = make_trainer(max_epochs=-1, max_steps=steps, gradient_clip_val=1.0, seed=seed,
                           progress=progress)
    trainer.fit(module, loader)
    model = module.trained_model()
    model.eval()
    return model


def bilinear_baseline(lr: torch.Tensor, scale: int, mode: str = "bilinear") -> torch.Tensor:
    """Bilinear (or ``mode="bicubic"``) upsampling of the coarse precipitation channel,
    ``(B, T, 1, H, W)``, in the normalised [0, 1] space (the model's own conditioning input:
    the ``*_norm`` interpolation baselines)."""
    import torch.nn.functional as F

    b, t, _, h, w = lr.shape
    up = F.interpolate(lr[:, :, :1].reshape(b * t, 1, h, w), scale_factor=scale,
                       mode=mode, align_corners=False)
    return up.reshape(b, t, 1, h * scale, w * scale).clamp(0, 1)


def interpolate_physical(coarse: np.ndarray, scale: int, mode: str = "bilinear") -> np.ndarray:
    """Bilinear (or bicubic) upsampling of coarse precipitation in kg m-2 s-1, ``(..., h, w)``
    -> ``(..., h * scale, w * scale)`` (the interpolation baselines in physical units; the
    caller clips to the training range, as for every arm)."""
    import torch.nn.functional as F

    c = np.asarray(coarse, dtype=np.float64)
    *lead, h, w = c.shape
    x = torch.from_numpy(c.reshape(-1, 1, h, w))
    up = F.interpolate(x, scale_factor=scale, mode=mode, align_corners=False)
    return np.asarray(up.numpy().reshape(*lead, h * scale, w * scale))


#: the interpolation baselines: in kg m-2 s-1 and in the normalised space
INTERPOLATION = ("bilinear", "bicubic", "bilinear_norm", "bicubic_norm")


def evaluate(model: STVD, dataset: FV3GFSDownscaling, *, clips: int, members: int = 8,
             steps: int | None = None, seed: int = 0,
             downscaler_alone: STVD | None = None) -> dict[str, Any]:
    """Metrics (:func:`stvd_metrics`) on the first ``clips`` clips of ``dataset``, in
    precipitation units (kg m-2 s-1), of: the diffusion ensemble (``"stvd"``), the joint
    model's deterministic stage (``"joint_downscaler"``), bilinear and bicubic upsampling of
    the coarse precipitation in kg m-2 s-1 (``"bilinear"``, ``"bicubic"``) and of the
    normalised coarse field, the model's own conditioning input (``"bilinear_norm"``,
    ``"bicubic_norm"``) and, if given, a separately trained ``downscaler_alone``.

    The published convention (mandt-lab/STVD ``model/model.py``, ``Trainer.train``
    validation): predictions and target are de-normalised (the inverse of the log + min-max
    normalisation, :meth:`FV3GFSDownscaling.denormalize_precip`) before any metric, and
    PE/EMD (``scipy.stats.wasserstein_distance``) are taken over all pixels of all clips and
    frames. Deliberate difference: every prediction is clipped to the training range
    ([0, 1] normalised, i.e. the training set's [min, max] in kg m-2 s-1) before
    de-normalisation; the public code does not clip, and an unclipped overshoot of 0.5 in
    the normalised log space is a factor ``e^15`` in kg m-2 s-1.

    ``"arrays"`` holds the predictions in kg m-2 s-1, ``"normalised_arrays"`` the same
    clipped predictions in the normalised [0, 1] space, and ``"normalised"`` the metrics
    there (the convention before the fix; reported, not deciding).
    """
    gen = torch.Generator().manual_seed(seed)
    ens, det, bil, bic, alone, tgt, coarse = [], [], [], [], [], [], []
    for i in range(min(clips, len(dataset))):
        s = dataset[i]
        lr, topo = s["image"][None], s["topo"][None]
        out = model.sample(lr, topo, n_samples=members, steps=steps, generator=gen)
        ens.append(out.samples[:, 0].clamp(0, 1).numpy())
        det.append(out.warped[0].clamp(0, 1).numpy())
        bil.append(bilinear_baseline(lr, model.cfg.scale)[0].numpy())
        bic.append(bilinear_baseline(lr, model.cfg.scale, "bicubic")[0].numpy())
        if downscaler_alone is not None:
            alone.append(downscaler_alone.downscale(lr, topo)[0].clamp(0, 1).numpy())
        tgt.append(s["target"].numpy())
        coarse.append(s["image"][:, :1].numpy())
    y = np.stack(tgt)
    norm: dict[str, np.ndarray] = {"ensemble": np.stack(ens, axis=1),  # (S, N, T, 1, H, W)
                                   "joint_downscaler": np.stack(det),
                                   "bilinear_norm": np.stack(bil), "bicubic_norm": np.stack(bic),
                                   "target": y}
    if alone:
        norm["downscaler_alone"] = np.stack(alone)
    phys = {k: dataset.denormalize_precip(v) for k, v in norm.items()}
    lo, hi = (float(v) for v in dataset.denormalize_precip(np.array([0.0, 1.0])))
    coarse_phys = dataset.denormalize_coarse_precip(np.stack(coarse))
    for mode in ("bilinear", "bicubic"):
        up = np.clip(interpolate_physical(coarse_phys, model.cfg.scale, mode), lo, hi)
        phys[mode] = up
        norm[mode] = np.clip(dataset.normalize_precip(up), 0.0, 1.0)
    arms = ["joint_downscaler", *INTERPOLATION] + (["downscaler_alone"] if alone else [])
    res: dict[str, Any] = {"stvd": stvd_metrics(phys["ensemble"], phys["target"])}
    normalised = {"stvd": stvd_metrics(norm["ensemble"], y)}
    for k in arms:
        res[k] = stvd_metrics(phys[k][None], phys["target"])
        normalised[k] = stvd_metrics(norm[k][None], y)
    res["arrays"], res["normalised_arrays"], res["normalised"] = phys, norm, normalised
    return res


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


#: metric directions (all errors)
DIRECTIONS = {k: "min" for k in ("mse", "crps", "emd", "pe", "sae", "psd")}


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """Synthetic advected precipitation in the FV3GFS zarr layout (4x4 coarse -> 16x16 fine,
    x4, 5-frame clips, train members 1-2, held-out member 3): joint training of a tiny STVD
    and, with the same steps, learning rate and seed, its deterministic downscaler alone
    (MSE). Metrics MSE/CRPS/EMD/PE/SAE/power-spectrum error in kg m-2 s-1 (the published
    convention, :func:`evaluate`) of the diffusion ensemble against bilinear and bicubic
    interpolation (of the coarse field in kg m-2 s-1 and in the normalised space) and the
    downscaler alone (baselines; the strongest on CRPS decides); the joint model's
    deterministic stage is the ablation without diffusion. Primary metric: CRPS. The same
    metrics in the normalised space are reported in ``details``."""
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
        alone = train(train_ds, cfg, steps=steps, batch_size=1, lr=2e-3, ema_decay=None,
                      seed=seed, mode="downscaler")
        res = evaluate(model, test_ds, clips=clips, members=members, steps=ddim, seed=seed,
                       downscaler_alone=alone)
    a, an = res["arrays"], res["normalised_arrays"]
    fig, axes = new_figure(ncols=6, nrows=1, size=2.4)
    panels = [("bicubic", an["bicubic"][0, 2, 0]), ("target", an["target"][0, 2, 0]),
              ("downscaler alone", an["downscaler_alone"][0, 2, 0]),
              ("joint downscaler", an["joint_downscaler"][0, 2, 0]),
              ("STVD member 1", an["ensemble"][0, 0, 2, 0]),
              ("STVD member 2", an["ensemble"][1, 0, 2, 0])]
    for ax, (title, img) in zip(axes[0], panels, strict=True):
        ax.imshow(img, vmin=0, vmax=1, cmap="Blues")
        ax.set_title(title)
        ax.set_axis_off()
    baselines = {k: res[k] for k in (*INTERPOLATION, MSE_DOWNSCALER)}
    q = PE_QUANTILE
    upper = {"target": float(np.percentile(a["target"], q)),
             "stvd": float(np.percentile(a["ensemble"][0], q)),
             **{k: float(np.percentile(a[k], q)) for k in baselines}}
    member_emd = [emd(m, a["target"]) for m in a["ensemble"]]
    ens_n = an["ensemble"]
    overshoot = {"member_above_0.95": float((ens_n > 0.95).mean()),
                 "target_above_0.95": float((an["target"] > 0.95).mean()),
                 "downscaler_alone_above_0.95": float((an["downscaler_alone"] > 0.95).mean())}
    return finish(
        SYSTEM, res["stvd"], baselines=baselines, primary="crps", margin=CRPS_MARGIN,
        directions=DIRECTIONS, ablations={"without_diffusion": res["joint_downscaler"]},
        regressions_explained=explain_regressions(res["stvd"], baselines, upper=upper,
                                                  member_emd=member_emd),
        figure=fig, out_dir=out, started=started,
        details={"train_steps": steps, "eval_clips": clips, "ensemble_members": members,
                 "ddim_steps": ddim, "coarse": [4, 4], "fine": [16, 16], "frames": 5,
                 "config": cfg.to_dict(),
                 "space": "kg m-2 s-1: predictions clipped to the training range, then "
                          "de-normalised (published log + min-max inverted)",
                 "normalised_space_metrics": res["normalised"],
                 "baselines": {"bilinear": "bilinear upsampling of the coarse precipitation "
                               "in kg m-2 s-1",
                               "bicubic": "bicubic upsampling of the coarse precipitation "
                               "in kg m-2 s-1",
                               "bilinear_norm": "bilinear upsampling of the normalised coarse "
                               "precipitation (the model's conditioning input), de-normalised "
                               "with the fine statistics",
                               "bicubic_norm": "bicubic, likewise",
                               "downscaler_alone": "the deterministic UNet stage trained "
                               "alone (MSE), same steps, lr and seed"},
                 "upper_percentiles": upper, "member_emd": member_emd,
                 "normalised_fraction_above_0.95": overshoot,
                 "ablation": "without_diffusion = the joint model's deterministic stage",
                 "note": "short CPU run: det_weight=1.0 adds an MSE term on the downscaler "
                         "output (paper: diffusion loss only), lr 2e-3 without EMA (paper: "
                         "1e-4, EMA 0.995), tiny widths, x4 instead of x8"},
    )
