"""Writers of the GLC24 presence-absence layout (tests and the demo use them).

:func:`write_split` writes one split exactly as :class:`~.data.GeoPlantPA` and the readers
of :mod:`.data` expect it (metadata CSV, Sentinel-2 JPEG trees, ``.pt`` cubes,
environmental and Landsat-value CSVs); :func:`write_fixture` fills it with random values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from geoneurips.errors import InvalidInputError
from geoneurips.io import atomic_path
from geoneurips.location.geoplant.data import (
    CUBE_SHAPES,
    ENV_DIR,
    ENV_TABLES,
    LANDSAT_BANDS,
    _check_split,
    cube_path,
    patch_path,
)

__all__ = ["write_fixture", "write_split"]


def _save_jpeg(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="JPEG", quality=95)


def write_split(
    root: str | Path,
    split: str,
    long: pd.DataFrame,
    cubes: Mapping[str, np.ndarray],
    sentinel: np.ndarray | None,
    survey_ids: Sequence[int],
    env: Mapping[str, pd.DataFrame] | None = None,
    landsat_values: pd.DataFrame | None = None,
) -> Path:
    """Write one split in the published layout.

    Args:
        root: output folder.
        split: ``"train"`` or ``"test"``.
        long: the long metadata table (``speciesId`` dropped for ``"test"``).
        cubes: ``{"landsat": (N, 6, 4, 21), "bioclim": (N, 4, 19, 12)}`` (any subset).
        sentinel: ``(N, 4, H, W)`` uint8 R, G, B, NIR patches, or None.
        survey_ids: the N survey ids, in the order of the arrays.
        env: table name (``ENV_TABLES``) -> DataFrame with a ``surveyId`` column.
        landsat_values: per-band value columns, written as the six band CSVs; its columns
            are ``"{band}:{name}"`` plus ``surveyId``.
    """
    import torch

    root = Path(root)
    _check_split(split)
    table = long.drop(columns=["speciesId"]) if split == "test" and "speciesId" in long else long
    meta = root / f"GLC24_PA_metadata_{split}.csv"
    meta.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(meta) as tmp:
        table.to_csv(tmp, index=False)
    for m, arr in cubes.items():
        if arr.shape[1:] != CUBE_SHAPES[m] or len(arr) != len(survey_ids):
            raise InvalidInputError(f"{m} cubes must be (N, {CUBE_SHAPES[m]}), got {arr.shape}")
        for sid, cube in zip(survey_ids, arr, strict=True):
            p = cube_path(root, split, sid, m)
            p.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(p) as tmp:
                torch.save(torch.as_tensor(np.ascontiguousarray(cube), dtype=torch.float32), tmp)
    if sentinel is not None:
        if sentinel.dtype != np.uint8 or sentinel.ndim != 4 or sentinel.shape[1] != 4:
            raise InvalidInputError(f"sentinel must be (N, 4, H, W) uint8, got {sentinel.shape}")
        for sid, patch in zip(survey_ids, sentinel, strict=True):
            _save_jpeg(patch[:3].transpose(1, 2, 0), patch_path(root, split, sid, "rgb"))
            _save_jpeg(patch[3], patch_path(root, split, sid, "nir"))
    for name, df in (env or {}).items():
        p = root / ENV_DIR / ENV_TABLES[name].format(split=split)
        p.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(p) as tmp:
            df.to_csv(tmp, index=False)
    if landsat_values is not None:
        for band in LANDSAT_BANDS:
            cols = [c for c in landsat_values.columns if c.startswith(f"{band}:")]
            df = landsat_values[["surveyId", *cols]].rename(columns=lambda c: c.split(":")[-1])
            p = root / f"PA-{split}-landsat_time_series/GLC24-PA-{split}-landsat_time_series-{band}.csv"
            p.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(p) as tmp:
                df.to_csv(tmp, index=False)
    return root


def write_fixture(
    root: str | Path,
    n_surveys: int = 6,
    num_species: int = 12,
    patch_size: int = 128,
    seed: int = 0,
    splits: Sequence[str] = ("train", "test"),
) -> dict[str, dict[int, list[int]]]:
    """A small random dataset in the published GLC24 layout; returns the species per survey.

    Survey ids have 6-7 digits (so the ``CD/AB`` tree has real depth) and each survey holds
    1-5 species, written as several rows of the long table (floats, as published).
    """
    rng = np.random.default_rng(seed)
    truth: dict[str, dict[int, list[int]]] = {}
    for k, split in enumerate(splits):
        ids = [int(v) for v in rng.choice(np.arange(100_000, 4_000_000), n_surveys, False)]
        rows, labels = [], {}
        for sid in ids:
            lon, lat = rng.uniform(-10, 30), rng.uniform(36, 70)
            sp = sorted(int(v) for v in rng.choice(num_species, rng.integers(1, 6), False))
            labels[sid] = sp
            for s in sp:
                rows.append({"lon": lon, "lat": lat, "year": 2017 + k, "geoUncertaintyInM": 10.0,
                             "areaInM2": float("-inf") if s % 5 == 0 else 100.0,
                             "region": "CONTINENTAL", "country": "France",
                             "speciesId": float(s), "surveyId": sid})
        cubes = {m: rng.normal(300, 50, (n_surveys, *CUBE_SHAPES[m])).astype(np.float32)
                 for m in CUBE_SHAPES}
        cubes["landsat"][0, 0, 0, 0] = np.nan  # the published cubes have gaps
        s2 = rng.integers(0, 256, (n_surveys, 4, patch_size, patch_size), dtype=np.uint8)
        env = {"bioclimatic": pd.DataFrame(
            {"surveyId": ids, **{f"Bio{i}": rng.normal(size=n_surveys) for i in range(1, 20)}}),
            "landcover": pd.DataFrame({"surveyId": ids, "LandCover": rng.integers(1, 12, n_surveys)})}
        write_split(root, split, pd.DataFrame(rows), cubes, s2, ids, env)
        truth[split] = labels
    return truth
