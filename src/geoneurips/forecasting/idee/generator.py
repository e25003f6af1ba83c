"""The IDEE synthetic benchmark generator (Shams Eddin et al., NeurIPS 2024, Sec. 4 / App. B).

A data cube of ``V`` variables over ``(time, y, x)`` with

1. **extremes**: the union of random events (:class:`CubeEvent`, :class:`RandomWalkEvent`,
   :class:`LocalEvent`, :class:`GaussianEvent`, :class:`OnsetEvent`), then
   :func:`extreme_classes` dilates them in time (class 1 = extreme, 2 = one step before/after,
   3 = two steps);
2. a **coupling matrix** ``ECM[V, interval]`` (:func:`coupling_matrix`): for each coupled
   variable a contiguous run of ones;
3. **base signals** (sine / cosine / constant with a latitude gradient, or a weekly
   climatology read from a file for the NOAA / CERRA configurations);
4. **dependent variables**: linear ``sum_v w_v x_v`` or quadratic
   ``sum_v (x_v^2 - 1) / sqrt(2) w_v`` couplings of the independent base signals, weights
   Normal / Laplace / Cauchy, L2-normalised (the *Disturbed* variants mix an orthogonal
   ``wd`` in on anomalous cells); their anomalies are the OR of the independent ones;
5. **propagation** of each extreme at ``t`` to the variable's driver mask over
   ``[t - pos + 1, t + interval - pos]`` where the ECM row is one (:func:`propagate_extremes`);
6. **injection**: ``theta = B (2^(kb E) - 1) + N 2^(kn E) + std(N) ks E`` with
   ``E = anomaly OR anomaly_extreme``; on driver cells theta takes the variable's coupling
   sign; ``x = B + theta``.

Deliberate differences from the public generator (``HakamShams/Synthetic_Multivariate_Anomalies``):

- every random draw comes from one seeded ``numpy.random.Generator`` (the public noise
  classes draw from an unseeded ``default_rng()``, so its cubes are not reproducible);
- the Gaussian event skips the constant ``det^-1/2 (2 pi)^-3/2 100`` factor, which the
  min-max normalisation right after it cancels;
- the published configurations are defined for 2392 x 200 x 200 cubes; :func:`exp_config`
  shrinks event counts with the cube volume and event extents with the grid for small cubes
  (``nOsc`` follows ``n_time / 52`` so the season stays 52 steps long).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

__all__ = [
    "Base",
    "CubeEvent",
    "Event",
    "GaussianEvent",
    "GeneratorConfig",
    "LocalEvent",
    "Noise",
    "OnsetEvent",
    "RandomWalkEvent",
    "SyntheticCube",
    "Weight",
    "coupling_matrix",
    "exp_config",
    "extreme_classes",
    "generate",
    "make_base",
    "make_noise",
    "make_weight",
    "propagate_extremes",
]

Shape = tuple[int, int, int]
U8 = NDArray[np.uint8]
F64 = NDArray[np.float64]

PUBLISHED_SHAPE: Shape = (52 * 46, 200, 200)


# ----------------------------------------------------------------------------- events
@dataclass(frozen=True)
class CubeEvent:
    """``n`` boxes with half sizes ``randint(3, s + 1) // 2`` per axis."""

    n: int
    sx: int = 35
    sy: int = 35
    sz: int = 25

    def draw(self, shape: Shape, rng: np.random.Generator) -> U8:
        t, h, w = shape
        out = np.zeros(shape, np.uint8)
        for _ in range(self.n):
            px, py, pz = rng.integers(0, w), rng.integers(0, h), rng.integers(0, t)
            hx = int(rng.integers(3, self.sx + 1)) // 2
            hy = int(rng.integers(3, self.sy + 1)) // 2
            hz = int(rng.integers(3, self.sz + 1)) // 2
            out[max(0, pz - hz) : pz + hz, max(0, py - hy) : py + hy, max(0, px - hx) : px + hx] = 1
        return out


@dataclass(frozen=True)
class LocalEvent:
    """``n`` single pixels lasting ``2 * (randint(3, sz + 1) // 2)`` steps."""

    n: int
    sz: int = 17

    def draw(self, shape: Shape, rng: np.random.Generator) -> U8:
        t, h, w = shape
        out = np.zeros(shape, np.uint8)
        for _ in range(self.n):
            px, py, pz = rng.integers(0, w), rng.integers(0, h), rng.integers(0, t)
            hz = int(rng.integers(3, self.sz + 1)) // 2
            out[max(0, pz - hz) : pz + hz, py, px] = 1
        return out


@dataclass(frozen=True)
class GaussianEvent:
    """``n`` 3-D Gaussians (sigmas ``randint(7, s + 1) // 2``), min-max normalised over the
    cube and thresholded at ``(100 - max sigma) / 100``."""

    n: int
    sx: int = 35
    sy: int = 35
    sz: int = 25

    def draw(self, shape: Shape, rng: np.random.Generator) -> U8:
        t, h, w = shape
        out = np.zeros(shape, np.uint8)
        zz, yy, xx = np.arange(t), np.arange(h), np.arange(w)
        for _ in range(self.n):
            px, py, pz = rng.integers(0, w), rng.integers(0, h), rng.integers(0, t)
            gx = int(rng.integers(7, max(7, self.sx) + 1)) // 2
            gy = int(rng.integers(7, max(7, self.sy) + 1)) // 2
            gz = int(rng.integers(7, max(7, self.sz) + 1)) // 2
            ez = np.exp(-0.5 * ((zz - pz) / gz) ** 2)
            ey = np.exp(-0.5 * ((yy - py) / gy) ** 2)
            ex = np.exp(-0.5 * ((xx - px) / gx) ** 2)
            g = ez[:, None, None] * ey[None, :, None] * ex[None, None, :]
            lo, hi = float(g.min()), float(g.max())
            g = (g - lo) / (hi - lo) if hi > lo else np.ones_like(g)
            out[g >= (100 - max(gx, gy, gz)) / 100] = 1
        return out


@dataclass(frozen=True)
class OnsetEvent:
    """``n`` patches that start after ``os * T`` and last to the end of the series."""

    n: int
    sx: int = 17
    sy: int = 17
    os: float = 0.98

    def draw(self, shape: Shape, rng: np.random.Generator) -> U8:
        t, h, w = shape
        out = np.zeros(shape, np.uint8)
        for _ in range(self.n):
            px, py = rng.integers(0, w), rng.integers(0, h)
            pz = int(rng.integers(int(self.os * t), t))
            hx = int(rng.integers(3, self.sx + 1)) // 2
            hy = int(rng.integers(3, self.sy + 1)) // 2
            out[pz:, max(0, py - hy) : py + hy, max(0, px - hx) : px + hx] = 1
        return out


@dataclass(frozen=True)
class RandomWalkEvent:
    """``n`` self-avoiding random walks of ``s`` steps in the 26-neighbourhood (at most
    ``10 s`` tries each)."""

    n: int
    s: int = 125

    def draw(self, shape: Shape, rng: np.random.Generator) -> U8:
        t, h, w = shape
        out = np.zeros(shape, np.uint8)
        for _ in range(self.n):
            p = [int(rng.integers(0, t)), int(rng.integers(0, h)), int(rng.integers(0, w))]
            out[p[0], p[1], p[2]] = 1
            steps = tries = 0
            moves = rng.integers(-1, 2, size=(self.s * 10, 3))
            while steps < self.s and tries < self.s * 10:
                q = [p[0] + moves[tries, 2], p[1] + moves[tries, 1], p[2] + moves[tries, 0]]
                tries += 1
                if 0 <= q[0] < t and 0 <= q[1] < h and 0 <= q[2] < w and out[q[0], q[1], q[2]] != 1:
                    out[q[0], q[1], q[2]] = 1
                    p = q
                    steps += 1
        return out


Event = CubeEvent | LocalEvent | GaussianEvent | OnsetEvent | RandomWalkEvent


def draw_events(events: Sequence[Event], shape: Shape, rng: np.random.Generator) -> U8:
    """The union of the given event generators."""
    out = np.zeros(shape, np.uint8)
    for ev in events:
        out |= ev.draw(shape, rng)
    return out


def extreme_classes(extreme: U8, n_added_classes: int = 2) -> U8:
    """Temporal dilation of extremes: class 1 stays, each dilation by a ``(3, 1, 1)`` max
    filter labels the newly covered cells ``c + 2`` (so +-1 step is 2, +-2 steps is 3)."""
    cur = (extreme > 0).astype(np.uint8)
    out = cur.copy()
    for c in range(n_added_classes):
        grown = ndimage.maximum_filter(cur, size=(3, 1, 1), mode="constant", cval=0)
        new = (grown == 1) & (cur == 0)
        out[new] = c + 2
        cur = grown
    return out


# ----------------------------------------------------------------------- coupling matrix
def coupling_matrix(
    n_var: int, var_drop: Sequence[int], interval: int, rng: np.random.Generator
) -> U8:
    """``ECM[V, interval]`` (uint8): for each variable not in ``var_drop`` (1-indexed) ones on
    ``[p - s, p + s)`` with ``p = randint(0, interval)``, ``s = randint(5, interval + 1) // 2``."""
    ecm = np.zeros((n_var, interval), np.uint8)
    for v in range(n_var):
        if v + 1 in var_drop:
            continue
        p = int(rng.integers(0, interval))
        s = int(rng.integers(5, interval + 1)) // 2
        ecm[v, max(0, p - s) : min(interval, p + s)] = 1
    return ecm


def propagate_extremes(extreme: U8, ecm_row: U8, pos: int) -> U8:
    """The driver mask of one variable: each class-1 extreme at ``t`` ORs ``ecm_row[k]`` into
    ``t + k - pos + 1`` (``k = 0 .. interval - 1``), i.e. the window ``[t - pos + 1,
    t + interval - pos]`` with the extreme at position ``pos`` (1-indexed)."""
    ext = extreme == 1
    t = ext.shape[0]
    out = np.zeros(ext.shape, bool)
    for k in np.flatnonzero(ecm_row):
        shift = int(k) - pos + 1
        if shift >= 0:
            if shift < t:
                out[shift:] |= ext[: t - shift]
        elif -shift < t:
            out[: t + shift] |= ext[-shift:]
    return out.astype(np.uint8)


# ------------------------------------------------------------------------------ signals
@dataclass(frozen=True)
class Base:
    """A base signal: ``kind`` sine / cosine (``amp * f(2 pi t nOsc / (T - 1)) + shift``),
    constant, or ``file`` (a weekly climatology ``(52, y, x)`` repeated over the years)."""

    kind: Literal["sine", "cosine", "constant", "file"]
    amp: float = 3.0
    n_osc: float = 46.0
    shift: float = 0.0
    lat_grad: bool = True
    path: str = ""
    var: str = ""
    statistic: str = "median"
    nan_fill: float = 0.0


def make_base(base: Base, shape: Shape, n_time_ref: int | None = None) -> F64:
    """The base signal ``(T, y, x)`` (latitude gradient ``lat / Nlat - 0.5`` where asked)."""
    t, h, w = shape
    tt = np.arange(t, dtype=np.float64)
    if base.kind in ("sine", "cosine"):
        f = np.sin if base.kind == "sine" else np.cos
        series = base.amp * f(tt * base.n_osc / max(t - 1, 1) * 2 * np.pi) + base.shift
        out = np.broadcast_to(series[:, None, None], shape).astype(np.float64)
    elif base.kind == "constant":
        out = np.full(shape, base.shift, np.float64)
    else:
        out = _file_base(base, shape)
    if base.lat_grad and base.kind != "file":
        out = out + (np.arange(h, dtype=np.float64) / h)[None, :, None] - 0.5
    return np.ascontiguousarray(out)


def _file_base(base: Base, shape: Shape) -> F64:
    """A weekly climatology read with xarray: variable ``base.var``, statistic coordinate
    ``base.statistic``, the first ``y, x`` cells, repeated every 52 steps."""
    from geoneurips.errors import DataNotFoundError

    path = Path(base.path)
    if not path.is_file():
        raise DataNotFoundError(
            "IDEE NOAA/CERRA base climatology",
            path.parent,
            [path.name],
            url="https://github.com/HakamShams/Synthetic_Multivariate_Anomalies (data_base)",
            layout="a netCDF with (statistic, time=52, y, x) per variable",
        )
    import xarray as xr

    t, h, w = shape
    with xr.open_dataset(path) as ds:
        da = ds[base.var]
        for dim in ("statistic", "climatology"):
            if dim in da.dims:
                da = da.sel({dim: base.statistic})
        arr = np.asarray(da.values, np.float64)
    arr = np.flip(arr, axis=1)[:, :h, :w]
    arr = np.where(np.isnan(arr), base.nan_fill, arr)
    return np.ascontiguousarray(arr[np.arange(t) % arr.shape[0]])


@dataclass(frozen=True)
class Noise:
    """``white`` (Normal), ``laplace`` / ``cauchy`` (rescaled to std ``sigma``), or ``red``
    (white noise divided by ``f^b`` per axis in Fourier space, rescaled to std ``sigma``)."""

    kind: Literal["white", "red", "laplace", "cauchy"]
    sigma: float
    mu: float = 0.0
    b: tuple[float, float, float] = (1.0, 1.0, 1.0)


def make_noise(noise: Noise, shape: Shape, rng: np.random.Generator) -> F64:
    """One noise field ``(T, y, x)``."""
    if noise.kind == "white":
        return rng.normal(noise.mu, noise.sigma, shape)
    if noise.kind == "laplace":
        n = rng.laplace(noise.mu, 1.0, shape)
    elif noise.kind == "cauchy":
        n = rng.standard_cauchy(shape) + noise.mu
    else:
        spec = np.fft.fftn(rng.normal(noise.mu, noise.sigma, shape))
        for axis, (size, b) in enumerate(zip(shape, noise.b, strict=True)):
            f = np.abs(np.fft.fftfreq(size) * size)
            f = np.maximum(f, 1.0) ** b
            view = [1, 1, 1]
            view[axis] = size
            spec = spec / f.reshape(view)
        n = np.fft.ifftn(spec).real
    std = float(np.std(n))
    return n * (noise.sigma / std) if noise.sigma > 0 and std > 0 else n


@dataclass(frozen=True)
class Weight:
    """Coupling weights from ``normal`` / ``laplace`` / ``cauchy``, L2-normalised;
    ``disturbed`` mixes ``kw * wd + (1 - kw) * w`` on the anomalous cells of each input,
    ``wd`` orthogonal to ``w``."""

    dist: Literal["normal", "laplace", "cauchy"] = "normal"
    disturbed: bool = False
    kw: float = 0.5


def _draw(dist: str, n: int, rng: np.random.Generator) -> F64:
    if dist == "laplace":
        return rng.laplace(0.0, 1.0, n)
    if dist == "cauchy":
        return rng.standard_cauchy(n)
    return rng.normal(0.0, 1.0, n)


def make_weight(weight: Weight, events: U8, rng: np.random.Generator) -> F64:
    """Weights ``(V_ind, 1, 1, 1)`` or, when disturbed, ``(V_ind, T, y, x)``."""
    n = events.shape[0]
    w = _draw(weight.dist, n, rng)
    w = w / np.linalg.norm(w)
    if not weight.disturbed:
        return w[:, None, None, None]
    wd = _draw(weight.dist, n, rng)
    wd = wd - np.dot(wd, w) * w
    wd = wd / np.linalg.norm(wd)
    mixed = weight.kw * wd + (1.0 - weight.kw) * w
    return np.where(events == 1, mixed[:, None, None, None], w[:, None, None, None])


# ------------------------------------------------------------------------------ configs
@dataclass(frozen=True)
class GeneratorConfig:
    """One benchmark configuration (the public ``configs/exp_*.py``)."""

    name: str
    shape: Shape
    bases: tuple[Base, ...]
    noises: tuple[Noise, ...]
    events: tuple[tuple[Event, ...], ...]
    kb: tuple[float, ...]
    kn: tuple[float, ...]
    ks: tuple[float, ...]
    sign: tuple[int, ...]
    dep_noise: Noise = field(default_factory=lambda: Noise("white", 0.065))
    dep_weights: tuple[Weight, ...] = (Weight("normal"), Weight("laplace"), Weight("laplace"))
    dep_coupling: tuple[Literal["linear", "quadratic"], ...] = ("quadratic", "linear", "linear")
    extreme_events: tuple[Event, ...] = (
        CubeEvent(200, 35, 35, 25),
        RandomWalkEvent(1100, 125),
        LocalEvent(2600, 17),
        GaussianEvent(340, 35, 35, 25),
        OnsetEvent(25, 17, 17, 0.98),
    )
    var_drop: tuple[int, ...] = (1, 5)
    interval: int = 14
    pos_extreme: int = 10
    n_added_classes: int = 2
    training_end: int = 52 * 46
    seed: int = 44

    @property
    def n_ind(self) -> int:
        return len(self.bases)

    @property
    def n_var(self) -> int:
        return len(self.bases) + len(self.dep_coupling)


_EV_A = (CubeEvent(320), RandomWalkEvent(3000), LocalEvent(4000), GaussianEvent(300))
_EV_B = (OnsetEvent(18), RandomWalkEvent(1800), LocalEvent(160), GaussianEvent(350))
_EV_C = (CubeEvent(300), RandomWalkEvent(2000), LocalEvent(2800), GaussianEvent(290))


def _published(name: str, data_base: str) -> GeneratorConfig:
    if name == "exp_1":
        return GeneratorConfig(
            name="exp_1",
            shape=PUBLISHED_SHAPE,
            bases=(Base("sine"), Base("cosine"), Base("constant", shift=0.0)),
            noises=(Noise("red", 0.2), Noise("laplace", 0.08), Noise("white", 0.07)),
            events=(_EV_A, _EV_B, _EV_C),
            kb=(0.35, 0.35, 0.9, 0.35, 0.35, 0.35),
            kn=(0.35, 0.35, 0.9, 0.35, 0.35, 0.35),
            ks=(0.35, 0.35, 0.9, 0.35, 0.35, 0.35),
            sign=(1, 1, -1, -1, -1, -1),
        )
    noaa = str(Path(data_base) / "NOAA.nc")
    cerra = str(Path(data_base) / "CERRA_climatology_pixels_train.nc")
    if name == "exp_2":
        return GeneratorConfig(
            name="exp_2",
            shape=PUBLISHED_SHAPE,
            bases=(
                Base("file", path=noaa, var="SMN", statistic="median", nan_fill=0.0),
                Base("file", path=noaa, var="SMT", statistic="median", nan_fill=260.0),
            ),
            noises=(Noise("white", 0.3), Noise("white", 0.5)),
            events=(_EV_A, _EV_C),
            kb=(0.25, 0.01, 0.01, 0.01, 0.01),
            kn=(0.10, 0.01, 0.01, 0.01, 0.01),
            ks=(0.5,) * 5,
            sign=(-1, 1, -1, 1, 1),
            dep_noise=Noise("white", 0.5),
        )
    if name == "exp_3":
        cv = (("al", 0.0), ("t2m", 260.0), ("tcc", 50.0), ("tp", 0.0), ("r2", 50.0), ("vsw", 0.0))
        return GeneratorConfig(
            name="exp_3",
            shape=PUBLISHED_SHAPE,
            bases=tuple(
                Base("file", path=cerra, var=v, statistic="mean", nan_fill=f) for v, f in cv
            ),
            noises=(
                Noise("white", 0.01),
                Noise("red", 0.9),
                Noise("laplace", 0.7),
                Noise("white", 0.04),
                Noise("white", 0.7),
                Noise("white", 0.017),
            ),
            events=(_EV_A, _EV_B, _EV_C, _EV_A, _EV_B, _EV_C),
            kb=(0.3, 0.01, 0.03, 0.07, 0.06, 0.1),
            kn=(0.2, 0.01, 0.08, 0.20, 0.06, 0.1),
            ks=(0.5,) * 6,
            sign=(1, 1, -1, -1, -1, -1),
            dep_weights=(),
            dep_coupling=(),
            training_end=52 * 34,
        )
    raise ValueError(f"unknown IDEE experiment {name!r}; expected exp_1, exp_2 or exp_3")


def _scale_event(ev: Event, tr: float, vol: float, lin: float) -> Event:
    """Shrink one event generator so that its coverage of a smaller cube stays about the
    published one: box-like events keep their count per time step (extents follow the
    grid), single-pixel events their count per cell, walks their count per cell and length."""

    def n(k: float) -> int:
        return max(1, round(k)) if k > 0 else 0

    def s(k: int) -> int:
        return max(3, round(k * lin))

    if isinstance(ev, RandomWalkEvent):
        return replace(ev, n=n(ev.n * vol / lin), s=s(ev.s))
    if isinstance(ev, LocalEvent):
        return replace(ev, n=n(ev.n * vol))
    return replace(ev, n=n(ev.n * tr), sx=s(ev.sx), sy=s(ev.sy))


def exp_config(
    name: str = "exp_1",
    shape: Shape | None = None,
    *,
    seed: int = 44,
    data_base: str | Path = "data_base",
) -> GeneratorConfig:
    """A published configuration (``exp_1`` artificial, ``exp_2`` NOAA, ``exp_3`` CERRA).

    ``shape=None`` keeps the published 2392 x 200 x 200 cube. A smaller ``(T, y, x)`` scales
    event counts with the volume, spatial extents and walk lengths with the grid, the
    oscillation count with ``T / 52``, and the training end with ``T`` (same fraction).
    """
    cfg = _published(name, str(data_base))
    cfg = replace(cfg, seed=seed)
    if shape is None or tuple(shape) == PUBLISHED_SHAPE:
        return cfg
    t, h, w = (int(v) for v in shape)
    if min(t, h, w) < 1:
        raise ValueError(f"cube shape must be positive, got {shape}")
    vol = (t * h * w) / math.prod(PUBLISHED_SHAPE)
    tr = t / PUBLISHED_SHAPE[0]
    lin = math.sqrt(h * w / (PUBLISHED_SHAPE[1] * PUBLISHED_SHAPE[2]))
    return replace(
        cfg,
        shape=(t, h, w),
        bases=tuple(replace(b, n_osc=t / 52) for b in cfg.bases),
        events=tuple(tuple(_scale_event(e, tr, vol, lin) for e in evs) for evs in cfg.events),
        extreme_events=tuple(_scale_event(e, tr, vol, lin) for e in cfg.extreme_events),
        training_end=max(52, round(cfg.training_end * t / PUBLISHED_SHAPE[0])),
    )


# ----------------------------------------------------------------------------- generate
@dataclass
class SyntheticCube:
    """A generated cube: ``data (V, T, y, x)`` float32, ``anomaly`` / ``anomaly_extreme``
    ``(V, T, y, x)`` uint8, ``extreme (T, y, x)`` uint8 in 0..3, ``coupling (V, interval)``."""

    config: GeneratorConfig
    data: NDArray[np.float32]
    anomaly: U8
    anomaly_extreme: U8
    extreme: U8
    coupling: U8


def generate(config: GeneratorConfig) -> SyntheticCube:
    """Run the generator (Sec. 4 of the paper; steps 1-6 in the module docstring)."""
    rng = np.random.default_rng(config.seed)
    shape = config.shape
    n_ind, n_var = config.n_ind, config.n_var
    for nm, seq in (("kb", config.kb), ("kn", config.kn), ("ks", config.ks), ("sign", config.sign)):
        if len(seq) != n_var:
            raise ValueError(f"{nm} has {len(seq)} entries, the config has {n_var} variables")
    extreme = extreme_classes(
        draw_events(config.extreme_events, shape, rng), config.n_added_classes
    )
    ecm = coupling_matrix(n_var, config.var_drop, config.interval, rng)
    data = np.zeros((n_var, *shape), np.float64)
    anomaly = np.zeros((n_var, *shape), np.uint8)
    for v in range(n_ind):
        data[v] = make_base(config.bases[v], shape)
        anomaly[v] = draw_events(config.events[v], shape, rng)
    for d, kind in enumerate(config.dep_coupling):
        w = make_weight(config.dep_weights[d], anomaly[:n_ind], rng)
        x = data[:n_ind]
        terms = x if kind == "linear" else (x**2 - 1.0) * 2**-0.5
        data[n_ind + d] = np.sum(terms * w, axis=0)
        anomaly[n_ind + d] = (anomaly[:n_ind].sum(axis=0) > 0).astype(np.uint8)
    drivers = np.zeros_like(anomaly)
    for v in range(n_var):
        noise = config.noises[v] if v < n_ind else config.dep_noise
        n = make_noise(noise, shape, rng)
        if v + 1 not in config.var_drop:
            drivers[v] = propagate_extremes(extreme, ecm[v], config.pos_extreme)
        e = (drivers[v] | anomaly[v]).astype(np.float64)
        b = data[v]
        theta = b * (2 ** (config.kb[v] * e) - 1) + n * 2 ** (config.kn[v] * e)
        theta += float(np.std(n)) * config.ks[v] * e
        forced = np.abs(theta) * config.sign[v]
        theta = np.where(drivers[v] == 1, forced, theta)
        data[v] = b + theta
    return SyntheticCube(config, data.astype(np.float32), anomaly, drivers, extreme, ecm)
