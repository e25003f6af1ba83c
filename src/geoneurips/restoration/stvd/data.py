"""FV3GFS precipitation-downscaling data in the layout read by STVD (Srivastava et al.,
NeurIPS 2024, arXiv 2312.06071, section 4.1 "Data"; mandt-lab/STVD ``data/vsrdata_ensemble.py``).

Published on-disk layout (zarr stores written by xarray, one folder per ensemble member
``{m:04d}`` = ``0001`` ... ``0011``; dimensions ``(time, tile, grid_yt, grid_xt)``, 6 cubed-sphere
tiles, 3-hourly means)::

    ROOT/
      c48_precip_plus_more_ave/{m:04d}/sfc_8xdaily_ave_coarse.zarr
          PRATEsfc_coarse UGRD10m_coarse VGRD10m_coarse TMPsfc_coarse CPRATsfc_coarse
          DSWRFtoa_coarse                                   (time, tile, 48, 48)
      c48_atmos_ave/{m:04d}/atmos_8xdaily_ave_coarse.zarr
          ps_coarse u700_coarse v700_coarse vertically_integrated_liq_wat_coarse
          vertically_integrated_sphum_coarse                (time, tile, 48, 48)
      c384_precip_ave/{m:04d}/sfc_8xdaily_ave.zarr
          PRATEsfc                                          (time, tile, 384, 384)
      c384_topo/{m:04d}/atmos_static.zarr
          zsurf                                             (tile, 384, 384)

Training statistics (pickled ``{channel: {"min": float, "max": float}}`` dicts, global over
members 1-10), in ``STATS_ROOT`` (the public code keeps them in its ``data/`` folder; here
``stats_root`` defaults to ``ROOT``)::

      ensemble_c48_trainstats/chl.pkl  atm_chl.pkl  log_chl.pkl
      ensemble_c384_trainstats/chl.pkl  log_chl.pkl  topo.pkl

Splits: ``train`` = members 1-10 (the public code draws a random member and tile per item; here
every (member, tile, window) triple is one item, which is the same distribution without the
unseeded ``np.random.seed()`` call), ``val``/``test`` = member 11 with tile ``idx % 6``.

Normalisation as published: precipitation ``log(x - min + 1e-14)`` then min-max with the log
statistics; every other channel (and ``zsurf``) min-max with its statistics. Values are in
[0, 1]; the model maps them to [-1, 1] (``x * 2 - 1``). The scale factor (8 for C48 -> C384)
is inferred from the store shapes.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torchgeo.datasets import NonGeoDataset

from ...errors import DataNotFoundError, InvalidInputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "C48_ATMOS_CHANNELS",
    "C48_SFC_CHANNELS",
    "C384_CHANNELS",
    "EPS",
    "FV3GFSDownscaling",
    "advected_precipitation",
    "load_stats",
    "store_paths",
    "write_fixture",
]

C48_SFC_CHANNELS: tuple[str, ...] = (
    "PRATEsfc_coarse", "UGRD10m_coarse", "VGRD10m_coarse", "TMPsfc_coarse",
    "CPRATsfc_coarse", "DSWRFtoa_coarse",
)
C48_ATMOS_CHANNELS: tuple[str, ...] = (
    "ps_coarse", "u700_coarse", "v700_coarse", "vertically_integrated_liq_wat_coarse",
    "vertically_integrated_sphum_coarse",
)
C384_CHANNELS: tuple[str, ...] = ("PRATEsfc",)
TOPO_CHANNEL = "zsurf"
EPS = 1e-14
ENSEMBLE = 11
URL = "https://github.com/mandt-lab/STVD (FV3GFS ensemble zarr stores, 'data comes later')"
STAT_FILES = {
    "c48_chl": "ensemble_c48_trainstats/chl.pkl",
    "c48_atm_chl": "ensemble_c48_trainstats/atm_chl.pkl",
    "c48_log_chl": "ensemble_c48_trainstats/log_chl.pkl",
    "c384_chl": "ensemble_c384_trainstats/chl.pkl",
    "c384_log_chl": "ensemble_c384_trainstats/log_chl.pkl",
    "c384_topo": "ensemble_c384_trainstats/topo.pkl",
}
LAYOUT = (
    "ROOT/c48_precip_plus_more_ave/{m:04d}/sfc_8xdaily_ave_coarse.zarr, "
    "ROOT/c48_atmos_ave/{m:04d}/atmos_8xdaily_ave_coarse.zarr, "
    "ROOT/c384_precip_ave/{m:04d}/sfc_8xdaily_ave.zarr, ROOT/c384_topo/{m:04d}/atmos_static.zarr "
    "and ROOT/ensemble_c48_trainstats/*.pkl, ROOT/ensemble_c384_trainstats/*.pkl"
)


def store_paths(root: str | Path, member: int) -> dict[str, Path]:
    """The four zarr stores of ensemble ``member`` (1-based) under ``root``."""
    r = Path(root)
    m = f"{member:04d}"
    return {
        "sfc": r / "c48_precip_plus_more_ave" / m / "sfc_8xdaily_ave_coarse.zarr",
        "atmos": r / "c48_atmos_ave" / m / "atmos_8xdaily_ave_coarse.zarr",
        "precip": r / "c384_precip_ave" / m / "sfc_8xdaily_ave.zarr",
        "topo": r / "c384_topo" / m / "atmos_static.zarr",
    }


class _StatsUnpickler(pickle.Unpickler):
    """Only builtins containers/numbers and numpy scalars: the stats files are pickles."""

    _ALLOWED = {
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "dtype"), ("numpy", "float64"), ("numpy", "float32"),
        ("builtins", "dict"), ("builtins", "float"), ("builtins", "int"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a stats file")


def load_stats(path: str | Path) -> dict[str, dict[str, float]]:
    """Read one published statistics pickle ``{channel: {"min": x, "max": y}}`` safely.

    Raises:
        InvalidInputError: unreadable file, forbidden pickled object or wrong structure.
    """
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = _StatsUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, OSError, AttributeError, ValueError) as exc:
        raise InvalidInputError(f"cannot read statistics file {str(p)!r}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInputError(f"statistics file {str(p)!r} does not hold a dict")
    out: dict[str, dict[str, float]] = {}
    for k, v in raw.items():
        if not (isinstance(v, dict) and "min" in v and "max" in v):
            raise InvalidInputError(f"{str(p)!r}: entry {k!r} lacks 'min'/'max'")
        lo, hi = float(v["min"]), float(v["max"])
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
            raise InvalidInputError(f"{str(p)!r}: entry {k!r} has min={lo}, max={hi}")
        out[str(k)] = {"min": lo, "max": hi}
    return out


def _minmax(x: np.ndarray, s: dict[str, float]) -> np.ndarray:
    # a constant channel (max == min) maps to 0 instead of dividing by zero
    return (x - s["min"]) / ((s["max"] - s["min"]) or 1.0)


class FV3GFSDownscaling(NonGeoDataset):
    """Clips of ``length`` consecutive 3-hourly FV3GFS fields (paper: 5 frames).

    A map-style ``torch.utils.data.Dataset`` (TorchGeo ``NonGeoDataset``: the cubed-sphere
    stores carry no CRS, samples are indexed by (member, tile, window)).

    Args:
        root: folder with the zarr stores (see the module docstring).
        split: ``"train"`` (``train_members``, every tile) or ``"val"``/``"test"``
            (``eval_member``, tile ``idx % tiles`` as in the public loader).
        length: frames per clip.
        multi: 11 coarse channels plus topography (the paper's full model) when true,
            precipitation only otherwise.
        logscale: the published log transform of precipitation.
        train_members, eval_member: 1-based member numbers (published: 1-10 and 11).
        stats_root: folder of ``ensemble_c48_trainstats``/``ensemble_c384_trainstats``
            (default ``root``).
        transforms: optional callable applied to each sample dict.

    Samples: ``image`` float32 ``(T, C, h, w)`` (C = 11 or 1, order
    :data:`C48_SFC_CHANNELS` + :data:`C48_ATMOS_CHANNELS`), ``target`` ``(T, 1, H, W)``
    (normalised PRATEsfc), ``topo`` ``(T, 1, H, W)`` (normalised zsurf; zeros when not
    ``multi``), and ``member``, ``tile``, ``time`` (int64 scalars).

    Raises:
        DataNotFoundError: a store or statistics file is missing (message gives the layout).
        InvalidInputError: missing variables, inconsistent shapes, non-integer scale factor,
            too few time steps, NaN values in a sample.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        length: int = 5,
        multi: bool = True,
        logscale: bool = True,
        train_members: Sequence[int] = tuple(range(1, 11)),
        eval_member: int = 11,
        stats_root: str | Path | None = None,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        import xarray as xr

        if split not in ("train", "val", "test"):
            raise InvalidInputError(f"split must be 'train', 'val' or 'test', not {split!r}")
        if length < 1:
            raise InvalidInputError(f"length must be >= 1, got {length}")
        self.root = Path(root)
        self.split, self.length, self.multi, self.logscale = split, length, multi, logscale
        self.transforms = transforms
        self.members = list(train_members) if split == "train" else [eval_member]
        sroot = Path(stats_root) if stats_root is not None else self.root
        missing = [str(p) for m in self.members for p in store_paths(self.root, m).values()
                   if not p.exists()]
        missing += [str(sroot / f) for f in STAT_FILES.values() if not (sroot / f).is_file()]
        if missing:
            raise DataNotFoundError("FV3GFS downscaling (STVD)", self.root, missing, URL, LAYOUT)
        self.stats = {k: load_stats(sroot / f) for k, f in STAT_FILES.items()}
        self.c48_channels = list(C48_SFC_CHANNELS) if multi else [C48_SFC_CHANNELS[0]]
        self.atmos_channels = list(C48_ATMOS_CHANNELS) if multi else []
        self._stores: dict[int, dict[str, Any]] = {}
        for m in self.members:
            paths = store_paths(self.root, m)
            stores = {}
            for key, p in paths.items():
                try:
                    stores[key] = xr.open_zarr(p, chunks=None)
                except Exception as exc:  # zarr raises several unrelated types
                    raise InvalidInputError(f"cannot open zarr store {str(p)!r}: {exc}") from exc
            self._stores[m] = stores
        self._check()
        self.windows = self.time_steps - length + 1
        if self.windows < 1:
            raise InvalidInputError(
                f"stores have {self.time_steps} time steps, fewer than length={length}"
            )

    def _check(self) -> None:
        need = {
            "sfc": self.c48_channels, "atmos": self.atmos_channels,
            "precip": list(C384_CHANNELS), "topo": [TOPO_CHANNEL] if self.multi else [],
        }
        shapes: dict[str, tuple[int, ...]] = {}
        for m, stores in self._stores.items():
            for key, names in need.items():
                for n in names:
                    if n not in stores[key].data_vars:
                        raise InvalidInputError(
                            f"variable {n!r} missing from {str(store_paths(self.root, m)[key])!r}"
                        )
                    dims = stores[key][n].dims
                    want = ("tile",) if key == "topo" else ("time", "tile")
                    if any(d not in dims for d in want) or len(dims) != len(want) + 2:
                        raise InvalidInputError(
                            f"{n!r} in member {m:04d} has dims {dims}, expected "
                            f"{want + ('grid_yt', 'grid_xt')}"
                        )
                    shape = tuple(stores[key][n].transpose(*want, ...).shape)
                    shapes.setdefault(f"{key}", shape)
                    if shapes[key] != shape:
                        raise InvalidInputError(
                            f"{n!r} in member {m:04d} has shape {shape}, expected {shapes[key]}"
                        )
        t, tiles, h, w = shapes["sfc"]
        _, _, hh, ww = shapes["precip"]
        if shapes["precip"][:2] != (t, tiles) or hh % h or ww % w or hh // h != ww // w:
            raise InvalidInputError(
                f"fine grid {shapes['precip']} is not an integer multiple of the coarse grid "
                f"{shapes['sfc']} with the same time steps and tiles"
            )
        if self.multi and (shapes["atmos"] != shapes["sfc"] or shapes["topo"] != (tiles, hh, ww)):
            raise InvalidInputError(
                f"atmos {shapes['atmos']} / topo {shapes['topo']} do not match the surface "
                f"stores {shapes['sfc']} / {shapes['precip']}"
            )
        self.time_steps, self.tiles, self.coarse_size, self.scale = t, tiles, (h, w), hh // h

    def __len__(self) -> int:
        if self.split == "train":
            return len(self.members) * self.tiles * self.windows
        return self.windows

    def index(self, idx: int) -> tuple[int, int, int]:
        """``(member, tile, first time step)`` of item ``idx``."""
        if not 0 <= idx < len(self):
            raise IndexError(f"index {idx} out of range for {len(self)} clips")
        if self.split == "train":
            m, rest = divmod(idx, self.tiles * self.windows)
            tile, t0 = divmod(rest, self.windows)
            return self.members[m], tile, t0
        return self.members[0], idx % self.tiles, idx

    def _read(self, ds: Any, names: Sequence[str], tile: int, t0: int | None) -> np.ndarray:
        sel: dict[str, Any] = {"tile": tile}
        if t0 is not None:
            sel["time"] = slice(t0, t0 + self.length)
        arrs = [np.asarray(ds[n].variable.isel(sel).values, dtype=np.float64) for n in names]
        return np.stack(arrs, axis=-3)  # (T, C, H, W) or (C, H, W)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        member, tile, t0 = self.index(idx)
        st = self._stores[member]
        s = self.stats
        x = self._read(st["sfc"], self.c48_channels, tile, t0)
        y = self._read(st["precip"], C384_CHANNELS, tile, t0)
        if self.logscale:
            pc, pf = s["c48_chl"]["PRATEsfc_coarse"], s["c384_chl"]["PRATEsfc"]
            x[:, 0] = _minmax(np.log(np.maximum(x[:, 0] - pc["min"], 0) + EPS),
                              s["c48_log_chl"]["PRATEsfc_coarse"])
            y = _minmax(np.log(np.maximum(y - pf["min"], 0) + EPS), s["c384_log_chl"]["PRATEsfc"])
        else:
            x[:, 0] = _minmax(x[:, 0], s["c48_chl"]["PRATEsfc_coarse"])
            y = _minmax(y, s["c384_chl"]["PRATEsfc"])
        topo = np.zeros_like(y)
        if self.multi:
            for i, n in enumerate(self.c48_channels[1:], start=1):
                x[:, i] = _minmax(x[:, i], s["c48_chl"][n])
            xa = self._read(st["atmos"], self.atmos_channels, tile, t0)
            for i, n in enumerate(self.atmos_channels):
                xa[:, i] = _minmax(xa[:, i], s["c48_atm_chl"][n])
            x = np.concatenate([x, xa], axis=1)
            z = self._read(st["topo"], [TOPO_CHANNEL], tile, None)
            topo = np.broadcast_to(_minmax(z, s["c384_topo"][TOPO_CHANNEL]), y.shape).copy()
        for name, arr in (("coarse inputs", x), ("PRATEsfc", y), ("zsurf", topo)):
            if not np.isfinite(arr).all():
                raise InvalidInputError(
                    f"NaN/inf in {name} of member {member:04d}, tile {tile}, time {t0}"
                )
        sample: dict[str, Any] = {
            "image": torch.from_numpy(x.astype(np.float32)),
            "target": torch.from_numpy(y.astype(np.float32)),
            "topo": torch.from_numpy(topo.astype(np.float32)),
            "member": torch.tensor(member), "tile": torch.tensor(tile), "time": torch.tensor(t0),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def normalize_precip(self, v: np.ndarray | torch.Tensor) -> np.ndarray:
        """The published normalisation of fine precipitation: kg m-2 s-1 -> [0, 1] (the
        transform ``__getitem__`` applies to ``target``)."""
        x = np.asarray(v, dtype=np.float64)
        s = self.stats
        pf = s["c384_chl"]["PRATEsfc"]
        if self.logscale:
            return _minmax(np.log(np.maximum(x - pf["min"], 0) + EPS), s["c384_log_chl"]["PRATEsfc"])
        return _minmax(x, pf)

    def _denormalize(self, y: np.ndarray | torch.Tensor, grid: str, var: str) -> np.ndarray:
        """Invert the published normalisation of ``var`` with the ``grid`` statistics
        (``c384`` fine, ``c48`` coarse): [0, 1] -> physical units."""
        v = np.asarray(y, dtype=np.float64)
        lin = self.stats[f"{grid}_chl"][var]
        if self.logscale:
            lg = self.stats[f"{grid}_log_chl"][var]
            v = np.exp(v * (lg["max"] - lg["min"]) + lg["min"]) - EPS
        else:
            v = v * (lin["max"] - lin["min"])
        return np.asarray(v + lin["min"])

    def denormalize_precip(self, y: np.ndarray | torch.Tensor) -> np.ndarray:
        """Invert the published normalisation of fine precipitation: [0, 1] -> kg m-2 s-1."""
        return self._denormalize(y, "c384", "PRATEsfc")

    def denormalize_coarse_precip(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Invert the published normalisation of coarse precipitation (channel 0 of
        ``image``, the C48 statistics): [0, 1] -> kg m-2 s-1."""
        return self._denormalize(x, "c48", "PRATEsfc_coarse")

    def plot(
        self, sample: dict[str, Any], show_titles: bool = True, suptitle: str | None = None,
        prediction: torch.Tensor | np.ndarray | None = None,
    ) -> Figure:
        """Coarse precipitation, fine target (and an optional prediction ``(T, 1, H, W)``)
        for every frame of a clip."""
        from ...demo import new_figure

        t = sample["image"].shape[0]
        rows = 3 if prediction is not None else 2
        fig, axes = new_figure(ncols=t, nrows=rows, size=2.0)
        for i in range(t):
            axes[0, i].imshow(np.asarray(sample["image"][i, 0]), vmin=0, vmax=1, cmap="Blues")
            axes[1, i].imshow(np.asarray(sample["target"][i, 0]), vmin=0, vmax=1, cmap="Blues")
            if prediction is not None:
                axes[2, i].imshow(np.asarray(prediction[i, 0]), vmin=0, vmax=1, cmap="Blues")
            if show_titles:
                axes[0, i].set_title(f"coarse t={i}")
                axes[1, i].set_title(f"fine t={i}")
                if prediction is not None:
                    axes[2, i].set_title(f"prediction t={i}")
        for ax in axes.ravel():
            ax.set_axis_off()
        if suptitle:
            fig.suptitle(suptitle)
        return fig


# --------------------------------------------------------------------------------------------
# Synthetic advected precipitation and the fixture writer
# --------------------------------------------------------------------------------------------


def _grf(rng: np.random.Generator, n: int, slope: float, kmin: float, kmax: float) -> np.ndarray:
    """Periodic Gaussian random field in Fourier space, power ~ k^-slope on [kmin, kmax]."""
    k = np.sqrt(np.fft.fftfreq(n)[:, None] ** 2 + np.fft.fftfreq(n)[None, :] ** 2) * n
    amp = np.where((k >= kmin) & (k <= kmax), np.maximum(k, 1e-6) ** (-slope / 2), 0.0)
    spec = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) * amp
    f = np.fft.ifft2(spec).real
    return np.asarray((f - f.mean()) / (f.std() + 1e-12))


def _shift(f: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """Periodic sub-pixel translation by (dy, dx) pixels (Fourier phase shift)."""
    n0, n1 = f.shape
    ky = np.fft.fftfreq(n0)[:, None]
    kx = np.fft.fftfreq(n1)[None, :]
    return np.asarray(np.fft.ifft2(np.fft.fft2(f) * np.exp(-2j * np.pi * (ky * dy + kx * dx))).real)


def advected_precipitation(
    rng: np.random.Generator, steps: int, size: int, topo: np.ndarray,
    velocity: tuple[float, float], wet_fraction: float = 0.6,
) -> np.ndarray:
    """Synthetic 3-hourly precipitation (kg m-2 s-1), ``(steps, size, size)``.

    A large-scale Gaussian random field and an unresolved small-scale one are advected by
    ``velocity`` (pixels/step); orographic enhancement ``0.8 * topo`` is added; the
    log-intensity ``-9 + 1.2 * (field)`` is exponentiated and set to 0 where the field is below
    its ``1 - wet_fraction`` quantile (dry areas, as in the real data).
    """
    large = _grf(rng, size, 3.0, 1, size / 8)
    small = _grf(rng, size, 1.0, size / 8, size / 2)
    out = np.empty((steps, size, size))
    for t in range(steps):
        dy, dx = velocity[0] * t, velocity[1] * t
        field = _shift(large, dy, dx) + 0.8 * _shift(small, dy, dx) + 0.8 * topo
        thr = np.quantile(field, 1 - wet_fraction)
        out[t] = np.where(field > thr, np.exp(-9.0 + 1.2 * (field - thr)), 0.0)
    return out


def _block_mean(x: np.ndarray, s: int) -> np.ndarray:
    *lead, h, w = x.shape
    return np.asarray(x.reshape(*lead, h // s, s, w // s, s).mean(axis=(-3, -1)))


def _minmax_dict(arrs: dict[str, list[np.ndarray]]) -> dict[str, dict[str, float]]:
    return {k: {"min": float(min(a.min() for a in v)), "max": float(max(a.max() for a in v))}
            for k, v in arrs.items()}


def write_fixture(
    root: str | Path,
    *,
    members: int = ENSEMBLE,
    tiles: int = 6,
    time_steps: int = 10,
    coarse_size: int = 4,
    scale: int = 8,
    seed: int = 0,
) -> Path:
    """Write synthetic advected precipitation in the published FV3GFS zarr layout.

    Fine precipitation is :func:`advected_precipitation`; the coarse fields are its
    ``scale`` x ``scale`` block means and physically plausible companions (winds = the
    advection velocity, convective rate = 0.6 x total, TMP/ps/humidity from the coarse field,
    a diurnal DSWRFtoa). Topography is one smooth field per tile, shared by the members as in
    FV3GFS. Statistics pickles are computed over members 1..min(10, members - 1) (all members
    when ``members == 1``), as published. Stores are zarr v2 with consolidated metadata,
    dims ``(time, tile, grid_yt, grid_xt)``. Returns ``root``.
    """
    import xarray as xr

    if members < 1 or tiles < 1 or time_steps < 1 or coarse_size < 1 or scale < 1:
        raise InvalidInputError("members, tiles, time_steps, coarse_size and scale must be >= 1")
    r = Path(root)
    rng = np.random.default_rng(seed)
    n = coarse_size * scale
    topo = np.stack([_grf(rng, n, 4.0, 1, n / 4) for _ in range(tiles)])
    topo = 500.0 + 400.0 * topo  # metres
    topo_norm = (topo - topo.mean()) / topo.std()
    times = np.arange(time_steps) * 3.0  # hours since start
    train_ids = set(range(1, max(2, min(11, members))) if members > 1 else [1])
    acc: dict[str, dict[str, list[np.ndarray]]] = {
        "c48_chl": {}, "c48_atm_chl": {}, "c48_log_chl": {}, "c384_chl": {},
        "c384_log_chl": {}, "c384_topo": {},
    }
    pending_logs: list[tuple[int, np.ndarray, np.ndarray]] = []
    for m in range(1, members + 1):
        fine = np.empty((time_steps, tiles, n, n))
        vel = np.empty((tiles, 2))
        for k in range(tiles):
            vel[k] = rng.uniform(-1.5, 1.5, size=2)
            fine[:, k] = advected_precipitation(rng, time_steps, n, topo_norm[k], tuple(vel[k]))
        coarse = _block_mean(fine, scale)
        big = _block_mean(np.log(fine + 1e-6), scale)
        hour = (times[:, None, None, None] % 24) / 24.0
        ones = np.ones_like(coarse)
        sfc = {
            "PRATEsfc_coarse": coarse,
            "UGRD10m_coarse": vel[None, :, 1, None, None] * 3.0 * ones
            + 0.3 * rng.standard_normal(coarse.shape),
            "VGRD10m_coarse": vel[None, :, 0, None, None] * 3.0 * ones
            + 0.3 * rng.standard_normal(coarse.shape),
            "TMPsfc_coarse": 285.0 - 0.5 * big + rng.standard_normal(coarse.shape),
            "CPRATsfc_coarse": 0.6 * coarse,
            "DSWRFtoa_coarse": 700.0 * np.maximum(np.sin(2 * np.pi * hour), 0) * ones,
        }
        atm = {
            "ps_coarse": 1.0e5 - 50.0 * big + 100 * rng.standard_normal(coarse.shape),
            "u700_coarse": vel[None, :, 1, None, None] * 5.0 * ones,
            "v700_coarse": vel[None, :, 0, None, None] * 5.0 * ones,
            "vertically_integrated_liq_wat_coarse": 2e3 * coarse,
            "vertically_integrated_sphum_coarse": 30.0 + 2.0 * big,
        }
        dims = ("time", "tile", "grid_yt", "grid_xt")
        coords = {"time": times, "tile": np.arange(tiles)}
        paths = store_paths(r, m)
        for key, data in (("sfc", sfc), ("atmos", atm), ("precip", {"PRATEsfc": fine})):
            ds = xr.Dataset({k: (dims, v.astype(np.float32)) for k, v in data.items()},
                            coords=coords)
            ds.to_zarr(paths[key], mode="w", zarr_format=2, consolidated=True)
        xr.Dataset({TOPO_CHANNEL: (dims[1:], topo.astype(np.float32))},
                   coords={"tile": np.arange(tiles)}).to_zarr(
            paths["topo"], mode="w", zarr_format=2, consolidated=True)
        if m in train_ids:
            for name, v in sfc.items():
                acc["c48_chl"].setdefault(name, []).append(v.astype(np.float32))
            for name, v in atm.items():
                acc["c48_atm_chl"].setdefault(name, []).append(v.astype(np.float32))
            acc["c384_chl"].setdefault("PRATEsfc", []).append(fine.astype(np.float32))
            acc["c384_topo"].setdefault(TOPO_CHANNEL, []).append(topo.astype(np.float32))
            pending_logs.append((m, coarse.astype(np.float32), fine.astype(np.float32)))
    stats = {k: _minmax_dict(v) for k, v in acc.items() if v}
    cmin = stats["c48_chl"]["PRATEsfc_coarse"]["min"]
    fmin = stats["c384_chl"]["PRATEsfc"]["min"]
    logs_c = [np.log(np.maximum(c.astype(np.float64) - cmin, 0) + EPS) for _, c, _ in pending_logs]
    logs_f = [np.log(np.maximum(f.astype(np.float64) - fmin, 0) + EPS) for _, _, f in pending_logs]
    stats["c48_log_chl"] = _minmax_dict({"PRATEsfc_coarse": logs_c})
    stats["c384_log_chl"] = _minmax_dict({"PRATEsfc": logs_f})
    from ...io import atomic_path

    for key, rel in STAT_FILES.items():
        dest = r / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest) as tmp, open(tmp, "wb") as f:
            pickle.dump(stats[key], f)
    return r
