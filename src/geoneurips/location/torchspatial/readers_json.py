"""LocBench readers for the JSON layouts: BirdSnap, NABirds, iNat2017/18 and fMoW.

BirdSnap / NABirds ship one ``<ds>_with_loc_2019.json`` with every split; iNat and fMoW a
locations json beside a COCO-style annotation json per split (shared reader
:func:`_read_coco_split`). The file layouts are described in :mod:`.data`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from geoneurips.errors import InvalidInputError
from geoneurips.location.torchspatial.locbench import (
    LocBenchClassification,
    Transform,
    _load_sparse,
    _nan_if_none,
    _require_split,
    _want,
)

__all__ = ["BirdSnap", "FMoW", "INat", "NABirds"]


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
        layout = (
            f"{root}/{ann.name} and {root}/features_inception/{self.ds_key}_<split>_"
            "preds_sparse.npz (+ _net_feats.npy)"
        )
        _require_split(
            self.name, self.root, split, [ann], layout,
            (load_preds, preds_p), (load_features, feats_p),
        )
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
        _require_split(
            self.name, self.root, split, [loc_p, ann_p, cat_p],
            f"{root}/<split>{year}_locations.json, <split>{year}.json, categories{year}.json, "
            f"features_inception/inat{year}_<split>_preds_sparse.npz",
            (load_preds, preds_p), (load_features, feats_p),
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
        _require_split(
            self.name, self.root, split, [loc_p, ann_p, cat_p],
            f"{root}/<split>_location.json, <split>.json, category.json, "
            "feature_moco/fmow_<split>_preds.npy",
            (load_preds, preds_p), (load_features, feats_p),
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

