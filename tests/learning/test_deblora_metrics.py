"""debLoRA's macro-F1 and per-group F1 against scikit-learn and hand-worked values."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from geoneurips.learning.deblora.metrics import group_macro_f1, grouped_scores, macro_f1


def test_macro_f1_matches_sklearn_random() -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(1, 60))
        t = rng.integers(0, 8, n)
        p = np.where(rng.random(n) < 0.5, t, rng.integers(0, 10, n))
        assert abs(macro_f1(t, p) - f1_score(t, p, average="macro", zero_division=0)) < 1e-12
        group = rng.choice(8, 3, replace=False)
        m = np.isin(t, group)
        if m.any():  # the published computation, done with scikit-learn
            ref = f1_score(t[m], p[m], average="macro", zero_division=0)
            assert abs(group_macro_f1(t, p, group) - ref) < 1e-12


def test_group_f1_hand_values() -> None:
    """Tail = {2, 3}. Tail samples: true 2,2,3 predicted 2,0,3. Labels in the subset:
    {0, 2, 3}: F1(0) = 0 (one false positive), F1(2) = 2/3 (tp 1, fn 1), F1(3) = 1.
    The published group F1 is their mean, 5/9 -- the head label 0 counts, as in the paper's
    script -- while averaging only over the group's own classes would give 5/6."""
    t = np.array([0, 0, 1, 2, 2, 3])
    p = np.array([0, 1, 1, 2, 0, 3])
    assert abs(group_macro_f1(t, p, [2, 3]) - 5 / 9) < 1e-12
    s = grouped_scores(t, p, {"head": [0, 1], "tail": [2, 3]})
    # head subset: true 0,0,1 predicted 0,1,1 -> F1(0) = 2/3, F1(1) = 2/3
    assert abs(s["head_f1"] - 2 / 3) < 1e-12
    assert abs(s["accuracy"] - 4 / 6) < 1e-12
    assert abs(s["macro_f1"] - f1_score(t, p, average="macro")) < 1e-12
    assert macro_f1([], []) == 0.0
