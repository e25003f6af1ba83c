"""DOTA-format labels, the PECL sparse-annotation protocol and COCO export.

DOTA label files (``DOTA_devkit``; one ``.txt`` per image) hold two optional header lines
(``imagesource:...``, ``gsd:...``) and then one object per line::

    x1 y1 x2 y2 x3 y3 x4 y4 class difficult

(the four corners of the oriented box, clockwise, in pixels; ``difficult`` is 0/1, and the
PECL code also drops ``difficult == 2``); the files are parsed by the shared
:mod:`geoneurips.formats.dota`, re-exported here. Two on-disk layouts are read:

==================  ========================================================================
layout              files under ``root``
==================  ========================================================================
devkit (DOTA)       ``{split}/images/<id>.png`` and ``{split}/labelTxt/<id>.txt``; the PECL
                    code's sparse labels live beside it as ``{split}/labelTxt_<ratio>/``
TorchGeo            ``samples.csv`` (``image_path, annotation_path, split, version``),
                    ``{split}/images/<id>.png``, ``{split}/annotations/version<v>/<id>.txt``
==================  ========================================================================

The sparse-annotation protocol (PECL public code, ``DOTA_devkit/cut.py``, re-implemented
from its description): for each image and each class with ``n > 0`` objects keep
``random.sample(objs, max(1, int(n * ratio)))``; ratios 0.01, 0.02, 0.05, 0.10. The public
code then cuts 1024-pixel crops with a 200-pixel gap and writes COCO JSON
(``DOTA_trainval1024_<ratio>.json``); :func:`to_coco` writes the COCO file for whole images
(the crop step is the devkit's ``ImgSplit`` and is not re-implemented here).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch.utils.data import Dataset

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.formats.dota import (
    DOTA_CLASSES,
    DOTA_URL,
    DotaLabels,
    DotaObject,
    format_dota_txt,
    parse_dota_txt,
    read_dota_txt,
    write_dota_txt,
)
from geoneurips.io import atomic_path, write_json

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DOTA_CLASSES",
    "DOTA_URL",
    "LABEL_RATES",
    "DOTADetection",
    "DotaObject",
    "format_dota_txt",
    "parse_dota_txt",
    "read_dota_txt",
    "sparse_annotations",
    "to_coco",
    "write_dota_txt",
    "write_fixture",
    "write_sparse_labels",
]

#: The label rates of the paper (Sec. 4.1) and of ``cut.py``.
LABEL_RATES: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10)


def sparse_annotations(
    objects: Sequence[DotaObject], ratio: float, rng: random.Random
) -> list[DotaObject]:
    """The PECL sparse-annotation protocol on one image.

    For each class with ``n > 0`` objects (``difficult == 2`` dropped first, as ``cut.py``
    does) keep ``rng.sample(objs, max(1, int(n * ratio)))``. Object order follows the
    file's order within each class, classes in order of first appearance.
    """
    if not 0.0 < ratio <= 1.0:
        raise InvalidInputError(f"label ratio must be in (0, 1], got {ratio}")
    by_class: dict[str, list[DotaObject]] = {}
    for o in objects:
        if o.difficult == 2:
            continue
        by_class.setdefault(o.label, []).append(o)
    kept: list[DotaObject] = []
    for objs in by_class.values():
        k = max(1, int(len(objs) * ratio))
        kept.extend(rng.sample(objs, k))
    return kept


def write_sparse_labels(
    label_dir: str | Path, ratio: float, seed: int = 0, out_dir: str | Path | None = None
) -> Path:
    """Write ``labelTxt_<ratio>`` beside ``label_dir`` (the public code's layout).

    Files are visited in sorted order with one ``random.Random(seed)``, so the split is
    reproducible. Returns the output folder.
    """
    src = Path(label_dir)
    files = sorted(src.glob("*.txt"))
    if not files:
        raise DataNotFoundError("DOTA labels", src, ["*.txt"], DOTA_URL)
    dst = Path(out_dir) if out_dir is not None else src.parent / f"labelTxt_{ratio:g}"
    dst.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for f in files:
        labels = read_dota_txt(f)
        write_dota_txt(dst / f.name, replace(labels, objects=sparse_annotations(
            labels.objects, ratio, rng)))
    return dst


class DOTADetection(Dataset[dict[str, Any]]):
    """DOTA images with oriented and horizontal boxes (devkit or TorchGeo layout).

    Samples: ``image`` (float ``[3, H, W]``, 0-255 like TorchGeo), ``bbox`` (``[N, 8]``
    polygons), ``bbox_xyxy`` (``[N, 4]``), ``labels`` (``[N]`` indices into ``classes``),
    ``difficult`` (``[N]``), ``id`` (file stem). ``label_dir`` picks another label folder of
    the devkit layout (e.g. ``labelTxt_0.05``).
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        version: str = "1.0",
        label_dir: str | None = None,
        classes: Sequence[str] = DOTA_CLASSES,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.version = version
        self.classes = tuple(classes)
        self.transforms = transforms
        self.pairs: list[tuple[Path, Path]] = []
        csv_path = self.root / "samples.csv"
        if label_dir is None and csv_path.is_file():
            with open(csv_path, newline="") as fh:
                for row in csv.DictReader(fh):
                    if row["split"] == split and str(float(row["version"])) == str(
                        float(version)
                    ):
                        self.pairs.append(
                            (self.root / row["image_path"], self.root / row["annotation_path"])
                        )
        else:
            lab = self.root / split / (label_dir or "labelTxt")
            img = self.root / split / "images"
            for f in sorted(lab.glob("*.txt")) if lab.is_dir() else []:
                self.pairs.append((img / f"{f.stem}.png", f))
        if not self.pairs:
            raise DataNotFoundError(
                "DOTA", self.root,
                [f"{split}/images/*.png", f"{split}/{label_dir or 'labelTxt'}/*.txt",
                 "or samples.csv"],
                DOTA_URL, f"{split}/images/ and {split}/labelTxt/ (the devkit layout)",
            )

    def __len__(self) -> int:
        return len(self.pairs)

    def objects(self, index: int) -> list[DotaObject]:
        """The parsed objects of sample ``index`` (no image read)."""
        return read_dota_txt(self.pairs[index][1]).objects

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch
        from PIL import Image

        img_path, lab_path = self.pairs[index]
        if not img_path.is_file():
            raise DataNotFoundError("DOTA image", img_path.parent, [img_path.name], DOTA_URL)
        with Image.open(img_path) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.float32).transpose(2, 0, 1)
        objs = [o for o in read_dota_txt(lab_path).objects if o.label in self.classes]
        unknown = {o.label for o in read_dota_txt(lab_path).objects} - set(self.classes)
        if unknown:
            raise InvalidInputError(f"{lab_path}: unknown classes {sorted(unknown)}")
        polys = torch.tensor([o.poly for o in objs], dtype=torch.float32).reshape(-1, 8)
        sample: dict[str, Any] = {
            "image": torch.from_numpy(np.ascontiguousarray(arr)),
            "bbox": polys,
            "bbox_xyxy": torch.tensor([o.hbb for o in objs], dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor([self.classes.index(o.label) for o in objs],
                                   dtype=torch.long),
            "difficult": torch.tensor([o.difficult for o in objs], dtype=torch.long),
            "id": lab_path.stem,
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self, sample: dict[str, Any], show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """The image with its oriented boxes."""
        from matplotlib.patches import Polygon

        from geoneurips.demo import new_figure

        fig, axes = new_figure(1, 1)
        ax = axes[0, 0]
        img = sample["image"].numpy().transpose(1, 2, 0)
        ax.imshow(np.clip(img / 255.0, 0, 1))
        for poly, lab in zip(sample["bbox"].numpy(), sample["labels"].numpy(), strict=True):
            ax.add_patch(Polygon(poly.reshape(4, 2), fill=False, color=f"C{int(lab) % 10}"))
        ax.axis("off")
        if show_titles:
            ax.set_title(f"{sample.get('id', '')}: {len(sample['labels'])} objects")
        if suptitle:
            fig.suptitle(suptitle)
        return fig


def to_coco(
    dataset: DOTADetection, *, path: str | Path | None = None
) -> dict[str, Any]:
    """COCO detection JSON of a DOTA dataset (images, annotations, categories).

    ``bbox`` is ``[x, y, w, h]`` of the enclosing horizontal box, ``segmentation`` the
    oriented polygon, ``area`` the polygon's area (shoelace), ``iscrowd`` the difficult
    flag (as the DOTA-to-COCO converters of mmdet-based code do), categories 1-based in
    ``dataset.classes`` order. Written atomically to ``path`` when given.
    """
    from PIL import Image

    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for i, (img_path, _) in enumerate(dataset.pairs):
        with Image.open(img_path) as im:
            w, h = im.size
        images.append({"id": i + 1, "file_name": img_path.name, "width": w, "height": h})
        for o in dataset.objects(i):
            if o.label not in dataset.classes:
                raise InvalidInputError(f"{img_path.stem}: unknown class {o.label!r}")
            x0, y0, x1, y1 = o.hbb
            xs, ys = np.array(o.poly[0::2]), np.array(o.poly[1::2])
            area = 0.5 * abs(float(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))))
            anns.append({
                "id": len(anns) + 1, "image_id": i + 1,
                "category_id": dataset.classes.index(o.label) + 1,
                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": area,
                "segmentation": [list(o.poly)], "iscrowd": int(o.difficult > 0),
            })
    coco = {
        "images": images, "annotations": anns,
        "categories": [{"id": k + 1, "name": c} for k, c in enumerate(dataset.classes)],
    }
    if path is not None:
        write_json(path, coco)
    return coco


def write_fixture(
    root: str | Path,
    scenes: Sequence[tuple[np.ndarray, Sequence[DotaObject]]],
    *,
    split: str = "train",
    layout: str = "devkit",
    version: str = "1.0",
) -> Path:
    """Write ``scenes`` (uint8 ``[H, W, 3]`` image, objects) in the devkit or TorchGeo layout.

    The TorchGeo layout also writes ``samples.csv`` so that ``torchgeo.datasets.DOTA``
    reads it (its ``_verify`` only checks that the csv exists when not downloading).
    """
    from PIL import Image

    if layout not in ("devkit", "torchgeo"):
        raise InvalidInputError(f"layout must be 'devkit' or 'torchgeo', got {layout!r}")
    base = Path(root)
    img_dir = base / split / "images"
    lab_dir = base / split / (
        "labelTxt" if layout == "devkit" else f"annotations/version{version}")
    img_dir.mkdir(parents=True, exist_ok=True)
    lab_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (img, objs) in enumerate(scenes):
        name = f"P{i:04d}"
        with atomic_path(img_dir / f"{name}.png") as tmp:
            Image.fromarray(np.asarray(img, dtype=np.uint8)).save(tmp, format="PNG")
        write_dota_txt(lab_dir / f"{name}.txt",
                       DotaLabels(list(objs), imagesource="synthetic", gsd=1.0))
        rows.append((f"{split}/images/{name}.png", f"{split}/annotations/version{version}/"
                     f"{name}.txt", split, version))
    if layout == "torchgeo":
        csv_path = base / "samples.csv"
        old: list[list[str]] = []
        if csv_path.is_file():
            with open(csv_path, newline="") as fh:
                old = [r[1:] for r in list(csv.reader(fh))[1:]]
        allrows = old + [list(r) for r in rows]
        with atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["", "image_path", "annotation_path", "split", "version"])
            for k, r in enumerate(allrows):
                w.writerow([k, *r])
    return base
