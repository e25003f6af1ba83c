"""FeINFN model components: shapes, Fourier unit, Gabor activation, SSIM loss, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.metrics.image import ssim as ssim_np
from geoneurips.restoration.feinfn.data import bicubic_upsample
from geoneurips.restoration.feinfn.model import (
    FeINFN,
    FeINFNConfig,
    FourierUnit,
    GaborWavelet,
    SpaFreIFF,
    _neighbour_index,
    count_parameters,
    l1_ssim_loss,
    ssim_torch,
)

TINY = FeINFNConfig(hsi_bands=8, msi_bands=3, enc_dim=8, enc_blocks=1, hidden=8)


@pytest.mark.parametrize("ratio", [4, 8])
def test_shapes_and_untrained_model_returns_bicubic(ratio: int) -> None:
    torch.manual_seed(0)
    model = FeINFN(TINY)
    lr = torch.rand(2, 8, 3, 4)
    msi = torch.rand(2, 3, 3 * ratio, 4 * ratio)
    out = model(lr, msi)
    assert out.shape == (2, 8, 3 * ratio, 4 * ratio)
    # the SFID output layer starts at zero: FeINFN = HSI_up + residual(=0)
    torch.testing.assert_close(out, bicubic_upsample(lr, ratio))
    up = torch.rand(2, 8, 3 * ratio, 4 * ratio)
    torch.testing.assert_close(model(lr, msi, up), up)


def test_encoder_inputs_are_centred_per_image_and_band() -> None:
    """Per-band constants added to the LR-HSI shift the output by exactly those constants
    (bicubic HSI_up shifts with them, the encoders see centred inputs); constants added to
    the MSI change nothing. A model without the centring fails both (checked below)."""
    torch.manual_seed(3)
    model = FeINFN(TINY)
    torch.nn.init.normal_(model.decoder.out.weight, std=0.5)  # a non-trivial residual
    lr, msi = torch.rand(2, 8, 4, 4), torch.rand(2, 3, 16, 16)
    base = model(lr, msi)
    assert (base - bicubic_upsample(lr, 4)).abs().max() > 1e-3
    c_hsi = torch.linspace(-0.2, 0.3, 8).view(1, 8, 1, 1)
    c_msi = torch.tensor([0.1, -0.3, 0.2]).view(1, 3, 1, 1)
    torch.testing.assert_close(model(lr + c_hsi, msi), base + c_hsi, atol=2e-5, rtol=0)
    torch.testing.assert_close(model(lr, msi + c_msi), base, atol=2e-5, rtol=0)
    # without the centring the residual depends on the offsets (the check can fail)
    z_plain = model.spatial_encoder(torch.cat((msi + c_msi, bicubic_upsample(lr, 4)), 1))
    z_ref = model.spatial_encoder(torch.cat((msi, bicubic_upsample(lr, 4)), 1))
    assert (z_plain - z_ref).abs().max() > 1e-3


def test_param_groups_slow_down_only_the_sfid_hidden_layers() -> None:
    cfg = FeINFNConfig(hsi_bands=8, msi_bands=3, enc_dim=8, enc_blocks=1, hidden=8, omega0=8.0)
    model = FeINFN(cfg)
    fast, slow = model.param_groups(2e-3)
    assert fast["lr"] == pytest.approx(2e-3) and slow["lr"] == pytest.approx(2e-3 / 8.0)
    ids = [id(p) for g in (fast, slow) for p in g["params"]]  # type: ignore[attr-defined]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())  # each exactly once
    slow_ids = {id(p) for p in slow["params"]}  # type: ignore[attr-defined]
    for i, layer in enumerate(model.decoder.layers):
        for lin in (layer.lin_s, layer.lin_f, layer.mix):
            assert id(lin.weight) in slow_ids and id(lin.bias) in slow_ids, i
        assert id(layer.act.omega0) not in slow_ids and id(layer.act.scale0) not in slow_ids
    for mod in (model.decoder.out, model.iff, model.spatial_encoder, model.spectral_encoder):
        assert not any(id(p) in slow_ids for p in mod.parameters())
    # omega0 below 1 never speeds the decoder up
    low = FeINFN(FeINFNConfig(hsi_bands=8, msi_bands=3, enc_dim=8, enc_blocks=1, hidden=8,
                              omega0=0.5))
    assert low.param_groups(1e-3)[1]["lr"] == pytest.approx(1e-3)


def test_paper_default_config_runs() -> None:
    model = FeINFN()
    assert model.config.hsi_bands == 31 and model.config.decoder_layers == 3
    assert len(model.decoder.layers) == 3
    assert count_parameters(model) > 5 * count_parameters(FeINFN(FeINFNConfig.tiny()))
    with torch.no_grad():
        assert model(torch.rand(1, 31, 4, 4), torch.rand(1, 3, 16, 16)).shape == (1, 31, 16, 16)


def test_fourier_unit_matches_numpy_amplitude_phase_processing() -> None:
    """iFFT(f_A(|X|) exp(j f_P(angle X))) recomputed with numpy's FFT."""
    torch.manual_seed(1)
    fu = FourierUnit(4).double()  # float64: the phase of real DC/Nyquist terms is +-pi-stable
    x = torch.randn(1, 6, 8, 4, dtype=torch.float64)
    out = fu(x).detach().numpy()
    # torch's spectrum (its signed zeros decide the +-pi phase of real negative terms)
    spec = torch.fft.fft2(x, dim=(1, 2), norm="ortho").numpy()
    np.testing.assert_allclose(spec, np.fft.fft2(x.numpy(), axes=(1, 2), norm="ortho"),
                               atol=1e-12)

    def mlp(seq: torch.nn.Sequential, v: np.ndarray) -> np.ndarray:
        w1, b1 = seq[0].weight.detach().numpy(), seq[0].bias.detach().numpy()
        w2, b2 = seq[2].weight.detach().numpy(), seq[2].bias.detach().numpy()
        h = v @ w1.T + b1
        h = np.where(h > 0, h, 0.1 * h)
        return h @ w2.T + b2

    amp, pha = mlp(fu.amp, np.abs(spec)), mlp(fu.pha, np.angle(spec))
    ref = np.fft.ifft2(amp * np.exp(1j * pha), axes=(1, 2), norm="ortho").real
    np.testing.assert_allclose(out, ref, atol=1e-9)


def test_fourier_unit_is_global_receptive_field() -> None:
    torch.manual_seed(2)
    fu = FourierUnit(3)
    x = torch.randn(1, 16, 16, 3)
    y = x.clone()
    y[0, 0, 0] += 1.0  # perturb one corner pixel
    diff = (fu(y) - fu(x)).abs()[0].sum(-1)
    assert diff[15, 15] > 0 and diff[8, 8] > 0  # far pixels change too (global mixing)


def test_gabor_wavelet_formula_and_learnable_bandwidth() -> None:
    act = GaborWavelet(omega0=7.0, scale0=1.5)
    x = torch.linspace(-2, 2, 9)
    z = act.complex(x).detach().numpy()
    xn = x.numpy().astype(np.float64)
    ref = np.exp(1j * 7.0 * xn) * np.exp(-np.abs(1.5 * xn) ** 2)
    np.testing.assert_allclose(z, ref, atol=1e-5)
    assert act(x[None]).shape == (1, 18)
    act(x[None]).pow(2).sum().backward()
    assert act.omega0.grad is not None and act.scale0.grad is not None


def test_liif_neighbours_and_area_weights() -> None:
    # ratio 4, HR centre of pixel 5 sits at LR coordinate 1.375: neighbours 0.875 -> 0, 1.875 -> 1
    assert _neighbour_index(4, 16, -1, torch.device("cpu"))[5] == 0
    assert _neighbour_index(4, 16, 1, torch.device("cpu"))[5] == 1
    # border pixels clamp inside the image
    assert _neighbour_index(4, 16, -1, torch.device("cpu"))[0] == 0
    assert _neighbour_index(4, 16, 1, torch.device("cpu"))[15] == 3
    iff = SpaFreIFF(2, 4)
    es, ef = iff(torch.randn(1, 2, 4, 4), torch.randn(1, 2, 16, 16))
    assert es.shape == ef.shape == (1, 16, 16, 4)
    # a constant latent code gives a constant spatial output (weights sum to one)
    for p in iff.spatial.parameters():
        torch.nn.init.zeros_(p)
    torch.nn.init.constant_(iff.spatial[2].bias, 0.25)
    es, _ = iff(torch.randn(1, 2, 4, 4), torch.randn(1, 2, 16, 16))
    torch.testing.assert_close(es, torch.full_like(es, 0.25))


def test_ssim_torch_matches_project_and_skimage() -> None:
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    a = rng.random((2, 3, 24, 20))
    b = np.clip(a + 0.1 * rng.normal(size=a.shape), 0, 1)
    ours = float(ssim_torch(torch.from_numpy(a), torch.from_numpy(b)))
    assert ours == pytest.approx(ssim_np(b, a, 1.0, band_axis=1), abs=1e-9)
    sk = np.mean([structural_similarity(a[i], b[i], channel_axis=0, data_range=1.0,
                                        gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False) for i in range(2)])
    assert ours == pytest.approx(sk, abs=1e-7)


def test_l1_ssim_loss_by_hand() -> None:
    t = torch.rand(1, 2, 16, 16)
    assert float(l1_ssim_loss(t, t)) == pytest.approx(0.0, abs=1e-6)
    p = t + 0.05
    expected = 0.05 + 0.1 * (1 - float(ssim_torch(p, t)))
    assert float(l1_ssim_loss(p, t)) == pytest.approx(expected, rel=1e-5)
    small = torch.rand(1, 2, 8, 8)  # below the SSIM window: L1 only
    assert float(l1_ssim_loss(small + 0.2, small)) == pytest.approx(0.2, rel=1e-5)


def test_bad_inputs() -> None:
    model = FeINFN(TINY)
    lr, msi = torch.rand(1, 8, 4, 4), torch.rand(1, 3, 16, 16)
    with pytest.raises(InvalidInputError, match="7 bands"):
        model(torch.rand(1, 7, 4, 4), msi)
    with pytest.raises(InvalidInputError, match="MSI has 4 bands"):
        model(lr, torch.rand(1, 4, 16, 16))
    with pytest.raises(InvalidInputError, match="integer multiple"):
        model(lr, torch.rand(1, 3, 18, 16))
    with pytest.raises(InvalidInputError, match="batch sizes"):
        model(lr, torch.rand(2, 3, 16, 16))
    with pytest.raises(InvalidInputError, match="hsi_up shape"):
        model(lr, msi, torch.rand(1, 8, 8, 8))
    bad = lr.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(InvalidInputError, match="NaN"):
        model(bad, msi)
    with pytest.raises(InvalidInputError, match="4-D"):
        model(lr[0], msi[0])
