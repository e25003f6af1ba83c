"""FeINFN: Fourier-enhanced implicit neural fusion network (Liang, Cao, Deng, Wu; arXiv
2404.15174, NeurIPS 2024) for multispectral + hyperspectral image fusion (MHIF).

No code was released (the Efficient-MIF README links a ``model/FeINFN.py`` that is absent
from every commit), so this module follows the paper's description; details the paper
leaves open are marked *[inferred]* in the docstrings.

Pipeline (paper Fig. 2, Sec. 3):

1. :class:`SpectralEncoder` on the LR-HSI gives a low-resolution latent code ``Z_spe``;
   :class:`SpatialEncoder` on the HR-MSI concatenated with the upsampled LR-HSI gives a
   high-resolution latent code ``Z_spa`` (Sec. 3.2).
2. :class:`SpaFreIFF`, the spatial-frequency implicit fusion function (Sec. 3.3): for each
   HR query pixel and each of its 4 nearest LR latent codes it forms
   ``[Z_spe(x_i), Z_spa(x_q), x_q - x_i]`` and decodes it along two paths: a spatial MLP
   (1x1 convolutions) and a frequency path that takes the 2-D FFT, processes the
   **amplitude and the phase separately with 1x1 convolutions** (3x3 convolutions would
   leak across frequencies, paper Sec. 3.3) and returns by the inverse FFT (global
   receptive field). The 4 neighbours are blended with LIIF area weights.
3. :class:`SFID`, the spatial-frequency interactive decoder (Sec. 3.4): 3 layers; each
   applies 1x1 convolutions to the spatial feature ``E_s`` and the frequency feature
   ``E_f``, the complex Gabor wavelet activation :class:`GaborWavelet`
   ``psi(x) = exp(j w0 x) exp(-|s0 x|^2)`` and lets the branches interact (channel
   concatenation and multiplication). Its output is a residual added to the upsampled
   LR-HSI (Eq. 1).

:func:`l1_ssim_loss` is the training loss (Efficient-MIF ``--loss l1ssim``).

Trainability (*[inferred]*, the paper gives no initialisation or optimiser details; found by
the CPU ablation recorded in :func:`~geoneurips.restoration.feinfn.pipeline.demo`):

* the encoder inputs are centred per image and band (:meth:`FeINFN.forward`): the residual is
  a small difference between the HR-MSI and the band-integrated ``HSI_up``, and with raw
  ``[0, 1]`` inputs (mean about 0.4) that direction is so ill-conditioned that Adam does not
  find it in hundreds of steps (even a plain 1x1 linear map on ``[MSI, HSI_up]`` stays below
  bicubic after 80 steps) and larger learning rates make the un-normalised encoders blow up;
* the SFID hidden layers train at ``lr / omega0`` (:meth:`FeINFN.param_groups`): the Gabor
  phase ``w0 W x`` moves ``w0`` times faster than ``W``, so at the encoders' learning rate
  one Adam step turns the phases by about a radian, the decoder features decorrelate from the
  output layer every step and the network never leaves the bicubic solution.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import InvalidInputError
from ...metrics.image import ssim_torch

__all__ = [
    "SFID",
    "FeINFN",
    "FeINFNConfig",
    "FourierUnit",
    "GaborWavelet",
    "SpaFreIFF",
    "SpatialEncoder",
    "SpectralEncoder",
    "count_parameters",
    "l1_ssim_loss",
    "ssim_torch",
]


@dataclass
class FeINFNConfig:
    """Hyper-parameters of :class:`FeINFN`.

    The defaults are the paper's CAVE/Harvard setting as far as it is stated (31 HSI bands,
    3 MSI bands, a 3-layer SFID); encoder width, depth and hidden width are *[inferred]*
    (64 / 4 residual blocks / 128, typical of the LIIF-style MHIF networks it compares to).
    :meth:`tiny` is the CPU test configuration.

    Attributes:
        hsi_bands: spectral bands of the LR-HSI / output.
        msi_bands: bands of the HR-MSI (3 for RGB).
        enc_dim: channels of both latent codes.
        enc_blocks: residual blocks in each encoder.
        hidden: channels of the implicit function and decoder.
        decoder_layers: SFID layers (3 in the paper).
        omega0: initial Gabor frequency ``w0`` (learnable); the SFID hidden layers train at
            ``lr / omega0`` (:meth:`FeINFN.param_groups`).
        scale0: initial Gabor spread ``s0`` (learnable).
        fourier: the Spa-Fre IFF frequency path uses :class:`FourierUnit` (paper); ``False``
            is the ablation "without the Fourier unit": the same path, a per-pixel MLP of
            the same shape in place of FFT -> amplitude/phase convs -> iFFT.
        activation: ``"gabor"`` (the paper's complex Gabor wavelet); ``"relu"`` or
            ``"siren"`` (``sin(w0 x)``) are the ablations "without the Gabor activation"
            (real features, the same interaction by concatenation and product).
    """

    hsi_bands: int = 31
    msi_bands: int = 3
    enc_dim: int = 64
    enc_blocks: int = 4
    hidden: int = 128
    decoder_layers: int = 3
    omega0: float = 10.0
    scale0: float = 1.0
    fourier: bool = True
    activation: str = "gabor"

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise InvalidInputError(
                f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")

    @classmethod
    def tiny(cls, hsi_bands: int = 31, msi_bands: int = 3) -> FeINFNConfig:
        """A small configuration for tests and the CPU demo."""
        return cls(hsi_bands=hsi_bands, msi_bands=msi_bands, enc_dim=24, enc_blocks=2,
                   hidden=32, decoder_layers=3)

    def to_dict(self) -> dict[str, float | int]:
        """Plain dict (stored in checkpoints)."""
        return asdict(self)


class _ResBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, 3, padding=1)
        self.conv2 = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = x + self.conv2(F.leaky_relu(self.conv1(x), 0.1))
        return out


class _Encoder(nn.Module):
    def __init__(self, in_ch: int, dim: int, blocks: int) -> None:
        super().__init__()
        self.head = nn.Conv2d(in_ch, dim, 3, padding=1)
        self.body = nn.Sequential(*[_ResBlock(dim) for _ in range(blocks)])
        self.tail = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.head(x)
        out: Tensor = self.tail(self.body(h)) + h
        return out


class SpectralEncoder(_Encoder):
    """Spectral encoder ``E_spe`` (Sec. 3.2): LR-HSI ``(B, C, h, w)`` -> LR latent code
    ``(B, enc_dim, h, w)``. A 3x3-conv residual network *[inferred depth]*."""

    def __init__(self, hsi_bands: int, dim: int, blocks: int) -> None:
        super().__init__(hsi_bands, dim, blocks)


class SpatialEncoder(_Encoder):
    """Spatial encoder ``E_spa`` (Sec. 3.2): ``[HR-MSI, upsampled LR-HSI]`` ``(B, M + C, H,
    W)`` -> HR latent code ``(B, enc_dim, H, W)``."""

    def __init__(self, msi_bands: int, hsi_bands: int, dim: int, blocks: int) -> None:
        super().__init__(msi_bands + hsi_bands, dim, blocks)


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """Two-layer per-pixel MLP (equal to two 1x1 convolutions) on channels-last tensors."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.LeakyReLU(0.1), nn.Linear(hidden, out_dim))


class FourierUnit(nn.Module):
    """Frequency path of the Spa-Fre IFF (Sec. 3.3).

    ``x -> FFT2 -> (amplitude A, phase P) -> A' = f_A(A), P' = f_P(P) -> iFFT2(A' e^{jP'})``
    with ``f_A`` and ``f_P`` two-layer 1x1-convolution networks (1x1 so that each frequency
    is processed on its own, avoiding the spectral leakage of 3x3 kernels the paper shows).
    Input and output are channels-last ``(B, H, W, C)`` (1x1 convolutions are then linear
    layers); orthonormal 2-D FFT over ``H, W``. The processed spectrum is in general not
    Hermitian, so the inverse is the full complex iFFT followed by the real part (an
    ``irfft`` would silently drop, implementation-dependently, the non-Hermitian part).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.amp = _mlp(dim, dim, dim)
        self.pha = _mlp(dim, dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        spec = torch.fft.fft2(x, dim=(1, 2), norm="ortho")
        amp = self.amp(spec.abs())
        pha = self.pha(torch.angle(spec))
        out = torch.complex(amp * torch.cos(pha), amp * torch.sin(pha))
        result: Tensor = torch.fft.ifft2(out, dim=(1, 2), norm="ortho").real
        return result


def _make_coord(h: int, w: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Pixel-centre coordinates in ``[-1, 1]`` (``align_corners=False``), ``(2, h, w)``
    as (y, x)."""
    ys = (torch.arange(h, device=device, dtype=dtype) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=device, dtype=dtype) * 2 + 1) / w - 1
    return torch.stack(torch.meshgrid(ys, xs, indexing="ij"))


def _neighbour_index(n_lr: int, n_hr: int, shift: int, device: torch.device) -> Tensor:
    """Index of the LR pixel nearest to each HR centre moved by ``shift`` half LR pixels
    (LIIF's ``coord + v * r`` followed by nearest sampling), clamped to the image."""
    centre = (torch.arange(n_hr, device=device, dtype=torch.float64) + 0.5) * n_lr / n_hr
    return torch.floor(centre + 0.5 * shift + 1e-6).long().clamp(0, n_lr - 1)


class SpaFreIFF(nn.Module):
    """Spatial-frequency implicit fusion function (Sec. 3.3).

    For an HR query ``x_q`` and its 4 nearest LR latent positions ``x_i`` (LIIF local
    ensemble), the input is ``[Z_spe(x_i), Z_spa(x_q), (x_q - x_i) * (h, w)]``. The spatial
    path is a per-pixel MLP (1x1 convolutions); the frequency path a 1x1 projection
    followed by :class:`FourierUnit` over the whole query grid. Each path's 4 outputs are
    blended with the LIIF area weights (the area of the rectangle between ``x_q`` and the
    diagonally opposite neighbour).

    ``forward(z_spe (B, D, h, w), z_spa (B, D, H, W))`` returns ``(E_s, E_f)``, both
    channels-last ``(B, H, W, hidden)``.
    """

    def __init__(self, enc_dim: int, hidden: int, fourier: bool = True) -> None:
        super().__init__()
        in_dim = 2 * enc_dim + 2
        self.spatial = _mlp(in_dim, hidden, hidden)
        self.freq_proj = nn.Linear(in_dim, hidden)
        self.fourier: nn.Module = FourierUnit(hidden) if fourier else _mlp(hidden, hidden, hidden)

    def forward(self, z_spe: Tensor, z_spa: Tensor) -> tuple[Tensor, Tensor]:
        b, _, h, w = z_spe.shape
        big_h, big_w = z_spa.shape[-2:]
        dev, dt = z_spa.device, z_spa.dtype
        lr_feat = z_spe.permute(0, 2, 3, 1)  # (B, h, w, D)
        hr_feat = z_spa.permute(0, 2, 3, 1)  # (B, H, W, D)
        coord = _make_coord(big_h, big_w, dev, dt)
        lr_coord = _make_coord(h, w, dev, dt)
        outs_s, outs_f, areas = [], [], []
        for vy in (-1, 1):
            iy = _neighbour_index(h, big_h, vy, dev)
            for vx in (-1, 1):
                ix = _neighbour_index(w, big_w, vx, dev)
                q_feat = lr_feat[:, iy][:, :, ix]  # (B, H, W, D)
                q_coord = lr_coord[:, iy][:, :, ix]  # (2, H, W)
                rel = torch.stack(((coord[0] - q_coord[0]) * h, (coord[1] - q_coord[1]) * w),
                                  dim=-1)  # (H, W, 2)
                inp = torch.cat((q_feat, hr_feat, rel.expand(b, -1, -1, -1)), dim=-1)
                outs_s.append(self.spatial(inp))
                outs_f.append(self.fourier(self.freq_proj(inp)))
                areas.append((rel[..., 0] * rel[..., 1]).abs()[None, :, :, None] + 1e-9)
        total = areas[0] + areas[1] + areas[2] + areas[3]
        # LIIF: each prediction is weighted by the area of the diagonally opposite neighbour
        weights = [areas[3], areas[2], areas[1], areas[0]]
        e_s = sum(o * a for o, a in zip(outs_s, weights, strict=True)) / total
        e_f = sum(o * a for o, a in zip(outs_f, weights, strict=True)) / total
        return e_s, e_f


class GaborWavelet(nn.Module):
    """Complex Gabor wavelet activation ``psi(x) = exp(j w0 x) exp(-|s0 x|^2)`` (Sec. 3.4,
    as in WIRE), with learnable ``w0`` and ``s0`` (the paper's time-frequency tightness
    result motivates learning the bandwidth).

    ``forward`` returns the complex value as real channels ``[Re psi, Im psi]`` concatenated
    on the last axis; :meth:`complex` returns the complex tensor.
    """

    def __init__(self, omega0: float = 10.0, scale0: float = 1.0) -> None:
        super().__init__()
        self.omega0 = nn.Parameter(torch.tensor(float(omega0)))
        self.scale0 = nn.Parameter(torch.tensor(float(scale0)))

    def complex(self, x: Tensor) -> Tensor:
        """The complex-valued activation."""
        envelope = torch.exp(-(self.scale0 * x) ** 2)
        phase = self.omega0 * x
        return torch.complex(envelope * torch.cos(phase), envelope * torch.sin(phase))

    def forward(self, x: Tensor) -> Tensor:
        z = self.complex(x)
        return torch.cat((z.real, z.imag), dim=-1)


#: SFID activations: the paper's Gabor wavelet and the ablations' real activations.
ACTIVATIONS = ("gabor", "relu", "siren")


class _SFIDLayer(nn.Module):
    """One SFID layer *[inferred wiring]*: ``s = W_s E_s``, ``f = W_f E_f`` (1x1 convs);
    the spatial branch sees both domains by channel concatenation,
    ``E_s' = psi(W_m [s, f])``; the frequency branch is modulated by the spatial one
    through a complex (element-wise) product, ``E_f' = psi(f) * E_s'``.

    With a real ``activation`` (ablation) the same wiring runs on real features
    (``hidden`` channels out per branch instead of ``2 hidden``)."""

    def __init__(self, in_dim: int, hidden: int, omega0: float, scale0: float,
                 activation: str = "gabor") -> None:
        super().__init__()
        self.lin_s = nn.Linear(in_dim, hidden)
        self.lin_f = nn.Linear(in_dim, hidden)
        self.mix = nn.Linear(2 * hidden, hidden)
        self.activation = activation
        self.omega0 = float(omega0)
        self.act = GaborWavelet(omega0, scale0)
        if activation != "gabor":
            self.act.requires_grad_(False)  # unused by the real activations

    def _real(self, x: Tensor) -> Tensor:
        if self.activation == "relu":
            return F.relu(x)
        return torch.sin(self.omega0 * x)

    def forward(self, e_s: Tensor, e_f: Tensor) -> tuple[Tensor, Tensor]:
        s = self.lin_s(e_s)
        f = self.lin_f(e_f)
        if self.activation != "gabor":
            rs = self._real(self.mix(torch.cat((s, f), dim=-1)))
            return rs, self._real(f) * rs
        zs = self.act.complex(self.mix(torch.cat((s, f), dim=-1)))
        zf = self.act.complex(f) * zs
        return torch.cat((zs.real, zs.imag), -1), torch.cat((zf.real, zf.imag), -1)


class SFID(nn.Module):
    """Spatial-frequency interactive decoder (Sec. 3.4): ``decoder_layers`` layers of
    1x1 convolutions + complex Gabor wavelet activation with cross-branch interaction,
    then a 1x1 convolution of both branches to the HSI bands (the residual).

    Channels-last in ``(B, H, W, hidden)`` x 2, out ``(B, out_bands, H, W)``. The output
    layer starts at zero, so an untrained network returns the upsampled LR-HSI *[inferred]*;
    its input, the ``4 hidden`` Gabor features (``O(1)``, correlated, with a large common
    real part), is scaled by ``1 / sqrt(4 hidden)`` so that one Adam step on the output layer
    moves the residual by ``O(lr)`` rather than ``O(4 hidden lr)``. (A small random output
    initialisation instead was measured no better: 32.4 vs 32.6 dB after 80 steps; the zero
    start only delays the hidden layers' gradients by one step.)
    """

    def __init__(self, hidden: int, out_bands: int, layers: int = 3, omega0: float = 10.0,
                 scale0: float = 1.0, activation: str = "gabor") -> None:
        super().__init__()
        if layers < 1:
            raise InvalidInputError(f"SFID needs at least 1 layer, got {layers}")
        width = 2 * hidden if activation == "gabor" else hidden
        self.layers = nn.ModuleList(
            [_SFIDLayer(hidden if i == 0 else width, hidden, omega0, scale0, activation)
             for i in range(layers)])
        self.out = nn.Linear(2 * width, out_bands)
        self.feature_scale = 1.0 / math.sqrt(2 * width)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, e_s: Tensor, e_f: Tensor) -> Tensor:
        for layer in self.layers:
            e_s, e_f = layer(e_s, e_f)
        feats = torch.cat((e_s, e_f), dim=-1) * self.feature_scale
        out: Tensor = self.out(feats).permute(0, 3, 1, 2)
        return out


class FeINFN(nn.Module):
    """The whole network: ``HR-HSI = HSI_up + SFID(SpaFreIFF(E_spe(LR), E_spa([MSI, HSI_up])))``.

    Args:
        config: :class:`FeINFNConfig` (paper defaults when ``None``).

    ``forward(lrhsi (B, C, h, w), msi (B, M, H, W), hsi_up (B, C, H, W) | None)`` with
    ``H = r h``, ``W = r w`` for an integer ratio ``r``; ``hsi_up`` defaults to the
    MATLAB-style bicubic upsampling of ``lrhsi``. Returns ``(B, C, H, W)``.
    """

    def __init__(self, config: FeINFNConfig | None = None) -> None:
        super().__init__()
        self.config = config or FeINFNConfig()
        c = self.config
        self.spectral_encoder = SpectralEncoder(c.hsi_bands, c.enc_dim, c.enc_blocks)
        self.spatial_encoder = SpatialEncoder(c.msi_bands, c.hsi_bands, c.enc_dim, c.enc_blocks)
        self.iff = SpaFreIFF(c.enc_dim, c.hidden, fourier=c.fourier)
        self.decoder = SFID(c.hidden, c.hsi_bands, c.decoder_layers, c.omega0, c.scale0,
                            c.activation)

    def _check(self, lrhsi: Tensor, msi: Tensor, hsi_up: Tensor | None) -> int:
        c = self.config
        if lrhsi.ndim != 4 or msi.ndim != 4:
            raise InvalidInputError(
                f"FeINFN expects 4-D (B, C, H, W) inputs, got LR-HSI {tuple(lrhsi.shape)} and "
                f"MSI {tuple(msi.shape)}")
        if lrhsi.shape[1] != c.hsi_bands:
            raise InvalidInputError(
                f"LR-HSI has {lrhsi.shape[1]} bands, the model expects {c.hsi_bands}")
        if msi.shape[1] != c.msi_bands:
            raise InvalidInputError(f"MSI has {msi.shape[1]} bands, the model expects {c.msi_bands}")
        if msi.shape[0] != lrhsi.shape[0]:
            raise InvalidInputError(
                f"batch sizes differ: LR-HSI {lrhsi.shape[0]}, MSI {msi.shape[0]}")
        h, w = lrhsi.shape[-2:]
        big_h, big_w = msi.shape[-2:]
        ratio = big_h // h if h else 0
        if ratio < 1 or big_h != ratio * h or big_w != ratio * w:
            raise InvalidInputError(
                f"the MSI size {(big_h, big_w)} must be an integer multiple of the LR-HSI size "
                f"{(h, w)}")
        if hsi_up is not None and tuple(hsi_up.shape) != (lrhsi.shape[0], c.hsi_bands,
                                                          big_h, big_w):
            raise InvalidInputError(
                f"hsi_up shape {tuple(hsi_up.shape)} must be {(lrhsi.shape[0], c.hsi_bands, big_h, big_w)}")
        for name, t in (("LR-HSI", lrhsi), ("MSI", msi)):
            if not torch.isfinite(t).all():
                raise InvalidInputError(f"the {name} input holds NaN or infinite values")
        return ratio

    def forward(self, lrhsi: Tensor, msi: Tensor, hsi_up: Tensor | None = None) -> Tensor:
        """Fuse; the encoders see their inputs centred per image and band *[inferred]*.

        ``E_spe`` gets ``LR - mean(LR)`` and ``E_spa`` gets ``[MSI, HSI_up] - mean``, the means
        taken over the image per band; the residual is added to the uncentred ``HSI_up``.
        Hence a per-band constant added to the LR-HSI (and so to ``HSI_up``) moves the output
        by exactly that constant, and one added to an MSI band changes nothing. The paper
        states no normalisation; without it the network does not train in a CPU budget
        (module docstring).
        """
        ratio = self._check(lrhsi, msi, hsi_up)
        if hsi_up is None:
            from .data import bicubic_upsample

            hsi_up = bicubic_upsample(lrhsi, ratio)
        assert hsi_up is not None
        x_spa = torch.cat((msi, hsi_up), dim=1)
        z_spe = self.spectral_encoder(lrhsi - lrhsi.mean(dim=(2, 3), keepdim=True))
        z_spa = self.spatial_encoder(x_spa - x_spa.mean(dim=(2, 3), keepdim=True))
        e_s, e_f = self.iff(z_spe, z_spa)
        out: Tensor = hsi_up + self.decoder(e_s, e_f)
        return out

    def param_groups(self, lr: float) -> list[dict[str, object]]:
        """Optimiser parameter groups *[inferred]*: the linear layers inside the SFID
        (before the Gabor activations) at ``lr / omega0``, everything else (encoders,
        Spa-Fre IFF, the learnable ``w0`` / ``s0``, the output layer) at ``lr``.

        Rationale: the Gabor phase is ``w0 (W x)``, so an Adam step of size ``lr`` on ``W``
        turns the phase ``w0`` times further than it moves an ordinary pre-activation;
        dividing the step by ``w0`` gives the decoder the same effective step as the rest of
        the network (see the module docstring).
        """
        scale = 1.0 / max(abs(float(self.config.omega0)), 1.0)
        if self.config.activation == "relu":
            scale = 1.0  # no phase: the ablation trains at one learning rate
        slow: list[nn.Parameter] = []
        for layer in self.decoder.layers:
            assert isinstance(layer, _SFIDLayer)
            slow.extend(p for lin in (layer.lin_s, layer.lin_f, layer.mix)
                        for p in lin.parameters())
        slow_ids = {id(p) for p in slow}
        fast = [p for p in self.parameters() if id(p) not in slow_ids]
        return [{"params": fast, "lr": lr}, {"params": slow, "lr": lr * scale}]


def l1_ssim_loss(pred: Tensor, target: Tensor, ssim_weight: float = 0.1,
                 data_range: float = 1.0) -> Tensor:
    """The ``l1ssim`` training loss: ``L1(pred, target) + ssim_weight * (1 - SSIM)``.

    The Efficient-MIF command trains FeINFN with ``--loss l1ssim``; the weight of the SSIM
    term is not stated in the paper *[inferred: 0.1]*. SSIM is the project's one
    implementation (:func:`geoneurips.metrics.image.ssim_torch`: Gaussian window 11 / 1.5,
    valid positions, mean over bands and batch). Images smaller than the 11-pixel SSIM window
    fall back to L1 only.
    """
    l1 = F.l1_loss(pred, target)
    if min(pred.shape[-2:]) < 11 or ssim_weight == 0:
        return l1
    return l1 + ssim_weight * (1.0 - ssim_torch(pred, target, data_range))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

