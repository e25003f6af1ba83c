"""MMM-RS demo: prompt following of a tiny text-to-image diffusion model, judged by a frozen
classifier trained on real renders, against retrieval, mean-image and unconditional
baselines.

Measured outcome (honest; the system stays ``partial``): the tiny pixel-space
``UNet2DConditionModel`` does **not** learn to follow the GSD and weather words within a
CPU budget, and the judge does not see GSD in 16-px renders.

- seed 0, 300 steps, 50 training scenes (an earlier, larger quick setting): joint accuracy
  on held-out prompt combinations 0.06 vs unconditional 0.07, nearest-prompt retrieval
  0.01, retrieval blend 0.25, attribute mean image 0.33 (chance 0.083).
- seed 0, quick (60 steps, 20 scenes): 0.00 vs 0.00, 0.04, 0.08, 0.33.
- the judge on real test renders: weather 0.99-1.00; GSD 0.71, which is the share of the
  majority (native-GSD) class: its balanced GSD accuracy is 0.30-0.36 (chance 0.33).
- on seen prompts retrieval (real renders of exactly that prompt) scores weather 1.00 vs
  0.14-0.41 for the generator: retrieval is the stronger method there.

- earlier full setting (800 steps, 80 scenes, 40 images per held-out prompt), seeds 0/1/2:
  ours 0.11/0.10/0.13 joint on held-out prompts vs unconditional 0.03/0.05/0.03, retrieval
  0.06/0.03/0.07, blend 0.14/0.26/0.10, attribute mean image 0.33/0.33/0.33. Weather on seen
  prompts 0.52/0.43/0.48 vs unconditional 0.27/0.19/0.28. 204-213 s CPU per seed (profile:
  generator training 78 %, DPM++ sampling 17 %, data 2 %, judge 1 %).
- full setting now (400 steps, 80 scenes, 24 images per held-out prompt, all prompts in one
  sampler call), seeds 0/1/2: ours 0.11/0.04/0.10 joint on held-out prompts vs unconditional
  0.06/0.03/0.03, retrieval 0.07/0.04/0.11, blend 0.10/0.18/0.15, attribute mean image
  0.33/0.33/0.33 (strongest: with the judge blind to GSD, the mean image's weather decides).
  Weather on seen prompts 0.37/0.48/0.44 vs unconditional 0.19/0.30/0.26 (learning starts),
  vs retrieval 1.00. 109 s CPU for seed 0 alone (116-122 s with three runs sharing cores).
- quick (unchanged setting; one sampler call gives the same images as before), seeds
  0/1/2: ours 0.00/0.00/0.00 vs unconditional 0.00/0.00/0.00, retrieval 0.04/0.08/0.04,
  blend 0.08/0.08/0.21, attribute mean image 0.33/0.33/0.33; judge weather on real renders
  0.99-1.00. 26 s CPU alone for seed 0 (was 28 s), 30-32 s with three runs sharing cores.

The test checks the plumbing, the judge's weather head, and that the decision is the honest
one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.vision_language.mmmrs.pipeline import demo


@pytest.mark.slow
def test_demo_quick_reports_every_baseline_and_the_honest_decision(tmp_path: Path) -> None:
    r = demo(tmp_path, quick=True, seed=0)
    assert (tmp_path / "mmmrs.png").is_file()
    saved = json.loads((tmp_path / "mmmrs.json").read_text())
    assert saved["primary"] == "joint_acc_held_out"
    assert set(r.baselines) == {"unconditional_same_unet", "nearest_prompt_retrieval",
                                "retrieval_blend", "attribute_mean_image"}
    real = r.details["judge_on_real_test_renders"]
    chance = r.details["chance_joint"]
    # the frozen judge recognises the weather of real renders well above chance (0.25)
    assert real["weather_acc"] >= 0.8
    assert 0.0 <= real["gsd_balanced_acc"] <= 1.0 and chance == pytest.approx(1 / 12)
    # retrieval returns real renders of seen prompts: it must score like real data there
    ret = r.baselines["nearest_prompt_retrieval"]
    assert ret["weather_acc_seen"] >= 0.8
    # honest decision: the tiny generator does not beat the strongest baseline
    assert not r.beats_baseline
    assert r.metrics["joint_acc_held_out"] < max(b["joint_acc_held_out"]
                                                 for b in r.baselines.values()) + r.margin
