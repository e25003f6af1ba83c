"""Metrics of COSMIC (Sec. 4.1): bpp, PSNR, MS-SSIM, LPIPS, FID, and the JPEG baseline.

Conventions:

* Images are ``(N, C, H, W)`` (or ``(C, H, W)``) float arrays/tensors in ``[0, 1]``; PSNR and
  MS-SSIM use ``data_range = 1`` (i.e. 8-bit images / 255, as in learned-compression papers).
* **bpp** is ``8 * bytes / (H * W)`` of the transmitted payload, averaged over images; the
  bytes are real range-coder / JPEG file bytes (headers included), not entropy estimates.
* **PSNR** is computed per image (``10 log10(1 / MSE)`` over all bands and pixels) and
  averaged over images (CompressAI's evaluation convention).
* **SSIM** is :func:`geoneurips.metrics.image.ssim` (the project's one SSIM; re-exported
  here as ``ssim``).
* **MS-SSIM** (Wang, Simoncelli & Bovik 2003): 5 scales with weights
  ``(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``, an 11-tap Gaussian window (sigma 1.5),
  2x2 average-pool downsampling, valid convolution, contrast-structure terms clamped at 0
  (as in ``pytorch_msssim``); per image and averaged. Images smaller than 161 pixels use
  fewer scales with the leading weights renormalised (stated in the result).
* **LPIPS** (Zhang et al. 2018) and **FID** (Heusel et al. 2017) are only the formulas: they
  take a user-supplied feature network (VGG with LPIPS's learned layer weights, Inception
  pool3 for FID) loaded from local weights; no weights ship with geoneurips and nothing
  downloads, so the demo reports neither (a random network would not be those metrics).
* **Tile seams** (:func:`seam_ratio`): tiles coded independently and stitched; the mean
  squared gradient of the reconstruction error across tile boundaries over that inside
  tiles (1: no seam).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ...errors import InvalidInputError
from ...metrics.image import psnr as _psnr
from ...metrics.image import ssim

__all__ = [
    "MS_SSIM_WEIGHTS",
    "bits_per_pixel",
    "fid",
    "frechet_distance",
    "jpeg_at_bpp",
    "jpeg_file_bytes",
    "jpeg_overhead_bytes",
    "jpeg_roundtrip",
    "lpips_distance",
    "ms_ssim",
    "psnr_batch",
    "seam_ratio",
    "ssim",
]

MS_SSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def bits_per_pixel(num_bytes: int | Sequence[int], height: int, width: int) -> float:
    """Mean bits per pixel of images of ``height x width`` coded in ``num_bytes`` bytes."""
    arr = np.atleast_1d(np.asarray(num_bytes, dtype=np.float64))
    if height <= 0 or width <= 0:
        raise InvalidInputError(f"bits_per_pixel: bad image size {height}x{width}")
    if (arr < 0).any():
        raise InvalidInputError("bits_per_pixel: negative byte count")
    return float(np.mean(arr * 8.0 / (height * width)))


def _as_batch(x: Any) -> np.ndarray:
    arr = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    arr = arr.astype(np.float64)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise InvalidInputError(f"expected (N, C, H, W) or (C, H, W) images, got {arr.shape}")
    return arr


def psnr_batch(pred: Any, target: Any) -> float:
    """Mean over images of the per-image PSNR (data range 1)."""
    p, t = _as_batch(pred), _as_batch(target)
    if p.shape != t.shape:
        raise InvalidInputError(f"psnr: shapes differ {p.shape} vs {t.shape}")
    return float(np.mean([_psnr(p[i], t[i], data_range=1.0) for i in range(len(p))]))


def ms_ssim(pred: Any, target: Any, data_range: float = 1.0,
            weights: Sequence[float] = MS_SSIM_WEIGHTS, win_size: int = 11,
            win_sigma: float = 1.5) -> float:
    """Multi-scale SSIM, mean over images (see the module docstring for the convention).

    Built on the project's one SSIM, :func:`geoneurips.metrics.image.ssim_map` (Gaussian
    window, valid filtering, population variances): at the coarsest scale the SSIM map
    itself (luminance x contrast-structure), at the finer scales the contrast-structure map
    ``cs``, obtained from the same function with the luminance constant ``C1`` made so large
    (``k1 = 1e6``, i.e. ``C1 = 1e12 data_range^2``) that the luminance factor is 1 to
    within ``1e-12`` (``ssim_map`` has no option returning ``cs`` alone).
    """
    from ...metrics.image import ssim_map

    p, t = _as_batch(pred), _as_batch(target)
    if p.shape != t.shape:
        raise InvalidInputError(f"ms_ssim: shapes differ {p.shape} vs {t.shape}")
    smallest = min(p.shape[-2:])
    levels = len(weights)
    while levels > 1 and smallest < (win_size - 1) * 2 ** (levels - 1) + 1:
        levels -= 1
    if smallest < win_size:
        raise InvalidInputError(f"ms_ssim: images {p.shape[-2:]} smaller than the "
                                f"{win_size}-pixel window")
    w = np.asarray(weights[:levels], dtype=np.float64)
    w = w / w.sum()
    values = []
    for level in range(levels):
        last = level == levels - 1
        smap = ssim_map(p, t, data_range, band_axis=1, win_sigma=win_sigma,
                        win_size=win_size, k1=0.01 if last else 1e6, k2=0.03)
        values.append(np.maximum(smap.mean(axis=(-2, -1)), 0.0))  # (C, N), relu as pytorch_msssim
        if not last:
            h2, w2 = p.shape[-2] // 2 * 2, p.shape[-1] // 2 * 2  # 2x2 average pool, floor
            p = p[..., :h2, :w2].reshape(*p.shape[:2], h2 // 2, 2, w2 // 2, 2).mean((3, 5))
            t = t[..., :h2, :w2].reshape(*t.shape[:2], h2 // 2, 2, w2 // 2, 2).mean((3, 5))
    stack = np.stack(values)  # (levels, C, N)
    score = np.prod(stack ** w[:, None, None], axis=0).mean(axis=0)  # per image
    return float(score.mean())


# ----------------------------------------------------------------------------- LPIPS, FID

FeatureFn = Callable[[Any], Any]


def lpips_distance(x: Any, y: Any, feature_fn: FeatureFn,
                   layer_weights: Sequence[Any] | None = None, eps: float = 1e-10) -> np.ndarray:
    """LPIPS (Zhang et al. 2018, eq. 1) with a user-supplied feature network.

    ``d(x, y) = sum_l mean_{h,w} || w_l * (f^l_x / |f^l_x| - f^l_y / |f^l_y|) ||^2`` where
    ``f^l`` are the layer activations normalised to unit length along channels and ``w_l``
    per-channel weights (default ones: the "baseline" LPIPS without learned calibration).

    Args:
        x, y: image batches ``(N, C, H, W)`` as torch tensors (LPIPS nets expect [-1, 1];
            scale them as your network expects).
        feature_fn: ``images -> sequence of (N, C_l, H_l, W_l) tensors`` (e.g. VGG16 relu
            stages loaded from a local checkpoint).
        layer_weights: per-layer ``(C_l,)`` non-negative weights, or ``None`` for ones.

    Returns:
        ``(N,)`` distances.
    """
    import torch

    with torch.no_grad():
        fx = list(feature_fn(x))
        fy = list(feature_fn(y))
    if len(fx) != len(fy) or not fx:
        raise InvalidInputError("lpips: the feature network returned no or unequal layers")
    if layer_weights is not None and len(layer_weights) != len(fx):
        raise InvalidInputError(f"lpips: {len(layer_weights)} layer weights for {len(fx)} layers")
    total = torch.zeros(fx[0].shape[0], dtype=torch.float64)
    for i, (a, b) in enumerate(zip(fx, fy, strict=True)):
        if a.shape != b.shape or a.ndim != 4:
            raise InvalidInputError(f"lpips: layer {i} shapes {tuple(a.shape)} / {tuple(b.shape)}")
        a = a.double() / (a.double().pow(2).sum(1, keepdim=True).sqrt() + eps)
        b = b.double() / (b.double().pow(2).sum(1, keepdim=True).sqrt() + eps)
        diff = (a - b) ** 2
        if layer_weights is not None:
            wl = torch.as_tensor(layer_weights[i], dtype=torch.float64).view(1, -1, 1, 1)
            diff = diff * wl
        total += diff.sum(1).mean(dim=(1, 2))
    return total.numpy()


def frechet_distance(mu1: npt.ArrayLike, sigma1: npt.ArrayLike, mu2: npt.ArrayLike,
                     sigma2: npt.ArrayLike) -> float:
    """Frechet distance between Gaussians ``N(mu1, S1)`` and ``N(mu2, S2)``:
    ``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1^{1/2} S2 S1^{1/2})^{1/2})``.

    The matrix square root is taken of the symmetric PSD matrix ``S1^{1/2} S2 S1^{1/2}``
    (same trace as ``(S1 S2)^{1/2}``) by eigen-decomposition, negative round-off eigenvalues
    clipped to zero, so no complex parts arise.
    """
    m1, m2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = m1.shape[0]
    if m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise InvalidInputError(f"frechet_distance: shapes {m1.shape} {s1.shape} {m2.shape} "
                                f"{s2.shape} do not agree")
    if not (np.isfinite(s1).all() and np.isfinite(s2).all()):
        raise InvalidInputError("frechet_distance: covariance holds NaN/inf")

    def sqrtm_psd(a: np.ndarray) -> np.ndarray:
        vals, vecs = np.linalg.eigh((a + a.T) / 2)
        out: np.ndarray = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
        return out

    r1 = sqrtm_psd(s1)
    cross = sqrtm_psd(r1 @ s2 @ r1)
    return float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(cross))


def fid(real: Any, fake: Any, feature_fn: FeatureFn, batch_size: int = 64) -> float:
    """FID between two image sets using ``feature_fn: images -> (N, D) features`` (the
    Inception pool3 features in the original; any user network here)."""
    import torch

    def stats(images: Any) -> tuple[np.ndarray, np.ndarray]:
        feats = []
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                f = feature_fn(images[i:i + batch_size])
                feats.append(np.asarray(f.detach().cpu() if hasattr(f, "detach") else f,
                                        dtype=np.float64).reshape(len(images[i:i + batch_size]),
                                                                  -1))
        arr = np.concatenate(feats)
        if arr.shape[0] < 2:
            raise InvalidInputError("fid needs at least 2 images per set")
        return arr.mean(0), np.cov(arr, rowvar=False)

    mu1, s1 = stats(real)
    mu2, s2 = stats(fake)
    return frechet_distance(mu1, s1, mu2, s2)


# --------------------------------------------------------------------------- JPEG baseline


def jpeg_roundtrip(images: Any, quality: int) -> tuple[np.ndarray, float]:
    """JPEG (Pillow/libjpeg, optimised Huffman tables, default 4:2:0) at ``quality``.

    Returns the decoded images ``(N, C, H, W)`` in [0, 1] and the mean bpp counted from the
    whole JPEG file (headers included: that is what a user stores or transmits).
    """
    from PIL import Image

    batch = _as_batch(images)
    n, _, h, w = batch.shape
    out = np.empty_like(batch)
    files = jpeg_file_bytes(batch, quality)
    for i, data in enumerate(files):
        with Image.open(io.BytesIO(data)) as im:
            dec = np.asarray(im, dtype=np.float64) / 255.0
        out[i] = dec.reshape(h, w, -1).transpose(2, 0, 1)
    return out, bits_per_pixel([len(f) for f in files], h, w)


def jpeg_overhead_bytes(data: bytes) -> int:
    """Bytes of a baseline JPEG file that are not entropy-coded scan data: every marker
    segment up to and including the start-of-scan header (SOI, APP0, DQT, SOF, DHT, SOS)
    plus the 2-byte end-of-image marker.

    Raises:
        InvalidInputError: not a JPEG, or no start-of-scan marker.
    """
    if data[:2] != b"\xff\xd8":
        raise InvalidInputError("not a JPEG file (no SOI marker)")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise InvalidInputError(f"JPEG marker expected at byte {pos}")
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        pos += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return pos + 2
    raise InvalidInputError("JPEG file without a start-of-scan marker")


def jpeg_file_bytes(images: Any, quality: int) -> list[bytes]:
    """The JPEG files of :func:`jpeg_roundtrip` (same encoder settings), one per image."""
    from PIL import Image

    batch = _as_batch(images)
    files = []
    for i in range(batch.shape[0]):
        arr = (np.clip(batch[i].transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr.squeeze(-1) if arr.shape[-1] == 1 else arr).save(
            buf, format="JPEG", quality=int(quality), optimize=True)
        files.append(buf.getvalue())
    return files


def jpeg_at_bpp(images: Any, target_bpp: float) -> dict[str, float]:
    """JPEG metrics at the rate ``target_bpp`` (matched bpp).

    All qualities 1..95 are coded; PSNR and MS-SSIM at ``target_bpp`` are linearly
    interpolated between the two qualities whose mean bpp brackets it. If even quality 1 is
    above the target, JPEG cannot reach that rate: the quality-1 point is returned with
    ``reachable = 0`` (its bpp is then larger than the target, favouring JPEG).
    """
    batch = _as_batch(images)
    points = []
    for q in range(1, 96):
        dec, bpp = jpeg_roundtrip(batch, q)
        points.append((bpp, q, dec))
        if bpp > target_bpp:
            break
    below = [pt for pt in points if pt[0] <= target_bpp]
    above = [pt for pt in points if pt[0] > target_bpp]

    def metrics(pt: tuple[float, int, np.ndarray]) -> tuple[float, float]:
        return psnr_batch(pt[2], batch), ms_ssim(pt[2], batch)

    if not below:
        p, s = metrics(above[0])
        return {"bpp": above[0][0], "psnr": p, "ms_ssim": s, "quality": float(above[0][1]),
                "reachable": 0.0}
    lo = below[-1]
    if not above:
        p, s = metrics(lo)
        return {"bpp": lo[0], "psnr": p, "ms_ssim": s, "quality": float(lo[1]), "reachable": 1.0}
    hi = above[0]
    (p0, s0), (p1, s1) = metrics(lo), metrics(hi)
    a = (target_bpp - lo[0]) / (hi[0] - lo[0])
    return {"bpp": float(target_bpp), "psnr": p0 + a * (p1 - p0), "ms_ssim": s0 + a * (s1 - s0),
            "quality": lo[1] + a * (hi[1] - lo[1]), "reachable": 1.0}


# ------------------------------------------------------------------------------ tile seams


def seam_ratio(pred: Any, target: Any, tile: int) -> float:
    """Seam artefact of independently coded ``tile x tile`` tiles (the paper's tile test).

    With ``e = pred - target`` and its horizontal and vertical neighbour differences ``de``,
    returns ``mean(de^2 across tile boundaries) / mean(de^2 inside tiles)`` over all images,
    bands and both directions: about 1 when the error is as smooth across the tile grid as
    inside the tiles, larger when the tiles' errors jump at the seams.

    Raises:
        InvalidInputError: shape mismatch, ``tile < 2`` or images without an inner boundary.
    """
    p, t = _as_batch(pred), _as_batch(target)
    if p.shape != t.shape:
        raise InvalidInputError(f"seam_ratio: shapes differ {p.shape} vs {t.shape}")
    if tile < 2 or max(p.shape[-2:]) <= tile:
        raise InvalidInputError(f"seam_ratio: tile {tile} gives no boundary in {p.shape[-2:]}")
    e = p - t
    seam_sum, seam_n, in_sum, in_n = 0.0, 0, 0.0, 0
    for axis in (-1, -2):
        d = np.diff(e, axis=axis) ** 2
        n = d.shape[axis]
        across = (np.arange(n) + 1) % tile == 0  # difference between pixel j and j + 1
        shape = [1] * d.ndim
        shape[axis] = n
        across = across.reshape(shape)
        dd = np.broadcast_to(across, d.shape)
        seam_sum += float(d[dd].sum())
        seam_n += int(dd.sum())
        in_sum += float(d[~dd].sum())
        in_n += int((~dd).sum())
    if seam_n == 0 or in_n == 0 or in_sum == 0:
        raise InvalidInputError("seam_ratio: no boundary or no interior difference")
    return (seam_sum / seam_n) / (in_sum / in_n)
