"""The GOMAA-Geo demo (quick) end to end: files, metrics, and that the learned policy
clearly beats the cheap baselines and the PPO-only ablation.

Measured SR (budget 10, C = 4..8, 40 unseen grids x 5 pairs x 5 C), ``sr_mean`` (aerial
goals), quick = 500 GASP steps / 30 PPO updates, full = 900 / 100 (chosen on dev seeds 10-12:
quick 0.783 / 0.762 / 0.844 vs the strongest baseline 0.670 / 0.622 / 0.749):

============  ==========  ======  ===========  ==========  =========  ========
run           GOMAA-Geo   random  greedy sim.  memoryless  GASP-only  PPO-only
============  ==========  ======  ===========  ==========  =========  ========
quick seed 0  0.789       0.061   0.568        0.692       0.790      0.193
quick seed 1  0.677       0.063   0.600        0.507       0.662      0.177
quick seed 2  0.696       0.057   0.636        0.625       0.708      0.176
full seed 0   0.862       0.061   0.558        0.736       0.871      0.208
full seed 1   0.790       0.063   0.633        0.649       0.786      0.245
full seed 2   0.766       0.057   0.634        0.673       0.774      0.211
============  ==========  ======  ===========  ==========  =========  ========

Zero-shot goals, GOMAA-Geo vs greedy similarity (quick seeds 0-2): ground 0.589 / 0.493 /
0.568 vs 0.605 / 0.619 / 0.588; text (real MiniLM, unseen phrasing) 0.436 / 0.431 / 0.417
vs 0.709 / 0.512 / 0.645; full seeds 0-2: ground 0.587 / 0.555 / 0.594 vs 0.569 / 0.629 /
0.595, text 0.399 / 0.320 / 0.414 vs 0.658 / 0.521 / 0.634: goal-modality-agnostic search is
the paper's claim, so these losses are never explained and ``beats_baseline`` is false (the
system stays ``partial``). Confirmation quick
seeds 3 / 4: aerial 0.778 / 0.656 vs the strongest baseline 0.616 / 0.573; ground 0.624 /
0.446 vs greedy 0.579 / 0.559; text 0.377 / 0.394 vs 0.624 / 0.562.

GOMAA-Geo beats the strongest baseline on aerial goals by 0.06-0.14 on every run (the demo
asserts more than 0.05); this test asserts, on quick seed 0, a lead of 0.05 over the
strongest baseline (measured 0.097), 0.5 over the random walk and 0.4 over the PPO-only
ablation (GASP matters; measured 0.596).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.location.gomaageo.pipeline import demo


@pytest.mark.slow
def test_quick_demo(tmp_path: Path) -> None:
    r = demo(tmp_path, quick=True, seed=0)
    assert (tmp_path / "gomaageo.png").is_file()
    saved = json.loads((tmp_path / "gomaageo.json").read_text())
    assert saved["metrics"]["sr_mean"] == pytest.approx(r.metrics["sr_mean"])
    assert set(r.baselines) == {"random_walk", "greedy_similarity", "memoryless_mlp"}
    assert set(r.ablations) == {"gasp_only", "ppo_only"}
    for m in [r.metrics, *r.baselines.values(), *r.ablations.values()]:
        assert {"sr_mean", "sr_mean_ground", "sr_mean_text"} <= set(m)
    ours = r.metrics["sr_mean"]
    strongest = max(b["sr_mean"] for b in r.baselines.values())
    assert ours > strongest + 0.05
    assert ours > r.baselines["random_walk"]["sr_mean"] + 0.5
    assert ours > r.ablations["ppo_only"]["sr_mean"] + 0.4
    assert r.margin == 0.05
    # the zero-shot modalities are the paper's claim and lose to greedy similarity on this
    # seed (ground 0.589 vs 0.605, text 0.436 vs 0.709): unexplained, so the demo fails
    unexplained = {x["metric"] for x in r.regressions if not x["explanation"]}
    assert unexplained == {"sr_mean_ground", "sr_mean_text"}
    assert not r.beats_baseline
    assert set(r.details["zero_shot_diagnosis"]) == {"sr_mean_ground", "sr_mean_text"}


def test_regression_explanations_are_computed_from_the_measured_condition() -> None:
    """Old code gave constant explanations (sr_c4-6, ground, text), whatever was measured;
    a per-distance deficit to the memoryless MLP (full seed 12: sr_c7 0.865 vs 0.875) failed
    the demo unexplained. Both outcomes, hand values (n = 200 pairs per C)."""
    from geoneurips.location.gomaageo.demo_run import explain_regressions

    ours = {"sr_mean": 0.8, "sr_c4": 0.70, "sr_c7": 0.85, "sr_c8": 0.70,
            "sr_mean_ground": 0.55, "sr_mean_text": 0.55}
    greedy = {"sr_mean": 0.6, "sr_c4": 0.76, "sr_c7": 0.4, "sr_c8": 0.5,
              "sr_mean_ground": 0.6, "sr_mean_text": 0.30}
    mlp = {"sr_mean": 0.7, "sr_c4": 0.7, "sr_c7": 0.875, "sr_c8": 0.8,
           "sr_mean_ground": 0.4, "sr_mean_text": 0.58}
    ex = explain_regressions(ours, {"greedy_similarity": greedy, "memoryless_mlp": mlp})
    assert "peeks" in ex["sr_c4"]  # greedy best there and above its own mean
    assert "noise" in ex["sr_c7"]  # 0.025 <= 2 SE = 0.069
    assert "sr_c8" not in ex  # 0.10 > 2 SE = 0.086: unexplained
    # zero-shot losses are the paper's claim failing: never explained
    assert "sr_mean_ground" not in ex and "sr_mean_text" not in ex
    assert explain_regressions({**ours, "sr_mean": 0.69}, {"greedy_similarity": greedy,
                                                           "memoryless_mlp": mlp}) == {}


def test_zero_shot_diagnostics_report_every_goal_kind() -> None:
    """Smoke test of the diagnostics behind the notes (tiny budget); the exact-copy aerial
    goals are at distance 0 from their patch and the isotropic noise at 0.2."""
    from geoneurips.location.gomaageo.diagnostics import zero_shot_diagnostics

    out = zero_shot_diagnostics(0, budget=(20, 5, 1), align_steps=20, test_grids=4)
    kinds = ("aerial", "aerial_noise_0.2", "aerial_minus_appearance", "ground", "text",
             "text_plus_oracle_appearance")
    for k in kinds:
        assert all(0.0 <= v <= 1.0 for v in out[k])
    assert out["rel_error_aerial"] == 0.0
    assert abs(out["rel_error_aerial_noise_0.2"] - 0.2) < 1e-3
    # the appearance (3x the place code) is most of a patch: measured 0.836 here
    assert out["rel_error_aerial_minus_appearance"] > 0.6
