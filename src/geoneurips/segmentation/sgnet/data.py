"""Data for SGNet: the Inria Aerial Image Labeling layout and surrounding-window patches.

* :class:`InriaAerial` reads the *published* layout of the Inria Aerial Image Labeling
  dataset (Maggiori et al. 2017), one of SGNet's evaluation sets (5000 x 5000 ultra images,
  0.3 m)::

      <root>/AerialImageDataset/            (or <root> itself)
          train/images/austin1.tif ... vienna36.tif     RGB uint8 GeoTIFF, bands R, G, B
          train/gt/austin1.tif ...   vienna36.tif       1 band uint8, 255 = building, 0 = not
          test/images/bellingham1.tif ... tyrol-e36.tif  RGB only (labels withheld)

  Splits: ``train`` = images 6-36 of the training folder, ``val`` = images 1-5 of each
  city (the validation convention of Maggiori et al. used by most follow-ups, and
  TorchGeo's), ``test`` = the test folder (no masks). Labels: the published masks hold
  0/255 and are mapped 255 -> 1; masks holding 0/1 (TorchGeo's test fixture, re-exported
  masks) are read as they are. A partial download reads: any ``<city><n>.tif`` present is
  used (TorchGeo's fixture holds only ``austin``, also in ``test/``).
* :class:`SurroundingPatches` reads patches of (Geo)TIFF ultra images together with their
  surrounding window (SGNet Sec. 3.1): for a ``p x p`` patch at ``(row, col)``, the
  ``round(s p)``-sided window centred on it (read boundless, zero-filled outside the image,
  label ``255`` there), resized to ``p x p``. Optionally a second, overlapping patch shifted
  by ``pair_shift`` for the boundary-consistency loss.
* :func:`write_fixture` writes a small dataset in exactly the Inria layout; its default
  scene generator :func:`make_ambiguous_scene` builds the synthetic task where a patch alone
  is ambiguous and the surroundings decide the class.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ...errors import DataNotFoundError, InvalidInputError

__all__ = [
    "INRIA_TEST_CITIES",
    "INRIA_TRAIN_CITIES",
    "InriaAerial",
    "SurroundingPatches",
    "make_ambiguous_scene",
    "read_boundless",
    "resize_context",
    "surrounding_window",
    "write_fixture",
]

INRIA_TRAIN_CITIES: tuple[str, ...] = ("austin", "chicago", "kitsap", "tyrol-w", "vienna")
INRIA_TEST_CITIES: tuple[str, ...] = ("bellingham", "bloomington", "innsbruck",
                                      "sanfrancisco", "tyrol-e")
INRIA_URL = "https://project.inria.fr/aerialimagelabeling/"
_NAME = re.compile(r"^([a-z-]+)(\d+)\.tif$")
IGNORE_INDEX = 255


def _resolve_root(root: Path) -> Path:
    sub = root / "AerialImageDataset"
    return sub if sub.is_dir() else root


class InriaAerial(Dataset[dict[str, torch.Tensor]]):
    """Inria Aerial Image Labeling dataset, whole ultra images (published layout).

    Args:
        root: folder holding ``AerialImageDataset/`` (or its content ``train/``, ``test/``).
        split: ``"train"`` (images 6-36), ``"val"`` (images 1-5) or ``"test"`` (no masks).
        transforms: optional callable on the sample dict.

    Same layout, splits and sample keys as TorchGeo's ``InriaAerialImageLabeling`` (the
    tests compare both readers); a plain torch ``Dataset``, not TorchGeo's
    ``NonGeoDataset``, because importing ``torchgeo.datasets`` loads geopandas, pyproj and
    torchvision's datasets, seconds that ``geoneurips segment`` (which imports this module)
    should not pay.

    Samples: ``image`` float32 ``(3, H, W)`` (0-255, bands R, G, B), ``mask`` int64
    ``(H, W)`` in {0, 1} (not for ``test``), from the first band of the ``gt`` file (0/255
    as published, or 0/1). Whatever cities are present are read (a partial download or
    TorchGeo's fixture); every image of a labelled split needs its ``gt`` file.

    Raises:
        DataNotFoundError: when the split's folders or files are missing.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        transforms: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
    ) -> None:
        if split not in ("train", "val", "test"):
            raise InvalidInputError(f"split must be 'train', 'val' or 'test', got {split!r}")
        self.root = Path(root)
        self.split = split
        self.transforms = transforms
        base = _resolve_root(self.root)
        folder = "test" if split == "test" else "train"
        img_dir = base / folder / "images"
        gt_dir = base / folder / "gt"
        layout = ("<root>/AerialImageDataset/{train,test}/images/<city><n>.tif and "
                  "train/gt/<city><n>.tif (unzip the NEW2-AerialImageDataset archive in root)")
        if not img_dir.is_dir() or (split != "test" and not gt_dir.is_dir()):
            raise DataNotFoundError("Inria Aerial Image Labeling", self.root,
                                    [f"{folder}/images/", f"{folder}/gt/"], INRIA_URL, layout)
        files: list[tuple[Path, Path | None]] = []
        for path in sorted(img_dir.glob("*.tif")):
            m = _NAME.match(path.name)
            if not m:
                continue
            n = int(m.group(2))
            if split == "val" and n > 5 or split == "train" and n <= 5:
                continue
            gt = None
            if split != "test":
                gt = gt_dir / path.name
                if not gt.is_file():
                    raise DataNotFoundError("Inria Aerial Image Labeling", self.root,
                                            [f"{folder}/gt/{path.name}"], INRIA_URL, layout)
            files.append((path, gt))
        if not files:
            raise DataNotFoundError("Inria Aerial Image Labeling", self.root,
                                    [f"{folder}/images/<city><n>.tif for split {split!r}"],
                                    INRIA_URL, layout)
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    @staticmethod
    def encode_mask(gt: np.ndarray, path: Path | str = "mask") -> np.ndarray:
        """Map labels to {0, 1}: the published 0/255 (255 -> 1) or 0/1 as they are.

        Raises:
            InvalidInputError: any other value, or 1 and 255 in the same array.
        """
        vals = np.unique(gt)
        if not (set(vals.tolist()) <= {0, 255} or set(vals.tolist()) <= {0, 1}):
            raise InvalidInputError(
                f"Inria mask {str(path)!r} must hold 0/255 (published) or 0/1; found "
                f"{vals[:6].tolist()}"
            )
        mask: np.ndarray = (gt != 0).astype(np.int64)
        return mask

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        from ...raster.io import read_raster

        img_path, gt_path = self.files[index]
        img, info = read_raster(img_path)
        if img.shape[0] != 3:
            raise InvalidInputError(
                f"Inria image {str(img_path)!r} must have 3 bands (R, G, B), has {img.shape[0]}"
            )
        sample = {"image": torch.from_numpy(img.astype(np.float32))}
        if gt_path is not None:
            gt, ginfo = read_raster(gt_path)
            if gt.shape[1:] != img.shape[1:]:
                raise InvalidInputError(
                    f"mask {str(gt_path)!r} is {gt.shape[1:]} but image is {img.shape[1:]}"
                )
            sample["mask"] = torch.from_numpy(self.encode_mask(gt[0], gt_path))
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self, sample: dict[str, torch.Tensor], show_titles: bool = True,
        suptitle: str | None = None,
    ) -> Any:
        """Image, mask and (if present) ``prediction`` side by side."""
        return plot_sample(sample, show_titles, suptitle)


def plot_sample(sample: dict[str, torch.Tensor], show_titles: bool = True,
                suptitle: str | None = None) -> Any:
    """Plot ``image`` (first 3 bands), and ``mask`` / ``prediction`` if present."""
    from ...demo import new_figure

    keys = [k for k in ("mask", "prediction") if k in sample]
    fig, axes = new_figure(1 + len(keys), 1, size=3.5)
    img = sample["image"][:3].float().numpy().transpose(1, 2, 0)
    lo, hi = float(img.min()), float(img.max())
    axes[0, 0].imshow((img - lo) / max(hi - lo, 1e-9))
    if show_titles:
        axes[0, 0].set_title("image")
    for ax, k in zip(axes[0, 1:], keys, strict=True):
        ax.imshow(sample[k].numpy(), cmap="viridis", interpolation="nearest")
        if show_titles:
            ax.set_title(k)
    for ax in axes.flat:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def surrounding_window(row: int, col: int, height: int, width: int,
                       scale: float) -> tuple[int, int, int, int]:
    """``(row0, col0, H, W)`` of the surrounding window centred on a patch (Sec. 3.1)."""
    sh, sw = int(round(scale * height)), int(round(scale * width))
    return row - (sh - height) // 2, col - (sw - width) // 2, sh, sw


def read_boundless(ds: Any, row: int, col: int, height: int, width: int,
                   fill: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Read a window of an open rasterio dataset that may extend past the image.

    Returns ``(array float32 (C, h, w), inside bool (h, w))``; outside pixels are ``fill``.
    """
    from rasterio.windows import Window

    out = np.full((ds.count, height, width), fill, dtype=np.float32)
    inside = np.zeros((height, width), dtype=bool)
    r0, c0 = max(row, 0), max(col, 0)
    r1, c1 = min(row + height, ds.height), min(col + width, ds.width)
    if r1 > r0 and c1 > c0:
        data = ds.read(window=Window(c0, r0, c1 - c0, r1 - r0))
        out[:, r0 - row: r1 - row, c0 - col: c1 - col] = data
        inside[r0 - row: r1 - row, c0 - col: c1 - col] = True
    return out, inside


def resize_context(arr: torch.Tensor, size: tuple[int, int], nearest: bool = False) -> torch.Tensor:
    """Resize a ``(C, H, W)`` surrounding window to ``size`` (area for images, nearest for
    labels), the "resized to the network input" step of Sec. 3.1."""
    x = arr[None].float()
    if tuple(x.shape[-2:]) == tuple(size):
        return x[0]
    mode = "nearest" if nearest else "area"
    return F.interpolate(x, size=size, mode=mode)[0]


class SurroundingPatches(Dataset[dict[str, torch.Tensor]]):
    """Patches of (Geo)TIFF ultra images with their surrounding window (SGNet Sec. 3.1).

    Patches are read window by window (the images are never loaded whole), so the dataset
    works on rasters larger than memory.

    Args:
        images: image rasters (all with the same band count).
        masks: label rasters on the same grids (or ``None``).
        patch_size: patch side ``p``.
        context_scale: surrounding-window side / patch side ``s``.
        stride: grid stride (default ``p``: a non-overlapping grid); ignored when
            ``samples_per_image`` is given.
        samples_per_image: draw this many random patch positions per image instead of a grid
            (positions fixed by ``seed``).
        pair_shift: if given, also return a second patch shifted by ``(dy, dx)`` (keys
            ``image_b``, ``context_b``, ``mask_b``, ``shift``) for the boundary loss.
        label_map: maps raw mask values to class ids (default: Inria's 0/255 -> 0/1).
        seed: seed of the random positions.

    Samples: ``image`` and ``context`` float32 ``(C, p, p)``; ``mask`` and ``context_mask``
    int64 ``(p, p)`` (255 outside the image); ``row``/``col`` of the patch.
    """

    def __init__(
        self,
        images: Sequence[str | Path],
        masks: Sequence[str | Path] | None = None,
        *,
        patch_size: int = 256,
        context_scale: float = 3.0,
        stride: int | None = None,
        samples_per_image: int | None = None,
        pair_shift: tuple[int, int] | None = None,
        label_map: Callable[[np.ndarray, Path], np.ndarray] | None = None,
        seed: int = 0,
    ) -> None:
        from ...raster.io import raster_info

        self.images = [Path(p) for p in images]
        self.masks = [Path(p) for p in masks] if masks is not None else None
        if not self.images:
            raise InvalidInputError("SurroundingPatches needs at least one image")
        if self.masks is not None and len(self.masks) != len(self.images):
            raise InvalidInputError(
                f"{len(self.images)} images but {len(self.masks)} masks given"
            )
        if patch_size < 1 or context_scale < 1:
            raise InvalidInputError("patch_size must be >= 1 and context_scale >= 1")
        self.patch_size = int(patch_size)
        self.context_scale = float(context_scale)
        self.pair_shift = pair_shift
        self.label_map = label_map or InriaAerial.encode_mask
        infos = [raster_info(p) for p in self.images]
        counts = {i.count for i in infos}
        if len(counts) != 1:
            raise InvalidInputError(f"images have different band counts {sorted(counts)}")
        self.num_bands = counts.pop()
        if self.masks is not None:
            for img, m in zip(infos, self.masks, strict=True):
                mi = raster_info(m)
                if (mi.height, mi.width) != (img.height, img.width):
                    raise InvalidInputError(
                        f"mask {str(m)!r} is {mi.height}x{mi.width} but image "
                        f"{str(img.path)!r} is {img.height}x{img.width}"
                    )
        p = self.patch_size
        self.index: list[tuple[int, int, int]] = []
        rng = np.random.default_rng(seed)
        for k, info in enumerate(infos):
            if info.height < p or info.width < p:
                raise InvalidInputError(
                    f"image {str(info.path)!r} ({info.height}x{info.width}) is smaller than "
                    f"the patch size {p}"
                )
            if samples_per_image is not None:
                rows = rng.integers(0, info.height - p + 1, samples_per_image)
                cols = rng.integers(0, info.width - p + 1, samples_per_image)
                self.index += [(k, int(r), int(c)) for r, c in zip(rows, cols, strict=True)]
            else:
                st = int(stride or p)
                rs = list(range(0, info.height - p + 1, st))
                cs = list(range(0, info.width - p + 1, st))
                self.index += [(k, r, c) for r in rs for c in cs]
        self._handles: dict[Path, Any] = {}

    def __len__(self) -> int:
        return len(self.index)

    def _ds(self, path: Path) -> Any:
        import rasterio

        ds = self._handles.get(path)
        if ds is None:
            ds = rasterio.open(path)
            self._handles[path] = ds
        return ds

    def __getstate__(self) -> dict[str, Any]:  # worker processes reopen their own handles
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state

    def close(self) -> None:
        """Close the open raster handles."""
        for ds in self._handles.values():
            ds.close()
        self._handles.clear()

    def _one(self, k: int, row: int, col: int) -> dict[str, torch.Tensor]:
        p = self.patch_size
        ds = self._ds(self.images[k])
        r0, c0, sh, sw = surrounding_window(row, col, p, p, self.context_scale)
        ctx, inside = read_boundless(ds, r0, c0, sh, sw)
        if not np.isfinite(ctx).all():
            raise InvalidInputError(f"image {str(self.images[k])!r} holds NaN/inf near "
                                    f"row {row}, col {col}")
        pr, pc = row - r0, col - c0
        out = {
            "image": torch.from_numpy(np.ascontiguousarray(ctx[:, pr: pr + p, pc: pc + p])),
            "context": resize_context(torch.from_numpy(ctx), (p, p)),
            "row": torch.tensor(row),
            "col": torch.tensor(col),
        }
        if self.masks is not None:
            mpath = self.masks[k]
            mraw, _ = read_boundless(self._ds(mpath), r0, c0, sh, sw)
            lab = np.full(mraw.shape[1:], IGNORE_INDEX, dtype=np.int64)
            lab[inside] = self.label_map(mraw[0][inside].astype(np.int64), mpath)
            out["mask"] = torch.from_numpy(np.ascontiguousarray(lab[pr: pr + p, pc: pc + p]))
            out["context_mask"] = resize_context(torch.from_numpy(lab)[None].float(), (p, p),
                                                 nearest=True)[0].long()
        return out

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        k, row, col = self.index[index]
        sample = self._one(k, row, col)
        if self.pair_shift is not None:
            dy, dx = self.pair_shift
            b = self._one(k, row + dy, col + dx)
            for key in ("image", "context", "mask", "context_mask"):
                if key in b:
                    sample[f"{key}_b"] = b[key]
            sample["shift"] = torch.tensor([dy, dx])
        return sample

    def plot(self, sample: dict[str, torch.Tensor], show_titles: bool = True,
             suptitle: str | None = None) -> Any:
        """Patch, its resized surrounding window, and the masks."""
        from ...demo import new_figure

        panels = [("patch", sample["image"]), ("surrounding (resized)", sample["context"])]
        masks = [(k, sample[k]) for k in ("mask", "context_mask", "prediction") if k in sample]
        fig, axes = new_figure(len(panels) + len(masks), 1, size=3.0)
        for ax, (name, img) in zip(axes[0], panels, strict=False):
            a = img[:3].float().numpy().transpose(1, 2, 0)
            ax.imshow((a - a.min()) / max(float(a.max() - a.min()), 1e-9))
            if show_titles:
                ax.set_title(name)
        for ax, (name, m) in zip(axes[0, len(panels):], masks, strict=True):
            ax.imshow(m.numpy(), cmap="viridis", interpolation="nearest", vmin=0, vmax=2)
            if show_titles:
                ax.set_title(name)
        for ax in axes.flat:
            ax.axis("off")
        if suptitle:
            fig.suptitle(suptitle)
        return fig


def make_ambiguous_scene(
    size: int, rng: np.random.Generator, *, min_block: int = 48, max_block: int = 96,
    frame: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic ultra scene where a patch alone is ambiguous (the demo task).

    The scene is cut into rectangular blocks (sides in ``[min_block, max_block]``); each
    block is "building" (1) or "background" (0) at random. Block interiors have identical
    texture statistics whatever the class; only a ``frame``-pixel border, reddish for class
    1 and bluish for class 0, tells the class. A patch far from its block's border cannot
    be classified; its surrounding window (a few patch sides) reaches the border and decides.

    Returns ``(image uint8 (3, size, size), gt uint8 (size, size) in {0, 255})``.
    """

    def cuts() -> list[int]:
        pos = [0]
        while pos[-1] < size:
            pos.append(pos[-1] + int(rng.integers(min_block, max_block + 1)))
        pos[-1] = size
        if len(pos) > 2 and pos[-1] - pos[-2] < min_block // 2:
            pos.pop(-2)
        return pos

    rows, cols = cuts(), cuts()
    img = rng.normal(128.0, 28.0, size=(3, size, size))
    cls = np.zeros((size, size), dtype=np.uint8)
    palette = {0: np.array([70.0, 90.0, 200.0]), 1: np.array([200.0, 90.0, 70.0])}
    for r0, r1 in zip(rows[:-1], rows[1:], strict=True):
        for c0, c1 in zip(cols[:-1], cols[1:], strict=True):
            k = int(rng.integers(0, 2))
            cls[r0:r1, c0:c1] = k
            border = np.ones((r1 - r0, c1 - c0), dtype=bool)
            border[frame:-frame, frame:-frame] = False
            block = img[:, r0:r1, c0:c1]
            block[:, border] = palette[k][:, None] + rng.normal(0, 10.0, (3, int(border.sum())))
    image = np.clip(img, 0, 255).astype(np.uint8)
    return image, (cls * 255).astype(np.uint8)


SceneFn = Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def write_fixture(
    root: str | Path,
    *,
    size: int = 256,
    images_per_city: int = 6,
    cities: Sequence[str] = ("austin", "vienna"),
    test_cities: Sequence[str] = ("bellingham",),
    scene: SceneFn | None = None,
    seed: int = 0,
) -> Path:
    """Write a small Inria Aerial dataset in the published layout and return its folder.

    Files: ``<root>/AerialImageDataset/train/images/<city><n>.tif`` (RGB uint8 GeoTIFF,
    UTM grid at 0.3 m like the real tiles), ``train/gt/<city><n>.tif`` (uint8 0/255) and
    ``test/images/<city><n>.tif``. Images ``1-5`` of a city fall in the ``val`` split, so
    ``images_per_city >= 6`` gives both ``train`` and ``val``.

    Args:
        root: destination folder.
        size: image side in pixels (the real tiles are 5000).
        images_per_city: images per training city.
        cities: training cities (subset of :data:`INRIA_TRAIN_CITIES`).
        test_cities: test cities (subset of :data:`INRIA_TEST_CITIES`).
        scene: ``scene(size, rng) -> (image (3, H, W) uint8, gt (H, W) uint8 0/255)``;
            default :func:`make_ambiguous_scene`.
        seed: random seed.
    """
    from affine import Affine

    from ...raster.io import write_raster

    for c in cities:
        if c not in INRIA_TRAIN_CITIES:
            raise InvalidInputError(f"{c!r} is not an Inria training city {INRIA_TRAIN_CITIES}")
    for c in test_cities:
        if c not in INRIA_TEST_CITIES:
            raise InvalidInputError(f"{c!r} is not an Inria test city {INRIA_TEST_CITIES}")
    rng = np.random.default_rng(seed)
    make = scene or (lambda s, g: make_ambiguous_scene(s, g))
    base = Path(root) / "AerialImageDataset"
    crs = "EPSG:32614"
    for folder, names in (("train", cities), ("test", test_cities)):
        for ci, city in enumerate(names):
            n_img = images_per_city if folder == "train" else 1
            for n in range(1, n_img + 1):
                image, gt = make(size, rng)
                x0 = 620000.0 + 2000.0 * ci + 0.3 * size * n
                transform = Affine(0.3, 0.0, x0, 0.0, -0.3, 3350000.0)
                write_raster(base / folder / "images" / f"{city}{n}.tif", image, crs=crs,
                             transform=transform)
                if folder == "train":
                    write_raster(base / folder / "gt" / f"{city}{n}.tif", gt, crs=crs,
                                 transform=transform)
    return base
