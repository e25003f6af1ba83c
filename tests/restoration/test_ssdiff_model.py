"""SSDiff network and diffusion: shapes, components against hand computations, sampler fixes."""

from __future__ import annotations

import math

import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.restoration.ssdiff.diffusion import (
    ResidualDiffusion,
    cosine_alphas_cumprod,
    ddim_timesteps,
)
from geoneurips.restoration.ssdiff.model import (
    APFM,
    FMIM,
    SSNet,
    SSNetConfig,
    branch_parameters,
    fourier_lowpass_scale,
    timestep_embedding,
)


def _inputs(b: int = 2, c: int = 4, h: int = 16) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    lms = torch.rand(b, c, h, h, generator=g)
    pan = torch.rand(b, 1, h, h, generator=g)
    ms = torch.rand(b, c, h // 4, h // 4, generator=g)
    x_t = torch.randn(b, c, h, h, generator=g)
    t = torch.tensor([3, 700])[:b]
    return lms, pan, ms, x_t, t


def test_ssnet_shapes_configs_and_bad_inputs() -> None:
    torch.manual_seed(0)
    net = SSNet(SSNetConfig.tiny(4))
    lms, pan, ms, x_t, t = _inputs()
    out = net(lms, pan, ms, x_t, t)
    assert out.shape == lms.shape
    # zero-initialised residual head: an untrained network predicts residual 0 (i.e. lms)
    assert torch.count_nonzero(out) == 0
    paper = SSNetConfig.paper(8)
    assert (paper.dim, paper.model_channels, paper.dim_head) == (32, 128, 16)
    assert paper.spectral_gains == (1.2, 1.4, 1.6) and paper.fourier_scales == (0.9, 0.6, 0.3)
    assert SSNetConfig.from_dict(paper.to_dict()) == paper
    big = SSNet(paper)
    assert [m.heads for m in big.apfm] == [2, 4, 8, 4, 2]  # width // 16 heads per level
    with pytest.raises(InvalidInputError, match="4 MS bands"):
        net(torch.rand(2, 3, 16, 16), pan, ms[:, :3], x_t[:, :3], t)
    with pytest.raises(InvalidInputError, match="pan shape"):
        net(lms, pan[..., :8], ms, x_t, t)
    with pytest.raises(InvalidInputError, match="ms shape"):
        net(lms, pan, ms[..., :2], x_t, t)
    net2 = SSNet(SSNetConfig(ms_channels=4, dim=8, model_channels=16, dim_head=8, ratio=2))
    with pytest.raises(InvalidInputError, match="multiples of 4"):
        net2(lms[..., :6, :6], pan[..., :6, :6], ms[..., :3, :3], x_t[..., :6, :6], t)
    with pytest.raises(InvalidInputError, match="dim_head"):
        SSNetConfig(dim=12, dim_head=8)


def test_shared_down_up_serve_both_branches() -> None:
    net = SSNet(SSNetConfig.tiny(4))
    calls: dict[str, int] = {}
    for name in ("down.0", "down.1", "up.0", "up.1"):
        mod = net.get_submodule(name)
        mod.register_forward_hook(
            lambda m, i, o, name=name: calls.__setitem__(name, calls.get(name, 0) + 1)
        )
    net(*_inputs())
    assert calls == {"down.0": 2, "down.1": 2, "up.0": 2, "up.1": 2}


def test_branch_groups_partition_parameters() -> None:
    net = SSNet(SSNetConfig.tiny(4))
    groups = branch_parameters(net)
    ids = [id(p) for g in groups.values() for p in g]
    assert len(ids) == len(set(ids)) == len(list(net.parameters()))
    spatial = {id(p) for p in groups["spatial"]}
    spectral = {id(p) for p in groups["spectral"]}
    shared = {id(p) for p in groups["shared"]}
    assert all(id(p) in spatial for p in net.resblocks.parameters())
    assert id(net.apfm[0].spa_a.weight) in spatial and id(net.apfm[0].spe_c.weight) in spectral
    assert all(id(p) in shared for p in net.down.parameters())
    assert all(id(p) in spectral for p in net.to_residual.parameters())


def test_apfm_matches_a_direct_computation() -> None:
    torch.manual_seed(1)
    dim, heads, d = 8, 2, 4
    m = APFM(dim, heads, d, 4).eval()
    x = torch.randn(1, dim, 4, 4)
    y = torch.randn(1, dim, 4, 4)
    out = m(x, y)
    # independent, loop-based evaluation of the paper's formulas (Theorem 1 / Fig. 3)
    xt = x.flatten(2)[0].T  # (N, C)
    yt = y.flatten(2)[0].T
    n = xt.shape[0]
    ln = torch.nn.functional.layer_norm
    xn = ln(xt, (dim,), m.norm.weight, m.norm.bias)
    yn = ln(yt, (dim,), m.norm.weight, m.norm.bias)
    fused = []
    for h in range(heads):
        sl = slice(h * d, (h + 1) * d)
        ta = yn @ m.spa_a.weight[sl].T
        tb = yn @ m.spa_b.weight[sl].T
        tc = xn @ m.spe_c.weight[sl].T
        td = xn @ m.spe_d.weight[sl].T
        a_spa = torch.softmax(ta @ tb.T / math.sqrt(d), dim=-1)
        a_spe = torch.softmax(tc.T @ td / math.sqrt(d) / (n / d), dim=-1)
        fused.append((a_spa @ tc) * (ta @ a_spe))
    z = xt + torch.cat(fused, dim=1) @ m.to_out[0].weight.T + m.to_out[0].bias
    z = z + m.ff(ln(z, (dim,), m.ff_norm.weight, m.ff_norm.bias))
    assert torch.allclose(out[0].flatten(1).T, z, atol=1e-5)


def test_fmim_frequency_and_channel_modulation() -> None:
    const = torch.full((1, 2, 8, 8), 3.0)
    assert torch.allclose(fourier_lowpass_scale(const, 1, 0.3), const * 0.3, atol=1e-5)
    checker = (torch.arange(8)[:, None] + torch.arange(8)[None]) % 2 * 2.0 - 1.0
    checker = checker.expand(1, 2, 8, 8)
    assert torch.allclose(fourier_lowpass_scale(checker, 1, 0.3), checker, atol=1e-5)
    assert torch.equal(fourier_lowpass_scale(checker, 1, 1.0), checker)
    x = torch.ones(1, 4, 2, 2)
    xm, yf = FMIM(1.4, 0.6)(x, const)
    assert torch.allclose(xm[0, :, 0, 0], torch.tensor([1.4, 1.4, 1.0, 1.0]))
    assert torch.allclose(yf, const * 0.6, atol=1e-5)
    assert torch.equal(x, torch.ones(1, 4, 2, 2))  # inputs are not modified in place


def test_timestep_embedding_and_schedule() -> None:
    emb = timestep_embedding(torch.tensor([0, 10]), 8)
    assert torch.allclose(emb[0], torch.tensor([1.0] * 4 + [0.0] * 4))
    freqs = [10000 ** (-k / 4) for k in range(4)]
    expected = [math.cos(10 * f) for f in freqs] + [math.sin(10 * f) for f in freqs]
    assert torch.allclose(emb[1], torch.tensor(expected), atol=1e-5)
    abar = cosine_alphas_cumprod(1000)
    f0 = math.cos(0.008 / 1.008 * math.pi / 2) ** 2
    assert abar[0] == pytest.approx(math.cos((1 / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2 / f0)
    assert (abar[1:] < abar[:-1]).all() and 0 < abar[-1] < 1e-3
    assert ddim_timesteps(1000, 10) == list(range(900, -1, -100))
    assert ddim_timesteps(1000, 5) == [800, 600, 400, 200, 0]
    assert len(ddim_timesteps(1000, 7)) == 7
    with pytest.raises(InvalidInputError):
        ddim_timesteps(1000, 0)


def test_training_loss_is_l1_on_the_noised_residual() -> None:
    diff = ResidualDiffusion(1000)
    lms, pan, ms, _, _ = _inputs()
    gt = (lms + 0.05 * torch.randn(lms.shape, generator=torch.Generator().manual_seed(3)))
    t = torch.tensor([10, 500])
    noise = torch.randn(gt.shape, generator=torch.Generator().manual_seed(4))
    seen: dict[str, torch.Tensor] = {}

    def model(lms_, pan_, ms_, x_t, t_):  # noqa: ANN001, ANN202
        seen["x_t"], seen["t"] = x_t, t_
        return torch.zeros_like(x_t)

    loss = diff.training_loss(model, gt, lms, pan, ms, t=t, noise=noise)
    assert loss.item() == pytest.approx((gt - lms).abs().mean().item(), rel=1e-6)
    a = torch.tensor(cosine_alphas_cumprod(1000)[[10, 500]], dtype=torch.float32)
    expected = a.sqrt()[:, None, None, None] * (gt - lms) + (1 - a).sqrt()[:, None, None, None] * noise
    assert torch.allclose(seen["x_t"], expected, atol=1e-6)
    assert torch.equal(seen["t"], t)


def test_ddim_sampler_fixes_timesteps_and_residual_space() -> None:
    """Quirk 2: the network gets original timesteps; quirk 1: the chain stays residual."""
    diff = ResidualDiffusion(1000)
    lms = torch.full((1, 3, 8, 8), 0.8)
    pan = torch.rand(1, 1, 8, 8)
    ms = torch.full((1, 3, 2, 2), 0.8)
    residual = 0.05 * torch.sin(torch.arange(64.0)).view(1, 1, 8, 8).expand(1, 3, 8, 8)
    ts: list[int] = []
    xs: list[torch.Tensor] = []

    def oracle(lms_, pan_, ms_, x_t, t):  # noqa: ANN001, ANN202
        ts.append(int(t[0]))
        xs.append(x_t.clone())
        return residual

    noise = torch.randn(lms.shape, generator=torch.Generator().manual_seed(0))
    out = diff.sample(oracle, lms, pan, ms, steps=10, noise=noise)
    assert ts == list(range(900, -1, -100))
    assert torch.allclose(out, lms + residual, atol=1e-6)
    abar = cosine_alphas_cumprod(1000)
    eps = (noise - math.sqrt(abar[900]) * residual) / math.sqrt(1 - abar[900])
    for t, x in zip(ts[1:], xs[1:], strict=True):
        # with a perfect x0 the deterministic chain is exactly q(x_t | residual) with one eps;
        # the released sampler would have mixed in lms (0.8) here
        want = math.sqrt(abar[t]) * residual + math.sqrt(1 - abar[t]) * eps
        assert torch.allclose(x, want, atol=1e-5)
    assert abs(float(xs[-1].mean()) - float(residual.mean())) < 0.05
    # clipping happens in image space: an overshooting prediction is clamped to [0, 1]
    out = diff.sample(lambda *a: torch.ones_like(lms), lms, pan, ms, steps=3, noise=noise)
    assert torch.allclose(out, torch.ones_like(lms))
