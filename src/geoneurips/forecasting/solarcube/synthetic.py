"""Synthetic SolarCube tiles in the published layout (the fixture writer).

No real SolarCube file is available offline, so tests and the demo write their own tiles:
smooth cloud fields advected across the tile at a speed and direction drawn per day, a
diurnal cycle from solar geometry, and every published type derived from them:

- ``sza`` from latitude, longitude (per pixel), declination and the hour of day;
- clear-sky GHI ``= 1360 cos(sza) * 0.75`` and ``ssr = GHI_clear * (1 - 0.75 c)`` for cloud
  cover ``c`` in [0, 1];
- ``vis047``/``vis086`` reflectance rising with ``c``, ``ir133`` brightness temperature
  falling with ``c``, ``cm = c > 0.5``;
- the station's 1-minute irradiance: ``ssr`` at the station pixel interpolated to minutes,
  plus small noise.

Assumptions where the published files say nothing: steps where any pixel has ``sza >= 85`` deg
are marked
invalid in the index for every satellite type (night), and the rightmost tenth of a tile is
ocean (``ssr`` fill). Integers are int16 with ``scale_factor`` and ``fillvalue`` (also written
as ``_FillValue``) attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geoneurips.forecasting.solarcube.data import IMAGE_TYPES, SOLAR_CONSTANT, solarsat_path

__all__ = ["ENCODING", "FILL", "TRANSMITTANCE", "simulate_tile", "write_fixture"]

FILL = -32768
#: type -> scale_factor of the int16 encoding.
ENCODING = {"vis047": 1e-4, "vis086": 1e-4, "ir133": 0.01, "ssr": 0.1, "sza": 0.01, "cm": 1.0}
#: Clear-sky transmittance of the synthetic atmosphere (so ``normalize_max`` gives 0.75 k).
TRANSMITTANCE = 0.75
STEPS_PER_DAY = 96
#: Steps where any pixel's solar zenith angle reaches this are night (invalid, see above).
NIGHT_SZA = 85.0


def _smooth_field(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal((n, n)), sigma, mode="wrap")
    out: np.ndarray = (f - f.mean()) / (f.std() + 1e-12)
    return out


def simulate_tile(
    rng: np.random.Generator, *, days: int, size: int, lat0: float, lon0: float,
    doy0: int = 172, speed: tuple[float, float] = (0.01, 0.03), cloud_scale: float = 0.12,
) -> dict[str, np.ndarray]:
    """Physical cubes ``(T, size, size)`` of one tile (T = 96 ``days``) and its cloud cover.

    Each day gets its own cloud field, speed (tile fractions per 15-min step, drawn in
    ``speed``), direction and cloud amount; the field (white noise smoothed by a Gaussian of
    ``cloud_scale`` tile widths) is advected rigidly through the tile. Every day's motion is
    new, so a forecaster has to infer it from the input frames (a linear model of the frames
    cannot shift by a velocity it does not know; see tests/forecasting/test_solarcube_demo.py).
    Night steps (any pixel at ``sza >=`` :data:`NIGHT_SZA`, written as fill for every type
    but ``sza``) are cloud-free, so that only the daytime fields cost an interpolation.
    """
    from scipy.ndimage import map_coordinates

    t_all = days * STEPS_PER_DAY
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    lat = np.deg2rad(lat0 - 6.0 * yy / size)
    lon = lon0 + 6.0 * xx / size
    out: dict[str, np.ndarray] = {k: np.zeros((t_all, size, size)) for k in (*IMAGE_TYPES, "c")}
    big = 4 * size
    for d in range(days):
        field = _smooth_field(rng, big, sigma=cloud_scale * size)
        v = rng.uniform(*speed) * size
        ang = rng.uniform(0, 2 * np.pi)
        vy, vx = v * np.sin(ang), v * np.cos(ang)
        thr = rng.uniform(-0.6, 0.7)
        y0, x0 = rng.uniform(size, 2 * size, 2)
        doy = doy0 + d
        dec = np.deg2rad(23.44 * np.sin(2 * np.pi * (284 + doy) / 365))
        day = slice(d * STEPS_PER_DAY, (d + 1) * STEPS_PER_DAY)
        steps = np.arange(STEPS_PER_DAY, dtype=np.float64)[:, None, None]
        ha = np.deg2rad((steps / 4.0 + lon / 15.0 - 12.0) * 15.0)
        cosz = np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * np.cos(ha)
        sza = np.rad2deg(np.arccos(np.clip(cosz, -1, 1)))
        c = np.zeros_like(sza)  # night: clear sky (only the station sees it)
        light = np.flatnonzero(~(sza >= NIGHT_SZA).any(axis=(1, 2)))
        if light.size:
            s = steps[light]
            coords = np.stack([np.broadcast_to((yy + y0 - vy * s) % big, s.shape[:1] + yy.shape),
                               np.broadcast_to((xx + x0 - vx * s) % big, s.shape[:1] + xx.shape)])
            f = map_coordinates(field, coords, order=1, mode="grid-wrap")
            c[light] = 1.0 / (1.0 + np.exp(-(f - thr) / 0.4))
        clear = SOLAR_CONSTANT * np.clip(cosz, 0, None) * TRANSMITTANCE
        out["sza"][day] = sza
        out["c"][day] = c
        out["ssr"][day] = clear * (1.0 - 0.75 * c)
        out["vis047"][day] = 0.08 + 0.6 * c
        out["vis086"][day] = 0.12 + 0.55 * c
        out["ir133"][day] = 285.0 - 45.0 * c + rng.normal(0, 0.5, c.shape)
        out["cm"][day] = c > 0.5
    return out


def _write_hdf(path: Path, typ: str, cube: np.ndarray, invalid: np.ndarray,
               ocean: np.ndarray | None) -> None:
    import h5py

    from geoneurips.io import atomic_path

    scale = ENCODING[typ]
    raw = np.round(cube / scale).clip(-32767, 32767).astype(np.int16)
    raw[invalid] = FILL
    if ocean is not None:
        raw[:, ocean] = FILL
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            ds = f.create_dataset(typ, data=raw, chunks=(min(96, raw.shape[0]), *raw.shape[1:]))
            ds.attrs["scale_factor"] = np.float64(scale)
            ds.attrs["fillvalue"] = np.int16(FILL)
            ds.attrs["_FillValue"] = np.int16(FILL)


def write_fixture(
    root: str | Path, *, tiles: Sequence[int] = (1, 5), year: int = 2018, days: int = 1,
    size: int = 120, seed: int = 0, gaps: int = 2, insitu_noise: float = 5.0,
    speed: tuple[float, float] = (0.01, 0.03), cloud_scale: float = 0.12,
) -> dict[str, Any]:
    """Write SolarCube files for ``tiles`` into ``root`` in the published layout.

    Files: ``SolarSat_{year}_{tile}_{type}.hdf`` for every type, ``{tile}_{year}_index.csv``,
    ``solarcube_sitelist.csv`` and ``solarcube_insitu.csv`` (1-minute rows). ``gaps`` random
    daytime steps per tile are written as fill and marked invalid. Each tile draws its clouds
    from ``seed`` and its tile number, so a tile's scenes never depend on the other tiles.

    Returns ``{"truth": {tile: cubes incl. cloud cover "c"}, "sites": DataFrame}``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    t_all = days * STEPS_PER_DAY
    site_rows, insitu, truth = [], {}, {}
    for tile in tiles:
        rng = np.random.default_rng([seed, int(tile)])
        lat0, lon0 = 30.0 + (int(tile) % 7) * 2.0, -100.0 + (int(tile) % 5) * 4.0
        cubes = simulate_tile(rng, days=days, size=size, lat0=lat0, lon0=lon0, speed=speed,
                              cloud_scale=cloud_scale)
        truth[int(tile)] = cubes
        night: np.ndarray = np.asarray((cubes["sza"] >= NIGHT_SZA).any(axis=(1, 2)))
        gap_steps = rng.choice(np.flatnonzero(~night), size=min(gaps, int((~night).sum())),
                               replace=False)
        invalid_t: np.ndarray = night.copy()
        invalid_t[gap_steps] = True
        ocean = np.zeros((size, size), dtype=bool)
        ocean[:, size - max(1, size // 10):] = True
        index = {}
        for typ in IMAGE_TYPES:
            bad: np.ndarray = invalid_t if typ != "sza" else np.zeros(t_all, dtype=bool)
            bad_cube = np.broadcast_to(bad[:, None, None], cubes[typ].shape)
            _write_hdf(solarsat_path(root, year, tile, typ), typ, cubes[typ], bad_cube,
                       ocean if typ == "ssr" else None)
            index[typ] = (~bad).astype(int)
        # station: published order, read back as cube[:, fCol, fLine]
        f_line, f_col = int(size * 0.3), int(size * 0.55)
        site_id = 100 + int(tile)
        px = cubes["ssr"][:, f_col, f_line]
        minutes = np.arange(t_all * 15) / 15.0
        one_min = np.interp(minutes, np.arange(t_all), px)
        one_min = np.clip(one_min + rng.normal(0, insitu_noise, one_min.shape), 0, None)
        insitu[str(site_id)] = np.round(one_min, 2)
        index["insitu"] = np.ones(t_all, dtype=int)
        pd.DataFrame(index).to_csv(root / f"{tile}_{year}_index.csv", index=False)
        site_rows.append({
            "tile_id": int(tile), "id": site_id, "fLine": f_line, "fCol": f_col,
            "time_offset": round(lon0 / 15.0), "lon_ulcnr": lon0, "lon_lrcnr": lon0 + 6.0,
            "lat_ulcnr": lat0, "lat_lrcnr": lat0 - 6.0,
            "lons": lon0 + 6.0 * f_line / size, "lats": lat0 - 6.0 * f_col / size,
            "name": f"synthetic station {site_id}",
        })
    sites = pd.DataFrame(site_rows)
    sites.to_csv(root / "solarcube_sitelist.csv", index=False)
    pd.DataFrame(insitu).to_csv(root / "solarcube_insitu.csv", index=False)
    return {"truth": truth, "sites": sites}
