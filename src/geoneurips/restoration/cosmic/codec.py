"""COSMIC (Zhang et al., NeurIPS 2024, arXiv 2410.01698): the compression module (Sec. 3.2).

On board: the lightweight encoder ``g_a`` (:class:`LightweightConvBlock`,
:class:`ConvAttentionModule`) and hyper-encoder ``h_a``; on the ground: the hyper-decoder
``h_s`` and the decoder ``g_s``; between them compressai's mean-scale hyperprior entropy
models and range coder (:class:`COSMICCodec`, whose byte strings travel as
:class:`CompressedImage`). Details the paper leaves open are marked "[choice]".
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.layers import GDN
from compressai.models import CompressionModel
from torch import Tensor, nn

from ...errors import InvalidInputError
from .config import COSMICConfig

__all__ = [
    "COSMICCodec",
    "CompressedImage",
    "ConvAttentionModule",
    "GroundDecoder",
    "HyperDecoder",
    "LightweightConvBlock",
    "LightweightEncoder",
    "LightweightHyperEncoder",
    "smooth_identity_init_",
]

_MIN_SCALE = 0.11  # lower bound of the Gaussian scale table (compressai default)


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
                assert dw.bias is not None
                nn.init.zeros_(dw.bias)
            c_out, c_in = pw.weight.shape[:2]
            w = noise / math.sqrt(c_in) * torch.randn(c_out, c_in)
            d = min(c_in, c_out)
            w[range(d), range(d)] += 1.0
            pw.weight.copy_(w[:, :, None, None])
            assert pw.bias is not None
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
        assert dc.bias is not None
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


# compressai ships no type information, so its base class is ``Any`` to mypy
class COSMICCodec(CompressionModel):  # type: ignore[misc]
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
    def compress(self, x: Tensor) -> list[CompressedImage]:
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
        y_hat: Tensor = self.gaussian_conditional.decompress([it.y_string for it in items],
                                                             indexes, means=means)
        return y_hat

    @torch.no_grad()
    def decompress(self, items: Sequence[CompressedImage]) -> dict[str, Tensor]:
        """Decode ``y_hat`` and the ground-decoder image ``x_hat`` (cropped, in [0, 1])."""
        y_hat = self.decompress_latent(items)
        h, w = items[0].height, items[0].width
        x_hat = self.g_s(y_hat)[..., :h, :w].clamp(0, 1)
        return {"x_hat": x_hat, "y_hat": y_hat}
