"""Terra's graph and transformer forecasting baselines: STGCN (torch_geometric) and PatchTST.

Both map the published input ``x (B, 30, N, 3)`` (z-scored rainfall, day/31, month/12) to a
z-scored forecast ``(B, F, N)`` like :class:`~geoneurips.forecasting.terra.model.STID`, and
train with the same masked MAE (null 0) through
:func:`~geoneurips.forecasting.terra.model.LitForecaster`.

* :class:`STGCN` (Yu et al., IJCAI 2018, Sec. 3): two ST-Conv blocks, each a gated temporal
  convolution (GLU, ``Kt = 3``), a Chebyshev graph convolution (``Ks = 3``, ReLU) on the
  released adjacency, a second gated temporal convolution and a
  layer norm over (nodes, channels); then an output block (gated temporal convolution over
  the remaining steps, layer norm, two 1x1 layers) emitting all ``F`` horizons at once, as
  BasicTS's STGCN does. Paper channels ``(64, 16, 64)``; the demo uses ``(32, 8, 32)`` to fit
  the CPU budget. Input: all three channels. The graph convolution is
  :class:`DenseChebConv`: ``torch_geometric``'s ``ChebConv`` (symmetric normalisation,
  ``lambda_max = 2``) computed with the dense ``N x N`` scaled Laplacian instead of message
  passing, equal to it to float precision (``tests/forecasting/test_terra_model.py`` compares
  the two with shared weights) and about 2.9x faster per training step on Terra's 100-node
  graphs, where gathers and scatters over ``(B, T, E, C)`` took most of the demo's CPU time
  (``benchmarks/terra_stgcn.py``).
* :class:`PatchTST` (Nie et al., ICLR 2023, Sec. 3.1): channel independence (each node's
  series alone), RevIN (instance normalisation, undone at the output), patches of length
  ``P`` with stride ``S`` after padding the end with ``S`` copies of the last value, a
  learned positional embedding, a Transformer encoder (batch norm, GELU) and a flatten head.
  Paper defaults for long horizons: ``P = 16, S = 8``, 3 layers, ``d = 128``, 16 heads; the
  30-step history here uses ``P = 6, S = 3`` (10 patches), 2 layers, ``d = 64``, 4 heads.
  Input: the value channel only (PatchTST is univariate per channel).
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from geoneurips.errors import InvalidInputError

__all__ = ["DenseChebConv", "PatchTST", "STGCN", "edge_index_from_adjacency", "scaled_laplacian"]


def edge_index_from_adjacency(adj: NDArray[np.floating] | Tensor) -> Tensor:
    """``(2, E)`` edge index of a square (binary or weighted) adjacency, self-loops dropped."""
    a = torch.as_tensor(np.asarray(adj), dtype=torch.float32)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise InvalidInputError(f"adjacency must be square 2-D, got {tuple(a.shape)}")
    a = a.clone()
    a.fill_diagonal_(0.0)
    return (a != 0).nonzero().T.contiguous()


def scaled_laplacian(adj: NDArray[np.floating] | Tensor) -> Tensor:
    """``2 L / lambda_max - I`` with ``L = I - D^-1/2 A D^-1/2`` and ``lambda_max = 2``.

    ``A`` is the binary graph of ``adj``'s non-zero off-diagonal entries (the edges
    :func:`edge_index_from_adjacency` keeps); isolated nodes get a zero row, as in
    ``torch_geometric``'s ``get_laplacian``. The result is ``-D^-1/2 A D^-1/2``.
    """
    idx = edge_index_from_adjacency(adj)
    n = int(np.asarray(adj).shape[0])
    a = torch.zeros(n, n)
    a[idx[0], idx[1]] = 1.0
    deg = a.sum(1)
    inv = torch.where(deg > 0, deg.clamp(min=1e-12).rsqrt(), torch.zeros_like(deg))
    return -(inv[:, None] * a * inv[None, :])


class DenseChebConv(nn.Module):
    """Chebyshev graph convolution of order ``K`` on a fixed graph (Defferrard et al. 2016).

    ``out = sum_k T_k(L~) X W_k + b`` with ``T_0 = X``, ``T_1 = L~ X``,
    ``T_k = 2 L~ T_{k-1} - T_{k-2}`` and ``L~`` from :func:`scaled_laplacian`, applied on the
    node axis ``-2`` of ``(..., N, C_in)``. Parameters are named and initialised as in
    ``torch_geometric.nn.ChebConv`` (``lins.k.weight`` Glorot-uniform, ``bias`` zero), so
    the two load each other's state dicts.
    """

    lap: Tensor

    def __init__(self, c_in: int, c_out: int, K: int, adjacency: NDArray[np.floating] | Tensor):
        super().__init__()
        if K < 1:
            raise InvalidInputError(f"Chebyshev order K must be >= 1, got {K}")
        self.register_buffer("lap", scaled_laplacian(adjacency))
        self.lins = nn.ModuleList([nn.Linear(c_in, c_out, bias=False) for _ in range(K)])
        self.bias = nn.Parameter(torch.zeros(c_out))
        for lin in self.lins:
            assert isinstance(lin, nn.Linear)
            nn.init.xavier_uniform_(lin.weight)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2] != self.lap.shape[0]:
            raise InvalidInputError(
                f"input has {x.shape[-2]} nodes on axis -2, the graph has {self.lap.shape[0]}"
            )
        # sum_k T_k(L~) (X W_k) by Clenshaw's recurrence: the channel maps first (one GEMM),
        # then K-1 graph products on the (usually fewer) output channels instead of the
        # input channels (STGCN (32, 8, 32): 4x fewer multiply-adds in the graph products).
        # Equal to the textbook recursion on X up to float rounding (the test compares both
        # with torch_geometric's ChebConv).
        k = len(self.lins)
        c_out = self.bias.shape[0]
        weights: list[Tensor] = [lin.weight for lin in self.lins]  # type: ignore[misc]
        ys = torch.split(torch.matmul(x, torch.cat(weights, 0).T), c_out, dim=-1)  # X W_k
        if k == 1:
            single: Tensor = ys[0] + self.bias
            return single
        b_next: Tensor | None = None  # b_{k+2}
        b_cur = ys[k - 1]  # b_{K-1}
        for j in range(k - 2, 0, -1):
            b_new = ys[j] + 2.0 * self._graph(b_cur)
            if b_next is not None:
                b_new = b_new - b_next
            b_next, b_cur = b_cur, b_new
        out = ys[0] + self._graph(b_cur)
        if b_next is not None:
            out = out - b_next
        result: Tensor = out + self.bias
        return result

    def _graph(self, t: Tensor) -> Tensor:
        """``L~ t`` on the node axis -2, as one GEMM over every leading index and channel."""
        out: Tensor = torch.matmul(t.transpose(-1, -2), self.lap.T).transpose(-1, -2)
        return out


class _GatedTemporalConv(nn.Module):
    """``(P + x_in) * sigmoid(Q)`` with ``[P, Q] = Conv(kt x 1)`` (STGCN Eq. 8, GLU)."""

    def __init__(self, c_in: int, c_out: int, kt: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, 2 * c_out, (kt, 1))
        self.align = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.kt = kt

    def forward(self, x: Tensor) -> Tensor:  # (B, C, T, N) -> (B, C', T-kt+1, N)
        p, q = self.conv(x).chunk(2, dim=1)
        res = self.align(x)[:, :, self.kt - 1 :]
        out: Tensor = (p + res) * torch.sigmoid(q)
        return out


class _STConvBlock(nn.Module):
    def __init__(
        self,
        c_in: int,
        c_t: int,
        c_s: int,
        c_out: int,
        adjacency: NDArray[np.floating] | Tensor,
        kt: int,
        ks: int,
    ) -> None:
        super().__init__()
        nodes = int(np.asarray(adjacency).shape[0])
        self.t1 = _GatedTemporalConv(c_in, c_t, kt)
        self.graph = DenseChebConv(c_t, c_s, ks, adjacency)
        self.t2 = _GatedTemporalConv(c_s, c_out, kt)
        self.norm = nn.LayerNorm([nodes, c_out])
        self.drop = nn.Dropout(0.1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.t1(x).permute(0, 2, 3, 1)  # (B, T, N, C): the graph axis is -2
        h = torch.relu(self.graph(h)).permute(0, 3, 1, 2)
        h = self.t2(h)  # (B, C, T, N)
        out: Tensor = self.drop(self.norm(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
        return out


class STGCN(nn.Module):
    """STGCN with Chebyshev graph convolutions on ``adjacency`` (see the module docstring)."""

    def __init__(
        self,
        adjacency: NDArray[np.floating] | Tensor,
        history: int = 30,
        future: int = 30,
        channels: tuple[int, int, int] = (64, 16, 64),
        kt: int = 3,
        ks: int = 3,
        in_dim: int = 3,
    ) -> None:
        super().__init__()
        nodes = int(np.asarray(adjacency).shape[0])
        c_t, c_s, c_out = channels
        self.blocks = nn.ModuleList(
            [
                _STConvBlock(in_dim, c_t, c_s, c_out, adjacency, kt, ks),
                _STConvBlock(c_out, c_t, c_s, c_out, adjacency, kt, ks),
            ]
        )
        rest = history - 4 * (kt - 1)
        if rest < 1:
            raise InvalidInputError(f"history {history} too short for two blocks with Kt={kt}")
        self.out_t = _GatedTemporalConv(c_out, c_out, rest)
        self.out_norm = nn.LayerNorm([nodes, c_out])
        self.out_fc = nn.Sequential(
            nn.Conv2d(c_out, c_out, 1), nn.ReLU(), nn.Conv2d(c_out, future, 1)
        )

    def forward(self, x: Tensor) -> Tensor:  # (B, L, N, C) -> (B, F, N)
        h = x.permute(0, 3, 1, 2)  # (B, C, L, N)
        for block in self.blocks:
            h = block(h)
        h = self.out_t(h)  # (B, C, 1, N)
        h = self.out_norm(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        out: Tensor = self.out_fc(h)  # (B, F, 1, N)
        return out.squeeze(2)


class PatchTST(nn.Module):
    """Channel-independent patch Transformer with RevIN (see the module docstring)."""

    def __init__(
        self,
        history: int = 30,
        future: int = 30,
        patch: int = 6,
        stride: int = 3,
        d_model: int = 64,
        heads: int = 4,
        layers: int = 2,
        ff: int = 128,
        dropout: float = 0.1,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if patch > history:
            raise InvalidInputError(f"patch {patch} longer than the history {history}")
        self.patch, self.stride, self.eps = patch, stride, eps
        n_patches = (history + stride - patch) // stride + 1
        self.embed = nn.Linear(patch, d_model)
        self.pos = nn.Parameter(torch.empty(n_patches, d_model).uniform_(-0.02, 0.02))
        self.layers = nn.ModuleList(_PatchLayer(d_model, heads, ff, dropout) for _ in range(layers))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(n_patches * d_model, future)
        self.rev_w = nn.Parameter(torch.ones(1))
        self.rev_b = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:  # (B, L, N, C) -> (B, F, N)
        b, _, n, _ = x.shape
        v = x[..., 0].transpose(1, 2).reshape(b * n, -1)  # (B*N, L)
        mu = v.mean(1, keepdim=True)
        sd = torch.sqrt(v.var(1, keepdim=True, unbiased=False) + self.eps)
        v = (v - mu) / sd * self.rev_w + self.rev_b  # RevIN
        v = torch.cat([v, v[:, -1:].expand(-1, self.stride)], dim=1)
        patches = v.unfold(1, self.patch, self.stride)  # (B*N, P_n, patch)
        h = self.drop(self.embed(patches) + self.pos)
        for layer in self.layers:
            h = layer(h)
        out: Tensor = self.head(h.flatten(1))
        out = (out - self.rev_b) / (self.rev_w + self.eps * self.eps) * sd + mu
        return out.view(b, n, -1).transpose(1, 2)


class _PatchLayer(nn.Module):
    """Post-norm Transformer encoder layer with batch norm (PatchTST's choice over LayerNorm)."""

    def __init__(self, d: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.BatchNorm1d(d)
        self.ffn = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, d))
        self.norm2 = nn.BatchNorm1d(d)
        self.drop = nn.Dropout(dropout)

    def _bn(self, norm: nn.BatchNorm1d, h: Tensor) -> Tensor:
        out: Tensor = norm(h.transpose(1, 2)).transpose(1, 2)
        return out

    def forward(self, h: Tensor) -> Tensor:
        a, _ = self.attn(h, h, h, need_weights=False)
        h = self._bn(self.norm1, h + self.drop(a))
        ffn: Tensor = self.ffn(h)
        return self._bn(self.norm2, h + self.drop(ffn))
