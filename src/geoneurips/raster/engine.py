"""Streaming tiled inference over large rasters (local and Dask drivers).

:func:`predict_raster` runs a user *kernel* (any per-tile function: a normalized
difference, a torch model wrapped in ``torch.inference_mode``...) over a raster of any
size, blends the overlapping tile predictions and writes a GeoTIFF on the input grid,
without ever holding the whole raster in memory.

Tiling convention (one axis; rows and columns are tiled the same way)::

    stride = tile_size - overlap
    tile k covers source pixels [k * stride, k * stride + tile_size)
    n_tiles = 1 if length <= tile_size else ceil((length - tile_size) / stride) + 1

Tiles are never shrunk: the last tile may extend past the raster edge and the part outside
is filled with ``fill_value``, so the kernel always receives ``tile_size x tile_size``.

Blending: two neighbouring tiles share ``overlap`` pixels. Over these pixels the earlier
tile's weight falls from 1 to 0 while the later tile's rises from 0 to 1, with the two
weights summing to one at every pixel (``cosine``: ``sin^2`` ramp, ``linear``: straight
ramp, both evaluated at pixel centres; ``none``: a step at mid-overlap, so every pixel comes
from exactly one tile - a centre crop). Tile sides on the raster border have no neighbour
and keep weight 1 up to the edge, so the weights also sum to one at the raster edges.
The 2-D weight is the outer product of the row and column weights. Predictions are
accumulated in float64 as ``sum(w * p)`` and divided by ``sum(w)``; an identity kernel
therefore reproduces its (float32-representable) input exactly, whatever the blend.

Nodata: a pixel is *invalid* when it lies outside the raster or when any input band there
equals that band's nodata value or is NaN. The kernel sees ``fill_value`` in every band of
invalid pixels, and the output gets ``out_nodata`` there.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
import rasterio.dtypes
from rasterio.errors import RasterioError
from rasterio.windows import Window

from ..errors import InvalidInputError
from ..io import atomic_path
from ._tiling import (
    Blend,
    _axis_weight,
    _axis_weight_sum,
    _bytes_per_column,
    _gdal_cache_mb,
    _Output,
    _Plan,
    _Stripe,
    _stripe_width,
    _stripes,
    _StripeWriter,
)
from .io import RasterInfo, _nodata_fits, check_coregistered, raster_info

__all__ = ["Blend", "Kernel", "WindowContext", "default_out_nodata", "predict_raster"]

PathLike = str | os.PathLike[str]


class _SourceStack:
    """Co-registered sources opened once, read as one band-stacked float32 raster."""

    def __init__(self, paths: Sequence[Path], height: int, width: int) -> None:
        self.paths = list(paths)
        self.height = height
        self.width = width
        self._datasets: list[Any] = []
        try:
            for p in self.paths:
                self._datasets.append(rasterio.open(p))
        except (RasterioError, OSError) as exc:
            self.close()
            raise InvalidInputError(f"cannot open raster {str(p)!r}: {exc}") from exc
        self.count = sum(int(ds.count) for ds in self._datasets)

    def close(self) -> None:
        for ds in self._datasets:
            ds.close()
        self._datasets = []

    def read(
        self, row_off: int, col_off: int, height: int, width: int, fill_value: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Boundless read: float32 ``(C, h, w)`` with invalid pixels = fill, and ``(h, w)``
        validity."""
        out = np.full((self.count, height, width), fill_value, dtype=np.float32)
        valid = np.zeros((height, width), dtype=bool)
        r0, r1 = max(row_off, 0), min(row_off + height, self.height)
        c0, c1 = max(col_off, 0), min(col_off + width, self.width)
        if r0 >= r1 or c0 >= c1:
            return out, valid
        sr = slice(r0 - row_off, r1 - row_off)
        sc = slice(c0 - col_off, c1 - col_off)
        win = Window(c0, r0, c1 - c0, r1 - r0)
        ok = np.ones((r1 - r0, c1 - c0), dtype=bool)
        band = 0
        for path, ds in zip(self.paths, self._datasets, strict=True):
            try:
                data = ds.read(window=win)
            except (RasterioError, OSError) as exc:
                raise InvalidInputError(
                    f"cannot read window {win} of {str(path)!r} (corrupt or truncated "
                    f"data): {exc}"
                ) from exc
            for b in range(data.shape[0]):
                nd = ds.nodatavals[b]
                if nd is not None:
                    ok &= ~np.isnan(data[b]) if math.isnan(nd) else data[b] != nd
                if data.dtype.kind in "fc":
                    ok &= ~np.isnan(data[b])
            out[band:band + data.shape[0], sr, sc] = data
            band += data.shape[0]
        valid[sr, sc] = ok
        if not ok.all():
            out[:, ~valid] = np.float32(fill_value)
        return out, valid


@dataclass
class WindowContext:
    """What a kernel knows about the tile it is given.

    Attributes:
        row_off, col_off, height, width: the tile's window in source pixel coordinates
            (it may extend outside the raster: negative offsets never occur, but the last
            tiles extend past the bottom/right edge).
        info: the stacked input: the first source's grid (path, CRS, transform, size) with
            ``count`` = total number of stacked bands, ``descriptions`` = the sources'
            band descriptions in stacking order and ``dtype`` = their common numpy type.
        fill_value: the value of invalid pixels in what :meth:`read` returns.
    """

    row_off: int
    col_off: int
    height: int
    width: int
    info: RasterInfo
    fill_value: float = 0.0
    _stack: _SourceStack | None = field(default=None, repr=False, compare=False)

    def _require(self) -> _SourceStack:
        if self._stack is None:
            raise InvalidInputError("this WindowContext is not attached to open sources")
        return self._stack

    def read(self, row_off: int, col_off: int, height: int, width: int) -> np.ndarray:
        """Read any window (e.g. a larger context around the tile) of the stacked sources.

        Coordinates are source pixels and may lie partly or wholly outside the raster.
        Returns float32 ``(C, height, width)``; pixels outside the raster or invalid
        (nodata/NaN in any band) hold ``fill_value`` in every band.
        """
        return self._require().read(row_off, col_off, height, width, self.fill_value)[0]

    def valid(self, row_off: int, col_off: int, height: int, width: int) -> np.ndarray:
        """Boolean ``(height, width)``: True where the pixel is inside the raster and no
        band is nodata or NaN."""
        return self._require().read(row_off, col_off, height, width, self.fill_value)[1]


Kernel = Callable[[np.ndarray, WindowContext], np.ndarray]


def _compute_tile(
    stack: _SourceStack, kernel: Kernel, plan: _Plan, ti: int, tj: int
) -> tuple[np.ndarray, np.ndarray]:
    """Read tile (ti, tj), run the kernel, check its output. Same code in both drivers."""
    t = plan.tile
    row, col = ti * plan.stride, tj * plan.stride
    tile, valid = stack.read(row, col, t, t, plan.fill_value)
    ctx = WindowContext(row, col, t, t, plan.info, plan.fill_value, stack)
    pred = kernel(tile, ctx)
    arr = np.asarray(pred)
    if arr.shape != (plan.out_bands, t, t):
        raise InvalidInputError(
            f"kernel returned shape {arr.shape} for the tile at row {row}, column {col}; "
            f"expected (out_bands, tile_size, tile_size) = ({plan.out_bands}, {t}, {t})"
        )
    return arr.astype(np.float32, copy=False), valid


def _dask_tile(
    kernel: Kernel, plan: _Plan, ti: int, tj: int
) -> tuple[np.ndarray, np.ndarray]:
    """Worker-side task: open the sources, compute one tile, close them."""
    stack = _SourceStack(plan.paths, plan.info.height, plan.info.width)
    try:
        return _compute_tile(stack, kernel, plan, ti, tj)
    finally:
        stack.close()


TileResult = tuple[int, int, np.ndarray, np.ndarray]


def _local_tiles(
    kernel: Kernel, plan: _Plan, order: Iterable[tuple[int, int]]
) -> Iterator[TileResult]:
    stack = _SourceStack(plan.paths, plan.info.height, plan.info.width)
    try:
        for ti, tj in order:
            pred, valid = _compute_tile(stack, kernel, plan, ti, tj)
            yield ti, tj, pred, valid
    finally:
        stack.close()


def _dask_tiles(
    kernel: Kernel, plan: _Plan, client: Any, order: Iterable[tuple[int, int]]
) -> Iterator[TileResult]:
    """Map :func:`_dask_tile` over the client, yielding results in the given order.

    The kernel is scattered (broadcast) to the workers once; at most ``2 x threads``
    (at least 4) tiles are in flight, so the driver's memory stays bounded.
    """
    kernel_future = client.scatter(kernel, broadcast=True, hash=False)
    nthreads = sum(client.nthreads().values()) or 1
    max_inflight = max(4, 2 * nthreads)
    pending: deque[tuple[int, int, Any]] = deque()
    try:
        for ti, tj in order:
            pending.append((ti, tj, client.submit(_dask_tile, kernel_future, plan, ti, tj,
                                                  pure=False)))
            while len(pending) >= max_inflight:
                a, b, fut = pending.popleft()
                pred, valid = fut.result()
                yield a, b, pred, valid
        while pending:
            a, b, fut = pending.popleft()
            pred, valid = fut.result()
            yield a, b, pred, valid
    finally:
        for _, _, fut in pending:
            fut.cancel()
        kernel_future.cancel()


def default_out_nodata(dtype: str) -> float:
    """Default output nodata: NaN for floats, the maximum for unsigned integers (255 for
    uint8) and the minimum for signed integers."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return float("nan")
    if dt.kind == "u":
        return float(np.iinfo(dt).max)
    return float(np.iinfo(dt).min)


def _cast(block: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """Cast to the output dtype; floats going to integers are rounded and clipped."""
    if block.dtype.kind == "f" and dtype.kind in "iu":
        ii = np.iinfo(dtype)
        block = np.clip(np.rint(np.nan_to_num(block)), ii.min, ii.max)
    return block.astype(dtype, copy=False)


def predict_raster(
    sources: PathLike | Sequence[PathLike],
    output: PathLike,
    kernel: Kernel,
    *,
    out_bands: int,
    tile_size: int = 512,
    overlap: int = 64,
    blend: Blend = "cosine",
    out_dtype: str = "float32",
    out_nodata: float | None = None,
    band_descriptions: Sequence[str] | None = None,
    finalize: Callable[[np.ndarray], np.ndarray] | None = None,
    final_bands: int | None = None,
    fill_value: float = 0.0,
    driver: Literal["local", "dask"] = "local",
    dask_client: Any = None,
    progress: bool = True,
    memory_mb: float = 512.0,
) -> Path:
    """Run ``kernel`` tile by tile over co-registered rasters and write the blended result.

    Args:
        sources: one raster or several co-registered ones (same CRS, transform and size,
            checked); their bands are stacked in the given order.
        output: the GeoTIFF to write, on the input grid (same CRS, transform, size); tiled
            256 x 256, deflate level 1 (fast). Written atomically: nothing is left at ``output`` (and an
            existing file there is untouched) if anything fails, kernel errors included.
        kernel: ``kernel(tile, ctx) -> prediction``: ``tile`` is float32
            ``(C, tile_size, tile_size)``, ``ctx`` a :class:`WindowContext` (use
            ``ctx.read`` for a larger surrounding window); the prediction must be
            ``(out_bands, tile_size, tile_size)`` (cast to float32). With the Dask driver
            it must be picklable (cloudpickle) and deterministic.
        out_bands: number of bands the kernel returns.
        tile_size: tile edge in pixels.
        overlap: pixels shared by neighbouring tiles, ``0 <= overlap < tile_size / 2``.
        blend: ``"cosine"`` or ``"linear"`` ramps over the overlap, or ``"none"`` (each
            pixel from one tile, cut at mid-overlap). See the module docstring.
        out_dtype: dtype of the written bands. Float results going to an integer dtype are
            rounded to nearest and clipped to the dtype's range.
        out_nodata: value written at invalid pixels and declared as the file's nodata.
            When ``None`` and the inputs can have invalid pixels (a source declares nodata
            or has a float dtype), :func:`default_out_nodata` is used: NaN for float
            outputs, 255 for uint8 (the dtype's maximum for unsigned, minimum for signed
            integers). Otherwise the output has no nodata.
        band_descriptions: one description per written band.
        finalize: applied to each blended float32 block ``(out_bands, h, w)`` (``w`` the
            width of the current column stripe) before it is written, pixel-wise, e.g.
            ``lambda p: p.argmax(0)`` for class ids; returns ``(final_bands, h, w)`` or
            ``(h, w)``.
        final_bands: bands returned by ``finalize`` (checked; inferred from the first
            block when ``None``). Without ``finalize`` the output has ``out_bands`` bands.
        fill_value: what the kernel sees outside the raster and at invalid pixels.
        driver: ``"local"`` (reference, in-process) or ``"dask"`` (tiles computed on a
            ``dask.distributed`` cluster; blending, finalize and writing stay in this
            process, in the same order, so both drivers give identical files).
        dask_client: a ``distributed.Client`` for ``driver="dask"``; when ``None`` a
            threaded ``LocalCluster`` is started for the call and closed afterwards.
        progress: show a tqdm progress bar (one step per tile).
        memory_mb: budget for the engine's own buffers. The raster is processed in vertical
            stripes of whole 256-pixel block columns, as wide as fit the budget (at least
            two tiles); a raster narrower than that is one stripe. Tiles that straddle a
            stripe boundary are computed once per stripe they touch (a few percent of extra
            kernel calls on very wide rasters); the output is identical whatever the stripes.

    Returns:
        ``Path(output)``.

    Memory bound, independent of the raster's height and width: with ``Ws`` the stripe
    width (``memory_mb`` divided by the bytes per column below, at least ``2 * tile_size``),
    bytes::

        Ws * (8 * out_bands * tile_size            float64 accumulator of one tile row
              + tile_size                          validity of that tile row
              + 4 * out_bands * tile_size          the finished strip as float32
              + (256 + tile_size) * final_bands * itemsize   rows waiting to be written
              + (tile_size + 256) * C * 4)         input blocks in GDAL's cache (C bands)
        + k * (C + out_bands) * tile_size^2 * 4   tiles in flight (k = 1 local;
                                                  max(4, 2 * dask threads) with Dask)
        + whatever the kernel allocates.

    Raises:
        InvalidInputError: bad arguments (overlap, tile size, dtype, nodata that does not
            fit ``out_dtype``, output path equal to a source), unreadable sources, a
            kernel/finalize output of the wrong shape.
        CoregistrationError: the sources do not share one grid.
    """
    paths = [Path(sources)] if isinstance(sources, (str, os.PathLike)) else \
        [Path(s) for s in sources]
    if not paths:
        raise InvalidInputError("predict_raster needs at least one source raster")
    out_path = Path(output)
    if tile_size < 1 or int(tile_size) != tile_size:
        raise InvalidInputError(f"tile_size must be a positive integer, got {tile_size}")
    if overlap < 0 or 2 * overlap >= tile_size or int(overlap) != overlap:
        raise InvalidInputError(
            f"overlap must be an integer with 0 <= overlap < tile_size / 2, got overlap="
            f"{overlap} for tile_size={tile_size}"
        )
    if blend not in ("cosine", "linear", "none"):
        raise InvalidInputError(f"blend must be 'cosine', 'linear' or 'none', got {blend!r}")
    if driver not in ("local", "dask"):
        raise InvalidInputError(f"driver must be 'local' or 'dask', got {driver!r}")
    if dask_client is not None and driver != "dask":
        raise InvalidInputError("dask_client is only used with driver='dask'")
    if out_bands < 1:
        raise InvalidInputError(f"out_bands must be >= 1, got {out_bands}")
    if not memory_mb > 0:
        raise InvalidInputError(f"memory_mb must be positive, got {memory_mb}")
    if final_bands is not None and final_bands < 1:
        raise InvalidInputError(f"final_bands must be >= 1, got {final_bands}")
    if finalize is None and final_bands is not None and final_bands != out_bands:
        raise InvalidInputError(
            f"final_bands={final_bands} differs from out_bands={out_bands} without finalize"
        )
    try:
        odt = np.dtype(out_dtype)
    except TypeError as exc:
        raise InvalidInputError(f"out_dtype {out_dtype!r} is not a numpy dtype") from exc
    if not rasterio.dtypes.check_dtype(odt.name) or odt.kind not in "iuf":
        raise InvalidInputError(f"out_dtype {out_dtype!r} cannot be written to a GeoTIFF")
    bands_written = final_bands if finalize is not None else out_bands
    if (band_descriptions is not None and bands_written is not None
            and len(band_descriptions) != bands_written):
        raise InvalidInputError(
            f"{len(band_descriptions)} band_descriptions given for {bands_written} output "
            "band(s)"
        )
    for p in paths:
        if p.exists() and out_path.exists() and p.resolve() == out_path.resolve():
            raise InvalidInputError(f"output {str(out_path)!r} is one of the sources")

    ref = check_coregistered(paths)
    infos = [ref] + [raster_info(p) for p in paths[1:]]
    maskable = any(i.nodata is not None or np.dtype(i.dtype).kind == "f" for i in infos)
    if out_nodata is None and maskable:
        out_nodata = default_out_nodata(odt.name)
    if out_nodata is not None and not _nodata_fits(float(out_nodata), odt):
        raise InvalidInputError(f"out_nodata {out_nodata} cannot be stored in dtype {odt.name}")
    stacked = RasterInfo(
        path=ref.path, crs=ref.crs, transform=ref.transform, width=ref.width,
        height=ref.height, count=sum(i.count for i in infos),
        dtype=np.result_type(*[np.dtype(i.dtype) for i in infos]).name,
        nodata=ref.nodata, descriptions=tuple(d for i in infos for d in i.descriptions),
    )
    plan = _Plan(paths=tuple(paths), info=stacked, tile=int(tile_size), overlap=int(overlap),
                 out_bands=int(out_bands), fill_value=float(fill_value), blend=blend)
    per_column = _bytes_per_column(plan, out_bands, bands_written or out_bands, odt.itemsize)
    stripes = _stripes(plan, _stripe_width(plan, per_column, memory_mb))
    cache_mb = _gdal_cache_mb(plan, stripes[0].c1 - stripes[0].c0,
                              max(out_bands, bands_written or 1), odt)
    order = [(ti, tj) for st in stripes for ti in range(plan.n_rows)
             for tj in range(st.j0, st.j1 + 1)]

    from tqdm.auto import tqdm

    own_cluster: Any = None
    client = dask_client
    if driver == "dask" and client is None:
        import importlib

        distributed: Any = importlib.import_module("distributed")
        own_cluster = distributed.LocalCluster(processes=False, dashboard_address=None)
        client = distributed.Client(own_cluster)
    try:
        tiles = _local_tiles(kernel, plan, order) if driver == "local" else \
            _dask_tiles(kernel, plan, client, order)
        bar = tqdm(total=len(order), disable=not progress, unit="tile",
                   desc=f"predict_raster {out_path.name}")
        with atomic_path(out_path) as tmp, rasterio.Env(GDAL_CACHEMAX=cache_mb):
            output_file = _Output(tmp, stacked, odt.name, out_nodata, band_descriptions,
                                  final_bands if finalize is not None else out_bands)
            try:
                for st in stripes:
                    writer = _StripeWriter(output_file, st.c0, st.c1, max_rows=plan.tile)
                    _assemble(tiles, plan, st, writer, finalize, odt, out_nodata, bar)
                    writer.finish()
            finally:
                output_file.close()
                close = getattr(tiles, "close", None)
                if close is not None:
                    close()
                bar.close()
    finally:
        if own_cluster is not None:
            client.close()
            own_cluster.close()
    return out_path


def _assemble(
    tiles: Iterator[TileResult],
    plan: _Plan,
    stripe: _Stripe,
    writer: _StripeWriter,
    finalize: Callable[[np.ndarray], np.ndarray] | None,
    out_dtype: np.dtype[Any],
    out_nodata: float | None,
    bar: Any,
) -> None:
    """Blend one stripe's tiles (row-major within the stripe) tile row by tile row and write
    each finished strip of the stripe's columns.

    Strip ``k`` is source rows ``[k * stride, (k + 1) * stride)`` (to the end for the last
    tile row): once tile row ``k`` is added, no later tile touches these rows. A pixel's
    contributions are summed in the same tile order whatever the stripes, so the output does
    not depend on them.
    """
    t, s, o = plan.tile, plan.stride, plan.overlap
    height, width = plan.info.height, plan.info.width
    c0s, c1s = stripe.c0, stripe.c1
    ws = c1s - c0s
    n_rows, n_cols = plan.n_rows, plan.n_cols
    sum_r = _axis_weight_sum(plan, height)
    sum_c = _axis_weight_sum(plan, width)[c0s:c1s]
    acc = np.zeros((plan.out_bands, t, ws), dtype=np.float64)
    scratch = np.empty((plan.out_bands, t, min(t, ws)), dtype=np.float64)
    valid = np.zeros((t, ws), dtype=bool)
    for ti in range(n_rows):
        wr = _axis_weight(plan, ti, n_rows)
        for ej in range(stripe.j0, stripe.j1 + 1):
            got = next(tiles, None)
            if got is None or got[:2] != (ti, ej):  # a bug
                raise RuntimeError(f"tile {None if got is None else got[:2]} arrived "
                                   f"instead of ({ti}, {ej})")
            _, tj, pred, tvalid = got
            # the tile's columns [a, b) clipped to the stripe
            a, b = tj * s, min(tj * s + t, width)
            lo, hi = max(a, c0s), min(b, c1s)
            if lo < hi:
                cw = _axis_weight(plan, tj, n_cols)[lo - a:hi - a]
                tmp = scratch[:, :, :hi - lo]
                np.multiply(pred[:, :, lo - a:hi - a], np.outer(wr, cw), out=tmp)
                acc[:, :, lo - c0s:hi - c0s] += tmp
                valid[:, lo - c0s:hi - c0s] = tvalid[:, lo - a:hi - a]
            bar.update(1)
        r0 = ti * s
        r1 = min(r0 + s, height) if ti < n_rows - 1 else height
        h = r1 - r0
        # these rows are done: divide by the summed weights, straight into float32
        blended = np.empty((plan.out_bands, h, ws), dtype=np.float32)
        np.divide(acc[:, :h], np.outer(sum_r[r0:r1], sum_c), out=blended,
                  casting="same_kind")
        block = blended
        if finalize is not None:
            block = np.asarray(finalize(blended))
            if block.ndim == 2:
                block = block[None]
            if block.ndim != 3 or block.shape[1:] != (h, ws):
                raise InvalidInputError(
                    f"finalize returned shape {block.shape} for a block of shape "
                    f"{blended.shape}; expected (bands, {h}, {ws}) or ({h}, {ws})"
                )
        out = _cast(block, out_dtype)
        bad = ~valid[:h]
        if out_nodata is not None and bad.any():
            if not out.flags.writeable:
                out = out.copy()
            out[:, bad] = out_nodata
        writer.add(out)
        acc[:, :o] = acc[:, s:t]
        acc[:, o:] = 0.0
