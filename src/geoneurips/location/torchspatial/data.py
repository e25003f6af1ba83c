"""LocBench datasets of TorchSpatial (Wu et al., arXiv 2406.15658, Sec. 3 and App. "LocBench").

Readers for the *published* on-disk layouts of the LocBench tasks (figshare DOI
10.6084/m9.figshare.26026798, one tar per dataset; CC BY-NC 4.0), as read by the reference
loader ``main/datasets.py`` of github seai-lab/TorchSpatial. The image classifier is frozen
in LocBench: the files hold pre-computed image-classifier predictions (softmax, InceptionV3;
MoCo-v3 for fMoW) and 2048-d image features, never images.

============  ==========================================================================
dataset       files under ``root``
============  ==========================================================================
BirdSnap /    ``birdsnap_with_loc_2019.json`` (``nabirds_with_loc_2019.json``):
NABirds       ``{"train"|"valid"|"test": [{"valid_image", "im_path", "class_id",
              "orig_meta"|"ebird_meta": {"user_id", "lon", "lat", "date"}}], "classes": [..]}``;
              ``features_inception/<ds>_<split>_preds_sparse.npz`` (scipy sparse, one row per
              entry with ``valid_image``) and ``<ds>_<split>_net_feats.npy``.
              BirdSnap† / NABirds† are the ``ebird_meta`` (eBird-simulated) locations.
iNat2017/18   ``<split><year>_locations.json`` ``[{"id", "lon", "lat", "date_c", "user_id"}]``,
              COCO-style ``<split><year>.json`` (``images``, ``annotations``),
              ``categories<year>.json``, ``features_inception/inat<year>_<split>_preds_sparse.npz``.
YFCC          ``train_test_split.csv`` (``lon, lat, class, split``), ``class_names.csv``
              (``id, name``), ``features_inception/YFCC_<split>_preds.npy``.
fMoW          ``<split>_location.json``, ``<split>.json`` (COCO-style), ``category.json``
              (``{name: id}``), ``feature_moco/fmow_<split>_preds.npy``.
MOSAIKS       ``Y_<name>.csv`` (``lon, lat, split, <name>``) and ``X_<name>.npy`` (N x 2048).
============  ==========================================================================

Every dataset is a map-style ``torch.utils.data.Dataset`` following TorchGeo's
``NonGeoDataset`` protocol: ``__getitem__`` returns a dict with ``"lonlat"`` (2,) float32
(longitude first, degrees), ``"label"`` (int64) or ``"target"`` (float32), and
``"image_probs"`` (C,) / ``"image_features"`` (D,) when loaded; ``plot`` draws a map of the
locations coloured by class. :func:`write_fixture` writes a small synthetic dataset in
exactly these layouts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor
from torch.utils.data import Dataset

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.io import atomic_path, write_json

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DATASETS",
    "FIGSHARE_URL",
    "YFCC",
    "BirdSnap",
    "FMoW",
    "INat",
    "LocBenchClassification",
    "Mosaiks",
    "NABirds",
    "SplitArrays",
    "write_fixture",
]

#: Where LocBench is published (one tar per dataset).
FIGSHARE_URL = "https://doi.org/10.6084/m9.figshare.26026798"

#: Dataset keys accepted by :func:`write_fixture`.
DATASETS = ("birdsnap", "nabirds", "inat2017", "inat2018", "yfcc", "fmow", "mosaiks")

Transform = Callable[[dict[str, Tensor]], dict[str, Tensor]]


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


def _require(name: str, root: Path, paths: Sequence[Path], layout: str) -> None:
    missing = [str(p.relative_to(root)) for p in paths if not p.is_file()]
    if missing:
        raise DataNotFoundError(name, root, missing, url=FIGSHARE_URL, layout=layout)


def _load_sparse(path: Path) -> npt.NDArray[np.float32]:
    from scipy import sparse

    return np.asarray(sparse.load_npz(path).todense(), dtype=np.float32)


def _nan_if_none(v: Any) -> float:
    return float("nan") if v is None else float(v)


class _LocBenchBase(Dataset[dict[str, Tensor]]):
    """Shared storage, ``__getitem__`` and ``plot`` of the LocBench datasets."""

    name = "LocBench"
    lonlat: npt.NDArray[np.float32]
    image_probs: npt.NDArray[np.float32] | None
    image_features: npt.NDArray[np.float32] | None
    transforms: Transform | None

    def __len__(self) -> int:
        return int(self.lonlat.shape[0])

    def _extra(self, index: int) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {"lonlat": torch.from_numpy(self.lonlat[index].copy())}
        if self.image_probs is not None:
            out["image_probs"] = torch.from_numpy(self.image_probs[index].copy())
        if self.image_features is not None:
            out["image_features"] = torch.from_numpy(self.image_features[index].copy())
        return out

    def _check_rows(self, what: str, arr: npt.NDArray[Any] | None) -> None:
        if arr is not None and arr.shape[0] != self.lonlat.shape[0]:
            raise InvalidInputError(
                f"{self.name}: {what} has {arr.shape[0]} rows but the annotations have "
                f"{self.lonlat.shape[0]} entries"
            )

    def _colour_values(self) -> tuple[npt.NDArray[Any], str]:
        raise NotImplementedError

    def plot(
        self,
        sample: Mapping[str, Tensor] | None = None,
        show_titles: bool = True,
        suptitle: str | None = None,
    ) -> Figure:
        """Map of every location (lon/lat degrees) coloured by class (or target value).

        Args:
            sample: a sample from ``__getitem__``; when given it is marked with a star.
            show_titles: title the axes.
            suptitle: optional figure title.
        """
        from geoneurips.demo import new_figure

        fig, axes = new_figure(1, 1, size=5.0)
        ax = axes[0, 0]
        colour, label = self._colour_values()
        ok = np.isfinite(self.lonlat).all(axis=1)
        sc = ax.scatter(
            self.lonlat[ok, 0], self.lonlat[ok, 1], c=colour[ok], s=6, cmap="tab20"
            if label == "class" else "viridis",
        )
        if label != "class":
            fig.colorbar(sc, ax=ax, label=label)
        if sample is not None:
            lon, lat = (float(v) for v in sample["lonlat"])
            ax.scatter([lon], [lat], marker="*", s=200, c="red", edgecolors="black")
        ax.set_xlim(-180, 180)
        ax.set_ylim(-90, 90)
        ax.set_xlabel("longitude (°)")
        ax.set_ylabel("latitude (°)")
        if show_titles:
            title = f"{self.name}: {len(self)} locations by {label}"
            if sample is not None:
                key = "label" if "label" in sample else "target"
                title += f"\nsample {key} = {float(sample[key]):g}"
            ax.set_title(title)
        if suptitle:
            fig.suptitle(suptitle)
        return fig


class LocBenchClassification(_LocBenchBase):
    """A LocBench classification split held in memory (base of the concrete readers).

    Attributes:
        lonlat: ``(N, 2)`` float32, longitude first, degrees (NaN where missing).
        labels: ``(N,)`` int64 class ids.
        users: ``(N,)`` int64 user ids (-1 unknown).
        dates: ``(N,)`` float32 dates (0 where the dataset has none).
        image_probs: ``(N, C)`` float32 classifier probabilities or ``None``.
        image_features: ``(N, D)`` float32 classifier features or ``None``.
        classes: class names, index = class id.
    """

    labels: npt.NDArray[np.int64]
    users: npt.NDArray[np.int64]
    dates: npt.NDArray[np.float32]
    classes: list[str]

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Sample ``index``: ``lonlat``, ``label`` and the loaded image outputs."""
        out = self._extra(index)
        out["label"] = torch.tensor(int(self.labels[index]), dtype=torch.long)
        return self.transforms(out) if self.transforms is not None else out

    def _colour_values(self) -> tuple[npt.NDArray[Any], str]:
        return self.labels, "class"

    def _finish(self) -> None:
        self._check_rows("image predictions", self.image_probs)
        self._check_rows("image features", self.image_features)
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= self.num_classes):
            raise InvalidInputError(
                f"{self.name}: class ids must be in [0, {self.num_classes}), got "
                f"[{self.labels.min()}, {self.labels.max()}]"
            )
        if self.image_probs is not None and self.image_probs.shape[1] != self.num_classes:
            raise InvalidInputError(
                f"{self.name}: predictions have {self.image_probs.shape[1]} columns for "
                f"{self.num_classes} classes"
            )


def _want(flag: bool | None, split: str) -> bool:
    """Predictions are published for the evaluation splits only: auto = not train."""
    return split != "train" if flag is None else flag


class _Birds(LocBenchClassification):
    ds_key = "birdsnap"
    name = "LocBench BirdSnap"
    splits = ("train", "valid", "test")

    def __init__(
        self,
        root: str | Path,
        split: str = "test",
        meta_type: Literal["orig_meta", "ebird_meta"] = "orig_meta",
        remove_invalid: bool = True,
        load_preds: bool | None = None,
        load_features: bool = False,
        transforms: Transform | None = None,
    ) -> None:
        if split not in self.splits:
            raise InvalidInputError(
                f"{self.name}: split must be one of {self.splits}, got {split!r}"
            )
        if meta_type not in ("orig_meta", "ebird_meta"):
            raise InvalidInputError(f"meta_type must be orig_meta or ebird_meta, got {meta_type!r}")
        self.root, self.split, self.meta_type = Path(root), split, meta_type
        self.transforms = transforms
        ann = self.root / f"{self.ds_key}_with_loc_2019.json"
        feat_dir = self.root / "features_inception"
        preds_p = feat_dir / f"{self.ds_key}_{split}_preds_sparse.npz"
        feats_p = feat_dir / f"{self.ds_key}_{split}_net_feats.npy"
        need = [ann]
        if _want(load_preds, split):
            need.append(preds_p)
        if load_features:
            need.append(feats_p)
        layout = (
            f"{root}/{ann.name} and {root}/features_inception/{self.ds_key}_<split>_"
            "preds_sparse.npz (+ _net_feats.npy)"
        )
        _require(self.name, self.root, need, layout)
        with open(ann, encoding="utf-8") as f:
            data = json.load(f)
        entries = [d for d in data[split] if d["valid_image"]]
        meta = [d[meta_type] for d in entries]
        self.classes = [str(c) for c in data["classes"]]
        self.im_paths = [str(d["im_path"]) for d in entries]
        lonlat = np.array(
            [[_nan_if_none(m["lon"]), _nan_if_none(m["lat"])] for m in meta], dtype=np.float32
        ).reshape(-1, 2)
        labels = np.array([d["class_id"] for d in entries], dtype=np.int64)
        users = np.array([-1 if m["user_id"] is None else m["user_id"] for m in meta], np.int64)
        dates = np.array([_nan_if_none(m.get("date")) for m in meta], dtype=np.float32)
        probs = _load_sparse(preds_p) if _want(load_preds, split) else None
        feats = np.load(feats_p).astype(np.float32) if load_features else None
        # a valid sample has a longitude, a user id >= 0 and a date (TorchSpatial load_bird_data)
        self.valid = (~np.isnan(lonlat[:, 0])) & (users >= 0) & (~np.isnan(dates))
        keep = self.valid if remove_invalid else np.ones(len(entries), dtype=bool)
        for what, arr in (("image predictions", probs), ("image features", feats)):
            if arr is not None and arr.shape[0] != len(entries):
                raise InvalidInputError(
                    f"{self.name}: {what} have {arr.shape[0]} rows, {ann.name}[{split!r}] has "
                    f"{len(entries)} entries with valid_image"
                )
        self.lonlat, self.labels = lonlat[keep], labels[keep]
        self.users, self.dates = users[keep], dates[keep]
        self.im_paths = [p for p, k in zip(self.im_paths, keep, strict=True) if k]
        self.image_probs = None if probs is None else probs[keep]
        self.image_features = None if feats is None else feats[keep]
        self._finish()


class BirdSnap(_Birds):
    """LocBench BirdSnap (500 classes); ``meta_type="ebird_meta"`` gives BirdSnap†.

    Args:
        root: folder holding ``birdsnap_with_loc_2019.json`` and ``features_inception/``.
        split: ``"train"``, ``"valid"`` or ``"test"``.
        meta_type: ``"orig_meta"`` (BirdSnap) or ``"ebird_meta"`` (BirdSnap†).
        remove_invalid: drop entries without longitude, user id or date (as TorchSpatial's
            evaluation does).
        load_preds: load ``birdsnap_<split>_preds_sparse.npz`` (default: all but train).
        load_features: load ``birdsnap_<split>_net_feats.npy``.
        transforms: applied to each sample dict.

    Raises:
        DataNotFoundError: when a required file is missing.
    """

    ds_key = "birdsnap"
    name = "LocBench BirdSnap"


class NABirds(_Birds):
    """LocBench NABirds† (555 classes, eBird-simulated locations: ``meta_type="ebird_meta"``).

    Same arguments as :class:`BirdSnap`, files ``nabirds_with_loc_2019.json`` and
    ``features_inception/nabirds_<split>_*``.
    """

    ds_key = "nabirds"
    name = "LocBench NABirds"

    def __init__(
        self,
        root: str | Path,
        split: str = "test",
        meta_type: Literal["orig_meta", "ebird_meta"] = "ebird_meta",
        remove_invalid: bool = True,
        load_preds: bool | None = None,
        load_features: bool = False,
        transforms: Transform | None = None,
    ) -> None:
        super().__init__(root, split, meta_type, remove_invalid, load_preds, load_features,
                         transforms)


def _read_coco_split(
    loc_path: Path, ann_path: Path, remove_invalid: bool
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.int64],
           npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """iNat/fMoW reader: locations json + COCO json -> (lonlat, labels, users, dates, keep)."""
    with open(loc_path, encoding="utf-8") as f:
        loc_data = {int(d["id"]): d for d in json.load(f)}
    with open(ann_path, encoding="utf-8") as f:
        ann = json.load(f)
    label_of = {int(a["image_id"]): int(a["category_id"]) for a in ann["annotations"]}
    lonlat, labels, users, dates, keep = [], [], [], [], []
    for i, img in enumerate(ann["images"]):
        iid = int(img["id"])
        if iid not in loc_data:
            raise InvalidInputError(f"{loc_path.name} has no entry for image id {iid}")
        loc = loc_data[iid]
        if remove_invalid and (loc.get("lon") is None or loc.get("user_id") is None):
            continue
        lonlat.append([_nan_if_none(loc.get("lon")), _nan_if_none(loc.get("lat"))])
        labels.append(label_of[iid])
        users.append(-1 if loc.get("user_id") is None else int(loc["user_id"]))
        dates.append(_nan_if_none(loc.get("date_c", 0.0)))
        keep.append(i)
    return (
        np.array(lonlat, dtype=np.float32).reshape(-1, 2),
        np.array(labels, dtype=np.int64),
        np.array(users, dtype=np.int64),
        np.array(dates, dtype=np.float32),
        np.array(keep, dtype=np.int64),
    )


class INat(LocBenchClassification):
    """LocBench iNat2017 (5089 classes) / iNat2018 (8142 classes).

    Args:
        root: folder with ``<split><year>_locations.json``, ``<split><year>.json``,
            ``categories<year>.json`` and ``features_inception/``.
        year: 2017 or 2018.
        split: ``"train"`` or ``"val"``.
        remove_invalid: drop images without longitude or user id (their prediction rows too).
        load_preds: load ``features_inception/inat<year>_<split>_preds_sparse.npz``
            (default: all but train).
        load_features: load ``inat<year>_<split>_net_feats.npy``.
        transforms: applied to each sample dict.
    """

    def __init__(
        self,
        root: str | Path,
        year: int = 2018,
        split: str = "val",
        remove_invalid: bool = True,
        load_preds: bool | None = None,
        load_features: bool = False,
        transforms: Transform | None = None,
    ) -> None:
        if year not in (2017, 2018):
            raise InvalidInputError(f"iNat year must be 2017 or 2018, got {year}")
        if split not in ("train", "val"):
            raise InvalidInputError(f"iNat split must be 'train' or 'val', got {split!r}")
        self.name = f"LocBench iNat{year}"
        self.root, self.split, self.year, self.transforms = Path(root), split, year, transforms
        loc_p = self.root / f"{split}{year}_locations.json"
        ann_p = self.root / f"{split}{year}.json"
        cat_p = self.root / f"categories{year}.json"
        feat_dir = self.root / "features_inception"
        preds_p = feat_dir / f"inat{year}_{split}_preds_sparse.npz"
        feats_p = feat_dir / f"inat{year}_{split}_net_feats.npy"
        need = [loc_p, ann_p, cat_p]
        if _want(load_preds, split):
            need.append(preds_p)
        if load_features:
            need.append(feats_p)
        _require(
            self.name, self.root, need,
            f"{root}/<split>{year}_locations.json, <split>{year}.json, categories{year}.json, "
            f"features_inception/inat{year}_<split>_preds_sparse.npz",
        )
        with open(cat_p, encoding="utf-8") as f:
            cats = sorted(json.load(f), key=lambda c: int(c["id"]))
        self.classes = [str(c["name"]) for c in cats]
        self.lonlat, self.labels, self.users, self.dates, keep = _read_coco_split(
            loc_p, ann_p, remove_invalid
        )
        self.image_probs = _load_sparse(preds_p)[keep] if _want(load_preds, split) else None
        self.image_features = np.load(feats_p).astype(np.float32)[keep] if load_features else None
        self._finish()


class FMoW(LocBenchClassification):
    """LocBench fMoW (62 classes; predictions from a MoCo-v3 classifier).

    Args:
        root: folder with ``<split>_location.json``, ``<split>.json``, ``category.json``
            (``{name: id}``) and ``feature_moco/fmow_<split>_preds.npy``.
        split: ``"train"`` or ``"val"`` (fMoW has no public test split in LocBench).
        remove_invalid: drop images without longitude or user id.
        load_preds: load the predictions (default: all but train).
        load_features: load ``features_inception_pretrain/fmow_<split>_pretrain_net_feats.npy``.
        transforms: applied to each sample dict.
    """

    name = "LocBench fMoW"

    def __init__(
        self,
        root: str | Path,
        split: str = "val",
        remove_invalid: bool = True,
        load_preds: bool | None = None,
        load_features: bool = False,
        transforms: Transform | None = None,
    ) -> None:
        if split not in ("train", "val"):
            raise InvalidInputError(f"fMoW split must be 'train' or 'val', got {split!r}")
        self.root, self.split, self.transforms = Path(root), split, transforms
        loc_p = self.root / f"{split}_location.json"
        ann_p = self.root / f"{split}.json"
        cat_p = self.root / "category.json"
        preds_p = self.root / "feature_moco" / f"fmow_{split}_preds.npy"
        feats_p = self.root / "features_inception_pretrain" / f"fmow_{split}_pretrain_net_feats.npy"
        need = [loc_p, ann_p, cat_p]
        if _want(load_preds, split):
            need.append(preds_p)
        if load_features:
            need.append(feats_p)
        _require(
            self.name, self.root, need,
            f"{root}/<split>_location.json, <split>.json, category.json, "
            "feature_moco/fmow_<split>_preds.npy",
        )
        with open(cat_p, encoding="utf-8") as f:
            cats: dict[str, int] = json.load(f)
        by_id = {int(v): k for k, v in cats.items()}
        self.classes = [by_id[i] for i in range(len(by_id))]
        self.lonlat, self.labels, self.users, self.dates, keep = _read_coco_split(
            loc_p, ann_p, remove_invalid
        )
        if _want(load_preds, split):
            self.image_probs = np.load(preds_p).astype(np.float32)[keep]
        else:
            self.image_probs = None
        self.image_features = np.load(feats_p).astype(np.float32)[keep] if load_features else None
        self._finish()


class YFCC(LocBenchClassification):
    """LocBench YFCC (100 classes; no user or date information).

    Args:
        root: folder with ``train_test_split.csv``, ``class_names.csv`` and
            ``features_inception/YFCC_<split>_preds.npy``.
        split: a value of the ``split`` column (``"train"``, ``"test"``).
        load_preds: load the predictions (default: all but train).
        load_features: load ``features_inception/YFCC_<split>_net_feats.npy``.
        transforms: applied to each sample dict.
    """

    name = "LocBench YFCC"

    def __init__(
        self,
        root: str | Path,
        split: str = "test",
        load_preds: bool | None = None,
        load_features: bool = False,
        transforms: Transform | None = None,
    ) -> None:
        import pandas as pd

        self.root, self.split, self.transforms = Path(root), split, transforms
        table_p, names_p = self.root / "train_test_split.csv", self.root / "class_names.csv"
        preds_p = self.root / "features_inception" / f"YFCC_{split}_preds.npy"
        feats_p = self.root / "features_inception" / f"YFCC_{split}_net_feats.npy"
        need = [table_p, names_p]
        if _want(load_preds, split):
            need.append(preds_p)
        if load_features:
            need.append(feats_p)
        _require(
            self.name, self.root, need,
            f"{root}/train_test_split.csv, class_names.csv, "
            "features_inception/YFCC_<split>_preds.npy",
        )
        table = pd.read_csv(table_p)
        missing = {"lon", "lat", "class", "split"} - set(table.columns)
        if missing:
            raise InvalidInputError(f"{table_p} lacks columns {sorted(missing)}")
        rows = table[table["split"] == split]
        if rows.empty:
            raise InvalidInputError(
                f"{table_p} has no rows with split={split!r}; "
                f"splits: {sorted(table['split'].unique())}"
            )
        names = pd.read_csv(names_p).sort_values("id")
        self.classes = [str(n) for n in names["name"]]
        self.lonlat = rows[["lon", "lat"]].to_numpy(dtype=np.float32)
        self.labels = rows["class"].to_numpy(dtype=np.int64)
        self.users = np.full(len(rows), -1, dtype=np.int64)
        self.dates = np.zeros(len(rows), dtype=np.float32)
        self.image_probs = np.load(preds_p).astype(np.float32) if _want(load_preds, split) else None
        self.image_features = np.load(feats_p).astype(np.float32) if load_features else None
        self._finish()


class Mosaiks(_LocBenchBase):
    """LocBench MOSAIKS regression (population, forest_cover, nightlights, elevation).

    Args:
        root: folder with ``Y_<name>.csv`` (``lon, lat, split, <name>``) and ``X_<name>.npy``.
        name: the target (``population``, ``forest_cover``, ``nightlights``, ``elevation``).
        split: a value of the ``split`` column.
        subsample: keep this fraction of the split's rows at random (TorchSpatial's loader
            keeps 1/20 with an unseeded draw; default keeps every row).
        seed: seed of the subsample draw.
        load_features: load the image features (``image_features``).
        transforms: applied to each sample dict.

    Samples hold ``"lonlat"``, ``"target"`` (float32) and ``"image_features"``.
    """

    name = "LocBench MOSAIKS"

    def __init__(
        self,
        root: str | Path,
        name: str = "population",
        split: str = "test",
        subsample: float | None = None,
        seed: int = 0,
        load_features: bool = True,
        transforms: Transform | None = None,
    ) -> None:
        import pandas as pd

        self.root, self.split, self.target_name = Path(root), split, name
        self.transforms = transforms
        self.name = f"LocBench MOSAIKS {name}"
        y_p, x_p = self.root / f"Y_{name}.csv", self.root / f"X_{name}.npy"
        _require(self.name, self.root, [y_p, x_p] if load_features else [y_p],
                 f"{root}/Y_{name}.csv and {root}/X_{name}.npy")
        table = pd.read_csv(y_p)
        missing = {"lon", "lat", "split", name} - set(table.columns)
        if missing:
            raise InvalidInputError(f"{y_p} lacks columns {sorted(missing)}")
        pos = np.flatnonzero((table["split"] == split).to_numpy())
        if pos.size == 0:
            raise InvalidInputError(f"{y_p} has no rows with split={split!r}")
        if subsample is not None:
            if not 0 < subsample <= 1:
                raise InvalidInputError(f"subsample must be in (0, 1], got {subsample}")
            rng = np.random.default_rng(seed)
            pos = np.sort(rng.choice(pos, max(1, int(pos.size * subsample)), replace=False))
        rows = table.iloc[pos]
        self.lonlat = rows[["lon", "lat"]].to_numpy(dtype=np.float32)
        self.targets = rows[name].to_numpy(dtype=np.float32)
        self.image_probs = None
        if load_features:
            feats = np.load(x_p, mmap_mode="r")
            if feats.shape[0] != len(table):
                raise InvalidInputError(
                    f"{x_p.name} has {feats.shape[0]} rows, {y_p.name} has {len(table)}"
                )
            self.image_features = np.asarray(feats[pos], dtype=np.float32)
        else:
            self.image_features = None

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Sample ``index``: ``lonlat``, ``target`` and ``image_features``."""
        out = self._extra(index)
        out["target"] = torch.tensor(float(self.targets[index]), dtype=torch.float32)
        return self.transforms(out) if self.transforms is not None else out

    def _colour_values(self) -> tuple[npt.NDArray[Any], str]:
        return self.targets, self.target_name


# ----------------------------------------------------------------------------- fixtures

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
            fd = out / "features_inception"
            fd.mkdir(exist_ok=True)
            if probs is not None:
                _save_sparse(fd / f"{dataset}_{split}_preds_sparse.npz", probs)
            if feats is not None:
                _save_npy(fd / f"{dataset}_{split}_net_feats.npy", feats.astype(np.float32))
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
                fd = out / "features_inception"
                fd.mkdir(exist_ok=True)
                if probs is not None:
                    _save_sparse(fd / f"inat{year}_{split}_preds_sparse.npz", probs)
                if feats is not None:
                    _save_npy(fd / f"inat{year}_{split}_net_feats.npy", feats.astype(np.float32))
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
