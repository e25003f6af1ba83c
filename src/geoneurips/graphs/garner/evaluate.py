"""Garner's downstream tasks and metrics (public code ``src/task/static.py``).

- Road-function classification: segments labelled ``-100`` ("special use") are left out; a
  logistic-regression probe (``Linear(dim, C)``, Adam ``lr = 0.01``, 500 full-batch epochs,
  cross-entropy) is trained on each of ``runs`` random splits (``ShuffleSplit``, 30 runs,
  test size 0.2 as published) and scored on the test part with micro-F1 (= accuracy),
  macro-F1 and macro one-vs-rest AUROC on the softmax probabilities; means over the runs.
- Average-speed regression: segments with a recorded speed ``> 0``; a linear probe
  (``Linear(dim, 1)``, Adam ``lr = 0.01``, 1000 epochs, MSE) per split; MAE, RMSE, MAPE
  (``mean |y - ŷ| / max(|y|, 1.17e-6)``, a fraction as torchmetrics gives it), MARE
  (``sum |y - ŷ| / sum |y|``) and R².

Deliberate differences: every probe's input is standardised with the training part's mean
and standard deviation (the same for every method, so raw features and embeddings of
different scales get the same probe), and the speed probe's bias starts at the training
mean speed (from 0, 1000 Adam steps of 0.01 cannot reach a mean of ~40 km/h on
standardised inputs). Metrics are written in numpy here and cross-checked
against scikit-learn in the tests.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import nn

from ...errors import InvalidInputError
from ...metrics.multilabel import macro_auc
from ...metrics.regression import mae, r2_score, rmse

__all__ = [
    "classification_scores",
    "regression_scores",
    "road_function_eval",
    "shuffle_splits",
    "speed_eval",
]


def classification_scores(probs: ArrayLike, target: ArrayLike, n_classes: int) -> dict[str, float]:
    """micro-F1 (accuracy), macro-F1 over the ``n_classes`` classes (a class never predicted
    nor present scores 0, as torchmetrics' ``multiclass_f1_score``) and macro one-vs-rest
    AUROC (over the classes present in ``target`` with at least one negative)."""
    p = np.asarray(probs, dtype=np.float64)
    t = np.asarray(target, dtype=np.int64)
    if p.ndim != 2 or len(p) != len(t) or p.shape[1] != n_classes:
        raise InvalidInputError(f"probs must be (N, {n_classes}) for N targets, got {p.shape}")
    pred = p.argmax(1)
    f1 = []
    for c in range(n_classes):
        tp = np.sum((pred == c) & (t == c))
        fp = np.sum((pred == c) & (t != c))
        fn = np.sum((pred != c) & (t == c))
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    onehot = np.eye(n_classes, dtype=np.int64)[t]
    return {"micro_f1": float(np.mean(pred == t)), "macro_f1": float(np.mean(f1)),
            "macro_auroc": macro_auc(p, onehot)}


def regression_scores(pred: ArrayLike, target: ArrayLike) -> dict[str, float]:
    """MAE, RMSE, MAPE (fraction), MARE and R² as in the public evaluation."""
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    err = np.abs(p - t)
    return {"mae": mae(p, t), "rmse": rmse(p, t),
            "mape": float(np.mean(err / np.maximum(np.abs(t), 1.17e-6))),
            "mare": float(err.sum() / np.abs(t).sum()), "r2": r2_score(p, t)}


def shuffle_splits(n: int, runs: int, test_size: float, seed: int
                   ) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """``runs`` random (train, test) index splits (as ``sklearn.ShuffleSplit``)."""
    rng = np.random.default_rng(seed)
    n_test = int(np.ceil(test_size * n))
    out = []
    for _ in range(runs):
        perm = rng.permutation(n)
        out.append((np.sort(perm[n_test:]), np.sort(perm[:n_test])))
    return out


def _standardise(x: NDArray[np.float64], train: NDArray[np.int64]) -> torch.Tensor:
    mu = x[train].mean(0)
    sd = x[train].std(0)
    return torch.as_tensor((x - mu) / np.where(sd > 1e-8, sd, 1.0), dtype=torch.float32)


class _BatchedLinear(nn.Module):
    """``runs`` independent ``nn.Linear(d, c)`` probes trained side by side: the weights are
    those of ``runs`` ``nn.Linear`` modules created one after another (the same
    initialisation as a loop over splits), and because the summed loss gives each probe the
    gradient of its own loss and Adam is elementwise, each probe follows exactly the
    trajectory it would follow alone (up to float rounding); one optimiser step per epoch
    instead of ``runs``."""

    def __init__(self, runs: int, d: int, c: int) -> None:
        super().__init__()
        lins = [nn.Linear(d, c) for _ in range(runs)]
        self.weight = nn.Parameter(torch.stack([lin.weight.detach().T for lin in lins]))
        self.bias = nn.Parameter(torch.stack([lin.bias.detach()[None] for lin in lins]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (runs, n, d) -> (runs, n, c)."""
        return torch.baddbmm(self.bias, x, self.weight)


def _split_inputs(x: NDArray[np.float64], splits: list[tuple[NDArray[np.int64], NDArray[np.int64]]]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised (runs, n_train, d) training and (runs, n_test, d) test inputs."""
    tr, te = [], []
    for train, test in splits:
        xt = _standardise(x, train)
        tr.append(xt[train])
        te.append(xt[test])
    return torch.stack(tr), torch.stack(te)


def road_function_eval(emb: ArrayLike, labels: ArrayLike, runs: int = 30,
                       test_size: float = 0.2, epochs: int = 500, lr: float = 0.01,
                       seed: int = 0) -> dict[str, float]:
    """Mean micro-F1, macro-F1 and macro-AUROC of the logistic probe over ``runs`` splits
    (labels ``< 0`` left out). The probes of all splits train together
    (:class:`_BatchedLinear`), the same as one probe per split."""
    x_all = np.asarray(emb, dtype=np.float64)
    y_all = np.asarray(labels, dtype=np.int64)
    if len(x_all) != len(y_all):
        raise InvalidInputError(f"{len(x_all)} embeddings for {len(y_all)} labels")
    keep = y_all >= 0
    x, y = x_all[keep], y_all[keep]
    n_classes = int(y.max()) + 1
    torch.manual_seed(seed)
    splits = shuffle_splits(len(y), runs, test_size, seed)
    x_tr, x_te = _split_inputs(x, splits)
    y_tr = torch.as_tensor(np.stack([y[train] for train, _ in splits])).reshape(-1)
    probe = _BatchedLinear(runs, x.shape[1], n_classes)
    opt = torch.optim.Adam(probe.parameters(), lr=lr)
    for _ in range(epochs):
        opt.zero_grad()
        # sum over runs of each run's mean cross-entropy
        loss = nn.functional.cross_entropy(probe(x_tr).reshape(-1, n_classes), y_tr) * runs
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    with torch.no_grad():
        probs = torch.softmax(probe(x_te), 2).numpy()
    scores: dict[str, list[float]] = {}
    for r, (_, test) in enumerate(splits):
        for k, val in classification_scores(probs[r], y[test], n_classes).items():
            scores.setdefault(k, []).append(val)
    return {k: float(np.mean(v)) for k, v in scores.items()}


def speed_eval(emb: ArrayLike, road_ids: ArrayLike, speed: ArrayLike, runs: int = 30,
               test_size: float = 0.2, epochs: int = 1000, lr: float = 0.01,
               seed: int = 0) -> dict[str, float]:
    """Mean MAE, RMSE, MAPE, MARE and R² of the linear probe over ``runs`` splits (trained
    together, as in :func:`road_function_eval`)."""
    x = np.asarray(emb, dtype=np.float64)[np.asarray(road_ids, dtype=np.int64)]
    y = np.asarray(speed, dtype=np.float64)
    torch.manual_seed(seed)
    splits = shuffle_splits(len(y), runs, test_size, seed)
    x_tr, x_te = _split_inputs(x, splits)
    y_tr = torch.tensor(np.stack([y[train] for train, _ in splits]), dtype=torch.float32)
    probe = _BatchedLinear(runs, x.shape[1], 1)
    with torch.no_grad():
        probe.bias.copy_(y_tr.mean(1).reshape(runs, 1, 1))
    opt = torch.optim.Adam(probe.parameters(), lr=lr)
    for _ in range(epochs):
        opt.zero_grad()
        loss = nn.functional.mse_loss(probe(x_tr).squeeze(2), y_tr) * runs
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    with torch.no_grad():
        pred = probe(x_te).squeeze(2).numpy()
    scores: dict[str, list[float]] = {}
    for r, (_, test) in enumerate(splits):
        for k, val in regression_scores(pred[r], y[test]).items():
            scores.setdefault(k, []).append(val)
    return {k: float(np.mean(v)) for k, v in scores.items()}
