"""GeoPlant / GeoLifeCLEF 2024 presence-absence data in the published layout.

GeoPlant (Picek et al., arXiv 2408.13928, Sec. 3) is the GeoLifeCLEF 2024 data: about 89k
presence-absence (PA) surveys over Europe with multi-modal predictors. Files under ``root``
(Kaggle ``geolifeclef-2024`` / the GeoPlant Seafile server; ``{split}`` is ``train`` or
``test``, ``{Split}`` ``Train`` or ``Test``):

==========================  ===============================================================
what                        path
==========================  ===============================================================
PA metadata (long format)   ``GLC24_PA_metadata_{split}.csv``: one row per (survey, species):
                            ``lon, lat, year, geoUncertaintyInM, areaInM2, region, country,
                            speciesId, surveyId`` (test: no ``speciesId``). malpolon's
                            pre-extracted sample uses ``metadata.csv`` with a ``subset``
                            column instead; both are read.
PO metadata                 ``GLC24_P0_metadata_train.csv`` (zero, not O): the same plus
                            ``publisher, date, dayOfYear, month, day, taxonRank``.
Sentinel-2 patches          ``PA_{Split}_SatellitePatches_RGB/pa_{split}_patches_rgb/CD/AB/
                            <surveyId>.jpeg`` (128x128 RGB) and the ``..._NIR/..._nir`` tree
                            (1 band); CD = last two digits of the id, AB = the two before.
Landsat cubes               ``TimeSeries-Cubes/TimeSeries-Cubes/GLC24-PA-{split}-landsat_time_
                            series/GLC24-PA-train-landsat-time-series_<id>_cube.pt`` (train:
                            hyphens; test: ``GLC24-PA-test-landsat_time_series_<id>_cube.pt``),
                            float tensor ``[6 bands, 4 quarters, 21 years]``.
Bioclimatic cubes           ``.../GLC24-PA-{split}-bioclimatic_monthly/GLC24-PA-{split}-
                            bioclimatic_monthly_<id>_cube.pt``, ``[4 variables, 19 years,
                            12 months]``.
Environmental CSVs          ``EnvironmentalRasters/EnvironmentalRasters/`` ``Climate/Average
                            1981-2010/GLC24-PA-{split}-bioclimatic.csv``, ``Elevation/...-
                            elevation.csv``, ``Human Footprint/...-human_footprint.csv``,
                            ``LandCover/...-landcover.csv``, ``SoilGrids/...-soilgrids.csv``;
                            keyed by ``surveyId``.
Landsat values              ``PA-{split}-landsat_time_series/GLC24-PA-{split}-landsat_time_
                            series-{blue,green,red,nir,swir1,swir2}.csv``, keyed by ``surveyId``.
==========================  ===============================================================

Labels are built from the long table **before** it is reduced to one row per survey: the
GeoPlant/Kaggle notebooks do it in this order; malpolon's ``TrainDataset`` calls
``drop_duplicates("surveyId")`` first and so keeps a single species per survey (a bug we do
not copy; see :func:`survey_labels`). Cubes are pickles: they are read with
``torch.load(weights_only=True)`` only (:func:`load_cube`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from torch.utils.data import Dataset

from geoneurips.errors import DataNotFoundError, InvalidInputError

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure

__all__ = [
    "ENV_TABLES",
    "GLC24_URL",
    "LANDSAT_BANDS",
    "MODALITIES",
    "NUM_CLASSES",
    "GeoPlantPA",
    "cube_path",
    "load_cube",
    "patch_path",
    "read_environmental",
    "read_landsat_values",
    "read_metadata",
    "read_po_metadata",
    "read_sentinel",
    "survey_labels",
    "survey_table",
    "write_fixture",
    "write_split",
]

GLC24_URL = (
    "https://www.kaggle.com/competitions/geolifeclef-2024/data (or the GeoPlant download "
    "script of github.com/plantnet/GeoPlant)"
)
NUM_CLASSES = 11255
LANDSAT_BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
MODALITIES = ("landsat", "bioclim", "sentinel")
CUBE_SHAPES = {"landsat": (6, 4, 21), "bioclim": (4, 19, 12)}
ENV_DIR = "EnvironmentalRasters/EnvironmentalRasters"
ENV_TABLES = {
    "bioclimatic": "Climate/Average 1981-2010/GLC24-PA-{split}-bioclimatic.csv",
    "elevation": "Elevation/GLC24-PA-{split}-elevation.csv",
    "human_footprint": "Human Footprint/GLC24-PA-{split}-human_footprint.csv",
    "landcover": "LandCover/GLC24-PA-{split}-landcover.csv",
    "soilgrids": "SoilGrids/GLC24-PA-{split}-soilgrids.csv",
}
_REQUIRED = ("lon", "lat", "surveyId")
_LAYOUT = "root/GLC24_PA_metadata_{train,test}.csv plus the patch and cube trees"


def _check_split(split: str) -> str:
    if split not in ("train", "test"):
        raise InvalidInputError(f"split must be 'train' or 'test', got {split!r}")
    return split


def read_metadata(path: str | Path, split: str | None = None) -> pd.DataFrame:
    """Read a PA metadata CSV (long format) with ``surveyId`` int64 and ``speciesId`` Int64.

    ``±inf`` (``areaInM2`` holds ``-inf`` in the published files) becomes NaN. With ``split``
    and a ``subset`` column (malpolon's sample), only that split's rows are kept.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError("GeoPlant PA metadata", p.parent, [p.name], GLC24_URL, _LAYOUT)
    df = pd.read_csv(p)
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise InvalidInputError(f"{str(p)!r} lacks the columns {missing} of the GLC24 layout")
    df = df.replace([np.inf, -np.inf], np.nan)
    df["surveyId"] = df["surveyId"].astype("int64")
    if "speciesId" in df.columns:
        # Published files write species ids as floats ("6310.0").
        df["speciesId"] = df["speciesId"].round().astype("Int64")
    if split is not None and "subset" in df.columns:
        df = df[df["subset"] == _check_split(split)]
    return df.reset_index(drop=True)


PO_COLUMNS = ("publisher", "date", "dayOfYear", "month", "day", "taxonRank")


def read_po_metadata(root: str | Path) -> pd.DataFrame:
    """The presence-only records ``GLC24_P0_metadata_train.csv`` (P-zero, as published).

    Same long format as the PA table (one row per observation) plus ``publisher, date,
    dayOfYear, month, day, taxonRank``; ``surveyId`` groups the records of one observer
    event, so :func:`survey_labels` applies to it as well.
    """
    p = Path(root) / "GLC24_P0_metadata_train.csv"
    df = read_metadata(p)
    missing = [c for c in ("speciesId", *PO_COLUMNS) if c not in df.columns]
    if missing:
        raise InvalidInputError(f"{str(p)!r} lacks the presence-only columns {missing}")
    return df


def survey_labels(long: pd.DataFrame) -> dict[int, list[int]]:
    """Species present in each survey, from the long table (one row per survey x species).

    This must run on the full table: de-duplicating on ``surveyId`` first (malpolon's
    ``TrainDataset``) would keep only the first species of each survey.
    """
    if "speciesId" not in long.columns:
        raise InvalidInputError("the metadata has no speciesId column (a test split?)")
    rows = long.dropna(subset=["speciesId"])
    grouped = rows.groupby("surveyId")["speciesId"].agg(lambda s: sorted({int(v) for v in s}))
    out: dict[int, list[int]] = {int(k): list(v) for k, v in grouped.items()}
    for sid in long["surveyId"].unique():
        out.setdefault(int(sid), [])
    return out


def survey_table(long: pd.DataFrame) -> pd.DataFrame:
    """One row per survey (first occurrence), without ``speciesId``, index ``surveyId``."""
    cols = [c for c in long.columns if c != "speciesId"]
    return long[cols].drop_duplicates("surveyId").set_index("surveyId")


def patch_path(root: str | Path, split: str, survey_id: int, band: str = "rgb") -> Path:
    """Path of a Sentinel-2 JPEG: ``.../pa_{split}_patches_{band}/CD/AB/<id>.jpeg``."""
    s = str(int(survey_id))
    big = "Train" if _check_split(split) == "train" else "Test"
    sub = f"PA_{big}_SatellitePatches_{band.upper()}/pa_{split}_patches_{band}"
    return Path(root) / sub / s[-2:] / s[-4:-2] / f"{s}.jpeg"


def cube_path(root: str | Path, split: str, survey_id: int, modality: str) -> Path:
    """Path of a Landsat or bioclimatic ``.pt`` cube (note the train/test naming quirk)."""
    _check_split(split)
    base = Path(root) / "TimeSeries-Cubes" / "TimeSeries-Cubes"
    sid = int(survey_id)
    if modality == "landsat":
        stem = "landsat-time-series" if split == "train" else "landsat_time_series"
        folder = f"GLC24-PA-{split}-landsat_time_series"
        return base / folder / f"GLC24-PA-{split}-{stem}_{sid}_cube.pt"
    if modality == "bioclim":
        folder = f"GLC24-PA-{split}-bioclimatic_monthly"
        return base / folder / f"{folder}_{sid}_cube.pt"
    raise InvalidInputError(f"no cube for modality {modality!r} (landsat or bioclim)")


def load_cube(path: str | Path, shape: Sequence[int] | None = None) -> torch.Tensor:
    """Load a ``.pt`` cube with ``torch.load(weights_only=True)``; NaN and ±inf become 0.

    The public loaders call ``torch.nan_to_num`` with its defaults, which turns ``±inf`` into
    ``±3.4e38`` (a value no network survives); we map every non-finite value to 0.
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError("GeoPlant cube", p.parent, [p.name], GLC24_URL, _LAYOUT)
    try:
        t = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # unsafe pickles and corrupt files alike
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InvalidInputError(f"cube {str(p)!r} refused or unreadable: {first}") from None
    if not isinstance(t, torch.Tensor):
        raise InvalidInputError(f"cube {str(p)!r} holds {type(t).__name__}, not a tensor")
    if shape is not None and tuple(t.shape) != tuple(shape):
        raise InvalidInputError(f"cube {str(p)!r} has shape {tuple(t.shape)}, expected {shape}")
    return torch.nan_to_num(t.float(), nan=0.0, posinf=0.0, neginf=0.0)


def read_sentinel(rgb: str | Path, nir: str | Path) -> torch.Tensor:
    """The 4 x H x W (R, G, B, NIR) patch, normalised as published: ``(x/255 - 0.5)/0.5``."""
    import torch
    from PIL import Image

    arrays = []
    for p, mode in ((Path(rgb), "RGB"), (Path(nir), "L")):
        if not p.is_file():
            raise DataNotFoundError("GeoPlant Sentinel-2 patch", p.parent, [p.name], GLC24_URL)
        with Image.open(p) as im:
            a = np.asarray(im.convert(mode), dtype=np.float32)
        arrays.append(a.reshape(a.shape[0], a.shape[1], -1))
    if arrays[0].shape[:2] != arrays[1].shape[:2]:
        raise InvalidInputError(f"RGB {rgb} and NIR {nir} patches differ in size")
    x = np.concatenate(arrays, axis=2).transpose(2, 0, 1) / 255.0
    return torch.from_numpy((x - 0.5) / 0.5)


def read_environmental(
    root: str | Path, split: str, tables: Sequence[str] = tuple(ENV_TABLES)
) -> pd.DataFrame:
    """Join the environmental CSVs of ``split`` on ``surveyId`` (columns prefixed by table)."""
    out: pd.DataFrame | None = None
    for name in tables:
        if name not in ENV_TABLES:
            raise InvalidInputError(f"unknown environmental table {name!r}: {list(ENV_TABLES)}")
        p = Path(root) / ENV_DIR / ENV_TABLES[name].format(split=_check_split(split))
        if not p.is_file():
            raise DataNotFoundError("GeoPlant environmental CSV", root, [str(p)], GLC24_URL)
        df = pd.read_csv(p).replace([np.inf, -np.inf], np.nan).set_index("surveyId")
        df.columns = [f"{name}:{c}" for c in df.columns]
        out = df if out is None else out.join(df, how="outer")
    if out is None:
        raise InvalidInputError("no environmental table requested")
    return out


def read_landsat_values(root: str | Path, split: str) -> pd.DataFrame:
    """The six Landsat band CSVs of ``split`` joined on ``surveyId`` (columns ``band:col``)."""
    folder = Path(root) / f"PA-{_check_split(split)}-landsat_time_series"
    out: pd.DataFrame | None = None
    for band in LANDSAT_BANDS:
        p = folder / f"GLC24-PA-{split}-landsat_time_series-{band}.csv"
        if not p.is_file():
            raise DataNotFoundError("GeoPlant Landsat values", root, [str(p)], GLC24_URL)
        df = pd.read_csv(p).replace([np.inf, -np.inf], np.nan).set_index("surveyId")
        df.columns = [f"{band}:{c}" for c in df.columns]
        out = df if out is None else out.join(df, how="outer")
    assert out is not None
    return out


class GeoPlantPA(Dataset[dict[str, Any]]):
    """GeoPlant presence-absence surveys with Landsat, bioclimatic and Sentinel-2 inputs.

    A map-style dataset (TorchGeo ``NonGeoDataset`` protocol). Samples are dicts with
    ``landsat`` ``[6, 4, 21]``, ``bioclim`` ``[4, 19, 12]``, ``sentinel`` ``[4, H, W]`` (as
    requested in ``modalities``), ``lonlat`` ``(2,)``, ``survey_id`` and, on labelled splits,
    ``label``: a multi-hot float vector of ``num_classes`` species (index = ``speciesId``).

    Args:
        root: the folder holding the published layout (module docstring).
        split: ``"train"`` or ``"test"``.
        modalities: any of ``"landsat"``, ``"bioclim"``, ``"sentinel"``.
        survey_ids: restrict to these surveys (default: every survey of the split).
        num_classes: size of the label space (11255 in GLC24).
        metadata: explicit metadata CSV (default ``GLC24_PA_metadata_{split}.csv``, else
            ``metadata.csv`` filtered on ``subset``).
        transforms: callable applied to every sample dict.

    Raises:
        DataNotFoundError: when the metadata or any requested patch/cube file is missing.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        modalities: Sequence[str] = MODALITIES,
        survey_ids: Sequence[int] | None = None,
        num_classes: int = NUM_CLASSES,
        metadata: str | Path | None = None,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.root = Path(root)
        self.split = _check_split(split)
        bad = [m for m in modalities if m not in MODALITIES]
        if bad or not modalities:
            raise InvalidInputError(f"modalities must be among {MODALITIES}, got {modalities}")
        self.modalities = tuple(modalities)
        self.num_classes = num_classes
        self.transforms = transforms
        if metadata is None:
            published = self.root / f"GLC24_PA_metadata_{split}.csv"
            metadata = published if published.is_file() else self.root / "metadata.csv"
            if not Path(metadata).is_file():
                raise DataNotFoundError(
                    "GeoPlant PA metadata", self.root, [published.name], GLC24_URL, _LAYOUT
                )
        long = read_metadata(metadata, split)
        self.labels = survey_labels(long) if "speciesId" in long.columns else None
        self.surveys = survey_table(long)
        ids = list(self.surveys.index) if survey_ids is None else [int(s) for s in survey_ids]
        unknown = [s for s in ids if s not in self.surveys.index]
        if unknown:
            raise InvalidInputError(f"surveys {unknown[:5]} are not in the {split} metadata")
        self.survey_ids = np.asarray(ids, dtype=np.int64)
        if self.labels is not None:
            top = max((max(v) for v in self.labels.values() if v), default=-1)
            if top >= num_classes:
                raise InvalidInputError(f"speciesId {top} >= num_classes={num_classes}")
        missing = [str(p) for s in ids for p in self._paths(s) if not p.is_file()]
        if missing:
            raise DataNotFoundError(
                f"GeoPlant PA {split} inputs", self.root, missing, GLC24_URL, _LAYOUT
            )

    def _paths(self, sid: int) -> list[Path]:
        out: list[Path] = []
        for m in self.modalities:
            if m == "sentinel":
                out += [patch_path(self.root, self.split, sid, b) for b in ("rgb", "nir")]
            else:
                out.append(cube_path(self.root, self.split, sid, m))
        return out

    def __len__(self) -> int:
        return len(self.survey_ids)

    def label_matrix(self) -> np.ndarray:
        """``(N, num_classes)`` 0/1 labels of every survey, in dataset order."""
        if self.labels is None:
            raise InvalidInputError(f"the {self.split} split has no labels")
        y = np.zeros((len(self), self.num_classes), dtype=np.float32)
        for i, sid in enumerate(self.survey_ids):
            y[i, self.labels[int(sid)]] = 1.0
        return y

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        sid = int(self.survey_ids[index])
        row = self.surveys.loc[sid]
        sample: dict[str, Any] = {
            "survey_id": torch.tensor(sid, dtype=torch.int64),
            "lonlat": torch.tensor([row["lon"], row["lat"]], dtype=torch.float32),
        }
        for m in self.modalities:
            if m == "sentinel":
                rgb, nir = (patch_path(self.root, self.split, sid, b) for b in ("rgb", "nir"))
                sample[m] = read_sentinel(rgb, nir).float()
            else:
                sample[m] = load_cube(cube_path(self.root, self.split, sid, m), CUBE_SHAPES[m])
        if self.labels is not None:
            y = torch.zeros(self.num_classes, dtype=torch.float32)
            y[self.labels[sid]] = 1.0
            sample["label"] = y
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self,
        sample: Mapping[str, Any],
        show_titles: bool = True,
        suptitle: str | None = None,
    ) -> Figure:
        """Sentinel-2 RGB, Landsat NIR (quarters x years) and bioclim variable 1 (years x months)."""
        from geoneurips.demo import new_figure

        panels = [m for m in ("sentinel", "landsat", "bioclim") if m in sample]
        fig, axes = new_figure(max(1, len(panels)), 1, size=3.5)
        for ax, m in zip(axes[0], panels, strict=False):
            x = np.asarray(sample[m])
            if m == "sentinel":
                ax.imshow(np.clip(x[:3].transpose(1, 2, 0) * 0.5 + 0.5, 0, 1))
            elif m == "landsat":
                ax.imshow(x[3], aspect="auto", cmap="viridis")
            else:
                ax.imshow(x[0], aspect="auto", cmap="magma")
            if m == "sentinel":
                ax.set_axis_off()
            if show_titles:
                ax.set_title({"sentinel": "Sentinel-2 RGB", "landsat": "Landsat NIR",
                              "bioclim": "bioclim var 1"}[m])
        if "label" in sample and show_titles:
            n = int(np.asarray(sample["label"]).sum())
            fig.text(0.5, 0.01, f"survey {int(sample['survey_id'])}: {n} species", ha="center")
        if suptitle:
            fig.suptitle(suptitle)
        return fig


# Fixture writers live in .fixtures (re-exported here so import paths stay put).
from geoneurips.location.geoplant.fixtures import write_fixture, write_split  # noqa: E402
