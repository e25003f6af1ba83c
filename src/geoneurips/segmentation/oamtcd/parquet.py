"""OAM-TCD as published on Hugging Face: parquet shards (``restor/tcd``, CC BY 4.0).

The Hugging Face dataset stores one row per 2048 x 2048 tile in parquet shards
(``data/train-XXXXX-of-YYYYY.parquet``, ``data/test-...``). Its features, in the order the
dataset card (``restor/tcd`` README.md, ``dataset_info.features``, revision d97d4da) lists
them, with the Arrow types ``datasets`` writes for them::

    image_id          int64
    image             struct<bytes: binary, path: string>  (``Image``: the tile's bytes)
    height, width     int16
    annotation        struct<bytes: binary, path: string>  (RGB PNG panoptic map; segment
                                                            id = R + 256 G + 256^2 B, COCO
                                                            ``rgb2id``; 0 = unlabelled)
    oam_id            string
    license           string
    biome             int8     (biome number; ``biome_name`` its name)
    crs               string   (e.g. ``EPSG:3395``)
    bounds            fixed_size_list<float>[4]  (``Sequence(float32, length=4)``; float32
                                                  keeps ~6 cm at x ~ 1e6 m: do not rebuild
                                                  a pixel grid from it)
    validation_fold   int8     (0-4; < 0 = not in the cross-validation)
    biome_name        string
    lat, lon          float32
    segments          string   (JSON: the panoptic segments of ``annotation``)
    meta              string   (JSON: tile metadata)
    coco_annotations  string   (JSON list of COCO annotations: polygon or RLE)

:data:`COLUMNS` are the ones the reader needs; the others (:data:`OPTIONAL_COLUMNS`) are
carried into :attr:`OAMTCDParquet.meta` when present. Columns are read by name, integer
widths and list kinds are not relied on.

The reference export's binary mask PNG is ``annotation != 0``. Category ids of
``coco_annotations`` are those of the export (``1 canopy, 2 tree``) unless ``categories``
says otherwise; as everywhere in this package they are mapped **by name**.

No real shard is available offline (Hugging Face cannot be reached here): the reader is
tested on :func:`write_parquet_fixture`, which writes the card's schema above from our
synthetic COCO export, and must yield the samples :class:`.data.OAMTCD` yields for the
same tiles. The schema was checked against the dataset card, not against a real shard.
Uses ``pyarrow`` (a dependency; imported when a shard is read or written).
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ...errors import DataNotFoundError, InvalidInputError
from .data import (
    EXPORT_CATEGORIES,
    HF_URL,
    build_sample,
    category_map,
    load_coco,
    plot_sample,
    rasterize_annotations,
)

__all__ = ["CARD_COLUMNS", "COLUMNS", "OAMTCDParquet", "OPTIONAL_COLUMNS", "decode_image_bytes", "panoptic_ids",
           "write_parquet_fixture"]

#: Columns the reader needs.
COLUMNS: tuple[str, ...] = ("image", "annotation", "oam_id", "image_id", "width", "height",
                            "license", "coco_annotations", "validation_fold", "bounds", "crs")
#: Further columns of the published shards, kept in ``meta`` when present.
OPTIONAL_COLUMNS: tuple[str, ...] = ("biome", "biome_name", "lat", "lon", "segments", "meta")
#: All columns in the dataset card's order.
CARD_COLUMNS: tuple[str, ...] = (
    "image_id", "image", "height", "width", "annotation", "oam_id", "license", "biome", "crs",
    "bounds", "validation_fold", "biome_name", "lat", "lon", "segments", "meta",
    "coco_annotations")
_LAYOUT = "<root>/data/{train,test}-*.parquet (or <root>/{train,test}-*.parquet)"


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InvalidInputError(
            "reading OAM-TCD parquet shards needs pyarrow (pip install pyarrow)") from exc
    return pyarrow


def decode_image_bytes(data: bytes) -> np.ndarray:
    """Encoded tile (GeoTIFF, JPEG or PNG bytes) -> float32 ``(3, H, W)`` in 0-255."""
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
    from rasterio.io import MemoryFile

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with MemoryFile(data) as mem, mem.open() as ds:
                if ds.count < 3:
                    raise InvalidInputError(f"OAM-TCD image must have 3 bands, has {ds.count}")
                arr = ds.read([1, 2, 3])
    except RasterioIOError as exc:
        raise InvalidInputError(f"cannot decode image bytes: {exc}") from exc
    out: np.ndarray = np.asarray(arr, dtype=np.float32)
    return out


def panoptic_ids(png: bytes) -> np.ndarray:
    """RGB panoptic PNG bytes -> int64 ``(H, W)`` segment ids (COCO ``rgb2id``)."""
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int64)
    out: np.ndarray = rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]
    return out


def _bytes_of(cell: Any) -> bytes:
    if isinstance(cell, dict):
        cell = cell.get("bytes")
    if not isinstance(cell, bytes | bytearray):
        raise InvalidInputError("image / annotation cell holds no bytes")
    return bytes(cell)


class OAMTCDParquet(Dataset[dict[str, torch.Tensor]]):
    """OAM-TCD read straight from the Hugging Face parquet shards (module docstring).

    Args:
        root: folder holding ``data/<split>-*.parquet`` (or the shards themselves), or one
            ``.parquet`` file, or a list of shard files.
        split: ``"train"`` / ``"test"``, or with ``fold`` ``"train"`` / ``"val"`` (fold ``k``:
            val = train rows with ``validation_fold == k``, train = the other train rows).
        fold: cross-validation fold or ``None``.
        transforms, instances: as in :class:`.data.OAMTCD`.
        categories: COCO categories of ``coco_annotations`` (default: the export's).

    Samples are those of :class:`.data.OAMTCD` (same keys, dtypes and labels), plus
    ``validation_fold`` in :attr:`meta`; :meth:`binary_mask` gives the published
    ``annotation != 0`` mask. The ``image`` bytes are decoded per item; the other columns
    are read once.
    """

    def __init__(
        self,
        root: str | Path | Sequence[str | Path],
        split: str = "train",
        fold: int | None = None,
        transforms: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
        instances: bool = False,
        categories: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        allowed = ("train", "test") if fold is None else ("train", "val")
        if split not in allowed:
            raise InvalidInputError(f"split must be one of {allowed} (fold={fold}), got "
                                    f"{split!r}")
        if fold is not None and fold < 0:
            raise InvalidInputError(f"fold must be >= 0, got {fold}")
        self.split, self.fold, self.transforms, self.instances = split, fold, transforms, \
            instances
        self.categories = list(categories or EXPORT_CATEGORIES)
        category_map(self.categories)
        shard_split = "test" if split == "test" else "train"
        self.files = self._shards(root, shard_split)
        pa = _pyarrow()
        tables = []
        for f in self.files:
            try:
                t = pa.parquet.read_table(f)
            except Exception as exc:  # pyarrow raises its own ArrowInvalid etc.
                raise InvalidInputError(f"cannot read parquet shard {str(f)!r}: {exc}") from exc
            missing = [c for c in COLUMNS if c not in t.column_names]
            if missing:
                raise InvalidInputError(f"{str(f)!r} lacks OAM-TCD columns {missing}")
            tables.append(t)
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        folds = np.asarray(table.column("validation_fold").to_pylist(), dtype=np.int64)
        if fold is None:
            keep = np.arange(len(folds))
        elif split == "val":
            keep = np.nonzero(folds == fold)[0]
        else:
            keep = np.nonzero(folds != fold)[0]
        self.table = table.take(pa.array(keep, type=pa.int64()))
        meta_cols = [c for c in CARD_COLUMNS if c not in ("image", "annotation")
                     and c in table.column_names]
        self.meta: list[dict[str, Any]] = self.table.select(meta_cols).to_pylist()

    @staticmethod
    def _shards(root: str | Path | Sequence[str | Path], split: str) -> list[Path]:
        if isinstance(root, str | Path):
            r = Path(root)
            if r.is_file():
                return [r]
            files = sorted((r / "data").glob(f"{split}-*.parquet")) or sorted(
                r.glob(f"{split}-*.parquet"))
            if not files:
                raise DataNotFoundError("OAM-TCD (parquet)", r, [f"data/{split}-*.parquet"],
                                        HF_URL.split(" (")[0], _LAYOUT)
            return files
        files = [Path(p) for p in root]
        gone = [str(p) for p in files if not p.is_file()]
        if gone or not files:
            raise DataNotFoundError("OAM-TCD (parquet)", Path("."), gone or ["<no files>"],
                                    HF_URL.split(" (")[0], _LAYOUT)
        return files

    def __len__(self) -> int:
        return len(self.meta)

    def _cell(self, column: str, index: int) -> bytes:
        return _bytes_of(self.table.column(column)[index].as_py())

    def binary_mask(self, index: int) -> np.ndarray:
        """The published binary mask (``annotation != 0``) of a row, bool ``(H, W)``."""
        ids: np.ndarray = panoptic_ids(self._cell("annotation", index)) != 0
        return ids

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        info = self.meta[index]
        img = decode_image_bytes(self._cell("image", index))
        h, w = int(img.shape[1]), int(img.shape[2])
        if (int(info["height"]), int(info["width"])) != (h, w):
            raise InvalidInputError(f"row {index} (image_id {info['image_id']}): image is "
                                    f"{h}x{w} but height/width say {info['height']}x"
                                    f"{info['width']}")
        try:
            anns = json.loads(info["coco_annotations"] or "[]")
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"row {index}: coco_annotations is not JSON: {exc}") from exc
        if isinstance(anns, dict):  # a full COCO dict instead of the list
            anns = anns.get("annotations", [])
        return build_sample(img, anns, self.categories, self.instances, self.transforms)

    def plot(self, sample: dict[str, torch.Tensor], show_titles: bool = True,
             suptitle: str | None = None) -> Any:
        """Image, mask and (if present) ``prediction`` side by side."""
        return plot_sample(sample, show_titles, suptitle)


def write_parquet_fixture(export_root: str | Path, out_root: str | Path,
                          folds: int = 5) -> list[Path]:
    """Write the COCO export at ``export_root`` (:func:`.data.write_fixture`) as Hugging Face
    style shards ``out_root/data/{train,test}-00000-of-00001.parquet`` with the dataset
    card's columns and types (module docstring; ``biome`` 0 / ``synthetic``, ``lat`` /
    ``lon`` the tile centre). Train rows get ``validation_fold`` from the export's
    ``kfold_<k>/val.json`` files (``-1`` where none lists them), test rows ``-1``; the
    ``annotation`` column is an RGB panoptic PNG whose segment ids are the annotation ids.
    Returns the shard paths.
    """
    import rasterio
    from PIL import Image
    from rasterio.warp import transform

    from ...io import atomic_path

    pa = _pyarrow()
    src, out = Path(export_root), Path(out_root)
    fold_of: dict[int, int] = {}
    for k in range(folds):
        vf = src / f"kfold_{k}" / "val.json"
        if vf.is_file():
            for im in load_coco(vf)["images"]:
                fold_of[int(im["id"])] = k
    img_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    types = {"image_id": pa.int64(), "image": img_type, "height": pa.int16(),
             "width": pa.int16(), "annotation": img_type, "oam_id": pa.string(),
             "license": pa.string(), "biome": pa.int8(), "crs": pa.string(),
             "bounds": pa.list_(pa.float32(), 4), "validation_fold": pa.int8(),
             "biome_name": pa.string(), "lat": pa.float32(), "lon": pa.float32(),
             "segments": pa.string(), "meta": pa.string(), "coco_annotations": pa.string()}
    schema = pa.schema([(c, types[c]) for c in CARD_COLUMNS])
    paths = []
    for split in ("train", "test"):
        coco = load_coco(src / "holdout" / f"{split}.json")
        cmap = category_map(coco["categories"])
        export_id = {1: 2, 2: 1}  # label tree -> export id 2, canopy -> 1
        by_image: dict[int, list[dict[str, Any]]] = {}
        for a in coco["annotations"]:
            a = dict(a, category_id=export_id[cmap[int(a["category_id"])]])
            by_image.setdefault(int(a["image_id"]), []).append(a)
        rows: dict[str, list[Any]] = {c: [] for c in CARD_COLUMNS}
        for im in coco["images"]:
            path = src / "holdout" / "images" / str(im["file_name"])
            data = path.read_bytes()
            with rasterio.open(path) as ds:
                b, crs = ds.bounds, ds.crs
            h, w = int(im["height"]), int(im["width"])
            anns = by_image.get(int(im["id"]), [])
            _, inst, _ = rasterize_annotations(anns, EXPORT_CATEGORIES, h, w)
            seg = np.zeros((h, w), np.int64)
            for i, a in enumerate(anns):
                seg[inst == i + 1] = int(a["id"])
            rgb = np.stack([seg % 256, seg // 256 % 256, seg // 65536 % 256], -1)
            buf = io.BytesIO()
            Image.fromarray(rgb.astype(np.uint8)).save(buf, format="PNG")
            stem = Path(str(im["file_name"])).stem
            rows["image"].append({"bytes": data, "path": path.name})
            rows["annotation"].append({"bytes": buf.getvalue(), "path": f"{stem}.png"})
            rows["oam_id"].append(stem.split("_")[0])
            rows["image_id"].append(int(im["id"]))
            rows["width"].append(w)
            rows["height"].append(h)
            rows["license"].append("CC-BY 4.0")
            rows["coco_annotations"].append(json.dumps(anns))
            rows["validation_fold"].append(fold_of.get(int(im["id"]), -1)
                                           if split == "train" else -1)
            rows["bounds"].append([b.left, b.bottom, b.right, b.top])
            rows["crs"].append(crs.to_string() if crs else "")
            lon, lat = transform(crs, "EPSG:4326", [(b.left + b.right) / 2],
                                 [(b.bottom + b.top) / 2])
            rows["lat"].append(lat[0])
            rows["lon"].append(lon[0])
            rows["biome"].append(0)
            rows["biome_name"].append("synthetic")
            rows["segments"].append(json.dumps([
                {k: a[k] for k in ("id", "category_id", "area", "bbox", "iscrowd") if k in a}
                for a in anns]))
            rows["meta"].append(json.dumps({"file_name": path.name, "source": "geoneurips "
                                            "synthetic fixture"}))
        table = pa.table(rows, schema=schema)
        dest = out / "data" / f"{split}-00000-of-00001.parquet"
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest) as tmp:
            pa.parquet.write_table(table, tmp)
        paths.append(dest)
    return paths
