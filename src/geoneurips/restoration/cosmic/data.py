"""fMoW-rgb reader (the imagery COSMIC trains and tests on) and a fixture writer.

Published layout of fMoW-rgb (Christie et al., CVPR 2018; https://github.com/fMoW/dataset),
which COSMIC uses (Sec. 4.1: fMoW RGB images with their sensor metadata)::

    <root>/train/<category>/<category>_<n>/<category>_<n>_<k>_rgb.jpg
    <root>/train/<category>/<category>_<n>/<category>_<n>_<k>_rgb.json
    <root>/val/...                      (same as train)
    <root>/test/<seq>/<seq>_<k>_rgb.jpg (+ .json; no category folder)

(``_msrgb`` files are the multispectral-derived variant; ``image_type="msrgb"`` reads them.)
Each JSON carries the per-image metadata; the keys used here are ``gsd`` (metres),
``timestamp`` (ISO 8601, e.g. ``"2016-02-29T10:19:21Z"``), ``cloud_cover`` (percent),
``raw_location`` (WKT ``POLYGON ((lon lat, ...))`` of the image footprint, whose vertex mean
gives the coordinates), ``utm``, ``img_width``/``img_height`` and ``bounding_boxes``
(``[{"ID", "box": [x, y, w, h], "category"}]``).

A sample is ``{"image": float32 (3, H, W) in [0, 1], "metadata": float32 (7,) in
:data:`~geoneurips.restoration.cosmic.model.METADATA_FIELDS` order (NaN where missing),
"label": int64 category index (-1 in the test split)}``.

:func:`synthetic_scene` draws satellite-like RGB scenes (parcels, roads, buildings) whose
appearance depends on the metadata (latitude and month set the palette, GSD the scale of
objects), so that the metadata conditioning has something to use.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from ...errors import DataNotFoundError, InvalidInputError
from ...io import atomic_path, write_json
from .model import METADATA_FIELDS

__all__ = [
    "FMOW_CATEGORIES",
    "FMoWRGB",
    "parse_metadata",
    "synthetic_scene",
    "write_fixture",
]

#: The 62 fMoW categories (label index = position).
FMOW_CATEGORIES: tuple[str, ...] = (
    "airport", "airport_hangar", "airport_terminal", "amusement_park", "aquaculture",
    "archaeological_site", "barn", "border_checkpoint", "burial_site", "car_dealership",
    "construction_site", "crop_field", "dam", "debris_or_rubble", "educational_institution",
    "electric_substation", "factory_or_powerplant", "fire_station", "flooded_road", "fountain",
    "gas_station", "golf_course", "ground_transportation_station", "helipad", "hospital",
    "impoverished_settlement", "interchange", "lake_or_pond", "lighthouse", "military_facility",
    "multi-unit_residential", "nuclear_powerplant", "office_building", "oil_or_gas_facility",
    "park", "parking_lot_or_garage", "place_of_worship", "police_station", "port", "prison",
    "race_track", "railway_bridge", "recreational_facility", "road_bridge", "runway",
    "shipyard", "shopping_mall", "single-unit_residential", "smokestack", "solar_farm",
    "space_facility", "stadium", "storage_tank", "surface_mine", "swimming_pool", "toll_booth",
    "tower", "tunnel_opening", "waste_disposal", "water_treatment_facility", "wind_farm", "zoo",
)

_URL = "https://github.com/fMoW/dataset (fMoW-rgb, e.g. s3://spacenet-dataset/Hosted-Datasets/fmow/fmow-rgb)"
_LAYOUT = "<root>/<split>/<category>/<category>_<n>/<category>_<n>_<k>_rgb.{jpg,json}"


def _parse_polygon_centre(wkt: str) -> tuple[float, float]:
    """Mean vertex (lon, lat) of a WKT ``POLYGON ((lon lat, ...))`` (closing vertex dropped)."""
    start, end = wkt.find("(("), wkt.rfind("))")
    if not wkt.strip().upper().startswith("POLYGON") or start < 0 or end < 0:
        raise InvalidInputError(f"raw_location is not a WKT POLYGON: {wkt[:60]!r}")
    pts = []
    for pair in wkt[start + 2:end].split(","):
        parts = pair.split()
        if len(parts) < 2:
            raise InvalidInputError(f"bad vertex {pair!r} in raw_location")
        pts.append((float(parts[0]), float(parts[1])))
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts = pts[:-1]
    arr = np.asarray(pts)
    lon, lat = float(arr[:, 0].mean()), float(arr[:, 1].mean())
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInputError(f"raw_location centre ({lon}, {lat}) is not lon/lat degrees")
    return lon, lat


def parse_metadata(record: dict[str, Any]) -> np.ndarray:
    """fMoW JSON record -> float32 vector in ``METADATA_FIELDS`` order (NaN if missing)."""
    out = dict.fromkeys(METADATA_FIELDS, float("nan"))
    if record.get("raw_location"):
        out["lon"], out["lat"] = _parse_polygon_centre(str(record["raw_location"]))
    for key in ("gsd", "cloud_cover"):
        if record.get(key) is not None:
            out[key] = float(record[key])
    if record.get("timestamp"):
        ts = str(record["timestamp"]).replace("Z", "+00:00")
        try:
            when = datetime.fromisoformat(ts)
        except ValueError as exc:
            raise InvalidInputError(f"bad fMoW timestamp {record['timestamp']!r}") from exc
        out["year"], out["month"], out["day"] = float(when.year), float(when.month), float(when.day)
    return np.array([out[f] for f in METADATA_FIELDS], dtype=np.float32)


class FMoWRGB(Dataset[dict[str, Any]]):
    """fMoW-rgb images with their sensor metadata (a ``torch.utils.data.Dataset`` with
    TorchGeo's ``NonGeoDataset`` interface: dict samples, ``plot``).

    It subclasses ``torch.utils.data.Dataset`` rather than TorchGeo's ``NonGeoDataset`` (which
    adds nothing but the abstract methods and ``__str__``) because importing
    ``torchgeo.datasets`` costs several CPU seconds, a third of the quick demo; TorchGeo has
    no fMoW reader to compare with.

    Args:
        root: folder holding ``train/``, ``val/``, ``test/`` (see the module docstring).
        split: ``"train"``, ``"val"``, ``"test"`` or ``"seq"``.
        image_type: ``"rgb"`` or ``"msrgb"``.
        crop_size: if given, a centred ``crop_size`` square is returned (COSMIC uses 256).
        transforms: optional callable applied to the sample dict.

    Raises:
        DataNotFoundError: the split folder or its images are missing.
    """

    def __init__(self, root: str | Path, split: str = "train", image_type: str = "rgb",
                 crop_size: int | None = None,
                 transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        if split not in ("train", "val", "test", "seq"):
            raise InvalidInputError(f"split must be train/val/test/seq, got {split!r}")
        if image_type not in ("rgb", "msrgb"):
            raise InvalidInputError(f"image_type must be rgb or msrgb, got {image_type!r}")
        self.root = Path(root)
        self.split = split
        self.crop_size = crop_size
        self.transforms = transforms
        folder = self.root / split
        files = sorted(folder.glob(f"**/*_{image_type}.json")) if folder.is_dir() else []
        self.files = [f for f in files if f.with_suffix(".jpg").is_file()]
        if not self.files:
            raise DataNotFoundError("fMoW-rgb", self.root, [f"{split}/**/*_{image_type}.json "
                                                           "with its .jpg"], _URL, _LAYOUT)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch
        from PIL import Image, UnidentifiedImageError

        path = self.files[index]
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path}: unreadable fMoW JSON ({exc})") from exc
        img_path = path.with_suffix(".jpg")
        try:
            with Image.open(img_path) as im:
                arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        except (OSError, UnidentifiedImageError) as exc:
            raise InvalidInputError(f"{img_path}: cannot decode the JPEG ({exc})") from exc
        if self.crop_size is not None:
            h, w = arr.shape[:2]
            c = self.crop_size
            if h < c or w < c:
                raise InvalidInputError(f"{img_path}: image {h}x{w} smaller than crop {c}")
            top, left = (h - c) // 2, (w - c) // 2
            arr = arr[top:top + c, left:left + c]
        label = -1
        boxes = record.get("bounding_boxes") or []
        if isinstance(boxes, dict):
            boxes = [boxes]
        if self.split in ("train", "val") and boxes:
            cat = boxes[0].get("category")
            label = FMOW_CATEGORIES.index(cat) if cat in FMOW_CATEGORIES else -1
        sample: dict[str, Any] = {
            "image": torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))),
            "metadata": torch.from_numpy(parse_metadata(record)),
            "label": torch.tensor(label, dtype=torch.int64),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(self, sample: dict[str, Any], show_titles: bool = True,
             suptitle: str | None = None) -> Any:
        """Show the image (and a reconstruction under ``"prediction"`` if present)."""
        from ...demo import new_figure

        keys = [k for k in ("image", "prediction") if k in sample]
        fig, axes = new_figure(len(keys), 1)
        meta = sample["metadata"].numpy()
        for ax, key in zip(axes[0], keys, strict=True):
            ax.imshow(np.clip(sample[key].numpy().transpose(1, 2, 0), 0, 1))
            ax.axis("off")
            if show_titles:
                ax.set_title(f"{key}  lat {meta[1]:.2f} lon {meta[0]:.2f} gsd {meta[2]:.2f}")
        if suptitle:
            fig.suptitle(suptitle)
        return fig


# ----------------------------------------------------------------------- synthetic scenes


def synthetic_scene(rng: np.random.Generator, size: int, lat: float, month: float,
                    gsd: float) -> np.ndarray:
    """A satellite-like RGB scene ``(size, size, 3)`` in [0, 1].

    Voronoi parcels (crop fields) with slight texture, straight roads and rectangular
    buildings with shadows over a smooth background. Latitude and month set the palette
    (greener in the local summer and near the equator, browner otherwise); the GSD sets the
    scale of every object (a coarser GSD makes objects fewer pixels wide).
    """
    scale = 1.0 / max(gsd, 0.1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    summer = math.cos(2 * math.pi * (month - (7 if lat >= 0 else 1)) / 12)
    green = float(np.clip(0.5 + 0.3 * summer - abs(lat) / 200, 0.05, 0.95))
    base = np.array([0.45 - 0.2 * green, 0.35 + 0.25 * green, 0.25], dtype=np.float32)
    n_parcels = max(3, int(size * size / (40 * scale) ** 2))
    seeds = rng.uniform(0, size, (n_parcels, 2)).astype(np.float32)
    d = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
    owner = np.argmin(d, axis=-1)
    colours = np.clip(base + rng.normal(0, 0.08, (n_parcels, 3)), 0, 1).astype(np.float32)
    img = colours[owner]
    # low-frequency background modulation and parcel texture (stripes of ploughed fields)
    phase = rng.uniform(0, 2 * np.pi, n_parcels)[owner]
    angle = rng.uniform(0, np.pi, n_parcels)[owner]
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 0.8 * scale ** 0.5 + phase)
    img = img * (1 + 0.05 * stripes[..., None])
    img = img + 0.05 * np.sin(xx / size * 3 + rng.uniform(0, 6))[..., None]
    # roads
    for _ in range(int(rng.integers(1, 4))):
        theta = rng.uniform(0, np.pi)
        c = rng.uniform(0.2 * size, 0.8 * size)
        dist = np.abs((xx - size / 2) * np.cos(theta) + (yy - size / 2) * np.sin(theta)
                      - (c - size / 2))
        img[dist < max(1.0, 1.5 * scale ** 0.5)] = 0.55 + rng.uniform(-0.05, 0.05)
    # buildings with a shadow on the south-east side
    for _ in range(int(rng.integers(3, 9))):
        bh, bw = (rng.integers(3, 9, 2) * max(scale ** 0.5, 0.5)).astype(int) + 2
        y0, x0 = rng.integers(0, size - bh - 2), rng.integers(0, size - bw - 2)
        img[y0 + 2:y0 + bh + 2, x0 + 2:x0 + bw + 2] *= 0.5
        img[y0:y0 + bh, x0:x0 + bw] = rng.uniform(0.65, 0.9, 3)
    img = img + rng.normal(0, 0.01, img.shape)
    out: np.ndarray = np.clip(img, 0, 1).astype(np.float32)
    return out


def _footprint(lon: float, lat: float, half: float) -> str:
    pts = [(lon - half, lat - half), (lon + half, lat - half), (lon + half, lat + half),
           (lon - half, lat + half), (lon - half, lat - half)]
    return "POLYGON ((" + ", ".join(f"{a:.6f} {b:.6f}" for a, b in pts) + "))"


def write_fixture(root: str | Path, n_train: int = 24, n_val: int = 6, size: int = 192,
                  seed: int = 0, categories: tuple[str, ...] = ("crop_field", "airport",
                                                                 "single-unit_residential"),
                  ) -> Path:
    """Write a small fMoW-rgb tree of :func:`synthetic_scene` images in the published layout.

    Images are written as quality-95 4:4:4 JPEGs (fMoW-rgb ships JPEGs), each with its
    ``_rgb.json`` record (gsd, timestamp, cloud_cover, raw_location, utm, bounding_boxes ...).
    Returns ``root``.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = Path(root)
    counters: dict[str, int] = {}
    for split, n in (("train", n_train), ("val", n_val)):
        for i in range(n):
            cat = categories[i % len(categories)]
            k = counters.get(cat, 0)
            counters[cat] = k + 1
            lat = float(rng.uniform(-60, 60))
            lon = float(rng.uniform(-170, 170))
            month = int(rng.integers(1, 13))
            gsd = float(rng.uniform(0.4, 1.6))
            img = synthetic_scene(rng, size, lat, month, gsd)
            name = f"{cat}_{k}_0_rgb"
            folder = root / split / cat / f"{cat}_{k}"
            folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(folder / f"{name}.jpg") as tmp:
                Image.fromarray((img * 255 + 0.5).astype(np.uint8)).save(
                    tmp, format="JPEG", quality=95, subsampling=0)
            zone = int((lon + 180) // 6) + 1
            record = {
                "img_filename": f"{name}.jpg",
                "img_width": size,
                "img_height": size,
                "gsd": gsd,
                "utm": f"{zone}{'N' if lat >= 0 else 'M'}",
                "timestamp": f"{int(rng.integers(2002, 2018))}-{month:02d}-"
                             f"{int(rng.integers(1, 29)):02d}T10:{int(rng.integers(0, 60)):02d}:"
                             "00Z",
                "cloud_cover": int(rng.integers(0, 30)),
                "country_code": "XXX",
                "raw_location": _footprint(lon, lat, size * gsd / 2 / 111_000),
                "scan_direction": "Forward",
                "off_nadir_angle_dbl": float(rng.uniform(0, 30)),
                "sun_azimuth_dbl": float(rng.uniform(0, 360)),
                "sun_elevation_dbl": float(rng.uniform(20, 80)),
                "target_azimuth_dbl": float(rng.uniform(0, 360)),
                "pan_resolution_dbl": gsd / 4,
                "multi_resolution_dbl": gsd,
                "bounding_boxes": [{"ID": 1000 * i + k, "box": [size // 4, size // 4,
                                                                size // 2, size // 2],
                                    "category": cat}],
            }
            write_json(folder / f"{name}.json", record)
    return root
