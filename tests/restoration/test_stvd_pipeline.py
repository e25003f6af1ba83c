"""STVD learns (quick demo): the diffusion ensemble beats the strongest of bilinear, bicubic
and the deterministic downscaler trained alone on CRPS; artifacts and registration."""

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


@pytest.mark.slow  # a quick demo: three trainings (~20-25 s CPU)
def test_quick_demo_beats_the_strongest_baseline(tmp_path: Path) -> None:
    """Quick demo, seed 0 (80 joint steps; the downscaler alone gets the same 80 steps).

    Measured CRPS (normalised units), quick, seeds 0 / 1 / 2:
    STVD ensemble 0.173 / 0.163 / 0.179; downscaler alone 0.217 / 0.194 / 0.233 (the
    strongest baseline every time); bilinear 0.330 / 0.331 / 0.349; bicubic 0.330 / 0.333 /
    0.350. Smallest gain 0.031; asserted margin CRPS_MARGIN = 0.015. Full demo (250 steps),
    seeds 0 / 1 / 2: gain over the downscaler alone 0.046 / 0.042 / 0.042.

    Yet ``beats_baseline`` is false on every run measured (quick and full, seeds 0 / 1 / 2):
    the PE regression (99.999th percentile) against bilinear is unexplained, because the
    condition its explanation claims does not hold: bilinear's extreme lies *above* the
    target's, not below (quick seed 0: 0.9937 vs 0.9890; seed 1: 0.9453 vs 0.9429; seed 2:
    0.9820 vs 0.9750), while the STVD member sits at the clamp ceiling 1.0 (PE 0.011 / 0.057 /
    0.025 vs bilinear's 0.005 / 0.002 / 0.007). EMD against the downscaler alone is also
    unexplained on quick seed 1 and full seeds 0 / 1 / 2 (every member, or the median
    member, worse). The MSE regression is explained (measured: the ensemble leads the
    downscaler on CRPS, SAE and spectrum). The test asserts these facts, not a win.
    """
    res = demo(tmp_path, quick=True, seed=0)
    m, bases = res.metrics, res.baselines
    assert set(bases) == {"bilinear", "bicubic", "downscaler_alone"}
    assert res.primary == "crps" and res.margin == CRPS_MARGIN >= 0.015
    assert res.strongest_baseline == "downscaler_alone"
    best = min(b["crps"] for b in bases.values())
    assert m["crps"] < best - CRPS_MARGIN, (m, bases)
    unexplained = {r["metric"] for r in res.regressions if not r["explanation"]}
    assert "pe" in unexplained and unexplained <= {"emd", "pe"}, res.regressions
    assert not res.beats_baseline
    assert all(r["explanation"] for r in res.regressions if r["metric"] == "mse")
    up = res.details["upper_percentiles"]
    assert up["bilinear"] > up["target"] and up["stvd"] > up["target"], up
    # the learned downscaler is far better than interpolation in MSE ...
    assert bases["downscaler_alone"]["mse"] < 0.6 * bases["bilinear"]["mse"]
    # ... and the ensemble restores fine-scale structure the mean predictions smooth away
    for k in ("sae", "psd"):
        assert m[k] < 0.5 * min(b[k] for b in bases.values()), (k, m, bases)
    assert "without_diffusion" in res.ablations
    assert {r["metric"] for r in res.regressions} <= {"mse", "emd", "pe"}
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
    # emd: the median member is worse than the downscaler, or the holder is bilinear
    assert "emd" not in explain_regressions(ours, bases, upper=upper,
                                            member_emd=[0.15, 0.145, 0.16, 0.13])
    bil = dict(bases, bilinear=_m(0.04, 0.33, 0.10, 0.01, 0.2, 0.9))
    assert "emd" not in explain_regressions(ours, bil, upper=upper, member_emd=members)
    # no deficit: nothing to explain
    assert explain_regressions(_m(0.01, 0.17, 0.1, 0.001, 0.02, 0.1), bases, upper=upper,
                               member_emd=members) == {}
