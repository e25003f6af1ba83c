"""OAM-TCD Mask R-CNN instance baseline (torchvision, random init, offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.segmentation.oamtcd.data import OAMTCD, write_fixture
from geoneurips.segmentation.oamtcd.instance import (
    MaskRCNNConfig,
    _flip,
    build_mask_rcnn,
    evaluate_instances,
    green_instances,
    instances_to_targets,
    predict_instances,
    train_mask_rcnn,
)


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("oamtcd_inst")
    return write_fixture(root, n_train=6, n_test=3, size=128, folds=1, seed=0)


def test_paper_config_builds_offline(tmp_path: Path) -> None:
    old = torch.hub.get_dir()
    hub = tmp_path / "hub"
    torch.hub.set_dir(str(hub))
    try:
        model = build_mask_rcnn(MaskRCNNConfig())
    finally:
        torch.hub.set_dir(old)
    assert not hub.exists() or not any(hub.rglob("*"))  # nothing downloaded
    heads: Any = model.roi_heads
    assert heads.score_thresh == pytest.approx(0.2)  # paper's score threshold
    assert heads.box_predictor.cls_score.out_features == 3  # background, tree, canopy
    assert heads.mask_predictor.mask_fcn_logits.out_channels == 3
    body: Any = model.backbone.body
    assert isinstance(body.bn1, torch.nn.BatchNorm2d)  # torchvision's random-init choice
    assert all(p.requires_grad for p in model.parameters())
    n = sum(p.numel() for p in model.parameters())
    assert 40e6 < n < 50e6  # torchvision maskrcnn_resnet50_fpn (about 44.4 M)
    frozen: Any = build_mask_rcnn(MaskRCNNConfig.tiny(norm="frozen_bn", trainable_layers=3))
    assert type(frozen.backbone.body.bn1).__name__ == "FrozenBatchNorm2d"
    assert not any(p.requires_grad for p in frozen.backbone.body.layer1.parameters())
    assert all(p.requires_grad for p in frozen.backbone.body.layer2.parameters())
    with pytest.raises(InvalidInputError):
        MaskRCNNConfig(backbone="resnet101")
    with pytest.raises(InvalidInputError):
        MaskRCNNConfig(box_score_thresh=1.5)
    with pytest.raises(InvalidInputError):
        MaskRCNNConfig(anchor_sizes=(8, 16))


def test_instances_to_targets_matches_instance_maps(fixture_root: Path) -> None:
    ds = OAMTCD(fixture_root, "train", instances=True)
    for i in range(len(ds)):
        s = ds[i]
        t = instances_to_targets(s)
        inst, labels = s["instances"], s["instance_labels"]
        visible = [k for k in range(len(labels)) if bool((inst == k + 1).any())]
        assert len(t["boxes"]) == len(t["labels"]) == len(t["masks"]) == len(visible)
        assert t["boxes"].dtype == torch.float32 and t["masks"].dtype == torch.uint8
        assert torch.equal(t["labels"], labels[visible])
        assert set(t["labels"].tolist()) <= {1, 2}
        for j, k in enumerate(visible):
            m = inst == k + 1
            assert torch.equal(t["masks"][j].bool(), m)
            ys, xs = np.nonzero(m.numpy())
            assert t["boxes"][j].tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        union = t["masks"].sum(0) > 0
        assert torch.equal(union, s["mask"] > 0)
    # hand-made sample: instance 2 is fully hidden and dropped
    inst = torch.zeros(6, 8, dtype=torch.int64)
    inst[1:3, 2:5] = 1
    inst[4, 7] = 3
    t = instances_to_targets({"instances": inst,
                              "instance_labels": torch.tensor([1, 2, 2])})
    assert t["boxes"].tolist() == [[2.0, 1.0, 5.0, 3.0], [7.0, 4.0, 8.0, 5.0]]
    assert t["labels"].tolist() == [1, 2]
    empty = instances_to_targets({"instances": torch.zeros(4, 4, dtype=torch.int64),
                                  "instance_labels": torch.zeros(0, dtype=torch.int64)})
    assert empty["boxes"].shape == (0, 4) and empty["masks"].shape == (0, 4, 4)
    with pytest.raises(InvalidInputError, match="instances"):
        instances_to_targets({"image": torch.zeros(3, 4, 4)})


def test_flip_keeps_boxes_consistent() -> None:
    inst = torch.zeros(10, 12, dtype=torch.int64)
    inst[1:4, 2:7] = 1
    t = instances_to_targets({"instances": inst, "instance_labels": torch.tensor([1])})
    img = torch.rand(3, 10, 12)
    for dims in ([-1], [-2], [-1, -2]):
        fimg, ft = _flip(img, t, dims)
        assert torch.equal(fimg, img.flip(dims))
        again = instances_to_targets({"instances": ft["masks"][0].long(),
                                      "instance_labels": torch.tensor([1])})
        assert torch.equal(ft["boxes"], again["boxes"])


def test_tiny_model_train_and_predict_formats() -> None:
    torch.manual_seed(0)
    model = build_mask_rcnn(MaskRCNNConfig.tiny(size=64))
    inst = torch.zeros(64, 64, dtype=torch.int64)
    inst[10:30, 12:28] = 1
    target = instances_to_targets({"instances": inst, "instance_labels": torch.tensor([2])})
    model.train()
    losses = model([torch.rand(3, 64, 64)], [target])
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness",
                           "loss_rpn_box_reg"}
    assert all(torch.isfinite(v) for v in losses.values())
    out = predict_instances(model, torch.rand(3, 64, 64) * 255)
    for mask, label, score in out:
        assert mask.shape == (64, 64) and mask.dtype == bool
        assert label in (1, 2) and score >= 0.2  # the paper's box score threshold
    assert [s for _, _, s in out] == sorted((s for _, _, s in out), reverse=True)
    with pytest.raises(InvalidInputError):
        predict_instances(model, torch.rand(1, 3, 64, 64))
    with pytest.raises(InvalidInputError):
        train_mask_rcnn(model, [], steps=1)


def test_green_instances_and_perfect_ap(fixture_root: Path) -> None:
    img = np.zeros((3, 8, 8))
    img[1, 1:3, 1:3] = 200  # component A: exg 400
    img[1, 5:8, 5:8] = 60   # component B: exg 120
    img[1, 0, 7] = 200      # single pixel, below min_area
    out = green_instances(img)
    assert [int(m.sum()) for m, _, _ in out] == [4, 9]
    assert [lab for _, lab, _ in out] == [1, 1]
    assert out[0][2] == pytest.approx(1.0) and out[1][2] == pytest.approx(120 / 255)
    ds = OAMTCD(fixture_root, "test", instances=True)
    perfect = []
    for i in range(len(ds)):
        t = instances_to_targets(ds[i])
        perfect.append([(t["masks"][j].numpy().astype(bool), int(t["labels"][j]), 1.0)
                        for j in range(len(t["labels"]))])
    assert evaluate_instances(perfect, ds)["map50"] == pytest.approx(1.0)


@pytest.mark.slow
def test_tiny_mask_rcnn_learns(fixture_root: Path) -> None:
    """80 AdamW steps (batch 2, lr 1e-3) on 6 synthetic 128 px tiles, 3 test tiles. Test
    mask mAP50 measured with seeds 0 / 1 / 2 (1 thread): 0.72 / 0.88 / 0.70, vs. 0.077 for
    excess-green components and 0.0 untrained. After 40 steps the runs were still
    diverging (0.31 / 0.47 / 0.32 here, 0.36 and 0.57 on other machines), so the margin
    of 0.3 failed there; at 80 steps the asserted margin 0.4 leaves about 0.2 of room
    (about 25 s of CPU)."""
    train = OAMTCD(fixture_root, "train", instances=True)
    test = OAMTCD(fixture_root, "test", instances=True)
    torch.manual_seed(0)
    model = build_mask_rcnn(MaskRCNNConfig.tiny())

    def score() -> float:
        preds = [predict_instances(model, test[i]["image"]) for i in range(len(test))]
        return evaluate_instances(preds, test)["map50"]

    untrained = score()
    green = evaluate_instances(
        [green_instances(test[i]["image"].numpy()) for i in range(len(test))], test)["map50"]
    losses = train_mask_rcnn(model, train, steps=80, lr=1e-3, seed=0)
    trained = score()
    assert np.mean(losses[-10:]) < 0.5 * losses[0]  # measured 0.11 to 0.20 of the first
    assert trained >= max(untrained, green) + 0.4, (trained, untrained, green)
