"""Image-quality metrics for restoration and fusion: ``psnr``, ``ssim``, ``sam``, ``ergas``.

Conventions (shared by every function here):

- ``pred`` and ``target`` have the same shape; values are computed in float64.
- ``band_axis`` names the spectral axis (default 0, i.e. ``(C, H, W)``; use ``-1`` for
  ``(H, W, C)``). Every other axis is a pixel/batch axis.
- ``mask`` (AllClear evaluates only where the target is clear) selects the elements that
  count; it has the input shape or broadcasts to it (``ssim`` and ``sam`` also accept a 2-D
  ``(H, W)`` spatial mask shared by all bands). An all-false mask gives NaN.
- NaN in the inputs propagates to the result (it is never dropped silently); inputs are not
  clipped.
- ``mae``/``rmse`` are re-exported from :mod:`geoneurips.metrics.regression`.

SSIM: this module holds the project's one SSIM. :func:`ssim` (numpy, float64) and
:func:`ssim_torch` (``(B, C, H, W)`` tensors, differentiable, for training losses and
batched benchmarks) share the conventions and options (window, constants, ``data_range``,
border cropping or ``pad_mode`` padding, ``mask`` and AllClear's ``premask``, per-band
averaging); the tests hold them equal to each other, to scikit-image and to torchmetrics.
Systems call them with their paper's options instead of keeping copies.

Raises ``InvalidInputError`` on shape mismatch, empty inputs, bad axes or bad parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError
from ._checks import FloatArray, as_float, broadcast_mask, float_pair, normalize_axis
from .regression import mae, rmse

if TYPE_CHECKING:
    import torch

__all__ = ["PadMode", "ergas", "mae", "psnr", "rmse", "sam", "sam_map", "ssim", "ssim_map",
           "ssim_torch"]


# --------------------------------------------------------------------------------------- PSNR


def psnr(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    data_range: float | None = None,
    band_axis: int | None = None,
    *,
    mask: npt.ArrayLike | None = None,
) -> float:
    """Peak signal-to-noise ratio in dB, ``10 * log10(data_range**2 / MSE)``.

    Args:
        pred: estimate, any shape.
        target: reference, same shape.
        data_range: the peak value ``L`` (e.g. 1.0 for reflectance in [0, 1], 2047 for
            11-bit WorldView-3 / QuickBird DNs, 1023 for GaoFen-2). ``None`` uses
            ``max(target) - min(target)`` over the whole (masked) reference (an estimate,
            as torchmetrics < 1.0 did); the same value then serves every band. Pass the sensor's value to
            reproduce published pansharpening tables.
        band_axis: ``None`` computes one MSE over all (masked) elements (AllClear:
            ``20 log10(1 / sqrt(masked MSE))`` with ``data_range=1``). An axis computes one
            PSNR per band, over all other axes, and returns their arithmetic mean (the
            pansharpening toolbox convention). Bands with no masked element are skipped.
        mask: optional selection of the elements that count (broadcast to the input shape).

    Returns:
        PSNR in dB; ``inf`` where the MSE is 0 (a single perfect band makes the per-band mean
        ``inf``); NaN if the inputs hold NaN or the mask is empty.

    Raises:
        InvalidInputError: shape mismatch, empty input, ``data_range <= 0`` or a constant
            reference with ``data_range=None``.
    """
    p, t = float_pair(pred, target)
    m = broadcast_mask(mask, p.shape)
    if m is not None and not m.any():
        return float("nan")
    if data_range is None:
        ref = t if m is None else t[m]
        rng = float(np.max(ref) - np.min(ref))
        if np.isnan(rng):
            return float("nan")
        if rng <= 0:
            raise InvalidInputError(
                "psnr: the reference is constant, so data_range cannot be inferred; pass it"
            )
    else:
        rng = float(data_range)
        if not rng > 0:
            raise InvalidInputError(f"psnr: data_range must be > 0, got {data_range}")
    sq = (p - t) ** 2
    if band_axis is None:
        err = float(np.mean(sq if m is None else sq[m]))
        return _psnr_from_mse(rng, err)
    ax = normalize_axis(band_axis, p.ndim)
    sq = np.moveaxis(sq, ax, 0).reshape(sq.shape[ax], -1)
    mb = None if m is None else np.moveaxis(m, ax, 0).reshape(sq.shape)
    values: list[float] = []
    for b in range(sq.shape[0]):
        row = sq[b] if mb is None else sq[b][mb[b]]
        if row.size:
            values.append(_psnr_from_mse(rng, float(np.mean(row))))
    return float(np.mean(values)) if values else float("nan")


def _psnr_from_mse(data_range: float, err: float) -> float:
    if np.isnan(err):
        return float("nan")
    if err == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / err))


# --------------------------------------------------------------------------------------- SSIM

#: Border handling of ``crop_border=False``: ``"symmetric"`` repeats the edge pixel
#: (scipy/skimage ``"reflect"``), ``"reflect"`` mirrors about it (PyTorch ``"reflect"``,
#: numpy ``"reflect"``), ``"zeros"`` pads with 0 (AllClear's ``conv2d(padding=5)``).
PadMode = Literal["symmetric", "reflect", "zeros"]
_NP_PAD = {"symmetric": "symmetric", "reflect": "reflect", "zeros": "constant"}


def _gaussian_window(win_size: int, sigma: float) -> FloatArray:
    radius = (win_size - 1) // 2
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    out: FloatArray = g / g.sum()
    return out


def _filter_valid(a: FloatArray, g: FloatArray, axis: int) -> FloatArray:
    """Correlate ``a`` with ``g`` along ``axis``, keeping only fully covered positions."""
    n_out = a.shape[axis] - g.size + 1
    out = np.zeros(a.shape[:axis] + (n_out,) + a.shape[axis + 1 :], dtype=np.float64)
    index: list[slice] = [slice(None)] * a.ndim
    for k in range(g.size):
        index[axis] = slice(k, k + n_out)
        out += g[k] * a[tuple(index)]
    return out


def _blur(a: FloatArray, g: FloatArray) -> FloatArray:
    return _filter_valid(_filter_valid(a, g, a.ndim - 2), g, a.ndim - 1)


def ssim_map(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    data_range: float,
    *,
    band_axis: int | None = 0,
    win_sigma: float = 1.5,
    win_size: int = 11,
    k1: float = 0.01,
    k2: float = 0.03,
    crop_border: bool = True,
    pad_mode: PadMode = "symmetric",
) -> FloatArray:
    """The local SSIM map of :func:`ssim`, band axis first.

    Returns an array of shape ``(C, ..., H', W')`` where the band axis (if any) has been
    moved to the front and ``H' = H - (win_size - 1)`` (``crop_border=True``) or ``H``
    (``crop_border=False``, padded by ``pad_mode``). See :func:`ssim` for the conventions.
    """
    p, t = float_pair(pred, target)
    if band_axis is not None:
        ax = normalize_axis(band_axis, p.ndim)
        if p.ndim < 3:
            raise InvalidInputError(
                f"ssim: band_axis={band_axis} needs a band axis plus two spatial axes, "
                f"got shape {p.shape}"
            )
        p = np.moveaxis(p, ax, 0)
        t = np.moveaxis(t, ax, 0)
    if p.ndim < 2:
        raise InvalidInputError(f"ssim needs at least two spatial axes, got shape {p.shape}")
    if win_size < 1 or win_size % 2 == 0:
        raise InvalidInputError(f"ssim: win_size must be odd and positive, got {win_size}")
    if not win_sigma > 0:
        raise InvalidInputError(f"ssim: win_sigma must be > 0, got {win_sigma}")
    if not data_range > 0:
        raise InvalidInputError(f"ssim: data_range must be > 0, got {data_range}")
    h, w = p.shape[-2:]
    if h < win_size or w < win_size:
        raise InvalidInputError(
            f"ssim: the spatial size {(h, w)} is smaller than win_size={win_size}"
        )
    if pad_mode not in _NP_PAD:
        raise InvalidInputError(
            f"ssim: pad_mode must be one of {sorted(_NP_PAD)}, got {pad_mode!r}")
    radius = (win_size - 1) // 2
    if not crop_border and radius:
        pad = [(0, 0)] * (p.ndim - 2) + [(radius, radius), (radius, radius)]
        p = np.pad(p, pad, mode=_NP_PAD[pad_mode])  # type: ignore[call-overload]
        t = np.pad(t, pad, mode=_NP_PAD[pad_mode])  # type: ignore[call-overload]
    g = _gaussian_window(win_size, win_sigma)
    mu_p = _blur(p, g)
    mu_t = _blur(t, g)
    var_p = _blur(p * p, g) - mu_p * mu_p
    var_t = _blur(t * t, g) - mu_t * mu_t
    cov = _blur(p * t, g) - mu_p * mu_t
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    num = (2.0 * mu_p * mu_t + c1) * (2.0 * cov + c2)
    den = (mu_p * mu_p + mu_t * mu_t + c1) * (var_p + var_t + c2)
    out: FloatArray = num / den
    return out


def ssim(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    data_range: float,
    *,
    band_axis: int | None = 0,
    win_sigma: float = 1.5,
    win_size: int = 11,
    k1: float = 0.01,
    k2: float = 0.03,
    mask: npt.ArrayLike | None = None,
    crop_border: bool = True,
    pad_mode: PadMode = "symmetric",
    premask: bool = False,
) -> float:
    """Gaussian-window SSIM (Wang et al. 2004) averaged over pixels and bands.

    Local statistics use a normalised Gaussian window of ``win_size`` taps (standard
    deviation ``win_sigma`` pixels), population (biased) variances and
    ``C1 = (k1 * data_range)**2``, ``C2 = (k2 * data_range)**2``. SSIM is computed per band
    on the two spatial axes and the map is averaged over every remaining element.

    Axes: the spatial axes are the last two axes once ``band_axis`` is removed; every other
    axis (bands, batch) is averaged over. ``band_axis=0`` takes ``(C, H, W)``, ``-1`` takes
    ``(H, W, C)``, ``1`` takes ``(N, C, H, W)``, ``None`` takes ``(..., H, W)``.

    Border: with ``crop_border=True`` (default) only positions whose window lies wholly in
    the image count (``(win_size - 1) // 2`` pixels cropped on each side). This equals
    ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=..., channel_axis=...)`` (which crops the same
    border, so its padding does not matter). ``crop_border=False`` pads by half-sample
    symmetric reflection (scipy's ``"reflect"``) and averages the full map (skimage's
    ``full=True`` map). torchmetrics 1.x ``structural_similarity_index_measure`` averages
    the full map padded with PyTorch's ``"reflect"`` (edge pixel not repeated): that is
    ``crop_border=False, pad_mode="reflect"`` (tested equal).

    Args:
        pred: estimate.
        target: reference, same shape.
        data_range: dynamic range ``L`` of the data (e.g. 1.0); required.
        band_axis: the spectral axis, or ``None``.
        win_sigma: standard deviation of the Gaussian window, in pixels.
        win_size: odd window width (11 for sigma 1.5, as in skimage's truncate=3.5).
        k1: luminance constant.
        k2: contrast constant.
        mask: pixels to average over (AllClear's masked SSIM: the map is computed on the
            whole image, then averaged where the mask is true). Either the input shape (in
            the input's own layout) or a 2-D ``(H, W)`` mask shared by all bands. With
            ``crop_border=True`` it is cropped like the map.
        crop_border: see "Border".
        pad_mode: padding of ``crop_border=False``: ``"symmetric"`` (default, skimage's
            full map), ``"reflect"`` (PyTorch's, torchmetrics) or ``"zeros"``.
        premask: multiply both images by ``mask`` before filtering (AllClear's
            ``benchmark.py``: masked-out pixels enter the windows as zeros). AllClear's exact
            convention is ``mask=clear, premask=True, crop_border=False,
            pad_mode="zeros"``, per sample.

    Averaging: the map is averaged over every (masked) element at once; with a mask shared
    by all bands (or none) this equals the mean over bands of per-band SSIMs, the
    pansharpening/MHIF toolbox convention (``band_axis`` given).

    Returns:
        Mean SSIM in ``[-1, 1]``; NaN if the mask selects nothing. A NaN input pixel spreads
        to every window that covers it (fill NaNs before computing; a mask does not shield
        from them).

    Raises:
        InvalidInputError: shape mismatch, image smaller than the window, even ``win_size``,
            non-positive ``data_range`` or ``win_sigma``, or a mask that does not fit.
    """
    if premask:
        if mask is None:
            raise InvalidInputError("ssim: premask=True needs a mask")
        shape0 = np.asarray(pred).shape
        mm = _spatial_mask(mask, shape0, band_axis)
        pa, ta = float_pair(pred, target)
        if band_axis is not None:
            ax0 = normalize_axis(band_axis, pa.ndim)
            pa, ta = np.moveaxis(pa, ax0, 0), np.moveaxis(ta, ax0, 0)
        mm = np.broadcast_to(mm, pa.shape)
        pred, target = np.where(mm, pa, 0.0), np.where(mm, ta, 0.0)
        mask = mm
        band_axis = 0 if band_axis is not None else None
    smap = ssim_map(
        pred,
        target,
        data_range,
        band_axis=band_axis,
        win_sigma=win_sigma,
        win_size=win_size,
        k1=k1,
        k2=k2,
        crop_border=crop_border,
        pad_mode=pad_mode,
    )
    if mask is None:
        return float(np.mean(smap))
    shape = np.asarray(pred).shape
    m = _spatial_mask(mask, shape, band_axis)
    if crop_border:
        r = (win_size - 1) // 2
        m = m[..., r : m.shape[-2] - r, r : m.shape[-1] - r]
    m = np.broadcast_to(m, smap.shape)
    if not m.any():
        return float("nan")
    return float(np.mean(smap[m]))


def ssim_torch(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    *,
    win_sigma: float = 1.5,
    win_size: int = 11,
    k1: float = 0.01,
    k2: float = 0.03,
    mask: torch.Tensor | None = None,
    crop_border: bool = True,
    pad_mode: PadMode = "symmetric",
    premask: bool = False,
    per_sample: bool = False,
) -> torch.Tensor:
    """:func:`ssim` on ``(B, C, H, W)`` torch tensors, differentiable (training losses).

    The same conventions and options as :func:`ssim` with ``band_axis=1`` (the map is
    computed per band on ``H, W``, separable Gaussian window, population variances); the
    computation stays in the input dtype and device.

    Args:
        pred, target: ``(B, C, H, W)`` tensors of one shape.
        mask: ``(B, 1, H, W)`` or ``(B, C, H, W)`` selection (bool or 0/1), averaged over
            as in :func:`ssim`.
        per_sample: return ``(B,)`` per-image means (NaN where a mask selects nothing)
            instead of the mean over the whole batch (AllClear averages per sample).
        data_range, win_sigma, win_size, k1, k2, crop_border, pad_mode, premask: as in
            :func:`ssim`.

    Returns:
        A 0-d tensor (or ``(B,)`` with ``per_sample``).
    """
    import torch
    import torch.nn.functional as F

    if pred.ndim != 4 or pred.shape != target.shape:
        raise InvalidInputError(
            f"ssim_torch needs two (B, C, H, W) tensors of one shape, got "
            f"{tuple(pred.shape)} and {tuple(target.shape)}")
    if win_size < 1 or win_size % 2 == 0:
        raise InvalidInputError(f"ssim: win_size must be odd and positive, got {win_size}")
    if not win_sigma > 0 or not data_range > 0:
        raise InvalidInputError("ssim: win_sigma and data_range must be > 0")
    if pad_mode not in _NP_PAD:
        raise InvalidInputError(
            f"ssim: pad_mode must be one of {sorted(_NP_PAD)}, got {pad_mode!r}")
    b, c, h, w = pred.shape
    if h < win_size or w < win_size:
        raise InvalidInputError(
            f"ssim: the spatial size {(h, w)} is smaller than win_size={win_size}")
    m: torch.Tensor | None = None
    if mask is not None:
        if mask.ndim != 4 or mask.shape[0] != b or mask.shape[1] not in (1, c) \
                or tuple(mask.shape[-2:]) != (h, w):
            raise InvalidInputError(
                f"ssim: mask {tuple(mask.shape)} does not fit images {tuple(pred.shape)}; "
                "expected (B, 1, H, W) or (B, C, H, W)")
        m = (mask != 0).expand(b, c, h, w)
    if premask:
        if m is None:
            raise InvalidInputError("ssim: premask=True needs a mask")
        pred = pred * m.to(pred.dtype)
        target = target * m.to(target.dtype)
    r = (win_size - 1) // 2
    if not crop_border and r:
        pred, target = _pad_torch(pred, r, pad_mode), _pad_torch(target, r, pad_mode)
    g = torch.as_tensor(_gaussian_window(win_size, win_sigma), dtype=pred.dtype,
                        device=pred.device)
    kh = g.view(1, 1, -1, 1).expand(c, 1, -1, 1)
    kw = g.view(1, 1, 1, -1).expand(c, 1, 1, -1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(x, kh, groups=c), kw, groups=c)

    mu_p, mu_t = blur(pred), blur(target)
    var_p = blur(pred * pred) - mu_p**2
    var_t = blur(target * target) - mu_t**2
    cov = blur(pred * target) - mu_p * mu_t
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    smap = ((2 * mu_p * mu_t + c1) * (2 * cov + c2)) / (
        (mu_p**2 + mu_t**2 + c1) * (var_p + var_t + c2))
    if m is None:
        return smap.flatten(1).mean(1) if per_sample else smap.mean()
    if crop_border:
        m = m[..., r : h - r, r : w - r]
    mf = m.to(smap.dtype)
    dims = (1, 2, 3) if per_sample else (0, 1, 2, 3)
    # masked-out positions may hold NaN/inf from a NaN-free but degenerate window: select
    total = torch.where(m, smap, torch.zeros_like(smap)).sum(dim=dims)
    return total / mf.sum(dim=dims)


def _pad_torch(x: torch.Tensor, r: int, mode: PadMode) -> torch.Tensor:
    """Pad the last two axes by ``r`` (``"symmetric"`` repeats the edge pixel)."""
    import torch
    import torch.nn.functional as F

    if mode == "zeros":
        return F.pad(x, (r, r, r, r))
    if mode == "reflect":
        return F.pad(x, (r, r, r, r), mode="reflect")
    h, w = x.shape[-2:]

    def index(n: int) -> torch.Tensor:
        i = np.arange(-r, n + r)
        i = np.mod(i, 2 * n)
        i = np.where(i >= n, 2 * n - 1 - i, i)
        return torch.as_tensor(i, device=x.device)

    return x.index_select(-2, index(h)).index_select(-1, index(w))


def _spatial_mask(
    mask: npt.ArrayLike, shape: tuple[int, ...], band_axis: int | None
) -> npt.NDArray[np.bool_]:
    """Mask in the band-first layout used by :func:`ssim_map` and :func:`sam_map`."""
    m_raw = np.asarray(mask)
    if band_axis is None:
        m = broadcast_mask(m_raw, shape)
        assert m is not None
        return m
    ax = normalize_axis(band_axis, len(shape))
    moved = (shape[ax],) + shape[:ax] + shape[ax + 1 :]
    if m_raw.ndim == 2 and m_raw.shape != shape:
        m = broadcast_mask(m_raw, moved)
        assert m is not None
        return m
    m = broadcast_mask(m_raw, shape)
    assert m is not None
    return np.moveaxis(m, ax, 0)


# ---------------------------------------------------------------------------------------- SAM


def sam_map(
    pred: npt.ArrayLike, target: npt.ArrayLike, band_axis: int = 0, eps: float = 0.0
) -> FloatArray:
    """Per-pixel spectral angle between ``pred`` and ``target``, in degrees.

    The angle between the spectral vectors ``a`` (pred) and ``b`` (target) along
    ``band_axis`` is ``arccos(<a, b> / (|a| |b|))``, evaluated in the numerically stable form
    ``2 * arctan2(|â - b̂|, |â + b̂|)`` with ``â = a / |a|`` (equal to the arccos form, but
    accurate for tiny angles too). Result in ``[0, 180]``.

    Args:
        pred: estimate.
        target: reference, same shape.
        band_axis: the spectral axis (default 0, ``(C, H, W)``).
        eps: pixels with ``|a| * |b| <= eps`` get NaN (undefined angle). The default 0
            excludes exactly the pixels where either vector is zero, the pansharpening
            toolbox (Vivone) convention.

    Returns:
        Array of the input shape without ``band_axis``; NaN at excluded pixels and at pixels
        whose vectors contain NaN.
    """
    p, t = float_pair(pred, target)
    ax = normalize_axis(band_axis, p.ndim)
    na = np.sqrt(np.sum(p * p, axis=ax, keepdims=True))
    nb = np.sqrt(np.sum(t * t, axis=ax, keepdims=True))
    valid = (na * nb) > eps
    with np.errstate(divide="ignore", invalid="ignore"):
        ua = p / na
        ub = t / nb
        diff = np.sqrt(np.sum((ua - ub) ** 2, axis=ax, keepdims=True))
        summ = np.sqrt(np.sum((ua + ub) ** 2, axis=ax, keepdims=True))
        angle = np.degrees(2.0 * np.arctan2(diff, summ))
    has_nan = np.isnan(na) | np.isnan(nb)
    out: FloatArray = np.where(valid & ~has_nan, angle, np.nan).squeeze(axis=ax)
    return out


def sam(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    band_axis: int = 0,
    eps: float = 0.0,
    *,
    mask: npt.ArrayLike | None = None,
) -> float:
    """Mean spectral angle mapper (SAM) in degrees.

    The mean of :func:`sam_map` over the pixels where it is defined: pixels whose pred or
    target vector has zero norm (``|a| |b| <= eps``) are excluded from the mean, as in the
    pansharpening toolbox (``indexes_evaluation``). ``mask`` (the input shape, the map's
    shape, or a 2-D ``(H, W)`` mask) restricts the mean further; a band-resolved mask keeps a
    pixel if any of its bands is selected.

    Returns:
        Mean angle in degrees; NaN if any input value is NaN, or if no pixel is left.
    """
    amap = sam_map(pred, target, band_axis=band_axis, eps=eps)
    p, t = np.asarray(pred), np.asarray(target)
    if np.isnan(as_float(p, "prediction")).any() or np.isnan(as_float(t, "reference")).any():
        return float("nan")
    keep = ~np.isnan(amap)
    if mask is not None:
        m_raw = np.asarray(mask)
        shape = p.shape
        ax = normalize_axis(band_axis, len(shape))
        if m_raw.shape == shape:
            pix = np.moveaxis(m_raw != 0, ax, 0).any(axis=0)
        else:
            pm = broadcast_mask(m_raw, amap.shape)
            assert pm is not None
            pix = pm
        keep &= pix
    if not keep.any():
        return float("nan")
    return float(np.mean(amap[keep]))


# -------------------------------------------------------------------------------------- ERGAS


def ergas(pred: npt.ArrayLike, target: npt.ArrayLike, ratio: float, band_axis: int = 0) -> float:
    """ERGAS (Wald 2000), the relative dimensionless global error in synthesis.

    ``ERGAS = 100 / ratio * sqrt(mean_b(MSE_b / mean(target_b)**2))`` where ``MSE_b`` and
    ``mean(target_b)`` are taken over every element of band ``b`` (all non-band axes,
    pooled, including a batch axis: call it per image for a per-image mean). ``ratio`` is
    the PAN/MS spatial resolution ratio (4 for PanCollection WV3/QB/GF2), as in the toolbox's
    ``ERGAS = (100/ratio) * sqrt(...)``. Lower is better, 0 for a perfect fusion.

    Returns:
        ERGAS (dimensionless); ``inf`` if a band's reference mean is 0 while its error is not;
        NaN if the inputs hold NaN.

    Raises:
        InvalidInputError: shape mismatch, empty input, ``ratio <= 0``, bad ``band_axis``.
    """
    if not ratio > 0:
        raise InvalidInputError(f"ergas: ratio must be > 0, got {ratio}")
    p, t = float_pair(pred, target)
    ax = normalize_axis(band_axis, p.ndim)
    p = np.moveaxis(p, ax, 0).reshape(p.shape[ax], -1)
    t = np.moveaxis(t, ax, 0).reshape(t.shape[ax], -1)
    if p.shape[1] == 0:
        raise InvalidInputError("ergas: the bands hold no pixels")
    mse_b = np.mean((p - t) ** 2, axis=1)
    mean_b = np.mean(t, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = mse_b / mean_b**2
    rel = np.where(mse_b == 0.0, 0.0, rel)  # a perfect band adds 0 even with a zero mean
    return float(100.0 / ratio * np.sqrt(np.mean(rel)))
