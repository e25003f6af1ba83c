"""GOMAA-Geo batched episodes and baselines: the vectorised rules equal the scalar
environment (``env.py``, hand-checked against the public ``PPO.get_reward``), the greedy
baseline equals its per-episode definition, every method in the demo sees the very same goal
vectors, and the pair table is built once per distance (old code rebuilt it for every
episode: ``dict.setdefault`` evaluates its default each call, 2/3 of the demo's CPU time)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import geoneurips.location.gomaageo.agents as A
from geoneurips.location.gomaageo import demo_run
from geoneurips.location.gomaageo.env import (
    GomaaGeoEnv,
    move,
    move_many,
    optimal_actions,
    optimal_actions_many,
    pairs_at_distance,
    published_reward,
    published_rewards,
    valid_action_mask,
    valid_action_masks,
)
from geoneurips.location.gomaageo.model import PolicyConfig, SequenceModel
from geoneurips.location.gomaageo.pipeline import last_states


def test_vectorised_rules_equal_the_scalar_rules_everywhere() -> None:
    pos = np.repeat(np.arange(25), 4)
    act = np.tile(np.arange(4), 25)
    assert move_many(pos, act).tolist() == [move(int(q), int(a)) for q, a in zip(pos, act, strict=True)]
    assert valid_action_masks(np.arange(25)).tolist() == [valid_action_mask(q).tolist()
                                                          for q in range(25)]
    q, g = np.divmod(np.arange(625), 25)
    np.testing.assert_array_equal(optimal_actions_many(q, g),
                                  np.stack([optimal_actions(int(a), int(b))
                                            for a, b in zip(q, g, strict=True)]))
    rng = np.random.default_rng(0)
    prev = rng.integers(25, size=2000)
    cur = np.where(rng.random(2000) < 0.2, prev, rng.integers(25, size=2000))
    goal = rng.integers(25, size=2000)
    best = rng.integers(1, 9, size=2000)
    visited = [list(rng.integers(25, size=int(k))) + [int(p)]
               for k, p in zip(rng.integers(0, 5, size=2000), prev, strict=True)]
    revisit = np.array([int(c) in v for c, v in zip(cur, visited, strict=True)])
    want = [published_reward(int(a), int(b), int(c), v, int(d))
            for a, b, c, v, d in zip(prev, cur, goal, visited, best, strict=True)]
    assert published_rewards(prev, cur, goal, revisit, best).tolist() == want
    assert set(want) == {-1, 1, 2}


def test_batched_episodes_replay_identically_in_the_gym_environment() -> None:
    rng = np.random.default_rng(1)
    grids = rng.normal(size=(6, 25, 8)).astype(np.float32)
    ep = A.sample_episodes(grids, rng.integers(1, 9, size=40), rng, budget=10)
    A.run_episodes(grids, ep, A.random_walk(np.random.default_rng(2)))
    assert ep.success is not None and ep.steps is not None
    env = GomaaGeoEnv(grids)
    for i in range(40):
        env.reset(options={"grid_index": int(ep.grid[i]), "goal_index": int(ep.goal[i]),
                           "start_index": int(ep.start[i])})
        for t in range(int(ep.steps[i])):
            assert ep.alive[t][i]
            _, r, term, _, info = env.step(int(ep.actions[t][i]))
            assert r == ep.rewards[t][i] and info["trajectory"][-1] == ep.positions[t + 1][i]
        assert env.pos == ep.positions[-1][i] and bool(ep.success[i]) == (env.pos == env.goal)


def _greedy_reference(grids: np.ndarray, ep: A.Episodes, mask: np.ndarray) -> np.ndarray:
    """The per-episode definition: the valid neighbour with the highest (unvisited, cosine)."""
    g = ep.goal_emb / np.linalg.norm(ep.goal_emb, axis=1, keepdims=True)
    out = np.zeros(len(mask), dtype=np.int64)
    for i in range(len(mask)):
        seen = {int(h[i]) for h in ep.positions}
        keys = []
        for a in np.flatnonzero(mask[i]):
            n = move(int(ep.positions[-1][i]), int(a))
            e = grids[ep.grid[i], n]
            keys.append(((n not in seen), float(e @ g[i] / np.linalg.norm(e)), int(a)))
        out[i] = max(keys)[2]
    return out


def test_greedy_similarity_equals_its_per_episode_definition() -> None:
    rng = np.random.default_rng(3)
    grids = rng.normal(size=(10, 25, 16)).astype(np.float32)
    ep = A.sample_episodes(grids, rng.integers(4, 9, size=60), rng)
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    greedy = A.greedy_similarity(np.random.default_rng(0))

    def check(grids_: np.ndarray, e: A.Episodes, mask: np.ndarray) -> np.ndarray:
        a = greedy(grids_, e, mask)
        seen.append((a, _greedy_reference(grids_, e, mask)))
        return a

    A.run_episodes(grids, ep, check)
    assert len(seen) >= 5
    for a, ref in seen:
        np.testing.assert_array_equal(a, ref)


def test_every_method_sees_the_same_goal_vectors() -> None:
    rng = np.random.default_rng(4)
    te = rng.normal(size=(4, 25, 8)).astype(np.float32)
    goals: dict[str, np.ndarray | None] = {
        "ground": rng.normal(size=te.shape).astype(np.float32),
        "text": rng.normal(size=te.shape).astype(np.float32)}
    logs: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[], []]

    def recorder(log: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> A.Policy:
        walk = A.random_walk(np.random.default_rng(len(log) + 9))

        def act(grids: np.ndarray, ep: A.Episodes, mask: np.ndarray) -> np.ndarray:
            if len(ep.positions) == 1:
                log.append((ep.grid.copy(), ep.goal.copy(), ep.goal_emb.copy()))
            return walk(grids, ep, mask)

        return act

    demo_run._evaluate(te, recorder(logs[0]), 0, goals)
    demo_run._evaluate(te, A.greedy_similarity(np.random.default_rng(1)), 0, goals)
    demo_run._evaluate(te, recorder(logs[1]), 0, goals)
    assert len(logs[0]) == len(logs[1]) == 15  # 3 modalities x 5 distances
    sources = [te] * 5 + [goals["ground"]] * 5 + [goals["text"]] * 5
    for (g0, k0, e0), (g1, k1, e1), src in zip(*logs, sources, strict=True):
        np.testing.assert_array_equal(g0, g1)
        np.testing.assert_array_equal(k0, k1)
        np.testing.assert_array_equal(e0, e1)
        np.testing.assert_array_equal(e0, src[g0, k0])


def test_pair_table_built_once_per_distance(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    orig = pairs_at_distance

    def counting(dist: int, grid_size: int = 5) -> list[tuple[int, int]]:
        calls.append(dist)
        return orig(dist, grid_size)

    monkeypatch.setattr(A, "pairs_at_distance", counting)
    grids = np.zeros((3, 25, 4), dtype=np.float32)
    ep = A.sample_episodes(grids, [4, 5] * 100, np.random.default_rng(0))
    assert sorted(calls) == [4, 5]  # old code: 200 calls
    assert all(abs(g // 5 - s // 5) + abs(g % 5 - s % 5) == c
               for g, s, c in zip(ep.goal, ep.start, [4, 5] * 100, strict=True))


def test_states_of_finished_episodes_are_skipped_not_changed() -> None:
    torch.manual_seed(0)
    model = SequenceModel(PolicyConfig.tiny(8)).eval()
    rng = np.random.default_rng(5)
    grids = rng.normal(size=(3, 25, 8)).astype(np.float32)
    ep = A.sample_episodes(grids, [3] * 6, rng)
    ep.positions = [ep.start, move_many(ep.start, np.ones(6, dtype=np.int64))]
    ep.actions = [np.ones(6, dtype=np.int64)]
    full = last_states(model, grids, ep)
    ep.acting = np.array([True, False, True, True, False, False])
    part = last_states(model, grids, ep)
    torch.testing.assert_close(part[ep.acting], full[ep.acting])
    assert (part[~ep.acting] == 0).all()
