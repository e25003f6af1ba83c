"""COSMIC metrics: Frechet distance, LPIPS, MS-SSIM, bpp, tile seams and the JPEG baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.restoration.cosmic.metrics import (
    bits_per_pixel,
    fid,
    frechet_distance,
    jpeg_at_bpp,
    jpeg_roundtrip,
    lpips_distance,
    ms_ssim,
    seam_ratio,
    ssim,
)


def test_frechet_distance_gaussian_hand_value() -> None:
    mu1, mu2 = np.array([0.0, 1.0]), np.array([2.0, 1.0])
    s1, s2 = np.diag([4.0, 1.0]), np.diag([1.0, 9.0])
    # |dmu|^2 + sum (sqrt(a) - sqrt(b))^2 for diagonal covariances = 4 + (1 + 4) = 9
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(9.0, abs=1e-9)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    cov = a @ a.T
    assert frechet_distance(np.zeros(5), cov, np.zeros(5), cov) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(InvalidInputError):
        frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


def test_fid_with_user_feature_network() -> None:
    rng = np.random.default_rng(0)
    real = torch.from_numpy(rng.normal(0, 1, (400, 2))).float()
    fake = torch.from_numpy(rng.normal(3, 1, (400, 2))).float()
    value = fid(real, fake, lambda x: x)  # identity features: ~ |dmu|^2 = 18
    assert value == pytest.approx(18.0, rel=0.1)


def test_lpips_hand_value() -> None:
    x = torch.zeros(1, 2, 1, 2)
    y = torch.zeros(1, 2, 1, 2)
    x[0, 0] = 1.0  # unit vectors (1, 0) at both pixels
    y[0, 1, 0, 0] = 2.0  # pixel 0: (0, 1) -> squared distance 2
    y[0, 0, 0, 1] = 5.0  # pixel 1: (1, 0) -> 0
    d = lpips_distance(x, y, lambda t: [t])
    assert d[0] == pytest.approx(1.0)  # spatial mean of (2, 0)
    d2 = lpips_distance(x, y, lambda t: [t, t], layer_weights=[[1.0, 1.0], [0.5, 0.5]])
    assert d2[0] == pytest.approx(1.5)


def test_ms_ssim_matches_independent_implementations() -> None:
    from pytorch_msssim import ms_ssim as ref_ms_ssim
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 176, 176, generator=g)
    y = (x + 0.1 * torch.randn(2, 3, 176, 176, generator=g)).clamp(0, 1)
    ours = ms_ssim(y, x)
    assert ours == pytest.approx(float(ref_ms_ssim(y, x, data_range=1.0)), abs=1e-4)
    tm = float(multiscale_structural_similarity_index_measure(y, x, data_range=1.0,
                                                              normalize="relu"))
    assert ours == pytest.approx(tm, abs=2e-3)
    assert ms_ssim(x, x) == pytest.approx(1.0)


def test_bpp_and_jpeg_matched_rate() -> None:
    assert bits_per_pixel([100, 300], 40, 50) == pytest.approx(8 * 200 / 2000)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64] / 64
    imgs = np.stack([np.stack([yy, xx, (yy + xx) / 2]) for _ in range(2)])
    imgs = np.clip(imgs + rng.normal(0, 0.02, imgs.shape), 0, 1)
    _, b10 = jpeg_roundtrip(imgs, 10)
    _, b90 = jpeg_roundtrip(imgs, 90)
    assert b10 < b90
    target = (b10 + b90) / 2
    res = jpeg_at_bpp(imgs, target)
    assert res["reachable"] == 1.0 and res["bpp"] == pytest.approx(target)
    assert 10 < res["quality"] < 90
    low = jpeg_at_bpp(imgs, 0.001)  # below JPEG's header cost
    assert low["reachable"] == 0.0 and low["bpp"] > 0.001


def test_ssim_is_the_project_ssim() -> None:
    """One SSIM in the project: cosmic's is geoneurips.metrics.image.ssim itself."""
    from geoneurips.metrics import image

    assert ssim is image.ssim


def test_seam_ratio_hand_value_and_smooth_error() -> None:
    # error rows [0, 1, 3, 4] (both rows), 2-pixel tiles: horizontal differences 1, 2, 1, the
    # middle one crosses the tile boundary; vertical differences are 0 and inside the tile.
    # Across: mean(4, 4) = 4; inside: (1 + 1 + 1 + 1 + 0 * 4) / 8 = 0.5 -> ratio 8
    pred = np.array([[[[0, 1, 3, 4], [0, 1, 3, 4]]]], dtype=np.float64)
    assert seam_ratio(pred, np.zeros_like(pred), 2) == pytest.approx(8.0)
    # i.i.d. noise has no seams: the ratio is about 1
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(2, 3, 128, 128))
    assert seam_ratio(noise, np.zeros_like(noise), 32) == pytest.approx(1.0, abs=0.1)
    # a per-tile constant offset (independently coded tiles) makes the seams stand out
    offs = np.kron(rng.normal(size=(4, 4)), np.ones((32, 32)))
    assert seam_ratio(0.1 * noise + offs, np.zeros_like(noise), 32) > 3.0
    with pytest.raises(InvalidInputError, match="tile"):
        seam_ratio(noise, noise, 128)
    with pytest.raises(InvalidInputError, match="shapes"):
        seam_ratio(noise, noise[:1], 32)
