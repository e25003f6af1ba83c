"""DistrictNet (paper, Section 4): a GNN on the line graph of the BU graph (plus depot
edges) predicts edge costs; the CMST surrogate turns them into a districting; training
minimises the perturbed Fenchel-Young loss against optimal districtings.

Edge ids: ``0..E-1`` are the BU adjacency edges of :meth:`City.edges`, ``E + b`` is the
depot edge of BU ``b``. ``theta = -w`` (the solver maximises ``theta . y``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from .data import City
from .solver import District, cmst_cost, connected_subsets, partition, size_bounds

__all__ = [
    "CityGraph",
    "DistrictNet",
    "build_graph",
    "cmst_solve",
    "fenchel_young_loss",
    "target_y",
]


@dataclass
class CityGraph:
    """A city prepared for the GNN and the CMST solver."""

    city: City
    target: int
    edge_index: dict[tuple[int, int], int]
    depot_edge: list[int]
    features: torch.Tensor  # (E + N, F)
    line_graph: torch.Tensor  # (2, L) line-graph adjacency
    candidates: list[District] | None  # all feasible districts when enumerable
    k: int

    @property
    def n_edges(self) -> int:
        return len(self.depot_edge) + len(self.edge_index)


def _bu_features(city: City) -> NDArray[np.float64]:
    compact = 4 * np.pi * city.area / np.maximum(city.perimeter, 1e-9) ** 2  # Polsby-Popper
    dist = np.linalg.norm(city.xy - city.depot, axis=1)
    return np.stack([city.population, city.area, city.density, city.perimeter, compact, dist], 1)


def build_graph(city: City, target: int, enumerate_limit: int = 20_000) -> CityGraph:
    """Edge features (the mean of the endpoint BU features - population, area, density,
    perimeter, Polsby-Popper compactness, distance to the depot - and the centre distance;
    the depot node has zero features - plus a depot-edge flag) and the line graph (edges
    sharing an endpoint are adjacent). Features are raw: the model standardises them with
    the mean and std of its training set (published ``normalize_features``), so a city's
    features do not depend on its other BUs."""
    bu = _bu_features(city)
    edges = city.edges()
    n = city.n
    pairs = edges + [(b, -1) for b in range(n)]
    feats = []
    for u, v in pairs:
        fv = bu[v] if v >= 0 else np.zeros(bu.shape[1])
        pv = city.xy[v] if v >= 0 else city.depot
        feats.append([*((bu[u] + fv) / 2), float(np.linalg.norm(city.xy[u] - pv)),
                      float(v < 0)])
    f = np.asarray(feats)
    incident: list[list[int]] = [[] for _ in range(n + 1)]
    for e, (u, v) in enumerate(pairs):
        incident[u].append(e)
        incident[v if v >= 0 else n].append(e)
    src, dst = [], []
    for inc in incident:
        for a in inc:
            for b in inc:
                if a != b:
                    src.append(a)
                    dst.append(b)
    lo, hi = size_bounds(target)
    try:
        cands: list[District] | None = connected_subsets(city.adjacency, lo, hi, enumerate_limit)
    except ValueError:
        cands = None
    return CityGraph(
        city=city, target=target, edge_index={e: i for i, e in enumerate(edges)},
        depot_edge=[len(edges) + b for b in range(n)],
        features=torch.tensor(f, dtype=torch.float32),
        line_graph=torch.tensor([src, dst], dtype=torch.long), candidates=cands,
        k=max(1, round(n / target)),
    )


class DistrictNet(nn.Module):
    """Feature standardisation with the training set's mean and std (buffers, set by
    :meth:`fit_normaliser`), 3 GraphConv layers (mean aggregation, ReLU after the first
    two) on the line graph, then Dense 64 -> 64 -> 1: one cost per edge (paper defaults:
    hidden 64; the published head has one more linear 64 -> 64 layer without activation,
    which composes with the next linear layer into one)."""

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, in_dim: int = 8, hidden: int = 64) -> None:
        super().__init__()
        self.register_buffer("shift", torch.zeros(in_dim))
        self.register_buffer("scale", torch.ones(in_dim))
        from torch_geometric.nn import GraphConv

        self.convs = nn.ModuleList([GraphConv(in_dim, hidden, aggr="mean"),
                                    GraphConv(hidden, hidden, aggr="mean"),
                                    GraphConv(hidden, hidden, aggr="mean")])
        self.head = nn.Sequential(nn.Linear(hidden, 64), nn.ReLU(), nn.Linear(64, 1))

    def fit_normaliser(self, features: list[torch.Tensor]) -> None:
        """Set the standardisation from the training cities' edge features."""
        f = torch.cat(features, 0)
        self.shift.copy_(f.mean(0))
        self.scale.copy_(f.std(0).clamp_min(1e-6))

    def forward(self, x: torch.Tensor, line_graph: torch.Tensor) -> torch.Tensor:
        h = (x - self.shift) / self.scale
        for i, conv in enumerate(self.convs):
            h = conv(h, line_graph)
            if i < 2:
                h = torch.relu(h)
        out: torch.Tensor = self.head(h).squeeze(-1)
        return out


def solution_vector(g: CityGraph, districts: list[District],
                    w: NDArray[np.float64]) -> NDArray[np.float64]:
    """The edge indicator ``y`` of the districts' CMSTs under ``w``."""
    y = np.zeros(g.n_edges)
    for d in districts:
        y[cmst_cost(d, g.edge_index, g.depot_edge, w)[1]] = 1.0
    return y


def cmst_solve(g: CityGraph, w: NDArray[np.float64]) -> tuple[list[District], NDArray[np.float64]]:
    """Exact CMST districting for edge weights ``w``: price every candidate by its CMST,
    then set-partition (HiGHS). Returns the districts and ``y``."""
    if g.candidates is None:
        raise ValueError("instance too large for the exact solver; use the local search")
    costs = [cmst_cost(d, g.edge_index, g.depot_edge, w)[0] for d in g.candidates]
    districts = partition(g.city.n, g.candidates, costs, k=g.k)
    return districts, solution_vector(g, districts, w)


def target_y(g: CityGraph, districts: list[District], samples: int = 20,
             seed: int = 0) -> NDArray[np.float64]:
    """Published target: the optimal districting encoded as the average over ``samples``
    random-weight spanning trees (and depot edges) of its districts."""
    rng = np.random.default_rng(seed)
    return np.asarray(np.mean([solution_vector(g, districts, rng.uniform(size=g.n_edges))
                               for _ in range(samples)], 0), dtype=np.float64)


def fenchel_young_loss(theta: torch.Tensor, g: CityGraph, y_bar: NDArray[np.float64],
                       epsilon: float = 1.0, samples: int = 20,
                       generator: np.random.Generator | None = None) -> torch.Tensor:
    """Perturbed Fenchel-Young loss (Berthet et al. 2020; paper, Eq. 6) with additive
    Gaussian perturbations: ``mean_m[(theta + eps Z_m) . y*(theta + eps Z_m)] - theta . ybar``;
    its gradient in ``theta`` is ``mean_m y*_m - ybar``."""
    rng = generator or np.random.default_rng(0)
    th = theta.detach().cpu().numpy().astype(np.float64)
    value = torch.zeros((), dtype=theta.dtype)
    ys = []
    for _ in range(samples):
        z = rng.standard_normal(th.shape)
        _, y = cmst_solve(g, -(th + epsilon * z))
        ys.append(y)
        value = value + float(np.dot(epsilon * z, y))
    y_hat = torch.tensor(np.mean(ys, 0), dtype=theta.dtype)
    ybar = torch.tensor(y_bar, dtype=theta.dtype)
    return (theta * (y_hat - ybar)).sum() + value / samples
