"""Multi-label ranking metrics (species-assemblage prediction, GeoLifeCLEF / GeoPlant).

Conventions of GeoPlant (Picek et al., arXiv 2408.13928, Sec. 4 "Evaluation") and the
GeoLifeCLEF 2024 Kaggle competition:

- :func:`samples_f1_at_k`: each survey gets exactly its ``k`` highest-scoring species
  (``k = 25`` on Kaggle); ``F1_i = TP_i / (TP_i + (FP_i + FN_i) / 2)``, averaged over surveys
  (the "samples" average). A survey with no true species and no prediction would be 0/0;
  with ``k >= 1`` predictions every survey has at least one, so the ratio is always defined
  unless ``k = 0`` (refused).
- :func:`recall_at_k`: mean over surveys of ``|top-k ∩ true| / |true|`` (surveys without any
  true species are left out, as their recall is undefined).
- :func:`macro_auc`: ROC-AUC per species, averaged over the species that have both a
  present and an absent survey in the evaluated set (the others have no AUC).

Every function takes ``scores`` ``(N, C)`` (any monotone score: logits or probabilities)
and ``targets`` ``(N, C)`` in {0, 1}. Numpy only.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geoneurips.errors import InvalidInputError

__all__ = ["macro_auc", "recall_at_k", "samples_f1_at_k", "topk_binarize", "topk_indices"]


def _check(scores: ArrayLike, targets: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(targets)
    if s.ndim != 2 or s.shape != t.shape:
        raise InvalidInputError(
            f"scores and targets must be (N, C) arrays of the same shape, got {s.shape} "
            f"and {t.shape}"
        )
    if t.size and not np.isin(t, (0, 1)).all():
        raise InvalidInputError("targets must hold only 0 and 1 (multi-hot species labels)")
    if np.isnan(s).any():
        raise InvalidInputError("scores contain NaN")
    return s, t.astype(bool)


def topk_indices(scores: ArrayLike, k: int) -> NDArray[np.int64]:
    """Column indices of the ``k`` highest scores of every row, best first.

    Ties are broken by the lower column index (a stable sort of ``-scores``), so the result
    is deterministic.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise InvalidInputError(f"scores must be (N, C), got shape {s.shape}")
    if not 1 <= k <= s.shape[1]:
        raise InvalidInputError(f"k must be in [1, {s.shape[1]}] (number of classes), got {k}")
    order = np.argsort(-s, axis=1, kind="stable")
    return order[:, :k].astype(np.int64)


def topk_binarize(scores: ArrayLike, k: int) -> NDArray[np.int64]:
    """``(N, C)`` 0/1 matrix with exactly ``k`` ones per row: the top-``k`` predictions."""
    idx = topk_indices(scores, k)
    out = np.zeros(np.asarray(scores).shape, dtype=np.int64)
    np.put_along_axis(out, idx, 1, axis=1)
    return out


def samples_f1_at_k(scores: ArrayLike, targets: ArrayLike, k: int = 25) -> float:
    """The Kaggle GeoLifeCLEF 2024 metric: mean over surveys of F1 of the top-``k`` set.

    ``F1_i = TP_i / (TP_i + 0.5 (FP_i + FN_i))`` with the ``k`` best species predicted.
    """
    s, t = _check(scores, targets)
    if len(s) == 0:
        raise InvalidInputError("no survey to evaluate")
    pred = topk_binarize(s, k).astype(bool)
    tp = (pred & t).sum(1)
    fp = (pred & ~t).sum(1)
    fn = (~pred & t).sum(1)
    return float(np.mean(tp / (tp + 0.5 * (fp + fn))))


def recall_at_k(scores: ArrayLike, targets: ArrayLike, k: int = 25) -> float:
    """Mean over surveys (with at least one species) of the share of species in the top-k."""
    s, t = _check(scores, targets)
    keep = t.sum(1) > 0
    if not keep.any():
        raise InvalidInputError("no survey with a present species: recall is undefined")
    pred = topk_binarize(s, k).astype(bool)
    hits = (pred & t).sum(1)[keep]
    return float(np.mean(hits / t.sum(1)[keep]))


def _auc_binary(score: NDArray[np.float64], label: NDArray[np.bool_]) -> float:
    """ROC-AUC by the Mann-Whitney U statistic with mid-ranks for ties."""
    from scipy.stats import rankdata

    ranks = rankdata(score)  # average ranks for ties
    n_pos = int(label.sum())
    n_neg = len(label) - n_pos
    u = ranks[label].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def macro_auc(scores: ArrayLike, targets: ArrayLike) -> float:
    """Mean per-species ROC-AUC over the species with both classes among the surveys."""
    s, t = _check(scores, targets)
    npos = t.sum(0)
    valid = np.flatnonzero((npos > 0) & (npos < len(t)))
    if valid.size == 0:
        raise InvalidInputError("no species is both present and absent: macro-AUC undefined")
    return float(np.mean([_auc_binary(s[:, j], t[:, j]) for j in valid]))
