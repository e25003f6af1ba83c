"""Band-first image arrays and MATLAB's bicubic ``imresize`` (the one implementation in the
project).

- :func:`as_chw`: validate an image as float64 ``(C, H, W)``.
- :func:`cubic`: Keys' cubic convolution kernel with ``a = -0.5`` (MATLAB's ``cubic``).
- :func:`imresize_weights` / :func:`imresize_matrix`: the weights of MATLAB's
  ``imresize(x, scale)`` along one axis (``contributions`` in ``imresize.m``): output pixel
  ``x`` (1-based) is centred on input coordinate ``u = x / scale + 0.5 (1 - 1 / scale)``;
  when shrinking (``scale < 1``, antialiasing on, the default) the kernel is stretched to
  ``scale * cubic(scale * d)`` with support ``4 / scale``; weights are normalised to sum 1
  and indices outside the image are mirrored (edge pixel repeated, MATLAB ``symmetric``).
- :func:`imresize`: ``imresize(image, scale)`` on numpy ``(C, H, W)``; output size
  ``ceil(scale * H) x ceil(scale * W)``.
- :func:`bicubic_upsample`: ``imresize(x, ratio)`` for an integer ratio over the last two
  axes of a numpy array or a torch tensor (differentiable; torch is never imported here).

Used by the pansharpening metrics (``D_s``), Wald's protocol (:mod:`.mtf`) and FeINFN's
``HSI_up``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError

__all__ = [
    "as_chw",
    "bicubic_upsample",
    "cubic",
    "imresize",
    "imresize_matrix",
    "imresize_weights",
    "reflect_index",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def as_chw(x: npt.ArrayLike, name: str, nan_hint: str = "") -> FloatArray:
    """``x`` as a float64 band-first ``(C, H, W)`` array (an ``(H, W)`` image gets one band).

    Raises:
        InvalidInputError: a non-numeric dtype, another shape or an empty axis, or NaN/inf
            values (``nan_hint`` is appended to that message).
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise InvalidInputError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or 0 in arr.shape:
        raise InvalidInputError(f"{name} must be (C, H, W) or (H, W), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"{name} holds NaN or infinite values{nan_hint}")
    return arr


def reflect_index(idx: IntArray, n: int) -> IntArray:
    """Map any integer index onto ``[0, n)`` by symmetric reflection (numpy ``'symmetric'``)."""
    period = 2 * n
    i = np.mod(idx, period)
    out: IntArray = np.where(i >= n, period - 1 - i, i)
    return out


def cubic(x: npt.ArrayLike) -> FloatArray:
    """Keys' cubic convolution kernel with ``a = -0.5`` (MATLAB ``imresize``'s ``cubic``)."""
    ax = np.abs(np.asarray(x, dtype=np.float64))
    ax2, ax3 = ax * ax, ax * ax * ax
    out: FloatArray = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (
        -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    ) * ((ax > 1) & (ax <= 2))
    return out


def _out_len(in_len: int, scale: float) -> int:
    return int(math.ceil(scale * in_len - 1e-9))


def imresize_weights(
    in_len: int, scale: float, out_len: int | None = None
) -> tuple[IntArray, FloatArray]:
    """Input indices (0-based, mirrored) and weights of MATLAB's bicubic ``imresize`` along
    one axis: output pixel ``k`` is ``sum_j w[k, j] * x[idx[k, j]]``.

    Args:
        in_len: input length.
        scale: output / input size (``< 1`` shrinks, with antialiasing).
        out_len: output length (default ``ceil(scale * in_len)``).
    """
    if in_len < 1 or not scale > 0:
        raise InvalidInputError(f"imresize needs in_len >= 1 and scale > 0, got {in_len}, {scale}")
    n_out = _out_len(in_len, scale) if out_len is None else int(out_len)
    width = 4.0 / scale if scale < 1 else 4.0
    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    ind = left[:, None] + np.arange(taps)[None, :]
    dist = u[:, None] - ind
    w = scale * cubic(scale * dist) if scale < 1 else cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    idx = reflect_index(ind.astype(np.int64) - 1, in_len)  # 1-based -> 0-based, mirrored
    keep = np.any(w != 0, axis=0)
    return idx[:, keep], w[:, keep]


def imresize_matrix(in_len: int, scale: float, out_len: int | None = None) -> FloatArray:
    """The ``(out_len, in_len)`` matrix of :func:`imresize_weights` (``y = M @ x``)."""
    idx, w = imresize_weights(in_len, scale, out_len)
    mat = np.zeros((idx.shape[0], in_len))
    np.add.at(mat, (np.repeat(np.arange(idx.shape[0]), idx.shape[1]), idx.ravel()), w.ravel())
    return mat


def imresize(image: npt.ArrayLike, scale: float) -> FloatArray:
    """MATLAB ``imresize(image, scale)`` with the default bicubic kernel and antialiasing.

    Output size ``ceil(scale * H) x ceil(scale * W)``; borders are mirrored (edge pixel
    repeated) as in MATLAB. Applied band by band to ``(C, H, W)`` (``(H, W)``: one band).
    """
    x = as_chw(image, "image")
    if not scale > 0:
        raise InvalidInputError(f"imresize scale must be > 0, got {scale}")
    _, h, w = x.shape
    ri, rw = imresize_weights(h, scale)
    ci, cw = imresize_weights(w, scale)
    rows = np.einsum("ok,cokw->cow", rw, x[:, ri, :])
    out: FloatArray = np.einsum("ok,chok->cho", cw, rows[:, :, ci])
    return out


def bicubic_upsample(lr: Any, ratio: int) -> Any:
    """MATLAB ``imresize(x, ratio)`` (bicubic) over the last two axes, integer ``ratio``.

    Works on numpy arrays (returns float64) and torch tensors (returns the input dtype and
    device, differentiable), any leading axes.
    """
    if int(ratio) != ratio or ratio < 1:
        raise InvalidInputError(f"ratio must be a positive integer, got {ratio}")
    h, w = lr.shape[-2:]
    mh = imresize_matrix(h, float(ratio), h * int(ratio))
    mw = imresize_matrix(w, float(ratio), w * int(ratio))
    if type(lr).__module__.startswith("torch"):
        import torch

        th = torch.as_tensor(mh, dtype=lr.dtype, device=lr.device)
        tw = torch.as_tensor(mw, dtype=lr.dtype, device=lr.device)
        return th @ lr @ tw.T
    out: FloatArray = mh @ np.asarray(lr, dtype=np.float64) @ mw.T
    return out
