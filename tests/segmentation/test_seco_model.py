"""SeCo model: PSA pieces (purity, boxes, points, stuff fill), SCC thresholds, classifier."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.segmentation.seco.data import IGNORE_INDEX, make_scene
from geoneurips.segmentation.seco.model import (
    ConnectivityClassifier,
    PixelSemanticAggregation,
    SCCConfig,
    SemanticConnectivityCorrection,
    apply_correction,
    connectivity_thresholds,
    crop_region,
    extract_components,
    keep_mask,
    min_area_rect,
    prompt_box,
    prompt_points,
    psa_tiny_sam,
    quantile_threshold,
    spatial_purity,
)
from geoneurips.segmentation.seco.pipeline import pseudo_label_scores


def test_spatial_purity_by_hand() -> None:
    lab = np.zeros((5, 5), dtype=np.int64)
    lab[:, 3:] = 1
    lab[0, 0] = IGNORE_INDEX
    ent = spatial_purity(lab, num_classes=2, radius=1)
    # centre (2, 2): 3x3 window has 6 of class 0, 3 of class 1
    p = np.array([6, 3]) / 9
    assert ent[2, 2] == pytest.approx(-(p * np.log(p + 1e-6)).sum(), abs=1e-9)
    # corner (4, 0): 4 pixels, all class 0 (zero padding outside)
    assert ent[4, 0] == pytest.approx(-math.log(1 + 1e-6), abs=1e-9)
    assert ent[0, 0] == ent.max()  # ignore pixels get the maximum


def test_min_area_rect_and_box() -> None:
    ang = math.radians(30)
    u, v = np.array([math.cos(ang), math.sin(ang)]), np.array([-math.sin(ang), math.cos(ang)])
    pts = np.array([a * u * 10 + b * v * 4 for a in np.linspace(0, 1, 11)
                    for b in np.linspace(0, 1, 5)]) + 20
    rect = min_area_rect(pts)
    sides = np.linalg.norm(np.roll(rect, -1, 0) - rect, axis=1)
    assert sorted([sides[0], sides[1]]) == pytest.approx([4.0, 10.0], abs=1e-6)
    comp = np.zeros((40, 40), dtype=bool)
    comp[10:14, 5:25] = True  # 4 x 20 rectangle of pixel centres: 3 x 19
    box = prompt_box(comp, unclip_ratio=1.25)
    d = 3 * 19 * 1.25 / (2 * (3 + 19))
    assert box.tolist() == [math.floor(5 - d), math.floor(10 - d), math.ceil(24 + d),
                            math.ceil(13 + d)]
    full = np.ones((8, 8), dtype=bool)
    assert prompt_box(full).tolist() == [0, 0, 7, 7]  # clipped to the image


def test_prompt_points_two_chunks_even_size() -> None:
    comp = np.zeros((6, 6), dtype=bool)
    comp[1:3, 1:5] = True  # 8 pixels (even: the public code would give one point)
    purity = np.arange(36, dtype=np.float64).reshape(6, 6)[::-1, ::-1].copy()
    pts = prompt_points(comp, purity, 2)
    assert pts.shape == (2, 2)
    assert pts.tolist() == [[4, 1], [4, 2]]  # lowest purity in each row-major half
    assert all(comp[y, x] for x, y in pts)


def test_stuff_aggregation_threshold() -> None:
    psa = PixelSemanticAggregation(3, stuff_classes=(0, 2), thing_classes=(1,))
    pseudo = np.full((4, 10), IGNORE_INDEX, dtype=np.int64)
    pseudo[:, :2] = 2  # segment A: 8 valid px of class 2 among 8 valid -> share 1
    pseudo[:, 5] = 0  # segment B: class 0 share 4 / 20 = 0.2 (not > 0.2)
    pseudo[:, 6:] = 1
    masks = np.zeros((2, 4, 10), dtype=bool)
    masks[0, :, :5] = True
    masks[1, :, 5:] = True
    out = psa.aggregate_stuff(pseudo, masks)
    assert (out[:, :5] == 2).all() and (out[:, 5:] == IGNORE_INDEX).all()
    pseudo[0, 6] = 0  # now 5 / 20 = 0.25 > 0.2 -> filled with class 0
    assert (psa.aggregate_stuff(pseudo, masks)[:, 5:] == 0).all()


def test_psa_pluggable_and_tiny_sam() -> None:
    img, truth = make_scene(48, seed=3)
    psa = PixelSemanticAggregation(7, (0, 2, 3, 4, 5, 6), (1,))
    out, prompts = psa.run(img, truth)
    assert out.shape == truth.shape and prompts
    assert (out[out != IGNORE_INDEX] == truth[out != IGNORE_INDEX]).mean() > 0.85
    sam_psa = psa_tiny_sam(7, (0, 2, 3, 4, 5, 6), (1,))
    out2 = sam_psa(img, truth)
    assert out2.shape == truth.shape
    assert set(np.unique(out2)) <= set(range(7)) | {IGNORE_INDEX}
    with pytest.raises(InvalidInputError, match="class 9"):
        psa(img, np.full(truth.shape, 9))
    with pytest.raises(InvalidInputError, match="shape"):
        psa(img, truth[:10])
    with pytest.raises(InvalidInputError, match="RGB"):
        psa(img[..., :2], truth)


def test_thresholds_and_filter_modes_by_hand() -> None:
    assert quantile_threshold([0.1, 0.5, 0.2, 0.3, 0.7, 0.4, 0.6, 0.8, 0.9, 0.5], 0.8) == 0.8
    loss = np.array([0.1, 0.9, 0.2, 2.0, 0.3, 1.0])
    score = np.array([0.9, 0.4, 0.8, 0.3, 0.7, 0.5])
    pred = np.array([0, 0, 1, 1, 1, 1])
    thr = connectivity_thresholds(loss, score, pred, 0.5)
    assert thr["loss"] == 0.9  # sorted [.1 .2 .3 .9 1 2][3]
    assert thr["local_loss"].tolist() == [0.9, 0.9, 1.0, 1.0, 1.0, 1.0]
    assert thr["global_loss"] == pytest.approx(5.8 / 6)
    keep = keep_mask(loss, score, thr, "both_loss")
    # dropped: loss > local and > global(0.967): only 2.0 (0.9 is not > local 0.9)
    assert keep.tolist() == [True, True, True, False, True, True]
    # "loss": global threshold 0.9 drops 2.0 and 1.0
    assert keep_mask(loss, score, thr, "loss").tolist() == [True, True, True, False, True, False]
    assert keep_mask(loss, score, thr, "none").all()
    with pytest.raises(InvalidInputError):
        keep_mask(loss, score, thr, "bogus")


def test_components_crops_and_correction() -> None:
    lab = np.full((20, 30), IGNORE_INDEX, dtype=np.int64)
    lab[2:5, 2:5] = 1
    lab[10:12, 20:29] = 1
    lab[15, 0] = 2
    comps = extract_components(lab)
    assert sorted((c.label, c.area) for c in comps) == [(1, 9), (1, 18), (2, 1)]
    r0, r1, c0, c1 = crop_region((20, 30), comps[0].bbox, (8, 8))
    assert (r1 - r0, c1 - c0) == (8, 8) and r0 >= 0 and c0 >= 0
    big = crop_region((20, 30), (0, 0, 20, 30), (8, 16))
    assert big == (0, 20, 0, 30)
    out = apply_correction(lab.shape, comps, np.array([True, False, True]), np.array([3, 3, 0]))
    assert (out[lab == IGNORE_INDEX] == IGNORE_INDEX).all()
    assert sorted(np.unique(out).tolist()) == [0, 3, IGNORE_INDEX]


def test_classifier_shapes_and_mask_guidance() -> None:
    torch.manual_seed(0)
    for arch in ("tiny", "resnet18"):
        net = ConnectivityClassifier(7, arch).eval()
        x = torch.randn(2, 3, 64, 64)
        m = torch.zeros(2, 1, 64, 64)
        m[:, :, 10:30, 10:30] = 1
        y = net(x, m)
        assert y.shape == (2, 7)
        x2 = x.clone()
        x2[:, :, 50:, 50:] += 5.0  # far outside the mask (beyond the stem's receptive field)
        if arch == "tiny":
            assert torch.allclose(net(x2, m), y, atol=1e-5)
    with pytest.raises(InvalidInputError):
        ConnectivityClassifier(7, "vgg")


@pytest.mark.slow
def test_scc_drops_planted_confusions() -> None:
    """SCC on PSA-clean labels with planted whole-region confusions drops/relabels them."""
    imgs, truths, labs = [], [], []
    rng = np.random.default_rng(0)
    for s in range(5):
        img, t = make_scene(56, seed=s)
        lab = t.copy()
        from scipy import ndimage

        for k in (0, 3, 4, 5, 6):
            cc, n = ndimage.label(t == k)
            for i in range(1, n + 1):
                if rng.random() < 0.3:
                    lab[cc == i] = {0: 6, 3: 5, 4: 0, 5: 6, 6: 5}[k]
        imgs.append(img), truths.append(t), labs.append(lab)
    scc = SemanticConnectivityCorrection(7, SCCConfig.tiny(epochs=30))
    out, rec = scc(imgs, labs)
    before = pseudo_label_scores(labs, truths, 7)
    after = pseudo_label_scores(out, truths, 7)
    assert len(rec.loss) == len(rec.keep) == len(rec.components)
    # dropping is SCC's job: the labels it keeps are cleaner (labelled-pixel mIoU) at the
    # price of coverage; strict mIoU counts the dropped pixels as misses (see the demo)
    assert after["miou_labelled"] > before["miou_labelled"] + 0.05
    assert 0.3 < after["coverage"] < 1.0
    assert after["miou"] < after["miou_labelled"]
    assert len(scc.history) == 30 and scc.history[-1] < scc.history[0]


def test_scores_cross_check_sklearn() -> None:
    from sklearn.metrics import jaccard_score

    rng = np.random.default_rng(1)
    t = rng.integers(0, 4, (30, 30))
    t[0] = IGNORE_INDEX
    p = np.where(rng.random((30, 30)) < 0.7, t, rng.integers(0, 4, (30, 30)))
    p[p == IGNORE_INDEX] = 0
    p[5:8] = IGNORE_INDEX
    s = pseudo_label_scores([p], [t], 4)
    keep = (t != IGNORE_INDEX) & (p != IGNORE_INDEX)
    ref = jaccard_score(t[keep], p[keep], average="macro", labels=range(4))
    assert s["miou_labelled"] == pytest.approx(ref)
    assert s["coverage"] == pytest.approx(keep.sum() / (t != IGNORE_INDEX).sum())
    valid = t != IGNORE_INDEX
    strict = [((p == c) & (t == c) & valid).sum()
              / (((p == c) & valid) | ((t == c) & valid)).sum() for c in range(4)]
    assert s["miou"] == pytest.approx(np.mean(strict))  # primary: 255 predicted = wrong
    assert s["oa"] == pytest.approx(((p == t) & valid).sum() / valid.sum())
    full = pseudo_label_scores([np.where(p == IGNORE_INDEX, 0, p)], [t], 4)
    assert full["coverage"] == 1.0 and full["miou"] == pytest.approx(full["miou_labelled"])
