"""OAM-TCD data: the published COCO export layout, COCO rasterisation, a fixture writer.

OAM-TCD (Veitch-Michaelis et al., NeurIPS 2024 Datasets & Benchmarks) is published on
Hugging Face (``restor/tcd``, CC BY 4.0; ``restor/tcd-nc``, ``restor/tcd-sa``) as parquet
shards. The reference code (``Restor-Foundation/tcd``, ``tools/generate_dataset.py``) exports
them to the COCO layout that this module reads::

    <root>/holdout/images/<oam_id>_10_<n>.tif   2048 x 2048 RGB GeoTIFF (or .jpg), 10 cm
    <root>/holdout/masks/<same stem>.png         8-bit binary mask: annotation != 0
    <root>/holdout/train.json                     COCO instances (polygons or RLE)
    <root>/holdout/test.json
    <root>/kfold_<k>/{train,val}.json             5-fold cross-validation of the train set
    <root>/kfold_<k>/images/                      (symlinks to holdout/images; optional here)

Category ids: **map by name, never by id**. The ids differ between files of the same
project: the export writes ``{1: canopy, 2: tree}``, the test fixture of the reference code
(``test_20221010_single.json``, a Darwin export) has ``{0: tree, 1: canopy}``, and the
reference models emit ``tree = 1, canopy = 0``. Every reader here therefore builds its id
mapping from ``categories[*].name``; the semantic labels are always

    0 = background, 1 = tree (individual crown), 2 = canopy (group of trees)

Where a tree polygon overlaps a canopy polygon the tree wins (trees are drawn last).
Rasterisation is pycocotools-free: polygons go through :func:`rasterio.features.rasterize`
in pixel coordinates (COCO ``x`` = column, ``y`` = row, ``(0, 0)`` the top-left pixel
corner; a pixel is inside when its centre is), RLE (uncompressed ``counts`` lists and the
compressed COCO strings) is decoded here (column-major runs, starting with background).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ...errors import DataNotFoundError, InvalidInputError

__all__ = [
    "CLASS_NAMES",
    "EXPORT_CATEGORIES",
    "HF_URL",
    "OAMTCD",
    "annotation_mask",
    "category_map",
    "decode_rle",
    "encode_rle_string",
    "load_coco",
    "plot_sample",
    "rasterize_annotations",
    "read_image",
    "write_fixture",
]

#: Semantic labels of this module (index = label).
CLASS_NAMES: tuple[str, ...] = ("background", "tree", "canopy")
_NAME_TO_LABEL = {"tree": 1, "canopy": 2}
#: Category list written by the reference export (``tools/generate_dataset.py``).
EXPORT_CATEGORIES: list[dict[str, Any]] = [
    {"id": 1, "name": "canopy", "supercategory": "tree"},
    {"id": 2, "name": "tree", "supercategory": "tree"},
]
HF_URL = ("https://huggingface.co/datasets/restor/tcd (export it to COCO with "
          "tools/generate_dataset.py of https://github.com/Restor-Foundation/tcd)")
_LAYOUT = ("<root>/holdout/{images/*.tif, masks/*.png, train.json, test.json} and "
           "<root>/kfold_<k>/{train,val}.json")


def load_coco(path: str | Path) -> dict[str, Any]:
    """Read a COCO JSON file; string-typed numeric fields (Darwin exports) are accepted."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{str(p)!r} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(
        k in data for k in ("images", "annotations", "categories")
    ):
        raise InvalidInputError(
            f"{str(p)!r} is not a COCO instances file (needs images, annotations, categories)"
        )
    return data


def category_map(categories: Sequence[dict[str, Any]]) -> dict[int, int]:
    """COCO category id -> semantic label (1 tree, 2 canopy), built from the *names*.

    Raises:
        InvalidInputError: for a category name other than ``tree`` / ``canopy``.
    """
    out: dict[int, int] = {}
    for cat in categories:
        name = str(cat.get("name", "")).strip().lower()
        if name not in _NAME_TO_LABEL:
            raise InvalidInputError(
                f"unknown OAM-TCD category name {cat.get('name')!r} (id {cat.get('id')}); "
                "expected 'tree' or 'canopy'"
            )
        out[int(cat["id"])] = _NAME_TO_LABEL[name]
    return out


def _rle_counts_from_string(s: str) -> list[int]:
    """Decode COCO's compressed RLE string (pycocotools ``rleFrString``) to run lengths."""
    counts: list[int] = []
    p = 0
    while p < len(s):
        x = 0
        k = 0
        more = True
        while more:
            if p >= len(s):
                raise InvalidInputError("truncated COCO RLE string")
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def encode_rle_string(counts: Sequence[int]) -> str:
    """Encode run lengths as COCO's compressed RLE string (pycocotools ``rleToString``)."""
    out = []
    for i, c in enumerate(counts):
        x = int(c) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5
            more = (x != -1) if (ch & 0x10) else (x != 0)
            if more:
                ch |= 0x20
            out.append(chr(ch + 48))
    return "".join(out)


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """COCO RLE (``{"size": [h, w], "counts": list | str}``) -> bool ``(h, w)``."""
    h, w = (int(v) for v in rle["size"])
    raw = rle["counts"]
    if isinstance(raw, bytes):  # pycocotools keeps compressed counts as bytes in memory
        raw = raw.decode("ascii")
    counts = _rle_counts_from_string(raw) if isinstance(raw, str) else [int(v) for v in raw]
    if sum(counts) != h * w or any(c < 0 for c in counts):
        raise InvalidInputError(f"RLE runs sum to {sum(counts)}, expected {h}*{w}={h * w}")
    flat = np.zeros(h * w, dtype=bool)
    pos = 0
    for i, c in enumerate(counts):
        if i % 2 == 1:
            flat[pos:pos + c] = True
        pos += c
    return flat.reshape((h, w), order="F")


def _segmentation(ann: dict[str, Any]) -> Any:
    seg = ann.get("segmentation")
    if isinstance(seg, str):  # Darwin exports keep JSON inside strings
        seg = json.loads(seg)
    return seg


def annotation_mask(ann: dict[str, Any], height: int, width: int) -> np.ndarray:
    """Rasterise one COCO annotation (polygon list or RLE) to a bool ``(height, width)``."""
    from rasterio.features import rasterize

    seg = _segmentation(ann)
    if isinstance(seg, dict):
        m = decode_rle(seg)
        if m.shape != (height, width):
            raise InvalidInputError(f"RLE size {m.shape} != image size {(height, width)}")
        return m
    if not isinstance(seg, list):
        raise InvalidInputError(f"annotation {ann.get('id')} has no polygon or RLE segmentation")
    shapes = []
    for poly in seg:
        xy = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        if len(xy) < 3:
            continue
        ring = [(float(x), float(y)) for x, y in xy] + [(float(xy[0, 0]), float(xy[0, 1]))]
        shapes.append(({"type": "Polygon", "coordinates": [ring]}, 1))
    if not shapes:
        return np.zeros((height, width), dtype=bool)
    out = rasterize(shapes, out_shape=(height, width), fill=0, dtype="uint8")
    return np.asarray(out, dtype=bool)


def rasterize_annotations(
    annotations: Sequence[dict[str, Any]], categories: Sequence[dict[str, Any]],
    height: int, width: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Semantic mask, instance map and instance labels of one image.

    Returns ``(mask int64 (H, W) in {0, 1, 2}, instances int64 (H, W) with 0 = none and
    ``i + 1`` for the i-th annotation, labels int64 (N,))``. Canopy annotations are drawn
    before trees so that trees win where they overlap.
    """
    cmap = category_map(categories)
    labels = []
    for ann in annotations:
        cid = int(ann["category_id"])
        if cid not in cmap:
            raise InvalidInputError(f"annotation {ann.get('id')} has unknown category id {cid}")
        labels.append(cmap[cid])
    mask = np.zeros((height, width), dtype=np.int64)
    inst = np.zeros((height, width), dtype=np.int64)
    order = sorted(range(len(annotations)), key=lambda i: -labels[i])  # canopy (2) first
    for i in order:
        m = annotation_mask(annotations[i], height, width)
        mask[m] = labels[i]
        inst[m] = i + 1
    return mask, inst, np.asarray(labels, dtype=np.int64)


def read_image(path: str | Path) -> np.ndarray:
    """RGB tile (GeoTIFF or JPEG) -> float32 ``(3, H, W)`` in 0-255 (first three bands)."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                if ds.count < 3:
                    raise InvalidInputError(
                        f"OAM-TCD image {str(path)!r} must have 3 bands (RGB), has {ds.count}")
                arr = ds.read([1, 2, 3])
    except RasterioIOError as exc:
        raise InvalidInputError(f"cannot read image {str(path)!r}: {exc}") from exc
    out: np.ndarray = np.asarray(arr, dtype=np.float32)
    return out


class OAMTCD(Dataset[dict[str, torch.Tensor]]):
    """OAM-TCD in the published COCO export layout (see the module docstring).

    Args:
        root: export folder holding ``holdout/`` (and ``kfold_<k>/``).
        split: ``"train"`` or ``"test"`` (holdout) or, with ``fold``, ``"train"`` / ``"val"``.
        fold: cross-validation fold ``k`` (reads ``kfold_<k>/{split}.json``), or ``None``.
        transforms: optional callable on the sample dict.
        instances: also return ``instances`` (int64 ``(H, W)``, 0 = none) and
            ``instance_labels`` (int64 ``(N,)`` semantic label per instance).

    Samples: ``image`` float32 ``(3, H, W)`` (0-255, R, G, B), ``mask`` int64 ``(H, W)``
    (0 background, 1 tree, 2 canopy; category ids mapped by name).
    A plain torch ``Dataset`` (TorchGeo has no OAM-TCD reader; its ``NonGeoDataset`` base
    would only add ``__str__`` at the cost of importing ``torchgeo.datasets``).

    Raises:
        DataNotFoundError: the split file or an image is missing.
        InvalidInputError: bad split/fold, malformed COCO, unknown category names.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        fold: int | None = None,
        transforms: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
        instances: bool = False,
    ) -> None:
        allowed = ("train", "test") if fold is None else ("train", "val")
        if split not in allowed:
            raise InvalidInputError(
                f"split must be one of {allowed} (fold={fold}), got {split!r}")
        if fold is not None and fold < 0:
            raise InvalidInputError(f"fold must be >= 0, got {fold}")
        self.root = Path(root)
        self.split = split
        self.fold = fold
        self.transforms = transforms
        self.instances = instances
        folder = "holdout" if fold is None else f"kfold_{fold}"
        ann_file = self.root / folder / f"{split}.json"
        if not ann_file.is_file():
            raise DataNotFoundError("OAM-TCD", self.root, [f"{folder}/{split}.json"], HF_URL,
                                    _LAYOUT)
        coco = load_coco(ann_file)
        self.categories: list[dict[str, Any]] = list(coco["categories"])
        category_map(self.categories)  # fail early on unknown names
        by_image: dict[int, list[dict[str, Any]]] = {}
        for ann in coco["annotations"]:
            by_image.setdefault(int(ann["image_id"]), []).append(ann)
        self.records: list[tuple[Path, dict[str, Any], list[dict[str, Any]]]] = []
        missing = []
        for img in coco["images"]:
            name = str(img["file_name"])
            path = self._find(folder, name)
            if path is None:
                missing.append(f"holdout/images/{name}")
                continue
            self.records.append((path, img, by_image.get(int(img["id"]), [])))
        if missing:
            raise DataNotFoundError("OAM-TCD", self.root, missing, HF_URL, _LAYOUT)

    def _find(self, folder: str, name: str) -> Path | None:
        for base in (self.root / folder / "images", self.root / "holdout" / "images"):
            p = base / Path(name).name
            if p.is_file():
                return p
        return None

    def __len__(self) -> int:
        return len(self.records)

    def mask_path(self, index: int) -> Path:
        """Path of the published binary mask PNG of a sample (may not exist)."""
        img_path = self.records[index][0]
        return self.root / "holdout" / "masks" / f"{img_path.stem}.png"

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        path, info, anns = self.records[index]
        img = read_image(path)
        h, w = int(img.shape[1]), int(img.shape[2])
        if (int(info.get("height", h)), int(info.get("width", w))) != (h, w):
            raise InvalidInputError(
                f"{str(path)!r} is {h}x{w} but the COCO file says "
                f"{info.get('height')}x{info.get('width')}")
        return build_sample(img, anns, self.categories, self.instances, self.transforms)

    def plot(self, sample: dict[str, torch.Tensor], show_titles: bool = True,
             suptitle: str | None = None) -> Any:
        """Image, mask and (if present) ``prediction`` side by side."""
        return plot_sample(sample, show_titles, suptitle)


def build_sample(img: np.ndarray, anns: Any, categories: Any, instances: bool,
                 transforms: Any) -> dict[str, torch.Tensor]:
    """One sample from a CHW uint8 image and its COCO annotations (both readers): the
    rasterised ``mask`` and, with ``instances``, the instance map and labels."""
    h, w = int(img.shape[1]), int(img.shape[2])
    mask, inst, labels = rasterize_annotations(anns, categories, h, w)
    sample = {"image": torch.from_numpy(img), "mask": torch.from_numpy(mask)}
    if instances:
        sample["instances"] = torch.from_numpy(inst)
        sample["instance_labels"] = torch.from_numpy(labels)
    if transforms is not None:
        sample = transforms(sample)
    return sample


def plot_sample(sample: dict[str, torch.Tensor], show_titles: bool = True,
                suptitle: str | None = None) -> Any:
    """Plot ``image`` and ``mask`` / ``prediction`` (0 background, 1 tree, 2 canopy)."""
    from ...demo import new_figure

    keys = [k for k in ("mask", "prediction") if k in sample]
    fig, axes = new_figure(1 + len(keys), 1, size=3.5)
    img = sample["image"][:3].float().numpy().transpose(1, 2, 0)
    axes[0, 0].imshow(np.clip(img / 255.0, 0, 1))
    if show_titles:
        axes[0, 0].set_title("image")
    for ax, k in zip(axes[0, 1:], keys, strict=True):
        ax.imshow(sample[k].numpy(), cmap="viridis", vmin=0, vmax=2, interpolation="nearest")
        if show_titles:
            ax.set_title(f"{k} (0 bg, 1 tree, 2 canopy)")
    for ax in axes.flat:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


# ---------------------------------------------------------------- synthetic fixture


def _blob(rng: np.random.Generator, cx: float, cy: float, r: float, n: int = 16) -> list[float]:
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(0.8, 1.15, n)
    xs, ys = cx + rad * np.cos(ang), cy + rad * np.sin(ang)
    return [round(float(v), 2) for pair in zip(xs, ys, strict=True) for v in pair]


def make_scene(rng: np.random.Generator, size: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """One synthetic tile: ``(uint8 (3, size, size), annotations with export ids)``.

    Background is brown soil with patches of *bright* green grass (as green as trees, so a
    greenness threshold confuses them); trees are isolated dark-green textured crowns and
    canopy areas are larger bluish-green textured groups.
    """
    from rasterio.features import rasterize

    anns: list[dict[str, Any]] = []
    s = float(size)
    for _ in range(int(rng.integers(1, 3))):  # canopy groups (export id 1)
        anns.append({"category_id": 1, "segmentation": [
            _blob(rng, rng.uniform(0.15, 0.85) * s, rng.uniform(0.15, 0.85) * s,
                  rng.uniform(0.12, 0.2) * s, 20)]})
    for _ in range(int(rng.integers(3, 7))):  # single trees (export id 2)
        anns.append({"category_id": 2, "segmentation": [
            _blob(rng, rng.uniform(0.05, 0.95) * s, rng.uniform(0.05, 0.95) * s,
                  rng.uniform(0.04, 0.08) * s)]})
    grass = [({"type": "Polygon", "coordinates": [
        [(p[i], p[i + 1]) for i in range(0, len(p), 2)] + [(p[0], p[1])]]}, 1)
        for p in (_blob(rng, rng.uniform(0, s), rng.uniform(0, s), rng.uniform(0.1, 0.25) * s)
                  for _ in range(2))]
    grass_m = rasterize(grass, out_shape=(size, size), fill=0, dtype="uint8").astype(bool)
    img = np.empty((3, size, size), dtype=np.float64)
    img[:] = np.array([130.0, 105.0, 80.0])[:, None, None]
    img[:, grass_m] = np.array([120.0, 175.0, 70.0])[:, None]
    cats = [{"id": 1, "name": "canopy"}, {"id": 2, "name": "tree"}]
    sem, _, _ = rasterize_annotations(anns, cats, size, size)
    texture = rng.normal(0, 1, (size, size))
    img[:, sem == 1] = (np.array([45.0, 95.0, 35.0])[:, None]
                        + 18 * texture[sem == 1][None])
    img[:, sem == 2] = (np.array([40.0, 90.0, 75.0])[:, None]
                        + 18 * texture[sem == 2][None])
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), anns


def write_fixture(
    root: str | Path,
    n_train: int = 4,
    n_test: int = 2,
    size: int = 64,
    folds: int = 2,
    seed: int = 0,
    scene: Callable[[np.random.Generator, int], tuple[np.ndarray, list[dict[str, Any]]]]
    | None = None,
) -> Path:
    """Write a small synthetic OAM-TCD export in exactly the published COCO layout.

    GeoTIFF tiles (EPSG:3395, 10 cm, like the real tiles), binary mask PNGs
    (annotation != 0), ``holdout/{train,test}.json`` with the export's category ids
    (``1 canopy, 2 tree``) and ``kfold_<k>/{train,val}.json`` over the train images (images
    symlinked into ``kfold_<k>/images/``, copied where symlinks are not allowed).
    Returns ``Path(root)``.
    """
    import rasterio
    from affine import Affine
    from PIL import Image

    if n_train < folds or folds < 1 or n_test < 1 or size < 8:
        raise InvalidInputError("write_fixture needs n_train >= folds >= 1, n_test >= 1, "
                                "size >= 8")
    rng = np.random.default_rng(seed)
    make = scene or make_scene
    root = Path(root)
    hold = root / "holdout"
    (hold / "images").mkdir(parents=True, exist_ok=True)
    (hold / "masks").mkdir(parents=True, exist_ok=True)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for i in range(n_train + n_test):
        img, anns = make(rng, size)
        name = f"5b3622402b6a08001185f8d8_10_{i:05d}.tif"
        profile = {"driver": "GTiff", "width": size, "height": size, "count": 3,
                   "dtype": "uint8", "crs": "EPSG:3395",
                   "transform": Affine(0.1, 0.0, 1009956.8 + 300 * i, 0.0, -0.1, 6161233.2)}
        with rasterio.open(hold / "images" / name, "w", **profile) as ds:
            ds.write(img)
        images.append({"id": i, "file_name": name, "width": size, "height": size,
                       "license": 0})
        binary = np.zeros((size, size), dtype=np.uint8)
        for a in anns:
            a.update({"id": len(annotations) + 1, "image_id": i, "iscrowd": 0})
            m = annotation_mask(a, size, size)
            binary[m] = 1
            ys, xs = np.nonzero(m)
            a["area"] = float(m.sum())
            a["bbox"] = ([float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                          float(ys.max() - ys.min() + 1)] if len(xs) else [0.0, 0.0, 0.0, 0.0])
            annotations.append(a)
        Image.fromarray(binary).save(hold / "masks" / name.replace(".tif", ".png"))

    def coco(ids: Sequence[int]) -> dict[str, Any]:
        keep = set(ids)
        return {"info": {"description": "geoneurips synthetic OAM-TCD fixture"},
                "licenses": [{"id": 0, "name": "CC-BY-4.0"}],
                "images": [im for im in images if im["id"] in keep],
                "annotations": [a for a in annotations if a["image_id"] in keep],
                "categories": EXPORT_CATEGORIES}

    from ...io import write_json

    train_ids = list(range(n_train))
    write_json(hold / "train.json", coco(train_ids))
    write_json(hold / "test.json", coco(range(n_train, n_train + n_test)))
    for k in range(folds):
        fdir = root / f"kfold_{k}"
        (fdir / "images").mkdir(parents=True, exist_ok=True)
        val = [i for i in train_ids if i % folds == k]
        write_json(fdir / "train.json", coco([i for i in train_ids if i % folds != k]))
        write_json(fdir / "val.json", coco(val))
        for i in train_ids:
            src = hold / "images" / images[i]["file_name"]
            dst = fdir / "images" / src.name
            if dst.exists() or dst.is_symlink():
                continue
            try:
                os.symlink(os.path.relpath(src, dst.parent), dst)
            except OSError:  # pragma: no cover - file systems without symlinks
                shutil.copyfile(src, dst)
    return root
