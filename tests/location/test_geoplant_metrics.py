"""Top-25 samples-F1 (Kaggle GLC24), recall@K, macro-AUC and the submission CSV, checked
against hand-worked values and scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from geoneurips.errors import InvalidInputError
from geoneurips.location.geoplant.pipeline import read_submission, write_submission
from geoneurips.metrics.multilabel import (
    macro_auc,
    recall_at_k,
    samples_f1_at_k,
    topk_binarize,
    topk_indices,
)


def test_hand_worked_f1_and_recall() -> None:
    # 2 surveys, 5 species, k = 2.
    scores = np.array([[0.9, 0.8, 0.1, 0.0, 0.3], [0.1, 0.2, 0.3, 0.4, 0.5]])
    y = np.array([[1, 0, 1, 0, 0], [0, 0, 0, 1, 1]])
    # survey 0: top-2 = {0, 1}: TP 1, FP 1, FN 1 -> 1 / (1 + 1) = 0.5
    # survey 1: top-2 = {4, 3}: TP 2, FP 0, FN 0 -> 1.0
    assert samples_f1_at_k(scores, y, k=2) == pytest.approx(0.75)
    assert recall_at_k(scores, y, k=2) == pytest.approx((0.5 + 1.0) / 2)
    # k = 3, survey 0: {0, 1, 4}: TP 1, FP 2, FN 1 -> 1 / (1 + 1.5) = 0.4
    # survey 1: {4, 3, 2}: TP 2, FP 1 -> 2 / 2.5 = 0.8
    assert samples_f1_at_k(scores, y, k=3) == pytest.approx(0.6)
    assert topk_indices(np.array([[1.0, 1.0, 0.0]]), 2).tolist() == [[0, 1]]  # stable ties


def test_f1_matches_sklearn_samples_average() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((60, 80)) < 0.15).astype(int)
    y[0] = 0  # a survey without species: F1 0, as sklearn with zero_division=0
    scores = rng.normal(size=y.shape) + 1.5 * y
    pred = topk_binarize(scores, 25)
    assert pred.sum(1).tolist() == [25] * 60
    ref = f1_score(y, pred, average="samples", zero_division=0)
    assert samples_f1_at_k(scores, y, 25) == pytest.approx(ref, abs=1e-12)
    keep = y.sum(1) > 0
    hand = ((pred & y).sum(1)[keep] / y.sum(1)[keep]).mean()
    assert recall_at_k(scores, y, 25) == pytest.approx(hand)


def test_macro_auc_matches_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random((50, 12)) < 0.3).astype(int)
    y[:, 3] = 0  # never present: no AUC
    y[:, 7] = 1  # always present: no AUC
    scores = np.round(rng.normal(size=y.shape) + y, 1)  # rounded: ties exercised
    valid = [j for j in range(12) if 0 < y[:, j].sum() < 50]
    ref = np.mean([roc_auc_score(y[:, j], scores[:, j]) for j in valid])
    assert macro_auc(scores, y) == pytest.approx(ref, abs=1e-12)
    with pytest.raises(InvalidInputError, match="macro-AUC"):
        macro_auc(scores[:, [3, 7]], y[:, [3, 7]])


def test_metric_bad_inputs() -> None:
    with pytest.raises(InvalidInputError, match="same shape"):
        samples_f1_at_k(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(InvalidInputError, match="k must be"):
        samples_f1_at_k(np.zeros((2, 3)), np.zeros((2, 3)), k=25)
    with pytest.raises(InvalidInputError, match="0 and 1"):
        recall_at_k(np.zeros((1, 3)), np.full((1, 3), 2))


def test_submission_round_trip(tmp_path: Path) -> None:
    scores = np.array([[0.1, 0.9, 0.5], [0.7, 0.2, 0.8]])
    out = write_submission(tmp_path / "sub.csv", [1322301, 42], scores, k=2,
                           species_ids=[100, 205, 11254])
    lines = out.read_text().splitlines()
    assert lines == ["surveyId,predictions", "1322301,205 11254", "42,11254 100"]
    assert read_submission(out) == {1322301: [205, 11254], 42: [11254, 100]}
    with pytest.raises(InvalidInputError):
        write_submission(tmp_path / "bad.csv", [1], scores)
    assert not (tmp_path / "bad.csv").exists()
