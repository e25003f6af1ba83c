"""Metrics of COSMIC (Sec. 4.1): bpp, PSNR, MS-SSIM, LPIPS, FID, and the JPEG baseline.

Conventions:

* Images are ``(N, C, H, W)`` (or ``(C, H, W)``) float arrays/tensors in ``[0, 1]``; PSNR and
  MS-SSIM use ``data_range = 1`` (i.e. 8-bit images / 255, as in learned-compression papers).
* **bpp** is ``8 * bytes / (H * W)`` of the transmitted payload, averaged over images; the
  bytes are real range-coder / JPEG file bytes (headers included), not entropy estimates.
* **PSNR** is computed per image (``10 log10(1 / MSE)`` over all bands and pixels) and
  averaged over images (CompressAI's evaluation convention).
* **MS-SSIM** (Wang, Simoncelli & Bovik 2003): 5 scales with weights
  ``(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``, an 11-tap Gaussian window (sigma 1.5),
  2x2 average-pool downsampling, valid convolution, contrast-structure terms clamped at 0
  (as in ``pytorch_msssim``); per image and averaged. Images smaller than 161 pixels use
  fewer scales with the leading weights renormalised (stated in the result).
* **LPIPS** (Zhang et al. 2018) and **FID** (Heusel et al. 2017) take a user-supplied
  feature network (no weights ship with geoneurips and nothing downloads).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ...errors import InvalidInputError
from ...metrics.image import psnr as _psnr

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
    """Multi-scale SSIM, mean over images (see the module docstring for the convention)."""
    import torch
    import torch.nn.functional as F

    p = torch.as_tensor(_as_batch(pred))
    t = torch.as_tensor(_as_batch(target))
    if p.shape != t.shape:
        raise InvalidInputError(f"ms_ssim: shapes differ {tuple(p.shape)} vs {tuple(t.shape)}")
    smallest = min(p.shape[-2:])
    levels = len(weights)
    while levels > 1 and smallest < (win_size - 1) * 2 ** (levels - 1) + 1:
        levels -= 1
    if smallest < win_size:
        raise InvalidInputError(f"ms_ssim: images {tuple(p.shape[-2:])} smaller than the "
                                f"{win_size}-pixel window")
    w = torch.tensor(weights[:levels], dtype=torch.float64)
    w = w / w.sum()
    coords = torch.arange(win_size, dtype=torch.float64) - win_size // 2
    g = torch.exp(-(coords**2) / (2 * win_sigma**2))
    g = g / g.sum()
    c = p.shape[1]
    gx = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    gy = g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(a: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(a, gx, groups=c), gy, groups=c)

    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    values = []
    for level in range(levels):
        mu_p, mu_t = blur(p), blur(t)
        s_pp = blur(p * p) - mu_p**2
        s_tt = blur(t * t) - mu_t**2
        s_pt = blur(p * t) - mu_p * mu_t
        cs = ((2 * s_pt + c2) / (s_pp + s_tt + c2)).flatten(2).mean(-1)  # (N, C)
        if level == levels - 1:
            lum = ((2 * mu_p * mu_t + c1) / (mu_p**2 + mu_t**2 + c1)).flatten(2).mean(-1)
            values.append(torch.relu(lum * cs))
        else:
            values.append(torch.relu(cs))
            p = F.avg_pool2d(p, 2, ceil_mode=False)
            t = F.avg_pool2d(t, 2, ceil_mode=False)
    stack = torch.stack(values, dim=0)  # (levels, N, C)
    score = torch.prod(stack ** w[:, None, None], dim=0).mean(dim=1)  # per image
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
