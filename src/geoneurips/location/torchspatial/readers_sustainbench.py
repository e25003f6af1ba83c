"""LocBench SustainBench regression tasks (TorchSpatial README v3; Yeh et al., SustainBench,
NeurIPS 2021 Datasets & Benchmarks, DHS survey clusters).

Published layout (TorchSpatial ``main/datasets.py``, ``load_sustainbench_data``; files from
the TorchSpatial figshare release, issue #6):

``<root>/dhs_trainval_labels.csv`` and ``<root>/dhs_test_labels.csv``, one row per DHS
cluster with at least ``lon``, ``lat`` (degrees), ``nl_mean`` (mean night-light of the
cluster's satellite image, the only "image" feature LocBench uses for these tasks) and one
``<label>_normalized`` column per task: ``asset_index``, ``under5_mort``, ``water_index``,
``women_bmi``, ``women_edu``, ``sanitation_index`` (the public dataset names are
``sustainbench_<label>``). Rows whose label is missing are dropped, as in the public loader.

**Public-code bug (not reproduced):** with its default ``resample=True`` the public loader
calls ``da.sample(frac=sample_fraction, ...)`` where ``sample_fraction`` is not defined in
that function (a NameError); every row is kept here unless ``subsample`` is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from geoneurips.errors import InvalidInputError
from geoneurips.location.torchspatial.fixtures import SplitArrays
from geoneurips.location.torchspatial.locbench import Transform, _LocBenchBase, _require

__all__ = ["SUSTAINBENCH_LABELS", "SustainBench", "write_sustainbench_fixture"]

SUSTAINBENCH_LABELS = ("asset_index", "under5_mort", "water_index", "women_bmi", "women_edu",
                       "sanitation_index")
_FILES = {"trainval": "dhs_trainval_labels.csv", "test": "dhs_test_labels.csv"}


def _label_name(label: str) -> str:
    key = label.removeprefix("sustainbench_")
    if key not in SUSTAINBENCH_LABELS:
        raise InvalidInputError(
            f"unknown SustainBench label {label!r}; choose one of {', '.join(SUSTAINBENCH_LABELS)}"
        )
    return key


class SustainBench(_LocBenchBase):
    """LocBench SustainBench regression: a DHS indicator from location (+ night lights).

    Args:
        root: folder with ``dhs_trainval_labels.csv`` and ``dhs_test_labels.csv``.
        label: one of :data:`SUSTAINBENCH_LABELS` (``sustainbench_`` prefix accepted).
        split: ``"trainval"`` or ``"test"``.
        subsample: keep this fraction of the rows at random (default: all).
        seed: seed of the subsample draw.
        transforms: applied to each sample dict.

    Samples hold ``"lonlat"`` (2,), ``"target"`` (the ``<label>_normalized`` value, float32)
    and ``"image_features"`` (1,): ``nl_mean``.
    """

    def __init__(
        self,
        root: str | Path,
        label: str = "asset_index",
        split: str = "test",
        subsample: float | None = None,
        seed: int = 0,
        transforms: Transform | None = None,
    ) -> None:
        import pandas as pd

        self.label = _label_name(label)
        if split not in _FILES:
            raise InvalidInputError(f"split must be 'trainval' or 'test', got {split!r}")
        self.root, self.split, self.transforms = Path(root), split, transforms
        self.name = f"LocBench SustainBench {self.label}"
        path = self.root / _FILES[split]
        _require(self.name, self.root, [path],
                 f"{root}/dhs_trainval_labels.csv and {root}/dhs_test_labels.csv "
                 "(columns lon, lat, nl_mean, <label>_normalized)")
        table = pd.read_csv(path)
        column = f"{self.label}_normalized"
        missing = {"lon", "lat", "nl_mean", column} - set(table.columns)
        if missing:
            raise InvalidInputError(f"{path} lacks columns {sorted(missing)}")
        table = table.dropna(subset=[column])
        if subsample is not None:
            if not 0 < subsample <= 1:
                raise InvalidInputError(f"subsample must be in (0, 1], got {subsample}")
            table = table.sample(frac=subsample, random_state=seed)
        if len(table) == 0:
            raise InvalidInputError(f"{path} has no rows with a {column} value")
        self.lonlat = table[["lon", "lat"]].to_numpy(dtype=np.float32)
        self.targets = table[column].to_numpy(dtype=np.float32)
        self.image_features = table[["nl_mean"]].to_numpy(dtype=np.float32)
        self.image_probs = None

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Sample ``index``: ``lonlat``, ``target`` and ``image_features`` (``nl_mean``)."""
        out = self._extra(index)
        out["target"] = torch.tensor(float(self.targets[index]), dtype=torch.float32)
        return self.transforms(out) if self.transforms is not None else out

    def _colour_values(self) -> tuple[npt.NDArray[Any], str]:
        return self.targets, f"{self.label} (normalised)"


def write_sustainbench_fixture(
    root: str | Path,
    splits: Mapping[str, SplitArrays] | None = None,
    *,
    label: str = "asset_index",
    seed: int = 0,
    n: int = 20,
) -> Path:
    """Write ``dhs_{trainval,test}_labels.csv`` in the published layout.

    ``splits``: ``"trainval"``/``"test"`` -> :class:`SplitArrays` (``labels`` the normalised
    target, ``features`` ``(N,)`` or ``(N, 1)`` the ``nl_mean``; random when ``None``). The
    other five label columns are written empty (NaN), like clusters without that survey.
    Random splits of ``n`` rows are made for missing entries.
    """
    import pandas as pd

    from geoneurips.io import atomic_path

    key = _label_name(label)
    out = Path(root)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, name in _FILES.items():
        arr = (splits or {}).get(split)
        if arr is None:
            ll = np.stack([rng.uniform(-20, 50, n), rng.uniform(-35, 35, n)], 1)
            arr = SplitArrays(ll, rng.normal(size=n), features=rng.uniform(0, 60, n))
        nl = (np.zeros(len(arr.labels)) if arr.features is None
              else np.asarray(arr.features, dtype=np.float64).reshape(-1))
        frame = pd.DataFrame({
            "DHSID_EA": [f"XX-{split}-{i:05d}" for i in range(len(arr.labels))],
            "lat": np.asarray(arr.lonlat)[:, 1], "lon": np.asarray(arr.lonlat)[:, 0],
            "nl_mean": nl,
        })
        for other in SUSTAINBENCH_LABELS:
            frame[f"{other}_normalized"] = (np.asarray(arr.labels, dtype=np.float64)
                                            if other == key else np.nan)
        with atomic_path(out / name) as tmp:
            frame.to_csv(tmp, index=False)
    return out
