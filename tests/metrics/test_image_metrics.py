"""Cross-checks of geoneurips.metrics.image (psnr, ssim, sam, ergas)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torchmetrics.functional.image import (
    error_relative_global_dimensionless_synthesis,
    spectral_angle_mapper,
    structural_similarity_index_measure,
)
from torchmetrics.functional.image import (
    peak_signal_noise_ratio as tm_psnr,
)

from geoneurips.errors import InvalidInputError
from geoneurips.metrics import image
from geoneurips.metrics.image import ergas, psnr, sam, sam_map, ssim, ssim_map


def _pair(shape: tuple[int, ...], seed: int = 0, noise: float = 0.1) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    target = rng.random(shape)
    pred = np.clip(target + noise * rng.standard_normal(shape), 0.0, 1.0)
    return pred, target


# ----------------------------------------------------------------------------------- PSNR


def test_psnr_hand_value() -> None:
    target = np.linspace(0, 1, 64).reshape(8, 8)
    assert psnr(target + 0.1, target, data_range=1.0) == pytest.approx(20.0)
    # data_range=None uses max - min of the reference (here 2.0): 10 log10(4 / 0.01)
    assert psnr(2 * target + 0.1, 2 * target) == pytest.approx(10 * math.log10(400.0))


def test_psnr_matches_skimage_and_torchmetrics() -> None:
    pred, target = _pair((4, 20, 24))
    ours = psnr(pred, target, data_range=1.0)
    assert ours == pytest.approx(peak_signal_noise_ratio(target, pred, data_range=1.0), abs=1e-10)
    pt, tt = torch.from_numpy(pred), torch.from_numpy(target)
    # torchmetrics accumulates in float32: agree to ~1e-6 dB
    assert ours == pytest.approx(float(tm_psnr(pt, tt, data_range=1.0)), abs=1e-5)
    # default data range = max - min of the reference
    rng = float(target.max() - target.min())
    assert rng < 1.0
    assert psnr(pred, target) == pytest.approx(float(tm_psnr(pt, tt, data_range=rng)), abs=1e-5)


def test_psnr_per_band_mean() -> None:
    pred, target = _pair((3, 16, 16), seed=1)
    pred[1] = np.clip(target[1] + 0.3, 0, 1)  # bands with very different errors
    per_band = [peak_signal_noise_ratio(target[b], pred[b], data_range=2047.0) for b in range(3)]
    ours = psnr(pred, target, data_range=2047.0, band_axis=0)
    assert ours == pytest.approx(np.mean(per_band), abs=1e-10)
    assert ours != pytest.approx(psnr(pred, target, data_range=2047.0))
    tm = tm_psnr(torch.from_numpy(pred), torch.from_numpy(target), data_range=2047.0, dim=(1, 2))
    assert ours == pytest.approx(float(tm), abs=1e-5)
    hwc = psnr(np.moveaxis(pred, 0, -1), np.moveaxis(target, 0, -1), 2047.0, band_axis=-1)
    assert hwc == pytest.approx(ours)


def test_psnr_mask_edge_cases_and_errors() -> None:
    pred, target = _pair((2, 10, 10), seed=2)
    mask = np.zeros((10, 10), bool)
    mask[2:7, 3:9] = True
    assert psnr(pred, target, 1.0, mask=mask) == pytest.approx(
        psnr(pred[:, mask], target[:, mask], 1.0)
    )
    assert math.isnan(psnr(pred, target, 1.0, mask=np.zeros((10, 10), bool)))
    assert psnr(target, target, 1.0) == math.inf
    bad = pred.copy()
    bad[0, 0, 0] = np.nan
    assert math.isnan(psnr(bad, target, 1.0))
    assert math.isnan(psnr(bad, target, 1.0, band_axis=0))
    with pytest.raises(InvalidInputError, match="shape"):
        psnr(pred, target[:1])
    with pytest.raises(InvalidInputError, match="data_range"):
        psnr(pred, np.ones_like(target))
    with pytest.raises(InvalidInputError, match="data_range"):
        psnr(pred, target, data_range=0.0)
    with pytest.raises(InvalidInputError, match="band_axis"):
        psnr(pred, target, 1.0, band_axis=3)


# ----------------------------------------------------------------------------------- SSIM


def _sk_ssim(pred: np.ndarray, target: np.ndarray, **kw: object) -> float:
    return float(
        structural_similarity(
            pred, target, gaussian_weights=True, use_sample_covariance=False, **kw
        )
    )


def test_ssim_matches_skimage_chw_hwc_and_2d() -> None:
    pred, target = _pair((3, 40, 37))
    ours = ssim(pred, target, 1.0)
    ref = _sk_ssim(pred, target, sigma=1.5, data_range=1.0, channel_axis=0)
    assert ours == pytest.approx(ref, abs=1e-6)
    assert 0.5 < ours < 0.99
    hwc = ssim(np.moveaxis(pred, 0, -1), np.moveaxis(target, 0, -1), 1.0, band_axis=-1)
    assert hwc == pytest.approx(ref, abs=1e-6)
    one = ssim(pred[0], target[0], 1.0, band_axis=None)
    assert one == pytest.approx(_sk_ssim(pred[0], target[0], sigma=1.5, data_range=1.0), abs=1e-6)


def test_ssim_other_window_and_constants_match_skimage() -> None:
    pred, target = _pair((2, 33, 33), seed=5, noise=0.2)
    # skimage truncates the Gaussian at 3.5 sigma: sigma 2 -> radius 7 -> 15 taps
    ours = ssim(pred * 255, target * 255, 255.0, win_sigma=2.0, win_size=15, k1=0.02, k2=0.05)
    ref = _sk_ssim(
        pred * 255, target * 255, sigma=2.0, data_range=255.0, channel_axis=0, K1=0.02, K2=0.05
    )
    assert ours == pytest.approx(ref, abs=1e-6)


def test_ssim_map_interior_matches_torchmetrics_batched() -> None:
    # torchmetrics averages a reflect-padded full map; its interior is the cropped map
    pred, target = _pair((2, 3, 32, 30), seed=6)
    ours = ssim_map(pred, target, 1.0, band_axis=1)  # (C, N, H-10, W-10)
    _, full = structural_similarity_index_measure(
        torch.from_numpy(pred), torch.from_numpy(target), data_range=1.0, return_full_image=True
    )
    inner = full.numpy()[:, :, 5:-5, 5:-5]
    np.testing.assert_allclose(np.moveaxis(ours, 0, 1), inner, atol=1e-9)
    assert ssim(pred, target, 1.0, band_axis=1) == pytest.approx(inner.mean(), abs=1e-9)


def test_ssim_hand_value_constant_images() -> None:
    a, b, c1 = 0.3, 0.5, 0.01**2
    x = np.full((1, 16, 16), a)
    y = np.full((1, 16, 16), b)
    # zero variances: SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    assert ssim(x, y, 1.0) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-9)
    assert ssim(y, y, 1.0) == pytest.approx(1.0)


def test_ssim_uncropped_matches_skimage_full_map_and_mask() -> None:
    pred, target = _pair((2, 24, 28), seed=7)
    _, full = structural_similarity(
        pred,
        target,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
        channel_axis=0,
        full=True,
    )
    np.testing.assert_allclose(ssim_map(pred, target, 1.0, crop_border=False), full, atol=1e-9)
    assert ssim(pred, target, 1.0, crop_border=False) == pytest.approx(full.mean(), abs=1e-9)
    mask = np.zeros((24, 28), bool)
    mask[3:20, 10:27] = True
    assert ssim(pred, target, 1.0, mask=mask, crop_border=False) == pytest.approx(
        full[:, mask].mean(), abs=1e-9
    )
    # cropped: the mask is cropped like the map (5 px on each side)
    inner = full[:, 5:-5, 5:-5]
    m_in = mask[5:-5, 5:-5]
    assert ssim(pred, target, 1.0, mask=mask) == pytest.approx(inner[:, m_in].mean(), abs=1e-9)
    # a band-resolved mask in (H, W, C) layout
    m3 = np.zeros((24, 28, 2), bool)
    m3[:, :, 1] = mask
    got = ssim(
        np.moveaxis(pred, 0, -1),
        np.moveaxis(target, 0, -1),
        1.0,
        band_axis=-1,
        mask=m3,
        crop_border=False,
    )
    assert got == pytest.approx(full[1][mask].mean(), abs=1e-9)
    assert math.isnan(ssim(pred, target, 1.0, mask=np.zeros((24, 28), bool)))


def test_ssim_errors_and_nan() -> None:
    pred, target = _pair((2, 12, 12))
    with pytest.raises(InvalidInputError, match="win_size"):
        ssim(pred[:, :8], target[:, :8], 1.0)
    with pytest.raises(InvalidInputError, match="odd"):
        ssim(pred, target, 1.0, win_size=4)
    with pytest.raises(InvalidInputError, match="data_range"):
        ssim(pred, target, 0.0)
    with pytest.raises(InvalidInputError, match="shape"):
        ssim(pred, target[:1], 1.0)
    with pytest.raises(InvalidInputError, match="mask"):
        ssim(pred, target, 1.0, mask=np.ones((3, 5), bool))
    bad = pred.copy()
    bad[0, 6, 6] = np.nan
    assert math.isnan(ssim(bad, target, 1.0))


# ------------------------------------------------------------------------------------ SAM


def test_sam_hand_values() -> None:
    # (C=2, 4 pixels): orthogonal, parallel (scaled), opposite, 45 degrees
    a = np.array([[1.0, 2.0, 1.0, 1.0], [0.0, 2.0, 0.0, 0.0]])
    b = np.array([[0.0, 1.0, -3.0, 1.0], [5.0, 1.0, 0.0, 1.0]])
    np.testing.assert_allclose(sam_map(a, b), [90.0, 0.0, 180.0, 45.0], atol=1e-12)
    assert sam(a, b) == pytest.approx((90 + 0 + 180 + 45) / 4)
    assert sam(a.T, b.T, band_axis=1) == pytest.approx(sam(a, b))


def test_sam_zero_vectors_are_excluded() -> None:
    # pixels: orthogonal, pred zero, 45 degrees, target zero
    a = np.array([[1.0, 0.0, 1.0, 2.0], [0.0, 0.0, 1.0, 3.0]])
    b = np.array([[0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    amap = sam_map(a, b)
    np.testing.assert_allclose(amap[[0, 2]], [90.0, 45.0])
    assert np.isnan(amap[1]) and np.isnan(amap[3])
    assert sam(a, b) == pytest.approx((90.0 + 45.0) / 2)
    assert math.isnan(sam(np.zeros((3, 4)), np.ones((3, 4))))
    # eps raises the exclusion threshold on |a| |b|
    assert sam(a * 1e-3, b, eps=1e-2) != sam(a * 1e-3, b)


def test_sam_matches_torchmetrics_and_acos() -> None:
    rng = np.random.default_rng(8)
    pred = rng.random((2, 6, 9, 11)) + 0.05
    target = rng.random((2, 6, 9, 11)) + 0.05
    tm = spectral_angle_mapper(torch.from_numpy(pred), torch.from_numpy(target))
    assert sam(pred, target, band_axis=1) == pytest.approx(math.degrees(float(tm)), abs=1e-9)
    cos = (pred * target).sum(1) / np.linalg.norm(pred, axis=1) / np.linalg.norm(target, axis=1)
    np.testing.assert_allclose(
        sam_map(pred, target, band_axis=1), np.degrees(np.arccos(cos)), atol=1e-9
    )


def test_sam_tiny_angle_is_accurate() -> None:
    a = np.array([[1.0], [0.0]])
    b = np.array([[1.0], [1e-9]])
    assert sam(a, b) == pytest.approx(math.degrees(1e-9), rel=1e-6)


def test_sam_mask_nan_and_errors() -> None:
    pred, target = _pair((4, 6, 7), seed=9)
    mask = np.zeros((6, 7), bool)
    mask[1:4, 2:6] = True
    assert sam(pred, target, mask=mask) == pytest.approx(sam_map(pred, target)[mask].mean())
    full_mask = np.broadcast_to(mask, pred.shape)
    assert sam(pred, target, mask=full_mask) == pytest.approx(sam(pred, target, mask=mask))
    bad = pred.copy()
    bad[2, 3, 3] = np.nan
    assert math.isnan(sam(bad, target))
    assert np.isnan(sam_map(bad, target)[3, 3]) and np.isfinite(sam_map(bad, target)[0, 0])
    with pytest.raises(InvalidInputError, match="shape"):
        sam(pred, target[:3])
    with pytest.raises(InvalidInputError, match="band_axis"):
        sam(pred, target, band_axis=5)


# ---------------------------------------------------------------------------------- ERGAS


def test_ergas_hand_value_constant_offset() -> None:
    target = np.stack([np.full((8, 8), 10.0), np.full((8, 8), 20.0)])
    # offset 1 on every pixel: RMSE_b = 1, means 10 and 20
    expected = 100 / 4 * math.sqrt((1 / 100 + 1 / 400) / 2)
    assert ergas(target + 1.0, target, ratio=4) == pytest.approx(expected)
    assert ergas(target, target, ratio=4) == 0.0


def test_ergas_matches_torchmetrics() -> None:
    rng = np.random.default_rng(10)
    target = 100 + 50 * rng.random((8, 16, 16))
    pred = target + 5 * rng.standard_normal(target.shape)
    tm = error_relative_global_dimensionless_synthesis(
        torch.from_numpy(pred[None]), torch.from_numpy(target[None]), ratio=4
    )
    assert ergas(pred, target, ratio=4) == pytest.approx(float(tm), rel=1e-9)
    hwc = ergas(np.moveaxis(pred, 0, -1), np.moveaxis(target, 0, -1), 4, band_axis=-1)
    assert hwc == pytest.approx(ergas(pred, target, 4))


def test_ergas_edge_cases() -> None:
    target = np.zeros((2, 4, 4))
    target[1] = 1.0
    assert ergas(target, target, 4) == 0.0  # a perfect zero-mean band adds 0
    assert ergas(target + 0.5, target, 4) == math.inf
    bad = target.copy()
    bad[0, 0, 0] = np.nan
    assert math.isnan(ergas(bad, target, 4))
    with pytest.raises(InvalidInputError, match="ratio"):
        ergas(target, target, 0)
    with pytest.raises(InvalidInputError, match="shape"):
        ergas(target, target[:1], 4)


def test_torch_inputs_and_reexports() -> None:
    pred, target = _pair((3, 16, 16), seed=11)
    pt, tt = torch.from_numpy(pred), torch.from_numpy(target)
    assert ssim(pt, tt, 1.0) == pytest.approx(ssim(pred, target, 1.0))
    assert sam(pt, tt) == pytest.approx(sam(pred, target))
    assert psnr(pt, tt, 1.0) == pytest.approx(psnr(pred, target, 1.0))
    assert ergas(pt, tt, 4) == pytest.approx(ergas(pred, target, 4))
    assert image.rmse(pred, target) == pytest.approx(np.sqrt(np.mean((pred - target) ** 2)))
    assert image.mae(pred, target) == pytest.approx(np.mean(np.abs(pred - target)))
