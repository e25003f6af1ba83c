"""Input validation shared by the metric modules (private)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def as_float(x: npt.ArrayLike, name: str) -> FloatArray:
    """``x`` as a float64 array (torch tensors on CPU convert through ``np.asarray``)."""
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise InvalidInputError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise InvalidInputError(f"{name} must be real, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def float_pair(
    pred: npt.ArrayLike, target: npt.ArrayLike, *, allow_empty: bool = False
) -> tuple[FloatArray, FloatArray]:
    """Both inputs as float64 arrays of the same shape; raise otherwise."""
    p = as_float(pred, "prediction")
    t = as_float(target, "reference")
    if p.shape != t.shape:
        raise InvalidInputError(f"prediction shape {p.shape} != reference shape {t.shape}")
    if not allow_empty and p.size == 0:
        raise InvalidInputError("prediction and reference are empty")
    return p, t


def broadcast_mask(mask: npt.ArrayLike | None, shape: tuple[int, ...]) -> BoolArray | None:
    """``mask`` as a boolean array broadcast to ``shape`` (``None`` stays ``None``)."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        if not np.issubdtype(m.dtype, np.number):
            raise InvalidInputError(f"mask must be boolean or numeric, got dtype {m.dtype}")
        m = m != 0
    try:
        return np.broadcast_to(m, shape)
    except ValueError as err:
        raise InvalidInputError(
            f"mask shape {m.shape} does not broadcast to the image shape {shape}"
        ) from err


def normalize_axis(axis: int, ndim: int, name: str = "band_axis") -> int:
    """``axis`` as a non-negative index into ``ndim`` dimensions."""
    if not -ndim <= axis < ndim:
        raise InvalidInputError(f"{name}={axis} is out of range for an array with {ndim} dims")
    return axis % ndim
