"""MMM-RS sample standardisation, multi-GSD crops, weather synthesis and prompts (numpy).

What the public scripts (``Standardized_processing/*.py`` of ljl5261/MMM-RS) and the paper
(Sec. 3, Figs. 3-5) do, written from their description:

- **Square centre crop** (:func:`center_square`): side ``min(H, W)``, offsets
  ``(W - s) // 2, (H - s) // 2`` (HRSC2016, TGRS-HRRSD, fMoW scripts).
- **Resizing rule** (:func:`standardize`): a square larger than 512 is downsized bicubically
  to 512; a smaller one is upscaled (the authors use Real-ESRGAN x2/x4 and then bicubic to
  512; Real-ESRGAN's weights are not shipped, so we upscale bicubically and say so in the
  record's ``upscaler`` field).
- **Multi-GSD crops** (:func:`multi_gsd_crops`, the Inria script, Fig. 5): nested centre
  crops 4096 -> 2048 -> 1024, each resized to 512 (GSD x8, x4, x2), plus the four corner
  512 crops and the centre 512 crop of the 1024 level (native GSD). Generalised to any
  tile size: levels ``tile * 2**k`` that fit in the image, at most ``max_crop``.
- **512-px tiles** (:func:`grid_tiles`, WHU-OPT-SAR script): every complete tile, row-major
  offsets ``(i * 512, j * 512)``; incomplete border tiles are dropped.
- **fMoW crops** (:func:`fmow_crops`): centre, left-bottom and right-top 512 crops of
  images larger than 512 in both sides.
- **Weather** (Fig. 4): fog by the atmospheric scattering model (:func:`fog`); low light
  and snow are learned translations in the paper (TPSeNCE, CycleGAN) whose weights are not
  public offline: :func:`low_light` (gamma darkening with a gain and signal-dependent
  noise) and :func:`snow` (smooth snow cover plus flakes) are procedural stand-ins.
- **Prompts** (Fig. 3): ``"{GSD phrase}, {weather}, {caption}, {satellite}"``; the GSD
  phrase comes from the GSD of the **output** image (Fig. 5: a 4096 crop of a 0.3 m image
  resized to 512 is 2.4 m/pixel).

Images are float arrays ``(H, W, C)`` in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from geoneurips.errors import InvalidInputError

__all__ = [
    "GSD_BINS",
    "WEATHERS",
    "WEATHER_PHRASES",
    "Crop",
    "apply_weather",
    "build_prompt",
    "center_square",
    "fmow_crops",
    "fog",
    "grid_tiles",
    "gsd_level",
    "gsd_phrase",
    "low_light",
    "multi_gsd_crops",
    "resize",
    "snow",
    "standardize",
]

#: GSD bins of the GSD-related prompt: (upper bound in m/pixel, phrase). The first three are
#: published (Fig. 3: < 0.5, [0.5, 1), [1, 5)); the paper's statistics (Fig. 2c) name two
#: more levels, "Low" and "Ultra-low", without thresholds. The 50 m boundary is OUR
#: ASSUMPTION, inferred from the counts: SEN1-2 (10 m, 256 px -> 5 m at 512) and NaSC-TG2
#: (100 m, 128 px -> 25 m) land in "Low" and MRSSC2.0 (100 m, 256 px -> 50 m) in "Ultra-low".
GSD_BINS: tuple[tuple[float, str], ...] = (
    (0.5, "Ultra-high precision resolution"),
    (1.0, "High precision resolution"),
    (5.0, "Ordinary precision resolution"),
    (50.0, "Low precision resolution"),
    (math.inf, "Ultra-low precision resolution"),
)

#: The weather conditions (clear plus the three synthesised scenes of Fig. 4).
WEATHERS: tuple[str, ...] = ("clear", "fog", "low_light", "snow")

#: The weather word of the prompt ("fog" in Fig. 1/3, "night" in the released
#: test_generate.py prompt, "snowy" folder in the README -> "snow"); clear images have no
#: weather field.
WEATHER_PHRASES: dict[str, str] = {"clear": "", "fog": "fog", "low_light": "night",
                                   "snow": "snow"}


def gsd_level(gsd: float) -> int:
    """Index of the GSD bin of ``gsd`` (metres per pixel) in :data:`GSD_BINS`."""
    if not math.isfinite(gsd) or gsd <= 0:
        raise InvalidInputError(f"GSD must be a positive number of metres per pixel, got {gsd}")
    for i, (upper, _) in enumerate(GSD_BINS):
        if gsd < upper:
            return i
    return len(GSD_BINS) - 1


def gsd_phrase(gsd: float) -> str:
    """The GSD-related prompt phrase of ``gsd`` (metres per pixel)."""
    return GSD_BINS[gsd_level(gsd)][1]


def build_prompt(gsd: float, weather: str = "clear", caption: str = "",
                 satellite: str = "") -> str:
    """``"{GSD phrase}, {weather}, {caption}, {satellite}"``, empty fields left out."""
    if weather not in WEATHER_PHRASES:
        raise InvalidInputError(f"unknown weather {weather!r}; expected one of {WEATHERS}")
    parts = [gsd_phrase(gsd), WEATHER_PHRASES[weather], caption.strip(), satellite.strip()]
    return ", ".join(p for p in parts if p)


def _check_image(img: np.ndarray, name: str = "image") -> np.ndarray:
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or min(a.shape[:2]) < 1:
        raise InvalidInputError(f"{name} must be (H, W) or (H, W, C), got shape {a.shape}")
    return a


def center_square(img: np.ndarray) -> np.ndarray:
    """Centre crop to a square of side ``min(H, W)`` (offsets floor-divided, as published)."""
    a = _check_image(img)
    h, w = a.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return a[top:top + s, left:left + s]


def resize(img: np.ndarray, size: int) -> np.ndarray:
    """Bicubic resize of a square image to ``size`` x ``size`` (PIL's ``Image.BICUBIC``, the
    filter of the published scripts; float32 per band, so no 8-bit rounding)."""
    from PIL import Image

    a = _check_image(img).astype(np.float32)
    if a.shape[0] == size and a.shape[1] == size:
        return a.copy()
    bands = [np.asarray(Image.fromarray(a[:, :, c], mode="F").resize((size, size),
                                                                     Image.Resampling.BICUBIC))
             for c in range(a.shape[2])]
    out: np.ndarray = np.clip(np.stack(bands, -1), 0.0, 1.0)
    return out


@dataclass(frozen=True)
class Crop:
    """One standardised output image.

    Attributes:
        image: ``(size, size, C)`` float in [0, 1].
        gsd: metres per pixel of ``image``.
        kind: how it was made (``"resize_from_<s>"``, ``"crop_<i>_<j>"``, ``"crop_center"``,
            ``"tile_<x>_<y>"``, ``"standardized"``, ``"center"``, ...).
        upscaled: the source square was smaller than ``size`` (the authors used Real-ESRGAN;
            we use bicubic).
    """

    image: np.ndarray
    gsd: float
    kind: str
    upscaled: bool = False


def standardize(img: np.ndarray, gsd: float, size: int = 512) -> Crop:
    """Square centre crop, then bicubic down- or up-sizing to ``size``."""
    sq = center_square(img)
    s = sq.shape[0]
    return Crop(resize(sq, size), gsd * s / size, "standardized", upscaled=s < size)


def multi_gsd_crops(img: np.ndarray, gsd: float, tile: int = 512,
                    max_crop: int = 4096, corner_crops: bool = True) -> list[Crop]:
    """Nested centre crops resized to ``tile`` plus native-GSD tiles (Inria script, Fig. 5).

    Levels are ``tile * 2**k`` (k >= 1) no larger than ``min(H, W)`` or ``max_crop``; each
    level is centre-cropped from the previous one and resized to ``tile`` (GSD multiplied by
    ``level / tile``). From the smallest level (``2 * tile``) the four corner tiles
    (``crop_<i>_<j>``, i along x) and the centre tile are cut at native GSD.

    Raises:
        InvalidInputError: the image is smaller than ``2 * tile`` on a side (use
            :func:`standardize` for it).
    """
    a = _check_image(img)
    side = min(a.shape[:2])
    if side < 2 * tile:
        raise InvalidInputError(
            f"multi-GSD crops need at least {2 * tile} px on each side, got {a.shape[:2]}")
    levels = []
    lv = 2 * tile
    while lv * 2 <= min(side, max_crop):
        lv *= 2
    while lv >= 2 * tile:
        levels.append(lv)
        lv //= 2
    out: list[Crop] = []
    cur = a
    for lv in levels:
        h, w = cur.shape[:2]
        top, left = (h - lv) // 2, (w - lv) // 2
        cur = cur[top:top + lv, left:left + lv]
        out.append(Crop(resize(cur, tile), gsd * lv / tile, f"resize_from_{lv}"))
    if corner_crops:
        for i in range(2):
            for j in range(2):
                out.append(Crop(np.ascontiguousarray(
                    cur[j * tile:(j + 1) * tile, i * tile:(i + 1) * tile]).astype(np.float32),
                    gsd, f"crop_{i}_{j}"))
    c = (cur.shape[0] - tile) // 2
    out.append(Crop(np.ascontiguousarray(cur[c:c + tile, c:c + tile]).astype(np.float32),
                    gsd, "crop_center"))
    return out


def grid_tiles(img: np.ndarray, gsd: float, tile: int = 512) -> list[Crop]:
    """Every complete ``tile`` x ``tile`` tile (WHU-OPT-SAR script); borders dropped."""
    a = _check_image(img)
    h, w = a.shape[:2]
    out = []
    for i in range(w // tile):
        for j in range(h // tile):
            out.append(Crop(a[j * tile:(j + 1) * tile, i * tile:(i + 1) * tile].astype(np.float32),
                            gsd, f"tile_{i * tile}_{j * tile}"))
    return out


def fmow_crops(img: np.ndarray, gsd: float, tile: int = 512) -> list[Crop]:
    """fMoW rule: images larger than ``tile`` on both sides give centre, left-bottom and
    right-top crops at native GSD; others are standardised (centre square, upscaled)."""
    a = _check_image(img)
    h, w = a.shape[:2]
    if not (h > tile and w > tile):
        return [standardize(a, gsd, tile)]
    cy, cx = (h - tile) // 2, (w - tile) // 2
    return [Crop(a[cy:cy + tile, cx:cx + tile].astype(np.float32), gsd, "center"),
            Crop(a[h - tile:h, 0:tile].astype(np.float32), gsd, "left_bottom"),
            Crop(a[0:tile, w - tile:w].astype(np.float32), gsd, "right_top")]


def _smooth_field(h: int, w: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal((h, w)), max(scale, 0.5), mode="wrap")
    f -= f.min()
    norm: np.ndarray = f / max(float(f.max()), 1e-12)
    return norm


def fog(img: np.ndarray, beta: float = 1.2, airlight: float = 0.85,
        rng: np.random.Generator | None = None) -> np.ndarray:
    """Atmospheric scattering model ``I = J t + A (1 - t)``, ``t = exp(-beta d)``.

    ``d`` is a relative scene depth in [0.5, 1]: largest at a random centre and falling
    linearly with distance from it (the usual synthetic-haze depth for a nadir view), with
    a smooth random perturbation so the haze is patchy. ``beta`` is the scattering
    coefficient, ``airlight`` the atmospheric light A. The paper gives no values; these
    defaults give a transmission of about 0.3-0.55.
    """
    a = _check_image(img).astype(np.float32)
    if beta < 0 or not 0 <= airlight <= 1:
        raise InvalidInputError(f"fog needs beta >= 0 and airlight in [0, 1], got {beta}, "
                                f"{airlight}")
    r = rng if rng is not None else np.random.default_rng(0)
    h, w = a.shape[:2]
    cy, cx = r.uniform(0.3, 0.7) * h, r.uniform(0.3, 0.7) * w
    yy, xx = np.mgrid[0:h, 0:w]
    dist = np.hypot(yy - cy, xx - cx) / math.hypot(h, w)
    depth = 1.0 - 0.5 * dist / max(float(dist.max()), 1e-12)
    depth = 0.8 * depth + 0.2 * _smooth_field(h, w, max(h, w) / 8, r)
    t = np.exp(-beta * depth)[:, :, None]
    fogged: np.ndarray = np.clip(a * t + airlight * (1 - t), 0, 1).astype(np.float32)
    return fogged


def low_light(img: np.ndarray, gain: float = 0.25, gamma: float = 2.0, noise: float = 0.02,
              rng: np.random.Generator | None = None) -> np.ndarray:
    """Low-light stand-in for TPSeNCE: ``gain * J**gamma`` plus Poisson-Gaussian noise
    (signal-dependent shot noise and read noise of std ``noise``)."""
    a = _check_image(img).astype(np.float32)
    if not 0 < gain <= 1 or gamma <= 0 or noise < 0:
        raise InvalidInputError(f"low_light needs 0 < gain <= 1, gamma > 0, noise >= 0, got "
                                f"{gain}, {gamma}, {noise}")
    r = rng if rng is not None else np.random.default_rng(0)
    dark = gain * np.power(a, gamma)
    shot = np.sqrt(np.maximum(dark, 0) * noise) * r.standard_normal(a.shape)
    read = noise * 0.5 * r.standard_normal(a.shape)
    return np.clip(dark + shot + read, 0, 1).astype(np.float32)


def snow(img: np.ndarray, coverage: float = 0.55, flakes: float = 0.01,
         rng: np.random.Generator | None = None) -> np.ndarray:
    """Snow stand-in for CycleGAN: smooth snow cover over a fraction ``coverage`` of the
    scene (strongest on bright, flat ground), overall brightening and white flakes over a
    fraction ``flakes`` of the pixels."""
    from scipy.ndimage import gaussian_filter

    a = _check_image(img).astype(np.float32)
    if not 0 <= coverage <= 1 or not 0 <= flakes <= 1:
        raise InvalidInputError(f"snow needs coverage and flakes in [0, 1], got {coverage}, "
                                f"{flakes}")
    r = rng if rng is not None else np.random.default_rng(0)
    h, w = a.shape[:2]
    field = _smooth_field(h, w, max(h, w) / 16, r)
    thr = np.quantile(field, 1 - coverage) if coverage > 0 else np.inf
    cover = np.clip((field - thr) / 0.08 + 0.5, 0, 1)
    lum = a.mean(2)
    flat = 1 - np.clip(np.abs(lum - gaussian_filter(lum, 1.0)) * 8, 0, 1)
    cover = (cover * (0.6 + 0.4 * flat))[:, :, None]
    white = np.array([0.93, 0.95, 0.98], np.float32)[: a.shape[2]]
    if a.shape[2] > 3 or a.shape[2] == 2:
        white = np.full(a.shape[2], 0.95, np.float32)
    out = (0.85 * a + 0.12) * (1 - cover) + white * cover
    mask = r.random((h, w)) < flakes
    out[mask] = 1.0
    snowy: np.ndarray = np.clip(out, 0, 1).astype(np.float32)
    return snowy


def apply_weather(img: np.ndarray, weather: str,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """The image under ``weather`` (``clear`` returns a copy), with randomised strength:
    fog ``beta`` in [0.9, 1.6], low-light gain in [0.15, 0.35], snow coverage in
    [0.4, 0.7]."""
    r = rng if rng is not None else np.random.default_rng(0)
    a = _check_image(img).astype(np.float32)
    if weather == "clear":
        return a.copy()
    if weather == "fog":
        return fog(a, beta=float(r.uniform(0.9, 1.6)), airlight=float(r.uniform(0.75, 0.95)),
                   rng=r)
    if weather == "low_light":
        return low_light(a, gain=float(r.uniform(0.15, 0.35)),
                         gamma=float(r.uniform(1.6, 2.4)), rng=r)
    if weather == "snow":
        return snow(a, coverage=float(r.uniform(0.4, 0.7)), rng=r)
    raise InvalidInputError(f"unknown weather {weather!r}; expected one of {WEATHERS}")


def weather_list(names: Sequence[str]) -> list[str]:
    """Validate a list of weather names."""
    bad = [n for n in names if n not in WEATHERS]
    if bad:
        raise InvalidInputError(f"unknown weather {bad}; expected some of {WEATHERS}")
    return list(names)
