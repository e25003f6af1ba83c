"""SeCo's Semantic Connectivity Correction, SCC (Sec. 3.3, public code ``SCC/``).

* every 8-connected component of every class of the PSA labels becomes a sample
  (:func:`~.connectivity.extract_components`);
* a *connectivity classifier* (:class:`~.connectivity.ConnectivityClassifier`) is trained
  on crops around the components with their pseudo-labels as targets (label-smoothed
  cross-entropy, eps 0.1; SGD lr 0.01, momentum 0.9, Nesterov, weight decay 1e-3,
  ``lr (1 + 10 t / T)^-0.75``, 20 epochs, batch 64);
* the trained classifier then scores the same components; the per-component loss against
  the pseudo-label, the softmax score and the predicted class are recorded;
* thresholds (:func:`connectivity_thresholds`): the global loss threshold (the value at
  index ``int(0.5 n)`` of the sorted losses, an upper median), per-class ("local")
  thresholds by predicted class, and the mean of the per-component local thresholds
  ("global-of-local"); the default mode ``both_loss`` drops a component when its loss
  exceeds both its local and the global-of-local threshold. Kept components take the
  classifier's predicted class; dropped ones become ignore (255).

The thresholds use the public code's index rule ``sorted[min(int(n r), n - 1)]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import InvalidInputError
from ._checks import _check_image, _check_label
from .connectivity import Component, ConnectivityClassifier, extract_components, make_crops
from .data import IGNORE_INDEX

__all__ = [
    "FILTER_MODES",
    "ConnectivityRecord",
    "FilterMode",
    "SCCConfig",
    "SemanticConnectivityCorrection",
    "apply_correction",
    "connectivity_thresholds",
    "keep_mask",
    "quantile_threshold",
]

FilterMode = Literal[
    "none", "loss", "score", "both", "local_loss", "local_score", "local_both",
    "both_loss", "both_score", "both_both",
]
FILTER_MODES: tuple[str, ...] = (
    "none", "loss", "score", "both", "local_loss", "local_score", "local_both",
    "both_loss", "both_score", "both_both",
)


@dataclass(frozen=True)
class SCCConfig:
    """SCC hyper-parameters (public code defaults; :meth:`tiny` for CPU tests).

    Attributes:
        arch: classifier backbone (``resnet101`` in the paper).
        crop_size: ``(h, w)`` of the classifier crops (256 x 512 for Cityscapes).
        epochs, batch_size, lr, momentum, weight_decay, backbone_lr_mult: SGD schedule
            ``lr (1 + 10 t / T)^-0.75`` (Nesterov).
        label_smoothing: of the training cross-entropy (0.1).
        ratio: rank of the thresholds (0.5: the median).
        filter_mode: which thresholds drop a component (``both_loss``).
        relabel: kept components take the classifier's predicted class (public code).
        min_area: components smaller than this are not classified and become ignore (1:
            every component is classified, as published).
        hflip: random horizontal flips in training.
        checkpoint: local torchvision weights for the backbone.
        seed: seed of the classifier training.
    """

    arch: str = "resnet101"
    crop_size: tuple[int, int] = (256, 512)
    epochs: int = 20
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-3
    backbone_lr_mult: float = 0.1
    label_smoothing: float = 0.1
    ratio: float = 0.5
    filter_mode: FilterMode = "both_loss"
    relabel: bool = True
    min_area: int = 1
    hflip: bool = True
    checkpoint: str | None = None
    seed: int = 0
    width: int = 16

    def __post_init__(self) -> None:
        if self.filter_mode not in FILTER_MODES:
            raise InvalidInputError(f"filter_mode must be one of {FILTER_MODES}")
        if not 0.0 <= self.ratio <= 1.0:
            raise InvalidInputError(f"ratio must be in [0, 1], got {self.ratio}")
        if self.epochs < 0 or self.batch_size < 1:
            raise InvalidInputError("epochs must be >= 0 and batch_size >= 1")

    @classmethod
    def tiny(cls, **overrides: Any) -> SCCConfig:
        """Tiny CNN, 32 x 32 crops, full learning rate on the random backbone."""
        base: dict[str, Any] = dict(arch="tiny", crop_size=(32, 32), epochs=12,
                                    batch_size=32, lr=0.05, backbone_lr_mult=1.0)
        base.update(overrides)
        return cls(**base)


def quantile_threshold(values: Sequence[float] | np.ndarray, ratio: float) -> float:
    """``sorted(values)[min(int(n * ratio), n - 1)]`` (public ``determine_threshold``)."""
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if v.size == 0:
        raise InvalidInputError("cannot take a threshold of no values")
    return float(v[min(int(v.size * ratio), v.size - 1)])


@dataclass
class ConnectivityRecord:
    """Per-component SCC outputs (the public code's JSON records).

    ``loss``: cross-entropy of the classifier against the pseudo-label; ``score``: max
    softmax; ``pred``: predicted class; ``pseudo``: the component's label; ``keep``:
    survives the filter; ``components``: the :class:`Component` of each row.
    """

    loss: np.ndarray
    score: np.ndarray
    pred: np.ndarray
    pseudo: np.ndarray
    thresholds: dict[str, Any] = field(default_factory=dict)
    keep: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    components: list[Component] = field(default_factory=list)


def connectivity_thresholds(loss: np.ndarray, score: np.ndarray, pred: np.ndarray,
                            ratio: float = 0.5) -> dict[str, Any]:
    """Global, per-class ("local", by predicted class) and global-of-local thresholds.

    Returns ``loss``/``score`` (floats), ``local_loss``/``local_score`` (per component),
    ``global_loss``/``global_score`` (the mean of the per-component local thresholds).
    """
    loss, score, pred = (np.asarray(a) for a in (loss, score, pred))
    local_loss = np.zeros(loss.shape, dtype=np.float64)
    local_score = np.zeros(score.shape, dtype=np.float64)
    for c in np.unique(pred):
        sel = pred == c
        local_loss[sel] = quantile_threshold(loss[sel], ratio)
        local_score[sel] = quantile_threshold(score[sel], 1.0 - ratio)
    return {
        "loss": quantile_threshold(loss, ratio),
        "score": quantile_threshold(score, 1.0 - ratio),
        "local_loss": local_loss,
        "local_score": local_score,
        "global_loss": float(local_loss.mean()),
        "global_score": float(local_score.mean()),
    }


def keep_mask(loss: np.ndarray, score: np.ndarray, thr: dict[str, Any],
              mode: str = "both_loss") -> np.ndarray:
    """Which components survive the filter ``mode`` (public ``vis_json`` rules)."""
    loss, score = np.asarray(loss), np.asarray(score)
    hi_g = loss > thr["loss"]
    lo_g = score < thr["score"]
    hi_l = loss > thr["local_loss"]
    lo_l = score < thr["local_score"]
    hi_b = hi_l & (loss > thr["global_loss"])
    lo_b = lo_l & (score < thr["global_score"])
    drop: dict[str, np.ndarray] = {
        "none": np.zeros(loss.shape, dtype=bool), "loss": hi_g, "score": lo_g,
        "both": hi_g | lo_g, "local_loss": hi_l, "local_score": lo_l,
        "local_both": hi_l | lo_l, "both_loss": hi_b, "both_score": lo_b,
        "both_both": hi_b | lo_b,
    }
    if mode not in drop:
        raise InvalidInputError(f"filter mode must be one of {FILTER_MODES}, got {mode!r}")
    return ~drop[mode]


def apply_correction(shape: tuple[int, int], comps: Sequence[Component], keep: np.ndarray,
                     labels: np.ndarray) -> np.ndarray:
    """Paint kept components with ``labels`` on an all-ignore ``(H, W)`` map."""
    out = np.full(shape, IGNORE_INDEX, dtype=np.int64)
    for comp, k, lab in zip(comps, keep, labels, strict=True):
        if k:
            r0, c0, r1, c1 = comp.bbox
            out[r0:r1, c0:c1][comp.mask] = int(lab)
    return out


class SemanticConnectivityCorrection:
    """SCC (Sec. 3.3): classify components, record losses, drop/relabel by thresholds.

    Args:
        num_classes: number of classes.
        config: :class:`SCCConfig`.
        classifier: an already trained :class:`ConnectivityClassifier` (skips training).
    """

    def __init__(self, num_classes: int, config: SCCConfig | None = None,
                 classifier: ConnectivityClassifier | None = None) -> None:
        self.num_classes = int(num_classes)
        self.config = config or SCCConfig()
        self.classifier = classifier
        self.history: list[float] = []

    def build_classifier(self) -> ConnectivityClassifier:
        cfg = self.config
        return ConnectivityClassifier(self.num_classes, cfg.arch, cfg.checkpoint, cfg.width)

    def fit(self, x: Tensor, m: Tensor, y: Tensor, progress: bool = False
            ) -> ConnectivityClassifier:
        """Train the classifier on crops/masks with pseudo-label targets ``y``."""
        cfg = self.config
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(cfg.seed)
        try:
            net = self.build_classifier()
            back = {id(p) for p in net.backbone_parameters()}
            head = [p for p in net.parameters() if id(p) not in back]
            opt = torch.optim.SGD(
                [{"params": net.backbone_parameters(), "lr": cfg.lr * cfg.backbone_lr_mult},
                 {"params": head, "lr": cfg.lr}],
                lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay,
            )
            base = [g["lr"] for g in opt.param_groups]
            n = x.shape[0]
            steps = max(1, cfg.epochs * math.ceil(n / cfg.batch_size))
            crit = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
            t = 0
            net.train()
            from tqdm.auto import tqdm

            for _ in tqdm(range(cfg.epochs), desc="SCC classifier", disable=not progress):
                perm = torch.randperm(n)
                total = 0.0
                for s in range(0, n, cfg.batch_size):
                    idx = perm[s : s + cfg.batch_size]
                    if idx.numel() < 2:  # BatchNorm needs two samples
                        continue
                    xb, mb = x[idx], m[idx]
                    if cfg.hflip:
                        flip = torch.rand(idx.numel()) < 0.5
                        xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
                        mb = torch.where(flip[:, None, None, None], mb.flip(-1), mb)
                    for g, b in zip(opt.param_groups, base, strict=True):
                        g["lr"] = b * (1 + 10 * t / steps) ** -0.75
                    loss = crit(net(xb, mb), y[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * idx.numel()
                    t += 1
                self.history.append(total / max(n, 1))
        finally:
            torch.random.set_rng_state(gen_state)
        self.classifier = net.eval()
        return self.classifier

    @torch.no_grad()
    def score(self, x: Tensor, m: Tensor, y: Tensor, batch: int = 256
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-component loss (CE vs ``y``), max softmax score and predicted class."""
        if self.classifier is None:
            raise InvalidInputError("SCC classifier is not trained (call fit first)")
        net = self.classifier.eval()
        losses, scores, preds = [], [], []
        for s in range(0, x.shape[0], batch):
            logits = net(x[s : s + batch], m[s : s + batch])
            losses.append(F.cross_entropy(logits, y[s : s + batch], reduction="none"))
            sc, pr = logits.softmax(1).max(1)
            scores.append(sc)
            preds.append(pr)
        if not losses:
            z = np.zeros(0)
            return z, z, z.astype(np.int64)
        return (torch.cat(losses).numpy(), torch.cat(scores).numpy(),
                torch.cat(preds).numpy().astype(np.int64))

    def __call__(self, images: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                 progress: bool = False) -> tuple[list[np.ndarray], ConnectivityRecord]:
        """Correct a set of label maps (thresholds computed over all their components)."""
        return self.run(images, labels, progress=progress)

    def run(self, images: Sequence[np.ndarray], labels: Sequence[np.ndarray],
            progress: bool = False, train: bool = True
            ) -> tuple[list[np.ndarray], ConnectivityRecord]:
        cfg = self.config
        if len(images) != len(labels):
            raise InvalidInputError(f"{len(images)} images but {len(labels)} label maps")
        imgs = [_check_image(im) for im in images]
        labs = [_check_label(lb, im.shape[:2], self.num_classes, "label map")
                for im, lb in zip(imgs, labels, strict=True)]
        comps: list[Component] = []
        small: list[Component] = []
        for i, lb in enumerate(labs):
            for c in extract_components(lb, i):
                (comps if c.area >= cfg.min_area else small).append(c)
        if not comps:
            empty = np.zeros(0)
            return ([np.full(lb.shape, IGNORE_INDEX, np.int64) for lb in labs],
                    ConnectivityRecord(empty, empty, empty.astype(np.int64),
                                       empty.astype(np.int64)))
        x, m = make_crops(imgs, comps, cfg.crop_size)
        y = torch.tensor([c.label for c in comps], dtype=torch.int64)
        if train or self.classifier is None:
            self.fit(x, m, y, progress=progress)
        loss, score, pred = self.score(x, m, y)
        thr = connectivity_thresholds(loss, score, pred, cfg.ratio)
        keep = keep_mask(loss, score, thr, cfg.filter_mode)
        new = pred if cfg.relabel else y.numpy()
        outs = []
        for i, lb in enumerate(labs):
            sel = [k for k, c in enumerate(comps) if c.image_index == i]
            outs.append(apply_correction(lb.shape, [comps[k] for k in sel], keep[sel], new[sel]))
        return outs, ConnectivityRecord(loss, score, pred, y.numpy(), thr, keep, comps)
