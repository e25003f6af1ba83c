"""Dataset-level Geo-Bias Score: ours (loop and batched) vs PyGBS's per-point loop, one run.

Run: ``python benchmarks/geobias.py [CSV] [--value hit@1] [--pygbs PATH_TO_PyGBS_CHECKOUT]``.
Not run in CI. Default CSV: the BirdSnap result file in ``../shared/data/torchspatial``.

The reference is PyGBS's own per-point loop (``SSIPartitioner`` + ``compute_unmarked_ssi`` +
``compute_marked_ssi``) when ``--pygbs`` points at a checkout of github seai-lab/PyGBS (the
PyPI name ``pygbs`` belongs to an unrelated B-spline library, so PyGBS is not installable
with pip; the ``fetch`` tool or ``git clone`` gives a checkout); otherwise
:func:`pygbs_style_loop`, our reimplementation of that loop's work per
point (BallTree, dense ``N x N`` weight matrix built from a Python loop, the double loops
of ``AnalyticalSurprisal``, one call per score). Times are process CPU seconds, best of
``--repeat``; the ratio is reference / ours, and the largest per-point difference is shown.
``ties=pygbs`` reproduces PyGBS per point (duplicate locations go through a BallTree as in
PyGBS); ``ties=average`` shares tied neighbour places equally, so it differs from PyGBS
where test points share coordinates (many in BirdSnap).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from geoneurips.location.torchspatial.geobias import background_points, geobias_score


def _dense_null(cs: np.ndarray, ns: np.ndarray, k: int) -> tuple[float, float]:
    big_n = ns.sum()
    xbar = (cs * ns).sum() / big_n
    r = int(np.argmax(ns))
    mu = var = 0.0
    for a in range(cs.size):
        for b in range(cs.size):
            coef = (cs[a] - xbar) * (cs[b] - xbar)
            if a != b:
                mu += coef * min(ns[a], ns[b]) * k * max(ns[a], ns[b]) / big_n
                if a != r and b != r:
                    big_m = max(ns[a], ns[b])
                    q = (coef - 2 * (cs[a] - xbar) * (cs[r] - xbar) + (cs[r] - xbar) ** 2) ** 2
                    var += q * min(ns[a], ns[b]) * (k * big_m / big_n) * (1 - k * big_m / big_n)
            else:
                mu += coef * ((ns[a] - 1) * k * ns[a] / big_n - 1)
                if a != r:
                    v = 2 * (ns[a] - 1) * k * ns[a] / big_n * (1 - k * (2 * ns[a] - 1) / (3 * big_n))
                    var += (cs[a] - cs[r]) ** 4 * v
    return mu, math.sqrt(var) + 1.0


def _one(presence: np.ndarray, values: np.ndarray, center: np.ndarray, radius: float,
         k: int = 4) -> float:
    from scipy.stats import norm
    from sklearn.neighbors import BallTree

    density = int(np.ceil(5 * presence.shape[0] / (np.pi * radius**2)))
    bg = background_points(center, radius, density)
    pts = np.concatenate([presence, bg])
    x = np.concatenate([values, np.zeros(bg.shape[0])])
    nbrs = BallTree(pts, leaf_size=30, metric="haversine").query(pts, k=k + 1,
                                                                return_distance=False)
    w = np.zeros((pts.shape[0], pts.shape[0]))
    for i, row in enumerate(nbrs):
        for j in row:
            if i != j:
                w[i, j] = 1
    xt = (x - x.mean())[None, :]
    s = float((xt @ (w @ xt.T)).item())
    cs, ns = np.unique(x, return_counts=True)
    mu, sigma = _dense_null(cs, ns.astype(float), k)
    low = min(s, 2 * mu - s)
    return float(-np.log(2 * norm.cdf(low, loc=mu, scale=sigma) + 1e-256))


def pygbs_style_loop(coords: np.ndarray, values: np.ndarray, radius: float) -> np.ndarray:
    """Per-point (unmarked, marked) SSI, one neighbourhood at a time as PyGBS computes it."""
    from sklearn.neighbors import BallTree

    d, nb = BallTree(coords, leaf_size=30, metric="haversine").query(coords, k=min(400, len(coords)))
    out = np.empty((len(coords), 2))
    for i in range(len(coords)):
        idx = nb[i, d[i] <= radius]
        out[i, 0] = _one(coords[idx], np.ones(idx.size), coords[i], radius)
        out[i, 1] = _one(coords[idx], values[idx], coords[i], radius)
    return out


def real_pygbs(path: str, coords: np.ndarray, values: np.ndarray, radius: float) -> np.ndarray:
    sys.path.insert(0, path)
    from gbs import compute_marked_ssi, compute_unmarked_ssi  # type: ignore[import-not-found]
    from partition import SSIPartitioner  # type: ignore[import-not-found]

    part = SSIPartitioner(coords, k=400)
    out = np.empty((len(coords), 2))
    for i in range(part.N):
        idx = part.get_neighborhood(i, radius)
        out[i, 0] = compute_unmarked_ssi(coords[idx], coords[i], radius, density="auto", k=4)
        out[i, 1] = compute_marked_ssi(coords[idx], values[idx], coords[i], radius,
                                       density="auto", k=4)
    return out


def main() -> None:
    here = Path(__file__).resolve().parents[2] / "shared" / "data" / "torchspatial"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?",
                    default=str(here / "eval_birdsnap_ebird_meta_test_Sphere2Vec-sphereC.csv"))
    ap.add_argument("--value", default="hit@1")
    ap.add_argument("--pygbs", default=None, help="path of a PyGBS checkout (else our loop)")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    import warnings

    warnings.filterwarnings("ignore")
    frame = pd.read_csv(args.csv).dropna(subset=["lon", "lat", args.value])
    coords = (np.array([frame["lat"].to_numpy(), frame["lon"].to_numpy()]).T / 180) * np.pi
    values = frame[args.value].to_numpy(dtype=np.float64)
    radius = 100 / 6371.0

    def best(fn):  # type: ignore[no-untyped-def]
        t_best, res = math.inf, None
        for _ in range(args.repeat):
            t0 = time.process_time()
            res = fn()
            t_best = min(t_best, time.process_time() - t0)
        return t_best, res

    name = "PyGBS" if args.pygbs else "PyGBS-style loop (ours)"
    t_ref, ref = best(lambda: real_pygbs(args.pygbs, coords, values, radius) if args.pygbs
                      else pygbs_style_loop(coords, values, radius))
    print(f"{args.csv}: n={len(frame)}, value={args.value}")
    print(f"{name:28s} {t_ref:8.2f} s   mean unmarked {ref[:, 0].mean():.6f} marked "
          f"{ref[:, 1].mean():.6f}")
    modes = (("ours, per-point loop", {"batched": False}),
             ("ours, batched, ties=pygbs", {"batched": True}),
             ("ours, batched, ties=average", {"batched": True, "ties": "average"}))
    for label, kw in modes:
        t, res = best(lambda kw=kw: geobias_score(frame, args.value, per_point=True, **kw))
        u, m = np.array(res["unmarked_per_point"]), np.array(res["marked_per_point"])
        diff = max(np.abs(u - ref[:, 0]).max(), np.abs(m - ref[:, 1]).max())
        print(f"{label:28s} {t:8.2f} s   ratio {t_ref / t:5.1f}x   max|per-point diff| "
              f"{diff:.1e}   mean unmarked {u.mean():.6f} marked {m.mean():.6f}")


if __name__ == "__main__":
    main()
