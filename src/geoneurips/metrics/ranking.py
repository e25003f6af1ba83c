"""Ranking metrics of classification scores: ``label_rank``, ``topk_accuracy``, MRR.

These are TorchSpatial's LocBench metrics (``get_label_rank``: Top-1/3/5/10 accuracy and
mean reciprocal rank). Conventions:

- ``scores`` is ``(N, C)``: one row per sample, one column per class; higher is better
  (probabilities, logits or log-probabilities all work; ``-inf`` is allowed).
- ``labels`` is ``(N,)`` of integer class indices in ``[0, C)``.
- The rank of the true label is 1-based and counts the classes with a **strictly greater**
  score: ``rank = 1 + #{c : scores[i, c] > scores[i, labels[i]]}``. Ties are therefore
  resolved optimistically (a true class tied with others gets the best rank of the tie),
  like ``scipy.stats.rankdata(-scores, method="min")``.
- NaN scores are rejected (a NaN would compare false and silently improve the rank).

Raises ``InvalidInputError`` on bad shapes, NaN scores, labels outside ``[0, C)``, an empty
batch or a non-positive ``k``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError

__all__ = ["label_rank", "mean_reciprocal_rank", "topk_accuracy"]

_CHUNK_ELEMENTS = 1 << 22  # about 4M comparisons (4 MB of booleans) per chunk


def label_rank(
    scores: npt.ArrayLike, labels: npt.ArrayLike, chunk_size: int | None = None
) -> npt.NDArray[np.int64]:
    """1-based rank of the true label in each row of ``scores``.

    Args:
        scores: ``(N, C)`` scores, higher is better.
        labels: ``(N,)`` integer labels in ``[0, C)``.
        chunk_size: rows processed at a time (default: about 4M score entries per chunk),
            so N=100k, C=500 stays in a few MB of extra memory.

    Returns:
        ``(N,)`` int64 ranks in ``[1, C]``; ties counted as ``1 + #strictly greater``.
    """
    s = np.asarray(scores)
    y = np.asarray(labels)
    if s.ndim != 2:
        raise InvalidInputError(f"scores must be (N, C), got shape {s.shape}")
    n, c = s.shape
    if y.shape != (n,):
        raise InvalidInputError(f"labels must have shape ({n},) to match scores, got {y.shape}")
    if n == 0 or c == 0:
        raise InvalidInputError(f"scores must hold at least one sample and class, got {s.shape}")
    if not np.issubdtype(s.dtype, np.number) or np.iscomplexobj(s):
        raise InvalidInputError(f"scores must be real numbers, got dtype {s.dtype}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise InvalidInputError("labels must be integers")
    elif y.dtype.kind not in "iu":
        raise InvalidInputError(f"labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= c:
        raise InvalidInputError(
            f"labels must lie in [0, {c}); found [{int(y.min())}, {int(y.max())}]"
        )
    if np.issubdtype(s.dtype, np.floating) and np.isnan(s).any():
        raise InvalidInputError("scores contain NaN")
    step = chunk_size if chunk_size is not None else max(1, _CHUNK_ELEMENTS // c)
    if step < 1:
        raise InvalidInputError(f"chunk_size must be >= 1, got {chunk_size}")
    ranks = np.empty(n, dtype=np.int64)
    for start in range(0, n, step):
        block = s[start : start + step]
        yb = y[start : start + step]
        true = block[np.arange(block.shape[0]), yb][:, None]
        ranks[start : start + step] = 1 + np.count_nonzero(block > true, axis=1)
    return ranks


def topk_accuracy(
    scores: npt.ArrayLike, labels: npt.ArrayLike, ks: Sequence[int] = (1, 3, 5, 10)
) -> dict[str, float]:
    """Fraction of samples whose true label ranks within the top ``k``, for each ``k``.

    Returns ``{"top1": ..., "top3": ..., ...}`` (fractions in ``[0, 1]``, not percents),
    keys in the order of ``ks``. A ``k >= C`` gives 1.0. Ties as in :func:`label_rank`.
    """
    ks = list(ks)
    for k in ks:
        if int(k) != k or k < 1:
            raise InvalidInputError(f"every k must be a positive integer, got {k}")
    ranks = label_rank(scores, labels)
    return {f"top{int(k)}": float(np.mean(ranks <= k)) for k in ks}


def mean_reciprocal_rank(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Mean of ``1 / rank`` over samples (rank from :func:`label_rank`), in ``(0, 1]``."""
    ranks = label_rank(scores, labels)
    return float(np.mean(1.0 / ranks))
