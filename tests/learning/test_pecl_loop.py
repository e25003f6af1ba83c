"""Defects fixed in the PECL detector and loop, each with a test that fails on the old code.

- the flip augmentation mirrored the sub-cell centre-offset targets as values (the
  regressed centre was up to one stride off on half the batches);
- the positive-unlabelled value estimate counted candidates the detector had been trained
  on (repeats of training labels) as unlabelled;
- novelty was a same-class test, so a wrong-class candidate on a labelled object became a
  second, conflicting label; pseudo-label sets could label one object twice;
- the progressive loop dropped the earlier rounds' pseudo-labels instead of accumulating;
- the exploring detector saw half the sparse labels (the other half calibrated): now
  cross-fitting (two fold detectors calibrate each other's held-out halves);
- the value estimate ranked candidates worse than the detector score (see
  ``test_pecl_model.py``).
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
    """The value model is fitted on each fold detector's candidates that it was not trained
    on (a candidate repeating a training label or a pseudo-label is neither a calibration
    hit nor unlabelled); its known positives are the hits of the fold's held-out labels."""
    imgs, train, cal, cfg = tiny_setup
    labels = loop.merge(train, cal)
    model = train_detector(imgs, [b for b, _ in labels], [lb for _, lb in labels], cfg, 0)
    fm = train_detector(imgs, [b for b, _ in train], [lb for _, lb in train], cfg, 0)
    dets = loop.detect(fm, imgs)
    pseudo = _empty(len(imgs))
    pseudo[0] = (dets[0].boxes[:1], dets[0].labels[:1])  # an earlier pseudo-label
    fitted = loop.merge(train, pseudo)
    nv = [loop._novel(d, fitted, i) for i, d in enumerate(dets)]
    # held-out labels on two of each image's new candidates (the tiny detector finds few
    # of the real ones), so that the known positives are not empty
    held = [(d.boxes[n][:2], d.labels[n][:2]) for d, n in zip(dets, nv, strict=True)]
    fold = loop.Fold(fm, train, held, pseudo)
    n_fitted = sum(int((~n).sum()) for n in nv)
    n_known = sum(int(loop.match_known(d, held[i][0], held[i][1])[n].sum())
                  for i, (d, n) in enumerate(zip(dets, nv, strict=True)))
    assert n_fitted > 0 and n_known > 0
    seen: dict[str, object] = {}
    real = loop.fit_value_model

    def spy(score: np.ndarray, clues: np.ndarray, known: np.ndarray, groups: np.ndarray,
            *a: object, **k: object) -> object:
        seen.update(n=len(score), known=int(known.sum()), groups=set(groups.tolist()))
        return real(score, clues, known, groups)

    monkeypatch.setattr(loop, "fit_value_model", spy)
    loop.explore_round(model, imgs, labels, [fold], ExplorerConfig(episodes=5, warmup=1), 0,
                       pseudo)
    assert seen["n"] == sum(len(d.scores) for d in dets) - n_fitted
    assert seen["known"] == n_known and seen["groups"] == {0}


def test_crossfit_every_sparse_label_calibrates_and_trains(
    tiny_setup: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fixed defect: the exploring detector (and the conformal baseline's) trained on half of
    the sparse labels, the other half calibrating. Now the two fold detectors hold out
    complementary halves, every sparse label gives one calibration score, and the detector
    whose candidates become pseudo-labels trains on all of them."""
    imgs, train, cal, cfg = tiny_setup
    labels = loop.merge(train, cal)
    n = sum(len(lb) for _, lb in labels)
    trained_with: list[int] = []
    real = loop.train_detector

    def spy(images: np.ndarray, boxes: list, labs: list, *a: object, **k: object) -> object:
        trained_with.append(sum(len(lb) for lb in labs))
        return real(images, boxes, labs, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "train_detector", spy)
    folds = loop.crossfit_folds(imgs, labels, cfg, seed=0)
    assert len(folds) == 2 and sum(trained_with) == n and min(trained_with) > 0
    for f, g in ((folds[0], folds[1]), (folds[1], folds[0])):
        assert [len(lb) for _, lb in f.held] == [len(lb) for _, lb in g.train]
    cal_s = loop.crossfit_cal_scores(imgs, folds, 3)
    assert sum(len(s) for s in cal_s) == n
    trained_with.clear()
    res = loop.run_pecl(imgs, labels, cfg, ExplorerConfig(episodes=5, warmup=1), rounds=1,
                        seed=0, folds=folds)
    assert trained_with[0] == n  # the exploring detector: all sparse labels
    assert trained_with[-1] == n + sum(len(lb) for _, lb in res.pseudo[-1])


def test_progressive_loop_accumulates_pseudo_labels(
    tiny_setup: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    imgs, train, cal, cfg = tiny_setup
    labels = loop.merge(train, cal)
    calls: list[object] = []

    def fake_round(model: object, images: np.ndarray, lb: list, folds: object,
                   config: object, seed: int, pseudo: list | None = None,
                   truth: object = None) -> tuple[list, list, dict]:
        calls.append(pseudo)
        new = _empty(len(images))
        new[0] = (np.array([[float(seed), 0.0, seed + 5.0, 5.0]]), np.array([0]))
        return new, new, {}

    trained_with: list[int] = []

    def fake_train(images: np.ndarray, boxes: list, labs: list, *a: object,
                   **k: object) -> object:
        trained_with.append(sum(len(x) for x in labs))
        return object()

    monkeypatch.setattr(loop, "explore_round", fake_round)
    monkeypatch.setattr(loop, "train_detector", fake_train)
    res = loop.run_pecl(imgs, labels, cfg, ExplorerConfig(), rounds=3, seed=0,
                        first_model=object(), folds=[],  # type: ignore[arg-type]
                        refit_folds=False)
    assert [len(p[0][1]) for p in res.pseudo] == [1, 2, 3]
    assert len(calls[2][0][1]) == 2  # type: ignore[index]  # round 3 sees both earlier ones
    n = sum(len(lb) for _, lb in labels)
    assert trained_with == [n + 1, n + 2, n + 3]
