"""SSDiff network and diffusion: shapes, components against hand computations, sampler fixes."""

from __future__ import annotations

import math

import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.nn.diffusion import cosine_alphas_cumprod, ddim_timesteps
from geoneurips.restoration.ssdiff.diffusion import ResidualDiffusion
from geoneurips.restoration.ssdiff.model import (
    APFM,
    FMIM,
    SSNet,
    SSNetConfig,
    TimeEmbedding,
    branch_parameters,
    fourier_lowpass_scale,
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
    """SSDiff's conventions on the shared nn.embedding / nn.diffusion, against hand values.

    The schedule values at 1, 500, 900, 999 were recorded from SSDiff's own schedule before
    it moved onto :mod:`geoneurips.nn.diffusion` (the switch was bitwise equal)."""
    # the time embedding's sinusoidal features: [cos(t w_k), sin(t w_k)], w_k = 1e4^(-k / 4)
    emb = TimeEmbedding(8)
    seen: list[torch.Tensor] = []
    emb.mlp[0].register_forward_hook(lambda m, i, o: seen.append(i[0]))
    out = emb(torch.tensor([0, 10]))
    assert out.shape == (2, 32) and seen[0].dtype == torch.float32
    assert torch.allclose(seen[0][0], torch.tensor([1.0] * 4 + [0.0] * 4))
    freqs = [10000 ** (-k / 4) for k in range(4)]
    expected = [math.cos(10 * f) for f in freqs] + [math.sin(10 * f) for f in freqs]
    assert torch.allclose(seen[0][1], torch.tensor(expected), atol=1e-6)
    emb(torch.tensor([10.0], dtype=torch.float64))  # any dtype of t: float32 features
    assert seen[1].dtype == torch.float32 and torch.allclose(seen[1][0], seen[0][1])
    # cosine schedule (s = 0.008, betas capped at 0.999) as ResidualDiffusion uses it
    abar = ResidualDiffusion(1000).alphas_cumprod
    assert abar.dtype == torch.float64 and torch.equal(abar, cosine_alphas_cumprod(1000))

    def f(t: int) -> float:
        return math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2

    assert float(abar[0]) == pytest.approx(f(1) / f(0), rel=1e-14)
    assert float(abar[1]) == pytest.approx(f(1) / f(0) * f(2) / f(1), rel=1e-14)
    recorded = {1: 0.9999125759273678, 500: 0.49228517244880304,
                900: 0.023616108794393863, 999: 2.4287669070348567e-09}
    for t, v in recorded.items():
        assert float(abar[t]) == pytest.approx(v, rel=1e-12)
    # f(1000) = cos^2(pi / 2) = 0: the last beta is the cap
    assert float(abar[999] / abar[998]) == pytest.approx(1 - 0.999, rel=1e-9)
    assert (abar[1:] < abar[:-1]).all()
    # "ddimN" respacing: range(0, T, stride) for the stride that gives N values
    assert ddim_timesteps(1000, 10, "stride") == list(range(900, -1, -100))
    assert ddim_timesteps(1000, 5, "stride") == [800, 600, 400, 200, 0]
    assert ddim_timesteps(1000, 7, "stride") == [858, 715, 572, 429, 286, 143, 0]
    with pytest.raises(InvalidInputError):
        ddim_timesteps(1000, 0, "stride")


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
    a = cosine_alphas_cumprod(1000)[[10, 500]].float()
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
    abar = cosine_alphas_cumprod(1000).tolist()
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


def _drifting_oracle(lms_, pan_, ms_, x_t, t):  # noqa: ANN001, ANN202
    """An x0 predictor that depends on x_t and t, elementwise (so per batch item)."""
    return 0.05 + 0.5 * x_t * torch.cos(t / 400.0).view(-1, 1, 1, 1)


def test_ddim_eta_noise_per_patch_hand_chain() -> None:
    """eta > 0 with one generator per batch item (tiled inference relies on it): each item
    follows the DDIM recurrence (eq. 12) written out here with its own generator's draws
    (first x_T, then one z per step but the last), independently of the batch."""
    diff = ResidualDiffusion(1000)
    lms = torch.full((2, 2, 4, 4), 0.5)
    lms[1] = 0.9  # clipping of lms + x0 to [0, 1] engages for the second item
    pan, ms = torch.rand(2, 1, 4, 4), torch.rand(2, 2, 1, 1)
    eta, seeds = 0.6, (7, 8)
    out = diff.sample(_drifting_oracle, lms, pan, ms, steps=3, eta=eta,
                      generator=[torch.Generator().manual_seed(s) for s in seeds])
    abar = cosine_alphas_cumprod(1000).tolist()
    seq = [668, 334, 0]  # range(0, 1000, 334), decreasing
    for i, seed in enumerate(seeds):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(2, 4, 4, generator=g)
        for k, t in enumerate(seq):
            x0 = (lms[i] + 0.05 + 0.5 * x * math.cos(t / 400)).clamp(0, 1) - lms[i]
            if k == len(seq) - 1:
                break
            a, a2 = abar[t], abar[seq[k + 1]]
            eps = (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
            sigma = eta * math.sqrt((1 - a2) / (1 - a)) * math.sqrt(1 - a / a2)
            z = torch.randn(2, 4, 4, generator=g)
            x = math.sqrt(a2) * x0 + math.sqrt(1 - a2 - sigma**2) * eps + sigma * z
        assert torch.allclose(out[i], (lms[i] + x0).clamp(0, 1), atol=1e-6)
    # item 1 alone with its own generator: the same, bitwise
    one = diff.sample(_drifting_oracle, lms[1:], pan[1:], ms[1:], steps=3, eta=eta,
                      generator=[torch.Generator().manual_seed(8)])
    assert torch.equal(one[0], out[1])
    # the noise matters (eta = 0 differs), and generator counts are checked
    det = diff.sample(_drifting_oracle, lms, pan, ms, steps=3,
                      generator=[torch.Generator().manual_seed(s) for s in seeds])
    assert (det - out).abs().mean() > 1e-3
    with pytest.raises(InvalidInputError, match="generators"):
        diff.sample(_drifting_oracle, lms, pan, ms, steps=3, generator=[torch.Generator()])


def test_tiny_ssnet_samples_match_recorded_values() -> None:
    """A full sample of a seeded tiny SSNet (weights 0.1 N(0, 1) from seed 0, plus an x_t-
    and t-dependent term so that timesteps, noise and eta all move the result), deterministic
    (10 steps) and with eta = 1 and per-item generators (6 steps). The values were recorded
    from SSDiff's own sampler before it moved onto :mod:`geoneurips.nn.diffusion` (the
    switch was bitwise equal); the tolerance only covers CPU floating-point differences
    (10 vs 5 steps moves the mean pixel by 0.012, eta 1 vs 0 by 0.054)."""
    net = SSNet(SSNetConfig.tiny(4)).eval()
    gw = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=gw))

    def model(lms_, pan_, ms_, x_t, t):  # noqa: ANN001, ANN202
        return net(lms_, pan_, ms_, x_t, t) + 0.5 * x_t * torch.cos(t / 400.0).view(-1, 1, 1, 1)

    g = torch.Generator().manual_seed(1)
    lms = 0.2 + 0.6 * torch.rand(2, 4, 16, 16, generator=g)
    pan = torch.rand(2, 1, 16, 16, generator=g)
    ms = torch.rand(2, 4, 4, 4, generator=g)
    noise = torch.randn(2, 4, 16, 16, generator=g)
    diff = ResidualDiffusion(1000)
    det = diff.sample(model, lms, pan, ms, steps=10, noise=noise)
    sto = diff.sample(model, lms, pan, ms, steps=6, eta=1.0,
                      generator=[torch.Generator().manual_seed(10 + i) for i in range(2)])
    sums = {"rtol": 1e-5, "atol": 0.0}
    pix = {"rtol": 0.0, "atol": 2e-5}
    torch.testing.assert_close(det.sum((1, 2, 3)), torch.tensor([559.75964355, 568.74731445]),
                               **sums)
    torch.testing.assert_close(det[0, :, 0, 0],
                               torch.tensor([0.66178775, 0.0, 0.26727301, 0.0]), **pix)
    torch.testing.assert_close(det[1, 2, 8, 4:8],
                               torch.tensor([0.10731581, 1.0, 0.53845894, 0.34705216]), **pix)
    torch.testing.assert_close(sto.sum((1, 2, 3)), torch.tensor([559.61938477, 566.90063477]),
                               **sums)
    torch.testing.assert_close(sto[0, :, 0, 0],
                               torch.tensor([0.54954869, 0.0, 0.22559318, 0.10407585]), **pix)
    torch.testing.assert_close(sto[1, 2, 8, 4:8],
                               torch.tensor([0.12172341, 1.0, 0.49367812, 0.30414757]), **pix)
