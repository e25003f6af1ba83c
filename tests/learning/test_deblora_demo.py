"""The debLoRA demo (quick, seed 0) against every baseline, with the honest outcome.

Measured tail macro-F1 (published group computation), synthetic long-tailed set, balanced
unseen test set (seed + 1000), quick / full:

====== ====== ======= ================ ==========================================
mode   seed   debLoRA plain LoRA       strongest baseline (tail macro-F1)
====== ====== ======= ================ ==========================================
quick  0      0.367   0.343            0.391 (LoRA features, class-balanced probe)
quick  1      0.278   0.282            0.364 (re-weighted LoRA, re-weighted probe)
quick  2      0.396   0.402            0.506 (re-weighted LoRA, re-weighted probe)
full   0      0.406   0.389            0.450 (re-weighted LoRA, logit-adjusted probe)
full   1      0.365   0.375            0.435 (re-weighted LoRA, logit-adjusted probe)
full   2      0.390   0.422            0.551 (re-weighted LoRA, logit-adjusted probe)
====== ====== ======= ================ ==========================================

The paper's configuration (alpha 0.5, cross-entropy probe) beats plain LoRA's probe but not
the strongest cheap alternative on the same features, so ``beats_baseline`` is false and the
system stays ``partial``; this test asserts that outcome, so it fails (and must be revisited)
if the method starts to beat the strongest baseline.
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
    # it learns: far above chance (1/15 accuracy; measured 0.73), LoRA adds to the frozen
    # backbone (0.71 vs 0.63 accuracy), debLoRA's tail F1 is near plain LoRA's (0.367 vs 0.343)
    assert res.metrics["accuracy"] > 0.5
    frozen = res.ablations["no_lora_frozen_backbone"]
    assert res.baselines["lora"]["accuracy"] > frozen["accuracy"] + 0.05
    assert res.metrics["tail_f1"] > res.baselines["lora"]["tail_f1"] - 0.02
    # the honest outcome: the strongest baseline keeps the tail macro-F1 lead
    assert not res.beats_baseline
    assert res.metrics["tail_f1"] < res.baseline["tail_f1"] + DEMO_MARGIN
