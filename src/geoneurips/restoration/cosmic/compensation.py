"""COSMIC (Zhang et al., NeurIPS 2024, arXiv 2410.01698): the compensation module (Sec. 3.3).

A denoising diffusion model on the ground (:class:`CompensationUNet` +
:class:`GaussianDiffusion`) that generates the residual the lightweight codec lost,
conditioned on the decoded latent and image and on metadata tokens (:class:`MetadataEncoder`)
injected by cross-attention (:class:`CrossAttentionBlock`). Details the paper leaves open are
marked "[choice]".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import InvalidInputError
from ...nn.diffusion import (
    alphas_cumprod_from_betas,
    ddim_sample,
    ddim_timesteps,
    linear_betas,
    q_sample,
)
from ...nn.embedding import sinusoidal_embedding
from .config import METADATA_FIELDS, COSMICConfig

__all__ = [
    "CompensationUNet",
    "CrossAttentionBlock",
    "GaussianDiffusion",
    "MetadataEncoder",
    "sinusoidal_embedding",
]

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


# ------------------------------------------------------------------- compensation module


class MetadataEncoder(nn.Module):
    """Metadata Encoder (Sec. 3.3): each numeric field (coordinates, time, GSD, cloud cover)
    is normalised, embedded sinusoidally, passed through its own two-layer MLP and tagged
    with a learned field embedding, giving one token per field for cross-attention.
    A NaN field (missing metadata) is replaced by a learned null token [choice]."""

    offsets: Tensor
    spans: Tensor

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
        result: Tensor = x + out.transpose(1, 2).reshape(b, c, h, w)
        return result


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
        vc_out = self.vc[-1]
        assert isinstance(vc_out, nn.Conv2d) and vc_out.bias is not None
        nn.init.zeros_(vc_out.weight)
        nn.init.zeros_(vc_out.bias)

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
    """DDPM training (linear betas 1e-4..0.02 over ``T`` steps, Ho et al. 2020, scaled by
    ``1000 / T`` as in improved-diffusion) and deterministic DDIM decoding (Song et al. 2021;
    ``eta = 0``, timesteps ``round(linspace(T - 1, 0, steps))``) through the project's one
    sampler, :func:`geoneurips.nn.diffusion.ddim_sample`."""

    alphas_bar: Tensor

    def __init__(self, steps: int = 1000, prediction: Literal["x0", "eps"] = "x0") -> None:
        super().__init__()
        if prediction not in ("x0", "eps"):
            raise InvalidInputError(f"prediction must be 'x0' or 'eps', got {prediction!r}")
        self.steps = steps
        self.prediction: Literal["x0", "eps"] = prediction
        alphas_bar = alphas_cumprod_from_betas(linear_betas(steps)).float()
        self.register_buffer("alphas_bar", alphas_bar, persistent=False)

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps`` (Ho et al. eq. 4)."""
        return q_sample(x0, self.alphas_bar[t], noise)

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
        ``x_T = noise_scale * eps`` (``noise_scale = rho``: 1 is the true sampler)."""
        if sample_steps < 1 or sample_steps > self.steps:
            raise InvalidInputError(f"sample_steps must be in [1, {self.steps}], got "
                                    f"{sample_steps}")
        ts = ddim_timesteps(self.steps, sample_steps, "linspace")
        x = noise_scale * torch.randn(tuple(shape), generator=generator)

        def fn(x_t: Tensor, t: Tensor) -> Tensor:
            out: Tensor = model(x_t, t, **cond)
            return out

        return ddim_sample(fn, x, self.alphas_bar, ts, prediction=self.prediction, eta=0.0)
