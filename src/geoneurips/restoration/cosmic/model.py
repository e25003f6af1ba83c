"""COSMIC (Zhang et al., NeurIPS 2024, arXiv 2410.01698): the networks.

The paper's system has two halves (its Fig. 2, Sec. 3):

* **Compression module** (Sec. 3.2). On board: a lightweight encoder ``g_a`` made of
  Lightweight Convolution Blocks (:class:`LightweightConvBlock`, depthwise + pointwise
  convolution) and Convolution Attention Modules (:class:`ConvAttentionModule`), plus the
  analysis side of an entropy model. On the ground: the entropy model's synthesis side and a
  decoder ``g_s``. The entropy model is a mean-scale hyperprior (Balle et al. 2018, Minnen
  et al. 2018) built from ``compressai``'s :class:`~compressai.entropy_models.EntropyBottleneck`
  (for the side information ``z``) and
  :class:`~compressai.entropy_models.GaussianConditional` (for the latent ``y``); real byte
  strings come from compressai's range coder (:meth:`COSMICCodec.compress`).
* **Compensation module** (Sec. 3.3). A denoising diffusion model on the ground
  (:class:`CompensationUNet` + :class:`GaussianDiffusion`) conditioned on the decoded latent
  ``y_hat`` (with the decoded image) and on a **metadata embedding**
  (:class:`MetadataEncoder`: coordinates, time, ground sample distance, cloud cover ->
  sinusoidal embeddings -> MLP -> one token per field) injected by cross-attention; a
  vanilla convolution block (``VC``) ends the network.

No code was released with the paper; this is written from its text. Details the text leaves
open are marked "[choice]" in the docstrings. The most important one: the diffusion model
generates the *residual* ``x - g_s(y_hat)`` that the lightweight codec lost (the
"compensation"), predicting the clean residual (``x0`` parameterisation, as in CDC, Yang &
Mandt 2023, which COSMIC builds on) by default; ``prediction="eps"`` gives the noise
prediction of DDPM.

:meth:`COSMICConfig.paper` holds the paper-scale widths (N=128, M=192, 1000 diffusion steps);
:meth:`COSMICConfig.tiny` the CPU toy configuration used by the tests and the demo.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import torch
import torch.nn.functional as F
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.layers import GDN
from compressai.models import CompressionModel
from torch import Tensor, nn

from ...errors import InvalidInputError

__all__ = [
    "COSMIC",
    "COSMICCodec",
    "COSMICConfig",
    "CompensationUNet",
    "CompressedImage",
    "ConvAttentionModule",
    "GaussianDiffusion",
    "LightweightConvBlock",
    "LightweightEncoder",
    "METADATA_FIELDS",
    "MetadataEncoder",
    "count_flops",
    "encoder_flops_report",
    "hyperprior_reference_encoder",
    "smooth_identity_init_",
]

#: Metadata fields used for conditioning, in token order (DiffusionSat-style numeric
#: metadata: longitude, latitude, ground sample distance, cloud cover, year, month, day).
METADATA_FIELDS: tuple[str, ...] = ("lon", "lat", "gsd", "cloud_cover", "year", "month", "day")

#: Fixed affine normalisation of each field before the sinusoidal embedding [choice].
_META_NORM: dict[str, tuple[float, float]] = {
    "lon": (0.0, 180.0),
    "lat": (0.0, 90.0),
    "gsd": (0.0, 2.0),
    "cloud_cover": (0.0, 100.0),
    "year": (2010.0, 10.0),
    "month": (6.5, 6.0),
    "day": (16.0, 15.5),
}

_MIN_SCALE = 0.11  # lower bound of the Gaussian scale table (compressai default)


@dataclass(frozen=True)
class COSMICConfig:
    """Sizes of every COSMIC component.

    Attributes:
        in_channels: image bands (3 for fMoW RGB).
        n: width of the encoder/decoder and hyper transforms.
        m: latent channels ``y``.
        attention_reduction: channel reduction of the attention module's squeeze MLP.
        unet_width: base width of the compensation UNet.
        meta_dim: width of the metadata tokens (and of the time embedding).
        heads: cross-attention heads.
        diffusion_steps: training steps ``T`` of the linear beta schedule.
        sample_steps: DDIM decoding steps (the paper ablates 5/10/25/50).
        prediction: ``"x0"`` (predict the clean residual) or ``"eps"`` (predict the noise).
        residual_scale: the residual ``x - x_hat`` is multiplied by this before diffusion, so
            that it has roughly unit scale [choice].
        unshuffle: the compensation UNet works on ``unshuffle x unshuffle`` pixel blocks
            folded into channels (space-to-depth), a cheap stand-in for the paper's latent
            resolution [choice]; 1 works at full resolution.
        noise_scale: scale ``rho`` of the initial noise of DDIM decoding, ``x_T = rho * eps``.
            ``1`` is the standard sampler (perception-oriented); ``0`` decodes
            deterministically from zero and favours distortion (PSNR), the distortion /
            perception knob of CDC-style decoders [choice]. With ``rho = 0`` and no explicit
            step count, decoding takes one DDIM step (``distortion_steps``): the
            ``x0``-prediction from ``x_T = 0`` at ``t = T``, an estimate of the posterior mean
            of the residual, i.e. the PSNR-oriented output.
        distortion_steps: DDIM steps of the ``rho = 0`` decoding (1: see ``noise_scale``;
            a deterministic multi-step chain from zero feeds the network noise-free states it
            never saw in training and, with short training, lowers PSNR) [choice].
        zero_start_prob: fraction of training samples that are the ``rho = 0`` start state
            (``t = T``, ``x_T = 0``), so that the PSNR-oriented decoding is in-distribution
            [choice].
        meta_fields: metadata fields, in token order.
        latent_gain: fixed gain of the encoder output ``y = gain * g_a'(x)`` (the inverse
            gain starts in the decoder): it sets the quantiser step relative to the
            encoder's activations [choice].
        identity_init: start the transforms as a smooth-identity pair (see
            :func:`smooth_identity_init_`) instead of PyTorch's random initialisation
            [choice]; it is what lets a one-minute CPU training converge.
    """

    in_channels: int = 3
    n: int = 128
    m: int = 192
    attention_reduction: int = 4
    unet_width: int = 64
    meta_dim: int = 128
    heads: int = 4
    diffusion_steps: int = 1000
    sample_steps: int = 25
    prediction: Literal["x0", "eps"] = "x0"
    residual_scale: float = 8.0
    unshuffle: int = 1
    noise_scale: float = 1.0
    distortion_steps: int = 1
    zero_start_prob: float = 0.25
    meta_fields: tuple[str, ...] = field(default=METADATA_FIELDS)
    latent_gain: float = 8.0
    identity_init: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (stored in checkpoints)."""
        d = asdict(self)
        d["meta_fields"] = list(self.meta_fields)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> COSMICConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            InvalidInputError: unknown keys or wrong values.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InvalidInputError(f"unknown COSMIC config keys {unknown}")
        kw = dict(d)
        if "meta_fields" in kw:
            kw["meta_fields"] = tuple(kw["meta_fields"])
        return cls(**kw)

    @classmethod
    def paper(cls) -> COSMICConfig:
        """Paper-scale widths (N=128, M=192 as in the hyperprior baselines it compares to)."""
        return cls()

    @classmethod
    def tiny(cls) -> COSMICConfig:
        """A CPU toy configuration (tests, demo)."""
        return cls(n=32, m=48, unet_width=32, meta_dim=32, heads=2, diffusion_steps=200,
                   sample_steps=5, unshuffle=4)


# ------------------------------------------------------------------------ on-board encoder


class LightweightConvBlock(nn.Module):
    """Lightweight Convolution Block, LCB (Sec. 3.2, Fig. 3).

    A depthwise ``k x k`` convolution (one filter per channel, carrying the stride) followed
    by a pointwise ``1 x 1`` convolution that mixes channels, then GDN (the normalisation of
    learned-compression encoders). Its cost per output pixel is ``k^2 C_in + C_in C_out``
    multiply-adds instead of ``k^2 C_in C_out`` for a dense convolution.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 2, kernel_size: int = 5,
                 gdn: bool = True) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, kernel_size, stride=stride,
                                   padding=kernel_size // 2, groups=c_in)
        self.pointwise = nn.Conv2d(c_in, c_out, 1)
        self.norm: nn.Module = GDN(c_out) if gdn else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.norm(self.pointwise(self.depthwise(x)))
        return out


class ConvAttentionModule(nn.Module):
    """Convolution Attention Module, CAM (Sec. 3.2).

    Attention computed with convolutions only (no token mixing, so it stays cheap on board):
    a channel gate from global average pooling through a ``1 x 1`` squeeze/excite pair, then
    a spatial gate from a depthwise ``7 x 7`` convolution, both sigmoid-activated and applied
    multiplicatively, with a residual connection [choice: CBAM-style ordering].
    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.channel = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.GELU(),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )
        self.spatial = nn.Sequential(
            nn.Conv2d(channels, channels, 7, padding=3, groups=channels),
            nn.Conv2d(channels, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        a = x * self.channel(x)
        out: Tensor = x + a * self.spatial(a)
        return out


class LightweightEncoder(nn.Module):
    """The on-board analysis transform ``g_a`` (Sec. 3.2): four stride-2 LCBs (16x
    downsampling) with a CAM after the second and the fourth block.

    The input is centred (``x - 0.5``; the decoder adds it back) and the output multiplied
    by a fixed ``gain`` [choice]: depthwise/GDN stacks produce small activations that the
    unit-step quantiser would round away, the gain puts ``y`` on the quantiser's scale.
    """

    def __init__(self, in_channels: int, n: int, m: int, reduction: int = 4,
                 gain: float = 8.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            LightweightConvBlock(in_channels, n, stride=2),
            LightweightConvBlock(n, n, stride=2),
            ConvAttentionModule(n, reduction),
            LightweightConvBlock(n, n, stride=2),
            LightweightConvBlock(n, m, stride=2, gdn=False),
            ConvAttentionModule(m, reduction),
        )
        self.gain = float(gain)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x - 0.5) * self.gain
        return out


class LightweightHyperEncoder(nn.Module):
    """On-board hyper-analysis ``h_a``: ``|y| -> z`` with two stride-2 LCBs (4x more
    downsampling), the lightweight counterpart of Balle et al.'s ``h_a`` [choice]."""

    def __init__(self, m: int, n: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(m, n, 1),
            nn.LeakyReLU(inplace=True),
            LightweightConvBlock(n, n, stride=2, gdn=False),
            nn.LeakyReLU(inplace=True),
            LightweightConvBlock(n, n, stride=2, gdn=False),
        )

    def forward(self, y: Tensor) -> Tensor:
        out: Tensor = self.net(y)
        return out


def _deconv(c_in: int, c_out: int, k: int = 5) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(c_in, c_out, k, stride=2, padding=k // 2, output_padding=1)


class GroundDecoder(nn.Module):
    """The ground synthesis transform ``g_s``: four stride-2 transposed convolutions with
    inverse GDN (the Balle et al. decoder; the ground has the compute for it). It adds back
    the ``0.5`` the encoder subtracted."""

    def __init__(self, out_channels: int, n: int, m: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            _deconv(m, n), GDN(n, inverse=True),
            _deconv(n, n), GDN(n, inverse=True),
            _deconv(n, n), GDN(n, inverse=True),
            _deconv(n, out_channels),
        )

    def forward(self, y_hat: Tensor) -> Tensor:
        out: Tensor = self.net(y_hat) + 0.5
        return out


def _binomial_kernel(size: int = 5) -> Tensor:
    """Normalised 2-D binomial kernel (``[1, 4, 6, 4, 1] / 16`` outer product for 5)."""
    row = torch.tensor([math.comb(size - 1, i) for i in range(size)], dtype=torch.float32)
    row = row / row.sum()
    return row[:, None] * row[None, :]


@torch.no_grad()
def smooth_identity_init_(g_a: LightweightEncoder, g_s: GroundDecoder,
                          noise: float = 0.02) -> None:
    """Initialise the transform pair as a smooth identity [choice, not in the paper].

    With PyTorch's random initialisation a learned codec spends its first several hundred
    steps at the "mean colour" plateau (PSNR no better than a flat image), far more than a
    one-minute CPU run has. Here every depthwise kernel of ``g_a`` starts as a normalised
    binomial low-pass filter, every pointwise convolution and every transposed convolution of
    ``g_s`` as a Dirac (channel ``i`` -> channel ``i``) with binomial interpolation kernels,
    plus Gaussian noise of relative size ``noise`` on all weights so that the other channels
    are free to learn. The untrained pair is then approximately "16x low-pass thumbnail of the
    first ``in_channels`` latent channels, quantised with step ``1 / gain``, interpolated
    back", and training refines it. The paper trains for hundreds of thousands of steps, where
    the initialisation no longer matters.
    """
    k = _binomial_kernel(5)
    for block in g_a.modules():
        if isinstance(block, LightweightConvBlock):
            dw, pw = block.depthwise, block.pointwise
            if dw.kernel_size == (5, 5):
                c = dw.weight.shape[0]
                dw.weight.copy_(k.expand(c, 1, 5, 5) + noise / 5 * torch.randn(c, 1, 5, 5))
                nn.init.zeros_(dw.bias)
            c_out, c_in = pw.weight.shape[:2]
            w = noise / math.sqrt(c_in) * torch.randn(c_out, c_in)
            d = min(c_in, c_out)
            w[range(d), range(d)] += 1.0
            pw.weight.copy_(w[:, :, None, None])
            nn.init.zeros_(pw.bias)
    deconvs = [mod for mod in g_s.modules() if isinstance(mod, nn.ConvTranspose2d)]
    # the two attention modules each scale by about 1 + 0.5 * 0.5 at initialisation
    first_scale = 1.0 / (g_a.gain * 1.25**2)
    for i, dc in enumerate(deconvs):
        c_in, c_out, kh, kw = dc.weight.shape
        if (kh, kw) != (5, 5) or dc.stride != (2, 2):
            continue
        w = noise * torch.randn(c_in, c_out, kh, kw) / math.sqrt(c_in * kh * kw / 4)
        scale = 4.0 * (first_scale if i == 0 else 1.0)  # 4: stride-2 interpolation gain
        for j in range(min(c_in, c_out)):
            w[j, j] += scale * k
        dc.weight.copy_(w)
        nn.init.zeros_(dc.bias)


class HyperDecoder(nn.Module):
    """Ground hyper-synthesis ``h_s``: ``z_hat -> (scales, means)`` of the Gaussian
    conditional (mean-scale hyperprior, Minnen et al. 2018)."""

    def __init__(self, n: int, m: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            _deconv(n, n), nn.LeakyReLU(inplace=True),
            _deconv(n, n), nn.LeakyReLU(inplace=True),
            nn.Conv2d(n, 2 * m, 3, padding=1),
        )

    def forward(self, z_hat: Tensor) -> tuple[Tensor, Tensor]:
        scales, means = self.net(z_hat).chunk(2, dim=1)
        return scales, means


# ------------------------------------------------------------------------------ bitstream


@dataclass
class CompressedImage:
    """The transmitted payload of one image: the ``y`` and ``z`` byte strings of compressai's
    range coder plus the image size and the ``z`` grid (a 12-byte header).

    ``len(to_bytes())`` is what :func:`~geoneurips.restoration.cosmic.metrics.bits_per_pixel`
    counts, so the header is charged to COSMIC as JPEG's headers are charged to JPEG.
    """

    y_string: bytes
    z_string: bytes
    height: int
    width: int

    _HEADER = struct.Struct("<4sHHI")
    _MAGIC = b"CSM1"

    def to_bytes(self) -> bytes:
        """Serialise to ``magic | height | width | len(z) | z | y``."""
        head = self._HEADER.pack(self._MAGIC, self.height, self.width, len(self.z_string))
        return head + self.z_string + self.y_string

    @classmethod
    def from_bytes(cls, data: bytes) -> CompressedImage:
        """Parse :meth:`to_bytes` output.

        Raises:
            InvalidInputError: wrong magic number or truncated payload.
        """
        size = cls._HEADER.size
        if len(data) < size:
            raise InvalidInputError(f"COSMIC bitstream truncated: {len(data)} bytes < header")
        magic, h, w, nz = cls._HEADER.unpack(data[:size])
        if magic != cls._MAGIC:
            raise InvalidInputError(f"not a COSMIC bitstream (magic {magic!r})")
        if len(data) < size + nz:
            raise InvalidInputError("COSMIC bitstream truncated inside the z string")
        return cls(y_string=data[size + nz:], z_string=data[size:size + nz], height=h, width=w)

    @property
    def num_bytes(self) -> int:
        """Total transmitted bytes (header included)."""
        return self._HEADER.size + len(self.z_string) + len(self.y_string)


class COSMICCodec(CompressionModel):
    """The compression module (Sec. 3.2): on-board ``g_a`` + ``h_a``, ground ``h_s`` +
    ``g_s``, and the compressai entropy models.

    ``forward`` is the training pass (additive uniform noise, likelihoods for the rate
    term); :meth:`compress` / :meth:`decompress` produce and read real range-coded byte
    strings (call :meth:`update` once after training). Inputs are ``(B, C, H, W)`` in
    ``[0, 1]``; sizes that are not multiples of 64 are padded by edge replication and
    cropped back.
    """

    #: total downsampling of z (g_a: 16, h_a: 4)
    multiple: int = 64

    def __init__(self, config: COSMICConfig | None = None) -> None:
        super().__init__()
        cfg = config or COSMICConfig()
        self.config = cfg
        self.g_a = LightweightEncoder(cfg.in_channels, cfg.n, cfg.m, cfg.attention_reduction,
                                      cfg.latent_gain)
        self.h_a = LightweightHyperEncoder(cfg.m, cfg.n)
        self.h_s = HyperDecoder(cfg.n, cfg.m)
        self.g_s = GroundDecoder(cfg.in_channels, cfg.n, cfg.m)
        if cfg.identity_init:
            smooth_identity_init_(self.g_a, self.g_s)
        self.entropy_bottleneck = EntropyBottleneck(cfg.n)
        self.gaussian_conditional = GaussianConditional(None)
        #: use straight-through rounding for the decoder input in training (else noise)
        self.ste = False

    # -- helpers
    def _check(self, x: Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise InvalidInputError(
                f"COSMIC expects (B, {self.config.in_channels}, H, W) images, got "
                f"{tuple(x.shape)}"
            )
        if not torch.isfinite(x).all():
            raise InvalidInputError("COSMIC input holds NaN or inf values; fill nodata first")

    def _pad(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        ph = (-h) % self.multiple
        pw = (-w) % self.multiple
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        return x

    @staticmethod
    def _scales(raw: Tensor) -> Tensor:
        return F.softplus(raw) + _MIN_SCALE

    # -- training
    def forward(self, x: Tensor) -> dict[str, Any]:
        """Training pass.

        Returns:
            ``x_hat`` (cropped decoded image), ``y_hat`` (noisy latent), ``likelihoods``
            (``y``, ``z``) and ``bpp`` (the rate term, bits per input pixel).
        """
        self._check(x)
        h, w = x.shape[-2:]
        xp = self._pad(x)
        y = self.g_a(xp)
        z = self.h_a(y)
        z_hat, z_lik = self.entropy_bottleneck(z)
        scales, means = self.h_s(z_hat)
        scales = self._scales(scales)
        y_hat, y_lik = self.gaussian_conditional(y, scales, means=means)
        # decoder input: the noisy proxy y_hat (Balle et al.) early on; straight-through
        # rounding (what the decoder sees after real coding) once ``ste`` is switched on
        if self.ste:
            y_dec = y + (torch.round(y - means) + means - y).detach()
        else:
            y_dec = y_hat
        x_hat = self.g_s(y_dec)[..., :h, :w]
        n_pix = x.shape[0] * h * w
        bpp = (torch.log(y_lik).sum() + torch.log(z_lik).sum()) / (-math.log(2) * n_pix)
        return {"x_hat": x_hat, "y_hat": y_dec, "likelihoods": {"y": y_lik, "z": z_lik},
                "bpp": bpp}

    # -- real coding
    @torch.no_grad()
    def compress(self, x: Tensor) -> list[CompressedImage]:  # type: ignore[override]
        """Encode each image of the batch to a :class:`CompressedImage` (real byte strings).

        This is the whole on-board work: ``g_a``, ``h_a`` and the range coder (the hyper
        decoder also runs on board to obtain the scales, as in every hyperprior codec).
        """
        self._check(x)
        h, w = x.shape[-2:]
        if h > 65535 or w > 65535:
            raise InvalidInputError(f"image {h}x{w} too large for one COSMIC bitstream")
        xp = self._pad(x)
        y = self.g_a(xp)
        z = self.h_a(y)
        z_strings = self.entropy_bottleneck.compress(z)
        z_hat = self.entropy_bottleneck.decompress(z_strings, z.shape[-2:])
        scales, means = self.h_s(z_hat)
        indexes = self.gaussian_conditional.build_indexes(self._scales(scales))
        y_strings = self.gaussian_conditional.compress(y, indexes, means=means)
        return [CompressedImage(ys, zs, h, w) for ys, zs in zip(y_strings, z_strings,
                                                                  strict=True)]

    @torch.no_grad()
    def decompress_latent(self, items: Sequence[CompressedImage]) -> Tensor:  # noqa: D401
        """Decode the latents ``y_hat`` of same-sized images (ground side)."""
        if not items:
            raise InvalidInputError("nothing to decompress")
        h, w = items[0].height, items[0].width
        if any((it.height, it.width) != (h, w) for it in items):
            raise InvalidInputError("decompress a batch of images of one size at a time")
        zh = -(-h // self.multiple)
        zw = -(-w // self.multiple)
        z_hat = self.entropy_bottleneck.decompress([it.z_string for it in items], (zh, zw))
        scales, means = self.h_s(z_hat)
        indexes = self.gaussian_conditional.build_indexes(self._scales(scales))
        y_hat = self.gaussian_conditional.decompress([it.y_string for it in items], indexes,
                                                     means=means)
        return y_hat

    @torch.no_grad()
    def decompress(self, items: Sequence[CompressedImage]) -> dict[str, Tensor]:  # type: ignore[override]
        """Decode ``y_hat`` and the ground-decoder image ``x_hat`` (cropped, in [0, 1])."""
        y_hat = self.decompress_latent(items)
        h, w = items[0].height, items[0].width
        x_hat = self.g_s(y_hat)[..., :h, :w].clamp(0, 1)
        return {"x_hat": x_hat, "y_hat": y_hat}


# ------------------------------------------------------------------- compensation module


def sinusoidal_embedding(values: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Transformer sinusoidal embedding of real values ``(B,) -> (B, dim)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32,
                                                            device=values.device) / half)
    args = values.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class MetadataEncoder(nn.Module):
    """Metadata Encoder (Sec. 3.3): each numeric field (coordinates, time, GSD, cloud cover)
    is normalised, embedded sinusoidally, passed through its own two-layer MLP and tagged
    with a learned field embedding, giving one token per field for cross-attention.
    A NaN field (missing metadata) is replaced by a learned null token [choice]."""

    def __init__(self, fields: Sequence[str] = METADATA_FIELDS, dim: int = 128) -> None:
        super().__init__()
        unknown = [f for f in fields if f not in _META_NORM]
        if unknown:
            raise InvalidInputError(f"unknown metadata fields {unknown}; known {list(_META_NORM)}")
        self.fields = tuple(fields)
        self.dim = dim
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim)) for _ in fields
        )
        self.field_embedding = nn.Parameter(torch.randn(len(fields), dim) * 0.02)
        self.null = nn.Parameter(torch.zeros(len(fields), dim))
        offsets = torch.tensor([_META_NORM[f][0] for f in fields])
        spans = torch.tensor([_META_NORM[f][1] for f in fields])
        self.register_buffer("offsets", offsets, persistent=False)
        self.register_buffer("spans", spans, persistent=False)

    def forward(self, meta: Tensor) -> Tensor:
        """``(B, F)`` raw metadata (field order of ``fields``) -> ``(B, F, dim)`` tokens."""
        if meta.ndim != 2 or meta.shape[1] != len(self.fields):
            raise InvalidInputError(
                f"metadata must be (B, {len(self.fields)}) for fields {self.fields}, got "
                f"{tuple(meta.shape)}"
            )
        missing = torch.isnan(meta)
        norm = (torch.nan_to_num(meta) - self.offsets) / self.spans  # roughly in [-1, 1]
        tokens = []
        for i, mlp in enumerate(self.mlps):
            # scale so that the sinusoid frequencies resolve differences of ~1e-3
            emb = mlp(sinusoidal_embedding(norm[:, i] * 1000.0, self.dim))
            emb = torch.where(missing[:, i, None], self.null[i].expand_as(emb), emb)
            tokens.append(emb + self.field_embedding[i])
        return torch.stack(tokens, dim=1)


class _ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, t_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(min(8, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(t_dim, c_out)
        self.norm2 = nn.GroupNorm(min(8, c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(temb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        out: Tensor = h + self.skip(x)
        return out


class CrossAttentionBlock(nn.Module):
    """Cross-attention from feature-map pixels (queries) to metadata tokens (keys, values),
    added residually (Sec. 3.3, the metadata injection of Fig. 2)."""

    def __init__(self, channels: int, token_dim: int, heads: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(min(8, channels), channels)
        self.attn = nn.MultiheadAttention(channels, heads, kdim=token_dim, vdim=token_dim,
                                          batch_first=True)

    def forward(self, x: Tensor, tokens: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q = self.norm(x).flatten(2).transpose(1, 2)
        out, _ = self.attn(q, tokens, tokens, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class CompensationUNet(nn.Module):
    """The denoising network of the compensation module (Sec. 3.3, Fig. 2).

    Input: the noisy residual ``r_t``, concatenated with the ground-decoded image ``x_hat``
    and the decoded latent ``y_hat`` (a ``1 x 1`` projection, upsampled 16x to the image grid).
    Conditioning: the diffusion time (sinusoidal + MLP, added in every residual block) and
    the metadata tokens (cross-attention at both resolutions). A vanilla convolution block
    (``VC``: conv-SiLU-conv) ends the network; its last convolution starts at zero so an
    untrained model predicts a zero residual, i.e. returns the decoder output.
    """

    def __init__(self, config: COSMICConfig) -> None:
        super().__init__()
        c = config.unet_width
        t_dim = config.meta_dim
        lat_c = max(c // 2, 4)
        s = config.unshuffle
        if s < 1 or 16 % s:
            raise InvalidInputError(f"unshuffle must divide 16, got {s}")
        self.unshuffle = s
        img_c = config.in_channels * s * s
        self.latent_proj = nn.Conv2d(config.m, lat_c, 1)
        self.time_mlp = nn.Sequential(nn.Linear(t_dim, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        self.t_dim = t_dim
        self.inp = nn.Conv2d(2 * img_c + lat_c, c, 3, padding=1)
        self.down1 = _ResBlock(c, c, t_dim)
        self.attn1 = CrossAttentionBlock(c, config.meta_dim, config.heads)
        self.pool = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.mid = _ResBlock(2 * c, 2 * c, t_dim)
        self.attn2 = CrossAttentionBlock(2 * c, config.meta_dim, config.heads)
        self.mid2 = _ResBlock(2 * c, 2 * c, t_dim)
        self.up = nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1)
        self.dec = _ResBlock(2 * c, c, t_dim)
        self.vc = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.SiLU(),
                                nn.Conv2d(c, img_c, 3, padding=1))
        nn.init.zeros_(self.vc[-1].weight)
        nn.init.zeros_(self.vc[-1].bias)

    def forward(self, r_t: Tensor, t: Tensor, x_hat: Tensor, y_hat: Tensor,
                tokens: Tensor) -> Tensor:
        full_h, full_w = r_t.shape[-2:]
        s = self.unshuffle
        if s > 1:
            ph, pw = (-full_h) % s, (-full_w) % s
            if ph or pw:
                r_t = F.pad(r_t, (0, pw, 0, ph), mode="replicate")
                x_hat = F.pad(x_hat, (0, pw, 0, ph), mode="replicate")
            r_t = F.pixel_unshuffle(r_t, s)
            x_hat = F.pixel_unshuffle(x_hat, s)
        h, w = r_t.shape[-2:]
        lat = F.interpolate(self.latent_proj(y_hat), scale_factor=16 // s, mode="nearest")
        lat = lat[..., :h, :w]
        if lat.shape[-2:] != (h, w):
            lat = F.pad(lat, (0, w - lat.shape[-1], 0, h - lat.shape[-2]), mode="replicate")
        temb = self.time_mlp(sinusoidal_embedding(t, self.t_dim))
        x0 = self.inp(torch.cat([r_t, x_hat, lat], dim=1))
        d1 = self.attn1(self.down1(x0, temb), tokens)
        m = self.mid(self.pool(d1), temb)
        m = self.mid2(self.attn2(m, tokens), temb)
        u = self.up(m)[..., :h, :w]
        out: Tensor = self.vc(self.dec(torch.cat([u, d1], dim=1), temb))
        if s > 1:
            out = F.pixel_shuffle(out, s)[..., :full_h, :full_w]
        return out


class GaussianDiffusion(nn.Module):
    """DDPM training (linear beta schedule 1e-4..0.02 over ``T`` steps, Ho et al. 2020) and
    deterministic DDIM decoding in ``sample_steps`` steps (Song et al. 2021; eta = 0)."""

    def __init__(self, steps: int = 1000, prediction: Literal["x0", "eps"] = "x0") -> None:
        super().__init__()
        if prediction not in ("x0", "eps"):
            raise InvalidInputError(f"prediction must be 'x0' or 'eps', got {prediction!r}")
        self.steps = steps
        self.prediction = prediction
        betas = torch.linspace(1e-4, 0.02 * 1000 / steps, steps, dtype=torch.float64)
        alphas_bar = torch.cumprod(1.0 - betas, dim=0).float()
        self.register_buffer("alphas_bar", alphas_bar, persistent=False)

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps`` (Ho et al. eq. 4)."""
        ab = self.alphas_bar[t][:, None, None, None]
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def loss(self, model: Any, x0: Tensor, generator: torch.Generator | None = None,
             zero_start_prob: float = 0.0, **cond: Tensor) -> Tensor:
        """Simple DDPM loss, MSE on the chosen target (``x0`` or ``eps``).

        A fraction ``zero_start_prob`` of the batch is replaced by the deterministic start
        state of ``rho = 0`` decoding (``t = T - 1``, ``x_t = 0``)."""
        b = x0.shape[0]
        t = torch.randint(0, self.steps, (b,), generator=generator)
        noise = torch.randn(x0.shape, generator=generator)
        x_t = self.q_sample(x0, t, noise)
        if zero_start_prob > 0:
            start = torch.rand(b, generator=generator) < zero_start_prob
            t = torch.where(start, torch.full_like(t, self.steps - 1), t)
            x_t = torch.where(start[:, None, None, None], torch.zeros_like(x_t), x_t)
            # the noise implied by x_t = 0 (the eps target that gives the right x0)
            ab = self.alphas_bar[t][:, None, None, None]
            implied = -(ab / (1 - ab)).sqrt() * x0
            noise = torch.where(start[:, None, None, None], implied, noise)
        pred = model(x_t, t.float(), **cond)
        target = x0 if self.prediction == "x0" else noise
        return F.mse_loss(pred, target)

    @torch.no_grad()
    def sample(self, model: Any, shape: Sequence[int], sample_steps: int,
               generator: torch.Generator | None = None, noise_scale: float = 1.0,
               **cond: Tensor) -> Tensor:
        """DDIM (eta = 0) over ``sample_steps`` evenly spaced timesteps, starting from
        ``x_T = noise_scale * eps``."""
        if sample_steps < 1 or sample_steps > self.steps:
            raise InvalidInputError(f"sample_steps must be in [1, {self.steps}], got "
                                    f"{sample_steps}")
        ts = torch.linspace(self.steps - 1, 0, sample_steps).round().long()
        x = noise_scale * torch.randn(tuple(shape), generator=generator)
        for i, t in enumerate(ts):
            ab = self.alphas_bar[t]
            ab_prev = self.alphas_bar[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0)
            out = model(x, t.float().expand(shape[0]), **cond)
            if self.prediction == "x0":
                x0 = out
                eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()
            else:
                eps = out
                x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
            x = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps
        return x


class COSMIC(nn.Module):
    """The whole system: :class:`COSMICCodec` + metadata-conditioned diffusion compensation.

    Typical use::

        model = COSMIC(COSMICConfig.tiny())
        ...train (see pipeline.py)...
        model.codec.update(force=True)
        items = model.codec.compress(x)          # on board
        out = model.reconstruct(items, meta)     # on the ground
    """

    def __init__(self, config: COSMICConfig | None = None) -> None:
        super().__init__()
        cfg = config or COSMICConfig()
        self.config = cfg
        self.codec = COSMICCodec(cfg)
        self.meta_encoder = MetadataEncoder(cfg.meta_fields, cfg.meta_dim)
        self.unet = CompensationUNet(cfg)
        self.diffusion = GaussianDiffusion(cfg.diffusion_steps, cfg.prediction)

    def _denoiser(self, tokens: Tensor, x_hat: Tensor, y_hat: Tensor) -> Any:
        def fn(r_t: Tensor, t: Tensor) -> Tensor:
            out: Tensor = self.unet(r_t, t, x_hat, y_hat, tokens)
            return out
        return fn

    def compensation_loss(self, x: Tensor, x_hat: Tensor, y_hat: Tensor, meta: Tensor,
                          generator: torch.Generator | None = None) -> Tensor:
        """Diffusion loss on the scaled residual ``(x - x_hat) * residual_scale``."""
        tokens = self.meta_encoder(meta)
        r0 = (x - x_hat) * self.config.residual_scale

        def model(r_t: Tensor, t: Tensor) -> Tensor:
            out: Tensor = self.unet(r_t, t, x_hat, y_hat, tokens)
            return out

        return self.diffusion.loss(model, r0, generator=generator,
                                   zero_start_prob=self.config.zero_start_prob)

    @torch.no_grad()
    def compensate(self, x_hat: Tensor, y_hat: Tensor, meta: Tensor,
                   sample_steps: int | None = None,
                   generator: torch.Generator | None = None,
                   noise_scale: float | None = None) -> Tensor:
        """Add the sampled residual to the decoder output: ``clamp(x_hat + r / scale)``.

        ``noise_scale`` (``rho``) defaults to the config's; ``sample_steps`` defaults to
        ``config.distortion_steps`` when ``rho == 0`` (the PSNR-oriented output) and to
        ``config.sample_steps`` otherwise."""
        tokens = self.meta_encoder(meta)
        rho = self.config.noise_scale if noise_scale is None else noise_scale
        default = self.config.distortion_steps if rho == 0 else self.config.sample_steps
        steps = sample_steps or default
        r = self.diffusion.sample(self._denoiser(tokens, x_hat, y_hat), x_hat.shape, steps,
                                  generator=generator, noise_scale=rho)
        return (x_hat + r / self.config.residual_scale).clamp(0, 1)

    @torch.no_grad()
    def reconstruct(self, items: Sequence[CompressedImage], meta: Tensor,
                    sample_steps: int | None = None, compensate: bool = True,
                    generator: torch.Generator | None = None,
                    noise_scale: float | None = None) -> dict[str, Tensor]:
        """Ground decoding of real bitstreams: ``x_hat`` (decoder) and ``x_tilde``
        (decoder + diffusion compensation)."""
        dec = self.codec.decompress(items)
        out = dict(dec)
        if compensate:
            out["x_tilde"] = self.compensate(dec["x_hat"], dec["y_hat"], meta, sample_steps,
                                             generator, noise_scale)
        return out


# --------------------------------------------------------------------------------- FLOPs


def hyperprior_reference_encoder(n: int = 128, m: int = 192) -> nn.Module:
    """The standard hyperprior on-board encoder (Balle et al. 2018, as implemented by
    compressai's :class:`~compressai.models.ScaleHyperprior`): its ``g_a`` and ``h_a``."""
    from compressai.models import ScaleHyperprior

    ref = ScaleHyperprior(n, m)

    class _Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.g_a = ref.g_a
            self.h_a = ref.h_a

        def forward(self, x: Tensor) -> Tensor:
            y = self.g_a(x)
            out: Tensor = self.h_a(torch.abs(y))
            return out

    return _Encoder()


class _OnboardEncoder(nn.Module):
    def __init__(self, codec: COSMICCodec) -> None:
        super().__init__()
        self.g_a = codec.g_a
        self.h_a = codec.h_a

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.h_a(self.g_a(x))
        return out


def count_flops(module: nn.Module, x: Tensor) -> int:
    """FLOPs of ``module(x)`` counted by :class:`torch.utils.flop_counter.FlopCounterMode`
    (one multiply-add = 2 FLOPs; convolutions, matmuls and GDN's 1x1 convolution)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(x)
    return int(counter.get_total_flops())


def encoder_flops_report(config: COSMICConfig | None = None, size: int = 256) -> dict[str, float]:
    """On-board encoder GFLOPs of COSMIC (``g_a`` + ``h_a``) vs the standard hyperprior
    encoder of the same widths, on one ``3 x size x size`` image (the paper uses 256^2)."""
    cfg = config or COSMICConfig()
    x = torch.zeros(1, cfg.in_channels, size, size)
    ours = count_flops(_OnboardEncoder(COSMICCodec(cfg)).eval(), x)
    ref = count_flops(hyperprior_reference_encoder(cfg.n, cfg.m).eval(), x)
    ours_ga = count_flops(COSMICCodec(cfg).g_a.eval(), x)
    ref_ga = count_flops(hyperprior_reference_encoder(cfg.n, cfg.m).g_a.eval(), x)  # type: ignore[operator]
    return {
        "cosmic_encoder_gflops": ours / 1e9,
        "hyperprior_encoder_gflops": ref / 1e9,
        "flops_ratio": ref / ours,
        "cosmic_g_a_gflops": ours_ga / 1e9,
        "hyperprior_g_a_gflops": ref_ga / 1e9,
        "image_size": float(size),
    }
