"""A synthetic photo world on the real GeoCLIP gallery, for G3's demo.

Locations are rows of GeoCLIP's real 100k GPS gallery (the MP16 photo distribution),
jittered by a few kilometres. A photo's pixels carry location signal: a fixed random
multi-scale function of the location (random Fourier features of the 3-D unit vector at
wavelengths of 4000, 1000, 250 and 60 km, 48 features each) rendered as an 8x8x3 block image
upsampled to 32x32 and saved as JPEG, plus per-photo noise; a fraction of photos ("indoor")
carry no signal at all. Address fields come from the nearest of fixed random centres at
three levels (country / state / city), named ``"country 7"`` and so on.

Every method and baseline of the demo sees the same JPEGs through the same frozen tiny
image tower; nothing else about a query reaches any of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "World",
    "addresses",
    "clean_photos",
    "make_world",
    "render_photos",
    "sample_locations",
]

EARTH_KM = 6371.0
_WAVELENGTHS_KM = (4000.0, 1000.0, 250.0, 60.0)
_PER_SCALE = 48
_LEVELS = {"country": 40, "state": 200, "city": 1000}


def _xyz(latlon: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(latlon[:, 0]), np.radians(latlon[:, 1])
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], 1)


@dataclass
class World:
    """The fixed parts of a world: gallery, frequencies, phases, address centres."""

    gallery: np.ndarray
    omegas: np.ndarray
    phases: np.ndarray
    centres: dict[str, np.ndarray]
    noise: float
    indoor: float


def make_world(
    gallery: np.ndarray, seed: int, noise: float = 0.9, indoor: float = 0.15
) -> World:
    """A world drawn from ``seed`` over ``gallery`` ``(M, 2)`` (lat, lon)."""
    rng = np.random.default_rng(seed)
    om = []
    for lam in _WAVELENGTHS_KM:
        om.append(rng.standard_normal((_PER_SCALE, 3)) * (2 * np.pi * EARTH_KM / lam) / np.sqrt(3))
    centres = {
        k: gallery[rng.choice(len(gallery), n, replace=False)] for k, n in _LEVELS.items()
    }
    return World(
        gallery=gallery,
        omegas=np.concatenate(om),
        phases=rng.uniform(0, 2 * np.pi, len(_WAVELENGTHS_KM) * _PER_SCALE),
        centres=centres,
        noise=noise,
        indoor=indoor,
    )


def sample_locations(
    world: World, rows: np.ndarray, rng: np.random.Generator, jitter_km: float = 2.0
) -> np.ndarray:
    """Gallery ``rows`` jittered by ``N(0, jitter_km)`` in each direction (lat, lon)."""
    base = world.gallery[rows]
    dlat = rng.standard_normal(len(rows)) * jitter_km / 111.2
    dlon = rng.standard_normal(len(rows)) * jitter_km / (111.2 * np.cos(np.radians(base[:, 0])) + 1e-6)
    lat = np.clip(base[:, 0] + dlat, -89.9, 89.9)
    lon = (base[:, 1] + dlon + 180.0) % 360.0 - 180.0
    return np.stack([lat, lon], 1)


def addresses(world: World, latlon: np.ndarray) -> dict[str, list[str]]:
    """Address fields from the nearest centre at each level (plus a continent by sign)."""
    u = _xyz(latlon)
    out: dict[str, list[str]] = {}
    for level, c in world.centres.items():
        nearest = np.argmax(u @ _xyz(c).T, axis=1)
        out[level] = [f"{level} {i}" for i in nearest]
    out["continent"] = [f"continent {int(a > 0)}{int(b > 0)}" for a, b in latlon]
    return out


def signal(world: World, latlon: np.ndarray) -> np.ndarray:
    """The noiseless location signal ``(N, 192)`` (unit variance per feature)."""
    out: np.ndarray = np.sqrt(2.0) * np.cos(_xyz(latlon) @ world.omegas.T + world.phases)
    return out


def render_photos(world: World, latlon: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(N, 32, 32, 3)`` uint8 photos: signal + noise (pure noise for "indoor" photos)."""
    s = signal(world, latlon)
    indoor = rng.random(len(latlon)) < world.indoor
    s[indoor] = 0.0
    x = s + world.noise * rng.standard_normal(s.shape) * np.where(indoor, 1.5, 1.0)[:, None]
    return _pixels(x)


def clean_photos(world: World, latlon: np.ndarray) -> np.ndarray:
    """Noiseless outdoor photos ``(N, 32, 32, 3)`` uint8: the world's expected photo at a place.

    Used only by the demo's diagnostic "ideal verifier" (a scorer that knows the world), never
    by a method or baseline.
    """
    return _pixels(signal(world, latlon))


def _pixels(x: np.ndarray) -> np.ndarray:
    px = np.clip(128.0 + 30.0 * x, 0, 255).reshape(-1, 3, 8, 8).transpose(0, 2, 3, 1)
    out: np.ndarray = np.repeat(np.repeat(px, 4, axis=1), 4, axis=2).astype(np.uint8)
    return out
