"""GOMAA-Geo environment: moves, masking, the published reward (with its distance quirk),
budget, gymnasium API. Hand-worked values follow ``PPO.get_reward`` and
``Sequence.update_sequence_with_action`` of github mvrl/GOMAA-Geo (no independent env file
exists; the hand values are the cross-check)."""

from __future__ import annotations

import numpy as np
import pytest

from geoneurips.errors import InvalidInputError
from geoneurips.location.gomaageo.env import (
    GomaaGeoEnv,
    manhattan,
    move,
    optimal_actions,
    pairs_at_distance,
    published_reward,
    valid_action_mask,
)


def test_moves_row_major_and_off_grid_keeps_position() -> None:
    # 0 up, 1 right, 2 down, 3 left on a row-major 5x5 grid
    assert [move(12, a) for a in range(4)] == [7, 13, 17, 11]
    assert move(0, 0) == 0 and move(0, 3) == 0  # top-left corner: up/left stay
    assert move(4, 1) == 4 and move(24, 2) == 24 and move(20, 3) == 20
    assert move(5, 3) == 5 and move(9, 1) == 9  # row edges do not wrap
    with pytest.raises(InvalidInputError):
        move(3, 4)


def test_valid_action_mask_matches_public_masking() -> None:
    assert valid_action_mask(0).tolist() == [0, 1, 1, 0]
    assert valid_action_mask(4).tolist() == [0, 0, 1, 1]
    assert valid_action_mask(20).tolist() == [1, 1, 0, 0]
    assert valid_action_mask(24).tolist() == [1, 0, 0, 1]
    assert valid_action_mask(12).tolist() == [1, 1, 1, 1]
    assert valid_action_mask(10).tolist() == [1, 1, 1, 0]


def test_published_reward_hand_values_and_quirk() -> None:
    goal = 24  # (4, 4)
    assert published_reward(0, 0, goal, [0], 8) == -1  # no movement
    assert published_reward(23, 24, goal, [0, 23], 1) == 2  # goal
    assert published_reward(6, 1, goal, [1, 6], 6) == -1  # revisit
    # the quirk: from (0,0) (Manhattan 8) a good move to (0,1): squared 16 + 9 = 25 >= 8 -> -1
    assert published_reward(0, 1, goal, [0], 8) == -1
    # from (2,4) (Manhattan 2) a good move to (3,4): squared 1 < 2 -> +1
    assert published_reward(14, 19, goal, [14], 2) == 1
    # from (3,2) (Manhattan 3) to (3,3): squared 1 + 1 = 2 < 3 -> +1
    assert published_reward(17, 18, goal, [17], 3) == 1
    # from (1,4) (Manhattan 3) to (2,4): squared 4 >= 3 -> -1 although the move is optimal
    assert published_reward(9, 14, goal, [9], 3) == -1
    # a Euclidean-only reading would give +1 here; Manhattan best_dist forbids it
    assert published_reward(13, 18, goal, [13], 3) == 1
    assert published_reward(18, 13, goal, [18], 2) == -1


def test_optimal_actions_and_pairs() -> None:
    assert optimal_actions(0, 24).tolist() == [0, 1, 1, 0]
    assert optimal_actions(24, 0).tolist() == [1, 0, 0, 1]
    assert optimal_actions(7, 7).tolist() == [0, 0, 0, 0]
    pairs = pairs_at_distance(8)
    assert sorted(pairs) == [(0, 24), (4, 20), (20, 4), (24, 0)]
    assert all(manhattan(g, s) == 4 for g, s in pairs_at_distance(4))
    with pytest.raises(InvalidInputError):
        pairs_at_distance(9)


def _grids(n: int = 3, d: int = 8) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, 25, d)).astype(np.float32)


def test_env_episode_rewards_budget_and_termination() -> None:
    env = GomaaGeoEnv(_grids(), budget=10)
    obs, info = env.reset(seed=0, options={"grid_index": 1, "goal_index": 24, "start_index": 0})
    assert info["distance"] == 8 and info["best_dist"] == 8
    np.testing.assert_array_equal(obs["goal"], env.grids[1, 24])
    np.testing.assert_array_equal(obs["patch"], env.grids[1, 0])
    assert obs["action_mask"].tolist() == [0, 1, 1, 0]
    rewards = []
    for a in [0, 1, 1, 1, 1, 2, 2, 2]:  # off-grid, then right x4, then down x3
        obs, r, term, trunc, info = env.step(a)
        rewards.append(r)
        assert not term and not trunc
    # up at the top edge: -1; right x4 along row 0: squared >= best (8) -> -1 each;
    # down to (1,4): 9 >= 8 -> -1; (2,4): 4 < 8 -> +1 (best 2); (3,4): 1 < 2 -> +1 (best 1)
    assert rewards == [-1, -1, -1, -1, -1, -1, 1, 1]
    assert info["best_dist"] == 1 and info["steps"] == 8
    obs, r, term, trunc, info = env.step(2)
    assert (r, term, trunc, info["success"]) == (2.0, True, False, True)
    with pytest.raises(InvalidInputError):
        env.step(0)


def test_env_truncates_at_budget() -> None:
    env = GomaaGeoEnv(_grids(), budget=3)
    env.reset(seed=1, options={"grid_index": 0, "goal_index": 24, "start_index": 0})
    out = [env.step(1)[2:4] for _ in range(3)]
    assert out == [(False, False), (False, False), (False, True)]
    env.reset(options={"grid_index": 0, "goal_index": 24, "start_index": 0, "budget": 1})
    assert env.step(2)[3] is True


def test_env_random_resets_respect_distance_and_goal_modality() -> None:
    grids = _grids()
    env = GomaaGeoEnv(grids, distances=(4,))
    for s in range(20):
        _, info = env.reset(seed=s)
        assert info["distance"] == 4
    other = np.ones(8, dtype=np.float32)
    obs, _ = env.reset(seed=0, options={"goal_embedding": other, "distance": 6})
    np.testing.assert_array_equal(obs["goal"], other)


def test_env_gymnasium_checker_and_bad_inputs() -> None:
    from gymnasium.utils.env_checker import check_env

    check_env(GomaaGeoEnv(_grids()), skip_render_check=True)
    with pytest.raises(InvalidInputError):
        GomaaGeoEnv(np.zeros((2, 16, 4)))
    with pytest.raises(InvalidInputError):
        GomaaGeoEnv(_grids(), budget=0)
    env = GomaaGeoEnv(_grids())
    with pytest.raises(InvalidInputError):
        env.reset(options={"grid_index": 0, "goal_index": 30, "start_index": 0})
