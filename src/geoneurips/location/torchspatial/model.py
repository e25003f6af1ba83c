"""Location priors and location-aware regression of TorchSpatial (arXiv 2406.15658, Sec. 3-4).

TorchSpatial evaluates every location encoder ``Enc(x) = FFN(PE(x))`` (see
:mod:`geoneurips.location.torchspatial.encoders`) on two LocBench tasks:

* **Classification with a location prior** (after Mac Aodha et al., "Presence-Only
  Geographical Priors for Fine-Grained Image Classification", ICCV 2019). The prior is

  ``P(y = c | x) = sigmoid(W Enc(x))_c``,  ``W`` = ``class_emb``: Linear(d, C, bias=False),

  trained on locations only with the presence-only loss (:func:`presence_loss`, Mac Aodha et
  al. eq. 7). At test time the frozen image classifier's probabilities are multiplied by the
  prior (:func:`combine`): ``P(y | I, x) ∝ P(y | I) ⊙ P(y | x)``.
* **Regression** (MOSAIKS): image features -> MLP -> 32-d, concatenated with ``Enc(x)`` ->
  MLP -> scalar, trained with the mean squared error (:class:`MosaiksRegressor`).

Lightning modules :class:`LocationPriorTask` and :class:`RegressionTask` train both with the
public code's optimiser (Adam, learning rate decayed by 0.98 per epoch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from geoneurips.errors import InvalidInputError

__all__ = [
    "LocationPrior",
    "LocationPriorTask",
    "MosaiksRegressor",
    "RegressionTask",
    "combine",
    "presence_loss",
    "sample_uniform_sphere",
]


def sample_uniform_sphere(
    n: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
) -> Tensor:
    """``n`` locations uniform on the sphere, ``(n, 2)`` (lon, lat) in degrees.

    ``lon = 360 u1 - 180``, ``lat = asin(2 u2 - 1)`` (equal-area; TorchSpatial's
    ``rand_samples(rand_type="spherical")`` intent, see :func:`presence_loss`).
    """
    u = torch.rand(n, 2, generator=generator, device=device)
    lon = 360.0 * u[:, 0] - 180.0
    lat = torch.rad2deg(torch.asin(2.0 * u[:, 1] - 1.0))
    return torch.stack([lon, lat], dim=1)


class LocationPrior(nn.Module):
    """Presence-only location prior ``P(y|x) = sigmoid(W Enc(x))`` (TorchSpatial Sec. 4.1).

    Args:
        encoder: a location encoder: ``forward(lonlat (N, 2) degrees) -> (N, d)`` with an
            ``out_dim`` attribute (``build_encoder(...)``).
        num_classes: number of classes ``C``.

    Attributes:
        class_emb: ``Linear(d, C, bias=False)``, the per-class weight vectors ``W``.
    """

    def __init__(self, encoder: nn.Module, num_classes: int) -> None:
        super().__init__()
        out_dim = getattr(encoder, "out_dim", None)
        if not isinstance(out_dim, int) or out_dim < 1:
            raise InvalidInputError("encoder must expose a positive integer `out_dim`")
        if num_classes < 1:
            raise InvalidInputError(f"num_classes must be >= 1, got {num_classes}")
        self.encoder = encoder
        self.num_classes = int(num_classes)
        self.class_emb = nn.Linear(out_dim, self.num_classes, bias=False)

    def embed(self, lonlat: Tensor) -> Tensor:
        """``Enc(x)``, ``(N, d)``."""
        return self.encoder(lonlat)  # type: ignore[no-any-return]

    def logits(self, lonlat: Tensor) -> Tensor:
        """``W Enc(x)``, ``(N, C)``."""
        return self.class_emb(self.embed(lonlat))  # type: ignore[no-any-return]

    def forward(self, lonlat: Tensor) -> Tensor:
        """``P(y|x) = sigmoid(W Enc(x))``, ``(N, C)`` in (0, 1)."""
        return torch.sigmoid(self.logits(lonlat))


def presence_loss(
    prior: LocationPrior,
    lonlat: Tensor,
    labels: Tensor,
    *,
    rand_lonlat: Tensor | None = None,
    pos_weight: float | None = None,
    rand_sample_weight: float = 1.0,
    eps: float = 1e-5,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Presence-only loss of the location prior (Mac Aodha et al. 2019 eq. 7; TorchSpatial).

    With ``s = sigmoid(W Enc(x))`` and one random background location ``r_i`` per example::

        L = mean_{i,c} l_ic  +  w_r * mean_{i,c} -log(1 - s_c(r_i) + eps)
        l_ic = -log(1 - s_c(x_i) + eps)            for c != y_i
        l_iy = -lambda * log(s_{y_i}(x_i) + eps)   for c == y_i

    ``lambda`` (``pos_weight``) defaults to ``C``, the number of classes, exactly as the
    public code (``embedding_loss``: ``pos_weight = params['num_classes']``), which balances
    the single positive against the ``C - 1`` negatives of each example. ``w_r`` is
    ``rand_sample_weight``. Training and background locations go through the encoder in one
    batch, as in the public code.

    Background locations are drawn uniformly **on the sphere** (equal-area). The public
    ``rand_samples`` computes such points for ``rand_type="spherical"`` but then feeds the
    raw uniform numbers to the Sphere2Vec/Space2Vec encoders (a bug: lon in [0, 180),
    lat in [0, 90)); we implement the stated intent.

    Args:
        prior: the :class:`LocationPrior`.
        lonlat: ``(N, 2)`` training locations (lon, lat degrees).
        labels: ``(N,)`` class ids.
        rand_lonlat: ``(N, 2)`` background locations (default: :func:`sample_uniform_sphere`).
        pos_weight: ``lambda`` (default ``C``).
        rand_sample_weight: ``w_r``.
        eps: the ``1e-5`` inside the logs.
        generator: random generator for the background locations.
    """
    n = lonlat.shape[0]
    if labels.shape != (n,):
        raise InvalidInputError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
    if rand_lonlat is None:
        rand_lonlat = sample_uniform_sphere(n, generator=generator, device=lonlat.device)
    lam = float(prior.num_classes if pos_weight is None else pos_weight)
    probs = torch.sigmoid(prior.logits(torch.cat([lonlat, rand_lonlat.to(lonlat)], dim=0)))
    p_data, p_rand = probs[:n], probs[n:]
    loss_neg = -torch.log(1.0 - p_data + eps)
    rows = torch.arange(n, device=lonlat.device)
    pos = -lam * torch.log(p_data[rows, labels] + eps)
    loss_data = loss_neg.index_put((rows, labels), pos)
    loss_bg = -torch.log(1.0 - p_rand + eps)
    return loss_data.mean() + rand_sample_weight * loss_bg.mean()


def combine(image_probs: Tensor, prior_probs: Tensor) -> Tensor:
    """Combined class scores ``P(y|I) ⊙ P(y|x)`` (Mac Aodha et al. 2019 eq. 3; unnormalised).

    Ranking by the product is ranking by the posterior under the paper's independence
    assumption; the scores are not renormalised (as in the public code).
    """
    if image_probs.shape != prior_probs.shape:
        raise InvalidInputError(
            f"image probabilities {tuple(image_probs.shape)} and prior "
            f"{tuple(prior_probs.shape)} must have the same shape"
        )
    return image_probs * prior_probs


def _mlp(dims: Sequence[int], dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers += [nn.LeakyReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class MosaiksRegressor(nn.Module):
    """Location-aware regression head of TorchSpatial's MOSAIKS task (``MosaiksRegressNet``).

    ``y = g([f(image_features), Enc(x)])`` with ``f``: features -> MLP -> ``embed_dim`` (32)
    and ``g``: MLP -> scalar, LeakyReLU and dropout 0.1 between layers. The public code uses
    per-dataset hidden widths tuned by search (e.g. 862/846 for elevation); ``hidden_dims``
    sets them here.

    Args:
        encoder: location encoder with ``out_dim``.
        feature_dim: image-feature width (2048 for MOSAIKS).
        embed_dim: width of the image embedding (32).
        hidden_dims: hidden widths of both MLPs.
        dropout: dropout probability.
    """

    def __init__(
        self,
        encoder: nn.Module,
        feature_dim: int = 2048,
        embed_dim: int = 32,
        hidden_dims: Sequence[int] = (512, 256),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        out_dim = getattr(encoder, "out_dim", None)
        if not isinstance(out_dim, int) or out_dim < 1:
            raise InvalidInputError("encoder must expose a positive integer `out_dim`")
        self.encoder = encoder
        self.feature_dim = int(feature_dim)
        self.image_mlp = _mlp([feature_dim, *hidden_dims, embed_dim], dropout)
        self.regress_mlp = _mlp([embed_dim + out_dim, *hidden_dims, 1], dropout)

    def forward(self, image_features: Tensor, lonlat: Tensor) -> Tensor:
        """Predictions ``(N,)``."""
        if image_features.ndim != 2 or image_features.shape[1] != self.feature_dim:
            raise InvalidInputError(
                f"image_features must be (N, {self.feature_dim}), got "
                f"{tuple(image_features.shape)}"
            )
        z = torch.cat([self.image_mlp(image_features), self.encoder(lonlat)], dim=-1)
        return self.regress_mlp(z).squeeze(-1)  # type: ignore[no-any-return]


def _make_encoder(encoder: nn.Module | str, kwargs: Mapping[str, Any] | None) -> nn.Module:
    if isinstance(encoder, nn.Module):
        return encoder
    from .encoders import build_encoder

    return build_encoder(encoder, **dict(kwargs or {}))


class LocationPriorTask(L.LightningModule):
    """Lightning training of a :class:`LocationPrior` with :func:`presence_loss`.

    Batches are dicts with ``"lonlat"`` (B, 2) and ``"label"`` (B,) (LocBench samples).
    Optimiser: Adam, learning rate multiplied by ``lr_decay`` (0.98) every epoch, as in the
    public code.

    Args:
        num_classes: number of classes.
        encoder: an encoder module or a name for ``build_encoder`` (default
            ``"sphere_c_plus"``, the paper's best overall).
        encoder_kwargs: keyword arguments of ``build_encoder``.
        lr: learning rate.
        lr_decay: per-epoch learning-rate factor.
        weight_decay: Adam weight decay.
        rand_sample_weight: weight of the background term.
        pos_weight: ``lambda`` of the positive term (default ``C``).
    """

    def __init__(
        self,
        num_classes: int,
        encoder: nn.Module | str = "sphere_c_plus",
        encoder_kwargs: Mapping[str, Any] | None = None,
        lr: float = 1e-3,
        lr_decay: float = 0.98,
        weight_decay: float = 0.0,
        rand_sample_weight: float = 1.0,
        pos_weight: float | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["encoder", "encoder_kwargs"])
        self.prior = LocationPrior(_make_encoder(encoder, encoder_kwargs), num_classes)

    def forward(self, lonlat: Tensor) -> Tensor:
        """Prior probabilities ``(N, C)``."""
        return self.prior(lonlat)  # type: ignore[no-any-return]

    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor:
        """Presence loss of one batch."""
        loss = presence_loss(
            self.prior, batch["lonlat"].float(), batch["label"].long(),
            pos_weight=self.hparams["pos_weight"],
            rand_sample_weight=self.hparams["rand_sample_weight"],
        )
        self.log("train_loss", loss, prog_bar=True, batch_size=batch["lonlat"].shape[0])
        return loss

    def configure_optimizers(self) -> Any:
        """Adam with exponential per-epoch decay."""
        opt = torch.optim.Adam(
            self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"]
        )
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=self.hparams["lr_decay"])
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    @torch.no_grad()
    def predict_prior(self, lonlat: Tensor, batch_size: int = 4096) -> Tensor:
        """Prior probabilities in evaluation mode, batched, ``(N, C)``."""
        was = self.training
        self.eval()
        out = torch.cat([self.prior(lonlat[i : i + batch_size].float())
                         for i in range(0, max(1, lonlat.shape[0]), batch_size)])
        self.train(was)
        return out


class RegressionTask(L.LightningModule):
    """Lightning training of a :class:`MosaiksRegressor` with the mean squared error.

    Batches are dicts with ``"lonlat"``, ``"image_features"`` and ``"target"``.

    Args:
        feature_dim: image-feature width.
        encoder: an encoder module or a ``build_encoder`` name.
        encoder_kwargs: keyword arguments of ``build_encoder``.
        embed_dim: image-embedding width (32).
        hidden_dims: MLP widths.
        lr: Adam learning rate (decayed by ``lr_decay`` per epoch).
        lr_decay: per-epoch learning-rate factor.
    """

    def __init__(
        self,
        feature_dim: int,
        encoder: nn.Module | str = "sphere_c_plus",
        encoder_kwargs: Mapping[str, Any] | None = None,
        embed_dim: int = 32,
        hidden_dims: Sequence[int] = (512, 256),
        lr: float = 1e-3,
        lr_decay: float = 0.98,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["encoder", "encoder_kwargs"])
        self.model = MosaiksRegressor(
            _make_encoder(encoder, encoder_kwargs), feature_dim, embed_dim, hidden_dims
        )

    def forward(self, image_features: Tensor, lonlat: Tensor) -> Tensor:
        """Predictions ``(N,)``."""
        return self.model(image_features, lonlat)  # type: ignore[no-any-return]

    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor:
        """MSE of one batch."""
        pred = self.model(batch["image_features"].float(), batch["lonlat"].float())
        loss = nn.functional.mse_loss(pred, batch["target"].float())
        self.log("train_loss", loss, prog_bar=True, batch_size=pred.shape[0])
        return loss

    def configure_optimizers(self) -> Any:
        """Adam with exponential per-epoch decay."""
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams["lr"])
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=self.hparams["lr_decay"])
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

