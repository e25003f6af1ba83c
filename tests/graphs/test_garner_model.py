"""Garner's views, contrastive terms and training (tiny configuration)."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pytest
import torch
from sklearn.preprocessing import MinMaxScaler

from geoneurips.graphs.garner.model import (
    DGI,
    MVGRL,
    Garner,
    GarnerConfig,
    build_views,
    knn_graph,
    ppr_diffusion,
    random_regular_graph,
    train_contrastive,
)
from geoneurips.graphs.garner.synthetic import synthetic_city


def _dense_ppr(edges: np.ndarray, n: int, alpha: float, k: int, eps: float) -> np.ndarray:
    """Dense APPNP on the identity, thresholded and MinMax-scaled (sklearn): a reference."""
    a = np.zeros((n, n))
    a[edges[1], edges[0]] = 1.0  # rows: targets
    a[np.arange(n), np.arange(n)] = 1.0
    deg = a.sum(1)
    op = a / np.sqrt(deg[:, None]) / np.sqrt(deg[None, :])
    x0 = np.eye(n)
    x = x0
    for _ in range(k):
        x = (1 - alpha) * op @ x + alpha * x0
    x[x < eps] = 0
    return MinMaxScaler().fit_transform(x)


def test_ppr_matches_dense_reference() -> None:
    g = nx.gnm_random_graph(30, 70, seed=1)
    e = np.array(list(g.edges())).T
    e = np.concatenate([e, e[::-1]], 1)
    ref = _dense_ppr(e, 30, 0.2, 20, 0.01)
    idx, w = ppr_diffusion(torch.as_tensor(e), 30, block=7)  # several column blocks
    got = np.zeros((30, 30))
    got[idx[0].numpy(), idx[1].numpy()] = w.numpy()
    assert np.allclose(got, ref, atol=1e-5)


def test_knn_and_random_regular() -> None:
    x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.95, 0.0]])
    ei = knn_graph(x, k=1)
    pairs = set(zip(ei[0].tolist(), ei[1].tolist(), strict=True))
    # edges neighbour -> segment, one per segment (k = 1), not symmetrised: 1's nearest is
    # 4, but 4's nearest is 0, so there is no edge 1 -> 4
    assert pairs == {(4, 0), (0, 4), (4, 1), (3, 2), (2, 3)}
    rr = random_regular_graph(50, 6, seed=0)
    deg = torch.bincount(rr[0], minlength=50)
    assert (deg == 6).all()


def test_knn_view_is_euclidean_and_directed_as_published() -> None:
    """Regression: the kNN view was cosine and undirected; the public code builds it with
    ``dgl.knn_graph(svi, k, exclude_self=True)``: Euclidean distance, each segment's ``k``
    nearest as its predecessors. Here cosine would pick 1 (same direction) for 0, Euclidean
    picks 2; and 3, far from all, gets incoming edges but sends none."""
    x = torch.tensor([[1.0, 0.0], [10.0, 0.0], [1.2, 0.3], [30.0, 30.0], [9.0, 0.5]])
    ei = knn_graph(x, k=1)
    pairs = set(zip(ei[0].tolist(), ei[1].tolist(), strict=True))
    assert pairs == {(2, 0), (4, 1), (0, 2), (1, 3), (1, 4)}
    x2 = torch.randn(40, 5, generator=torch.Generator().manual_seed(0))
    ei2 = knn_graph(x2, k=6, block=7)
    assert (torch.bincount(ei2[1], minlength=40) == 6).all()  # in-degree k, no self-loops
    assert not (ei2[0] == ei2[1]).any()
    d = torch.cdist(x2, x2)
    d.fill_diagonal_(float("inf"))
    ref = d.topk(6, dim=1, largest=False).indices
    assert set(zip(ei2[0].tolist(), ei2[1].tolist(), strict=True)) == {
        (int(ref[i, j]), i) for i in range(40) for j in range(6)}


def test_models_and_training() -> None:
    c = synthetic_city(6, 0)
    road, svi = c.segments.features(), c.svi
    cfg = dataclasses.replace(GarnerConfig.tiny(), epochs=15, sample_size=60)
    views = build_views(torch.as_tensor(c.segments.line_graph()), torch.as_tensor(svi), cfg)
    n = len(svi)
    for kind, cls in (("garner", Garner), ("mvgrl", MVGRL), ("dgi", DGI)):
        model, emb, curve = train_contrastive(kind, road, svi, views, cfg, seed=0)  # type: ignore[arg-type]
        assert isinstance(model, cls)
        assert emb.shape == (n, cfg.hid_dim) and torch.isfinite(emb).all()
        assert min(curve) < curve[0] - 0.05  # the contrastive loss goes down
    assert not hasattr(MVGRL(60, 64, cfg), "enc3") and not hasattr(DGI(60, 64, cfg), "enc2")


def test_third_law_negative_is_the_random_regular_graph() -> None:
    c = synthetic_city(5, 1)
    road = torch.as_tensor(c.segments.features())
    svi = torch.as_tensor(c.svi)
    cfg = GarnerConfig.tiny()
    v = build_views(torch.as_tensor(c.segments.line_graph()), svi, cfg)
    torch.manual_seed(0)
    m = Garner(road.shape[1], svi.shape[1], cfg)
    perm = torch.randperm(len(svi))
    base = m.loss(road, svi, v, perm)
    assert torch.allclose(base, m.loss(road, svi, v, perm))
    v2 = dataclasses.replace(v, neg=random_regular_graph(v.n, cfg.neg_degree, seed=5))
    assert not torch.allclose(base, m.loss(road, svi, v2, perm))
    # the embedding sums the three views
    x = m.project(road, svi)
    h = m.enc1(x, v.graph) + m.enc2(x, v.diff_index, v.diff_weight) + m.enc3(x, v.sim)
    assert torch.allclose(m.embed(road, svi, v), h.detach(), atol=1e-5)


def test_paper_defaults() -> None:
    cfg = GarnerConfig()
    assert (cfg.hid_dim, cfg.ppr_alpha, cfg.ppr_k, cfg.ppr_epsilon, cfg.knn_k,
            cfg.neg_degree, cfg.sample_size, cfg.lr) == (512, 0.2, 20, 0.01, 6, 20, 4000, 1e-3)
    with pytest.raises(KeyError):
        train_contrastive("nope", np.zeros((3, 2), np.float32), np.zeros((3, 2), np.float32),  # type: ignore[arg-type]
                          build_views(torch.tensor([[0, 1], [1, 2]]), torch.eye(3), cfg), cfg)


def test_bilinear_score_equals_nn_bilinear() -> None:
    """The discriminators score ``(h W) . c + b`` (fast backward): same values and
    gradients as ``nn.Bilinear(h, c.expand_as(h))``."""
    from geoneurips.graphs.garner.model import bilinear_score

    torch.manual_seed(0)
    fn = torch.nn.Bilinear(16, 16, 1)
    h = torch.randn(30, 16, requires_grad=True)
    c = torch.sigmoid(torch.randn(1, 16))
    ref = fn(h, c.expand_as(h)).squeeze(1)
    g_ref = torch.autograd.grad(ref.square().sum(), [h, fn.weight, fn.bias])
    got = bilinear_score(fn, h, c)
    g_got = torch.autograd.grad(got.square().sum(), [h, fn.weight, fn.bias])
    assert torch.allclose(got, ref, atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(g_got, g_ref, strict=True))


def test_gcn_norm_is_dgl_both_with_source_out_degree() -> None:
    """Regression: the road-graph and kNN encoders used torch_geometric's normalisation
    (in-degree at both ends); the public code's DGL ``GraphConv(norm="both")`` scales a
    message ``u -> v`` by ``out_deg(u)^-1/2 in_deg(v)^-1/2`` (self-loops included). On this
    directed graph node 0 sends to 1, 2, 3 but receives from none, so the two differ."""
    from geoneurips.graphs.garner.model import _Encoder

    torch.manual_seed(0)
    n = 5
    ei = torch.tensor([[0, 0, 0, 1, 3], [1, 2, 3, 2, 4]])
    enc = _Encoder(3, 4, True)
    x = torch.randn(n, 3)
    a = torch.eye(n)  # a[src, dst], one self-loop per node
    a[ei[0], ei[1]] = 1.0
    out_deg, in_deg = a.sum(1), a.sum(0)
    agg = (a / out_deg[:, None].sqrt() / in_deg[None, :].sqrt()).T @ x
    ref = enc.act(enc.conv.lin(agg) + enc.conv.bias)
    assert torch.allclose(enc(x, ei), ref, atol=1e-6)


def test_kept_model_is_the_one_after_the_best_step_and_patience_stops() -> None:
    """Regression: the kept parameters were those *before* the step of the lowest loss; the
    public trainer calls its early stopper after ``optimizer.step()``, so it keeps the
    parameters after that step (with one epoch: the stepped model, not the initial one).
    ``patience`` epochs without a lower loss stop the training, as ``--patience``."""
    c = synthetic_city(5, 0)
    road, svi = c.segments.features(), c.svi
    cfg = dataclasses.replace(GarnerConfig.tiny(), epochs=1, sample_size=40)
    views = build_views(torch.as_tensor(c.segments.line_graph()), torch.as_tensor(svi), cfg)
    model, _, curve = train_contrastive("garner", road, svi, views, cfg, seed=3)
    torch.manual_seed(3)
    fresh = Garner(road.shape[1], svi.shape[1], cfg)
    assert len(curve) == 1
    assert not torch.allclose(model.enc1.conv.lin.weight, fresh.enc1.conv.lin.weight)
    cfg2 = dataclasses.replace(cfg, epochs=400, patience=3, lr=0.05)
    _, _, curve2 = train_contrastive("dgi", road, svi, views, cfg2, seed=0)
    assert len(curve2) < 400  # stopped early
    best = int(np.argmin(curve2))
    assert len(curve2) == best + 1 + 3 and min(curve2[best + 1:]) >= curve2[best]


def test_demo_uses_the_paper_defaults_but_epochs_and_sample_size() -> None:
    """Regression: the demo built its configuration from ``GarnerConfig.tiny()`` and kept its
    negative-graph degree 8 (the paper's and public code's default is 20)."""
    from geoneurips.graphs.garner.pipeline import demo_config

    for quick in (True, False):
        cfg = demo_config(quick)
        assert dataclasses.replace(cfg, epochs=2500, sample_size=4000) == GarnerConfig()
        assert cfg.neg_degree == 20 and cfg.hid_dim == 512 and cfg.knn_k == 6
