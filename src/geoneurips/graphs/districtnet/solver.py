"""The districting solvers: connected-subset enumeration, set partitioning (exact, HiGHS
through ``scipy.optimize.milp``), the CMST surrogate cost and the iterated local search.

A districting of ``N`` basic units with target size ``t`` uses ``round(N / t)`` connected
districts of sizes in ``[floor(0.8 t), ceil(1.2 t)]`` (paper, Section 3). The CMST
surrogate (paper, Section 4.1) prices a district by the minimum spanning tree of its BUs
under learned edge weights plus its cheapest depot edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from ...errors import InvalidInputError

__all__ = [
    "District",
    "cmst_cost",
    "connected_subsets",
    "iterated_local_search",
    "partition",
    "size_bounds",
]

District = frozenset[int]


def size_bounds(target: int) -> tuple[int, int]:
    """Published district size bounds ``[floor(0.8 t), ceil(1.2 t)]`` (at least 1)."""
    if target < 1:
        raise InvalidInputError(f"district size must be >= 1, got {target}")
    return max(1, math.floor(0.8 * target)), math.ceil(1.2 * target)


def connected_subsets(adj: Sequence[Sequence[int]], lo: int, hi: int,
                      limit: int = 200_000) -> list[District]:
    """Every connected BU subset with ``lo <= size <= hi`` (each exactly once).

    Grows subsets from their smallest member, only adding larger neighbours (a standard
    canonical enumeration). Raises when more than ``limit`` subsets exist (use the local
    search on such instances)."""
    out: set[District] = set()
    frontier: set[District] = {frozenset([v]) for v in range(len(adj))}
    size = 1
    while frontier and size <= hi:
        if size >= lo:
            out |= frontier
            if len(out) > limit:
                raise InvalidInputError(f"more than {limit} candidate districts: too large "
                                        "for exact set partitioning")
        if size == hi:
            break
        nxt: set[District] = set()
        for s in frontier:
            root = min(s)
            for u in s:
                for v in adj[u]:
                    if v > root and v not in s:
                        nxt.add(s | {v})
        frontier = nxt
        size += 1
    return sorted(out, key=lambda s: (len(s), sorted(s)))


def partition(n: int, candidates: Sequence[District], costs: Sequence[float] | NDArray[np.float64],
              k: int | None = None, time_limit: float = 60.0) -> list[District]:
    """Exact set partitioning: pick candidates covering each BU once (``k`` of them when
    given) at minimum total cost; HiGHS through ``scipy.optimize.milp``."""
    from scipy.optimize import LinearConstraint, milp
    from scipy.sparse import csr_matrix

    m = len(candidates)
    rows, cols = [], []
    for j, s in enumerate(candidates):
        for b in s:
            rows.append(b)
            cols.append(j)
    a = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, m))
    cons = [LinearConstraint(a, 1, 1)]
    if k is not None:
        cons.append(LinearConstraint(np.ones((1, m)), k, k))
    res = milp(np.asarray(costs, dtype=np.float64), constraints=cons,
               integrality=np.ones(m), bounds=(0, 1), options={"time_limit": time_limit})
    if res.x is None:
        raise InvalidInputError(f"no feasible districting ({res.message})")
    return [candidates[int(j)] for j in np.flatnonzero(res.x > 0.5)]


class _DSU:
    def __init__(self, n: int) -> None:
        self.p = list(range(n))

    def find(self, a: int) -> int:
        while self.p[a] != a:
            self.p[a] = self.p[self.p[a]]
            a = self.p[a]
        return a


def mst_edges(nodes: Sequence[int], edge_index: dict[tuple[int, int], int],
              w: NDArray[np.float64]) -> list[int] | None:
    """Kruskal on the subgraph induced by ``nodes``: the edge ids of its MST (None if the
    subgraph is disconnected). ``edge_index`` maps ``(u, v)``, ``u < v``, to an edge id."""
    ns = sorted(nodes)
    local = {b: i for i, b in enumerate(ns)}
    es = [(float(w[e]), e, local[u], local[v]) for (u, v), e in edge_index.items()
          if u in local and v in local] if len(ns) > 8 else [
        (float(w[edge_index[(u, v)]]), edge_index[(u, v)], local[u], local[v])
        for i, u in enumerate(ns) for v in ns[i + 1:] if (u, v) in edge_index]
    es.sort()
    dsu = _DSU(len(ns))
    chosen = []
    for _, e, a, b in es:
        ra, rb = dsu.find(a), dsu.find(b)
        if ra != rb:
            dsu.p[ra] = rb
            chosen.append(e)
    return chosen if len(chosen) == len(ns) - 1 else None


def cmst_cost(district: District, edge_index: dict[tuple[int, int], int],
              depot_edge: Sequence[int], w: NDArray[np.float64]) -> tuple[float, list[int]]:
    """CMST surrogate of one district: MST weight under ``w`` + its cheapest depot edge.

    Returns the cost and the chosen edge ids (MST edges and the depot edge), i.e. the
    support of the solution vector ``y`` of the paper."""
    tree = mst_edges(list(district), edge_index, w)
    if tree is None:
        raise InvalidInputError(f"district {sorted(district)} is not connected")
    d = min(district, key=lambda b: float(w[depot_edge[b]]))
    chosen = [*tree, depot_edge[d]]
    return float(w[chosen].sum()), chosen


def _connected(nodes: set[int], adj: Sequence[Sequence[int]]) -> bool:
    if not nodes:
        return True
    start = next(iter(nodes))
    seen = {start}
    stack = [start]
    while stack:
        u = stack.pop()
        for v in adj[u]:
            if v in nodes and v not in seen:
                seen.add(v)
                stack.append(v)
    return len(seen) == len(nodes)


def _split(nodes: set[int], adj: Sequence[Sequence[int]]) -> tuple[set[int], set[int]]:
    """Cut a connected set at the BFS-tree edge giving the most balanced two parts."""
    root = min(nodes)
    parent = {root: root}
    order = [root]
    for u in order:
        for v in adj[u]:
            if v in nodes and v not in parent:
                parent[v] = u
                order.append(v)
    below = {u: 1 for u in order}
    for u in reversed(order[1:]):
        below[parent[u]] += below[u]
    cut = min(order[1:], key=lambda u: abs(len(nodes) - 2 * below[u]))
    part = {cut}
    stack = [cut]
    while stack:
        u = stack.pop()
        for v in adj[u]:
            if v in nodes and parent.get(v) == u:
                part.add(v)
                stack.append(v)
    return nodes - part, part


def _fix_count(groups: dict[int, set[int]], label: list[int], adj: Sequence[Sequence[int]],
               k: int) -> None:
    """Merge the smallest adjacent pair / split the largest district until ``k`` remain."""
    while len(groups) > k:
        pairs = {(min(label[u], label[v]), max(label[u], label[v]))
                 for u in range(len(adj)) for v in adj[u] if label[u] != label[v]}
        if not pairs:
            break
        g, h = min(pairs, key=lambda p: (len(groups[p[0]]) + len(groups[p[1]]), p))
        for b in groups.pop(g):
            label[b] = h
            groups[h].add(b)
    while len(groups) < k:
        g = max(groups, key=lambda g: (len(groups[g]), g))
        if len(groups[g]) < 2:
            break
        keep, part = _split(groups[g], adj)
        new = max(groups) + 1 + len(adj)
        groups[g] = keep
        groups[new] = part
        for b in part:
            label[b] = new


def iterated_local_search(adj: Sequence[Sequence[int]], target: int,
                          cost: Callable[[District], float], edge_order: Sequence[tuple[int, int]],
                          iterations: int = 200, seed: int = 0,
                          penalty: float = 1e4, k: int | None = None) -> list[District]:
    """Iterated local search on a district cost (paper, Section 4.3; the published
    1200 s / perturbation-probability schedule is replaced by an iteration budget).

    Construction: Kruskal over ``edge_order`` (cheapest learned edges first) merging
    components up to the target size; components below the lower bound are merged into a
    neighbour, then adjacent districts are merged or districts split along their spanning
    tree until there are ``k`` (default ``round(N / t)``), which the moves keep. Local search: move a BU to an adjacent district when both stay
    connected and the penalised cost (``penalty`` per BU outside the size bounds) drops.
    Perturbation: a few random feasible moves, then local search again; the best is kept."""
    n = len(adj)
    lo, hi = size_bounds(target)
    dsu = _DSU(n)
    size = [1] * n
    for u, v in edge_order:
        ru, rv = dsu.find(u), dsu.find(v)
        if ru != rv and size[ru] + size[rv] <= target:
            dsu.p[ru] = rv
            size[rv] += size[ru]
    label = [dsu.find(b) for b in range(n)]
    groups: dict[int, set[int]] = {}
    for b, g in enumerate(label):
        groups.setdefault(g, set()).add(b)
    for g in sorted(groups, key=lambda g: len(groups[g])):
        if g in groups and len(groups[g]) < lo:
            nbr = {label[v] for u in groups[g] for v in adj[u]} - {g}
            if nbr:
                h = min(nbr, key=lambda h: len(groups[h]))
                for b in groups.pop(g):
                    label[b] = h
                    groups[h].add(b)
    _fix_count(groups, label, adj, k if k is not None else max(1, round(n / target)))
    cache: dict[District, float] = {}

    def price(s: set[int]) -> float:
        key = frozenset(s)
        if key not in cache:
            excess = max(0, lo - len(s)) + max(0, len(s) - hi)
            cache[key] = cost(key) + penalty * excess
        return cache[key]

    rng = np.random.default_rng(seed)

    def moves(groups: dict[int, set[int]], label: list[int]) -> list[tuple[int, int]]:
        return [(b, label[v]) for b in range(n) for v in adj[b] if label[v] != label[b]]

    def apply(b: int, h: int, groups: dict[int, set[int]], label: list[int]) -> bool:
        g = label[b]
        if len(groups[g]) <= 1 or not _connected(groups[g] - {b}, adj):
            return False
        groups[g].discard(b)
        groups[h].add(b)
        label[b] = h
        return True

    def local_search(groups: dict[int, set[int]], label: list[int]) -> None:
        improved = True
        while improved:
            improved = False
            for b, h in moves(groups, label):
                g = label[b]
                if g == h or len(groups[g]) <= 1 or all(label[v] != h for v in adj[b]):
                    continue
                if not _connected(groups[g] - {b}, adj):
                    continue
                before = price(groups[g]) + price(groups[h])
                after = price(groups[g] - {b}) + price(groups[h] | {b})
                if after < before - 1e-9 and apply(b, h, groups, label):
                    improved = True

    def total(groups: dict[int, set[int]]) -> float:
        return sum(price(s) for s in groups.values())

    local_search(groups, label)
    best = {g: set(s) for g, s in groups.items()}
    best_cost = total(best)
    for _ in range(iterations):
        cur = {g: set(s) for g, s in best.items()}
        lab = [0] * n
        for g, s in cur.items():
            for b in s:
                lab[b] = g
        mv = moves(cur, lab)
        for i in rng.permutation(len(mv))[: max(1, n // 20)]:
            b, h = mv[int(i)]
            if lab[b] != h and any(lab[v] == h for v in adj[b]):
                apply(b, h, cur, lab)
        local_search(cur, lab)
        c = total(cur)
        if c < best_cost - 1e-9:
            best, best_cost = cur, c
    return [frozenset(s) for s in best.values() if s]
