"""The 15 TorchSpatial location encoders ``Enc(x) = NN(PE(x))`` (arXiv 2406.15658, Eq. 1).

:func:`build_encoder` makes any of :data:`ENCODER_NAMES` with the paper's defaults
(``S = 64`` scales for Space2Vec / Sphere2Vec, ``S = 8`` for dfs, one hidden layer of 512,
dropout 0.5, ReLU, 256 outputs); :func:`position_encoding` makes the ``PE`` alone.

================== ============================================ =====================
name               position encoding (``.position``)            PE width (defaults)
================== ============================================ =====================
tile               :class:`.TilePositionEncoder`                ``embed_dim`` (=out_dim)
wrap               :class:`.WrapPositionEncoder` + WrapFCNet    4
wrap_ffn           :class:`.WrapPositionEncoder`                4
rbf                :class:`.RBFPositionEncoder` (``anchors``)   M
rff                :class:`.RFFPositionEncoder`                 64
space2vec_grid     :class:`.Space2VecGridPositionEncoder`       256
space2vec_theory   :class:`.Space2VecTheoryPositionEncoder`     384
xyz                :class:`.XYZPositionEncoder`                 3
nerf               :class:`.NeRFPositionEncoder`                96
sphere_c           :class:`.SphereCPositionEncoder`             192
sphere_c_plus      :class:`.SphereCPlusPositionEncoder`         384
sphere_m           :class:`.SphereMPositionEncoder`             320
sphere_m_plus      :class:`.SphereMPlusPositionEncoder`         512
dfs                :class:`.DFSPositionEncoder`                 288
spherical_harmonics :class:`.SphericalHarmonicsPositionEncoder` 64
================== ============================================ =====================
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from geoneurips.errors import InvalidInputError
from geoneurips.location.torchspatial.ffn import MultiLayerFeedForwardNN, WrapFCNet
from geoneurips.location.torchspatial.position import (
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
)

__all__ = [
    "ENCODER_NAMES",
    "PUBLIC_NAMES",
    "LocationEncoder",
    "build_encoder",
    "convert_public_state_dict",
    "position_encoding",
]

ENCODER_NAMES: tuple[str, ...] = (
    "tile",
    "wrap",
    "wrap_ffn",
    "rbf",
    "rff",
    "space2vec_grid",
    "space2vec_theory",
    "xyz",
    "nerf",
    "sphere_c",
    "sphere_c_plus",
    "sphere_m",
    "sphere_m_plus",
    "dfs",
    "spherical_harmonics",
)

#: our name -> the public ``--spa_enc_type``
PUBLIC_NAMES: dict[str, str] = {
    "tile": "tile_ffn",
    "wrap": "wrap",
    "wrap_ffn": "wrap_ffn",
    "rbf": "rbf",
    "rff": "rff",
    "space2vec_grid": "Space2Vec-grid",
    "space2vec_theory": "Space2Vec-theory",
    "xyz": "xyz",
    "nerf": "NeRF",
    "sphere_c": "Sphere2Vec-sphereC",
    "sphere_c_plus": "Sphere2Vec-sphereC+",
    "sphere_m": "Sphere2Vec-sphereM",
    "sphere_m_plus": "Sphere2Vec-sphereM+",
    "dfs": "Sphere2Vec-dfs",
    "spherical_harmonics": "spherical_harmonics",
}

_PE_CLASSES: dict[str, type[PositionEncoder]] = {
    "tile": TilePositionEncoder,
    "wrap": WrapPositionEncoder,
    "wrap_ffn": WrapPositionEncoder,
    "rbf": RBFPositionEncoder,
    "rff": RFFPositionEncoder,
    "space2vec_grid": Space2VecGridPositionEncoder,
    "space2vec_theory": Space2VecTheoryPositionEncoder,
    "xyz": XYZPositionEncoder,
    "nerf": NeRFPositionEncoder,
    "sphere_c": SphereCPositionEncoder,
    "sphere_c_plus": SphereCPlusPositionEncoder,
    "sphere_m": SphereMPositionEncoder,
    "sphere_m_plus": SphereMPlusPositionEncoder,
    "dfs": DFSPositionEncoder,
    "spherical_harmonics": SphericalHarmonicsPositionEncoder,
}


def _resolve(name: str) -> str:
    if name in _PE_CLASSES:
        return name
    for ours, public in PUBLIC_NAMES.items():  # also accept the public spelling
        if name == public:
            return ours
    raise InvalidInputError(
        f"unknown location encoder {name!r}; choose one of: {', '.join(ENCODER_NAMES)}"
    )


def position_encoding(name: str, **pe_kwargs: Any) -> PositionEncoder:
    """The position encoding ``PE`` of encoder ``name`` (see :data:`ENCODER_NAMES`).

    ``pe_kwargs`` go to the PE class (e.g. ``frequency_num``, ``min_radius``, ``max_radius``,
    ``interval``, ``anchors``, ``kernel_size``, ``legacy_frequencies``,
    ``legendre_poly_num``); unknown ones raise :class:`InvalidInputError` listing the valid
    ones. ``rbf`` requires ``anchors`` ``(M, 2)`` in degrees.
    """
    key = _resolve(name)
    cls = _PE_CLASSES[key]
    params = inspect.signature(cls.__init__).parameters
    accepted = [p for p in params if p != "self"]
    unknown = sorted(set(pe_kwargs) - set(accepted))
    if unknown:
        raise InvalidInputError(
            f"{key} position encoding got unknown argument(s) {unknown}; "
            f"it accepts {accepted or 'no arguments'}"
        )
    if key == "rbf" and "anchors" not in pe_kwargs:
        raise InvalidInputError(
            "rbf needs anchors=(M, 2) tensor of (lon, lat) degrees (TorchSpatial samples "
            "M=200 of the training locations)"
        )
    return cls(**pe_kwargs)


class LocationEncoder(nn.Module):
    """``Enc(x) = NN(PE(x))`` for points ``(..., 2)`` (degrees, lon first) -> ``(..., out_dim)``.

    Attributes:
        name: encoder name (one of :data:`ENCODER_NAMES`).
        position: the position encoding module (``out_dim`` attribute).
        ffn: :class:`.MultiLayerFeedForwardNN` (or :class:`.WrapFCNet` for ``wrap``).
        out_dim: embedding width.
    """

    def __init__(self, name: str, position: PositionEncoder, ffn: nn.Module) -> None:
        super().__init__()
        in_dim = getattr(ffn, "in_dim", None)
        if in_dim != position.out_dim:
            raise InvalidInputError(
                f"ffn input width {in_dim} does not match the position encoding's "
                f"{position.out_dim}"
            )
        self.name = name
        self.position = position
        self.ffn = ffn
        self.out_dim = int(getattr(ffn, "out_dim"))  # noqa: B009

    def forward(self, lonlat: Tensor) -> Tensor:
        """Embed ``lonlat`` ``(..., 2)`` into ``(..., out_dim)``."""
        y: Tensor = self.ffn(self.position(lonlat))
        return y


def build_encoder(
    name: str,
    *,
    out_dim: int = 256,
    hidden_dim: int = 512,
    num_hidden_layers: int = 1,
    dropout: float = 0.5,
    activation: str = "relu",
    activate_output: bool = True,
    public_compatible: bool = False,
    network: str | None = None,
    **pe_kwargs: Any,
) -> LocationEncoder:
    """Build location encoder ``name`` with TorchSpatial's defaults.

    Args:
        name: one of :data:`ENCODER_NAMES` (the public ``spa_enc_type`` spellings such as
            ``"Sphere2Vec-sphereC+"`` are accepted too).
        out_dim: embedding width (``num_filts``, 256).
        hidden_dim: FFN hidden width (512). Not used by ``wrap``.
        num_hidden_layers: FFN hidden layers (1). Not used by ``wrap`` (4 residual blocks).
        dropout: dropout probability (0.5).
        activation: FFN activation (``relu``; the public run scripts use ``leakyrelu``).
        activate_output: keep the public FFN's activation + dropout on its output layer.
        public_compatible: reproduce the public TorchSpatial encoder exactly, including the
            behaviour this project fixes by default, so that published checkpoints load and
            give the published outputs: ``tile`` uses one cell for the globe (the public
            ``GridLookupSpatialRelationLocationEncoder`` never forwards ``interval``, so its
            default of 10^6 degrees applies), ``nerf`` always uses ``L = 16`` (the public
            ``NERFSpatialRelationLocationEncoder`` drops ``frequency_num``), ``sphere_m_plus``
            and ``dfs`` use the public ``r_max^(-s/(S-1))`` schedule
            (``legacy_frequencies=True``). Arguments the public code ignores are ignored here
            too. ``spherical_harmonics`` has no working public counterpart (it crashes
            there), so it is refused.
        network: ``"ffn"`` (:class:`.MultiLayerFeedForwardNN`), ``"siren"``
            (:class:`.siren.SirenNet`: ``num_hidden_layers`` sine layers, at least 2 by
            default, dropout as given) or ``None``: ``"siren"`` for ``spherical_harmonics``
            ("Siren(SH)" in the TorchSpatial tables), ``"ffn"`` otherwise (``wrap`` always
            uses its residual network).
        **pe_kwargs: forwarded to :func:`position_encoding`. For ``tile`` the embedding width
            defaults to ``out_dim`` as in the public code.

    Raises:
        InvalidInputError: unknown name or argument, or ``rbf`` without ``anchors``.
    """
    key = _resolve(name)
    if public_compatible:
        pe_kwargs = _public_pe_kwargs(key, dict(pe_kwargs))
    if key == "tile":
        pe_kwargs.setdefault("embed_dim", out_dim)
    position = position_encoding(key, **pe_kwargs)
    ffn: nn.Module
    net = network or ("siren" if key == "spherical_harmonics" else "ffn")
    if net not in ("ffn", "siren"):
        raise InvalidInputError(f"network must be 'ffn' or 'siren', got {network!r}")
    if key == "wrap":
        ffn = WrapFCNet(in_dim=position.out_dim, width=out_dim, num_res_layers=4, dropout=dropout)
    elif net == "siren":
        from .siren import SirenNet

        ffn = SirenNet(position.out_dim, out_dim, hidden_dim,
                       num_hidden_layers=max(2, num_hidden_layers), dropout=dropout)
    else:
        ffn = MultiLayerFeedForwardNN(
            in_dim=position.out_dim,
            out_dim=out_dim,
            num_hidden_layers=num_hidden_layers,
            hidden_dim=hidden_dim,
            dropout=dropout,
            activation=activation,
            activate_output=activate_output,
        )
    return LocationEncoder(key, position, ffn)


def _public_pe_kwargs(key: str, kw: dict[str, Any]) -> dict[str, Any]:
    """The position-encoding arguments the public code effectively uses for ``key``."""
    if key == "tile":
        kw["interval"] = 1_000_000.0  # never forwarded by the public location encoder
    elif key == "nerf":
        kw["frequency_num"] = 16  # never forwarded by the public location encoder
    elif key in ("sphere_m_plus", "dfs"):
        kw["legacy_frequencies"] = True
    elif key == "spherical_harmonics":
        raise InvalidInputError(
            "spherical_harmonics has no working public TorchSpatial counterpart (its "
            "get_positional_encoding import is missing), so there is nothing to reproduce; "
            "use public_compatible=False"
        )
    return kw


def convert_public_state_dict(
    state_dict: Mapping[str, Tensor], *, head: bool = False
) -> dict[str, Tensor]:
    """Rename a public TorchSpatial ``state_dict`` to this module's names.

    The public location prior (``models.LocationEncoder``) holds the encoder as ``spa_enc``
    (``spa_enc.position_encoder.*``: the rff ``dirvec``/``shift``, the tile
    ``embedding.weight``; ``spa_enc.ffn.layers.<i>.linear.*`` and
    ``spa_enc.ffn.layers.<i>.layernorm.*``) and the class head as ``class_emb``; the ``wrap``
    prior (``models.FCNet``) holds ``feats.0`` (Linear) and ``feats.<2..5>.w1/w2`` (residual
    blocks) next to ``class_emb``.

    Args:
        state_dict: the public ``state_dict`` (the ``"state_dict"`` entry of a
            ``model_*.pth.tar``).
        head: ``False``: keys of :class:`LocationEncoder` (``ffn.*``, ``position.*``; heads
            left out). ``True``: keys of :class:`.model.LocationPrior` (``encoder.*`` and
            ``class_emb.weight``); ``user_emb`` is always left out.
    """
    out: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        if key.startswith("spa_enc.ffn."):
            new = "ffn." + key[len("spa_enc.ffn.") :]
        elif key.startswith("spa_enc.position_encoder."):
            new = "position." + key[len("spa_enc.position_encoder.") :]
        elif key.startswith("feats."):
            new = "ffn." + key
        elif head and key.startswith("class_emb."):
            out[key] = value
            continue
        else:
            continue
        out[("encoder." + new) if head else new] = value
    return out
