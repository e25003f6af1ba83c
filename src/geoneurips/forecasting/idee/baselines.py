"""IDEE baselines (paper Sec. 5, Table 1): Integrated Gradients on a plain extreme classifier,
and one-class detectors (Isolation Forest, one-class SVM; scikit-learn) on the drivers, plus
the z-score threshold on the climatology-normalised variables (what a practitioner tries
first). Every baseline sees the same climatology-normalised cube as the model."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

__all__ = ["cell_features", "detector_scores", "integrated_gradients", "zscore_scores"]


def integrated_gradients(
    f: nn.Module, x: Tensor, baseline: Tensor | None = None, steps: int = 16
) -> Tensor:
    """Integrated Gradients (Sundararajan et al. 2017) of ``f(x).sum()`` per sample.

    ``attr = (x - x0) * mean_k grad f(x0 + (k - 0.5) / m (x - x0))`` (midpoint Riemann sum,
    ``m = steps``), so ``attr.sum() ~ f(x) - f(x0)`` (completeness). ``x0`` defaults to zeros,
    the climatological median after normalisation.
    """
    x0 = torch.zeros_like(x) if baseline is None else baseline
    grads = torch.zeros_like(x)
    for k in range(steps):
        a = (k + 0.5) / steps
        xi = (x0 + a * (x - x0)).detach().requires_grad_(True)
        out = f(xi).sum()
        (g,) = torch.autograd.grad(out, xi)
        grads += g
    return (x - x0) * grads / steps


def cell_features(z: NDArray[Any], half: int = 2) -> NDArray[np.float32]:
    """Per cell of one variable ``z (T, H, W)``: its values over ``t - half .. t + half``
    (edge-padded) -> ``(T, H, W, 2 half + 1)``."""
    pad = np.pad(z, ((half, half), (0, 0), (0, 0)), mode="edge")
    t = z.shape[0]
    return np.stack([pad[k : k + t] for k in range(2 * half + 1)], axis=-1).astype(np.float32)


def zscore_scores(z: NDArray[Any]) -> NDArray[np.float64]:
    """``|z|``: the anomaly score of the climatology-normalised value, per cell."""
    return np.abs(np.asarray(z, np.float64))


def detector_scores(
    z_train: NDArray[Any],
    z_eval: NDArray[Any],
    kind: Literal["iforest", "ocsvm"],
    n_fit: int = 3000,
    seed: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Fit one detector per variable on training cells (temporal-context features of
    :func:`cell_features`, ``n_fit`` random cells) and score every cell.

    Args:
        z_train, z_eval: ``(V, T, H, W)`` climatology-normalised cubes.
        kind: ``iforest`` (100 trees) or ``ocsvm`` (RBF, ``nu = 0.05``, ``gamma="scale"``).

    Returns:
        anomaly scores (higher = more anomalous) for the training and the evaluation cube.
    """
    from sklearn.ensemble import IsolationForest
    from sklearn.svm import OneClassSVM

    rng = np.random.default_rng(seed)
    out_tr = np.zeros(z_train.shape, np.float64)
    out_ev = np.zeros(z_eval.shape, np.float64)
    for v in range(z_train.shape[0]):
        ftr = cell_features(z_train[v])
        fev = cell_features(z_eval[v])
        flat_tr = ftr.reshape(-1, ftr.shape[-1])
        idx = rng.choice(len(flat_tr), size=min(n_fit, len(flat_tr)), replace=False)
        det: Any
        if kind == "iforest":
            det = IsolationForest(n_estimators=100, random_state=seed)
        else:
            det = OneClassSVM(kernel="rbf", nu=0.05, gamma="scale")
        det.fit(flat_tr[idx])
        out_tr[v] = -det.decision_function(flat_tr).reshape(z_train.shape[1:])
        out_ev[v] = -det.decision_function(fev.reshape(-1, fev.shape[-1])).reshape(z_eval.shape[1:])
    return out_tr, out_ev
