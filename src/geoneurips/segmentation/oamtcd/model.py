"""OAM-TCD semantic baseline: a U-Net trained with focal loss.

The paper's semantic baselines (reference configs of ``Restor-Foundation/tcd``) are
segmentation_models_pytorch U-Nets with ResNet-34/50/101 encoders (focal loss, lr 1e-3,
batch 12, 1024 px tiles, 256 px overlap at inference) and SegFormer mit-b0..b5 (lr 1e-4).
The configs train ``num_classes: 2`` (background vs. tree cover = tree or canopy) with
``loss: focal``, which the released module builds as
``smp.losses.FocalLoss("multiclass", normalized=True)`` and optimises with AdamW
(:attr:`TCDConfig.focal_normalized`, :attr:`TCDConfig.optimizer`).

:func:`build_model` builds, always randomly initialised (ImageNet / Hugging Face weights
are not available offline; load your own through a checkpoint):

* ``arch="unet"``: ``smp.Unet`` with a ``resnet34`` / ``resnet50`` (default) / ``resnet101``
  encoder, the paper's U-Net baselines;
* ``arch="segformer"``: ``smp.Segformer`` with a ``mit_b0`` ... ``mit_b5`` encoder;
* ``arch="small_unet"``: :class:`geoneurips.nn.unet.SmallUNet`, the tiny CPU config of the
  tests and the demo (``TCDConfig.tiny()``).

The instance baseline (detectron2 Mask R-CNN R50-FPN in the paper) is torchvision's Mask
R-CNN in :mod:`.instance`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import InvalidInputError
from ...nn.unet import SmallUNet

__all__ = ["FocalLoss", "TCDConfig", "build_model"]


@dataclass
class TCDConfig:
    """Semantic model config (paper defaults where they exist).

    Attributes:
        arch: ``"unet"`` (smp U-Net), ``"segformer"`` (smp SegFormer) or ``"small_unet"``.
        encoder: smp encoder (``resnet34|50|101`` for the U-Net, ``mit_b0``..``mit_b5``
            for SegFormer); ignored by ``small_unet``.
        num_classes: 2 (background, tree cover: the paper's configs and released models)
            or 3 (background, tree, canopy).
        loss: ``"focal"`` (the paper's configs) or ``"ce"`` (plain cross-entropy: the
            plain-network baseline of the demo).
        focal_form: ``"ovr"`` (smp's multiclass focal loss: one-vs-rest sigmoid focal term
            per class, averaged over classes) or ``"softmax"`` (Lin et al.).
        in_channels: 3 (RGB).
        width, depth: SmallUNet size (``arch="small_unet"`` only).
        gamma: focal-loss focusing parameter (2, the usual default).
        focal_normalized: divide each class's focal term by the sum of its focal weights
            (the released code's ``smp.losses.FocalLoss("multiclass", normalized=True)``).
        optimizer: ``"adamw"`` (the released code: ``torch.optim.AdamW``, default weight
            decay 0.01) or ``"adam"``.
        lr: learning rate (1e-3 for the U-Nets in the paper's configs).
        schedule: ``"constant"`` or ``"cosine"`` (cosine annealing to 0 over the run, per
            update; the released code lowers the lr with ``ReduceLROnPlateau`` on a
            validation loss, which the short CPU runs here have no split for).
        tile_size, overlap: inference tiling (paper: 1024 / 256).
        mean, std: input normalisation on 0-255 values (ImageNet statistics).
    """

    arch: str = "unet"
    encoder: str = "resnet50"
    num_classes: int = 2
    in_channels: int = 3
    width: int = 16
    depth: int = 3
    loss: str = "focal"
    focal_form: str = "ovr"
    gamma: float = 2.0
    focal_normalized: bool = True
    optimizer: str = "adamw"
    lr: float = 1e-3
    schedule: str = "constant"
    tile_size: int = 1024
    overlap: int = 256
    mean: tuple[float, float, float] = field(default=(123.675, 116.28, 103.53))
    std: tuple[float, float, float] = field(default=(58.395, 57.12, 57.375))

    def __post_init__(self) -> None:
        encoders = {"unet": ("resnet18", "resnet34", "resnet50", "resnet101"),
                    "segformer": tuple(f"mit_b{i}" for i in range(6)),
                    "small_unet": (self.encoder,)}
        if self.arch not in encoders:
            raise InvalidInputError(f"arch must be one of {sorted(encoders)}, got {self.arch!r}")
        if self.encoder not in encoders[self.arch]:
            raise InvalidInputError(
                f"encoder {self.encoder!r} is not one of {encoders[self.arch]} for {self.arch}")
        if self.loss not in ("focal", "ce"):
            raise InvalidInputError(f"loss must be 'focal' or 'ce', got {self.loss!r}")
        if self.focal_form not in ("ovr", "softmax"):
            raise InvalidInputError(f"focal_form must be 'ovr' or 'softmax', got "
                                    f"{self.focal_form!r}")
        if self.optimizer not in ("adam", "adamw"):
            raise InvalidInputError(f"optimizer must be 'adam' or 'adamw', got "
                                    f"{self.optimizer!r}")
        if self.schedule not in ("constant", "cosine"):
            raise InvalidInputError(f"schedule must be 'constant' or 'cosine', got "
                                    f"{self.schedule!r}")
        if self.num_classes not in (2, 3):
            raise InvalidInputError(f"num_classes must be 2 or 3, got {self.num_classes}")
        if self.in_channels != 3 or self.width < 1 or self.depth < 1:
            raise InvalidInputError("in_channels must be 3, width and depth >= 1")
        if not 0 <= self.overlap < self.tile_size:
            raise InvalidInputError("need 0 <= overlap < tile_size")
        self.mean = tuple(float(v) for v in self.mean)  # type: ignore[assignment]
        self.std = tuple(float(v) for v in self.std)  # type: ignore[assignment]

    @classmethod
    def tiny(cls, **kw: Any) -> TCDConfig:
        """Small config for tests and the demo."""
        base: dict[str, Any] = {"arch": "small_unet", "encoder": "-", "num_classes": 3,
                                "width": 8, "depth": 2, "tile_size": 64, "overlap": 16,
                                "lr": 1e-2}
        base.update(kw)
        return cls(**base)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (padding is added at inference)."""
        return 2**self.depth if self.arch == "small_unet" else 32

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TCDConfig:
        d = dict(d)
        d["mean"], d["std"] = tuple(d["mean"]), tuple(d["std"])
        return cls(**d)


def build_model(config: TCDConfig) -> nn.Module:
    """The network of a config, randomly initialised (never downloads weights)."""
    if config.arch == "small_unet":
        return SmallUNet(config.in_channels, config.num_classes, width=config.width,
                         depth=config.depth)
    import segmentation_models_pytorch as smp

    cls = smp.Unet if config.arch == "unet" else smp.Segformer
    model: nn.Module = cls(encoder_name=config.encoder, encoder_weights=None,
                           in_channels=config.in_channels, classes=config.num_classes)
    return model


class FocalLoss(nn.Module):
    """Multi-class focal loss (Lin et al. 2017) for ``(B, K, H, W)`` logits.

    * ``form="ovr"`` (the paper's ``loss: focal``, i.e. smp's
      ``FocalLoss(mode="multiclass")``): for each class ``c`` the sigmoid focal term
      ``(1 - p_t)^gamma * BCE(logit_c, [y == c])`` averaged over valid pixels, then averaged
      over classes; ``normalized=True`` divides each class term by the sum of its focal
      weights first (torchgeo's setting).
    * ``form="softmax"``: ``mean(-(1 - p_t)^gamma log p_t)`` with ``p_t`` the softmax
      probability of the true class (``gamma = 0`` gives cross-entropy).

    Pixels whose target equals ``ignore_index`` are left out.
    """

    def __init__(self, gamma: float = 2.0, ignore_index: int = 255, form: str = "ovr",
                 normalized: bool = False) -> None:
        super().__init__()
        if gamma < 0:
            raise InvalidInputError(f"gamma must be >= 0, got {gamma}")
        if form not in ("ovr", "softmax"):
            raise InvalidInputError(f"form must be 'ovr' or 'softmax', got {form!r}")
        self.gamma = gamma
        self.ignore_index = ignore_index
        self.form = form
        self.normalized = normalized

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.form == "ovr":
            return self._ovr(logits, target)
        logp = F.log_softmax(logits, dim=1)
        valid = target != self.ignore_index
        t = torch.where(valid, target, torch.zeros_like(target))
        logpt = logp.gather(1, t[:, None])[:, 0]
        loss = -((1 - logpt.exp()) ** self.gamma) * logpt
        n = valid.sum().clamp(min=1)
        return (loss * valid).sum() / n

    def _ovr(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        valid = target != self.ignore_index
        terms = []
        for c in range(logits.shape[1]):
            x = logits[:, c][valid]
            y = (target[valid] == c).to(x.dtype)
            bce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
            focal = (1.0 - torch.exp(-bce)) ** self.gamma
            loss = focal * bce
            if self.normalized:
                loss = loss / focal.sum().clamp_min(1e-6)
            terms.append(loss.mean() if loss.numel() else loss.sum())
        return torch.stack(terms).mean()
