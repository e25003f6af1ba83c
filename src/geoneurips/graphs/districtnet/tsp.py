"""Expected TSP cost of a district (sample average over demand scenarios) and the
continuous-approximation baselines (Beardwood-Halton-Hammersley, Figliozzi).

Demand model (ours; the published C++ generator is not ported): in each scenario the
number of customers of BU ``i`` is Poisson with mean ``rate * population_i / mean
population``, placed uniformly in a disc of the BU's area about its centre. A district's
route starts and ends at the depot. Tours: nearest neighbour + 2-opt to a local optimum
(exact for up to 3 customers); the paper uses LKH-3 with 100 scenarios.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .data import City

__all__ = [
    "Scenarios",
    "bhh_features",
    "expected_tsp_cost",
    "fit_linear",
    "sample_scenarios",
    "tour_length",
    "two_opt_tour",
]

Scenarios = list[list[NDArray[np.float64]]]  # scenario -> BU -> (k, 2) customer points


def sample_scenarios(city: City, n_scenarios: int, seed: int, rate: float = 1.5) -> Scenarios:
    """Customer locations per scenario and BU (common random numbers for all districts)."""
    rng = np.random.default_rng(seed)
    lam = rate * city.population / max(float(city.population.mean()), 1e-9)
    radius = np.sqrt(city.area / np.pi)
    out: Scenarios = []
    for _ in range(n_scenarios):
        per_bu = []
        for i in range(city.n):
            k = int(rng.poisson(lam[i]))
            r = radius[i] * np.sqrt(rng.uniform(size=k))
            a = rng.uniform(0, 2 * np.pi, k)
            per_bu.append(city.xy[i] + np.stack([r * np.cos(a), r * np.sin(a)], 1))
        out.append(per_bu)
    return out


def tour_length(points: NDArray[np.float64], order: NDArray[np.intp]) -> float:
    """Length of the closed tour visiting ``points[order]``."""
    p = points[order]
    return float(np.linalg.norm(p - np.roll(p, -1, axis=0), axis=1).sum())


def two_opt_tour(points: NDArray[np.float64]) -> NDArray[np.intp]:
    """Closed tour through ``points`` (row 0 = depot): nearest neighbour, then 2-opt."""
    m = len(points)
    d = np.linalg.norm(points[:, None] - points[None], axis=2)
    order = [0]
    left = set(range(1, m))
    while left:
        last = order[-1]
        nxt = min(left, key=lambda j: (d[last, j], j))
        order.append(nxt)
        left.discard(nxt)
    tour = np.array(order, dtype=np.intp)
    improved = m > 3
    while improved:
        improved = False
        for i in range(0, m - 2):
            a, b = tour[i], tour[i + 1]
            c = tour[i + 2:]
            dn = np.roll(tour, -1)[i + 2:]
            delta = d[a, c] + d[b, dn] - d[a, b] - d[c, dn]
            j = int(np.argmin(delta))
            if delta[j] < -1e-10:
                jj = i + 2 + j
                tour[i + 1: jj + 1] = tour[i + 1: jj + 1][::-1].copy()
                improved = True
    return tour


def expected_tsp_cost(city: City, district: frozenset[int] | list[int],
                      scenarios: Scenarios) -> float:
    """Sample-average cost of the depot-to-depot tour through the district's customers."""
    total = 0.0
    bus = sorted(district)
    for sc in scenarios:
        pts = np.concatenate([city.depot[None], *[sc[b] for b in bus]], 0)
        if len(pts) > 1:
            total += tour_length(pts, two_opt_tour(pts))
    return total / len(scenarios)


def bhh_features(city: City, district: frozenset[int] | list[int], rate: float = 1.5,
                 kind: str = "bhh") -> NDArray[np.float64]:
    """Regressors of the continuous approximations for one district.

    ``bhh`` (Beardwood-Halton-Hammersley): ``[2 d, sqrt(n A)]``; ``fig`` (Figliozzi 2008's
    form): ``[2 d, sqrt(n A) (n - 1) / n, sqrt(A / n), 1]``, with ``n`` the expected number
    of customers, ``A`` the district area and ``d`` the depot-to-centroid distance. The
    coefficients are fitted by least squares on training districts (:func:`fit_linear`)."""
    b = sorted(district)
    n = max(rate * float(city.population[b].sum()) / max(float(city.population.mean()), 1e-9),
            1e-6)
    area = float(city.area[b].sum())
    centroid = (city.xy[b] * city.area[b, None]).sum(0) / max(area, 1e-12)
    d = float(np.linalg.norm(centroid - city.depot))
    if kind == "bhh":
        return np.array([2 * d, np.sqrt(n * area)])
    return np.array([2 * d, np.sqrt(n * area) * max(n - 1, 0.0) / n, np.sqrt(area / n), 1.0])


def fit_linear(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Least-squares coefficients of ``y ~ x``."""
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return np.asarray(coef, dtype=np.float64)
