"""Losses of the released OpenSatMap config: class-weighted cross-entropy plus Dice per head.

``segnext_instance19_small.py`` trains the category head with ``CrossEntropyLoss``
(``class_weight`` 1 for background, 25-30 for the line classes) plus ``DiceLoss`` (weight 1,
ignore 255), and carries (commented out) the same pair, Dice at 1/3, for its line-type and
line-number heads. :func:`lane_loss` sums these over the heads of :func:`.model.head_sizes`
(attribute heads: weights 1 / ``attr_class_weight`` unless that is None, Dice
``attr_dice_weight``).

Named difference: our Dice is the soft Dice of the softmax probabilities (per class over the
batch, squared denominators, eps 1e-3, mean over all the head's classes: a class absent
from the batch's target scores about 0 unless its probabilities vanish, about 1 when they
do); mmseg 1.x's ``DiceLoss`` defaults to a sigmoid and pools all classes of an image into
one Dice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .model import LaneConfig, head_sizes, split_heads

__all__ = ["dice_loss", "lane_loss", "weighted_ce"]

IGNORE = 255


def dice_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE,
              eps: float = 1e-3) -> torch.Tensor:
    """Soft multi-class Dice loss ``1 - mean_k 2 sum(p t) / (sum p^2 + sum t^2)`` over the
    non-ignored pixels."""
    k = logits.shape[1]
    valid = (target != ignore_index).unsqueeze(1).float()
    t = F.one_hot(torch.where(target == ignore_index, 0, target).clamp(0, k - 1), k)
    t = t.permute(0, 3, 1, 2).float() * valid
    p = logits.softmax(1) * valid
    dims = (0, 2, 3)
    inter = (p * t).sum(dims)
    den = (p * p).sum(dims) + (t * t).sum(dims)
    dice = (2 * inter + eps) / (den + eps)
    return 1.0 - dice.mean()


def weighted_ce(logits: torch.Tensor, target: torch.Tensor,
                weight: tuple[float, ...] | None) -> torch.Tensor:
    """Cross-entropy (ignore 255) with optional per-class weights (weighted mean)."""
    w = None if weight is None else torch.tensor(weight, dtype=logits.dtype,
                                                 device=logits.device)
    if (target != IGNORE).any():
        return F.cross_entropy(logits, target, weight=w, ignore_index=IGNORE)
    return logits.sum() * 0.0


def lane_loss(logits: torch.Tensor, batch: dict[str, torch.Tensor], config: LaneConfig
              ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total loss and its parts (``category`` and one per attribute head) of a batch whose
    ``mask`` and attribute maps carry 255 where ignored."""
    heads = split_heads(logits, config)
    sizes = head_sizes(config)
    parts: dict[str, torch.Tensor] = {}
    cw = config.class_weight
    loss = weighted_ce(heads["category"], batch["mask"], cw)
    if config.dice_weight:
        loss = loss + config.dice_weight * dice_loss(heads["category"], batch["mask"])
    parts["category"] = loss
    total = loss
    for a in config.attributes:
        k = sizes[a]
        acw = config.attr_class_weight
        aw = None if acw is None else (1.0,) + (acw,) * (k - 1)
        la = weighted_ce(heads[a], batch[a], aw)
        if config.attr_dice_weight:
            la = la + config.attr_dice_weight * dice_loss(heads[a], batch[a])
        parts[a] = la
        total = total + config.attr_weight * la
    return total, parts
