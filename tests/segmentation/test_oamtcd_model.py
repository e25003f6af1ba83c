"""OAM-TCD model components and metric conventions (cross-checked with torchmetrics)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from geoneurips.errors import InvalidInputError
from geoneurips.segmentation.oamtcd.inference import green_baseline, predict_batch
from geoneurips.segmentation.oamtcd.metrics import semantic_scores
from geoneurips.segmentation.oamtcd.model import FocalLoss, TCDConfig, build_model


def test_model_shapes_and_config_round_trip() -> None:
    cfg = TCDConfig.tiny()
    model = build_model(cfg).eval()
    x = torch.rand(2, 3, 30, 37, generator=torch.Generator().manual_seed(0)) * 255
    prob = predict_batch(model, cfg, x)  # padded internally
    assert prob.shape == (2, 3, 30, 37)
    # by hand: ImageNet normalisation of 0-255 values, reflect padding to a multiple of 4
    mean = torch.tensor([123.675, 116.28, 103.53])[:, None, None]
    std = torch.tensor([58.395, 57.12, 57.375])[:, None, None]
    xp = F.pad((x - mean) / std, (0, 3, 0, 2), mode="reflect")
    with torch.inference_mode():
        want = model(xp).softmax(1)[..., :30, :37]
    torch.testing.assert_close(prob, want, atol=1e-5, rtol=1e-5)
    assert TCDConfig.from_dict(cfg.to_dict()) == cfg
    default = TCDConfig()
    assert (default.arch, default.encoder, default.num_classes, default.lr, default.tile_size,
            default.overlap, default.gamma) == ("unet", "resnet50", 2, 1e-3, 1024, 256, 2.0)
    with pytest.raises(InvalidInputError):
        TCDConfig(num_classes=5)
    with pytest.raises(InvalidInputError, match="encoder"):
        TCDConfig(arch="segformer", encoder="resnet50")
    with pytest.raises(InvalidInputError, match="arch"):
        TCDConfig(arch="maskrcnn")


@pytest.mark.parametrize(("arch", "encoder"), [("unet", "resnet34"), ("segformer", "mit_b0")])
def test_paper_architectures_build_offline(arch: str, encoder: str) -> None:
    cfg = TCDConfig(arch=arch, encoder=encoder, num_classes=2)
    model = build_model(cfg).eval()
    prob = predict_batch(model, cfg, torch.rand(1, 3, 40, 50) * 255)  # padded to 32
    assert prob.shape == (1, 2, 40, 50)
    with pytest.raises(InvalidInputError):
        TCDConfig(tile_size=64, overlap=64)


def test_focal_loss_hand_values() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 4)
    target = torch.randint(0, 3, (2, 4, 4))
    soft = FocalLoss(gamma=0.0, form="softmax")
    assert torch.allclose(soft(logits, target), F.cross_entropy(logits, target), atol=1e-6)
    p = logits.softmax(1).gather(1, target[:, None])[:, 0]
    want = (-(1 - p) ** 2 * p.log()).mean()
    assert torch.allclose(FocalLoss(gamma=2.0, form="softmax")(logits, target), want, atol=1e-6)
    target[0, 0, 0] = 255
    keep = target != 255
    want = (-(1 - p) ** 2 * p.log())[keep].mean()
    assert torch.allclose(FocalLoss(gamma=2.0, form="softmax")(logits, target), want, atol=1e-6)
    # focusing: an easy, confident pixel contributes much less than under CE
    easy = torch.tensor([[[[5.0]], [[0.0]], [[0.0]]]])
    t0 = torch.zeros(1, 1, 1, dtype=torch.long)
    assert FocalLoss(form="softmax")(easy, t0) < 0.01 * F.cross_entropy(easy, t0)
    with pytest.raises(InvalidInputError):
        FocalLoss(gamma=-1)
    with pytest.raises(InvalidInputError):
        FocalLoss(form="dice")


@pytest.mark.parametrize("normalized", [False, True])
def test_focal_loss_matches_smp(normalized: bool) -> None:
    """The default ("ovr") form is smp's multiclass focal loss (the configs' loss: focal)."""
    import segmentation_models_pytorch as smp

    torch.manual_seed(1)
    logits = torch.randn(2, 3, 5, 6) * 3
    target = torch.randint(0, 3, (2, 5, 6))
    target[1, :2] = 255
    ref = smp.losses.FocalLoss("multiclass", ignore_index=255, normalized=normalized)
    ours = FocalLoss(gamma=2.0, ignore_index=255, normalized=normalized)
    assert torch.allclose(ours(logits, target), ref(logits, target), atol=1e-6)
    assert not torch.allclose(FocalLoss(form="softmax")(logits, target),
                              ref(logits, target), atol=1e-3)


def test_semantic_scores_match_torchmetrics() -> None:
    from torchmetrics.classification import (
        MulticlassAccuracy,
        MulticlassF1Score,
        MulticlassJaccardIndex,
        MulticlassPrecision,
        MulticlassRecall,
    )

    rng = np.random.default_rng(3)
    target = rng.integers(0, 3, (4, 16, 16))
    pred = np.where(rng.random(target.shape) < 0.7, target, rng.integers(0, 3, target.shape))
    s = semantic_scores(pred, target)
    p, t = torch.from_numpy(pred), torch.from_numpy(target)
    refs = {"iou": MulticlassJaccardIndex(3, average=None),
            "f1": MulticlassF1Score(3, average=None),
            "precision": MulticlassPrecision(3, average=None),
            "recall": MulticlassRecall(3, average=None),
            "accuracy": MulticlassAccuracy(3, average=None)}
    for key, metric in refs.items():
        want = metric(p, t).numpy()
        got = [s[f"{key}_{c}"] for c in ("background", "tree", "canopy")]
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=key)
    assert s["oa"] == pytest.approx(float((pred == target).mean()))
    assert s["miou"] == pytest.approx(float(np.mean([s["iou_background"], s["iou_tree"],
                                                     s["iou_canopy"]])))
    # global, not per image: one confusion matrix over both images (hand values)
    t2 = np.array([[[1, 0, 0, 0]], [[1, 1, 1, 1]]])
    p2 = np.array([[[1, 0, 0, 0]], [[1, 1, 0, 0]]])
    assert semantic_scores(p2, t2)["iou_tree"] == pytest.approx(3 / 5)  # per-image mean: 0.75


def test_green_baseline() -> None:
    img = np.zeros((3, 2, 2), dtype=np.float32)
    img[:, 0, 0] = (50, 150, 50)  # green
    img[:, 1, 1] = (150, 120, 100)  # soil
    assert green_baseline(img).tolist() == [[1, 0], [0, 0]]


def test_mask_ap50_hand_values() -> None:
    from geoneurips.segmentation.oamtcd.metrics import instances_to_masks, mask_ap50

    inst = np.zeros((10, 10), dtype=np.int64)
    inst[0:4, 0:4] = 1
    inst[6:10, 6:10] = 2
    gm, gl = instances_to_masks(inst, np.array([1, 1]))
    assert gm.shape == (2, 10, 10) and gm.sum() == 32
    fp = np.zeros((10, 10), bool)
    fp[0:4, 6:10] = True
    half = np.zeros((10, 10), bool)
    half[6:10, 6:10] = True
    half[6:10, 2:6] = True  # IoU 0.5 with the second crown: a match at threshold 0.5
    dets = (np.stack([gm[0], fp, half]), np.array([0.9, 0.8, 0.7]), np.array([1, 1, 1]))
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> envelope 1 (51 points), 2/3 (50 points)
    want = (51 + 50 * 2 / 3) / 101
    res = mask_ap50([dets], [(gm, gl)])
    assert res["ap50_tree"] == pytest.approx(want) and res["map50"] == pytest.approx(want)
    # perfect ranking (false positive last) gives AP 1; a stricter threshold loses a match
    dets2 = (dets[0], np.array([0.9, 0.1, 0.7]), dets[2])
    assert mask_ap50([dets2], [(gm, gl)])["ap50_tree"] == pytest.approx(1.0)
    assert mask_ap50([dets2], [(gm, gl)], iou_threshold=0.75)["ap50_tree"] == pytest.approx(
        51 / 101)
    # no detections: AP 0; canopy absent from the reference is left out of the mean
    empty = (np.zeros((0, 10, 10), bool), np.zeros(0), np.zeros(0))
    assert mask_ap50([empty], [(gm, gl)]) == {"ap50_tree": 0.0, "map50": 0.0}
    with pytest.raises(InvalidInputError):
        mask_ap50([dets, dets], [(gm, gl)])
