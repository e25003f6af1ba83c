"""Geo-Bias Score (GBS) of TorchSpatial (Wu et al., arXiv 2406.15658, Sec. 4 "Geo-bias").

The Geo-Bias Score measures how spatially clustered a model's test points (unmarked) or its
per-point performance (marked) are, as the *spatial self-information* (SSI) of the
neighbourhood of every test point; the dataset score is the mean over test points. This
module follows the reference implementation PyGBS (github seai-lab/PyGBS, MIT,
``gbs/ssi``) step by step; the code here is our own.

For one test point ``c`` with neighbourhood radius ``r`` (radians on the unit sphere):

1. **Presence points** ``P``: the ``n_neighbors`` (400) nearest test points of ``c`` under the
   haversine distance, kept when their distance is ``<= r`` (``c`` itself included).
2. **Background points** ``B``: a polar concentric grid around ``c`` of density
   ``rho = ceil(5 |P| / (pi r^2))`` points per square radian ("auto" density), ring spacing
   ``d = 1 / sqrt(rho)``, rings ``i = 1..ceil(r / d)`` at angular distance ``i d`` holding
   ``ceil(2 pi i)`` points, laid out around the north pole and rotated to ``c`` exactly as
   PyGBS does (:func:`background_points`), so that distance ties break as in PyGBS.
3. **Values** ``x``: unmarked: 1 on presence points; marked: the performance value of the
   presence point (e.g. ``hit@1``, ``reciprocal_rank``). Background points are 0 in both, so a
   zero performance value is indistinguishable from background (as in PyGBS).
4. **Weights** ``W``: 0/1 k-nearest-neighbour weights (``k = 4``, haversine) over
   ``P ∪ B``, ``W_ij = 1`` when ``j`` is one of the ``k`` nearest neighbours of ``i``
   (not symmetric). The statistic is the un-normalised Moran cross-product

   ``S = x~^T W x~``, with ``x~ = x - mean(x)``.

5. **Analytical null** (random relabelling of the ``N = |P| + |B|`` points). With the
   distinct values ``c_a`` (counts ``n_a``), mean ``x_bar`` and the majority value ``c_r``
   (the background, whose pairs are ignored in the variance), PyGBS uses

   ``mu = sum_{a,b} (c_a - x_bar)(c_b - x_bar) m_ab``,
   ``m_ab = k n_a n_b / N`` (a != b), ``m_aa = k n_a (n_a - 1) / N - 1``;

   ``sigma^2 = sum_{a != b, both != r} q_ab^2 v_ab + sum_{a != r} (c_a - c_r)^4 v_aa``,
   ``q_ab = (c_a - x_bar)(c_b - x_bar) - 2 (c_a - x_bar)(c_r - x_bar) + (c_r - x_bar)^2``,
   ``v_ab = min(n_a, n_b) (k M / N)(1 - k M / N)`` with ``M = max(n_a, n_b)``,
   ``v_aa = 2 (n_a - 1)(k n_a / N)(1 - k (2 n_a - 1) / (3 N))``;

   and ``sigma = sqrt(sigma^2) + 1`` (PyGBS adds 1 to the standard deviation). PyGBS
   hard-codes the factor 4, which is ``k`` at the paper's default; we use ``k``.

6. ``p = 2 Phi(min(S, 2 mu - S); mu, sigma)`` (two-sided normal tail) and
   ``SSI = -log(p + 1e-256)`` (so an SSI saturates at ``256 ln 10 ≈ 589.5``).

The paper uses a 100 km scale (``r ≈ 0.0157`` rad on a 6371 km sphere) and 4-NN weights.
The older copy in TorchSpatial (``main/surprisal.py``) used the normal *density* instead of
the two-sided tail and no ``+1``; we follow PyGBS.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from geoneurips.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EARTH_RADIUS_KM",
    "analytical_null",
    "auto_density",
    "background_points",
    "geobias_score",
    "knn_neighbours",
    "moran_cross_product",
    "neighbourhood_ssi",
    "ssi_from_statistic",
]

#: Mean Earth radius used to turn kilometres into radians (100 km ≈ 0.0157 rad).
EARTH_RADIUS_KM = 6371.0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def auto_density(radius: float, n_presence: int) -> int:
    """Background density ``ceil(5 n / (pi r^2))`` points per square radian (PyGBS "auto")."""
    return int(math.ceil((5 * n_presence) / (math.pi * radius**2)))


def background_points(center: npt.ArrayLike, radius: float, density: float) -> FloatArray:
    """Polar concentric grid of background points around ``center``, built as PyGBS does.

    PyGBS (``gbs/ssi/utils.generate_background_points``) lays the grid out around the north
    pole -- ring ``i = 1..ceil(r sqrt(rho))`` at colatitude ``i / sqrt(rho)`` with
    ``ceil(2 pi i)`` points at longitudes ``-pi + 2 pi j / ceil(2 pi i)`` -- converts it to
    unit vectors one point at a time, and rotates it to the centre with the extrinsic Euler
    rotation ``"yz"`` by ``(pi/2 - lat0, lon0)`` (scipy ``Rotation``). The same steps are
    followed here, so the coordinates agree to the last bit and the haversine BallTree of
    :func:`knn_neighbours` breaks distance ties (duplicate test points) the same way.

    Args:
        center: ``(lat, lon)`` of the centre, radians.
        radius: neighbourhood radius, radians (``0 < radius < pi/2``).
        density: points per square radian; ring spacing is ``1/sqrt(density)``.

    Returns:
        ``(M, 2)`` array of ``(lat, lon)`` in radians.
    """
    from scipy.spatial.transform import Rotation

    from .geobias_fast import north_pole_grid

    lat0, lon0 = (float(v) for v in np.asarray(center, dtype=np.float64).reshape(2))
    if not 0 < radius < math.pi / 2:
        raise InvalidInputError(f"radius must be in (0, pi/2) radians, got {radius}")
    if density <= 0:
        raise InvalidInputError(f"density must be positive, got {density}")
    xyz = north_pole_grid(float(radius), float(density)).copy()
    rotated = Rotation.from_euler("yz", [0.5 * np.pi - lat0, lon0], degrees=False).apply(xyz)
    return np.array([np.arcsin(rotated[:, 2]), np.arctan2(rotated[:, 1], rotated[:, 0])]).T


def knn_neighbours(points: FloatArray, k: int,
                   rows: IntArray | None = None) -> tuple[IntArray, IntArray]:
    """Edges ``(i, j)`` of the 0/1 k-nearest-neighbour weights (haversine), self excluded.

    Like PyGBS, ``k + 1`` neighbours are queried and the point itself is dropped when it is
    among them (with exact duplicates it may not be, and then ``k + 1`` neighbours remain).

    Args:
        points: ``(N, 2)`` ``(lat, lon)`` in radians.
        k: number of neighbours.
        rows: only these rows' edges (the tree is still built over every point, so each
            row's answer is the one the whole query gives: queries are independent).

    Returns:
        ``(rows, cols)``: ``W[rows[e], cols[e]] = 1`` for every edge ``e``.
    """
    from sklearn.neighbors import BallTree

    n = points.shape[0]
    kq = min(k + 1, n)
    tree = BallTree(points, leaf_size=30, metric="haversine")
    which = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    nbrs = tree.query(points[which], k=kq, return_distance=False)
    rr = np.repeat(which, kq)
    cols = nbrs.reshape(-1).astype(np.int64)
    keep = rr != cols
    return rr[keep], cols[keep]


_TRUSTED_LOCK = threading.Lock()


@contextlib.contextmanager
def trusted_balltree_input() -> Iterator[None]:
    """Skip scikit-learn's input validation inside ``BallTree`` for arrays we built.

    ``BallTree(...)`` and ``.query`` run ``sklearn.utils.check_array`` (dataframe detection
    through narwhals, finiteness), which costs about 0.1 ms a call: more than building a
    tree over a hundred points. The exact-tie fallback of the batched Geo-Bias Score builds
    one tree per neighbourhood with duplicate test points (about 900 on BirdSnap), on
    arrays this module made (finite float64, C-contiguous, two columns), so for the
    duration of the block the tree module's ``check_array`` is a plain contiguous float64
    conversion. The tree, its queries and their results are unchanged; if scikit-learn
    stops looking ``check_array`` up in that module the substitution does nothing and only
    the speed changes. A lock keeps two blocks from interleaving.
    """
    try:
        from sklearn.neighbors import _ball_tree
    except ImportError:  # pragma: no cover - private module moved
        yield
        return
    with _TRUSTED_LOCK:
        original = getattr(_ball_tree, "check_array", None)
        if original is None:  # pragma: no cover
            yield
            return

        def plain(array: Any, **_: Any) -> FloatArray:
            return np.ascontiguousarray(array, dtype=np.float64)

        _ball_tree.check_array = plain
        try:
            yield
        finally:
            _ball_tree.check_array = original


def moran_cross_product(values: npt.ArrayLike, edges: tuple[IntArray, IntArray]) -> float:
    """``S = x~^T W x~ = sum_(i,j) W_ij x~_i x~_j`` with ``x~ = x - mean(x)`` (0/1 edge list)."""
    x = np.asarray(values, dtype=np.float64)
    xt = x - x.mean()
    rows, cols = edges
    return float(np.sum(xt[rows] * xt[cols]))


def analytical_null(values: npt.ArrayLike, k: int = 4) -> tuple[float, float]:
    """Null mean and standard deviation of ``S`` (PyGBS ``AnalyticalSurprisal``; see module doc).

    Returns:
        ``(mu, sigma)`` with ``sigma`` including PyGBS's ``+1``.
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    cs, ns_int = np.unique(x, return_counts=True)
    ns = ns_int.astype(np.float64)
    big_n = float(ns.sum())
    xbar = float((cs * ns).sum() / big_n)
    dev = cs - xbar
    same = np.eye(cs.size, dtype=bool)
    # mean
    m = k * np.outer(ns, ns) / big_n
    m[same] = k * ns * (ns - 1) / big_n - 1
    mu = float((np.outer(dev, dev) * m).sum())
    # variance: the majority value r is ignored
    r = int(np.argmax(ns_int))
    keep = np.ones(cs.size, dtype=bool)
    keep[r] = False
    dr = cs[r] - xbar
    big_m = np.maximum.outer(ns, ns)
    small = np.minimum.outer(ns, ns)
    v = small * (k * big_m / big_n) * (1 - k * big_m / big_n)
    q = (np.outer(dev, dev) - 2 * dev[:, None] * dr + dr**2) ** 2
    v_same = 2 * (ns - 1) * k * ns / big_n * (1 - (k * (2 * ns - 1)) / (3 * big_n))
    q_same = (cs - cs[r]) ** 4
    v[same] = v_same
    q[same] = q_same
    mask = np.outer(keep, keep)
    var = float((q * v)[mask].sum())
    return mu, math.sqrt(max(var, 0.0)) + 1.0


def ssi_from_statistic(s: float, mu: float, sigma: float) -> float:
    """``-log(2 Phi(min(S, 2 mu - S); mu, sigma) + 1e-256)``."""
    from scipy.special import ndtr  # standard normal CDF (avoids importing scipy.stats)

    low = min(s, 2 * mu - s)
    p = 2 * float(ndtr((low - mu) / sigma))
    return float(-np.log(p + 1e-256))


def neighbourhood_ssi(
    presence: FloatArray,
    center: npt.ArrayLike,
    radius: float,
    values: npt.ArrayLike | Mapping[str, npt.ArrayLike] | None = None,
    *,
    density: float | Literal["auto"] = "auto",
    k: int = 4,
) -> dict[str, float]:
    """SSI of one neighbourhood, unmarked and (optionally) marked.

    Args:
        presence: ``(n, 2)`` ``(lat, lon)`` radians of the presence points.
        center: ``(lat, lon)`` radians of the centre.
        radius: radius in radians.
        values: presence values for the marked score: one array (key ``"marked"``) or a
            mapping ``name -> array``; background and weights are shared.
        density: background density (points per square radian) or ``"auto"``.
        k: nearest neighbours of the weight matrix.

    Returns:
        ``{"unmarked": ssi, <name>: ssi, ...}``.
    """
    n = presence.shape[0]
    rho = auto_density(radius, n) if density == "auto" else float(density)
    bg = background_points(center, radius, rho)
    pts = np.concatenate([presence, bg], axis=0)
    nbrs = knn_neighbours(pts, k)
    series: dict[str, npt.ArrayLike] = {"unmarked": np.ones(n)}
    if values is not None:
        if isinstance(values, Mapping):
            series.update(values)
        else:
            series["marked"] = values
    out: dict[str, float] = {}
    zeros = np.zeros(bg.shape[0])
    for name, val in series.items():
        x = np.concatenate([np.asarray(val, dtype=np.float64).reshape(-1), zeros])
        s = moran_cross_product(x, nbrs)
        mu, sigma = analytical_null(x, k)
        out[name] = ssi_from_statistic(s, mu, sigma)
    return out


def _coords_and_values(
    data: Any,
    values: npt.ArrayLike | None,
    value_col: str | None,
    lon_col: str,
    lat_col: str,
    dropna: bool,
) -> tuple[FloatArray, FloatArray | None, int]:
    """Validate the input; return ``(lat, lon)`` radians, values (or None), dropped rows."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        missing = [c for c in (lon_col, lat_col) if c not in data.columns]
        if value_col is not None and value_col not in data.columns:
            missing.append(value_col)
        if missing:
            raise InvalidInputError(
                f"results table lacks column(s) {missing}; it has {list(data.columns)}"
            )
        try:
            lon = data[lon_col].to_numpy(dtype=np.float64)
            lat = data[lat_col].to_numpy(dtype=np.float64)
            val = None if value_col is None else data[value_col].to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"non-numeric lon/lat/value column: {exc}") from exc
    else:
        arr = np.asarray(data, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise InvalidInputError(
                f"coordinates must be an (N, 2) array of (lon, lat) degrees, got {arr.shape}"
            )
        lon, lat = arr[:, 0], arr[:, 1]
        val = None if values is None else np.asarray(values, dtype=np.float64).reshape(-1)
    if values is not None and isinstance(data, pd.DataFrame):
        val = np.asarray(values, dtype=np.float64).reshape(-1)
    if val is not None and val.shape[0] != lon.shape[0]:
        raise InvalidInputError(f"{val.shape[0]} values for {lon.shape[0]} locations")
    bad = ~np.isfinite(lon) | ~np.isfinite(lat)
    if val is not None:
        bad |= ~np.isfinite(val)
    n_bad = int(bad.sum())
    if n_bad and not dropna:
        rows = np.flatnonzero(bad)[:5].tolist()
        raise InvalidInputError(
            f"{n_bad} row(s) have NaN/inf lon, lat or value (first rows {rows}); "
            "drop them or pass dropna=True (CLI: --drop-nan)"
        )
    keep = ~bad
    lon, lat = lon[keep], lat[keep]
    val = None if val is None else val[keep]
    if lon.size == 0:
        raise InvalidInputError("no valid rows left to score")
    if np.any(np.abs(lat) > 90):
        raise InvalidInputError(
            f"latitude out of [-90, 90] (min {lat.min():.3f}, max {lat.max():.3f}); "
            "are lon and lat swapped?"
        )
    if np.any(np.abs(lon) > 180):
        raise InvalidInputError(
            f"longitude out of [-180, 180] (min {lon.min():.3f}, max {lon.max():.3f})"
        )
    # PyGBS's reader converts with ``deg / 180 * pi`` (np.radians rounds differently)
    coords = (np.array([lat, lon]).T / 180) * np.pi
    return coords, val, n_bad


def geobias_score(
    data: pd.DataFrame | npt.ArrayLike,
    value_col: str | None = None,
    *,
    values: npt.ArrayLike | None = None,
    radius_km: float = 100.0,
    k: int = 4,
    n_neighbors: int = 400,
    density: float | Literal["auto"] = "auto",
    lon_col: str = "lon",
    lat_col: str = "lat",
    dropna: bool = False,
    per_point: bool = False,
    batched: bool = True,
    ties: Literal["pygbs", "average"] = "pygbs",
) -> dict[str, Any]:
    """Dataset Geo-Bias Score: mean SSI over every test point (TorchSpatial Sec. 4, PyGBS).

    Args:
        data: a per-sample results table (``lon``, ``lat`` and performance columns, as the
            TorchSpatial ``eval_*.csv`` files) or an ``(N, 2)`` array of ``(lon, lat)`` degrees.
        value_col: performance column for the marked score (e.g. ``"hit@1"``,
            ``"reciprocal_rank"``); ``None`` gives only the unmarked score.
        values: performance values when ``data`` is an array (overrides ``value_col``).
        radius_km: neighbourhood radius (paper: 100 km).
        k: nearest neighbours of the 0/1 weight matrix (paper: 4).
        n_neighbors: nearest test points considered as presence candidates (PyGBS: 400).
        density: background density (points per square radian) or ``"auto"``.
        lon_col: longitude column (degrees).
        lat_col: latitude column (degrees).
        dropna: drop rows with NaN coordinates/values (PyGBS does so silently); otherwise
            such rows raise :class:`InvalidInputError`.
        per_point: also return the per-point SSI arrays.
        batched: process all neighbourhoods together (:mod:`.geobias_fast`; neighbourhoods
            with kNN ties are recomputed one by one as PyGBS does); ``False`` runs the plain
            per-point loop of PyGBS (the reference; same results).
        ties: ``"pygbs"``: where test points share coordinates and the tie at the ``k``-th
            neighbour could change the statistic, the neighbourhood's kNN come from PyGBS's
            BallTree (its traversal order breaks the tie), so every per-point value is
            PyGBS's. ``"average"`` (only with ``batched``): tied candidates share the
            remaining places equally (the expected statistic under random tie-breaking), so
            the score no longer depends on the order of the rows; much faster on data with
            many duplicate locations, and differs from PyGBS only on those neighbourhoods.

    Returns:
        ``{"unmarked": float, "marked": float | None, "n": int, "dropped": int,
        "radius_km", "radius_rad", "k", "value": value_col}`` (plus ``"unmarked_per_point"``
        and ``"marked_per_point"`` lists with ``per_point=True``).

    Raises:
        InvalidInputError: missing columns, NaN rows (without ``dropna``), coordinates out of
            range, or bad parameters.
    """
    if ties not in ("pygbs", "average") or (ties == "average" and not batched):
        raise InvalidInputError(
            f"ties must be 'pygbs' or 'average' (average needs batched=True), got {ties!r}"
        )
    if radius_km <= 0 or not math.isfinite(radius_km):
        raise InvalidInputError(f"radius_km must be positive, got {radius_km}")
    if k < 1 or n_neighbors < 1:
        raise InvalidInputError(f"k and n_neighbors must be >= 1, got k={k}, {n_neighbors}")
    radius = radius_km / EARTH_RADIUS_KM
    if radius >= math.pi / 2:
        raise InvalidInputError(f"radius_km={radius_km} exceeds a quarter of the globe")
    coords, val, dropped = _coords_and_values(data, values, value_col, lon_col, lat_col, dropna)
    from sklearn.neighbors import BallTree

    n = coords.shape[0]
    tree = BallTree(coords, leaf_size=30, metric="haversine")
    kn = min(n_neighbors, n)

    def pygbs_hood(i: int) -> IntArray:
        """PyGBS: the ``n_neighbors`` nearest (in BallTree order), kept within the radius."""
        d, nb = tree.query(coords[i : i + 1], k=kn, return_distance=True)
        out: IntArray = nb[0, d[0] <= radius].astype(np.int64)
        return out

    if batched:
        # the same sets as PyGBS's (order only matters to an exact-tie fallback, which
        # uses pygbs_hood): every point within the radius, or the n_neighbors nearest
        ind = tree.query_radius(coords, radius, return_distance=True, sort_results=True)[0]
        if ties == "average":  # order-free: the nearest within the radius
            hoods = [ix[:kn].astype(np.int64) for ix in ind]
        else:
            hoods = [ix.astype(np.int64) if ix.size <= kn else pygbs_hood(i)
                     for i, ix in enumerate(ind)]
    else:
        dists, nbrs = tree.query(coords, k=kn, return_distance=True)
        hoods = [nbrs[i, dists[i] <= radius] for i in range(n)]

    def exact(i: int) -> dict[str, float]:
        idx = hoods[i]
        return neighbourhood_ssi(
            coords[idx], coords[i], radius, None if val is None else val[idx],
            density=density, k=k,
        )

    if batched:
        from .geobias_fast import batched_ssi

        def exact_edges(requests: list[tuple[int, IntArray, FloatArray]]
                        ) -> list[tuple[IntArray, IntArray]]:
            """PyGBS's BallTree edges of the requested rows (our local order; ``latlon``:
            our presence points then the grid), each tree built in PyGBS's order."""
            if not requests:
                return []
            centres = np.array([i for i, _, _ in requests])
            d, nb = tree.query(coords[centres], k=kn, return_distance=True)  # one call
            out = []
            with trusted_balltree_input():
                for j, (i, rows, latlon) in enumerate(requests):
                    ours = hoods[i]
                    theirs = nb[j, d[j] <= radius]
                    if not np.array_equal(np.sort(theirs), np.sort(ours)):
                        raise RuntimeError(f"neighbourhood {i}: radius query and kNN query differ")
                    # local index maps: presence positions differ, grid positions are shared
                    pos = np.empty(n, dtype=np.int64)
                    pos[theirs] = np.arange(theirs.size)
                    to_theirs = np.concatenate([pos[ours], np.arange(ours.size, latlon.shape[0])])
                    to_ours = np.empty_like(to_theirs)
                    to_ours[to_theirs] = np.arange(to_theirs.size)
                    rr, cc = knn_neighbours(latlon[to_ours], k, to_theirs[rows])
                    out.append((to_ours[rr], to_ours[cc]))
            return out

        series: dict[str, FloatArray | None] = {"unmarked": None}
        if val is not None:
            series["marked"] = val
        res = batched_ssi(coords, hoods, radius, series, k, density, exact_edges,
                          average_ties=ties == "average")
        unmarked = res["unmarked"]
        marked = res.get("marked")
    else:
        unmarked = np.empty(n)
        marked = np.empty(n) if val is not None else None
        for i in range(n):
            scores = exact(i)
            unmarked[i] = scores["unmarked"]
            if marked is not None:
                marked[i] = scores["marked"]
    out: dict[str, Any] = {
        "unmarked": float(unmarked.mean()),
        "marked": None if marked is None else float(marked.mean()),
        "n": int(n),
        "dropped": int(dropped),
        "radius_km": float(radius_km),
        "radius_rad": float(radius),
        "k": int(k),
        "value": value_col if values is None else "values",
    }
    if per_point:
        out["unmarked_per_point"] = unmarked.tolist()
        out["marked_per_point"] = None if marked is None else marked.tolist()
    return out
