"""debLoRA's components (Tian, Chen, Sun, NeurIPS 2024, arXiv 2410.04546, Sec. 4).

1. **LoRA adaptation** (Sec. 4.1): a foundation backbone (here any timm model, weights from a
   local checkpoint; a tiny random ViT for tests) is adapted with LoRA (``peft``) on the
   long-tailed data; its pooled output is the feature ``z``.
2. **Clustering** (Sec. 4.2): K-means with K = 32 on the *standardised* features of all
   classes, labels ignored; the cluster centres stand for attributes that head and tail
   classes share (repository: ``StandardScaler`` then ``MiniBatchKMeans(32, seed 42)``; we
   use exact ``KMeans``, same seed).
3. **De-biased centre** of a tail class ``c`` (Sec. 4.2, Fig. 2c): the weighted mean of the
   cluster centres, ``c_bar = sum_k w_ck mu_k``, the weights being the class's spread over
   the clusters, ``w_ck = n_ck / n_c``. The paper's exact weights are not published (its
   text: a weighted average of cluster centres that head classes must not dominate); this is
   our reading. ``centre_mode="balanced"`` also de-biases each centre itself (the mean of the
   per-class means of the cluster's members, so a head class with many members counts once);
   ``target_cluster=j`` reproduces the released script (``feat_cluster_calib_v0.3.py``),
   which calibrates every sample of the target class toward the one cluster ``j``.
4. **Calibration** (Sec. 4.3, Eq. 3): in standardised space ``z' = (1 - alpha) z +
   alpha c_bar``, then the inverse transform; published ``alpha = 0.5`` and an optional
   distance threshold below which a feature is left alone. The paper uses a larger alpha for
   more imbalanced classes; :func:`imbalance_alpha` is our explicit form of that rule
   (``alpha_c = alpha + (alpha_max - alpha) * log(n_max/n_c) / log(n_max/n_min)``).
5. **debLoRA module** (Sec. 4.3): the adaptation LoRA is merged into the backbone, a new LoRA
   is added and trained so that the features of tail images regress onto their calibrated
   targets (mean squared error); non-tail images keep their own features as targets, so the
   module does not move head classes.

Downstream: the paper's linear probe (Sec. 5): ``Linear(d, n_classes)`` trained with
cross-entropy (SGD, momentum 0.9, lr 1e-3, 10 epochs, batch 512, best validation epoch;
repository ``scripts/dota_linprob_v0.2.py``: plain cross-entropy, no re-weighting). The
released scripts stop before the debLoRA module: they train the probe on the original
features of every class plus the calibrated copies of the target class
(``exp/calibrate_n_linprob.sh``, ``ori_calibrated_train.csv``); the demo reports that as the
``calibration_only`` ablation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from geoneurips.errors import InvalidInputError

__all__ = [
    "DebLoRAConfig",
    "DebLoRAModel",
    "DebiasedCalibrator",
    "ProbeConfig",
    "adapt_lora",
    "balanced_centres",
    "build_backbone",
    "extract_features",
    "imbalance_alpha",
    "train_debias_lora",
    "train_linear_probe",
]

ProbeLoss = Literal["ce", "reweighted", "logit_adjusted"]


@dataclass
class DebLoRAConfig:
    """Settings (paper defaults; :meth:`tiny` for tests and the demo).

    Attributes:
        backbone: timm model name (the paper: SD-1.5 UNet or OpenCLIP ViT; any timm model).
        backbone_kwargs: extra ``timm.create_model`` arguments (image size, depth, ...).
        lora_rank, lora_alpha, lora_dropout: LoRA settings (``peft``).
        target_modules: module names the LoRA wraps (ViT attention ``qkv``); a single entry
            starting with ``re:`` is a regular expression over full module names.
        n_clusters: K of the K-means (paper: 32).
        alpha: calibration strength (paper: 0.5).
        alpha_mode: ``"fixed"`` (every tail class uses ``alpha``) or ``"imbalance"``
            (:func:`imbalance_alpha`).
        alpha_max: the largest alpha of the imbalance-dependent rule.
        threshold: skip calibrating features already closer than this to the centre
            (standardised units; ``None``: calibrate all, the repository default).
        centre_mode: ``"weighted"`` (the K-means centres weighted by the class's share of
            each cluster) or ``"balanced"`` (the same weights over class-balanced cluster
            centres).
        target_cluster: calibrate toward this one cluster instead (the released script's
            ``--target_cluster``; ``None``: the weighted centre).
        kmeans_seed: K-means seed (repository: 42).
        adapt_epochs, adapt_lr: LoRA adaptation schedule (cross-entropy on a linear head).
        debias_epochs, debias_lr: debLoRA module schedule (feature regression).
        batch_size: training batch size.
    """

    backbone: str = "vit_base_patch16_224"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: tuple[str, ...] = ("qkv",)
    n_clusters: int = 32
    alpha: float = 0.5
    alpha_mode: Literal["fixed", "imbalance"] = "fixed"
    alpha_max: float = 0.9
    threshold: float | None = None
    centre_mode: Literal["weighted", "balanced"] = "weighted"
    target_cluster: int | None = None
    kmeans_seed: int = 42
    adapt_epochs: int = 10
    adapt_lr: float = 1e-4
    debias_epochs: int = 10
    debias_lr: float = 1e-4
    batch_size: int = 64

    @classmethod
    def tiny(cls) -> DebLoRAConfig:
        """A narrow timm ResNet-10-T (16-128 channels) on 32 px chips (tests, demo); LoRA on
        the residual blocks' 3x3 convolutions."""
        return cls(
            backbone="resnet10t",
            # zero_init_last=False: a random test backbone's residual branches must carry
            # gradient to the LoRA (timm zero-initialises each block's last BN otherwise)
            backbone_kwargs={"channels": [16, 32, 64, 128], "zero_init_last": False},
            target_modules=(r"re:.*layer\d\.\d\.conv[12]",),
            lora_rank=4,
            lora_alpha=8,
            adapt_epochs=8,
            adapt_lr=3e-3,
            debias_epochs=15,
            debias_lr=3e-3,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["target_modules"] = list(self.target_modules)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DebLoRAConfig:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["target_modules"] = tuple(d.get("target_modules", ("qkv",)))
        return cls(**d)


def build_backbone(cfg: DebLoRAConfig, checkpoint: str | Path | None = None) -> nn.Module:
    """A timm feature extractor (``num_classes=0``: pooled features), weights from a local
    checkpoint when given (classifier weights ignored), never downloaded.

    Raises:
        CheckpointError: the checkpoint is unreadable or unsafe.
        InvalidInputError: the checkpoint does not fit the architecture.
    """
    import timm

    from geoneurips.io import load_checkpoint

    model: nn.Module = timm.create_model(
        cfg.backbone, pretrained=False, num_classes=0, **cfg.backbone_kwargs
    )
    if checkpoint is not None:
        state = load_checkpoint(checkpoint)
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
        state = {k: v for k, v in state.items() if not k.startswith(("head.", "fc.", "classifier."))}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or len(missing) == len(list(model.state_dict())):
            raise InvalidInputError(
                f"checkpoint {str(checkpoint)!r} does not fit timm {cfg.backbone!r}: "
                f"{len(unexpected)} unexpected, {len(missing)} missing keys"
            )
    return model


def _lora(model: nn.Module, cfg: DebLoRAConfig) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    tm = cfg.target_modules
    targets: str | list[str] = (
        tm[0][3:] if len(tm) == 1 and tm[0].startswith("re:") else list(tm)
    )
    lcfg = LoraConfig(
        r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
        target_modules=targets,
    )
    out: nn.Module = get_peft_model(model, lcfg)
    return out


@torch.no_grad()
def extract_features(model: nn.Module, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Pooled features ``(N, d)`` (eval mode, float64 numpy)."""
    model.eval()
    out = [model(images[i:i + batch_size]).double() for i in range(0, len(images), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, 0))


def _batches(n: int, bs: int, gen: torch.Generator) -> list[torch.Tensor]:
    perm = torch.randperm(n, generator=gen)
    return [perm[i:i + bs] for i in range(0, n, bs)]


def adapt_lora(
    backbone: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    n_classes: int,
    cfg: DebLoRAConfig,
    class_weights: torch.Tensor | None = None,
    seed: int = 0,
) -> nn.Module:
    """Step 1: LoRA-adapt ``backbone`` on the long-tailed training set (cross-entropy through
    a linear head; ``class_weights`` gives the re-weighted-loss baseline). The backbone runs
    in eval mode throughout, so its normalisation statistics stay those of the foundation
    model and only the LoRA weights (and the head) change. Returns the backbone with the
    LoRA merged in (a plain ``nn.Module``)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    peft_model = _lora(backbone, cfg)
    peft_model.eval()
    with torch.no_grad():
        dim = int(peft_model(images[:2]).shape[1])
    head = nn.Linear(dim, n_classes)
    params = [p for p in peft_model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.adapt_lr, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss(weight=class_weights)
    for _ in range(cfg.adapt_epochs):
        peft_model.eval()  # frozen normalisation statistics: only LoRA and head learn
        for idx in _batches(len(images), cfg.batch_size, gen):
            opt.zero_grad()
            loss = loss_fn(head(peft_model(images[idx])), labels[idx])
            loss.backward()
            opt.step()
    merged: nn.Module = peft_model.merge_and_unload()  # type: ignore[operator]
    return merged.eval()


def imbalance_alpha(
    counts: Sequence[int] | np.ndarray,
    classes: Sequence[int],
    alpha: float = 0.5,
    alpha_max: float = 0.9,
) -> dict[int, float]:
    """Alpha per calibrated class, larger for rarer classes (Sec. 4.3: "a larger alpha for
    more imbalanced classes"; the exact rule is ours):
    ``alpha_c = alpha + (alpha_max - alpha) * log(n_max / n_c) / log(n_max / n_min)``
    with ``n_min`` the rarest of ``classes``; ``alpha`` when all counts are equal."""
    n = np.asarray(counts, dtype=np.float64)
    if not classes:
        return {}
    n_max = float(n.max())
    n_min = float(min(n[c] for c in classes))
    span = math.log(n_max / max(n_min, 1.0))
    out: dict[int, float] = {}
    for c in classes:
        r = math.log(n_max / max(float(n[c]), 1.0)) / span if span > 0 else 0.0
        out[int(c)] = float(alpha + (alpha_max - alpha) * min(max(r, 0.0), 1.0))
    return out


def balanced_centres(
    xs: np.ndarray, labels: np.ndarray, assignments: np.ndarray, k: int,
    fallback: np.ndarray,
) -> np.ndarray:
    """Class-balanced cluster centres ``(k, d)``: for each cluster, the mean over the classes
    present in it of that class's mean member, so every class counts once however many
    members it has (an empty cluster keeps its ``fallback`` centre)."""
    out = np.array(fallback, dtype=np.float64, copy=True)
    for j in range(k):
        m = assignments == j
        cls = np.unique(labels[m])
        if len(cls):
            out[j] = np.mean([xs[m & (labels == c)].mean(0) for c in cls], axis=0)
    return out


class DebiasedCalibrator:
    """Steps 2-4: standardise, K-means (K = 32) over all classes, de-biased tail centres,
    calibration ``z' = (1 - alpha) z + alpha c_bar`` (Eq. 3).

    Attributes (after :meth:`fit`):
        mean_, scale_: the standardisation.
        centers_: ``(K, d)`` cluster centres (standardised space).
        assignments_: cluster of every training feature.
        weights_: tail class -> ``(K,)`` weights ``n_ck / n_c``.
        debiased_: tail class -> de-biased centre (standardised space).
        alphas_: tail class -> alpha.
    """

    def __init__(self, cfg: DebLoRAConfig) -> None:
        self.cfg = cfg
        self.fitted = False

    def fit(
        self, features: np.ndarray, labels: np.ndarray, tail_classes: Sequence[int]
    ) -> DebiasedCalibrator:
        """Fit on the training features of **all** classes (labels only weight the centres).

        Raises:
            InvalidInputError: fewer samples than clusters, or a tail class without samples.
        """
        from sklearn.cluster import KMeans

        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(labels)
        k = self.cfg.n_clusters
        if x.ndim != 2 or len(x) != len(y):
            raise InvalidInputError("features must be (N, d) with one label per row")
        if len(x) < k:
            raise InvalidInputError(f"K-means with K={k} needs at least {k} samples, got {len(x)}")
        self.mean_ = x.mean(0)
        sd = x.std(0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        xs = (x - self.mean_) / self.scale_
        km = KMeans(n_clusters=k, n_init=3, random_state=self.cfg.kmeans_seed).fit(xs)
        self.centers_ = km.cluster_centers_
        self.assignments_ = km.labels_
        counts = np.bincount(y, minlength=int(y.max()) + 1)
        centres = self.centers_
        if self.cfg.centre_mode == "balanced":
            centres = balanced_centres(xs, y, self.assignments_, k, self.centers_)
        elif self.cfg.centre_mode != "weighted":
            raise InvalidInputError(f"unknown centre_mode {self.cfg.centre_mode!r}")
        tc = self.cfg.target_cluster
        if tc is not None and not 0 <= tc < k:
            raise InvalidInputError(f"target_cluster {tc} is not one of the {k} clusters")
        self.weights_: dict[int, np.ndarray] = {}
        self.debiased_: dict[int, np.ndarray] = {}
        for c in tail_classes:
            m = y == c
            if not m.any():
                raise InvalidInputError(f"tail class {c} has no training features")
            w = np.bincount(self.assignments_[m], minlength=k).astype(np.float64)
            w /= w.sum()
            if tc is not None:
                w = np.eye(k)[tc]
            self.weights_[int(c)] = w
            self.debiased_[int(c)] = w @ centres
        if self.cfg.alpha_mode == "imbalance":
            self.alphas_ = imbalance_alpha(counts, list(tail_classes), self.cfg.alpha,
                                           self.cfg.alpha_max)
        else:
            self.alphas_ = {int(c): float(self.cfg.alpha) for c in tail_classes}
        self.fitted = True
        return self

    def standardise(self, features: np.ndarray) -> np.ndarray:
        """``(z - mean) / std``."""
        out: np.ndarray = (np.asarray(features, dtype=np.float64) - self.mean_) / self.scale_
        return out

    def calibrate(self, features: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Calibrated features (original space): tail rows moved toward their de-biased
        centre, the other rows unchanged."""
        if not self.fitted:
            raise InvalidInputError("fit the calibrator before calibrating")
        x = np.asarray(features, dtype=np.float64)
        xs = self.standardise(x)
        y = np.asarray(labels)
        out = x.copy()
        for c, centre in self.debiased_.items():
            m = y == c
            if not m.any():
                continue
            a = self.alphas_[c]
            moved = (1.0 - a) * xs[m] + a * centre
            if self.cfg.threshold is not None:
                near = np.linalg.norm(xs[m] - centre, axis=1) < self.cfg.threshold
                moved[near] = xs[m][near]
            out[m] = moved * self.scale_ + self.mean_
        return out


def train_debias_lora(
    backbone: nn.Module,
    images: torch.Tensor,
    targets: np.ndarray,
    cfg: DebLoRAConfig,
    sample_weight: np.ndarray | None = None,
    seed: int = 0,
) -> nn.Module:
    """Step 5: a new LoRA on the (merged) adapted backbone, trained so that its features
    regress onto ``targets`` (calibrated for tail images, the original features otherwise);
    ``sample_weight`` weights each image's squared error (e.g. to balance tail and non-tail
    images). Returns the backbone with the debLoRA module merged in."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = _lora(backbone, cfg)
    tgt = torch.as_tensor(targets, dtype=torch.float32)
    sw = torch.ones(len(images)) if sample_weight is None else torch.as_tensor(
        sample_weight, dtype=torch.float32)
    scale = tgt.std(0).clamp_min(1e-6)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.debias_lr, weight_decay=0.0)
    for _ in range(cfg.debias_epochs):
        model.eval()  # frozen normalisation statistics: only the LoRA learns
        for idx in _batches(len(images), cfg.batch_size, gen):
            opt.zero_grad()
            err = ((model(images[idx]) - tgt[idx]) / scale).pow(2).mean(1)
            loss = (err * sw[idx]).sum() / sw[idx].sum()
            loss.backward()
            opt.step()
    merged: nn.Module = model.merge_and_unload()  # type: ignore[operator]
    return merged.eval()


@dataclass
class ProbeConfig:
    """Linear probe (Sec. 5; paper: SGD momentum 0.9, lr 1e-3, 10 epochs, batch 512).

    Attributes:
        epochs, lr, batch_size, momentum: the schedule.
        optimizer: ``"sgd"`` (paper) or ``"adam"``.
        tau: logit-adjustment temperature (Menon et al. 2021) for ``loss="logit_adjusted"``.
    """

    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 512
    momentum: float = 0.9
    optimizer: Literal["sgd", "adam"] = "sgd"
    tau: float = 1.0


def train_linear_probe(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    cfg: ProbeConfig | None = None,
    loss: ProbeLoss = "ce",
    seed: int = 0,
) -> nn.Linear:
    """Train ``Linear(d, n_classes)`` on frozen features.

    ``loss``: ``"ce"`` (the paper's probe), ``"reweighted"`` (cross-entropy weighted by
    inverse class frequency, normalised to mean 1) or ``"logit_adjusted"`` (cross-entropy on
    ``logits + tau log prior``; predictions use the plain logits, Menon et al. 2021).
    """
    cfg = cfg or ProbeConfig()
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    counts = torch.bincount(y, minlength=n_classes).float().clamp_min(1.0)
    prior = counts / counts.sum()
    weight = None
    if loss == "reweighted":
        weight = 1.0 / counts
        weight = weight * n_classes / weight.sum()
    shift = cfg.tau * prior.log() if loss == "logit_adjusted" else torch.zeros(n_classes)
    probe = nn.Linear(x.shape[1], n_classes)
    opt: torch.optim.Optimizer
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(probe.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    else:
        opt = torch.optim.Adam(probe.parameters(), lr=cfg.lr)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    for _ in range(cfg.epochs):
        for idx in _batches(len(x), cfg.batch_size, gen):
            opt.zero_grad()
            loss_fn(probe(x[idx]) + shift, y[idx]).backward()
            opt.step()
    return probe.eval()


class DebLoRAModel(nn.Module):
    """The deployable classifier: backbone (adaptation LoRA and debLoRA module merged in),
    the feature standardisation, and the linear probe.

    ``forward(images) -> logits``; :meth:`features` gives the de-biased features.
    """

    def __init__(self, backbone: nn.Module, dim: int, n_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.register_buffer("feat_mean", torch.zeros(dim))
        self.register_buffer("feat_scale", torch.ones(dim))
        self.probe = nn.Linear(dim, n_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """De-biased pooled features ``(N, d)``."""
        out: torch.Tensor = self.backbone(images)
        return out

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, n_classes)`` of the probe on standardised features."""
        mean, scale = self.get_buffer("feat_mean"), self.get_buffer("feat_scale")
        z = (self.features(images) - mean) / scale
        out: torch.Tensor = self.probe(z)
        return out
