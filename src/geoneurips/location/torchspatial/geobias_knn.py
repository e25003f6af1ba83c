"""The k-nearest-neighbour weights of every Geo-Bias neighbourhood at once.

Each neighbourhood of the Geo-Bias Score (:mod:`.geobias`) is its presence points followed
by a polar background grid rotated to the centre, and PyGBS builds a BallTree on every one
of them. Here nothing is built per neighbourhood:

* **Grid to grid.** The grid of one density is the same for every centre up to a rotation,
  which keeps distances, so the grid's own nearest neighbours are computed once per density
  in the north-pole frame (:func:`grid_knn`, cached).
* **Presence points** are rotated into that frame (``v R`` with ``R`` the centre's rotation
  matrix) and queried against the density's grid once for all neighbourhoods of that
  density; presence-to-presence distances are dense ``n x n`` blocks, batched by ``n``.
* **Candidates.** A presence row's candidates are the other presence points and its nearest
  grid points; a grid row's are its nearest grid points and the presence points closer than
  its farthest listed grid neighbour. The ``k + 1`` nearest of the union (the point itself
  among them, then dropped, as PyGBS does) are among those candidates.
* **Ties.** Where the ``(k+1)``-th and ``(k+2)``-th candidates are within ``1e-9``
  (relative) the choice can depend on rounding; it is harmless when every tied candidate
  carries the same values and the point itself is not in the tie. Otherwise (``"pygbs"``)
  the tied candidates are ordered by the haversine reduced distance computed with the very
  operations of scikit-learn's BallTree (``sin``/``cos`` of the C library, same order) on
  the coordinates PyGBS feeds it, which is what the BallTree compares; only a bit-exact tie
  that crosses the ``k + 1`` boundary is left to a real BallTree (its traversal order then
  decides, :func:`.geobias.knn_neighbours`). With ``"average"`` the tied candidates share
  the remaining places equally.

Neighbourhoods this does not cover (fewer than ``k + 2`` points, a tie band longer than the
listed candidates) are reported back for the per-neighbourhood path.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from .geobias_fast import latlon_to_xyz, north_pole_grid, rotation_matrices

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_TOL_REL = 1e-9
_TOL_ABS = 1e-13
#: grid neighbours listed beyond ``k + 2`` (ring symmetry makes ties among grid points common)
_EXTRA = 6
#: grid neighbours listed per grid point, the presence points' candidate lists
_LIST = 40


def _tol(d: FloatArray) -> FloatArray:
    return _TOL_REL * d + _TOL_ABS


@functools.lru_cache(maxsize=256)
def grid_knn(radius: float, density: float, kk: int) -> tuple[FloatArray, IntArray]:
    """The ``kk`` nearest grid points of every grid point (itself first), north-pole frame."""
    from scipy.spatial import cKDTree

    g = north_pole_grid(radius, density)
    d, ix = cKDTree(g).query(g, k=min(kk, g.shape[0]))
    d.setflags(write=False)
    ix = ix.astype(np.int64)
    ix.setflags(write=False)
    return d, ix


@functools.lru_cache(maxsize=256)
def _ring_layout(radius: float, density: float) -> tuple[float, IntArray, IntArray]:
    """Ring spacing, points per ring and index of each ring's first point (ring 1 first)."""
    dist = 1 / math.sqrt(density)
    rings = int(math.ceil(radius / dist))
    counts = np.array([int(math.ceil(2 * math.pi * i)) for i in range(1, rings + 1)])
    return dist, counts, np.cumsum(counts) - counts


def _near_grid_point(p: FloatArray, radius: float, density: float) -> IntArray:
    """A grid point next to each north-pole-frame unit vector (its ring, its longitude)."""
    dist, counts, first = _ring_layout(radius, density)
    colat = np.arccos(np.clip(p[:, 2], -1.0, 1.0))
    ring = np.clip(np.rint(colat / dist).astype(np.int64), 1, counts.size)
    n_r = counts[ring - 1]
    lon = np.arctan2(p[:, 1], p[:, 0])
    j = np.rint((lon + np.pi) / (2 * np.pi / n_r)).astype(np.int64) % n_r
    return first[ring - 1] + j


def sklearn_rdist(q: tuple[float, float], p: tuple[float, float]) -> float:
    """scikit-learn's haversine reduced distance of query ``q`` to data point ``p``.

    The same libm calls in the same order as ``HaversineDistance.rdist`` (query first), so
    the result is bit-identical to what the BallTree compares.
    """
    s0 = math.sin(0.5 * (q[0] - p[0]))
    s1 = math.sin(0.5 * (q[1] - p[1]))
    return s0 * s0 + math.cos(q[0]) * math.cos(p[0]) * s1 * s1


class _Rows:
    """Candidate lists of a block of rows (``inf`` distances pad them)."""

    def __init__(self, hood: IntArray, row: IntArray, dist: FloatArray, col: IntArray,
                 last: FloatArray) -> None:
        self.hood, self.row, self.dist, self.col, self.last = hood, row, dist, col, last


def _decide(block: _Rows, k: int, average: bool,
            labels_of: Callable[[IntArray, IntArray], FloatArray],
            ) -> tuple[IntArray, IntArray, IntArray, FloatArray, BoolArray,
                       list[tuple[int, int, IntArray, IntArray]]]:
    """Edges of the rows of ``block``; flags rows that need the per-neighbourhood path.

    Returns ``(hood, row, col, weight, incomplete_rows, ambiguous)`` where ``ambiguous``
    lists ``(hood, row, nearer_cols, band_cols)`` for the caller to resolve.
    ``labels_of(hood, cols)`` gives the ``(R, C, S)`` values of candidate columns.
    """
    part = np.argpartition(block.dist, (k, k + 1), axis=1)
    dk = np.take_along_axis(block.dist, part[:, k : k + 1], 1)[:, 0]
    dn = np.take_along_axis(block.dist, part[:, k + 1 : k + 2], 1)[:, 0]
    tol = _tol(dk)
    incomplete = block.last <= dk + tol
    tie = (dn - dk <= tol) & ~incomplete
    amb = np.zeros(tie.shape, dtype=bool)
    band_r = np.empty(0, dtype=np.int64)
    band = np.empty((0, block.dist.shape[1]), dtype=bool)
    if tie.any():
        band_r = np.flatnonzero(tie)
        band = np.abs(block.dist[band_r] - dk[band_r, None]) <= tol[band_r, None]
        labs = labels_of(block.hood[band_r], block.col[band_r])
        first = np.argmax(band, axis=1)
        ref = labs[np.arange(band_r.size), first][:, None, :]
        differ = ~np.all((labs == ref) | ~band[:, :, None], axis=(1, 2))
        amb[band_r[differ | (dk[band_r] <= _TOL_ABS)]] = True
    rows_s = np.flatnonzero(~incomplete & ~amb)
    pick = part[rows_s, : k + 1]
    hh = np.repeat(block.hood[rows_s], k + 1)
    rr = np.repeat(block.row[rows_s], k + 1)
    cc = np.take_along_axis(block.col[rows_s], pick, 1).reshape(-1)
    ww = np.ones(cc.shape[0])
    ambiguous: list[tuple[int, int, IntArray, IntArray]] = []
    if amb.any():
        in_amb = amb[band_r]
        r = band_r[in_amb]
        bd = band[in_amb]
        nearer = (block.dist[r] < (dk - tol)[r, None]) & ~bd
        if average:
            slots = (k + 1) - nearer.sum(1, keepdims=True)
            w = np.where(nearer, 1.0, np.where(bd, slots / bd.sum(1, keepdims=True), 0.0))
            sel = w > 0
            hh = np.concatenate([hh, np.repeat(block.hood[r], sel.sum(1))])
            rr = np.concatenate([rr, np.repeat(block.row[r], sel.sum(1))])
            cc = np.concatenate([cc, block.col[r][sel]])
            ww = np.concatenate([ww, w[sel]])
        else:
            for j, row in enumerate(r):
                ambiguous.append((int(block.hood[row]), int(block.row[row]),
                                  block.col[row][nearer[j]], block.col[row][bd[j]]))
    return hh, rr, cc, ww, incomplete, ambiguous


def all_knn_edges(
    coords: FloatArray,
    hoods: list[IntArray],
    rho: FloatArray,
    radius: float,
    k: int,
    labels: FloatArray,
    *,
    average_ties: bool,
    hood_latlon: Callable[[int], FloatArray],
    exact_fallback: Callable[[list[tuple[int, IntArray, FloatArray]]],
                             list[tuple[IntArray, IntArray]]],
) -> tuple[IntArray, IntArray, IntArray, FloatArray, IntArray]:
    """kNN edges of every neighbourhood in local indices (presence first, then grid).

    Args:
        coords: ``(N, 2)`` (lat, lon) radians of the test points (the centres).
        hoods: presence point indices of every neighbourhood (PyGBS order irrelevant here).
        rho: background density of every neighbourhood.
        radius: neighbourhood radius (radians).
        k: neighbours per point.
        labels: ``(N, S)`` values of the test points in every series (ties between points
            of equal values in all series are harmless).
        average_ties: share tied places (``"average"``) instead of PyGBS's choice.
        hood_latlon: ``i -> (m, 2)`` the (lat, lon) PyGBS gives its BallTree for
            neighbourhood ``i`` (presence, then its grid), in this function's local order.
        exact_fallback: ``[(i, rows, latlon)] -> [(rows, cols)]``: PyGBS's BallTree edges
            of those rows of those neighbourhoods (``latlon``: :func:`hood_latlon`'s array).

    Returns:
        ``(hood, row, col, weight, skipped)``: edges with local row/column indices and the
        neighbourhoods left to the per-neighbourhood path (no edge of theirs is returned).
    """
    from scipy.spatial import cKDTree

    n_h = len(hoods)
    kk = k + 2 + _EXTRA
    n_i = np.array([len(h) for h in hoods], dtype=np.int64)
    grids = {float(r): north_pole_grid(radius, float(r)) for r in np.unique(rho)}
    g_i = np.array([grids[float(r)].shape[0] for r in rho], dtype=np.int64)
    small = (n_i + g_i < k + 2) | (g_i < kk)
    pres_start = np.concatenate([[0], np.cumsum(n_i)[:-1]])
    pres_hood = np.repeat(np.arange(n_h), n_i)
    pres_pt = np.concatenate(hoods).astype(np.int64) if n_h else np.empty(0, np.int64)
    pres_pos = np.arange(pres_pt.size) - np.repeat(pres_start, n_i)
    rot = rotation_matrices(coords)
    p_np = np.einsum("pj,pjk->pk", latlon_to_xyz(coords)[pres_pt], rot[pres_hood])
    plab = labels[pres_pt]

    # presence -> grid: the kk nearest grid points, and the grid points a presence point
    # can enter the candidate list of
    gq_d = np.empty((pres_pt.size, kk))
    gq_i = np.zeros((pres_pt.size, kk), dtype=np.int64)
    pairs: list[tuple[IntArray, IntArray, FloatArray]] = []  # (presence entry, grid, dist)
    gq_sure = np.zeros(pres_pt.size)  # a presence row's grid candidates are complete to here
    for r_val in np.unique(rho[~small]):
        grid = grids[float(r_val)]
        gd, _ = grid_knn(radius, float(r_val), kk)
        reach = gd[:, -1] + _tol(gd[:, -1])
        sel = np.flatnonzero(~small[pres_hood] & (rho[pres_hood] == r_val))
        bound = float(reach.max())
        tree = cKDTree(grid)
        # candidates: the _LIST nearest grid points (cached per density) of a grid point g0
        # near p, found from p's ring and longitude; complete within (the list's last
        # distance - d(p, g0)), which is checked below
        i0 = _near_grid_point(p_np[sel], radius, float(r_val))
        d0 = np.sqrt(((p_np[sel] - grid[i0]) ** 2).sum(-1))
        ld, li = grid_knn(radius, float(r_val), min(_LIST, grid.shape[0]))
        cand = li[i0]
        diff = p_np[sel][:, None, :] - grid[cand]
        dc = np.sqrt(np.einsum("pmk,pmk->pm", diff, diff))
        sure = ld[i0, -1] - d0 - _tol(ld[i0, -1])  # every grid point nearer is listed
        if cand.shape[1] < grid.shape[0]:
            sure = np.where(sure > 0, sure, 0.0)
        else:
            sure = np.full(sel.size, np.inf)
        first = np.argpartition(dc, kk - 1, axis=1)[:, :kk] if dc.shape[1] > kk else (
            np.broadcast_to(np.arange(dc.shape[1]), (sel.size, dc.shape[1])))
        gq_d[sel] = np.take_along_axis(dc, first, 1)
        gq_i[sel] = np.take_along_axis(cand, first, 1)
        gq_sure[sel] = sure
        near = dc <= reach[cand]
        ok = sure >= bound
        ent, slot = np.nonzero(near & ok[:, None])
        pe, pg, pdd = [sel[ent]], [cand[ent, slot]], [dc[ent, slot]]
        rest = np.flatnonzero(~ok)
        if rest.size:  # a real query, for the few points the list does not cover
            kq = min(2 * _LIST, grid.shape[0])
            while True:
                d, ix = tree.query(p_np[sel[rest]], k=kq)
                if kq >= grid.shape[0] or bool((d[:, -1] > bound).all()):
                    break
                kq = min(2 * kq, grid.shape[0])
            ent, slot = np.nonzero(d <= reach[ix])
            pe.append(sel[rest[ent]])
            pg.append(ix[ent, slot].astype(np.int64))
            pdd.append(d[ent, slot])
        pairs.append((np.concatenate(pe), np.concatenate(pg).astype(np.int64),
                      np.concatenate(pdd)))
    blocks: list[_Rows] = []

    # presence rows, batched by presence count
    big = ~small
    for n in np.unique(n_i[big]):
        hs = np.flatnonzero(big & (n_i == n))
        ent = pres_start[hs][:, None] + np.arange(n)[None, :]  # (h, n)
        x = p_np[ent]
        diff = x[:, :, None, :] - x[:, None, :, :]
        dpp = np.sqrt(np.einsum("hijk,hijk->hij", diff, diff))  # (h, n, n)
        dg = gq_d[ent]  # (h, n, kk)
        dist = np.concatenate([dpp, dg], 2).reshape(-1, n + kk)
        col = np.concatenate([np.broadcast_to(np.arange(n), (hs.size, n, n)),
                              n + gq_i[ent]], 2).reshape(-1, n + kk)
        # the grid candidates are complete up to the farthest listed one and gq_sure
        last = np.minimum(dg.max(axis=2), gq_sure[ent]).reshape(-1)
        blocks.append(_Rows(np.repeat(hs, n), np.tile(np.arange(n), hs.size), dist, col, last))

    # grid rows, batched by density; a row no presence point reaches keeps the grid's own
    # k + 1 nearest (ties among grid points are harmless: all are background)
    out_h: list[IntArray] = []
    out_r: list[IntArray] = []
    out_c: list[IntArray] = []
    out_w: list[FloatArray] = []
    skip = small.copy()
    local = np.full(n_h, -1, dtype=np.int64)
    for r_val, (e, gg, dd) in zip(np.unique(rho[big]), pairs, strict=True):
        hs = np.flatnonzero(big & (rho == r_val))
        gd, gi = grid_knn(radius, float(r_val), kk)
        g = gd.shape[0]
        local[hs] = np.arange(hs.size)
        row = local[pres_hood[e]] * g + gg
        order = np.argsort(row, kind="stable")
        e, row, dd = e[order], row[order], dd[order]
        cnt = np.bincount(row, minlength=hs.size * g)
        hit = np.flatnonzero(cnt)
        free = np.flatnonzero(cnt == 0)
        fh, fg = hs[free // g], free % g
        short = gd[:, -1] <= gd[:, k] + _tol(gd[:, k])  # the tie band may go on
        skip[fh[short[fg]]] = True
        out_h.append(np.repeat(fh, k + 1))
        out_r.append(np.repeat(n_i[fh] + fg, k + 1))
        out_c.append((n_i[fh][:, None] + gi[fg, : k + 1]).reshape(-1))
        out_w.append(np.ones(fh.size * (k + 1)))
        slot_of = np.full(cnt.size, -1, dtype=np.int64)
        slot_of[hit] = np.arange(hit.size)
        width = int(cnt.max()) if cnt.size else 0
        pos = np.arange(row.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        extra_d = np.full((hit.size, width), np.inf)
        extra_c = np.zeros((hit.size, width), dtype=np.int64)
        extra_d[slot_of[row], pos] = dd
        extra_c[slot_of[row], pos] = pres_pos[e]
        hh, hg = hs[hit // g], hit % g
        dist = np.concatenate([gd[hg], extra_d], 1)
        col = np.concatenate([n_i[hh][:, None] + gi[hg], extra_c], 1)
        blocks.append(_Rows(hh, n_i[hh] + hg, dist, col, gd[hg, -1]))

    ambiguous: list[tuple[int, int, IntArray, IntArray]] = []

    def labels_of(hood_: IntArray, cols: IntArray) -> FloatArray:
        is_p = cols < n_i[hood_][:, None]
        ent = np.where(is_p, pres_start[hood_][:, None] + cols, 0)
        return np.where(is_p[:, :, None], plab[ent], 0.0)

    for block in blocks:
        hh, rr, cc, ww, incomplete, amb = _decide(block, k, average_ties, labels_of)
        out_h.append(hh)
        out_r.append(rr)
        out_c.append(cc)
        out_w.append(ww)
        skip[block.hood[incomplete]] = True
        ambiguous.extend(amb)

    # PyGBS's choice among tied candidates: order by the BallTree's own reduced distance
    res_h: list[int] = []
    res_r: list[int] = []
    res_c: list[int] = []
    exact: dict[int, list[int]] = {}
    cache: dict[int, FloatArray] = {}
    by_hood: dict[int, list[tuple[int, list[int], list[int]]]] = {}
    for h, r, near_a, band_a in ambiguous:
        if not skip[h]:
            by_hood.setdefault(h, []).append((r, near_a.tolist(), band_a.tolist()))
    for h, items in by_hood.items():
        ll = cache[h] = hood_latlon(h)
        lat, lon = ll[:, 0].tolist(), ll[:, 1].tolist()
        cos_lat = [math.cos(v) for v in lat]
        for r, nearer, band in items:
            # sklearn_rdist(q, p) with cos(lat) computed once per point (the same value)
            qa, qo, cq = lat[r], lon[r], cos_lat[r]
            rd = []
            for c in band:
                s0 = math.sin(0.5 * (qa - lat[c]))
                s1 = math.sin(0.5 * (qo - lon[c]))
                rd.append(s0 * s0 + cq * cos_lat[c] * s1 * s1)
            o = sorted(range(len(band)), key=rd.__getitem__)
            slots = (k + 1) - len(nearer)
            if slots < len(band) and rd[o[slots - 1]] == rd[o[slots]]:
                # a bit-exact tie across the boundary: harmless between points of equal
                # values (not the point itself); otherwise the BallTree's order decides
                grp = [c for c, v in zip(band, rd, strict=True) if v == rd[o[slots - 1]]]
                labs = labels_of(np.array([h]), np.array([grp], dtype=np.int64))[0]
                if r in grp or not (labs == labs[:1]).all():
                    exact.setdefault(h, []).append(r)
                    continue
            chosen = nearer + [band[j] for j in o[:slots]]
            res_h += [h] * len(chosen)
            res_r += [r] * len(chosen)
            res_c += chosen
    requests = [(h, np.array(rows, dtype=np.int64), cache[h]) for h, rows in exact.items()]
    for (h, _, _), (fr, fc) in zip(requests, exact_fallback(requests), strict=True):
        res_h += [h] * fr.size
        res_r += fr.tolist()
        res_c += fc.tolist()
    hood = np.concatenate([*out_h, np.array(res_h, dtype=np.int64)])
    row = np.concatenate([*out_r, np.array(res_r, dtype=np.int64)])
    col = np.concatenate([*out_c, np.array(res_c, dtype=np.int64)])
    wt = np.concatenate([*out_w, np.ones(len(res_c))])
    keep = (row != col) & ~skip[hood]
    return hood[keep], row[keep], col[keep], wt[keep], np.flatnonzero(skip).astype(np.int64)


__all__ = ["all_knn_edges", "grid_knn", "sklearn_rdist"]
