"""AllClear demo: the paper's data-scaling claim (UnCRtainTS on all training ROIs against the
same model on 1/10 of them and the cheap baselines) on synthetic cloudy series."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.restoration.allclear.pipeline import (
    DATA_FRACTION,
    DEMO_MARGIN,
    DIRECTIONS,
    SMALL_ARM,
    demo,
    explain_regressions,
    subset,
)


@pytest.mark.slow
def test_demo_data_scaling_arms(tmp_path: Path) -> None:
    """The full demo (800 steps of 4 random 12 x 12 crops; 30 synthetic training ROIs, each
    with its own class spectra; 6 test ROIs from another seed): UnCRtainTS on all 30 ROIs
    against the same model, recipe and steps on the first 3 (1/10), the paper's least-cloudy
    and mosaicing, and per-pixel compositing; the stacked U-Net on the full data is reported
    in the details only.

    AllClear is ``partial``: the full-data lead over the 1/10-data model does not hold on
    every seed at the demo's budget (seed 0 at 1x: 34.92 vs 35.81 dB, the small-data model
    ahead; the notes give the dev and final tables), so this test guards the demo, not the
    claim. What it asserts was measured with room on seed 0: both learned arms beat every
    training-free baseline by more than 5 dB PSNR (full data 34.92, 1/10 data 35.81, the best
    compositing 24.24), the small-data model is the strongest baseline, and the decision
    follows the reported lead and regressions.
    """
    res = demo(tmp_path, quick=False, seed=0)
    assert res.primary == "PSNR" and res.margin == DEMO_MARGIN
    assert set(res.baselines) == {"least_cloudy", "mosaicing", "pixel_least_cloudy",
                                  "median_clear", "nearest_clear", SMALL_ARM}
    assert set(res.metrics) == set(DIRECTIONS) == {"MAE", "RMSE", "PSNR", "SAM", "SSIM"}
    best = max(b["PSNR"] for b in res.baselines.values())
    assert res.baseline["PSNR"] == best == res.baselines[SMALL_ARM]["PSNR"]
    cheap = [b for n, b in res.baselines.items() if n != SMALL_ARM]
    for arm in (res.metrics, res.baselines[SMALL_ARM]):
        assert arm["PSNR"] > max(b["PSNR"] for b in cheap) + 5.0, (res.metrics, res.baselines)
        assert arm["MAE"] < min(b["MAE"] for b in cheap)
        assert arm["SSIM"] > max(b["SSIM"] for b in cheap)
    unexplained = [r for r in res.regressions if not r["explanation"]]
    assert res.beats_baseline == (res.metrics["PSNR"] - best > DEMO_MARGIN and not unexplained)
    assert Path(res.artifacts["figure"]).stat().st_size > 0
    data = json.loads(Path(res.artifacts["result"]).read_text())
    d = data["details"]
    assert (d["train_rois"], d["small_data_train_rois"], d["test_rois"]) == (30, 3, 6)
    assert d["uncrtaints_by_landcover"] and d["test_seed"] != d["train_seed"]
    assert set(d["stack_unet_full_data"]) == set(DIRECTIONS)
    assert d["uncrtaints_recipe"] == d["stack_unet_recipe"]


def test_small_data_arm_is_a_fraction_of_the_rois() -> None:
    """The small-data baseline trains on the first 1/DATA_FRACTION of the samples (one per
    ROI in the demo), every tensor cut alike, never fewer than one sample."""
    import torch

    samples = {"target": torch.arange(30.0).reshape(30, 1), "time_differences":
               torch.arange(90.0).reshape(30, 3)}
    small = subset(samples, DATA_FRACTION)
    assert DATA_FRACTION == 10 and small["target"].flatten().tolist() == [0.0, 1.0, 2.0]
    assert torch.equal(small["time_differences"], samples["time_differences"][:3])
    assert subset(samples, 60)["target"].shape[0] == 1


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
