"""AllClear demo baselines beyond the paper's two: per-pixel least-cloudy, median and
nearest-in-time clear compositing, and the stacked U-Net, checked by hand."""

from __future__ import annotations

import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.restoration.allclear.model import (
    StackUNet,
    least_cloudy,
    median_clear,
    nearest_clear,
    pixel_least_cloudy,
)


def _stack() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """4 frames of one 2-band 2 x 2 image; frame t holds the value 10 t + band."""
    vals = torch.tensor([0.0, 10.0, 20.0, 30.0]).view(1, 1, 4, 1, 1)
    imgs = (vals + torch.tensor([0.0, 1.0]).view(1, 2, 1, 1, 1)).expand(1, 2, 4, 2, 2).clone()
    masks = torch.zeros(1, 2, 4, 2, 2)
    masks[0, 0, 0, 0, 0] = 1  # frame 0 (cloudiest: 3 px) cloudy at (0,0), (0,1), (1,0)
    masks[0, 0, 0, 0, 1] = 1
    masks[0, 1, 0, 1, 0] = 1  # (shadow)
    masks[0, 0, 1, 0, 0] = 1  # frame 1: 2 px, (0,0) and (1,1)
    masks[0, 1, 1, 1, 1] = 1
    masks[0, 0, 2, 0, 0] = 1  # frame 2: 1 px, (0,0)
    masks[0, 0, 3] = 1  # frame 3 cloudy everywhere (4 px)
    days = torch.tensor([[-15.0, -5.0, 5.0, 1.0]])
    return imgs, masks, days


def test_pixel_least_cloudy_by_hand() -> None:
    imgs, masks, _ = _stack()
    out = pixel_least_cloudy(imgs, masks)
    # ranking by cloudiness: frame 2 (1 px) < 1 (2) < 0 (3) < 3 (4)
    assert out[0, 0].tolist() == [[20.0, 20.0], [20.0, 20.0]]
    # (0,0) is cloudy in every frame but 3: ... frame 3 is cloudy there too -> least cloudy
    masks[0, 0, 2, 1, 1] = 1  # (1,1) now clear only in frames 0
    out = pixel_least_cloudy(imgs, masks)
    assert out[0, 1, 1, 1].item() == 1.0  # frame 0, band 1


def test_nearest_clear_and_median_by_hand() -> None:
    imgs, masks, days = _stack()
    near = nearest_clear(imgs, masks, days)
    # frame 3 (1 day) is cloudy everywhere; frames 1 (-5 days) and 2 (+5) tie and the
    # earlier wins where both are clear; (0,0) is clear nowhere: least cloudy frame 2
    assert near[0, 0].tolist() == [[20.0, 10.0], [10.0, 20.0]]
    masks[0, 0, 1, 0, 1] = 1  # (0,1): now clear in frames 0 (-15 days) and 2 (+5)
    near = nearest_clear(imgs, masks, days)
    assert near[0, 0, 0, 1].item() == 20.0
    # a pixel clear nowhere falls back to the least cloudy frame
    masks[0, 0, :, 1, 1] = 1
    assert nearest_clear(imgs, masks, days)[0, 0, 1, 1].item() == least_cloudy(imgs, masks)[
        0, 0, 1, 1].item()
    imgs2, masks2, _ = _stack()
    med = median_clear(imgs2, masks2)
    # (1,1): clear in frames 0 and 2 -> lower median 0; (0,1): frames 1, 2 -> 10
    assert med[0, 0, 1, 1].item() == 0.0 and med[0, 0, 0, 1].item() == 10.0
    assert med[0, 0, 0, 0].item() == 20.0  # only frame 2 clear
    with pytest.raises(InvalidInputError, match="time_differences"):
        nearest_clear(imgs, masks, days[:, :3])


def test_stack_unet_shapes_and_inputs() -> None:
    torch.manual_seed(0)
    net = StackUNet(in_channels=15, tx=3, width=4, depth=2)
    imgs, masks = torch.rand(2, 15, 3, 16, 16), torch.zeros(2, 2, 3, 16, 16)
    mean, var = net(imgs, torch.tensor([[-5.0, 5.0, 10.0]] * 2), masks)
    assert mean.shape == (2, 13, 16, 16) and var is None
    assert 0 <= float(mean.min()) and float(mean.max()) <= 1
    # the masks reach the network
    masks[:, 0, 0] = 1
    assert not torch.equal(net(imgs, torch.tensor([[-5.0, 5.0, 10.0]] * 2), masks)[0], mean)
    with pytest.raises(InvalidInputError, match="StackUNet"):
        net(torch.rand(2, 13, 3, 16, 16), torch.zeros(2, 3), torch.zeros(2, 2, 3, 16, 16))
