"""Synthetic cloudy Sentinel-2 time series (research notes section 9, "Cloud removal").

A scene is a Dynamic World land-cover map (classes 0-8) filled with one 13-band S2
top-of-atmosphere spectrum per class (reflectance in [0, 1]), a little texture and a smooth
per-date seasonal change. The class spectra are :data:`CLASS_SPECTRA`, or with
:func:`roi_spectra` one set per ROI: in the real world the same land-cover class reflects
differently from region to region (tree species, soils and their moisture, crop types and
their stage, building materials, illumination and atmosphere), and AllClear's ROIs span the
globe; with one shared set every ROI shows the same 9 spectra. Every date then gets:

* a cloud opacity ``alpha`` from thresholded fractal (1/f) noise, the threshold drawn so that
  the cloud cover varies from clear to overcast;
* a shadow: the cloud mask shifted by a fixed sun-dependent offset, darkening the surface
  by 0.5 where no cloud lies;
* the cloudy image ``(1 - alpha) * surface + alpha * cloud_spectrum`` (cloud spectrum bright
  and flat in the visible, lower in the SWIR, high in the B10 cirrus band);
* the AllClear ``cld_shdw`` product (5 bands: cloud probability in percent, ``clouds_30``,
  ``shadows_thres_20``, ``shadows_thres_25``, ``shadows_thres_30``);
* Sentinel-1 VV/VH backscatter in dB (class dependent, speckled, unaffected by clouds).

Everything is numpy and seeded; nothing is read from disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "CLASS_SPECTRA",
    "CloudyDate",
    "fractal_noise",
    "make_cloudy_date",
    "make_landcover",
    "make_surface",
    "roi_spectra",
]

F32 = npt.NDArray[np.float32]

#: Mean S2 TOA reflectance per Dynamic World class, bands B1..B12 (incl. B8A, B10).
#: Shapes only loosely follow real spectra (water dark, vegetation red edge, bare bright).
CLASS_SPECTRA: npt.NDArray[np.float64] = np.array(
    [
        # B1   B2    B3    B4    B5    B6    B7    B8    B8A   B9    B10   B11   B12
        [0.09, 0.08, 0.07, 0.05, 0.04, 0.03, 0.03, 0.02, 0.02, 0.01, 0.00, 0.01, 0.01],  # water
        [0.08, 0.06, 0.07, 0.04, 0.09, 0.24, 0.30, 0.32, 0.33, 0.12, 0.01, 0.15, 0.07],  # trees
        [0.09, 0.07, 0.09, 0.07, 0.12, 0.25, 0.30, 0.31, 0.33, 0.12, 0.01, 0.22, 0.12],  # grass
        [0.08, 0.06, 0.07, 0.05, 0.08, 0.16, 0.19, 0.20, 0.21, 0.08, 0.01, 0.10, 0.05],  # flooded
        [0.10, 0.08, 0.10, 0.09, 0.14, 0.26, 0.31, 0.33, 0.35, 0.13, 0.01, 0.26, 0.16],  # crops
        [0.10, 0.09, 0.11, 0.12, 0.15, 0.20, 0.23, 0.24, 0.26, 0.10, 0.01, 0.28, 0.20],  # shrub
        [0.13, 0.12, 0.13, 0.14, 0.16, 0.18, 0.19, 0.20, 0.21, 0.08, 0.01, 0.24, 0.20],  # built
        [0.15, 0.15, 0.18, 0.22, 0.25, 0.27, 0.28, 0.29, 0.30, 0.12, 0.01, 0.36, 0.30],  # bare
        [0.60, 0.62, 0.61, 0.60, 0.58, 0.55, 0.53, 0.52, 0.50, 0.25, 0.02, 0.06, 0.05],  # snow
    ]
)

#: Cloud top reflectance per band (bright, flat in the visible; B10 cirrus high).
CLOUD_SPECTRUM: npt.NDArray[np.float64] = np.array(
    [0.55, 0.55, 0.54, 0.54, 0.55, 0.56, 0.56, 0.56, 0.56, 0.30, 0.20, 0.45, 0.35]
)

#: S1 (VV, VH) backscatter in dB per Dynamic World class.
CLASS_SAR_DB: npt.NDArray[np.float64] = np.array(
    [[-20, -27], [-8, -14], [-11, -18], [-14, -21], [-10, -17], [-10, -17], [-5, -12],
     [-13, -22], [-12, -20]], dtype=np.float64
)


def fractal_noise(
    shape: tuple[int, int], rng: np.random.Generator, beta: float = 2.6
) -> npt.NDArray[np.float64]:
    """Gaussian random field with power spectrum ``1 / f**beta``, scaled to [0, 1]."""
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    amp = f ** (-beta / 2.0)
    amp[0, 0] = 0.0
    phase = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    field = np.real(np.fft.ifft2(amp * phase))
    lo, hi = field.min(), field.max()
    out: npt.NDArray[np.float64] = (field - lo) / max(hi - lo, 1e-12)
    return out


def make_landcover(
    shape: tuple[int, int], rng: np.random.Generator, classes: tuple[int, ...] = (0, 1, 2, 4, 6, 7)
) -> npt.NDArray[np.int64]:
    """A Dynamic World label map: argmax of one smooth random field per class."""
    fields = np.stack([fractal_noise(shape, rng, beta=3.0) for _ in classes])
    out: npt.NDArray[np.int64] = np.asarray(classes, dtype=np.int64)[fields.argmax(0)]
    return out


def roi_spectra(rng: np.random.Generator, gain: float = 0.25,
                tilt: float = 0.15) -> npt.NDArray[np.float64]:
    """One ROI's class spectra ``(9, 13)``: :data:`CLASS_SPECTRA` with, per class, a
    brightness gain drawn in ``[1 - gain, 1 + gain]`` and a linear tilt across the 13 bands
    drawn in ``[-tilt, tilt]`` (the relative change from B1 to B12 is ``2 * tilt``), clipped
    to [0, 1] (regional variation of one land-cover class; see the module docstring)."""
    n = CLASS_SPECTRA.shape[0]
    g = rng.uniform(1.0 - gain, 1.0 + gain, size=(n, 1))
    slope = rng.uniform(-tilt, tilt, size=(n, 1)) * (np.arange(13)[None] - 6) / 6
    out: npt.NDArray[np.float64] = np.clip(CLASS_SPECTRA * g * (1.0 + slope), 0.0, 1.0)
    return out


def make_surface(
    landcover: npt.NDArray[np.int64], rng: np.random.Generator,
    spectra: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """The clear 13-band reflectance ``(13, H, W)`` of a label map (class spectra + texture).

    Args:
        landcover: Dynamic World labels ``(H, W)``.
        rng: random generator (texture).
        spectra: ``(9, 13)`` class spectra (default :data:`CLASS_SPECTRA`; one ROI's own:
            :func:`roi_spectra`).
    """
    base = (CLASS_SPECTRA if spectra is None else spectra)[landcover].transpose(2, 0, 1)
    texture = 1.0 + 0.15 * (fractal_noise(landcover.shape, rng, beta=2.0) - 0.5)
    return np.clip(base * texture[None], 0.0, 1.0)


@dataclass
class CloudyDate:
    """One synthetic acquisition.

    Attributes:
        clear: clear surface reflectance ``(13, H, W)`` in [0, 1] (the ground truth).
        cloudy: observed reflectance ``(13, H, W)`` in [0, 1].
        alpha: cloud opacity ``(H, W)`` in [0, 1].
        cld_shdw: AllClear cloud/shadow product ``(5, H, W)`` (see module docstring).
        s1: Sentinel-1 ``(2, H, W)`` VV, VH in dB.
    """

    clear: F32
    cloudy: F32
    alpha: F32
    cld_shdw: F32
    s1: F32

    @property
    def cloud(self) -> npt.NDArray[np.bool_]:
        """Binary cloud mask (``clouds_30``)."""
        out: npt.NDArray[np.bool_] = self.cld_shdw[1] > 0
        return out

    @property
    def shadow(self) -> npt.NDArray[np.bool_]:
        """Binary shadow mask (``shadows_thres_30``)."""
        out: npt.NDArray[np.bool_] = self.cld_shdw[4] > 0
        return out


def make_cloudy_date(
    surface: npt.NDArray[np.float64],
    landcover: npt.NDArray[np.int64],
    rng: np.random.Generator,
    *,
    day: float = 0.0,
    cover: float | None = None,
    shadow_offset: tuple[int, int] = (3, 3),
) -> CloudyDate:
    """Observe ``surface`` on ``day`` (0-365) under fractal clouds and their shadows.

    Args:
        surface: clear reflectance ``(13, H, W)``.
        landcover: Dynamic World labels ``(H, W)`` (for the S1 backscatter).
        rng: random generator.
        day: day of year; vegetation (classes 1-5) greens up smoothly with it, so dates of
            a series differ even where clear.
        cover: target cloud fraction in [0, 1] (drawn uniformly in [0, 0.85] if ``None``).
        shadow_offset: ``(dy, dx)`` pixel shift from a cloud to its shadow.
    """
    h, w = landcover.shape
    season = 1.0 + 0.12 * np.sin(2 * np.pi * day / 365.0)
    veg = np.isin(landcover, (1, 2, 3, 4, 5))[None]
    red_edge = np.zeros((13, 1, 1))
    red_edge[5:9] = 1.0  # B6, B7, B8, B8A respond most to greening
    clear = surface * np.where(veg, 1.0 + (season - 1.0) * (0.5 + red_edge), 1.0)
    clear = np.clip(clear, 0.0, 1.0)
    cov = float(rng.uniform(0.0, 0.85)) if cover is None else float(cover)
    noise = fractal_noise((h, w), rng, beta=2.4)
    thr = float(np.quantile(noise, 1.0 - cov)) if cov > 0 else 2.0
    alpha = np.clip((noise - thr) / 0.08, 0.0, 1.0)
    dy, dx = shadow_offset
    shifted = np.zeros_like(alpha)
    shifted[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = alpha[
        max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)
    ]
    cloud = alpha > 0.3
    shadow_strength = np.where(cloud, 0.0, shifted)
    surface_obs = clear * (1.0 - 0.5 * shadow_strength[None])
    cloudy = (1.0 - alpha[None]) * surface_obs + alpha[None] * CLOUD_SPECTRUM[:, None, None]
    cloudy = np.clip(cloudy + rng.normal(0.0, 0.003, size=cloudy.shape), 0.0, 1.0)
    prob = np.clip(alpha * 100.0, 0.0, 100.0)
    cld_shdw = np.stack(
        [
            prob,
            cloud,
            (shadow_strength > 0.2) & ~cloud,
            (shadow_strength > 0.25) & ~cloud,
            (shadow_strength > 0.3) & ~cloud,
        ]
    ).astype(np.float32)
    sar = CLASS_SAR_DB[landcover].transpose(2, 0, 1)
    speckle = 10.0 * np.log10(rng.gamma(4.0, 1.0 / 4.0, size=sar.shape))
    s1 = sar + speckle
    return CloudyDate(
        clear=clear.astype(np.float32),
        cloudy=cloudy.astype(np.float32),
        alpha=alpha.astype(np.float32),
        cld_shdw=cld_shdw,
        s1=s1.astype(np.float32),
    )
