"""Readers for the released Terra task files and the published forecasting preprocessing.

Terra (NeurIPS 2024 Datasets & Benchmarks, CityMind-Lab/NeurIPS24-Terra) released two
task folders:

* ``Spatio-Temporal_Task/datasets/raw_data/Rainfall_<R>/Rainfall_<R>.h5``: a pandas HDF
  file (``DataFrame.to_hdf``, *fixed* format, key ``t``) holding a daily rainfall table,
  rows = days (``DatetimeIndex``), columns = grid nodes; and ``adj_Rainfall_<R>.pkl``, a
  pickled ``numpy.ndarray`` (N x N binary adjacency). The forecasting code is a BasicTS
  fork: 30-step history, horizons 1/7/10/15/20/30, chronological 0.6/0.2/0.2 split, z-score
  from the training range, calendar features day-of-month and month-of-year.
* ``Spatial_Task/data/{temperature,precipitation,wind}_avg_day.csv``: 64,800 lines, one
  value a line, no header, on the 1-degree global grid; row ``k`` is at
  ``lat = k // 360 - 89 + 0.5`` and ``lon = k % 360 - 180 + 0.5``.

The HDF reader uses ``h5py`` (PyTables, which pandas needs for ``read_hdf``, is not a
dependency): it reads the fixed-format frame layout (``axis0`` = columns, ``axis1`` =
datetime64[ns] index, ``block0_values``) and refuses anything else. The adjacency pickle is
read with a restricted unpickler that can only rebuild a numpy array (the file holds
``numpy.core.multiarray._reconstruct``, ``numpy.ndarray`` and ``numpy.dtype`` and nothing
else, checked with :mod:`pickletools`); any other global raises.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from geoneurips.errors import DataNotFoundError, InvalidInputError

__all__ = [
    "HISTORY",
    "HORIZONS",
    "TERRA_URL",
    "RainfallTable",
    "TerraWindows",
    "calendar_features",
    "grid_coordinates",
    "prepare_windows",
    "read_adjacency",
    "read_grid_csv",
    "read_rainfall_h5",
]

TERRA_URL = (
    "https://github.com/CityMind-Lab/NeurIPS24-Terra (data: huggingface.co/datasets/onedean/Terra)"
)
HISTORY = 30
HORIZONS: tuple[int, ...] = (1, 7, 10, 15, 20, 30)
GRID_ROWS = 64_800

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


def _require(path: Path, dataset: str, layout: str) -> None:
    if not path.is_file():
        raise DataNotFoundError(dataset, path.parent, [path.name], TERRA_URL, layout)


@dataclass(frozen=True)
class RainfallTable:
    """A Terra rainfall table: ``values[t, n]`` (mm/day), ``dates[t]``, ``nodes[n]``."""

    values: NDArray[np.float32]
    dates: NDArray[np.datetime64]
    nodes: NDArray[np.int64]


def read_rainfall_h5(path: str | Path) -> RainfallTable:
    """Read ``Rainfall_<R>.h5`` (pandas fixed-format frame under key ``t``) with h5py."""
    import h5py

    path = Path(path)
    _require(path, "Terra rainfall table", "Rainfall_<R>/Rainfall_<R>.h5")
    with h5py.File(path, "r") as f:
        if "t" not in f:
            raise InvalidInputError(f"{path}: no key 't' (found {sorted(f.keys())})")
        g = f["t"]
        ptype = g.attrs.get("pandas_type", b"")
        if ptype != b"frame" or int(g.attrs.get("nblocks", 0)) != 1:
            raise InvalidInputError(
                f"{path}: key 't' is not a single-block pandas fixed-format frame "
                f"(pandas_type={ptype!r}, nblocks={g.attrs.get('nblocks')})"
            )
        if g["axis1"].attrs.get("kind") != b"datetime64[ns]":
            raise InvalidInputError(f"{path}: the row index is not datetime64[ns]")
        columns = np.asarray(g["axis0"][:], dtype=np.int64)
        items = np.asarray(g["block0_items"][:], dtype=np.int64)
        if not np.array_equal(columns, items):
            raise InvalidInputError(f"{path}: block0_items differ from the column axis")
        dates = np.asarray(g["axis1"][:], dtype=np.int64).astype("datetime64[ns]")
        values = np.asarray(g["block0_values"][:], dtype=np.float32)
    if values.shape != (dates.size, columns.size):
        raise InvalidInputError(
            f"{path}: values {values.shape} do not match ({dates.size} days, {columns.size} nodes)"
        )
    return RainfallTable(values, dates.astype("datetime64[D]"), columns)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can only rebuild numpy arrays (no other global is resolved)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise InvalidInputError(
                f"adjacency pickle refers to {module}.{name}; only numpy arrays are accepted"
            )
        return super().find_class(module, name)


def read_adjacency(path: str | Path) -> NDArray[np.float64]:
    """Read ``adj_Rainfall_<R>.pkl`` (a pickled square ``numpy.ndarray``) safely."""
    path = Path(path)
    _require(path, "Terra adjacency", "Rainfall_<R>/adj_Rainfall_<R>.pkl")
    try:
        obj = _ArrayOnlyUnpickler(io.BytesIO(path.read_bytes())).load()
    except InvalidInputError:
        raise
    except Exception as err:
        raise InvalidInputError(f"{path}: not a readable array pickle ({err})") from err
    if not isinstance(obj, np.ndarray) or obj.ndim != 2 or obj.shape[0] != obj.shape[1]:
        raise InvalidInputError(f"{path}: expected a square 2-D array, got {type(obj).__name__}")
    return np.asarray(obj, dtype=np.float64)


def grid_coordinates(n: int = GRID_ROWS) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(lat, lon) of rows ``0..n-1`` of a Terra 1-degree CSV (``k//360-89+0.5``, ``k%360-180+0.5``)."""
    k = np.arange(n)
    return (k // 360 - 89 + 0.5).astype(np.float64), (k % 360 - 180 + 0.5).astype(np.float64)


def read_grid_csv(
    path: str | Path,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Read a Terra 1-degree CSV: returns ``(lat, lon, value)`` for its 64,800 rows."""
    path = Path(path)
    _require(path, "Terra spatial-task CSV", "data/<variable>_avg_day.csv")
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=1)
    except ValueError as err:
        raise InvalidInputError(f"{path}: not one number a line ({err})") from err
    if values.ndim != 1 or values.size != GRID_ROWS:
        raise InvalidInputError(f"{path}: expected {GRID_ROWS} single values, got {values.shape}")
    lat, lon = grid_coordinates(values.size)
    return lat, lon, values


def calendar_features(dates: NDArray[np.datetime64]) -> NDArray[np.float32]:
    """Calendar features ``[(day-1)/31, (month-1)/12]`` per day, shape ``(T, 2)``.

    The notes record "day-of-month/31 and month/12"; the 0-based offsets follow BasicTS's
    ``generate_training_data`` as we understand it (not verified against Terra's fork:
    the difference is a constant shift of 1/31 and 1/12, which STID's embedding lookup
    in this package is consistent with).
    """
    d = dates.astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    day = (d - month_start.astype("datetime64[D]")).astype(np.int64)  # day-1
    month = (month_start.astype(np.int64) % 12).astype(np.int64)  # month-1
    return np.stack([day / 31.0, month / 12.0], axis=1).astype(np.float32)


@dataclass(frozen=True)
class TerraWindows:
    """Published windows: ``inputs[t]`` = (z-scored value, day/31, month/12) over the history.

    Attributes:
        data: ``(T, N, 3)`` z-scored rainfall plus the two calendar features.
        raw: ``(T, N)`` rainfall in mm/day (targets and metrics use it).
        starts: per split, the first history index of each sample.
        mean, std: the z-score statistics (training range only).
        history, future: window lengths (30 and the largest horizon).
    """

    data: NDArray[np.float32]
    raw: NDArray[np.float32]
    starts: dict[str, NDArray[np.int64]]
    mean: float
    std: float
    history: int
    future: int

    def sample(self, split: str, i: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """``(x (history, N, 3), y (future, N) in mm)`` of sample ``i`` of ``split``."""
        t = int(self.starts[split][i])
        h = self.history
        return self.data[t : t + h], self.raw[t + h : t + h + self.future]


def prepare_windows(
    values: NDArray[np.floating[Any]],
    dates: NDArray[np.datetime64],
    *,
    history: int = HISTORY,
    horizons: Sequence[int] = HORIZONS,
    ratios: tuple[float, float, float] = (0.6, 0.2, 0.2),
) -> TerraWindows:
    """The published preprocessing (BasicTS ``generate_training_data``).

    Samples start at every ``t`` with ``t + history + max(horizons) <= T``; the first 60 %
    are train, the next 20 % validation, the rest test (chronological). The z-score mean
    and std come from ``values[: end of the last training sample's history]``.
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or values.shape[0] != len(dates):
        raise InvalidInputError(f"values {values.shape} must be (T, N) with T = len(dates)")
    future = max(horizons)
    n = values.shape[0] - history - future + 1
    if n < 10:
        raise InvalidInputError(f"series of {values.shape[0]} steps is too short for windows")
    n_train = round(n * ratios[0])
    n_val = round(n * ratios[1])
    starts = np.arange(n, dtype=np.int64)
    train_end = int(starts[n_train - 1]) + history
    mean = float(values[:train_end].mean())
    std = float(values[:train_end].std())
    z = (values - mean) / std
    cal = calendar_features(dates)
    data = np.concatenate(
        [z[..., None], np.broadcast_to(cal[:, None, :], (*values.shape, 2))], axis=2
    ).astype(np.float32)
    split = {
        "train": starts[:n_train],
        "val": starts[n_train : n_train + n_val],
        "test": starts[n_train + n_val :],
    }
    return TerraWindows(data, values, split, mean, std, history, future)


class TerraRainfall:
    """``torch.utils.data.Dataset``-style reader of one Terra region's forecasting split.

    ``root`` holds ``Rainfall_<region>.h5`` and ``adj_Rainfall_<region>.pkl`` (the published
    ``raw_data/Rainfall_<R>/`` folder). Item ``i`` is ``{"x": (30, N, 3), "y": (30, N)}``
    float tensors (y in mm/day).
    """

    def __init__(self, root: str | Path, region: str = "UK", split: str = "train") -> None:
        if split not in ("train", "val", "test"):
            raise InvalidInputError(f"split must be train/val/test, got {split!r}")
        root = Path(root)
        self.table = read_rainfall_h5(root / f"Rainfall_{region}.h5")
        self.adjacency = read_adjacency(root / f"adj_Rainfall_{region}.pkl")
        if self.adjacency.shape[0] != self.table.values.shape[1]:
            raise InvalidInputError(
                f"adjacency {self.adjacency.shape} does not match {self.table.values.shape[1]} nodes"
            )
        self.windows = prepare_windows(self.table.values, self.table.dates)
        self.split = split

    def __len__(self) -> int:
        return len(self.windows.starts[self.split])

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        x, y = self.windows.sample(self.split, i)
        return {"x": torch.from_numpy(np.array(x)), "y": torch.from_numpy(np.array(y))}

    def plot(self, node: int = 0) -> Any:
        """Plot one node's rainfall over time with the split boundaries."""
        from geoneurips.demo import new_figure

        fig, ax = new_figure(1)
        ax = ax if not isinstance(ax, np.ndarray) else ax.flat[0]
        ax.plot(self.table.dates, self.table.values[:, node], lw=0.4)
        for name in ("val", "test"):
            t = int(self.windows.starts[name][0]) + self.windows.history
            ax.axvline(self.table.dates[t], color="k", ls="--")
        ax.set_ylabel("rainfall (mm/day)")
        return fig
