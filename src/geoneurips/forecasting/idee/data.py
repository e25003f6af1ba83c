"""IDEE synthetic data cubes in the published netCDF layout, read through xarray.

Published layout (``HakamShams/Synthetic_Multivariate_Anomalies``, data doi
10.60507/FK2/RD9E33), one folder per experiment ``<exp>`` (``exp_1``, ``exp_2``, ``exp_3``)::

    datacube_<exp>.nc        var_01 .. var_NN (time, y, x) float32;
                             anomaly, anomaly_extreme (var, time, y, x) byte;
                             extreme (time, y, x) byte, 0..3 (1 = extreme, 2/3 = +-1/+-2 steps);
                             coords time = 1..T (int32), latitude/longitude (y, x) float32,
                             var = names (on anomaly)
    coupling_matrix_<exp>.npy  (V, interval) uint8
    climatology_<exp>.nc     var_NN (climatology=[min, max, mean, median, std], time=52, y, x)
                             float32, over the training part only
    statistic_<exp>.json     {min|max|mean|median|std: {var_NN: "value"}} over the training part

The public writer stores the masks as unsigned bytes in a netCDF4 (HDF5) file; netCDF3
(scipy's engine, what is installed here) has no unsigned byte, so :func:`write_datacube` stores
them as signed bytes (values 0..3 fit) and the reader returns ``uint8`` either way. The
reader opens whatever xarray can open (netCDF4 files need ``h5netcdf`` or ``netCDF4``), and
``chunks=`` keeps the cube lazy in Dask for cubes that do not fit in memory.

Splits (public ``Synthetic_dataset.py``): time steps 1-1768 train, 1769-2080 val, 2081-2392
test of 2392; smaller cubes keep the same fractions. A sample is a window of ``window``
(paper: 8) steps normalised by the pixel-wise weekly climatology ``(x - median) / std``,
clipped to +-10; its label is ``extreme[t_last] == 1`` (classes 2/3 count as 0).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.io import atomic_path

from .generator import SyntheticCube, exp_config, generate

if TYPE_CHECKING:
    import torch
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = [
    "IDEESynthetic",
    "climatology_normalise",
    "read_climatology",
    "read_datacube",
    "split_range",
    "var_names",
    "write_datacube",
    "write_fixture",
]

URL = (
    "https://doi.org/10.60507/FK2/RD9E33 (or generate: HakamShams/Synthetic_Multivariate_Anomalies)"
)
STATS = ("min", "max", "mean", "median", "std")
Split = Literal["train", "val", "test", "all"]
_STAT_FNS: tuple[Callable[..., Any], ...] = (np.min, np.max, np.mean, np.median, np.std)


def var_names(n: int) -> list[str]:
    """``var_01 .. var_09, var10 ..`` as the public writer names them."""
    return [f"var_0{i + 1}" if i < 9 else f"var{i + 1}" for i in range(n)]


def _files(root: Path, exp: str) -> dict[str, Path]:
    return {
        "cube": root / f"datacube_{exp}.nc",
        "clim": root / f"climatology_{exp}.nc",
        "ecm": root / f"coupling_matrix_{exp}.npy",
        "stat": root / f"statistic_{exp}.json",
    }


def write_datacube(
    root: str | Path, cube: SyntheticCube, exp: str | None = None
) -> dict[str, Path]:
    """Write the four published files for ``cube`` into ``root`` (atomically, netCDF3)."""
    import xarray as xr

    exp = exp or cube.config.name
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    files = _files(root, exp)
    n_var, t, h, w = cube.data.shape
    names = var_names(n_var)
    lon, lat = np.meshgrid(np.linspace(0, w / 10, w), np.linspace(0, h / 10, h))
    coords = {
        "time": np.arange(1, t + 1, dtype=np.int32),
        "latitude": (("y", "x"), lat.astype(np.float32)),
        "longitude": (("y", "x"), lon.astype(np.float32)),
    }
    ds = xr.Dataset(coords=coords)
    for i, nm in enumerate(names):
        ds[nm] = (("time", "y", "x"), cube.data[i])
    ds["anomaly"] = (("var", "time", "y", "x"), cube.anomaly.astype(np.int8))
    ds["anomaly_extreme"] = (("var", "time", "y", "x"), cube.anomaly_extreme.astype(np.int8))
    ds["extreme"] = (("time", "y", "x"), cube.extreme.astype(np.int8))
    ds = ds.assign_coords(var=np.array(names, dtype=object))
    cfg = cube.config
    ds.attrs.update(
        data="artificial datacube with anomalous and extreme events",
        random_seed=cfg.seed,
        time_extent=t,
        latitudinal_extent=h,
        longitudinal_extent=w,
        n_independent_variables=cfg.n_ind,
        n_dependent_variables=len(cfg.dep_coupling),
        extreme_timestep=cfg.pos_extreme,
        extreme_added_classes=cfg.n_added_classes,
        training_end_time=cfg.training_end,
    )
    with atomic_path(files["cube"]) as tmp:
        ds.to_netcdf(tmp, engine="scipy")
    train = cube.data[:, : cfg.training_end]
    clim = xr.Dataset(
        coords={
            "climatology": np.array(STATS, dtype=object),
            "time": np.arange(1, 53, dtype=np.int32),
            "latitude": (("y", "x"), lat.astype(np.float32)),
            "longitude": (("y", "x"), lon.astype(np.float32)),
        }
    )
    for i, nm in enumerate(names):
        stats = np.zeros((5, 52, h, w), np.float32)
        for week in range(52):
            xw = train[i, week::52]
            if len(xw) == 0:
                raise InvalidInputError(
                    f"the training part ({cfg.training_end} steps) is < 52 weeks"
                )
            for k, f in enumerate(_STAT_FNS):
                stats[k, week] = f(xw, axis=0)
        clim[nm] = (("climatology", "time", "y", "x"), stats)
    clim.attrs.update(data="climatology for artificial datacube", random_seed=cfg.seed)
    with atomic_path(files["clim"]) as tmp:
        clim.to_netcdf(tmp, engine="scipy")
    with atomic_path(files["ecm"]) as tmp, open(tmp, "wb") as fh:
        np.save(fh, cube.coupling.astype(np.uint8))
    stat = {
        s: {nm: str(float(f(train[i]))) for i, nm in enumerate(names)}
        for s, f in zip(STATS, _STAT_FNS, strict=True)
    }
    with atomic_path(files["stat"]) as tmp:
        Path(tmp).write_text(json.dumps(stat))
    return files


def write_fixture(
    root: str | Path,
    exp: str = "exp_1",
    shape: tuple[int, int, int] = (52 * 4, 16, 16),
    seed: int = 0,
) -> SyntheticCube:
    """Generate a small ``exp`` cube (published generator, scaled) and write its files."""
    cube = generate(exp_config(exp, shape, seed=seed))
    write_datacube(root, cube, exp)
    return cube


def _missing(root: Path, exp: str, keys: tuple[str, ...]) -> None:
    files = _files(root, exp)
    missing = [files[k].name for k in keys if not files[k].is_file()]
    if missing:
        raise DataNotFoundError(
            f"IDEE synthetic {exp}", root, missing, url=URL, layout=f"<root>/{missing[0]}"
        )


def read_datacube(
    root: str | Path, exp: str = "exp_1", chunks: dict[str, int] | None = None
) -> xr.Dataset:
    """Open ``datacube_<exp>.nc`` (lazy with Dask when ``chunks`` is given)."""
    import xarray as xr

    root = Path(root)
    _missing(root, exp, ("cube",))
    ds = xr.open_dataset(_files(root, exp)["cube"], chunks=chunks)
    for k in ("anomaly", "anomaly_extreme", "extreme"):
        if k not in ds:
            raise InvalidInputError(f"{exp}: datacube has no {k!r} variable")
        ds[k] = ds[k].astype(np.uint8)
    return ds


def read_climatology(root: str | Path, exp: str = "exp_1") -> xr.Dataset:
    """Open ``climatology_<exp>.nc`` (variables ``(climatology, time=52, y, x)``)."""
    import xarray as xr

    root = Path(root)
    _missing(root, exp, ("clim",))
    return xr.open_dataset(_files(root, exp)["clim"]).load()


def climatology_normalise(
    x: NDArray[np.floating[Any]],
    median: NDArray[np.floating[Any]],
    std: NDArray[np.floating[Any]],
    clip: float = 10.0,
) -> NDArray[np.float32]:
    """``(x - median) / std`` clipped to ``+-clip`` (std 0 is treated as 1)."""
    s = np.where(std > 0, std, 1.0)
    return np.clip((x - median) / s, -clip, clip).astype(np.float32)


def split_range(n_time: int, split: Split) -> tuple[int, int]:
    """0-based ``[start, stop)`` of a split, the published 1768/2080/2392 fractions."""
    a, b = round(n_time * 1768 / 2392), round(n_time * 2080 / 2392)
    return {"train": (0, a), "val": (a, b), "test": (b, n_time), "all": (0, n_time)}[split]


class IDEESynthetic:
    """Windows of an IDEE synthetic cube (TorchGeo ``NonGeoDataset`` style).

    A sample holds ``image (V, 1, T, y, x)`` float32 (climatology-normalised), ``mask (y, x)``
    int64 (extreme at the last step), ``drivers`` / ``anomaly (V, T, y, x)`` uint8 and
    ``extreme (T, y, x)`` uint8 (classes 0..3 over the window), ``t_last`` (0-based).

    Args:
        root: folder holding ``datacube_<exp>.nc`` and ``climatology_<exp>.nc``.
        exp: experiment name.
        split: ``train`` / ``val`` / ``test`` / ``all``.
        window: time steps per sample (paper: 8).
        transforms: callable applied to each sample dict.
        chunks: Dask chunks (the cube stays lazy; each sample computes its window).
        times: ``(first, last)`` 1-based inclusive time steps (the public loader's
            ``times``, e.g. ``(1, 52 * 34)``); when given it replaces ``split`` and every
            window lies inside it. The climatology stays the file's (whole training part).
    """

    def __init__(
        self,
        root: str | Path,
        exp: str = "exp_1",
        split: Split = "train",
        window: int = 8,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        chunks: dict[str, int] | None = None,
        times: tuple[int, int] | None = None,
    ) -> None:
        if split not in ("train", "val", "test", "all"):
            raise InvalidInputError(f"split must be train/val/test/all, got {split!r}")
        self.root, self.exp, self.split, self.window = Path(root), exp, split, int(window)
        self.transforms = transforms
        _missing(self.root, exp, ("cube", "clim"))
        ds = read_datacube(self.root, exp, chunks)
        self.names = sorted(str(k) for k in ds.data_vars if str(k).startswith("var"))
        if not self.names:
            raise InvalidInputError(f"{exp}: datacube has no var_NN variables")
        clim = read_climatology(self.root, exp)
        self.median = np.stack([clim[n].sel(climatology="median").values for n in self.names])
        self.std = np.stack([clim[n].sel(climatology="std").values for n in self.names])
        self.lazy = chunks is not None
        self.ds = ds if self.lazy else ds.load()
        self.times = np.asarray(ds["time"].values)
        self.n_time = len(self.times)
        if times is None:
            start, stop = split_range(self.n_time, split)
            self.t_last = np.arange(max(start, self.window - 1), stop)
        else:
            first, last = (int(v) for v in times)
            if not 1 <= first <= last <= self.n_time:
                raise InvalidInputError(
                    f"times must satisfy 1 <= first <= last <= {self.n_time}, got {times}"
                )
            self.t_last = np.arange(first - 1 + self.window - 1, last)
        if len(self.t_last) == 0:
            what = f"times {times}" if times is not None else f"split {split!r}"
            raise InvalidInputError(f"{what} has no window of {self.window} steps")

    def __len__(self) -> int:
        return len(self.t_last)

    def _arr(self, name: str, sl: slice) -> NDArray[Any]:
        da = self.ds[name].isel(time=sl)
        return np.asarray(da.values)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        t1 = int(self.t_last[index])
        sl = slice(t1 - self.window + 1, t1 + 1)
        x = np.stack([self._arr(n, sl) for n in self.names])
        weeks = (self.times[sl] - 1) % 52
        xn = climatology_normalise(x, self.median[:, weeks], self.std[:, weeks])
        ext = self._arr("extreme", sl).astype(np.uint8)
        sample: dict[str, Any] = {
            "image": torch.from_numpy(xn[:, None]),
            "mask": torch.from_numpy((ext[-1] == 1).astype(np.int64)),
            "drivers": torch.from_numpy(self._arr("anomaly_extreme", sl).astype(np.uint8)),
            "anomaly": torch.from_numpy(self._arr("anomaly", sl).astype(np.uint8)),
            "extreme": torch.from_numpy(ext),
            "t_last": t1,
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def arrays(self) -> dict[str, NDArray[Any]]:
        """Every window stacked: ``image (N, V, 1, T, y, x)`` etc. (small cubes only)."""
        items = [self[i] for i in range(len(self))]
        out: dict[str, NDArray[Any]] = {}
        for k in ("image", "mask", "drivers", "anomaly", "extreme"):
            out[k] = np.stack([np.asarray(it[k]) for it in items])
        out["t_last"] = np.asarray([it["t_last"] for it in items])
        return out

    def plot(
        self, sample: dict[str, Any], show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Last step of the first variable, the extreme mask and the driver count."""
        from geoneurips.demo import new_figure

        fig, axes = new_figure(3, 1, 3.0)
        img = np.asarray(sample["image"])[0, 0, -1]
        axes[0, 0].imshow(img, cmap="RdBu_r", vmin=-3, vmax=3)
        axes[0, 1].imshow(np.asarray(sample["mask"]), cmap="gray")
        drivers = np.asarray(sample["drivers"]).sum(axis=(0, 1))
        axes[0, 2].imshow(drivers, cmap="magma")
        if "prediction" in sample:
            axes[0, 1].contour(np.asarray(sample["prediction"]), levels=[0.5], colors="r")
        if show_titles:
            for ax, t in zip(axes[0], (self.names[0], "extreme (t_last)", "drivers"), strict=True):
                ax.set_title(t)
        for ax in axes[0]:
            ax.axis("off")
        if suptitle:
            fig.suptitle(suptitle)
        return fig


def to_tensor_batch(arrays: dict[str, NDArray[Any]]) -> dict[str, torch.Tensor]:
    """numpy arrays -> tensors (helper for the pipeline)."""
    import torch

    return {k: torch.as_tensor(v) for k, v in arrays.items()}
