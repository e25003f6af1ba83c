"""Cross-checks of geoneurips.metrics.ranking (label_rank, topk_accuracy, MRR)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import rankdata
from sklearn.metrics import label_ranking_average_precision_score, top_k_accuracy_score
from torchmetrics.functional.classification import multiclass_accuracy

from geoneurips.errors import InvalidInputError
from geoneurips.metrics.ranking import label_rank, mean_reciprocal_rank, topk_accuracy


def _random(n: int, c: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, c)), rng.integers(0, c, n)


def test_label_rank_hand_values_with_ties() -> None:
    scores = np.array(
        [
            [0.1, 0.5, 0.4],  # true 1: best -> 1
            [0.1, 0.5, 0.4],  # true 0: worst -> 3
            [0.3, 0.3, 0.4],  # true 1: tied with 0, one strictly greater -> 2
            [0.2, 0.2, 0.2],  # all tied -> 1
        ]
    )
    labels = np.array([1, 0, 1, 2])
    np.testing.assert_array_equal(label_rank(scores, labels), [1, 3, 2, 1])
    assert topk_accuracy(scores, labels, ks=(1, 2)) == {"top1": 0.5, "top2": 0.75}
    assert mean_reciprocal_rank(scores, labels) == pytest.approx((1 + 1 / 3 + 1 / 2 + 1) / 4)


def test_label_rank_matches_scipy_rankdata_min() -> None:
    scores, labels = _random(300, 17)
    scores = np.round(scores, 1)  # many ties
    ref = rankdata(-scores, method="min", axis=1)[np.arange(300), labels]
    np.testing.assert_array_equal(label_rank(scores, labels), ref)
    np.testing.assert_array_equal(label_rank(scores, labels, chunk_size=7), ref)


def test_topk_matches_sklearn_and_torchmetrics() -> None:
    scores, labels = _random(500, 20, seed=1)
    ours = topk_accuracy(scores, labels)
    assert list(ours) == ["top1", "top3", "top5", "top10"]
    for k in (1, 3, 5, 10):
        ref = top_k_accuracy_score(labels, scores, k=k, labels=np.arange(20))
        assert ours[f"top{k}"] == pytest.approx(ref)
        tm = multiclass_accuracy(
            torch.from_numpy(scores), torch.from_numpy(labels), 20, top_k=k, average="micro"
        )
        assert ours[f"top{k}"] == pytest.approx(float(tm))
    assert topk_accuracy(scores, labels, ks=(20, 50)) == {"top20": 1.0, "top50": 1.0}


def test_mrr_matches_sklearn_lrap() -> None:
    scores, labels = _random(400, 30, seed=2)
    onehot = np.eye(30, dtype=int)[labels]
    ref = label_ranking_average_precision_score(onehot, scores)
    assert mean_reciprocal_rank(scores, labels) == pytest.approx(ref)
    assert mean_reciprocal_rank(torch.from_numpy(scores), torch.from_numpy(labels)) == (
        pytest.approx(ref)
    )


def test_label_rank_large_chunked_and_minus_inf() -> None:
    rng = np.random.default_rng(3)
    scores = rng.random((20000, 500), dtype=np.float32)
    labels = rng.integers(0, 500, 20000)
    ranks = label_rank(scores, labels)
    ref = 1 + (scores > scores[np.arange(20000), labels][:, None]).sum(1)
    np.testing.assert_array_equal(ranks, ref)
    logp = np.array([[-np.inf, np.log(0.2), np.log(0.8)]])  # -inf is a legal score
    np.testing.assert_array_equal(label_rank(logp, [0]), [3])


def test_ranking_errors() -> None:
    scores, labels = _random(5, 4)
    with pytest.raises(InvalidInputError, match="N, C"):
        label_rank(scores[0], labels)
    with pytest.raises(InvalidInputError, match="shape"):
        label_rank(scores, labels[:3])
    with pytest.raises(InvalidInputError, match=r"\[0, 4\)"):
        label_rank(scores, np.array([0, 1, 2, 3, 4]))
    with pytest.raises(InvalidInputError, match="integers"):
        label_rank(scores, labels + 0.5)
    bad = scores.copy()
    bad[2, 1] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        label_rank(bad, labels)
    with pytest.raises(InvalidInputError, match="positive"):
        topk_accuracy(scores, labels, ks=(0,))
    with pytest.raises(InvalidInputError):
        label_rank(np.zeros((0, 4)), np.zeros(0, int))
