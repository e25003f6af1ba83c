"""G3 data: MP16-Pro records, the im2gps3k / YFCC evaluation CSVs and GeoCLIP's GPS gallery.

Published layouts (G3, Jia et al., NeurIPS 2024, Sec. 4.1; github Applied-Machine-Learning-Lab/G3,
``utils/utils.py``; Hugging Face ``Jia-py/MP16-Pro``):

* **MP16-Pro** ``MP16_Pro_places365.csv``: one row per image, ``IMG_ID`` (a relative path
  such as ``4f/a5/3419235290.jpg``), ``LAT``, ``LON`` (degrees) and the Nominatim address
  columns ``neighbourhood, city, county, state, region, country, continent`` (empty where
  Nominatim had none), plus the GeoEstimation Places365 columns, which are kept but unused.
  Rows without ``country`` are dropped, as the public loader does. The images ship in a tar
  (``mp-16-images.tar``); :class:`MP16Pro` reads them extracted under ``images/<IMG_ID>``.
* **im2gps3k / YFCC4k / YFCC26k** (``im2gps3k_places365.csv``, ``yfcc25600_places365.csv``,
  from TIBHannover/GeoEstimation ``meta/``): header ``IMG_ID, AUTHOR, LON, LAT, S3_Label, ...``.
  In the copy that circulates the column labelled ``LON`` holds **latitudes** and ``LAT``
  longitudes (its first row is Bermuda, ``LON=32.33, LAT=-64.76``; London reads
  ``51.50, -0.14``). :func:`read_benchmark_csv` checks the axis order: with ``axis_order=
  "auto"`` it swaps the columns when the ``LAT`` column leaves ``[-90, 90]`` and ``LON`` does
  not, and refuses files where neither order is valid. The public G3 loader reads the
  columns as labelled, so a copy with the swapped header must be fixed before use.
* **GeoCLIP gallery** ``coordinates_100K.csv`` (``LAT,LON``, 100,000 rows; inside the
  ``geoclip`` wheel and in ``shared/data/geoclip``): :func:`read_gps_gallery`.

Text for geo-alignment (Sec. 3.1, the public ``MP16Dataset``): ``"A street view photo taken
in {city}, {state}, {country}"``, skipping empty fields (:func:`address_text`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import Dataset

from geoneurips.errors import DataNotFoundError, InvalidInputError

__all__ = [
    "ADDRESS_FIELDS",
    "BENCHMARK_FILES",
    "MP16_CSV",
    "GeoBenchmark",
    "MP16Pro",
    "address_text",
    "read_benchmark_csv",
    "read_gps_gallery",
    "read_mp16pro_csv",
    "write_benchmark_fixture",
    "write_mp16pro_fixture",
]

MP16_CSV = "MP16_Pro_places365.csv"
MP16_URL = "https://huggingface.co/datasets/Jia-py/MP16-Pro (CSV + mp-16-images.tar)"
BENCH_URL = "https://github.com/TIBHannover/GeoEstimation (meta/*_places365.csv; images from im2gps)"
BENCHMARK_FILES = {"im2gps3k": "im2gps3k_places365.csv", "yfcc4k": "yfcc4k_places365.csv"}
ADDRESS_FIELDS: tuple[str, ...] = (
    "neighbourhood",
    "city",
    "county",
    "state",
    "region",
    "country",
    "continent",
)
PLACES_COLUMNS: tuple[str, ...] = (
    "S3_Label",
    "S16_Label",
    "S365_Label",
    "Prob_indoor",
    "Prob_natural",
    "Prob_urban",
)
TEXT_TEMPLATE = "A street view photo taken in "


def _check_range(lat: np.ndarray, lon: np.ndarray, where: str) -> None:
    if not np.isfinite(lat).all() or not np.isfinite(lon).all():
        raise InvalidInputError(f"{where}: LAT/LON must be finite numbers")
    if (np.abs(lat) > 90).any():
        raise InvalidInputError(
            f"{where}: latitudes outside [-90, 90] (max |LAT| = {np.abs(lat).max():g}); "
            "are LAT and LON swapped?"
        )
    if (np.abs(lon) > 180).any():
        raise InvalidInputError(f"{where}: longitudes outside [-180, 180]")


def _read_csv(path: Path, required: Sequence[str], what: str, url: str) -> pd.DataFrame:
    if not path.is_file():
        raise DataNotFoundError(what, path.parent, [path.name], url, f"<root>/{path.name}")
    try:
        df = pd.read_csv(path, keep_default_na=True, dtype={"IMG_ID": str})
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise InvalidInputError(f"{path}: not a readable CSV ({err})") from err
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InvalidInputError(f"{path}: missing column(s) {missing}; has {list(df.columns)}")
    for col in ("LAT", "LON"):
        if col in required:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def read_mp16pro_csv(path: str | Path, require_country: bool = True) -> pd.DataFrame:
    """Read an MP16-Pro CSV (``IMG_ID, LAT, LON`` + the seven address columns).

    Address cells are strings (``""`` where empty). With ``require_country`` (the public
    loader's filter) rows without a country are dropped. Raises on missing columns and on
    coordinates out of range (MP16-Pro's columns are labelled correctly).
    """
    p = Path(path)
    df = _read_csv(p, ("IMG_ID", "LAT", "LON", *ADDRESS_FIELDS), "MP16-Pro metadata", MP16_URL)
    for col in ADDRESS_FIELDS:
        df[col] = df[col].where(df[col].notna(), "").astype(str)
    if require_country:
        df = df[df["country"].str.len() > 0].reset_index(drop=True)
    _check_range(df["LAT"].to_numpy(), df["LON"].to_numpy(), str(p))
    return df


def read_benchmark_csv(
    path: str | Path, axis_order: Literal["auto", "as_labelled", "swapped"] = "auto"
) -> pd.DataFrame:
    """Read an im2gps3k / YFCC ``*_places365.csv`` with a checked axis order.

    Returns the frame with ``LAT`` holding latitudes and ``LON`` longitudes, plus
    ``attrs["axis_swapped"]``. ``"auto"``: swap when the ``LAT`` column leaves [-90, 90]
    and ``LON`` stays inside it (the circulating im2gps3k copy); if both columns stay within
    [-90, 90] the order cannot be told from the values and the labels are kept (pass
    ``"swapped"`` for such a regional subset of the circulating copy).

    Raises:
        InvalidInputError: neither order gives valid coordinates, or a forced order does not.
    """
    p = Path(path)
    df = _read_csv(p, ("IMG_ID", "LAT", "LON"), "geolocalisation benchmark CSV", BENCH_URL)
    lat, lon = df["LAT"].to_numpy(), df["LON"].to_numpy()
    if axis_order == "auto":
        lat_ok = bool((np.abs(lat) <= 90).all())
        swap_ok = bool((np.abs(lon) <= 90).all()) and bool((np.abs(lat) <= 180).all())
        if not lat_ok and not swap_ok:
            raise InvalidInputError(f"{p}: neither LAT/LON order gives valid coordinates")
        swapped = not lat_ok
    elif axis_order in ("as_labelled", "swapped"):
        swapped = axis_order == "swapped"
    else:
        raise InvalidInputError(f"axis_order must be auto, as_labelled or swapped: {axis_order!r}")
    if swapped:
        df = df.rename(columns={"LAT": "LON", "LON": "LAT"})
    _check_range(df["LAT"].to_numpy(), df["LON"].to_numpy(), str(p))
    df.attrs["axis_swapped"] = swapped
    return df


def read_gps_gallery(path: str | Path) -> np.ndarray:
    """GeoCLIP's GPS gallery CSV (``LAT,LON``) as a float64 ``(N, 2)`` (lat, lon) array."""
    p = Path(path)
    df = _read_csv(p, ("LAT", "LON"), "GeoCLIP GPS gallery", "https://pypi.org/project/geoclip/")
    arr: np.ndarray = df[["LAT", "LON"]].to_numpy(dtype=np.float64)
    _check_range(arr[:, 0], arr[:, 1], str(p))
    return arr


def address_text(row: Any) -> str:
    """G3's alignment text: ``"A street view photo taken in {city}, {state}, {country}"``."""
    parts = [str(row[k]) for k in ("city", "state", "country") if str(row[k]) not in ("", "nan")]
    return TEXT_TEMPLATE + ", ".join(parts)


def _load_image(path: Path) -> Tensor:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise InvalidInputError(f"{path}: not a readable image ({err})") from err
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255.0


class _ImageCSV(Dataset[dict[str, Any]]):
    """Rows of a CSV with an ``IMG_ID`` column and images under ``root/<image_dir>/``."""

    frame: pd.DataFrame

    def __init__(
        self,
        root: Path,
        image_dir: str,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None,
        what: str,
        url: str,
        load_images: bool,
    ) -> None:
        self.root = root
        self.image_dir = root / image_dir
        self.transforms = transforms
        self.load_images = load_images
        if load_images and not self.image_dir.is_dir():
            raise DataNotFoundError(what, root, [f"{image_dir}/"], url, f"<root>/{image_dir}/<IMG_ID>")

    def __len__(self) -> int:
        return len(self.frame)

    def image_path(self, i: int) -> Path:
        return self.image_dir / str(self.frame["IMG_ID"].iloc[i])

    def _sample(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} rows")
        row = self.frame.iloc[i]
        sample: dict[str, Any] = {
            "latlon": torch.tensor([row["LAT"], row["LON"]], dtype=torch.float64),
            "img_id": str(row["IMG_ID"]),
        }
        if self.load_images:
            path = self.image_path(i)
            if not path.is_file():
                raise DataNotFoundError("image", self.image_dir, [str(row["IMG_ID"])])
            sample["image"] = _load_image(path)
        return sample

    def plot(
        self, sample: dict[str, Any], show_titles: bool = True, suptitle: str | None = None
    ) -> Any:
        """Show the image with its coordinates (and text)."""
        from geoneurips.demo import new_figure

        fig, axes = new_figure(1, 1)
        ax = axes[0, 0]
        if "image" in sample:
            ax.imshow(sample["image"].permute(1, 2, 0).clamp(0, 1).numpy())
        ax.axis("off")
        if show_titles:
            lat, lon = (float(v) for v in sample["latlon"])
            ax.set_title(f"{sample.get('text', sample['img_id'])}\n({lat:.4f}, {lon:.4f})", fontsize=8)
        if suptitle:
            fig.suptitle(suptitle)
        return fig


class MP16Pro(_ImageCSV):
    """MP16-Pro (G3's training and retrieval database): images + GPS + address text.

    ``root/MP16_Pro_places365.csv`` and ``root/images/<IMG_ID>``. A sample is ``{"image":
    float (3, H, W) in [0, 1], "text": the alignment text, "latlon": float64 (2,) degrees,
    "img_id": str}``; ``load_images=False`` skips the pixels (metadata only).
    """

    def __init__(
        self,
        root: str | Path,
        csv_name: str = MP16_CSV,
        image_dir: str = "images",
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        load_images: bool = True,
    ) -> None:
        r = Path(root)
        self.frame = read_mp16pro_csv(r / csv_name)
        super().__init__(r, image_dir, transforms, "MP16-Pro images", MP16_URL, load_images)
        self.texts = [address_text(row) for _, row in self.frame.iterrows()]

    @property
    def latlon(self) -> np.ndarray:
        """``(N, 2)`` (lat, lon) degrees of every record."""
        out: np.ndarray = self.frame[["LAT", "LON"]].to_numpy(dtype=np.float64)
        return out

    def __getitem__(self, i: int) -> dict[str, Any]:
        s = self._sample(i)
        s["text"] = self.texts[i]
        return self.transforms(s) if self.transforms else s


class GeoBenchmark(_ImageCSV):
    """im2gps3k / YFCC4k: ``root/<name>_places365.csv`` (axis order checked) + ``root/images/``."""

    def __init__(
        self,
        root: str | Path,
        name: str = "im2gps3k",
        image_dir: str = "images",
        axis_order: Literal["auto", "as_labelled", "swapped"] = "auto",
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        load_images: bool = True,
    ) -> None:
        if name not in BENCHMARK_FILES:
            raise InvalidInputError(f"unknown benchmark {name!r}; known: {sorted(BENCHMARK_FILES)}")
        r = Path(root)
        self.frame = read_benchmark_csv(r / BENCHMARK_FILES[name], axis_order)
        super().__init__(r, image_dir, transforms, f"{name} images", BENCH_URL, load_images)

    @property
    def latlon(self) -> np.ndarray:
        out: np.ndarray = self.frame[["LAT", "LON"]].to_numpy(dtype=np.float64)
        return out

    def __getitem__(self, i: int) -> dict[str, Any]:
        s = self._sample(i)
        return self.transforms(s) if self.transforms else s


def _write_images(root: Path, ids: Sequence[str], images: np.ndarray | None) -> None:
    from PIL import Image

    if images is None:
        return
    for img_id, arr in zip(ids, images, strict=True):
        path = root / "images" / img_id
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8)).save(path, quality=95)


def write_mp16pro_fixture(
    root: str | Path,
    latlon: np.ndarray,
    addresses: Mapping[str, Sequence[str]],
    images: np.ndarray | None = None,
    seed: int = 0,
) -> Path:
    """Write an MP16-Pro-shaped dataset: the CSV (published columns) and ``images/xx/yy/id.jpg``.

    ``addresses`` maps address fields to per-row strings (missing fields are left empty);
    ``images``: ``(N, H, W, 3)`` uint8 or ``None`` (CSV only).
    """
    r = Path(root)
    r.mkdir(parents=True, exist_ok=True)
    n = len(latlon)
    rng = np.random.default_rng(seed)
    ids = [f"{k % 256:02x}/{(k * 7) % 256:02x}/{1000000000 + k}.jpg" for k in range(n)]
    data: dict[str, Any] = {
        "IMG_ID": ids,
        "AUTHOR": [f"{rng.integers(1, 10**8)}@N00" for _ in range(n)],
        "LAT": np.round(latlon[:, 0], 6),
        "LON": np.round(latlon[:, 1], 6),
    }
    for col in PLACES_COLUMNS:
        data[col] = rng.integers(0, 3, n) if col.endswith("Label") else rng.random(n)
    for col in ADDRESS_FIELDS:
        data[col] = list(addresses.get(col, [""] * n))
    pd.DataFrame(data).to_csv(r / MP16_CSV, index=False)
    _write_images(r, ids, images)
    return r


def write_benchmark_fixture(
    root: str | Path,
    latlon: np.ndarray,
    images: np.ndarray | None = None,
    name: str = "im2gps3k",
    swap_axes: bool = True,
) -> Path:
    """Write an im2gps3k-shaped CSV (``IMG_ID, AUTHOR, LON, LAT, ...``) and ``images/``.

    ``swap_axes=True`` reproduces the circulating copy: latitudes under ``LON``.
    """
    r = Path(root)
    r.mkdir(parents=True, exist_ok=True)
    n = len(latlon)
    ids = [f"{100000000 + k}_abcdef_{k}_{k}@N00.jpg" for k in range(n)]
    lat, lon = np.round(latlon[:, 0], 6), np.round(latlon[:, 1], 6)
    data: dict[str, Any] = {"IMG_ID": ids, "AUTHOR": [f"{k}@N00" for k in range(n)]}
    data["LON"], data["LAT"] = (lat, lon) if swap_axes else (lon, lat)
    for col in PLACES_COLUMNS:
        data[col] = np.zeros(n, dtype=int) if col.endswith("Label") else np.full(n, 1 / 3)
    pd.DataFrame(data).to_csv(r / BENCHMARK_FILES[name], index=False)
    _write_images(r, ids, images)
    return r
