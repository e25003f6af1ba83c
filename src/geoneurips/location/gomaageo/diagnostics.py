"""Zero-shot diagnostics behind the notes' "measured causes" (not part of the demo).

``zero_shot_diagnostics(seed)`` trains GOMAA-Geo as the quick demo does and reports SR of the
policy and of greedy similarity (same goal vectors, same pairs) for goals that isolate one
cause each: aerial goals, aerial goals + isotropic noise (relative size 0.2), aerial goals with
the test image's encoded appearance removed, ground goals, text goals, and text goals with the
oracle appearance added; plus the relative distance of each goal kind to the goal patch.
The appearance of test grid ``i`` is estimated as its mean patch minus the mean patch over all
test grids (the place codes average out). Run::

    python -c "from geoneurips.location.gomaageo.diagnostics import main; main()" 10 11 12
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from . import demo_run as D
from .agents import greedy_similarity, success_ratio
from .goals import build_goal_space
from .pipeline import make_grids, make_world, train_gomaa


def _rel(goal: np.ndarray, patch: np.ndarray) -> float:
    e = np.linalg.norm(goal - patch, axis=-1) / np.linalg.norm(patch, axis=-1)
    return round(float(e.mean()), 3)


def zero_shot_diagnostics(seed: int, budget: tuple[int, int, int] | None = None,
                          align_steps: int = 1000, test_grids: int = 40) -> dict[str, Any]:
    """``{goal kind: (policy SR, greedy SR)}`` and ``rel_error_<kind>`` for one seed."""
    from ...seed import single_thread
    with single_thread():  # one thread: the same float order, and result, on any core count
        n_train, gasp_steps, ppo_iters = budget or D.QUICK
        world = make_world(seed, smooth=D.SMOOTH)
        space = build_goal_space(
            make_grids(world, n_train, seed + 1, D.CONTENT, variants=D.VARIANTS),
            make_grids(world, test_grids, seed + 1000, D.CONTENT, variants=D.VARIANTS),
            seed, steps=align_steps)
        assert space.test_text is not None
        te = space.test
        agent, _, _ = train_gomaa(space.train, seed, gasp_steps, ppo_iters)
        appearance = te.mean(1, keepdims=True) - te.mean((0, 1), keepdims=True)
        noise = np.random.default_rng(seed + 99).normal(size=te.shape)
        noise *= 0.2 * np.linalg.norm(te, axis=-1, keepdims=True) / np.linalg.norm(
            noise, axis=-1, keepdims=True)
        goals = {"aerial": te, "aerial_noise_0.2": te + noise,
                 "aerial_minus_appearance": te - appearance, "ground": space.test_ground,
                 "text": space.test_text, "text_plus_oracle_appearance": space.test_text + appearance}
        out: dict[str, Any] = {"seed": seed}
        for name, g in goals.items():
            g32 = np.asarray(g, dtype=np.float32)
            ours = success_ratio(te, agent.policy(), np.random.default_rng(seed + 7),
                                 goal_embeddings=g32)["sr_mean"]
            greedy = success_ratio(te, greedy_similarity(np.random.default_rng(seed)),
                                   np.random.default_rng(seed + 7), goal_embeddings=g32)["sr_mean"]
            out[name] = (round(ours, 3), round(greedy, 3))
            out[f"rel_error_{name}"] = _rel(g32, te)
        return out


def main() -> None:
    for s in sys.argv[1:] or ["10", "11", "12"]:
        print(json.dumps(zero_shot_diagnostics(int(s))))
