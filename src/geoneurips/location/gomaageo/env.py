"""The GOMAA-Geo active geo-localisation environment (arXiv 2406.01917, Sec. 3; public code).

An aerial image is cut into a ``P x P`` grid (P = 5) of patches, each embedded to ``D`` dims.
An episode draws a goal patch and a start patch at Manhattan distance ``C``; the agent sees the
goal embedding (an aerial patch, or a ground-image / text embedding aligned to the same space)
and the embedding of every patch it has visited, and moves **0 up, 1 right, 2 down, 3 left**.
A move off the grid keeps the position (``data_utils/sequence.py``); the policy masks such
moves (:func:`valid_action_mask`). Success: reaching the goal within the budget ``B = 10``.

Reward, exactly as ``PPO.get_reward`` in the public code (:func:`published_reward`):

- ``-1`` if the position did not change (an off-grid move);
- ``+2`` on reaching the goal;
- ``-1`` on a revisit (any earlier patch since the start; the goal token is not counted);
- ``+1`` if the **squared Euclidean** grid distance to the goal is below ``best_dist``, else
  ``-1``; ``best_dist`` starts at, and after every ``+1`` is reset to, the **Manhattan**
  distance. The mix is a quirk of the public code, kept on purpose. Since ``x**2 - x >= 2``
  for ``|x| >= 2``, a move that reduces the Manhattan distance by one earns ``+1`` only when it
  lands within one row **and** one column of the goal (``|dr|, |dc| <= 1``); farther away every
  non-goal move, good or bad, costs ``-1``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from geoneurips.errors import InvalidInputError

ACTIONS = ("up", "right", "down", "left")
_DR = (-1, 0, 1, 0)
_DC = (0, 1, 0, -1)


def manhattan(a: int, b: int, grid_size: int = 5) -> int:
    """Manhattan distance between patch ids (row-major), ``get_dist`` in the public code."""
    return abs(a // grid_size - b // grid_size) + abs(a % grid_size - b % grid_size)


def move(pos: int, action: int, grid_size: int = 5) -> int:
    """Apply ``action`` to patch id ``pos``; an off-grid move keeps the position."""
    if not 0 <= action < 4:
        raise InvalidInputError(f"action must be 0..3 (up, right, down, left), got {action}")
    return int(move_many(np.asarray(pos), np.asarray(action), grid_size))


def valid_action_mask(pos: int, grid_size: int = 5) -> np.ndarray:
    """``[4]`` int8, 1 where the move stays on the grid (the public ``act`` masking)."""
    return valid_action_masks(np.asarray(pos), grid_size)


def published_reward(prev: int, cur: int, goal: int, visited: list[int] | tuple[int, ...],
                     best_dist: int, grid_size: int = 5) -> int:
    """``PPO.get_reward``: ``visited`` = patches before ``cur`` from the start on."""
    return int(published_rewards(np.asarray(prev), np.asarray(cur), np.asarray(goal),
                                 np.asarray(cur in visited), np.asarray(best_dist), grid_size))


def optimal_actions(pos: int, goal: int, grid_size: int = 5) -> np.ndarray:
    """``[4]`` multi-hot of the moves that reduce the Manhattan distance (GASP target)."""
    return optimal_actions_many(np.asarray(pos), np.asarray(goal), grid_size)


def pairs_at_distance(dist: int, grid_size: int = 5) -> list[tuple[int, int]]:
    """All ``(goal, start)`` pairs at Manhattan distance ``dist``.

    The public code draws both uniformly and rejects until the distance matches, which is the
    uniform distribution over these pairs.
    """
    return list(_pairs(int(dist), int(grid_size)))


@functools.lru_cache(maxsize=256)
def _pairs(dist: int, grid_size: int) -> tuple[tuple[int, int], ...]:
    """The pairs of :func:`pairs_at_distance`, computed once per ``(dist, grid_size)``."""
    n = grid_size * grid_size
    out = tuple((g, s) for g in range(n) for s in range(n)
                if manhattan(g, s, grid_size) == dist)
    if not out:
        raise InvalidInputError(f"no patch pair at distance {dist} on a {grid_size}x{grid_size} "
                                "grid")
    return out


def move_many(pos: np.ndarray, action: np.ndarray, grid_size: int = 5) -> np.ndarray:
    """The move rule on arrays of patch ids and actions (0..3); :func:`move` is its scalar
    form. An off-grid move keeps the position."""
    r, c = np.divmod(np.asarray(pos), grid_size)
    a = np.asarray(action)
    r2 = r + np.take(_DR, a)
    c2 = c + np.take(_DC, a)
    ok = (r2 >= 0) & (r2 < grid_size) & (c2 >= 0) & (c2 < grid_size)
    out: np.ndarray = np.where(ok, r2 * grid_size + c2, pos).astype(np.int64)
    return out


def optimal_actions_many(pos: np.ndarray, goal: np.ndarray, grid_size: int = 5) -> np.ndarray:
    """``[..., 4]``: :func:`optimal_actions` for arrays of positions and goals."""
    r, c = np.divmod(np.asarray(pos), grid_size)
    gr, gc = np.divmod(np.asarray(goal), grid_size)
    out: np.ndarray = np.stack([gr < r, gc > c, gr > r, gc < c], -1).astype(np.float32)
    return out


def valid_action_masks(pos: np.ndarray, grid_size: int = 5) -> np.ndarray:
    """``[B, 4]`` int8: :func:`valid_action_mask` for an array of patch ids."""
    r, c = np.divmod(np.asarray(pos), grid_size)
    out: np.ndarray = np.stack([r > 0, c < grid_size - 1, r < grid_size - 1, c > 0],
                               -1).astype(np.int8)
    return out


def published_rewards(prev: np.ndarray, cur: np.ndarray, goal: np.ndarray,
                      revisit: np.ndarray, best_dist: np.ndarray,
                      grid_size: int = 5) -> np.ndarray:
    """:func:`published_reward` for arrays; ``revisit[i]`` is ``cur[i] in visited[i]``."""
    dr = cur // grid_size - goal // grid_size
    dc = cur % grid_size - goal % grid_size
    out: np.ndarray = np.where(dr * dr + dc * dc < best_dist, 1, -1)
    out = np.where(revisit, -1, out)
    out = np.where(cur == goal, 2, out)
    out = np.where(cur == prev, -1, out)
    return out.astype(np.int64)


def _gym() -> Any:
    import gymnasium

    return gymnasium


class GomaaGeoEnv(_gym().Env):  # type: ignore[misc]
    """Gymnasium environment over ``grids`` (``[N, P*P, D]`` patch embeddings).

    Observation (``Dict``): ``goal`` ``[D]`` (the goal embedding), ``patch`` ``[D]`` (the
    current patch), ``position`` (current patch id), ``action_mask`` ``[4]``. The agent keeps
    its own history (the policy consumes the whole sequence). ``info`` holds ``goal_index``,
    ``grid_index``, ``distance`` (Manhattan to the goal), ``best_dist`` and ``success``.

    ``reset(options=...)`` accepts ``grid_index``, ``goal_index``, ``start_index``,
    ``distance`` (C), ``budget`` and ``goal_embedding`` (a ground/text goal in the patch
    space). Without them the grid is uniform, C is uniform in ``distances`` and the pair is
    uniform at that distance. ``terminated`` when the goal is reached; ``truncated`` when the
    budget is spent.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, grids: np.ndarray, grid_size: int = 5, budget: int = 10,
                 distances: tuple[int, ...] = tuple(range(1, 9)),
                 goal_embeddings: np.ndarray | None = None) -> None:
        gym = _gym()
        grids = np.asarray(grids, dtype=np.float32)
        if grids.ndim != 3 or grids.shape[1] != grid_size * grid_size:
            raise InvalidInputError(
                f"grids must be [N, {grid_size * grid_size}, D], got {grids.shape}")
        if budget < 1:
            raise InvalidInputError(f"budget must be >= 1, got {budget}")
        self.grids = grids
        self.grid_size = grid_size
        self.budget = budget
        self.distances = tuple(distances)
        self.goal_embeddings = goal_embeddings
        d = grids.shape[2]
        n = grid_size * grid_size
        self.action_space = gym.spaces.Discrete(4)
        self.observation_space = gym.spaces.Dict({
            "goal": gym.spaces.Box(-np.inf, np.inf, (d,), np.float32),
            "patch": gym.spaces.Box(-np.inf, np.inf, (d,), np.float32),
            "position": gym.spaces.Discrete(n),
            "action_mask": gym.spaces.MultiBinary(4),
        })
        self._pairs = {c: pairs_at_distance(c, grid_size) for c in self.distances}

    def _obs(self) -> dict[str, Any]:
        return {"goal": self.goal_embedding.copy(),
                "patch": self.grids[self.grid_index, self.pos].copy(),
                "position": self.pos,
                "action_mask": valid_action_mask(self.pos, self.grid_size)}

    def _info(self) -> dict[str, Any]:
        return {"goal_index": self.goal, "grid_index": self.grid_index,
                "distance": manhattan(self.pos, self.goal, self.grid_size),
                "best_dist": self.best_dist, "success": self.pos == self.goal,
                "steps": self.steps, "trajectory": list(self.trajectory)}

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        opts = dict(options or {})
        rng = self.np_random
        self.grid_index = int(opts.get("grid_index", rng.integers(len(self.grids))))
        if "goal_index" in opts or "start_index" in opts:
            self.goal = int(opts["goal_index"])
            start = int(opts["start_index"])
        else:
            c = int(opts.get("distance", self.distances[rng.integers(len(self.distances))]))
            pairs = self._pairs.get(c) or pairs_at_distance(c, self.grid_size)
            self.goal, start = pairs[int(rng.integers(len(pairs)))]
        n = self.grid_size * self.grid_size
        if not (0 <= self.goal < n and 0 <= start < n and 0 <= self.grid_index < len(self.grids)):
            raise InvalidInputError("grid_index, goal_index or start_index out of range")
        self.budget_now = int(opts.get("budget", self.budget))
        if "goal_embedding" in opts:
            self.goal_embedding = np.asarray(opts["goal_embedding"], dtype=np.float32)
        elif self.goal_embeddings is not None:
            self.goal_embedding = np.asarray(self.goal_embeddings[self.grid_index, self.goal],
                                             dtype=np.float32)
        else:
            self.goal_embedding = self.grids[self.grid_index, self.goal].copy()
        self.pos = start
        self.trajectory = [start]
        self.best_dist = manhattan(start, self.goal, self.grid_size)
        self.steps = 0
        return self._obs(), self._info()

    def step(self, action: int) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self.steps >= self.budget_now or self.pos == self.goal:
            raise InvalidInputError("episode is over; call reset()")
        prev = self.pos
        self.pos = move(prev, int(action), self.grid_size)
        reward = published_reward(prev, self.pos, self.goal, self.trajectory, self.best_dist,
                                  self.grid_size)
        if reward == 1:
            self.best_dist = manhattan(self.pos, self.goal, self.grid_size)
        self.trajectory.append(self.pos)
        self.steps += 1
        terminated = self.pos == self.goal
        truncated = (not terminated) and self.steps >= self.budget_now
        return self._obs(), float(reward), terminated, truncated, self._info()
