"""SolarCube benchmark models (paper Sec. 4; public code ``Ruohan-Li/SolarCube/model``).

Point level (``(B, T_in, C_in) -> (B, T_out, C_out)``):

- :class:`LSTMEncDec`: the public Keras encoder-decoder (LSTM encoder, its last state
  repeated over the output steps, LSTM decoder, per-step dense head), MSE loss.
- :class:`AttentionLSTM`: the same with Luong dot-product attention of every decoder state
  over the encoder states (the public "attention LSTM").
- :class:`PatchTST`: Nie et al. 2023 as used by the benchmark: RevIN, channel independence,
  patches embedded linearly, a Transformer encoder, a flatten head. Paper defaults d_model 128,
  16 heads, 3 layers, d_ff 256, patch 16 / stride 8 for 96-step inputs; for the 12-step short
  task the default patch is 4 / stride 2 (a 16-step patch does not fit 12 steps). Deliberate
  difference: LayerNorm in the encoder (PatchTST's public default is BatchNorm).

Area level (``(B, T_in, C, H, W) -> (B, T_out, C, H, W)``):

- :class:`ConvLSTM`: stacked ConvLSTM cells (Shi et al. 2015), encoder then decoder started
  from the encoder states. Deliberate differences from the public ConvLSTM-PyTorch
  Forecaster: no strided down/up-sampling stages (our demo tiles are 16 x 16), and the
  decoder is fed its previous prediction (the last observed frame first) instead of nothing.
- :class:`CuboidTransformer`: a small Earthformer-style model (Gao et al. 2022): patch
  embedding, cuboid self-attention with the axial pattern ``(T,1,1) -> (1,h,1) -> (1,1,w)`` in
  encoder and decoder, decoder queries initialised from the last encoded frame plus a
  learned lead embedding, cross-attention to the encoder memory along time at each location.
  It omits Earthformer's hierarchy, global vectors and the other cuboid patterns.

``residual=True`` (area models) adds the last observed frame to the output, so the network
predicts the change; the paper's models predict the field itself (``residual=False``). On the
``normalize_max`` ratio, the last frame is smart persistence, so a residual model predicts
the change over smart persistence in clear-sky-index space. ``scale=(mean, std)`` (area
models) standardises the input inside the model and undoes it on the output, so the cells
see unit-scale values (the ratio's spread is about 0.2 around 0.45); the default ``(0, 1)``
leaves values as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = [
    "AttentionLSTM",
    "ConvLSTM",
    "ConvLSTMCell",
    "CuboidTransformer",
    "LSTMEncDec",
    "PatchTST",
    "PointConfig",
    "RevIN",
]


@dataclass(frozen=True)
class PointConfig:
    """Shapes of a point task: published short = 12 -> 12, long = 96 -> 96."""

    input_len: int = 12
    output_len: int = 12
    in_channels: int = 5
    out_channels: int = 1


class LSTMEncDec(nn.Module):
    """LSTM encoder-decoder (public Keras model: LSTM -> RepeatVector -> LSTM -> Dense)."""

    def __init__(self, cfg: PointConfig, hidden: int = 64, layers: int = 1) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = nn.LSTM(cfg.in_channels, hidden, layers, batch_first=True)
        self.decoder = nn.LSTM(hidden, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, cfg.out_channels)

    def forward(self, x: Tensor) -> Tensor:
        _, (h, c) = self.encoder(x)
        rep = h[-1].unsqueeze(1).expand(-1, self.cfg.output_len, -1)
        out, _ = self.decoder(rep, (h, c))
        y: Tensor = self.head(out)
        return y


class AttentionLSTM(nn.Module):
    """Encoder-decoder LSTM with Luong dot-product attention over the encoder states."""

    def __init__(self, cfg: PointConfig, hidden: int = 64, layers: int = 1) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = nn.LSTM(cfg.in_channels, hidden, layers, batch_first=True)
        self.decoder = nn.LSTM(hidden, hidden, layers, batch_first=True)
        self.head = nn.Linear(2 * hidden, cfg.out_channels)

    def forward(self, x: Tensor) -> Tensor:
        enc, (h, c) = self.encoder(x)
        rep = h[-1].unsqueeze(1).expand(-1, self.cfg.output_len, -1)
        dec, _ = self.decoder(rep, (h, c))
        att = torch.softmax(dec @ enc.transpose(1, 2) / enc.shape[-1] ** 0.5, dim=-1)
        ctx = att @ enc
        y: Tensor = self.head(torch.cat([dec, ctx], dim=-1))
        return y


class RevIN(nn.Module):
    """Reversible instance normalisation (Kim et al. 2022), per sample and channel."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def norm(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mean = x.mean(dim=1, keepdim=True).detach()
        std = (x.var(dim=1, keepdim=True, unbiased=False) + self.eps).sqrt().detach()
        return (x - mean) / std * self.weight + self.bias, mean, std

    def denorm(self, y: Tensor, mean: Tensor, std: Tensor) -> Tensor:
        return (y - self.bias) / (self.weight + self.eps**2) * std + mean


class PatchTST(nn.Module):
    """PatchTST (channel-independent patch Transformer); predicts every input channel.

    ``target_index`` picks the channels returned (the benchmark's target, e.g. ``insitu``).
    """

    def __init__(self, cfg: PointConfig, target_index: tuple[int, ...] = (-1,),
                 patch_len: int | None = None, stride: int | None = None, d_model: int = 128,
                 n_heads: int = 16, layers: int = 3, d_ff: int = 256,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.cfg = cfg
        self.target_index = list(target_index)
        self.patch_len = patch_len or (16 if cfg.input_len >= 32 else 4)
        self.stride = stride or self.patch_len // 2
        n_patch = (cfg.input_len - self.patch_len) // self.stride + 2  # end padding adds one
        self.revin = RevIN(cfg.in_channels)
        self.embed = nn.Linear(self.patch_len, d_model)
        self.pos = nn.Parameter(torch.randn(1, n_patch, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, batch_first=True,
                                           activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(n_patch * d_model, cfg.output_len)

    def forward(self, x: Tensor) -> Tensor:
        b, _, c = x.shape
        z, mean, std = self.revin.norm(x)
        z = z.transpose(1, 2)  # B, C, T
        z = torch.cat([z, z[..., -1:].expand(-1, -1, self.stride)], dim=-1)
        patches = z.unfold(-1, self.patch_len, self.stride)  # B, C, N, P
        tok = self.embed(patches.reshape(b * c, -1, self.patch_len)) + self.pos
        enc = self.encoder(tok)
        y = self.head(enc.reshape(b, c, -1)).transpose(1, 2)  # B, T_out, C
        y = self.revin.denorm(y, mean, std)
        return y[..., self.target_index]


class ConvLSTMCell(nn.Module):
    """ConvLSTM cell: the four gates from one convolution of ``[input, hidden]``."""

    def __init__(self, in_ch: int, hidden: int, kernel: int = 5) -> None:
        super().__init__()
        self.hidden = hidden
        self.conv = nn.Conv2d(in_ch + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = state
        i, f, o, g = torch.chunk(self.conv(torch.cat([x, h], dim=1)), 4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class ConvLSTM(nn.Module):
    """Encoder-decoder ConvLSTM for ``(B, T_in, C, H, W) -> (B, T_out, C, H, W)``."""

    def __init__(self, channels: int = 1, output_len: int = 12,
                 hidden: tuple[int, ...] = (64, 64, 64), kernel: int = 5,
                 residual: bool = False, feed_predictions: bool = True,
                 scale: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__()
        self.feed_predictions = feed_predictions
        self.shift, self.scale = float(scale[0]), float(scale[1])
        self.output_len, self.residual, self.hidden = output_len, residual, list(hidden)
        dims = [channels, *hidden]
        self.enc = nn.ModuleList(ConvLSTMCell(dims[i], dims[i + 1], kernel)
                                 for i in range(len(hidden)))
        self.dec = nn.ModuleList(ConvLSTMCell(dims[i], dims[i + 1], kernel)
                                 for i in range(len(hidden)))
        self.head = nn.Conv2d(hidden[-1], channels, 1)

    def _step(self, cells: nn.ModuleList, x: Tensor,
              states: list[tuple[Tensor, Tensor]]) -> Tensor:
        for k, cell in enumerate(cells):
            states[k] = cell(x, states[k])
            x = states[k][0]
        return x

    def forward(self, x: Tensor) -> Tensor:
        x = (x - self.shift) / self.scale
        b, t, _, hgt, wid = x.shape
        states = [(x.new_zeros(b, n, hgt, wid), x.new_zeros(b, n, hgt, wid))
                  for n in self.hidden]
        for s in range(t):
            self._step(self.enc, x[:, s], states)
        last = prev = x[:, -1]
        outs = []
        for _ in range(self.output_len):
            top = self._step(self.dec, prev, states)
            pred = self.head(top) + (last if self.residual else 0.0)
            outs.append(pred)
            prev = pred if self.feed_predictions else last
        return torch.stack(outs, dim=1) * self.scale + self.shift


class _CuboidBlock(nn.Module):
    """Pre-norm block: attention inside cuboids of size ``(bt, bh, bw)`` then an MLP."""

    def __init__(self, dim: int, heads: int, cuboid: tuple[int, int, int],
                 cross: bool = False) -> None:
        super().__init__()
        self.cuboid, self.cross = cuboid, cross
        self.n1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.n2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    @staticmethod
    def _split(z: Tensor, cub: tuple[int, int, int]) -> Tensor:
        b, t, h, w, d = z.shape
        bt, bh, bw = min(cub[0], t), min(cub[1], h), min(cub[2], w)
        z = z.reshape(b, t // bt, bt, h // bh, bh, w // bw, bw, d)
        return z.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, bt * bh * bw, d)

    @staticmethod
    def _merge(z: Tensor, shape: tuple[int, ...], cub: tuple[int, int, int]) -> Tensor:
        b, t, h, w, d = shape
        bt, bh, bw = min(cub[0], t), min(cub[1], h), min(cub[2], w)
        z = z.reshape(b, t // bt, h // bh, w // bw, bt, bh, bw, d)
        return z.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, t, h, w, d)

    def forward(self, z: Tensor, memory: Tensor | None = None) -> Tensor:
        q = self._split(self.n1(z), self.cuboid)
        if self.cross and memory is not None:
            kv = self._split(memory, (memory.shape[1], *self.cuboid[1:]))
        else:
            kv = q
        a, _ = self.attn(q, kv, kv, need_weights=False)
        z = z + self._merge(a, tuple(z.shape), self.cuboid)
        out: Tensor = z + self.mlp(self.n2(z))
        return out


class CuboidTransformer(nn.Module):
    """Small Earthformer-style cuboid-attention encoder-decoder (see the module docstring).

    Earthformer's SolarCube configs use axial / divided space-time / video-swin cuboid
    patterns with AdamW lr 1e-3 and a cosine schedule; this model implements the axial one.
    """

    def __init__(self, channels: int = 1, input_len: int = 12, output_len: int = 12,
                 size: tuple[int, int] = (24, 24), patch: int = 2, dim: int = 64,
                 heads: int = 4, depth: int = 2, residual: bool = False,
                 scale: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__()
        self.output_len, self.patch, self.residual = output_len, patch, residual
        self.shift, self.scale = float(scale[0]), float(scale[1])
        h, w = size[0] // patch, size[1] // patch
        self.embed = nn.Conv2d(channels, dim, patch, stride=patch)
        self.pos_t = nn.Parameter(torch.randn(1, input_len, 1, 1, dim) * 0.02)
        self.pos_hw = nn.Parameter(torch.randn(1, 1, h, w, dim) * 0.02)
        self.lead = nn.Parameter(torch.randn(1, output_len, 1, 1, dim) * 0.02)
        axial = [(input_len, 1, 1), (1, h, 1), (1, 1, w)]
        self.encoder = nn.ModuleList(_CuboidBlock(dim, heads, axial[i % 3])
                                     for i in range(3 * depth))
        dec_axial = [(output_len, 1, 1), (1, h, 1), (1, 1, w)]
        self.decoder = nn.ModuleList(_CuboidBlock(dim, heads, dec_axial[i % 3])
                                     for i in range(3 * depth))
        self.cross = nn.ModuleList(_CuboidBlock(dim, heads, (output_len, 1, 1), cross=True)
                                   for _ in range(depth))
        self.head = nn.Linear(dim, channels * patch * patch)

    def forward(self, x: Tensor) -> Tensor:
        x = (x - self.shift) / self.scale
        b, t, c, hh, ww = x.shape
        p = self.patch
        z = self.embed(x.reshape(b * t, c, hh, ww))
        z = z.reshape(b, t, *z.shape[1:]).permute(0, 1, 3, 4, 2) + self.pos_t + self.pos_hw
        for blk in self.encoder:
            z = blk(z)
        q = z[:, -1:].expand(-1, self.output_len, -1, -1, -1) + self.lead
        for i, blk in enumerate(self.decoder):
            q = blk(q)
            if i % 3 == 2:
                q = self.cross[i // 3](q, z)
        y = self.head(q)  # B, T_out, h, w, c*p*p
        h, w = y.shape[2], y.shape[3]
        y = y.reshape(b, self.output_len, h, w, c, p, p).permute(0, 1, 4, 2, 5, 3, 6)
        y = y.reshape(b, self.output_len, c, hh, ww)
        out: Tensor = y + x[:, -1:] if self.residual else y
        return out * self.scale + self.shift
