"""GOMAA-Geo training (GASP pretraining, then PPO with the sequence model frozen) and demo.

Plain loops (no Lightning: PPO's rollouts and the tiny sizes make a loop clearer). Paper
settings are in :class:`~.model.PolicyConfig` / :class:`~.model.PPOConfig`; the demo uses a
tiny model and larger learning rates so that it trains in seconds on a CPU, and says so in its
details.

Published training details kept: GASP sequences are uniform random walks (off-grid moves
allowed, they keep the position) of 1-10 steps from a start at Manhattan distance 1-8 from the
goal; PPO episodes draw ``C`` uniform in 1..8 and run ``randint(C, B + 1) - 1`` steps (the
public ``range(1, randint(optimal, max_ep_len + 1))``); every PPO update uses a buffer of at
least ``PPOConfig.update_steps`` = 640 agent steps (public ``update_timestep``), Monte-Carlo
returns normalised over the buffer (the public code uses no GAE), clip 0.2, K = 4, value 0.5,
entropy 0.01, the sequence model frozen. Deliberate difference: returns are
reset at every episode end (the public buffer resets only at successes, so a failed episode's
return leaks into the previous one in the flat buffer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .agents import Episodes, Policy, random_walk, run_episodes, sample_episodes, success_ratio
from .env import move_many, optimal_actions_many, pairs_at_distance
from .model import (
    ActorCritic,
    GaspHead,
    PolicyConfig,
    PPOConfig,
    SequenceModel,
    discounted_returns,
    ppo_update,
)


# ----------------------------------------------------------------------------- synthetic world
def make_world(seed: int, dim: int = 32, grid_size: int = 5, smooth: float = 1.0,
               rough: float = 1.0) -> np.ndarray:
    """``[P*P, dim]`` location codes shared by all grids: a smooth part (random Fourier
    features of the patch's row/column) plus a rough part (independent per patch). The smooth
    part gives embedding similarity a gradient towards the goal; the rough part makes that
    gradient unreliable, so following similarity is not enough."""
    rng = np.random.default_rng(seed)
    rc = np.stack(np.divmod(np.arange(grid_size * grid_size), grid_size), 1) / (grid_size - 1)
    w = rng.normal(0, 2.0, (2, dim // 2))
    b = rng.uniform(0, 2 * np.pi, dim // 2)
    s = np.concatenate([np.sin(rc @ w + b), np.cos(rc @ w + b)], 1)
    s = (s - s.mean(0)) / (np.linalg.norm(s - s.mean(0), axis=1, keepdims=True) + 1e-9)
    r = rng.normal(0, 1, (grid_size * grid_size, dim))
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    out: np.ndarray = (smooth * s + rough * r).astype(np.float32)
    return out


def dihedral_permutations(grid_size: int = 5) -> np.ndarray:
    """``[8, P*P]``: patch ids of the grid under the 8 rotations/reflections."""
    ids = np.arange(grid_size * grid_size).reshape(grid_size, grid_size)
    out = []
    for k in range(4):
        r = np.rot90(ids, k)
        out += [r.ravel(), r.T.ravel()]
    return np.stack(out)


def make_grids(world: np.ndarray, n: int, seed: int, content: float = 0.5,
               noise: float = 0.35, variants: int = 8) -> np.ndarray:
    """``[n, P*P, dim]`` grids: world code + a per-grid content vector + per-patch noise
    (scales relative to the unit-norm code parts). Each grid shows the world under one of the
    first ``variants`` of the 8 rotations/reflections (identity, transpose, ...); so the goal embedding alone does not say where
    the goal is: the agent must combine it with what it sees on the way (the paper's setting:
    a goal patch does not reveal its place in an unseen image)."""
    rng = np.random.default_rng(seed)
    d = world.shape[1]
    perms = dihedral_permutations(int(round(np.sqrt(world.shape[0]))))
    which = rng.integers(variants, size=n)
    base = world[perms[which]]
    c = rng.normal(0, content / np.sqrt(d), (n, 1, d))
    e = rng.normal(0, noise / np.sqrt(d), (n, world.shape[0], d))
    out: np.ndarray = (base + c + e).astype(np.float32)
    return out


# ----------------------------------------------------------------------------- GASP
def gasp_batch(grids: np.ndarray, rng: np.random.Generator, batch: int,
               length: int) -> tuple[torch.Tensor, ...]:
    """Random walks of ``length`` moves from starts at distance 1-8: goal, patches,
    positions, actions and the multi-hot distance-reducing targets at each patch."""
    p = int(round(np.sqrt(grids.shape[1])))
    ep = sample_episodes(grids, rng.integers(1, 9, size=batch), rng)
    pos = np.zeros((batch, length + 1), dtype=np.int64)
    act = rng.integers(0, 4, size=(batch, length))
    pos[:, 0] = ep.start
    for t in range(length):
        pos[:, t + 1] = move_many(pos[:, t], act[:, t], p)
    tgt = optimal_actions_many(pos, ep.goal[:, None], p)
    patches = grids[ep.grid[:, None], pos]
    return (torch.from_numpy(ep.goal_emb), torch.from_numpy(patches), torch.from_numpy(pos),
            torch.from_numpy(act), torch.from_numpy(tgt))


def train_gasp(model: SequenceModel, head: GaspHead, grids: np.ndarray, steps: int,
               seed: int, batch: int = 64, lr: float = 1e-3) -> list[float]:
    """GASP pretraining (paper: AdamW 1e-5, wd 1e-4, cosine warm restarts, 3,000 epochs)."""
    from .model import gasp_loss

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=lr,
                            weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    losses = []
    model.train()
    for _ in range(steps):
        g, pa, po, ac, tg = gasp_batch(grids, rng, batch, int(rng.integers(1, 11)))
        loss = gasp_loss(model, head, g, pa, po, ac, tg)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.eval()
    return losses


# ----------------------------------------------------------------------------- policy
def _inputs(grids: np.ndarray, ep: Episodes,
            rows: np.ndarray | None = None) -> tuple[torch.Tensor, ...]:
    sel = slice(None) if rows is None else rows
    pos = np.stack(ep.positions, 1)[sel]
    act = (np.stack(ep.actions, 1)[sel] if ep.actions
           else np.zeros((len(pos), 0), dtype=np.int64))
    return (torch.from_numpy(ep.goal_emb[sel]), torch.from_numpy(grids[ep.grid[sel, None], pos]),
            torch.from_numpy(pos), torch.from_numpy(act))


@torch.no_grad()
def last_states(model: SequenceModel, grids: np.ndarray, ep: Episodes) -> torch.Tensor:
    """``[B, D]`` the sequence model's last output token of each episode; rows of episodes
    that no longer act (``ep.acting`` False) are left at zero and not computed (their
    actions are discarded by :func:`~.agents.run_episodes`)."""
    if ep.acting is None or ep.acting.all():
        out: torch.Tensor = model(*_inputs(grids, ep))[:, -1]
        return out
    rows = np.flatnonzero(ep.acting)
    full = torch.zeros(len(ep.goal), model.cfg.embed_dim)
    if len(rows):
        full[torch.from_numpy(rows)] = model(*_inputs(grids, ep, rows))[:, -1]
    return full


@dataclass
class GomaaAgent:
    """Sequence model (frozen) + actor-critic; ``policy()`` plays greedily or samples and,
    when sampling, records states/log-probs/values for PPO."""

    model: SequenceModel
    ac: ActorCritic
    sample: bool = False
    rng: torch.Generator | None = None

    def __post_init__(self) -> None:
        self.buffer: list[tuple[torch.Tensor, ...]] = []

    def state(self, grids: np.ndarray, ep: Episodes) -> torch.Tensor:
        return last_states(self.model, grids, ep)

    def policy(self) -> Policy:
        def act(grids: np.ndarray, ep: Episodes, mask: np.ndarray) -> np.ndarray:
            s = self.state(grids, ep)
            m = torch.from_numpy(mask)
            with torch.no_grad():
                if not self.sample:
                    return self.ac.greedy(s, m).numpy()
                dist = self.ac.distribution(s, m)
                probs = dist.probs
                assert probs is not None
                a = torch.multinomial(probs, 1, generator=self.rng).squeeze(1)
                self.buffer.append((s, m, a, dist.log_prob(a),  # type: ignore[no-untyped-call]
                                    self.ac.value(s)))
            return a.numpy()

        return act


def train_ppo(agent: GomaaAgent, grids: np.ndarray, iterations: int, seed: int,
              cfg: PPOConfig, batch: int = 64, budget: int = 10) -> list[float]:
    """PPO: ``iterations`` updates, each on a buffer of at least ``cfg.update_steps`` agent
    steps (the public ``update_timestep`` = 640), gathered as rollouts of ``batch`` parallel
    episodes (whole episodes: the public loop may cut the last one at the update)."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    agent.rng = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(agent.ac.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, cfg.lr_decay)
    succ = []
    agent.sample = True
    for _ in range(iterations):
        states: list[torch.Tensor] = []
        masks: list[torch.Tensor] = []
        acts: list[torch.Tensor] = []
        logp: list[torch.Tensor] = []
        vals: list[torch.Tensor] = []
        rets: list[torch.Tensor] = []
        while len(states) < cfg.update_steps:
            c = rng.integers(1, 9, size=batch)
            ep = sample_episodes(grids, c, rng, budget)
            ep.horizon = np.maximum(np.array([rng.integers(k, budget + 1) for k in c]) - 1, 1)
            agent.buffer = []
            run_episodes(grids, ep, agent.policy())
            assert ep.success is not None
            succ.append(float(ep.success.mean()))
            alive = np.stack(ep.alive, 1)  # [B, T]
            rew = np.stack(ep.rewards, 1)
            for i in range(len(c)):
                steps = np.flatnonzero(alive[i])
                rets.append(discounted_returns(rew[i, steps].tolist(), [False] * len(steps),
                                               cfg.gamma))
                for t in steps.tolist():
                    s, m, a, lp, v = agent.buffer[t]
                    states.append(s[i])
                    masks.append(m[i])
                    acts.append(a[i])
                    logp.append(lp[i])
                    vals.append(v[i])
        ppo_update(agent.ac, opt, cfg, torch.stack(states), torch.stack(masks),
                   torch.stack(acts), torch.stack(logp), torch.stack(vals), torch.cat(rets))
        sched.step()
    agent.sample = False
    return succ


def gasp_policy(model: SequenceModel, head: GaspHead) -> Policy:
    """Ablation: act with the GASP head's argmax (no PPO)."""

    def act(grids: np.ndarray, ep: Episodes, mask: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            s = last_states(model, grids, ep)
            logits = head(s).masked_fill(torch.from_numpy(mask) == 0, -1e9)
        return logits.argmax(-1).numpy()  # type: ignore[no-any-return]

    return act


def train_gomaa(grids: np.ndarray, seed: int, gasp_steps: int, ppo_iters: int,
                cfg: PolicyConfig | None = None, pretrain: bool = True
                ) -> tuple[GomaaAgent, GaspHead, dict[str, Any]]:
    """GASP (unless ``pretrain=False``: the PPO-only ablation) then PPO; returns the agent."""
    cfg = cfg or PolicyConfig.tiny(grids.shape[2])
    torch.manual_seed(seed)
    model, head = SequenceModel(cfg), GaspHead(cfg)
    losses = train_gasp(model, head, grids, gasp_steps, seed) if pretrain else []
    model.eval()
    for prm in model.parameters():
        prm.requires_grad_(False)
    agent = GomaaAgent(model, ActorCritic(cfg.embed_dim, cfg.num_actions))
    succ = train_ppo(agent, grids, ppo_iters, seed + 1, PPOConfig(lr=3e-3, lr_decay=0.99))
    return agent, head, {"gasp_loss_last": float(np.mean(losses[-20:])) if losses else None,
                         "ppo_train_success_last": float(np.mean(succ[-5:]))}


__all__ = ["make_world", "make_grids", "train_gomaa", "success_ratio", "random_walk",
           "pairs_at_distance", "demo"]


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> Any:
    """Defined in :mod:`.demo_run` (kept apart to keep this module short)."""
    from .demo_run import run_demo

    return run_demo(out_dir, quick=quick, seed=seed)


def train_memoryless(grids: np.ndarray, steps: int, seed: int, hidden: int = 128,
                     batch: int = 64, lr: float = 1e-3) -> torch.nn.Module:
    """Baseline: an MLP on (goal, current patch, coordinates) trained on the same GASP
    random walks and targets (each patch an independent sample): the practitioner's plain
    network with the same inputs minus the history."""
    from torch import nn

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    d = grids.shape[2]
    net = nn.Sequential(nn.Linear(2 * d + 4, hidden), nn.GELU(), nn.Linear(hidden, hidden),
                        nn.GELU(), nn.Linear(hidden, 4))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    from .model import patch_coordinates

    p = int(round(np.sqrt(grids.shape[1])))
    for _ in range(steps):
        g, pa, po, _ac, tg = gasp_batch(grids, rng, batch, int(rng.integers(1, 11)))
        t = pa.shape[1]
        x = torch.cat([g[:, None].expand(-1, t, -1), pa, patch_coordinates(po, p)], -1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), tg)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    return net.eval()
