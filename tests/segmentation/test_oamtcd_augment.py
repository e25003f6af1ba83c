"""The released training transform of Restor-Foundation/tcd (``augment="released"``):
colour conversions against :mod:`colorsys`, image / mask alignment under the geometric
part, and the colour part actually varying the tiles."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.segmentation.oamtcd.model import TCDConfig
from geoneurips.segmentation.oamtcd.pipeline import (
    _augment,
    _augment_released,
    _hsv_to_rgb,
    _rgb_to_hsv,
    _rotate,
    train_model,
)


def test_hsv_matches_colorsys() -> None:
    x = torch.rand(3, 6, 7, generator=torch.Generator().manual_seed(0))
    x[:, 0, 0] = 0.5  # grey: hue and saturation 0
    x[:, 0, 1] = 0.0  # black
    hsv = _rgb_to_hsv(x)
    for i in range(6):
        for j in range(7):
            want = colorsys.rgb_to_hsv(*x[:, i, j].tolist())
            assert hsv[:, i, j].tolist() == pytest.approx(want, abs=1e-5)
    torch.testing.assert_close(_hsv_to_rgb(hsv), x, atol=1e-5, rtol=0)


def _pair(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(64, 64, dtype=torch.int64)
    for _ in range(4):
        cy, cx = torch.randint(8, 56, (2,), generator=g).tolist()
        yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 < 36] = 1
    image = torch.where(mask.bool(), 200.0, 40.0).expand(3, 64, 64).clone()
    return {"image": image, "mask": mask}


def test_rotation_keeps_image_and_mask_aligned() -> None:
    s = _pair(0)
    for deg in (-73.0, 30.0, 90.0):
        img, m = _rotate(s["image"], s["mask"], deg)
        assert m.dtype == torch.int64 and set(m.unique().tolist()) <= {0, 1}
        agree = ((img[0] > 120) == m.bool()).float().mean()
        assert agree > 0.97, (deg, agree)
    img, m = _rotate(s["image"], s["mask"], 90.0)
    assert torch.equal(m, torch.rot90(s["mask"], 1, (0, 1))) or torch.equal(
        m, torch.rot90(s["mask"], -1, (0, 1)))


def test_released_transform_aligned_and_photometric() -> None:
    torch.manual_seed(0)
    batch = [_pair(i) for i in range(6)]
    means = []
    for _ in range(30):
        out = _augment_released(batch)
        assert out["image"].shape == (6, 3, 64, 64) and out["mask"].shape == (6, 64, 64)
        assert float(out["image"].min()) >= 0 and float(out["image"].max()) <= 255
        for img, m in zip(out["image"], out["mask"], strict=True):
            g = img.mean(0)
            hi, lo = g[m == 1].mean(), g[m == 0].mean()
            assert hi > lo  # trees stay where the mask says
            assert ((g > (hi + lo) / 2) == m.bool()).float().mean() > 0.9
            means.append(float(img.mean()))
    flips = _augment(batch)
    # flips / rot90 keep every tile's mean; the released colour part does not
    assert {round(float(v.mean()), 3) for v in flips["image"]} <= {
        round(float(s["image"].mean()), 3) for s in batch}
    assert np.std(means) > 5.0


def test_train_model_accepts_released_augment() -> None:
    batch = [_pair(i) for i in range(4)]
    cfg = TCDConfig.tiny(num_classes=2)
    model = train_model(cfg, batch, epochs=1, batch_size=2, augment="released")
    assert not model.training
    with pytest.raises(InvalidInputError, match="augment"):
        train_model(cfg, batch, epochs=1, batch_size=2, augment="nope")
