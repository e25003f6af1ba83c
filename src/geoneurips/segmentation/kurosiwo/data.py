"""Kuro Siwo data: the GRD patch layout, the SLC grid index, the event catalogue, splits.

Published layout (Orion-AI-Lab/KuroSiwo, ``dataset/Dataset.py`` and ``catalogue/``)::

    <root>/data/{actid}/{aoi:02d}/{grid_hash}/
        MS1_IVV_{actid}_{aoi:02d}_{YYYYMMDD}.tif   post-event (master) VV, float32 linear
        MS1_IVH_...                                 post-event VH
        SL1_IVV_... / SL1_IVH_...                   first pre-event date (slave 1)
        SL2_IVV_... / SL2_IVH_...                   second pre-event date (slave 2)
        MK0_MLU_...                                 label, uint8: 0 no water, 1 permanent
                                                    water, 2 flood, 3 invalid / no data
        MK0_MNA_...                                 valid-pixel mask, uint8 (1 = valid)
        MK0_DEM_...                                 DEM (metres), float32
        info.json                                   patch metadata (actid, aoiid, ...)

Patches are 224 x 224 in EPSG:3857 (``catalogue.yaml``: ``CRS: 3857``). The event
catalogue ``catalogue.yaml`` lists every activation (``act_id``, region, reference date)
and its AOIs with their climate zone (1 Tropical, 2 Arid, 3 Temperate, 4 Cold, 5 Polar);
it uses a custom ``!join`` YAML tag (string concatenation), which :func:`load_catalogue`
understands. The SLC grid index ``slc_grid_pwater_0.0001.json`` maps ``"421/05/18_6"`` to
``{actid, path, aoiid, clz}`` (:func:`load_grid_index`).

Preprocessing (``configs/train/data_config.json``): backscatter is clamped to
``[0, 0.15]`` and NaN becomes 0.15 (clamp first, then ``nan_to_num``: the public code's
order), then normalised per channel with mean (0.0953, 0.0264) and std (0.0427, 0.0215).
DEM: mean 93.4313, std 1410.8382; slope (rise/run): mean 2.1277, std 67.5048.

Splits: the RandomEvents track holds out whole activations (the published train/val/test
lists below); the Climatic track keys patches by ``f"{actid}_{aoi:02d}"`` and takes its
lists from the caller (the published Climatic lists were not in the code we read).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch.utils.data import Dataset

from ...errors import DataNotFoundError, InvalidInputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CLASSES",
    "CLAMP",
    "CLIMATE_ZONES",
    "DATA_MEAN",
    "DATA_STD",
    "INVALID",
    "RANDOM_EVENTS",
    "Aoi",
    "Catalogue",
    "Event",
    "KuroSiwo",
    "load_catalogue",
    "load_grid_index",
    "normalize_sar",
    "slope_riserun",
    "split_keys",
    "write_fixture",
]

URL = "https://github.com/Orion-AI-Lab/KuroSiwo (download_kuro_siwo.sh)"
CLASSES = ("no water", "permanent water", "flood")
INVALID = 3
CLAMP = 0.15
DATA_MEAN = (0.0953, 0.0264)
DATA_STD = (0.0427, 0.0215)
DEM_MEAN, DEM_STD = 93.4313, 1410.8382
SLOPE_MEAN, SLOPE_STD = 2.1277, 67.5048
CLIMATE_ZONES = {1: "Tropical", 2: "Arid", 3: "Temperate", 4: "Cold", 5: "Polar"}
DATES = ("MS1", "SL1", "SL2")  # post-event, pre-event 1, pre-event 2

#: The RandomEvents track (``configs/train/data_config.json``): activation ids per split.
RANDOM_EVENTS: dict[str, tuple[int, ...]] = {
    "train": (130, 470, 555, 118, 174, 324, 421, 554, 427, 518, 502, 498, 497, 496, 492,
              147, 267, 273, 275, 417, 567, 1111011, 1111004, 1111009, 1111010, 1111006,
              1111005),
    "val": (514, 559, 279, 520, 437, 1111003, 1111008),
    "test": (321, 561, 445, 562, 411, 1111002, 277, 1111007, 205, 1111013),
}


@dataclass(frozen=True)
class Aoi:
    """One area of interest of an activation."""

    aoi_id: int
    name: str
    cl_zone: int


@dataclass(frozen=True)
class Event:
    """One flood activation of the catalogue."""

    act_id: int
    region: str
    ref_date: datetime
    aois: dict[int, Aoi]


@dataclass
class Catalogue:
    """The event catalogue (``catalogue.yaml``)."""

    events: dict[int, Event]
    climate_zones: dict[int, str]
    crs: int
    meta: dict[str, Any] = field(default_factory=dict)

    def climate_zone(self, act_id: int, aoi_id: int) -> int | None:
        """The climate zone of ``(act_id, aoi_id)``, or None when the catalogue lacks it."""
        ev = self.events.get(int(act_id))
        aoi = ev.aois.get(int(aoi_id)) if ev else None
        return aoi.cl_zone if aoi else None


def load_catalogue(path: str | os.PathLike[str]) -> Catalogue:
    """Read ``catalogue.yaml`` (safe YAML plus the catalogue's ``!join`` tag).

    Raises:
        DataNotFoundError: the file is missing.
        InvalidInputError: the file is not a Kuro Siwo catalogue.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError("Kuro Siwo catalogue", p.parent, [p.name], URL,
                                "catalogue/catalogue.yaml")

    class _Loader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    def _join(loader: yaml.SafeLoader, node: yaml.Node) -> str:
        assert isinstance(node, yaml.SequenceNode)
        return "".join(str(x) for x in loader.construct_sequence(node))

    _Loader.add_constructor("!join", _join)
    try:
        raw = yaml.load(p.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{str(p)!r} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("Floods"), list):
        raise InvalidInputError(f"{str(p)!r} has no 'Floods' list: not a Kuro Siwo catalogue")
    events: dict[int, Event] = {}
    for f in raw["Floods"]:
        try:
            aois = {int(a["aoi_id"]): Aoi(int(a["aoi_id"]), str(a["aoi_name"]),
                                          int(a["cl_zone"])) for a in f["aois"]}
            ev = Event(int(f["act_id"]), str(f["act_region"]),
                       datetime.strptime(str(f["ref_date"]), "%Y%m%dT%H%M%S"), aois)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"bad flood entry in {str(p)!r}: {f!r} ({exc})") from exc
        if ev.act_id in events:
            raise InvalidInputError(f"activation {ev.act_id} listed twice in {str(p)!r}")
        events[ev.act_id] = ev
    zones = {int(z["cl_zone"]): str(z["cl_name"]) for z in raw.get("CL_ZONES", [])}
    meta = {k: v for k, v in raw.items() if k not in ("Floods", "CL_ZONES")}
    return Catalogue(events, zones or dict(CLIMATE_ZONES), int(raw.get("CRS", 3857)), meta)


_GRID_KEY = re.compile(r"^(\d+)/(\d{2})/[^/]+$")


def load_grid_index(path: str | os.PathLike[str]) -> dict[str, dict[str, int | str]]:
    """Read an SLC grid index (``json/slc_grid_pwater_*.json``), validated.

    Every entry ``"{actid}/{aoi:02d}/{grid}"`` -> ``{"actid", "path", "aoiid", "clz"}`` must
    agree with its key (activation and AOI) and carry a climate zone in 1..5.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError("Kuro Siwo SLC grid index", p.parent, [p.name], URL,
                                "json/slc_grid_pwater_0.0001.json")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{str(p)!r} is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{str(p)!r} must map grid keys to records")
    for key, rec in raw.items():
        m = _GRID_KEY.match(key)
        if m is None or not isinstance(rec, dict):
            raise InvalidInputError(f"bad grid key/record in {str(p)!r}: {key!r}")
        try:
            ok = (int(rec["actid"]) == int(m.group(1)) and int(rec["aoiid"]) == int(m.group(2))
                  and int(rec["clz"]) in CLIMATE_ZONES and str(rec["path"]) == key)
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise InvalidInputError(f"grid record {key!r} in {str(p)!r} disagrees with its "
                                    f"key or lacks actid/aoiid/clz/path: {rec!r}")
    return raw


def split_keys(track: str, split: str, lists: Mapping[str, Sequence[Any]] | None = None
               ) -> frozenset[Any]:
    """The keys of ``split`` in ``track`` ("RandomEvents": activation ids, "Climatic":
    ``"{actid}_{aoi:02d}"`` strings that the caller gives in ``lists``)."""
    if track == "RandomEvents":
        source: Mapping[str, Sequence[Any]] = lists or RANDOM_EVENTS
    elif track == "Climatic":
        if lists is None:
            raise InvalidInputError("the Climatic track needs split lists of 'actid_aoi' keys, "
                                    "e.g. {'train': ['421_05', ...], 'test': [...]}")
        source = lists
    else:
        raise InvalidInputError(f"track must be 'RandomEvents' or 'Climatic', got {track!r}")
    if split not in source:
        raise InvalidInputError(f"split must be one of {sorted(source)}, got {split!r}")
    return frozenset(source[split])


def track_key(track: str, actid: int, aoiid: int) -> Any:
    """How a patch is keyed in a track (the public code's ``act_aoi``)."""
    return f"{actid}_{aoiid:02d}" if track == "Climatic" else int(actid)


def normalize_sar(x: np.ndarray) -> np.ndarray:
    """Clamp to [0, 0.15], NaN -> 0.15, normalise with the dataset mean/std (2 channels per
    date, VV then VH, repeated for every date in ``x``'s first axis)."""
    y = np.nan_to_num(np.clip(np.asarray(x, dtype=np.float32), 0.0, CLAMP), nan=CLAMP)
    c = y.shape[0]
    if c % 2:
        raise InvalidInputError(f"SAR stacks have VV/VH pairs; got {c} channels")
    mean = np.tile(np.asarray(DATA_MEAN, np.float32), c // 2)[:, None, None]
    std = np.tile(np.asarray(DATA_STD, np.float32), c // 2)[:, None, None]
    out: np.ndarray = (y - mean) / std
    return out


def slope_riserun(dem: np.ndarray, cell_size: float = 1.0) -> np.ndarray:
    """Slope as rise over run (Horn's 3x3 finite differences, edges replicated): what
    richdem's ``slope_riserun`` computes. Difference: richdem leaves the border as no data;
    here the border uses replicated edges."""
    z = np.pad(np.asarray(dem, dtype=np.float64), 1, mode="edge")
    dzdx = ((z[:-2, 2:] + 2 * z[1:-1, 2:] + z[2:, 2:])
            - (z[:-2, :-2] + 2 * z[1:-1, :-2] + z[2:, :-2])) / (8 * cell_size)
    dzdy = ((z[2:, :-2] + 2 * z[2:, 1:-1] + z[2:, 2:])
            - (z[:-2, :-2] + 2 * z[:-2, 1:-1] + z[:-2, 2:])) / (8 * cell_size)
    out: np.ndarray = np.sqrt(dzdx**2 + dzdy**2).astype(np.float32)
    return out


def _read_band(path: Path) -> np.ndarray:
    import rasterio

    with rasterio.open(path) as ds:
        arr: np.ndarray = ds.read(1)
    return arr


class KuroSiwo(Dataset[dict[str, Any]]):
    """The labelled GRD patches of Kuro Siwo (a ``torch.utils.data.Dataset``; TorchGeo's
    ``CopernicusBenchFloodS1`` reads a subset in the same layout, checked in the tests).

    Args:
        root: the dataset root (holding ``data/``).
        split: ``"train"``, ``"val"`` or ``"test"`` (or any key of ``split_lists``).
        track: ``"RandomEvents"`` or ``"Climatic"``.
        split_lists: override of the split lists (required for ``Climatic``).
        catalogue: optional :class:`Catalogue` giving each patch's climate zone when its
            ``info.json`` has none.
        dem: add the normalised DEM as ``sample["dem"]``; slope: add the normalised slope
            (rise/run) as ``sample["slope"]``.
        transforms: applied to each sample dict.

    Samples: ``image`` float32 ``(6, H, W)`` = post VV, VH, pre1 VV, VH, pre2 VV, VH,
    clamped and normalised; ``mask`` int64 ``(H, W)`` (0/1/2, 3 where invalid or where
    ``MK0_MNA`` is 0); ``valid`` bool; ``actid``, ``aoiid``, ``clz`` ints.
    """

    def __init__(self, root: str | os.PathLike[str], split: str = "train",
                 track: str = "RandomEvents",
                 split_lists: Mapping[str, Sequence[Any]] | None = None,
                 catalogue: Catalogue | None = None, dem: bool = False, slope: bool = False,
                 transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.root = Path(root)
        self.track = track
        self.keys = split_keys(track, split, split_lists)
        self.catalogue = catalogue
        self.dem, self.slope = dem, slope
        self.transforms = transforms
        data = self.root / "data"
        if not data.is_dir():
            raise DataNotFoundError("Kuro Siwo", self.root, ["data/"], URL,
                                    "data/{actid}/{aoi:02d}/{grid_hash}/")
        self.folders: list[Path] = []
        for folder in sorted(data.glob("*/*/*")):
            if not folder.is_dir() or not any(folder.glob("MK0_MLU_*")):
                continue
            actid, aoiid = int(folder.parent.parent.name), int(folder.parent.name)
            if track_key(track, actid, aoiid) in self.keys:
                self.folders.append(folder)
        if not self.folders:
            raise DataNotFoundError("Kuro Siwo", self.root,
                                    [f"data/*/*/*/MK0_MLU_* for {track} {split}"], URL,
                                    "data/{actid}/{aoi:02d}/{grid_hash}/")

    def __len__(self) -> int:
        return len(self.folders)

    def _file(self, folder: Path, prefix: str) -> Path:
        found = sorted(folder.glob(f"{prefix}_*.tif"))
        if not found:
            raise DataNotFoundError("Kuro Siwo patch", folder, [f"{prefix}_*.tif"], URL)
        return found[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        folder = self.folders[index]
        bands = [_read_band(self._file(folder, f"{d}_{p}")) for d in DATES
                 for p in ("IVV", "IVH")]
        image = normalize_sar(np.stack(bands))
        label = _read_band(self._file(folder, "MK0_MLU")).astype(np.int64)
        valid = _read_band(self._file(folder, "MK0_MNA")) == 1
        label = np.where(valid & (label < INVALID), label, INVALID)
        info: dict[str, Any] = {}
        if (folder / "info.json").is_file():
            info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
        actid, aoiid = int(folder.parent.parent.name), int(folder.parent.name)
        clz = info.get("clz")
        if clz is None and self.catalogue is not None:
            clz = self.catalogue.climate_zone(actid, aoiid)
        sample: dict[str, Any] = {
            "image": torch.from_numpy(image), "mask": torch.from_numpy(label),
            "valid": torch.from_numpy(valid), "actid": actid, "aoiid": aoiid,
            "clz": int(clz) if clz is not None else 0, "grid": folder.name,
        }
        if self.dem or self.slope:
            dem = _read_band(self._file(folder, "MK0_DEM")).astype(np.float32)
            dem = np.nan_to_num(dem, nan=float(np.nanmean(dem)) if np.isfinite(dem).any() else 0)
            if self.dem:
                sample["dem"] = torch.from_numpy(((dem - DEM_MEAN) / DEM_STD)[None])
            if self.slope:
                s = (slope_riserun(dem) - SLOPE_MEAN) / SLOPE_STD
                sample["slope"] = torch.from_numpy(s[None].astype(np.float32))
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(self, sample: Mapping[str, Any], show_titles: bool = True,
             suptitle: str | None = None) -> Figure:
        """Post VV, pre-event 1 VV, the label and (if present) the prediction."""
        import matplotlib.pyplot as plt
        from matplotlib.colors import ListedColormap

        image = np.asarray(sample["image"])
        panels: list[tuple[str, np.ndarray, Any]] = [
            ("post-event VV", image[0], "gray"), ("pre-event 1 VV", image[2], "gray"),
            ("label", np.asarray(sample["mask"]), None)]
        if "prediction" in sample:
            panels.append(("prediction", np.asarray(sample["prediction"]), None))
        cmap = ListedColormap(["#d9c9a3", "#1f4e9c", "#37c3f0", "#000000"])
        fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2))
        for ax, (title, arr, cm) in zip(np.atleast_1d(axes), panels, strict=True):
            if cm is None:
                ax.imshow(arr, cmap=cmap, vmin=0, vmax=3, interpolation="nearest")
            else:
                ax.imshow(arr, cmap=cm)
            ax.axis("off")
            if show_titles:
                ax.set_title(title)
        if suptitle:
            fig.suptitle(suptitle)
        return fig


def _write_tif(path: Path, arr: np.ndarray, transform: Any, nodata: float | None) -> None:
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1],
                       count=1, dtype=arr.dtype, crs="EPSG:3857", transform=transform,
                       nodata=nodata) as ds:
        ds.write(arr, 1)


def write_fixture(root: str | os.PathLike[str],
                  patches: Iterable[tuple[int, int, dict[str, np.ndarray]]] | None = None,
                  *, size: int = 32, seed: int = 0) -> Path:
    """Write patches in the published GRD layout under ``root/data``.

    Args:
        root: dataset root.
        patches: ``(actid, aoiid, arrays)`` with ``arrays`` holding ``post``, ``pre1``,
            ``pre2`` (``(2, H, W)`` float32 linear VV/VH), ``label`` (uint8 0..3), optional
            ``valid`` (uint8), ``dem`` and ``clz`` (climate zone, kept in ``info.json``). Default: one random patch per RandomEvents split
            (activations 130, 514, 321) from :func:`.synthetic.make_scene`.
        size: patch side of the default patches; seed: their seed.

    Returns:
        ``Path(root)``.
    """
    from affine import Affine

    from .synthetic import make_scene

    root = Path(root)
    if patches is None:
        rng = np.random.default_rng(seed)
        patches = [(a, 1, make_scene(rng, size)) for a in (130, 514, 321)]
    for i, (actid, aoiid, arr) in enumerate(patches):
        grid = f"{i:04d}_{actid}"
        folder = root / "data" / str(actid) / f"{aoiid:02d}" / grid
        folder.mkdir(parents=True, exist_ok=True)
        tag = f"{actid}_{aoiid:02d}"
        dates = {"MS1": "20210715", "SL1": "20210703", "SL2": "20210621"}
        transform = Affine(10.0, 0.0, 600000.0 + 224 * 10 * i, 0.0, -10.0, 6500000.0)
        for d, key in zip(DATES, ("post", "pre1", "pre2"), strict=True):
            for b, pol in enumerate(("IVV", "IVH")):
                _write_tif(folder / f"{d}_{pol}_{tag}_{dates[d]}.tif",
                           np.asarray(arr[key][b], np.float32), transform, 0.0)
        label = np.asarray(arr["label"], np.uint8)
        valid = np.asarray(arr.get("valid", (label != INVALID).astype(np.uint8)), np.uint8)
        dem = np.asarray(arr.get("dem", np.zeros(label.shape, np.float32)), np.float32)
        _write_tif(folder / f"MK0_MLU_{tag}_{dates['MS1']}.tif", label, transform, None)
        _write_tif(folder / f"MK0_MNA_{tag}_{dates['MS1']}.tif", valid, transform, None)
        _write_tif(folder / f"MK0_DEM_{tag}_{dates['MS1']}.tif", dem, transform, None)
        info: dict[str, Any] = {"actid": actid, "aoiid": aoiid, "grid_id": grid,
                "flood_date": dates["MS1"], "sec1_date": dates["SL1"],
                "sec2_date": dates["SL2"]}
        if "clz" in arr:
            info["clz"] = int(arr["clz"])
        (folder / "info.json").write_text(json.dumps(info), encoding="utf-8")
    return root
