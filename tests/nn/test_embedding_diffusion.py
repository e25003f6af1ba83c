"""The shared sinusoidal embedding and DDIM sampler against hand-worked values."""

from __future__ import annotations

import math

import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.nn.diffusion import (
    alphas_cumprod_from_betas,
    batch_randn,
    cosine_alphas_cumprod,
    ddim_sample,
    ddim_step,
    ddim_timesteps,
    linear_betas,
    q_sample,
    sigmoid_betas,
    split_prediction,
)
from geoneurips.nn.embedding import sinusoidal_embedding

C1, S1 = math.cos(1.0), math.sin(1.0)
C2, S2 = math.cos(0.01), math.sin(0.01)  # dim 4, max_period 1e4: frequencies 1 and 1e-2


def test_embedding_orders_hand_values() -> None:
    v = torch.tensor([0.0, 1.0])
    emb = sinusoidal_embedding(v, 4)
    assert emb.shape == (2, 4)
    torch.testing.assert_close(emb[0], torch.tensor([1.0, 1.0, 0.0, 0.0]))
    torch.testing.assert_close(emb[1], torch.tensor([C1, C2, S1, S2]))
    torch.testing.assert_close(sinusoidal_embedding(v, 4, order="sin_cos")[1],
                               torch.tensor([S1, S2, C1, C2]))
    torch.testing.assert_close(sinusoidal_embedding(v, 4, order="interleaved")[1],
                               torch.tensor([S1, C1, S2, C2]))
    # DDPM's TF code: exponent k / (half - 1) -> frequencies 1 and 1e-4
    torch.testing.assert_close(
        sinusoidal_embedding(v, 4, order="sin_cos", freq_shift=1)[1],
        torch.tensor([S1, math.sin(1e-4), C1, math.cos(1e-4)]))
    odd = sinusoidal_embedding(v, 5)
    assert odd.shape == (2, 5) and float(odd[:, -1].abs().max()) == 0.0
    # any leading shape; float64 in, float64 out
    many = sinusoidal_embedding(torch.arange(6, dtype=torch.float64).reshape(2, 3), 8)
    assert many.shape == (2, 3, 8) and many.dtype == torch.float64


def test_embedding_reproduces_the_systems_conventions() -> None:
    """The formulas of AllClear's and FUSU's date encodings (written out here) are
    reproduced by the options the module docstring names for them."""
    days = torch.tensor([[0.0, 17.0, 365.0]])
    dim, period, half = 8, 1000.0, 4
    freq = period ** (-torch.arange(half, dtype=torch.float32) / half)
    ang = days[..., None] * freq
    allclear = torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)
    torch.testing.assert_close(
        sinusoidal_embedding(days, dim, max_period=period, order="sin_cos"), allclear)
    i = torch.arange(dim)
    fusu = torch.where(i % 2 == 0, torch.sin(days[..., None] / period ** (2 * (i // 2) / dim)),
                       torch.cos(days[..., None] / period ** (2 * (i // 2) / dim)))
    torch.testing.assert_close(
        sinusoidal_embedding(days, dim, max_period=period, order="interleaved"), fusu)


def test_embedding_bad_inputs() -> None:
    with pytest.raises(InvalidInputError, match="dim"):
        sinusoidal_embedding(torch.zeros(2), 0)
    with pytest.raises(InvalidInputError, match="order"):
        sinusoidal_embedding(torch.zeros(2), 4, order="cos")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="max_period"):
        sinusoidal_embedding(torch.zeros(2), 4, max_period=0)
    with pytest.raises(InvalidInputError, match="freq_shift"):
        sinusoidal_embedding(torch.zeros(2), 2, freq_shift=1)


def test_schedules_hand_values() -> None:
    b = linear_betas(1000)
    assert float(b[0]) == pytest.approx(1e-4) and float(b[-1]) == pytest.approx(0.02)
    b = linear_betas(200)  # improved-diffusion: both ends scaled by 1000 / T
    assert float(b[0]) == pytest.approx(5e-4) and float(b[-1]) == pytest.approx(0.1)
    assert float(linear_betas(200, scale_to_1000=False)[-1]) == pytest.approx(0.02)
    torch.testing.assert_close(alphas_cumprod_from_betas(torch.tensor([0.1, 0.2])),
                               torch.tensor([0.9, 0.72], dtype=torch.float64))
    # cosine, T = 2, s = 0: f = 1, 1/2, 0 -> betas 1/2, min(1, 0.999) -> abar 0.5, 0.0005
    torch.testing.assert_close(cosine_alphas_cumprod(2, s=0.0),
                               torch.tensor([0.5, 0.0005], dtype=torch.float64))
    # sigmoid, T = 2: abar(1/2) = 1/2 by symmetry, abar(1) = 0 -> betas 1/2, 0.999
    torch.testing.assert_close(sigmoid_betas(2), torch.tensor([0.5, 0.999], dtype=torch.float64))
    with pytest.raises(InvalidInputError):
        linear_betas(0)


def test_timestep_spacings() -> None:
    assert ddim_timesteps(1000, 5) == [999, 749, 500, 250, 0]
    assert ddim_timesteps(1000, 10, "stride") == list(range(900, -1, -100))
    trailing = ddim_timesteps(1500, 20, "trailing")
    assert trailing[:2] == [1499, 1424] and trailing[-1] == 74 and len(trailing) == 20
    assert ddim_timesteps(10, 1) == [9]
    with pytest.raises(InvalidInputError):
        ddim_timesteps(10, 11)
    with pytest.raises(InvalidInputError, match="spacing"):
        ddim_timesteps(10, 2, "uniform")  # type: ignore[arg-type]


def test_parameterisations_and_one_step() -> None:
    # abar = 0.64: sqrt = 0.8, sqrt(1 - abar) = 0.6; x0 = 1, eps = 2 -> x_t = 2, v = 1
    x_t = q_sample(torch.tensor([1.0]), 0.64, torch.tensor([2.0]))
    torch.testing.assert_close(x_t, torch.tensor([2.0]))
    for pred, out in (("x0", 1.0), ("eps", 2.0), ("v", 1.0)):
        x0, eps = split_prediction(x_t, torch.tensor([out]), 0.64, pred)  # type: ignore[arg-type]
        torch.testing.assert_close((x0, eps), (torch.tensor([1.0]), torch.tensor([2.0])))
    # deterministic step to abar' = 0.36: 0.6 * 1 + 0.8 * 2
    x = ddim_step(torch.tensor([1.0]), torch.tensor([2.0]), 0.64, 0.36)
    torch.testing.assert_close(x, torch.tensor([2.2]))
    # eta = 1 from abar 0.16 to 0.36: sigma^2 = (0.64 / 0.84) (1 - 0.16 / 0.36)
    sig2 = 0.64 / 0.84 * (1 - 0.16 / 0.36)
    z = torch.randn(1, generator=torch.Generator().manual_seed(3))
    x = ddim_step(torch.tensor([1.0]), torch.tensor([2.0]), 0.16, 0.36, eta=1.0,
                  generator=torch.Generator().manual_seed(3))
    want = 0.6 + math.sqrt(0.64 - sig2) * 2.0 + math.sqrt(sig2) * z
    torch.testing.assert_close(x, want)


def test_ddim_sample_hand_chain() -> None:
    abar = torch.tensor([0.64, 0.16], dtype=torch.float64)
    seen: list[float] = []

    def eps_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen.append(float(t[0]))
        return torch.full_like(x, 0.5)

    # step 1 (abar 0.16): x0 = (0.5 - sqrt(0.84) 0.5) / 0.4; step 2 ends at abar = 1: x0 again
    out = ddim_sample(eps_model, torch.full((1, 1), 0.5), abar, [1, 0], prediction="eps")
    assert seen == [1.0, 0.0]
    assert float(out) == pytest.approx((0.5 - math.sqrt(0.84) * 0.5) / 0.4, abs=1e-6)
    # an oracle x0 predictor returns its x0 from any start; clip_x0 is applied
    target = torch.tensor([[0.3, -2.0]])
    res = ddim_sample(lambda x, t: target.expand_as(x), torch.randn(3, 2), abar, [1, 0],
                      prediction="x0", clip_x0=lambda x0: x0.clamp(-1, 1))
    torch.testing.assert_close(res, torch.tensor([[0.3, -1.0]]).expand(3, 2))
    with pytest.raises(InvalidInputError, match="decreasing"):
        ddim_sample(eps_model, torch.zeros(1, 1), abar, [0, 1])
    with pytest.raises(InvalidInputError, match="decreasing"):
        ddim_sample(eps_model, torch.zeros(1, 1), abar, [2])


def test_per_item_generators() -> None:
    """One generator per batch item: item ``i`` is what its generator alone draws, whatever
    the batch; one generator (or none) is a single ``torch.randn`` call as before."""
    like = torch.zeros(3, 2, 5)
    noise = batch_randn(like, [torch.Generator().manual_seed(s) for s in (4, 5, 6)])
    for i, s in enumerate((4, 5, 6)):
        assert torch.equal(noise[i], torch.randn(2, 5, generator=torch.Generator().manual_seed(s)))
    assert torch.equal(batch_randn(like, torch.Generator().manual_seed(4)),
                       torch.randn(3, 2, 5, generator=torch.Generator().manual_seed(4)))
    with pytest.raises(InvalidInputError, match="2 generators for a batch of 3"):
        batch_randn(like, [torch.Generator(), torch.Generator()])
    # eta > 0 chain: the noise of item 1 does not depend on item 0
    abar = torch.tensor([0.64, 0.16], dtype=torch.float64)

    def x0_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * x

    def run(seeds: tuple[int, ...]) -> torch.Tensor:
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        start = batch_randn(torch.zeros(len(seeds), 4), gens)
        return ddim_sample(x0_model, start, abar, [1, 0], prediction="x0", eta=1.0,
                           generator=gens)

    both, alone = run((1, 2)), run((2,))
    assert torch.equal(both[1], alone[0]) and not torch.equal(both[0], both[1])
    # by hand: x0 = x / 2; eps = (x - 0.4 x0) / sqrt(0.84); step to abar 0.64 with sigma
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, generator=g)
    x0 = 0.5 * x
    eps = (x - 0.4 * x0) / math.sqrt(0.84)
    sig2 = 0.36 / 0.84 * (1 - 0.16 / 0.64)
    x = 0.8 * x0 + math.sqrt(0.36 - sig2) * eps + math.sqrt(sig2) * torch.randn(4, generator=g)
    torch.testing.assert_close(alone[0], 0.5 * x)
