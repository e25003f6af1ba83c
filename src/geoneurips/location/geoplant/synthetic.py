"""A synthetic GeoPlant world for the demo: species driven by climate AND land cover.

Each species has a climatic optimum (temperature, precipitation; Gaussian niche of width
``niche``) and one preferred land-cover class (presence probability divided by ~7 on the
other classes). Surveys lie on a lon/lat window where climate follows a smooth gradient
plus a local deviation (relief), and land cover is a fine-grained mosaic independent of
location. The modalities each carry part of the signal:

- bioclimatic cube ``[4, 19, 12]``: temperature and precipitation (with seasonality,
  year-to-year and measurement noise) and no land cover;
- Landsat cube ``[6, 4, 21]``: a noisy spectral signature of the land cover plus a noisy
  temperature trace (partial on both);
- Sentinel-2 patch ``[4, p, p]``: the land cover as a texture orientation (stripes at 0, 45,
  90, 135 degrees) with random brightness and contrast; no climate;
- environmental CSVs (the tabular baselines' inputs): the 19 bioclimatic averages computed
  from the same cube, the Landsat values, and a coarse land-cover product that agrees with
  the plot's land cover in half the surveys (as point products disagree with plots).

Training and test surveys come from different seeds of the same world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Surveys", "World", "make_world", "sample_surveys"]

N_COVER = 4


@dataclass(frozen=True)
class World:
    """Species niches: climatic optima ``(S, 2)``, preferred cover ``(S,)``, niche width."""

    optimum: np.ndarray
    habitat: np.ndarray
    niche: float
    off_habitat: float
    signature: np.ndarray  # (N_COVER, 6) Landsat spectral signatures

    @property
    def num_species(self) -> int:
        return len(self.habitat)


@dataclass(frozen=True)
class Surveys:
    """Drawn surveys: arrays in survey order, plus the tables written to disk."""

    ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    cover: np.ndarray
    labels: np.ndarray
    long: pd.DataFrame
    cubes: dict[str, np.ndarray]
    sentinel: np.ndarray
    env: dict[str, pd.DataFrame]
    landsat_values: pd.DataFrame


def make_world(seed: int = 0, num_species: int = 100, niche: float = 0.8) -> World:
    """Draw species niches and land-cover signatures."""
    rng = np.random.default_rng(seed)
    return World(
        optimum=rng.uniform(-1.6, 1.6, (num_species, 2)),
        habitat=rng.integers(0, N_COVER, num_species),
        niche=niche,
        off_habitat=0.15,
        signature=rng.normal(0.0, 1.0, (N_COVER, 6)),
    )


def _sentinel(rng: np.random.Generator, cover: np.ndarray, size: int) -> np.ndarray:
    n = len(cover)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    theta = cover * np.pi / 4
    phase = rng.uniform(0, 2 * np.pi, n)
    u = xx[None] * np.cos(theta)[:, None, None] + yy[None] * np.sin(theta)[:, None, None]
    wave = np.sin(2 * np.pi * u / 4.0 + phase[:, None, None])
    out = np.empty((n, 4, size, size))
    for b in range(4):
        base = rng.uniform(70, 180, n)[:, None, None]
        amp = rng.uniform(20, 50, n)[:, None, None]
        out[:, b] = base + amp * wave + rng.normal(0, 12, (n, size, size))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def sample_surveys(
    world: World, n: int, seed: int, patch_size: int = 16, first_id: int = 1_000_000
) -> Surveys:
    """Draw ``n`` surveys: labels, cubes, patches, environmental tables and long metadata."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(0.0, 8.0, n)
    lat = rng.uniform(42.0, 50.0, n)
    temp = (46.0 - lat) / 3.0 + rng.normal(0, 0.5, n)
    prec = (lon - 4.0) / 3.0 + rng.normal(0, 0.5, n)
    cover = rng.integers(0, N_COVER, n)
    clim = np.stack([temp, prec], 1)
    d2 = ((clim[:, None, :] - world.optimum[None]) ** 2).sum(-1)
    aff = np.where(cover[:, None] == world.habitat[None], 1.0, world.off_habitat)
    prob = 0.9 * np.exp(-d2 / (2 * world.niche**2)) * aff
    labels = (rng.random(prob.shape) < prob).astype(np.float32)

    # Bioclim cube [4 vars, 19 years, 12 months]; a survey-level microclimate offset that no
    # modality sees keeps climate only partly known.
    seen_t = temp + rng.normal(0, 0.25, n)
    seen_p = prec + rng.normal(0, 0.25, n)
    month = np.cos(2 * np.pi * (np.arange(12) - 6.5) / 12.0)
    yearly = rng.normal(0, 0.3, (n, 4, 19, 1))
    bio = np.empty((n, 4, 19, 12))
    bio[:, 0] = 100 + 40 * seen_t[:, None, None] + 80 * month[None, None]
    bio[:, 1] = 600 + 150 * seen_p[:, None, None] - 100 * month[None, None]
    bio[:, 2] = 50 + 30 * seen_t[:, None, None] + 60 * month[None, None]
    bio[:, 3] = 300 + 80 * seen_p[:, None, None] + 20 * seen_t[:, None, None]
    bio = bio * (1 + 0.05 * yearly) + rng.normal(0, 10, bio.shape)

    # Landsat cube [6 bands, 4 quarters, 21 years]: noisy cover signature + temperature.
    pheno = np.array([0.0, 0.6, 1.0, 0.3])
    sig = world.signature[cover] + rng.normal(0, 1.2, (n, 6))
    land = 20 * sig[:, :, None, None] * (1 + pheno[None, None, :, None])
    land[:, 4] += 15 * (temp + rng.normal(0, 0.8, n))[:, None, None]
    land = 100 + land + rng.normal(0, 8, (n, 6, 4, 21))
    land[rng.random(land.shape) < 0.02] = np.nan  # cloud gaps, as in the published cubes

    sentinel = _sentinel(rng, cover, patch_size)
    ids = first_id + np.arange(n) * 7 + rng.integers(0, 7, n)

    stats = [bio.mean((2, 3)), bio.std((2, 3)), bio.max(3).mean(2), bio.min(3).mean(2),
             bio.mean(3).std(2)]
    bioclim_avg = np.concatenate(stats, 1)[:, :19]
    env_bio = pd.DataFrame({"surveyId": ids, **{f"Bio{i + 1}": bioclim_avg[:, i]
                                                 for i in range(19)}})
    coarse = np.where(rng.random(n) < 0.5, cover, rng.integers(0, N_COVER, n))
    env_lc = pd.DataFrame({"surveyId": ids, "LandCover": 10 * (coarse + 1)})
    values: dict[str, np.ndarray] = {"surveyId": ids}
    bands = ("blue", "green", "red", "nir", "swir1", "swir2")
    for b, name in enumerate(bands):
        for y in range(21):
            for q in range(4):
                values[f"{name}:{2000 + y}_{q + 1}"] = land[:, b, q, y]
    rows = []
    for i in range(n):
        for s in np.flatnonzero(labels[i]):
            rows.append((lon[i], lat[i], 2020, 10.0, 100.0, "CONTINENTAL", "Synthetia",
                         float(s), int(ids[i])))
        if not labels[i].any():  # a survey with no species keeps one row, speciesId empty
            rows.append((lon[i], lat[i], 2020, 10.0, 100.0, "CONTINENTAL", "Synthetia",
                         np.nan, int(ids[i])))
    long = pd.DataFrame(rows, columns=["lon", "lat", "year", "geoUncertaintyInM", "areaInM2",
                                       "region", "country", "speciesId", "surveyId"])
    return Surveys(
        ids=ids, lon=lon, lat=lat, cover=cover, labels=labels, long=long,
        cubes={"landsat": land.astype(np.float32), "bioclim": bio.astype(np.float32)},
        sentinel=sentinel, env={"bioclimatic": env_bio, "landcover": env_lc},
        landsat_values=pd.DataFrame(values),
    )
