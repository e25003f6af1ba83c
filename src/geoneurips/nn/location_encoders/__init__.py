"""Position encodings (PE) of the 15 TorchSpatial location encoders (a shared layer).

They moved here from ``geoneurips.location.torchspatial`` so that other systems (Terra's
spatial task) can use them without importing the TorchSpatial system;
``geoneurips.location.torchspatial.position`` re-exports every public name.

TorchSpatial (Wu et al., "TorchSpatial: A Location Encoding Framework and Benchmark for
Spatial Representation Learning", NeurIPS 2024 Datasets & Benchmarks, arXiv 2406.15658)
writes every location encoder as ``Enc(x) = NN(PE(x))`` (paper Sec. 3, Eq. 1) where
``x = (lambda, phi)`` is (longitude, latitude) in degrees. This module holds the ``PE`` half;
TorchSpatial's ``ffn`` holds the ``NN`` half and its ``encoders`` put them together.

Every class here is an :class:`torch.nn.Module` with ``forward(lonlat) -> Tensor`` taking a
tensor of shape ``(..., 2)`` (degrees, longitude first) and returning ``(..., out_dim)``.
Unlike the public code (which builds the PE in float64 numpy, so nothing upstream of the FFN
gets a gradient), the encodings are computed in torch, in the input's floating dtype (float32
by default; integer inputs become the default dtype), on the input's device, fully
vectorised and differentiable with respect to the input wherever the formula is (all but the
tile lookup). Large inference batches are processed in cache-sized chunks written straight
into the final result (see :class:`PositionEncoder` for the speed notes).

The encodings live in :mod:`.planar` (tile, wrap, rbf, rff, Space2Vec grid/theory),
:mod:`.spherical` (xyz, NeRF, Sphere2Vec sphereC/C+/M/M+, dfs) and :mod:`.harmonics`
(spherical harmonics), on the shared machinery of the package-private modules
:mod:`._position_base` (validation, :class:`PositionEncoder`, frequency schedules, memory
helpers) and :mod:`._sinusoids` (the sinusoid GEMMs). This package re-exports every public
name.

Notation: ``lambda`` = longitude, ``phi`` = latitude, ``S`` = number of scales
(``frequency_num``), ``f_s`` the scale frequencies of :func:`geometric_frequencies`.
Feature layouts follow the public code exactly so that checkpoints' first FFN layer lines up.
"""

from __future__ import annotations

from geoneurips.nn.location_encoders._position_base import GLOBAL_EXTENT as GLOBAL_EXTENT
from geoneurips.nn.location_encoders._position_base import (
    PositionEncoder,
    check_lonlat,
    geometric_frequencies,
    legacy_sphere_frequencies,
    nerf_frequencies,
)
from geoneurips.nn.location_encoders.harmonics import SphericalHarmonicsPositionEncoder
from geoneurips.nn.location_encoders.planar import (
    RBFPositionEncoder,
    RFFPositionEncoder,
    Space2VecGridPositionEncoder,
    Space2VecTheoryPositionEncoder,
    TilePositionEncoder,
    WrapPositionEncoder,
)
from geoneurips.nn.location_encoders.spherical import (
    DFSPositionEncoder,
    NeRFPositionEncoder,
    SphereCPlusPositionEncoder,
    SphereCPositionEncoder,
    SphereMPlusPositionEncoder,
    SphereMPositionEncoder,
    XYZPositionEncoder,
)

__all__ = [
    "DFSPositionEncoder",
    "NeRFPositionEncoder",
    "PositionEncoder",
    "RBFPositionEncoder",
    "RFFPositionEncoder",
    "SphereCPlusPositionEncoder",
    "SphereCPositionEncoder",
    "SphereMPlusPositionEncoder",
    "SphereMPositionEncoder",
    "SphericalHarmonicsPositionEncoder",
    "Space2VecGridPositionEncoder",
    "Space2VecTheoryPositionEncoder",
    "TilePositionEncoder",
    "WrapPositionEncoder",
    "XYZPositionEncoder",
    "check_lonlat",
    "geometric_frequencies",
    "legacy_sphere_frequencies",
    "nerf_frequencies",
]
