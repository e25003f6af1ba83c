"""Batched episodes over the GOMAA-Geo environment rules, the baselines and the SR metric.

The rules are the ones of :mod:`.env` (:func:`~.env.move`, :func:`~.env.published_reward`,
:func:`~.env.valid_action_mask`), applied to ``B`` episodes at once so that the policy's
forward pass is batched. Success ratio (SR, Sec. 5): the fraction of (goal, start) pairs at
Manhattan distance ``C`` reached within the budget ``B = 10`` with greedy actions; the paper
draws 5 pairs per test image for each ``C`` in 4..8.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

from .env import (
    manhattan,
    move_many,
    pairs_at_distance,
    published_rewards,
    valid_action_masks,
)


@dataclass
class Episodes:
    """A batch of episodes: ``grid [B]``, ``goal [B]``, ``start [B]``, ``goal_emb [B, D]``."""

    grid: np.ndarray
    goal: np.ndarray
    start: np.ndarray
    goal_emb: np.ndarray
    horizon: np.ndarray
    positions: list[np.ndarray] = field(default_factory=list)  # each [B]
    actions: list[np.ndarray] = field(default_factory=list)  # each [B]
    rewards: list[np.ndarray] = field(default_factory=list)
    alive: list[np.ndarray] = field(default_factory=list)  # acting at that step
    masks: list[np.ndarray] = field(default_factory=list)  # [B, 4]
    acting: np.ndarray | None = None  # [B] bool: the episodes acting at the current step
    success: np.ndarray | None = None
    steps: np.ndarray | None = None


Policy = Callable[[np.ndarray, "Episodes", np.ndarray], np.ndarray]
"""``policy(grids, episodes, mask [B, 4]) -> actions [B]`` (history in ``episodes``)."""


def sample_episodes(grids: np.ndarray, distances: list[int] | np.ndarray,
                    rng: np.random.Generator, budget: int = 10,
                    goal_embeddings: np.ndarray | None = None,
                    grid_index: np.ndarray | None = None) -> Episodes:
    """One episode per entry of ``distances``: uniform grid (unless given), uniform pair."""
    p = int(round(np.sqrt(grids.shape[1])))
    dist = np.asarray(distances)
    b = len(dist)
    gi = rng.integers(len(grids), size=b) if grid_index is None else np.asarray(grid_index)
    goals = np.empty(b, dtype=np.int64)
    starts = np.empty(b, dtype=np.int64)
    cache: dict[int, list[tuple[int, int]]] = {}
    for i, c in enumerate(dist.tolist()):
        if c not in cache:  # once per distance (setdefault evaluated its default every time)
            cache[c] = pairs_at_distance(c, p)
        pairs = cache[c]
        goals[i], starts[i] = pairs[int(rng.integers(len(pairs)))]
    src = grids if goal_embeddings is None else goal_embeddings
    return Episodes(gi, goals, starts, src[gi, goals].astype(np.float32),
                    np.full(b, budget, dtype=np.int64))


def run_episodes(grids: np.ndarray, ep: Episodes, policy: Policy) -> Episodes:
    """Play all episodes to the goal or their horizon with the environment's rules."""
    p = int(round(np.sqrt(grids.shape[1])))
    b = len(ep.goal)
    pos = ep.start.copy()
    ep.positions = [pos.copy()]
    best = np.array([manhattan(int(s), int(g), p) for s, g in zip(ep.start, ep.goal,
                                                                      strict=True)])
    done = pos == ep.goal
    steps = np.zeros(b, dtype=np.int64)
    for t in range(int(ep.horizon.max())):
        alive = (~done) & (t < ep.horizon)
        if not alive.any():
            break
        mask = valid_action_masks(pos, p).astype(np.float32)
        ep.acting = alive  # policies may skip the rows of finished episodes
        act = np.asarray(policy(grids, ep, mask), dtype=np.int64)
        new = np.where(alive, move_many(pos, np.where(alive, act, 0), p), pos)
        revisit = (np.stack(ep.positions, 1) == new[:, None]).any(1)
        r = published_rewards(pos, new, ep.goal, revisit, best, p)
        best = np.where(alive & (r == 1), np.abs(new // p - ep.goal // p)
                        + np.abs(new % p - ep.goal % p), best)
        rew = np.where(alive, r, 0).astype(np.float32)
        steps[alive] += 1
        pos = new
        done = done | (pos == ep.goal)
        ep.masks.append(mask)
        ep.actions.append(act)
        ep.rewards.append(rew)
        ep.alive.append(alive)
        ep.positions.append(pos.copy())
    ep.success = pos == ep.goal
    ep.steps = steps
    ep.acting = None
    return ep


def random_walk(rng: np.random.Generator) -> Policy:
    """Uniform over the valid moves (public ``random_act``)."""

    def act(grids: np.ndarray, ep: Episodes, mask: np.ndarray) -> np.ndarray:
        pr = mask / mask.sum(1, keepdims=True)
        return np.array([rng.choice(4, p=row) for row in pr])

    return act


def greedy_similarity(rng: np.random.Generator) -> Policy:
    """Move to the valid neighbour whose embedding is most cosine-similar to the goal,
    preferring unvisited neighbours (ties broken at random).

    It **peeks** at the four neighbours' embeddings before moving, which the agent never
    sees: a stronger-informed heuristic than the policy, on purpose.
    """

    def act(grids: np.ndarray, ep: Episodes, mask: np.ndarray) -> np.ndarray:
        p = int(round(np.sqrt(grids.shape[1])))
        g = ep.goal_emb / np.linalg.norm(ep.goal_emb, axis=1, keepdims=True)
        pos = ep.positions[-1]
        nb = np.stack([move_many(pos, np.full_like(pos, a), p) for a in range(4)], 1)  # [B, 4]
        e = grids[ep.grid[:, None], nb]  # [B, 4, D]
        cos = np.einsum("bkd,bd->bk", e, g) / np.linalg.norm(e, axis=-1)
        unseen = ~(np.stack(ep.positions, 1)[:, None, :] == nb[:, :, None]).any(-1)
        # lexicographic (unvisited first, then cosine), exact ties broken at random
        key = np.where(mask > 0, 4.0 * unseen + cos, -np.inf)
        top = key == key.max(1, keepdims=True)
        pick = np.where(top, rng.random(top.shape), -1.0)
        out: np.ndarray = pick.argmax(1).astype(np.int64)
        return out

    return act


def success_ratio(grids: np.ndarray, policy: Policy, rng: np.random.Generator,
                  distances: tuple[int, ...] = (4, 5, 6, 7, 8), per_grid: int = 5,
                  budget: int = 10, goal_embeddings: np.ndarray | None = None
                  ) -> dict[str, float]:
    """SR per ``C`` (``sr_c<C>``) and their mean (``sr_mean``): ``per_grid`` pairs per grid."""
    out: dict[str, float] = {}
    n = len(grids)
    for c in distances:
        gi = np.repeat(np.arange(n), per_grid)
        ep = sample_episodes(grids, [c] * len(gi), rng, budget, goal_embeddings, gi)
        run_episodes(grids, ep, policy)
        assert ep.success is not None
        out[f"sr_c{c}"] = float(ep.success.mean())
    out["sr_mean"] = float(np.mean([out[f"sr_c{c}"] for c in distances]))
    return out


def memoryless_policy(net: torch.nn.Module) -> Policy:
    """A network on (goal, current patch, patch coordinates) only: no history."""
    import torch

    from .model import patch_coordinates

    def act(grids: np.ndarray, ep: Episodes, mask: np.ndarray) -> np.ndarray:
        pos = ep.positions[-1]
        p = int(round(np.sqrt(grids.shape[1])))
        x = torch.cat([torch.from_numpy(ep.goal_emb), torch.from_numpy(grids[ep.grid, pos]),
                       patch_coordinates(torch.from_numpy(pos), p)], 1)
        with torch.no_grad():
            logits = net(x).masked_fill(torch.from_numpy(mask) == 0, -1e9)
        return logits.argmax(-1).numpy()  # type: ignore[no-any-return]

    return act
