"""Pansharpening quality indices with the conventions of the pansharpening toolbox.

These are the numbers PanCollection and SSDiff report (Vivone's toolbox with the
PanCollection settings: ``indexes_evaluation(I_F, I_GT, ratio=4, L=11, Qblocks=32,
flag_cut_bounds=0, dim_cut=30, th=0)`` at reduced resolution and
``indexes_evaluation_FS(L=11, Qblocks=32, ratio=4, sensor, th=0)`` at full resolution),
on images in digital numbers (DN). Arrays are band-first ``(C, H, W)``.

Reduced resolution (a ground truth exists):

- **SAM**: mean spectral angle in degrees over the pixels where both vectors are non-zero
  (:func:`geoneurips.metrics.image.sam`).
- **ERGAS**: ``100 / ratio * sqrt(mean_b(MSE_b / mean(GT_b)^2))``
  (:func:`geoneurips.metrics.image.ergas`).
- **Q2n** (Q4 for 4 bands, Q8 for 8): the hypercomplex universal image quality index of
  Garzelli & Nencini (2009), :func:`q2n`.
- **SCC**: spatial correlation coefficient of the Sobel gradient magnitudes, :func:`scc`.

Full resolution (no ground truth; the HQNR protocol of Vivone et al., JSTARS 2021):

- **D_lambda** (Khan et al. 2009): ``1 - Q2n(MS_exp, MTF(fused))``, :func:`d_lambda_k`.
- **D_s** (QNR spatial distortion, toolbox 1.0 option, q = 1), :func:`d_s`.
- **HQNR** ``= (1 - D_lambda) * (1 - D_s)``, :func:`hqnr`.

Deviations from the public MATLAB/Python code, on purpose:

- ``q2n`` pads images whose size is not a multiple of the block step by mirroring. The
  MATLAB code mirrors band 1 into every band (``a1 = squeeze(I_GT(:,:,1))`` inside the band
  loop); here each band is mirrored from itself, the evident intent. PanCollection test images
  (256 x 256, blocks of 32) are not padded, so published numbers are unaffected.
- Everything is vectorised over blocks; the arithmetic is the toolbox's (sample statistics
  with the ``n / (n - 1)`` factors, ``std2`` block normalisation, Cayley-Dickson products).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError
from .image import ergas, sam
from .mtf import interp23, mtf_filter, mtf_kernel
from .resize import as_chw, imresize

__all__ = [
    "as_chw",
    "d_lambda_k",
    "d_s",
    "full_resolution_metrics",
    "hqnr",
    "onion_mult",
    "q2n",
    "q_index",
    "reduced_resolution_metrics",
    "scc",
]

FloatArray = npt.NDArray[np.float64]
_EPS = float(np.finfo(np.float64).eps)


def _pair(a: npt.ArrayLike, b: npt.ArrayLike, na: str, nb: str) -> tuple[FloatArray, FloatArray]:
    x, y = as_chw(a, na), as_chw(b, nb)
    if x.shape != y.shape:
        raise InvalidInputError(f"{na} shape {x.shape} != {nb} shape {y.shape}")
    return x, y


# ------------------------------------------------------------------------------- hypercomplex


def _conj(x: FloatArray) -> FloatArray:
    """Hypercomplex conjugate along axis 0 (negate every component but the first)."""
    out = -x
    out[0] = x[0]
    return out


def onion_mult(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Product of hypercomplex numbers ("onions") stored along axis 0, as in the toolbox.

    The number of components is a power of 2 (1: reals, 2: complex, 4: quaternions, 8:
    octonions); other axes broadcast. With ``a = (p, q)`` and ``b = (r, s)`` split in halves
    the toolbox's Cayley-Dickson recursion is ``(p r - s* q, p* s* + r q*)`` for more than two
    components (``*`` the conjugate) and the complex product for two.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    n = x.shape[0]
    if y.shape[0] != n or n & (n - 1):
        raise InvalidInputError(f"onion_mult needs equal power-of-2 sizes, got {n}, {y.shape[0]}")
    if n == 1:
        out1: FloatArray = x * y
        return out1
    h = n // 2
    p, q, r, s = x[:h], x[h:], y[:h], y[h:]
    if n == 2:
        return np.concatenate([p * r - s * q, p * s + r * q])
    first = onion_mult(p, r) - onion_mult(_conj(s), q)
    second = onion_mult(_conj(p), _conj(s)) + onion_mult(r, _conj(q))
    return np.concatenate([first, second])


@functools.lru_cache(maxsize=8)
def _structure_constants(n: int) -> FloatArray:
    """``T[i, j, k]``: component ``k`` of ``onion_mult(e_i, e_j)`` (read-only)."""
    eye = np.eye(n)
    t = np.stack([np.stack([onion_mult(eye[i], eye[j]) for j in range(n)]) for i in range(n)])
    t.setflags(write=False)
    return t


def _onions_quality(ref: FloatArray, fus: FloatArray) -> FloatArray:
    """Q2n of blocks: ``ref``, ``fus`` are ``(C, nblocks, S, S)``; returns ``(C, nblocks)``.

    Toolbox ``onions_quality``: each band of a block is normalised with the reference block's
    mean and (sample) standard deviation, then ``+1``; the fused image is conjugated; the
    hypercomplex covariance times ``2 |m1| |m2| / (|m1|^2 + |m2|^2)`` times
    ``2 / (sigma1^2 + sigma2^2)`` is returned per component.
    """
    c, nb, s1, s2 = ref.shape
    n = s1 * s2
    f = n / (n - 1.0)
    mean = ref.mean(axis=(2, 3), keepdims=True)
    std = ref.std(axis=(2, 3), ddof=1, keepdims=True)
    std = np.where(std == 0, _EPS, std)
    d1 = (ref - mean) / std + 1.0
    zero_mean = mean == 0
    d2 = np.where(zero_mean, fus + 1.0, (fus - mean) / std + 1.0)
    d2 = _conj(d2)
    m1 = d1.mean(axis=(2, 3))
    m2 = d2.mean(axis=(2, 3))
    mod_q1m = np.sqrt((m1**2).sum(axis=0))
    mod_q2m = np.sqrt((m2**2).sum(axis=0))
    mod_q1 = (d1**2).sum(axis=0)
    mod_q2 = (d2**2).sum(axis=0)
    termine2 = mod_q1m * mod_q2m
    termine4 = mod_q1m**2 + mod_q2m**2
    int1 = f * mod_q1.mean(axis=(1, 2))
    int2 = f * mod_q2.mean(axis=(1, 2))
    termine3 = int1 + int2 - f * (mod_q1m**2 + mod_q2m**2)
    mean_bias = 2.0 * termine2 / termine4
    # mean over pixels of the (bilinear) product: structure constants x band cross-moments
    flat1 = d1.reshape(c, nb, n).transpose(1, 0, 2)
    flat2 = d2.reshape(c, nb, n).transpose(1, 2, 0)
    cross = np.matmul(flat1, flat2) / n  # (nb, C, C): mean(d1_i * d2_j)
    qu = np.einsum("ijk,bij->kb", _structure_constants(c), cross)
    qm = onion_mult(m1, m2)
    q = f * qu - f * qm
    flat = termine3 == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = q * mean_bias * (2.0 / termine3)
    if flat.any():
        q[:, flat] = 0.0
        q[-1, flat] = mean_bias[flat]
    out: FloatArray = q
    return out


def _mirror_pad(x: FloatArray, rows: int, cols: int) -> FloatArray:
    """Append ``rows``/``cols`` mirrored pixels (edge repeated) at the bottom/right."""
    if cols:
        x = np.concatenate([x, x[:, :, x.shape[2] - 1 : x.shape[2] - 1 - cols : -1]], axis=2)
    if rows:
        x = np.concatenate([x, x[:, x.shape[1] - 1 : x.shape[1] - 1 - rows : -1, :]], axis=1)
    return x


def q2n(
    gt: npt.ArrayLike, fused: npt.ArrayLike, block: int = 32, shift: int = 32,
    *, return_map: bool = False,
) -> float | tuple[float, FloatArray]:
    """Q2n (Q4/Q8) of ``fused`` against ``gt``, both ``(C, H, W)`` (toolbox ``q2n``).

    Blocks of ``block x block`` pixels every ``shift`` pixels; images are mirrored at the
    bottom/right up to a whole number of steps; bands are zero-padded to a power of 2. Each
    block gives the modulus of its hypercomplex quality; the index is their mean.

    Returns:
        The index (1 for identical images), or ``(index, map)`` with ``return_map``.

    Raises:
        InvalidInputError: shape mismatch, NaN, block/shift < 2, mirror padding larger than
            the image.
    """
    x, y = _pair(gt, fused, "gt", "fused")
    if block < 2 or shift < 1:
        raise InvalidInputError(f"q2n needs block >= 2 and shift >= 1, got {block}, {shift}")
    c, h, w = x.shape
    steps_r = max(1, math.ceil(h / shift))
    steps_c = max(1, math.ceil(w / shift))
    pad_r = (steps_r - 1) * shift + block - h
    pad_c = (steps_c - 1) * shift + block - w
    if pad_r < 0 or pad_c < 0 or pad_r > h or pad_c > w:
        raise InvalidInputError(
            f"q2n: image {h} x {w} cannot be tiled by blocks of {block} every {shift} pixels"
        )
    if pad_r or pad_c:
        x = _mirror_pad(x, pad_r, pad_c)
        y = _mirror_pad(y, pad_r, pad_c)
    n3 = 1 << (c - 1).bit_length() if c > 1 else 1
    if n3 != c:
        z = np.zeros((n3 - c,) + x.shape[1:])
        x = np.concatenate([x, z])
        y = np.concatenate([y, z])
    # (C, nblocks, S, S) copies of the blocks
    if shift == block:
        shape = (n3, steps_r, block, steps_c, block)
        bx = x.reshape(shape).transpose(0, 1, 3, 2, 4).reshape(n3, -1, block, block)
        by = y.reshape(shape).transpose(0, 1, 3, 2, 4).reshape(n3, -1, block, block)
        q = _onions_quality(bx, by)
        qmap = np.sqrt((q**2).sum(axis=0)).reshape(steps_r, steps_c)
        value = float(qmap.mean())
        return (value, qmap) if return_map else value
    idx_r = np.arange(steps_r) * shift
    idx_c = np.arange(steps_c) * shift
    rr = (idx_r[:, None] + np.arange(block)[None, :])  # (steps_r, S)
    cc = (idx_c[:, None] + np.arange(block)[None, :])
    bx = x[:, rr[:, None, :, None], cc[None, :, None, :]].reshape(n3, -1, block, block)
    by = y[:, rr[:, None, :, None], cc[None, :, None, :]].reshape(n3, -1, block, block)
    q = _onions_quality(bx, by)
    qmap = np.sqrt((q**2).sum(axis=0)).reshape(steps_r, steps_c)
    value = float(qmap.mean())
    return (value, qmap) if return_map else value


def q_index(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Universal image quality index (Wang & Bovik 2002) of two images, one global window.

    ``4 cov(x, y) mean(x) mean(y) / ((var x + var y) (mean(x)^2 + mean(y)^2))`` (toolbox
    ``uqi``); NaN when the denominator is 0.
    """
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size < 2:
        raise InvalidInputError(f"q_index needs two images of the same size >= 2, got "
                                f"{np.shape(x)} and {np.shape(y)}")
    return float(_uqi_blocks(a[None], b[None])[0])


def _uqi_blocks(a: FloatArray, b: FloatArray) -> FloatArray:
    """UQI of each row of ``a`` vs ``b`` (rows are flattened blocks)."""
    ma, mb = a.mean(axis=1), b.mean(axis=1)
    da, db = a - ma[:, None], b - mb[:, None]
    n = a.shape[1]
    cov = (da * db).sum(axis=1) / (n - 1)
    va = (da * da).sum(axis=1) / (n - 1)
    vb = (db * db).sum(axis=1) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = 4.0 * cov * ma * mb / (va + vb) / (ma**2 + mb**2)
    return out


def _block_rows(x: FloatArray, s: int) -> FloatArray:
    """``(H, W)`` with ``H, W`` multiples of ``s`` -> ``(nblocks, s * s)`` rows."""
    h, w = x.shape
    return x.reshape(h // s, s, w // s, s).transpose(0, 2, 1, 3).reshape(-1, s * s)


def _mean_block_uqi(a: FloatArray, b: FloatArray, s: int) -> float:
    """Toolbox ``mean2(blockproc(a, [S S], uqi))`` (non-overlapping ``S x S`` blocks)."""
    return float(np.mean(_uqi_blocks(_block_rows(a, s), _block_rows(b, s))))


# ------------------------------------------------------------------------------------- SCC


def scc(gt: npt.ArrayLike, fused: npt.ArrayLike) -> float:
    """Spatial correlation coefficient (toolbox ``SCC``).

    Each band is cropped by one pixel on every side, filtered with the horizontal and the
    vertical Sobel kernels (correlation, zero padding, same size: MATLAB ``imfilter`` with
    ``fspecial('sobel')``) and replaced by the gradient magnitude; SCC is the normalised
    inner product of the two magnitude stacks over all bands and pixels. 1 for identical
    images (unless flat: NaN).
    """
    from scipy.signal import correlate2d

    x, y = _pair(gt, fused, "gt", "fused")
    if x.shape[1] < 3 or x.shape[2] < 3:
        raise InvalidInputError(f"scc needs images of at least 3 x 3 pixels, got {x.shape}")
    sob = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])

    def grad(img: FloatArray) -> FloatArray:
        out = np.empty((img.shape[0], img.shape[1] - 2, img.shape[2] - 2))
        for b in range(img.shape[0]):
            band = img[b, 1:-1, 1:-1]
            gy = correlate2d(band, sob, mode="same", boundary="fill")
            gx = correlate2d(band, sob.T, mode="same", boundary="fill")
            out[b] = np.sqrt(gy * gy + gx * gx)
        return out

    gf, gg = grad(y), grad(x)
    den = math.sqrt(float((gf**2).sum())) * math.sqrt(float((gg**2).sum()))
    if den == 0:
        return float("nan")
    return float((gf * gg).sum() / den)


# ---------------------------------------------------------------------------- full resolution


def _check_blocks(h: int, w: int, s: int, what: str) -> None:
    if h % s or w % s:
        raise InvalidInputError(
            f"{what}: the image size {h} x {w} must be a multiple of the block size {s} "
            "(toolbox requirement); crop the image"
        )


def d_lambda_k(
    fused: npt.ArrayLike, ms_exp: npt.ArrayLike, sensor: str, ratio: int = 4, block: int = 32
) -> float:
    """Khan's spectral distortion ``1 - Q2n(ms_exp, MTF(fused))`` (toolbox ``D_lambda_K``).

    Args:
        fused: pansharpened image ``(C, H, W)``.
        ms_exp: the MS image upsampled to the PAN grid with interp23 ``(C, H, W)``.
        sensor: sensor name for the MS MTF filters.
        ratio: resolution ratio.
        block: Q2n block size (and step); ``H`` and ``W`` must be multiples of it.
    """
    f, m = _pair(fused, ms_exp, "fused", "ms_exp")
    _check_blocks(f.shape[1], f.shape[2], block, "D_lambda")
    degraded = mtf_filter(f, mtf_kernel(sensor, f.shape[0], ratio))
    value = q2n(m, degraded, block, block)
    assert isinstance(value, float)
    return 1.0 - value


def d_s(
    fused: npt.ArrayLike,
    ms_exp: npt.ArrayLike,
    pan: npt.ArrayLike,
    ratio: int = 4,
    block: int = 32,
    q: float = 1.0,
) -> float:
    """QNR spatial distortion as in the toolbox's HQNR (``D_s``, toolbox 1.0 option).

    ``(mean_b |Q(fused_b, PAN) - Q(ms_exp_b, PAN_lp)|^q)^(1/q)`` where ``Q`` is the mean
    UQI over non-overlapping ``block x block`` blocks and ``PAN_lp = interp23(imresize(PAN,
    1 / ratio))`` (MATLAB bicubic ``imresize``).
    """
    f, m = _pair(fused, ms_exp, "fused", "ms_exp")
    p = as_chw(pan, "pan")
    if p.shape != (1,) + f.shape[1:]:
        raise InvalidInputError(f"pan must be (1, {f.shape[1]}, {f.shape[2]}), got {p.shape}")
    if not q > 0:
        raise InvalidInputError(f"d_s exponent q must be > 0, got {q}")
    _check_blocks(f.shape[1], f.shape[2], block, "D_s")
    pan_lp = interp23(imresize(p, 1.0 / ratio), ratio)[0]
    total = 0.0
    for b in range(f.shape[0]):
        q_high = _mean_block_uqi(f[b], p[0], block)
        q_low = _mean_block_uqi(m[b], pan_lp, block)
        total += abs(q_high - q_low) ** q
    return float((total / f.shape[0]) ** (1.0 / q))


def hqnr(d_lambda: float, d_s_value: float, alpha: float = 1.0, beta: float = 1.0) -> float:
    """Hybrid QNR ``(1 - D_lambda)^alpha * (1 - D_s)^beta``."""
    return float((1.0 - d_lambda) ** alpha * (1.0 - d_s_value) ** beta)


def _clip(x: FloatArray, max_value: float | None) -> FloatArray:
    if max_value is None:
        return x
    if not max_value > 0:
        raise InvalidInputError(f"max_value must be > 0, got {max_value}")
    return np.clip(x, 0.0, max_value)


def reduced_resolution_metrics(
    fused: npt.ArrayLike,
    gt: npt.ArrayLike,
    ratio: int = 4,
    max_value: float | None = 2047,
    block: int = 32,
) -> dict[str, float]:
    """SAM, ERGAS, Q2n and SCC of ``fused`` against ``gt`` (both ``(C, H, W)`` in DN).

    ``max_value`` clips the fused image to ``[0, max_value]`` first (the PanCollection /
    SSDiff convention of clamping outputs to the valid range; ``None`` leaves it as is, the
    toolbox's ``th = 0``). Every index here is scale-invariant, so data in ``[0, 1]`` give the
    same values as DN when ``max_value`` is 1 or ``None``.

    Returns:
        ``{"SAM": degrees, "ERGAS": ..., "Q2n": ..., "SCC": ...}``.
    """
    f, g = _pair(fused, gt, "fused", "gt")
    f = _clip(f, max_value)
    q = q2n(g, f, block, block)
    assert isinstance(q, float)
    return {
        "SAM": sam(f, g, band_axis=0),
        "ERGAS": ergas(f, g, ratio=ratio, band_axis=0),
        "Q2n": q,
        "SCC": scc(g, f),
    }


def full_resolution_metrics(
    fused: npt.ArrayLike,
    ms: npt.ArrayLike,
    pan: npt.ArrayLike,
    sensor: str,
    ratio: int = 4,
    max_value: float | None = 2047,
    block: int = 32,
) -> dict[str, float]:
    """D_lambda (Khan), D_s and HQNR of a full-resolution fusion (toolbox
    ``indexes_evaluation_FS``).

    Args:
        fused: pansharpened image ``(C, H, W)`` (DN).
        ms: the original MS image ``(C, H / ratio, W / ratio)``; it is upsampled with
            interp23 (the toolbox's ``I_MS``).
        pan: the PAN ``(1, H, W)`` or ``(H, W)``.
        sensor: sensor name for the MTF filters (``"WV3"``, ``"QB"``, ``"WV2"``...).
        ratio: resolution ratio.
        max_value: clip ``fused`` to ``[0, max_value]`` first (``None``: no clipping).
        block: block size (``H``, ``W`` multiples of it).

    Returns:
        ``{"D_lambda": ..., "D_s": ..., "HQNR": ...}``.
    """
    f = _clip(as_chw(fused, "fused"), max_value)
    m = as_chw(ms, "ms")
    if m.shape[0] != f.shape[0] or m.shape[1] * ratio != f.shape[1] or \
            m.shape[2] * ratio != f.shape[2]:
        raise InvalidInputError(
            f"ms shape {m.shape} does not match fused shape {f.shape} at ratio {ratio}"
        )
    ms_exp = interp23(m, ratio)
    dl = d_lambda_k(f, ms_exp, sensor, ratio, block)
    ds = d_s(f, ms_exp, pan, ratio, block)
    return {"D_lambda": dl, "D_s": ds, "HQNR": hqnr(dl, ds)}
