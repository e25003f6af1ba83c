"""AnyChange: Segment Any Change (Zheng, Zhong, Zhang, Ermon; NeurIPS 2024).

Zero-shot change detection built on the Segment Anything Model (SAM). Every step of the
paper is in this package; this module holds the pipeline (:class:`AnyChange`, the latent
matching, the merge and the point query) and re-exports the components of the modules below,
so that ``geoneurips.change.anychange.model`` gives the whole method:

* **Per-date mask proposals** (Sec. 3.2, "object proposals"; :mod:`.sam`): SAM prompted with
  a regular point grid (32 x 32, 3 masks per point), kept when the predicted IoU exceeds 0.5
  (lower than SAM's automatic 0.88, so that more candidates reach the matching) and the
  stability score is at least 0.95, then box NMS at 0.7; masks covering 80 % of the image or
  more are dropped (:meth:`AnyChange.proposals`).
* **De-normalised embeddings** (Sec. 3.2, "bitemporal latent matching"; public code
  ``use_normalized_feature``; :mod:`.sam`, :mod:`.features`): the affine of the last
  LayerNorm of SAM's neck is undone, ``z' = (z - b) / w``, and the 64 x 64 map is upsampled
  bilinearly (``align_corners=True``) to the image size.
* **Bitemporal latent matching** (Sec. 3.2, Eq. 1-2): each proposal ``m`` of *both* dates
  gives mask embeddings ``x_t = mean(z'_t[:, m])``; its change confidence is
  ``c = -cos(x_1, x_2)``; it is a change when ``c > cos(theta)``, ``theta = 155`` degrees by
  default (the angle between the two embeddings exceeds ``180 - theta`` = 25 degrees).
  Optionally ``theta`` comes from Otsu's threshold on the per-pixel ``-cos`` map.
* **Merging** (Sec. 3.2): the change masks of both directions are concatenated, box NMS at
  0.7 on SAM's IoU predictions, then the top 1000 by change confidence are kept.
* **Point query** (Sec. 3.3, "point query mechanism"): a clicked point ``(x, y, t)`` gives a
  SAM object mask ``q`` on date ``t``; its mean *raw* embedding selects, on both dates, the
  pixels with ``cos > cos(60 deg)``; proposals with ``0.25 |q| < area < 4 |q|`` and more than
  half of their pixels on that object map are kept, then matched as above. Several points
  average their features and areas.

Back ends: :class:`SamBackend` (any SAM built by :func:`build_sam` from a local checkpoint,
or :func:`build_tiny_sam` with random weights for tests; :mod:`.sam`) and
:class:`PluggableBackend` (any mask-proposal generator plus any dense feature extractor;
defaults: multi-scale SLIC segments and simple spectral/texture features; :mod:`.backends`),
so that the method runs without SAM weights. Hyper-parameters: :class:`AnyChangeConfig`
(:mod:`.config`); mask proposals: :class:`Proposals`. SAM building, grid mask generation,
:class:`Proposals` and the SLIC proposer live in the shared layer :mod:`geoneurips.proposals`
(used by SeCo too) and are re-exported here.

Differences from the public code (``torchange``), all deliberate:

* Mask embeddings are computed *exactly* as the mean of the bilinearly upsampled map, but
  through the separable interpolation matrices (``A^T M B``) instead of materialising a
  256 x H x W float map (1 GiB at 1024 x 1024); numerically the same quantity
  (:class:`DenseFeatures`).
* The public top-k keeps ``scores > sorted[1000]``, which can keep fewer than 1000 masks on
  ties; here exactly ``top_k`` are kept (the paper's intent: "top-1000").
* The public Otsu call passes the number of pixels as the number of histogram bins; here the
  histogram has ``otsu_bins`` (256) bins.
* The point query takes, among SAM's three masks for the click, the one with the highest
  predicted IoU (SAM's own ambiguity rule); the public code takes the first one surviving the
  proposal filters, which may be none (an index error there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from geoneurips.errors import InvalidInputError
from geoneurips.io import load_checkpoint

# The components live in their own modules; every name this module defined before they moved
# stays importable from here ("X as X": explicit re-exports of the names not in ``__all__``).
from geoneurips.proposals.masks import Proposals, masks_to_boxes
from geoneurips.proposals.masks import stability_score as stability_score
from geoneurips.proposals.sam import build_sam, build_tiny_sam
from geoneurips.proposals.sam import sam_type_from_state as sam_type_from_state
from geoneurips.proposals.superpixels import SlicProposer
from geoneurips.proposals.superpixels import as_uint8_rgb as _as_uint8_rgb

from .backends import ChangeBackend, PluggableBackend, SpectralTextureFeatures
from .backends import PluggableState as PluggableState
from .config import AnyChangeConfig, angle_to_cosine, cosine_to_angle
from .features import DenseFeatures as DenseFeatures
from .features import _cosine_map, _cosine_to_vector, interpolation_matrix
from .sam import SamBackend
from .sam import SamState as SamState
from .sam import SamType as SamType

__all__ = [
    "AnyChange",
    "AnyChangeConfig",
    "ChangeBackend",
    "ChangeResult",
    "PluggableBackend",
    "Proposals",
    "SamBackend",
    "SlicProposer",
    "SpectralTextureFeatures",
    "angle_to_cosine",
    "build_sam",
    "build_tiny_sam",
    "cosine_to_angle",
    "interpolation_matrix",
    "masks_to_boxes",
]


def _threshold_otsu(values: np.ndarray, nbins: int = 256) -> float:
    """Otsu's threshold of ``values`` (:func:`skimage.filters.threshold_otsu`, untyped)."""
    from skimage.filters import threshold_otsu

    otsu = cast(Callable[..., float], threshold_otsu)
    return float(otsu(values, nbins=nbins))


@dataclass
class ChangeResult:
    """Output of :class:`AnyChange`.

    Attributes:
        changes: change masks with ``confidence`` (``-cos``) and ``date``.
        proposals1, proposals2: the per-date proposals after the area filter.
        threshold: the angle ``theta`` actually used (differs from the config with Otsu).
    """

    changes: Proposals
    proposals1: Proposals
    proposals2: Proposals
    threshold: float

    @property
    def scores(self) -> Tensor:
        """Change scores in [0, 1]: ``(1 + c) / 2`` with ``c = -cos``."""
        return (1.0 + self.changes.confidence) / 2.0

    def probability_map(self) -> np.ndarray:
        """``(H, W)`` float32: the highest score of the change masks covering each pixel."""
        h, w = self.changes.shape
        out = torch.zeros(h, w)
        for m, s in zip(self.changes.masks, self.scores, strict=True):
            out = torch.where(m, torch.maximum(out, s), out)
        return out.numpy().astype(np.float32)

    def change_mask(self) -> np.ndarray:
        """``(H, W)`` bool: union of the change masks."""
        if len(self.changes) == 0:
            return np.zeros(self.changes.shape, dtype=bool)
        return self.changes.masks.any(0).numpy()

    def to_eval_format(self) -> dict[str, Any]:
        """``boxes``, ``scores`` (= ``-cos``, the public code's convention), ``labels``, ``masks``."""
        n = len(self.changes)
        return {
            "boxes": self.changes.boxes.float(), "scores": self.changes.confidence.float(),
            "labels": torch.ones(n, dtype=torch.int64), "masks": self.changes.masks,
        }


class AnyChange:
    """Segment Any Change (Sec. 3): training-free change detection on a segmentation model.

    Args:
        backend: :class:`SamBackend` or :class:`PluggableBackend` (or anything following
            :class:`ChangeBackend`).
        config: hyper-parameters (paper defaults).

    Example:
        >>> model = AnyChange(SamBackend(build_tiny_sam()), AnyChangeConfig.tiny())
        >>> result = model(img1, img2)           # (H, W, 3) uint8 each
        >>> prob, binary = result.probability_map(), result.change_mask()
    """

    def __init__(self, backend: ChangeBackend, config: AnyChangeConfig | None = None) -> None:
        self.backend = backend
        self.config = config or AnyChangeConfig()

    @classmethod
    def from_checkpoint(
        cls, checkpoint: str | Path, model_type: SamType | None = None,
        config: AnyChangeConfig | None = None, device: str = "cpu",
    ) -> AnyChange:
        """AnyChange on a SAM read from a local checkpoint (type guessed if not given)."""
        if model_type is None:
            model_type = sam_type_from_state(load_checkpoint(checkpoint))
        return cls(SamBackend(build_sam(model_type, checkpoint), device), config)

    def with_config(self, **changes: Any) -> AnyChange:
        """A copy with some hyper-parameters changed (same back end)."""
        return AnyChange(self.backend, replace(self.config, **changes))

    # -- steps ---------------------------------------------------------------------------

    def _prepare(self, image1: np.ndarray, image2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        img1 = _as_uint8_rgb(image1, "image1")
        img2 = _as_uint8_rgb(image2, "image2")
        if img1.shape != img2.shape:
            raise InvalidInputError(f"image1 {img1.shape} and image2 {img2.shape} differ in shape")
        if self.config.match_hist:
            from skimage.exposure import match_histograms

            img2 = np.clip(match_histograms(img2, img1, channel_axis=-1), 0, 255).astype(np.uint8)
        return img1, img2

    def proposals(self, state: Any) -> Proposals:
        """Per-date proposals, minus those covering ``area_thresh`` of the image or more."""
        p = self.backend.propose(state, self.config)
        h, w = p.shape
        return p.filter(p.areas.float() / (h * w) < self.config.area_thresh)

    def otsu_threshold(self, f1: DenseFeatures, f2: DenseFeatures) -> float:
        """Angle ``theta`` from Otsu's threshold on the per-pixel ``-cos`` map."""
        neg = -_cosine_map(f1, f2).numpy().ravel()
        if np.ptp(neg) < 1e-12:
            return self.config.change_confidence_threshold
        t = _threshold_otsu(neg, nbins=self.config.otsu_bins)
        return cosine_to_angle(t)

    def latent_match(
        self, proposals: Proposals, f1: DenseFeatures, f2: DenseFeatures, threshold: float
    ) -> Proposals:
        """Eq. 1-2: change confidence ``-cos(x1, x2)`` of mask embeddings; keep changes."""
        if len(proposals) == 0:
            return proposals
        x1 = f1.mask_means(proposals.masks)
        x2 = f2.mask_means(proposals.masks)
        conf = -F.cosine_similarity(x1, x2, dim=1, eps=1e-8)
        out = replace(proposals, confidence=conf)
        return out.filter(conf > angle_to_cosine(threshold))

    def bitemporal_match(
        self, p1: Proposals, p2: Proposals, f1: DenseFeatures, f2: DenseFeatures,
        threshold: float,
    ) -> Proposals:
        """Match the proposals of both dates (or only date 2's) and concatenate."""
        p1 = replace(p1, date=torch.ones(len(p1), dtype=torch.int64))
        p2 = replace(p2, date=torch.full((len(p2),), 2, dtype=torch.int64))
        h, w = p1.shape
        parts = [self.latent_match(p2, f1, f2, threshold)]
        if self.config.bitemporal_match:
            parts.insert(0, self.latent_match(p1, f1, f2, threshold))
        return Proposals.cat(parts, h, w)

    def merge(self, changes: Proposals) -> Proposals:
        """Box NMS (on the generator's IoU predictions), then the top-k by confidence."""
        changes = changes.nms(self.config.box_nms_thresh)
        if len(changes) > self.config.top_k:
            order = torch.argsort(changes.confidence, descending=True, stable=True)
            changes = changes.filter(order[: self.config.top_k])
        return changes

    def _match_and_merge(self, s1: Any, s2: Any, p1: Proposals, p2: Proposals) -> ChangeResult:
        """Matching features of both dates, ``theta`` (fixed or Otsu), matching and merge."""
        norm = self.config.use_normalized_feature
        f1, f2 = self.backend.features(s1, norm), self.backend.features(s2, norm)
        theta = (
            self.otsu_threshold(f1, f2) if self.config.auto_threshold
            else self.config.change_confidence_threshold
        )
        changes = self.merge(self.bitemporal_match(p1, p2, f1, f2, theta))
        return ChangeResult(changes, p1, p2, theta)

    # -- entry points ----------------------------------------------------------------------

    @torch.no_grad()
    def __call__(self, image1: np.ndarray, image2: np.ndarray) -> ChangeResult:
        """Zero-shot change masks between two co-registered ``(H, W, 3)`` images."""
        img1, img2 = self._prepare(image1, image2)
        s1, s2 = self.backend.encode(img1), self.backend.encode(img2)
        p1, p2 = self.proposals(s1), self.proposals(s2)
        return self._match_and_merge(s1, s2, p1, p2)

    @torch.no_grad()
    def query_embedding(
        self, image1: np.ndarray, image2: np.ndarray,
        points: Sequence[tuple[float, float, int]],
    ) -> tuple[Tensor, float]:
        """Sec. 3.3: mean *raw* embedding and area of the objects under ``(x, y, date)`` clicks.

        Several points average their features and areas (public code ``multi_points_match``).
        """
        if not points:
            raise InvalidInputError("the point query needs at least one (x, y, date) point")
        img1, img2 = self._prepare(image1, image2)
        h, w = img1.shape[:2]
        imgs = {1: img1, 2: img2}
        states: dict[int, Any] = {}
        feats, areas = [], []
        for x, y, t in points:
            if t not in (1, 2):
                raise InvalidInputError(f"point date must be 1 or 2, got {t}")
            if not (0 <= x < w and 0 <= y < h):
                raise InvalidInputError(f"point ({x}, {y}) lies outside the {w}x{h} image")
            if t not in states:
                states[t] = self.backend.encode(imgs[t])
            q = self.backend.point_mask(states[t], (float(x), float(y)))
            if not bool(q.any()):
                q = torch.zeros(h, w, dtype=torch.bool)
                q[int(y), int(x)] = True
            feats.append(self.backend.features(states[t], False).mask_means(q[None])[0])
            areas.append(float(q.sum()))
        return torch.stack(feats).mean(0), sum(areas) / len(areas)

    @torch.no_grad()
    def point_query(
        self, image1: np.ndarray, image2: np.ndarray,
        points: Sequence[tuple[float, float, int]] | None = None,
        *, query: tuple[Tensor, float] | None = None,
    ) -> ChangeResult:
        """Sec. 3.3: changes of the kind of object under clicked points ``(x, y, date)``.

        ``query`` (from :meth:`query_embedding`, possibly on another image window) replaces
        ``points``, so that tiles of a large raster share one query.
        """
        if query is None:
            if points is None:
                raise InvalidInputError("point_query needs points or a precomputed query")
            query = self.query_embedding(image1, image2, points)
        q_feat, q_area = query
        img1, img2 = self._prepare(image1, image2)
        states = {1: self.backend.encode(img1), 2: self.backend.encode(img2)}
        p1, p2 = self.proposals(states[1]), self.proposals(states[2])
        raw = {t: self.backend.features(states[t], False) for t in (1, 2)}
        cos_obj = angle_to_cosine(self.config.object_sim_thresh)
        lo, hi = self.config.query_area_range

        def keep_objects(p: Proposals, t: int) -> Proposals:
            p = p.filter((p.areas > lo * q_area) & (p.areas < hi * q_area))
            if len(p) == 0:
                return p
            obj = (_cosine_to_vector(raw[t], q_feat) > cos_obj).float()
            frac = (p.masks.float() * obj).flatten(1).sum(1) / p.areas.clamp_min(1)
            return p.filter(frac > 0.5)

        p1, p2 = keep_objects(p1, 1), keep_objects(p2, 2)
        return self._match_and_merge(states[1], states[2], p1, p2)
