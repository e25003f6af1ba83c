"""AnyChange method components: interpolation, boxes, matching, merge, point query, SAM."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from geoneurips.change.anychange.data import make_change_pair
from geoneurips.change.anychange.model import (
    AnyChange,
    AnyChangeConfig,
    DenseFeatures,
    PluggableBackend,
    Proposals,
    SamBackend,
    angle_to_cosine,
    build_sam,
    build_tiny_sam,
    masks_to_boxes,
    sam_type_from_state,
)
from geoneurips.errors import CheckpointError, InvalidInputError


def test_mask_means_equal_upsampled_map() -> None:
    g = torch.Generator().manual_seed(0)
    f = torch.randn(6, 8, 5, generator=g)
    up = F.interpolate(f[None], (33, 21), mode="bilinear", align_corners=True)[0]
    masks = torch.rand(4, 33, 21, generator=g) > 0.6
    ref = torch.stack([up[:, m].mean(1) for m in masks])
    d = DenseFeatures(f, (33, 21))
    assert torch.allclose(d.mask_means(masks), ref, atol=1e-5)
    rows = torch.cat([b for _, b in d.rows(chunk=7)], dim=1)
    assert torch.allclose(rows, up, atol=1e-5)


def test_masks_to_boxes_matches_torchvision() -> None:
    from torchvision.ops import masks_to_boxes as tv

    m = torch.zeros(3, 20, 30, dtype=torch.bool)
    m[0, 2:5, 7:9] = True
    m[1, 10, 3] = True
    m[2, 0:20, 29] = True
    assert torch.equal(masks_to_boxes(m), tv(m).float())


class _FixedBackend:
    """Known masks and features, to check the matching by hand."""

    def __init__(self, f1: torch.Tensor, f2: torch.Tensor, masks: torch.Tensor) -> None:
        self.f = {1: f1, 2: f2}
        self.masks = masks

    def encode(self, image: np.ndarray) -> int:
        return 1 if image[0, 0, 0] == 0 else 2

    def propose(self, state: Any, config: AnyChangeConfig) -> Proposals:
        return Proposals.from_masks(self.masks, torch.linspace(1, 0.5, len(self.masks)))

    def features(self, state: Any, normalized: bool) -> DenseFeatures:
        return DenseFeatures(self.f[state], (8, 8))

    def point_mask(self, state: Any, xy: tuple[float, float]) -> torch.Tensor:
        return self.masks[0]


def _hand_case() -> tuple[AnyChange, np.ndarray, np.ndarray]:
    masks = torch.zeros(3, 8, 8, dtype=torch.bool)
    masks[0, :4, :4] = True  # angle 90 deg between dates -> change
    masks[1, 4:, 4:] = True  # angle 10 deg -> no change
    masks[2, :4, 4:] = True  # angle 40 deg -> change at theta=155 (needs > 25 deg)
    f1 = torch.zeros(2, 8, 8)
    f2 = torch.zeros(2, 8, 8)
    f1[0] = 1.0
    for (r, c), ang in (((0, 0), 90), ((4, 4), 10), ((0, 4), 40)):
        a = math.radians(ang)
        f2[0, r : r + 4, c : c + 4] = math.cos(a)
        f2[1, r : r + 4, c : c + 4] = math.sin(a)
    f2[0, 4:, :4] = 1.0
    im1 = np.zeros((8, 8, 3), np.uint8)
    im2 = np.full((8, 8, 3), 9, np.uint8)
    return AnyChange(_FixedBackend(f1, f2, masks)), im1, im2


def test_latent_matching_by_hand() -> None:
    model, im1, im2 = _hand_case()
    res = model(im1, im2)
    # both directions propose the same masks; NMS (0.7) removes the duplicates
    conf = sorted(res.changes.confidence.tolist(), reverse=True)
    assert conf == pytest.approx([-math.cos(math.radians(90)), -math.cos(math.radians(40))],
                                 abs=1e-6)
    # angle threshold: 155 keeps > 25 deg; 130 keeps > 50 deg only
    res2 = model.with_config(change_confidence_threshold=130)(im1, im2)
    assert len(res2.changes) == 1
    assert res2.changes.masks[0].sum() == 16 and bool(res2.changes.masks[0][0, 0])
    prob = res.probability_map()
    assert prob[0, 0] == pytest.approx(0.5) and prob[0, 5] == pytest.approx(
        (1 - math.cos(math.radians(40))) / 2)
    assert prob[6, 6] == 0.0
    assert res.change_mask().sum() == 32


def test_bitemporal_vs_single_direction_and_topk() -> None:
    model, im1, im2 = _hand_case()
    both = model.with_config(box_nms_thresh=1.0)(im1, im2)
    single = model.with_config(box_nms_thresh=1.0, bitemporal_match=False)(im1, im2)
    assert len(both.changes) == 4 and len(single.changes) == 2
    assert set(both.changes.date.tolist()) == {1, 2} and set(single.changes.date.tolist()) == {2}
    top = model.with_config(box_nms_thresh=1.0, top_k=1)(im1, im2)
    assert len(top.changes) == 1 and top.changes.confidence[0] == pytest.approx(0.0, abs=1e-6)


def test_otsu_threshold_is_used() -> None:
    model, im1, im2 = _hand_case()
    res = model.with_config(auto_threshold=True)(im1, im2)
    assert res.threshold != 155.0 and 0.0 <= res.threshold <= 180.0


def test_area_filter_drops_huge_masks() -> None:
    masks = torch.ones(1, 8, 8, dtype=torch.bool)
    f = torch.randn(2, 8, 8)
    model = AnyChange(_FixedBackend(f, -f, masks))
    im1, im2 = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 9, np.uint8)
    assert len(model(im1, im2).proposals1) == 0
    assert len(model.with_config(area_thresh=1.0)(im1, im2).changes) == 0  # area < 1.0 * HW


def test_tiny_sam_backend_runs_and_denormalises() -> None:
    sam = build_tiny_sam()
    be = SamBackend(sam)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (96, 80, 3), dtype=np.uint8)
    st = be.encode(img)
    assert st.embedding.shape == (1, 32, 16, 16) and st.original_size == (96, 80)
    ln = sam.image_encoder.neck[3]
    raw = be.features(st, False).f
    den = be.features(st, True).f
    assert torch.allclose(den * ln.weight[:, None, None] + ln.bias[:, None, None], raw,
                          atol=1e-5)
    props = be.propose(st, AnyChangeConfig.tiny())
    assert props.masks.shape[1:] == (96, 80) and len(props) >= 1
    assert be.point_mask(st, (10.0, 20.0)).shape == (96, 80)
    model = AnyChange(be, AnyChangeConfig.tiny())
    res = model(img, img)
    assert len(res.changes) == 0  # identical dates: cos = 1 everywhere, nothing changes


def test_point_query_recovers_the_clicked_kind() -> None:
    a, b, ch, inst = make_change_pair(128, n_changes=4, n_static=0, seed=2)
    model = AnyChange(PluggableBackend())
    target = inst[0]
    rr, cc = np.argwhere(target).mean(0)
    date = 2 if np.abs(b[target].astype(float).mean(0) - a[target].mean(0)).sum() > 0 else 1
    res = model.point_query(a, b, [(float(cc), float(rr), date)])
    full = model(a, b)
    assert len(res.changes) <= len(full.changes)
    hit = res.change_mask()
    assert hit[int(rr), int(cc)]
    with pytest.raises(InvalidInputError, match="outside"):
        model.point_query(a, b, [(500.0, 1.0, 1)])
    with pytest.raises(InvalidInputError, match="date"):
        model.point_query(a, b, [(5.0, 1.0, 3)])


def test_bad_images_and_config() -> None:
    model = AnyChange(PluggableBackend())
    with pytest.raises(InvalidInputError, match="differ in shape"):
        model(np.zeros((16, 16, 3), np.uint8), np.zeros((16, 20, 3), np.uint8))
    with pytest.raises(InvalidInputError, match="RGB"):
        model(np.zeros((16, 16, 4), np.uint8), np.zeros((16, 16, 4), np.uint8))
    bad = np.zeros((16, 16, 3), np.float32)
    bad[0, 0, 0] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        model(bad, bad)
    with pytest.raises(InvalidInputError):
        AnyChangeConfig(change_confidence_threshold=200)
    assert angle_to_cosine(155) == pytest.approx(math.cos(math.radians(155)))


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        build_sam("vit_b", tmp_path / "missing.pth")
    p = tmp_path / "bad.pth"
    torch.save({"image_encoder.patch_embed.proj.weight": torch.zeros(768, 3, 16, 16)}, p)
    with pytest.raises(CheckpointError, match="does not match"):
        build_sam("vit_b", p)
    assert sam_type_from_state({"image_encoder.patch_embed.proj.weight": torch.zeros(1280)}) \
        == "vit_h"
    with pytest.raises(CheckpointError):
        build_sam("vit_x", p)  # type: ignore[arg-type]
