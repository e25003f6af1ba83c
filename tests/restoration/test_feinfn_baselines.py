"""FeINFN's demo baselines (guided filter, MTF-matched guided fusion, CNN) and ablation
configurations (without the Fourier unit, ReLU/SIREN instead of the Gabor activation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.restoration.feinfn.baselines import (
    FusionCNN,
    box_mean,
    guided_filter,
    guided_fusion,
)
from geoneurips.restoration.feinfn.data import bicubic_upsample, degrade
from geoneurips.restoration.feinfn.model import (
    FeINFN,
    FeINFNConfig,
    FourierUnit,
    GaborWavelet,
    count_parameters,
)

TINY = FeINFNConfig(hsi_bands=8, msi_bands=3, enc_dim=8, enc_blocks=1, hidden=8)


def test_box_mean_by_hand() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4)
    out = box_mean(x, 1)
    assert float(out[0, 0, 0, 0]) == pytest.approx((0 + 1 + 4 + 5) / 4)  # clipped corner
    assert float(out[0, 0, 1, 1]) == pytest.approx(float(x[0, 0, :3, :3].mean()))


def test_guided_filter_self_guided_is_identity_and_smooths_noise() -> None:
    g = torch.Generator().manual_seed(0)
    guide = torch.rand(1, 3, 24, 24, generator=g, dtype=torch.float64)
    # an input that is a linear function of the guide is reproduced (a = M, b = c)
    p = torch.stack((guide[:, 0] * 2 - guide[:, 1], guide[:, 2] + 0.3), dim=1)
    torch.testing.assert_close(guided_filter(p, guide, radius=3, eps=1e-10), p, atol=1e-6,
                               rtol=0)
    # an input unrelated to the guide is smoothed towards its local mean
    noise = torch.rand(1, 1, 24, 24, generator=g, dtype=torch.float64)
    out = guided_filter(noise, guide, radius=3, eps=1e-1)
    assert float(out.std()) < 0.5 * float(noise.std())


def test_guided_fusion_recovers_a_linear_spectral_model_exactly() -> None:
    """If every HSI band is the same linear function of the RGB everywhere, regressing
    ``HSI_up`` on the RGB degraded the same way recovers it, and the sharp RGB then gives
    the HR-HSI exactly (a plain guided filter of ``HSI_up`` by the sharp RGB does not)."""
    rng = np.random.default_rng(1)
    rgb = rng.random((3, 32, 32))
    m = rng.normal(size=(6, 3))
    hsi = np.einsum("br,rhw->bhw", m, rgb) + 0.5
    up = bicubic_upsample(degrade(hsi, 4), 4)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))[None]  # noqa: E731
    fused = guided_fusion(t(up), t(rgb), ratio=4, radius=4, eps=1e-12)
    np.testing.assert_allclose(fused[0].numpy(), hsi, atol=1e-5)
    plain = guided_filter(t(up), t(rgb), radius=4, eps=1e-12)
    assert np.abs(plain[0].numpy() - hsi).max() > 1e-2


def test_guided_filter_bad_inputs() -> None:
    with pytest.raises(InvalidInputError):
        guided_filter(torch.rand(1, 2, 8, 8), torch.rand(1, 3, 9, 8))
    with pytest.raises(InvalidInputError):
        guided_filter(torch.rand(1, 2, 8, 8), torch.rand(1, 3, 8, 8), radius=0)


def test_fusion_cnn_starts_at_hsi_up_and_has_feinfn_size() -> None:
    torch.manual_seed(0)
    cnn = FusionCNN(hsi_bands=8, width=16, blocks=2)
    lr, msi, up = torch.rand(2, 8, 4, 4), torch.rand(2, 3, 16, 16), torch.rand(2, 8, 16, 16)
    torch.testing.assert_close(cnn(lr, msi, up), up)
    assert cnn(lr, msi).shape == (2, 8, 16, 16)
    # the demo's CNN (width 32, 2 blocks) is of the tiny FeINFN's order of size
    n_cnn = count_parameters(FusionCNN(width=32, blocks=2))
    n_fe = count_parameters(FeINFN(FeINFNConfig.tiny()))
    assert 0.5 < n_cnn / n_fe < 1.5, (n_cnn, n_fe)
    with pytest.raises(InvalidInputError):
        cnn(lr, torch.rand(2, 4, 16, 16), up)


@pytest.mark.parametrize("activation", ["relu", "siren"])
def test_ablation_configs_remove_the_component(activation: str) -> None:
    torch.manual_seed(0)
    lr, msi = torch.rand(1, 8, 4, 4), torch.rand(1, 3, 16, 16)
    no_fourier = FeINFN(FeINFNConfig(**{**TINY.to_dict(), "fourier": False}))  # type: ignore[arg-type]
    assert not any(isinstance(m, FourierUnit) for m in no_fourier.modules())
    assert any(isinstance(m, FourierUnit) for m in FeINFN(TINY).modules())
    real = FeINFN(FeINFNConfig(**{**TINY.to_dict(), "activation": activation}))  # type: ignore[arg-type]
    # the Gabor scalars are unused and frozen; the decoder works on real features
    gabors = [m for m in real.modules() if isinstance(m, GaborWavelet)]
    assert gabors and all(not p.requires_grad for g in gabors for p in g.parameters())
    assert real.decoder.out.in_features == 2 * TINY.hidden
    for model in (no_fourier, real):
        torch.nn.init.normal_(model.decoder.out.weight, std=0.1)
        out = model(lr, msi)
        assert out.shape == (1, 8, 16, 16) and torch.isfinite(out).all()
        out.sum().backward()
    groups = real.param_groups(1e-3)
    assert groups[1]["lr"] == (1e-3 if activation == "relu" else 1e-4)
    with pytest.raises(InvalidInputError, match="activation"):
        FeINFNConfig(activation="tanh")
