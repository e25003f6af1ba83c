"""FUSU dataset reader (published layout) and a fixture writer in exactly that layout.

FUSU (Yuan et al., NeurIPS 2024 Datasets & Benchmarks, Sec. 3) pairs bi-temporal
high-resolution (HR) RGB patches with 18-value land-use labels and a monthly Sentinel-2 +
Sentinel-1 time series per patch.

On-disk layout read here (the layout of the public training code, which is the only one
with splits)::

    {root}/{train,val,test}/
        im1/{id}.png            HR RGB, date 1, uint8 (H, W, 3)
        im2/{id}.png            HR RGB, date 2
        label1/{id}.png         uint8 land use of date 1, 0 = background, 1..17 classes
        label2/{id}.png         uint8 land use of date 2
        label_bin/{id}.png      uint8 change mask (0/1, or 0/255)
        Times/**/{id}_{Y}_{m}.tif   GeoTIFF (C, h, w), Y in A/B/C = year, m = month 1..12

README-versus-code disagreements and how they are resolved (documented choices):

* label folders: the README names them ``im1_label``/``im2_label``, the code
  ``label1``/``label2``; both are accepted (code names first).
* time-series files: the README writes ``A/{8-12}/{id}_A_{m}.png``, the code reads any
  ``{id}_*.tif`` below ``Times`` with GDAL. GeoTIFF is read (the issue tracker confirms the
  files are GeoTIFF); the README's nested ``A/{m}/`` sub-folders are allowed below ``Times``.
  File names are matched strictly as ``{id}_{Y}_{m}.tif`` (the code's prefix regex also
  matches other ids that start with ``{id}_``) and dates are **sorted** by year letter and
  month (the code keeps ``os.walk`` order, i.e. arbitrary order; its L-TAE encodes no dates
  and is order-invariant, but the series-as-channels baseline reads the dates by position).
* Sentinel bands: the README says 14 (12 Sentinel-2 + VV/VH), the code builds U-TAE with
  ``input_dim=15``. The band count is read from the files (all dates of a patch must agree)
  and the model default is the README's 14.
* the change mask: ``label_bin`` when present, else ``label1 != label2`` (issue #2: the
  change mask is the pixelwise difference of the two labels). 255 is mapped to 1.
* the public code opens ``train`` for every mode (``mode == 'train' or 'pseudo_labeling'`` is
  always true); here ``split`` selects the folder.
* the test split of the public code has no labels; here labels are returned when present.

Class names follow the README (the code's ``CLASSES`` swaps 8 "orchard" and 9 "park").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ...errors import DataNotFoundError, InvalidInputError

__all__ = [
    "CLASSES",
    "FUSU",
    "FUSU_URL",
    "PALETTE",
    "collate_fusu",
    "month_index",
    "write_fixture",
]

FUSU_URL = (
    "https://huggingface.co/datasets/sp-juni/FUSU-Fine_grained_Urban_Semantic_Understanding "
    "(HR images and labels) or https://data-starcloud.pcl.ac.cn/zh/resource/57 (full set with "
    "Sentinel time series)"
)
LAYOUT = (
    "{root}/{train,val,test}/{im1,im2,label1,label2,label_bin}/{id}.png and "
    "{root}/{split}/Times/**/{id}_{A|B|C}_{month}.tif"
)

#: The 18 label values of FUSU (README order; 0 is background, not a land-use class).
CLASSES: tuple[str, ...] = (
    "background",
    "traffic land",
    "inland water",
    "residential land",
    "cropland",
    "agriculture construction",
    "blank",
    "industrial land",
    "orchard",
    "park",
    "public management and service",
    "commercial land",
    "public construction",
    "special",
    "forest",
    "storage",
    "wetland",
    "grass",
)

#: README palette (its third entry reads ``[8, 514, 230]``, an out-of-range typo; 255 is used).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (255, 255, 255), (233, 133, 133), (8, 255, 230), (255, 0, 30), (126, 211, 33),
    (135, 126, 20), (94, 47, 4), (10, 82, 77), (184, 233, 134), (219, 170, 230),
    (255, 199, 2), (252, 232, 5), (245, 107, 0), (243, 229, 176), (3, 100, 0),
    (127, 123, 127), (52, 205, 249), (18, 227, 180),
)

_TS_NAME = re.compile(r"^(?P<id>.+)_(?P<year>[A-Z])_(?P<month>\d{1,2})\.tif$")
_LABEL_DIRS = {"label1": ("label1", "im1_label"), "label2": ("label2", "im2_label")}


def month_index(year: str, month: int) -> int:
    """Months since January of year ``A`` (``A_8`` -> 7, ``B_1`` -> 12, ``C_12`` -> 35)."""
    return (ord(year) - ord("A")) * 12 + (month - 1)


def _read_png(path: Path) -> npt.NDArray[Any]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.array(im)
    except Exception as exc:  # truncated / not an image
        raise InvalidInputError(f"cannot read image {str(path)!r}: {exc}") from exc


class FUSU(Dataset[dict[str, Tensor]]):
    """FUSU bi-temporal land-use change patches with their Sentinel time series.

    Args:
        root: dataset root holding ``train``/``val``/``test`` folders.
        split: ``"train"``, ``"val"`` or ``"test"``.
        transforms: optional callable applied to each sample dict.
        time_series: read the Sentinel time series (``False`` for HR-only use).

    A sample is a dict of tensors:

    * ``image``: float32 ``(2, 3, H, W)``, raw 0-255 RGB of both dates;
    * ``mask``: int64 ``(2, H, W)``, land use of both dates (0 background, 1..17);
    * ``change``: int64 ``(H, W)``, 1 where the land use changed;
    * ``time_series``: float32 ``(T, C, h, w)``, dates sorted; ``dates``: int64 ``(T,)``
      month index (:func:`month_index`).

    Use :func:`collate_fusu` as ``collate_fn`` (time series of different lengths are padded
    with zeros, the U-TAE pad value, and ``pad_mask`` marks the padded dates).
    """

    classes = CLASSES
    splits = ("train", "val", "test")

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
        time_series: bool = True,
    ) -> None:
        if split not in self.splits:
            raise InvalidInputError(f"split must be one of {self.splits}, got {split!r}")
        self.root = Path(root)
        self.split = split
        self.transforms = transforms
        self.use_time_series = time_series
        self.split_dir = self.root / split
        missing = [f"{split}/{d}" for d in ("im1", "im2") if not (self.split_dir / d).is_dir()]
        if missing:
            raise DataNotFoundError("FUSU", self.root, missing, FUSU_URL, LAYOUT)
        self.ids = sorted(
            p.stem for p in (self.split_dir / "im1").iterdir() if p.is_file()
            and not p.name.startswith(".")
        )
        if not self.ids:
            raise DataNotFoundError("FUSU", self.root, [f"{split}/im1/*.png"], FUSU_URL, LAYOUT)
        self._ext = {p.stem: p.name for p in (self.split_dir / "im1").iterdir()}
        self.label_dirs: dict[str, Path | None] = {}
        for key, names in _LABEL_DIRS.items():
            found = [self.split_dir / n for n in names if (self.split_dir / n).is_dir()]
            self.label_dirs[key] = found[0] if found else None
        if split != "test" and any(v is None for v in self.label_dirs.values()):
            raise DataNotFoundError(
                "FUSU", self.root, [f"{split}/label1 (or im1_label)", f"{split}/label2"],
                FUSU_URL, LAYOUT,
            )
        self.ts_files: dict[str, list[tuple[int, Path]]] = {}
        if time_series:
            times = self.split_dir / "Times"
            if not times.is_dir():
                raise DataNotFoundError("FUSU", self.root, [f"{split}/Times"], FUSU_URL, LAYOUT)
            index: dict[str, list[tuple[int, Path]]] = {}
            for p in times.rglob("*.tif"):
                m = _TS_NAME.match(p.name)
                if m:
                    date = month_index(m["year"], int(m["month"]))
                    index.setdefault(m["id"], []).append((date, p))
            for pid in self.ids:
                if pid not in index:
                    raise DataNotFoundError(
                        "FUSU time series", self.root, [f"{split}/Times/**/{pid}_*_*.tif"],
                        FUSU_URL, LAYOUT,
                    )
                self.ts_files[pid] = sorted(index[pid], key=lambda t: t[0])

    def __len__(self) -> int:
        return len(self.ids)

    def _image_path(self, folder: str | Path, pid: str) -> Path:
        base = self.split_dir / folder if isinstance(folder, str) else folder
        path = base / self._ext[pid]
        if not path.is_file():
            cands = sorted(base.glob(f"{pid}.*"))
            if not cands:
                raise DataNotFoundError("FUSU", self.root, [str(path)], FUSU_URL, LAYOUT)
            path = cands[0]
        return path

    def read_time_series(self, pid: str) -> tuple[Tensor, Tensor]:
        """``(T, C, h, w)`` float32 series of patch ``pid`` and its ``(T,)`` month indices."""
        import rasterio

        arrays: list[npt.NDArray[np.float32]] = []
        dates: list[int] = []
        for date, path in self.ts_files[pid]:
            try:
                with rasterio.open(path) as src:
                    arr = src.read().astype(np.float32)
            except Exception as exc:
                raise InvalidInputError(f"cannot read time-series file {str(path)!r}: {exc}") \
                    from exc
            if not np.isfinite(arr).all():
                raise InvalidInputError(
                    f"time-series file {str(path)!r} holds NaN/inf values; fill them (e.g. with "
                    "0, the U-TAE pad value) before training"
                )
            if arrays and arr.shape != arrays[0].shape:
                raise InvalidInputError(
                    f"time-series file {str(path)!r} has shape {arr.shape}, but the first date "
                    f"of patch {pid!r} has {arrays[0].shape} (bands, height, width must agree)"
                )
            arrays.append(arr)
            dates.append(date)
        return torch.from_numpy(np.stack(arrays)), torch.tensor(dates, dtype=torch.long)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        pid = self.ids[index]
        im1 = _read_png(self._image_path("im1", pid))
        im2 = _read_png(self._image_path("im2", pid))
        for name, im in (("im1", im1), ("im2", im2)):
            if im.ndim != 3 or im.shape[2] < 3:
                raise InvalidInputError(
                    f"FUSU {name}/{pid}: expected an RGB image (H, W, 3), got shape {im.shape}"
                )
        if im1.shape[:2] != im2.shape[:2]:
            raise InvalidInputError(
                f"FUSU patch {pid!r}: im1 {im1.shape[:2]} and im2 {im2.shape[:2]} differ in size"
            )
        image = np.stack([im1[..., :3], im2[..., :3]]).transpose(0, 3, 1, 2)
        sample: dict[str, Tensor] = {"image": torch.from_numpy(image.astype(np.float32))}
        d1, d2 = self.label_dirs["label1"], self.label_dirs["label2"]
        if d1 is not None and d2 is not None:
            masks = []
            for folder in (d1, d2):
                lab = _read_png(self._image_path(folder, pid))
                if lab.ndim == 3:
                    lab = lab[..., 0]
                if lab.shape != im1.shape[:2]:
                    raise InvalidInputError(
                        f"FUSU label {folder.name}/{pid}: shape {lab.shape} != image "
                        f"{im1.shape[:2]}"
                    )
                if lab.max() >= len(CLASSES):
                    raise InvalidInputError(
                        f"FUSU label {folder.name}/{pid}: value {int(lab.max())} outside 0..17"
                    )
                masks.append(lab.astype(np.int64))
            sample["mask"] = torch.from_numpy(np.stack(masks))
            bin_dir = self.split_dir / "label_bin"
            if bin_dir.is_dir() and any(bin_dir.glob(f"{pid}.*")):
                change = _read_png(self._image_path("label_bin", pid))
                if change.ndim == 3:
                    change = change[..., 0]
                change = (change > 0).astype(np.int64)
            else:
                change = (masks[0] != masks[1]).astype(np.int64)
            sample["change"] = torch.from_numpy(change)
        if self.use_time_series:
            ts, dates = self.read_time_series(pid)
            sample["time_series"], sample["dates"] = ts, dates
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self,
        sample: dict[str, Tensor],
        show_titles: bool = True,
        suptitle: str | None = None,
    ) -> Any:
        """Plot both dates, their labels (README palette), the change mask and, when given,
        ``prediction`` (2, H, W) land-use maps; returns the matplotlib figure."""
        from ...demo import new_figure

        panels: list[tuple[str, npt.NDArray[Any]]] = []
        img = sample["image"].numpy()
        for t in range(2):
            panels.append((f"image t{t + 1}", np.clip(img[t].transpose(1, 2, 0) / 255, 0, 1)))
        pal = np.array(PALETTE, dtype=np.float64) / 255
        if "mask" in sample:
            for t in range(2):
                panels.append((f"land use t{t + 1}", pal[sample["mask"][t].numpy()]))
        if "change" in sample:
            panels.append(("change", sample["change"].numpy().astype(float)))
        if "prediction" in sample:
            for t in range(2):
                panels.append((f"predicted t{t + 1}", pal[sample["prediction"][t].numpy()]))
        fig, axes = new_figure(ncols=len(panels), nrows=1, size=2.5)
        for ax, (title, arr) in zip(axes[0], panels, strict=True):
            ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, interpolation="nearest")
            ax.axis("off")
            if show_titles:
                ax.set_title(title)
        if suptitle:
            fig.suptitle(suptitle)
        return fig


def collate_fusu(batch: Sequence[dict[str, Tensor]]) -> dict[str, Tensor]:
    """Stack samples; zero-pad time series to the longest one and add ``pad_mask`` (B, T)."""
    out: dict[str, Tensor] = {}
    for key in batch[0]:
        if key in ("time_series", "dates"):
            continue
        out[key] = torch.stack([s[key] for s in batch])
    if "time_series" in batch[0]:
        t_max = max(s["time_series"].shape[0] for s in batch)
        shape = batch[0]["time_series"].shape[1:]
        ts = torch.zeros(len(batch), t_max, *shape)
        dates = torch.zeros(len(batch), t_max, dtype=torch.long)
        pad = torch.ones(len(batch), t_max, dtype=torch.bool)
        for i, s in enumerate(batch):
            if s["time_series"].shape[1:] != shape:
                raise InvalidInputError(
                    f"time series of sample {i} has shape {tuple(s['time_series'].shape[1:])}, "
                    f"expected {tuple(shape)} (all patches must have the same bands and size)"
                )
            n = s["time_series"].shape[0]
            ts[i, :n], dates[i, :n], pad[i, :n] = s["time_series"], s["dates"], False
        out["time_series"], out["dates"], out["pad_mask"] = ts, dates, pad
    return out


def write_fixture(
    root: str | Path,
    scenes: dict[str, list[dict[str, npt.NDArray[Any]]]] | None = None,
    *,
    n_per_split: int = 2,
    size: int = 32,
    ts_size: int = 12,
    bands: int = 14,
    seed: int = 0,
) -> Path:
    """Write a FUSU dataset in the published layout under ``root``.

    Args:
        root: output root (``{root}/{split}/...`` is created).
        scenes: ``split -> list of scenes``; a scene is a dict with ``im1``/``im2`` uint8
            ``(H, W, 3)``, ``label1``/``label2`` uint8 ``(H, W)``, ``time_series`` float32
            ``(T, C, h, w)`` and ``dates`` ``(T,)`` month indices (see :func:`month_index`).
            ``None`` writes ``n_per_split`` random scenes per split.
        n_per_split, size, ts_size, bands, seed: shape of the random scenes.

    Time-series files are written as ``Times/{Y}/{m}/{id}_{Y}_{m}.tif`` (GeoTIFF, float32,
    10 m pixels in EPSG:32650): the README's nested folders inside the code's ``Times``.
    """
    import rasterio
    from PIL import Image
    from rasterio.transform import from_origin

    root = Path(root)
    if scenes is None:
        rng = np.random.default_rng(seed)
        scenes = {}
        for split in FUSU.splits:
            items: list[dict[str, npt.NDArray[Any]]] = []
            for _ in range(n_per_split):
                l1 = rng.integers(0, len(CLASSES), (size, size), dtype=np.uint8)
                l2 = l1.copy()
                l2[: size // 2, : size // 2] = rng.integers(1, len(CLASSES))
                dates = np.array([month_index("A", 8), month_index("A", 11),
                                  month_index("B", 3), month_index("C", 6)])
                items.append({
                    "im1": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
                    "im2": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
                    "label1": l1,
                    "label2": l2,
                    "time_series": rng.random((len(dates), bands, ts_size, ts_size),
                                              dtype=np.float32),
                    "dates": dates,
                })
            scenes[split] = items
    for split, items in scenes.items():
        d = root / split
        for sub in ("im1", "im2", "label1", "label2", "label_bin", "Times"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        for k, sc in enumerate(items):
            pid = f"6_{k}"
            Image.fromarray(np.asarray(sc["im1"], np.uint8)).save(d / "im1" / f"{pid}.png")
            Image.fromarray(np.asarray(sc["im2"], np.uint8)).save(d / "im2" / f"{pid}.png")
            l1, l2 = np.asarray(sc["label1"], np.uint8), np.asarray(sc["label2"], np.uint8)
            Image.fromarray(l1).save(d / "label1" / f"{pid}.png")
            Image.fromarray(l2).save(d / "label2" / f"{pid}.png")
            Image.fromarray((l1 != l2).astype(np.uint8)).save(d / "label_bin" / f"{pid}.png")
            ts = np.asarray(sc["time_series"], np.float32)
            for date, arr in zip(np.asarray(sc["dates"]).tolist(), ts, strict=True):
                year, month = chr(ord("A") + date // 12), date % 12 + 1
                folder = d / "Times" / year / str(month)
                folder.mkdir(parents=True, exist_ok=True)
                profile = {
                    "driver": "GTiff", "width": arr.shape[2], "height": arr.shape[1],
                    "count": arr.shape[0], "dtype": "float32", "crs": "EPSG:32650",
                    "transform": from_origin(500000.0, 2500000.0, 10.0, 10.0),
                }
                with rasterio.open(folder / f"{pid}_{year}_{month}.tif", "w", **profile) as dst:
                    dst.write(arr)
    return root
