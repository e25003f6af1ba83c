"""OpenSatMap in its published layout (Hugging Face ``z-hb/OpenSatMap``), tiles and fixture.

Layout read by :class:`OpenSatMap` (the unzipped ``{19|20}picstrainvaltest`` archive plus
the annotation JSON beside it)::

    root/
        annotrainval19.json            # {"<img>.png": {"image_width", "image_height",
                                       #   "lines": [{points, 7 attributes, ...}]}}
        19train_filenames.txt          # one "<img>.png" per line (19val, 19test likewise)
        train/<img>.png  val/<img>.png  test/<img>.png   # RGB, 2048 px (level 20: 4096)

(level 20: ``annotrainval20.json``, ``20train_filenames.txt``...). No annotations are
released for ``test``: its samples hold the image only.

Samples are the tiles of the reference tools (``cut_satellite.py``: 512 px at level 19,
1024 at level 20, all-black image tiles dropped) with the ground truth rasterised as the
released scripts do (:mod:`.rasterize`): ``mask`` (category 0 background / 1 lane line /
2 curb / 3 virtual line, 255 ignore), ``instance`` (ids from 1, 0 elsewhere),
``direction`` (``(2, H, W)``: dy, dx), and the six other attributes (``color``,
``line_type``, ``line_num``, ``function``, ``bidirection``, ``boundary``; ids of
:data:`.rasterize.ATTRIBUTES`, 0 background, 255 ignore). ``dilate`` (the ``DilateGT``
kernel: 9 for training, 3 for testing in the released level-19 config) widens the category,
attribute and instance maps alike (the direction map stays 1 px).

:func:`write_mmseg_tiles` writes the processed mmseg layout of the tools (``img_dir``,
``mask_tag`` written BGR like ``cv2.imwrite``, ``angle_direction``, per-attribute folders)
and :func:`read_mask_tag` reads a ``mask_tag`` file back (PNG or ``.npy``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import DataNotFoundError, InvalidInputError
from .rasterize import (
    ATTRIBUTES,
    RasterizedLines,
    decode_mask_tag,
    dilate_labels,
    encode_direction,
    encode_mask_tag,
    rasterize_lines,
    tile_boxes,
)

__all__ = ["OpenSatMap", "read_mask_tag", "write_fixture", "write_mmseg_tiles"]

URL = "https://huggingface.co/datasets/z-hb/OpenSatMap"
CLIP = {19: 512, 20: 1024}
ATTR_FOLDERS = {"category": "category", "color": "color", "line_type": "line_type",
                "line_num": "num", "function": "attribute", "bidirection": "direction",
                "boundary": "boundary"}


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB") if im.mode not in ("RGB", "L") else im)


class OpenSatMap(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Tiles of OpenSatMap images with rasterised lane/line ground truth.

    Args:
        root: folder of the published layout (module docstring).
        split: ``"train"``, ``"val"`` or ``"test"`` (image only).
        level: 19 (0.3 m/px) or 20 (0.15 m/px).
        clip: tile side (default: 512 at level 19, 1024 at level 20; 0 = whole images).
        dilate: ``DilateGT`` kernel applied to ``mask``, the attribute maps and
            ``instance`` (1 = 1-px lines).
        transforms: optional callable on the sample dict.

    Raises:
        DataNotFoundError: JSON, split list or an image missing.
        InvalidInputError: bad split/level, or an annotation outside the schema.
    """

    def __init__(self, root: str | Path, split: str = "train", level: int = 19,
                 clip: int | None = None, dilate: int = 1,
                 transforms: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]
                 | None = None) -> None:
        if split not in ("train", "val", "test"):
            raise InvalidInputError(f"split must be train, val or test, got {split!r}")
        if level not in CLIP:
            raise InvalidInputError(f"level must be 19 or 20, got {level!r}")
        if dilate < 1:
            raise InvalidInputError(f"dilate must be >= 1, got {dilate}")
        self.root, self.split, self.level = Path(root), split, level
        self.clip = CLIP[level] if clip is None else int(clip)
        self.dilate, self.transforms = dilate, transforms
        layout = (f"root/annotrainval{level}.json, root/{level}{{train,val,test}}"
                  f"_filenames.txt and root/{{train,val,test}}/<img>.png")
        lst = self.root / f"{level}{split}_filenames.txt"
        ann = self.root / f"annotrainval{level}.json"
        missing = [p.name for p in (lst,) + (() if split == "test" else (ann,))
                   if not p.is_file()]
        if missing:
            raise DataNotFoundError("OpenSatMap", self.root, missing, URL, layout)
        self.names = [n.strip() for n in lst.read_text().splitlines() if n.strip()]
        self.annotations: dict[str, Any] = {}
        if split != "test":
            with open(ann) as f:
                self.annotations = json.load(f)
            absent = [n for n in self.names if n not in self.annotations]
            if absent:
                raise InvalidInputError(
                    f"{ann} has no annotation for {len(absent)} image(s) of the {split} "
                    f"list, e.g. {absent[0]!r}")
        gone = [n for n in self.names if not (self.root / split / n).is_file()]
        if gone:
            raise DataNotFoundError("OpenSatMap", self.root,
                                    [f"{split}/{n}" for n in gone], URL, layout)
        self.tiles: list[tuple[str, tuple[int, int, int, int]]] = []
        for name in self.names:
            img = _read_png(self.root / split / name)
            h, w = img.shape[:2]
            boxes = [(0, 0, w, h)] if self.clip == 0 else tile_boxes(h, w, self.clip)
            for b in boxes:
                if img[b[1]:b[3], b[0]:b[2]].any():
                    self.tiles.append((name, b))
        self._cache: tuple[str, np.ndarray, RasterizedLines | None] | None = None

    def __len__(self) -> int:
        return len(self.tiles)

    def lines(self, name: str) -> list[dict[str, Any]]:
        """The published ``lines`` list of an image (empty for ``test``)."""
        return list(self.annotations.get(name, {}).get("lines", []))

    def _load(self, name: str) -> tuple[np.ndarray, RasterizedLines | None]:
        if self._cache is None or self._cache[0] != name:
            img = _read_png(self.root / self.split / name)
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            gt = None
            if self.split != "test":
                entry = self.annotations.get(name, {})
                size = (entry.get("image_height"), entry.get("image_width"))
                if size[0] is not None and size != img.shape[:2]:
                    raise InvalidInputError(
                        f"annotation of {name!r} is for a {size[1]}x{size[0]} image, the "
                        f"PNG is {img.shape[1]}x{img.shape[0]}")
                try:
                    gt = rasterize_lines(self.lines(name), img.shape[:2])
                except (KeyError, ValueError, TypeError) as exc:
                    raise InvalidInputError(
                        f"annotation of {name!r} does not follow the OpenSatMap schema: "
                        f"{exc}") from exc
            self._cache = (name, img, gt)
        return self._cache[1], self._cache[2]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        name, (x0, y0, x1, y1) = self.tiles[index]
        img, gt = self._load(name)
        sample = {"image": torch.from_numpy(
            np.ascontiguousarray(img[y0:y1, x0:x1, :3].transpose(2, 0, 1))).float()}
        if gt is not None:
            cat = gt.category[y0:y1, x0:x1]
            inst = gt.instance[y0:y1, x0:x1].astype(np.int64)
            sample["mask"] = torch.from_numpy(dilate_labels(cat, self.dilate).astype(np.int64))
            sample["instance"] = torch.from_numpy(dilate_labels(inst, self.dilate, ignore=0))
            sample["direction"] = torch.from_numpy(
                np.ascontiguousarray(gt.direction[:, y0:y1, x0:x1]))
            for attr in ATTRIBUTES:
                if attr != "category":
                    sample[attr] = torch.from_numpy(dilate_labels(
                        gt.labels[attr][y0:y1, x0:x1], self.dilate).astype(np.int64))
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(self, sample: dict[str, torch.Tensor], show_titles: bool = True,
             suptitle: str | None = None) -> Any:
        """Image, category mask (and prediction when ``sample["prediction"]`` exists)."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        panels = [("image", sample["image"].numpy().transpose(1, 2, 0) / 255.0)]
        for key in ("mask", "prediction"):
            if key in sample:
                m = sample[key].numpy().astype(float)
                m[m == 255] = np.nan
                panels.append((key, m))
        fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3), squeeze=False)
        for ax, (title, arr) in zip(axes[0], panels, strict=True):
            ax.imshow(np.clip(arr, 0, 1) if arr.ndim == 3 else arr, vmin=0, vmax=3,
                      interpolation="nearest", cmap=None if arr.ndim == 3 else "viridis")
            ax.axis("off")
            if show_titles:
                ax.set_title(title)
        if suptitle:
            fig.suptitle(suptitle)
        return fig


def write_fixture(root: str | Path, *, n_train: int = 4, n_val: int = 2, n_test: int = 1,
                  size: int = 128, level: int = 19, seed: int = 0) -> Path:
    """Synthetic road scenes (:func:`.synth.render_scene`) in the published layout."""
    from PIL import Image

    from .synth import render_scene

    if size < 32:
        raise InvalidInputError(f"fixture scenes need size >= 32, got {size}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    ann: dict[str, Any] = {}
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        (root / split).mkdir(parents=True, exist_ok=True)
        names = []
        for i in range(n):
            name = f"s{seed}_{split}_{i:04d}.png"
            img, lines = render_scene(size, rng)
            Image.fromarray(img).save(root / split / name)
            names.append(name)
            if split != "test":
                ann[name] = {"image_width": size, "image_height": size, "lines": lines}
        (root / f"{level}{split}_filenames.txt").write_text("".join(f"{n}\n" for n in names))
    (root / f"annotrainval{level}.json").write_text(json.dumps(ann))
    return root


def write_mmseg_tiles(dataset: OpenSatMap, out: str | Path) -> Path:
    """Write ``dataset``'s tiles in the tools' processed mmseg layout.

    ``out/img_dir/<split>/<img>_<x0>_<y0>_<x1>_<y1>.png``, ``out/mask_tag/<split>/..-GT.png``
    (BGR on disk like ``cv2.imwrite``: B = category, G = instance; ``-GT.npy`` unswapped
    when a tile has 255 or more instance ids), ``out/angle_direction/<split>/..-GT.png``
    (BGR: B = dy, G = dx) and one folder per attribute (``color, line_type, num, attribute,
    direction, boundary``, grey PNGs).
    """
    from PIL import Image

    out = Path(out)
    split = dataset.split
    for name, (x0, y0, x1, y1) in dataset.tiles:
        img, gt = dataset._load(name)
        stem = f"{Path(name).stem}_{x0}_{y0}_{x1}_{y1}"
        d = out / "img_dir" / split
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(img[y0:y1, x0:x1, :3])).save(d / f"{stem}.png")
        if gt is None:
            continue
        tag = encode_mask_tag(gt.tag_category[y0:y1, x0:x1], gt.instance[y0:y1, x0:x1])
        d = out / "mask_tag" / split
        d.mkdir(parents=True, exist_ok=True)
        if len(np.unique(tag[..., 1])) >= 255:
            np.save(d / f"{stem}-GT.npy", tag)
        else:
            Image.fromarray(np.ascontiguousarray(tag[..., ::-1].astype(np.uint8))).save(
                d / f"{stem}-GT.png")
        d = out / "angle_direction" / split
        d.mkdir(parents=True, exist_ok=True)
        enc = encode_direction(gt.direction[:, y0:y1, x0:x1])
        Image.fromarray(np.ascontiguousarray(enc[..., ::-1])).save(
            d / f"{stem}-GT-direction.png")
        for attr, folder in ATTR_FOLDERS.items():
            if attr == "category":
                continue
            d = out / folder / split
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(gt.labels[attr][y0:y1, x0:x1]).save(d / f"{stem}-GT.png")
    return out


def read_mask_tag(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(category, instance)`` of a processed ``mask_tag`` file (``-GT.png`` read through
    PIL, BGR on disk; or ``-GT.npy``, not swapped)."""
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError("OpenSatMap mask_tag", p.parent, [p.name], URL)
    if p.suffix == ".npy":
        return decode_mask_tag(np.load(p, allow_pickle=False), from_png=False)
    return decode_mask_tag(_read_png(p), from_png=True)
