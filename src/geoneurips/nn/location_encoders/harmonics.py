"""Spherical-harmonics TorchSpatial position encoding (encoder 15, "Siren(SH)").

See :mod:`.position` for the shared conventions (input ``(..., 2)`` degrees, longitude
first; output ``(..., out_dim)``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from geoneurips.nn.location_encoders._position_base import (
    _DEG2RAD,
    _HALF_PI,
    _check_positive_int,
    _scratch,
)
from geoneurips.nn.location_encoders._sinusoids import _LONLAT_BOUND, _Sinusoids

# --------------------------------------------------------------------------------------
# 15. spherical harmonics
# --------------------------------------------------------------------------------------


def _legendre_polynomials(big_l: int) -> dict[tuple[int, int], list[float]]:
    """Coefficients (ascending powers of ``z = cos theta``) of ``Q_l^m`` with
    ``P_l^m(z) = (1 - z^2)^(m/2) Q_l^m(z)`` (no Condon-Shortley phase), ``0 <= m <= l < L``."""
    q: dict[tuple[int, int], list[float]] = {}
    for m in range(big_l):
        dfact = 1.0
        for k in range(1, m + 1):
            dfact *= 2 * k - 1
        q[m, m] = [dfact]
        if m + 1 < big_l:
            q[m + 1, m] = [0.0, (2 * m + 1) * dfact]
        for deg in range(m + 2, big_l):
            a = [0.0] + [(2 * deg - 1) * c for c in q[deg - 1, m]]  # (2l-1) z Q_{l-1}
            b = q[deg - 2, m] + [0.0, 0.0]
            q[deg, m] = [(ai - (deg + m - 1) * bi) / (deg - m) for ai, bi in zip(a, b, strict=True)]
    return q


class SphericalHarmonicsPositionEncoder(_Sinusoids):
    """``spherical_harmonics`` ("Siren(SH)" in the TorchSpatial tables): real spherical
    harmonics of degree ``l < L`` (Rußwurm et al., "Geographic Location Encoding with
    Spherical Harmonics and Sinusoidal Representation Networks", ICLR 2024, Eq. 2-3).

    With colatitude ``theta = pi/2 - phi`` and azimuth ``lambda`` (radians), ``L^2`` values
    ordered ``l = 0..L-1``, ``m = -l..l`` (index ``l^2 + l + m``):

    ``Y_lm = sqrt(2) K_l^|m| P_l^|m|(cos theta) sin(|m| lambda)``  for ``m < 0``,
    ``Y_l0 = K_l^0 P_l^0(cos theta)``,
    ``Y_lm = sqrt(2) K_l^m P_l^m(cos theta) cos(m lambda)``  for ``m > 0``,

    ``K_l^m = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!)``, ``P_l^m`` the associated Legendre functions
    without the Condon-Shortley phase: the orthonormal real basis (equal to
    ``sqrt(2) (-1)^m Re/Im`` of scipy's complex ``sph_harm_y``). ``L = 8`` gives 64 features.

    **Public-code bug fixed:** TorchSpatial's ``SphericalHarmonicsSpatialRelationPositionEncoder``
    calls ``get_positional_encoding`` whose import is commented out (and whose module was
    later deleted), so the encoder crashes. This is a fresh torch implementation, written as
    ``Y_lm = K (sin theta)^|m| Q_l^|m|(cos theta) trig(m lambda)`` where ``Q_l^m`` are the
    polynomials given by the standard recurrences (``P_m^m = (2m-1)!! sin^m theta``,
    ``P_{m+1}^m = (2m+1) cos theta P_m^m``, ``(l-m) P_l^m = (2l-1) cos theta P_{l-1}^m -
    (l+m-1) P_{l-2}^m``), evaluated for all ``(l, m)`` at once as small matrix products of the
    powers of ``cos theta`` and ``sin theta = cos phi`` (differentiable everywhere, poles
    included). Rußwurm et al.'s generated closed forms use ``theta = phi + 90 deg`` and
    ``lambda + 180 deg``; that is a reflection of the sphere, which maps each degree-``l``
    subspace onto itself, so only signs of individual features differ and an FFN on top
    represents the same functions.
    """

    _poly: Tensor
    _sel_pow: Tensor
    _sel_trig: Tensor

    def __init__(self, legendre_poly_num: int = 8) -> None:
        super().__init__()
        _check_positive_int("legendre_poly_num", legendre_poly_num)
        big_l = legendre_poly_num
        self.legendre_poly_num = big_l
        self.out_dim = big_l * big_l
        q = _legendre_polynomials(big_l)
        poly = torch.zeros(big_l, self.out_dim, dtype=torch.float64)  # z^p -> K Q_l^|m|
        sel_pow = torch.zeros(big_l, 2 * big_l - 1, dtype=torch.float64)  # s^|m| per trig col
        sel_trig = torch.zeros(2 * big_l - 1, self.out_dim, dtype=torch.float64)
        pairs = [(d, o) for d in range(big_l) for o in range(-d, d + 1)]
        for j, (deg, order) in enumerate(pairs):
            am = abs(order)
            k = math.sqrt(
                (2 * deg + 1) / (4 * math.pi) * math.factorial(deg - am) / math.factorial(deg + am)
            )
            k *= math.sqrt(2.0) if order != 0 else 1.0
            for p, c in enumerate(q[deg, am]):
                poly[p, j] = k * c
            sel_trig[0 if order == 0 else (am if order > 0 else big_l - 1 + am), j] = 1.0
        for m in range(big_l):
            sel_pow[m, m] = 1.0
            if m > 0:
                sel_pow[m, big_l - 1 + m] = 1.0
        self.register_buffer("_poly", poly, persistent=False)
        self.register_buffer("_sel_pow", sel_pow, persistent=False)
        self.register_buffer("_sel_trig", sel_trig, persistent=False)
        # latitude trig: [sin phi, cos phi]
        w_lat = torch.tensor([[0.0, 0.0], [_DEG2RAD, _DEG2RAD]], dtype=torch.float64)
        self._set_affine(
            "lat", w_lat, torch.tensor([0.0, _HALF_PI], dtype=torch.float64), _LONLAT_BOUND
        )
        # longitude trig columns: [1, cos(m lambda) m=1..L-1, sin(m lambda) m=1..L-1]
        orders = torch.arange(1, big_l, dtype=torch.float64)
        mult = torch.cat([torch.zeros(1, dtype=torch.float64), orders, orders])
        w_lon = torch.stack([mult * _DEG2RAD, torch.zeros_like(mult)])
        phase = torch.zeros(2 * big_l - 1, dtype=torch.float64)
        phase[:big_l] = _HALF_PI
        self._set_affine("lon", w_lon, phase, _LONLAT_BOUND)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        dt = lonlat.dtype
        big_l = self.legendre_poly_num
        zs = self._sin("lat", lonlat)  # z = cos theta = sin phi, s = sin theta = cos phi >= 0
        ones = torch.ones_like(zs[:, 0:1])
        z_pow = torch.cat([ones, zs[:, 0:1].expand(-1, big_l - 1)], dim=-1).cumprod(dim=-1)
        s_pow = torch.cat([ones, zs[:, 1:2].expand(-1, big_l - 1)], dim=-1).cumprod(dim=-1)
        trig = self._sin("lon", lonlat) * (s_pow @ self._sel_pow.to(dt))  # s^|m| trig(m lambda)
        if lonlat.requires_grad:
            return (z_pow @ self._poly.to(dt)) * (trig @ self._sel_trig.to(dt))
        # no-grad: the Legendre part straight into the result, the angular part in a reused
        # intermediate, one in-place product
        n = lonlat.shape[0]
        if out is None:
            out = lonlat.new_empty((n, self.out_dim))
        torch.mm(z_pow, self._poly.to(dt), out=out)
        angular = torch.mm(trig, self._sel_trig.to(dt), out=_scratch("sh", out.shape, out))
        return out.mul_(angular)

    def extra_repr(self) -> str:
        return f"legendre_poly_num={self.legendre_poly_num}, out_dim={self.out_dim}"
