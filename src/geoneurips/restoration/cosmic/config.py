"""COSMIC (Zhang et al., NeurIPS 2024, arXiv 2410.01698): the configuration.

:class:`COSMICConfig` holds the sizes of every component of :mod:`.model` (paper scale and a
CPU toy scale); :data:`METADATA_FIELDS` the metadata fields of the compensation module's
conditioning (Sec. 3.3). This module imports neither torch nor compressai.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from ...errors import InvalidInputError

__all__ = ["COSMICConfig", "METADATA_FIELDS"]

#: Metadata fields used for conditioning, in token order (DiffusionSat-style numeric
#: metadata: longitude, latitude, ground sample distance, cloud cover, year, month, day).
METADATA_FIELDS: tuple[str, ...] = ("lon", "lat", "gsd", "cloud_cover", "year", "month", "day")


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

