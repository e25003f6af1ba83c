"""Change-detection benchmarks AnyChange is evaluated on, in their published layouts.

AnyChange is zero-shot: these readers serve evaluation only (Sec. 4 of the paper: LEVIR-CD,
S2Looking, xView2, SECOND, binary change).

* **LEVIR-CD** (Chen & Shi 2020, https://justchenhao.github.io/LEVIR/): ``<root>/<split>/A``
  (date 1), ``B`` (date 2) and ``label`` folders, ``split`` in ``train``/``val``/``test``;
  1024 x 1024 RGB PNGs with the same file name in the three folders (``train_1.png``...);
  labels are single-band PNGs, 0 = no change, 255 = change (building construction or
  demolition).
* **SECOND** (Yang et al. 2021, https://captain-whu.github.io/SCD/): ``<root>/<split>/im1``,
  ``im2``, ``label1``, ``label2``, ``split`` in ``train``/``test``; 512 x 512 RGB PNGs; labels
  are RGB colour maps of the land-cover class *from/to* in changed areas and white
  (255, 255, 255) where nothing changed. Classes (index: colour): 0 no change (255,255,255),
  1 water (0,0,255), 2 non-vegetated ground surface (128,128,128), 3 low vegetation
  (0,128,0), 4 tree (0,255,0), 5 building (128,0,0), 6 playground (255,0,0). Binary change
  (the paper's SECOND protocol) is ``label1 != no change``.

:func:`write_levircd_fixture` and :func:`write_second_fixture` write small synthetic
datasets in exactly these layouts (planted buildings/land-cover changes on textured
backgrounds, radiometric differences between the dates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from geoneurips.errors import DataNotFoundError, InvalidInputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "LEVIRCD",
    "SECOND",
    "SECOND_COLORS",
    "make_change_pair",
    "write_levircd_fixture",
    "write_second_fixture",
]

Transforms = Callable[[dict[str, Tensor]], dict[str, Tensor]]

SECOND_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 255, 255), (0, 0, 255), (128, 128, 128), (0, 128, 0), (0, 255, 0), (128, 0, 0),
    (255, 0, 0),
)
SECOND_CLASSES = (
    "no change", "water", "ground", "low vegetation", "tree", "building", "playground",
)


def _read_png(path: Path, mode: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode))
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidInputError(f"cannot read image {str(path)!r}: {exc}") from exc


def _write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    from geoneurips.io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def _plot_pair(sample: dict[str, Tensor], show_titles: bool, suptitle: str | None) -> Figure:
    from geoneurips.demo import new_figure

    panels = [("image1", "date 1"), ("image2", "date 2"), ("mask", "change")]
    if "prediction" in sample:
        panels.append(("prediction", "prediction"))
    fig, axes = new_figure(len(panels), 1, size=3.0)
    for ax, (key, title) in zip(axes[0], panels, strict=True):
        arr = sample[key].numpy()
        if arr.ndim == 3:
            ax.imshow(np.clip(arr.transpose(1, 2, 0) / 255.0, 0, 1))
        else:
            ax.imshow(arr, cmap="gray", vmin=0, vmax=1)
        ax.axis("off")
        if show_titles:
            ax.set_title(title)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


class LEVIRCD(torch.utils.data.Dataset[dict[str, Tensor]]):
    """LEVIR-CD in its published layout (``<root>/<split>/{A,B,label}/*.png``).

    Samples: ``image1``, ``image2`` float ``(3, H, W)`` in 0..255 (RGB), ``mask`` long
    ``(H, W)`` with 1 = change (label value 255) and 0 = no change.
    """

    url = "https://justchenhao.github.io/LEVIR/"
    splits = ("train", "val", "test")

    def __init__(
        self, root: str | Path, split: str = "test", transforms: Transforms | None = None
    ) -> None:
        if split not in self.splits:
            raise InvalidInputError(f"LEVIR-CD split must be one of {self.splits}, got {split!r}")
        self.root = Path(root)
        self.split = split
        self.transforms = transforms
        base = self.root / split
        missing = [f"{split}/{d}/" for d in ("A", "B", "label") if not (base / d).is_dir()]
        if missing:
            raise DataNotFoundError(
                "LEVIR-CD", self.root, missing, self.url,
                f"<root>/{split}/A/*.png, <root>/{split}/B/*.png, <root>/{split}/label/*.png",
            )
        self.names = sorted(p.name for p in (base / "A").glob("*.png"))
        if not self.names:
            raise DataNotFoundError("LEVIR-CD", self.root, [f"{split}/A/*.png"], self.url,
                                    f"<root>/{split}/A/*.png")
        lacking = [
            f"{split}/{d}/{n}" for n in self.names for d in ("B", "label")
            if not (base / d / n).is_file()
        ]
        if lacking:
            raise DataNotFoundError("LEVIR-CD", self.root, lacking, self.url,
                                    "the same file names in A/, B/ and label/")

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        base = self.root / self.split
        name = self.names[index]
        a = _read_png(base / "A" / name, "RGB")
        b = _read_png(base / "B" / name, "RGB")
        lab = _read_png(base / "label" / name, "L")
        if a.shape != b.shape or a.shape[:2] != lab.shape:
            raise InvalidInputError(
                f"LEVIR-CD sample {name!r}: A {a.shape}, B {b.shape}, label {lab.shape} differ"
            )
        bad = np.setdiff1d(np.unique(lab), [0, 255])
        if bad.size:
            raise InvalidInputError(
                f"LEVIR-CD label {name!r} has values {bad.tolist()[:5]}; expected 0 and 255"
            )
        sample = {
            "image1": torch.from_numpy(a.transpose(2, 0, 1).astype(np.float32)),
            "image2": torch.from_numpy(b.transpose(2, 0, 1).astype(np.float32)),
            "mask": torch.from_numpy((lab == 255).astype(np.int64)),
        }
        return self.transforms(sample) if self.transforms else sample

    def plot(
        self, sample: dict[str, Tensor], show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Both dates, the change mask and (if present) ``sample["prediction"]``."""
        return _plot_pair(sample, show_titles, suptitle)


def _rgb_to_class(label: np.ndarray, name: str) -> np.ndarray:
    out = np.full(label.shape[:2], -1, dtype=np.int64)
    for k, col in enumerate(SECOND_COLORS):
        out[np.all(label == np.asarray(col, dtype=np.uint8), axis=-1)] = k
    if (out < 0).any():
        bad = label[out < 0][0].tolist()
        raise InvalidInputError(f"SECOND label {name!r} has colour {bad} outside the palette")
    return out


class SECOND(torch.utils.data.Dataset[dict[str, Tensor]]):
    """SECOND in its published layout (``<root>/<split>/{im1,im2,label1,label2}/*.png``).

    Samples: ``image1``, ``image2`` float ``(3, H, W)`` in 0..255, ``mask`` long ``(H, W)``
    binary change (``label1`` not white), ``semantic1``/``semantic2`` long class indices
    (0 = no change, 1..6 as in :data:`SECOND_CLASSES`).
    """

    url = "https://captain-whu.github.io/SCD/"
    splits = ("train", "test")
    folders = ("im1", "im2", "label1", "label2")

    def __init__(
        self, root: str | Path, split: str = "train", transforms: Transforms | None = None
    ) -> None:
        if split not in self.splits:
            raise InvalidInputError(f"SECOND split must be one of {self.splits}, got {split!r}")
        self.root = Path(root)
        self.split = split
        self.transforms = transforms
        base = self.root / split
        missing = [f"{split}/{d}/" for d in self.folders if not (base / d).is_dir()]
        if missing:
            raise DataNotFoundError(
                "SECOND", self.root, missing, self.url,
                f"<root>/{split}/im1, im2, label1, label2 with *.png files",
            )
        self.names = sorted(p.name for p in (base / "im1").glob("*.png"))
        if not self.names:
            raise DataNotFoundError("SECOND", self.root, [f"{split}/im1/*.png"], self.url,
                                    f"<root>/{split}/im1/*.png")
        lacking = [f"{split}/{d}/{n}" for n in self.names for d in self.folders[1:]
                   if not (base / d / n).is_file()]
        if lacking:
            raise DataNotFoundError("SECOND", self.root, lacking, self.url,
                                    "the same file names in im1/, im2/, label1/, label2/")

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        base = self.root / self.split
        name = self.names[index]
        a = _read_png(base / "im1" / name, "RGB")
        b = _read_png(base / "im2" / name, "RGB")
        s1 = _rgb_to_class(_read_png(base / "label1" / name, "RGB"), name)
        s2 = _rgb_to_class(_read_png(base / "label2" / name, "RGB"), name)
        if a.shape != b.shape or s1.shape != a.shape[:2] or s2.shape != s1.shape:
            raise InvalidInputError(f"SECOND sample {name!r}: image and label shapes differ")
        if not np.array_equal(s1 == 0, s2 == 0):
            raise InvalidInputError(
                f"SECOND sample {name!r}: label1 and label2 disagree on the no-change area"
            )
        sample = {
            "image1": torch.from_numpy(a.transpose(2, 0, 1).astype(np.float32)),
            "image2": torch.from_numpy(b.transpose(2, 0, 1).astype(np.float32)),
            "mask": torch.from_numpy((s1 != 0).astype(np.int64)),
            "semantic1": torch.from_numpy(s1),
            "semantic2": torch.from_numpy(s2),
        }
        return self.transforms(sample) if self.transforms else sample

    def plot(
        self, sample: dict[str, Tensor], show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Both dates, the binary change mask and (if present) ``sample["prediction"]``."""
        return _plot_pair(sample, show_titles, suptitle)


# --------------------------------------------------------------------------- synthetic data


def _smooth_field(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    from scipy import ndimage

    f = ndimage.gaussian_filter(rng.normal(size=(size, size)), sigma)
    out: np.ndarray = (f - f.mean()) / (f.std() + 1e-9)
    return out


def make_change_pair(
    size: int = 128, n_changes: int = 4, n_static: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """A synthetic bi-temporal pair with planted changes.

    A textured background (smooth fields plus fine noise, a few land-cover patches) seen on
    two dates with a global gain/offset and fresh noise; ``n_changes`` rectangular
    "buildings" are built (appear on date 2) or demolished (present only on date 1), and
    ``n_static`` buildings stand on both dates (distractors).

    Returns:
        ``image1``, ``image2`` uint8 ``(H, W, 3)``, binary change ``(H, W)`` uint8, and the
        list of changed-object masks (instances).
    """
    rng = np.random.default_rng(seed)
    base = np.stack([_smooth_field(rng, size, s) for s in (6.0, 9.0, 12.0)], -1)
    img = 110.0 + 18.0 * base
    # land-cover patches
    for _ in range(3):
        r, c = rng.integers(0, size, 2)
        rad = int(rng.integers(size // 8, size // 4))
        yy, xx = np.ogrid[:size, :size]
        disk = (yy - r) ** 2 + (xx - c) ** 2 < rad**2
        img[disk] += rng.normal(0, 20, 3)
    occupied = np.zeros((size, size), bool)

    def place() -> tuple[slice, slice] | None:
        for _ in range(50):
            h, w = rng.integers(max(6, size // 12), max(8, size // 5), 2)
            r, c = rng.integers(2, size - h - 2), rng.integers(2, size - w - 2)
            win = (slice(r - 2, r + h + 2), slice(c - 2, c + w + 2))
            if not occupied[win].any():
                occupied[win] = True
                return slice(r, r + h), slice(c, c + w)
        return None

    img1, img2 = img.copy(), img.copy()
    change = np.zeros((size, size), np.uint8)
    instances: list[np.ndarray] = []
    for k in range(n_changes + n_static):
        win = place()
        if win is None:
            continue
        roof = rng.uniform(30, 230, 3)
        if k >= n_changes:  # stands on both dates
            img1[win] = roof
            img2[win] = roof
            continue
        if rng.random() < 0.5:
            img2[win] = roof  # construction
        else:
            img1[win] = roof  # demolition
        change[win] = 1
        inst = np.zeros((size, size), bool)
        inst[win] = True
        instances.append(inst)
    gain, offset = rng.uniform(0.85, 1.15), rng.uniform(-12, 12)
    img1 = img1 + rng.normal(0, 3.0, img1.shape)
    img2 = gain * img2 + offset + rng.normal(0, 3.0, img2.shape)

    def to8(x: np.ndarray) -> np.ndarray:
        return np.clip(np.round(x), 0, 255).astype(np.uint8)

    return to8(img1), to8(img2), change, instances


def write_levircd_fixture(
    root: str | Path,
    n_per_split: Sequence[int] = (2, 1, 3),
    size: int = 128,
    seed: int = 0,
) -> Path:
    """Write a synthetic LEVIR-CD (``train``/``val``/``test`` counts) in the published layout."""
    root = Path(root)
    k = 0
    for split, n in zip(LEVIRCD.splits, n_per_split, strict=True):
        for i in range(n):
            a, b, ch, _ = make_change_pair(size, seed=seed * 1000 + k)
            k += 1
            name = f"{split}_{i + 1}.png"
            _write_png(root / split / "A" / name, a)
            _write_png(root / split / "B" / name, b)
            _write_png(root / split / "label" / name, (ch * 255).astype(np.uint8))
    return root


def write_second_fixture(
    root: str | Path, n_per_split: Sequence[int] = (2, 2), size: int = 96, seed: int = 0
) -> Path:
    """Write a synthetic SECOND (``train``/``test`` counts) in the published layout."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    k = 0
    for split, n in zip(SECOND.splits, n_per_split, strict=True):
        for i in range(n):
            a, b, ch, inst = make_change_pair(size, seed=seed * 1000 + 500 + k)
            k += 1
            s1 = np.zeros(ch.shape, np.int64)
            s2 = np.zeros(ch.shape, np.int64)
            for m in inst:
                c1, c2 = rng.choice(np.arange(1, 7), 2, replace=False)
                s1[m], s2[m] = c1, c2
            pal = np.asarray(SECOND_COLORS, dtype=np.uint8)
            name = f"{i:05d}.png"
            _write_png(root / split / "im1" / name, a)
            _write_png(root / split / "im2" / name, b)
            _write_png(root / split / "label1" / name, pal[s1])
            _write_png(root / split / "label2" / name, pal[s2])
    return root


def sample_to_images(sample: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(H, W, 3)`` uint8 images of a sample's ``image1``/``image2``."""
    def conv(t: Tensor) -> np.ndarray:
        out: np.ndarray = np.clip(t.numpy().transpose(1, 2, 0), 0, 255).astype(np.uint8)
        return out

    return conv(sample["image1"]), conv(sample["image2"])
