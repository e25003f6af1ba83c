"""GOMAA-Geo policy pieces: token layout, causality, coordinates, masking, returns, CLIP
loss, PPO step, the SR metric (hand values and a torch/numpy cross-check)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from geoneurips.location.gomaageo.agents import (
    random_walk,
    run_episodes,
    sample_episodes,
    success_ratio,
)
from geoneurips.location.gomaageo.model import (
    ActorCritic,
    ModalityAligner,
    PolicyConfig,
    PPOConfig,
    SequenceModel,
    clip_loss,
    discounted_returns,
    masked_probs,
    patch_coordinates,
    ppo_update,
)


def test_paper_defaults() -> None:
    c = PolicyConfig()
    assert (c.embed_dim, c.hidden, c.layers, c.heads, c.grid_size) == (512, 1152, 12, 12, 5)
    p = PPOConfig()
    assert (p.gamma, p.clip, p.epochs, p.lr, p.entropy_coef, p.value_coef,
            p.update_steps) == (0.93, 0.2, 4, 1e-4, 0.01, 0.5, 640)
    ac = ActorCritic(512)
    assert ac.actor[0].out_features == 128 and ac.critic[2].out_features == 128


def test_patch_coordinates_hand_values() -> None:
    # patch 7 = row 1, column 2 on a 5x5 grid: x = 2, y = 1, step 2pi/4
    v = patch_coordinates(torch.tensor([7]), 5)[0]
    exp = [math.sin(math.pi), math.sin(math.pi / 2), math.cos(math.pi), math.cos(math.pi / 2)]
    np.testing.assert_allclose(v.numpy(), exp, atol=1e-6)


def test_sequence_layout_and_causality() -> None:
    torch.manual_seed(0)
    cfg = PolicyConfig.tiny(16)
    m = SequenceModel(cfg).eval()
    g, p = torch.randn(2, 16), torch.randn(2, 4, 16)
    pos, a = torch.randint(0, 25, (2, 4)), torch.randint(0, 4, (2, 3))
    out = m(g, p, pos, a)
    assert out.shape == (2, 8, 16)  # goal, p0, a1, p1, a2, p2, a3, p3
    assert m.patch_states(g, p, pos, a).shape == (2, 4, 16)
    # a later patch does not change earlier outputs (causal)
    p2 = p.clone()
    p2[:, 3] += 5.0
    out2 = m(g, p2, pos, a)
    torch.testing.assert_close(out[:, :7], out2[:, :7])
    assert not torch.allclose(out[:, 7], out2[:, 7])
    # the first step (no action yet) is the prefix of a longer sequence
    torch.testing.assert_close(m(g, p[:, :1], pos[:, :1], a[:, :0]), out[:, :2])
    with pytest.raises(ValueError):
        m(g, torch.randn(2, 40, 16), torch.zeros(2, 40, dtype=torch.long),
          torch.zeros(2, 39, dtype=torch.long))


def test_masking_never_picks_invalid_moves() -> None:
    ac = ActorCritic(16)
    s = torch.randn(500, 16)
    mask = torch.tensor([[0.0, 1.0, 1.0, 0.0]]).expand(500, -1)
    assert set(ac.greedy(s, mask).tolist()) <= {1, 2}
    probs = masked_probs(ac.actor(s), mask)
    p = probs / probs.sum(-1, keepdim=True)
    assert float(p[:, [0, 3]].max().detach()) < 1e-4


def test_discounted_returns_hand_values() -> None:
    r = discounted_returns([-1, 1, 2, -1, -1], [False, False, True, False, False], 0.5)
    exp = [-1 + 0.5 * (1 + 0.5 * 2), 1 + 0.5 * 2, 2, -1 + 0.5 * -1, -1]
    np.testing.assert_allclose(r.numpy(), exp)


def test_clip_loss_matches_manual_and_aligner_learns() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(6, 8), torch.randn(6, 8)
    scale = torch.tensor(math.log(10.0))
    an = a / a.norm(dim=1, keepdim=True)
    bn = b / b.norm(dim=1, keepdim=True)
    logits = 10.0 * an @ bn.T
    manual = 0.0
    for i in range(6):
        manual += -torch.log_softmax(logits[i], 0)[i] - torch.log_softmax(logits[:, i], 0)[i]
    torch.testing.assert_close(clip_loss(a, b, scale), manual / 12)
    # a linear map between modalities is recovered by the CLIP objective
    w = torch.randn(8, 8)
    x = torch.randn(256, 8)
    y = x @ w
    al = ModalityAligner(8, 8)
    opt = torch.optim.Adam(al.parameters(), lr=1e-2)
    first = float(clip_loss(al(y), x, al.logit_scale))
    for _ in range(200):
        loss = clip_loss(al(y), x, al.logit_scale)
        opt.zero_grad()
        loss.backward()
        opt.step()
    top1 = (torch.nn.functional.normalize(al(y), dim=1)
            @ torch.nn.functional.normalize(x, dim=1).T).argmax(1)
    assert float(loss) < 0.5 * first
    assert float((top1 == torch.arange(256)).float().mean()) > 0.9


def test_ppo_update_moves_towards_rewarded_action() -> None:
    torch.manual_seed(0)
    ac = ActorCritic(8)
    opt = torch.optim.Adam(ac.parameters(), lr=1e-2)
    s = torch.randn(64, 8)
    m = torch.ones(64, 4)
    before = float(ac.actor(s)[:, 2].mean())
    for _ in range(10):
        with torch.no_grad():
            d = ac.distribution(s, m)
            a = d.sample()
            lp, v = d.log_prob(a), ac.value(s)
        ret = (a == 2).float()
        ppo_update(ac, opt, PPOConfig(), s, m, a, lp, v, ret)
    assert float(ac.actor(s)[:, 2].mean()) > before + 0.2


def test_success_ratio_oracle_and_random() -> None:
    grids = np.random.default_rng(0).normal(size=(6, 25, 4)).astype(np.float32)

    def oracle(g: np.ndarray, ep: object, mask: np.ndarray) -> np.ndarray:
        from geoneurips.location.gomaageo.env import optimal_actions

        pos = ep.positions[-1]  # type: ignore[attr-defined]
        return np.array([int(np.argmax(optimal_actions(int(p), int(q))))
                         for p, q in zip(pos, ep.goal, strict=True)])  # type: ignore[attr-defined]

    sr = success_ratio(grids, oracle, np.random.default_rng(0))
    assert sr["sr_mean"] == 1.0 and set(sr) == {"sr_c4", "sr_c5", "sr_c6", "sr_c7", "sr_c8",
                                                "sr_mean"}
    # budget 7 < C = 8: nobody succeeds
    assert success_ratio(grids, oracle, np.random.default_rng(0), distances=(8,),
                         budget=7)["sr_mean"] == 0.0
    rw = success_ratio(grids, random_walk(np.random.default_rng(1)), np.random.default_rng(0),
                       per_grid=20)
    assert rw["sr_c8"] < 0.2 and rw["sr_c4"] < 0.5
    ep = run_episodes(grids, sample_episodes(grids, [4] * 5, np.random.default_rng(0)), oracle)
    assert ep.steps is not None and ep.steps.tolist() == [4] * 5


def test_ppo_buffers_hold_the_published_640_steps_and_the_body_stays_frozen(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Old code updated after one rollout of ``batch`` episodes (here ~80 steps), ignoring
    ``PPOConfig.update_steps`` (the public ``update_timestep`` = 10 * 64 = 640)."""
    import geoneurips.location.gomaageo.pipeline as pl

    sizes: list[int] = []
    real = pl.ppo_update

    def spy(ac: ActorCritic, opt: torch.optim.Optimizer, cfg: PPOConfig, states: torch.Tensor,
            *rest: torch.Tensor) -> float:
        sizes.append(len(states))
        return real(ac, opt, cfg, states, *rest)

    monkeypatch.setattr(pl, "ppo_update", spy)
    torch.manual_seed(0)
    grids = np.random.default_rng(0).normal(size=(8, 25, 16)).astype(np.float32)
    model = SequenceModel(PolicyConfig.tiny(16)).eval()
    for prm in model.parameters():
        prm.requires_grad_(False)
    before = [prm.clone() for prm in model.parameters()]
    agent = pl.GomaaAgent(model, ActorCritic(16))
    pl.train_ppo(agent, grids, 2, 0, PPOConfig(), batch=16)
    assert len(sizes) == 2 and min(sizes) >= 640
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
