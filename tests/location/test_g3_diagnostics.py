"""The demo's diagnostics: geo-alignment recall and the ideal-verifier bound.

No independent file exists for these (they are measurements of our own demo); the recall is
checked on hand-worked values and the ideal verifier on a world where the answer is known.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.location.g3.demo_run import ideal_verifier
from geoneurips.location.g3.model import TinyImageTower
from geoneurips.location.g3.pipeline import alignment_recall
from geoneurips.location.g3.synthetic import clean_photos, make_world, render_photos


def test_alignment_recall_hand_values() -> None:
    img = torch.eye(3)
    # image 0's own GPS is best; image 1's own GPS ranks second (GPS 0 is closer);
    # image 2's own GPS ties with GPS 1 (a tie counts against it): rank 1
    gps = torch.tensor([[1.0, 0.9, 0.0], [0.0, 0.5, 0.7], [0.0, 0.0, 0.7]])
    r = alignment_recall(img, gps, ks=(1, 2, 3))
    assert r == pytest.approx({"recall@1": 1 / 3, "recall@2": 1.0, "recall@3": 1.0})
    assert alignment_recall(img, img)["recall@1"] == 1.0
    with pytest.raises(InvalidInputError):
        alignment_recall(img, gps[:2])


def _world() -> tuple[np.ndarray, object]:
    rng = np.random.default_rng(0)
    gallery = np.stack([rng.uniform(-60, 60, 2000), rng.uniform(-180, 180, 2000)], 1)
    return gallery, make_world(gallery, seed=3)


def test_clean_photos_are_the_noiseless_render() -> None:
    gallery, world = _world()
    ll = gallery[:5]
    quiet = make_world(gallery, seed=3, noise=0.0, indoor=0.0)
    np.testing.assert_array_equal(
        clean_photos(world, ll), render_photos(quiet, ll, np.random.default_rng(1))
    )


def test_ideal_verifier_finds_the_true_place_among_far_candidates() -> None:
    gallery, world = _world()
    tower = TinyImageTower(64, pool=8, seed=0)
    true = np.array([[48.85, 2.35], [-33.9, 151.2]])
    photos = render_photos(make_world(gallery, 3, indoor=0.0), true, np.random.default_rng(2))
    q = tower(torch.from_numpy(photos).permute(0, 3, 1, 2).float() / 255.0)
    cands = [
        np.array([[40.7, -74.0], [48.85, 2.35], [35.7, 139.7]]),
        np.array([[-33.9, 151.2], [55.75, 37.6]]),
    ]
    np.testing.assert_array_equal(ideal_verifier(world, tower, q, cands), true)
    # reordered candidates: the same choice (it scores places, not positions)
    got = ideal_verifier(world, tower, q, [c[::-1].copy() for c in cands])
    np.testing.assert_array_equal(got, true)
