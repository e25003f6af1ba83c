"""The demo's training-free baselines and the SAM-free region proposer, on hand-made pairs."""

from __future__ import annotations

import numpy as np
import pytest

from geoneurips.change.anychange.baselines import (
    BASELINES,
    cva_histmatch_otsu,
    cva_otsu,
    feature_difference_otsu,
    pixel_difference_otsu,
)
from geoneurips.metrics.confusion import binary_scores
from geoneurips.proposals.regions import RegionMergeProposer


def _pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dark/bright two-field image, a copy with a square brightened by 45 on the bright
    field, and the square's mask."""
    base = np.where(np.arange(64)[None, :, None] < 32, 60.0, 170.0) + np.zeros((64, 64, 3))
    base = base + rng.normal(0, 4, base.shape)
    change = np.zeros((64, 64), bool)
    change[20:36, 40:60] = True
    after = base.copy()
    after[change] += 45.0
    return base, after, change


def test_cva_ignores_gain_and_offset_where_differencing_does_not() -> None:
    rng = np.random.default_rng(0)
    before, after, change = _pair(rng)
    a = np.round(before).astype(np.uint8)
    b = np.clip(np.round(0.6 * after + 60), 0, 255).astype(np.uint8)  # darker, offset
    assert binary_scores(cva_otsu(a, b), change)["f1"] > 0.95
    assert binary_scores(pixel_difference_otsu(a, b), change)["f1"] < 0.6
    same = np.round(after).astype(np.uint8)
    assert binary_scores(pixel_difference_otsu(a, same), change)["f1"] > 0.95


def test_histogram_matching_removes_gamma() -> None:
    rng = np.random.default_rng(1)
    before, after, change = _pair(rng)
    a = np.round(before).astype(np.uint8)
    b = np.round(255 * (after / 255) ** 2.2).astype(np.uint8)
    assert binary_scores(cva_histmatch_otsu(a, b), change)["f1"] > 0.9
    assert binary_scores(pixel_difference_otsu(a, b), change)["f1"] < 0.5


def test_feature_difference_matches_hand_computation() -> None:
    """With the identity extractor the map is Otsu (skimage) on -cos of the RGB vectors."""
    from skimage.filters import threshold_otsu

    rng = np.random.default_rng(2)
    a = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    b = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)

    def identity(x: np.ndarray) -> np.ndarray:
        return x.transpose(2, 0, 1)

    af, bf = a.astype(np.float64) / 255, b.astype(np.float64) / 255
    neg = -(af * bf).sum(-1) / (np.linalg.norm(af, axis=-1) * np.linalg.norm(bf, axis=-1)
                                + 1e-12)
    expected = neg > threshold_otsu(neg, nbins=256)
    assert np.array_equal(feature_difference_otsu(a, b, identity), expected)
    assert not feature_difference_otsu(a, a).any()  # identical dates: nothing changes
    with pytest.raises(ValueError, match="full-resolution"):
        feature_difference_otsu(a, b, lambda x: x[::2, ::2].transpose(2, 0, 1))


def test_all_baselines_take_the_same_inputs() -> None:
    """Nuisance-free scene (seed 4, noise 2): every baseline finds the buildings (F1 0.838 /
    0.972 / 0.967 / 0.585 in BASELINES order; asserted > 0.5)."""
    from geoneurips.change.anychange.synthetic import Nuisance, make_change_pair

    off = Nuisance(gain=0, offset=0, gamma=0, season=0, shift=0, noise=2)
    a, b, change, _ = make_change_pair(96, seed=4, nuisance=off)
    for name, f in BASELINES.items():
        out = f(a, b)
        assert out.shape == change.shape and out.dtype == bool, name
        assert binary_scores(out, change)["f1"] > 0.5, name


def test_region_merge_proposer_finds_the_rectangle() -> None:
    """Superpixels of a uniform rectangle on a noisy background merge into one region."""
    rng = np.random.default_rng(4)
    img = np.full((64, 64, 3), 0.3) + rng.normal(0, 0.01, (64, 64, 3))
    rect = np.zeros((64, 64), bool)
    rect[16:40, 20:48] = True
    img[rect] = (0.9, 0.2, 0.2)
    masks = RegionMergeProposer(n_segments=100, thresholds=(0.1,))(np.clip(img, 0, 1))
    assert masks.dtype == bool and masks.shape[1:] == (64, 64)
    assert np.array_equal(masks.sum(0), np.ones((64, 64)))  # one level: a partition
    iou = (masks & rect).sum((1, 2)) / (masks | rect).sum((1, 2))
    assert iou.max() > 0.95 and len(masks) <= 3
    with pytest.raises(ValueError):
        RegionMergeProposer(thresholds=())
