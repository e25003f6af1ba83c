"""LocBench readers for the CSV layouts: YFCC (classification) and MOSAIKS (regression).

The file layouts are described in :mod:`.data`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from geoneurips.errors import InvalidInputError
from geoneurips.location.torchspatial.locbench import (
    LocBenchClassification,
    Transform,
    _LocBenchBase,
    _require,
    _require_split,
    _want,
)

__all__ = ["YFCC", "Mosaiks"]


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
        _require_split(
            self.name, self.root, split, [table_p, names_p],
            f"{root}/train_test_split.csv, class_names.csv, "
            "features_inception/YFCC_<split>_preds.npy",
            (load_preds, preds_p), (load_features, feats_p),
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

