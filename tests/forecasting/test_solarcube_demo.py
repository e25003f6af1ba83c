"""The SolarCube demo: area-level 3 h -> 3 h forecasting of synthetic tiles.

Synthetic tiles in the published layout (moving cloud fields, diurnal cycle), read back
through ``SolarCubeImage``; training tiles are the published train list (14 tiles x 7 days),
scores on the published test tiles (cloud fields and motions never seen in training). Every
day of every tile draws its own cloud field, speed (0.16-0.48 px per step on the 16 x 16
grid) and direction, so a forecaster must infer the motion from the input frames; a linear
model of the frames cannot shift by a velocity it does not know. (Checked: an optical-flow
extrapolation with the velocity fitted on the last frames scores RMSE 37 W m-2 at 1-3 h in
the tile interior where the ridge scores 98, dev seed 10; at the edges clouds flow in from
outside and nothing can predict them.)

The recipe (ConvLSTM hidden 12, input standardised, AdamW lr 1e-2, cosine, clipping 1, one
thread, seeded init; 14 x 7 training motions instead of 10 x 3) was chosen on the
development seeds 10, 11, 12 (ConvLSTM 82.3 / 75.0 / 79.8 against the ridge's
102.1 / 98.6 / 102.5), then measured once on seeds 0-2 (and 3, 4). RMSE (W m-2) at 1-3 h
leads, one thread:

=============  ========  ===========  =================  =====  ==========
run, seed      ConvLSTM  persistence  smart persistence  ridge  lead
=============  ========  ===========  =================  =====  ==========
quick, 0       85.8      241.2        181.6              101.1  15.3
quick, 1       84.1      236.1        173.0              100.1  16.0
quick, 2       84.9      247.0        186.9              109.5  24.6
full, 0        73.2      241.2        181.6              101.1  27.9
full, 1        73.3      236.1        173.0              100.1  26.8
full, 2        75.0      247.0        186.9              109.5  34.5
quick, 3       97.4      248.2        186.4              107.9  10.5
quick, 4       79.8      239.7        181.5              101.2  21.4
=============  ========  ===========  =================  =====  ==========

Below 1 h the ridge stays better (quick seed 0, RMSE at 15/30/45 min: ConvLSTM 22/26/34,
ridge 9/18/31): its linear extrapolation of the last frames is hard to beat over a fraction of
a pixel of motion; the ConvLSTM leads from 60 min on, where the shift has to follow the
velocity (at 3 h: 114 against 136), and over all 12 leads (RMSE 75.6 against 88.2).

Cloud-motion-vector advection (the motion between the last frame and the one three steps
earlier, block-matched over the whole tile, applied to the last clear-sky-index frame; the
operational first try) is reported too: RMSE at 1-3 h 152.6 / 131.2 / 144.1 on quick seeds
0 / 1 / 2, far behind, but MAE 57.0 / 49.4 / 55.0 against the ConvLSTM's 57.2 / 56.7 / 54.8:
sharp where its motion holds, far off where cloud enters the tile, while the MSE-trained
ConvLSTM predicts the conditional mean. That MAE regression (seeds 0 and 1) is said in the
demo's output and explained by ``mae_tradeoff`` only because the advection's RMSE is higher.

The ridge is a per-pixel ridge regression on the pixel's ratio history and the 7 x 7
neighbourhoods of the last three frames (it sees the motion the ConvLSTM sees); it is the
strongest baseline on every seed. DEMO_MARGIN = 5 W m-2 is half the smallest measured lead
(10.5, quick seed 3, a confirmation seed) and a third of the lead on quick seed 0 (15.3),
which the test runs; the full demo (800 steps) leads by 27-35. The result no longer depends on the thread
count (training runs on one thread) nor on what ran before in the process (seeded init).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.forecasting.solarcube.pipeline import DEMO_MARGIN, demo
from geoneurips.registry import get, load_entry


@pytest.mark.slow
def test_quick_demo_beats_the_strongest_baseline(tmp_path: Path) -> None:
    r = demo(tmp_path, quick=True, seed=0)
    assert set(r.baselines) == {"persistence", "smart_persistence", "ridge", "cloud_motion"}
    assert r.primary == "rmse_1_3h" and r.margin == DEMO_MARGIN == 5.0
    ours = r.metrics["rmse_1_3h"]
    assert r.strongest_baseline == "ridge"
    assert ours < r.baselines["ridge"]["rmse_1_3h"] - DEMO_MARGIN
    assert r.beats_baseline is True
    # the advection's MAE regression is said and explained by the measured trade-off only
    cm = r.baselines["cloud_motion"]
    assert cm["rmse_1_3h"] > ours + 30.0
    # (on seed 0 the advection's MAE edge is 0.03-0.2 W m-2, so whether it shows at all is
    # left to the machine's arithmetic; what is asserted is that nothing else regresses)
    assert {g["metric"] for g in r.regressions} <= {"mae", "mae_1_3h"}
    assert all(g["best_baseline"] == "cloud_motion" and g["explanation"] for g in r.regressions)
    assert ours < r.baselines["smart_persistence"]["rmse_1_3h"] - 60.0
    assert len(r.details["per_lead_rmse"]["convlstm"]) == 12
    assert r.details["point_short_task"] == "full demo only"
    data = json.loads((tmp_path / "solarcube.json").read_text())
    assert data["system"] == "solarcube" and (tmp_path / "solarcube.png").stat().st_size > 0


def test_mae_tradeoff_explains_only_when_the_better_baseline_has_higher_rmse() -> None:
    from geoneurips.forecasting.solarcube.pipeline import mae_tradeoff

    ours = {"mae": 50.0, "rmse": 80.0, "mae_1_3h": 57.0, "rmse_1_3h": 86.0}
    sharp = {"mae": 45.0, "rmse": 130.0, "mae_1_3h": 50.0, "rmse_1_3h": 150.0}
    smooth = {"mae": 60.0, "rmse": 90.0, "mae_1_3h": 70.0, "rmse_1_3h": 100.0}
    out = mae_tradeoff(ours, {"cloud_motion": sharp, "ridge": smooth})
    assert set(out) == {"mae", "mae_1_3h"} and "cloud_motion" in out["mae"]
    # a baseline better on MAE AND on RMSE is a plain loss: nothing is explained
    better = {**sharp, "rmse": 70.0, "rmse_1_3h": 80.0}
    assert mae_tradeoff(ours, {"cloud_motion": better}) == {}
    assert mae_tradeoff(ours, {"ridge": smooth}) == {}
    # better on MAE and worse on RMSE, but errors no heavier-tailed than ours (RMSE/MAE 1.89
    # vs 1.60, 1.72 vs 1.51): not the sharp-or-far-off signature, so nothing is explained
    mild = {**sharp, "rmse": 85.0, "rmse_1_3h": 86.1}
    assert mae_tradeoff(ours, {"cloud_motion": mild}) == {}


def test_registered() -> None:
    spec = get("solarcube")
    assert spec.family == "forecasting" and spec.status == "working"
    assert load_entry(spec.demo) is demo
