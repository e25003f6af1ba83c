"""AnyChange's mask proposals: re-exported from the shared :mod:`geoneurips.proposals` layer."""

from __future__ import annotations

from geoneurips.proposals.masks import Proposals, masks_to_boxes, stability_score

__all__ = ["Proposals", "masks_to_boxes", "stability_score"]
