"""IDEE: identifying the drivers of extreme events (Shams Eddin et al., NeurIPS 2024, Sec. 3).

``x (N, V, 1, T, H, W)`` -> per-variable 3-D CNN encoders (Sec. 3.1) -> a lookup-free
quantiser with codebook size 2 (Sec. 3.2) whose bit is the driver mask ``(N, V, T, H, W)``
-> a 3-D CNN classifier with a joint head over all variables and one head per variable
(Sec. 3.3) -> extreme logits ``(N, 1, H, W)`` at the window's last step.

Loss (Sec. 3.4, public ``train_synthetic.py``):
``BCE_w(joint) + sum_v BCE_w(head_v) + L_LFQ + lambda_anom * L_anom`` with

- ``BCE_w``: per-batch class weights ``log((freq_c / sum freq)^-0.5 + 1.1)``;
- ``L_LFQ = 3.0 * commitment MSE + 0.1 * (per-sample entropy - codebook entropy)``, code
  probabilities ``softmax(100 * 2 z c)`` (inverse temperature 100);
- ``L_anom``: L1 between ``z_q`` and the normal code ``project_out(-1)`` on the cells of
  pixels with no extreme (any class > 0) in the window, ``lambda_anom = 100``.

Written from the paper and the public code's structure (``HakamShams/IDEE``), not copied.
The encoder follows the public ``CNN_3D``: per cell a bias-free 1x1x1 embedding with an
affine-free channel LayerNorm, residual blocks ``x + relu(LN(conv(x)))`` with per-cell
channel LayerNorms and replicate padding, then ``conv3 -> ReLU -> conv3``. The public entropy
term ``0.1 * per-sample - diversity_gamma (0.1) * codebook`` equals ours
(``lambda_entropy * (per-sample - gamma * codebook)`` with ``gamma = 1``).

The public embedding (1x1x1 bias-free convolution + affine-free channel LayerNorm) on the
synthetic cubes' single input channel keeps only ``sign(x)`` of a normalised value once
``|x| std(w) > sqrt(1e-5)``: the anomaly's magnitude never reaches the encoder. Kept as the
default (``embed_norm=True``); ``embed_norm=False`` drops that LayerNorm (measured in the
package notes: the quantiser-free ablation's extreme F1 0.61 -> 0.71 on dev seed 10).

Deliberate differences: PyTorch's default initialisation (the default here) instead of the public
``normal(mean=0.02, std=0.02)`` for every convolution and linear layer (``IDEEConfig(init=
"public")`` gives the public one, :func:`public_init`); windows in chronological order (the
public loader reverses time; the classifier's pairwise stride-2 collapse is the same up to its
learned weights); the tiny config (widths ``(8,)``, dimension 8); the demo's batch 8 and
per-step cosine (the public run: batch 1, 100 epochs, :func:`published_lr` per epoch, whose
first two epochs run at 1e-6).

Checked line by line against the public code and equal here: Adam with coupled L2 weight
decay 0.003 (``torch.optim.Adam``, not AdamW), lr 1e-3, betas (0.9, 0.999), no gradient
clipping (commented out); LFQ with ``dim 16 != 1`` so ``project_in`` / ``project_out``
exist, codebook scale 1, sign quantisation with the straight-through ``x + sg(q - x)``,
entropies of ``softmax(-(-2 u c) * 100)`` over the two codes, commitment ``MSE(u, sg(q))``
mean over cells; ``BCE_w`` mean over ``N x H x W`` pixels with ``histc``-frequency weights;
``L_anom`` on ``z_q`` against ``indices_to_codes(0) = project_out(-1)`` detached, mean over
the ``(V, D, T)`` cells of pixels with no class > 0 in the window; label ``extreme[t_last]
== 1``; climatology ``(x - median) / std`` of the training part, clipped to +-10.

Why the 1-bit code stays constant (measured; ``tests/forecasting/test_idee_gradients.py``):
the BCE's gradient on a code points the right way (up on driver cells, down elsewhere) but
is far below the commitment's restoring force ``6 |u - sign u| / M`` that a code at -1 must
overcome to cross 0 (8x after 500 steps, ~200x at init), so with PyTorch's init every bit
locks at "normal". With the public init (:func:`public_init`) every bit starts at "driver";
``L_anom``'s push on a calm code, ``100 mean|W_d| / M`` through ``z_q - project_out(-1) = W (q
+ 1)``, is below the commitment's ``6 (1 - u) / M`` at the init's ``|W_d| ~ 0.03``, so the
codes settle above 0 and ``W`` then shrinks (at ``W = 0`` the BCE's gradient on the codes is
exactly 0); at the paper size the codes start at +25 to +50 and each variable's bit ends
constant (all "normal", all "driver", or one variable on and five off, by seed). Each end state is a fixed point (2000+ steps change nothing;
the public per-epoch schedule neither); a commitment weight of 0.3 (not the paper's 3.0) lets
the bit learn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "IDEEConfig",
    "IDEEModel",
    "IDEEOutput",
    "LFQ",
    "PlainClassifier",
    "VarEncoder",
    "Classifier3D",
    "anomaly_loss",
    "anomaly_loss_code",
    "class_weights",
    "public_init",
    "published_lr",
    "weighted_bce",
]


@dataclass(frozen=True)
class IDEEConfig:
    """Paper defaults (``config.py`` of the public code); :meth:`tiny` for tests and demo.
    ``embed_norm``: the public embedding's channel LayerNorm (sign-only on one channel).
    ``init``: ``"torch"`` (PyTorch's defaults, the demo's) or ``"public"`` (:func:`public_init`,
    what the public ``VQ_model`` applies to every module)."""

    n_vars: int = 6
    window: int = 8
    widths: tuple[int, ...] = (16, 16)
    codebook_dim: int = 16
    cls_dim: int = 16
    drop_rate: float = 0.0  # public config.py: cls_drop_rate 0.0
    lambda_commitment: float = 3.0
    lambda_entropy: float = 0.1
    diversity_gamma: float = 1.0
    inv_temperature: float = 100.0
    lambda_anomaly: float = 100.0
    embed_norm: bool = True
    init: str = "torch"  # "public": the public build.py's normal(0.02, 0.02) (public_init)

    @classmethod
    def tiny(cls, n_vars: int = 6) -> IDEEConfig:
        return cls(n_vars=n_vars, widths=(8,), codebook_dim=8, cls_dim=8, drop_rate=0.0)


def _cell_norm(norm: nn.LayerNorm, x: Tensor) -> Tensor:
    """LayerNorm over the channels of each cell ``(N, C, T, H, W)``, as the public encoder
    does (channels-last ``LayerNorm(C)``): a cell's features never depend on other cells."""
    out: Tensor = norm(x.movedim(1, -1)).movedim(-1, 1)
    return out


class _Embed3d(nn.Module):
    """The public ``PatchEmbed3D`` with patch (1, 1, 1): a bias-free 1x1x1 convolution and an
    affine-free LayerNorm over the channels of each cell. With one input channel the cell's
    embedding is ``w x`` and the norm keeps about ``sign(x)`` once ``|x| std(w)`` exceeds
    ``sqrt(eps)`` (a property of the published design, kept)."""

    def __init__(self, cin: int, cout: int, norm: bool = True) -> None:
        super().__init__()
        self.proj = nn.Conv3d(cin, cout, 1, bias=False)
        self.norm = nn.LayerNorm(cout, elementwise_affine=False) if norm else None

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.proj(x)
        return y if self.norm is None else _cell_norm(self.norm, y)


class _ResBlock3d(nn.Module):
    """The public ``conv_block``: ``x + relu(LN(conv(x)))`` twice, 3x3x3 bias-free
    convolutions with replicate padding, per-cell channel LayerNorm; an :class:`_Embed3d`
    first when the width changes."""

    def __init__(self, cin: int, cout: int, embed_norm: bool = True) -> None:
        super().__init__()
        self.embed = _Embed3d(cin, cout, embed_norm) if cin != cout else None
        self.conv1 = nn.Conv3d(cout, cout, 3, padding=1, padding_mode="replicate", bias=False)
        self.conv2 = nn.Conv3d(cout, cout, 3, padding=1, padding_mode="replicate", bias=False)
        self.n1 = nn.LayerNorm(cout)
        self.n2 = nn.LayerNorm(cout)

    def forward(self, x: Tensor) -> Tensor:
        if self.embed is not None:
            x = self.embed(x)
        x = x + F.relu(_cell_norm(self.n1, self.conv1(x)))
        return x + F.relu(_cell_norm(self.n2, self.conv2(x)))


class _GNResBlock3d(nn.Module):
    """The plain classifier's residual block (GroupNorm, zero padding, leaky ReLU): smooth
    in the input, which Integrated Gradients' path integral from a zero baseline needs (the
    per-cell LayerNorms of the IDEE encoder are nearly scale-invariant near 0)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv3d(cout, cout, 3, padding=1)
        self.n1 = nn.GroupNorm(1, cout)
        self.n2 = nn.GroupNorm(1, cout)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = F.leaky_relu(self.n1(self.conv1(x)), 0.2)
        y = self.n2(self.conv2(y))
        return F.leaky_relu(y + self.skip(x), 0.2)


class VarEncoder(nn.Module):
    """Independent 3-D CNN encoders, one per variable (Sec. 3.1, public
    ``models/encoder/CNN_3D.py``): residual blocks of ``widths`` then the projection
    ``conv3 -> ReLU -> conv3`` (replicate padding) to ``out_dim``; ``(N, V, 1, T, H, W)`` ->
    ``(N, V, D, T, H, W)``. No information crosses variables, and with the per-cell norms
    none crosses the receptive field either, so a driver bit depends only on its own
    variable's neighbourhood."""

    def __init__(
        self,
        n_vars: int,
        widths: tuple[int, ...],
        out_dim: int,
        plain: bool = False,
        embed_norm: bool = True,
    ) -> None:
        super().__init__()
        self.n_vars = n_vars

        def one() -> nn.Sequential:
            layers: list[nn.Module] = []
            cin = 1
            for w in widths:
                layers.append(_GNResBlock3d(cin, w) if plain else _ResBlock3d(cin, w, embed_norm))
                cin = w
            if plain:  # the plain classifier's encoder (as measured before; see its block)
                layers.append(nn.Conv3d(cin, out_dim, 1))
                return nn.Sequential(*layers)
            layers += [
                nn.Conv3d(cin, cin, 3, padding=1, padding_mode="replicate"),
                nn.ReLU(),
                nn.Conv3d(cin, out_dim, 3, padding=1, padding_mode="replicate"),
            ]
            return nn.Sequential(*layers)

        self.encoders = nn.ModuleList(one() for _ in range(n_vars))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 6 or x.shape[1] != self.n_vars:
            raise ValueError(f"expected (N, {self.n_vars}, C, T, H, W), got {tuple(x.shape)}")
        return torch.stack([enc(x[:, v]) for v, enc in enumerate(self.encoders)], dim=1)


class LFQ(nn.Module):
    """Lookup-free quantiser with codebook size 2 (one bit; Yu et al. 2024, Sec. 3.2).

    ``z (M, D)`` -> ``project_in`` to 1 dimension -> ``sign`` (codes -1 / +1, straight-through
    gradient) -> ``project_out``. The index (0 for -1 = normal, 1 for +1 = driver) is the
    driver mask. The loss is ``lambda_commitment * MSE(u, sg(q)) + lambda_entropy *
    (mean per-sample entropy - gamma * codebook entropy)`` with code probabilities
    ``softmax(inv_temperature * 2 u c)`` over ``c in {-1, +1}``.
    """

    def __init__(
        self,
        dim: int,
        lambda_commitment: float = 3.0,
        lambda_entropy: float = 0.1,
        diversity_gamma: float = 1.0,
        inv_temperature: float = 100.0,
    ) -> None:
        super().__init__()
        self.project_in = nn.Linear(dim, 1)
        self.project_out = nn.Linear(1, dim)
        self.lambda_commitment = lambda_commitment
        self.lambda_entropy = lambda_entropy
        self.diversity_gamma = diversity_gamma
        self.inv_temperature = inv_temperature
        self.register_buffer("codes", torch.tensor([-1.0, 1.0]), persistent=False)

    def normal_code(self) -> Tensor:
        """``project_out(-1)``, the feature of the "normal" code (target of ``L_anom``)."""
        out: Tensor = self.project_out(-torch.ones(1, 1, device=self.project_out.weight.device))
        return out[0]

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``z (M, D)`` -> ``(z_q (M, D), index (M,) long, loss (), u (M,))``."""
        u = self.project_in(z)
        q = torch.where(u > 0, torch.ones_like(u), -torch.ones_like(u))
        q_st = u + (q - u).detach()
        index = (u[:, 0] > 0).long()
        loss = u.new_zeros(())
        if self.training:
            # softmax over the two logits -2 a u, +2 a u is sigmoid(4 a u) for the +1 code:
            # the same numbers without the (M, 2) softmax tensors.
            a_u = 4 * self.inv_temperature * u[:, 0]
            p1, p0 = torch.sigmoid(a_u), torch.sigmoid(-a_u)
            per_sample = -(p0 * p0.clamp_min(1e-5).log() + p1 * p1.clamp_min(1e-5).log()).mean()
            a1 = p1.mean()
            a0 = 1 - a1
            codebook = -(a0 * a0.clamp_min(1e-5).log() + a1 * a1.clamp_min(1e-5).log())
            entropy = per_sample - self.diversity_gamma * codebook
            commit = F.mse_loss(u, q.detach())
            loss = self.lambda_commitment * commit + self.lambda_entropy * entropy
        return self.project_out(q_st), index, loss, u[:, 0]


class _Head(nn.Sequential):
    """Three convolutions, kernel (2, 3, 3), stride (2, 1, 1): ``T = 8 -> 1``."""

    def __init__(self, cin: int, dim: int, drop: float) -> None:
        super().__init__(
            nn.Conv3d(cin, dim, (2, 3, 3), (2, 1, 1), (0, 1, 1)),
            nn.ReLU(),
            nn.Dropout(drop),
            nn.Conv3d(dim, dim, (2, 3, 3), (2, 1, 1), (0, 1, 1)),
            nn.ReLU(),
            nn.Conv3d(dim, 1, (2, 3, 3), (2, 1, 1), (0, 1, 1)),
        )


class Classifier3D(nn.Module):
    """The 3-D CNN classifier (Sec. 3.3): a joint head over ``V * D`` channels (hidden
    ``V * dim``) and one head per variable; each returns ``(N, 1, H, W)``."""

    def __init__(self, n_vars: int, embed_dim: int, dim: int, drop: float) -> None:
        super().__init__()
        self.joint = _Head(n_vars * embed_dim, n_vars * dim, drop)
        self.heads = nn.ModuleList(_Head(embed_dim, dim, drop) for _ in range(n_vars))

    def forward(self, zq: Tensor) -> tuple[Tensor, list[Tensor]]:
        n, v, d, t, h, w = zq.shape
        if t != 8:
            raise ValueError(f"the classifier collapses T = 8 to 1; got T = {t}")
        per_var = [head(zq[:, i])[:, :, 0] for i, head in enumerate(self.heads)]
        return self.joint(zq.reshape(n, v * d, t, h, w))[:, :, 0], per_var


@dataclass
class IDEEOutput:
    """``logit (N, 1, H, W)``, ``logits_var`` (V x ``(N, 1, H, W)``), ``drivers (N, V, T, H,
    W)`` long (the quantiser bit), ``z_q (N, V, D, T, H, W)``, ``loss_q ()``, ``code (N, V, T,
    H, W)`` (the 1-D projection before the sign)."""

    logit: Tensor
    logits_var: list[Tensor]
    drivers: Tensor
    z_q: Tensor
    loss_q: Tensor
    code: Tensor


class IDEEModel(nn.Module):
    """Encoders -> LFQ (codebook 2) -> classifier. ``quantise=False`` is the ablation
    without the quantiser (the features pass straight through; no driver bit)."""

    def __init__(self, config: IDEEConfig, quantise: bool = True) -> None:
        super().__init__()
        self.config = config
        self.quantise = quantise
        self.encoder = VarEncoder(
            config.n_vars, config.widths, config.codebook_dim, embed_norm=config.embed_norm
        )
        self.vq = LFQ(
            config.codebook_dim,
            config.lambda_commitment,
            config.lambda_entropy,
            config.diversity_gamma,
            config.inv_temperature,
        )
        self.cls = Classifier3D(
            config.n_vars, config.codebook_dim, config.cls_dim, config.drop_rate
        )
        if config.init == "public":
            public_init(self)
        elif config.init != "torch":
            raise ValueError(f"init must be 'torch' or 'public', got {config.init!r}")

    def forward(self, x: Tensor) -> IDEEOutput:
        z = self.encoder(x)
        n, v, d, t, h, w = z.shape
        flat = z.permute(0, 1, 3, 4, 5, 2).reshape(-1, d)
        if self.quantise:
            zq_flat, idx, loss_q, u = self.vq(flat)
        else:
            zq_flat, idx, loss_q = flat, torch.zeros(len(flat), dtype=torch.long), z.new_zeros(())
            u = -torch.ones(len(flat))
        zq = zq_flat.reshape(n, v, t, h, w, d).permute(0, 1, 5, 2, 3, 4)
        logit, per_var = self.cls(zq)
        shp = (n, v, t, h, w)
        return IDEEOutput(logit, per_var, idx.reshape(shp), zq, loss_q, u.reshape(shp))


class PlainClassifier(nn.Module):
    """The baseline extreme classifier of the same size without the quantiser (the model
    Integrated Gradients explains): encoders -> joint head."""

    def __init__(self, config: IDEEConfig) -> None:
        super().__init__()
        self.encoder = VarEncoder(config.n_vars, config.widths, config.codebook_dim, plain=True)
        self.head = _Head(config.n_vars * config.codebook_dim, config.n_vars * config.cls_dim, 0.0)

    def forward(self, x: Tensor) -> Tensor:
        z = self.encoder(x)
        n, v, d, t, h, w = z.shape
        out: Tensor = self.head(z.reshape(n, v * d, t, h, w))
        return out[:, :, 0]


def class_weights(target: Tensor) -> Tensor:
    """Per-batch weights ``log((freq_c / sum freq)^-0.5 + 1.1)`` for classes 0 and 1 (a class
    absent from the batch gets weight 0). Deliberate difference: on a batch without any
    extreme pixel the public ``BCE_loss_synthetic`` counts every 0 in ``histc``'s upper bin
    (``histc`` widens a constant range to [-1, 1]), so class 0 gets weight ``log(inf)`` and
    the loss is infinite; its 200 x 200 frames presumably always hold an extreme, the demo's
    12 x 12 windows often do not."""
    t = target.reshape(-1).long()
    freq = torch.bincount(t, minlength=2).float()[:2]
    frac = freq / freq.sum().clamp_min(1.0)
    w = torch.log(frac.clamp_min(1e-12).pow(-0.5) + 1.1)
    return torch.where(freq > 0, w, torch.zeros_like(w))


def weighted_bce(logit: Tensor, target: Tensor) -> Tensor:
    """BCE with the per-batch class weights of :func:`class_weights`, mean over pixels."""
    tgt = target.float().reshape(logit.shape)
    w = class_weights(target)[tgt.long()]
    return F.binary_cross_entropy_with_logits(logit, tgt, weight=w)


def _calm(extreme_window: Tensor) -> Tensor:
    """``(N, H, W)`` bool: pixels with no extreme (any class > 0) in the window ``(N, T, H,
    W)`` (the public ``mask_extreme_loss`` inverted)."""
    out: Tensor = (extreme_window > 0).sum(1) == 0
    return out


def anomaly_loss(z_q: Tensor, extreme_window: Tensor, normal_code: Tensor) -> Tensor:
    """``L_anom`` as published (``Anomaly_L1_loss_synthetic``): mean L1 between the quantised
    features ``z_q (N, V, D, T, H, W)`` and the detached normal code ``normal_code (D,)`` =
    ``project_out(-1)`` over every cell of the pixels that saw no extreme in the window
    ``extreme_window (N, T, H, W)``; 0 when every pixel saw one.

    Since ``z_q - project_out(-1) = W (q + 1)`` in value, the loss is 0 on cells already at
    the normal bit and ``2 |W|`` on cells at the driver bit: it only pushes driver bits down
    (and can shrink ``project_out``'s weight)."""
    calm = _calm(extreme_window)
    if not bool(calm.any()):
        return z_q.new_zeros(())
    target = normal_code.detach().view(1, 1, -1, 1, 1, 1)
    diff = (z_q - target).abs()
    m = calm[:, None, None, None].expand_as(diff)
    return diff[m].mean()


def anomaly_loss_code(code: Tensor, extreme_window: Tensor) -> Tensor:
    """The variant on the 1-D code: mean ``|u + 1|`` over the cells ``(N, V, T, H, W)`` of calm
    pixels (no feature-space shortcut through ``project_out``; it also pulls codes already
    normal to exactly -1). Kept as an option and measured against the published form."""
    calm = _calm(extreme_window)
    if not bool(calm.any()):
        return code.new_zeros(())
    m = calm[:, None, None].expand_as(code)
    return (code[m] + 1.0).abs().mean()


def cosine_warmup(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor: linear warm-up then cosine decay to 0."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    p = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, p)))


def public_init(module: nn.Module, mean: float = 0.02, std: float = 0.02) -> nn.Module:
    """The public ``VQ_model._init_weights`` (``init_type='normal'``, ``gain=0.02``), applied
    to every submodule: a module whose class name contains ``LayerNorm`` (or ``BatchNorm2d``
    / ``BatchNorm3d``) gets weight 1 and bias 0 where it has them; one whose class name
    contains ``Conv`` or ``Linear`` gets ``normal(mean=0.02, std=0.02)`` weights and zero
    biases. It overrides the encoder's own truncated-normal init (the public ``CNN_3D``
    calls that first) and reaches ``project_in`` / ``project_out`` of the LFQ too. Returns
    ``module``."""
    for m in module.modules():
        name = type(m).__name__
        weight = getattr(m, "weight", None)
        bias = getattr(m, "bias", None)
        if any(k in name for k in ("BatchNorm2d", "BatchNorm3d", "LayerNorm")):
            if isinstance(weight, Tensor):
                nn.init.constant_(weight, 1.0)
            if isinstance(bias, Tensor):
                nn.init.constant_(bias, 0.0)
        elif isinstance(weight, Tensor) and ("Conv" in name or "Linear" in name):
            nn.init.normal_(weight, mean, std)
            if isinstance(bias, Tensor):
                nn.init.constant_(bias, 0.0)
    return module


def published_lr(
    epoch: int,
    n_epochs: int = 100,
    lr: float = 1e-3,
    warmup_epochs: int = 2,
    warmup_lr: float = 1e-6,
    lr_min: float = 1e-5,
) -> float:
    """The learning rate of 0-based ``epoch`` in the public ``train_synthetic.py``.

    The public script builds timm's ``CosineLRScheduler(t_initial=n_epochs, lr_min=1e-5,
    warmup_lr_init=1e-6, warmup_t=2, warmup_prefix=False, t_in_epochs=False)`` (which sets
    the rate to ``warmup_lr_init`` at construction) and calls ``step_update(epoch)`` after
    each epoch. So epochs 0 and 1 both run at 1e-6, epoch 2 at ``1e-6 + (lr - 1e-6) / 2``,
    and epoch ``e >= 3`` at ``lr_min + (lr - lr_min) (1 + cos(pi (e - 1) / n_epochs)) / 2``
    (checked against timm in ``tests/forecasting/test_idee_recipe.py``).
    """
    t = max(epoch - 1, 0)
    if t >= n_epochs:
        return lr_min
    if t < warmup_epochs:
        return warmup_lr + t * (lr - warmup_lr) / warmup_epochs
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * t / n_epochs))
