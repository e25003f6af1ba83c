"""Location prior, presence loss, combination, regression head, and "it learns"."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from geoneurips.errors import InvalidInputError
from geoneurips.location.torchspatial.data import BirdSnap, Mosaiks, write_fixture
from geoneurips.location.torchspatial.encoders import build_encoder
from geoneurips.location.torchspatial.model import (
    LocationPrior,
    LocationPriorTask,
    MosaiksRegressor,
    RegressionTask,
    combine,
    presence_loss,
    sample_uniform_sphere,
)
from geoneurips.location.torchspatial.pipeline import (
    classification_metrics,
    predict_prior,
    train_prior,
)
from geoneurips.location.torchspatial.sampling import ClassBalancedSampler
from geoneurips.location.torchspatial.synthetic import make_synthetic_species


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one thread is fastest on a shared 2-core machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


class _Scale(nn.Module):
    """Stub encoder: Enc(x) = x / 100 (so the prior is a hand-computable logistic model)."""

    out_dim = 2

    def forward(self, lonlat: Tensor) -> Tensor:
        return lonlat / 100.0


def _sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_prior_shapes_and_range() -> None:
    enc = build_encoder("sphere_c_plus", out_dim=16, hidden_dim=32, frequency_num=4)
    prior = LocationPrior(enc, num_classes=7).eval()
    x = torch.tensor([[10.0, 20.0], [-120.0, 45.0], [179.0, -89.0]])
    p = prior(x)
    assert p.shape == (3, 7) and bool(((p > 0) & (p < 1)).all())
    assert prior.class_emb.weight.shape == (7, 16) and prior.class_emb.bias is None
    assert torch.allclose(torch.sigmoid(prior.logits(x)), p)
    with pytest.raises(InvalidInputError):
        LocationPrior(nn.Identity(), 3)


def test_presence_loss_hand_computed() -> None:
    prior = LocationPrior(_Scale(), num_classes=3)
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.5]])
    with torch.no_grad():
        prior.class_emb.weight.copy_(w)
    x = torch.tensor([[100.0, 0.0], [0.0, -50.0]])
    y = torch.tensor([0, 2])
    r = torch.tensor([[-50.0, 50.0], [20.0, 10.0]])
    wr, lam, eps = 0.7, 3.0, 1e-5

    def probs(pt):
        f = [pt[0] / 100, pt[1] / 100]
        return [_sig(row[0] * f[0] + row[1] * f[1]) for row in w.tolist()]

    total = 0.0
    for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
        for c, pc in enumerate(probs(xi)):
            total += -lam * math.log(pc + eps) if c == yi else -math.log(1 - pc + eps)
    data_term = total / 6
    bg = sum(-math.log(1 - pc + eps) for ri in r.tolist() for pc in probs(ri)) / 6
    expected = data_term + wr * bg
    got = presence_loss(prior, x, y, rand_lonlat=r, rand_sample_weight=wr)  # lambda = C = 3
    assert float(got) == pytest.approx(expected, rel=1e-6)
    # an explicit lambda changes only the positive entries
    got2 = presence_loss(prior, x, y, rand_lonlat=r, rand_sample_weight=wr, pos_weight=1.0)
    assert float(got2) < float(got)
    with pytest.raises(InvalidInputError):
        presence_loss(prior, x, y[:1], rand_lonlat=r)


def test_uniform_sphere_sampling_is_equal_area() -> None:
    g = torch.Generator().manual_seed(0)
    pts = sample_uniform_sphere(20000, generator=g)
    assert pts.shape == (20000, 2)
    assert float(pts[:, 0].min()) >= -180 and float(pts[:, 0].max()) <= 180
    sin_lat = torch.sin(torch.deg2rad(pts[:, 1]))
    # uniform on the sphere <=> sin(lat) uniform on [-1, 1]: |lat| < 30 deg holds half the area
    assert float((pts[:, 1].abs() < 30).float().mean()) == pytest.approx(0.5, abs=0.015)
    assert float(sin_lat.mean()) == pytest.approx(0.0, abs=0.02)


def test_combine_is_product() -> None:
    a = torch.tensor([[0.6, 0.4], [0.5, 0.5]])
    b = torch.tensor([[0.1, 0.9], [0.8, 0.2]])
    assert torch.allclose(combine(a, b), torch.tensor([[0.06, 0.36], [0.4, 0.1]]))
    with pytest.raises(InvalidInputError):
        combine(a, b[:1])


def test_regression_head_shapes_and_learning(tmp_path: Path) -> None:
    torch.manual_seed(0)
    enc = build_encoder("sphere_c", out_dim=8, hidden_dim=16, frequency_num=4)
    head = MosaiksRegressor(enc, feature_dim=6, embed_dim=32, hidden_dims=(16,))
    y = head(torch.randn(5, 6), torch.tensor([[0.0, 0.0]] * 5))
    assert y.shape == (5,)
    with pytest.raises(InvalidInputError):
        head(torch.randn(5, 7), torch.zeros(5, 2))
    # trains through Lightning on a MOSAIKS-layout fixture: training MSE drops
    write_fixture(tmp_path, "mosaiks", num_samples=64, feature_dim=6, seed=0)
    ds = Mosaiks(tmp_path, split="train")
    task = RegressionTask(6, encoder="sphere_c",
                          encoder_kwargs={"out_dim": 8, "hidden_dim": 16, "frequency_num": 4},
                          hidden_dims=(32,), lr=3e-3)
    feats = torch.from_numpy(ds.image_features)
    ll = torch.from_numpy(ds.lonlat)
    tgt = torch.from_numpy(ds.targets)
    task.eval()
    before = float(nn.functional.mse_loss(task(feats, ll), tgt))
    from geoneurips.nn.training import make_trainer

    loader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True)
    task.train()
    make_trainer(max_epochs=30).fit(task, loader)
    task.eval()
    after = float(nn.functional.mse_loss(task(feats, ll), tgt))
    assert after < 0.5 * before


def test_lightning_task_step_and_optimizer() -> None:
    task = LocationPriorTask(4, encoder="xyz", encoder_kwargs={"out_dim": 8, "hidden_dim": 8})
    batch = {"lonlat": torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "label": torch.tensor([0, 3])}
    loss = task.training_step(batch, 0)
    assert loss.ndim == 0 and float(loss) > 0
    conf = task.configure_optimizers()
    assert conf["lr_scheduler"]["scheduler"].gamma == pytest.approx(0.98)
    assert task.predict_prior(batch["lonlat"]).shape == (2, 4)


def test_prior_learns_beats_no_prior(tmp_path: Path) -> None:
    """The sphereC+ prior raises Top-1 over the image classifier alone by more than 0.1.

    Class-balanced sampler (cap 40 of the 60 examples per class); measured gain on task seeds
    0/1/2: 0.25/0.18/0.18 (own-range prior above the twin's for 0.90/0.90/0.93 of points).
    """
    syn = make_synthetic_species(num_classes=8, train_per_class=60, test_per_class=25, seed=0)
    write_fixture(tmp_path, "birdsnap", splits=syn.splits)
    train, test = BirdSnap(tmp_path, split="train"), BirdSnap(tmp_path, split="test")
    assert test.image_probs is not None
    task = train_prior(
        train, encoder="sphere_c_plus",
        encoder_kwargs={"out_dim": 32, "hidden_dim": 64, "frequency_num": 16,
                        "min_radius": 0.01, "dropout": 0.1},
        max_epochs=10, batch_size=128, lr=5e-3, seed=0, balanced=True, max_per_class=40,
    )
    prior = predict_prior(task, test.lonlat)
    with_prior = classification_metrics(test.image_probs * prior, test.labels)
    no_prior = classification_metrics(test.image_probs, test.labels)
    assert with_prior["top1"] - no_prior["top1"] > 0.1
    assert with_prior["mrr"] > no_prior["mrr"]
    # the prior is location-specific: each species' prior is higher inside its own range
    own = prior[np.arange(len(test)), test.labels]
    twin = prior[np.arange(len(test)), syn.pairs[test.labels]]
    assert float(np.mean(own > twin)) > 0.8


def test_class_balanced_sampler_caps_every_class() -> None:
    labels = np.array([0] * 250 + [1] * 30 + [2] * 101)
    gen = torch.Generator().manual_seed(0)
    sampler = ClassBalancedSampler(labels, 100, generator=gen)
    assert len(sampler) == 100 + 30 + 100
    first = list(sampler)
    counts = np.bincount(labels[first], minlength=3)
    assert counts.tolist() == [100, 30, 100]
    assert len(set(first)) == len(first)  # without replacement
    second = list(sampler)
    assert sorted(second) != sorted(first)  # the frequent classes are redrawn each epoch
    assert set(np.flatnonzero(labels == 1)) <= set(second)  # the rare class keeps all
    assert first[:230] != sorted(first)  # shuffled across classes
    rep = ClassBalancedSampler(labels, 50, replacement=True, generator=gen)
    drawn = list(rep)
    assert len(drawn) == 150 and np.bincount(labels[drawn]).tolist() == [50, 50, 50]
    with pytest.raises(InvalidInputError, match="max_per_class"):
        ClassBalancedSampler(labels, 0)
    with pytest.raises(InvalidInputError, match="1-D"):
        ClassBalancedSampler(np.zeros((2, 2)))
