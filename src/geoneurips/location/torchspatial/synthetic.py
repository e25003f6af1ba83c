"""A global synthetic species task where spherical geometry matters (the demo's data).

Species ranges are von Mises-Fisher blobs on the sphere placed where a planar (lon, lat)
encoder sees the world wrongly: half of them cap a pole (centres at ``|lat|`` in 72-89 deg,
so a range covers every longitude near the pole and is stretched into a band in the
plane), the other half straddle the antimeridian (centres within 6 deg of lon = +-180, so a
range is cut in two pieces 360 deg apart in the plane). Species come in confusable pairs
(look-alike "twins" whose range centres lie ``twin_separation_deg`` apart on the sphere in a
random direction) that a noisy image classifier mixes up; the location must separate them.

Evaluation points come from a random stream never used for training: species geometry and
training points are drawn from ``seed`` (streams ``[seed, 0]``, ``[seed, 1]``), validation
and test points (and the image classifier's noise) from the streams ``[seed, 2]`` and
``[seed, 3]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geoneurips.errors import InvalidInputError

from .fixtures import SplitArrays

__all__ = ["SyntheticSpecies", "lonlat_to_xyz", "make_synthetic_species", "sample_vmf",
           "xyz_to_lonlat"]


@dataclass
class SyntheticSpecies:
    """A synthetic species-range task (numpy arrays, lon/lat degrees).

    Attributes:
        centers: ``(C, 2)`` range centres (lon, lat).
        kappas: ``(C,)`` von Mises-Fisher concentrations.
        splits: split name -> :class:`SplitArrays` (``test``/``valid`` have ``probs``).
        pairs: ``(C,)`` the confusable twin of every species.
        region: ``(C,)`` ``"pole"`` or ``"dateline"``.
    """

    centers: npt.NDArray[np.float64]
    kappas: npt.NDArray[np.float64]
    splits: dict[str, SplitArrays]
    pairs: npt.NDArray[np.int64]
    region: npt.NDArray[np.str_]


def lonlat_to_xyz(lonlat: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Unit vectors of ``(..., 2)`` (lon, lat) degrees."""
    lon, lat = np.radians(lonlat[..., 0]), np.radians(lonlat[..., 1])
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)


def xyz_to_lonlat(xyz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(lon, lat) degrees of ``(..., 3)`` unit vectors."""
    lon = np.degrees(np.arctan2(xyz[..., 1], xyz[..., 0]))
    lat = np.degrees(np.arcsin(np.clip(xyz[..., 2], -1, 1)))
    return np.stack([lon, lat], -1)


def sample_vmf(
    mu: npt.NDArray[np.float64], kappa: float, n: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """``n`` unit vectors from a von Mises-Fisher distribution on S^2 (exact inverse CDF)."""
    u = rng.uniform(size=n)
    w = 1.0 + np.log(u + (1.0 - u) * np.exp(-2.0 * kappa)) / kappa
    phi = rng.uniform(0, 2 * np.pi, n)
    r = np.sqrt(np.clip(1 - w * w, 0, None))
    local = np.stack([r * np.cos(phi), r * np.sin(phi), w], 1)
    v = np.array([0.0, 0.0, 1.0]) - mu
    if np.linalg.norm(v) < 1e-12:
        return local
    v = v / np.linalg.norm(v)
    h = np.eye(3) - 2 * np.outer(v, v)  # Householder reflection mapping e_z to mu
    out: npt.NDArray[np.float64] = local @ h.T
    return out


def make_synthetic_species(
    num_classes: int = 40,
    train_per_class: int = 15,
    test_per_class: int = 40,
    seed: int = 0,
    *,
    kappa_range: tuple[float, float] = (150.0, 450.0),
    twin_separation_deg: float = 10.0,
    image_strength: float = 3.3,
) -> SyntheticSpecies:
    """Pole-capping and antimeridian-straddling species ranges with confusable twins.

    The image classifier's logits are standard Gaussian noise plus ``image_strength`` on the
    true class and ``image_strength - 0.3`` on its twin, so ``P(y|I)`` often confuses twins.

    Raises:
        InvalidInputError: ``num_classes`` odd or < 2, or non-positive sizes.
    """
    if num_classes < 2 or num_classes % 2:
        raise InvalidInputError(f"num_classes must be even and >= 2, got {num_classes}")
    if train_per_class < 1 or test_per_class < 1:
        raise InvalidInputError("train_per_class and test_per_class must be >= 1")
    geo = np.random.default_rng([seed, 0])
    centers, region = [], []
    for p in range(num_classes // 2):
        if p % 2 == 0:
            lat = geo.uniform(72, 89) * geo.choice([-1.0, 1.0])
            lon = geo.uniform(-180, 180)
        else:
            lat = geo.uniform(-60, 60)
            lon = 180.0 - geo.uniform(-6, 6)
        mu = lonlat_to_xyz(np.array([lon, lat]))
        t = np.cross(mu, geo.normal(size=3))
        t /= np.linalg.norm(t)
        a = np.radians(twin_separation_deg)
        twin = np.cos(a) * mu + np.sin(a) * t
        centers += [xyz_to_lonlat(mu), xyz_to_lonlat(twin)]
        region += ["pole" if p % 2 == 0 else "dateline"] * 2
    ctr = np.stack(centers)
    kappas = geo.uniform(kappa_range[0], kappa_range[1], num_classes)
    pairs = np.arange(num_classes) ^ 1

    def draw(per_class: int, rng: np.random.Generator) -> tuple[npt.NDArray[np.float64],
                                                                  npt.NDArray[np.int64]]:
        locs = [xyz_to_lonlat(sample_vmf(lonlat_to_xyz(ctr[c]), kappas[c], per_class, rng))
                for c in range(num_classes)]
        labels = np.repeat(np.arange(num_classes, dtype=np.int64), per_class)
        return np.concatenate(locs), labels

    def image_probs(labels: npt.NDArray[np.int64], rng: np.random.Generator
                    ) -> npt.NDArray[np.float32]:
        n = labels.shape[0]
        logits = rng.normal(0.0, 1.0, (n, num_classes))
        logits[np.arange(n), labels] += image_strength
        logits[np.arange(n), pairs[labels]] += image_strength - 0.3
        z = np.exp(logits - logits.max(1, keepdims=True))
        probs: npt.NDArray[np.float32] = (z / z.sum(1, keepdims=True)).astype(np.float32)
        return probs

    splits: dict[str, SplitArrays] = {}
    tr_ll, tr_y = draw(train_per_class, np.random.default_rng([seed, 1]))
    splits["train"] = SplitArrays(tr_ll, tr_y)
    for stream, name in ((2, "valid"), (3, "test")):
        rng = np.random.default_rng([seed, stream])
        ll, y = draw(test_per_class, rng)
        splits[name] = SplitArrays(ll, y, image_probs(y, rng))
    return SyntheticSpecies(ctr, kappas, splits, pairs, np.array(region))
