"""OAM-TCD instance baseline: Mask R-CNN (torchvision, random init, offline).

The paper's instance model is detectron2's Mask R-CNN R50-FPN-3x (``lr 1e-3``, 100k
iterations, 1024 px tiles, **score threshold 0.2**), evaluated with COCO mask mAP50
(:func:`geoneurips.segmentation.oamtcd.metrics.mask_ap50`). detectron2 is not a dependency
here; :func:`build_mask_rcnn` builds torchvision's ``maskrcnn_resnet50_fpn`` with the same
head layout (RPN + RoIAlign box/mask heads over a ResNet-50 FPN), three classes
(0 background, 1 tree, 2 canopy: the semantic labels of :mod:`.data`) and the paper's score
threshold. Nothing is downloaded: ``weights=None`` and ``weights_backbone=None``; pretrained
weights can only be loaded by the caller from a local file.

:meth:`MaskRCNNConfig.tiny` is a small ResNet-18 FPN (64 channels, small anchors, trainable
BatchNorm because the backbone starts from random weights) for tests and CPU demos.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ...errors import InvalidInputError
from ...seed import seed_everything

__all__ = [
    "MaskRCNNConfig",
    "build_mask_rcnn",
    "evaluate_instances",
    "green_instances",
    "instances_to_targets",
    "predict_instances",
    "train_mask_rcnn",
]


@dataclass(frozen=True)
class MaskRCNNConfig:
    """Mask R-CNN settings (defaults: the paper's R50-FPN, section "Baselines").

    Attributes:
        backbone: ``"resnet50"`` (paper, torchvision ``maskrcnn_resnet50_fpn``) or
            ``"resnet18"`` (small FPN for CPU tests).
        num_classes: including background: 3 (background, tree, canopy).
        box_score_thresh: detections below this score are dropped (paper: 0.2).
        min_size, max_size: torchvision resize limits (paper tiles are 1024 px).
        fpn_channels: FPN width (torchvision R50: 256).
        anchor_sizes: one anchor size per FPN level (``None``: torchvision's 32..512).
        norm: ``"bn"`` (trainable BatchNorm: what torchvision builds without weights, the
            default here since nothing is pretrained) or ``"frozen_bn"`` (detectron2's
            setting for an ImageNet-pretrained backbone).
        trainable_layers: trainable ResNet stages (0-5); 5 for random init (torchvision's
            rule), 3 is detectron2's R50-FPN-3x setting for a pretrained backbone.
        detections_per_img: COCO keeps at most 100.
    """

    backbone: str = "resnet50"
    num_classes: int = 3
    box_score_thresh: float = 0.2
    min_size: int = 1024
    max_size: int = 1024
    fpn_channels: int = 256
    anchor_sizes: tuple[int, ...] | None = None
    norm: str = "bn"
    trainable_layers: int = 5
    detections_per_img: int = 100

    def __post_init__(self) -> None:
        if self.backbone not in ("resnet50", "resnet18"):
            raise InvalidInputError(
                f"backbone must be 'resnet50' or 'resnet18', got {self.backbone!r}")
        if self.num_classes < 2:
            raise InvalidInputError(f"num_classes must be >= 2, got {self.num_classes}")
        if not 0.0 <= self.box_score_thresh <= 1.0:
            raise InvalidInputError(f"box_score_thresh must be in [0, 1], got "
                                    f"{self.box_score_thresh}")
        if self.norm not in ("frozen_bn", "bn"):
            raise InvalidInputError(f"norm must be 'frozen_bn' or 'bn', got {self.norm!r}")
        if not 0 <= self.trainable_layers <= 5:
            raise InvalidInputError(f"trainable_layers must be in 0..5, got "
                                    f"{self.trainable_layers}")
        if self.anchor_sizes is not None and len(self.anchor_sizes) != 5:
            raise InvalidInputError("anchor_sizes needs one size per FPN level (5)")

    @classmethod
    def tiny(cls, size: int = 128, **kw: Any) -> MaskRCNNConfig:
        """ResNet-18 FPN with 64 channels and anchors 8..128 px for ``size`` px tiles."""
        base: dict[str, Any] = {"backbone": "resnet18", "min_size": size, "max_size": size,
                                "fpn_channels": 64, "anchor_sizes": (8, 16, 32, 64, 128),
                                "norm": "bn", "trainable_layers": 5}
        base.update(kw)
        return cls(**base)


def build_mask_rcnn(config: MaskRCNNConfig | None = None) -> nn.Module:
    """Mask R-CNN with random weights (no download); see :class:`MaskRCNNConfig`.

    The default config is torchvision's ``maskrcnn_resnet50_fpn(weights=None,
    weights_backbone=None)`` with 3 classes and the paper's 0.2 score threshold; other
    configs (ResNet-18, narrower FPN, frozen BatchNorm) assemble the same heads around a
    ``BackboneWithFPN``.
    """
    from torchvision.models.detection import MaskRCNN, maskrcnn_resnet50_fpn
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import misc as misc_nn_ops
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    cfg = config or MaskRCNNConfig()
    kw: dict[str, Any] = {"box_score_thresh": cfg.box_score_thresh, "min_size": cfg.min_size,
                          "max_size": cfg.max_size,
                          "box_detections_per_img": cfg.detections_per_img}
    if cfg.anchor_sizes is not None:
        kw["rpn_anchor_generator"] = AnchorGenerator(
            tuple((s,) for s in cfg.anchor_sizes), ((0.5, 1.0, 2.0),) * 5)
    norm_layer = misc_nn_ops.FrozenBatchNorm2d if cfg.norm == "frozen_bn" else nn.BatchNorm2d
    if cfg.backbone == "resnet50" and cfg.fpn_channels == 256 and cfg.norm == "bn":
        # Without weights torchvision uses trainable BatchNorm and makes every stage
        # trainable (it warns on any other trainable_backbone_layers); the config's
        # choice is applied afterwards.
        built: Any = maskrcnn_resnet50_fpn(
            weights=None, weights_backbone=None, num_classes=cfg.num_classes,
            trainable_backbone_layers=None, **kw)
        _freeze(built.backbone.body, cfg.trainable_layers)
        model: nn.Module = built
        return model
    from torchvision.models import resnet18, resnet50

    net = (resnet18 if cfg.backbone == "resnet18" else resnet50)(
        weights=None, norm_layer=norm_layer)
    _freeze(net, cfg.trainable_layers)
    widths = [64, 128, 256, 512] if cfg.backbone == "resnet18" else [256, 512, 1024, 2048]
    c = cfg.fpn_channels
    backbone = BackboneWithFPN(net, {f"layer{i + 1}": str(i) for i in range(4)}, widths, c,
                               extra_blocks=LastLevelMaxPool())
    rep = 4 * c
    small: nn.Module = MaskRCNN(
        backbone, num_classes=None,
        box_head=TwoMLPHead(c * 7 * 7, rep),
        box_predictor=FastRCNNPredictor(rep, cfg.num_classes),
        mask_head=MaskRCNNHeads(c, (c, c), 1),
        mask_predictor=MaskRCNNPredictor(c, c, cfg.num_classes),
        rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300,
        rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=150,
        box_batch_size_per_image=128, **kw)
    return small


def _freeze(body: nn.Module, trainable_layers: int) -> None:
    """Freeze all but the last ``trainable_layers`` ResNet stages (torchvision's rule)."""
    stages = ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable_layers]
    if trainable_layers == 5:
        stages.append("bn1")
    for name, p in body.named_parameters():
        if all(not name.startswith(s) for s in stages):
            p.requires_grad_(False)


def instances_to_targets(sample: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OAM-TCD sample (``instances=True``) -> torchvision target dict.

    Returns ``boxes`` float32 ``(N, 4)`` xyxy in pixels (``x2``/``y2`` exclusive: one past
    the last pixel), ``labels`` int64 ``(N,)`` (1 tree, 2 canopy), ``masks`` uint8
    ``(N, H, W)``. Instances whose pixels are all hidden by later ones are dropped.

    Raises:
        InvalidInputError: the sample has no ``instances`` / ``instance_labels``.
    """
    if "instances" not in sample or "instance_labels" not in sample:
        raise InvalidInputError("sample needs 'instances' and 'instance_labels' "
                                "(build OAMTCD with instances=True)")
    inst = sample["instances"]
    labels = sample["instance_labels"].long()
    masks, boxes, keep = [], [], []
    for i in range(len(labels)):
        m = inst == i + 1
        if not bool(m.any()):
            continue
        ys, xs = torch.nonzero(m, as_tuple=True)
        boxes.append(torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float())
        masks.append(m.to(torch.uint8))
        keep.append(i)
    h, w = inst.shape[-2:]
    return {
        "boxes": torch.stack(boxes) if boxes else torch.zeros((0, 4)),
        "labels": labels[keep] if keep else torch.zeros(0, dtype=torch.int64),
        "masks": torch.stack(masks) if masks else torch.zeros((0, h, w), dtype=torch.uint8),
    }


def _flip(image: torch.Tensor, target: dict[str, torch.Tensor], dims: Sequence[int]
          ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    h, w = image.shape[-2:]
    out = dict(target)
    image = image.flip(list(dims))
    out["masks"] = target["masks"].flip(list(dims))
    b = target["boxes"].clone()
    if -1 in dims:
        b[:, [0, 2]] = w - target["boxes"][:, [2, 0]]
    if -2 in dims:
        b[:, [1, 3]] = h - target["boxes"][:, [3, 1]]
    out["boxes"] = b
    return image, out


def train_mask_rcnn(
    model: nn.Module, dataset: Any, steps: int, lr: float = 1e-3, seed: int = 0,
    batch_size: int = 2, augment: bool = True,
) -> list[float]:
    """Train ``model`` on an :class:`OAMTCD` dataset built with ``instances=True``.

    AdamW (``lr``, weight decay 1e-4), ``batch_size`` random tiles per step with random
    horizontal/vertical flips, images scaled to 0-1 (torchvision then applies its ImageNet
    normalisation). Samples are read once and cached. Returns the total loss per step.
    """
    if steps < 1 or len(dataset) == 0:
        raise InvalidInputError("train_mask_rcnn needs steps >= 1 and a non-empty dataset")
    rng = seed_everything(seed)
    cache = []
    for i in range(len(dataset)):
        s = dataset[i]
        cache.append((s["image"].float() / 255.0, instances_to_targets(s)))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    model.train()
    losses: list[float] = []
    for _ in range(steps):
        imgs, tgts = [], []
        for j in rng.integers(0, len(cache), batch_size):
            img, tgt = cache[int(j)]
            if augment:
                dims = [d for d, f in ((-1, rng.random() < 0.5), (-2, rng.random() < 0.5)) if f]
                if dims:
                    img, tgt = _flip(img, tgt, dims)
            imgs.append(img)
            tgts.append(tgt)
        loss_dict = model(imgs, tgts)
        loss = sum(loss_dict.values(), torch.zeros(()))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


@torch.no_grad()
def predict_instances(
    model: nn.Module, image: torch.Tensor, mask_threshold: float = 0.5,
) -> list[tuple[np.ndarray, int, float]]:
    """Instances of one ``(3, H, W)`` 0-255 image: ``[(bool mask (H, W), label, score)]``,
    highest score first (the model's score threshold already applied)."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise InvalidInputError(f"image must be (3, H, W), got {tuple(image.shape)}")
    model.eval()
    out = model([image.float() / 255.0])[0]
    masks = (out["masks"][:, 0] > mask_threshold).numpy()
    return [(masks[i], int(out["labels"][i]), float(out["scores"][i]))
            for i in range(len(out["scores"]))]


def green_instances(image: np.ndarray, threshold: float = 20.0, min_area: int = 4
                    ) -> list[tuple[np.ndarray, int, float]]:
    """Trivial instance baseline: connected components of the excess-green threshold
    (``2G - R - B > threshold``), each a ``tree`` with score = its mean excess green / 255."""
    from scipy import ndimage

    img = np.asarray(image, dtype=np.float64)
    exg = 2 * img[1] - img[0] - img[2]
    comp, n = ndimage.label(exg > threshold)
    out = []
    for k in range(1, n + 1):
        m = comp == k
        if int(m.sum()) >= min_area:
            out.append((m, 1, float(np.clip(exg[m].mean() / 255.0, 0, 1))))
    out.sort(key=lambda r: -r[2])
    return out


def evaluate_instances(
    predictions: Sequence[Sequence[tuple[np.ndarray, int, float]]], dataset: Any,
) -> dict[str, float]:
    """Mask AP50 (:func:`.metrics.mask_ap50`) of per-image instance lists against an
    :class:`OAMTCD` dataset built with ``instances=True``."""
    from .metrics import instances_to_masks, mask_ap50

    preds, gts = [], []
    for i, inst in enumerate(predictions):
        s = dataset[i]
        h, w = s["instances"].shape
        gts.append(instances_to_masks(s["instances"].numpy(), s["instance_labels"].numpy()))
        preds.append((np.stack([m for m, _, _ in inst]) if inst else np.zeros((0, h, w), bool),
                      np.array([sc for _, _, sc in inst], float),
                      np.array([lab for _, lab, _ in inst], np.int64)))
    return mask_ap50(preds, gts)
