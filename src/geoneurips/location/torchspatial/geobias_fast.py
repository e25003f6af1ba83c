"""Batched dataset-level Geo-Bias Score (the per-point loop of PyGBS, vectorised).

:func:`geobias_score` in :mod:`.geobias` computes the spatial self-information of every test
point's neighbourhood. Done one neighbourhood at a time (as PyGBS does), each costs a BallTree
build and query, a dense ``N x N`` weight matrix and a double loop over the distinct values;
here all neighbourhoods are processed together:

1. **Background grids** (:func:`polar_grid_xyz`): PyGBS's polar grid around the north pole
   depends only on the density, so it is built once per density and rotated to every centre
   with batched rotation matrices ``Rz(lon0) Ry(pi/2 - lat0)``.
2. **k nearest neighbours**: :func:`.geobias_knn.all_knn_edges` finds every
   neighbourhood's ``k + 1`` nearest points at once, without a tree per neighbourhood
   (chord distance on unit vectors is monotone in the great-circle angle). The weight matrix
   only depends on the *set* of the ``k + 1`` nearest of every point (PyGBS drops the point
   itself), so ties at that set's boundary matter only between points of different values.
   Near-ties are ordered by scikit-learn's own haversine arithmetic, so the set is PyGBS's;
   a bit-exact tie (test points sharing coordinates but not values) is decided by PyGBS's
   BallTree itself (``ties="pygbs"``, exact per point), or the tied places are shared
   equally (``ties="average"``: the expected ``S`` under random tie-breaking, order-free).
   The few neighbourhoods the vectorised path does not cover go through :func:`knn_sets`
   (a ``cKDTree`` per neighbourhood) with the same rules.
3. **Statistic and null**: ``S = sum_edges x~_i x~_j`` with one ``bincount`` over all edges of
   all neighbourhoods; the analytical mean in closed form ``mu = -sum_a d_a^2 (k n_a / N + 1)``
   (the PyGBS double sum simplifies because ``sum_a n_a d_a = 0``), the variance's double sum
   over distinct values as padded batched arrays.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_GAP_RTOL = 1e-9


def polar_grid_latlon(radius: float, density: float) -> FloatArray:
    """PyGBS's polar concentric grid around the north pole, ``(M, 2)`` (lat, lon) radians.

    Ring ``i = 1..ceil(radius sqrt(density))`` at colatitude ``i / sqrt(density)`` holds
    ``n_i = ceil(2 pi i)`` points at longitudes ``-pi + (2 pi / n_i) j``.
    """
    dist = 1 / np.sqrt(density)
    rings = int(np.ceil(radius / dist))
    rows = []
    for i in range(1, rings + 1):
        n_i = int(np.ceil(2 * np.pi * i))
        step = 2 * np.pi / n_i
        rows += [(np.pi / 2 - dist * i, -np.pi + step * j) for j in range(n_i)]
    return np.array(rows, dtype=np.float64)


@functools.lru_cache(maxsize=256)
def north_pole_grid(radius: float, density: float) -> FloatArray:
    """:func:`polar_grid_xyz` of :func:`polar_grid_latlon`, cached (read-only array)."""
    out = polar_grid_xyz(polar_grid_latlon(radius, density))
    out.setflags(write=False)
    return out


def polar_grid_xyz(grid: FloatArray) -> FloatArray:
    """Unit vectors of the north-pole grid (one scalar at a time, as PyGBS converts it)."""
    out = np.empty((grid.shape[0], 3))
    for m, (phi, theta) in enumerate(grid):
        r = np.cos(phi)
        out[m] = (np.cos(theta) * r, np.sign(phi) * np.sin(theta) * r, np.sin(phi))
    return out


def rotation_matrices(centers: FloatArray) -> FloatArray:
    """``Rz(lon0) @ Ry(pi/2 - lat0)`` for ``(M, 2)`` (lat, lon) centres: ``(M, 3, 3)``.

    The extrinsic ``"yz"`` Euler rotation PyGBS applies to move the north-pole grid to the
    centre.
    """
    a = 0.5 * np.pi - centers[:, 0]
    b = centers[:, 1]
    ca, sa, cb, sb = np.cos(a), np.sin(a), np.cos(b), np.sin(b)
    z = np.zeros_like(a)
    return np.stack([
        np.stack([cb * ca, -sb, cb * sa], -1),
        np.stack([sb * ca, cb, sb * sa], -1),
        np.stack([-sa, z, ca], -1),
    ], -2)


def latlon_to_xyz(latlon: FloatArray) -> FloatArray:
    """Unit vectors of ``(..., 2)`` (lat, lon) radians."""
    lat, lon = latlon[..., 0], latlon[..., 1]
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)


def knn_sets(xyz: FloatArray, k: int, labels: FloatArray, average_ties: bool = False
             ) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
    """Weighted kNN edges ``(rows, cols, weights)`` of one neighbourhood, self dropped, and
    the rows whose edges distance ties make ambiguous (empty when none).

    Every point keeps its ``k + 1`` nearest points (itself among them), then drops itself,
    as PyGBS does. A tie at the boundary of the ``k + 1`` nearest (the ``(k+1)``-th and
    ``(k+2)``-th distances within ``1e-9``, relative) is harmless when every point in the
    tie band holds the same values (whichever of them a BallTree keeps, ``S`` is the same)
    and the band is away from distance 0 (so the point itself is always kept, then dropped);
    otherwise the neighbourhood is ambiguous. With ``average_ties`` an ambiguous row instead
    gives each of the ``b`` band members the weight ``slots / b`` (``slots`` = places left in
    the ``k + 1`` after the strictly nearer points): the expectation of ``W`` over uniformly
    random tie-breaking, independent of the order of the input.
    """
    from scipy.spatial import cKDTree

    n = xyz.shape[0]
    if n <= k + 1:
        rr = np.repeat(np.arange(n), n)
        cc = np.tile(np.arange(n), n)
        keep = rr != cc
        return rr[keep], cc[keep], np.ones(int(keep.sum())), np.empty(0, dtype=np.int64)
    tree = cKDTree(xyz)
    kq = min(n, k + 2)
    d, idx = tree.query(xyz, k=kq)
    dk = d[:, k : k + 1]
    tie = d[:, k + 1] - dk[:, 0] <= _GAP_RTOL * dk[:, 0]
    rr = np.repeat(np.arange(n), k + 1)
    cc = idx[:, : k + 1].reshape(-1)
    ww = np.ones(rr.shape[0])
    ambiguous = np.empty(0, dtype=np.int64)
    if tie.any():
        rows = np.flatnonzero(tie)
        d_r, i_r = d[rows], idx[rows]
        band = np.abs(d_r - dk[rows]) <= _GAP_RTOL * dk[rows]
        while kq < n and band[:, -1].any():  # the band may go on: query further
            kq = min(n, 2 * kq)
            d_r, i_r = tree.query(xyz[rows], k=kq)
            band = np.abs(d_r - dk[rows]) <= _GAP_RTOL * dk[rows]
        if average_ties:
            nearer = (d_r < dk[rows] * (1 - _GAP_RTOL)) & ~band
            slots = (k + 1) - nearer.sum(1, keepdims=True)
            w = np.where(nearer, 1.0, np.where(band, slots / band.sum(1, keepdims=True), 0.0))
            tied = np.zeros(n, dtype=bool)
            tied[rows] = True
            base = ~np.repeat(tied, k + 1)
            sel = w > 0
            rr = np.concatenate([rr[base], np.repeat(rows, sel.sum(1))])
            cc = np.concatenate([cc[base], i_r[sel]])
            ww = np.concatenate([ww[base], w[sel]])
        else:
            # a row is ambiguous when its tie band reaches distance 0 (duplicates: the
            # point itself may fall out of its k + 1) or holds different values
            vals = labels[i_r]
            ref = labels[idx[rows, k]][:, None, :]
            differ = ~np.all((vals == ref) | ~band[:, :, None], axis=(1, 2))
            ambiguous = rows[differ | (dk[rows, 0] <= 0.0)].astype(np.int64)
    keep = rr != cc
    return rr[keep], cc[keep], ww[keep], ambiguous


def null_moments(values: list[FloatArray], k: int) -> tuple[FloatArray, FloatArray]:
    """PyGBS's analytical null ``(mu, sigma)`` for many neighbourhoods' value vectors.

    Same formulas as :func:`.geobias.analytical_null`, batched: neighbourhoods are grouped
    by their number of distinct values and each group is one padded array computation.
    """
    owner = np.repeat(np.arange(len(values)), [len(v) for v in values])
    flat = np.concatenate(values) if values else np.empty(0)
    return null_moments_counts(flat, owner, np.zeros(len(values), dtype=np.int64), k)


def null_moments_counts(values: FloatArray, owner: IntArray, zeros: IntArray, k: int
                        ) -> tuple[FloatArray, FloatArray]:
    """:func:`null_moments` of neighbourhoods given as their values plus a count of extra
    zeros each (the background points; ``owner[j]``: the neighbourhood of ``values[j]``)."""
    m = zeros.shape[0]
    vals = np.concatenate([values, np.zeros(m)])
    own = np.concatenate([owner, np.arange(m)])
    wts = np.concatenate([np.ones(values.shape[0]), zeros.astype(np.float64)])
    uniq, inv = np.unique(vals, return_inverse=True)
    key, kinv = np.unique(own * uniq.size + inv.reshape(-1), return_inverse=True)
    cnt = np.bincount(kinv.reshape(-1), weights=wts, minlength=key.size)
    live = cnt > 0  # a neighbourhood without background has no zero unless a value is 0
    key, cnt = key[live], cnt[live]
    hood, cval = key // uniq.size, uniq[key % uniq.size]  # sorted by hood, then value
    sizes = np.bincount(hood, minlength=m)
    start = np.cumsum(sizes) - sizes
    mu, sigma = np.empty(m), np.empty(m)
    for v_count in np.unique(sizes):
        sel = np.flatnonzero(sizes == v_count)
        at = start[sel][:, None] + np.arange(v_count)[None, :]
        cs = cval[at]
        ns = cnt[at]
        big_n = ns.sum(1, keepdims=True)
        xbar = (cs * ns).sum(1, keepdims=True) / big_n
        dev = cs - xbar
        mu[sel] = -(dev**2 * (k * ns / big_n + 1)).sum(1)
        r = np.argmax(ns, axis=1)
        rows = np.arange(sel.size)
        cr = cs[rows, r][:, None]
        dr = cr - xbar
        bn = big_n[:, :, None]
        big_m = np.maximum(ns[:, :, None], ns[:, None, :])
        small = np.minimum(ns[:, :, None], ns[:, None, :])
        v = small * (k * big_m / bn) * (1 - k * big_m / bn)
        q = (dev[:, :, None] * dev[:, None, :] - 2 * dev[:, :, None] * dr[:, :, None]
             + dr[:, :, None] ** 2) ** 2
        eye = np.eye(int(v_count), dtype=bool)[None]
        v_same = 2 * (ns - 1) * k * ns / big_n * (1 - (k * (2 * ns - 1)) / (3 * big_n))
        q_same = (cs - cr) ** 4
        v = np.where(eye, v_same[:, :, None], v)
        q = np.where(eye, q_same[:, :, None], q)
        keep = np.ones_like(ns, dtype=bool)
        keep[rows, r] = False
        mask = keep[:, :, None] & keep[:, None, :]
        var = np.where(mask, q * v, 0.0).sum((1, 2))
        sigma[sel] = np.sqrt(np.maximum(var, 0.0)) + 1.0
    return mu, sigma


def batched_ssi(
    coords: FloatArray,
    neighbourhoods: list[IntArray],
    radius: float,
    series: dict[str, FloatArray | None],
    k: int,
    density: float | str,
    exact_fallback: Any,
    average_ties: bool = False,
    hood_latlon: Any = None,
) -> dict[str, FloatArray]:
    """SSI of every neighbourhood for every value series (``None``: unmarked).

    The kNN edges of all neighbourhoods come from :func:`.geobias_knn.all_knn_edges`; the
    few neighbourhoods it leaves (tiny ones, tie bands longer than its candidate lists) go
    through :func:`knn_sets` one by one. ``exact_fallback([(i, rows, latlon), ...])`` returns
    PyGBS's own BallTree edges ``(rows, cols)`` of the given rows of each neighbourhood ``i``
    (presence points first, then its grid; ``latlon``: the (lat, lon) PyGBS gives that
    BallTree, from ``hood_latlon(i)``), used where a tie can change the statistic and only
    the BallTree's traversal order decides.
    """
    from scipy.special import ndtr

    from .geobias import auto_density, background_points
    from .geobias_knn import all_knn_edges

    n_pts = len(neighbourhoods)
    counts = np.array([len(ix) for ix in neighbourhoods], dtype=np.int64)
    rho = (np.array([auto_density(radius, int(c)) for c in counts], dtype=np.float64)
           if density == "auto" else np.full(n_pts, float(density)))
    grids = {float(r): north_pole_grid(radius, float(r)) for r in np.unique(rho)}
    g_i = np.array([grids[float(r)].shape[0] for r in rho], dtype=np.int64)
    sizes = counts + g_i
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    total = int(sizes.sum())
    names = list(series)
    pres_vals = np.stack([np.ones(coords.shape[0]) if series[nm] is None
                          else np.asarray(series[nm], dtype=np.float64) for nm in names], 1)
    if hood_latlon is None:
        def hood_latlon(i: int) -> FloatArray:
            ix = neighbourhoods[i]
            return np.concatenate([coords[ix], background_points(coords[i], radius, rho[i])])

    hood, row, col, wt, skipped = all_knn_edges(
        coords, neighbourhoods, rho, radius, k, pres_vals, average_ties=average_ties,
        hood_latlon=hood_latlon, exact_fallback=exact_fallback)
    rows_all, cols_all, weights_all, owner = [offsets[hood] + row], [offsets[hood] + col], [wt], [hood]
    rot = rotation_matrices(coords)
    pres_xyz = latlon_to_xyz(coords)
    fallback = 0
    for i in skipped.tolist():  # the per-neighbourhood path
        ix = neighbourhoods[i]
        pts = np.concatenate([pres_xyz[ix], grids[float(rho[i])] @ rot[i].T])
        labels = np.zeros((pts.shape[0], len(names)))
        labels[: len(ix)] = pres_vals[ix]
        er, ec, ew, ambiguous = knn_sets(pts, k, labels, average_ties)
        if ambiguous.size:
            fallback += 1
            fr, fc = exact_fallback([(i, ambiguous, hood_latlon(i))])[0]
            keep = ~np.isin(er, ambiguous)
            er = np.concatenate([er[keep], fr])
            ec = np.concatenate([ec[keep], fc])
            ew = np.concatenate([ew[keep], np.ones(fr.shape[0])])
        rows_all.append(er + offsets[i])
        cols_all.append(ec + offsets[i])
        weights_all.append(ew)
        owner.append(np.full(er.shape[0], i))
    rows = np.concatenate(rows_all)
    cols = np.concatenate(cols_all)
    wts = np.concatenate(weights_all)
    own = np.concatenate(owner)
    pres_hood = np.repeat(np.arange(n_pts), counts)
    pres_pt = np.concatenate(neighbourhoods).astype(np.int64)
    pres_slot = offsets[pres_hood] + np.arange(pres_pt.size) - np.repeat(
        np.cumsum(counts) - counts, counts)
    out: dict[str, FloatArray] = {}
    for s_i, name in enumerate(names):
        flat = np.zeros(total)
        flat[pres_slot] = pres_vals[pres_pt, s_i]
        mean = np.bincount(pres_hood, weights=flat[pres_slot], minlength=n_pts) / sizes
        flat -= np.repeat(mean, sizes)
        s = np.bincount(own, weights=wts * flat[rows] * flat[cols], minlength=n_pts)
        mu, sigma = null_moments_counts(pres_vals[pres_pt, s_i], pres_hood, g_i, k)
        low = np.minimum(s, 2 * mu - s)
        out[name] = -np.log(2 * ndtr((low - mu) / sigma) + 1e-256)
    out["_fallback"] = np.array([float(fallback)])
    return out


__all__ = ["batched_ssi", "knn_sets", "latlon_to_xyz", "null_moments", "null_moments_counts",
           "polar_grid_latlon",
           "polar_grid_xyz", "rotation_matrices"]
