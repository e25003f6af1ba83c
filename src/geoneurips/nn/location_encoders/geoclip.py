"""GeoCLIP's pretrained GPS (location) encoder, with the weights that ship in the ``geoclip``
wheel (Vivanco Cepeda et al., "GeoCLIP", NeurIPS 2023, Sec. 3.2).

The encoder maps ``(lat, lon)`` in degrees (latitude FIRST, as GeoCLIP does) to a
512-dimensional embedding:

1. Equal Earth projection (Šavrič, Patterson & Jenny 2018) of the point, scaled by
   ``66.50336 / 180`` so the map spans about ``[-1, 1] x [-0.5, 0.5]``;
2. for each of three scales ``sigma in (2^0, 2^4, 2^8)`` (the paper's hierarchy), random
   Fourier features ``[cos 2 pi B v, sin 2 pi B v]`` with a fixed ``B (256 x 2)`` drawn from
   ``N(0, sigma^2)`` (stored in the checkpoint), a 3-layer ReLU MLP of width 1024 and a
   linear head to 512;
3. the sum of the three branches.

The module is written from the paper and the checkpoint's tensor names; its layout differs
from the public package's (``LocEnc{i}.capsule.{0,1,3,5}``, ``LocEnc{i}.head.0``), which
:func:`convert_geoclip_state_dict` maps onto ours. The weights are read with
:func:`geoneurips.io.load_checkpoint` (``torch.load(weights_only=True)``) from the installed
wheel (``geoclip/model/weights/location_encoder_weights.pth``, MIT licence); nothing is
downloaded and the ``geoclip`` package itself is never imported (its ``__init__`` pulls in
``transformers``).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import torch
from torch import Tensor, nn

from geoneurips.errors import DataNotFoundError, InvalidInputError

__all__ = [
    "GEOCLIP_SIGMAS",
    "GeoCLIPLocationEncoder",
    "convert_geoclip_state_dict",
    "equal_earth",
    "geoclip_weights_path",
    "load_geoclip_location_encoder",
]

GEOCLIP_SIGMAS: tuple[float, ...] = (2.0**0, 2.0**4, 2.0**8)
_WEIGHTS = Path("model") / "weights" / "location_encoder_weights.pth"
# Equal Earth polynomial coefficients (Šavrič et al. 2018, Eq. 2) and GeoCLIP's scale.
_A1, _A2, _A3, _A4 = 1.340264, -0.081106, 0.000893, 0.003796
_SCALE = 66.50336 / 180.0


def equal_earth(latlon: Tensor) -> Tensor:
    """Equal Earth ``(x, y)`` of ``(..., 2)`` (lat, lon) degrees, times ``66.50336 / 180``."""
    lat = torch.deg2rad(latlon[..., 0])
    lon = torch.deg2rad(latlon[..., 1])
    theta = torch.asin(math.sqrt(3.0) / 2.0 * torch.sin(lat))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = 2.0 * math.sqrt(3.0) * lon * torch.cos(theta)
    x = x / (3.0 * (9.0 * _A4 * t6 * t2 + 7.0 * _A3 * t6 + 3.0 * _A2 * t2 + _A1))
    y = theta * (_A1 + _A2 * t2 + t6 * (_A3 + _A4 * t2))
    return torch.stack([x, y], dim=-1) * _SCALE


class _Branch(nn.Module):
    rff_b: Tensor

    def __init__(self, sigma: float, features: int = 256, width: int = 1024, out: int = 512):
        super().__init__()
        self.register_buffer("rff_b", torch.randn(features, 2) * sigma)
        self.mlp = nn.Sequential(
            nn.Linear(2 * features, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
        )
        self.head = nn.Linear(width, out)

    def forward(self, v: Tensor) -> Tensor:
        a = 2.0 * math.pi * v @ self.rff_b.T
        out: Tensor = self.head(self.mlp(torch.cat([torch.cos(a), torch.sin(a)], dim=-1)))
        return out


class GeoCLIPLocationEncoder(nn.Module):
    """GeoCLIP's location encoder: ``(N, 2)`` (lat, lon) degrees -> ``(N, 512)``."""

    def __init__(self, sigmas: tuple[float, ...] = GEOCLIP_SIGMAS) -> None:
        super().__init__()
        self.branches = nn.ModuleList(_Branch(s) for s in sigmas)

    def forward(self, latlon: Tensor) -> Tensor:
        if latlon.shape[-1] != 2:
            raise InvalidInputError(f"expected (..., 2) (lat, lon) degrees, got {tuple(latlon.shape)}")
        v = equal_earth(latlon.float())
        out: Tensor = self.branches[0](v)
        for branch in self.branches[1:]:
            out = out + branch(v)
        return out


def convert_geoclip_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename the public ``LocEnc{i}.capsule/head`` tensors to this module's names."""
    mlp = {"1": "0", "3": "2", "5": "4"}
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        parts = key.split(".")
        if len(parts) < 3 or not parts[0].startswith("LocEnc"):
            raise InvalidInputError(f"unexpected tensor {key!r} in a GeoCLIP location encoder")
        i = parts[0][len("LocEnc") :]
        if parts[1] == "capsule" and parts[2] == "0" and parts[3:] == ["b"]:
            out[f"branches.{i}.rff_b"] = value
        elif parts[1] == "capsule" and parts[2] in mlp:
            out[f"branches.{i}.mlp.{mlp[parts[2]]}.{parts[3]}"] = value
        elif parts[1] == "head" and parts[2] == "0":
            out[f"branches.{i}.head.{parts[3]}"] = value
        else:
            raise InvalidInputError(f"unexpected tensor {key!r} in a GeoCLIP location encoder")
    return out


def geoclip_weights_path() -> Path:
    """The location-encoder weights inside the installed ``geoclip`` wheel (not imported)."""
    spec = importlib.util.find_spec("geoclip")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root) / _WEIGHTS
        if path.is_file():
            return path
    raise DataNotFoundError(
        "GeoCLIP location-encoder weights",
        roots[0] if roots else "site-packages/geoclip",
        [str(_WEIGHTS)],
        "https://pypi.org/project/geoclip/ (MIT)",
        "pip install --no-deps geoclip==1.3.0 (the weights ship inside the wheel)",
    )


def load_geoclip_location_encoder(path: str | Path | None = None) -> GeoCLIPLocationEncoder:
    """GeoCLIP's pretrained location encoder in eval mode (``path``: default the wheel's)."""
    from geoneurips.io import load_checkpoint

    state = load_checkpoint(geoclip_weights_path() if path is None else path)
    enc = GeoCLIPLocationEncoder()
    enc.load_state_dict(convert_geoclip_state_dict(state), strict=True)
    return enc.eval()
