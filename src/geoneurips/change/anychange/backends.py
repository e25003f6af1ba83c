"""What AnyChange needs from a segmentation model, and the SAM-free back end.

:class:`ChangeBackend` is the interface the matching (:mod:`.model`) uses;
:class:`~geoneurips.change.anychange.sam.SamBackend` implements it on SAM (Sec. 3.2) and
:class:`PluggableBackend` on any mask-proposal generator plus any dense feature extractor
(defaults: multi-scale SLIC segments, :class:`~geoneurips.proposals.superpixels.SlicProposer`
from the shared proposals layer, and simple spectral/texture features), so that the method
runs without SAM weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from geoneurips.errors import InvalidInputError
from geoneurips.proposals.superpixels import SlicProposer
from geoneurips.proposals.superpixels import as_uint8_rgb as _as_uint8_rgb

from .config import AnyChangeConfig
from .features import DenseFeatures
from .proposals import Proposals

__all__ = [
    "ChangeBackend",
    "PluggableBackend",
    "PluggableState",
    "SlicProposer",
    "SpectralTextureFeatures",
]


class ChangeBackend(Protocol):
    """What AnyChange needs from a segmentation model.

    ``encode`` prepares one date (for SAM: the image embedding); ``propose`` gives the
    date's mask proposals; ``features`` its dense feature map (``normalized``: the
    de-normalised variant used by the latent matching); ``point_mask`` the object mask
    under a clicked point ``(x, y)`` in pixel coordinates.
    """

    def encode(self, image: np.ndarray) -> Any: ...

    def propose(self, state: Any, config: AnyChangeConfig) -> Proposals: ...

    def features(self, state: Any, normalized: bool) -> DenseFeatures: ...

    def point_mask(self, state: Any, xy: tuple[float, float]) -> Tensor: ...


class SpectralTextureFeatures:
    """Dense spectral/texture features ``(D, H, W)`` (a SAM-free feature extractor).

    Per band: Gaussian-smoothed value at each ``sigma`` and local standard deviation at the
    largest ``sigma``; plus the gradient magnitude of the smoothed mean band. Each channel is
    standardised over the image (zero mean, unit variance), which also removes global
    radiometric offsets between the dates. A constant ``anchor`` channel (``anchor`` times
    the root of the channel count) is appended: without it, pixels close to the image mean
    have near-zero vectors whose direction, hence cosine, is pure noise.
    """

    def __init__(self, sigmas: Sequence[float] = (0.5, 1.5), anchor: float = 2.0) -> None:
        self.sigmas = tuple(float(s) for s in sigmas)
        self.anchor = float(anchor)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Features of an ``(H, W, C)`` float image."""
        from scipy import ndimage

        img = np.asarray(image, dtype=np.float64)
        chans = []
        big = max(self.sigmas)
        for b in range(img.shape[2]):
            band = img[..., b]
            for s in self.sigmas:
                chans.append(ndimage.gaussian_filter(band, s))
            mean = ndimage.gaussian_filter(band, big)
            sq = ndimage.gaussian_filter(band * band, big)
            chans.append(np.sqrt(np.clip(sq - mean * mean, 0, None)))
        gray = ndimage.gaussian_filter(img.mean(axis=2), min(self.sigmas))
        chans.append(np.hypot(ndimage.sobel(gray, 0), ndimage.sobel(gray, 1)))
        feats = np.stack(chans)
        mu = feats.mean(axis=(1, 2), keepdims=True)
        sd = feats.std(axis=(1, 2), keepdims=True)
        feats = (feats - mu) / np.where(sd > 1e-8, sd, 1.0)
        if self.anchor > 0:
            const = np.full((1, *feats.shape[1:]), self.anchor * np.sqrt(len(feats)))
            feats = np.concatenate([feats, const])
        return feats.astype(np.float32)


@dataclass
class PluggableState:
    """One date for :class:`PluggableBackend`."""

    image: np.ndarray
    features: Tensor
    proposals: Proposals


class PluggableBackend:
    """Any mask-proposal generator plus any dense feature extractor (no SAM needed).

    Args:
        proposer: ``image (H, W, C) float [0, 1] -> masks (N, H, W) bool`` or a label image
            ``(H, W)`` int (one mask per label). Default :class:`SlicProposer`.
        extractor: ``image (H, W, C) float [0, 1] -> features (D, h, w)``; a coarser map is
            upsampled bilinearly like SAM's. Default :class:`SpectralTextureFeatures`.

    The same features serve as "raw" and "de-normalised" embeddings; the point mask is the
    smallest proposal containing the click.
    """

    def __init__(
        self,
        proposer: Callable[[np.ndarray], np.ndarray] | None = None,
        extractor: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.proposer = proposer or SlicProposer()
        self.extractor = extractor or SpectralTextureFeatures()

    def encode(self, image: np.ndarray) -> PluggableState:
        """Run the proposer and the extractor on one date."""
        img = _as_uint8_rgb(image).astype(np.float32) / 255.0
        h, w = img.shape[:2]
        out = np.asarray(self.proposer(img))
        if out.ndim == 2:
            masks = np.stack([out == k for k in np.unique(out)])
        elif out.ndim == 3:
            masks = out.astype(bool)
        else:
            raise InvalidInputError(f"proposer returned shape {out.shape}; want (N,H,W) or (H,W)")
        if masks.shape[1:] != (h, w):
            raise InvalidInputError(f"proposer masks {masks.shape[1:]} != image {(h, w)}")
        masks = masks[masks.reshape(len(masks), -1).any(1)]
        feats = torch.as_tensor(np.asarray(self.extractor(img), dtype=np.float32))
        return PluggableState(img, feats, Proposals.from_masks(torch.from_numpy(masks)))

    def propose(self, state: PluggableState, config: AnyChangeConfig) -> Proposals:
        """The proposer's masks after box NMS."""
        return state.proposals.nms(config.box_nms_thresh)

    def features(self, state: PluggableState, normalized: bool) -> DenseFeatures:
        """The extractor's map seen at image size."""
        return DenseFeatures(state.features, state.image.shape[:2])

    def point_mask(self, state: PluggableState, xy: tuple[float, float]) -> Tensor:
        """Smallest proposal containing the clicked pixel."""
        h, w = state.image.shape[:2]
        c, r = min(w - 1, max(0, int(xy[0]))), min(h - 1, max(0, int(xy[1])))
        m = state.proposals.masks
        hit = m[:, r, c]
        if not bool(hit.any()):
            out = torch.zeros(h, w, dtype=torch.bool)
            out[r, c] = True
            return out
        areas = torch.where(hit, m.flatten(1).sum(1), torch.iinfo(torch.int64).max)
        return m[int(areas.argmin())].clone()
