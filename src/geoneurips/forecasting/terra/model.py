"""Terra forecasting baselines (HI, DLinear, STID) and the masked metrics of its BasicTS fork.

Metrics follow BasicTS ``masked_mae`` / ``masked_rmse`` with the Terra config's
``NULL_VAL = 0.0``: target entries equal to 0 (days without rain, ``|y| <= 5e-5``) are
excluded, i.e. ``MAE = sum(|p - y| * m) / sum(m)`` with ``m = (y != 0)``. They are computed
in mm/day after undoing the z-score, as in BasicTS. The training loss is the same masked MAE.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

__all__ = [
    "DLinear",
    "HistoricalInertia",
    "LitForecaster",
    "STID",
    "masked_mae",
    "masked_rmse",
]

NULL_EPS = 5e-5


def _mask(target: Tensor, null_val: float) -> Tensor:
    return (
        ~torch.isclose(target, torch.full_like(target, null_val), atol=NULL_EPS, rtol=0.0)
    ).float()


def masked_mae(pred: Tensor, target: Tensor, null_val: float = 0.0) -> Tensor:
    """BasicTS masked MAE: mean of ``|pred - target|`` over entries where ``target != null_val``."""
    m = _mask(target, null_val)
    return (torch.abs(pred - target) * m).sum() / m.sum().clamp_min(1.0)


def masked_rmse(pred: Tensor, target: Tensor, null_val: float = 0.0) -> Tensor:
    """BasicTS masked RMSE: ``sqrt`` of the masked mean squared error."""
    m = _mask(target, null_val)
    return torch.sqrt(((pred - target) ** 2 * m).sum() / m.sum().clamp_min(1.0))


class HistoricalInertia(nn.Module):
    """HI (Cui et al. 2021) as in the Terra fork: ``pred[t+k] = x[t - history + k]``.

    The history's last ``future`` steps are returned as the forecast (value channel,
    z-scored space). The public module prints and exits before returning; this is the
    evident intent.
    """

    def __init__(self, history: int = 30, future: int = 30) -> None:
        super().__init__()
        if future > history:
            raise ValueError("HI needs future <= history")
        self.history, self.future = history, future

    def forward(self, x: Tensor) -> Tensor:  # x: (B, L, N, C) -> (B, F, N)
        return x[:, self.history - self.future : self.history, :, 0]


class DLinear(nn.Module):
    """DLinear (Zeng et al. 2023): moving-average decomposition + two linear maps over time.

    Shared across nodes (``individual=False``, the BasicTS default), kernel 25 with edge
    replication; input is the z-scored value channel only.
    """

    def __init__(self, history: int = 30, future: int = 30, kernel: int = 25) -> None:
        super().__init__()
        self.kernel = kernel
        self.seasonal = nn.Linear(history, future)
        self.trend = nn.Linear(history, future)

    def forward(self, x: Tensor) -> Tensor:
        v = x[..., 0].transpose(1, 2)  # (B, N, L)
        pad = (self.kernel - 1) // 2
        padded = torch.cat(
            [v[..., :1].expand(-1, -1, pad), v, v[..., -1:].expand(-1, -1, self.kernel - 1 - pad)],
            dim=-1,
        )
        trend = padded.unfold(-1, self.kernel, 1).mean(-1)
        out: Tensor = self.seasonal(v - trend) + self.trend(trend)
        return out.transpose(1, 2)  # (B, F, N)


class STID(nn.Module):
    """STID (Shao et al. 2022): spatial identity + temporal identity embeddings and an MLP.

    The time series of each node (``history`` steps, value channel) is embedded by a 1x1
    convolution; concatenated with a learned node embedding and day-of-month (31) and
    month-of-year (12) embeddings taken at the last history step (Terra's daily data
    replaces STID's time-of-day / day-of-week). Paper defaults: embedding 32, 3 residual
    MLP layers. ``embed`` is smaller in the tiny test config. ``identities=False`` is the
    ablation without the spatial and temporal identity embeddings (the paper's component).
    """

    def __init__(
        self,
        num_nodes: int,
        history: int = 30,
        future: int = 30,
        embed: int = 32,
        layers: int = 3,
        dropout: float = 0.15,
        identities: bool = True,
    ) -> None:
        super().__init__()
        self.identities = identities
        self.node_emb = nn.Parameter(torch.empty(num_nodes, embed))
        self.day_emb = nn.Parameter(torch.empty(31, embed))
        self.month_emb = nn.Parameter(torch.empty(12, embed))
        for p in (self.node_emb, self.day_emb, self.month_emb):
            nn.init.xavier_uniform_(p)
        self.ts_emb = nn.Conv2d(history, embed, kernel_size=1)
        hidden = 4 * embed if identities else embed
        self.encoder = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(hidden, hidden, 1),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Conv2d(hidden, hidden, 1),
            )
            for _ in range(layers)
        )
        self.regression = nn.Conv2d(hidden, future, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:  # (B, L, N, 3) -> (B, F, N)
        b, _, n, _ = x.shape
        ts = self.ts_emb(x[..., 0].unsqueeze(-1))  # (B, E, N, 1)
        day = (x[:, -1, :, 1] * 31).round().long().clamp(0, 30)
        month = (x[:, -1, :, 2] * 12).round().long().clamp(0, 11)
        parts = [
            ts,
            self.node_emb.T.unsqueeze(0).expand(b, -1, -1).unsqueeze(-1),
            self.day_emb[day].transpose(1, 2).unsqueeze(-1),
            self.month_emb[month].transpose(1, 2).unsqueeze(-1),
        ]
        h = torch.cat(parts if self.identities else parts[:1], dim=1)
        for layer in self.encoder:
            h = h + layer(h)
        out: Tensor = self.regression(h)
        return out.squeeze(-1)  # (B, F, N)


def _lightning_module() -> Any:
    import lightning as L

    class _Lit(L.LightningModule):
        def __init__(self, net: nn.Module, mean: float, std: float, lr: float, wd: float) -> None:
            super().__init__()
            self.net, self.mean, self.std, self.lr, self.wd = net, mean, std, lr, wd

        def forward(self, x: Tensor) -> Tensor:
            out: Tensor = self.net(x)
            return out * self.std + self.mean  # mm/day

        def training_step(self, batch: tuple[Tensor, Tensor], _: int) -> Tensor:
            x, y = batch
            return masked_mae(self(x), y)

        def configure_optimizers(self) -> Any:
            return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.wd)

    return _Lit


def LitForecaster(
    net: nn.Module, mean: float, std: float, lr: float = 2e-3, wd: float = 1e-4
) -> Any:
    """A LightningModule training ``net`` with masked MAE in mm/day (Adam 2e-3, wd 1e-4)."""
    return _lightning_module()(net, mean, std, lr, wd)


@torch.no_grad()
def predict_mm(
    net: nn.Module, x: NDArray[np.float32], mean: float, std: float, batch: int = 256
) -> NDArray[np.float32]:
    """Forecasts in mm/day for inputs ``x`` (S, L, N, 3) -> (S, F, N)."""
    net.eval()
    out = [
        net(torch.from_numpy(np.ascontiguousarray(x[i : i + batch])))
        for i in range(0, len(x), batch)
    ]
    return (torch.cat(out).numpy() * std + mean).astype(np.float32)
