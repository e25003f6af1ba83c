"""MMM-RS text-image pairs: the annotation reader, the GeoTIFF-folder builder, a fixture.

**Released format.** The dataset is distributed on Baidu/Quark disks; the public repo shows
only a figure of one annotation (Fig. 1: image, SAR image, information-rich prompt) and the
supplement says the original labels (``category``, ``spatial_resolution``,
``cloud_cover``) are kept beside the prompt. **The JSON schema itself could not be
retrieved**, so the reader accepts what we assume it to be and says so:

- one JSON file (a list of records, or ``{"images"|"annotations"|"data": [...]}``, or JSON
  lines) with per record an image path (``image`` / ``file_name`` / ``img_path`` /
  ``image_path``, relative to the file's folder) and a prompt (``prompt`` / ``text`` /
  ``caption_prompt``); optional ``gsd`` / ``spatial_resolution`` (m/pixel), ``weather``,
  ``caption``, ``satellite``, ``modality``, ``category``, ``cloud_cover``, and a paired
  image (``sar_image`` / ``paired_image``) for the cross-modal pairs.

**Our builder's layout** (what :func:`build_from_geotiffs` and :func:`write_fixture`
write, and the reader reads)::

    OUT/annotations.json                  list of records (fields above plus gsd_level,
                                          kind, source, source_gsd, upscaled)
    OUT/images/<source stem>/<kind>.jpg   clear standardised images
    OUT/weather/<weather>/<source stem>/<kind>.jpg   fog / low_light / snow versions

The builder writes everything into a temporary folder next to ``OUT`` and renames it into
place only when complete.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch.utils.data import Dataset

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.vision_language.mmmrs.builder import (
    GSD_BINS,
    WEATHERS,
    Crop,
    apply_weather,
    build_prompt,
    gsd_level,
    multi_gsd_crops,
    standardize,
    weather_list,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "MMMRS",
    "MMMRS_URL",
    "build_from_arrays",
    "build_from_geotiffs",
    "geotiff_gsd",
    "load_arrays",
    "read_annotations",
    "read_geotiff_rgb",
    "write_fixture",
]

MMMRS_URL = "https://github.com/ljl5261/MMM-RS (Baidu / Quark disk links in the README)"

_IMAGE_KEYS = ("image", "file_name", "img_path", "image_path", "path")
_PROMPT_KEYS = ("prompt", "text", "caption_prompt")


def read_annotations(path: str | Path) -> list[dict[str, Any]]:
    """Records of an MMM-RS-style annotation file (schema assumed, see the module doc),
    normalised to the keys ``image`` (absolute path), ``prompt`` and the optional fields.

    Raises:
        DataNotFoundError: the file does not exist.
        InvalidInputError: not JSON / JSON lines, or a record without image or prompt.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError("MMM-RS annotations", p.parent, [p.name], MMMRS_URL,
                                "<root>/annotations.json beside the image folders")
    text = p.read_text(encoding="utf-8")
    try:
        obj: Any = json.loads(text)
    except json.JSONDecodeError:
        try:
            obj = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{p}: neither JSON nor JSON lines ({exc})") from exc
    if isinstance(obj, Mapping) and any(k in obj for k in _IMAGE_KEYS):
        obj = [obj]
    if isinstance(obj, Mapping):
        for key in ("images", "annotations", "data"):
            if isinstance(obj.get(key), list):
                obj = obj[key]
                break
        else:
            obj = [dict(v, image=k) if isinstance(v, Mapping) and "image" not in v else v
                   for k, v in obj.items()]
    if not isinstance(obj, list):
        raise InvalidInputError(f"{p}: expected a list of records")
    out = []
    for i, rec in enumerate(obj):
        if not isinstance(rec, Mapping):
            raise InvalidInputError(f"{p}: record {i} is not an object")
        img = next((rec[k] for k in _IMAGE_KEYS if k in rec), None)
        prompt = next((rec[k] for k in _PROMPT_KEYS if k in rec), None)
        if img is None or prompt is None:
            raise InvalidInputError(f"{p}: record {i} has no image path ({'/'.join(_IMAGE_KEYS)})"
                                    f" or no prompt ({'/'.join(_PROMPT_KEYS)})")
        r = dict(rec)
        r["image"] = str(p.parent / str(img))
        r["prompt"] = str(prompt)
        if "gsd" not in r and "spatial_resolution" in r:
            r["gsd"] = r["spatial_resolution"]
        out.append(r)
    return out


class MMMRS(Dataset[dict[str, Any]]):
    """MMM-RS text-image pairs (the assumed annotation schema; see the module doc).

    Samples: ``image`` float tensor ``(C, H, W)`` in [0, 1], ``prompt`` (str), and where
    known ``gsd`` (float tensor, m/pixel), ``gsd_level`` (long tensor, index into
    :data:`GSD_BINS`), ``weather`` (long tensor, index into :data:`WEATHERS`).

    Args:
        root: folder holding the annotation file and the images.
        annotation: file name of the annotation JSON.
        transforms: optional callable on the sample dict.
    """

    def __init__(self, root: str | Path, annotation: str = "annotations.json",
                 transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataNotFoundError("MMM-RS", self.root, [annotation], MMMRS_URL,
                                    f"<root>/{annotation} and the image folders")
        self.records = read_annotations(self.root / annotation)
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch
        from PIL import Image

        rec = self.records[i]
        path = Path(rec["image"])
        if not path.is_file():
            raise DataNotFoundError("MMM-RS image", path.parent, [path.name], MMMRS_URL)
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        sample: dict[str, Any] = {"image": torch.from_numpy(arr.transpose(2, 0, 1).copy()),
                                  "prompt": rec["prompt"]}
        if rec.get("gsd") is not None:
            g = float(rec["gsd"])
            sample["gsd"] = torch.tensor(g)
            sample["gsd_level"] = torch.tensor(gsd_level(g))
        if rec.get("weather") in WEATHERS:
            sample["weather"] = torch.tensor(WEATHERS.index(rec["weather"]))
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(self, sample: Mapping[str, Any], show_titles: bool = True,
             suptitle: str | None = None) -> Figure:
        """The image with its prompt as title."""
        from geoneurips.demo import new_figure

        fig, axes = new_figure(1, 1, size=4.0)
        img = np.asarray(sample["image"]).transpose(1, 2, 0)
        axes[0, 0].imshow(np.clip(img, 0, 1))
        axes[0, 0].set_axis_off()
        if show_titles:
            txt = str(sample.get("prompt", ""))
            axes[0, 0].set_title("\n".join(txt[i:i + 40] for i in range(0, len(txt), 40)),
                                 fontsize=8)
        if suptitle:
            fig.suptitle(suptitle)
        return fig


def geotiff_gsd(path: str | Path) -> float:
    """Ground sample distance (m/pixel) from a GeoTIFF's transform.

    Projected CRS: the pixel size in the CRS's linear unit converted to metres (Web
    Mercator is scaled by ``cos(latitude)`` of the centre to give ground metres). Geographic
    CRS: degrees converted at the centre latitude. The mean of the x and y sizes is used.

    Raises:
        InvalidInputError: no CRS or an identity transform (no georeference).
    """
    from rasterio.warp import transform as warp_xy

    with _open(path) as ds:
        t, crs = ds.transform, ds.crs
        w, h = ds.width, ds.height
    if crs is None or t.is_identity:
        raise InvalidInputError(f"{path}: no georeference (CRS and transform) to read the GSD "
                                "from; pass the GSD explicitly (--gsd)")
    px, py = math.hypot(t.a, t.d), math.hypot(t.b, t.e)
    cx, cy = t @ (w / 2, h / 2)
    if crs.is_geographic:
        lat = math.radians(cy)
        return float((px * 111_320.0 * math.cos(lat) + py * 110_574.0) / 2)
    unit = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
    size = (px + py) / 2 * float(unit)
    if crs.to_epsg() in (3857, 900913):
        _, lats = warp_xy(crs, "EPSG:4326", [cx], [cy])
        size *= math.cos(math.radians(lats[0]))
    return float(size)


def _open(path: str | Path) -> Any:
    import rasterio

    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"{p}: no such file")
    try:
        return rasterio.open(p)
    except rasterio.errors.RasterioIOError as exc:
        raise InvalidInputError(f"{p}: not a readable raster ({exc})") from exc


def _stretch(a: np.ndarray, valid: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    out = np.zeros(a.shape, np.float32)
    for c in range(a.shape[2]):
        v = a[:, :, c][valid]
        if v.size == 0:
            continue
        lo, hi = np.percentile(v, [2, 98])
        out[:, :, c] = np.clip((a[:, :, c].astype(np.float64) - lo) / max(hi - lo, 1e-12), 0, 1)
    return out


def read_geotiff_rgb(path: str | Path, side: int | None = None,
                     bands: Sequence[int] | None = None) -> np.ndarray:
    """The centre square window (``side`` px, default ``min(H, W)``) of a GeoTIFF as float RGB
    in [0, 1]: uint8 divided by 255, other types stretched per band between the 2nd and
    98th percentiles; no-data pixels are 0; one band is repeated to grey RGB. Only the
    window is read.

    Args:
        path: GeoTIFF.
        side: side of the centre window.
        bands: 1-based band indices (default: the first three, or the only one).
    """
    from rasterio.windows import Window

    p = Path(path)
    with _open(p) as ds:
        n = ds.count
        bl = list(bands) if bands else ([1, 2, 3] if n >= 3 else [1])
        if any(b < 1 or b > n for b in bl) or len(bl) not in (1, 3):
            raise InvalidInputError(f"{p}: bands {bl} invalid for {n} bands (need 1 or 3)")
        s = min(ds.width, ds.height) if side is None else side
        if s > min(ds.width, ds.height):
            raise InvalidInputError(f"{p}: window {s} larger than the raster")
        win = Window((ds.width - s) // 2, (ds.height - s) // 2, s, s)
        a = ds.read(bl, window=win).transpose(1, 2, 0)
        valid = np.ones(a.shape[:2], bool)
        if ds.nodata is not None:
            valid = ~np.all(a == ds.nodata, axis=2)
        masks = ds.read_masks(bl[0], window=win)
        valid &= masks > 0
    out = _stretch(a, valid)
    out[~valid] = 0.0
    return np.repeat(out, 3, axis=2) if out.shape[2] == 1 else out


def _save_image(path: Path, img: np.ndarray, fmt: str) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    u8 = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
    im = Image.fromarray(u8[:, :, :3] if u8.shape[2] >= 3 else u8[:, :, 0])
    if fmt == "jpg":
        im.save(path, "JPEG", quality=95)
    else:
        im.save(path, "PNG")


def _crops(img: np.ndarray, gsd: float, tile: int, max_crop: int,
           corner_crops: bool) -> list[Crop]:
    if min(img.shape[:2]) >= 2 * tile:
        return multi_gsd_crops(img, gsd, tile, max_crop, corner_crops)
    return [standardize(img, gsd, tile)]


def build_from_arrays(items: Sequence[tuple[str, np.ndarray, float]], out: str | Path, *,
                      tile: int = 512, weathers: Sequence[str] = WEATHERS,
                      caption: str = "a satellite image", satellite: str = "",
                      captions: Mapping[str, str] | None = None,
                      image_format: str = "jpg", max_crop: int = 4096,
                      corner_crops: bool = True, seed: int = 0,
                      overwrite: bool = False) -> Path:
    """Build an MMM-RS-style folder from in-memory images ``(stem, (H, W, 3) in [0, 1], gsd)``.

    Each image gives multi-GSD crops (when at least ``2 * tile`` on a side) or one
    standardised image; every output image is written clear and under each other weather
    of ``weathers`` with its prompt. Written atomically (temporary folder, then rename).
    """
    weathers = weather_list(weathers)
    if image_format not in ("jpg", "png"):
        raise InvalidInputError(f"image_format must be 'jpg' or 'png', got {image_format!r}")
    if tile < 8:
        raise InvalidInputError(f"tile must be at least 8 px, got {tile}")
    dest = Path(out)
    if dest.exists() and any(dest.iterdir()) and not overwrite:
        raise InvalidInputError(f"{dest} exists and is not empty (pass overwrite=True / "
                                "--overwrite)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    rng = np.random.default_rng(seed)
    records: list[dict[str, Any]] = []
    try:
        for stem, img, gsd in items:
            cap = (captions or {}).get(stem, caption)
            for crop in _crops(img, gsd, tile, max_crop, corner_crops):
                for w in weathers:
                    rel = (Path("images") / stem if w == "clear"
                           else Path("weather") / w / stem) / f"{crop.kind}.{image_format}"
                    _save_image(tmp / rel, apply_weather(crop.image, w, rng), image_format)
                    records.append({
                        "image": rel.as_posix(),
                        "prompt": build_prompt(crop.gsd, w, cap, satellite),
                        "gsd": round(crop.gsd, 6), "gsd_level": GSD_BINS[gsd_level(crop.gsd)][1],
                        "weather": w, "caption": cap, "satellite": satellite,
                        "modality": "RGB", "source": stem, "source_gsd": gsd,
                        "kind": crop.kind,
                        "upscaled": crop.upscaled,
                        "upscaler": "bicubic (paper: Real-ESRGAN)" if crop.upscaled else "",
                    })
        (tmp / "annotations.json").write_text(json.dumps(records, indent=1))
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def build_from_geotiffs(folder: str | Path, out: str | Path, *, tile: int = 512,
                        weathers: Sequence[str] = WEATHERS, caption: str = "a satellite image",
                        satellite: str = "", gsd: float | None = None,
                        bands: Sequence[int] | None = None, image_format: str = "jpg",
                        max_crop: int = 4096, seed: int = 0, overwrite: bool = False) -> Path:
    """The MMM-RS builder on a folder of GeoTIFFs (``*.tif``, ``*.tiff``).

    The GSD of each file comes from its transform (:func:`geotiff_gsd`) unless ``gsd`` is
    given. Only the centre square window a file needs is read (at most ``max_crop`` px for
    multi-GSD crops, else ``min(H, W)`` < ``2 * tile``). Captions are the given ``caption``
    (the paper's BLIP captions need a VLM; none is run here).

    Raises:
        InvalidInputError: no GeoTIFF in ``folder``, a file without georeference and no
            ``gsd``, or bad options.
    """
    src = Path(folder)
    if not src.is_dir():
        raise InvalidInputError(f"{src}: not a folder")
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in (".tif", ".tiff"))
    if not files:
        raise InvalidInputError(f"{src}: no GeoTIFF (*.tif, *.tiff) found")
    if gsd is not None and not gsd > 0:
        raise InvalidInputError(f"gsd must be positive, got {gsd}")

    def items() -> Any:
        for f in files:
            g = gsd if gsd is not None else geotiff_gsd(f)
            with _open(f) as ds:
                side = min(ds.width, ds.height)
            if side >= 2 * tile:
                lv = 2 * tile
                while lv * 2 <= min(side, max_crop):
                    lv *= 2
                side = lv
            yield f.stem, read_geotiff_rgb(f, side, bands), g

    return build_from_arrays(list(items()), out, tile=tile, weathers=weathers, caption=caption,
                             satellite=satellite, image_format=image_format, max_crop=max_crop,
                             seed=seed, overwrite=overwrite)


def write_fixture(root: str | Path, n_scenes: int = 2, scene_px: int = 64, tile: int = 16,
                  source_gsd: float = 0.3, seed: int = 0, weathers: Sequence[str] = WEATHERS,
                  image_format: str = "png") -> Path:
    """Synthetic GeoTIFF scenes (``root/geotiffs``, UTM, ``source_gsd`` m) built into an
    MMM-RS folder (``root/mmmrs``) with :func:`build_from_geotiffs`."""
    from geoneurips.vision_language.mmmrs.synthetic import write_scene_geotiffs

    base = Path(root)
    tifs = write_scene_geotiffs(base / "geotiffs", n_scenes, scene_px, source_gsd, seed)
    return build_from_geotiffs(tifs, base / "mmmrs", tile=tile, weathers=weathers,
                               satellite="GeoSim", image_format=image_format, seed=seed,
                               caption="a satellite image of a town", overwrite=True)


def load_arrays(ds: MMMRS) -> dict[str, Any]:
    """The whole dataset as arrays: images ``(N, C, H, W)``, gsd levels, weather indices,
    prompts and sources (the demo trains on it many times)."""
    import torch

    samples = [ds[i] for i in range(len(ds))]
    return {
        "image": torch.stack([s["image"] for s in samples]),
        "gsd_level": torch.stack([s["gsd_level"] for s in samples]),
        "weather": torch.stack([s["weather"] for s in samples]),
        "prompt": [s["prompt"] for s in samples],
        "source": [str(r.get("source", "")) for r in ds.records],
    }
