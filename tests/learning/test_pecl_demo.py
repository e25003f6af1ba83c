"""The PECL demo (quick): DOTA layout round trip, every baseline, the ablation, the checkpoint.

Measured, full demo (48 training / 32 unseen test scenes, 5 % labels, VOC07 mAP@0.5), after
this session's changes, applied to every arm that pseudo-labels: calibration by
cross-fitting (two fold detectors score each other's held-out half of the sparse labels;
the candidates come from the detector trained on all sparse labels -- before, the
conformal baseline and PECL explored with a detector that saw only half), and PECL's value
model anchored on the detector score with the candidate's own clues (entropy, margin,
prototype similarity), one exploration round. Chosen on development seeds 10 / 11 / 12,
then seeds 0 / 1 / 2 measured, 3 / 4 as confirmation:

===========================  =====  =====  =====  =====  =====  =====  =====  =====
method                       s10    s11    s12    s0     s1     s2     s3     s4
===========================  =====  =====  =====  =====  =====  =====  =====  =====
pecl (1 round)               0.912  0.854  0.802  0.849  0.860  0.908  0.896  0.838
sparse_only                  0.786  0.763  0.612  0.761  0.733  0.757  0.789  0.690
fixed_threshold (0.5)        0.796  0.792  0.612  0.749  0.751  0.757  0.732  0.712
conformal_threshold_a0.3     0.854  0.875  0.783  0.868  0.817  0.870  0.880  0.789
conformal_threshold_a0.6     0.893  0.878  0.778  0.845  0.853  0.846  0.896  0.828
value_only (ablation)        0.880  0.882  0.765  0.866  0.875  0.843  0.867  0.826
===========================  =====  =====  =====  =====  =====  =====  =====  =====

Ranking AUC of PECL's value vs the detector score alone on the new candidates (against all
objects, diagnostics only): seeds 0-4 0.961 / 0.933 / 0.935 / 0.937 / 0.915 vs 0.953 / 0.921
/ 0.928 / 0.928 / 0.919 (before this session the value ranked worse: 0.81-0.86 vs
0.87-0.89).

Before this session (seeds 0 / 1 / 2): PECL 0.753 / 0.745 / 0.770, strongest baseline
0.790 / 0.751 / 0.771.

PECL does **not** beat the strongest baseline by the margin on every seed (-0.019 / +0.007
/ +0.038 on seeds 0 / 1 / 2, +0.000 / +0.010 on 3 / 4), so the system stays ``partial`` and this test asserts the
honest outcome: the demo runs through the real loading code, every method learns (mAP >
0.15; quick demo, seed 0: all arms 0.52-0.62), and ``beats_baseline`` is what
:func:`geoneurips.demo.decide` says about the reported numbers. No margin is asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.demo import decide
from geoneurips.learning.pecl.detector import load_detector
from geoneurips.learning.pecl.pipeline import DEMO_MARGIN, demo


@pytest.mark.slow
def test_quick_demo(tmp_path: Path) -> None:
    res = demo(tmp_path, quick=True, seed=0)
    assert (tmp_path / "pecl.png").is_file() and (tmp_path / "pecl.json").is_file()
    saved = json.loads((tmp_path / "pecl.json").read_text())
    assert saved["metrics"]["map"] == res.metrics["map"]
    assert set(res.baselines) == {"sparse_only", "fixed_threshold",
                                  "conformal_threshold_a0.3", "conformal_threshold_a0.6"}
    assert "value_only" in res.ablations
    for m in [res.metrics, *res.baselines.values(), *res.ablations.values()]:
        assert 0.15 < m["map"] <= 1.0, m
    d = decide(res.metrics, res.baselines, primary="map", margin=DEMO_MARGIN,
               directions=res.directions)
    assert res.beats_baseline == d.beats
    model, classes = load_detector(res.details["checkpoint"])
    assert len(classes) == 3
    # the evaluator's value must not rank the new candidates worse than the detector score
    # (it did before cross-fitting and the score anchor; quick seed 0: 0.858 vs 0.852)
    info = res.details["pecl_info"]
    assert info["round0_auc_value"] > info["round0_auc_score"] - 0.02, info
    stats = res.details["pseudo_labels_n_precision"]
    assert stats["pecl_final"][0] >= 0 and 0.0 <= stats["pecl_final"][1] <= 1.0
