"""SolarCube readers for the published layout (Ruohan-Li/SolarCube, Zenodo 10.5281/zenodo.11498739).

Everything sits in one folder (the public code's ``DATA_HOME = ../../data/geonex_sat``):

- ``SolarSat_{year}_{tile}_{type}.hdf``: HDF5 with one dataset named ``type``, shape
  ``(T, 120, 120)`` (year 2018: T = 35,040 steps of 15 min), stored as integers with the
  attributes ``scale_factor`` and ``fillvalue``; physical value = raw x scale_factor. Fill
  pixels become NaN, except for ``ssr``, where they become -1 (the ocean convention).
  ``type`` is one of ``vis047``, ``vis086`` (reflectance), ``ir133`` (K), ``ssr``
  (satellite surface solar radiation, W m-2), ``sza`` (solar zenith angle, degrees), ``cm``
  (cloud mask).
- ``{tile}_{year}_index.csv``: one column per type (``insitu`` included); a value > 0 marks a
  valid time step.
- ``solarcube_sitelist.csv``: ``tile_id, id, fLine, fCol, time_offset, lon_ulcnr, lon_lrcnr,
  lat_ulcnr, lat_lrcnr, lons, lats, name``: one ground station per tile.
- ``solarcube_insitu.csv``: one column per station id, 1-minute irradiance (W m-2).

Reading uses h5py + dask + xarray (:func:`open_solarsat` returns a lazily decoded
``xarray.DataArray`` with Dask chunks over time), never a hand-written HDF parser.

**The ``[fCol, fLine]`` order.** The public loader reads the station pixel of a
``(T, H, W)`` cube as ``cube[:, fCol, fLine]``: ``fCol`` indexes the second axis (rows) and
``fLine`` the third (columns), the reverse of the usual line = row convention. We reproduce it
(:func:`site_pixel`) because the released sitelist was used that way in every published
number; :func:`write_fixture` places the station where that order reads it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geoneurips.errors import DataNotFoundError, InvalidInputError

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = [
    "IMAGE_TYPES",
    "OFFSET",
    "SCALE",
    "SITELIST_COLUMNS",
    "TEST_TILES",
    "TRAIN_TILES",
    "TYPES",
    "SolarCubeImage",
    "SolarCubePoint",
    "block_mean",
    "clear_sky_index",
    "denormalize",
    "insitu_15min",
    "normalize",
    "open_solarsat",
    "read_index",
    "read_insitu",
    "read_sitelist",
    "site_pixel",
    "solarsat_path",
    "window_starts",
]

URL = "https://doi.org/10.5281/zenodo.11498739 (or the HF mirror aigrids/SolarCube_raw)"
#: Types with an HDF file (``insitu`` comes from the station CSV).
IMAGE_TYPES = ("vis047", "vis086", "ir133", "ssr", "sza", "cm")
#: Every type the loader knows (the public ``TYPES`` plus the cloud mask).
TYPES = ("vis047", "vis086", "ir133", "ssr", "sza", "insitu", "cm")
#: Published normalisation ``(x - offset) / scale`` (public ``SCALE_SOLARCUBE`` /
#: ``OFFSET_SOLARCUBE``; vis047 is listed there as not used in the paper).
SCALE = {"vis047": 0.39, "vis086": 0.32, "ir133": 17.13, "ssr": 279.11, "sza": 20.19,
         "insitu": 279.49}
OFFSET = {"vis047": 0.56, "vis086": 0.55, "ir133": 258.55, "ssr": 186.96, "sza": 56.67,
          "insitu": 193.44}
#: Published tile split (the configs' ``train_tile_list`` / ``test_tile_list``).
TRAIN_TILES = (1, 2, 3, 4, 6, 8, 10, 12, 13, 14, 15, 16, 17, 19)
TEST_TILES = (5, 7, 9, 11, 18)
SITELIST_COLUMNS = ("tile_id", "id", "fLine", "fCol", "time_offset", "lon_ulcnr", "lon_lrcnr",
                    "lat_ulcnr", "lat_lrcnr", "lons", "lats", "name")
#: Time steps per Dask chunk of :func:`open_solarsat` (one day of 15-minute steps).
CHUNK_T = 96
#: Decoded chunks the datasets keep (LRU) per dataset: 12 x 96 x 120 x 120 float32 ~ 66 MB.
CHUNK_CACHE = 12
#: Solar constant used by the public ``normalize_max`` option (W m-2).
SOLAR_CONSTANT = 1360.0


def _missing(root: Path, missing: Sequence[str]) -> DataNotFoundError:
    return DataNotFoundError(
        "SolarCube", root, list(missing), URL,
        "unzip SolarCube_<year>_<tile>.zip so that SolarSat_{year}_{tile}_{type}.hdf, "
        "{tile}_{year}_index.csv, solarcube_sitelist.csv and solarcube_insitu.csv sit in root",
    )


def solarsat_path(root: str | Path, year: int | str, tile: int | str, typ: str) -> Path:
    """``root/SolarSat_{year}_{tile}_{typ}.hdf`` (the published file name)."""
    return Path(root) / f"SolarSat_{year}_{tile}_{typ}.hdf"


def open_solarsat(
    root: str | Path, year: int | str, tile: int | str, typ: str, *, chunk_t: int = CHUNK_T
) -> xr.DataArray:
    """One SolarSat cube as a lazily decoded ``xarray.DataArray`` ``(time, y, x)``.

    The integer dataset is wrapped with ``dask.array.from_array`` (chunks of ``chunk_t``
    steps, whole images), multiplied by ``scale_factor``; fill values become NaN, or -1 for
    ``ssr`` (ocean), as in the public loader. The file stays open for the life of the array.

    Raises:
        DataNotFoundError: the file is missing. InvalidInputError: ``typ`` is unknown or the
        file has no dataset ``typ`` / no ``scale_factor``.
    """
    import dask.array as da
    import h5py
    import xarray as xr

    if typ not in IMAGE_TYPES:
        raise InvalidInputError(f"unknown SolarSat type {typ!r}; expected one of {IMAGE_TYPES}")
    path = solarsat_path(root, year, tile, typ)
    if not path.is_file():
        raise _missing(Path(root), [path.name])
    f = h5py.File(path, "r")
    if typ not in f:
        f.close()
        raise InvalidInputError(f"{path} has no dataset {typ!r} (found {list(f.keys())})")
    ds = f[typ]
    attrs = dict(ds.attrs)
    if "scale_factor" not in attrs:
        f.close()
        raise InvalidInputError(f"{path}:{typ} has no scale_factor attribute")
    scale = float(np.asarray(attrs["scale_factor"]).ravel()[0])
    fill_attr = attrs.get("fillvalue", attrs.get("_FillValue"))
    raw = da.from_array(  # type: ignore[no-untyped-call]
        ds, chunks=(chunk_t, *ds.shape[1:]), lock=True
    )
    value = raw.astype(np.float32) * np.float32(scale)
    if fill_attr is not None:
        fill = float(np.asarray(fill_attr).ravel()[0])
        value = da.where(raw == fill, np.float32(-1.0 if typ == "ssr" else np.nan), value)
    return xr.DataArray(
        value, dims=("time", "y", "x"), name=typ,
        attrs={"scale_factor": scale, "fillvalue": fill_attr, "source": str(path)},
    )


def read_index(root: str | Path, tile: int | str, year: int | str) -> pd.DataFrame:
    """``{tile}_{year}_index.csv``: one column per type, value > 0 = valid step."""
    path = Path(root) / f"{tile}_{year}_index.csv"
    if not path.is_file():
        raise _missing(Path(root), [path.name])
    return pd.read_csv(path)


def read_sitelist(root: str | Path) -> pd.DataFrame:
    """``solarcube_sitelist.csv`` with the published columns (checked)."""
    path = Path(root) / "solarcube_sitelist.csv"
    if not path.is_file():
        raise _missing(Path(root), [path.name])
    df = pd.read_csv(path, low_memory=False)
    lacking = [c for c in ("tile_id", "id", "fLine", "fCol") if c not in df.columns]
    if lacking:
        raise InvalidInputError(f"{path} lacks the columns {lacking}")
    return df


def site_pixel(sites: pd.DataFrame, tile: int, downscale_s: int | None = None) -> tuple[int, int]:
    """The station's ``(row, col)`` index into a ``(T, H, W)`` cube: ``(fCol, fLine)``.

    Reproduces the public loader's ``cube[:, fCol, fLine]`` (see the module docstring) and its
    ``int(f / downscale_s)`` when the cube is block-averaged by ``downscale_s``.
    """
    row = sites[sites["tile_id"] == tile]
    if row.empty:
        raise InvalidInputError(f"tile {tile} is not in the sitelist")
    f_line, f_col = int(row["fLine"].values[0]), int(row["fCol"].values[0])
    if downscale_s:
        f_line, f_col = int(f_line / downscale_s), int(f_col / downscale_s)
    return f_col, f_line


def read_insitu(root: str | Path) -> pd.DataFrame:
    """``solarcube_insitu.csv`` (1-minute values, one column per station id)."""
    path = Path(root) / "solarcube_insitu.csv"
    if not path.is_file():
        raise _missing(Path(root), [path.name])
    return pd.read_csv(path, low_memory=False)


def insitu_15min(minutes: np.ndarray, window: int = 15) -> np.ndarray:
    """1-minute series -> 15-minute steps as the public loader does it.

    A ``window``-sample moving mean (the series edge-padded by ``window // 2`` on each side),
    then every 15th value from the first: value ``k`` is the mean of minutes
    ``15k - 7 .. 15k + 7`` (clipped at the ends).
    """
    x = np.asarray(minutes, dtype=np.float64)
    half = window // 2
    padded = np.pad(x, (half, half), mode="edge")
    smooth = np.convolve(padded, np.ones(window) / window, mode="valid")
    return smooth[::15]


def window_starts(
    index: pd.DataFrame, types: Sequence[str], length: int, interval: int,
    *, any_valid: bool = False,
) -> list[int]:
    """Start steps of windows of ``length`` every ``interval`` steps that pass the index.

    A window is kept when every step of it is valid (> 0) for every type, or, with
    ``any_valid`` (the public loader's rule when ``downscale_t`` is set), when each type has
    at least one valid step in it.
    """
    if length < 1 or interval < 1:
        raise InvalidInputError(f"window length {length} and interval {interval} must be >= 1")
    lacking = [t for t in types if t not in index.columns]
    if lacking:
        raise InvalidInputError(f"index has no column for {lacking} (has {list(index.columns)})")
    starts = np.arange(0, len(index) - length + 1, interval)
    keep = np.ones(len(starts), dtype=bool)
    for t in types:
        valid = np.nan_to_num(index[t].to_numpy(dtype=np.float64)) > 0
        c = np.concatenate([[0], np.cumsum(valid)])
        counts = c[starts + length] - c[starts]
        keep &= (counts > 0) if any_valid else (counts == length)
    return [int(s) for s in starts[keep]]


def normalize(x: np.ndarray, typ: str) -> np.ndarray:
    """Published normalisation ``(x - offset) / scale``."""
    return (x - OFFSET[typ]) / SCALE[typ]


def denormalize(x: np.ndarray, typ: str) -> np.ndarray:
    """Inverse of :func:`normalize`."""
    return x * SCALE[typ] + OFFSET[typ]


def clear_sky_index(ssr: np.ndarray, sza: np.ndarray) -> np.ndarray:
    """The ``normalize_max`` option: ``ssr / (1360 cos(sza))`` (ocean -1 stays negative)."""
    out: np.ndarray = ssr / (SOLAR_CONSTANT * np.cos(np.deg2rad(sza)))
    return out


def block_mean(x: np.ndarray, k: int) -> np.ndarray:
    """NaN-mean over ``k x k`` blocks of the last two axes (the public ``block_reduce``)."""
    if k <= 1:
        return x
    h, w = x.shape[-2], x.shape[-1]
    hp, wp = -(-h // k) * k, -(-w // k) * k
    pad = [(0, 0)] * (x.ndim - 2) + [(0, hp - h), (0, wp - w)]
    xp = np.pad(x.astype(np.float64), pad, constant_values=np.nan)
    xr_ = xp.reshape(*x.shape[:-2], hp // k, k, wp // k, k)
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out: np.ndarray = np.nanmean(xr_, axis=(-3, -1))
            return out


class _Base:
    """Shared tile bookkeeping of the point and image datasets."""

    def __init__(self, root: str | Path, tiles: Sequence[int], year: int | str,
                 types: Sequence[str], input_len: int, output_len: int,
                 sample_interval: int) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise _missing(self.root, ["solarcube_sitelist.csv", "SolarSat_*.hdf"])
        self.tiles = list(tiles)
        self.year = year
        self.input_len, self.output_len = int(input_len), int(output_len)
        self.types = list(dict.fromkeys(types))
        self.samples: list[tuple[int, int]] = []
        self._cubes: dict[tuple[int, str], xr.DataArray] = {}
        self._chunks: OrderedDict[tuple[int, str, int], np.ndarray] = OrderedDict()
        self._pixels: dict[tuple[int, str], np.ndarray] = {}
        for tile in self.tiles:
            idx = read_index(self.root, tile, year)
            for s in window_starts(idx, self.types, self.input_len + self.output_len,
                                   sample_interval):
                self.samples.append((tile, s))

    def __len__(self) -> int:
        return len(self.samples)

    def cube(self, tile: int, typ: str) -> xr.DataArray:
        key = (tile, typ)
        if key not in self._cubes:
            self._cubes[key] = open_solarsat(self.root, self.year, tile, typ)
        return self._cubes[key]

    def _chunk(self, tile: int, typ: str, k: int) -> np.ndarray:
        """Dask chunk ``k`` (steps ``k * CHUNK_T ...``) of a cube, decoded once and kept in a
        small LRU cache (:data:`CHUNK_CACHE` chunks), so that overlapping windows do not
        decode the same steps again."""
        key = (tile, typ, k)
        if key in self._chunks:
            self._chunks.move_to_end(key)
            return self._chunks[key]
        block = np.asarray(self.cube(tile, typ)[k * CHUNK_T:(k + 1) * CHUNK_T].values)
        self._chunks[key] = block
        if len(self._chunks) > CHUNK_CACHE:
            self._chunks.popitem(last=False)
        return block

    def _window(self, tile: int, typ: str, start: int) -> np.ndarray:
        n = self.input_len + self.output_len
        k0, k1 = start // CHUNK_T, (start + n - 1) // CHUNK_T
        blocks = np.concatenate([self._chunk(tile, typ, k) for k in range(k0, k1 + 1)])
        off = start - k0 * CHUNK_T
        return np.asarray(blocks[off:off + n], dtype=np.float64)


class SolarCubePoint(_Base):
    """Point-level windows at each tile's station (published point task).

    ``x`` holds ``x_types`` over the input steps, ``y`` the ``y_types`` over the output steps,
    each normalised with :data:`SCALE`/:data:`OFFSET` when ``normalize`` is true. Satellite
    types are read at :func:`site_pixel`; ``insitu`` is the station's 15-minute series.
    Published short task: 12 -> 12 steps, interval 8; long: 96 -> 96, interval 72.
    """

    def __init__(self, root: str | Path, tiles: Sequence[int] = TRAIN_TILES,
                 year: int | str = 2018,
                 x_types: Sequence[str] = ("vis047", "vis086", "ir133", "sza", "insitu"),
                 y_types: Sequence[str] = ("insitu",), input_len: int = 12,
                 output_len: int = 12, sample_interval: int = 8,
                 normalize: bool = True) -> None:
        unknown = [t for t in [*x_types, *y_types] if t not in TYPES]
        if unknown:
            raise InvalidInputError(f"unknown SolarCube types {unknown}; expected {TYPES}")
        self.x_types, self.y_types = list(x_types), list(y_types)
        self.normalize = normalize
        super().__init__(root, tiles, year, [*x_types, *y_types], input_len, output_len,
                         sample_interval)
        self.sites = read_sitelist(self.root)
        self._insitu: dict[int, np.ndarray] = {}

    def insitu(self, tile: int) -> np.ndarray:
        if tile not in self._insitu:
            site_id = str(self.sites[self.sites["tile_id"] == tile]["id"].values[0])
            table = read_insitu(self.root)
            if site_id not in table.columns:
                raise InvalidInputError(f"station {site_id} (tile {tile}) not in the insitu CSV")
            self._insitu[tile] = insitu_15min(table[site_id].to_numpy(dtype=np.float64))
        return self._insitu[tile]

    def series(self, tile: int, typ: str, start: int) -> np.ndarray:
        """Physical values of ``typ`` at the station over the window starting at ``start``."""
        n = self.input_len + self.output_len
        if typ == "insitu":
            return self.insitu(tile)[start:start + n]
        key = (tile, typ)
        if key not in self._pixels:  # the station pixel's whole series, read once
            r, c = site_pixel(self.sites, tile)
            self._pixels[key] = np.asarray(self.cube(tile, typ)[:, r, c].values,
                                           dtype=np.float64)
        return self._pixels[key][start:start + n]

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        tile, start = self.samples[i]
        cols = {t: self.series(tile, t, start) for t in dict.fromkeys(self.x_types + self.y_types)}
        if self.normalize:
            cols = {t: normalize(v, t) if t in SCALE else v for t, v in cols.items()}
        x = np.stack([cols[t][: self.input_len] for t in self.x_types], -1)
        y = np.stack([cols[t][self.input_len:] for t in self.y_types], -1)
        return {"x": torch.as_tensor(x, dtype=torch.float32),
                "y": torch.as_tensor(y, dtype=torch.float32), "tile": tile, "start": start}

    def plot(self, sample: dict[str, Any], show_titles: bool = True,
             suptitle: str | None = None) -> Figure:
        from geoneurips.demo import new_figure

        fig, axes = new_figure(1, 1, size=4.0)
        ax = axes[0, 0]
        n_in = sample["x"].shape[0]
        for j, t in enumerate(self.x_types):
            ax.plot(range(n_in), sample["x"][:, j].numpy(), label=f"x:{t}")
        for j, t in enumerate(self.y_types):
            ax.plot(range(n_in, n_in + sample["y"].shape[0]), sample["y"][:, j].numpy(),
                    "--", label=f"y:{t}")
        ax.legend(fontsize=6)
        if show_titles:
            ax.set_title(f"tile {sample['tile']} start {sample['start']}")
        if suptitle:
            fig.suptitle(suptitle)
        return fig


class SolarCubeImage(_Base):
    """Area-level ``ssr -> ssr`` windows (published image task).

    With ``normalize_max`` (the published image setting) ``ssr`` becomes the clear-sky-index
    ratio ``ssr / (1360 cos sza)``; otherwise the :data:`SCALE`/:data:`OFFSET` normalisation.
    ``downscale_s`` block-averages space like the public loader. Returns ``image``
    ``(T_in, 1, H, W)``, ``target`` ``(T_out, 1, H, W)``, ``sza`` ``(T_in + T_out, H, W)``
    (degrees, to turn ratios back into W m-2) and ``valid`` ``(H, W)`` (land pixels).
    """

    def __init__(self, root: str | Path, tiles: Sequence[int] = TRAIN_TILES,
                 year: int | str = 2018, input_len: int = 12, output_len: int = 12,
                 sample_interval: int = 8, downscale_s: int = 1,
                 normalize_max: bool = True) -> None:
        super().__init__(root, tiles, year, ["ssr", "sza"], input_len, output_len,
                         sample_interval)
        self.downscale_s = int(downscale_s)
        self.normalize_max = normalize_max

    def arrays(self, i: int) -> dict[str, np.ndarray]:
        """Physical ``ssr`` and ``sza`` windows (block-averaged) and the land mask."""
        tile, start = self.samples[i]
        ssr = self._window(tile, "ssr", start)
        sza = self._window(tile, "sza", start)
        valid = np.asarray(~(ssr < 0).any(axis=0))
        ssr = block_mean(ssr, self.downscale_s)
        sza = block_mean(sza, self.downscale_s)
        valid = block_mean(valid.astype(np.float64), self.downscale_s) > 0.999
        return {"ssr": ssr, "sza": sza, "valid": valid}

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        a = self.arrays(i)
        if self.normalize_max:
            v = clear_sky_index(a["ssr"], a["sza"])
        else:
            v = normalize(a["ssr"], "ssr")
        v = np.where(a["valid"][None], v, 0.0)
        t = self.input_len
        return {
            "image": torch.as_tensor(v[:t, None], dtype=torch.float32),
            "target": torch.as_tensor(v[t:, None], dtype=torch.float32),
            "sza": torch.as_tensor(a["sza"], dtype=torch.float32),
            "ssr": torch.as_tensor(a["ssr"], dtype=torch.float32),
            "valid": torch.as_tensor(a["valid"]),
        }

    def plot(self, sample: dict[str, Any], show_titles: bool = True,
             suptitle: str | None = None) -> Figure:
        from geoneurips.demo import new_figure

        fig, axes = new_figure(4, 1, size=2.5)
        frames = [("input t0", sample["image"][0, 0]), ("input last", sample["image"][-1, 0]),
                  ("target +1", sample["target"][0, 0]), ("target last", sample["target"][-1, 0])]
        for ax, (name, im) in zip(axes[0], frames, strict=True):
            ax.imshow(im.numpy(), vmin=0, vmax=1)
            ax.axis("off")
            if show_titles:
                ax.set_title(name)
        if suptitle:
            fig.suptitle(suptitle)
        return fig
