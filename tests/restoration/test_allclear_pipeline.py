"""AllClear demo: the small UnCRtainTS against every baseline on synthetic cloudy series."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.restoration.allclear.pipeline import DIRECTIONS, demo, explain_regressions


@pytest.mark.slow
def test_demo_beats_the_strongest_baseline(tmp_path: Path) -> None:
    """The full demo (300 steps on 15 synthetic training series; 3 test ROIs from another
    seed) against least-cloudy and mosaicing (the paper's), per-pixel least-cloudy, median
    and nearest-in-time clear compositing, and a stacked U-Net trained the same steps, both
    learned arms with gradient-norm clipping at 1.0.

    Measured PSNR (dB) on clear target pixels, full demo, seeds 0 / 1 / 2: UnCRtainTS
    33.44 / 34.42 / 33.56; strongest baseline 32.22 (U-Net) / 31.51 (U-Net) / 31.46
    (median): margins 1.22 / 2.91 / 2.10 dB. The same seeds with the date encoding perturbed
    by ~1e-5 (the older float32 pow formula): margins 1.84 / 3.13 / 2.72 dB. So the sign
    holds but the size moves by ~0.6 dB on float noise; seed 0 clears the demo's 1 dB
    margin by only 0.22 dB, so this test asserts 0.5 dB and does not assert
    ``beats_baseline`` (the system is ``partial``). Without clipping the margins were
    +3.76 / -0.79 / +5.55 and seed 1 flipped to +2.90 under the same perturbation.
    Seed 3 beats on PSNR (+3.72) but its MAE is worse than a baseline's (unexplained);
    seed 4: +4.38. Quick demo (200 steps), seeds 0 / 1 / 2: margins 0.60 / -0.42 / -2.67.
    The SAM deficit (median of clear dates) is explained only while measured
    (:func:`explain_regressions`: the holder is per-pixel compositing and the network leads
    it on PSNR and RMSE).
    """
    res = demo(tmp_path, quick=False, seed=0)
    assert res.primary == "PSNR" and res.margin == 1.0
    assert set(res.baselines) == {"least_cloudy", "mosaicing", "pixel_least_cloudy",
                                  "median_clear", "nearest_clear", "stack_unet"}
    assert set(res.metrics) == set(DIRECTIONS) == {"MAE", "RMSE", "PSNR", "SAM", "SSIM"}
    best = max(b["PSNR"] for b in res.baselines.values())
    assert res.baseline["PSNR"] == best
    assert res.metrics["PSNR"] - best > 0.5, (res.metrics, res.baselines)
    # every regression is on SAM only, and explained
    assert all(r["metric"] == "SAM" and r["explanation"] for r in res.regressions)
    assert res.metrics["MAE"] < min(b["MAE"] for b in res.baselines.values())
    assert res.metrics["SSIM"] > max(b["SSIM"] for b in res.baselines.values())
    # the paper's mosaicing beats least-cloudy here (more clear pixels used)
    assert res.baselines["mosaicing"]["PSNR"] > res.baselines["least_cloudy"]["PSNR"]
    assert Path(res.artifacts["figure"]).stat().st_size > 0
    data = json.loads(Path(res.artifacts["result"]).read_text())
    assert data["details"]["uncrtaints_by_landcover"]
    assert data["details"]["test_seed"] != data["details"]["train_seed"]


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


def test_both_learned_arms_train_with_the_published_optimiser() -> None:
    """Both learned arms (UnCRtainTS and the stacked U-Net) train with UnCRtainTS' published
    optimiser settings: Adam, learning rate 1e-3 held constant (``--gamma 1.0``), no weight
    decay, no gradient clipping. The old demo used 3e-3 with the gradient norm clipped at
    1.0 (and the old variance parametrisation): its full-demo PSNR moved by up to 0.85 dB on
    a 1e-5 change of the date encoding (dev seed 10: 33.52 -> 32.66 dB), this recipe by
    0.001 dB (36.531 -> 36.532)."""
    import torch

    from geoneurips.restoration.allclear.pipeline import (
        RECIPE,
        _fit,
        uncrtaints_arm,
        unet_arm,
    )

    assert (RECIPE.lr, RECIPE.warmup, RECIPE.clip) == (1e-3, 0, None)
    g = torch.Generator().manual_seed(0)
    train = {
        "input_images": torch.rand(2, 15, 3, 24, 24, generator=g),
        "input_cld_shdw": torch.zeros(2, 2, 3, 24, 24),
        "target": torch.rand(2, 13, 1, 24, 24, generator=g),
        "target_cld_shdw": torch.zeros(2, 2, 1, 24, 24),
        "time_differences": torch.tensor([[-10.0, 0.0, 7.0], [-3.0, 2.0, 9.0]]),
    }
    for task in (uncrtaints_arm(), unet_arm(15, 3)):
        opt = task.configure_optimizers()
        assert type(opt) is torch.optim.Adam
        assert opt.defaults["lr"] == 1e-3 and opt.defaults["weight_decay"] == 0
        trainer = _fit(task, train, steps=2, seed=0, clip=RECIPE.clip)
        assert trainer.gradient_clip_val is None
        lrs = [grp["lr"] for grp in trainer.optimizers[0].param_groups]
        assert lrs == [1e-3]  # constant: no decay, no warm-up
