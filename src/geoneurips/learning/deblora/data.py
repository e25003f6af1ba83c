"""Readers for the debLoRA evaluation data: DOTA object crops and FUSRS SAR ship chips.

Published layouts (debLoRA repository ``doem97/deblora``, ``datasets/``):

* **DOTA object crops** (paper Sec. 5, "DOTA"): every DOTA-v1 object cropped at its horizontal
  box, saved as ``<split>/<class>/<image>_<xmin>_<ymin>_<xmax>_<ymax>.png``, listed in
  ``dota_train_idx.txt`` / ``dota_val_idx.txt`` as ``<relative path> <label>`` lines, the
  label indexing the 15 class names in **alphabetical** order (``classnames.txt``).
  :func:`write_dota_crops` builds that layout from a DOTA source tree (the official
  ``images/`` + ``labelTxt/`` layout or TorchGeo's ``images/`` +
  ``annotations/version1.0/`` layout, whose annotation lines are
  ``x1 y1 x2 y2 x3 y3 x4 y4 class difficult`` after an optional two-line header).
* **FUSRS v2** (SAR ships, paper Sec. 5): ``train.txt`` / ``val.txt`` / ``test.txt`` with
  ``<relative path> <label>`` lines over the classes ``cargo other fishing tanker dredger``;
  single-channel chips normalised with mean 11.21 and std 20.24.

Class groups: the DOTA head / middle / tail groups of the paper's tables (research notes,
``benchmarks_forecasting_and_learning.md`` Sec. 5). The repository's ``lt_split_config.yaml``
puts ``plane`` in the middle group instead; :data:`DOTA_LT_SPLIT_CONFIG` holds that variant.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.formats.dota import DOTA_URL, DOTA_V1_CLASSES, read_dota_txt

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DOTA_CLASSES",
    "DOTA_CLASS_GROUPS",
    "DOTA_LT_SPLIT_CONFIG",
    "DOTA_URL",
    "DOTA_V1_CLASSES",
    "FUSRS",
    "FUSRS_CLASSES",
    "FUSRS_CLASS_GROUPS",
    "FUSRS_MEAN",
    "FUSRS_STD",
    "DOTAObjectCrops",
    "DotaObject",
    "read_dota_annotation",
    "read_dota_objects",
    "write_dota_crops",
    "write_dota_fixture",
    "write_fusrs_fixture",
]

FUSRS_URL = "https://github.com/doem97/deblora (FUSRS v2, built from FUSAR-Ship)"

#: The debLoRA label order (``datasets/DOTA/classnames.txt``): alphabetical.
DOTA_CLASSES: tuple[str, ...] = tuple(sorted(DOTA_V1_CLASSES))

#: Head / middle / tail groups of the paper's DOTA tables.
DOTA_CLASS_GROUPS: dict[str, tuple[str, ...]] = {
    "head": ("ship", "small-vehicle", "large-vehicle", "plane"),
    "middle": ("harbor", "storage-tank", "tennis-court", "bridge", "swimming-pool"),
    "tail": (
        "helicopter", "basketball-court", "baseball-diamond", "roundabout",
        "soccer-ball-field", "ground-track-field",
    ),
}
#: The repository's ``lt_split_config.yaml`` variant (``plane`` is a middle class there).
DOTA_LT_SPLIT_CONFIG: dict[str, tuple[str, ...]] = {
    "head": ("ship", "large-vehicle", "small-vehicle"),
    "middle": ("plane", "harbor", "storage-tank", "tennis-court", "bridge", "swimming-pool"),
    "tail": DOTA_CLASS_GROUPS["tail"],
}

#: FUSRS v2 label order (``datasets/FUSRS/classnames.txt``); train counts 3890/1710/814/315/242.
FUSRS_CLASSES: tuple[str, ...] = ("cargo", "other", "fishing", "tanker", "dredger")
#: Our grouping by the published train counts (the repository ships none for FUSRS).
FUSRS_CLASS_GROUPS: dict[str, tuple[str, ...]] = {
    "head": ("cargo",), "middle": ("other", "fishing"), "tail": ("tanker", "dredger"),
}
FUSRS_MEAN = 11.21
FUSRS_STD = 20.24

_CROP_LAYOUT = "<root>/dota_<split>_idx.txt and <root>/<split>/<class>/<image>_<x0>_<y0>_<x1>_<y1>.png"
_SOURCE_LAYOUT = (
    "<root>/<split>/images/P*.png with <root>/<split>/labelTxt/P*.txt (official) or "
    "<root>/<split>/annotations/version1.0/P*.txt (TorchGeo)"
)
_FUSRS_LAYOUT = "<root>/{train,val,test}.txt listing '<relative chip path> <label>'"


@dataclass(frozen=True)
class DotaObject:
    """One annotated DOTA object.

    Attributes:
        image: the source image path.
        polygon: the oriented box ``x1 y1 ... x4 y4`` (pixels).
        name: the class name.
        difficult: the DOTA difficult flag (0 or 1).
    """

    image: Path
    polygon: tuple[float, ...]
    name: str
    difficult: int

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The horizontal box ``xmin, ymin, xmax, ymax`` around the polygon."""
        xs, ys = self.polygon[0::2], self.polygon[1::2]
        return min(xs), min(ys), max(xs), max(ys)


def read_dota_annotation(path: str | Path) -> list[tuple[tuple[float, ...], str, int]]:
    """Parse one DOTA label file: ``(polygon, class, difficult)`` per object line.

    The parsing is the shared :func:`geoneurips.formats.dota.read_dota_txt` (header lines
    skipped, a missing difficult flag reads as 0, as in DOTA's devkit).

    Raises:
        DataNotFoundError: the file does not exist.
        InvalidInputError: a line is not ``8 numbers, class[, difficult]``.
    """
    labels = read_dota_txt(path, layout=_SOURCE_LAYOUT)
    return [(o.poly, o.label, o.difficult) for o in labels.objects]


def _annotation_dir(root: Path, split: str, version: str) -> Path:
    for cand in (
        root / split / "labelTxt",
        root / split / f"labelTxt-v{version}" / "labelTxt",
        root / split / "annotations" / f"version{version}",
    ):
        if cand.is_dir():
            return cand
    raise DataNotFoundError(
        f"DOTA-v{version} {split} annotations", root, [f"{split}/labelTxt"], DOTA_URL,
        _SOURCE_LAYOUT,
    )


def read_dota_objects(
    root: str | Path, split: str = "train", version: str = "1.0"
) -> list[DotaObject]:
    """Every object of a DOTA source tree (official or TorchGeo layout), image by image in
    file-name order, objects in file order."""
    r = Path(root)
    img_dir = r / split / "images"
    if not img_dir.is_dir():
        raise DataNotFoundError(
            f"DOTA {split} images", r, [f"{split}/images"], DOTA_URL, _SOURCE_LAYOUT
        )
    ann_dir = _annotation_dir(r, split, version)
    objects: list[DotaObject] = []
    for img in sorted(img_dir.glob("*.png")):
        ann = ann_dir / f"{img.stem}.txt"
        if not ann.is_file():
            continue
        for poly, name, diff in read_dota_annotation(ann):
            objects.append(DotaObject(img, poly, name, diff))
    return objects


def _crop_box(box: tuple[float, float, float, float], w: int, h: int) -> tuple[int, ...]:
    """Integer crop window: floor of the minima, ceil of the maxima, clipped to the image."""
    x0, y0, x1, y1 = box
    a, b = max(0, math.floor(x0)), max(0, math.floor(y0))
    c, d = min(w, math.ceil(x1)), min(h, math.ceil(y1))
    return a, b, max(c, a + 1), max(d, b + 1)


def write_dota_crops(
    source_root: str | Path,
    out_root: str | Path,
    split: str = "train",
    version: str = "1.0",
    classes: Sequence[str] = DOTA_CLASSES,
    skip_difficult: bool = False,
) -> Path:
    """Crop every object of a DOTA source tree into debLoRA's crop layout.

    Writes ``<out_root>/<split>/<class>/<image>_<x0>_<y0>_<x1>_<y1>.png`` and the index
    ``<out_root>/dota_<split>_idx.txt``; objects of classes outside ``classes`` (e.g. DOTA-v2's
    extra ones) are skipped. Returns the index path.
    """
    from PIL import Image

    from geoneurips.io import atomic_path

    out = Path(out_root)
    lookup = {c: i for i, c in enumerate(classes)}
    lines: list[str] = []
    cache: dict[Path, Any] = {}
    for obj in read_dota_objects(source_root, split, version):
        if obj.name not in lookup or (skip_difficult and obj.difficult):
            continue
        if obj.image not in cache:
            cache.clear()
            cache[obj.image] = Image.open(obj.image).convert("RGB")
        im = cache[obj.image]
        x0, y0, x1, y1 = _crop_box(obj.box, im.width, im.height)
        rel = Path(split) / obj.name / f"{obj.image.stem}_{x0}_{y0}_{x1}_{y1}.png"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / rel) as tmp:
            im.crop((x0, y0, x1, y1)).save(tmp, format="PNG")
        lines.append(f"{rel.as_posix()} {lookup[obj.name]}")
    index = out / f"dota_{split}_idx.txt"
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(index) as tmp:
        tmp.write_text("".join(f"{ln}\n" for ln in lines))
    return index


def _read_index(index: Path, root: Path, n_classes: int, what: str) -> list[tuple[Path, int]]:
    rows: list[tuple[Path, int]] = []
    for n, line in enumerate(index.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.rsplit(maxsplit=1)
        try:
            label = int(parts[1])
        except (IndexError, ValueError):
            raise InvalidInputError(f"{str(index)!r} line {n}: expected '<path> <label>'") from None
        if not 0 <= label < n_classes:
            raise InvalidInputError(
                f"{str(index)!r} line {n}: label {label} outside 0..{n_classes - 1} of {what}"
            )
        rows.append((root / parts[0], label))
    return rows


def _load_chip(path: Path, size: int | None, mode: str) -> np.ndarray:
    from PIL import Image

    if not path.is_file():
        raise DataNotFoundError("chip", path.parent, [path.name])
    im = Image.open(path).convert(mode)
    if size is not None and im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.BILINEAR)
    a = np.asarray(im, dtype=np.float32)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


class _ChipDataset:
    """Shared body of the two index-file readers (TorchGeo-style dict samples)."""

    classes: tuple[str, ...] = ()
    groups: dict[str, tuple[str, ...]] = {}

    def __init__(
        self,
        rows: list[tuple[Path, int]],
        size: int | None,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None,
    ) -> None:
        self.rows = rows
        self.size = size
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def targets(self) -> np.ndarray:
        """All labels, in index order."""
        return np.asarray([lab for _, lab in self.rows], dtype=np.int64)

    def class_counts(self) -> np.ndarray:
        """Samples per class (length ``len(classes)``)."""
        return np.bincount(self.targets, minlength=len(self.classes))

    def group_of(self) -> dict[str, list[int]]:
        """Group name -> class indices."""
        return {g: [self.classes.index(c) for c in cs] for g, cs in self.groups.items()}

    def _sample(self, image: np.ndarray, label: int) -> dict[str, Any]:
        import torch

        sample: dict[str, Any] = {
            "image": torch.from_numpy(np.ascontiguousarray(image)),
            "label": torch.tensor(label, dtype=torch.long),
        }
        return self.transforms(sample) if self.transforms is not None else sample

    def plot(
        self, sample: dict[str, Any], show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Show a chip with its class name."""
        from geoneurips.demo import new_figure

        fig, axes = new_figure(1, 1, 3.0)
        img = sample["image"].detach().cpu().numpy().astype(np.float64)
        img = img.transpose(1, 2, 0)
        lo, hi = float(img.min()), float(img.max())
        img = (img - lo) / (hi - lo + 1e-12)
        axes[0, 0].imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray")
        axes[0, 0].axis("off")
        if show_titles:
            axes[0, 0].set_title(self.classes[int(sample["label"])])
        if suptitle:
            fig.suptitle(suptitle)
        return fig


class DOTAObjectCrops(_ChipDataset):
    """DOTA-v1 object crops in debLoRA's layout (paper Sec. 5; ``datasets/dota.py``).

    Samples: ``image`` float32 ``(3, size, size)`` in 0..255 (bilinear resize; ``size=None``
    keeps the crop's size), ``label`` (index into :data:`DOTA_CLASSES`), ``box`` (the
    ``x0 y0 x1 y1`` window parsed from the file name).

    Raises:
        DataNotFoundError: no ``dota_<split>_idx.txt`` under ``root``.
    """

    classes = DOTA_CLASSES
    groups = DOTA_CLASS_GROUPS

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        size: int | None = 224,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.root = Path(root)
        index = self.root / f"dota_{split}_idx.txt"
        if not index.is_file():
            raise DataNotFoundError(
                f"DOTA object crops ({split})", self.root, [index.name], DOTA_URL, _CROP_LAYOUT
            )
        super().__init__(_read_index(index, self.root, len(self.classes), "DOTA"), size, transforms)

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        path, label = self.rows[i]
        sample = self._sample(_load_chip(path, self.size, "RGB"), label)
        parts = path.stem.rsplit("_", 4)
        if len(parts) == 5:
            try:
                sample["box"] = torch.tensor([int(v) for v in parts[1:]], dtype=torch.long)
            except ValueError:
                pass  # a chip not named <image>_<x0>_<y0>_<x1>_<y1>: no box, still a sample
        return sample


class FUSRS(_ChipDataset):
    """FUSRS v2 SAR ship chips (paper Sec. 5; ``datasets/fusrs.py``).

    Samples: ``image`` float32 ``(1, size, size)`` normalised as published,
    ``(x - 11.21) / 20.24`` on the 0..255 grey values; ``label`` (index into
    :data:`FUSRS_CLASSES`).
    """

    classes = FUSRS_CLASSES
    groups = FUSRS_CLASS_GROUPS

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        size: int | None = 224,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        if split not in ("train", "val", "test"):
            raise InvalidInputError(f"FUSRS split must be train, val or test, not {split!r}")
        self.root = Path(root)
        index = self.root / f"{split}.txt"
        if not index.is_file():
            raise DataNotFoundError(
                f"FUSRS v2 ({split})", self.root, [index.name], FUSRS_URL, _FUSRS_LAYOUT
            )
        super().__init__(_read_index(index, self.root, len(self.classes), "FUSRS"), size, transforms)

    def __getitem__(self, i: int) -> dict[str, Any]:
        path, label = self.rows[i]
        img = (_load_chip(path, self.size, "L") - FUSRS_MEAN) / FUSRS_STD
        return self._sample(img.astype(np.float32), label)


def write_dota_fixture(root: str | Path, seed: int = 0, n_images: int = 2) -> Path:
    """A tiny DOTA-v1.0 source tree in TorchGeo's layout (``samples.csv``,
    ``<split>/images``, ``<split>/annotations/version1.0``) with a few objects of head and
    tail classes per image (header lines and difficult flags included)."""
    from PIL import Image

    r = Path(root)
    rng = np.random.default_rng(seed)
    rows: list[list[str]] = []
    for split in ("train", "val"):
        (r / split / "images").mkdir(parents=True, exist_ok=True)
        ann_dir = r / split / "annotations" / "version1.0"
        ann_dir.mkdir(parents=True, exist_ok=True)
        for k in range(n_images):
            stem = f"P{k:04d}"
            img = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
            Image.fromarray(img).save(r / split / "images" / f"{stem}.png")
            lines = ["imagesource:GoogleEarth", "gsd:0.5"]
            for j, name in enumerate(("plane", "helicopter", "small-vehicle")):
                x, y = 10.0 + 35 * j, 12.0 + 20 * k
                w, h = 20.0 + 2 * j, 14.5
                poly = [x, y, x + w, y + 1, x + w - 1, y + h, x - 1, y + h - 1]
                lines.append(" ".join(f"{v:.1f}" for v in poly) + f" {name} {j % 2}")
            (ann_dir / f"{stem}.txt").write_text("\n".join(lines) + "\n")
            rows.append([
                f"{split}/images/{stem}.png", f"{split}/annotations/version1.0/{stem}.txt",
                split, "1.0",
            ])
    with open(r / "samples.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["", "image_path", "annotation_path", "split", "version"])
        for i, row in enumerate(rows):
            writer.writerow([str(i), *row])
    return r


def write_fusrs_fixture(
    root: str | Path, counts: Sequence[int] = (6, 4, 3, 2, 2), size: int = 32, seed: int = 0
) -> Path:
    """A tiny FUSRS v2 tree: ``<split>/<class>/<n>.png`` grey chips (a bright elongated ship
    on speckle) and ``train.txt`` / ``val.txt`` / ``test.txt`` index files."""
    from PIL import Image

    r = Path(root)
    rng = np.random.default_rng(seed)
    for split, scale in (("train", 1.0), ("val", 0.5), ("test", 0.5)):
        lines: list[str] = []
        for c, name in enumerate(FUSRS_CLASSES):
            (r / split / name).mkdir(parents=True, exist_ok=True)
            for n in range(max(1, int(round(counts[c] * scale)))):
                chip = rng.gamma(1.0, 8.0, (size, size))
                length = 6 + 3 * c
                y0 = size // 2 - 1
                chip[y0:y0 + 3, size // 2 - length // 2:size // 2 + length // 2] += 120.0
                rel = f"{split}/{name}/{n:04d}.png"
                Image.fromarray(np.clip(chip, 0, 255).astype(np.uint8)).save(r / rel)
                lines.append(f"{rel} {c}")
        (r / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return r

