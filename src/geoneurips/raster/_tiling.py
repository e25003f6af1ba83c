"""Tiling plan, blend weights and column-stripe writing of :mod:`geoneurips.raster.engine`.

The grid and the blending convention are described in the engine's module docstring. The
raster is processed in vertical stripes of whole 256-pixel block columns (:func:`_stripes`,
sized by :func:`_stripe_width` from the bytes one output column costs), so memory is bounded
whatever the raster's size; each stripe's finished rows are written by a
:class:`_StripeWriter` into the one :class:`_Output` file, every output block exactly once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
from rasterio.windows import Window

from ..errors import InvalidInputError
from .io import BLOCK_SIZE, RasterInfo, _gtiff_profile

Blend = Literal["cosine", "linear", "none"]

@dataclass(frozen=True)
class _Plan:
    """Everything that defines the tile grid and the per-tile computation."""

    paths: tuple[Path, ...]
    info: RasterInfo
    tile: int
    overlap: int
    out_bands: int
    fill_value: float
    blend: Blend

    @property
    def stride(self) -> int:
        return self.tile - self.overlap

    def n_tiles(self, length: int) -> int:
        if length <= self.tile:
            return 1
        return math.ceil((length - self.tile) / self.stride) + 1

    @property
    def n_rows(self) -> int:
        return self.n_tiles(self.info.height)

    @property
    def n_cols(self) -> int:
        return self.n_tiles(self.info.width)


def _rising_ramp(overlap: int, blend: Blend) -> np.ndarray:
    """Weight of the *later* tile over the ``overlap`` shared pixels (0 -> 1)."""
    x = (np.arange(overlap, dtype=np.float64) + 0.5) / max(overlap, 1)
    if blend == "cosine":
        return np.asarray(np.sin(0.5 * np.pi * x) ** 2)
    if blend == "linear":
        return x
    return (np.arange(overlap) >= overlap / 2).astype(np.float64)


def _axis_weight(plan: _Plan, index: int, n: int) -> np.ndarray:
    """1-D float64 weight of tile ``index`` of ``n`` along one axis (length tile_size)."""
    w = np.ones(plan.tile, dtype=np.float64)
    o = plan.overlap
    if o == 0:
        return w
    ramp = _rising_ramp(o, plan.blend)
    if index > 0:
        w[:o] = ramp
    if index < n - 1:
        w[plan.tile - o:] = 1.0 - ramp
    return w


def _axis_weight_sum(plan: _Plan, length: int) -> np.ndarray:
    """Sum over tiles of the 1-D weights at each of ``length`` pixels (about 1)."""
    n = plan.n_tiles(length)
    total = np.zeros(length, dtype=np.float64)
    for k in range(n):
        a = k * plan.stride
        b = min(a + plan.tile, length)
        total[a:b] += _axis_weight(plan, k, n)[: b - a]
    return total


class _Output:
    """The output GeoTIFF, created on the first block (when the band count is known)."""

    def __init__(self, path: Path, info: RasterInfo, dtype: str, nodata: float | None,
                 descriptions: Sequence[str] | None, bands: int | None) -> None:
        self.path = path
        self.info = info
        self.dtype = dtype
        self.nodata = nodata
        self.descriptions = descriptions
        self.bands = bands
        self.ds: Any = None

    def check(self, bands: int) -> None:
        """Open the file on the first block; check later blocks' band count."""
        if self.ds is not None:
            if bands != self.bands:
                raise InvalidInputError(
                    f"finalize returned {bands} band(s) for one block and {self.bands} "
                    "for another"
                )
            return
        if self.bands is not None and bands != self.bands:
            raise InvalidInputError(
                f"finalize returned {bands} band(s) but final_bands={self.bands}"
            )
        if self.descriptions is not None and len(self.descriptions) != bands:
            raise InvalidInputError(
                f"{len(self.descriptions)} band_descriptions given for {bands} output band(s)"
            )
        self.bands = bands
        profile = _gtiff_profile(
            width=self.info.width, height=self.info.height, count=bands, dtype=self.dtype,
            crs=self.info.crs, transform=self.info.transform, nodata=self.nodata, zlevel=1,
        )
        self.ds = rasterio.open(self.path, "w", **profile)
        if self.descriptions is not None:
            for i, d in enumerate(self.descriptions, start=1):
                self.ds.set_band_description(i, str(d))

    def close(self) -> None:
        if self.ds is not None:
            self.ds.close()
            self.ds = None


class _StripeWriter:
    """Writes the finished rows of one column stripe, whole 256-row blocks at a time.

    The stripe's columns ``[c0, c1)`` start on a 256-pixel block column and end on one (or
    at the raster's right edge), so every output block is written exactly once. Rows wait in
    one preallocated buffer of ``256 + max_rows`` rows of the stripe's width.
    """

    def __init__(self, out: _Output, c0: int, c1: int, max_rows: int) -> None:
        self.out = out
        self.c0, self.c1 = c0, c1
        self.max_rows = max_rows
        self.row = 0
        self._buf: np.ndarray | None = None
        self._n = 0

    def add(self, block: np.ndarray) -> None:
        self.out.check(block.shape[0])
        if self._buf is None:
            rows = min(BLOCK_SIZE + self.max_rows, self.out.info.height)
            self._buf = np.empty((block.shape[0], rows, self.c1 - self.c0),
                                 dtype=self.out.dtype)
        h = block.shape[1]
        self._buf[:, self._n:self._n + h] = block
        self._n += h
        if self._n >= BLOCK_SIZE:
            self._flush(full_blocks_only=True)

    def _flush(self, full_blocks_only: bool) -> None:
        if self._buf is None or self._n == 0:
            return
        nrows = (self._n // BLOCK_SIZE) * BLOCK_SIZE if full_blocks_only else self._n
        if nrows:
            self.out.ds.write(self._buf[:, :nrows],
                              window=Window(self.c0, self.row, self.c1 - self.c0, nrows))
            self.row += nrows
        rest = self._n - nrows  # < BLOCK_SIZE <= nrows: source and target do not overlap
        if rest:
            self._buf[:, :rest] = self._buf[:, nrows:self._n]
        self._n = rest

    def finish(self) -> None:
        self._flush(full_blocks_only=False)
        if self.row != self.out.info.height:  # a bug
            raise RuntimeError(f"wrote {self.row} of {self.out.info.height} rows")


@dataclass(frozen=True)
class _Stripe:
    """Output columns ``[c0, c1)`` and the tile columns ``[j0, j1]`` that touch them."""

    c0: int
    c1: int
    j0: int
    j1: int


def _stripes(plan: _Plan, stripe_width: int) -> list[_Stripe]:
    """Cut the raster's columns into stripes of ``stripe_width`` (a multiple of 256)."""
    width, t, s = plan.info.width, plan.tile, plan.stride
    out: list[_Stripe] = []
    for c0 in range(0, width, stripe_width):
        c1 = min(c0 + stripe_width, width)
        j0 = 0 if c0 < t else (c0 - t) // s + 1
        j1 = min(plan.n_cols - 1, (c1 - 1) // s)
        out.append(_Stripe(c0, c1, j0, j1))
    return out


def _bytes_per_column(plan: _Plan, out_bands: int, final_bands: int, itemsize: int) -> int:
    """Memory the engine holds per output column of a stripe (see ``predict_raster``)."""
    t = plan.tile
    return (
        8 * plan.out_bands * t          # float64 accumulator of one tile row
        + t                             # validity of that tile row
        + 4 * out_bands * t             # the finished strip as float32
        + (BLOCK_SIZE + t) * final_bands * itemsize  # rows waiting to be written
        + (t + BLOCK_SIZE) * plan.info.count * 4     # input blocks in GDAL's cache
    )


def _stripe_width(plan: _Plan, per_column: int, memory_mb: float) -> int:
    """The widest multiple of 256 columns whose buffers fit ``memory_mb`` (>= 256, and at
    least one tile wide so that boundary tiles are not recomputed too often)."""
    cols = int(memory_mb * 2**20 // max(per_column, 1))
    cols = max(cols, 2 * plan.tile, BLOCK_SIZE)
    return max(BLOCK_SIZE, (cols // BLOCK_SIZE) * BLOCK_SIZE)


def _gdal_cache_mb(plan: _Plan, stripe_width: int, out_bands: int,
                   out_dtype: np.dtype[Any]) -> int:
    """GDAL block cache (MiB): the input blocks one tile row of a stripe touches
    (``tile_size`` + one block height of rows, the stripe's width + one tile on each side)
    plus one output block row of the stripe, with 25 % slack, at least 64 MiB."""
    in_bytes = 0
    cols = min(plan.info.width, stripe_width + 2 * plan.tile)
    for p in plan.paths:
        with rasterio.open(p) as ds:
            bh = int(ds.block_shapes[0][0])
            itemsize = max(np.dtype(d).itemsize for d in ds.dtypes)
            in_bytes += (plan.tile + min(bh, plan.info.height)) * cols * ds.count * itemsize
    out_bytes = BLOCK_SIZE * min(stripe_width, plan.info.width) * out_bands * \
        out_dtype.itemsize
    return max(64, math.ceil(1.25 * (in_bytes + out_bytes) / 2**20))
