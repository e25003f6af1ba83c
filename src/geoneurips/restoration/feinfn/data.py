"""CAVE / Harvard multispectral-hyperspectral fusion ``.h5`` files: reader, synthetic
CAVE-like scenes and a fixture writer.

The MHIF benchmarks used by FeINFN (Liang et al., arXiv 2404.15174, Sec. 4.1) are distributed
by the PSRT / Efficient-MIF authors as HDF5 files named e.g. ``train_cave(with_up)x4.h5``,
``test_cave(with_up)x4.h5``, ``train_harvard(with_up)x8.h5``. Each holds four datasets,
layout ``(N, C, H, W)``, float reflectance in ``[0, 1]``:

==========  ===========================  ===============================================
key         shape (CAVE x4 training)     content
==========  ===========================  ===============================================
``GT``      ``(N, 31, 64, 64)``          reference HR-HSI (31 bands, 400-700 nm)
``LRHSI``   ``(N, 31, 16, 16)``          LR-HSI (blurred and decimated by ``ratio``)
``RGB``     ``(N, 3, 64, 64)``           HR-MSI (camera response applied to the HR-HSI)
``HSI_up``  ``(N, 31, 64, 64)``          bicubic upsampling of ``LRHSI``
==========  ===========================  ===============================================

The Efficient-MIF loader notes the RGB channel order "harvard [rgb], cave [bgr]";
:class:`HISRDataset` returns the channels as stored and records the order in
``rgb_order`` (used by :meth:`HISRDataset.plot`).

Synthetic data (:func:`synthetic_scene`, :func:`write_fixture`): smooth random spectra of a
few endmembers mixed with smooth + sharp-edged abundances, the HR-MSI from a 3 x 31
Gaussian camera response (peaks near 610, 540 and 450 nm, a stand-in for the Nikon D700
curves), the LR-HSI by Gaussian blur (``sigma=2``) and ``ratio x ratio`` block averaging,
and ``HSI_up`` by MATLAB-style bicubic upsampling (:func:`bicubic_upsample`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from ...errors import DataNotFoundError, InvalidInputError
from ...io import atomic_path
from ...metrics.resize import bicubic_upsample
from .._h5 import H5SampleFile, read_h5_shapes

__all__ = [
    "KEYS",
    "WAVELENGTHS",
    "HISRDataset",
    "bicubic_upsample",
    "camera_response",
    "degrade",
    "file_name",
    "synthetic_scene",
    "write_fixture",
]

#: HDF5 keys of the published layout, in the order they are read.
KEYS = ("GT", "LRHSI", "RGB", "HSI_up")
#: Centre wavelengths (nm) of the 31 CAVE / Harvard bands.
WAVELENGTHS = np.arange(400.0, 701.0, 10.0)
_URL = "https://github.com/294coder/Efficient-MIF (HISR data links) or the PSRT release"
_SAMPLE_KEYS = {"GT": "gt", "LRHSI": "lrhsi", "RGB": "rgb", "HSI_up": "hsi_up"}


def file_name(split: str, dataset: str = "cave", ratio: int = 4) -> str:
    """Published file name, e.g. ``train_cave(with_up)x4.h5``."""
    return f"{split}_{dataset}(with_up)x{ratio}.h5"


class HISRDataset(H5SampleFile, Dataset[dict[str, torch.Tensor]]):
    """A CAVE / Harvard MHIF ``.h5`` file (``GT``, ``LRHSI``, ``RGB``, ``HSI_up``).

    Args:
        root: a folder holding :func:`file_name` ``(split, dataset, ratio)``, or the
            ``.h5`` file itself.
        split: ``"train"``, ``"validation"`` or ``"test"`` (used to build the file name).
        dataset: ``"cave"`` or ``"harvard"``.
        ratio: the resolution ratio in the file name (4 or 8); checked against the shapes.
        rgb_order: channel order of ``RGB``; default ``"bgr"`` for CAVE and ``"rgb"`` for
            Harvard, as noted in the Efficient-MIF loader.
        transforms: optional callable applied to each sample dict.

    Each sample is a dict of float32 tensors ``gt`` (when the file has ``GT``), ``lrhsi``
    ``(C, h, w)``, ``rgb`` ``(3, H, W)``, ``hsi_up`` ``(C, H, W)`` and ``index``.

    Raises:
        DataNotFoundError: the file does not exist (says where to get it, where to put it).
        InvalidInputError: unreadable/truncated HDF5, missing keys, wrong ranks, sample
            counts or band counts that disagree, a size that is not ``ratio`` times the
            LR size, or NaN/inf in a sample.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        dataset: Literal["cave", "harvard"] = "cave",
        ratio: int = 4,
        rgb_order: Literal["rgb", "bgr"] | None = None,
        transforms: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
    ) -> None:
        root = Path(root)
        self.path = root if root.suffix == ".h5" else root / file_name(split, dataset, ratio)
        if not self.path.is_file():
            raise DataNotFoundError(
                f"{dataset.upper()} x{ratio} MHIF data", self.path.parent, [self.path.name],
                url=_URL, layout=f"{self.path.name} directly in {str(self.path.parent)!r}",
            )
        self.split = split
        self.dataset = dataset
        self.rgb_order = rgb_order or ("bgr" if dataset == "cave" else "rgb")
        self.transforms = transforms
        self.shapes, found = read_h5_shapes(self.path, KEYS, "an MHIF file")
        missing = [k for k in ("LRHSI", "RGB", "HSI_up") if k not in self.shapes]
        if missing:
            raise InvalidInputError(
                f"{str(self.path)!r} lacks the key(s) {missing} (found {found}); expected GT, "
                "LRHSI, RGB, HSI_up as (N, C, H, W)"
            )
        self._check_shapes(ratio)
        self._file: Any = None

    def _check_shapes(self, ratio: int) -> None:
        s, p = self.shapes, str(self.path)
        for k, shp in s.items():
            if len(shp) != 4:
                raise InvalidInputError(f"{p!r}: {k!r} must be (N, C, H, W), got shape {shp}")
        counts = {k: v[0] for k, v in s.items()}
        if len(set(counts.values())) != 1:
            raise InvalidInputError(f"{p!r}: the keys hold different sample counts {counts}")
        lr, rgb, up = s["LRHSI"], s["RGB"], s["HSI_up"]
        if rgb[1] != 3:
            raise InvalidInputError(f"{p!r}: 'RGB' must have 3 bands, got {rgb[1]}")
        if up[1:] != (lr[1],) + rgb[2:]:
            raise InvalidInputError(
                f"{p!r}: 'HSI_up' shape {up} must be (N, {lr[1]}, {rgb[2]}, {rgb[3]}) (the "
                "LR-HSI bands on the RGB grid)"
            )
        if "GT" in s and s["GT"] != up:
            raise InvalidInputError(f"{p!r}: 'GT' shape {s['GT']} differs from 'HSI_up' {up}")
        if rgb[2] != ratio * lr[2] or rgb[3] != ratio * lr[3]:
            raise InvalidInputError(
                f"{p!r}: the RGB size {rgb[2:]} is not ratio={ratio} times the LR-HSI size "
                f"{lr[2:]}"
            )
        self.ratio = ratio
        self.bands = lr[1]

    def __len__(self) -> int:
        return self.shapes["LRHSI"][0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        index, arrays = self._read_sample(index, KEYS)
        sample = {_SAMPLE_KEYS[k]: torch.from_numpy(arr) for k, arr in arrays.items()}
        sample["index"] = torch.tensor(index)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self,
        sample: dict[str, Any],
        show_titles: bool = True,
        suptitle: str | None = None,
        prediction_key: str = "prediction",
    ) -> Any:
        """Show the RGB, the upsampled LR-HSI, the reference and a prediction (HSI bands
        at 640/550/460 nm as a false-colour composite)."""
        from ...demo import new_figure

        names = [k for k in ("rgb", "hsi_up", "gt", prediction_key) if k in sample]
        fig, axes = new_figure(ncols=len(names), nrows=1, size=3.0)
        for ax, name in zip(axes[0], names, strict=True):
            ax.imshow(_display(sample[name], rgb_order=self.rgb_order))
            ax.set_axis_off()
            if show_titles:
                ax.set_title(name)
        if suptitle:
            fig.suptitle(suptitle)
        return fig


def _display(x: Any, rgb_order: str = "rgb") -> np.ndarray:
    """An (H, W, 3) float image in [0, 1] for display (2-98 % stretch)."""
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    arr = arr.astype(np.float64)
    if arr.shape[0] == 3:
        rgb = arr[::-1] if rgb_order == "bgr" else arr
    else:
        idx = [int(np.argmin(np.abs(np.linspace(400, 700, arr.shape[0]) - w)))
               for w in (640, 550, 460)]
        rgb = arr[idx]
    rgb = np.moveaxis(rgb, 0, -1)
    lo, hi = np.percentile(rgb, [2, 98])
    out: np.ndarray = np.clip((rgb - lo) / max(hi - lo, 1e-12), 0, 1)
    return out


def camera_response(bands: int = 31, width_nm: float = 35.0) -> np.ndarray:
    """A ``(3, bands)`` RGB spectral response over 400-700 nm, rows R, G, B summing to 1.

    Gaussian curves centred at 610, 540 and 450 nm (``width_nm`` standard deviation), a
    stand-in for the Nikon D700 response used to simulate the CAVE HR-MSI.
    """
    if bands < 3:
        raise InvalidInputError(f"camera_response needs at least 3 bands, got {bands}")
    wl = np.linspace(400.0, 700.0, bands)
    srf = np.stack([np.exp(-0.5 * ((wl - c) / width_nm) ** 2) for c in (610.0, 540.0, 450.0)])
    out: np.ndarray = srf / srf.sum(axis=1, keepdims=True)
    return out


def degrade(hsi: np.ndarray, ratio: int, sigma: float = 2.0) -> np.ndarray:
    """LR-HSI from an HR-HSI ``(C, H, W)``: Gaussian blur (``sigma`` HR pixels, mirrored
    borders) then ``ratio x ratio`` block averaging (so LR pixel centres coincide with the
    centres :func:`bicubic_upsample` assumes)."""
    from scipy.ndimage import gaussian_filter

    c, h, w = hsi.shape
    if h % ratio or w % ratio:
        raise InvalidInputError(f"HR size {(h, w)} is not a multiple of ratio={ratio}")
    blurred = gaussian_filter(hsi, sigma=(0, sigma, sigma), mode="mirror") if sigma > 0 else hsi
    out: np.ndarray = blurred.reshape(c, h // ratio, ratio, w // ratio, ratio).mean(axis=(2, 4))
    return out


def synthetic_scene(
    size: int,
    bands: int = 31,
    endmembers: int = 5,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """A CAVE-like HR-HSI ``(bands, size, size)`` with values in ``[0, 1]``.

    Endmember spectra are smooth random curves over 400-700 nm (a baseline plus 2-3
    Gaussian bumps); abundances are smooth random fields plus sharp-edged rectangles
    (objects), normalised to sum to one, then shaded by a smooth illumination field.
    """
    from scipy.ndimage import gaussian_filter

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    wl = np.linspace(400.0, 700.0, bands)
    spectra = np.empty((endmembers, bands))
    for k in range(endmembers):
        s = np.full(bands, rng.uniform(0.05, 0.3))
        for _ in range(int(rng.integers(2, 4))):
            s += rng.uniform(0.2, 0.7) * np.exp(
                -0.5 * ((wl - rng.uniform(380, 720)) / rng.uniform(25, 90)) ** 2)
        spectra[k] = s
    spectra /= spectra.max()
    abund = np.stack([gaussian_filter(rng.normal(size=(size, size)), sigma=size / 10,
                                      mode="wrap") for _ in range(endmembers)])
    abund /= abund.std()
    for _ in range(max(4, size // 6)):
        r0, c0 = rng.integers(0, size - 3, size=2)
        hh, ww = rng.integers(3, max(4, size // 4), size=2)
        abund[int(rng.integers(endmembers)), r0 : r0 + hh, c0 : c0 + ww] += 4.0
    abund = np.exp(1.5 * abund)
    abund /= abund.sum(axis=0, keepdims=True)
    light = gaussian_filter(rng.normal(size=(size, size)), sigma=size / 6, mode="wrap")
    light = 0.75 + 0.25 * np.tanh(light / light.std())
    hsi = np.einsum("kb,khw->bhw", spectra, abund) * light
    out: np.ndarray = np.clip(hsi / hsi.max() * 0.95, 0.0, 1.0)
    return out


def make_sample(
    hsi: np.ndarray, ratio: int = 4, sigma: float = 2.0, srf: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The four arrays of one published sample from an HR-HSI ``(C, H, W)`` (RGB in R, G, B
    order)."""
    r = camera_response(hsi.shape[0]) if srf is None else np.asarray(srf, dtype=np.float64)
    if r.shape != (3, hsi.shape[0]):
        raise InvalidInputError(f"srf must be (3, {hsi.shape[0]}), got {r.shape}")
    lr = degrade(hsi, ratio, sigma)
    return {"GT": hsi, "LRHSI": lr, "RGB": np.einsum("rb,bhw->rhw", r, hsi),
            "HSI_up": bicubic_upsample(lr, ratio)}


def write_fixture(
    root: str | Path,
    split: str = "train",
    dataset: Literal["cave", "harvard"] = "cave",
    n: int = 4,
    size: int = 64,
    ratio: int = 4,
    bands: int = 31,
    seed: int = 0,
    dtype: str = "float32",
) -> Path:
    """Write ``root / file_name(split, dataset, ratio)`` with ``n`` synthetic samples in the
    published layout (``GT``, ``LRHSI``, ``RGB``, ``HSI_up``; RGB stored BGR for CAVE).

    Returns:
        The path of the ``.h5`` file (written atomically).
    """
    import h5py

    if size % ratio or size < 2 * ratio:
        raise InvalidInputError(f"size must be a multiple of ratio={ratio}, got {size}")
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {k: [] for k in KEYS}
    for _ in range(n):
        sample = make_sample(synthetic_scene(size, bands, seed=rng), ratio)
        if dataset == "cave":
            sample["RGB"] = sample["RGB"][::-1]
        for k in KEYS:
            out[k].append(sample[k])
    path = Path(root) / file_name(split, dataset, ratio)
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as f:
        for k in KEYS:
            f.create_dataset(k, data=np.stack(out[k]).astype(dtype))
    return path
