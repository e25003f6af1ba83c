"""TorchSpatial pipeline: train a location prior, evaluate it the LocBench way, and the demo.

LocBench classification (TorchSpatial, arXiv 2406.15658, Sec. 4.1) ranks classes by
``P(y|I) ⊙ P(y|x)`` (image classifier x location prior, Mac Aodha et al. 2019) and reports
Top-1/3/5/10 accuracy and the mean reciprocal rank (MRR), against the "no prior" baseline
that ranks by ``P(y|I)`` alone. Per-sample results are written in TorchSpatial's
``eval_*.csv`` format (``,lon,lat,true_class_prob,reciprocal_rank,hit@1,hit@3``), ready for
the Geo-Bias Score (:mod:`.geobias`).

The demo builds a synthetic species task: every species lives in one or two von
Mises-Fisher blobs on the sphere, and species come in confusable pairs (look-alike species
with distinct ranges) that a noisy image classifier mixes up. The data go through
:func:`.data.write_fixture` in the BirdSnap layout and are read back by :class:`.data.BirdSnap`;
the prior (Sphere2Vec-sphereC+ encoder, the paper's best overall) is trained with
:class:`.model.LocationPriorTask` and must raise Top-1 over "no prior" by ``DEMO_MARGIN``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from geoneurips.demo import DemoResult, finish, new_figure
from geoneurips.errors import InvalidInputError
from geoneurips.io import atomic_path
from geoneurips.metrics.ranking import label_rank, mean_reciprocal_rank, topk_accuracy
from geoneurips.seed import seed_everything

from .data import BirdSnap, LocBenchClassification, SplitArrays, write_fixture
from .model import LocationPriorTask, combine

__all__ = [
    "DEMO_MARGIN",
    "SyntheticSpecies",
    "classification_metrics",
    "demo",
    "evaluate_results_csv",
    "make_synthetic_species",
    "predict_prior",
    "train_prior",
    "write_results_csv",
]

#: Top-1 improvement (absolute, fraction) the prior must reach over "no prior" in the demo.
DEMO_MARGIN = 0.05


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
    **trainer_kwargs: Any,
) -> LocationPriorTask:
    """Train a location prior on a LocBench training split (locations and labels only).

    Rows without a valid location are skipped. ``trainer_kwargs`` go to
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
    sampler = BatchSampler(
        RandomSampler(data, generator=torch.Generator().manual_seed(seed)),
        batch_size=batch_size, drop_last=False,
    )
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


# ----------------------------------------------------------------------------- synthetic task


@dataclass
class SyntheticSpecies:
    """A synthetic species-range task (numpy arrays, lon/lat degrees).

    Attributes:
        centers: ``(C, B, 2)`` blob centres (lon, lat).
        kappas: ``(C, B)`` von Mises-Fisher concentrations.
        splits: split name -> :class:`SplitArrays` (``test``/``valid`` have ``probs``).
        pairs: ``(C,)`` the confusable twin of every species.
    """

    centers: npt.NDArray[np.float64]
    kappas: npt.NDArray[np.float64]
    splits: dict[str, SplitArrays]
    pairs: npt.NDArray[np.int64]


def _lonlat_to_xyz(lonlat: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    lon, lat = np.radians(lonlat[..., 0]), np.radians(lonlat[..., 1])
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)


def _xyz_to_lonlat(xyz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    lon = np.degrees(np.arctan2(xyz[..., 1], xyz[..., 0]))
    lat = np.degrees(np.arcsin(np.clip(xyz[..., 2], -1, 1)))
    return np.stack([lon, lat], -1)


def _sample_vmf(
    mu: npt.NDArray[np.float64], kappa: float, n: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """``n`` unit vectors from a von Mises-Fisher distribution on S^2 (exact inverse CDF)."""
    u = rng.uniform(size=n)
    w = 1.0 + np.log(u + (1.0 - u) * np.exp(-2.0 * kappa)) / kappa
    phi = rng.uniform(0, 2 * np.pi, n)
    r = np.sqrt(np.clip(1 - w * w, 0, None))
    local = np.stack([r * np.cos(phi), r * np.sin(phi), w], 1)
    # rotation taking e_z to mu (Householder reflection composed with a sign flip)
    e = np.array([0.0, 0.0, 1.0])
    v = e - mu
    if np.linalg.norm(v) < 1e-12:
        return local
    v = v / np.linalg.norm(v)
    h = np.eye(3) - 2 * np.outer(v, v)  # maps e_z to mu
    return local @ h.T


def make_synthetic_species(
    num_classes: int = 20,
    train_per_class: int = 120,
    test_per_class: int = 40,
    seed: int = 0,
    image_accuracy: float = 0.55,
) -> SyntheticSpecies:
    """Species ranges (1-2 vMF blobs each) and a noisy image classifier with confusable pairs.

    The classifier's logits are Gaussian noise plus a bonus on the true class and (almost as
    much) on its twin species, so ``P(y|I)`` often confuses twins; twins live in different
    regions, so the location disambiguates them.
    """
    if num_classes < 2 or num_classes % 2:
        raise InvalidInputError(f"num_classes must be even and >= 2, got {num_classes}")
    rng = np.random.default_rng(seed)
    nb = 2
    centers = np.stack(
        [rng.uniform(-170, 170, (num_classes, nb)), rng.uniform(-55, 65, (num_classes, nb))], -1
    )
    kappas = rng.uniform(25, 80, (num_classes, nb))
    n_blobs = rng.integers(1, nb + 1, num_classes)
    pairs = np.arange(num_classes) ^ 1

    def draw(per_class: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        locs, labels = [], []
        for c in range(num_classes):
            which = rng.integers(0, n_blobs[c], per_class)
            for b in range(n_blobs[c]):
                m = int((which == b).sum())
                if m:
                    mu = _lonlat_to_xyz(centers[c, b])
                    locs.append(_xyz_to_lonlat(_sample_vmf(mu, kappas[c, b], m, rng)))
                    labels.append(np.full(m, c))
        return np.concatenate(locs), np.concatenate(labels).astype(np.int64)

    def image_probs(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        n = labels.shape[0]
        logits = rng.normal(0.0, 1.0, (n, num_classes))
        strength = 2.2 + 2.0 * image_accuracy
        logits[np.arange(n), labels] += strength
        logits[np.arange(n), pairs[labels]] += strength - 0.3
        z = np.exp(logits - logits.max(1, keepdims=True))
        probs: npt.NDArray[np.float32] = (z / z.sum(1, keepdims=True)).astype(np.float32)
        return probs

    splits: dict[str, SplitArrays] = {}
    tr_ll, tr_y = draw(train_per_class)
    splits["train"] = SplitArrays(tr_ll, tr_y)
    for name in ("valid", "test"):
        ll, y = draw(test_per_class)
        splits[name] = SplitArrays(ll, y, image_probs(y))
    return SyntheticSpecies(centers, kappas, splits, pairs)


# ----------------------------------------------------------------------------- demo


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """Synthetic LocBench run: location prior (sphereC+) vs "no prior" (Top-1, margin 0.05).

    Writes ``torchspatial.png`` (prior map of one species and the metric bars),
    ``torchspatial.json`` and the per-sample ``eval_synthetic_{sphere_c_plus,no_prior}.csv``
    into ``out_dir``.
    """
    started = time.perf_counter()
    threads = torch.get_num_threads()
    # a tiny model: one intra-op thread is fastest, and robust on a busy 2-core machine
    torch.set_num_threads(1)
    try:
        return _demo(Path(out_dir), quick, seed, started)
    finally:
        torch.set_num_threads(threads)


def _demo(out: Path, quick: bool, seed: int, started: float) -> DemoResult:
    seed_everything(seed)
    cfg = dict(num_classes=12, train_per_class=80, test_per_class=30, epochs=12) if quick else \
        dict(num_classes=40, train_per_class=150, test_per_class=50, epochs=40)
    task_data = make_synthetic_species(
        int(cfg["num_classes"]), int(cfg["train_per_class"]), int(cfg["test_per_class"]), seed
    )
    root = write_fixture(out / "locbench_synthetic", "birdsnap", splits=task_data.splits,
                         class_names=[f"species_{c:02d}" for c in range(int(cfg["num_classes"]))])
    train = BirdSnap(root, split="train")
    test = BirdSnap(root, split="test")
    assert test.image_probs is not None
    enc_kwargs = {"out_dim": 64, "hidden_dim": 128, "frequency_num": 16, "min_radius": 0.01,
                  "dropout": 0.1}
    task = train_prior(train, encoder="sphere_c_plus", encoder_kwargs=enc_kwargs,
                       max_epochs=int(cfg["epochs"]), batch_size=256, lr=5e-3, seed=seed)
    prior = predict_prior(task, test.lonlat)
    scores = combine(torch.from_numpy(test.image_probs), torch.from_numpy(prior)).numpy()
    metrics = classification_metrics(scores, test.labels)
    baseline = classification_metrics(test.image_probs, test.labels)
    write_results_csv(out / "eval_synthetic_sphere_c_plus.csv", test.lonlat, scores, test.labels)
    write_results_csv(out / "eval_synthetic_no_prior.csv", test.lonlat, test.image_probs,
                      test.labels)

    # figure: prior map of one species + metric bars
    fig, axes = new_figure(2, 1, size=4.5)
    species = 0
    lon = np.linspace(-180, 180, 181)
    lat = np.linspace(-89, 89, 90)
    grid = np.stack(np.meshgrid(lon, lat), -1).reshape(-1, 2).astype(np.float32)
    pmap = predict_prior(task, grid)[:, species].reshape(lat.size, lon.size)
    ax = axes[0, 0]
    im = ax.imshow(pmap, origin="lower", extent=(-180, 180, -89, 89), cmap="magma",
                   vmin=0, vmax=1, aspect="auto")
    sel = train.labels == species
    ax.scatter(train.lonlat[sel, 0], train.lonlat[sel, 1], s=4, c="cyan", label="train obs.")
    twin = int(task_data.pairs[species])
    sel = train.labels == twin
    ax.scatter(train.lonlat[sel, 0], train.lonlat[sel, 1], s=4, c="lime",
               label=f"look-alike {twin}")
    ax.legend(loc="lower left", fontsize=7)
    ax.set_title(f"P(y={train.classes[species]} | x), sphereC+ prior")
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    fig.colorbar(im, ax=ax, fraction=0.03)
    ax = axes[0, 1]
    keys = ["top1", "top3", "top5", "mrr"]
    x = np.arange(len(keys))
    ax.bar(x - 0.2, [baseline[k] for k in keys], 0.4, label="no prior (image only)")
    ax.bar(x + 0.2, [metrics[k] for k in keys], 0.4, label="image x sphereC+ prior")
    ax.set_xticks(x, keys)
    ax.set_ylim(0, 1.15)
    ax.legend(fontsize=8, loc="upper left", ncols=2)
    ax.set_title("LocBench metrics, synthetic test split")
    details = {
        "num_classes": int(cfg["num_classes"]),
        "train_size": len(train),
        "test_size": len(test),
        "epochs": int(cfg["epochs"]),
        "encoder": "sphere_c_plus",
        "encoder_kwargs": enc_kwargs,
        "layout": "BirdSnap (birdsnap_with_loc_2019.json + features_inception/*_preds_sparse.npz)",
        "results_csv": [str(out / "eval_synthetic_sphere_c_plus.csv"),
                        str(out / "eval_synthetic_no_prior.csv")],
    }
    return finish(
        "torchspatial", metrics, baseline, primary="top1", margin=DEMO_MARGIN,
        higher_is_better=True, figure=fig, out_dir=out, started=started, details=details,
    )
