"""AllClear dataset (Zhou et al., NeurIPS 2024 Datasets & Benchmarks, arXiv 2410.23891).

Published on-disk layout (paper section 3; download script of Zhou-Hangyu/allclear)::

    ROOT/
      metadata/datasets/{split}_tx{tx}_{s2-s1|s2-s1-landsat}_{pct}.json
      rois/{split}_rois_{n}k.txt                 one ROI id per line (optional filter)
      data/roi{ID}/{YYYY}_{M}/{sensor}/roi{ID}_{sensor}_{YYYY}_{M}_{D}_median.tif

Sensors (all COG GeoTIFF, EPSG:4326, 10 m, about 300 x 300 with NaN borders, center-cropped
to 256 x 256 on read):

=============  ==========================================================================
``s2_toa``     Sentinel-2 L1C (harmonized), 13 bands B1..B12 incl. B8A and B10, TOA x 1e4
``s1``         Sentinel-1 GRD, VV and VH in dB
``landsat8/9`` Landsat C2 T1 TOA, 11 bands B1..B11 (+ QA_PIXEL, not read)
``cld_shdw``   5 bands: s2cloudless probability, clouds_30, shadows_thres_20/25/30; bands
               2 and 5 (1-based) are read as the cloud and shadow masks
``dw``         Dynamic World ``label``, classes 0..8 (:data:`DW_CLASSES`)
=============  ==========================================================================

The metadata JSON maps a sample id ``f"{roi}_{min_date}_{max_date}"`` to::

    {"roi": [roi_id, [lat, lon]],
     "target": [[timestamp, s2_path]],
     "s2_toa": [[timestamp, s2_path], ...],     # tx input dates
     "s1": [...], "landsat8": [...], "landsat9": [...]}

with timestamps ``"YYYY-mm-dd HH:MM:SS"``. The cloud/shadow and land-cover files of an S2
image are found by replacing ``s2_toa`` with ``cld_shdw`` or ``dw`` in its path. Paths in the
released JSON are absolute paths of the authors' server; they are resolved here relative to
``root`` from the ``roi{ID}`` component on (``root/data/roi.../...`` or ``root/roi.../...``).

Preprocessing as published (``allclear/dataset.py``): optical ``clip(x, 0, 1e4) / 1e4`` with
NaN -> 0; S1 VV ``clip(x + 25, 0, 25) / 25`` and VH ``clip(x + 32.5, 0, 32.5) / 32.5`` after
flooring values below -40 dB to -40, NaN -> -1; cloud/shadow NaN -> 1 (cloudy). Auxiliary
images are aligned to the nearest S2 input date when at most ``max_diff`` days away,
otherwise the slot is filled with ones; Landsat 8 and 9 share channels. The published loader
divides Landsat by 1e4 too although GEE Landsat TOA is already in [0, 1]; that is kept
(``landsat_scale``) so that channel values match the released models, and can be changed.
Dynamic World NaN (outside the footprint) becomes -1, which no per-class metric selects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch
from torchgeo.datasets import NonGeoDataset

from ...errors import DataNotFoundError, InvalidInputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "AUX_SENSORS",
    "DOWNLOAD_URL",
    "DW_CLASSES",
    "LANDSAT_BANDS",
    "S1_BANDS",
    "S2_BANDS",
    "AllClearDataset",
    "allclear_path",
    "center_crop",
    "parse_date_from_path",
    "preprocess_cld_shdw",
    "preprocess_optical",
    "preprocess_s1",
    "write_fixture",
]

DOWNLOAD_URL = "http://allclear.cs.cornell.edu/dataset/allclear/ (or python download.py)"
S2_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
S1_BANDS = ("VV", "VH")
LANDSAT_BANDS = tuple(f"B{i}" for i in range(1, 12))
DW_CLASSES = (
    "water", "trees", "grass", "flooded_vegetation", "crops", "shrub_and_scrub", "built",
    "bare", "snow_and_ice",
)
AUX_SENSORS = ("s1", "landsat8", "landsat9")
_TS_FORMAT = "%Y-%m-%d %H:%M:%S"
_LAYOUT = (
    "ROOT/metadata/datasets/{split}_tx{tx}_*.json plus "
    "ROOT/data/roi{ID}/{YYYY}_{M}/{sensor}/roi{ID}_{sensor}_{YYYY}_{M}_{D}_median.tif"
)


# ------------------------------------------------------------------------------ preprocessing


def preprocess_optical(x: npt.NDArray[Any], scale: float = 1e4) -> npt.NDArray[np.float32]:
    """Published optical preprocessing: ``clip(x, 0, scale) / scale``, NaN -> 0."""
    a = np.asarray(x, dtype=np.float32)
    a = np.clip(np.nan_to_num(a, nan=0.0), 0.0, scale) / np.float32(scale)
    return a.astype(np.float32)


def preprocess_s1(x: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """Published S1 preprocessing of ``(2, H, W)`` VV/VH dB to [0, 1], NaN -> -1."""
    a = np.asarray(x, dtype=np.float32).copy()
    if a.shape[0] != 2:
        raise InvalidInputError(f"S1 image must have 2 bands (VV, VH), got {a.shape[0]}")
    nan = np.isnan(a)
    a[~nan & (a < -40)] = -40.0
    vv = np.clip(a[0] + 25.0, 0.0, 25.0) / 25.0
    vh = np.clip(a[1] + 32.5, 0.0, 32.5) / 32.5
    out = np.stack([vv, vh]).astype(np.float32)
    out[nan] = -1.0
    return out


def preprocess_cld_shdw(x: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """Cloud/shadow masks ``(2, H, W)`` (bands 2 and 5 of ``cld_shdw``), NaN -> 1."""
    a = np.asarray(x, dtype=np.float32)
    return np.nan_to_num(a, nan=1.0).astype(np.float32)


def center_crop(x: npt.NDArray[Any], size: int, name: str = "image") -> npt.NDArray[Any]:
    """Center crop the last two axes to ``size x size`` (AllClear crops ~300 to 256)."""
    h, w = x.shape[-2:]
    if h < size or w < size:
        raise InvalidInputError(f"{name} is {h} x {w} pixels, smaller than the crop {size}")
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top:top + size, left:left + size]


def parse_date_from_path(path: str | Path) -> datetime:
    """Acquisition date from an AllClear file name ``..._{YYYY}_{M}_{D}_median.tif``."""
    parts = Path(path).stem.split("_")
    try:
        y, m, d = (int(p) for p in parts[-4:-1])
        return datetime(y, m, d)
    except (ValueError, IndexError):
        raise InvalidInputError(
            f"cannot parse a date from {str(path)!r}; expected "
            "'roi{ID}_{sensor}_{YYYY}_{M}_{D}_median.tif'"
        ) from None


def allclear_path(root: str | Path, roi: str, date: datetime, sensor: str) -> Path:
    """The published path of ``sensor``'s image of ``roi`` (``"roi123"``) on ``date``."""
    y, m, d = date.year, date.month, date.day
    return Path(root) / "data" / roi / f"{y}_{m}" / sensor / f"{roi}_{sensor}_{y}_{m}_{d}_median.tif"


def _roi_key(roi: Any) -> str:
    s = str(roi).strip()
    return s[3:] if s.startswith("roi") else s


# ------------------------------------------------------------------------------------ dataset


class AllClearDataset(NonGeoDataset):
    """AllClear samples from the published metadata JSON and ROI/date folders.

    A TorchGeo :class:`~torchgeo.datasets.NonGeoDataset` (hence a
    :class:`torch.utils.data.Dataset`): samples are fixed-size center crops indexed by
    integer, batched by a plain ``DataLoader`` (the ``roi`` string is collated to a list).

    Args:
        root: dataset folder (see the module docstring for the layout).
        split: ``"train"``, ``"val"`` or ``"test"``; selects the metadata JSON
            ``metadata/datasets/{split}_tx{tx}_*.json`` (first in sorted order) and, when
            present, the ROI list ``rois/{split}_rois_*.txt``.
        tx: number of input S2 dates per sample (3 or 12 in the release).
        metadata: explicit metadata JSON path (overrides the search).
        aux_sensors: auxiliary sensors stacked after the 13 S2 channels (``"s1"`` adds 2,
            ``"landsat8"``/``"landsat9"`` add 11 shared channels).
        aux_data: ``"cld_shdw"`` and/or ``"dw"``.
        center_crop_size: crop edge (256 in the paper).
        max_diff: maximum days between an auxiliary image and an S2 input date.
        landsat_scale: divisor of Landsat values (1e4 as the published loader).
        transforms: optional callable applied to each sample dict.

    A sample (``__getitem__``) holds, with ``T = tx``:

    - ``input_images``: float32 ``(13 + aux channels, T, H, W)`` in [0, 1] (S1 may be -1);
    - ``target``: float32 ``(13, 1, H, W)``;
    - ``input_cld_shdw`` ``(2, T, H, W)`` and ``target_cld_shdw`` ``(2, 1, H, W)``:
      cloud and shadow masks (1 = cloudy/shadow);
    - ``input_dw`` ``(1, T, H, W)`` and ``target_dw`` ``(1, 1, H, W)``: int64 Dynamic World
      labels (-1 = unknown);
    - ``timestamps``: float64 ``(T,)`` POSIX seconds of the inputs;
    - ``time_differences``: float32 ``(T,)`` days from the target date to each input
      (negative before the target);
    - ``latlong``: float64 ``(2,)``; ``roi``: the ROI id string.

    Raises:
        DataNotFoundError: the root, metadata JSON or an image file is missing.
        InvalidInputError: malformed metadata or rasters.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "test",
        tx: int = 3,
        *,
        metadata: str | Path | None = None,
        aux_sensors: Sequence[str] = ("s1",),
        aux_data: Sequence[str] = ("cld_shdw", "dw"),
        center_crop_size: int = 256,
        max_diff: float = 2.0,
        landsat_scale: float = 1e4,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.tx = int(tx)
        for s in aux_sensors:
            if s not in AUX_SENSORS:
                raise InvalidInputError(f"unknown auxiliary sensor {s!r}; known: {AUX_SENSORS}")
        for a in aux_data:
            if a not in ("cld_shdw", "dw"):
                raise InvalidInputError(f"unknown auxiliary data {a!r}; known: cld_shdw, dw")
        self.aux_sensors = tuple(aux_sensors)
        self.aux_data = tuple(aux_data)
        self.crop = int(center_crop_size)
        self.max_diff = float(max_diff)
        self.landsat_scale = float(landsat_scale)
        self.transforms = transforms
        if not self.root.is_dir():
            raise DataNotFoundError("AllClear", self.root, [str(self.root)], DOWNLOAD_URL, _LAYOUT)
        self.metadata_path = self._find_metadata(metadata)
        try:
            meta = json.loads(self.metadata_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInputError(
                f"cannot read AllClear metadata {str(self.metadata_path)!r}: {exc}"
            ) from exc
        if not isinstance(meta, dict):
            raise InvalidInputError(f"{str(self.metadata_path)!r} must hold a JSON object")
        rois = self._split_rois()
        self.samples: list[tuple[str, dict[str, Any]]] = []
        for uid, entry in meta.items():
            self._check_entry(uid, entry)
            if rois is not None and _roi_key(entry["roi"][0]) not in rois:
                continue
            self.samples.append((uid, entry))

    # -- discovery

    def _find_metadata(self, metadata: str | Path | None) -> Path:
        if metadata is not None:
            p = Path(metadata)
            if not p.is_file():
                raise DataNotFoundError("AllClear metadata", self.root, [str(p)], DOWNLOAD_URL,
                                        _LAYOUT)
            return p
        pattern = f"{self.split}_tx{self.tx}_*.json"
        found = sorted((self.root / "metadata" / "datasets").glob(pattern))
        if not found:
            raise DataNotFoundError(
                "AllClear metadata", self.root, [f"metadata/datasets/{pattern}"],
                DOWNLOAD_URL + " (metadata.tar.gz)", _LAYOUT,
            )
        return found[0]

    def _split_rois(self) -> set[str] | None:
        lists = sorted((self.root / "rois").glob(f"{self.split}_rois_*.txt"))
        if not lists:
            return None
        rois: set[str] = set()
        for p in lists:
            rois.update(_roi_key(line) for line in p.read_text().split() if line.strip())
        return rois

    def _check_entry(self, uid: str, entry: Any) -> None:
        where = f"sample {uid!r} of {str(self.metadata_path)!r}"
        if not isinstance(entry, dict) or "roi" not in entry or "target" not in entry:
            raise InvalidInputError(f"{where} lacks the 'roi' or 'target' key")
        if "s2_toa" not in entry:
            raise InvalidInputError(f"{where} lacks the 's2_toa' input list")
        if len(entry["s2_toa"]) != self.tx:
            raise InvalidInputError(
                f"{where} has {len(entry['s2_toa'])} S2 inputs but tx={self.tx}"
            )

    def resolve(self, path: str | Path) -> Path:
        """Map a path of the metadata JSON onto ``root`` (from its ``roi{ID}`` part on)."""
        p = Path(path)
        if p.is_file():
            return p
        parts = p.parts
        idx = next((i for i, s in enumerate(parts) if re.fullmatch(r"roi\d+", s)), None)
        if idx is not None:
            rel = Path(*parts[idx:])
            for cand in (self.root / "data" / rel, self.root / rel):
                if cand.is_file():
                    return cand
        if not p.is_absolute() and (self.root / p).is_file():
            return self.root / p
        raise DataNotFoundError("AllClear image", self.root, [str(path)], DOWNLOAD_URL, _LAYOUT)

    # -- reading

    def _read(self, path: str | Path, bands: Sequence[int] | None = None) -> npt.NDArray[Any]:
        from ...raster.io import read_raster

        arr, _ = read_raster(self.resolve(path), bands=bands)
        return center_crop(arr.astype(np.float32), self.crop, str(path))

    def _aux_channels(self, sensor: str) -> int:
        return 2 if sensor == "s1" else len(LANDSAT_BANDS)

    def _aux_stack(self, entry: dict[str, Any], dates: list[datetime]) -> list[npt.NDArray[Any]]:
        out: list[npt.NDArray[Any]] = []
        groups: list[tuple[str, ...]] = []
        for s in self.aux_sensors:
            if s.startswith("landsat"):
                if ("landsat8", "landsat9") not in groups:
                    groups.append(("landsat8", "landsat9"))
            else:
                groups.append((s,))
        for group in groups:
            cands = [(datetime.strptime(ts, _TS_FORMAT), path, s)
                     for s in group if s in self.aux_sensors for ts, path in entry.get(s, [])]
            chans = self._aux_channels(group[0])
            frames = []
            for d in dates:
                best = min(cands, key=lambda c: abs((c[0] - d).total_seconds()), default=None)
                if best is None or abs((best[0] - d).total_seconds()) > self.max_diff * 86400:
                    frames.append(np.ones((chans, self.crop, self.crop), np.float32))
                elif group[0] == "s1":
                    frames.append(preprocess_s1(self._read(best[1])))
                else:
                    bands = list(range(1, len(LANDSAT_BANDS) + 1))
                    frames.append(preprocess_optical(self._read(best[1], bands),
                                                     self.landsat_scale))
            out.append(np.stack(frames, axis=1))
        return out

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        uid, entry = self.samples[index]
        inputs = entry["s2_toa"]
        dates = [datetime.strptime(ts, _TS_FORMAT) for ts, _ in inputs]
        t_date = datetime.strptime(entry["target"][0][0], _TS_FORMAT)
        t_path = entry["target"][0][1]
        s2 = np.stack([preprocess_optical(self._read(p)) for _, p in inputs], axis=1)
        if s2.shape[0] != len(S2_BANDS):
            raise InvalidInputError(
                f"S2 images of sample {uid!r} have {s2.shape[0]} bands, expected 13"
            )
        images = np.concatenate([s2, *self._aux_stack(entry, dates)], axis=0)
        sample: dict[str, Any] = {
            "input_images": torch.from_numpy(images),
            "target": torch.from_numpy(preprocess_optical(self._read(t_path))[:, None]),
            "timestamps": torch.tensor([d.timestamp() for d in dates], dtype=torch.float64),
            "time_differences": torch.tensor(
                [(d - t_date) / timedelta(days=1) for d in dates], dtype=torch.float32
            ),
            "latlong": torch.tensor([float(v) for v in entry["roi"][1]], dtype=torch.float64),
            "roi": str(entry["roi"][0]),
        }
        if "cld_shdw" in self.aux_data:
            def cs(p: str) -> npt.NDArray[np.float32]:
                return preprocess_cld_shdw(self._read(p.replace("s2_toa", "cld_shdw"), [2, 5]))

            sample["input_cld_shdw"] = torch.from_numpy(
                np.stack([cs(p) for _, p in inputs], axis=1))
            sample["target_cld_shdw"] = torch.from_numpy(cs(t_path)[:, None])
        if "dw" in self.aux_data:
            def dw(p: str) -> npt.NDArray[np.int64]:
                a = self._read(p.replace("s2_toa", "dw"), [1])
                return np.where(np.isnan(a), -1, a).astype(np.int64)

            sample["input_dw"] = torch.from_numpy(np.stack([dw(p) for _, p in inputs], axis=1))
            sample["target_dw"] = torch.from_numpy(dw(t_path)[:, None])
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self, sample: dict[str, Any], show_titles: bool = True, suptitle: str | None = None,
        prediction: torch.Tensor | None = None,
    ) -> Figure:
        """RGB (B4, B3, B2) of the inputs with their cloud masks, the target and an optional
        ``prediction`` ``(13, H, W)``."""
        from ...demo import new_figure

        imgs = sample["input_images"]
        t = imgs.shape[1]
        ncols = t + 1 + (prediction is not None)
        fig, axes = new_figure(ncols=ncols, nrows=1, size=2.6)

        def rgb(x: Any) -> npt.NDArray[np.float64]:
            a = np.asarray(x)[[3, 2, 1]].transpose(1, 2, 0).astype(np.float64)
            return np.clip(a * 3.0, 0, 1)

        for i in range(t):
            axes[0, i].imshow(rgb(imgs[:13, i]))
            if "input_cld_shdw" in sample:
                m = np.asarray(sample["input_cld_shdw"][:, i]).sum(0) > 0
                axes[0, i].contour(m, levels=[0.5], colors="yellow", linewidths=0.6)
            if show_titles:
                axes[0, i].set_title(f"input {i} ({float(sample['time_differences'][i]):+.0f} d)")
        axes[0, t].imshow(rgb(sample["target"][:, 0]))
        if show_titles:
            axes[0, t].set_title("target")
        if prediction is not None:
            axes[0, t + 1].imshow(rgb(prediction))
            if show_titles:
                axes[0, t + 1].set_title("prediction")
        for ax in axes.ravel():
            ax.set_axis_off()
        if suptitle:
            fig.suptitle(suptitle)
        return fig


# ------------------------------------------------------------------------------------ fixture


def write_fixture(
    root: str | Path,
    *,
    n_rois: int = 4,
    samples_per_roi: int = 1,
    tx: int = 3,
    size: int = 40,
    crop: int = 32,
    split: str = "test",
    landsat: bool = False,
    seed: int = 0,
    start_id: int = 10000,
    roi_spectra: bool = False,
) -> Path:
    """Write a synthetic AllClear dataset in the published layout; return the JSON path.

    Each ROI gets ``samples_per_roi * (tx + 1)`` consecutive S2 dates (5 days apart) of one
    synthetic scene (:mod:`.synthetic`), with their ``cld_shdw``, ``dw`` and ``s1`` files
    (and ``landsat8`` every third date when ``landsat``). Rasters are float32 EPSG:4326
    GeoTIFFs of ``size x size`` pixels (about 10 m) with a NaN border of one pixel, so that
    ``center_crop_size=crop`` removes it. In each group of ``tx + 1`` dates the target is a
    middle date and is made clear (no cloud), as in the paper's construction. Metadata paths
    are written as absolute paths of a foreign server (as in the release), exercising the
    path resolution. Also writes ``rois/{split}_rois_fixture.txt``. ``roi_spectra``: every
    ROI gets its own class spectra (:func:`.synthetic.roi_spectra`) instead of the shared
    :data:`.synthetic.CLASS_SPECTRA`.
    """
    from affine import Affine

    from ...io import write_json, write_text
    from ...raster.io import write_raster
    from . import synthetic
    from .synthetic import make_cloudy_date, make_landcover, make_surface

    if size < crop:
        raise InvalidInputError(f"fixture size {size} must be >= crop {crop}")
    out = Path(root)
    rng = np.random.default_rng(seed)
    res = 10.0 / 111_320.0
    meta: dict[str, Any] = {}
    roi_ids: list[str] = []
    foreign = "/share/hariharan/cloud_removal/MultiSensor/dataset_temp_preprocess"
    start = datetime(2022, 3, 1)
    for r in range(n_rois):
        roi = f"roi{start_id + r}"
        roi_ids.append(roi)
        lat, lon = float(rng.uniform(-50, 60)), float(rng.uniform(-120, 140))
        transform = Affine(res, 0.0, lon - size / 2 * res, 0.0, -res, lat + size / 2 * res)
        lc = make_landcover((size, size), rng)
        spectra = synthetic.roi_spectra(rng) if roi_spectra else None
        surface = make_surface(lc, rng, spectra)
        n_dates = samples_per_roi * (tx + 1)
        target_pos = (tx + 1) // 2
        records: dict[str, list[tuple[str, str]]] = {"s2_toa": [], "s1": [], "landsat8": []}
        for k in range(n_dates):
            date = start + timedelta(days=5 * k + int(rng.integers(0, 3)))
            is_target = k % (tx + 1) == target_pos
            obs = make_cloudy_date(surface, lc, rng, day=date.timetuple().tm_yday,
                                   cover=0.0 if is_target else None)
            ts = date.strftime(_TS_FORMAT)
            border = np.zeros((size, size), bool)
            border[[0, -1], :] = True
            border[:, [0, -1]] = True

            def put(sensor: str, arr: npt.NDArray[Any], d: datetime = date,
                    roi: str = roi, transform: Any = transform,
                    border: npt.NDArray[np.bool_] = border) -> str:
                a = np.asarray(arr, np.float32).copy()
                a[:, border] = np.nan
                p = allclear_path(out, roi, d, sensor)
                write_raster(p, a, crs="EPSG:4326", transform=transform)
                rel = p.relative_to(out / "data")
                return f"{foreign}/{rel.as_posix()}"

            s2p = put("s2_toa", obs.cloudy * 1e4)
            put("cld_shdw", obs.cld_shdw)
            put("dw", lc[None].astype(np.float32))
            records["s2_toa"].append((ts, s2p))
            s1_date = date + timedelta(days=1)
            records["s1"].append((s1_date.strftime(_TS_FORMAT), put("s1", obs.s1, s1_date)))
            if landsat and k % 3 == 0:
                ls = np.concatenate([obs.clear[[0, 1, 2, 3, 7, 11, 12, 1, 10]], obs.clear[10:12]])
                records["landsat8"].append((ts, put("landsat8", ls * 1e4)))
        for g in range(samples_per_roi):
            idx = list(range(g * (tx + 1), (g + 1) * (tx + 1)))
            tgt = idx[target_pos]
            ins = [i for i in idx if i != tgt]
            dts = [records["s2_toa"][i][0] for i in idx]
            lo, hi = min(dts), max(dts)
            entry: dict[str, Any] = {
                "roi": [roi, [lat, lon]],
                "target": [list(records["s2_toa"][tgt])],
                "s2_toa": [list(records["s2_toa"][i]) for i in ins],
            }
            for s in ("s1", "landsat8"):
                entry[s] = [list(v) for v in records[s] if lo[:10] <= v[0][:10] <= hi[:10]
                            or any(abs((datetime.strptime(v[0], _TS_FORMAT)
                                        - datetime.strptime(d, _TS_FORMAT)).days) <= 2
                                   for d in dts)]
            meta[f"{roi}_{lo[:10]}_{hi[:10]}"] = entry
    path = out / "metadata" / "datasets" / f"{split}_tx{tx}_s2-s1_100p.json"
    write_json(path, meta)
    write_text(out / "rois" / f"{split}_rois_fixture.txt", "\n".join(roi_ids) + "\n")
    return path
