"""SolarCube training (Lightning), the benchmark's tasks and the demo.

Tasks (published configs): point level, ``[vis047, vis086, ir133, sza, insitu] -> insitu``,
short 12 -> 12 steps (3 h -> 3 h) and long 96 -> 96 (24 h -> 24 h); area level, ``ssr ->
ssr`` with the ``normalize_max`` clear-sky ratio, 12 -> 12 (Earthformer) or 96 -> 96
(ConvLSTM). Training: MSE loss, AdamW lr 1e-3 with a cosine schedule (the Earthformer
configs; the Keras point models used Adam and 300 epochs, the demo trains for a few hundred
steps). Scores are in W m-2 on land pixels (ratios are turned back with ``1360 cos sza`` at
each lead).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from geoneurips.demo import DemoResult, finish, new_figure
from geoneurips.forecasting.solarcube.data import (
    SOLAR_CONSTANT,
    TEST_TILES,
    TRAIN_TILES,
    SolarCubeImage,
    SolarCubePoint,
    denormalize,
)
from geoneurips.forecasting.solarcube.metrics import (
    METRIC_DIRECTIONS,
    advection_forecast,
    fit_ridge,
    forecast_metrics,
    lead_metrics,
    persistence,
    predict_ridge,
    smart_persistence,
)
from geoneurips.forecasting.solarcube.model import (
    AttentionLSTM,
    ConvLSTM,
    CuboidTransformer,
    LSTMEncDec,
    PatchTST,
    PointConfig,
)
from geoneurips.forecasting.solarcube.synthetic import write_fixture
from geoneurips.nn.training import make_trainer
from geoneurips.seed import single_thread

__all__ = [
    "DEMO_MARGIN",
    "ForecastTask",
    "demo",
    "image_arrays",
    "mae_tradeoff",
    "predict",
    "ridge_image_features",
    "train",
]

#: W m-2 of RMSE at 1-3 h leads by which the demo's ConvLSTM must beat the strongest baseline
#: (seeds and measured values in tests/forecasting/test_solarcube_demo.py).
DEMO_MARGIN = 5.0
#: Leads (0-based step indices) of the 1-3 h window: steps 4..12 of 15 minutes.
LEADS_1_3H = slice(3, 12)
#: Side of the demo's synthetic tiles (block-averaged by 2 before modelling).
DEMO_SIZE = 32
#: Days written per tile (each day its own clouds and motion): 14 x 7 training motions.
DEMO_DAYS = 7
#: (mean, std) of the ``normalize_max`` ratio the area models standardise with.
RATIO_SCALE = (0.45, 0.2)
#: Training steps of the full demo's reported (not deciding) models.
CUBOID_STEPS = 200
POINT_STEPS = 200


class ForecastTask(L.LightningModule):
    """Any SolarCube network trained with a (masked) MSE loss; AdamW + cosine schedule."""

    def __init__(self, net: nn.Module, lr: float = 1e-3, weight_decay: float = 1e-5,
                 total_steps: int = 1000) -> None:
        super().__init__()
        self.net, self.lr, self.wd, self.total = net, lr, weight_decay, total_steps

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        return out

    def training_step(self, batch: Sequence[Tensor], batch_idx: int) -> Tensor:
        x, y, w = batch
        err = (self(x) - y) ** 2 * w
        loss: Tensor = err.sum() / (w.expand_as(err).sum().clamp(min=1.0))
        if self._trainer is not None:
            self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.wd)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, self.total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def train(net: nn.Module, x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, *,
          steps: int = 300, batch_size: int = 16, lr: float = 1e-3, seed: int = 0) -> nn.Module:
    """Train ``net`` on ``x -> y`` (weights ``w`` broadcast to ``y``) for ``steps`` steps.

    Training runs on one CPU thread whatever ``torch.get_num_threads()`` says (restored
    afterwards): with two threads the float sums ran in another order and the demo's
    ConvLSTM ended elsewhere (seed 1: RMSE 95.2 with 2 threads, 136.8 with 1), so a result
    depended on the machine's cores. One thread gives the same weights on any core count.
    """
    with single_thread():
        return _train(net, x, y, w, steps=steps, batch_size=batch_size, lr=lr, seed=seed)


def _train(net: nn.Module, x: np.ndarray, y: np.ndarray, w: np.ndarray | None, *,
           steps: int, batch_size: int, lr: float, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.float32)
    # no weights: one per sample, shaped to broadcast against y (B, 1, ..., 1)
    wt = (torch.ones(len(yt), *[1] * (yt.ndim - 1)) if w is None
          else torch.as_tensor(w, dtype=torch.float32))
    loader = DataLoader(TensorDataset(xt, yt, wt), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed), drop_last=True)
    task = ForecastTask(net, lr=lr, total_steps=steps)
    trainer = make_trainer(max_epochs=10_000, max_steps=steps, seed=seed,
                           deterministic=False, gradient_clip_val=1.0)
    trainer.fit(task, loader)
    return net.eval()


@torch.no_grad()
def predict(net: nn.Module, x: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Run ``net`` over ``x`` in batches (eval mode, no gradients)."""
    net.eval()
    xt = torch.as_tensor(x, dtype=torch.float32)
    return torch.cat([net(xt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]).numpy()


def image_arrays(ds: SolarCubeImage) -> dict[str, np.ndarray]:
    """Stack every window of an image dataset: ratio ``x``/``y``, ``ssr``, ``clear``, ``valid``."""
    items = [ds[i] for i in range(len(ds))]
    if not items:
        raise ValueError("the image dataset has no valid window")
    x = np.stack([it["image"].numpy() for it in items])
    y = np.stack([it["target"].numpy() for it in items])
    ssr = np.stack([it["ssr"].numpy() for it in items])
    sza = np.stack([it["sza"].numpy() for it in items])
    valid = np.stack([it["valid"].numpy() for it in items])
    clear = SOLAR_CONSTANT * np.cos(np.deg2rad(sza))
    return {"x": x, "y": y, "ssr": ssr, "clear": clear, "valid": valid}


def ridge_image_features(x: np.ndarray, k: int = 7, frames: int = 3) -> np.ndarray:
    """Per-pixel features: the pixel's whole ratio history and the ``k x k`` neighbourhoods
    of the last ``frames`` frames. ``x`` ``(N, T, 1, H, W)`` -> ``(N*H*W, T + frames*k*k)``.

    Several frames give the regression the cloud motion the ConvLSTM sees in its input
    sequence; with the last frame alone (the first version of this baseline) it could not
    tell where clouds come from, and lost to the ConvLSTM for that reason only.
    """
    n, t, _, h, w = x.shape
    hist = x[:, :, 0].transpose(0, 2, 3, 1).reshape(-1, t)
    pad = k // 2
    parts = [hist]
    for f in range(1, min(frames, t) + 1):
        frame = np.pad(x[:, -f, 0], ((0, 0), (pad, pad), (pad, pad)), mode="edge")
        neigh = np.stack([frame[:, i:i + h, j:j + w] for i in range(k) for j in range(k)], -1)
        parts.append(neigh.reshape(-1, k * k))
    return np.concatenate(parts, axis=1)


def _ridge_image(train: dict[str, np.ndarray], test: dict[str, np.ndarray],
                 rng: np.random.Generator, max_rows: int = 60_000) -> np.ndarray:
    f_tr = ridge_image_features(train["x"])
    t_out = train["y"].shape[1]
    y_tr = train["y"][:, :, 0].transpose(0, 2, 3, 1).reshape(-1, t_out)
    keep = np.repeat(train["valid"].reshape(len(train["x"]), -1), 1, axis=0).reshape(-1)
    idx = np.flatnonzero(keep)
    idx = rng.choice(idx, size=min(max_rows, idx.size), replace=False)
    wts = fit_ridge(f_tr[idx], y_tr[idx], alpha=1e-4)
    n, _, _, h, w = test["x"].shape
    pred = predict_ridge(wts, ridge_image_features(test["x"]))
    return pred.reshape(n, h, w, t_out).transpose(0, 3, 1, 2)[:, :, None]


def _image_scores(ratio_pred: np.ndarray | None, test: dict[str, np.ndarray],
                  ssr_pred: np.ndarray | None = None) -> dict[str, Any]:
    """W m-2 metrics (overall, 1-3 h, per lead) of a ratio forecast ``(N, T_out, 1, H, W)``
    (or of ``ssr_pred`` ``(N, T_out, H, W)`` in W m-2)."""
    t_in = test["x"].shape[1]
    clear = test["clear"][:, t_in:]
    if ssr_pred is None:
        assert ratio_pred is not None
        ssr_pred = ratio_pred[:, :, 0] * clear
    ssr_pred = np.clip(ssr_pred, 0, None)
    obs = test["ssr"][:, t_in:]
    mask = np.broadcast_to(test["valid"][:, None], obs.shape)
    m = forecast_metrics(ssr_pred, obs, mask)
    m13 = forecast_metrics(ssr_pred[:, LEADS_1_3H], obs[:, LEADS_1_3H], mask[:, LEADS_1_3H])
    out: dict[str, Any] = {**m, **{f"{k}_1_3h": v for k, v in m13.items()}}
    out["per_lead_rmse"] = lead_metrics(ssr_pred, obs, mask)["rmse"]
    return out


def _point_arrays(ds: SolarCubePoint) -> dict[str, np.ndarray]:
    xs, ys, clear, raw = [], [], [], []
    for i in range(len(ds)):
        it = ds[i]
        tile, start = ds.samples[i]
        xs.append(it["x"].numpy())
        ys.append(it["y"].numpy())
        sza = ds.series(tile, "sza", start)
        clear.append(SOLAR_CONSTANT * np.cos(np.deg2rad(sza)))
        raw.append(ds.series(tile, "insitu", start))
    return {"x": np.stack(xs), "y": np.stack(ys), "clear": np.stack(clear),
            "insitu": np.stack(raw)}


def run_point_task(root: Path, train_tiles: Sequence[int], test_tiles: Sequence[int], *,
                   steps: int, seed: int, tiny: bool = True) -> dict[str, dict[str, Any]]:
    """Short point task (12 -> 12, insitu target): every point model and baseline, W m-2."""
    kw: dict[str, Any] = {"input_len": 12, "output_len": 12, "sample_interval": 2}
    tr = _point_arrays(SolarCubePoint(root, train_tiles, **kw))
    te = _point_arrays(SolarCubePoint(root, test_tiles, **kw))
    t_in = 12
    obs = te["insitu"][:, t_in:]
    cfg = PointConfig(12, 12, tr["x"].shape[-1], 1)
    h = 32 if tiny else 64
    nets: dict[str, Callable[[], nn.Module]] = {
        "lstm_encdec": lambda: LSTMEncDec(cfg, h),
        "attention_lstm": lambda: AttentionLSTM(cfg, h),
        "patchtst": lambda: PatchTST(cfg, d_model=32 if tiny else 128, n_heads=4 if tiny else 16,
                                     layers=2 if tiny else 3, d_ff=64 if tiny else 256,
                                     dropout=0.0 if tiny else 0.2),
    }
    res: dict[str, dict[str, Any]] = {}

    def score(pred: np.ndarray) -> dict[str, Any]:
        pred = np.clip(pred, 0, None)
        m = forecast_metrics(pred, obs)
        m13 = forecast_metrics(pred[:, LEADS_1_3H], obs[:, LEADS_1_3H])
        return {**m, **{f"{k}_1_3h": v for k, v in m13.items()}}

    for name, make in nets.items():
        torch.manual_seed(seed)
        net = train(make(), tr["x"], tr["y"], steps=steps, batch_size=32, seed=seed)
        res[name] = score(denormalize(predict(net, te["x"])[..., 0], "insitu"))
    res["persistence"] = score(persistence(te["insitu"][:, :t_in], 12))
    csi = te["insitu"][:, :t_in] / te["clear"][:, :t_in]
    res["smart_persistence"] = score(smart_persistence(csi, te["clear"][:, t_in:]))
    feats = [np.concatenate([d["x"].reshape(len(d["x"]), -1), d["clear"][:, t_in:] / 1000.0], 1)
             for d in (tr, te)]
    wts = fit_ridge(feats[0], tr["y"][..., 0], alpha=1e-4)
    res["ridge"] = score(denormalize(predict_ridge(wts, feats[1]), "insitu"))
    return res


#: How much heavier-tailed (RMSE / MAE) a baseline's errors must be than the ConvLSTM's for
#: :func:`mae_tradeoff` to explain its MAE lead (Gaussian errors give 1.25). Measured on quick
#: seeds 0-4: ConvLSTM 1.48-1.60, cloud-motion advection 2.65-2.90, so 1.74-1.84 times.
TAIL_RATIO = 1.5


def mae_tradeoff(metrics: dict[str, float],
                 baselines: dict[str, dict[str, float]]) -> dict[str, str]:
    """Explanations for an MAE regression that is the squared-vs-absolute error trade-off.

    Cloud-motion advection keeps cloud edges sharp where its motion vector holds and fails
    badly where cloud enters the tile; the ConvLSTM, trained with the paper's MSE loss,
    predicts the conditional mean, which minimises squared, not absolute, error. An MAE
    (``mae``, ``mae_1_3h``) regression is explained only when every baseline better on it
    has a higher RMSE on the same leads than the ConvLSTM AND errors at least
    :data:`TAIL_RATIO` times heavier-tailed (RMSE / MAE) than the ConvLSTM's: the measured
    signature of "small where it holds, far off elsewhere". The RMSE condition alone held
    whenever the ConvLSTM won its primary metric (RMSE at 1-3 h), so it explained any
    deficit; any other regression stays unexplained.
    """
    out: dict[str, str] = {}
    for k in ("mae", "mae_1_3h"):
        rmse = k.replace("mae", "rmse")
        better = {n: b for n, b in baselines.items() if b[k] < metrics[k]}
        tail = metrics[rmse] / metrics[k]
        if better and all(b[rmse] > metrics[rmse] and b[rmse] / b[k] >= TAIL_RATIO * tail
                          for b in better.values()):
            names = ", ".join(f"{n} (RMSE {b[rmse]:.1f} vs {metrics[rmse]:.1f}, RMSE/MAE "
                              f"{b[rmse] / b[k]:.2f} vs {tail:.2f})"
                              for n, b in better.items())
            out[k] = (f"squared vs absolute error: better on {k} only {names}, sharp where "
                      "its motion holds and far off where cloud enters the tile; the "
                      "ConvLSTM (MSE loss, as published) predicts the conditional mean")
    return out


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """Area-level 3 h -> 3 h forecasting of synthetic SolarCube tiles.

    Synthetic tiles (moving cloud fields, diurnal cycle; :mod:`.synthetic`; every day of every
    tile has its own cloud field, speed and direction) are written in the published layout
    and read back through :class:`SolarCubeImage` (32 x 32 tiles block-averaged by 2, the
    ``normalize_max`` ratio). Training tiles are the published train list (14 tiles x
    :data:`DEMO_DAYS` days, windows every 3 steps), evaluation tiles the published test list
    (unseen cloud fields and motions, windows every 4 steps). The ConvLSTM (residual over smart
    persistence in ratio space, :data:`RATIO_SCALE` standardisation, AdamW lr 1e-2, cosine,
    gradient clipping 1, one thread; 400 steps quick, 800 full) decides: it must beat the
    strongest of persistence, smart persistence (clear-sky index), a per-pixel ridge
    regression (pixel history + 7 x 7 neighbourhoods of the last three frames, so it sees the
    cloud motion too) and cloud-motion-vector advection of the clear-sky index
    (:func:`.metrics.advection_forecast`, the operational first try) on RMSE at 1-3 h leads
    by :data:`DEMO_MARGIN` W m-2. An MAE regression against the advection is explained only
    as measured by :func:`mae_tradeoff`. The point models
    (short task) and the cuboid transformer are reported beside it in the full demo.
    """
    import tempfile

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    steps = 400 if quick else 800
    train_tiles = list(TRAIN_TILES)
    test_tiles = list(TEST_TILES)
    with tempfile.TemporaryDirectory(prefix="solarcube_demo_") as tmp:
        root = Path(tmp)
        write_fixture(root, tiles=[*train_tiles, *test_tiles], days=DEMO_DAYS, size=DEMO_SIZE,
                      seed=seed, gaps=1)
        kw: dict[str, Any] = {"input_len": 12, "output_len": 12, "downscale_s": 2}
        tr = image_arrays(SolarCubeImage(root, train_tiles, sample_interval=3, **kw))
        te = image_arrays(SolarCubeImage(root, test_tiles, sample_interval=4, **kw))
        w = tr["valid"][:, None, None].astype(np.float32)
        torch.manual_seed(seed)  # the initial weights, whatever ran before in this process
        conv = train(ConvLSTM(1, 12, (12,), 3, residual=True, scale=RATIO_SCALE),
                     tr["x"], tr["y"], w, steps=steps, batch_size=8, lr=1e-2, seed=seed)
        ours = _image_scores(predict(conv, te["x"], 16), te)
        others: dict[str, dict[str, Any]] = {}
        if not quick:
            grid = (DEMO_SIZE // 2, DEMO_SIZE // 2)
            torch.manual_seed(seed)
            cub = train(CuboidTransformer(1, 12, 12, grid, 2, 16, 2, 1, residual=True,
                                          scale=RATIO_SCALE),
                        tr["x"], tr["y"], w, steps=CUBOID_STEPS, batch_size=8, lr=1e-3,
                        seed=seed)
            others["cuboid_transformer"] = _image_scores(predict(cub, te["x"], 16), te)
        base = {
            "persistence": _image_scores(None, te, persistence(te["ssr"][:, :12], 12)),
            "smart_persistence": _image_scores(persistence(te["x"], 12), te),
            "ridge": _image_scores(_ridge_image(tr, te, rng), te),
            "cloud_motion": _image_scores(advection_forecast(te["x"][:, :, 0], 12)[:, :, None],
                                          te),
        }
        # the point models (short task) are reported, not deciding: full demo only, which
        # keeps the quick demo (run by `reproduce --quick`) to the deciding model
        point: Any = ("full demo only" if quick else
                      run_point_task(root, train_tiles, test_tiles, steps=POINT_STEPS,
                                     seed=seed))
        sample = SolarCubeImage(root, test_tiles[:1], sample_interval=4, **kw)[0]
    metrics = {k: float(v) for k, v in ours.items() if k != "per_lead_rmse"}
    baselines = {n: {k: float(v) for k, v in b.items() if k != "per_lead_rmse"}
                 for n, b in base.items()}
    directions = {k: METRIC_DIRECTIONS[k.removesuffix("_1_3h")] for k in metrics}
    explained = mae_tradeoff(metrics, baselines)
    fig, axes = new_figure(3, 1, size=3.5)
    leads = np.arange(1, 13) * 15
    for name, sc in [("ConvLSTM", ours), *others.items(), *base.items()]:
        axes[0, 0].plot(leads, sc["per_lead_rmse"], label=name)
    axes[0, 0].set_xlabel("lead (min)")
    axes[0, 0].set_ylabel("RMSE (W m-2)")
    axes[0, 0].legend(fontsize=7)
    axes[0, 1].imshow(sample["target"][-1, 0].numpy(), vmin=0, vmax=0.8)
    axes[0, 1].set_title("observed ratio, +3 h")
    pred = predict(conv, sample["image"].numpy()[None])[0, -1, 0]
    axes[0, 2].imshow(pred, vmin=0, vmax=0.8)
    axes[0, 2].set_title("ConvLSTM, +3 h")
    return finish(
        "solarcube", metrics, baselines=baselines, primary="rmse_1_3h", margin=DEMO_MARGIN,
        directions=directions, figure=fig, out_dir=out_dir, started=started,
        regressions_explained=explained,
        details={
            "per_lead_rmse": {"convlstm": ours["per_lead_rmse"],
                              **{n: b["per_lead_rmse"] for n, b in others.items()},
                              **{n: b["per_lead_rmse"] for n, b in base.items()}},
            "other_models": {n: {k: v for k, v in b.items() if k != "per_lead_rmse"}
                             for n, b in others.items()},
            "point_short_task": point,
            "train_windows": int(len(tr["x"])), "test_windows": int(len(te["x"])),
            "grid": f"{DEMO_SIZE}x{DEMO_SIZE} tiles, downscale_s 2", "steps": steps, "seed": seed,
            "train_tiles": train_tiles, "test_tiles": test_tiles,
        },
    )
