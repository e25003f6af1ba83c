"""Pansharpening metrics (toolbox conventions) against hand-computed values and independent
implementations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from geoneurips.errors import InvalidInputError
from geoneurips.metrics import image
from geoneurips.metrics.mtf import imresize, interp23, mtf_filter, mtf_kernel
from geoneurips.metrics.pansharpening import (
    d_lambda_k,
    d_s,
    full_resolution_metrics,
    hqnr,
    onion_mult,
    q2n,
    q_index,
    reduced_resolution_metrics,
    scc,
)


def _image(bands: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(size=(bands, size, size)), (0, 2, 2))
    return 500.0 + 300.0 * base / base.std() + 20.0 * rng.normal(size=(bands, size, size))


@pytest.mark.parametrize("bands", [1, 3, 4, 8])
def test_q2n_identical_is_one(bands: int) -> None:
    x = _image(bands, 64)
    assert q2n(x, x) == pytest.approx(1.0, abs=1e-12)


def test_q2n_one_band_offset_matches_hand_formula() -> None:
    # one band: each block is normalised by the reference's mean m and sample std s, so the
    # fused block x + c becomes x' + c/s: correlation and contrast terms are 1 and
    # Q = 2 (1 + d) / (1 + (1 + d)^2) with d = c / s; Q2n is the mean over blocks.
    x = _image(1, 64, seed=1)
    c = 37.0
    expected = []
    for i in range(2):
        for j in range(2):
            s = x[0, 32 * i : 32 * (i + 1), 32 * j : 32 * (j + 1)].std(ddof=1)
            d = c / s
            expected.append(2 * (1 + d) / (1 + (1 + d) ** 2))
    assert q2n(x, x + c) == pytest.approx(np.mean(expected), rel=1e-10)


def _q4_complex(gt: np.ndarray, fused: np.ndarray, block: int) -> float:
    """Independent Q for 2 bands with numpy complex numbers (Alparone's Q4 with C = 2)."""
    vals = []
    for i in range(gt.shape[1] // block):
        for j in range(gt.shape[2] // block):
            sl = (slice(None), slice(i * block, (i + 1) * block), slice(j * block, (j + 1) * block))
            a, b = gt[sl], fused[sl]
            m = a.mean(axis=(1, 2), keepdims=True)
            s = a.std(axis=(1, 2), ddof=1, keepdims=True)
            z1 = ((a - m) / s + 1)[0] + 1j * ((a - m) / s + 1)[1]
            z2 = ((b - m) / s + 1)[0] + 1j * ((b - m) / s + 1)[1]
            mu1, mu2 = z1.mean(), z2.mean()
            n = z1.size
            cov = ((z1 - mu1) * np.conj(z2 - mu2)).sum() / (n - 1)
            v1 = (np.abs(z1 - mu1) ** 2).sum() / (n - 1)
            v2 = (np.abs(z2 - mu2) ** 2).sum() / (n - 1)
            q = 4 * np.abs(cov) * np.abs(mu1) * np.abs(mu2) / ((v1 + v2) * (
                np.abs(mu1) ** 2 + np.abs(mu2) ** 2))
            vals.append(q)
    return float(np.mean(vals))


def test_q2n_two_bands_equals_complex_q() -> None:
    x = _image(2, 64, seed=2)
    rng = np.random.default_rng(3)
    y = 0.9 * x + 40 + rng.normal(scale=60, size=x.shape)
    y[1] = y[1][:, ::-1] * 0.5 + y[1] * 0.5  # some spectral/spatial distortion
    assert q2n(x, y) == pytest.approx(_q4_complex(x, y, 32), rel=1e-9)
    assert 0 < q2n(x, y) < 1


def test_onion_mult_is_the_hypercomplex_product() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=2), rng.normal(size=2)
    za, zb = a[0] + 1j * a[1], b[0] + 1j * b[1]
    assert onion_mult(a, b) == pytest.approx([(za * zb).real, (za * zb).imag])
    for n in (4, 8):  # quaternions and octonions are composition algebras: |ab| = |a||b|
        a, b = rng.normal(size=n), rng.normal(size=n)
        assert np.linalg.norm(onion_mult(a, b)) == pytest.approx(
            np.linalg.norm(a) * np.linalg.norm(b), rel=1e-12)
    e = np.eye(4)
    assert onion_mult(e[0], e[2]) == pytest.approx(e[2])  # 1 is the identity


def test_q2n_with_overlapping_blocks_and_padding() -> None:
    x = _image(4, 80, seed=5)
    y = x + np.random.default_rng(6).normal(scale=40, size=x.shape)
    value, qmap = q2n(x, y, 32, 16, return_map=True)
    assert qmap.shape == (5, 5)
    assert 0.5 < value < 1.0
    assert q2n(x, x, 32, 16) == pytest.approx(1.0)


def test_q_index_hand_values() -> None:
    x = _image(1, 32, seed=7)[0]
    assert q_index(x, x) == pytest.approx(1.0)
    c = 50.0
    mu = x.mean()
    assert q_index(x, x + c) == pytest.approx(2 * mu * (mu + c) / (mu**2 + (mu + c) ** 2))
    assert q_index(x, 2 * x) == pytest.approx(4 * 2 / (1 + 4) * 2 / (1 + 4) * 1.0)


def _scc_reference(gt: np.ndarray, fused: np.ndarray) -> float:
    def mag(img: np.ndarray) -> np.ndarray:
        inner = img[:, 1:-1, 1:-1]
        gy = np.stack([ndimage.sobel(b, axis=0, mode="constant") for b in inner])
        gx = np.stack([ndimage.sobel(b, axis=1, mode="constant") for b in inner])
        return np.hypot(gx, gy)

    a, b = mag(fused), mag(gt)
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_scc_identity_and_independent_reference() -> None:
    x = _image(4, 48, seed=8)
    y = ndimage.gaussian_filter(x, (0, 1, 1)) + 5
    assert scc(x, x) == pytest.approx(1.0)
    assert scc(x, y) == pytest.approx(_scc_reference(x, y), rel=1e-12)
    assert scc(x, 3 * y) == pytest.approx(scc(x, y))  # scale invariant
    assert scc(x, y) < 0.999


def test_reduced_resolution_metrics_consistent_with_image_metrics() -> None:
    gt = _image(8, 64, seed=9)
    fused = gt * 1.02 + np.random.default_rng(10).normal(scale=15, size=gt.shape)
    out = reduced_resolution_metrics(fused, gt, ratio=4, max_value=None)
    assert set(out) == {"SAM", "ERGAS", "Q2n", "SCC"}
    assert out["SAM"] == pytest.approx(image.sam(fused, gt))
    assert out["ERGAS"] == pytest.approx(image.ergas(fused, gt, ratio=4))
    perfect = reduced_resolution_metrics(gt, gt, max_value=None)
    assert perfect["SAM"] == pytest.approx(0.0, abs=1e-6)
    assert perfect["ERGAS"] == 0.0
    assert perfect["Q2n"] == pytest.approx(1.0) and perfect["SCC"] == pytest.approx(1.0)


def test_ergas_and_sam_hand_values() -> None:
    gt = np.full((4, 32, 32), 100.0)
    # every band off by 10: ERGAS = 100/4 * sqrt(mean(10^2 / 100^2)) = 2.5; same direction
    out = reduced_resolution_metrics(gt + 10.0, gt, ratio=4, max_value=2047)
    assert out["ERGAS"] == pytest.approx(2.5)
    assert out["SAM"] == pytest.approx(0.0, abs=1e-6)
    # a 2-band image rotated by 90 degrees everywhere
    a = np.stack([np.ones((32, 32)), np.zeros((32, 32))])
    b = np.stack([np.zeros((32, 32)), np.ones((32, 32))])
    assert image.sam(b, a) == pytest.approx(90.0)


def test_max_value_clips_fused() -> None:
    gt = _image(4, 32, seed=11)
    fused = gt.copy()
    fused[0, 0, 0] = 1e6
    clipped = reduced_resolution_metrics(fused, gt, max_value=float(gt.max()))
    raw = reduced_resolution_metrics(fused, gt, max_value=None)
    assert clipped["ERGAS"] < raw["ERGAS"]


def test_full_resolution_zero_distortion_cases() -> None:
    rng = np.random.default_rng(12)
    pan = 400 + 100 * ndimage.gaussian_filter(rng.normal(size=(1, 128, 128)), 3)
    # MS = degraded PAN in every band: then ms_exp equals the toolbox's low-pass PAN and a
    # fusion equal to the PAN in every band has D_s = 0 exactly.
    ms = np.repeat(imresize(pan, 0.25), 4, axis=0)
    fused = np.repeat(pan, 4, axis=0)
    assert d_s(fused, interp23(ms), pan) == pytest.approx(0.0, abs=1e-12)
    # D_lambda compares ms_exp with the MTF-filtered fusion: zero when they coincide
    img = _image(4, 64, seed=13)
    assert d_lambda_k(img, mtf_filter(img, mtf_kernel("QB", 4)), "QB") == pytest.approx(
        0.0, abs=1e-12)
    assert d_lambda_k(img, img, "QB") > 0.01
    assert hqnr(0.1, 0.2) == pytest.approx(0.9 * 0.8)
    out = full_resolution_metrics(fused, ms, pan, "QB")
    assert out["HQNR"] == pytest.approx((1 - out["D_lambda"]) * (1 - out["D_s"]))
    assert out["D_s"] == pytest.approx(0.0, abs=1e-12)


def test_metric_bad_inputs() -> None:
    x = _image(4, 64)
    with pytest.raises(InvalidInputError, match="shape"):
        q2n(x, x[:, :32])
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        reduced_resolution_metrics(bad, x)
    with pytest.raises(InvalidInputError, match="multiple of the block"):
        d_lambda_k(x[:, :60, :60], x[:, :60, :60], "QB")
    with pytest.raises(InvalidInputError, match="ms shape"):
        full_resolution_metrics(x, x, x[:1], "QB")
    with pytest.raises(InvalidInputError, match="MS bands"):
        d_lambda_k(x, x, "WV3")  # WV3 filters are for 8 bands
