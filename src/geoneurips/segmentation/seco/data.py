"""Data for SeCo: the LoveDA published layout and synthetic scenes with noisy pseudo-labels.

SeCo (Zhao et al., NeurIPS 2024) refines the pseudo-labels of a domain-adaptive segmentation
model; its remote-sensing setting is LoveDA Rural -> Urban (source rural, target urban).

* :class:`LoveDA` reads the *published* layout of LoveDA (Wang et al., NeurIPS 2021 D&B,
  https://github.com/Junjue-Wang/LoveDA, Zenodo record 5706578)::

      <root>/Train/Urban/images_png/1366.png      RGB uint8, 1024 x 1024
      <root>/Train/Urban/masks_png/1366.png       one band uint8, same file name
      <root>/Train/Rural/{images_png,masks_png}/...
      <root>/Val/{Urban,Rural}/{images_png,masks_png}/...
      <root>/Test/{Urban,Rural}/images_png/...    (labels withheld)

  Label encoding on disk: ``0`` = no-data (ignored), ``1`` background, ``2`` building,
  ``3`` road, ``4`` water, ``5`` barren, ``6`` forest, ``7`` agriculture. Like the LoveDA
  reference code (which subtracts one and ignores -1), the reader returns class ids
  ``0..6`` and the no-data pixels as :data:`IGNORE_INDEX` (255), SeCo's ignore value.
* :func:`write_fixture` writes a small dataset in exactly that layout from synthetic scenes
  (:func:`make_scene`); :func:`make_noisy_pseudo_label` corrupts a truth map the way a
  cross-domain model's pseudo-labels are wrong (speckle, boundary shifts, whole-region
  confusions, missed objects, low-confidence holes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ...errors import DataNotFoundError, InvalidInputError

__all__ = [
    "IGNORE_INDEX",
    "LOVEDA_CLASSES",
    "LOVEDA_DOMAINS",
    "LOVEDA_SPLITS",
    "LOVEDA_STUFF",
    "LOVEDA_THINGS",
    "LoveDA",
    "make_noisy_pseudo_label",
    "make_scene",
    "write_fixture",
]

IGNORE_INDEX = 255
#: Class names of the ids returned by :class:`LoveDA` (on-disk value minus one).
LOVEDA_CLASSES: tuple[str, ...] = (
    "background", "building", "road", "water", "barren", "forest", "agriculture",
)
#: SeCo split for LoveDA: "things" are prompted per instance (buildings), the rest is stuff.
LOVEDA_THINGS: tuple[int, ...] = (1,)
LOVEDA_STUFF: tuple[int, ...] = (0, 2, 3, 4, 5, 6)
LOVEDA_SPLITS: dict[str, str] = {"train": "Train", "val": "Val", "test": "Test"}
LOVEDA_DOMAINS: dict[str, str] = {"urban": "Urban", "rural": "Rural"}
LOVEDA_URL = "https://zenodo.org/records/5706578 (Train.zip, Val.zip, Test.zip)"
_PALETTE = np.array(
    [[255, 255, 255], [255, 0, 0], [255, 255, 0], [0, 0, 255], [159, 129, 183],
     [0, 255, 0], [255, 195, 128]], dtype=np.uint8,
)


def _read_png(path: Path, mode: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            return np.asarray(im.convert(mode))
    except (OSError, UnidentifiedImageError) as exc:
        raise InvalidInputError(
            f"cannot read PNG {str(path)!r} (corrupt or truncated): {exc}"
        ) from exc


class LoveDA(Dataset[dict[str, torch.Tensor]]):
    """LoveDA land-cover dataset in its published layout (SeCo's Rural -> Urban setting).

    Args:
        root: folder holding ``Train/``, ``Val/`` and/or ``Test/``.
        split: ``"train"``, ``"val"`` or ``"test"`` (test has no masks).
        domains: ``"urban"`` and/or ``"rural"`` (SeCo: source rural, target urban).
        transforms: optional callable on the sample dict.

    Samples: ``image`` float32 ``(3, H, W)`` (0-255, R, G, B), ``mask`` int64 ``(H, W)``
    with classes ``0..6`` (:data:`LOVEDA_CLASSES`) and 255 for no-data; ``domain`` int64
    (0 urban, 1 rural).

    Raises:
        DataNotFoundError: when a requested split/domain folder or a mask is missing.
    """

    classes = LOVEDA_CLASSES
    ignore_index = IGNORE_INDEX

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        domains: Sequence[str] = ("urban", "rural"),
        transforms: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
    ) -> None:
        if split not in LOVEDA_SPLITS:
            raise InvalidInputError(f"split must be one of {sorted(LOVEDA_SPLITS)}, got {split!r}")
        if isinstance(domains, str):
            domains = (domains,)
        bad = [d for d in domains if d not in LOVEDA_DOMAINS]
        if bad or not domains:
            raise InvalidInputError(
                f"domains must be among {sorted(LOVEDA_DOMAINS)}, got {domains}"
            )
        self.root = Path(root)
        self.split = split
        self.domains = tuple(domains)
        self.transforms = transforms
        self.files: list[tuple[Path, Path | None, int]] = []
        missing: list[str] = []
        for d in self.domains:
            folder = self.root / LOVEDA_SPLITS[split] / LOVEDA_DOMAINS[d]
            img_dir = folder / "images_png"
            if not img_dir.is_dir():
                missing.append(str(img_dir.relative_to(self.root)))
                continue
            for img in sorted(img_dir.glob("*.png"), key=lambda p: (len(p.stem), p.stem)):
                mask: Path | None = None
                if split != "test":
                    mask = folder / "masks_png" / img.name
                    if not mask.is_file():
                        missing.append(str(mask.relative_to(self.root)))
                        continue
                self.files.append((img, mask, 0 if d == "urban" else 1))
        if missing or not self.files:
            raise DataNotFoundError(
                "LoveDA", self.root, missing or [f"{LOVEDA_SPLITS[split]}/*/images_png/*.png"],
                url=LOVEDA_URL,
                layout="<root>/{Train,Val,Test}/{Urban,Rural}/{images_png,masks_png}/<id>.png",
            )

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        img_path, mask_path, domain = self.files[index]
        img = _read_png(img_path, "RGB")
        sample = {
            "image": torch.from_numpy(img.transpose(2, 0, 1).astype(np.float32)),
            "domain": torch.tensor(domain, dtype=torch.int64),
        }
        if mask_path is not None:
            raw = _read_png(mask_path, "L").astype(np.int64)
            if raw.shape != img.shape[:2]:
                raise InvalidInputError(
                    f"mask {str(mask_path)!r} is {raw.shape} but its image is {img.shape[:2]}"
                )
            if raw.max() > len(LOVEDA_CLASSES):
                raise InvalidInputError(
                    f"mask {str(mask_path)!r} holds value {int(raw.max())}; LoveDA uses 0..7"
                )
            sample["mask"] = torch.from_numpy(np.where(raw == 0, IGNORE_INDEX, raw - 1))
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self, sample: dict[str, Any], show_titles: bool = True, suptitle: str | None = None
    ) -> Any:
        """Image, mask and (if present) ``prediction`` side by side (LoveDA colours)."""
        from ...demo import new_figure

        keys = [k for k in ("mask", "prediction") if k in sample]
        fig, axes = new_figure(ncols=1 + len(keys), nrows=1, size=3.5)
        img = np.asarray(sample["image"]).transpose(1, 2, 0)
        axes[0, 0].imshow(np.clip(img / 255.0, 0, 1))
        for i, k in enumerate(keys, start=1):
            axes[0, i].imshow(colorize(np.asarray(sample[k])))
        for i, name in enumerate(["image", *keys]):
            axes[0, i].axis("off")
            if show_titles:
                axes[0, i].set_title(name)
        if suptitle:
            fig.suptitle(suptitle)
        return fig


def colorize(label: np.ndarray) -> np.ndarray:
    """RGB picture of a label map (LoveDA colours; ignore 255 shown black)."""
    lab = np.asarray(label).astype(np.int64)
    out = np.zeros((*lab.shape, 3), dtype=np.uint8)
    ok = (lab >= 0) & (lab < len(_PALETTE))
    out[ok] = _PALETTE[lab[ok]]
    return out


# --------------------------------------------------------------------------- synthetic


#: Mean colour of each class in the synthetic scenes, and a second "domain-shifted" look.
_COLOURS = np.array(
    [[150, 140, 120], [200, 70, 60], [110, 110, 115], [40, 70, 150], [190, 170, 120],
     [40, 110, 40], [150, 190, 70]], dtype=np.float64,
)


def make_scene(
    size: int = 96, seed: int = 0, n_cells: int = 9, n_buildings: int = 6,
    noise: float = 10.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic LoveDA-like scene: ``(image (H, W, 3) uint8, truth (H, W) int64 0..6)``.

    Stuff: Voronoi cells of background / water / barren / forest / agriculture crossed by
    one or two straight roads; things: rectangular buildings. Every class has its own
    colour, each region a random brightness, plus pixel noise and a fine texture.
    """
    rng = np.random.default_rng(seed)
    h = w = int(size)
    yy, xx = np.mgrid[0:h, 0:w]
    centres = rng.uniform(0, size, (n_cells, 2))
    d = (yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None] - centres[:, 1]) ** 2
    cell = d.argmin(-1)
    stuff = np.array([0, 3, 4, 5, 6])
    cell_class = rng.choice(stuff, n_cells)
    truth = cell_class[cell]
    for _ in range(int(rng.integers(1, 3))):
        width = int(rng.integers(3, 6))
        if rng.random() < 0.5:
            r = int(rng.integers(width, h - width))
            truth[r - width // 2 : r - width // 2 + width, :] = 2
        else:
            c = int(rng.integers(width, w - width))
            truth[:, c - width // 2 : c - width // 2 + width] = 2
    for _ in range(n_buildings):
        bh, bw = (int(v) for v in rng.integers(5, max(6, size // 7), 2))
        r, c = int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw))
        truth[r : r + bh, c : c + bw] = 1
    img = _COLOURS[truth].copy()
    # region-wise brightness (each connected region of the truth gets its own factor)
    from scipy import ndimage

    for k in range(len(_COLOURS)):
        lab, n = ndimage.label(truth == k)
        if n:
            f = rng.uniform(0.85, 1.15, n + 1)
            img *= np.where(lab > 0, f[lab], 1.0)[..., None]
    texture = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), 1.0) * noise
    img += texture[..., None] + rng.normal(0, noise, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8), truth.astype(np.int64)


def make_noisy_pseudo_label(
    truth: np.ndarray, seed: int = 0, flip_prob: float = 0.15, speckle: float = 0.08,
    boundary: int = 1, miss_prob: float = 0.1, holes: float = 0.01,
) -> np.ndarray:
    """Pseudo-labels of a cross-domain model, simulated from the truth (uint8, 255 ignore).

    * whole-region confusions: each connected stuff region is given a wrong (confusable)
      class with probability ``flip_prob``;
    * missed objects: each building becomes background with probability ``miss_prob``;
    * boundary errors: labels are shifted by up to ``boundary`` pixels;
    * speckle: small blobs of random classes covering about ``speckle`` of the pixels;
    * low-confidence holes: small blobs of ``255`` covering about ``holes`` of the pixels.
    """
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    t = np.asarray(truth).astype(np.int64)
    h, w = t.shape
    out = t.copy()
    confusion = {0: 6, 2: 0, 3: 5, 4: 0, 5: 6, 6: 5, 1: 0}
    for k in range(len(LOVEDA_CLASSES)):
        lab, n = ndimage.label(t == k)
        for i in range(1, n + 1):
            p = miss_prob if k == 1 else flip_prob
            if rng.random() < p:
                out[lab == i] = confusion[k]
    if boundary > 0:
        dy, dx = (int(v) for v in rng.integers(-boundary, boundary + 1, 2))
        shifted = np.roll(out, (dy, dx), axis=(0, 1))
        band = ndimage.morphological_gradient(t, size=3) > 0
        band = ndimage.binary_dilation(band, iterations=boundary)
        out = np.where(band, shifted, out)
    n_blobs = int(speckle * h * w / 5.0)
    blob = np.zeros((h, w), dtype=np.int64) - 1
    rs, cs = rng.integers(0, h, n_blobs), rng.integers(0, w, n_blobs)
    blob[rs, cs] = rng.integers(0, len(LOVEDA_CLASSES), n_blobs)
    grown = ndimage.grey_dilation(blob, size=(2, 2))
    out = np.where(grown >= 0, grown, out)
    n_holes = int(holes * h * w / 9.0)
    hole = np.zeros((h, w), dtype=bool)
    hole[rng.integers(0, h, n_holes), rng.integers(0, w, n_holes)] = True
    hole = ndimage.binary_dilation(hole, iterations=1)
    out = np.where(hole, IGNORE_INDEX, out)
    return out.astype(np.uint8)


def write_fixture(
    root: str | Path,
    size: int = 96,
    per_folder: int = 2,
    seed: int = 0,
    splits: Sequence[str] = ("train", "val", "test"),
    nodata_border: int = 2,
) -> Path:
    """Write a small LoveDA in the published layout (PNG files named ``<int>.png``).

    Rural scenes have more agriculture/forest cells and fewer buildings than urban ones.
    Masks use the on-disk encoding (``0`` no-data, ``1..7`` classes); a no-data stripe of
    ``nodata_border`` rows is written at the bottom of each mask. Returns ``root``.
    """
    from PIL import Image

    from ...io import atomic_path

    root = Path(root)
    idx = 0
    for split in splits:
        for d, folder in LOVEDA_DOMAINS.items():
            base = root / LOVEDA_SPLITS[split] / folder
            for _ in range(per_folder):
                s = seed * 1000 + idx
                idx += 1
                img, truth = make_scene(
                    size, seed=s, n_buildings=8 if d == "urban" else 2,
                    n_cells=10 if d == "urban" else 6,
                )
                name = f"{1366 + idx}.png"
                (base / "images_png").mkdir(parents=True, exist_ok=True)
                with atomic_path(base / "images_png" / name) as tmp:
                    Image.fromarray(img, "RGB").save(tmp, format="PNG")
                if split == "test":
                    continue
                raw = (truth + 1).astype(np.uint8)
                if nodata_border:
                    raw[-nodata_border:] = 0
                (base / "masks_png").mkdir(parents=True, exist_ok=True)
                with atomic_path(base / "masks_png" / name) as tmp:
                    Image.fromarray(raw, "L").save(tmp, format="PNG")
    return root
