"""Shared mask proposals (AnyChange, SeCo): SAM and SAM-free segment generators.

* :mod:`.masks`: :class:`Proposals` (masks with scores, boxes, box NMS),
  :func:`masks_to_boxes`, :func:`stability_score`;
* :mod:`.sam`: :func:`build_sam` (local checkpoint, ``weights_only``), :func:`build_tiny_sam`
  (random, tests), :func:`sam_encode` / :class:`SamEmbedding` (padding-aware features),
  :class:`SamMaskGenerator` (automatic mask generation), :class:`SamPrompter` (box + points);
* :mod:`.superpixels`: the SAM-free :class:`SlicProposer`, :class:`SlicSegments`,
  :class:`FelzenszwalbSegments` and the :class:`SegmentGenerator` interface;
* :mod:`.regions`: :class:`RegionMergeProposer`, SLIC superpixels merged into colour
  regions (object-like SAM-free proposals).

The names are importable from here; the submodules are loaded on first use, so importing
this package does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Proposals": "masks", "masks_to_boxes": "masks", "stability_score": "masks",
    "SamEmbedding": "sam", "SamMaskGenerator": "sam", "SamPrompter": "sam", "SamType": "sam",
    "build_sam": "sam", "build_tiny_sam": "sam", "neck_norm_affine": "sam",
    "sam_decode_points": "sam", "sam_encode": "sam", "sam_type_from_state": "sam",
    "FelzenszwalbSegments": "superpixels", "SegmentGenerator": "superpixels",
    "SlicProposer": "superpixels", "SlicSegments": "superpixels",
    "as_uint8_rgb": "superpixels",
    "RegionMergeProposer": "regions",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
