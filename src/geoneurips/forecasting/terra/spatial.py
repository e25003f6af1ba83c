"""Terra's spatial task: location embeddings -> MLP regression of a 1-degree climate field.

Published protocol (``Spatial_Task``): frozen location-encoder embeddings of each grid cell
feed an MLP (hidden 64) trained with MSE on the z-scored target, random 80/20 split, early
stopping with patience 100, test MSE and MAE reported. Location embeddings available here:

* ``raw``: ``(lat / 90, lon / 180)``, the baseline;
* the project's TorchSpatial position encodings (shared layer
  :mod:`geoneurips.nn.location_encoders`, TorchSpatial defaults): ``sphere_c`` and
  ``sphere_m`` (Sphere2Vec sphereC / sphereM, ``S = 64``, ``r_min = 1e-3``), ``xyz`` (the
  unit vector) and ``space2vec_theory`` (planar, ``S = 64``, ``r_min = 1e-2``,
  ``r_max = 360``);
* ``geoclip``: GeoCLIP's pretrained location encoder (512-d) with the weights that ship in
  the ``geoclip`` wheel (:mod:`geoneurips.nn.location_encoders.geoclip`);
* ``spherical``: a weight-free unit vector plus multi-scale sinusoids (kept for comparison).

The public code uses SatCLIP, GeoCLIP and CSP; SatCLIP and CSP need checkpoints we do not
ship, so the TorchSpatial encodings stand in for them. Deliberate differences: full-batch
Adam (lr 1e-2) for at most ``steps`` epochs, with early stopping (patience 100) on a
validation 10 % of the training cells; every embedding column is z-scored with the
training cells' statistics; the MLP is a LightningModule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from geoneurips.errors import InvalidInputError

__all__ = ["ENCODERS", "LitSpatialMLP", "location_features", "spatial_regression"]

ENCODERS: tuple[str, ...] = (
    "raw",
    "spherical",
    "xyz",
    "sphere_c",
    "sphere_m",
    "space2vec_theory",
    "geoclip",
)


def _torchspatial(kind: str, lonlat: Tensor) -> Tensor:
    from geoneurips.nn import location_encoders as le

    pe: nn.Module
    if kind == "xyz":
        pe = le.XYZPositionEncoder()
    elif kind == "sphere_c":
        pe = le.SphereCPositionEncoder(64, 1e-3, 1.0)
    elif kind == "sphere_m":
        pe = le.SphereMPositionEncoder(64, 1e-3, 1.0)
    else:
        pe = le.Space2VecTheoryPositionEncoder(frequency_num=64, min_radius=1e-2, max_radius=360.0)
    with torch.inference_mode():
        out: Tensor = pe(lonlat)
    return out


def location_features(
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    kind: str,
    scales: int = 4,
) -> NDArray[np.float32]:
    """Embed (lat, lon) degrees with encoder ``kind`` (one of :data:`ENCODERS`)."""
    if kind == "raw":
        return np.stack([lat / 90.0, lon / 180.0], axis=1).astype(np.float32)
    if kind == "spherical":
        phi, lam = np.radians(lat), np.radians(lon)
        cols = [np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)]
        for s in range(scales):
            f = 2.0**s
            cols += [np.sin(f * phi), np.cos(f * phi), np.sin(f * lam), np.cos(f * lam)]
        return np.stack(cols, axis=1).astype(np.float32)
    if kind == "geoclip":
        from geoneurips.nn.location_encoders.geoclip import load_geoclip_location_encoder

        enc = load_geoclip_location_encoder()
        latlon = torch.from_numpy(np.stack([lat, lon], axis=1).astype(np.float32))
        with torch.inference_mode():
            return np.concatenate(
                [enc(latlon[i : i + 4096]).numpy() for i in range(0, len(latlon), 4096)]
            ).astype(np.float32)
    if kind in ("xyz", "sphere_c", "sphere_m", "space2vec_theory"):
        # the published row formula puts the last grid row at 90.5 deg: clamp to the pole
        lat = np.clip(lat, -90.0, 90.0)
        lonlat = torch.from_numpy(np.stack([lon, lat], axis=1).astype(np.float32))
        return _torchspatial(kind, lonlat).numpy().astype(np.float32)
    raise InvalidInputError(f"unknown location feature {kind!r} (one of {', '.join(ENCODERS)})")


def _lit_class() -> Any:
    import lightning as L

    class _Lit(L.LightningModule):
        def __init__(self, in_dim: int, hidden: int, lr: float) -> None:
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(in_dim, hidden),
                nn.ReLU(),
                nn.Linear(hidden, hidden),
                nn.ReLU(),
                nn.Linear(hidden, 1),
            )
            self.lr = lr

        def forward(self, x: Tensor) -> Tensor:
            out: Tensor = self.net(x).squeeze(-1)
            return out

        def training_step(self, batch: tuple[Tensor, Tensor], _: int) -> Tensor:
            x, y = batch
            return torch.mean((self(x) - y) ** 2)

        def validation_step(self, batch: tuple[Tensor, Tensor], _: int) -> None:
            x, y = batch
            self.log("val_mse", torch.mean((self(x) - y) ** 2), prog_bar=False)

        def configure_optimizers(self) -> Any:
            return torch.optim.Adam(self.parameters(), lr=self.lr)

    return _Lit


def LitSpatialMLP(in_dim: int, hidden: int = 64, lr: float = 1e-2) -> Any:
    """The spatial task's MLP (2 hidden layers of ``hidden``, MSE) as a LightningModule."""
    return _lit_class()(in_dim, hidden, lr)


def spatial_regression(
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    value: NDArray[np.float64],
    kind: str,
    *,
    seed: int = 0,
    steps: int = 400,
    hidden: int = 64,
    cells: int | None = None,
    features: NDArray[np.float32] | None = None,
) -> dict[str, float]:
    """Train the MLP on a random 80 % of cells; test MSE and MAE (target units) on the rest.

    ``cells`` draws that many cells at random first (for fast tests); ``None`` uses all.
    ``features`` passes precomputed embeddings of all cells (else they are computed).
    """
    from torch.utils.data import DataLoader

    from geoneurips.nn.training import make_trainer

    if not len(lat) == len(lon) == len(value):
        raise InvalidInputError("lat, lon and value must have the same length")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(value))
    if cells is not None:
        idx = idx[:cells]
    n_train = int(0.8 * len(idx))
    n_fit = int(0.9 * n_train)
    fit, val, te = idx[:n_fit], idx[n_fit:n_train], idx[n_train:]
    used = np.concatenate([fit, val, te])
    if features is None:
        sub = location_features(lat[used], lon[used], kind)  # only the cells drawn
        feats_np = np.zeros((len(value), sub.shape[1]), np.float32)
        feats_np[used] = sub
    elif features.ndim != 2 or len(features) != len(value):
        raise InvalidInputError(f"features {features.shape} must be (cells, dim) for all cells")
    else:
        feats_np = features
    # every embedding column is z-scored with the training cells' statistics (GeoCLIP's
    # outputs are ~1e-2 in size; constant columns are left centred)
    f_mu = feats_np[idx[:n_train]].mean(0)
    f_sd = feats_np[idx[:n_train]].std(0)
    f_sd = np.where(f_sd > 1e-8, f_sd, 1.0)
    feats = torch.zeros(len(value), feats_np.shape[1])
    feats[used] = torch.from_numpy(((feats_np[used] - f_mu) / f_sd).astype(np.float32))
    mu, sd = float(value[idx[:n_train]].mean()), float(value[idx[:n_train]].std())
    y = torch.from_numpy(((value - mu) / sd).astype(np.float32))

    def loader(rows: NDArray[np.int64]) -> DataLoader[tuple[Tensor, Tensor]]:
        r = torch.from_numpy(rows)
        # one full batch a step, handed over whole (collating row by row is the slow part)
        one: list[tuple[Tensor, Tensor]] = [(feats[r], y[r])]
        return DataLoader(one, batch_size=None)  # type: ignore[arg-type]  # a list is a map-style dataset

    from lightning.pytorch.callbacks import EarlyStopping

    torch.manual_seed(seed)
    lit = LitSpatialMLP(feats.shape[1], hidden)
    trainer = make_trainer(
        steps,
        seed=seed,
        callbacks=[EarlyStopping("val_mse", patience=10)],  # checked every 10 epochs: 100
        check_val_every_n_epoch=10,
        num_sanity_val_steps=0,
    )
    trainer.fit(lit, loader(fit), loader(val))
    lit.eval()
    with torch.no_grad():
        pred = lit(feats[torch.from_numpy(te)]).numpy() * sd + mu
    err = pred - value[te]
    return {"mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err)))}
