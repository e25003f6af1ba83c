"""The debLoRA demo (quick, seed 0) against every baseline, with the honest outcome.

Measured tail macro-F1 (published group computation), synthetic long-tailed set, balanced
unseen test set (seed + 1000), quick / full:

{MEASURED}

The paper's configuration (alpha 0.5, cross-entropy probe) beats plain LoRA's probe but not
the strongest cheap alternative on the same features, so ``beats_baseline`` is false and the
system stays ``partial``; this test asserts that outcome, so it fails (and must be revisited)
if the method starts to beat the strongest baseline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.learning.deblora.pipeline import demo

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
    # it learns: every arm is far above chance (1/15 accuracy), LoRA adds to the frozen
    # backbone, debLoRA's features are not worse than plain LoRA's on the tail
    assert res.metrics["accuracy"] > 0.5
    frozen = res.ablations["no_lora_frozen_backbone"]
    assert res.baselines["lora"]["accuracy"] > frozen["accuracy"] + 0.05
    assert res.metrics["tail_f1"] > res.baselines["lora"]["tail_f1"] - 0.02
    # the honest outcome: the strongest baseline keeps the tail macro-F1 lead
    assert not res.beats_baseline
    assert res.metrics["tail_f1"] < res.baseline["tail_f1"]
