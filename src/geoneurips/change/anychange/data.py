"""The four change-detection benchmarks AnyChange is evaluated on, in their published layouts.

AnyChange is zero-shot: these readers serve evaluation only (Sec. 4 of the paper: binary
change on LEVIR-CD, S2Looking, xView2 and SECOND). Every sample holds ``image1``,
``image2`` float ``(3, H, W)`` in 0..255 (RGB, date 1 and date 2) and ``mask`` long
``(H, W)`` binary change (1 = change), plus dataset-specific extras.

* **LEVIR-CD** (Chen & Shi 2020, https://justchenhao.github.io/LEVIR/): 1024 x 1024 RGB PNG
  pairs, single-band labels 0 = no change, 255 = change (building construction or
  demolition). Two layouts are read:

  - the official archives (``train.zip``, ``val.zip``, ``test.zip``) extracted into one
    folder: ``<root>/A``, ``<root>/B``, ``<root>/label`` with split-prefixed names
    (``train_1.png``, ``val_3.png``...); the split is chosen by the prefix. This is also
    what TorchGeo's :class:`torchgeo.datasets.LEVIRCD` reads (it globs
    ``<root>/A/<split>*.png`` and checks that ``A``, ``B``, ``label`` exist);
  - one folder per split: ``<root>/<split>/{A,B,label}/*.png`` (each archive extracted
    into its own folder).

  Any non-zero label value counts as change (TorchGeo clamps the label to [0, 1] the same
  way; the real labels hold only 0 and 255).
* **S2Looking** (Shen et al. 2021, https://github.com/S2Looking/Dataset): 1024 x 1024 RGB
  PNG pairs of side-looking satellite images, ``<root>/<split>/{Image1,Image2,label,
  label1,label2}/*.png`` for ``train``/``val``/``test`` (``<root>`` may also be the folder
  holding ``S2Looking/``); ``label`` marks all building changes, ``label1`` newly built and
  ``label2`` demolished buildings (any non-zero value in any band = change). ``label1`` /
  ``label2`` are optional; when present the sample also holds ``built`` and
  ``demolished``.
* **xView2 / xBD** (Gupta et al. 2019, https://xview2.org/dataset): 1024 x 1024 RGB PNG
  pairs ``<root>/<split>/images/<disaster>_<id>_{pre,post}_disaster.png`` with targets
  ``<root>/<split>/targets/<...>_{pre,post}_disaster_target.png``; pre targets are the
  building footprints (0/1), post targets the damage classes 0 background, 1 no damage,
  2 minor, 3 major damage, 4 destroyed. Splits ``train``, ``test``, ``hold``, ``tier3``.
  Binary change: a building damaged on the post image, ``post >= 2`` (an undamaged
  building is not a change). The paper's exact binarisation of xView2 could not be
  retrieved (the public code returns both targets and leaves it to the evaluation); this
  rule is the one that agrees with TorchGeo, and ``damage``/``buildings`` make any other
  one a line of code. TorchGeo's :class:`torchgeo.datasets.
  XView2` gives ``clamp(post - pre, 0, 4)``, whose non-zero pixels are exactly these when
  the pre target is the 0/1 footprint under the post target (as in the real data); TorchGeo
  needs both ``train/`` and ``test/`` to exist. Samples also hold ``damage`` (post target)
  and ``buildings`` (pre target > 0).
* **SECOND** (Yang et al. 2021, https://captain-whu.github.io/SCD/): 512 x 512 RGB PNG
  pairs ``<root>/<split>/{im1,im2,label1,label2}/*.png`` (``train``/``test``; a folder
  holding ``im1`` directly, like the released ``SECOND_train_set``, is read as it is);
  labels are RGB colour maps of the land-cover class *from* (``label1``) and *to*
  (``label2``) in changed areas, white where nothing changed: 0 no change (255,255,255),
  1 water (0,0,255), 2 non-vegetated ground surface (128,128,128), 3 low vegetation
  (0,128,0), 4 tree (0,255,0), 5 building (128,0,0), 6 playground (255,0,0). Single-band
  labels holding the indices 0..6 directly (the ``label*_wo_cm`` conversion of the public
  code) are read too. Binary change (the paper's SECOND protocol) is ``label1 != no change``.

The fixture writers (:mod:`.synthetic`, re-exported here) write synthetic scenes in exactly
these layouts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from geoneurips.errors import DataNotFoundError, InvalidInputError

from ._files import (
    LEVIRCD_SPLITS,
    S2LOOKING_SPLITS,
    SECOND_CLASSES,
    SECOND_COLORS,
    SECOND_SPLITS,
    XVIEW2_CLASSES,
    XVIEW2_SPLITS,
    read_png,
)
from .synthetic import (
    make_change_pair,
    write_levircd_fixture,
    write_s2looking_fixture,
    write_second_fixture,
    write_xview2_fixture,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "LEVIRCD",
    "SECOND",
    "SECOND_CLASSES",
    "SECOND_COLORS",
    "XVIEW2_CLASSES",
    "S2Looking",
    "XView2",
    "make_change_pair",
    "sample_to_images",
    "write_levircd_fixture",
    "write_s2looking_fixture",
    "write_second_fixture",
    "write_xview2_fixture",
]

Transforms = Callable[[dict[str, Tensor]], dict[str, Tensor]]


def _chw(a: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)).astype(np.float32))


def _check_split(name: str, split: str, splits: tuple[str, ...]) -> None:
    if split not in splits:
        raise InvalidInputError(f"{name} split must be one of {splits}, got {split!r}")


class _ChangePairs(torch.utils.data.Dataset[dict[str, Tensor]]):
    """Common part of the readers: file tuples, length, transforms, plotting."""

    name = ""
    url = ""
    files: list[dict[str, Path]]
    transforms: Transforms | None

    def __len__(self) -> int:
        return len(self.files)

    def _finish(self, sample: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.transforms(sample) if self.transforms else sample

    def _images(self, files: dict[str, Path]) -> tuple[np.ndarray, np.ndarray]:
        a = read_png(files["image1"], "RGB")
        b = read_png(files["image2"], "RGB")
        if a.shape != b.shape:
            raise InvalidInputError(
                f"{self.name} pair {files['image1'].name!r}: date 1 {a.shape} and date 2 "
                f"{b.shape} differ"
            )
        return a, b

    def _check_shape(self, files: dict[str, Path], shape: tuple[int, ...],
                     label: np.ndarray) -> None:
        if label.shape[:2] != shape[:2]:
            raise InvalidInputError(
                f"{self.name} sample {files['image1'].name!r}: label {label.shape[:2]} and "
                f"image {shape[:2]} differ"
            )

    def plot(
        self, sample: dict[str, Tensor], show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Both dates, the change mask and (if present) ``sample["prediction"]``."""
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
                ax.imshow(arr, cmap="gray", vmin=0, vmax=1, interpolation="none")
            ax.axis("off")
            if show_titles:
                ax.set_title(title)
        if suptitle:
            fig.suptitle(suptitle)
        return fig

    def _pair_names(self, folder: Path, pattern: str, layout: str, root: Path) -> list[str]:
        names = sorted(p.name for p in folder.glob(pattern))
        if not names:
            raise DataNotFoundError(self.name, root, [str(folder / pattern)], self.url, layout)
        return names

    def _require(self, root: Path, paths: list[Path], layout: str) -> None:
        lacking = [str(p.relative_to(root)) for p in paths if not p.is_file()]
        if lacking:
            raise DataNotFoundError(self.name, root, lacking, self.url, layout)


class LEVIRCD(_ChangePairs):
    """LEVIR-CD in either published layout (see the module docstring).

    Samples: ``image1``, ``image2`` float ``(3, H, W)``, ``mask`` long ``(H, W)`` (1 =
    change). Pairs are matched by file name and sorted by name (TorchGeo's order).
    """

    name = "LEVIR-CD"
    url = "https://justchenhao.github.io/LEVIR/"
    splits = LEVIRCD_SPLITS
    layout = ("<root>/{A,B,label}/<split>_*.png (official zips extracted together) or "
              "<root>/<split>/{A,B,label}/*.png")

    def __init__(
        self, root: str | Path, split: str = "test", transforms: Transforms | None = None
    ) -> None:
        _check_split(self.name, split, self.splits)
        self.root = Path(root)
        self.split = split
        self.transforms = transforms
        dirs = ("A", "B", "label")
        if all((self.root / split / d).is_dir() for d in dirs):
            base, pattern = self.root / split, "*.png"
        elif all((self.root / d).is_dir() for d in dirs):
            base, pattern = self.root, f"{split}_*.png"
        else:
            raise DataNotFoundError(
                self.name, self.root, [f"A/, B/, label/ (or {split}/A/, {split}/B/, {split}/label/)"],
                self.url, self.layout,
            )
        names = self._pair_names(base / "A", pattern, self.layout, self.root)
        self.files = [{"image1": base / "A" / n, "image2": base / "B" / n,
                       "label": base / "label" / n} for n in names]
        self._require(self.root, [f[k] for f in self.files for k in ("image2", "label")],
                      "the same file names in A/, B/ and label/")

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        f = self.files[index]
        a, b = self._images(f)
        lab = read_png(f["label"], "L")
        self._check_shape(f, a.shape, lab)
        return self._finish({"image1": _chw(a), "image2": _chw(b),
                             "mask": torch.from_numpy((lab > 0).astype(np.int64))})


class S2Looking(_ChangePairs):
    """S2Looking (``<root>/<split>/{Image1,Image2,label[,label1,label2]}/*.png``).

    Samples: ``image1``, ``image2``, ``mask`` (all building changes) and, when the folders
    exist, ``built`` (``label1``) and ``demolished`` (``label2``), long ``(H, W)``.
    """

    name = "S2Looking"
    url = "https://github.com/S2Looking/Dataset"
    splits = S2LOOKING_SPLITS
    layout = "<root>/<split>/Image1, Image2, label (and label1, label2) with *.png files"

    def __init__(
        self, root: str | Path, split: str = "test", transforms: Transforms | None = None
    ) -> None:
        _check_split(self.name, split, self.splits)
        self.root = Path(root)
        if not (self.root / split).is_dir() and (self.root / "S2Looking" / split).is_dir():
            self.root = self.root / "S2Looking"
        self.split = split
        self.transforms = transforms
        base = self.root / split
        missing = [f"{split}/{d}/" for d in ("Image1", "Image2", "label")
                   if not (base / d).is_dir()]
        if missing:
            raise DataNotFoundError(self.name, self.root, missing, self.url, self.layout)
        names = self._pair_names(base / "Image1", "*.png", self.layout, self.root)
        self.extras = [(k, d) for k, d in (("built", "label1"), ("demolished", "label2"))
                       if (base / d).is_dir()]
        self.files = [{"image1": base / "Image1" / n, "image2": base / "Image2" / n,
                       "label": base / "label" / n, **{k: base / d / n for k, d in self.extras}}
                      for n in names]
        self._require(self.root, [p for f in self.files for k, p in f.items() if k != "image1"],
                      "the same file names in Image1/, Image2/, label/ (label1/, label2/)")

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        f = self.files[index]
        a, b = self._images(f)
        out = {"image1": _chw(a), "image2": _chw(b)}
        for key, lk in (("mask", "label"), *((k, k) for k, _ in self.extras)):
            lab = read_png(f[lk], "RGB")
            self._check_shape(f, a.shape, lab)
            out[key] = torch.from_numpy((lab > 0).any(-1).astype(np.int64))
        return self._finish(out)


class XView2(_ChangePairs):
    """xView2 / xBD (``<root>/<split>/{images,targets}``; see the module docstring).

    Samples: ``image1`` (pre), ``image2`` (post), ``mask`` long ``(H, W)`` = post damage
    ``>= 2`` (minor, major, destroyed), ``damage`` long (post target 0..4) and ``buildings``
    long (pre target > 0). Target values above 4 (un-classified, 5 or 255) are neither
    change nor damage.
    """

    name = "xView2"
    url = "https://xview2.org/dataset"
    splits = XVIEW2_SPLITS
    classes = XVIEW2_CLASSES
    layout = ("<root>/<split>/images/<name>_{pre,post}_disaster.png and "
              "<root>/<split>/targets/<name>_{pre,post}_disaster_target.png")

    def __init__(
        self, root: str | Path, split: str = "test", transforms: Transforms | None = None
    ) -> None:
        _check_split(self.name, split, self.splits)
        self.root = Path(root)
        self.split = split
        self.transforms = transforms
        base = self.root / split
        missing = [f"{split}/{d}/" for d in ("images", "targets") if not (base / d).is_dir()]
        if missing:
            raise DataNotFoundError(self.name, self.root, missing, self.url, self.layout)
        suffix = "_pre_disaster.png"
        pres = self._pair_names(base / "images", f"*{suffix}", self.layout, self.root)
        stems = [n[: -len(suffix)] for n in pres]
        self.files = [{
            "image1": base / "images" / f"{s}_pre_disaster.png",
            "image2": base / "images" / f"{s}_post_disaster.png",
            "target1": base / "targets" / f"{s}_pre_disaster_target.png",
            "target2": base / "targets" / f"{s}_post_disaster_target.png",
        } for s in stems]
        self._require(self.root, [p for f in self.files for k, p in f.items() if k != "image1"],
                      "for every <name>_pre_disaster.png: the post image and both targets")

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        f = self.files[index]
        a, b = self._images(f)
        pre = read_png(f["target1"], "L").astype(np.int64)
        post = read_png(f["target2"], "L").astype(np.int64)
        self._check_shape(f, a.shape, pre)
        self._check_shape(f, a.shape, post)
        damage = np.where(post <= 4, post, 0)
        return self._finish({
            "image1": _chw(a), "image2": _chw(b),
            "mask": torch.from_numpy((damage >= 2).astype(np.int64)),
            "damage": torch.from_numpy(damage),
            "buildings": torch.from_numpy(((pre > 0) & (pre <= 4)).astype(np.int64)),
        })


def _label_classes(path: Path, name: str) -> np.ndarray:
    """SECOND label: RGB colour map (published) or single-band indices 0..6."""
    from PIL import Image

    with Image.open(path) as im:
        single = im.mode in ("L", "I", "I;16")
    if single:
        idx = read_png(path, "L").astype(np.int64)
        if idx.max(initial=0) > 6:
            raise InvalidInputError(
                f"SECOND label {name!r} is single-band with value {int(idx.max())}; expected "
                "class indices 0..6 or an RGB colour map"
            )
        return idx
    label = read_png(path, "RGB")
    out = np.full(label.shape[:2], -1, dtype=np.int64)
    for k, col in enumerate(SECOND_COLORS):
        out[np.all(label == np.asarray(col, dtype=np.uint8), axis=-1)] = k
    if (out < 0).any():
        bad = label[out < 0][0].tolist()
        raise InvalidInputError(f"SECOND label {name!r} has colour {bad} outside the palette")
    return out


class SECOND(_ChangePairs):
    """SECOND (``<root>/<split>/{im1,im2,label1,label2}/*.png``).

    Samples: ``image1``, ``image2``, ``mask`` long ``(H, W)`` binary change (``label1`` not
    white), ``semantic1``/``semantic2`` long class indices (0 = no change, 1..6 as in
    :data:`SECOND_CLASSES`).
    """

    name = "SECOND"
    url = "https://captain-whu.github.io/SCD/"
    splits = SECOND_SPLITS
    folders = ("im1", "im2", "label1", "label2")
    layout = "<root>/<split>/im1, im2, label1, label2 with *.png files"

    def __init__(
        self, root: str | Path, split: str = "train", transforms: Transforms | None = None
    ) -> None:
        _check_split(self.name, split, self.splits)
        self.root = Path(root)
        self.split = split
        self.transforms = transforms
        base = self.root / split
        if not (base / "im1").is_dir() and (self.root / "im1").is_dir():
            base = self.root
        missing = [f"{split}/{d}/" for d in self.folders if not (base / d).is_dir()]
        if missing:
            raise DataNotFoundError(self.name, self.root, missing, self.url, self.layout)
        names = self._pair_names(base / "im1", "*.png", self.layout, self.root)
        self.names = names
        self.files = [{"image1": base / "im1" / n, "image2": base / "im2" / n,
                       "label1": base / "label1" / n, "label2": base / "label2" / n}
                      for n in names]
        self._require(self.root, [p for f in self.files for k, p in f.items() if k != "image1"],
                      "the same file names in im1/, im2/, label1/, label2/")

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        f = self.files[index]
        a, b = self._images(f)
        name = f["image1"].name
        s1 = _label_classes(f["label1"], name)
        s2 = _label_classes(f["label2"], name)
        self._check_shape(f, a.shape, s1)
        self._check_shape(f, a.shape, s2)
        if not np.array_equal(s1 == 0, s2 == 0):
            raise InvalidInputError(
                f"SECOND sample {name!r}: label1 and label2 disagree on the no-change area"
            )
        return self._finish({
            "image1": _chw(a), "image2": _chw(b),
            "mask": torch.from_numpy((s1 != 0).astype(np.int64)),
            "semantic1": torch.from_numpy(s1), "semantic2": torch.from_numpy(s2),
        })


def sample_to_images(sample: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(H, W, 3)`` uint8 images of a sample's ``image1``/``image2``."""
    def conv(t: Tensor) -> np.ndarray:
        out: np.ndarray = np.clip(t.numpy().transpose(1, 2, 0), 0, 255).astype(np.uint8)
        return out

    return conv(sample["image1"]), conv(sample["image2"])
