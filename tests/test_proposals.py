"""Shared mask proposals: SAM grid generator vs segment_anything, SAM-free segments, re-exports."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.proposals.sam import SamEmbedding, SamMaskGenerator, build_tiny_sam
from geoneurips.proposals.superpixels import FelzenszwalbSegments, SlicSegments, as_uint8_rgb


def test_grid_generator_matches_segment_anything_amg() -> None:
    """Independent check: ``SamAutomaticMaskGenerator`` (one crop layer) gives the same masks.

    The image already has the model's input size (256), so both resize nothing; NMS is
    switched off (1.0) because SAM boxes are inclusive and ours half-open.
    """
    from segment_anything import SamAutomaticMaskGenerator

    sam = build_tiny_sam(seed=1)
    img = np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    ours = SamMaskGenerator(sam, points_per_side=3, pred_iou_thresh=-1e9,
                            stability_score_thresh=0.0, box_nms_thresh=1.0)(img)
    amg = SamAutomaticMaskGenerator(sam, points_per_side=3, pred_iou_thresh=0.0,
                                    stability_score_thresh=0.0, box_nms_thresh=1.0)
    ref = [np.asarray(a["segmentation"], bool) for a in amg.generate(img)]
    ref = [m for m in ref if m.any()]
    assert len(ours) == len(ref) > 0
    key = sorted(m.tobytes() for m in ours)
    assert key == sorted(m.tobytes() for m in ref)


def test_valid_grid_of_padded_inputs() -> None:
    emb = torch.zeros(1, 8, 64, 64)
    assert SamEmbedding(emb, (1024, 1024), (500, 500)).valid_grid() == (64, 64)
    assert SamEmbedding(emb, (512, 1024), (256, 512)).valid_grid() == (32, 64)
    assert SamEmbedding(emb, (1024, 600), (1024, 600)).valid_grid() == (64, 38)  # 37.5 cells
    assert SamEmbedding(emb, (1024, 600), (1024, 600)).valid_features().shape == (8, 64, 38)


def test_sam_free_segments_partition_the_image() -> None:
    img = np.zeros((40, 60, 3), np.uint8)
    img[:, 30:] = 200
    for gen in (SlicSegments((8,)), FelzenszwalbSegments(min_size=10)):
        masks = gen(img)
        assert masks.dtype == bool and masks.shape[1:] == (40, 60)
        assert (masks.sum(0) == 1).all()  # one run: a partition
        assert not any(m[:, :30].any() and m[:, 30:].any() for m in masks)  # edge respected
    with pytest.raises(InvalidInputError, match="RGB"):
        as_uint8_rgb(np.zeros((4, 4)))
    bad = np.zeros((4, 4, 3), np.float32)
    bad[0, 0, 0] = np.inf
    with pytest.raises(InvalidInputError, match="NaN"):
        as_uint8_rgb(bad)


def test_systems_re_export_the_shared_names() -> None:
    import geoneurips.proposals as shared
    from geoneurips.change.anychange import model as ac
    from geoneurips.change.anychange.proposals import Proposals
    from geoneurips.segmentation.seco import backends as sb

    assert ac.build_sam is shared.build_sam and ac.build_tiny_sam is shared.build_tiny_sam
    assert ac.SlicProposer is shared.SlicProposer and ac.Proposals is Proposals
    assert Proposals is shared.Proposals and ac.sam_type_from_state is shared.sam_type_from_state
    assert sb.SamSegments is shared.SamMaskGenerator and sb.SamPrompter is shared.SamPrompter
    assert sb.FelzenszwalbSegments is shared.FelzenszwalbSegments
    with pytest.raises(AttributeError):
        _ = shared.NoSuchName  # type: ignore[attr-defined]
