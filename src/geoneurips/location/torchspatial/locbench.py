"""Shared base of the LocBench readers of TorchSpatial (Wu et al., arXiv 2406.15658).

In-memory storage, ``__getitem__`` and ``plot`` common to every LocBench dataset
(:class:`LocBenchClassification` for the classification tasks), plus the small helpers the
readers of :mod:`.readers_json` and :mod:`.readers_csv` share (missing-file errors, sparse
prediction files). The published layouts are described in :mod:`.data`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor
from torch.utils.data import Dataset

from geoneurips.errors import DataNotFoundError, InvalidInputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FIGSHARE_URL", "LocBenchClassification", "Transform"]

#: Where LocBench is published (one tar per dataset).
FIGSHARE_URL = "https://doi.org/10.6084/m9.figshare.26026798"

Transform = Callable[[dict[str, Tensor]], dict[str, Tensor]]


def _require(name: str, root: Path, paths: Sequence[Path], layout: str) -> None:
    missing = [str(p.relative_to(root)) for p in paths if not p.is_file()]
    if missing:
        raise DataNotFoundError(name, root, missing, url=FIGSHARE_URL, layout=layout)


def _load_sparse(path: Path) -> npt.NDArray[np.float32]:
    from scipy import sparse

    return np.asarray(sparse.load_npz(path).todense(), dtype=np.float32)


def _nan_if_none(v: Any) -> float:
    return float("nan") if v is None else float(v)


class _LocBenchBase(Dataset[dict[str, Tensor]]):
    """Shared storage, ``__getitem__`` and ``plot`` of the LocBench datasets."""

    name = "LocBench"
    lonlat: npt.NDArray[np.float32]
    image_probs: npt.NDArray[np.float32] | None
    image_features: npt.NDArray[np.float32] | None
    transforms: Transform | None

    def __len__(self) -> int:
        return int(self.lonlat.shape[0])

    def _extra(self, index: int) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {"lonlat": torch.from_numpy(self.lonlat[index].copy())}
        if self.image_probs is not None:
            out["image_probs"] = torch.from_numpy(self.image_probs[index].copy())
        if self.image_features is not None:
            out["image_features"] = torch.from_numpy(self.image_features[index].copy())
        return out

    def _check_rows(self, what: str, arr: npt.NDArray[Any] | None) -> None:
        if arr is not None and arr.shape[0] != self.lonlat.shape[0]:
            raise InvalidInputError(
                f"{self.name}: {what} has {arr.shape[0]} rows but the annotations have "
                f"{self.lonlat.shape[0]} entries"
            )

    def _colour_values(self) -> tuple[npt.NDArray[Any], str]:
        raise NotImplementedError

    def plot(
        self,
        sample: Mapping[str, Tensor] | None = None,
        show_titles: bool = True,
        suptitle: str | None = None,
    ) -> Figure:
        """Map of every location (lon/lat degrees) coloured by class (or target value).

        Args:
            sample: a sample from ``__getitem__``; when given it is marked with a star.
            show_titles: title the axes.
            suptitle: optional figure title.
        """
        from geoneurips.demo import new_figure

        fig, axes = new_figure(1, 1, size=5.0)
        ax = axes[0, 0]
        colour, label = self._colour_values()
        ok = np.isfinite(self.lonlat).all(axis=1)
        sc = ax.scatter(
            self.lonlat[ok, 0], self.lonlat[ok, 1], c=colour[ok], s=6, cmap="tab20"
            if label == "class" else "viridis",
        )
        if label != "class":
            fig.colorbar(sc, ax=ax, label=label)
        if sample is not None:
            lon, lat = (float(v) for v in sample["lonlat"])
            ax.scatter([lon], [lat], marker="*", s=200, c="red", edgecolors="black")
        ax.set_xlim(-180, 180)
        ax.set_ylim(-90, 90)
        ax.set_xlabel("longitude (°)")
        ax.set_ylabel("latitude (°)")
        if show_titles:
            title = f"{self.name}: {len(self)} locations by {label}"
            if sample is not None:
                key = "label" if "label" in sample else "target"
                title += f"\nsample {key} = {float(sample[key]):g}"
            ax.set_title(title)
        if suptitle:
            fig.suptitle(suptitle)
        return fig


class LocBenchClassification(_LocBenchBase):
    """A LocBench classification split held in memory (base of the concrete readers).

    Attributes:
        lonlat: ``(N, 2)`` float32, longitude first, degrees (NaN where missing).
        labels: ``(N,)`` int64 class ids.
        users: ``(N,)`` int64 user ids (-1 unknown).
        dates: ``(N,)`` float32 dates (0 where the dataset has none).
        image_probs: ``(N, C)`` float32 classifier probabilities or ``None``.
        image_features: ``(N, D)`` float32 classifier features or ``None``.
        classes: class names, index = class id.
    """

    labels: npt.NDArray[np.int64]
    users: npt.NDArray[np.int64]
    dates: npt.NDArray[np.float32]
    classes: list[str]

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Sample ``index``: ``lonlat``, ``label`` and the loaded image outputs."""
        out = self._extra(index)
        out["label"] = torch.tensor(int(self.labels[index]), dtype=torch.long)
        return self.transforms(out) if self.transforms is not None else out

    def _colour_values(self) -> tuple[npt.NDArray[Any], str]:
        return self.labels, "class"

    def _finish(self) -> None:
        self._check_rows("image predictions", self.image_probs)
        self._check_rows("image features", self.image_features)
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= self.num_classes):
            raise InvalidInputError(
                f"{self.name}: class ids must be in [0, {self.num_classes}), got "
                f"[{self.labels.min()}, {self.labels.max()}]"
            )
        if self.image_probs is not None and self.image_probs.shape[1] != self.num_classes:
            raise InvalidInputError(
                f"{self.name}: predictions have {self.image_probs.shape[1]} columns for "
                f"{self.num_classes} classes"
            )


def _want(flag: bool | None, split: str) -> bool:
    """Predictions are published for the evaluation splits only: auto = not train."""
    return split != "train" if flag is None else flag


def _require_split(
    name: str,
    root: Path,
    split: str,
    files: Sequence[Path],
    layout: str,
    preds: tuple[bool | None, Path],
    features: tuple[bool, Path],
) -> None:
    """:func:`_require` ``files``, then the predictions and features of ``split`` where they
    will be loaded: ``preds = (load_preds, path)`` (auto by :func:`_want`), ``features =
    (load_features, path)``."""
    need = list(files)
    if _want(preds[0], split):
        need.append(preds[1])
    if features[0]:
        need.append(features[1])
    _require(name, root, need, layout)

