"""``geoneurips cosmic-compress`` / ``cosmic-decompress``: COSMIC on georeferenced rasters.

``cosmic-compress IMAGE.tif -o IMAGE.cosmic --checkpoint CKPT`` codes a GeoTIFF tile by tile
(``--tile`` pixels, a multiple of 64; edge tiles are padded by the codec) into one
``.cosmic`` file; ``cosmic-decompress IMAGE.cosmic -o OUT.tif --checkpoint CKPT`` decodes it
(ground decoder + diffusion compensation, ``rho = 0`` by default) into a GeoTIFF with the
original CRS, transform, size, band count, dtype, nodata and band descriptions. Both stream
one tile at a time (memory bounded by the tile size) and write their output atomically.

Values are divided by ``--scale`` (default: the dtype's maximum for integer rasters, 1 for
float rasters) and clipped to ``[0, 1]``, the range the codec was trained on; decoding
multiplies back (and rounds for integer dtypes). Pixels that are nodata (or NaN) in any band
are filled with the tile's mean before coding and restored as nodata after decoding, from a
deflated bit mask stored with each tile (counted in the file size).

The conditioning metadata of each tile (Sec. 3.3: coordinates, GSD, time, cloud cover) is
derived on both sides from the grid: lon/lat of the tile centre (reprojected to WGS 84) and
the ground sample distance in metres; the date (``--date``) and cloud cover
(``--cloud-cover``) are given at compression and stored in the header; absent fields are
NaN (the metadata encoder's null token).

File layout (little endian)::

    b"CSMG" | u16 version (1) | u32 header length | header (UTF-8 JSON)
    | per tile, row-major: u32 length | CompressedImage.to_bytes()
                           | u32 mask length | mask (zlib of numpy.packbits of the tile's
                             nodata mask; length 0 when the tile has no nodata)

The header records the grid, the value scale, the tile size, the metadata and the SHA-256 of
the checkpoint file: decoding with another checkpoint is refused (a range coder decodes
garbage silently with the wrong tables). Nothing heavy is imported at module level.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import time
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

if TYPE_CHECKING:

    from geoneurips.raster.io import RasterInfo

__all__ = ["cosmic_compress", "cosmic_decompress", "run_compress", "run_decompress"]

_MAGIC = b"CSMG"
_VERSION = 1
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tiles(height: int, width: int, tile: int) -> Iterator[tuple[int, int, int, int]]:
    """``(row, col, h, w)`` of the tiles, row-major."""
    for r in range(0, height, tile):
        for c in range(0, width, tile):
            yield r, c, min(tile, height - r), min(tile, width - c)


def _default_scale(dtype: str) -> float:
    import numpy as np

    dt = np.dtype(dtype)
    if np.issubdtype(dt, np.integer):
        return float(np.iinfo(dt).max)
    return 1.0


def _tile_metadata(info: RasterInfo, row: int, col: int, h: int, w: int,
                   fixed: dict[str, float]) -> list[float]:
    """COSMIC metadata of a tile in ``METADATA_FIELDS`` order (NaN where unknown)."""
    from rasterio.warp import transform as warp

    from .model import METADATA_FIELDS

    values = dict.fromkeys(METADATA_FIELDS, math.nan)
    values.update(fixed)
    t = info.transform
    px, py = col + w / 2.0, row + h / 2.0
    x, y = t.c + t.a * px + t.b * py, t.f + t.d * px + t.e * py
    if info.crs is not None:
        try:
            lon, lat = (v[0] for v in warp(info.crs, "EPSG:4326", [x], [y]))
        except Exception:  # noqa: BLE001 - an exotic CRS: coordinates stay unknown
            lon = lat = math.nan
        if math.isfinite(lon) and math.isfinite(lat) and abs(lat) <= 90:
            values["lon"], values["lat"] = float(lon), float(lat)
            if info.crs.is_geographic:
                values["gsd"] = abs(t.a) * 111_320.0 * max(math.cos(math.radians(lat)), 1e-6)
            elif info.crs.linear_units_factor is not None:
                values["gsd"] = abs(t.a) * float(info.crs.linear_units_factor[1])
    return [float(values[f]) for f in METADATA_FIELDS]


def _fixed_metadata(when: str | None, cloud_cover: float | None) -> dict[str, float]:
    from geoneurips.errors import InvalidInputError

    fixed: dict[str, float] = {}
    if when:
        try:
            d = date.fromisoformat(when)
        except ValueError as exc:
            raise InvalidInputError(f"--date must be YYYY-MM-DD, got {when!r}") from exc
        fixed.update(year=float(d.year), month=float(d.month), day=float(d.day))
    if cloud_cover is not None:
        if not 0 <= cloud_cover <= 100:
            raise InvalidInputError(f"--cloud-cover must be a percentage, got {cloud_cover}")
        fixed["cloud_cover"] = float(cloud_cover)
    return fixed


def run_compress(
    image: Path,
    output: Path,
    checkpoint: Path,
    *,
    scale: float | None = None,
    tile_size: int = 512,
    when: str | None = None,
    cloud_cover: float | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Compress a GeoTIFF into a ``.cosmic`` file (see the module docstring).

    Returns:
        A summary: pixels, tiles, bytes, bits per pixel (whole file), seconds.

    Raises:
        InvalidInputError: unreadable raster, wrong band count, bad options (nothing written).
        CheckpointError: unusable checkpoint.
    """
    import numpy as np
    import torch
    from rasterio.windows import Window
    from tqdm.auto import tqdm

    from geoneurips.errors import InvalidInputError
    from geoneurips.io import atomic_path
    from geoneurips.raster.io import raster_info, read_raster

    from .pipeline import load_model

    started = time.perf_counter()
    image, output = Path(image), Path(output)
    if output.resolve() == image.resolve():
        raise InvalidInputError(f"output {str(output)!r} would overwrite the input")
    if tile_size % 64 or tile_size < 64:
        raise InvalidInputError(f"--tile must be a positive multiple of 64, got {tile_size}")
    info = raster_info(image)
    fixed = _fixed_metadata(when, cloud_cover)
    model = load_model(checkpoint)
    bands = model.config.in_channels
    if info.count != bands:
        raise InvalidInputError(f"{str(image)!r} has {info.count} bands; the checkpoint codes "
                                f"{bands}-band images (e.g. RGB in R, G, B order)")
    scale = _default_scale(info.dtype) if scale is None else float(scale)
    if not (math.isfinite(scale) and scale > 0):
        raise InvalidInputError(f"--scale must be a positive number, got {scale}")
    header = {
        "width": info.width, "height": info.height, "count": info.count, "dtype": info.dtype,
        "crs": info.crs.to_wkt() if info.crs is not None else None,
        "transform": list(info.transform)[:6], "nodata": info.nodata,
        "descriptions": list(info.descriptions), "scale": scale, "tile": tile_size,
        "fixed_metadata": fixed, "checkpoint_sha256": _sha256(Path(checkpoint)),
    }
    n_tiles, clipped, n_bad = 0, 0, 0
    tiles = list(_tiles(info.height, info.width, tile_size))
    head = json.dumps(header).encode()
    with atomic_path(output) as tmp, open(tmp, "wb") as body:
        body.write(_MAGIC + _U16.pack(_VERSION) + _U32.pack(len(head)) + head)
        for r, c, h, w in tqdm(tiles, disable=not progress, desc="cosmic-compress"):
            data, _ = read_raster(image, window=Window(c, r, w, h))
            x = data.astype(np.float64) / scale
            bad = ~np.isfinite(x).all(axis=0)
            if info.nodata is not None and not math.isnan(info.nodata):
                bad |= (data == info.nodata).any(axis=0)
            n_bad += int(bad.sum())
            good = ~bad
            fill = x[:, good].mean(axis=1) if good.any() else np.full(bands, 0.5)
            x[:, bad] = fill[:, None]
            outside = np.asarray(((x < 0) | (x > 1)).any(axis=0))
            clipped += int(outside[good].sum())
            x = np.clip(x, 0.0, 1.0)
            item = model.codec.compress(torch.from_numpy(x[None].astype(np.float32)))[0]
            blob = item.to_bytes()
            packed = zlib.compress(np.packbits(bad).tobytes(), 9) if bad.any() else b""
            body.write(_U32.pack(len(blob)) + blob + _U32.pack(len(packed)) + packed)
            n_tiles += 1
    size = output.stat().st_size
    return {"input": str(image), "output": str(output), "width": info.width,
            "height": info.height, "tiles": n_tiles, "bytes": size,
            "bpp": size * 8.0 / (info.width * info.height), "nodata_pixels": n_bad,
            "clipped_pixels": clipped, "scale": scale,
            "seconds": round(time.perf_counter() - started, 3)}


def _read_exact(f: BinaryIO, n: int, what: str, path: Path) -> bytes:
    from geoneurips.errors import InvalidInputError

    data = f.read(n)
    if len(data) != n:
        raise InvalidInputError(f"{str(path)!r} is truncated (while reading {what})")
    return data


def read_header(path: Path, f: BinaryIO) -> dict[str, Any]:
    """Parse the magic, version and JSON header of an open ``.cosmic`` file."""
    from geoneurips.errors import InvalidInputError

    if _read_exact(f, 4, "the magic number", path) != _MAGIC:
        raise InvalidInputError(f"{str(path)!r} is not a COSMIC raster file (bad magic)")
    (version,) = _U16.unpack(_read_exact(f, 2, "the version", path))
    if version != _VERSION:
        raise InvalidInputError(f"{str(path)!r} has format version {version}; this "
                                f"geoneurips reads version {_VERSION}")
    (n,) = _U32.unpack(_read_exact(f, 4, "the header length", path))
    try:
        header: dict[str, Any] = json.loads(_read_exact(f, n, "the header", path))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{str(path)!r} has a corrupt header: {exc}") from exc
    return header


def run_decompress(
    stream: Path,
    output: Path,
    checkpoint: Path,
    *,
    compensate: bool = True,
    noise_scale: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Decode a ``.cosmic`` file into a GeoTIFF on the original grid (module docstring).

    Args:
        noise_scale: ``rho`` of the compensation's sampler (0: distortion-oriented, the
            default; 1: the standard, perception-oriented sampler).
        compensate: run the diffusion compensation (else the ground decoder alone).

    Raises:
        InvalidInputError: not a COSMIC raster file, truncated or corrupt (nothing written).
        CheckpointError: unusable checkpoint, or not the one the file was coded with.
    """
    import numpy as np
    import rasterio
    import torch
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.windows import Window
    from tqdm.auto import tqdm

    from geoneurips.errors import CheckpointError, InvalidInputError
    from geoneurips.io import atomic_path
    from geoneurips.raster.io import RasterInfo

    from .model import CompressedImage
    from .pipeline import load_model

    started = time.perf_counter()
    stream, output = Path(stream), Path(output)
    if not stream.is_file():
        raise InvalidInputError(f"{str(stream)!r} does not exist")
    with open(stream, "rb") as f:
        header = read_header(stream, f)
        try:
            width, height = int(header["width"]), int(header["height"])
            count, dtype, tile = int(header["count"]), str(header["dtype"]), int(header["tile"])
            scale, nodata = float(header["scale"]), header["nodata"]
            transform = Affine(*header["transform"])
            crs = CRS.from_wkt(header["crs"]) if header["crs"] else None
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"{str(stream)!r} has a corrupt header: {exc}") from exc
        if header.get("checkpoint_sha256") != _sha256(Path(checkpoint)):
            raise CheckpointError(
                f"{str(stream)!r} was coded with another checkpoint (SHA-256 "
                f"{str(header.get('checkpoint_sha256'))[:12]}...); decode it with that one")
        model = load_model(checkpoint)
        is_int = np.issubdtype(np.dtype(dtype), np.integer)
        fill = nodata if nodata is not None else (np.nan if not is_int else 0)
        info = RasterInfo(path=output, crs=crs, transform=transform, width=width,
                          height=height, count=count, dtype=dtype, nodata=nodata,
                          descriptions=tuple(header.get("descriptions") or [None] * count))
        fixed = {k: float(v) for k, v in (header.get("fixed_metadata") or {}).items()}
        tiles = list(_tiles(height, width, tile))
        gen = torch.Generator().manual_seed(seed)
        with atomic_path(output) as tmp, rasterio.open(tmp, "w", **info.profile()) as dst:
            for r, c, h, w in tqdm(tiles, disable=not progress, desc="cosmic-decompress"):
                (n,) = _U32.unpack(_read_exact(f, 4, "a tile length", stream))
                item = CompressedImage.from_bytes(_read_exact(f, n, "a tile", stream))
                if (item.height, item.width) != (h, w):
                    raise InvalidInputError(f"{str(stream)!r}: tile at ({r}, {c}) is "
                                            f"{item.height}x{item.width}, expected {h}x{w}")
                (n_mask,) = _U32.unpack(_read_exact(f, 4, "a tile mask length", stream))
                mask = np.zeros((h, w), dtype=bool)
                if n_mask:
                    try:
                        bits = np.frombuffer(
                            zlib.decompress(_read_exact(f, n_mask, "a tile mask", stream)),
                            dtype=np.uint8)
                        mask = np.unpackbits(bits, count=h * w).astype(bool).reshape(h, w)
                    except (zlib.error, ValueError) as exc:
                        raise InvalidInputError(
                            f"{str(stream)!r} has a corrupt nodata mask at tile ({r}, {c})"
                        ) from exc
                    if nodata is None and is_int:
                        raise InvalidInputError(
                            f"{str(stream)!r}: masked pixels but no nodata value")
                meta = torch.tensor([_tile_metadata(info, r, c, h, w, fixed)],
                                    dtype=torch.float32)
                out = model.reconstruct([item], meta, compensate=compensate, generator=gen,
                                        noise_scale=noise_scale)
                x = (out["x_tilde"] if compensate else out["x_hat"])[0].double().numpy() * scale
                if is_int:
                    lim = np.iinfo(np.dtype(dtype))
                    x = np.clip(np.rint(x), lim.min, lim.max)
                x[:, mask] = fill
                dst.write(x.astype(dtype), window=Window(c, r, w, h))
            if f.read(1):
                raise InvalidInputError(f"{str(stream)!r} has trailing data after the last "
                                        "tile (corrupt or concatenated)")
            for i, d in enumerate(info.descriptions, start=1):
                if d:
                    dst.set_band_description(i, d)
    return {"input": str(stream), "output": str(output), "width": width, "height": height,
            "tiles": len(tiles), "compensated": compensate, "noise_scale": noise_scale,
            "seconds": round(time.perf_counter() - started, 3)}


def _emit(summary: dict[str, Any], json_output: bool, lines: list[str]) -> None:
    if json_output:
        typer.echo(json.dumps(summary))
    else:
        for line in lines:
            typer.echo(line)


def cosmic_compress(
    image: Annotated[Path, typer.Argument(help="GeoTIFF to compress (bands as the checkpoint, "
                                                "e.g. R, G, B)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the .cosmic file to write")],
    checkpoint: Annotated[Path, typer.Option(help="COSMIC checkpoint (pipeline.save_model)")],
    scale: Annotated[float | None, typer.Option(
        help="divide values by this to get [0, 1] (default: dtype max, 1 for floats)")] = None,
    tile: Annotated[int, typer.Option(help="tile size in pixels (multiple of 64)")] = 512,
    when: Annotated[str | None, typer.Option("--date", help="acquisition date YYYY-MM-DD")] = None,
    cloud_cover: Annotated[float | None, typer.Option(help="cloud cover in percent")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Compress a GeoTIFF with COSMIC's on-board encoder into a .cosmic file."""
    s = run_compress(image, output, checkpoint, scale=scale, tile_size=tile, when=when,
                     cloud_cover=cloud_cover, progress=not json_output)
    _emit(s, json_output, [f"wrote {s['output']}: {s['bytes']} bytes, {s['bpp']:.4f} bpp, "
                           f"{s['tiles']} tiles ({s['seconds']} s)"])


def cosmic_decompress(
    stream: Annotated[Path, typer.Argument(help="a .cosmic file")],
    output: Annotated[Path, typer.Option("--output", "-o", help="GeoTIFF to write")],
    checkpoint: Annotated[Path, typer.Option(help="the checkpoint the file was coded with")],
    no_compensation: Annotated[bool, typer.Option(
        "--no-compensation", help="ground decoder only (skip the diffusion compensation)")] = False,
    rho: Annotated[float, typer.Option(
        help="initial noise scale of the compensation sampler: 0 favours PSNR, 1 realism")] = 0.0,
    seed: Annotated[int, typer.Option(help="sampler seed (rho > 0)")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Decode a .cosmic file into a georeferenced GeoTIFF (original grid and dtype)."""
    s = run_decompress(stream, output, checkpoint, compensate=not no_compensation,
                       noise_scale=rho, seed=seed, progress=not json_output)
    _emit(s, json_output, [f"wrote {s['output']}: {s['width']} x {s['height']} px, "
                           f"{s['tiles']} tiles ({s['seconds']} s)"])
