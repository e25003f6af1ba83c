"""The one SSIM of the project (``metrics.image.ssim`` / ``ssim_torch``): the options the
papers' conventions need (padding mode, pre-masking, per-sample means), cross-checked against
scikit-image and torchmetrics, and the torch version against the numpy one."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity
from torchmetrics.functional.image import structural_similarity_index_measure

from geoneurips.errors import InvalidInputError
from geoneurips.metrics.image import ssim, ssim_map, ssim_torch


def _pair(shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.random(shape)
    return np.clip(t + 0.1 * rng.standard_normal(shape), 0, 1), t


def _sk_full(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _, full = structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=1.0,
                                    channel_axis=0, full=True)
    return np.asarray(full)


def test_zero_padding_and_premask_match_skimage_on_padded_premasked_images() -> None:
    """AllClear's convention: images multiplied by the mask, zero padded by 5, map averaged
    over the mask. skimage on explicitly padded, premasked images gives the reference."""
    p, t = _pair((3, 26, 22), seed=1)
    mask = np.zeros((26, 22), bool)
    mask[2:20, 4:21] = True
    pad = [(0, 0), (5, 5), (5, 5)]
    full = _sk_full(np.pad(p * mask, pad), np.pad(t * mask, pad))[:, 5:-5, 5:-5]
    got = ssim(p, t, 1.0, mask=mask, premask=True, crop_border=False, pad_mode="zeros")
    assert got == pytest.approx(full[:, mask].mean(), abs=1e-9)
    # without premasking the value differs (the option does something)
    plain = ssim(p, t, 1.0, mask=mask, crop_border=False, pad_mode="zeros")
    assert abs(plain - got) > 1e-3
    # zero padding without a mask: skimage on a zero-padded pair, interior
    full0 = _sk_full(np.pad(p, pad), np.pad(t, pad))[:, 5:-5, 5:-5]
    assert ssim(p, t, 1.0, crop_border=False, pad_mode="zeros") == pytest.approx(
        full0.mean(), abs=1e-9)
    np.testing.assert_allclose(ssim_map(p, t, 1.0, crop_border=False, pad_mode="zeros"),
                               full0, atol=1e-9)


def test_reflect_padding_matches_torchmetrics_full_image_mean() -> None:
    """torchmetrics 1.x pads with PyTorch's 'reflect' and averages the whole map."""
    p, t = _pair((2, 3, 24, 20), seed=2)
    tm = structural_similarity_index_measure(torch.from_numpy(p), torch.from_numpy(t),
                                             data_range=1.0)
    ours = ssim(p, t, 1.0, band_axis=1, crop_border=False, pad_mode="reflect")
    symmetric = ssim(p, t, 1.0, band_axis=1, crop_border=False)
    assert ours == pytest.approx(float(tm), abs=1e-9)
    assert abs(symmetric - float(tm)) > 1e-6  # the padding mode matters at the border
    tt = ssim_torch(torch.from_numpy(p), torch.from_numpy(t), crop_border=False,
                    pad_mode="reflect")
    assert float(tt) == pytest.approx(ours, abs=1e-9)


@pytest.mark.parametrize("pad_mode", ["symmetric", "reflect", "zeros"])
@pytest.mark.parametrize("crop", [True, False])
def test_torch_equals_numpy_all_options(pad_mode: str, crop: bool) -> None:
    p, t = _pair((2, 4, 23, 19), seed=3)
    mask = np.random.default_rng(4).random((2, 1, 23, 19)) > 0.3
    pt, tt, mt = torch.from_numpy(p), torch.from_numpy(t), torch.from_numpy(mask)
    for premask in (False, True):
        per = ssim_torch(pt, tt, mask=mt, crop_border=crop, pad_mode=pad_mode,  # type: ignore[arg-type]
                         premask=premask, per_sample=True)
        for i in range(2):
            ref = ssim(p[i], t[i], 1.0, mask=mask[i, 0], crop_border=crop,
                       pad_mode=pad_mode, premask=premask)  # type: ignore[arg-type]
            assert float(per[i]) == pytest.approx(ref, abs=1e-9)
    whole = ssim_torch(pt, tt, crop_border=crop, pad_mode=pad_mode)  # type: ignore[arg-type]
    assert float(whole) == pytest.approx(
        ssim(p, t, 1.0, band_axis=1, crop_border=crop, pad_mode=pad_mode),  # type: ignore[arg-type]
        abs=1e-9)


def test_torch_ssim_matches_skimage_and_is_differentiable() -> None:
    p, t = _pair((3, 20, 20), seed=5)
    ref = structural_similarity(p, t, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, data_range=1.0, channel_axis=0)
    x = torch.from_numpy(p)[None].requires_grad_(True)
    val = ssim_torch(x, torch.from_numpy(t)[None])
    assert float(val) == pytest.approx(ref, abs=1e-9)
    val.backward()  # type: ignore[no-untyped-call]
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_per_band_average_equals_pooled_mean_with_shared_mask() -> None:
    p, t = _pair((5, 18, 18), seed=6)
    per_band = np.mean([ssim(p[b], t[b], 1.0, band_axis=None) for b in range(5)])
    assert ssim(p, t, 1.0) == pytest.approx(per_band, abs=1e-12)


def test_options_errors_and_empty_mask() -> None:
    p, t = _pair((2, 16, 16))
    with pytest.raises(InvalidInputError, match="pad_mode"):
        ssim(p, t, 1.0, crop_border=False, pad_mode="wrap")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="premask"):
        ssim(p, t, 1.0, premask=True)
    pt, tt = torch.from_numpy(p)[None], torch.from_numpy(t)[None]
    with pytest.raises(InvalidInputError, match="mask"):
        ssim_torch(pt, tt, mask=torch.ones(1, 3, 16, 16, dtype=torch.bool))
    with pytest.raises(InvalidInputError, match="B, C, H, W"):
        ssim_torch(pt[0], tt[0])
    empty = ssim_torch(pt, tt, mask=torch.zeros(1, 1, 16, 16, dtype=torch.bool),
                       per_sample=True)
    assert math.isnan(float(empty[0]))
