"""The ``NN`` half of TorchSpatial's ``Enc(x) = NN(PE(x))`` (arXiv 2406.15658, Sec. 3, Eq. 1).

Two networks:

* :class:`MultiLayerFeedForwardNN`, used by 14 of the 15 encoders (public ``module.py``):
  each layer is ``Linear -> activation -> Dropout -> (+ input if the widths match and skip
  connections are on) -> LayerNorm``, LayerNorm and skip only on hidden layers, Xavier-uniform
  weights. Defaults: one hidden layer of 512, dropout 0.5, ReLU, 256 outputs.
* :class:`WrapFCNet`, the residual network of Mac Aodha et al., "Presence-Only Geographical
  Priors for Fine-Grained Image Classification", ICCV 2019 (Fig. 2 / Sec. 3.1), used by the
  ``wrap`` encoder: ``Linear(4, 256) + ReLU`` then 4 residual blocks.

Module and parameter names (``layers.{i}.linear``, ``layers.{i}.layernorm``,
``feats.{i}.w1``...) match the public code so its checkpoints load after a prefix rename
(see :func:`geoneurips.location.torchspatial.encoders.convert_public_state_dict`).
"""

from __future__ import annotations

from torch import Tensor, nn

from geoneurips.errors import InvalidInputError

__all__ = [
    "ACTIVATIONS",
    "FeedForwardLayer",
    "MultiLayerFeedForwardNN",
    "ResLayer",
    "WrapFCNet",
    "make_activation",
]

ACTIVATIONS: tuple[str, ...] = ("relu", "leakyrelu", "sigmoid", "tanh", "gelu")


def make_activation(name: str) -> nn.Module:
    """Activation by its TorchSpatial name (``leakyrelu`` has slope 0.2, as in the code)."""
    if name == "relu":
        return nn.ReLU()
    if name == "leakyrelu":
        return nn.LeakyReLU(negative_slope=0.2)
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "gelu":
        return nn.GELU()
    raise InvalidInputError(f"unknown activation {name!r}; choose one of {ACTIVATIONS}")


class FeedForwardLayer(nn.Module):
    """One layer: ``y = LN(drop(act(W x + b)) [+ x])`` (public ``SingleFeedForwardNN``).

    ``activate=False`` makes it a plain ``Linear`` (used for the output layer when
    ``activate_output=False``). The skip connection is applied only when ``in_dim ==
    out_dim``.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        dropout: float = 0.5,
        activation: str = "relu",
        layernorm: bool = False,
        skip_connection: bool = False,
        activate: bool = True,
    ) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.linear = nn.Linear(in_dim, out_dim)
        nn.init.xavier_uniform_(self.linear.weight)
        self.activate = activate
        self.act = make_activation(activation)
        self.dropout = nn.Dropout(p=dropout)
        self.skip_connection = bool(skip_connection and in_dim == out_dim)
        self.layernorm = nn.LayerNorm(out_dim) if layernorm else None

    def forward(self, x: Tensor) -> Tensor:
        """``(..., in_dim) -> (..., out_dim)``."""
        y: Tensor = self.linear(x)
        if self.activate:
            y = self.dropout(self.act(y))
        if self.skip_connection:
            y = y + x
        if self.layernorm is not None:
            y = self.layernorm(y)
        return y


class MultiLayerFeedForwardNN(nn.Module):
    """TorchSpatial's location-encoder ``NN`` (public ``MultiLayerFeedForwardNN``).

    ``num_hidden_layers = 0`` gives one layer ``in_dim -> out_dim``; otherwise
    ``in_dim -> hidden_dim`` (+ ``num_hidden_layers - 1`` layers ``hidden_dim -> hidden_dim``,
    with skip connections) ``-> out_dim``. Hidden layers: Linear, activation, dropout, skip,
    LayerNorm.

    **Public-code quirk, kept by default:** the public class documents "the last layer does
    not have any of these" but its output layer still applies the activation and dropout
    (``SingleFeedForwardNN`` always does), so location embeddings are non-negative with ReLU
    and are dropped out in training. ``activate_output=True`` (default) reproduces this so
    public checkpoints behave as published; ``activate_output=False`` gives the documented
    linear output layer.

    Args:
        in_dim: width of the position encoding.
        out_dim: embedding width (``num_filts``, 256 in the paper).
        num_hidden_layers: hidden layers (paper default 1).
        hidden_dim: hidden width (paper default 512).
        dropout: dropout probability (paper default 0.5).
        activation: ``relu`` (default), ``leakyrelu`` (slope 0.2, used by the public run
            scripts), ``sigmoid``, ``tanh`` or ``gelu``.
        layernorm: LayerNorm on hidden layers.
        skip_connection: residual connection on hidden layers whose widths match.
        activate_output: apply activation + dropout on the output layer (public behaviour).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int = 256,
        num_hidden_layers: int = 1,
        hidden_dim: int = 512,
        dropout: float = 0.5,
        activation: str = "relu",
        layernorm: bool = True,
        skip_connection: bool = True,
        activate_output: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("in_dim", in_dim), ("out_dim", out_dim), ("hidden_dim", hidden_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
        if num_hidden_layers < 0:
            raise InvalidInputError(f"num_hidden_layers must be >= 0, got {num_hidden_layers}")
        if not 0.0 <= dropout < 1.0:
            raise InvalidInputError(f"dropout must be in [0, 1), got {dropout}")
        self.in_dim, self.out_dim = in_dim, out_dim
        self.activate_output = activate_output
        self.layers = nn.ModuleList()
        width = in_dim
        for _ in range(num_hidden_layers):
            self.layers.append(
                FeedForwardLayer(
                    width, hidden_dim, dropout, activation, layernorm, skip_connection, True
                )
            )
            width = hidden_dim
        self.layers.append(
            FeedForwardLayer(width, out_dim, dropout, activation, False, False, activate_output)
        )

    def forward(self, x: Tensor) -> Tensor:
        """``(..., in_dim) -> (..., out_dim)``."""
        if x.shape[-1] != self.in_dim:
            raise InvalidInputError(
                f"feed-forward input must have last dimension {self.in_dim}, got {tuple(x.shape)}"
            )
        for layer in self.layers:
            x = layer(x)
        return x


class ResLayer(nn.Module):
    """Residual block of Mac Aodha et al. 2019: ``x + ReLU(W2 drop(ReLU(W1 x)))``."""

    def __init__(self, width: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.w1 = nn.Linear(width, width)
        self.w2 = nn.Linear(width, width)
        self.nonlin1 = nn.ReLU()
        self.nonlin2 = nn.ReLU()
        self.dropout1 = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., width) -> (..., width)``."""
        y: Tensor = self.nonlin2(self.w2(self.dropout1(self.nonlin1(self.w1(x)))))
        return x + y


class WrapFCNet(nn.Module):
    """The ``wrap`` encoder's network (Mac Aodha et al., ICCV 2019; public ``models.FCNet``
    without its class/user heads): ``Linear(in_dim, width) -> ReLU -> 4 x ResLayer``.

    Args:
        in_dim: 4 for the wrap position encoding.
        width: hidden = output width (``num_filts``, 256).
        num_res_layers: residual blocks (4 in the paper).
        dropout: dropout inside each residual block (0.5).
    """

    def __init__(
        self, in_dim: int = 4, width: int = 256, num_res_layers: int = 4, dropout: float = 0.5
    ) -> None:
        super().__init__()
        if width < 1 or in_dim < 1 or num_res_layers < 0:
            raise InvalidInputError(
                f"invalid WrapFCNet sizes in_dim={in_dim}, width={width}, "
                f"num_res_layers={num_res_layers}"
            )
        self.in_dim, self.out_dim = in_dim, width
        self.feats = nn.Sequential(
            nn.Linear(in_dim, width),
            nn.ReLU(),
            *[ResLayer(width, dropout) for _ in range(num_res_layers)],
        )

    def forward(self, x: Tensor) -> Tensor:
        """``(..., in_dim) -> (..., width)``."""
        if x.shape[-1] != self.in_dim:
            raise InvalidInputError(
                f"WrapFCNet input must have last dimension {self.in_dim}, got {tuple(x.shape)}"
            )
        y: Tensor = self.feats(x)
        return y
