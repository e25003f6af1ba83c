"""The GOMAA-Geo demo (quick) end to end: files, metrics, and that the learned policy
clearly beats the cheap baselines and the PPO-only ablation.

Measured SR (budget 10, C = 4..8, 40 unseen grids x 5 pairs x 5 C), ``sr_mean`` (aerial
goals), with the aerial encoder CLIP-trained on batches of whole images:

============  ==========  ======  ===========  ==========  =========  ========
run           GOMAA-Geo   random  greedy sim.  memoryless  GASP-only  PPO-only
============  ==========  ======  ===========  ==========  =========  ========
quick seed 0  0.787       0.061   0.568        0.692       0.790      0.191
quick seed 1  0.681       0.063   0.600        0.507       0.662      0.141
quick seed 2  0.722       0.057   0.636        0.625       0.708      0.109
full seed 0   0.849       0.061   0.558        0.736       0.871      0.208
full seed 1   0.782       0.063   0.633        0.649       0.786      0.245
full seed 2   0.761       0.057   0.634        0.673       0.774      0.211
============  ==========  ======  ===========  ==========  =========  ========

Zero-shot goals, GOMAA-Geo vs greedy similarity (quick seeds 0-2): ground 0.589 / 0.493 /
0.601 vs 0.605 / 0.619 / 0.588; text (real MiniLM, unseen phrasing) 0.431 / 0.423 / 0.417
vs 0.709 / 0.512 / 0.645; full seeds 0-2: ground 0.594 / 0.569 / 0.611 vs 0.569 / 0.629 /
0.595, text 0.404 / 0.325 / 0.417 vs 0.658 / 0.521 / 0.634: regressions the demo explains
(the system stays ``partial``). Confirmation quick seeds 3 / 4: aerial 0.790 / 0.671 vs the
strongest baseline 0.616 / 0.573; ground 0.632 / 0.440 vs greedy 0.579 / 0.559; text 0.374 /
0.386 vs 0.624 / 0.562.

GOMAA-Geo beats the strongest baseline on aerial goals by 0.08-0.13 on every run (the demo
asserts more than 0.05); this test asserts, on quick seed 0, a lead of 0.05 over the
strongest baseline (measured 0.095), 0.5 over the random walk and 0.4 over the PPO-only
ablation (GASP matters).
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
    assert r.beats_baseline and r.margin == 0.05
    assert all(x["explanation"] for x in r.regressions)
