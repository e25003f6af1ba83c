"""Cross-checks of geoneurips.metrics.confusion against scikit-learn and torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from torchmetrics.functional.classification import (
    binary_jaccard_index,
    multiclass_confusion_matrix,
    multiclass_jaccard_index,
)

from geoneurips.errors import InvalidInputError
from geoneurips.metrics.confusion import binary_scores, confusion_matrix, segmentation_scores

K = 5


@pytest.fixture
def labels() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    target = rng.integers(0, K, size=(4, 32, 32))
    pred = np.where(rng.random(target.shape) < 0.7, target, rng.integers(0, K, target.shape))
    return pred, target


def test_confusion_matrix_matches_sklearn_and_torchmetrics(labels: tuple) -> None:
    pred, target = labels
    cm = confusion_matrix(pred, target, K)
    ref = skm.confusion_matrix(target.ravel(), pred.ravel(), labels=list(range(K)))
    np.testing.assert_array_equal(cm, ref)
    tm = multiclass_confusion_matrix(torch.from_numpy(pred), torch.from_numpy(target), K)
    np.testing.assert_array_equal(cm, tm.numpy())
    assert cm.dtype == np.int64 and cm.sum() == target.size


def test_confusion_matrix_orientation_hand_value() -> None:
    # two pixels of true class 0 predicted as 1: cm[t=0, p=1] == 2
    cm = confusion_matrix([1, 1, 0, 2], [0, 0, 0, 2], 3)
    np.testing.assert_array_equal(cm, [[1, 2, 0], [0, 0, 0], [0, 0, 1]])


@pytest.mark.parametrize("ignore_index", [255, -1])
def test_confusion_matrix_ignore_index(labels: tuple, ignore_index: int) -> None:
    pred, target = labels
    target = target.copy()
    rng = np.random.default_rng(2)
    drop = rng.random(target.shape) < 0.2
    target[drop] = ignore_index
    cm = confusion_matrix(pred, target, K, ignore_index=ignore_index)
    keep = ~drop
    ref = skm.confusion_matrix(target[keep], pred[keep], labels=list(range(K)))
    np.testing.assert_array_equal(cm, ref)
    tm = multiclass_confusion_matrix(
        torch.from_numpy(pred), torch.from_numpy(target), K, ignore_index=ignore_index
    )
    np.testing.assert_array_equal(cm, tm.numpy())
    # without ignore_index the out-of-range label is an error
    with pytest.raises(InvalidInputError):
        confusion_matrix(pred, target, K)


def test_confusion_matrix_errors() -> None:
    with pytest.raises(InvalidInputError, match="shape"):
        confusion_matrix(np.zeros((2, 3), int), np.zeros((3, 2), int), 2)
    with pytest.raises(InvalidInputError, match="prediction"):
        confusion_matrix([0, 2], [0, 1], 2)
    with pytest.raises(InvalidInputError, match="reference"):
        confusion_matrix([0, 1], [-1, 1], 2)


def test_segmentation_scores_match_sklearn(labels: tuple) -> None:
    pred, target = labels
    s = segmentation_scores(confusion_matrix(pred, target, K))
    t, p = target.ravel(), pred.ravel()
    lab = list(range(K))
    np.testing.assert_allclose(s["iou"], skm.jaccard_score(t, p, labels=lab, average=None))
    prec, rec, f1, _ = skm.precision_recall_fscore_support(t, p, labels=lab, average=None)
    np.testing.assert_allclose(s["precision"], prec)
    np.testing.assert_allclose(s["recall"], rec)
    np.testing.assert_allclose(s["f1"], f1)
    assert s["miou"] == pytest.approx(skm.jaccard_score(t, p, average="macro"))
    assert s["mf1"] == pytest.approx(skm.f1_score(t, p, average="macro"))
    assert s["oa"] == pytest.approx(skm.accuracy_score(t, p))
    assert s["kappa"] == pytest.approx(skm.cohen_kappa_score(t, p))
    tm = multiclass_jaccard_index(
        torch.from_numpy(pred), torch.from_numpy(target), K, average="macro"
    )
    assert s["miou"] == pytest.approx(float(tm))


def test_segmentation_scores_absent_class_is_nan_and_left_out() -> None:
    # class 2 never appears (neither reference nor prediction); class 3 only predicted
    target = np.array([0, 0, 1, 1, 1, 0])
    pred = np.array([0, 1, 1, 1, 3, 0])
    s = segmentation_scores(confusion_matrix(pred, target, 4))
    # hand values: class 0: tp 2, fn 1 -> IoU 2/3; class 1: tp 2, fp 1, fn 1 -> 2/4
    np.testing.assert_allclose(s["iou"][[0, 1, 3]], [2 / 3, 0.5, 0.0])
    assert np.isnan(s["iou"][2]) and np.isnan(s["f1"][2])
    assert np.isnan(s["precision"][2]) and np.isnan(s["recall"][2])
    assert np.isnan(s["recall"][3]) and s["precision"][3] == 0.0
    assert s["miou"] == pytest.approx((2 / 3 + 0.5 + 0.0) / 3)
    assert s["oa"] == pytest.approx(4 / 6)
    assert s["kappa"] == pytest.approx(skm.cohen_kappa_score(target, pred))


def test_segmentation_scores_perfect_and_empty() -> None:
    s = segmentation_scores(np.diag([3, 4, 5]))
    assert s["miou"] == 1.0 and s["oa"] == 1.0 and s["kappa"] == 1.0
    e = segmentation_scores(np.zeros((3, 3), dtype=np.int64))
    assert np.isnan(e["miou"]) and np.isnan(e["oa"]) and np.isnan(e["kappa"])


def test_binary_scores_match_sklearn() -> None:
    rng = np.random.default_rng(3)
    target = (rng.random((2, 40, 40)) < 0.3).astype(np.int64)
    pred = np.where(rng.random(target.shape) < 0.8, target, 1 - target)
    s = binary_scores(pred, target)
    t, p = target.ravel(), pred.ravel()
    assert s["precision"] == pytest.approx(skm.precision_score(t, p))
    assert s["recall"] == pytest.approx(skm.recall_score(t, p))
    assert s["f1"] == pytest.approx(skm.f1_score(t, p))
    assert s["iou"] == pytest.approx(skm.jaccard_score(t, p))
    tm = binary_jaccard_index(torch.from_numpy(pred), torch.from_numpy(target))
    assert s["iou"] == pytest.approx(float(tm))


def test_binary_scores_ignore_index_and_nonbinary_values() -> None:
    rng = np.random.default_rng(4)
    target = (rng.random(500) < 0.4).astype(np.int64)
    pred = np.where(rng.random(500) < 0.7, target, 1 - target)
    ignored = rng.random(500) < 0.25
    t_ign = np.where(ignored, 255, target)
    s = binary_scores(pred * 7, t_ign, ignore_index=255)  # any positive value is class 1
    keep = ~ignored
    assert s["f1"] == pytest.approx(skm.f1_score(target[keep], pred[keep]))
    assert s["iou"] == pytest.approx(skm.jaccard_score(target[keep], pred[keep]))
    assert s["precision"] == pytest.approx(skm.precision_score(target[keep], pred[keep]))


def test_binary_scores_no_positive_gives_zeros() -> None:
    s = binary_scores(np.zeros(10, int), np.zeros(10, int))
    assert s == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "iou": 0.0}
    with pytest.raises(InvalidInputError):
        binary_scores(np.zeros(3), np.zeros(4))


def test_fractional_or_nan_labels_are_refused() -> None:
    import numpy as np
    import pytest

    from geoneurips.errors import InvalidInputError
    from geoneurips.metrics.confusion import confusion_matrix

    with pytest.raises(InvalidInputError, match="whole numbers"):
        confusion_matrix(np.array([0.0, 1.5]), np.array([0, 1]), 2)
    with pytest.raises(InvalidInputError, match="whole numbers"):
        confusion_matrix(np.array([0, 1]), np.array([np.nan, 1.0]), 2)
    assert confusion_matrix(np.array([0.0, 1.0]), np.array([0, 1]), 2).trace() == 2
