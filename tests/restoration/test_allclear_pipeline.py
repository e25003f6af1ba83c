"""AllClear demo: the small UnCRtainTS against every baseline on synthetic cloudy series."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.restoration.allclear.pipeline import (
    DEMO_MARGIN,
    DIRECTIONS,
    demo,
    explain_regressions,
)


@pytest.mark.slow
def test_demo_beats_the_strongest_baseline(tmp_path: Path) -> None:
    """The full demo (600 steps on 15 synthetic training series; 3 test ROIs from another
    seed) against least-cloudy and mosaicing (the paper's), per-pixel least-cloudy, median
    and nearest-in-time clear compositing, and a stacked U-Net trained the same steps with
    the same optimiser (Adam 3e-3, a half-cosine decay over the last quarter, no clipping;
    chosen on dev seeds 10-12, see :class:`~geoneurips.restoration.allclear.pipeline.Recipe`).

    Measured PSNR (dB) on clear target pixels, UnCRtainTS vs the strongest baseline (always
    the U-Net here), and in brackets the margin with the date encoding perturbed by ~1e-5
    (float32 pow instead of exp-log):
    dev seeds 10 / 11 / 12: 41.32 vs 35.94 (+5.38; +5.42), 41.40 vs 32.87 (+8.53; +8.48),
    36.12 vs 35.51 (+0.61; +0.93);
    seeds 0 / 1 / 2: 39.81 vs 38.51 (+1.31; +1.33), 38.25 vs 37.18 (+1.07; +1.60),
    41.39 vs 36.77 (+4.63; +4.91); confirmation seeds 3 / 4: 42.86 vs 38.25 (+4.60; +4.68),
    41.52 vs 37.03 (+4.49; +4.44). No regression on any metric on seeds 0-4.
    The sign holds on every seed and under the perturbation (which moves the lead by up to
    0.53 dB); the smallest of the 16 leads is 0.61 dB, so the demo's margin
    (:data:`~geoneurips.restoration.allclear.pipeline.DEMO_MARGIN`) is 0.3 dB and this test
    asserts the lead above 0.5 dB and ``beats_baseline`` on seed 0.
    Seed 0: MAE 0.0064 vs the best baseline's 0.0080; RMSE 0.0116 vs 0.0120 and SSIM 0.9742
    vs 0.9727 (no regression; thin, so also asserted within 5 % and 0.005 on their own).
    These figures predate the demo's one-thread pin (a ~4e-7 float-order change): rerun on
    2026-12-07, dev seed 12 gives 36.34 vs 35.09 (+1.24), not +0.61; seed 0 is what this
    test runs. AllClear is ``partial`` since its budget audit (notes): the lead does not
    survive 2x training on every seed, so this test guards the demo, not the claim.
    """
    res = demo(tmp_path, quick=False, seed=0)
    assert res.primary == "PSNR" and res.margin == DEMO_MARGIN == 0.3
    assert set(res.baselines) == {"least_cloudy", "mosaicing", "pixel_least_cloudy",
                                  "median_clear", "nearest_clear", "stack_unet"}
    assert set(res.metrics) == set(DIRECTIONS) == {"MAE", "RMSE", "PSNR", "SAM", "SSIM"}
    best = max(b["PSNR"] for b in res.baselines.values())
    assert res.baseline["PSNR"] == best
    assert res.metrics["PSNR"] - best > 0.5, (res.metrics, res.baselines)
    assert res.beats_baseline, res.regressions
    # no unexplained regression apart from (at most) a hair of RMSE or SSIM
    assert all(r["explanation"] for r in res.regressions if r["metric"] not in ("RMSE", "SSIM"))
    assert res.metrics["MAE"] < min(b["MAE"] for b in res.baselines.values())
    assert res.metrics["RMSE"] < 1.05 * min(b["RMSE"] for b in res.baselines.values())
    assert res.metrics["SSIM"] > max(b["SSIM"] for b in res.baselines.values()) - 0.005
    # the paper's mosaicing beats least-cloudy here (more clear pixels used)
    assert res.baselines["mosaicing"]["PSNR"] > res.baselines["least_cloudy"]["PSNR"]
    assert Path(res.artifacts["figure"]).stat().st_size > 0
    data = json.loads(Path(res.artifacts["result"]).read_text())
    assert data["details"]["uncrtaints_by_landcover"]
    assert data["details"]["test_seed"] != data["details"]["train_seed"]
    assert data["details"]["uncrtaints_recipe"] == data["details"]["stack_unet_recipe"]


def _m(psnr: float, rmse: float, sam: float) -> dict[str, float]:
    return {"MAE": rmse / 2, "RMSE": rmse, "PSNR": psnr, "SAM": sam, "SSIM": 0.9}


def test_sam_explained_only_while_measured() -> None:
    """The SAM deficit is explained only while the SAM holder is per-pixel compositing and
    the network leads it on PSNR and RMSE (hand values; the old demo passed a constant)."""
    ours = _m(36.0, 0.016, 4.1)
    baselines = {"least_cloudy": _m(25.0, 0.06, 5.0), "median_clear": _m(31.5, 0.027, 3.2),
                 "stack_unet": _m(32.0, 0.025, 4.5)}
    why = explain_regressions(ours, baselines)
    assert set(why) == {"SAM"}
    assert "median_clear" in why["SAM"] and "3.20 vs 4.10" in why["SAM"]
    assert "36.00 vs 31.50 dB" in why["SAM"]
    # the holder leads on PSNR (or on RMSE): not explained
    assert explain_regressions(_m(31.0, 0.016, 4.1), baselines) == {}
    assert explain_regressions(_m(36.0, 0.030, 4.1), baselines) == {}
    # the holder is not per-pixel compositing (the U-Net): not explained
    unet_best = dict(baselines, stack_unet=_m(32.0, 0.025, 3.0))
    assert explain_regressions(ours, unet_best) == {}
    # no deficit: nothing to explain
    assert explain_regressions(_m(36.0, 0.016, 3.0), baselines) == {}


def test_both_learned_arms_train_with_the_same_optimiser() -> None:
    """Both learned arms (UnCRtainTS and the stacked U-Net) train with the same recipe: Adam
    (no weight decay, as published), learning rate 3e-3 held constant, then lowered to 0 on
    a half cosine over the last quarter of the steps, no gradient clipping. The old demo
    clipped the gradient norm at 1.0 and ended at the full rate; with the old variance
    parametrisation its full-demo PSNR moved by up to 0.85 dB on a 1e-5 change of the date
    encoding (dev seed 10: 33.52 -> 32.66 dB). Chosen on dev seeds 10-12 (see the demo
    test's docstring)."""
    import torch

    from geoneurips.restoration.allclear.pipeline import (
        RECIPE,
        UNET_RECIPE,
        _fit,
        uncrtaints_arm,
        unet_arm,
    )

    assert RECIPE == UNET_RECIPE
    assert (RECIPE.lr, RECIPE.warmup, RECIPE.decay, RECIPE.clip) == (3e-3, 0, 0.25, None)
    g = torch.Generator().manual_seed(0)
    train = {
        "input_images": torch.rand(2, 15, 3, 24, 24, generator=g),
        "input_cld_shdw": torch.zeros(2, 2, 3, 24, 24),
        "target": torch.rand(2, 13, 1, 24, 24, generator=g),
        "target_cld_shdw": torch.zeros(2, 2, 1, 24, 24),
        "time_differences": torch.tensor([[-10.0, 0.0, 7.0], [-3.0, 2.0, 9.0]]),
    }
    for task in (uncrtaints_arm(), unet_arm(15, 3)):
        trainer = _fit(task, train, steps=8, seed=0, clip=RECIPE.clip)
        assert trainer.gradient_clip_val is None
        opt = trainer.optimizers[0]
        assert type(opt) is torch.optim.Adam
        assert opt.defaults["lr"] == 3e-3 and opt.defaults["weight_decay"] == 0
        sched = trainer.lr_scheduler_configs[0]
        assert sched.interval == "step"
        factors = [sched.scheduler.lr_lambdas[0](k) for k in range(8)]
        # 8 steps: constant for 6, then the last quarter (2 steps) falls to 0
        assert factors == pytest.approx([1, 1, 1, 1, 1, 1, 0.5, 0.0], abs=1e-12)
        assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
