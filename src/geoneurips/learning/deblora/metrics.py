"""debLoRA's evaluation (paper Sec. 5; repository ``scripts/dota_linprob_v0.2.py``).

* overall macro-F1: scikit-learn's ``f1_score(average="macro")``: the unweighted mean of the
  per-class F1 over every label present in ``y_true`` or ``y_pred`` (a class with no true and
  no predicted sample is not averaged; a class whose precision + recall is 0 scores 0);
* the F1 of a group (head / middle / tail) is computed **on the samples whose true label is
  in the group**, and macro-averages over every label present in that subset's ``y_true`` or
  ``y_pred``, so a head class predicted for a tail sample enters the tail average with F1 0.
  This is the published computation, quirk included.

Written in numpy here; the tests check it against scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["group_macro_f1", "grouped_scores", "macro_f1"]


def macro_f1(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray) -> float:
    """Macro-F1 over the labels present in ``y_true`` or ``y_pred`` (scikit-learn's default).

    Returns 0.0 for empty input (scikit-learn warns and returns 0.0 as well).
    """
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.size} vs {p.size}")
    if t.size == 0:
        return 0.0
    labels = np.union1d(t, p)
    f1s = []
    for c in labels:
        tp = float(np.sum((t == c) & (p == c)))
        fp = float(np.sum((t != c) & (p == c)))
        fn = float(np.sum((t == c) & (p != c)))
        denom = 2 * tp + fp + fn
        f1s.append(2 * tp / denom if denom > 0 else 0.0)
    return float(np.mean(f1s))


def group_macro_f1(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    group: Sequence[int],
) -> float:
    """The published per-group macro-F1: restrict to samples whose true label is in
    ``group``, then :func:`macro_f1` on that subset."""
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    m = np.isin(t, np.asarray(list(group), dtype=np.int64))
    return macro_f1(t[m], p[m])


def grouped_scores(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    groups: Mapping[str, Sequence[int]],
) -> dict[str, float]:
    """``{"macro_f1": overall, "<group>_f1": ...}`` plus the accuracy."""
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    out = {"macro_f1": macro_f1(t, p)}
    for name, cls in groups.items():
        out[f"{name}_f1"] = group_macro_f1(t, p, cls)
    out["accuracy"] = float(np.mean(t == p)) if t.size else 0.0
    return out
