"""VRSBench's learned cheap baseline (``pixel linear``): linear models on pixel features.

Hand-built sets where the target is a linear function of one small patch's colour while a
large random texture dominates the pixel distances: the linear models read the patch,
whereas pixel nearest-neighbour retrieval (the demo's strongest untrained baseline) and
the text priors cannot. If the new arm were a prior or a retrieval, these tests fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from geoneurips.vision_language.vrsbench.linear import (
    TaskData,
    caption_knn,
    colour_hist,
    image_features,
    pixels,
    refer_ridge,
    standardise,
    vqa_logreg,
)

SIZE = 48  # divisible by every pooling of the grid and by the 3x3 regions


def _images(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3, 48, 48) images in [0, 1]: a strong random texture of 8x8 blocks everywhere
    but a 16x16 top-left patch whose red level ``r`` (returned) is uniform in [0.2, 0.8]."""
    blocks = rng.uniform(0.0, 1.0, (n, 3, 6, 6))
    img = np.kron(blocks, np.ones((1, 1, 8, 8)))
    r = rng.uniform(0.2, 0.8, n)
    img[:, :, :16, :16] = 0.3
    img[:, 0, :16, :16] = r[:, None, None]
    return img.astype(np.float32), r


def _nn_labels(tr: np.ndarray, te: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The demo's pixel-retrieval rule: the label of the nearest training image (pooled
    pixels, squared Euclidean distance)."""
    from geoneurips.vision_language.vrsbench.pipeline import _nearest

    out: np.ndarray = labels[_nearest(pixels(tr), pixels(te))]
    return out


def _vqa_data(img_rows: list[int], answers: list[str]) -> TaskData:
    q = "is the patch red?"
    return TaskData([], [], [], [], [], img_rows, [q] * len(img_rows),
                    ["object color"] * len(img_rows), answers)


def test_logistic_answers_read_a_linear_colour_cue_that_retrieval_and_prior_miss() -> None:
    rng = np.random.default_rng(0)
    tr_img, tr_r = _images(rng, 300)
    te_img, te_r = _images(rng, 200)
    ans = np.where(tr_r > 0.5, "yes", "no")
    truth = np.where(te_r > 0.5, "yes", "no")
    tr_f, te_f = image_features(tr_img, te_img, 16)
    train = _vqa_data(list(range(300)), ans.tolist())
    pred = vqa_logreg(tr_f, train, te_f, list(range(200)), ["is the patch red?"] * 200,
                      ["object color"] * 200, c=1.0)
    acc = float(np.mean(np.asarray(pred) == truth))
    prior = float(np.mean(truth == max(set(ans.tolist()), key=ans.tolist().count)))
    nn = float(np.mean(_nn_labels(tr_img, te_img, ans) == truth))
    assert acc > 0.9, acc
    assert prior < 0.65 and nn < 0.7, (prior, nn)
    assert acc > max(prior, nn) + 0.25


def test_rare_question_falls_back_to_its_type_and_unseen_type_to_the_majority() -> None:
    rng = np.random.default_rng(1)
    tr_img, tr_r = _images(rng, 100)
    te_img, te_r = _images(rng, 50)
    tr_f, te_f = image_features(tr_img, te_img, 16)
    # the 100 training answers are asked with 100 different texts (each too rare for its
    # own model), all of one type: the per-type classifier still reads the patch
    answers = np.where(tr_r > 0.5, "yes", "no").tolist()
    train = TaskData([], [], [], [], [], list(range(100)), [f"q{i}" for i in range(100)],
                     ["object color"] * 100, answers)
    pred = vqa_logreg(tr_f, train, te_f, list(range(50)), ["new question"] * 50,
                      ["object color"] * 50, c=1.0)
    assert np.mean(np.asarray(pred) == np.where(te_r > 0.5, "yes", "no")) > 0.85
    unseen = vqa_logreg(tr_f, train, te_f, [0, 1], ["new", "new"], ["size", "size"], c=1.0)
    assert unseen == [max(set(answers), key=answers.count)] * 2


def _box(r: np.ndarray) -> np.ndarray:
    """A box whose left edge moves linearly with the patch's red level."""
    x1 = 0.1 + 0.5 * (r - 0.2)
    return np.stack([x1, np.full_like(r, 0.4), x1 + 0.2, np.full_like(r, 0.6)], 1)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    out: np.ndarray = inter / (area - inter)
    return out


def test_ridge_boxes_follow_a_linear_colour_cue_that_retrieval_and_mean_box_miss() -> None:
    rng = np.random.default_rng(2)
    tr_img, tr_r = _images(rng, 300)
    te_img, te_r = _images(rng, 200)
    tr_b, te_b = _box(tr_r), _box(te_r)
    sent = "the small red ship at the top-left"
    train = TaskData([], [], list(range(300)), [sent] * 300, tr_b.tolist(), [], [], [], [])
    tr_f, te_f = image_features(tr_img, te_img, 8)
    pred = refer_ridge(tr_f, train, te_f, list(range(200)), [sent] * 200, 1.0, "sentence")
    acc = float(np.mean(_iou(pred, te_b) >= 0.5))
    mean_box = float(np.mean(_iou(np.tile(tr_b.mean(0), (200, 1)), te_b) >= 0.5))
    nn = float(np.mean(_iou(_nn_labels(tr_img, te_img, tr_b), te_b) >= 0.5))
    assert acc > 0.95, acc
    assert mean_box < 0.7 and nn < 0.7, (mean_box, nn)
    # grouping by position shares one regression between sentences of the same position;
    # an unseen group gets the mean box of every training sentence
    by_pos = refer_ridge(tr_f, train, te_f, [0], ["the large blue ship at the top-left"],
                         1.0, "position")
    assert float(_iou(by_pos, te_b[:1])[0]) > 0.7
    unseen = refer_ridge(tr_f, train, te_f, [0], ["the ship at the bottom"], 1.0, "position")
    np.testing.assert_allclose(unseen[0], tr_b.mean(0), atol=1e-9)


def test_caption_consensus_of_neighbours() -> None:
    tr = np.array([[0.0], [0.3], [0.4], [10.0]])
    caps = ["x y z w", "a b c d", "a b c e", "q r s t"]
    # the nearest caption shares nothing with the next two; the consensus of three does
    assert caption_knn(tr, caps, np.array([[0.0]]), 1) == ["x y z w"]
    assert caption_knn(tr, caps, np.array([[0.0]]), 3)[0] in ("a b c d", "a b c e")


def test_features_standardised_on_training_rows_only() -> None:
    rng = np.random.default_rng(3)
    tr = rng.normal(size=(50, 4))
    tr[:, 3] = 7.0  # constant on the training rows: dropped
    te = rng.normal(5.0, 3.0, size=(20, 4))
    a, b = standardise(tr, te)
    assert a.shape == (50, 3) and b.shape == (20, 3)
    np.testing.assert_allclose(a.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(a.std(0), 1, atol=1e-9)
    np.testing.assert_allclose(b, (te[:, :3] - tr[:, :3].mean(0)) / tr[:, :3].std(0))
    img = rng.uniform(size=(2, 3, SIZE, SIZE)).astype(np.float32)
    h = colour_hist(img)
    assert h.shape == (2, 9 * 64)
    np.testing.assert_allclose(h.sum(1), 1.0, rtol=1e-6)
    code = (np.clip((img[0] * 4).astype(int), 0, 3) * [[[16]], [[4]], [[1]]]).sum(0)
    # the top-left region's 64 bins by hand: counts over every pixel of the image
    counts = np.bincount(code[:16, :16].ravel(), minlength=64)
    np.testing.assert_allclose(h[0, :64], counts / SIZE**2, rtol=1e-6)


def test_pixel_linear_arm_end_to_end_on_a_small_fixture(tmp_path: Path) -> None:
    """End to end on a small fixture: the arm (tuned on a validation split of the training
    scenes, :func:`~geoneurips.vision_language.vrsbench.linear.tune`, which is given no
    evaluation scene) answers every evaluation item and reads the images (VQA above the
    text prior on the same scenes)."""
    from geoneurips.vision_language.vrsbench.linear import GRID_ALPHA, GRID_C, GRID_K
    from geoneurips.vision_language.vrsbench.metrics import vqa_scores
    from geoneurips.vision_language.vrsbench.pipeline import (
        DEMO_CLASSES,
        baseline_predictions,
        load_split,
        read_evals,
    )
    from geoneurips.vision_language.vrsbench.synthetic import write_fixture

    write_fixture(tmp_path / "train", 150, "train", 5, classes=DEMO_CLASSES)
    write_fixture(tmp_path / "test", 40, "val", 10_005, classes=DEMO_CLASSES, prefix="T")
    train = load_split(tmp_path / "train", "train")
    test = load_split(tmp_path / "test", "val")
    evals = read_evals(tmp_path / "test")
    chosen: dict[str, Any] = {}
    preds = baseline_predictions(tmp_path / "train", train, test, evals, chosen)
    lin = preds["pixel linear"]
    n_items = sum(len(v) for v in evals.values())
    assert len(lin) == n_items
    assert [(r["question_id"], r["type"]) for r in lin] == \
        [(r["question_id"], r["type"]) for r in preds["text prior"]]
    cfg = chosen["config"]
    assert isinstance(cfg, dict)
    assert cfg["C"] in GRID_C and cfg["alpha"] in GRID_ALPHA and cfg["k"] in GRID_K
    assert set(chosen["validation"]) == {"caption", "refer", "vqa"}
    vqa_lin = [r for r in lin if r["type"] not in ("caption", "ref")]
    vqa_prior = [r for r in preds["text prior"] if r["type"] not in ("caption", "ref")]
    assert vqa_scores(vqa_lin)[0]["All"] > vqa_scores(vqa_prior)[0]["All"] + 10
