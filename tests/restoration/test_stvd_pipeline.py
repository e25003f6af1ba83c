"""STVD demo: metrics in kg m-2 s-1 (the published convention), the diffusion ensemble
against the strongest of five baselines; the evaluation convention checked against scipy and
the raw zarr values; registration; the regression explanations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr
from scipy.stats import wasserstein_distance

from geoneurips.registry import get, load_entry
from geoneurips.restoration.stvd.data import FV3GFSDownscaling, store_paths, write_fixture
from geoneurips.restoration.stvd.model import STVD, STVDConfig
from geoneurips.restoration.stvd.pipeline import (
    CRPS_MARGIN,
    demo,
    evaluate,
    explain_regressions,
)

BASELINES = {"bilinear", "bicubic", "bilinear_norm", "bicubic_norm", "downscaler_alone"}


@pytest.mark.slow  # a quick demo: three trainings (~15 s CPU)
def test_quick_demo_trails_the_strongest_baseline_in_precipitation_units(tmp_path: Path) -> None:
    """Quick demo, seed 0 (80 joint steps; the downscaler alone gets the same 80 steps).

    Metrics in kg m-2 s-1 (the published validation de-normalises before its metrics; the
    old demo scored the normalised log space). Measured CRPS (kg m-2 s-1), quick, seeds
    0 / 1 / 2: STVD ensemble 0.00775 / 0.0160 / 0.00770; strongest baseline bicubic (of the
    coarse field in kg m-2 s-1) 0.00108 / 0.000816 / 0.000712; downscaler alone 0.00325 /
    0.00233 / 0.00186; confirmation seeds 3 / 4: 0.00484 / 0.00503 against 0.000925 (bicubic)
    / 0.000628 (downscaler alone). Full (250 steps), seeds 0-4: STVD 0.00436 / 0.0117 / 0.00416 /
    0.00356 / 0.00388 against the strongest 0.000987 (downscaler alone) / 0.000990 /
    0.000888 / 0.000855 / 0.000624 (bicubic). Development seeds 10 / 11 / 12 (full): 0.00503 /
    0.00488 / 0.00824 against 0.000942 / 0.000691 / 0.00114. The ensemble trails by 4-20x on
    every run; ``beats_baseline`` is false.

    The measured cause: the short-trained diffusion members overshoot the training maximum.
    Fraction of pixels above 0.95 in the normalised space, quick seeds 0 / 1 / 2: members
    0.156 / 0.118 / 0.177, target 0.0042 / 0.0000 / 0.0008, downscaler alone 0.030 / 0.007 /
    0.019 (full seeds 0-4: members 0.10-0.12, target <= 0.004); 88-95 % of a member's absolute
    error in kg m-2 s-1 comes from those pixels (dev seeds), since the inverse log transform
    turns 0.05 normalised units near the top into a factor e^1.5. It is a training-budget
    effect (dev seed 10, full evaluation): 250 steps CRPS 0.0050 (members above 0.95:
    8.5 %), 400 steps 0.0029 (4.9 %), 1000 steps 0.00090 (0.7 %) against bicubic's 0.00094;
    1000 steps cost ~155 s CPU, the full demo's budget is ~60 s.

    In the normalised space the ensemble still leads the best baseline (the downscaler alone)
    on CRPS by 0.045 / 0.031 / 0.053 (quick 0-2) and 0.042-0.049 (full 0-4); asserted
    above 0.015 (seed 0)."""
    res = demo(tmp_path, quick=True, seed=0)
    m, bases = res.metrics, res.baselines
    assert set(bases) == BASELINES
    assert res.primary == "crps" and res.margin == CRPS_MARGIN
    # in kg m-2 s-1 interpolation of the coarse field is the strongest baseline and the
    # ensemble trails it (7x on the quick seeds 0-2): no win is claimed
    assert res.strongest_baseline in ("bilinear", "bicubic")
    best = min(b["crps"] for b in bases.values())
    assert m["crps"] > 2 * best, (m, bases)
    assert not res.beats_baseline
    # the measured cause: the short-trained diffusion members overshoot the training
    # maximum (normalised > 0.95) on far more pixels than the target or the downscaler do
    over = res.details["normalised_fraction_above_0.95"]
    assert over["member_above_0.95"] > 0.1, over
    assert over["member_above_0.95"] > 10 * over["target_above_0.95"], over
    assert over["member_above_0.95"] > 3 * over["downscaler_alone_above_0.95"], over
    # in the normalised log space (the old convention) the ensemble still leads on CRPS
    norm = res.details["normalised_space_metrics"]
    norm_best = min(norm[k]["crps"] for k in BASELINES)
    assert norm["stvd"]["crps"] < norm_best - 0.015, norm
    assert norm["downscaler_alone"]["mse"] < 0.6 * norm["bilinear_norm"]["mse"], norm
    assert "without_diffusion" in res.ablations
    saved = json.loads(Path(res.artifacts["result"]).read_text())
    assert saved["metrics"]["crps"] == m["crps"] and saved["strongest_baseline"]
    assert Path(res.artifacts["figure"]).stat().st_size > 1000
    assert res.details["frames"] == 5


def test_evaluate_scores_in_precipitation_units_as_published(tmp_path: Path) -> None:
    """The published validation (mandt-lab/STVD ``model/model.py``, ``Trainer.train``)
    de-normalises prediction and target (log + min-max inverted) before its metrics and
    takes EMD as ``scipy.stats.wasserstein_distance`` and PE as the 99.999th-percentile
    difference over all flattened pixels. The old ``evaluate`` scored the normalised [0, 1]
    log space: the EMD/PE/MSE checks below fail on it. An untrained tiny model suffices (the
    convention, not skill, is under test); the target is checked against the raw zarr values
    read with the zarr library, the interpolation baselines against a hand interpolation of
    the raw coarse field."""
    torch.manual_seed(0)
    root = write_fixture(tmp_path / "fv3", members=3, tiles=1, time_steps=5, coarse_size=4,
                         scale=4, seed=3)
    ds = FV3GFSDownscaling(root, "test", train_members=(1, 2), eval_member=3)
    model = STVD(STVDConfig.tiny(scale=4)).eval()
    res = evaluate(model, ds, clips=1, members=2, steps=2, seed=0, downscaler_alone=model)
    a, an = res["arrays"], res["normalised_arrays"]
    g = zarr.open_group(str(store_paths(root, 3)["precip"]), mode="r")
    fine = np.asarray(g["PRATEsfc"][...], dtype=np.float64)[:5, 0]  # (T, H, W) kg m-2 s-1
    np.testing.assert_allclose(a["target"][0, :, 0], fine, rtol=1e-3, atol=1e-12)
    # every prediction is clipped to the training range, then de-normalised
    lo, hi = ds.denormalize_precip(np.array([0.0, 1.0]))
    for k in ("ensemble", "joint_downscaler", "downscaler_alone", "bilinear", "bicubic",
              "bilinear_norm", "bicubic_norm"):
        assert a[k].min() >= lo - 1e-12 and a[k].max() <= hi * (1 + 1e-9), k
        assert 0.0 <= an[k].min() and an[k].max() <= 1.0, k
    np.testing.assert_allclose(a["ensemble"], ds.denormalize_precip(an["ensemble"]))
    member, y = a["ensemble"][0], a["target"]
    m = res["stvd"]
    assert m["emd"] == pytest.approx(wasserstein_distance(member.ravel(), y.ravel()), rel=1e-9)
    assert m["pe"] == pytest.approx(abs(np.percentile(member, 99.999) - np.percentile(y, 99.999)))
    assert m["mse"] == pytest.approx(np.mean((a["ensemble"].mean(0) - y) ** 2))
    assert res["normalised"]["stvd"]["emd"] != pytest.approx(m["emd"])  # the old space
    # bilinear in kg m-2 s-1: the raw coarse field (block means) interpolated by hand
    c = np.asarray(zarr.open_group(str(store_paths(root, 3)["sfc"]), mode="r")
                   ["PRATEsfc_coarse"][...], dtype=np.float64)[:5, 0]
    # the published normalisation maps values below the training minimum to it
    c = np.maximum(c, ds.stats["c48_chl"]["PRATEsfc_coarse"]["min"])
    ref = torch.nn.functional.interpolate(torch.from_numpy(c)[:, None], scale_factor=4,
                                          mode="bilinear", align_corners=False)[:, 0].numpy()
    np.testing.assert_allclose(a["bilinear"][0, :, 0], np.clip(ref, lo, hi), rtol=2e-3,
                               atol=1e-12)
    assert res["bilinear"]["emd"] == pytest.approx(
        wasserstein_distance(a["bilinear"].ravel(), y.ravel()), rel=1e-9)


def test_registered() -> None:
    spec = get("stvd")
    assert spec.family == "restoration" and spec.status in ("partial", "working")
    assert load_entry(spec.demo) is demo  # type: ignore[arg-type]
    assert load_entry(spec.dataset).__name__ == "FV3GFSDownscaling"  # type: ignore[arg-type]
    assert load_entry(spec.model).__name__ == "STVD"  # type: ignore[arg-type]


def _m(mse: float, crps: float, emd: float, pe: float, sae: float, psd: float
       ) -> dict[str, float]:
    return {"mse": mse, "crps": crps, "emd": emd, "pe": pe, "sae": sae, "psd": psd}


def test_regressions_explained_only_while_measured() -> None:
    """Each of the three explanations (mse, pe, emd) is given only while its measured
    condition holds (hand values; the old demo passed constants)."""
    ours = _m(0.020, 0.17, 0.150, 0.05, 0.02, 0.10)
    bases = {"bilinear": _m(0.040, 0.33, 0.200, 0.01, 0.20, 0.90),
             "bicubic": _m(0.041, 0.33, 0.210, 0.03, 0.20, 0.90),
             "downscaler_alone": _m(0.015, 0.21, 0.140, 0.04, 0.10, 0.50)}
    upper = {"target": 0.95, "stvd": 1.0, "bilinear": 0.94, "bicubic": 0.99,
             "downscaler_alone": 0.99}
    members = [0.150, 0.120, 0.130, 0.160, 0.135, 0.140]
    why = explain_regressions(ours, bases, upper=upper, member_emd=members)
    assert set(why) == {"mse", "pe", "emd"}
    assert "0.01500 vs 0.02000" in why["mse"] and "CRPS 0.1700 vs 0.2100" in why["mse"]
    assert "0.9400 vs 0.9500" in why["pe"] and "STVD member 1.0000" in why["pe"]
    assert "median 0.1375" in why["emd"]
    # mse: the ensemble trails the downscaler on a distributional metric (SAE)
    worse_sae = dict(ours, sae=0.11)
    assert "mse" not in explain_regressions(worse_sae, bases, upper=upper, member_emd=members)
    # mse: the holder is not the MSE-trained downscaler
    interp = dict(bases, bicubic=_m(0.010, 0.33, 0.21, 0.03, 0.2, 0.9))
    assert "mse" not in explain_regressions(ours, interp, upper=upper, member_emd=members)
    # pe: bilinear above the target, or a learned predictor below it
    for k, v in (("bilinear", 0.96), ("stvd", 0.94), ("downscaler_alone", 0.9)):
        got = explain_regressions(ours, bases, upper=dict(upper, **{k: v}), member_emd=members)
        assert "pe" not in got, k
    # pe: any interpolation baseline may hold it (here the normalised-space bilinear)
    norm_bil = dict(bases, bilinear_norm=_m(0.05, 0.34, 0.3, 0.005, 0.2, 0.9))
    got = explain_regressions(ours, norm_bil, upper=dict(upper, bilinear_norm=0.93),
                              member_emd=members)
    assert "bilinear_norm interpolation" in got["pe"] and "0.9300 vs 0.9500" in got["pe"]
    # emd: the median member is worse than the downscaler, or the holder is bilinear
    assert "emd" not in explain_regressions(ours, bases, upper=upper,
                                            member_emd=[0.15, 0.145, 0.16, 0.13])
    bil = dict(bases, bilinear=_m(0.04, 0.33, 0.10, 0.01, 0.2, 0.9))
    assert "emd" not in explain_regressions(ours, bil, upper=upper, member_emd=members)
    # no deficit: nothing to explain
    assert explain_regressions(_m(0.01, 0.17, 0.1, 0.001, 0.02, 0.1), bases, upper=upper,
                               member_emd=members) == {}
