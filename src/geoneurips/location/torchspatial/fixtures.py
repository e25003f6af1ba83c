"""Fixture writers of the LocBench datasets: small synthetic data in the published layouts.

:func:`write_fixture` writes one dataset of :data:`DATASETS` exactly as the readers of
:mod:`.readers_json` and :mod:`.readers_csv` expect it (layouts described in :mod:`.data`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from geoneurips.errors import InvalidInputError
from geoneurips.io import atomic_path, write_json

__all__ = ["DATASETS", "SplitArrays", "write_fixture"]

#: Dataset keys accepted by :func:`write_fixture`.
DATASETS = ("birdsnap", "nabirds", "inat2017", "inat2018", "yfcc", "fmow", "mosaiks")

@dataclass
class SplitArrays:
    """The content of one split, used by :func:`write_fixture`.

    Attributes:
        lonlat: ``(N, 2)`` longitude, latitude in degrees.
        labels: ``(N,)`` class ids (classification) or regression targets (MOSAIKS).
        probs: ``(N, C)`` image-classifier probabilities, or ``None``.
        features: ``(N, D)`` image features, or ``None``.
    """

    lonlat: npt.NDArray[np.floating[Any]]
    labels: npt.NDArray[Any]
    probs: npt.NDArray[np.floating[Any]] | None = None
    features: npt.NDArray[np.floating[Any]] | None = None



_FIXTURE_SPLITS: dict[str, tuple[str, ...]] = {
    "birdsnap": ("train", "valid", "test"),
    "nabirds": ("train", "valid", "test"),
    "inat2017": ("train", "val"),
    "inat2018": ("train", "val"),
    "yfcc": ("train", "test"),
    "fmow": ("train", "val"),
    "mosaiks": ("train", "val", "test"),
}


def _random_splits(
    dataset: str, num_classes: int, num_samples: int, feature_dim: int, seed: int
) -> dict[str, SplitArrays]:
    rng = np.random.default_rng(seed)
    out = {}
    for split in _FIXTURE_SPLITS[dataset]:
        lonlat = np.stack(
            [rng.uniform(-170, 170, num_samples), rng.uniform(-60, 70, num_samples)], axis=1
        )
        feats = rng.normal(size=(num_samples, feature_dim)).astype(np.float32)
        if dataset == "mosaiks":
            labels: npt.NDArray[Any] = rng.gamma(2.0, 1.0, num_samples)
            probs = None
        else:
            labels = rng.integers(0, num_classes, num_samples)
            logits = rng.normal(size=(num_samples, num_classes))
            probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        out[split] = SplitArrays(lonlat, labels, probs, feats)
    return out


def _save_npy(path: Path, arr: npt.NDArray[Any]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, arr)


def _save_sparse(path: Path, arr: npt.NDArray[Any]) -> None:
    from scipy import sparse

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        sparse.save_npz(f, sparse.csr_matrix(arr.astype(np.float32)))


def _write_csv(path: Path, frame: Any) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def _save_inception(
    out: Path, prefix: str, probs: npt.NDArray[Any] | None, feats: npt.NDArray[Any] | None
) -> None:
    """``features_inception/<prefix>_preds_sparse.npz`` and ``<prefix>_net_feats.npy``
    (each where given)."""
    fd = out / "features_inception"
    fd.mkdir(exist_ok=True)
    if probs is not None:
        _save_sparse(fd / f"{prefix}_preds_sparse.npz", probs)
    if feats is not None:
        _save_npy(fd / f"{prefix}_net_feats.npy", feats.astype(np.float32))


def write_fixture(
    root: str | Path,
    dataset: str = "birdsnap",
    *,
    splits: Mapping[str, SplitArrays] | None = None,
    num_classes: int = 4,
    num_samples: int = 12,
    feature_dim: int = 8,
    class_names: Sequence[str] | None = None,
    mosaiks_name: str = "population",
    seed: int = 0,
) -> Path:
    """Write a small dataset in the published LocBench layout of ``dataset``; return ``root``.

    Args:
        root: output folder (created).
        dataset: one of :data:`DATASETS`.
        splits: the data to write, split name -> :class:`SplitArrays` (split names as the
            dataset publishes them, e.g. ``train/valid/test`` for BirdSnap). ``None`` writes
            random data (``num_samples`` per split). With random data, BirdSnap/NABirds
            train splits also get one ``valid_image: false`` entry and one entry without a
            location, and iNat/fMoW train splits one image without a location, so that the
            readers' filtering is exercised.
        num_classes: classes of random data (classification).
        num_samples: rows per split of random data.
        feature_dim: width of random image features.
        class_names: names of the classes (default ``class_000``...).
        mosaiks_name: the MOSAIKS target name.
        seed: seed of random data.
    """
    import pandas as pd

    if dataset not in DATASETS:
        raise InvalidInputError(f"unknown LocBench dataset {dataset!r}; one of {DATASETS}")
    out = Path(root)
    out.mkdir(parents=True, exist_ok=True)
    random_data = splits is None
    data = dict(splits) if splits is not None else _random_splits(
        dataset, num_classes, num_samples, feature_dim, seed
    )
    if dataset != "mosaiks":
        ncls = max(
            [s.probs.shape[1] for s in data.values() if s.probs is not None]
            + [int(np.max(s.labels)) + 1 for s in data.values() if len(s.labels)]
        )
        names = list(class_names) if class_names is not None else [
            f"class_{i:03d}" for i in range(ncls)
        ]
    if dataset in ("birdsnap", "nabirds"):
        doc: dict[str, Any] = {"classes": names}
        for split, arr in data.items():
            entries = []
            for i, ((lon, lat), c) in enumerate(zip(arr.lonlat, arr.labels, strict=True)):
                meta = {"user_id": int(i % 7), "lon": float(lon), "lat": float(lat),
                        "date": float(i % 12) / 12}
                entries.append({"valid_image": True, "im_path": f"{split}/{i:05d}.jpg",
                                "class_id": int(c), "orig_meta": meta, "ebird_meta": dict(meta)})
            probs, feats = arr.probs, arr.features
            if random_data and split == "train":
                nolon = {"user_id": 1, "lon": None, "lat": None, "date": 0.5}
                entries.append({"valid_image": True, "im_path": "train/nolon.jpg", "class_id": 0,
                                "orig_meta": nolon, "ebird_meta": dict(nolon)})
                entries.append({"valid_image": False, "im_path": "train/broken.jpg",
                                "class_id": 0, "orig_meta": dict(nolon),
                                "ebird_meta": dict(nolon)})
                if probs is not None:
                    probs = np.concatenate([probs, probs[:1]])
                if feats is not None:
                    feats = np.concatenate([feats, feats[:1]])
            doc[split] = entries
            _save_inception(out, f"{dataset}_{split}", probs, feats)
        write_json(out / f"{dataset}_with_loc_2019.json", doc, indent=0)
    elif dataset in ("inat2017", "inat2018", "fmow"):
        year = dataset[-4:]
        next_id = 1000
        for split, arr in data.items():
            locs: list[dict[str, Any]] = []
            images, anns = [], []
            n = len(arr.labels)
            for i in range(n):
                iid = next_id + i
                lon, lat = (float(v) for v in arr.lonlat[i])
                images.append({"id": iid, "file_name": f"{split}/{iid}.jpg",
                               "width": 64, "height": 64})
                anns.append({"id": iid, "image_id": iid, "category_id": int(arr.labels[i])})
                locs.append({"id": iid, "lon": lon, "lat": lat, "date_c": float(i % 12) / 12,
                             "user_id": int(i % 5)})
            probs, feats = arr.probs, arr.features
            if random_data and split == "train":
                iid = next_id + n
                images.append({"id": iid, "file_name": f"{split}/{iid}.jpg",
                               "width": 64, "height": 64})
                anns.append({"id": iid, "image_id": iid, "category_id": 0})
                locs.append({"id": iid, "lon": None, "lat": None, "date_c": 0.0,
                             "user_id": None})
                if probs is not None:
                    probs = np.concatenate([probs, probs[:1]])
                if feats is not None:
                    feats = np.concatenate([feats, feats[:1]])
            next_id += n + 10
            if dataset == "fmow":
                write_json(out / f"{split}_location.json", locs, indent=0)
                write_json(out / f"{split}.json", {"images": images, "annotations": anns},
                           indent=0)
                if probs is not None:
                    (out / "feature_moco").mkdir(exist_ok=True)
                    _save_npy(out / "feature_moco" / f"fmow_{split}_preds.npy",
                              probs.astype(np.float32))
                if feats is not None:
                    (out / "features_inception_pretrain").mkdir(exist_ok=True)
                    _save_npy(out / "features_inception_pretrain"
                              / f"fmow_{split}_pretrain_net_feats.npy", feats.astype(np.float32))
            else:
                write_json(out / f"{split}{year}_locations.json", locs, indent=0)
                cats = [{"id": i, "name": nm} for i, nm in enumerate(names)]
                write_json(out / f"{split}{year}.json",
                           {"images": images, "annotations": anns, "categories": cats}, indent=0)
                _save_inception(out, f"inat{year}_{split}", probs, feats)
        if dataset == "fmow":
            write_json(out / "category.json", {nm: i for i, nm in enumerate(names)})
        else:
            write_json(out / f"categories{year}.json",
                       [{"id": i, "name": nm, "supercategory": "synthetic"}
                        for i, nm in enumerate(names)])
    elif dataset == "yfcc":
        frames = []
        fd = out / "features_inception"
        fd.mkdir(exist_ok=True)
        for split, arr in data.items():
            frames.append(pd.DataFrame({"lon": arr.lonlat[:, 0], "lat": arr.lonlat[:, 1],
                                        "class": np.asarray(arr.labels, dtype=np.int64),
                                        "split": split}))
            if arr.probs is not None:
                _save_npy(fd / f"YFCC_{split}_preds.npy", arr.probs.astype(np.float32))
            if arr.features is not None:
                _save_npy(fd / f"YFCC_{split}_net_feats.npy", arr.features.astype(np.float32))
        _write_csv(out / "train_test_split.csv", pd.concat(frames, ignore_index=True))
        _write_csv(out / "class_names.csv", pd.DataFrame({"id": range(len(names)),
                                                          "name": names}))
    else:  # mosaiks
        frames, feats_all = [], []
        for split, arr in data.items():
            frames.append(pd.DataFrame({"lon": arr.lonlat[:, 0], "lat": arr.lonlat[:, 1],
                                        "split": split, mosaiks_name: arr.labels}))
            if arr.features is None:
                raise InvalidInputError("MOSAIKS fixtures need image features for every split")
            feats_all.append(arr.features.astype(np.float32))
        _write_csv(out / f"Y_{mosaiks_name}.csv", pd.concat(frames, ignore_index=True))
        _save_npy(out / f"X_{mosaiks_name}.npy", np.concatenate(feats_all))
    return out
