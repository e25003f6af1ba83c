"""FUSU-Net components: shapes, paper defaults, bug fixes of the public code, loss."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from geoneurips.change.fusu.model import (
    UTAE,
    FusionModule,
    FUSUNet,
    FUSUNetConfig,
    fusu_loss,
)
from geoneurips.errors import InvalidInputError


def _inputs(b: int = 2, t: int = 5, c: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x1, x2 = torch.randn(b, 3, 32, 32, generator=g), torch.randn(b, 3, 32, 32, generator=g)
    ts = torch.randn(b, t, c, 12, 12, generator=g)
    dates = torch.arange(t).repeat(b, 1) * 3
    return x1, x2, ts, dates


def test_paper_defaults() -> None:
    cfg = FUSUNetConfig()
    assert cfg.num_classes == 17 and cfg.ts_channels == 14
    assert cfg.utae_encoder == (64, 64, 64, 128) and cfg.utae_decoder == (32, 32, 64, 128)
    assert (cfg.n_head, cfg.d_model, cfg.d_k, cfg.crop_size) == (16, 256, 4, 26)
    utae = UTAE()
    out = utae(torch.randn(1, 2, 14, 16, 16), torch.tensor([[0, 5]]))
    assert out.shape == (1, 32, 16, 16)


@pytest.mark.parametrize("use_ts", [True, False])
def test_shapes(use_ts: bool) -> None:
    net = FUSUNet(FUSUNetConfig.tiny(ts_channels=4, crop_size=8, use_time_series=use_ts))
    out = net(*_inputs())
    assert out["seg1"].shape == out["seg2"].shape == (2, 17, 32, 32)
    assert out["change"].shape == (2, 32, 32)
    assert ("seg_ts" in out) == use_ts
    if use_ts:
        assert out["seg_ts"].shape == (2, 17, 32, 32)


class _StrideEncoder(nn.Module):
    """A stand-in backbone with an unusual width and a 1/4-resolution output."""

    out_channels = 27

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 27, 4, stride=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_any_backbone_shape_not_hard_coded() -> None:
    net = FUSUNet(FUSUNetConfig.tiny(ts_channels=4), encoder=_StrideEncoder())
    out = net(*_inputs())
    assert out["seg1"].shape == (2, 17, 32, 32) and out["change"].shape == (2, 32, 32)
    assert net.fusion is not None and net.fusion.proj.out_channels == 27


def test_collapsed_fusion_is_per_sample() -> None:
    fm = FusionModule(8, 12, crop_size=4).eval()
    a, b = torch.randn(1, 8, 8, 8), torch.randn(1, 8, 8, 8)
    alone = fm(a, (16, 16))
    together = fm(torch.cat([a, b]), (16, 16))
    torch.testing.assert_close(together[:1], alone)
    assert not torch.allclose(together[0], together[1])


def test_crop_takes_the_centre() -> None:
    fm = FusionModule(2, 2, crop_size=4).eval()
    x = torch.zeros(1, 2, 8, 8)
    y = x.clone()
    y[..., 0, 0] = 100.0  # outside the centre crop: only the collapsed (mean) part changes
    d = fm(y, (4, 4)) - fm(x, (4, 4))
    assert torch.allclose(d, d[..., :1, :1].expand_as(d))


def test_padded_dates_are_ignored() -> None:
    torch.manual_seed(0)
    net = FUSUNet(FUSUNetConfig.tiny(ts_channels=4, crop_size=8)).eval()
    x1, x2, ts, dates = _inputs(b=1, t=5)
    pad = torch.tensor([[False, False, False, True, True]])
    ts2 = ts.clone()
    ts2[:, 3:] = 0
    ref = net(x1, x2, ts2, dates, pad)
    ts3 = ts.clone()
    ts3[:, 3:] = 0
    dates3 = dates.clone()
    dates3[:, 3:] = 99
    out = net(x1, x2, ts3, dates3, pad)  # padded positions' dates differ: no effect
    torch.testing.assert_close(out["seg1"], ref["seg1"])
    trunc = net(x1, x2, ts[:, :3], dates[:, :3])
    torch.testing.assert_close(trunc["seg1"], ref["seg1"], atol=1e-4, rtol=1e-4)


def test_loss_terms_and_no_clamping() -> None:
    torch.manual_seed(0)
    net = FUSUNet(FUSUNetConfig.tiny(ts_channels=4, crop_size=8))
    out = net(*_inputs())
    mask = torch.randint(0, 18, (2, 2, 32, 32))
    change = (mask[:, 0] != mask[:, 1]).long()
    loss, parts = fusu_loss(out, mask, change)
    t = mask - 1
    ce = torch.nn.functional.cross_entropy
    expected_ce = 0.5 * (ce(out["seg1"], t[:, 0], ignore_index=-1)
                         + ce(out["seg2"], t[:, 1], ignore_index=-1))
    expected_ce = expected_ce + ce(out["seg_ts"], t[:, 0], ignore_index=-1)
    w = torch.where(change > 0, 2.0, 1.0)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(out["change"], change.float(),
                                                               weight=w)
    torch.testing.assert_close(loss, expected_ce + bce)
    # large logits still get gradients (the public code clamps them to [0, 1] first)
    logits = {k: (v.detach() * 0 + 5.0).requires_grad_(True) for k, v in out.items()}
    loss2, _ = fusu_loss(logits, mask, change)
    loss2.backward()
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in logits.values())
    # background-only labels: finite loss
    loss3, _ = fusu_loss(out, torch.zeros_like(mask), torch.zeros_like(change))
    assert torch.isfinite(loss3)


def test_bad_inputs() -> None:
    net = FUSUNet(FUSUNetConfig.tiny(ts_channels=4))
    x1, x2, ts, dates = _inputs()
    with pytest.raises(InvalidInputError, match=r"\(B, T, 4, h, w\)"):
        net(x1, x2, ts[:, :, :3], dates)
    with pytest.raises(InvalidInputError, match="equal shape"):
        net(x1, x2[:, :, :16], ts, dates)
    with pytest.raises(InvalidInputError, match="needs"):
        net(x1, x2)
    with pytest.raises(InvalidInputError, match="divisible"):
        net(x1[..., :30, :30], x2[..., :30, :30], ts, dates)


def test_paper_hrnet_backbone() -> None:
    from geoneurips.change.fusu.model import HRNetEncoder

    assert HRNetEncoder("hrnet_w18").out_channels == 270  # the public code's hard-coded width
    cfg = FUSUNetConfig.tiny(backbone="hrnet_w18_small", ts_channels=4, crop_size=8)
    net = FUSUNet(cfg).eval()
    assert net.hr_channels == 16 + 32 + 64 + 128
    x1, x2, ts, dates = _inputs(b=1)
    out = net(x1, x2, ts, dates)
    assert out["seg1"].shape == (1, 17, 32, 32) and out["change"].shape == (1, 32, 32)
