"""TorchSpatial's position encodings, re-exported from the shared layer.

The 15 position encodings (``PE`` of ``Enc(x) = NN(PE(x))``, TorchSpatial Eq. 1) live in
:mod:`geoneurips.nn.location_encoders` so that other systems can use them without importing
this one; ``from geoneurips.location.torchspatial.position import ...`` keeps working.
"""

from __future__ import annotations

from geoneurips.nn.location_encoders import (
    GLOBAL_EXTENT,
    DFSPositionEncoder,
    NeRFPositionEncoder,
    PositionEncoder,
    RBFPositionEncoder,
    RFFPositionEncoder,
    Space2VecGridPositionEncoder,
    Space2VecTheoryPositionEncoder,
    SphereCPlusPositionEncoder,
    SphereCPositionEncoder,
    SphereMPlusPositionEncoder,
    SphereMPositionEncoder,
    SphericalHarmonicsPositionEncoder,
    TilePositionEncoder,
    WrapPositionEncoder,
    XYZPositionEncoder,
    check_lonlat,
    geometric_frequencies,
    legacy_sphere_frequencies,
    nerf_frequencies,
)

__all__ = [
    "GLOBAL_EXTENT",
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
