"""DistrictNet's SAA tour (nearest neighbour + best-improvement 2-opt): the dense
block-reversal implementation (ours, ``graphs/districtnet/tsp.two_opt_tour``) against the
gather-based one it replaced, side by side in one run, on the tours the demo prices.

Instances: the candidate districts of a synthetic 30-BU training city (the demo's
``make_train_city``: target size 3, published scenario generator, about 100 customers
per district and scenario), one tour per candidate and scenario. Both implementations run
on the same instances in alternating rounds; CPU time of this process (one thread), best
of ``--repeats`` rounds. Every tour is checked equal (same visiting order, bit-identical
length) before timing.

    OMP_NUM_THREADS=1 python benchmarks/districtnet_tsp.py [--candidates 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numpy.typing import NDArray


def previous_two_opt(points: NDArray[np.float64]) -> NDArray[np.intp]:
    """The gather-based implementation replaced on 2026-12-06 (verbatim; also the reference
    of tests/graphs/test_districtnet_solver.py::test_two_opt_equals_previous_implementation)."""
    m = len(points)
    d = np.linalg.norm(points[:, None] - points[None], axis=2)
    left = d.copy()
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
    ii, jj = np.triu_indices(m, 2)
    keep = ~((ii == 0) & (jj == m - 1))
    ii, jj = ii[keep], jj[keep]
    flat = d.ravel()
    while True:
        nxt_t = np.roll(tour, -1)
        edge = flat[tour * m + nxt_t]
        a, b, c, e = tour[ii], nxt_t[ii], tour[jj], nxt_t[jj]
        delta = flat[a * m + c] + flat[b * m + e] - edge[ii] - edge[jj]
        k = int(np.argmin(delta))
        if delta[k] >= -1e-10:
            return tour
        i, j = int(ii[k]), int(jj[k])
        tour[i + 1: j + 1] = tour[i + 1: j + 1][::-1].copy()


def previous_tour_length(points: NDArray[np.float64], order: NDArray[np.intp]) -> float:
    p = points[order]
    return float(np.linalg.norm(p - np.roll(p, -1, axis=0), axis=1).sum())


def main() -> None:
    from geoneurips.graphs.districtnet.data import synthetic_city
    from geoneurips.graphs.districtnet.model import build_graph
    from geoneurips.graphs.districtnet.tsp import sample_scenarios, tour_length, two_opt_tour

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=300)
    ap.add_argument("--scenarios", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    city = synthetic_city(30, 100)
    g = build_graph(city, 3)
    assert g.candidates is not None
    sc = sample_scenarios(city, args.scenarios, 0, 3)
    step = max(1, len(g.candidates) // args.candidates)
    insts = [np.concatenate([city.depot[None], *[s[b] for b in sorted(d)]], 0)
             for d in g.candidates[::step][: args.candidates] for s in sc]
    for pts in insts:
        new, old = two_opt_tour(pts), previous_two_opt(pts)
        if not np.array_equal(new, old) or tour_length(pts, new) != previous_tour_length(
                pts, old):
            raise SystemExit(f"tours differ on an instance of {len(pts)} points")

    def run_new() -> None:
        for pts in insts:
            tour_length(pts, two_opt_tour(pts))

    def run_old() -> None:
        for pts in insts:
            previous_tour_length(pts, previous_two_opt(pts))

    best = {"previous (gathers)": np.inf, "ours (block reversal)": np.inf}
    for _ in range(args.repeats):
        for name, fn in (("previous (gathers)", run_old), ("ours (block reversal)", run_new)):
            t = time.process_time()
            fn()
            best[name] = min(best[name], time.process_time() - t)
    sizes = [len(p) for p in insts]
    print(f"{len(insts)} tours, {min(sizes)}-{max(sizes)} points (mean {np.mean(sizes):.1f}); "
          "all tours equal")
    base = best["previous (gathers)"]
    for name, t in best.items():
        print(f"{name:24s} {1e3 * t / len(insts):7.3f} ms CPU per tour (+ length)  "
              f"{base / t:5.2f}x")


if __name__ == "__main__":
    main()
