"""STVD model: schedule, v-prediction + DDIM, temporal attention, shapes, errors, checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.restoration.stvd.model import (
    STVD,
    DownscalerOutput,
    STVDConfig,
    TemporalLinearAttention,
    sigmoid_beta_schedule,
)
from geoneurips.restoration.stvd.pipeline import load_model, save_model


def _inputs(b: int = 1, t: int = 5, c: int = 11, h: int = 2, scale: int = 8):
    g = torch.Generator().manual_seed(0)
    return (torch.rand(b, t, c, h, h, generator=g), torch.rand(b, t, 1, h * scale, h * scale,
                                                                generator=g),
            torch.rand(b, t, 1, h * scale, h * scale, generator=g))


def test_paper_defaults_and_sigmoid_schedule() -> None:
    cfg = STVDConfig()
    assert (cfg.timesteps, cfg.sampling_steps, cfg.ddim_eta, cfg.scale) == (1500, 20, 0.0, 8)
    assert cfg.dim_mults == (1, 1, 2, 2, 3, 4) and cfg.cond_channels == 12
    betas = sigmoid_beta_schedule(1500, -3, 3, 1)
    assert betas.shape == (1500,) and float(betas.min()) > 0 and float(betas.max()) <= 0.999
    ab = torch.cumprod(1 - betas, 0)
    assert bool((ab[1:] <= ab[:-1]).all())
    # closed form at t = T/2: (s(3) - s(0)) / (s(3) - s(-3)) with s the logistic function
    s = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert float(ab[749]) == pytest.approx((s(3) - s(0)) / (s(3) - s(-3)), rel=1e-9)


def test_loss_and_sample_shapes_any_clip_length() -> None:
    torch.manual_seed(0)
    model = STVD(STVDConfig.tiny())
    lr, topo, hr = _inputs(b=2, t=3)  # 3 frames: nothing is hard-coded to 5
    out = model.loss(lr, topo, hr)
    assert set(out) == {"loss", "diffusion", "det_mse"} and out["loss"].ndim == 0
    out["loss"].backward()  # the public code crashed here (3 values unpacked as 2)
    assert model.downscaler.net.init.weight.grad is not None  # joint, end to end
    d = model.downscaler(model.condition(lr, topo), 3)
    assert isinstance(d, DownscalerOutput) and d.warped.shape == (6, 1, 16, 16)
    model.eval()
    s = model.sample(lr[:1], topo[:1], n_samples=2, steps=3)
    assert s.samples.shape == (2, 1, 3, 1, 16, 16) and s.warped.shape == (1, 3, 1, 16, 16)
    assert s.attention.shape == (1, 2, 3, 3)
    torch.testing.assert_close(s.attention.sum(-1), torch.ones(1, 2, 3))
    torch.testing.assert_close(s.samples, s.warped[None] + s.residual)
    assert not torch.equal(s.samples[0], s.samples[1])  # distinct ensemble members


def test_ddim_with_oracle_v_recovers_the_residual() -> None:
    """v-prediction + DDIM (eta 0): with the exact v of a fixed residual r, sampling
    returns r (any number of steps), so the parameterisation and update are consistent."""
    model = STVD(STVDConfig.tiny(clip_x0=None))
    lr, topo, _ = _inputs()
    r = torch.randn(5, 1, 16, 16, generator=torch.Generator().manual_seed(3)) * 0.3

    class Oracle(torch.nn.Module):
        def forward(self, x, t, context, frames):  # noqa: ANN001, ANN201
            ab = model.alphas_cumprod[t][:, None, None, None]
            sa, sb = ab.sqrt(), (1 - ab).sqrt()
            eps = (x[:, :1] - sa * r) / sb
            return sa * eps - sb * r

    model.denoiser = Oracle()  # type: ignore[assignment]
    for steps in (1, 7, 20):
        s = model.sample(lr, topo, n_samples=1, steps=steps)
        torch.testing.assert_close(s.residual[0, 0] * 2, r, atol=1e-4, rtol=1e-4)


def test_temporal_attention_mixes_frames() -> None:
    torch.manual_seed(0)
    att = TemporalLinearAttention(8, heads=2, dim_head=4)
    x = torch.randn(2 * 4, 8, 5, 5)
    y0 = att(x, frames=4)
    x2 = x.clone()
    x2[0] += torch.randn(8, 5, 5)  # frame 0 of clip 0
    y1 = att(x2, frames=4)
    assert (y1[3] - y0[3]).abs().max() > 1e-6  # frame 3 of clip 0 sees frame 0
    torch.testing.assert_close(y1[4:], y0[4:])  # clip 1 does not
    # the re-associated product equals the direct linear-attention formula
    from geoneurips.restoration.stvd.model import linear_attention

    q, k, v = torch.randn(3, 1, 2, 40, 4).unbind(0)
    qs, ks = q.softmax(-2) * 0.5, k.softmax(-1)
    ctx = torch.einsum("bhdn,bhen->bhde", ks, v / 7)
    torch.testing.assert_close(linear_attention(q, k, v, 0.5, 7),
                               torch.einsum("bhde,bhdn->bhen", ctx, qs))


def test_bad_inputs_are_named() -> None:
    model = STVD(STVDConfig.tiny())
    lr, topo, hr = _inputs()
    with pytest.raises(InvalidInputError, match="channels"):
        model.loss(lr[:, :, :5], topo, hr)
    with pytest.raises(InvalidInputError, match="topo"):
        model.downscale(lr, topo[..., :8])
    with pytest.raises(InvalidInputError, match=r"\(B, T, C, h, w\)"):
        model.downscale(lr[0], topo)
    bad = lr.clone()
    bad[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(InvalidInputError, match="NaN"):
        model.downscale(bad, topo)
    with pytest.raises(InvalidInputError, match="divisible"):
        STVD(STVDConfig.tiny(scale=2)).downscale(torch.rand(1, 5, 11, 3, 3),
                                                  torch.rand(1, 5, 1, 6, 6))


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = STVD(STVDConfig.tiny(scale=4, lr_channels=1, use_topo=False)).eval()
    path = save_model(model, tmp_path / "stvd.pt")
    again = load_model(path)
    lr = torch.rand(1, 5, 1, 4, 4)
    torch.testing.assert_close(again.downscale(lr, None), model.downscale(lr, None))
    assert again.cfg == model.cfg
    torch.save({"w": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an STVD checkpoint"):
        load_model(tmp_path / "other.pt")
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "missing.pt")


def test_published_module_layout() -> None:
    """Temporal attention per level as in the public Flow / Unet constructors (6 levels)."""
    from geoneurips.restoration.stvd.model import temporal_layout

    enc, dec = temporal_layout(6, "downscaler")
    assert enc == ["none", "pixel", "pixel", "pixel", "pixel", "frame"]
    assert dec == ["frame", "none", "none", "none", "none", "none"]
    enc, dec = temporal_layout(6, "denoiser")
    assert enc == ["none", "none", "none", "none", "none", "frame"]
    assert dec == ["frame", "pixel", "pixel", "pixel", "pixel", "none"]
    # the tiny configuration (3 levels) keeps every kind of temporal attention
    model = STVD(STVDConfig.tiny())
    ds, dn = model.downscaler.net, model.denoiser.net
    kinds = [type(s.tattn).__name__ for s in ds.downs]
    assert kinds == ["NoneType", "PixelTemporalAttention", "TemporalLinearAttention"]
    assert [type(s.tattn).__name__ for s in ds.ups] == ["TemporalLinearAttention",
                                                        "NoneType", "NoneType"]
    assert [type(s.tattn).__name__ for s in dn.downs] == ["NoneType", "NoneType",
                                                          "TemporalLinearAttention"]
    assert [type(s.tattn).__name__ for s in dn.ups] == ["TemporalLinearAttention",
                                                        "PixelTemporalAttention", "NoneType"]
    # context doubles the inputs of the denoiser's encoder blocks and of BOTH mid blocks
    mid = ds.mid1.conv1.in_channels
    assert dn.mid1.conv1.in_channels == 2 * mid and dn.mid2.conv1.in_channels == 2 * mid
    assert ds.mid2.conv1.in_channels == mid


def test_pixel_temporal_attention_mixes_frames_per_pixel() -> None:
    from geoneurips.restoration.stvd.model import PixelTemporalAttention

    torch.manual_seed(0)
    att = PixelTemporalAttention(8, heads=2, dim_head=4).requires_grad_(False)
    x = torch.randn(2 * 4, 8, 5, 5)
    y0 = att(x, frames=4)
    x2 = x.clone()
    x2[0, :, 2, 3] += 3 * torch.randn(8)  # frame 0 of clip 0, one pixel
    y1 = att(x2, frames=4)
    d = (y1 - y0).abs().amax(dim=1)  # (B*T, H, W)
    assert d[3, 2, 3] > 1e-4  # frame 3 of clip 0 at that pixel sees frame 0
    d[:4, 2, 3] = 0
    d[0] = 0  # the perturbed frame itself changes through the residual
    assert float(d.max()) < 1e-6  # no other pixel, no other clip


def test_bottleneck_temporal_attention_is_unscaled_by_size() -> None:
    """ACross logits are q.k * dim_head**-0.5 over the flattened (c, x, y) features, with no
    extra 1/sqrt(h w) (a departure of the earlier implementation)."""
    from geoneurips.restoration.stvd.model import TemporalAttention

    torch.manual_seed(0)
    att = TemporalAttention(8, heads=2, dim_head=4)
    x = torch.randn(3, 8, 4, 4) * 0.3  # one clip of 3 frames
    _, attn = att(x, frames=3)
    q, k, _ = att.qkv(att.norm(x)).chunk(3, dim=1)
    qf = q.reshape(3, 2, 4 * 16)  # (T, heads, c*x*y)
    kf = k.reshape(3, 2, 4 * 16)
    logits = torch.einsum("ihd,jhd->hij", qf, kf) * 4 ** -0.5
    torch.testing.assert_close(attn[0], logits.softmax(-1))


def test_denoiser_uses_context_before_the_second_mid_block() -> None:
    torch.manual_seed(0)
    model = STVD(STVDConfig.tiny()).eval()
    lr, topo, _ = _inputs(t=3)
    cond = model.condition(lr, topo)
    d = model.downscaler(cond, 3)
    n = len(model.cfg.dim_mults)
    assert len(d.context) == 2 * n + 2  # two per level + two at the bottleneck
    x = torch.cat([torch.randn_like(d.warped), d.warped, cond], dim=1)
    t = torch.full((3,), 10)
    y0 = model.denoiser(x, t, d.context, 3)
    ctx = list(d.context)
    ctx[-1] = ctx[-1] + 1.0  # only the feature fed before mid2
    assert (model.denoiser(x, t, ctx, 3) - y0).abs().max() > 1e-5
