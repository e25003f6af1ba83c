"""The GOMAA-Geo demo: synthetic search grids where patch embeddings carry the goal signal.

A world of location codes (:func:`~.pipeline.make_world`) is seen through training grids and
through **unseen** test grids (other seeds: other content and noise). Each grid adds a strong
grid-specific content vector (``CONTENT`` = 3 times the code's norm: the image's own
appearance) to all its patches, so the goal embedding alone locates the goal poorly; every
patch seen on the way (at a known position) reveals that content, so an agent that uses its
whole trajectory can remove it: the paper's point that the search history over the unseen
area carries the goal signal. As in the paper (Sec. 3.2), all goals live in one frozen space,
the ground view (:mod:`.goals`): the aerial patches pass through an aerial encoder trained
with the CLIP loss into that space (the Sat2Cap role); the encoded grids are written in the
published pickled-dict layout and read back with the restricted loader
(:class:`~.data.GomaaGeoGrids`). Every method gets the same embeddings:

- ``random_walk``: uniform valid moves (the paper's random baseline);
- ``greedy_similarity``: moves to the neighbour most similar to the goal (peeking at the
  neighbours before moving, which the agent cannot);
- ``memoryless_mlp``: a plain MLP of (goal, current patch, coordinates) trained on the same
  GASP walks and targets: the practitioner's first network, without the history.

GOMAA-Geo = causal transformer + GASP pretraining + PPO (sequence model frozen). Ablations:
``gasp_only`` (the GASP head's argmax, no PPO) and ``ppo_only`` (PPO on a frozen, untrained
sequence model: no GASP). Goals of three modalities, all zero-shot except aerial, on the same
(goal, start) pairs and given to every method alike: aerial (the encoded goal patch,
``sr_mean``), ground (the frozen ground-view embedding of the goal patch,
``sr_mean_ground``) and text (a caption of the goal place in a phrasing unseen in training,
encoded by the real MiniLM and mapped by a CLIP-trained head, ``sr_mean_text``). Primary: SR
at budget 10 over ``C = 4..8`` (``sr_mean``), 5 pairs per test grid and ``C``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from geoneurips.demo import DemoResult, finish, new_figure

from .agents import Policy, greedy_similarity, memoryless_policy, random_walk, success_ratio
from .data import GomaaGeoGrids, write_fixture
from .goals import build_goal_space
from .model import GaspHead, PolicyConfig, SequenceModel
from .pipeline import (
    gasp_policy,
    make_grids,
    make_world,
    train_gasp,
    train_gomaa,
    train_memoryless,
)

VARIANTS = 1
QUICK = (150, 500, 30)  # training grids, GASP steps (also the memoryless MLP's), PPO updates
FULL = (200, 900, 100)
SMOOTH = 0.3
CONTENT = 3.0


def _evaluate(te: np.ndarray, pol: Policy, seed: int,
              goals: dict[str, np.ndarray | None]) -> dict[str, float]:
    """SR with aerial goals, then with each other modality's goals on the same pairs."""
    m = success_ratio(te, pol, np.random.default_rng(seed + 7))
    for name, emb in goals.items():
        if emb is not None:
            m[f"sr_mean_{name}"] = success_ratio(te, pol, np.random.default_rng(seed + 7),
                                                 goal_embeddings=emb)["sr_mean"]
    return m


def run_demo(out_dir: Path, quick: bool = False, seed: int = 0,
             text: bool = True) -> DemoResult:
    started = time.perf_counter()
    from ...seed import single_thread
    with single_thread():  # one thread: the same float order, and result, on any core count
        n_train, gasp_steps, ppo_iters = QUICK if quick else FULL
        world = make_world(seed, smooth=SMOOTH)
        space = build_goal_space(make_grids(world, n_train, seed + 1, CONTENT, variants=VARIANTS),
                                 make_grids(world, 40, seed + 1000, CONTENT, variants=VARIANTS),
                                 seed, text=text)
        with tempfile.TemporaryDirectory() as tmp:
            # the published files hold encoded (Sat2Cap) patches: write and read them back
            write_fixture(tmp, {"train": space.train, "val": space.test})
            tr = GomaaGeoGrids(tmp, "train").grids
            te = GomaaGeoGrids(tmp, "val").grids
        d = tr.shape[2]
        goals = {"ground": space.test_ground, "text": space.test_text}

        agent, head, info = train_gomaa(tr, seed, gasp_steps, ppo_iters)
        ours = _evaluate(te, agent.policy(), seed, goals)
        baselines = {
            "random_walk": _evaluate(te, random_walk(np.random.default_rng(seed)), seed, goals),
            "greedy_similarity": _evaluate(te, greedy_similarity(np.random.default_rng(seed)),
                                           seed, goals),
            "memoryless_mlp": _evaluate(te, memoryless_policy(train_memoryless(tr, gasp_steps,
                                                                               seed)),
                                        seed, goals),
        }
        ppo_only, _, info_ppo = train_gomaa(tr, seed, 0, ppo_iters, pretrain=False)
        ablations = {
            "gasp_only": _evaluate(te, gasp_policy(agent.model, head), seed, goals),
            "ppo_only": _evaluate(te, ppo_only.policy(), seed, goals),
        }
        directions = {k: "max" for k in ours}

        fig, axes = new_figure(2, 1, size=4.5)
        names = [*baselines, *ablations, "GOMAA-Geo"]
        vals = [*(b["sr_mean"] for b in baselines.values()),
                *(a["sr_mean"] for a in ablations.values()), ours["sr_mean"]]
        axes[0, 0].barh(names, vals, color=["grey"] * (len(names) - 1) + ["tab:green"])
        axes[0, 0].set_xlabel("success ratio, budget 10, C = 4..8 (unseen grids)")
        cs = [4, 5, 6, 7, 8]
        for name, m in [*baselines.items(), ("GOMAA-Geo", ours)]:
            axes[0, 1].plot(cs, [m[f"sr_c{c}"] for c in cs], marker="o", label=name)
        axes[0, 1].set_xlabel("start-goal distance C")
        axes[0, 1].set_ylabel("SR")
        axes[0, 1].legend(fontsize=7)
        details: dict[str, Any] = {
            "seed": seed, "quick": quick, "train_grids": n_train, "test_grids": 40,
            "pairs_per_grid_and_C": 5, "budget": 10, "world_smooth": SMOOTH,
            "orientation_variants": VARIANTS, "grid_content": CONTENT, "gasp_steps": gasp_steps,
            "ppo_iterations": ppo_iters,
            "ppo_batch_episodes": 64, "policy": PolicyConfig.tiny(d).to_dict(),
            "settings_vs_paper": "tiny transformer (64 hidden, 2 layers), GASP AdamW 1e-3 cosine, "
                                 "PPO Adam 3e-3 decay 0.99 (paper: 1152 hidden, 12 layers, 1e-5 / "
                                 "1e-4)",
            **info, **space.info, "ppo_only_train_success_last": info_ppo["ppo_train_success_last"],
            "zero_shot_diagnosis": {"sr_mean_ground": _GROUND, "sr_mean_text": _TEXT},
        }
        return finish(
            "gomaageo", ours, baselines=baselines, primary="sr_mean", margin=MARGIN,
            directions=directions, figure=fig, out_dir=out_dir, started=started,
            ablations=ablations, regressions_explained=explain_regressions(ours, baselines),
            details=details,
        )


MARGIN = 0.05
PAIRS_PER_C = 40 * 5  # test grids x pairs per grid and C
_GROUND = (
    "ground goals are the frozen ground-view embeddings; the aerial encoder is CLIP-trained "
    "into that space as in the paper (Sat2Cap; batches of whole images) and leaves a relative "
    "error of about 0.24 between a ground goal and its encoded aerial patch on unseen grids "
    "(details: ground_goal_vs_encoded_aerial_goal_rel_error); the policy, trained on goals "
    "that are exact copies of a search patch (as in the paper's GASP and PPO), loses SR to "
    "any goal error (dev seeds 10/11/12: aerial 0.783/0.762/0.844, isotropic goal noise of "
    "relative size 0.2 0.716/0.667/0.700, greedy 0.616/0.594/0.587), while greedy similarity "
    "only ranks the four neighbours by cosine, which the error hardly reorders")
_TEXT = (
    "text goals (MiniLM captions of the goal place in an unseen phrasing, CLIP-aligned to the "
    "frozen ground space as CLIP's text tower is) carry the place but not the test image's own "
    "appearance (the per-grid content, 3x the place code's norm) that every aerial training "
    "goal carried; the policy reads the goal relative to that appearance (dev seeds 10/11/12: "
    "appearance removed from aerial goals 0.364/0.325/0.352 vs greedy 0.645/0.553/0.667; the "
    "oracle appearance added to text goals 0.489/0.440/0.353 vs 0.548/0.590/0.469, the "
    "caption's place estimate staying 0.92-1.00 patch norms away), while greedy's ranking of "
    "four neighbours that share the appearance is unaffected")


def explain_regressions(ours: dict[str, float], baselines: dict[str, dict[str, float]],
                        n_pairs: int = PAIRS_PER_C) -> dict[str, str]:
    """Explanations given only while their measured condition holds (else the demo fails).

    All need the method to lead every baseline on ``sr_mean`` (aerial goals). A per-distance
    SR ``sr_c<C>`` is explained (a) by greedy similarity's look-ahead when greedy is the best
    baseline there and scores above its own ``sr_mean`` at that ``C`` (its peek pays at short
    distances), or (b) as sampling noise when the deficit is within two binomial standard
    errors of the difference over ``n_pairs`` pairs. A zero-shot modality (``sr_mean_ground``,
    ``sr_mean_text``) is never explained: goal-modality-agnostic search is the paper's claim,
    so losing there fails the demo (the measured diagnosis goes to ``details``).
    """
    out: dict[str, str] = {}
    if ours["sr_mean"] <= max(b["sr_mean"] for b in baselines.values()):
        return out
    for metric, value in ours.items():
        name, best = max(((n, b[metric]) for n, b in baselines.items() if metric in b),
                         key=lambda x: x[1], default=("", float("-inf")))
        if best <= value:
            continue
        if metric.startswith("sr_c"):
            b = baselines[name]
            se = (value * (1 - value) / n_pairs + best * (1 - best) / n_pairs) ** 0.5
            if name == "greedy_similarity" and b[metric] > b["sr_mean"]:
                out[metric] = (
                    f"greedy_similarity peeks at the four neighbours' embeddings before every "
                    f"move (information the agent never has); at this distance its one-step "
                    f"look-ahead scores {b[metric]:.3f}, above its own mean {b['sr_mean']:.3f}")
            elif best - value <= 2 * se:
                out[metric] = (f"sampling noise: deficit {best - value:.3f} <= two standard "
                               f"errors ({2 * se:.3f}) over {n_pairs} pairs, while the method "
                               f"leads on sr_mean")
    return out


__all__ = ["run_demo", "GaspHead", "SequenceModel", "train_gasp"]
