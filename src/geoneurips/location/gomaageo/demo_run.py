"""The GOMAA-Geo demo: synthetic search grids where patch embeddings carry the goal signal.

A world of location codes (:func:`~.pipeline.make_world`) is seen through training grids and
through **unseen** test grids (other seeds: other content and noise); both are
written in the published pickled-dict layout and read back with the restricted loader
(:class:`~.data.GomaaGeoGrids`). Each grid adds a strong grid-specific content vector
(``CONTENT`` = 3 times the code's norm) to all its patches, so the goal embedding alone
locates the goal poorly; every patch seen on the way (at a known position) reveals that
content, so an agent that uses its whole trajectory can remove it: the paper's point that the
search history over the unseen area carries the goal signal. Every method gets the same
embeddings:

- ``random_walk``: uniform valid moves (the paper's random baseline);
- ``greedy_similarity``: moves to the neighbour most similar to the goal (peeking at the
  neighbours before moving, which the agent cannot);
- ``memoryless_mlp``: a plain MLP of (goal, current patch, coordinates) trained on the same
  GASP walks and targets: the practitioner's first network, without the history.

GOMAA-Geo = causal transformer + GASP pretraining + PPO (sequence model frozen). Ablations:
``gasp_only`` (the GASP head's argmax, no PPO) and ``ppo_only`` (PPO on a frozen, untrained
sequence model: no GASP). The goal-modality-agnostic part is tested with "ground" goals: a
fixed unknown linear map of the aerial goal plus noise, brought back into the patch space by
a :class:`~.model.ModalityAligner` trained with the CLIP loss on paired training patches, and
given zero-shot to every method (``sr_mean_ground``). Primary: SR at budget 10 over
``C = 4..8`` (``sr_mean``), 5 pairs per test grid and ``C``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geoneurips.demo import DemoResult, finish, new_figure

from .agents import Policy, greedy_similarity, memoryless_policy, random_walk, success_ratio
from .data import GomaaGeoGrids, write_fixture
from .model import GaspHead, ModalityAligner, PolicyConfig, SequenceModel, clip_loss
from .pipeline import (
    gasp_policy,
    make_grids,
    make_world,
    train_gasp,
    train_gomaa,
    train_memoryless,
)

VARIANTS = 1
SMOOTH = 0.3
CONTENT = 3.0


def fit_aligner(ground: np.ndarray, aerial: np.ndarray, seed: int, steps: int = 1000
                ) -> ModalityAligner:
    """CLIP-style alignment of paired (ground, aerial) embeddings ``[N, D]``."""
    torch.manual_seed(seed)
    al = ModalityAligner(ground.shape[1], aerial.shape[1])
    opt = torch.optim.Adam(al.parameters(), lr=1e-2)
    rng = np.random.default_rng(seed)
    g, a = torch.from_numpy(ground), torch.from_numpy(aerial)
    for _ in range(steps):
        idx = torch.from_numpy(rng.choice(len(g), 256, replace=False))
        loss = clip_loss(al(g[idx]), a[idx], al.logit_scale)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    return al.eval()


def _ground_view(grids: np.ndarray, w: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out: np.ndarray = (grids @ w + rng.normal(0, 0.1 / np.sqrt(w.shape[1]), grids.shape)
                       ).astype(np.float32)
    return out


def _evaluate(te: np.ndarray, pol: Policy, seed: int, ground: np.ndarray) -> dict[str, float]:
    m = success_ratio(te, pol, np.random.default_rng(seed + 7))
    m["sr_mean_ground"] = success_ratio(te, pol, np.random.default_rng(seed + 7),
                                        goal_embeddings=ground)["sr_mean"]
    return m


def run_demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    started = time.perf_counter()
    torch.set_num_threads(1)
    n_train, gasp_steps, ppo_iters = (150, 500, 60) if quick else (200, 900, 100)
    world = make_world(seed, smooth=SMOOTH)
    with tempfile.TemporaryDirectory() as tmp:
        write_fixture(tmp, {
            "train": make_grids(world, n_train, seed + 1, CONTENT, variants=VARIANTS),
            "val": make_grids(world, 40, seed + 1000, CONTENT, variants=VARIANTS),
        })
        tr = GomaaGeoGrids(tmp, "train").grids
        te = GomaaGeoGrids(tmp, "val").grids
    d = tr.shape[2]
    # ground modality: an unknown linear map of the aerial embedding + noise
    w = np.random.default_rng(seed + 5).normal(0, 1 / np.sqrt(d), (d, d)).astype(np.float32)
    tr_ground = _ground_view(tr, w, seed + 6).reshape(-1, d)
    al = fit_aligner(tr_ground, tr.reshape(-1, d), seed)
    with torch.no_grad():
        # the CLIP loss aligns directions only: calibrate the scale on the training pairs
        scale = float(np.linalg.norm(tr, axis=-1).mean()
                      / al(torch.from_numpy(tr_ground)).norm(dim=-1).mean())
        te_ground = scale * al(torch.from_numpy(_ground_view(te, w, seed + 8))).numpy()

    agent, head, info = train_gomaa(tr, seed, gasp_steps, ppo_iters)
    ours = _evaluate(te, agent.policy(), seed, te_ground)
    baselines = {
        "random_walk": _evaluate(te, random_walk(np.random.default_rng(seed)), seed, te_ground),
        "greedy_similarity": _evaluate(te, greedy_similarity(np.random.default_rng(seed)),
                                       seed, te_ground),
        "memoryless_mlp": _evaluate(te, memoryless_policy(train_memoryless(tr, gasp_steps,
                                                                           seed)),
                                    seed, te_ground),
    }
    ppo_only, _, info_ppo = train_gomaa(tr, seed, 0, ppo_iters, pretrain=False)
    ablations = {
        "gasp_only": _evaluate(te, gasp_policy(agent.model, head), seed, te_ground),
        "ppo_only": _evaluate(te, ppo_only.policy(), seed, te_ground),
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
        **info, "ppo_only_train_success_last": info_ppo["ppo_train_success_last"],
    }
    return finish(
        "gomaageo", ours, baselines=baselines, primary="sr_mean", margin=MARGIN,
        directions=directions, figure=fig, out_dir=out_dir, started=started,
        ablations=ablations, regressions_explained=REGRESSIONS, details=details,
    )


MARGIN = 0.05
_PEEK = ("greedy_similarity looks at the four neighbours' embeddings before every move "
         "(information the agent never has); at short start-goal distances this one-step "
         "look-ahead often walks straight onto the goal")
REGRESSIONS: dict[str, str] = {
    "sr_c4": _PEEK,
    "sr_c5": _PEEK,
    "sr_c6": _PEEK,
    "sr_mean_ground": (
        "zero-shot ground goals reach the policy through a CLIP-aligned linear head whose "
        "output keeps a relative error of about 0.44 to the true aerial goal (cosine ~0.90, "
        "measured on seed 0); the policy reads the goal's location from its embedding and "
        "suffers from that error, while the greedy baseline's cosine look-ahead does not "
        "(the paper, too, reports lower SR for ground/text goals than for aerial goals)"
    ),
}


__all__ = ["run_demo", "fit_aligner", "GaspHead", "SequenceModel", "train_gasp"]
