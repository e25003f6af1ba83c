"""Garner's three views, encoders, contrastive terms and induced-subgraph training.

Zhou et al., "Road Network Representation Learning with the Third Law of Geography",
NeurIPS 2024 (arXiv 2406.04038), Sec. 4, matched against the public code
(``src/model/mvgrl.py``, ``mvgrl_spectral.py``; written here from scratch with
torch_geometric instead of DGL):

- inputs: ``Linear(road features -> 256) ++ Linear(street-view features -> 256)``;
- view 1, the road graph (line graph of segments, one self-loop per segment):
  ``GCN(norm=both) -> 512, PReLU``, DGL's ``norm="both"``: a message from ``u`` to ``v`` is
  scaled by ``out_deg(u)^-1/2 in_deg(v)^-1/2`` (:func:`dgl_both_norm`);
- view 2, personalised-PageRank diffusion (APPNP ``k = 20`` steps, ``alpha = 0.2`` on the
  identity, entries ``< 0.01`` dropped, each column min-max scaled, used as edge weights):
  ``GCN(norm=none, edge weights) -> 512, PReLU`` (:func:`ppr_diffusion`);
- view 3, the geographic-configuration view (Third Law): a directed kNN graph (``k = 6``,
  Euclidean distance, edges from each segment's neighbours to it, as DGL's
  ``knn_graph(..., exclude_self=True)`` in the public code) on the street-view features
  (:func:`knn_graph`), self-loops added: ``GCN(norm=both) -> 512, PReLU``;
- First-Law term: MVGRL's bilinear local-global discriminator between views 1 and 2 with
  feature-shuffling negatives; Third-Law term: the same between views 1 and 3, whose
  negatives are view 1 on shuffled features and view 3's encoder on the unshuffled
  features over a **random d-regular graph** (``d = 20``, drawn once for the whole network
  and induced on each sample, as the public code's cached graph; "spectral negative
  sampling"); readouts ``c = sigmoid(mean h)``; ``loss = 0.5 BCE1 + 0.5 BCE2``
  (:class:`Garner`);
- training on a random induced subgraph of ``sample_size = 4000`` segments per epoch,
  Adam ``lr = 1e-3``, no weight decay; the public early stopper on the training loss
  (patience 999): after each step, if that epoch's loss is the lowest so far, the
  parameters after the step are kept; embedding = ``(h1 + h2 + h3).detach()`` on the
  whole graph (:func:`train_contrastive`).

Deliberate difference: the diffusion is computed column block by column block (exactly the
dense APPNP result, without an ``n x n`` matrix in memory).
The ablations (:class:`MVGRL`: views 1 and 2, First-Law term only; :class:`DGI`: view 1
only) see the same input features, street-view features included.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn
from torch_geometric.nn import GCNConv
from torch_geometric.utils import add_remaining_self_loops, subgraph, to_undirected

__all__ = [
    "DGI",
    "MVGRL",
    "Garner",
    "GarnerConfig",
    "Views",
    "bilinear_score",
    "build_views",
    "dgl_both_norm",
    "knn_graph",
    "ppr_diffusion",
    "random_regular_graph",
    "train_contrastive",
]

Kind = Literal["garner", "mvgrl", "dgi"]


@dataclass(frozen=True)
class GarnerConfig:
    """Hyper-parameters; the defaults are the paper's / public code's."""

    proj_dim_a: int = 256  # road features -> 256
    proj_dim_b: int = 256  # street-view features -> 256
    hid_dim: int = 512
    ppr_alpha: float = 0.2
    ppr_k: int = 20
    ppr_epsilon: float = 0.01
    knn_k: int = 6
    neg_degree: int = 20
    sample_size: int = 4000
    epochs: int = 2500
    lr: float = 1e-3
    patience: int = 999  # early stopping on the training loss (public ``--patience``)

    @classmethod
    def tiny(cls) -> GarnerConfig:
        """A small configuration for tests and the demo."""
        return cls(proj_dim_a=32, proj_dim_b=32, hid_dim=64, sample_size=512, epochs=30,
                   neg_degree=8)


@dataclass
class Views:
    """The graphs of the three views (edge indices ``(2, E)`` over segments)."""

    graph: Tensor
    diff_index: Tensor
    diff_weight: Tensor
    sim: Tensor
    neg: Tensor
    n: int


def _gcn_operator(edge_index: Tensor, n: int) -> Tensor:
    """Sparse ``D^-1/2 (A + I) D^-1/2`` with rows = targets (messages flow src -> dst), ``D``
    the in-degrees at both ends, as DGL's ``APPNPConv``."""
    ei, _ = add_remaining_self_loops(edge_index, num_nodes=n)
    deg = torch.bincount(ei[1], minlength=n).float()
    w = deg[ei[0]].rsqrt() * deg[ei[1]].rsqrt()
    op: Tensor = torch.sparse_coo_tensor(torch.stack([ei[1], ei[0]]), w, (n, n)).coalesce()
    return op


def ppr_diffusion(edge_index: Tensor, n: int, alpha: float = 0.2, k: int = 20,
                  epsilon: float = 0.01, block: int = 1024) -> tuple[Tensor, Tensor]:
    """MVGRL/Garner's diffusion view: APPNP propagation of the identity matrix.

    ``X_0 = I``, ``X_{t+1} = (1 - alpha) Â X_t + alpha I`` for ``k`` steps (Â the
    self-looped, symmetrically normalised adjacency); entries ``< epsilon`` are set to 0 and
    every column is min-max scaled over all rows (``sklearn.MinMaxScaler``); the non-zero
    entries ``S[i, j]`` become edges ``i -> j`` with weight ``S[i, j]``. Computed ``block``
    columns at a time, so memory is ``n x block``.
    """
    op = _gcn_operator(edge_index, n)
    srcs, dsts, ws = [], [], []
    for start in range(0, n, block):
        cols = torch.arange(start, min(n, start + block))
        x0 = torch.zeros(n, len(cols))
        x0[cols, torch.arange(len(cols))] = 1.0
        x = x0
        for _ in range(k):
            x = (1 - alpha) * torch.sparse.mm(op, x) + alpha * x0
        x = torch.where(x < epsilon, torch.zeros_like(x), x)
        lo, hi = x.min(0).values, x.max(0).values
        scale = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
        x = (x - lo) / scale
        r, c = torch.nonzero(x, as_tuple=True)
        srcs.append(r)
        dsts.append(cols[c])
        ws.append(x[r, c])
    return torch.stack([torch.cat(srcs), torch.cat(dsts)]), torch.cat(ws)


def knn_graph(x: Tensor, k: int = 6, block: int = 2048) -> Tensor:
    """Geographic-configuration graph (public code: ``dgl.knn_graph(svi, k, "bruteforce",
    exclude_self=True)``): the ``k`` nearest segments by **Euclidean** distance between
    street-view features (itself excluded) are the **predecessors** of each segment, i.e.
    edges ``neighbour -> segment``, so every segment aggregates exactly its own ``k``
    neighbours (the encoder adds the self-loop). Not made undirected."""
    z = x.float()
    n = len(z)
    k = min(k, n - 1)
    sq = (z * z).sum(1)
    src, dst = [], []
    for start in range(0, n, block):
        rows = torch.arange(start, min(n, start + block))
        d2 = sq[rows, None] - 2 * z[rows] @ z.T + sq[None, :]
        d2[torch.arange(len(rows)), rows] = float("inf")
        idx = d2.topk(k, dim=1, largest=False).indices
        src.append(idx.reshape(-1))
        dst.append(rows.repeat_interleave(k))
    return torch.stack([torch.cat(src), torch.cat(dst)])


def random_regular_graph(n: int, d: int = 20, seed: int = 0) -> Tensor:
    """The Third-Law negative graph: a random ``d``-regular graph on the ``n`` segments
    (``networkx.random_regular_graph``; ``d`` lowered by one when ``n * d`` is odd and
    capped at ``n - 1``), undirected, no self-loops."""
    import networkx as nx

    d = min(d, n - 1)
    if (n * d) % 2:
        d -= 1
    g = nx.random_regular_graph(d, n, seed=seed)
    e = torch.tensor(list(g.edges()), dtype=torch.long).reshape(-1, 2).T
    out: Tensor = to_undirected(e, num_nodes=n)
    return out


def build_views(line_edges: Tensor, svi: Tensor, cfg: GarnerConfig, seed: int = 0) -> Views:
    """The road graph, its PPR diffusion, the kNN graph on street-view features and the
    random regular negative graph."""
    n = len(svi)
    diff_index, diff_weight = ppr_diffusion(line_edges, n, cfg.ppr_alpha, cfg.ppr_k,
                                            cfg.ppr_epsilon)
    return Views(line_edges, diff_index, diff_weight, knn_graph(svi, cfg.knn_k),
                 random_regular_graph(n, cfg.neg_degree, seed), n)


def dgl_both_norm(edge_index: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """DGL ``GraphConv(norm="both")`` on a graph with one self-loop per node (the public
    code adds them to the line graph, the kNN graph and the negative graph): the edges with
    the self-loops added and the weights ``out_deg(src)^-1/2 * in_deg(dst)^-1/2``, degrees
    counted on this (sub)graph, self-loops included. On a directed graph (one-way segments,
    the kNN view) the source's **out**-degree differs from its in-degree."""
    ei, _ = add_remaining_self_loops(edge_index, num_nodes=n)
    out_deg = torch.bincount(ei[0], minlength=n).float()
    in_deg = torch.bincount(ei[1], minlength=n).float()
    return ei, out_deg[ei[0]].rsqrt() * in_deg[ei[1]].rsqrt()


class _Encoder(nn.Module):
    """One GCN layer + PReLU (DGL ``GraphConv(..., norm, activation=PReLU)``): with
    ``normalize`` the ``norm="both"`` weights of :func:`dgl_both_norm`, else the given edge
    weights as they are (``norm="none"``)."""

    def __init__(self, d_in: int, d_out: int, normalize: bool) -> None:
        super().__init__()
        self.normalize = normalize
        self.conv = GCNConv(d_in, d_out, normalize=False, add_self_loops=False)
        self.act = nn.PReLU()

    def forward(self, x: Tensor, edge_index: Tensor, weight: Tensor | None = None) -> Tensor:
        if self.normalize:
            edge_index, weight = dgl_both_norm(edge_index, len(x))
        out: Tensor = self.act(self.conv(x, edge_index, weight))
        return out


def bilinear_score(fn: nn.Bilinear, h: Tensor, c: Tensor) -> Tensor:
    """``fn(h, c.expand_as(h)).squeeze(1)`` for one summary row ``c`` (1, d), computed as
    ``(h W) . c + b``: the same value and gradients as ``nn.Bilinear``, whose CPU backward
    is orders of magnitude slower at 512 dimensions (it dominated the training time)."""
    out: Tensor = ((h @ fn.weight[0]) * c).sum(1) + fn.bias[0]
    return out


class _Discriminator(nn.Module):
    """MVGRL's bilinear local-global discriminator: ``[f(h2,c1), f(h1,c2)]`` are positives,
    ``[f(h4,c1), f(h3,c2)]`` negatives (``h3``/``h4`` the negatives of views a/b)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fn = nn.Bilinear(dim, dim, 1)

    def forward(self, h1: Tensor, h2: Tensor, h3: Tensor, h4: Tensor, c1: Tensor,
                c2: Tensor) -> Tensor:
        f = self.fn
        return torch.cat([bilinear_score(f, h2, c1), bilinear_score(f, h1, c2),
                          bilinear_score(f, h4, c1), bilinear_score(f, h3, c2)])


class _Base(nn.Module):
    kind: Kind = "garner"

    def __init__(self, road_dim: int, svi_dim: int, cfg: GarnerConfig) -> None:
        super().__init__()
        self.proj_a = nn.Linear(road_dim, cfg.proj_dim_a)
        self.proj_b = nn.Linear(svi_dim, cfg.proj_dim_b)
        d = cfg.proj_dim_a + cfg.proj_dim_b
        self.enc1 = _Encoder(d, cfg.hid_dim, True)
        if self.kind != "dgi":
            self.enc2 = _Encoder(d, cfg.hid_dim, False)
            self.disc1 = _Discriminator(cfg.hid_dim)
        if self.kind == "garner":
            self.enc3 = _Encoder(d, cfg.hid_dim, True)
            self.disc2 = _Discriminator(cfg.hid_dim)
        if self.kind == "dgi":
            self.disc = nn.Bilinear(cfg.hid_dim, cfg.hid_dim, 1)

    def project(self, road: Tensor, svi: Tensor) -> Tensor:
        return torch.cat([self.proj_a(road), self.proj_b(svi)], dim=1)

    @torch.no_grad()
    def embed(self, road: Tensor, svi: Tensor, v: Views) -> Tensor:
        """The summed embedding ``h1 (+ h2) (+ h3)`` of every segment."""
        x = self.project(road, svi)
        h = self.enc1(x, v.graph)
        if self.kind != "dgi":
            h = h + self.enc2(x, v.diff_index, v.diff_weight)
        if self.kind == "garner":
            h = h + self.enc3(x, v.sim)
        out: Tensor = h
        return out

    def loss(self, road: Tensor, svi: Tensor, v: Views, perm: Tensor) -> Tensor:
        """The contrastive loss on one (sub)graph; ``perm`` shuffles the features."""
        x = self.project(road, svi)
        xs = self.project(road[perm], svi[perm])
        bce = nn.functional.binary_cross_entropy_with_logits
        h1, h4 = self.enc1(x, v.graph), self.enc1(xs, v.graph)
        c1 = torch.sigmoid(h1.mean(0, keepdim=True))
        n = len(x)
        lbl = torch.cat([torch.ones(2 * n), torch.zeros(2 * n)])
        if self.kind == "dgi":
            pos = bilinear_score(self.disc, h1, c1)
            neg = bilinear_score(self.disc, h4, c1)
            return bce(torch.cat([pos, neg]), lbl[n:3 * n])
        h2 = self.enc2(x, v.diff_index, v.diff_weight)
        h5 = self.enc2(xs, v.diff_index, v.diff_weight)
        c2 = torch.sigmoid(h2.mean(0, keepdim=True))
        first_law = bce(self.disc1(h1, h2, h4, h5, c1, c2), lbl)
        if self.kind == "mvgrl":
            return first_law
        h3 = self.enc3(x, v.sim)
        h6 = self.enc3(x, v.neg)  # the random-regular-graph negative
        c3 = torch.sigmoid(h3.mean(0, keepdim=True))
        third_law = bce(self.disc2(h1, h3, h4, h6, c1, c3), lbl)
        return 0.5 * first_law + 0.5 * third_law


class Garner(_Base):
    """Garner: three views, First-Law and Third-Law contrastive terms (Sec. 4)."""

    kind: Kind = "garner"


class MVGRL(_Base):
    """MVGRL (Hassani & Khasahmadi 2020) on the road graph and its PPR diffusion: Garner
    without the Third-Law view (the paper's strongest contrastive baseline)."""

    kind: Kind = "mvgrl"


class DGI(_Base):
    """Deep Graph Infomax (Velickovic et al. 2019): one GCN view, feature-shuffling
    negatives, bilinear discriminator against the sigmoid mean readout."""

    kind: Kind = "dgi"


def _induced(v: Views, idx: Tensor) -> Views:
    g, _ = subgraph(idx, v.graph, relabel_nodes=True, num_nodes=v.n)
    d, w = subgraph(idx, v.diff_index, v.diff_weight, relabel_nodes=True, num_nodes=v.n)
    s, _ = subgraph(idx, v.sim, relabel_nodes=True, num_nodes=v.n)
    ng, _ = subgraph(idx, v.neg, relabel_nodes=True, num_nodes=v.n)
    assert w is not None
    return Views(g, d, w, s, ng, len(idx))


def train_contrastive(kind: Kind, road: NDArray[np.float32] | Tensor,
                      svi: NDArray[np.float32] | Tensor, views: Views,
                      cfg: GarnerConfig, seed: int = 0) -> tuple[_Base, Tensor, list[float]]:
    """Train Garner / MVGRL / DGI on random induced subgraphs; return the kept model, the
    embeddings of every segment and the loss curve.

    As the public trainers: after each optimiser step the early stopper sees that epoch's
    loss (computed before the step) and, when it is the lowest so far, keeps the parameters
    **as they are after the step**; ``cfg.patience`` epochs in a row without a lower loss stop
    the training (public default 999; ``0`` never stops early)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    road_t = torch.as_tensor(road, dtype=torch.float32)
    svi_t = torch.as_tensor(svi, dtype=torch.float32)
    cls = {"garner": Garner, "mvgrl": MVGRL, "dgi": DGI}[kind]
    model = cls(road_t.shape[1], svi_t.shape[1], cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    size = min(cfg.sample_size, views.n)
    best, best_state, curve, waited = float("inf"), copy.deepcopy(model.state_dict()), [], 0
    for _ in range(cfg.epochs):
        model.train()
        idx = torch.randperm(views.n, generator=gen)[:size].sort().values
        sub = _induced(views, idx) if size < views.n else views
        perm = torch.randperm(size, generator=gen)
        opt.zero_grad()
        loss = model.loss(road_t[idx], svi_t[idx], sub, perm)
        loss.backward()  # type: ignore[no-untyped-call]
        curve.append(float(loss.detach()))
        opt.step()
        if curve[-1] < best:  # public EarlyStopper.step, called after optimizer.step()
            best, best_state, waited = curve[-1], copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if cfg.patience > 0 and waited >= cfg.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return model, model.embed(road_t, svi_t, views), curve
