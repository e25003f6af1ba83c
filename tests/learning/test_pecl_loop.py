"""Defects fixed in the PECL detector and loop, each with a test that fails on the old code.

- the flip augmentation mirrored the sub-cell centre-offset targets as values (the
  regressed centre was up to one stride off on half the batches);
- the positive-unlabelled value estimate counted candidates the detector had been trained
  on (repeats of training labels) as unlabelled;
- novelty was a same-class test, so a wrong-class candidate on a labelled object became a
  second, conflicting label; pseudo-label sets could label one object twice;
- the progressive loop dropped the earlier rounds' pseudo-labels instead of accumulating.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import geoneurips.learning.pecl.loop as loop
from geoneurips.learning.pecl.detector import (
    STRIDE,
    Detections,
    DetectorConfig,
    _targets,
    flip_targets,
    train_detector,
)
from geoneurips.learning.pecl.explorer import ExplorerConfig
from geoneurips.learning.pecl.synthetic import SCENE_CLASSES, make_scenes


def _empty(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.zeros((0, 4)), np.zeros(0, np.int64)) for _ in range(n)]


@pytest.mark.parametrize("dim", [-1, -2])
def test_flip_targets_equal_targets_of_flipped_boxes(dim: int) -> None:
    """Mirroring the targets must give the targets of the mirrored boxes (offsets too)."""
    size = 32
    boxes = np.array([[3.0, 5.0, 10.0, 9.0], [17.5, 20.0, 21.5, 27.0]])
    labels = np.array([0, 1])
    if dim == -1:
        fboxes = np.stack([size - boxes[:, 2], boxes[:, 1], size - boxes[:, 0], boxes[:, 3]], 1)
    else:
        fboxes = np.stack([boxes[:, 0], size - boxes[:, 3], boxes[:, 2], size - boxes[:, 1]], 1)
    hw = (size // STRIDE, size // STRIDE)
    ign = _empty(1)
    h, s, m, w = _targets([boxes], [labels], ign, 2, hw)
    x = torch.zeros(1, 3, size, size)
    _, fh, fs, fm, _ = flip_targets(x, h, s, m, w, dim)
    h2, s2, m2, _ = _targets([fboxes], [labels], ign, 2, hw)
    torch.testing.assert_close(fm, m2)
    torch.testing.assert_close(fh, h2)
    torch.testing.assert_close(fs * fm[:, None], s2 * m2[:, None])


def _det(boxes: list[list[float]], scores: list[float], labels: list[int]) -> Detections:
    n = len(scores)
    return Detections(np.array(boxes, float).reshape(-1, 4), np.array(scores, float),
                      np.array(labels, np.int64), np.full((n, 3), 0.3), np.zeros((n, 4)))


def test_novelty_is_class_agnostic_and_pseudo_labels_are_deduplicated() -> None:
    det = _det([[0, 0, 10, 10], [1, 0, 11, 10], [30, 30, 40, 40], [31, 30, 41, 40]],
               [0.9, 0.8, 0.7, 0.6], [1, 1, 0, 2])
    known = [(np.array([[0.0, 0.0, 10.0, 10.0]]), np.array([0]))]  # a class-0 label
    nv = loop._novel(det, known, 0)
    # the class-1 candidates sit on the labelled (class-0) object: not new objects
    assert nv.tolist() == [False, False, True, True]
    boxes, labels = loop._take(det, nv)
    # the two overlapping candidates of different classes at (30, 30) give one label
    assert labels.tolist() == [0] and boxes[0].tolist() == [30, 30, 40, 40]


@pytest.fixture(scope="module")
def tiny_setup() -> tuple[np.ndarray, list, list, DetectorConfig]:
    scenes = make_scenes(6, seed=5, size=64)
    imgs = np.stack([s[0] for s in scenes])
    full = [(np.array([o.hbb for o in objs]).reshape(-1, 4),
             np.array([SCENE_CLASSES.index(o.label) for o in objs], np.int64))
            for _, objs in scenes]
    train = [(b[::2], lb[::2]) for b, lb in full]
    cal = [(b[1::4], lb[1::4]) for b, lb in full]
    return imgs, train, cal, DetectorConfig.tiny()


def test_value_estimate_skips_candidates_the_detector_trained_on(
    tiny_setup: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Candidates repeating a training label or an earlier pseudo-label must not enter the
    positive-unlabelled fit (they are neither calibration hits nor unlabelled)."""
    imgs, train, cal, cfg = tiny_setup
    model = train_detector(imgs, [b for b, _ in train], [lb for _, lb in train], cfg, 0)
    dets = loop.detect(model, imgs)
    # an earlier pseudo-label: the best remaining candidate of image 0
    pseudo = _empty(len(imgs))
    pseudo[0] = (dets[0].boxes[:1], dets[0].labels[:1])
    fitted = loop.merge(train, pseudo)
    n_fitted = sum(int((~loop._novel(d, fitted, i)).sum()) for i, d in enumerate(dets))
    assert n_fitted > 0
    seen: dict[str, int] = {}

    def spy(x: np.ndarray, known: np.ndarray, *a: object, **k: object) -> np.ndarray:
        seen["n"] = len(x)
        return np.full(len(x), 0.6)

    monkeypatch.setattr(loop, "value_estimator", spy)
    loop.explore_round(model, imgs, train, cal, ExplorerConfig(episodes=5, warmup=1), 0,
                       pseudo)
    assert seen["n"] == sum(len(d.scores) for d in dets) - n_fitted


def test_progressive_loop_accumulates_pseudo_labels(
    tiny_setup: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    imgs, train, cal, cfg = tiny_setup
    calls: list[object] = []

    def fake_round(model: object, images: np.ndarray, tr: list, cl: list, config: object,
                   seed: int, pseudo: list | None = None) -> tuple[list, list, dict]:
        calls.append(pseudo)
        new = _empty(len(images))
        new[0] = (np.array([[float(seed), 0.0, seed + 5.0, 5.0]]), np.array([0]))
        return new, new, {}

    trained_with: list[int] = []

    def fake_train(images: np.ndarray, boxes: list, labels: list, *a: object,
                   **k: object) -> object:
        trained_with.append(sum(len(lb) for lb in labels))
        return object()

    monkeypatch.setattr(loop, "explore_round", fake_round)
    monkeypatch.setattr(loop, "train_detector", fake_train)
    res = loop.run_pecl(imgs, train, cal, cfg, ExplorerConfig(), rounds=3, seed=0,
                        first_model=object())  # type: ignore[arg-type]
    assert [len(p[0][1]) for p in res.pseudo] == [1, 2, 3]
    assert len(calls[2][0][1]) == 2  # type: ignore[index]  # round 3 sees both earlier ones
    n_train = sum(len(lb) for _, lb in train)
    n_cal = sum(len(lb) for _, lb in cal)
    assert trained_with == [n_train + 1, n_train + 2, n_train + n_cal + 3]
