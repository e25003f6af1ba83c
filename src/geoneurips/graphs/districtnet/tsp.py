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
    step = np.empty_like(p)  # p - roll(p, -1): the same differences, summed the same way
    np.subtract(p[:-1], p[1:], out=step[:-1])
    np.subtract(p[-1:], p[:1], out=step[-1:])
    step *= step
    return float(np.sqrt(step.sum(1)).sum())


def _distances(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Euclidean distance matrix, bit for bit ``norm(points[:, None] - points[None], axis=2)``
    (``sqrt`` of the summed squares; for 2-D points the two squares are added directly)."""
    diff = points[:, None] - points[None]
    diff *= diff
    sq = diff[..., 0] + diff[..., 1] if points.shape[1] == 2 else diff.sum(2)
    out: NDArray[np.float64] = np.sqrt(sq)
    return out


_MASKS: dict[int, NDArray[np.float64]] = {}


def _move_mask(m: int) -> NDArray[np.float64]:
    """``(m - 1, m)``: 0 at the 2-opt moves ``(i, j)``, ``j >= i + 2``, of an ``m``-cycle
    (not ``(0, m - 1)``, which shares a node), ``inf`` elsewhere."""
    if m not in _MASKS:
        i = np.arange(m - 1)[:, None]
        j = np.arange(m)[None, :]
        bad = (j < i + 2) | ((i == 0) & (j == m - 1))
        _MASKS[m] = np.where(bad, np.inf, 0.0)
    return _MASKS[m]


def _nearest_neighbour(d: NDArray[np.float64]) -> NDArray[np.intp]:
    """Nearest-neighbour order from point 0 (ties: the lowest index)."""
    m = len(d)
    visited = np.zeros(m)  # inf at visited points: d + visited = d or inf, exactly
    visited[0] = np.inf
    row = np.empty(m)
    order = np.zeros(m, dtype=np.intp)
    last = 0
    for k in range(1, m):
        np.add(d[last], visited, out=row)
        last = int(row.argmin())
        order[k] = last
        visited[last] = np.inf
    return order


def two_opt_tour(points: NDArray[np.float64]) -> NDArray[np.intp]:
    """Closed tour through ``points`` (row 0 = depot): nearest neighbour, then
    best-improvement 2-opt to a local optimum (the first best move in row-major ``(i, j)``
    order, as a plain double loop would take it).

    The gains of every move are recomputed densely each pass from the tour-ordered
    distance matrix ``X[p, q] = d[t_p, t_q]`` (with column 0 repeated as column ``m``), which
    a move updates by reversing a block of rows and of columns: no index gathers. Each gain
    is ``d(t_i, t_j) + d(t_i+1, t_j+1) - d(t_i, t_i+1) - d(t_j, t_j+1)`` evaluated in that
    order, so the tours equal the earlier gather-based implementation's bit for bit (a test
    compares them; ``benchmarks/districtnet_tsp.py`` measures the speed-up)."""
    m = len(points)
    d = _distances(points)
    tour = _nearest_neighbour(d)
    if m <= 3:
        return tour
    x = np.empty((m, m + 1))
    x[:, :m] = d[np.ix_(tour, tour)]
    x[:, m] = x[:, 0]  # so that d(t_j, t_j+1) for j = m - 1 is x[j, j + 1] too
    mask = _move_mask(m)
    gain = np.empty((m - 1, m))
    here, there = x[:-1, :m], x[1:, 1:]  # d(t_i, t_j), d(t_i+1, t_j+1)
    edge = np.diagonal(x[:, 1:])  # d(t_p, t_p+1), a view that follows x
    edge_i = edge[:-1, None]
    while True:
        np.add(here, there, out=gain)
        gain -= edge_i
        gain -= edge
        gain += mask
        k = int(gain.argmin())
        if gain.flat[k] >= -1e-10:
            return tour
        i, j = divmod(k, m)
        s = slice(i + 1, j + 1)
        tour[s] = tour[s][::-1].copy()
        x[s] = x[s][::-1].copy()
        x[:, s] = x[:, s][:, ::-1].copy()  # columns 1..m-1 only: column m stays column 0


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
