"""AllClear metrics cross-checked against the shared metrics, skimage and hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from geoneurips.errors import InvalidInputError
from geoneurips.metrics.image import psnr, sam
from geoneurips.metrics.regression import mae, rmse
from geoneurips.restoration.allclear.metrics import (
    clear_mask,
    evaluate,
    masked_sam,
    masked_ssim,
    per_sample_metrics,
)


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(3, 13, 24, 24, generator=g, dtype=torch.float64)
    o = (t + 0.08 * torch.randn(t.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    m = torch.rand(3, 1, 24, 24, generator=g) > 0.35
    return o, t, m


def test_mae_rmse_psnr_sam_match_shared_metrics() -> None:
    o, t, m = _data()
    per = per_sample_metrics(o, t, m)
    for i in range(3):
        oi, ti, mi = o[i].numpy(), t[i].numpy(), m[i, 0].numpy()
        assert per["MAE"][i].item() == pytest.approx(mae(oi, ti, mask=mi), rel=1e-12)
        assert per["RMSE"][i].item() == pytest.approx(rmse(oi, ti, mask=mi), rel=1e-12)
        assert per["PSNR"][i].item() == pytest.approx(psnr(oi, ti, 1.0, mask=mi), rel=1e-12)
        assert per["SAM"][i].item() == pytest.approx(sam(oi, ti, mask=mi), rel=1e-9)


def test_masked_ssim_matches_skimage_on_premasked_zero_padded_images() -> None:
    o, t, m = _data(1)
    got = masked_ssim(o, t, m)
    for i in range(3):
        mi = m[i, 0].numpy()
        pad = [(0, 0), (5, 5), (5, 5)]
        a = np.pad(o[i].numpy() * mi, pad)
        b = np.pad(t[i].numpy() * mi, pad)
        _, smap = structural_similarity(a, b, data_range=1.0, channel_axis=0, full=True,
                                        gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False)
        smap = smap[5:-5, 5:-5] if smap.ndim == 2 else smap[:, 5:-5, 5:-5]
        expected = np.broadcast_to(smap, (13, 24, 24))[:, mi].mean()
        assert got[i].item() == pytest.approx(expected, abs=1e-9)
    assert masked_ssim(t, t, m).tolist() == pytest.approx([1.0] * 3)


def test_sam_is_over_bands_not_rows() -> None:
    o = torch.zeros(1, 2, 1, 2, dtype=torch.float64)
    t = torch.zeros_like(o)
    o[0, :, 0, 0] = torch.tensor([1.0, 0.0])
    t[0, :, 0, 0] = torch.tensor([0.0, 1.0])  # 90 degrees
    o[0, :, 0, 1] = torch.tensor([2.0, 1.0])
    t[0, :, 0, 1] = torch.tensor([1.0, 0.0])  # atan(1/2) = 26.565 degrees
    full = torch.ones(1, 1, 1, 2, dtype=torch.bool)
    expected = (90.0 + math.degrees(math.atan(0.5))) / 2
    assert masked_sam(o, t, full).item() == pytest.approx(expected)
    # the public code's normalisation over dim=2 (rows of height 1) gives 0 here
    bug = torch.nn.functional.normalize(o, dim=2) * torch.nn.functional.normalize(t, dim=2)
    assert torch.rad2deg(torch.acos(bug.sum(2).clamp(-1, 1))).mean().item() != pytest.approx(expected)


def test_evaluate_aggregate_and_landcover() -> None:
    o, t, m = _data(2)
    g = torch.Generator().manual_seed(5)
    lulc = torch.randint(-1, 4, (3, 1, 24, 24), generator=g)
    res = evaluate(o, t, m, lulc, classes=range(9))
    per = per_sample_metrics(o, t, m)
    assert res["PSNR"] == pytest.approx(per["PSNR"].mean().item())
    table = res["lulc"]
    assert isinstance(table, dict)
    assert sum(r["pixels"] for r in table.values()) == float((m & (lulc >= 0)).sum())
    cm = m & (lulc == 2)
    assert table[2]["MAE"] == pytest.approx(per_sample_metrics(o, t, cm)["MAE"].mean().item())
    assert np.isnan(table[7]["MAE"]) and table[7]["pixels"] == 0
    # an empty target mask gives NaN for that sample, dropped by the NaN-mean
    m2 = m.clone()
    m2[0] = False
    assert evaluate(o, t, m2)["MAE"] == pytest.approx(per["MAE"][1:].mean().item())


def test_clear_mask_and_bad_shapes() -> None:
    cs = torch.zeros(1, 2, 4, 4)
    cs[0, 0, 0, 0] = 1
    cs[0, 1, 1, 1] = 1
    cm = clear_mask(cs)
    assert cm.shape == (1, 1, 4, 4) and int(cm.sum()) == 14
    o, t, m = _data()
    with pytest.raises(InvalidInputError, match="must both be"):
        per_sample_metrics(o, t[:, :3], m)
    with pytest.raises(InvalidInputError, match="mask shape"):
        per_sample_metrics(o, t, m[:, :, :5])
