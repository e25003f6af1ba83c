"""SIREN, the network of "Siren(SH)" (spherical harmonics + sinusoidal representation network).

Rußwurm et al., "Geographic Location Encoding with Spherical Harmonics and Sinusoidal
Representation Networks" (ICLR 2024, Sec. 3.2) put a SIREN (Sitzmann et al., "Implicit
Neural Representations with Periodic Activation Functions", NeurIPS 2020) on top of the
spherical-harmonic embedding; TorchSpatial's tables call that encoder "Siren(SH)".

Each hidden layer is ``y = sin(w0 (W x + b))`` (Sitzmann et al. Sec. 3.1); the output layer
is linear. Initialisation (Sitzmann et al. Sec. 3.2 and their supplement): the first layer
draws ``W, b ~ U(-1/n_in, 1/n_in)`` and uses ``w0 = w0_initial`` (30 in Sitzmann et al.),
later layers draw ``W, b ~ U(-sqrt(c/n_in)/w0, sqrt(c/n_in)/w0)`` with ``c = 6``, so that the
pre-activations stay standard-normal-like through depth. Rußwurm et al. use ``w0 = 1`` on the
hidden layers, ``w0_initial = 30`` on the first and dropout between layers; the widths here
are those of :func:`.encoders.build_encoder` (hidden 512, output 256) and two sine layers.
This is our own implementation of the published equations.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from geoneurips.errors import InvalidInputError

__all__ = ["SineLayer", "SirenNet"]


class SineLayer(nn.Module):
    """``sin(w0 (W x + b))`` with SIREN's initialisation.

    Args:
        in_dim: input width.
        out_dim: output width.
        w0: frequency factor.
        is_first: first layer: ``U(-1/in_dim, 1/in_dim)``; otherwise
            ``U(-sqrt(c/in_dim)/w0, sqrt(c/in_dim)/w0)``.
        c: the ``c`` of the hidden-layer bound (6).
    """

    def __init__(self, in_dim: int, out_dim: int, w0: float = 1.0, is_first: bool = False,
                 c: float = 6.0) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.w0, self.is_first = in_dim, out_dim, float(w0), is_first
        self.linear = nn.Linear(in_dim, out_dim)
        bound = 1.0 / in_dim if is_first else math.sqrt(c / in_dim) / self.w0
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)
            self.linear.bias.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., in_dim) -> (..., out_dim)``."""
        return torch.sin(self.w0 * self.linear(x))


class SirenNet(nn.Module):
    """SIREN: ``num_hidden_layers`` sine layers, then a linear output layer.

    Args:
        in_dim: input width (``L^2`` spherical harmonics).
        out_dim: embedding width.
        hidden_dim: width of the sine layers.
        num_hidden_layers: number of sine layers (>= 1).
        w0: frequency factor of the hidden sine layers after the first (Rußwurm et al.: 1).
        w0_initial: frequency factor of the first sine layer (30).
        dropout: dropout after every sine layer (0 disables it).

    The output layer is initialised like a hidden sine layer (``U(+-sqrt(6/n)/w0)``).
    """

    def __init__(self, in_dim: int, out_dim: int = 256, hidden_dim: int = 512,
                 num_hidden_layers: int = 2, w0: float = 1.0, w0_initial: float = 30.0,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if min(in_dim, out_dim, hidden_dim, num_hidden_layers) < 1:
            raise InvalidInputError(
                f"invalid SirenNet sizes in_dim={in_dim}, out_dim={out_dim}, "
                f"hidden_dim={hidden_dim}, num_hidden_layers={num_hidden_layers}"
            )
        self.in_dim, self.out_dim = in_dim, out_dim
        layers: list[nn.Module] = []
        for i in range(num_hidden_layers):
            first = i == 0
            layers.append(SineLayer(in_dim if first else hidden_dim, hidden_dim,
                                    w0_initial if first else w0, is_first=first))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.layers = nn.Sequential(*layers)
        self.last = nn.Linear(hidden_dim, out_dim)
        bound = math.sqrt(6.0 / hidden_dim) / w0
        with torch.no_grad():
            self.last.weight.uniform_(-bound, bound)
            self.last.bias.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., in_dim) -> (..., out_dim)``."""
        if x.shape[-1] != self.in_dim:
            raise InvalidInputError(
                f"SirenNet input must have last dimension {self.in_dim}, got {tuple(x.shape)}"
            )
        y: Tensor = self.last(self.layers(x))
        return y
