"""GOMAA-Geo policy: causal transformer over [goal, patch, action, patch, ...], GASP, PPO.

Components (arXiv 2406.01917 Sec. 3-4 and the public ``models/model_falcon.py``,
``models/pretrain_model.py``, ``models/ppo.py``):

- :class:`ModalityAligner` and :func:`clip_loss`: the goal-modality-agnostic part (CLIP-MMFE,
  Sec. 3.2). In the paper the shared space is CLIP's (frozen ground-image and text towers) and
  the aerial encoder (Sat2Cap) is trained with a contrastive loss into it; here a linear head
  trained with the symmetric CLIP InfoNCE loss (learnable temperature) plays the aerial
  encoder's and the text projection's roles on given embeddings (:mod:`.goals`).
- :class:`SequenceModel`: the "LLM" (Falcon architecture trained from scratch, hidden 1152,
  12 layers, 12 heads, ``word_embed_proj_dim`` 512). Embeddings go through ``project_in``
  (D -> hidden); patch tokens add ``Linear(4 -> hidden)`` of ``[sin 2pi x/(P-1), sin 2pi
  y/(P-1), cos 2pi x/(P-1), cos 2pi y/(P-1)]``; actions are ``Embedding(4, D)`` ->
  ``project_in``. Output: ``project_out`` (hidden -> D) + LayerNorm; the state is the last
  token. Deliberate difference: a pre-LN ``torch.nn.TransformerEncoder`` with a causal mask
  and a learned token-index embedding stands in for Falcon's rotary multi-query blocks (the
  Falcon config needs the ``tiiuae/falcon-7b`` files from Hugging Face).
- :func:`gasp_loss`: GASP pretraining (Sec. 4.1): at every patch token the target is the
  multi-hot set of distance-reducing moves, ``Linear(D -> 4)`` + BCE-with-logits.
- :class:`ActorCritic` and :func:`ppo_update`: PPO with the sequence model frozen (Sec. 4.2):
  actor/critic MLPs ``D -> D/4 -> D/4`` with Tanh, softmax over 4 moves; invalid moves masked by
  multiplying the probabilities and sampling ``Categorical(p + 1e-6)``; Monte-Carlo returns with
  ``gamma = 0.93``, normalised; clip 0.2, K = 4 epochs, value weight 0.5 (MSE), entropy
  0.01, Adam lr 1e-4 with ExponentialLR 0.9999. Deliberate difference: the public
  ``evaluate`` recomputes log-probabilities **without** the mask while the old ones were
  masked; here both are masked (the ratio then compares the same distributions).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class PolicyConfig:
    """Sizes; defaults are the paper's Falcon policy (``tiny()`` for CPU tests/demo)."""

    embed_dim: int = 512
    hidden: int = 1152
    layers: int = 12
    heads: int = 12
    grid_size: int = 5
    max_tokens: int = 64
    num_actions: int = 4

    @classmethod
    def tiny(cls, embed_dim: int = 32) -> PolicyConfig:
        return cls(embed_dim=embed_dim, hidden=64, layers=2, heads=4)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def patch_coordinates(patch: Tensor, grid_size: int) -> Tensor:
    """``[..., 4]`` = ``[sin 2pi x/(P-1), sin 2pi y/(P-1), cos 2pi x/(P-1), cos 2pi y/(P-1)]``
    with ``x`` the column and ``y`` the row of the patch id (row-major)."""
    y = torch.div(patch, grid_size, rounding_mode="floor").float()
    x = (patch % grid_size).float()
    s = 2 * math.pi / max(grid_size - 1, 1)
    return torch.stack([torch.sin(s * x), torch.sin(s * y), torch.cos(s * x),
                        torch.cos(s * y)], dim=-1)


class SequenceModel(nn.Module):
    """The causal sequence model; ``forward`` returns the ``[B, T, D]`` output tokens."""

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, h = cfg.embed_dim, cfg.hidden
        self.project_in = nn.Linear(d, h)
        self.action_embed = nn.Embedding(cfg.num_actions, d)
        self.patch_position = nn.Linear(4, h)
        self.token_index = nn.Embedding(cfg.max_tokens, h)
        layer = nn.TransformerEncoderLayer(h, cfg.heads, 4 * h, dropout=0.0,
                                           activation="gelu", batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(h)
        self.project_out = nn.Linear(h, d)
        self.out_norm = nn.LayerNorm(d)

    def tokens(self, goal: Tensor, patches: Tensor, positions: Tensor,
               actions: Tensor) -> Tensor:
        """Interleave ``[goal, p_0, a_1, p_1, ..., a_t, p_t]``.

        ``goal [B, D]``, ``patches [B, t+1, D]``, ``positions [B, t+1]`` (patch ids),
        ``actions [B, t]`` -> ``[B, 2t+2, hidden]``.
        """
        b, n, _ = patches.shape
        p = self.project_in(patches) + self.patch_position(
            patch_coordinates(positions, self.cfg.grid_size))
        g = self.project_in(goal)[:, None]
        if n == 1:
            seq = torch.cat([g, p], 1)
        else:
            a = self.project_in(self.action_embed(actions))
            inter = torch.stack([a, p[:, 1:]], 2).reshape(b, 2 * (n - 1), -1)
            seq = torch.cat([g, p[:, :1], inter], 1)
        if seq.shape[1] > self.cfg.max_tokens:
            raise ValueError(f"sequence of {seq.shape[1]} tokens > max_tokens "
                             f"{self.cfg.max_tokens}")
        return seq + self.token_index.weight[: seq.shape[1]]

    def forward(self, goal: Tensor, patches: Tensor, positions: Tensor,
                actions: Tensor) -> Tensor:
        x = self.tokens(goal, patches, positions, actions)
        t = x.shape[1]
        mask = torch.triu(torch.full((t, t), float("-inf"), device=x.device), 1)
        x = self.blocks(x, mask=mask, is_causal=True)
        return self.out_norm(self.project_out(self.final_norm(x)))  # type: ignore[no-any-return]

    def patch_states(self, goal: Tensor, patches: Tensor, positions: Tensor,
                     actions: Tensor) -> Tensor:
        """Output tokens at the patch positions (``hidden[:, 1::2]``): ``[B, t+1, D]``."""
        return self.forward(goal, patches, positions, actions)[:, 1::2]


class GaspHead(nn.Module):
    """``Linear(D -> 4)`` predicting the distance-reducing moves (GASP)."""

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.linear = nn.Linear(cfg.embed_dim, cfg.num_actions)

    def forward(self, states: Tensor) -> Tensor:
        return self.linear(states)  # type: ignore[no-any-return]


def gasp_loss(model: SequenceModel, head: GaspHead, goal: Tensor, patches: Tensor,
              positions: Tensor, actions: Tensor, targets: Tensor) -> Tensor:
    """BCE-with-logits between ``head(states)`` at every patch token and ``targets
    [B, t+1, 4]`` (multi-hot distance-reducing moves)."""
    logits = head(model.patch_states(goal, patches, positions, actions))
    return F.binary_cross_entropy_with_logits(logits, targets)


def masked_probs(probs: Tensor, mask: Tensor) -> Tensor:
    """The public masking: ``probs * mask + 1e-6`` (``Categorical`` renormalises)."""
    return probs * mask + 1e-6


class ActorCritic(nn.Module):
    """Actor and critic MLPs ``D -> D/4 -> D/4 -> (4 | 1)`` with Tanh (public ``ppo.py``)."""

    def __init__(self, state_dim: int, num_actions: int = 4) -> None:
        super().__init__()
        q = max(state_dim // 4, 4)
        self.actor = nn.Sequential(nn.Linear(state_dim, q), nn.Tanh(), nn.Linear(q, q),
                                   nn.Tanh(), nn.Linear(q, num_actions), nn.Softmax(dim=-1))
        self.critic = nn.Sequential(nn.Linear(state_dim, q), nn.Tanh(), nn.Linear(q, q),
                                    nn.Tanh(), nn.Linear(q, 1))

    def distribution(self, state: Tensor, mask: Tensor) -> torch.distributions.Categorical:
        return torch.distributions.Categorical(masked_probs(self.actor(state), mask))

    def greedy(self, state: Tensor, mask: Tensor) -> Tensor:
        """Evaluation: argmax of the masked probabilities."""
        out: Tensor = (self.actor(state) * mask).argmax(-1)
        return out

    def value(self, state: Tensor) -> Tensor:
        return self.critic(state).squeeze(-1)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class PPOConfig:
    """PPO settings (paper/public defaults; the demo raises ``lr`` for a short CPU run)."""

    gamma: float = 0.93
    clip: float = 0.2
    epochs: int = 4
    lr: float = 1e-4
    lr_decay: float = 0.9999
    value_coef: float = 0.5
    entropy_coef: float = 0.01
    update_steps: int = 640


def discounted_returns(rewards: list[float], terminals: list[bool], gamma: float) -> Tensor:
    """Monte-Carlo returns over a flat buffer, reset at terminals (public ``update``)."""
    out: list[float] = []
    g = 0.0
    for r, term in zip(reversed(rewards), reversed(terminals), strict=True):
        if term:
            g = 0.0
        g = r + gamma * g
        out.append(g)
    return torch.tensor(out[::-1], dtype=torch.float32)


def ppo_update(ac: ActorCritic, opt: torch.optim.Optimizer, cfg: PPOConfig, states: Tensor,
               masks: Tensor, actions: Tensor, old_logp: Tensor, old_values: Tensor,
               returns: Tensor) -> float:
    """K epochs of the clipped objective on one buffer; returns the last loss."""
    ret = (returns - returns.mean()) / (returns.std() + 1e-7)
    adv = ret - old_values
    loss = torch.zeros(())
    for _ in range(cfg.epochs):
        dist = ac.distribution(states, masks)
        logp = dist.log_prob(actions)  # type: ignore[no-untyped-call]
        ratio = torch.exp(logp - old_logp)
        surr = torch.min(ratio * adv, torch.clamp(ratio, 1 - cfg.clip, 1 + cfg.clip) * adv)
        loss = (-surr + cfg.value_coef * F.mse_loss(ac.value(states), ret)
                - cfg.entropy_coef * dist.entropy()).mean()  # type: ignore[no-untyped-call]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


class ModalityAligner(nn.Module):
    """Linear head into a frozen embedding space, trained with :func:`clip_loss`."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_dim, out_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)  # type: ignore[no-any-return]


def clip_loss(a: Tensor, b: Tensor, logit_scale: Tensor) -> Tensor:
    """Symmetric InfoNCE between L2-normalised rows of ``a`` and ``b`` (pairs on the
    diagonal), the CLIP objective used to align modalities."""
    a = F.normalize(a, dim=-1)
    b = F.normalize(b, dim=-1)
    logits = logit_scale.exp().clamp(max=100) * a @ b.T
    labels = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
