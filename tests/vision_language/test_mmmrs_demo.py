"""MMM-RS demo: prompt following of a tiny text-to-image diffusion model, judged by a frozen
classifier trained on real renders, against retrieval, mean-image and unconditional
baselines (all given the same training pairs).

Measured outcome (honest; the system stays ``partial``): the judge now sees GSD, and the
generator follows both words on held-out prompt combinations with 3x the training, but not
in the ~60 s CPU budget of the full demo.

Judge (feature-spectrum logistic regression, :mod:`geoneurips.vision_language.mmmrs.judge`)
on real test renders of other scenes: balanced GSD accuracy 0.72/0.74/0.67 (dev seeds
10/11/12), 0.69/0.72/0.69 (seeds 0/1/2), weather 1.00 (the old CNN judge: GSD 0.30-0.36,
chance 0.33). Joint accuracy of real renders (the ceiling): 0.67-0.74. Chance: 0.083.

Joint accuracy on the three held-out (GSD, weather) combinations, 48 images per method:

- FULL (default; 400 steps, UNet 16/32 + text-time embedding, unit-variance pixels, noise
  offset 0.1, lr 5e-3; chosen on dev seeds 10/11/12: ours 0.27/0.17/0.15 vs retrieval
  blend 0.17/0.15/0.10, 53-60 s CPU). Seeds 0/1/2: ours 0.10/0.15/0.04; unconditional
  branch 0.04/0.02/0.00; nearest-prompt retrieval 0.08/0.10/0.10; retrieval blend
  0.19/0.15/0.21; attribute mean image 0.33/0.33/0.00 (strongest on 0 and 1). Decision:
  False on all three. 52.7/52.7/56.2 s CPU (was 109 s). Confirmation seeds 3/4: ours
  0.15/0.31 vs retrieval blend 0.12/0.15, attribute mean image 0.33/0.00, unconditional
  0.02/0.02: False/True.
- LONG (``settings=LONG``: 1200 steps, later-timestep bias 4, noise offset 0.2; 122-136 s
  CPU): dev seeds 10/11/12: ours 0.52/0.31/0.65 vs strongest baseline 0.17/0.15/0.10.
  Seeds 0/1/2: ours 0.46/0.23/0.52; unconditional branch 0.02/0.00/0.00; retrieval
  0.08/0.10/0.10; retrieval blend 0.19/0.15/0.21; attribute mean image 0.33/0.33/0.00
  (it gets one held-out combination right when the judge reads its smooth image as the
  finest GSD). Decision: True/False/True (leads +0.13/-0.10/+0.31). Weather on held-out
  prompts 0.94/0.67/0.67, on seen prompts 1.00/0.94/1.00 (unconditional 0.28/0.33/0.28);
  judge-feature FD to real held-out renders 4.1/6.6/7.8 vs unconditional 14.9/13.1/21.9.
  Confirmation seeds 3/4: ours 0.08/0.33 vs attribute mean image 0.33/0.00, retrieval
  blend 0.12/0.15: False/True (146-151 s CPU). Not stable across seeds.
- quick (100 steps, 20 scenes), seed 0: ours 0.21 vs attribute mean image 0.33,
  retrieval blend 0.21, retrieval 0.08, unconditional 0.12; 20.6 s CPU.

Diagnosis (dev seed 11): at 400 steps the samples' brightness ignores the prompt (night
images have mean 0.46 vs 0.05 real, the SD-schedule "mean" problem that noise offset
addresses only with more training); at 1000-1200 steps weather is followed (0.93-0.97) and
GSD starts (0.51 at 1200 steps x 32, chance at 1000 x 16).

The test runs the quick demo: plumbing, the judge sees GSD and weather on real renders,
retrieval scores like real data on seen prompts, the feature-space FD/IS are reported, and
the decision is the honest one.
"""

from __future__ import annotations

import json
import math
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
    # the frozen judge recognises weather and (unlike the old judge) GSD on real renders
    assert real["weather_acc"] >= 0.8
    assert real["gsd_balanced_acc"] >= 0.5 and chance == pytest.approx(1 / 12)
    # retrieval returns real renders of seen prompts: it must score like real data there
    ret = r.baselines["nearest_prompt_retrieval"]
    assert ret["weather_acc_seen"] >= 0.8
    # the judge-feature Frechet distance: real renders (retrieval) are far closer to the
    # real held-out renders than the mean image
    for m in (r.metrics, *r.baselines.values()):
        assert math.isfinite(m["judge_fd_held_out"]) and m["judge_is_held_out"] >= 1.0
    assert ret["judge_fd_held_out"] < r.baselines["attribute_mean_image"]["judge_fd_held_out"]
    # honest decision: in the quick budget the tiny generator does not beat the strongest
    assert not r.beats_baseline
    assert r.metrics["joint_acc_held_out"] < max(b["joint_acc_held_out"]
                                                 for b in r.baselines.values()) + r.margin
