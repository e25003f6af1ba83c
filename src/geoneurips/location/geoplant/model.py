"""GeoPlant baselines (Picek et al., arXiv 2408.13928, Sec. 4 "Baselines").

- :class:`ResNet6`: the small per-modality CNN of the GeoPlant baselines (conv3x3 64 ->
  128 with BatchNorm + ReLU, max-pool, 256 -> 512, max-pool, global average pool, FC).
- :class:`SpeciesModel`: one ResNet-6 encoder per modality, features concatenated, one
  linear layer to the species logits. With one modality it is the single-modality ResNet-6
  baseline; with Landsat + bioclim + Sentinel-2 it is the multi-modal ensemble (MME, the
  paper's best: concat 3 x 512 = 1536 -> Linear(11255)), whose encoders are first trained
  per modality (:meth:`SpeciesModel.load_encoders`).
- :func:`pos_weight_bce`: ``BCEWithLogits(pos_weight = targets * k)`` as in the baselines'
  training script (k = 1 or 10; since the weight multiplies only the positive term this
  is the usual positive weight k).
- :class:`TopKFrequency`: the "naive top-25 per district" baseline: the most frequent
  species of the training surveys in the same spatial cell.
- :class:`GradientBoostedSpecies`: the tree baseline on tabular features (the paper used
  XGBoost; we use LightGBM's gradient-boosted trees, one binary model per species, with
  the same role: a strong tabular learner on location, climate, soil, land-cover values).

Differences from the public code (named on purpose): the inputs are standardised inside
the model with per-channel statistics of the training set (``set_normalization``), where
the public script feeds raw cubes; the tiny config (``widths``) exists for tests and demos.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from geoneurips.errors import InvalidInputError

__all__ = [
    "IN_CHANNELS",
    "PAPER_WIDTHS",
    "GradientBoostedSpecies",
    "ResNet6",
    "SpeciesModel",
    "TopKFrequency",
    "pos_weight_bce",
    "spatial_cells",
]

PAPER_WIDTHS = (64, 128, 256, 512)
IN_CHANNELS = {"landsat": 6, "bioclim": 4, "sentinel": 4}


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)
    )


class ResNet6(nn.Module):
    """The GeoPlant ResNet-6 (four conv3x3-BN-ReLU layers, two max-pools, GAP, FC).

    Args:
        in_channels: input channels (Landsat 6, bioclim 4, Sentinel-2 4).
        num_classes: logits size; ``None`` returns the pooled features (``widths[-1]``).
        widths: channel widths of the four conv layers (paper: 64, 128, 256, 512).
    """

    def __init__(
        self, in_channels: int, num_classes: int | None = None,
        widths: Sequence[int] = PAPER_WIDTHS,
    ) -> None:
        super().__init__()
        if len(widths) != 4:
            raise InvalidInputError(f"ResNet-6 has 4 conv widths, got {widths}")
        w = list(widths)
        self.features = nn.Sequential(
            _block(in_channels, w[0]), _block(w[0], w[1]), nn.MaxPool2d(2, ceil_mode=True),
            _block(w[1], w[2]), _block(w[2], w[3]), nn.MaxPool2d(2, ceil_mode=True),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.out_features = w[3]
        self.fc = nn.Linear(w[3], num_classes) if num_classes else None

    def forward(self, x: Tensor) -> Tensor:
        f: Tensor = self.features(x)
        if self.fc is None:
            return f
        out: Tensor = self.fc(f)
        return out


class SpeciesModel(nn.Module):
    """ResNet-6 encoders per modality, concatenated, one linear head (single or MME).

    Args:
        modalities: input keys of the batch, e.g. ``("landsat", "bioclim", "sentinel")``.
        num_classes: number of species.
        widths: ResNet-6 widths (paper defaults; a tiny tuple for tests).
    """

    def __init__(
        self, modalities: Sequence[str], num_classes: int, widths: Sequence[int] = PAPER_WIDTHS
    ) -> None:
        super().__init__()
        bad = [m for m in modalities if m not in IN_CHANNELS]
        if bad or not modalities:
            raise InvalidInputError(f"modalities must be among {list(IN_CHANNELS)}, got {modalities}")
        self.modalities = tuple(modalities)
        self.encoders = nn.ModuleDict({m: ResNet6(IN_CHANNELS[m], None, widths) for m in modalities})
        for m in modalities:
            c = IN_CHANNELS[m]
            self.register_buffer(f"mean_{m}", torch.zeros(1, c, 1, 1))
            self.register_buffer(f"std_{m}", torch.ones(1, c, 1, 1))
        self.head = nn.Linear(widths[-1] * len(modalities), num_classes)

    def set_normalization(self, stats: Mapping[str, tuple[Tensor, Tensor]]) -> None:
        """Per-channel ``(mean, std)`` of each modality, from the training surveys."""
        for m in self.modalities:
            mean, std = stats[m]
            getattr(self, f"mean_{m}").copy_(mean.reshape(1, -1, 1, 1))
            getattr(self, f"std_{m}").copy_(std.clamp_min(1e-6).reshape(1, -1, 1, 1))

    def load_encoders(self, other: SpeciesModel) -> None:
        """Copy the encoders (and normalisation) of a model trained on fewer modalities."""
        for m in other.modalities:
            if m in self.encoders:
                self.encoders[m].load_state_dict(other.encoders[m].state_dict())
                getattr(self, f"mean_{m}").copy_(getattr(other, f"mean_{m}"))
                getattr(self, f"std_{m}").copy_(getattr(other, f"std_{m}"))

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        feats = []
        for m in self.modalities:
            x = (batch[m].float() - getattr(self, f"mean_{m}")) / getattr(self, f"std_{m}")
            feats.append(self.encoders[m](x))
        out: Tensor = self.head(torch.cat(feats, dim=1))
        return out


def pos_weight_bce(logits: Tensor, targets: Tensor, k: float = 10.0) -> Tensor:
    """``BCEWithLogitsLoss(pos_weight=targets * k)`` of the GeoPlant training script."""
    return nn.functional.binary_cross_entropy_with_logits(
        logits, targets, pos_weight=targets * k
    )


def spatial_cells(lon: np.ndarray, lat: np.ndarray, cell_deg: float = 1.0) -> np.ndarray:
    """Integer id of the ``cell_deg`` x ``cell_deg`` lon/lat cell of each point ("district")."""
    ix = np.floor((np.asarray(lon) + 180.0) / cell_deg).astype(np.int64)
    iy = np.floor((np.asarray(lat) + 90.0) / cell_deg).astype(np.int64)
    return iy * 100_000 + ix


class TopKFrequency:
    """Most frequent species of the training surveys of the same district (spatial cell).

    Scores are the species' frequency in the cell plus ``1e-3`` x its global frequency (so
    ties and unseen cells fall back to the globally most frequent species).
    """

    def fit(self, cells: np.ndarray, labels: np.ndarray) -> TopKFrequency:
        y = np.asarray(labels, dtype=np.float64)
        self.global_ = y.mean(0)
        self.cell_: dict[int, np.ndarray] = {}
        for c in np.unique(cells):
            self.cell_[int(c)] = y[np.asarray(cells) == c].mean(0)
        return self

    def predict(self, cells: np.ndarray) -> np.ndarray:
        zero = np.zeros_like(self.global_)
        return np.stack([self.cell_.get(int(c), zero) + 1e-3 * self.global_ for c in cells])


class GradientBoostedSpecies:
    """One LightGBM binary classifier per species on tabular features.

    Species absent (or present everywhere) in the training surveys get their training
    prevalence as a constant score. The defaults (small shallow trees, row and column
    subsampling) were the best of three settings tried on the demo's world (top-25 F1 0.306
    against 0.287 for 100 trees of 15 leaves), so the demo faces a tuned tree baseline.
    """

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.03,
                 num_leaves: int = 4, min_child_samples: int = 20, subsample: float = 0.8,
                 colsample_bytree: float = 0.5, seed: int = 0, **params: Any) -> None:
        self.params = dict(n_estimators=n_estimators, learning_rate=learning_rate,
                           num_leaves=num_leaves, min_child_samples=min_child_samples,
                           subsample=subsample, subsample_freq=1,
                           colsample_bytree=colsample_bytree, random_state=seed, n_jobs=1,
                           verbose=-1, **params)

    def fit(self, x: np.ndarray, y: np.ndarray) -> GradientBoostedSpecies:
        from lightgbm import LGBMClassifier

        y = np.asarray(y)
        self.prior_ = y.mean(0)
        self.models_: dict[int, Any] = {}
        for j in range(y.shape[1]):
            if 0 < y[:, j].sum() < len(y):
                self.models_[j] = LGBMClassifier(**self.params).fit(x, y[:, j].astype(int))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        out = np.tile(self.prior_, (len(x), 1)).astype(np.float64)
        for j, m in self.models_.items():
            out[:, j] = m.predict_proba(x)[:, 1]
        return out
