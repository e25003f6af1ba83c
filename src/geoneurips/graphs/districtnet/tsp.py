"""Expected TSP cost of a district (sample average over demand scenarios) and the
continuous-approximation baselines (Beardwood-Halton-Hammersley, Figliozzi).

Demand model: the published scenario generator (``deps/Scenario`` of the DistrictNet
repository, re-implemented): in each scenario BU ``i`` has ``max(3, Binomial(population_i,
p_t))`` customers with ``p_t`` = 0.004, 0.002, 0.001, 0.0006, 0.0004 for target sizes
3, 6, 12, 20, 30 (``96 / (8000 t)`` otherwise), drawn uniformly inside the BU polygon by
rejection from its bounding box (in a disc of the BU's area when a city has no polygons).
A district's route starts and ends at the depot. Tours: nearest neighbour + 2-opt to a
local optimum (exact for up to 3 customers); the paper uses LKH-3 with 100 scenarios.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .data import City

__all__ = [
    "Scenarios",
    "bhh_features",
    "demand_probability",
    "expected_customers",
    "expected_tsp_cost",
    "fit_linear",
    "sample_scenarios",
    "tour_length",
    "two_opt_tour",
]

Scenarios = list[list[NDArray[np.float64]]]  # scenario -> BU -> (k, 2) customer points


_DEMAND_PROBABILITY = {3: 0.004, 6: 0.002, 12: 0.001, 20: 0.0006, 30: 0.0004}
MIN_CUSTOMERS = 3


def demand_probability(target: int) -> float:
    """Per-inhabitant probability of a request (the published table, ``96 / (8000 t)``
    for other target sizes)."""
    return _DEMAND_PROBABILITY.get(target, 96.0 / (8000.0 * target))


def expected_customers(city: City, target: int) -> NDArray[np.float64]:
    """Expected customers per BU, ``E[max(3, Binomial(pop, p_t))]`` approximated by
    ``max(3, pop p_t)``."""
    return np.maximum(city.population * demand_probability(target), MIN_CUSTOMERS)


def _uniform_in_ring(ring: NDArray[np.float64], k: int,
                     rng: np.random.Generator) -> NDArray[np.float64]:
    import shapely

    poly = shapely.Polygon(ring)
    lo, hi = ring.min(0), ring.max(0)
    out = np.zeros((0, 2))
    while len(out) < k:
        need = k - len(out)
        cand = rng.uniform(lo, hi, (max(8, 2 * need), 2))
        inside = shapely.contains_xy(poly, cand[:, 0], cand[:, 1])
        out = np.concatenate([out, cand[inside][:need]], 0)
    return out


def sample_scenarios(city: City, n_scenarios: int, seed: int, target: int = 3) -> Scenarios:
    """Customer locations per scenario and BU (common random numbers for all districts),
    drawn by the published generator (see the module docstring)."""
    rng = np.random.default_rng(seed)
    p = demand_probability(target)
    pop = np.maximum(np.rint(city.population), 0).astype(np.int64)
    radius = np.sqrt(city.area / np.pi)
    counts = np.maximum(rng.binomial(pop[None, :], p, (n_scenarios, city.n)), MIN_CUSTOMERS)
    per_bu: list[list[NDArray[np.float64]]] = []
    for i in range(city.n):
        total = int(counts[:, i].sum())
        if city.rings is not None:
            pts = _uniform_in_ring(city.rings[i], total, rng)
        else:
            r = radius[i] * np.sqrt(rng.uniform(size=total))
            a = rng.uniform(0, 2 * np.pi, total)
            pts = city.xy[i] + np.stack([r * np.cos(a), r * np.sin(a)], 1)
        per_bu.append(np.split(pts, np.cumsum(counts[:-1, i])))
    return [[per_bu[i][s] for i in range(city.n)] for s in range(n_scenarios)]


def tour_length(points: NDArray[np.float64], order: NDArray[np.intp]) -> float:
    """Length of the closed tour visiting ``points[order]``."""
    p = points[order]
    return float(np.linalg.norm(p - np.roll(p, -1, axis=0), axis=1).sum())


_MASKS: dict[int, tuple[NDArray[np.intp], NDArray[np.intp]]] = {}


def _move_pairs(m: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Index pairs ``(i, j)``, ``j >= i + 2``, of the 2-opt moves of an ``m``-cycle."""
    if m not in _MASKS:
        i, j = np.triu_indices(m, 2)
        keep = ~((i == 0) & (j == m - 1))
        _MASKS[m] = (i[keep].astype(np.intp), j[keep].astype(np.intp))
    return _MASKS[m]


def two_opt_tour(points: NDArray[np.float64]) -> NDArray[np.intp]:
    """Closed tour through ``points`` (row 0 = depot): nearest neighbour, then
    best-improvement 2-opt to a local optimum."""
    m = len(points)
    d = np.linalg.norm(points[:, None] - points[None], axis=2)
    left = d.copy()  # distances to the not yet visited points (visited columns: inf)
    left[:, 0] = np.inf
    order = [0]
    last = 0
    for _ in range(m - 1):
        last = int(np.argmin(left[last]))
        order.append(last)
        left[:, last] = np.inf
    tour = np.array(order, dtype=np.intp)
    if m <= 3:
        return tour
    ii, jj = _move_pairs(m)
    flat = d.ravel()
    while True:
        nxt_t = np.roll(tour, -1)
        edge = flat[tour * m + nxt_t]  # length of the tour edge leaving each position
        a, b, c, e = tour[ii], nxt_t[ii], tour[jj], nxt_t[jj]
        delta = flat[a * m + c] + flat[b * m + e] - edge[ii] - edge[jj]
        k = int(np.argmin(delta))
        if delta[k] >= -1e-10:
            return tour
        i, j = int(ii[k]), int(jj[k])
        tour[i + 1: j + 1] = tour[i + 1: j + 1][::-1].copy()


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


def bhh_features(city: City, district: frozenset[int] | list[int], target: int = 3,
                 kind: str = "bhh") -> NDArray[np.float64]:
    """Regressors of the continuous approximations for one district.

    ``bhh`` (Beardwood-Halton-Hammersley): ``[2 d, sqrt(n A)]``; ``fig`` (Figliozzi 2008's
    form): ``[2 d, sqrt(n A) (n - 1) / n, sqrt(A / n), 1]``, with ``n`` the expected number
    of customers (:func:`expected_customers`), ``A`` the district area and ``d`` the
    depot-to-centroid distance. The coefficients are fitted by least squares on training
    districts (:func:`fit_linear`); the published BD fits only the ``sqrt(n A)``
    coefficient and uses the mean scenario-customer distance to the depot for ``d``."""
    b = sorted(district)
    n = max(float(expected_customers(city, target)[b].sum()), 1e-6)
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
