"""TorchSpatial pipeline: train a location prior, evaluate it the LocBench way, and the demo.

LocBench classification (TorchSpatial, arXiv 2406.15658, Sec. 4.1) ranks classes by
``P(y|I) ⊙ P(y|x)`` (image classifier x location prior, Mac Aodha et al. 2019) and reports
Top-1/3/5/10 accuracy and the mean reciprocal rank (MRR), against the "no prior" baseline
that ranks by ``P(y|I)`` alone. Per-sample results are written in TorchSpatial's
``eval_*.csv`` format (``,lon,lat,true_class_prob,reciprocal_rank,hit@1,hit@3``), ready for
the Geo-Bias Score (:mod:`.geobias`).

The demo (:mod:`.showcase`) compares encoders inside the same prior on a synthetic task
where spherical geometry matters (:mod:`.synthetic`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from geoneurips.demo import DemoResult
from geoneurips.errors import InvalidInputError
from geoneurips.io import atomic_path
from geoneurips.metrics.ranking import label_rank, mean_reciprocal_rank, topk_accuracy
from geoneurips.seed import seed_everything

from .data import LocBenchClassification
from .model import LocationPriorTask
from .sampling import ClassBalancedSampler

__all__ = [
    "classification_metrics",
    "demo",
    "evaluate_results_csv",
    "predict_prior",
    "train_prior",
    "write_results_csv",
]


# ----------------------------------------------------------------------------- metrics


def classification_metrics(scores: npt.ArrayLike, labels: npt.ArrayLike) -> dict[str, float]:
    """LocBench metrics: ``top1, top3, top5, top10`` (fractions) and ``mrr``."""
    out = topk_accuracy(scores, labels, ks=(1, 3, 5, 10))
    out["mrr"] = mean_reciprocal_rank(scores, labels)
    return out


def write_results_csv(
    path: str | Path,
    lonlat: npt.ArrayLike,
    scores: npt.ArrayLike,
    labels: npt.ArrayLike,
) -> Path:
    """Write per-sample results in TorchSpatial's ``eval_*.csv`` format (atomically).

    Columns: unnamed index, ``lon``, ``lat``, ``true_class_prob`` (score of the true class,
    renormalised over classes), ``reciprocal_rank``, ``hit@1``, ``hit@3``.
    """
    import pandas as pd

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    ll = np.asarray(lonlat, dtype=np.float64)
    ranks = label_rank(s, y)
    total = s.sum(axis=1)
    true_prob = s[np.arange(len(y)), y] / np.where(total > 0, total, 1.0)
    frame = pd.DataFrame({
        "lon": ll[:, 0], "lat": ll[:, 1], "true_class_prob": true_prob,
        "reciprocal_rank": 1.0 / ranks, "hit@1": (ranks <= 1).astype(int),
        "hit@3": (ranks <= 3).astype(int),
    })
    with atomic_path(path) as tmp:
        frame.to_csv(tmp)
    return Path(path)


def evaluate_results_csv(path: str | Path) -> dict[str, float]:
    """Metrics of a per-sample results CSV (TorchSpatial ``eval_*.csv``).

    Uses ``hit@1``/``hit@3`` -> ``top1``/``top3``, ``reciprocal_rank`` -> ``mrr``, and,
    for regression files (``predictions``, ``labels``), ``r2``, ``mae`` and ``rmse``.
    ``n`` is the number of rows.

    Raises:
        InvalidInputError: when the file has none of these columns or they hold NaN.
    """
    import pandas as pd

    from geoneurips.metrics.regression import mae, r2_score, rmse

    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"results file {str(p)!r} does not exist")
    frame = pd.read_csv(p)
    out: dict[str, float] = {"n": float(len(frame))}
    for col, key in (("hit@1", "top1"), ("hit@3", "top3"), ("hit@5", "top5"),
                     ("hit@10", "top10"), ("reciprocal_rank", "mrr")):
        if col in frame.columns:
            v = frame[col].to_numpy(dtype=np.float64)
            if np.isnan(v).any():
                raise InvalidInputError(f"{p.name}: column {col!r} has NaN values")
            out[key] = float(v.mean())
    if {"predictions", "labels"} <= set(frame.columns):
        pr = frame["predictions"].to_numpy(dtype=np.float64)
        gt = frame["labels"].to_numpy(dtype=np.float64)
        out.update(r2=r2_score(pr, gt), mae=mae(pr, gt), rmse=rmse(pr, gt))
    if len(out) == 1:
        raise InvalidInputError(
            f"{p.name} has none of hit@1, hit@3, reciprocal_rank, predictions/labels; "
            f"columns: {list(frame.columns)}"
        )
    return out


# ----------------------------------------------------------------------------- training


class _ArraysDataset(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    def __init__(self, lonlat: npt.NDArray[np.float32], labels: npt.NDArray[np.int64]) -> None:
        self.lonlat = torch.from_numpy(np.ascontiguousarray(lonlat, dtype=np.float32))
        self.labels = torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, i: Any) -> dict[str, torch.Tensor]:
        # ``i`` is a whole batch of indices (see the BatchSampler in train_prior)
        return {"lonlat": self.lonlat[i], "label": self.labels[i]}


def train_prior(
    train: LocBenchClassification,
    *,
    encoder: str = "sphere_c_plus",
    encoder_kwargs: Mapping[str, Any] | None = None,
    max_epochs: int = 30,
    batch_size: int = 256,
    lr: float = 5e-3,
    seed: int = 0,
    balanced: bool = False,
    max_per_class: int = 100,
    **trainer_kwargs: Any,
) -> LocationPriorTask:
    """Train a location prior on a LocBench training split (locations and labels only).

    Rows without a valid location are skipped. With ``balanced=True`` every epoch uses the
    public code's class-balanced sampler (:class:`.sampling.ClassBalancedSampler`: at most
    ``max_per_class`` examples per class, 100 in the public runs); otherwise every example
    once per epoch in random order. ``trainer_kwargs`` go to
    :func:`geoneurips.nn.training.make_trainer` (``accelerator``, ``devices``...).
    """
    from geoneurips.nn.training import make_trainer

    ok = np.isfinite(train.lonlat).all(axis=1)
    if not ok.any():
        raise InvalidInputError(f"{train.name}: no training sample has a location")
    seed_everything(seed)
    task = LocationPriorTask(train.num_classes, encoder=encoder, encoder_kwargs=encoder_kwargs,
                             lr=lr)
    data = _ArraysDataset(train.lonlat[ok], train.labels[ok])
    gen = torch.Generator().manual_seed(seed)
    base: torch.utils.data.Sampler[int] = (
        ClassBalancedSampler(train.labels[ok], max_per_class, generator=gen) if balanced
        else RandomSampler(data, generator=gen)
    )
    sampler = BatchSampler(base, batch_size=batch_size, drop_last=False)
    loader = DataLoader(data, sampler=sampler, batch_size=None)
    trainer = make_trainer(max_epochs=max_epochs, seed=seed, **trainer_kwargs)
    trainer.fit(task, loader)
    return task


def predict_prior(task: LocationPriorTask, lonlat: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Prior probabilities ``(N, C)``; rows without a location get a flat prior of 1."""
    ll = np.asarray(lonlat, dtype=np.float32)
    ok = np.isfinite(ll).all(axis=1)
    out = np.ones((ll.shape[0], task.prior.num_classes), dtype=np.float32)
    if ok.any():
        out[ok] = task.predict_prior(torch.from_numpy(ll[ok])).cpu().numpy()
    return out


# ----------------------------------------------------------------------------- demo


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """Encoders compared on a pole / date-line task (see :mod:`.showcase`).

    Writes ``torchspatial.png``, ``torchspatial.json`` and the per-sample
    ``eval_synthetic_<encoder>.csv`` files into ``out_dir``.
    """
    from .showcase import run_demo

    return run_demo(out_dir, quick=quick, seed=seed)
