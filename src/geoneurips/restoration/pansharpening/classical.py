"""Classical pansharpening baselines (toolbox conventions, Vivone et al. TGRS 2015).

All methods take the MS image **already upsampled to the PAN grid** (``ms_up``, e.g.
:func:`~geoneurips.metrics.mtf.interp23`) and the PAN, both band-first:
``ms_up (C, H, W)``, ``pan (1, H, W)`` or ``(H, W)``, and return ``(C, H, W)`` float64 in
the input units.

- :func:`interpolate`: the MS upsampled with interp23 ("EXP" in the toolbox);
- :func:`brovey`: Brovey transform with the PAN histogram-matched to the intensity
  ``I = mean_b(ms_up_b)``: ``fused_b = ms_up_b * P' / I``;
- :func:`ihs`: generalised IHS (fast IHS), ``fused_b = ms_up_b + (P' - I)``;
- :func:`gram_schmidt`: Gram-Schmidt (GS, mode 1: the intensity is the band mean),
  ``fused_b = ms_up_b + g_b (P'' - I0)`` with ``g_b = cov(I, ms_b) / var(I)``.

``P'`` is the PAN matched to the mean and standard deviation of ``I``; ``P''`` to the
standard deviation of ``I0 = I - mean(I)`` and mean 0. These global statistics are a
:class:`FusionStats`; by default they are computed from the given arrays (the toolbox). For
tiled processing (the ``pansharpen`` command) they are computed once for the whole scene
(:class:`StatsAccumulator` over the upsampled MS, streamed) and passed in, so every tile
uses the same coefficients as the in-memory method on the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ...errors import InvalidInputError
from ...metrics.mtf import interp23

__all__ = [
    "METHODS",
    "FusionStats",
    "StatsAccumulator",
    "brovey",
    "fuse",
    "fusion_stats",
    "gram_schmidt",
    "ihs",
    "interpolate",
]

FloatArray = npt.NDArray[np.float64]
_EPS = float(np.finfo(np.float64).eps)

#: Names accepted by :func:`fuse`.
METHODS = ("interp", "brovey", "ihs", "gs")


@dataclass(frozen=True)
class FusionStats:
    """Global statistics of a scene that the component-substitution methods use.

    Attributes:
        pan_mean, pan_std: mean and (sample) standard deviation of the PAN.
        intensity_mean, intensity_std: the same for ``I = mean_b(ms_b)``.
        band_means: mean of each MS band.
        gs_gains: Gram-Schmidt gains ``cov(I, ms_b) / var(I)``.
    """

    pan_mean: float
    pan_std: float
    intensity_mean: float
    intensity_std: float
    band_means: tuple[float, ...]
    gs_gains: tuple[float, ...]


class StatsAccumulator:
    """Streaming sums for :class:`FusionStats` (MS and PAN given block by block).

    Call :meth:`add_ms` with ``(C, h, w)`` MS blocks and :meth:`add_pan` with PAN blocks
    (optionally with a boolean validity mask), then :meth:`result`.
    """

    def __init__(self, bands: int) -> None:
        self.bands = bands
        self._n_ms = 0
        self._sum_b = np.zeros(bands)
        self._sum_i = 0.0
        self._sum_ii = 0.0
        self._sum_ib = np.zeros(bands)
        self._n_pan = 0
        self._sum_p = 0.0
        self._sum_pp = 0.0
        # shifts keep the one-pass sums well conditioned (set from the first block)
        self._shift_ms: FloatArray | None = None
        self._shift_pan: float | None = None

    def add_ms(self, block: npt.ArrayLike, valid: npt.ArrayLike | None = None) -> None:
        """Add an MS block ``(C, h, w)``; ``valid`` ``(h, w)`` selects the pixels that count."""
        x = np.asarray(block, dtype=np.float64)
        if x.ndim != 3 or x.shape[0] != self.bands:
            raise InvalidInputError(f"MS block must be ({self.bands}, h, w), got {x.shape}")
        v = x.reshape(self.bands, -1)
        if valid is not None:
            v = v[:, np.asarray(valid, dtype=bool).ravel()]
        if v.shape[1] == 0:
            return
        if self._shift_ms is None:
            self._shift_ms = v.mean(axis=1)
        v = v - self._shift_ms[:, None]
        i = v.mean(axis=0)
        self._n_ms += v.shape[1]
        self._sum_b += v.sum(axis=1)
        self._sum_i += float(i.sum())
        self._sum_ii += float((i * i).sum())
        self._sum_ib += (v * i[None]).sum(axis=1)

    def add_pan(self, block: npt.ArrayLike, valid: npt.ArrayLike | None = None) -> None:
        """Add a PAN block ``(h, w)`` or ``(1, h, w)``."""
        p = np.asarray(block, dtype=np.float64).ravel()
        if valid is not None:
            p = p[np.asarray(valid, dtype=bool).ravel()]
        if p.size == 0:
            return
        if self._shift_pan is None:
            self._shift_pan = float(p.mean())
        p = p - self._shift_pan
        self._n_pan += p.size
        self._sum_p += float(p.sum())
        self._sum_pp += float((p * p).sum())

    def result(self) -> FusionStats:
        """The statistics (sample variances, as MATLAB ``std2``/``cov``)."""
        if self._n_ms < 2 or self._n_pan < 2 or self._shift_ms is None or \
                self._shift_pan is None:
            raise InvalidInputError("fusion statistics need at least 2 valid MS and PAN pixels")
        n, npan = self._n_ms, self._n_pan
        mean_b = self._sum_b / n
        mean_i = self._sum_i / n
        var_i = (self._sum_ii - n * mean_i**2) / (n - 1)
        cov_ib = (self._sum_ib - n * mean_i * mean_b) / (n - 1)
        mean_p = self._sum_p / npan
        var_p = (self._sum_pp - npan * mean_p**2) / (npan - 1)
        shift_i = float(self._shift_ms.mean())
        gains = cov_ib / var_i if var_i > 0 else np.zeros(self.bands)
        return FusionStats(
            pan_mean=float(mean_p + self._shift_pan),
            pan_std=float(np.sqrt(max(var_p, 0.0))),
            intensity_mean=float(mean_i + shift_i),
            intensity_std=float(np.sqrt(max(var_i, 0.0))),
            band_means=tuple(float(v) for v in mean_b + self._shift_ms),
            gs_gains=tuple(float(g) for g in gains),
        )


def _prepare(ms_up: npt.ArrayLike, pan: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    m = np.asarray(ms_up)
    p = np.asarray(pan)
    if m.dtype.kind not in "biuf" or p.dtype.kind not in "biuf":
        raise InvalidInputError("ms_up and pan must be numeric arrays")
    m = m.astype(np.float64, copy=False)
    p = p.astype(np.float64, copy=False)
    if m.ndim != 3:
        raise InvalidInputError(f"ms_up must be (C, H, W), got shape {m.shape}")
    if p.ndim == 3:
        if p.shape[0] != 1:
            raise InvalidInputError(f"pan must have one band, got shape {p.shape}")
        p = p[0]
    if p.shape != m.shape[1:]:
        raise InvalidInputError(
            f"pan size {p.shape} differs from the upsampled MS size {m.shape[1:]}; upsample "
            "the MS to the PAN grid first (interp23)"
        )
    if not (np.isfinite(m).all() and np.isfinite(p).all()):
        raise InvalidInputError("ms_up or pan holds NaN or infinite values")
    return m, p


def fusion_stats(ms: npt.ArrayLike, pan: npt.ArrayLike) -> FusionStats:
    """:class:`FusionStats` of an MS image and a PAN, in memory.

    The toolbox (and :func:`brovey`, :func:`ihs`, :func:`gram_schmidt` without ``stats``)
    takes them from the MS **upsampled to the PAN grid**; pass that to get the same numbers.
    """
    m = np.asarray(ms, dtype=np.float64)
    if m.ndim != 3:
        raise InvalidInputError(f"ms must be (C, H, W), got shape {m.shape}")
    acc = StatsAccumulator(m.shape[0])
    acc.add_ms(m)
    acc.add_pan(pan)
    return acc.result()


def _matched_pan(p: FloatArray, stats: FusionStats, mean: float, std: float) -> FloatArray:
    scale = std / stats.pan_std if stats.pan_std > 0 else 0.0
    out: FloatArray = (p - stats.pan_mean) * scale + mean
    return out


def interpolate(ms: npt.ArrayLike, ratio: int = 4) -> FloatArray:
    """The MS upsampled to the PAN grid with the 23-tap interpolator (no PAN used)."""
    return interp23(ms, ratio)


def brovey(
    ms_up: npt.ArrayLike, pan: npt.ArrayLike, stats: FusionStats | None = None
) -> FloatArray:
    """Brovey transform (toolbox ``BT``): ``ms_up_b * P' / (I + eps)``."""
    m, p = _prepare(ms_up, pan)
    st = stats or fusion_stats(m, p)
    intensity = m.mean(axis=0)
    matched = _matched_pan(p, st, st.intensity_mean, st.intensity_std)
    out: FloatArray = m * (matched / (intensity + _EPS))[None]
    return out


def ihs(ms_up: npt.ArrayLike, pan: npt.ArrayLike, stats: FusionStats | None = None) -> FloatArray:
    """Generalised (fast) IHS (toolbox ``IHS``): ``ms_up_b + (P' - I)``."""
    m, p = _prepare(ms_up, pan)
    st = stats or fusion_stats(m, p)
    intensity = m.mean(axis=0)
    matched = _matched_pan(p, st, st.intensity_mean, st.intensity_std)
    out: FloatArray = m + (matched - intensity)[None]
    return out


def gram_schmidt(
    ms_up: npt.ArrayLike, pan: npt.ArrayLike, stats: FusionStats | None = None
) -> FloatArray:
    """Gram-Schmidt (toolbox ``GS``): ``ms_up_b + g_b (P'' - I0)``.

    ``I0 = I - mean(I)``, ``P''`` is the PAN matched to mean 0 and ``std(I0)``, and the
    toolbox's final per-band mean equalisation is a no-op up to rounding because ``P'' - I0``
    has zero mean over the scene.
    """
    m, p = _prepare(ms_up, pan)
    st = stats or fusion_stats(m, p)
    i0 = m.mean(axis=0) - st.intensity_mean
    matched = _matched_pan(p, st, 0.0, st.intensity_std)
    delta = matched - i0
    g = np.asarray(st.gs_gains, dtype=np.float64)
    if g.size != m.shape[0]:
        raise InvalidInputError(f"stats hold {g.size} gains for {m.shape[0]} bands")
    out: FloatArray = m + g[:, None, None] * delta[None]
    return out


def fuse(
    method: str,
    ms: npt.ArrayLike,
    pan: npt.ArrayLike,
    ratio: int = 4,
    stats: FusionStats | None = None,
) -> FloatArray:
    """Run a classical method on a low-resolution MS ``(C, h, w)`` and a PAN ``(1, H, W)``.

    The MS is upsampled with interp23 first. ``method`` is one of :data:`METHODS`.
    """
    name = method.lower()
    if name not in METHODS:
        raise InvalidInputError(f"unknown pansharpening method {method!r}; choose from {METHODS}")
    ms_up = interp23(ms, ratio)
    if name == "interp":
        return ms_up
    fn = {"brovey": brovey, "ihs": ihs, "gs": gram_schmidt}[name]
    return fn(ms_up, pan, stats)
