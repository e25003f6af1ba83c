"""AnyChange's SAM back end (Sec. 3.2): embeddings, grid proposals, point prompts.

SAM itself (building from a local checkpoint, the tiny random SAM, encoding, the grid mask
generator) lives in the shared layer :mod:`geoneurips.proposals.sam`; the names this module
exposed before are re-exported from there.

* **Per-date mask proposals** (Sec. 3.2, "object proposals"): SAM prompted with a regular
  point grid, filtered on predicted IoU and stability score, then box NMS
  (:meth:`SamBackend.propose`, :class:`~geoneurips.proposals.sam.SamMaskGenerator`).
* **De-normalised embeddings** (Sec. 3.2; public code ``use_normalized_feature``): the affine
  of the last LayerNorm of SAM's neck is undone, ``z' = (z - b) / w``
  (:meth:`SamBackend.features`). Only the embedding cells that cover the image are used: SAM
  resizes the long side to 1024 and pads the short side, so for a non-square image (edge
  tiles of a raster) the full ``64 x 64`` grid upsampled to the image would stretch the
  padding over it and misalign features and masks.
* **Point prompts** (Sec. 3.3): among SAM's three masks for a click, the one with the highest
  predicted IoU (SAM's own ambiguity rule; the public code takes the first one surviving the
  proposal filters, which may be none) (:meth:`SamBackend.point_mask`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from geoneurips.proposals.masks import Proposals
from geoneurips.proposals.sam import SamEmbedding, SamMaskGenerator, neck_norm_affine
from geoneurips.proposals.sam import SamType as SamType
from geoneurips.proposals.sam import build_sam as build_sam
from geoneurips.proposals.sam import build_tiny_sam as build_tiny_sam
from geoneurips.proposals.sam import sam_type_from_state as sam_type_from_state

from .config import AnyChangeConfig
from .features import DenseFeatures

__all__ = [
    "SamBackend",
    "SamState",
    "SamType",
    "build_sam",
    "build_tiny_sam",
    "sam_type_from_state",
]

#: One encoded date (the shared :class:`~geoneurips.proposals.sam.SamEmbedding`).
SamState = SamEmbedding


class SamBackend:
    """AnyChange's SAM back end (Sec. 3.2): embeddings, grid proposals, point prompts.

    Args:
        sam: a ``segment_anything`` :class:`Sam` (from :func:`build_sam` or
            :func:`build_tiny_sam`).
        device: torch device (CPU by default).
    """

    def __init__(self, sam: torch.nn.Module, device: str | torch.device = "cpu") -> None:
        self.generator = SamMaskGenerator(sam, device=device)
        self.sam = self.generator.sam
        self.device = self.generator.device
        ln_weight, ln_bias = neck_norm_affine(self.sam)
        w = ln_weight.detach().float().cpu()
        # avoid dividing by an exact zero scale (a degenerate checkpoint)
        self._ln_w = torch.where(w.abs() < 1e-12, torch.full_like(w, 1e-12), w)
        self._ln_b = ln_bias.detach().float().cpu()

    @property
    def img_size(self) -> int:
        """Model input side (1024 for the official SAMs)."""
        return self.generator.img_size

    def encode(self, image: np.ndarray) -> SamEmbedding:
        """Resize the longest side to the model input, normalise, pad, and embed."""
        return self.generator.encode(image)

    def propose(self, state: SamEmbedding, config: AnyChangeConfig) -> Proposals:
        """Grid-prompted proposals with the paper's IoU/stability filters and box NMS."""
        return self.generator.generate(
            state, points_per_side=config.points_per_side,
            points_per_batch=config.points_per_batch, pred_iou_thresh=config.pred_iou_thresh,
            stability_score_thresh=config.stability_score_thresh,
            stability_score_offset=config.stability_score_offset,
            box_nms_thresh=config.box_nms_thresh,
        )

    def features(self, state: SamEmbedding, normalized: bool) -> DenseFeatures:
        """Image embedding over the image's cells (optionally with the neck affine undone)."""
        z = state.valid_features()
        if normalized:
            z = (z - self._ln_b[:, None, None]) / self._ln_w[:, None, None]
        return DenseFeatures(z, state.original_size)

    def point_mask(self, state: SamEmbedding, xy: tuple[float, float]) -> Tensor:
        """SAM's mask (highest predicted IoU of the three) for one positive click."""
        logits, iou = self.generator.decode_points(state, np.asarray([xy], dtype=np.float64))
        best = int(iou[0].argmax())
        thr = float(getattr(self.sam, "mask_threshold", 0.0))
        return logits[0, best] > thr
