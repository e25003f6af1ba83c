"""The debLoRA demo (quick, seed 0) against every baseline, with the honest outcome.

Synthetic long-tailed set (head classes one size step from the tail classes of their shape:
the paper's premise), balanced unseen test set (seed + 1000); tail macro-F1 with the
published group computation. Recipe chosen on development seeds 10-12 (the paper's
settings: K=32, alpha 0.5, weighted centre, cross-entropy probe; the balanced centre and the
imbalance alpha did not help there); measured on seeds 0-2:

====== ==== ======= ========== ================================================ ===============
mode   seed debLoRA plain LoRA strongest baseline                               debLoRA+LA probe
====== ==== ======= ========== ================================================ ===============
quick  0    0.228   0.249      0.392 re-weighted LoRA + logit-adjusted probe    0.281
quick  1    0.296   0.280      0.351 re-weighted LoRA + logit-adjusted probe    0.311
quick  2    0.385   0.419      0.503 LoRA + class-balanced probe                0.510
full   0    0.310   0.337      0.402 LoRA + logit-adjusted probe                0.412
full   1    0.324   0.323      0.368 LoRA + class-balanced probe                0.358
full   2    0.403   0.404      0.466 LoRA + logit-adjusted probe                0.531
====== ==== ======= ========== ================================================ ===============

Confirmation seeds 3, 4 (full): debLoRA 0.359 / 0.328, strongest baseline 0.432 / 0.351
(re-weighted LoRA + logit-adjusted probe).

Like for like, debLoRA + logit-adjusted probe vs LoRA + logit-adjusted probe (full): +0.010 /
-0.009 / +0.065 (dev seeds 10-12: -0.015 / -0.005 / -0.042); debLoRA on the re-weighted LoRA
+ logit-adjusted probe vs the same without debLoRA: -0.006 / +0.039 / 0.000 (dev: -0.029 /
+0.012 / -0.020). The paper's configuration does not beat the strongest baseline, so
``beats_baseline`` is false and the system stays ``partial``; this test asserts that outcome,
so it fails (and must be revisited) if the method starts to beat the strongest baseline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.learning.deblora.pipeline import DEMO_MARGIN, demo

BASELINES = {
    "lora",
    "lora_reweighted",
    "lora_logit_adjusted_probe",
    "lora_balanced_probe",
    "lora_reweighted_logit_adjusted_probe",
}


@pytest.mark.slow
def test_demo_quick(tmp_path: Path) -> None:
    res = demo(tmp_path, quick=True, seed=0)
    assert (tmp_path / "deblora.png").is_file()
    saved = json.loads((tmp_path / "deblora.json").read_text())
    assert saved["primary"] == "tail_f1" and set(saved["baselines"]) == BASELINES
    tail = {n: b["tail_f1"] for n, b in res.baselines.items()}
    assert res.strongest_baseline == max(tail, key=lambda n: tail[n])
    # it learns: far above chance (1/15 accuracy; measured 0.66), LoRA adds to the frozen
    # backbone (accuracy 0.67 vs 0.63), debLoRA's tail F1 stays near plain LoRA's (0.228 vs
    # 0.249; quick seeds 1, 2: +0.016, -0.034)
    assert res.metrics["accuracy"] > 0.5
    frozen = res.ablations["no_lora_frozen_backbone"]
    assert res.baselines["lora"]["accuracy"] > frozen["accuracy"] + 0.02
    assert res.metrics["tail_f1"] > res.baselines["lora"]["tail_f1"] - 0.06
    premise = saved["details"]["premise_tail_features_in_other_clusters"]
    assert premise["own_class_share_of_tail_clusters"] < 0.6  # measured 0.30
    # the honest outcome: the strongest baseline keeps the tail macro-F1 lead
    assert not res.beats_baseline
    assert res.metrics["tail_f1"] < res.baseline["tail_f1"] + DEMO_MARGIN
