"""AllClear: the demo's learned arms, the data-scaling curve, the temporal-length ablation
and UnCRtainTS component ablations at a budget factor.

Writes the full demo's synthetic data (``pipeline.demo_data``, as the demo does) and
trains the chosen arms through the demo's own functions (``uncrtaints_arm``, ``unet_arm``,
``subset``, ``_fit``: the shared recipe, its steps times ``FACTOR``), then scores them with
``benchmark``. Each arm is seeded as in the demo, so ``full``, ``frac10`` and ``unet``
should reproduce the demo's (and ``budget_audit.py``'s) numbers (checked bit for bit on
the former demo, not again since the data-scaling change). Also prints a diagnosis: pooled
PSNR on the clear target pixels where some input date is clear and where none is
(``has_clear`` / ``no_clear``: (pixels, dB)).

Arms: ``full`` (UnCRtainTS on all training ROIs, the demo's method), ``fracN`` (the same on
the first 1/N of the ROIs, the same steps: the paper's scaling table; ``frac10`` is the
demo's small-data baseline), ``datesK`` (the full-data model trained and tested on the K
input dates nearest the target instead of 3: the paper's temporal-length ablation; only
the learned arm sees fewer dates), ``unet`` (the stacked U-Net on all ROIs),
``noattn`` (L-TAE master queries fixed at 0: uniform weights over the dates, i.e. a mean),
``l1`` (no variance head, L1 loss instead of the Gaussian NLL), ``unet_l2`` (the U-Net on the
masked MSE instead of L1).

    python benchmarks/allclear_ablations.py FACTOR SEED ARM[,ARM...] [OUT_DIR]
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from geoneurips.restoration.allclear import pipeline as P
from geoneurips.restoration.allclear.metrics import clear_mask
from geoneurips.restoration.allclear.model import UnCRtainTSConfig, median_clear
from geoneurips.seed import seed_everything, single_thread


class L2Task(P.AllClearTask):
    """The demo's task on the masked mean squared error (what PSNR measures)."""

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        mean, _ = self(batch)
        target = batch["target"][:, :, 0]
        m = clear_mask(batch["target_cld_shdw"][:, :, 0]).to(mean.dtype).expand_as(mean)
        loss: torch.Tensor = (((mean - target) ** 2) * m).sum() / m.sum().clamp_min(1.0)
        return loss


def make_arm(arm: str, c: int, t: int) -> P.AllClearTask:
    """An untrained arm on the demo's recipe."""
    r = P.RECIPE
    if arm == "full":
        return P.uncrtaints_arm()
    if arm == "noattn":
        task = P.uncrtaints_arm()
        ltae: Any = task.model.ltae
        ltae.query.data.zero_()
        ltae.query.requires_grad_(False)
        return task
    if arm == "l1":
        cfg = dataclasses.replace(UnCRtainTSConfig.tiny(), variance=False)
        return P.AllClearTask(cfg, lr=r.lr, loss="l1", warmup=r.warmup, decay=r.decay)
    if arm == "unet":
        return P.unet_arm(c, t)
    if arm == "unet_l2":
        return L2Task(lr=r.lr, loss="l1", model=P.unet_arm(c, t).model, warmup=r.warmup,
                      decay=r.decay)
    raise SystemExit(f"unknown arm {arm!r}")


def nearest_dates(samples: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """Keep the ``k`` input dates nearest the target in time (per sample), in time order."""
    order = samples["time_differences"].abs().argsort(dim=1)[:, :k].sort(dim=1).values
    out = dict(samples)
    for key in ("input_images", "input_cld_shdw"):
        v = samples[key]
        idx = order[:, None, :, None, None].expand(-1, v.shape[1], -1, *v.shape[-2:])
        out[key] = v.gather(2, idx)
    out["time_differences"] = samples["time_differences"].gather(1, order)
    return out


def split_psnr(test: dict[str, torch.Tensor], pred: torch.Tensor) -> dict[str, Any]:
    """Pooled PSNR on clear target pixels with / without any clear input date."""
    target = test["target"][:, :, 0]
    any_clear = (test["input_cld_shdw"].sum(1) == 0).any(1)
    m = clear_mask(test["target_cld_shdw"][:, :, 0]).reshape(any_clear.shape)
    se = ((pred - target) ** 2).mean(1)
    out: dict[str, Any] = {}
    for name, sel in (("has_clear", m & any_clear), ("no_clear", m & ~any_clear)):
        n = int(sel.sum())
        out[name] = (n, round(float(-10 * torch.log10(se[sel].mean())), 2) if n else None)
    return out


def main() -> None:
    factor, seed, arms = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
    out = Path(sys.argv[4]) if len(sys.argv) > 4 else Path(
        f"budget_audit/allclear_ablations_{sys.argv[1]}x_{seed}")
    with single_thread():
        seed_everything(seed)
        train, test = P.demo_data(out / "allclear_synthetic", seed)
        c, t = train["input_images"].shape[1:3]
        steps = int(P.RECIPE.steps * factor)
        preds: dict[str, torch.Tensor] = {}
        cpu: dict[str, float] = {}
        for arm in arms:
            started = time.process_time()
            seed_everything(seed)
            tr, te = train, test
            if arm.startswith("frac"):
                tr = P.subset(train, int(arm[4:]))
            elif arm.startswith("dates"):
                tr, te = nearest_dates(train, int(arm[5:])), nearest_dates(test, int(arm[5:]))
            task = make_arm("full" if arm[:4] in ("frac", "date") else arm, c, t)
            P._fit(task, tr, steps, seed, P.RECIPE.clip, P.RECIPE.crop, P.RECIPE.batch)
            preds[arm] = task.predict_samples(te)
            cpu[arm] = round(time.process_time() - started, 1)
        scores = P.benchmark(test, preds)
        s2, masks = test["input_images"][:, :13], test["input_cld_shdw"]
        split = {k: split_psnr(test, p) for k, p in
                 {**preds, "median_clear": median_clear(s2, masks)}.items()}
    print(json.dumps({"factor": factor, "seed": seed, "steps": steps, "cpu_s": cpu,
                      "metrics": {a: P._metrics_only(scores[a]) for a in arms},
                      "split_psnr": split}, indent=1))


if __name__ == "__main__":
    main()
