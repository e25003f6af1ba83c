"""IDEE metrics against scikit-learn and hand values; majority voting over windows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, jaccard_score, precision_score, recall_score

from geoneurips.forecasting.idee.metrics import best_threshold, majority_vote, scores


def test_scores_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.2
    p = rng.random(500) < 0.3
    s = scores(p, y)
    assert s["precision"] == pytest.approx(precision_score(y, p))
    assert s["recall"] == pytest.approx(recall_score(y, p))
    assert s["f1"] == pytest.approx(f1_score(y, p))
    assert s["iou"] == pytest.approx(jaccard_score(y, p))


def test_majority_vote_hand_values() -> None:
    # three windows of length 2 over a series of 4 steps, one variable, one pixel
    w = np.array([[1, 1], [0, 1], [0, 0]], np.uint8).reshape(3, 1, 2, 1, 1)
    vote, cov = majority_vote(w, np.array([1, 2, 3]), 5)
    # t0: [1] -> 1; t1: [1, 0] -> 0.5 -> 1; t2: [1, 0] -> 1; t3: [0] -> 0; t4: uncovered
    assert vote[0, :, 0, 0].tolist() == [1, 1, 1, 0, 0]
    assert cov.tolist() == [True, True, True, True, False]
    w2 = np.array([[0, 1], [0, 0], [0, 0]], np.uint8).reshape(3, 1, 2, 1, 1)
    assert majority_vote(w2, np.array([1, 2, 3]), 4)[0][0, :, 0, 0].tolist() == [0, 1, 0, 0]


def test_best_threshold_separates() -> None:
    y = np.r_[np.zeros(90), np.ones(10)]
    s = np.r_[np.linspace(0, 1, 90), np.linspace(2, 3, 10)]
    t = best_threshold(s, y)
    assert 1.0 <= t < 2.0
