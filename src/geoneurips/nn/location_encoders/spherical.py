"""Spherical TorchSpatial position encodings: functions of the point on the unit sphere.

``xyz``, ``NeRF`` and the Sphere2Vec family (``sphereC``, ``sphereC+``, ``sphereM``,
``sphereM+``, ``dfs``): encoders 8-14 of TorchSpatial (Wu et al., arXiv 2406.15658, Table 1);
the spherical harmonics (15) are in :mod:`.harmonics`. See :mod:`.position` for the shared
conventions (input ``(..., 2)`` degrees, longitude first; output ``(..., out_dim)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from geoneurips.nn.location_encoders._position_base import (
    _DEG2RAD,
    _HALF_PI,
    _scratch,
    geometric_frequencies,
    legacy_sphere_frequencies,
    nerf_frequencies,
)
from geoneurips.nn.location_encoders._sinusoids import (
    _LONLAT_BOUND,
    _MultiScale,
    _reduce_sin_,
    _Sinusoids,
    _transpose_into,
)

# --------------------------------------------------------------------------------------
# 8-9. xyz and NeRF
# --------------------------------------------------------------------------------------


def _xyz(lonlat: Tensor) -> Tensor:
    rad = lonlat * _DEG2RAD
    sc = torch.sin(torch.cat([rad, rad + _HALF_PI], dim=-1))  # sin l, sin p, cos l, cos p
    sin_lon, sin_lat, cos_lon, cos_lat = sc.unbind(-1)
    return torch.stack([cos_lat * cos_lon, cos_lat * sin_lon, sin_lat], dim=-1)


def _set_xyz_affine(module: _Sinusoids) -> None:
    """xyz as ``sin(atoms) * sin(factors)``: ``[cos l, sin l, sin p] * [cos p, cos p, 1]``."""
    d = _DEG2RAD
    atoms = torch.tensor([[d, d, 0.0], [0.0, 0.0, d]], dtype=torch.float64)
    factors = torch.tensor([[0.0, 0.0, 0.0], [d, d, 0.0]], dtype=torch.float64)
    module._set_affine(
        "xyz_a", atoms, torch.tensor([_HALF_PI, 0.0, 0.0], dtype=torch.float64), _LONLAT_BOUND
    )
    module._set_affine(
        "xyz_f", factors, torch.full((3,), _HALF_PI, dtype=torch.float64), _LONLAT_BOUND
    )


def _xyz_fast(module: _Sinusoids, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
    if lonlat.requires_grad:
        return _xyz(lonlat)
    return module._sin_product("xyz_a", "xyz_f", lonlat, out)


class XYZPositionEncoder(_Sinusoids):
    """``xyz``: the point on the unit sphere (TorchSpatial Table 1).

    ``PE(x) = [cos(phi) cos(lambda), cos(phi) sin(lambda), sin(phi)]`` (radians).

    Speed note: without autograd the six sinusoids ``[cos l, sin l, sin p, cos p, cos p, 1]``
    (``1 = sin(pi/2)``) come from one blocked GEMM (see :class:`_Sinusoids`) and one ``sin``
    pass, and the result is one contiguous product of the two halves.
    """

    out_dim = 3

    def __init__(self) -> None:
        super().__init__()
        _set_xyz_affine(self)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        return _xyz_fast(self, lonlat, out)


class NeRFPositionEncoder(_Sinusoids):
    """``NeRF``: NeRF positional encoding of the 3-D unit vector (Mildenhall et al., ECCV 2020,
    Eq. 4), as used by TorchSpatial.

    ``p = xyz(x)``; ``PE(x) = [sin(2^l pi p), cos(2^l pi p)]``, ``l = 0..L-1`` with layout
    ``(sin|cos, coordinate, l)``: ``6L`` values.

    **Public-code bug fixed:** ``NERFSpatialRelationLocationEncoder`` does not pass
    ``frequency_num`` to its position encoder, which therefore always uses ``L = 16`` (96
    features, the width seen in every NeRF checkpoint, even those trained with
    ``--frequency_num 64``). Here ``frequency_num`` is honoured; its default 16 reproduces the
    paper's 96-d input.
    """

    freqs: Tensor

    def __init__(self, frequency_num: int = 16) -> None:
        super().__init__()
        self.frequency_num = frequency_num
        self.register_buffer("freqs", nerf_frequencies(frequency_num), persistent=False)
        n = frequency_num
        self.out_dim = 6 * n
        w = torch.zeros(3, 2, 3, n, dtype=torch.float64)  # (input c, sin|cos, output c, l)
        for c in range(3):
            w[c, :, c] = self.freqs
        ph = torch.tensor([0.0, _HALF_PI], dtype=torch.float64).repeat_interleave(3 * n)
        self._set_affine("pe", w.reshape(3, -1), ph, (1.0, 1.0, 1.0))
        _set_xyz_affine(self)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        return self._sin("pe", _xyz_fast(self, lonlat), out)

    def extra_repr(self) -> str:
        return f"frequency_num={self.frequency_num}, out_dim={self.out_dim}"


# --------------------------------------------------------------------------------------
# 10-14. Sphere2Vec
# --------------------------------------------------------------------------------------

_PHASE = {"sin": 0.0, "cos": _HALF_PI, "one": _HALF_PI}

# an atom is (coordinate, scaled, function): e.g. ("lat", True, "sin") = sin(phi_s)
_Atom = tuple[str, bool, str]


class _SphereBase(_MultiScale):
    """Sphere2Vec scale sinusoids (Mai et al., ISPRS J. Photogramm. 2023, Sec. 4).

    All variants use the radian angles ``lambda_s = lambda * f_s * pi/180`` and
    ``phi_s = phi * f_s * pi/180`` with the geometric ``f_s`` (defaults ``S=64``,
    ``r_min=1e-3``, ``r_max=1``: the finest scale 1/r_min, the coarsest ``f = 1``, i.e. the
    whole sphere) and the single-scale ``lambda``, ``phi`` (``f = 1``). Features are laid out
    scale-major (one group of ``k`` values per scale), as in the public code.

    Implementation: each group is described by ``atoms`` (one sinusoid per column, in output
    order) and ``products`` (column slices multiplied by ``cos phi_s`` or ``cos phi``). With
    autograd, one GEMM + ``sin`` gives the atoms in output layout, a second one the factors (1
    for the plain columns) and one multiply finishes.

    Speed note (no-grad path of the ``atoms`` variants): ``sin`` is the dominant cost, and the autograd layout evaluates
    two per output value although each group only has 3-4 distinct sinusoids
    (``sin/cos phi_s``, ``sin/cos lambda_s``). So the distinct sinusoids are computed once, as
    a feature-major table ``(D, N)`` (one GEMM + ``sin``); the atoms are gathered from it
    into the feature-major output chunk (one row gather), the product columns are multiplied
    in place by their ``(S, N)`` factor block (feature-major, every operation runs along the
    points), and one blocked transpose writes the chunk into the point-major result.
    Column-wise (strided) operations on the point-major layout are several times slower than
    this transpose.
    """

    atoms: tuple[_Atom, ...] = ()
    products: tuple[tuple[slice, str], ...] = ()
    _atom_rows: Tensor
    _rows: dict[_Atom, slice]
    table_bound: float

    def __init__(
        self,
        frequency_num: int = 64,
        min_radius: float = 0.001,
        max_radius: float = 1.0,
        legacy_frequencies: bool = False,
    ) -> None:
        super().__init__()
        self.frequency_num, self.min_radius, self.max_radius = frequency_num, min_radius, max_radius
        self.legacy_frequencies = legacy_frequencies
        if legacy_frequencies:
            freqs = legacy_sphere_frequencies(frequency_num, max_radius)
        else:
            freqs = geometric_frequencies(frequency_num, min_radius, max_radius)
        self._set_freqs(freqs)
        if self.atoms:
            self._set_atoms("pe", self.atoms)
            factors: list[_Atom] = [_ONE] * len(self.atoms)
            for cols, which in self.products:
                for i in range(len(self.atoms))[cols]:
                    factors[i] = _COS_PHI_S if which == "cos_lat_s" else _COS_PHI
            self._set_atoms("factor", factors)
            self._plan = self._set_table(self.atoms, factors)
            self._set_gather("_atom_rows", [atom for atom, _ in self._plan])

    def _set_table(
        self, atoms: Sequence[_Atom], factors: Sequence[_Atom] = ()
    ) -> list[tuple[slice, slice | None]]:
        """Register the affine map ``table`` of the distinct sinusoids among ``atoms`` and
        ``factors`` (a scaled one as ``S`` rows in scale order, an unscaled one as 1 row);
        return per output column of a group the table rows of its atom and its factor."""
        s = self.frequency_num
        rows: dict[_Atom, slice] = {}
        ws: list[Tensor] = []
        phs: list[Tensor] = []
        for atom in dict.fromkeys([*atoms, *factors]):
            coord, scaled, fn = atom
            if fn == "one":
                continue
            cnt = s if scaled else 1
            w = torch.zeros(2, cnt, dtype=torch.float64)
            w[0 if coord == "lon" else 1] = (self.freqs if scaled else 1.0) * _DEG2RAD
            start = sum(int(p.shape[0]) for p in phs)
            rows[atom] = slice(start, start + cnt)
            ws.append(w)
            phs.append(torch.full((cnt,), _PHASE[fn], dtype=torch.float64))
        self._set_affine("table", torch.cat(ws, 1), torch.cat(phs), _LONLAT_BOUND)
        self._rows = rows
        facs = list(factors) or [_ONE] * len(atoms)
        return [(rows[a], None if f == _ONE else rows[f]) for a, f in zip(atoms, facs, strict=True)]

    def _set_gather(self, name: str, rows: Sequence[slice]) -> None:
        """Register the table row of each feature-major output row ``s * k + j`` (scale
        ``s``, column ``j`` of a group of ``k``) for columns ``j`` given by table slices."""
        s = self.frequency_num
        idx = [r.start + (i if r.stop - r.start == s else 0) for i in range(s) for r in rows]
        self.register_buffer(name, torch.tensor(idx, dtype=torch.long), persistent=False)

    def _table(self, x: Tensor) -> Tensor:
        """No-grad feature-major table ``(D, N)`` of the distinct sinusoids."""
        w, b = self._cast("table_w", x), self._cast("table_b", x)
        t = torch.addmm(
            b[:, None], w.t(), x.t(), out=_scratch("table", (b.shape[0], x.shape[0]), x)
        )
        return _reduce_sin_(t, self.table_bound)

    def _set_atoms(self, name: str, atoms: Sequence[_Atom]) -> None:
        s, k = self.frequency_num, len(atoms)
        w = torch.zeros(2, s, k, dtype=torch.float64)
        ph = torch.zeros(s, k, dtype=torch.float64)
        for i, (coord, scaled, fn) in enumerate(atoms):
            if fn != "one":
                w[0 if coord == "lon" else 1, :, i] = (self.freqs if scaled else 1.0) * _DEG2RAD
            ph[:, i] = _PHASE[fn]
        self._set_affine(name, w.reshape(2, -1), ph.reshape(-1), _LONLAT_BOUND)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        if lonlat.requires_grad:
            g = self._sin("pe", lonlat)  # first factors, in output layout
            f = self._sin("factor", lonlat)  # cos phi_s, cos phi or 1 per column
            return g * f
        n, s, k = lonlat.shape[0], self.frequency_num, len(self.atoms)
        t = self._table(lonlat)
        feat = _scratch("feat", (s * k, n), lonlat)  # feature-major chunk, atoms gathered
        torch.index_select(t, 0, self._atom_rows.to(t.device), out=feat)
        groups = feat.view(s, k, n)
        for cols, which in self.products:
            factor = t[self._rows[_COS_PHI_S if which == "cos_lat_s" else _COS_PHI]]
            groups[:, cols].mul_(factor.view(-1, 1, n))
        return _transpose_into(feat, out)


_ONE: _Atom = ("lat", False, "one")
_COS_PHI: _Atom = ("lat", False, "cos")
_SIN_PHI_S: _Atom = ("lat", True, "sin")
_COS_PHI_S: _Atom = ("lat", True, "cos")
_SIN_LAM_S: _Atom = ("lon", True, "sin")
_COS_LAM_S: _Atom = ("lon", True, "cos")
_SIN_LAM: _Atom = ("lon", False, "sin")
_COS_LAM: _Atom = ("lon", False, "cos")


class _GeometricSphere(_SphereBase):
    """Sphere2Vec variants on the geometric schedule only: ``len(atoms)`` values per scale."""

    def __init__(
        self, frequency_num: int = 64, min_radius: float = 0.001, max_radius: float = 1.0
    ) -> None:
        super().__init__(frequency_num, min_radius, max_radius)
        self.out_dim = len(self.atoms) * frequency_num


class SphereCPositionEncoder(_GeometricSphere):
    """``Sphere2Vec-sphereC`` (Mai et al. 2023, Eq. 9): per scale

    ``[sin phi_s, cos phi_s cos lambda_s, cos phi_s sin lambda_s]`` -> ``3S`` values (192).
    """

    atoms = (_SIN_PHI_S, _COS_LAM_S, _SIN_LAM_S)
    products = ((slice(1, 3), "cos_lat_s"),)


class SphereCPlusPositionEncoder(_GeometricSphere):
    """``Sphere2Vec-sphereC+`` (Mai et al. 2023, Eq. 10): per scale

    ``[sin phi_s, cos phi_s, sin lambda_s, cos lambda_s, cos phi_s cos lambda_s,
    cos phi_s sin lambda_s]`` -> ``6S`` values (384).
    """

    atoms = (_SIN_PHI_S, _COS_PHI_S, _SIN_LAM_S, _COS_LAM_S, _COS_LAM_S, _SIN_LAM_S)
    products = ((slice(4, 6), "cos_lat_s"),)


class SphereMPositionEncoder(_GeometricSphere):
    """``Sphere2Vec-sphereM`` (Mai et al. 2023, Eq. 11): per scale, mixing the single-scale
    angles ``lambda``, ``phi`` (radians, ``f = 1``) with the scaled ones:

    ``[sin phi_s, cos phi_s cos lambda, cos phi cos lambda_s, cos phi_s sin lambda,
    cos phi sin lambda_s]`` -> ``5S`` values (320).
    """

    atoms = (_SIN_PHI_S, _COS_LAM, _COS_LAM_S, _SIN_LAM, _SIN_LAM_S)
    products = ((slice(1, 5, 2), "cos_lat_s"), (slice(2, 5, 2), "cos_lat"))


class SphereMPlusPositionEncoder(_SphereBase):
    """``Sphere2Vec-sphereM+`` (Mai et al. 2023, Eq. 12): per scale

    ``[sin phi_s, cos phi_s, sin lambda_s, cos lambda_s, cos phi_s cos lambda,
    cos phi cos lambda_s, cos phi_s sin lambda, cos phi sin lambda_s]`` -> ``8S`` values.

    **Frequency schedule (deviation from the public code, following the paper):** the public
    ``SphereGridMixScale...`` overrides the schedule with ``f_s = r_max^(-s/(S-1))``, which
    ignores ``r_min`` and, at the published ``r_max = 1``, makes every ``f_s = 1`` (all 64
    scales identical). The Sphere2Vec paper defines one geometric schedule for all its
    multi-scale encoders, so the default here is :func:`geometric_frequencies`;
    ``legacy_frequencies=True`` reproduces the public behaviour for its checkpoints.
    """

    atoms = (
        _SIN_PHI_S,
        _COS_PHI_S,
        _SIN_LAM_S,
        _COS_LAM_S,
        _COS_LAM,
        _COS_LAM_S,
        _SIN_LAM,
        _SIN_LAM_S,
    )
    products = ((slice(4, 8, 2), "cos_lat_s"), (slice(5, 8, 2), "cos_lat"))

    def __init__(
        self,
        frequency_num: int = 64,
        min_radius: float = 0.001,
        max_radius: float = 1.0,
        legacy_frequencies: bool = False,
    ) -> None:
        super().__init__(frequency_num, min_radius, max_radius, legacy_frequencies)
        self.out_dim = 8 * frequency_num


class DFSPositionEncoder(_SphereBase):
    """``Sphere2Vec-dfs``: double Fourier sphere features (Mai et al. 2023, Eq. 13;
    Orszag 1974, Merilees 1973).

    With ``u = [sin lambda_0..S-1, cos lambda_0..S-1]`` and ``v = [sin phi_0..S-1,
    cos phi_0..S-1]`` (``2S`` each): ``PE = [vec(u v^T) (4S^2, row-major, lon index outer),
    then per scale [sin phi_s, cos phi_s, sin lambda_s, cos lambda_s] (4S)]``, ``4S + 4S^2``
    values (288 for the paper's ``S = 8``). Same frequency-schedule decision as
    :class:`SphereMPlusPositionEncoder` (geometric by default, ``legacy_frequencies=True`` for
    the public ``r_max^(-s/(S-1))``, which at ``r_max = 1`` reduces all scales to ``f = 1``).

    Speed note (no-grad path): ``u`` and ``v`` are computed once (``4S`` sinusoids), the outer
    product is written straight into the result and the last ``4S`` columns are gathered
    from ``u``, ``v`` instead of being evaluated a second time.
    """

    _single_cols: Tensor

    def __init__(
        self,
        frequency_num: int = 8,
        min_radius: float = 0.001,
        max_radius: float = 1.0,
        legacy_frequencies: bool = False,
    ) -> None:
        super().__init__(frequency_num, min_radius, max_radius, legacy_frequencies)
        s = frequency_num
        self.out_dim = 4 * s + 4 * s * s
        # u then v, block-major: [sin l_s (S), cos l_s (S), sin p_s (S), cos p_s (S)]
        w = torch.zeros(2, 2, 2, s, dtype=torch.float64)  # (input c, block c, sin|cos, s)
        for c in range(2):
            w[c, c] = self.freqs * _DEG2RAD
        ph = torch.tensor([0.0, _HALF_PI], dtype=torch.float64).repeat_interleave(s).repeat(2)
        self._set_affine("uv", w.reshape(2, -1), ph, _LONLAT_BOUND)
        self._set_atoms("single", (_SIN_PHI_S, _COS_PHI_S, _SIN_LAM_S, _COS_LAM_S))
        # no-grad path: the last 4S columns gathered from uv (column of each value in uv)
        blocks = (2, 3, 0, 1)  # sin p, cos p, sin l, cos l
        idx = [b * s + i for i in range(s) for b in blocks]
        self.register_buffer("_single_cols", torch.tensor(idx, dtype=torch.long), persistent=False)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        n, s = lonlat.shape[0], self.frequency_num
        if lonlat.requires_grad:
            uv = self._sin("uv", lonlat)
            u, v = uv[:, : 2 * s], uv[:, 2 * s :]
            outer = (u[:, :, None] * v[:, None, :]).reshape(n, 4 * s * s)
            return torch.cat([outer, self._sin("single", lonlat)], dim=-1)
        # no-grad: uv once (4S sinusoids; the point-major layout suits this small width),
        # the outer product written straight into the result, the 4S singles gathered
        uv = self._sin("uv", lonlat)
        if out is None:
            out = lonlat.new_empty((n, self.out_dim))
        u, v = uv[:, : 2 * s], uv[:, 2 * s :]
        torch.mul(u[:, :, None], v[:, None, :], out=out[:, : 4 * s * s].view(n, 2 * s, 2 * s))
        torch.index_select(uv, 1, self._single_cols.to(uv.device), out=out[:, 4 * s * s :])
        return out
