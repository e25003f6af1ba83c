"""PanCollection ``.h5`` files: reader, synthetic scenes and a fixture writer.

PanCollection (Deng et al., https://github.com/liangjiandeng/PanCollection) distributes
pansharpening data as HDF5 files with four datasets, layout ``(N, C, H, W)``, values in
digital numbers (DN; WorldView-2/3 and QuickBird 11-bit, max 2047; GaoFen-2 10-bit, max 1023),
usually stored as float64:

=========  ===============================  ==========================================
key        reduced resolution (Wald)        full resolution (``*_OrigScale_*``)
=========  ===============================  ==========================================
``gt``     ``(N, C, H, W)`` reference MS     absent
``ms``     ``(N, C, H/4, W/4)``              ``(N, C, H/4, W/4)`` original MS
``lms``    ``(N, C, H, W)`` interp23(ms)     ``(N, C, H, W)`` interp23(ms)
``pan``    ``(N, 1, H, W)``                  ``(N, 1, H, W)`` original PAN
=========  ===============================  ==========================================

e.g. training patches ``train_wv3.h5`` (gt 64x64, ms 16x16), reduced-resolution tests
``test_wv3_multiExm1.h5`` (20 images, gt 256x256) and full-resolution tests
``test_wv3_OrigScale_multiExm1.h5`` (ms 128x128, pan 512x512).

SSDiff (and PanCollection loaders) divide every array by ``max_value`` (``img_range``:
2047, or 1023 for GF2); :class:`PanCollection` does the same unless ``max_value=None``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ...errors import DataNotFoundError, InvalidInputError
from ...io import atomic_path
from ...metrics.mtf import (
    interp23,
    make_reduced_resolution,
    mtf_filter,
    mtf_kernel,
    sensor_max_value,
)
from .._h5 import H5SampleFile, read_h5_shapes

__all__ = [
    "KEYS",
    "MATERIAL_SPECTRA",
    "PanCollection",
    "display_image",
    "material_spectra",
    "rgb_bands",
    "synthetic_scene",
    "write_fixture",
]

#: PanCollection dataset keys, in the order they are returned.
KEYS = ("gt", "ms", "lms", "pan")
_URL = "https://github.com/liangjiandeng/PanCollection"


def rgb_bands(bands: int) -> tuple[int, int, int]:
    """0-based (R, G, B) band indices: 8-band WorldView (5, 3, 2 in the toolbox's 1-based
    ``RGB_indexes``) and 4-band B, G, R, NIR products (3, 2, 1)."""
    if bands >= 8:
        return (4, 2, 1)
    if bands >= 3:
        return (2, 1, 0)
    return (0, 0, 0)


class PanCollection(H5SampleFile, Dataset[dict[str, torch.Tensor]]):
    """A PanCollection ``.h5`` file (reduced- or full-resolution), one sample per image.

    Args:
        path: the ``.h5`` file.
        max_value: divide every array by this (2047 for 11-bit sensors, 1023 for GF2);
            ``None`` keeps digital numbers. When ``sensor`` is given and ``max_value`` is
            left at ``"auto"``, the sensor's value is used; ``"auto"`` without sensor is 2047.
        sensor: optional sensor name (``"WV3"``, ``"QB"``, ``"GF2"``, ...), kept as metadata
            for the metrics.
        transforms: optional callable applied to each sample dict.

    Each sample is a dict of float32 tensors ``gt`` (reduced resolution only), ``ms``,
    ``lms``, ``pan`` (``(C, H, W)``), plus ``index``.

    Raises:
        DataNotFoundError: the file does not exist.
        InvalidInputError: not a readable HDF5 file (e.g. truncated), missing keys,
            inconsistent shapes or sample counts, a non-integer resolution ratio, or
            non-finite values in a sample.
    """

    def __init__(
        self,
        path: str | Path,
        max_value: float | str | None = "auto",
        sensor: str | None = None,
        transforms: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataNotFoundError(
                "PanCollection", self.path.parent, [self.path.name], url=_URL,
                layout=f"{self.path.name} (e.g. test_wv3_multiExm1.h5) in {self.path.parent}",
            )
        self.sensor = sensor
        if max_value == "auto":
            self.max_value: float | None = sensor_max_value(sensor) if sensor else 2047.0
        elif max_value is None:
            self.max_value = None
        else:
            self.max_value = float(max_value)
            if not self.max_value > 0:
                raise InvalidInputError(f"max_value must be > 0, got {max_value}")
        self.transforms = transforms
        present, found = read_h5_shapes(self.path, KEYS, "a PanCollection file")
        other = sorted(set(found) - set(KEYS))
        missing = [k for k in ("ms", "lms", "pan") if k not in present]
        if missing:
            raise InvalidInputError(
                f"{str(self.path)!r} lacks the PanCollection key(s) {missing} (found "
                f"{sorted(present)} and {other}); expected gt/ms/lms/pan as (N, C, H, W)"
            )
        self.shapes = present
        self._check_shapes()
        self._file: Any = None

    def _check_shapes(self) -> None:
        s = self.shapes
        for k, shp in s.items():
            if len(shp) != 4:
                raise InvalidInputError(
                    f"{str(self.path)!r}: {k!r} must be (N, C, H, W), got shape {shp}"
                )
        n = {shp[0] for shp in s.values()}
        if len(n) != 1:
            raise InvalidInputError(
                f"{str(self.path)!r}: the keys hold different numbers of samples "
                f"{ {k: v[0] for k, v in s.items()} }"
            )
        ms, lms, pan = s["ms"], s["lms"], s["pan"]
        if pan[1] != 1:
            raise InvalidInputError(f"{str(self.path)!r}: 'pan' must have 1 band, got {pan[1]}")
        if lms[1:] != (ms[1],) + pan[2:]:
            raise InvalidInputError(
                f"{str(self.path)!r}: 'lms' shape {lms} must be (N, {ms[1]}, {pan[2]}, "
                f"{pan[3]}) (the MS upsampled to the PAN grid)"
            )
        if "gt" in s and s["gt"] != lms:
            raise InvalidInputError(
                f"{str(self.path)!r}: 'gt' shape {s['gt']} differs from 'lms' shape {lms}"
            )
        if pan[2] % ms[2] or pan[3] % ms[3] or pan[2] // ms[2] != pan[3] // ms[3]:
            raise InvalidInputError(
                f"{str(self.path)!r}: PAN size {pan[2:]} is not an integer multiple of the MS "
                f"size {ms[2:]}"
            )
        self.ratio = pan[2] // ms[2]
        self.bands = ms[1]

    @property
    def resolution(self) -> str:
        """``"reduced"`` when the file has ground truth (``gt``), else ``"full"``."""
        return "reduced" if "gt" in self.shapes else "full"

    def __len__(self) -> int:
        return self.shapes["ms"][0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        index, arrays = self._read_sample(index, KEYS)
        sample: dict[str, torch.Tensor] = {}
        for k, arr in arrays.items():
            if self.max_value is not None:
                arr = arr / np.float32(self.max_value)
            sample[k] = torch.from_numpy(arr)
        sample["index"] = torch.tensor(index)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def arrays(self, index: int) -> dict[str, np.ndarray]:
        """Sample ``index`` as float64 numpy arrays in digital numbers (for the metrics)."""
        sample = self[index]
        scale = 1.0 if self.max_value is None else self.max_value
        return {k: v.numpy().astype(np.float64) * scale for k, v in sample.items()
                if k in KEYS}

    def plot(
        self,
        sample: dict[str, Any],
        show_titles: bool = True,
        suptitle: str | None = None,
        prediction_key: str = "prediction",
    ) -> Any:
        """Show PAN, upsampled MS, ground truth and prediction (RGB composites, 2 % stretch)."""
        from ...demo import new_figure

        panels = [(k, sample[k]) for k in ("pan", "lms", "gt", prediction_key) if k in sample]
        fig, axes = new_figure(ncols=len(panels), nrows=1, size=3.0)
        for ax, (name, value) in zip(axes[0], panels, strict=True):
            ax.imshow(display_image(value))
            ax.set_axis_off()
            if show_titles:
                ax.set_title(name)
        if suptitle:
            fig.suptitle(suptitle)
        return fig


def display_image(x: Any) -> np.ndarray:
    """A displayable float image in ``[0, 1]`` with a 2-98 % stretch.

    ``x`` is a ``(C, H, W)`` (or ``(H, W)``) array or tensor; several bands give an RGB
    composite ``(H, W, 3)`` of :func:`rgb_bands`, one band a grey ``(H, W)`` image.
    """
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    arr = arr.astype(np.float64)
    if arr.ndim == 3 and arr.shape[0] > 1:
        arr = np.moveaxis(arr[list(rgb_bands(arr.shape[0]))], 0, -1)
    elif arr.ndim == 3:
        arr = arr[0]
    lo, hi = np.percentile(arr, [2, 98])
    out: np.ndarray = np.clip((arr - lo) / max(hi - lo, 1e-12), 0, 1)
    return out


#: Reflectance-like spectra of a few common materials at the eight WorldView-3 MS band centres
#: (coastal, blue, green, yellow, red, red edge, NIR1, NIR2). Their band means (the PAN
#: brightness of :func:`synthetic_scene`'s ``"materials"`` scenes) are well apart: water 0.05,
#: vegetation 0.17, soil 0.25, red roof 0.33, concrete 0.47.
MATERIAL_SPECTRA: dict[str, tuple[float, ...]] = {
    "water": (0.10, 0.09, 0.07, 0.05, 0.04, 0.03, 0.02, 0.02),
    "vegetation": (0.05, 0.06, 0.11, 0.09, 0.06, 0.22, 0.38, 0.39),
    "soil": (0.11, 0.15, 0.20, 0.25, 0.29, 0.32, 0.34, 0.35),
    "red roof": (0.14, 0.14, 0.17, 0.27, 0.45, 0.48, 0.49, 0.50),
    "concrete": (0.42, 0.45, 0.47, 0.48, 0.48, 0.48, 0.49, 0.49),
}


def material_spectra(bands: int = 8) -> np.ndarray:
    """:data:`MATERIAL_SPECTRA` as a ``(materials, bands)`` array.

    8 bands: as tabulated; 4 bands (blue, green, red, NIR products such as QuickBird or
    GaoFen-2): the WorldView-3 blue, green, red and NIR1 values; other counts: linear
    interpolation over the eight band positions.
    """
    if bands < 1:
        raise InvalidInputError(f"bands must be >= 1, got {bands}")
    table = np.array(list(MATERIAL_SPECTRA.values()), dtype=np.float64)
    if bands == table.shape[1]:
        return table.copy()
    if bands == 4:
        return table[:, [1, 2, 4, 6]].copy()
    pos = np.linspace(0, table.shape[1] - 1, bands)
    return np.stack([np.interp(pos, np.arange(table.shape[1]), row) for row in table])


def _mixture_latent(
    hr: int, bands: int, rng: np.random.Generator
) -> np.ndarray:
    """Latent scene of the ``"mixture"`` kind (values up to 1)."""
    from scipy.ndimage import gaussian_filter

    k = 4
    spectra = rng.uniform(0.15, 0.9, size=(k, bands))
    spectra[:, -1] = rng.uniform(0.3, 1.0, size=k)  # NIR differs more between materials
    abund = np.stack([gaussian_filter(rng.normal(size=(hr, hr)), sigma=hr / 24, mode="wrap")
                      for _ in range(k)])
    # sharp patches: random rectangles assigned to one material
    for _ in range(max(6, hr // 4)):
        r0, c0 = rng.integers(0, hr - 4, size=2)
        h, w = rng.integers(2, max(3, hr // 8), size=2)
        abund[rng.integers(0, k), r0 : r0 + h, c0 : c0 + w] += 3.0 * abund.std()
    abund = np.exp(2.0 * abund / abund.std())
    abund /= abund.sum(axis=0, keepdims=True)
    latent = np.einsum("kb,khw->bhw", spectra, abund)
    texture = gaussian_filter(rng.normal(size=(hr, hr)), sigma=1.0)
    latent *= 1.0 + 0.15 * texture / texture.std()
    out: np.ndarray = latent / latent.max()
    return out


def _materials_latent(
    hr: int, bands: int, ratio: int, rng: np.random.Generator
) -> np.ndarray:
    """Latent scene of the ``"materials"`` kind (values up to about 1).

    Every pixel holds one material of :func:`material_spectra` (a pure spectrum, with a
    per-scene jitter of 3 % per band and a mild brightness-only texture): fields are the
    cells of a random Voronoi partition (about ``5 ratio`` latent pixels across, i.e. a
    little more than one MS pixel of the reduced-resolution data), overlaid with small
    rectangles (buildings, ``1/2`` to ``2`` MS pixels of the reduced data), so that most
    material edges and many whole objects are finer than the MS grid.
    """
    from scipy.ndimage import gaussian_filter
    from scipy.spatial import cKDTree

    spectra = material_spectra(bands)
    k = spectra.shape[0]
    spectra = spectra * (1.0 + 0.03 * rng.normal(size=spectra.shape))
    cell = 5 * ratio
    n_cells = max(8, round((hr / cell) ** 2))
    seeds = rng.uniform(0, hr, size=(n_cells, 2))
    cell_material = rng.integers(0, k, size=n_cells)
    grid = np.stack(np.meshgrid(np.arange(hr) + 0.5, np.arange(hr) + 0.5, indexing="ij"), -1)
    _, nearest = cKDTree(seeds).query(grid.reshape(-1, 2))
    labels = cell_material[np.asarray(nearest)].reshape(hr, hr)
    small, large = max(1, 2 * ratio), max(3, 8 * ratio)
    for _ in range(max(4, hr * hr // (16 * ratio * ratio * 4))):
        r0, c0 = rng.integers(0, hr - 1, size=2)
        h, w = rng.integers(small, large, size=2)
        labels[r0 : r0 + h, c0 : c0 + w] = rng.integers(0, k)
    latent = spectra.T[:, labels]
    texture = gaussian_filter(rng.normal(size=(hr, hr)), sigma=1.0)
    latent *= 1.0 + 0.05 * texture / texture.std()
    out: np.ndarray = latent / float(spectra.max())
    return out


def _metamers_latent(
    hr: int, bands: int, ratio: int, rng: np.random.Generator
) -> np.ndarray:
    """Latent scene of the ``"metamers"`` kind (values up to about 1).

    The layout of :func:`_materials_latent` (Voronoi fields and small rectangles, many finer
    than the MS grid), but the materials are drawn for every scene: three brightness levels,
    and at each level two materials with unrelated random spectra rescaled to the same band
    mean. Since the PAN is the band mean, it cannot tell the two materials of a level apart
    (nor, across scenes, which spectrum any brightness has): the spectrum of a pixel must
    come from the MS, the PAN only says where the edges are.
    """
    from scipy.ndimage import gaussian_filter
    from scipy.spatial import cKDTree

    levels = np.sort(rng.uniform(0.12, 0.5, size=3))
    spectra = rng.uniform(0.05, 1.0, size=(6, bands))
    spectra *= (np.repeat(levels, 2) / spectra.mean(axis=1))[:, None]
    k = spectra.shape[0]
    cell = 5 * ratio
    n_cells = max(8, round((hr / cell) ** 2))
    seeds = rng.uniform(0, hr, size=(n_cells, 2))
    cell_material = rng.integers(0, k, size=n_cells)
    grid = np.stack(np.meshgrid(np.arange(hr) + 0.5, np.arange(hr) + 0.5, indexing="ij"), -1)
    _, nearest = cKDTree(seeds).query(grid.reshape(-1, 2))
    labels = cell_material[np.asarray(nearest)].reshape(hr, hr)
    small, large = max(1, 2 * ratio), max(3, 8 * ratio)
    for _ in range(max(4, hr * hr // (16 * ratio * ratio * 4))):
        r0, c0 = rng.integers(0, hr - 1, size=2)
        h, w = rng.integers(small, large, size=2)
        labels[r0 : r0 + h, c0 : c0 + w] = rng.integers(0, k)
    latent = spectra.T[:, labels]
    texture = gaussian_filter(rng.normal(size=(hr, hr)), sigma=1.0)
    latent *= 1.0 + 0.05 * texture / texture.std()
    out: np.ndarray = latent / max(float(spectra.max()), 1.0)
    return out


def synthetic_scene(
    size: int,
    bands: int = 8,
    ratio: int = 4,
    sensor: str = "WV3",
    seed: int | np.random.Generator = 0,
    max_value: float | None = None,
    scene: str = "mixture",
) -> tuple[np.ndarray, np.ndarray]:
    """An original (MS, PAN) pair of a synthetic scene, as a sensor would deliver it.

    A latent high-resolution scene (``size * ratio`` pixels) is built, the PAN is its band
    average plus a little noise, and the MS is the latent scene MTF-filtered with the
    sensor's filters and decimated by ``ratio`` (the acquisition model behind Wald's
    protocol). Values are rounded to digital numbers in ``[1, max_value]``.

    Scene kinds:

    - ``"mixture"`` (default): a mixture of 4 random endmember spectra (new ones in every
      scene) with smooth random abundances plus sharp-edged patches (fields, roofs). Most
      of the fine-scale spectral content is not predictable from the PAN.
    - ``"materials"``: every pixel is one of a few materials with distinct spectra and PAN
      brightness (:data:`MATERIAL_SPECTRA`, shared by all scenes), in fields and buildings
      with sharp edges, many of them finer than the MS grid. As in real imagery, the PAN
      tells which material lies on each side of a sub-pixel edge, so the pure spectra that
      interpolation mixes are recoverable from PAN + MS context (a learning method can
      improve the spectral angle, which component-substitution methods cannot).
    - ``"metamers"``: the same layout with six materials drawn for each scene, two at each
      of three PAN brightness levels (unrelated spectra with equal band means), so the PAN
      never identifies a spectrum: it gives the edges, the MS gives the spectra.

    Returns:
        ``(ms (bands, size, size), pan (1, size * ratio, size * ratio))`` float64 DN.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    top = float(max_value if max_value is not None else sensor_max_value(sensor))
    hr = size * ratio
    if scene == "mixture":
        latent = _mixture_latent(hr, bands, rng)
    elif scene == "materials":
        latent = _materials_latent(hr, bands, ratio, rng)
    elif scene == "metamers":
        latent = _metamers_latent(hr, bands, ratio, rng)
    else:
        raise InvalidInputError(
            f"scene must be 'mixture', 'materials' or 'metamers', got {scene!r}"
        )
    latent = latent * 0.9 * top
    pan = latent.mean(axis=0, keepdims=True) + rng.normal(scale=0.002 * top, size=(1, hr, hr))
    ms = mtf_filter(latent, mtf_kernel(sensor, bands, ratio))[:, ratio // 2 :: ratio,
                                                               ratio // 2 :: ratio]
    return np.clip(np.rint(ms), 1, top), np.clip(np.rint(pan), 1, top)


def write_fixture(
    path: str | Path,
    n: int = 4,
    size: int = 64,
    bands: int = 8,
    sensor: str = "WV3",
    ratio: int = 4,
    full_resolution: bool = False,
    seed: int = 0,
    max_value: float | None = None,
    dtype: str = "float64",
    scene: str = "mixture",
) -> Path:
    """Write a small synthetic PanCollection ``.h5`` file in the published layout.

    Reduced resolution (default): each sample comes from a synthetic original pair with MS
    ``size x size`` and PAN ``size * ratio`` (:func:`synthetic_scene`) reduced by Wald's
    protocol: ``gt`` = original MS ``(C, size, size)``, ``ms`` ``(C, size/ratio,
    size/ratio)``, ``lms`` = interp23(ms), ``pan`` ``(1, size, size)``.
    Full resolution: ``ms`` ``(C, size/ratio, size/ratio)`` is the original MS of a scene
    whose PAN is ``(1, size, size)``, ``lms`` = interp23(ms), and no ``gt``.
    ``scene`` picks the kind of synthetic scene (``"mixture"``, ``"materials"`` or
    ``"metamers"``, see
    :func:`synthetic_scene`).

    Returns:
        ``Path(path)`` (written atomically).
    """
    import h5py

    if size % ratio or size < 2 * ratio:
        raise InvalidInputError(f"size must be a multiple of ratio={ratio}, got {size}")
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {k: [] for k in KEYS}
    for _ in range(n):
        if full_resolution:
            ms, pan = synthetic_scene(size // ratio, bands, ratio, sensor, rng, max_value, scene)
            sample = {"ms": ms, "lms": interp23(ms, ratio), "pan": pan}
        else:
            ms, pan = synthetic_scene(size, bands, ratio, sensor, rng, max_value, scene)
            sample = make_reduced_resolution(ms, pan, sensor, ratio)
        for k, v in sample.items():
            out[k].append(v)
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as f:
        for k in KEYS:
            if out[k]:
                f.create_dataset(k, data=np.stack(out[k]).astype(dtype))
    return Path(path)

