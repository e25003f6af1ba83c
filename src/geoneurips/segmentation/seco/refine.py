"""SeCo on large rasters: tiled PSA, then one SCC over the components of the whole raster.

The paper trains the connectivity classifier once over *all* components of the target set
and sets its loss thresholds over all of them (Sec. 3.3). :func:`refine_raster` does the
same on a raster of any size with bounded memory:

1. **PSA** tile by tile (:func:`geoneurips.raster.engine.predict_raster`; PSA is local: SAM
   segments and thing prompts of one window), written to a temporary label raster.
2. **Components over the whole raster** (:func:`label_components`): row strips are
   labelled with 8-connectivity per class and merged across strip borders with a
   union-find, so a component crossing tile borders is one component. Each component is
   summarised by its class, area, bounding box and first pixel; the strip labels go to a
   temporary raster (one ``uint32`` per pixel on disk, one strip in memory).
3. **One SCC**: a crop of the image and the component mask around each component's box
   (:func:`~.connectivity.crop_region`; large windows are read decimated) is stored as
   ``uint8`` (``4 x crop_h x crop_w`` bytes per component); the classifier is fitted once,
   every component is scored, and the thresholds are taken over all of them.
4. **Output**: the component raster is streamed strip by strip through the per-component
   result (predicted class, or 255 when dropped).

Components are ordered by (class, first pixel in row-major order), as
:func:`~.connectivity.extract_components` orders them, so a raster that fits in one tile gives
exactly the labels of :class:`~.model.SeCo` on the same arrays.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InvalidInputError
from .data import IGNORE_INDEX

__all__ = ["ComponentTable", "label_components", "refine_raster"]


@dataclass
class ComponentTable:
    """Summaries of the components of a label raster (index ``k`` = component id ``k + 1``).

    Attributes:
        label, area: class and pixel count.
        bbox: ``(N, 4)`` half-open ``(row0, col0, row1, col1)``.
        first: row-major index of the first pixel.
        lut: provisional strip id -> component id (0 = no component).
    """

    label: np.ndarray
    area: np.ndarray
    bbox: np.ndarray
    first: np.ndarray
    lut: np.ndarray

    def __len__(self) -> int:
        return int(self.label.size)


def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = int(parent[root])
    while parent[i] != root:
        parent[i], i = root, int(parent[i])
    return root


def label_components(labels: Path, ids_out: Path, strip_rows: int = 512) -> ComponentTable:
    """8-connected components per class of a one-band label raster (255 = none), streamed.

    Writes the provisional strip ids to ``ids_out`` (uint32 GeoTIFF, 0 = none) and returns
    the component summaries with the provisional -> final id table.
    """
    import rasterio
    from rasterio.windows import Window
    from scipy import ndimage

    eight = np.ones((3, 3), dtype=bool)
    stats: list[np.ndarray] = []  # rows: class, area, r0, c0, r1, c1, first
    pairs: list[np.ndarray] = []
    next_id = 1
    with rasterio.open(labels) as src:
        h, w = src.height, src.width
        profile = dict(driver="GTiff", height=h, width=w, count=1, dtype="uint32",
                       crs=src.crs, transform=src.transform, tiled=True, blockxsize=256,
                       blockysize=256, compress="deflate")
        with rasterio.open(ids_out, "w", **profile) as dst:
            prev_lab: np.ndarray | None = None
            prev_ids: np.ndarray | None = None
            for r0 in range(0, h, strip_rows):
                rows = min(strip_rows, h - r0)
                lab = src.read(1, window=Window(0, r0, w, rows)).astype(np.int64)
                ids = np.zeros(lab.shape, dtype=np.int64)
                for c in np.unique(lab):
                    if c == IGNORE_INDEX:
                        continue
                    cc, n = ndimage.label(lab == c, structure=eight)
                    if n == 0:
                        continue
                    sel = cc > 0
                    ids[sel] = cc[sel] + (next_id - 1)
                    area = np.bincount(cc.ravel(), minlength=n + 1)[1:]
                    for i, sl in enumerate(ndimage.find_objects(cc)):
                        if sl is None:
                            continue
                        top = cc[sl][0] == i + 1  # first row of a tight box
                        first = (r0 + sl[0].start) * w + sl[1].start + int(np.argmax(top))
                        stats.append(np.array([c, area[i], r0 + sl[0].start, sl[1].start,
                                               r0 + sl[0].stop, sl[1].stop,
                                               first], dtype=np.int64))
                    next_id += n
                if prev_lab is not None and prev_ids is not None:
                    a_lab, a_id = prev_lab[-1], prev_ids[-1]
                    b_lab, b_id = lab[0], ids[0]
                    for d in (-1, 0, 1):
                        lo, hi = max(0, -d), min(w, w - d)
                        ia, ib = a_id[lo:hi], b_id[lo + d : hi + d]
                        same = (ia > 0) & (ib > 0) & (a_lab[lo:hi] == b_lab[lo + d : hi + d])
                        if same.any():
                            pairs.append(np.stack([ia[same], ib[same]], 1))
                dst.write(ids.astype(np.uint32)[None], window=Window(0, r0, w, rows))
                prev_lab, prev_ids = lab, ids
    n_prov = next_id - 1
    parent = np.arange(n_prov + 1)
    for block in pairs:
        for a, b in block:
            ra, rb = _find(parent, int(a)), _find(parent, int(b))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([_find(parent, i) for i in range(n_prov + 1)], dtype=np.int64)
    st = np.stack(stats) if stats else np.zeros((0, 7), dtype=np.int64)
    prov_root = roots[1:]
    uniq, inv = np.unique(prov_root, return_inverse=True)
    m = uniq.size
    label = np.zeros(m, np.int64)
    label[inv] = st[:, 0]
    area = np.bincount(inv, weights=st[:, 1], minlength=m).astype(np.int64)
    bbox = np.zeros((m, 4), np.int64)
    bbox[:, :2] = np.iinfo(np.int64).max
    np.minimum.at(bbox[:, 0], inv, st[:, 2])
    np.minimum.at(bbox[:, 1], inv, st[:, 3])
    np.maximum.at(bbox[:, 2], inv, st[:, 4])
    np.maximum.at(bbox[:, 3], inv, st[:, 5])
    first = np.full(m, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first, inv, st[:, 6])
    order = np.lexsort((first, label))  # class, then first pixel (extract_components order)
    rank = np.empty(m, np.int64)
    rank[order] = np.arange(m)
    lut = np.zeros(n_prov + 1, np.int64)
    lut[1:] = rank[inv] + 1
    return ComponentTable(label[order], area[order], bbox[order], first[order], lut)


def _crops(image: Path, ids: Path, table: ComponentTable, size: tuple[int, int],
           to_rgb: Callable[[np.ndarray], np.ndarray], sel: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """``uint8`` image crops ``(N, 3, h, w)`` and masks ``(N, 1, h, w)`` of components ``sel``.

    Windows up to 16 crop areas are read whole and resized like
    :func:`~.connectivity.make_crops` (bilinear image, nearest mask); larger ones are read
    decimated by GDAL (bilinear / nearest) so memory stays bounded.
    """
    import rasterio
    import torch
    import torch.nn.functional as F
    from rasterio.enums import Resampling
    from rasterio.windows import Window

    from .connectivity import crop_region

    n = int(sel.size)
    xs = np.zeros((n, 3, *size), np.uint8)
    ms = np.zeros((n, 1, *size), np.uint8)
    with rasterio.open(image) as im, rasterio.open(ids) as idr:
        hw = (im.height, im.width)
        for j, k in enumerate(sel):
            r0, c0, r1, c1 = (int(v) for v in table.bbox[k])
            t, b, le, ri = crop_region(hw, (r0, c0, r1, c1), size)
            win = Window(le, t, ri - le, b - t)
            if (b - t) * (ri - le) <= 16 * size[0] * size[1]:
                rgb = to_rgb(im.read(window=win))
                prov = idr.read(1, window=win).astype(np.int64)
                x = torch.from_numpy(rgb.astype(np.float32) / 255.0)[None]
                x = F.interpolate(x, size, mode="bilinear", align_corners=False)[0]
                xs[j] = np.clip(np.round(x.numpy() * 255.0), 0, 255).astype(np.uint8)
                mk = torch.from_numpy((table.lut[prov] == k + 1).astype(np.float32))
                ms[j, 0] = F.interpolate(mk[None, None], size, mode="nearest")[0, 0].numpy()
            else:
                rgb = to_rgb(im.read(window=win, out_shape=(im.count, *size),
                                     resampling=Resampling.bilinear))
                prov = idr.read(1, window=win, out_shape=size,
                                resampling=Resampling.nearest).astype(np.int64)
                xs[j] = rgb
                ms[j, 0] = table.lut[prov] == k + 1
    return xs, ms


def scc_on_raster(image: Path, psa: Path, scc: Any, to_rgb: Callable[[np.ndarray], np.ndarray],
                  tmpdir: Path, strip_rows: int = 512, progress: bool = False
                  ) -> tuple[Path, np.ndarray, dict[str, Any]]:
    """One SCC over all components of the PSA raster; ``(ids raster, result lut, info)``.

    ``result[id]`` is the output class of component ``id`` (255: dropped or none).
    """
    import torch

    from .connectivity import _MEAN, _STD
    from .scc import connectivity_thresholds, keep_mask

    ids = tmpdir / "component_ids.tif"
    table = label_components(psa, ids, strip_rows)
    result = np.full(len(table.lut), IGNORE_INDEX, np.int64)
    info: dict[str, Any] = {"components": len(table)}
    big = np.nonzero(table.area >= scc.config.min_area)[0]
    if big.size == 0:
        return ids, result[table.lut], info
    xs, ms = _crops(image, ids, table, scc.config.crop_size, to_rgb, big)
    x = (torch.from_numpy(xs).float() / 255.0 - _MEAN) / _STD
    m = torch.from_numpy(ms).float()
    y = torch.from_numpy(table.label[big])
    scc.fit(x, m, y, progress=progress)
    loss, score, pred = scc.score(x, m, y)
    thr = connectivity_thresholds(loss, score, pred, scc.config.ratio)
    keep = keep_mask(loss, score, thr, scc.config.filter_mode)
    new = pred if scc.config.relabel else y.numpy()
    comp_result = np.full(len(table) + 1, IGNORE_INDEX, np.int64)
    comp_result[big + 1] = np.where(keep, new, IGNORE_INDEX)
    info.update(classified=int(big.size), kept=int(keep.sum()))
    return ids, comp_result[table.lut], info


def _validate(image: Path, pseudo: Path, output: Path, bands: list[int]) -> Any:
    from ...raster.io import check_coregistered, raster_info

    info = check_coregistered([image, pseudo])
    pinfo = raster_info(pseudo)
    if pinfo.count != 1:
        raise InvalidInputError(
            f"pseudo-label raster {str(pseudo)!r} must have one band, it has {pinfo.count}"
        )
    if np.dtype(pinfo.dtype).kind == "f":
        raise InvalidInputError(
            f"pseudo-label raster {str(pseudo)!r} has float dtype {pinfo.dtype}; class ids "
            "must be integers"
        )
    if len(bands) != 3:
        raise InvalidInputError(f"three image bands are needed (R, G, B), got {bands}")
    for b in bands:
        if not 1 <= b <= info.count:
            raise InvalidInputError(
                f"band {b} does not exist in {str(image)!r}, which has {info.count} band(s)"
            )
    if output.suffix.lower() not in (".tif", ".tiff", ".png"):
        raise InvalidInputError(f"output {str(output)!r} must end with .tif, .tiff or .png")
    return info


def refine_raster(
    image: str | Path,
    pseudo: str | Path,
    output: str | Path,
    seco: Any,
    *,
    bands: tuple[int, ...] | list[int] = (1, 2, 3),
    tile_size: int = 1024,
    overlap: int = 64,
    progress: bool = True,
    psa_output: str | Path | None = None,
) -> dict[str, Any]:
    """Refine a pseudo-label raster with SeCo; write a label GeoTIFF (or PNG) atomically.

    Args:
        image: RGB (or multi-band) raster; ``bands`` picks three 1-based bands.
        pseudo: one-band label raster on the same grid (class ids, 255 = ignore; its
            nodata pixels are ignored too).
        output: ``.tif`` (georeferenced, uint8, nodata 255) or ``.png`` (8-bit).
        seco: a :class:`~.model.SeCo` (``seco.scc is None``: PSA only).
        tile_size / overlap: PSA tiling of :func:`predict_raster`; also the strip height
            of the component pass.
        psa_output: optionally also write the PSA labels (GeoTIFF) there.

    Returns:
        ``{"output", "labelled_fraction", "classes", "components", ...}``.

    Raises:
        InvalidInputError / CoregistrationError: wrong band count, rasters on different
            grids, labels outside ``0..K-1``/255, unreadable files.
    """
    import rasterio
    from rasterio.windows import Window

    from ...io import atomic_path
    from ...raster.engine import predict_raster
    from .pipeline import _stretch, _to_uint8

    image, pseudo, output = Path(image), Path(pseudo), Path(output)
    band_list = [int(b) for b in bands]
    info = _validate(image, pseudo, output, band_list)
    lo, hi = _stretch(image, band_list)
    sel = [b - 1 for b in band_list]
    n_img = info.count

    def to_rgb(arr: np.ndarray) -> np.ndarray:
        """``(C, h, w)`` image window -> ``(3, h, w)`` uint8 (the PSA stretch)."""
        return _to_uint8(np.asarray(arr, dtype=np.float64)[sel], lo, hi)

    def psa_kernel(tile: np.ndarray, ctx: Any) -> np.ndarray:
        valid = ctx.valid(ctx.row_off, ctx.col_off, tile.shape[1], tile.shape[2])
        rgb = _to_uint8(tile[sel], lo, hi).transpose(1, 2, 0)
        lab = np.where(valid, tile[n_img], IGNORE_INDEX)
        if not np.isfinite(lab).all() or not np.all(lab == np.round(lab)):
            raise InvalidInputError(f"pseudo-label raster {str(pseudo)!r} holds non-integers")
        if not (lab != IGNORE_INDEX).any():
            return np.full((1, *lab.shape), IGNORE_INDEX, dtype=np.float32)
        psa_lab: np.ndarray = np.asarray(seco.psa(rgb, lab.astype(np.int64)))
        return psa_lab[None].astype(np.float32)

    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".seco-") as tmpdir:
        tmp = Path(tmpdir)
        psa = tmp / "psa.tif"
        predict_raster(
            [image, pseudo], psa, psa_kernel, out_bands=1, tile_size=tile_size,
            overlap=min(overlap, max(0, (tile_size - 1) // 2)), blend="none",
            out_dtype="uint8", out_nodata=IGNORE_INDEX, band_descriptions=["seco_psa"],
            progress=progress,
        )
        extra: dict[str, Any] = {}
        if seco.scc is not None:
            ids, result, extra = scc_on_raster(image, psa, seco.scc, to_rgb, tmp,
                                               strip_rows=max(1, tile_size), progress=progress)
        labelled = 0
        seen: set[int] = set()
        with rasterio.open(psa) as src:
            profile = src.profile.copy()
            h, w = src.height, src.width
        profile.update(dtype="uint8", nodata=IGNORE_INDEX, count=1)
        final = tmp / "labels.tif"
        strip = max(1, tile_size)
        with rasterio.open(final, "w", **profile) as dst:
            dst.set_band_description(1, "seco_label")
            src_path = psa if seco.scc is None else ids
            with rasterio.open(src_path) as src:
                for r0 in range(0, h, strip):
                    win = Window(0, r0, w, min(strip, h - r0))
                    arr = src.read(1, window=win).astype(np.int64)
                    out = arr if seco.scc is None else result[arr]
                    labelled += int((out != IGNORE_INDEX).sum())
                    seen.update(int(v) for v in np.unique(out) if v != IGNORE_INDEX)
                    dst.write(out.astype(np.uint8)[None], window=win)
        if psa_output is not None:
            with atomic_path(Path(psa_output)) as t:
                Path(t).write_bytes(psa.read_bytes())
        if output.suffix.lower() == ".png":
            from PIL import Image

            with rasterio.open(final) as src:
                arr = src.read(1)  # PNG output: the label map is held in memory
            with atomic_path(output) as t:
                Image.fromarray(arr.astype(np.uint8), "L").save(t, format="PNG")
        else:
            with atomic_path(output) as t:
                Path(final).replace(t)
    return {"output": output, "labelled_fraction": labelled / float(h * w),
            "classes": sorted(seen), **extra}
