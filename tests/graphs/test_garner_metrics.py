"""Garner's downstream metrics against scikit-learn, and the probes on separable data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    f1_score,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import ShuffleSplit

from geoneurips.graphs.garner.evaluate import (
    classification_scores,
    regression_scores,
    road_function_eval,
    shuffle_splits,
    speed_eval,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_scores_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, 300)
    logits = rng.normal(size=(300, 6)) + 1.5 * np.eye(6)[y]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    got = classification_scores(probs, y, 6)
    pred = probs.argmax(1)
    assert got["micro_f1"] == pytest.approx(f1_score(y, pred, average="micro"))
    assert got["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert got["macro_auroc"] == pytest.approx(
        roc_auc_score(y, probs, multi_class="ovr", average="macro"))


def test_classification_hand_values() -> None:
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]])
    got = classification_scores(probs, [0, 0, 1, 1], 2)
    # preds 0,1,1,0: accuracy 0.5, F1 0.5 for each class; AUROC class 0: scores of the
    # positives (0.9, 0.4) beat those of the negatives (0.3, 0.8) in 3 of 4 pairs: 0.75;
    # class 1: positives (rows 2, 3) score 0.7, 0.2 against 0.1, 0.6: 3 of 4 pairs, 0.75
    assert got == {"micro_f1": 0.5, "macro_f1": 0.5, "macro_auroc": 0.75}


def test_regression_scores_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.uniform(10, 60, 200)
    p = y + rng.normal(0, 5, 200)
    got = regression_scores(p, y)
    assert got["mae"] == pytest.approx(mean_absolute_error(y, p))
    assert got["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, p)))
    assert got["mape"] == pytest.approx(mean_absolute_percentage_error(y, p))
    assert got["r2"] == pytest.approx(r2_score(y, p))
    assert got["mare"] == pytest.approx(np.abs(y - p).sum() / y.sum())


def test_splits_like_shufflesplit() -> None:
    splits = shuffle_splits(101, 4, 0.2, 0)
    ref = next(ShuffleSplit(1, test_size=0.2).split(np.zeros(101)))
    for train, test in splits:
        assert len(test) == len(ref[1]) and len(train) == len(ref[0])
        assert len(np.intersect1d(train, test)) == 0


def test_probes_learn_separable_data() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    x = rng.normal(size=(400, 8)) + 3 * np.eye(8)[y]
    y_ex = y.copy()
    y_ex[:20] = -100  # excluded
    rf = road_function_eval(x, y_ex, runs=2, epochs=200)
    assert rf["micro_f1"] > 0.9 and rf["macro_auroc"] > 0.98
    speed = 30 + 5 * x[:, 0] + rng.normal(0, 1, 400)
    sp = speed_eval(x, np.arange(400), speed, runs=2)
    assert sp["r2"] > 0.9 and sp["mae"] < 2.0


def _one_probe_per_split(x: np.ndarray, y: np.ndarray, runs: int, seed: int,
                         epochs: int) -> dict[str, float]:
    """Reference: the public evaluation's loop, one ``nn.Linear`` probe per split."""
    import torch
    from torch import nn

    keep = y >= 0
    x, y = x[keep], y[keep]
    c = int(y.max()) + 1
    torch.manual_seed(seed)
    out: dict[str, list[float]] = {}
    for train, test in shuffle_splits(len(y), runs, 0.2, seed):
        mu, sd = x[train].mean(0), x[train].std(0)
        xt = torch.as_tensor((x - mu) / np.where(sd > 1e-8, sd, 1.0), dtype=torch.float32)
        probe = nn.Linear(x.shape[1], c)
        opt = torch.optim.Adam(probe.parameters(), lr=0.01)
        for _ in range(epochs):
            opt.zero_grad()
            nn.functional.cross_entropy(probe(xt[train]), torch.as_tensor(y[train])).backward()
            opt.step()
        with torch.no_grad():
            probs = torch.softmax(probe(xt[test]), 1).numpy()
        for k, v in classification_scores(probs, y[test], c).items():
            out.setdefault(k, []).append(v)
    return {k: float(np.mean(v)) for k, v in out.items()}


def test_batched_probes_equal_one_probe_per_split() -> None:
    """The probes of all splits train side by side (one Adam step per epoch, for speed):
    each must follow exactly the trajectory of its own probe trained alone."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(240, 12))
    y = x[:, :4].argmax(1).astype(np.int64)
    y[:6] = -100
    ref = _one_probe_per_split(x, y, runs=4, seed=7, epochs=120)
    got = road_function_eval(x, y, runs=4, seed=7, epochs=120)
    assert got == pytest.approx(ref, abs=1e-6)
    assert 0.5 < got["macro_f1"] < 1.0  # not a degenerate case
