"""Garner end to end: embeddings of a road network, the demo against every baseline.

:func:`embed_network` is what the task command runs (views, training, summed embedding).
:func:`demo` writes a synthetic city (:mod:`.synthetic`, built so that road function follows
the street-view configuration type, which recurs across the city: the Third Law) in the
published layout, reads it back with :class:`GarnerCity`, trains Garner, MVGRL and DGI on the
same inputs (road features + street-view features), and scores every embedding and the raw
feature baselines with the same probes (road function: micro/macro-F1, macro-AUROC; speed:
MAE, RMSE, MAPE, MARE, R²) over repeated random 80/20 splits.

Downstream protocol: as in the public code (``src/main.py`` ``evaluate`` loads the saved
embedding and ``src/task/static.py`` fits ``LogReg(emb)`` / ``Linear(emb[road_id])``), the
probes see the **embedding alone**, not the embedding concatenated with the raw road
features; the same for every embedding method (Garner, MVGRL, DGI). The raw-feature
baselines are the same probes on the raw features (and their neighbourhood means). Probe
repeats are 3 (quick) / 5 (full) random splits instead of the published 30 (CPU budget).

Demo configuration (:func:`demo_config`): the paper's defaults (road / street-view
projections 256 + 256, 512-d encoders, PPR ``k = 20``, ``alpha = 0.2``, kNN ``k = 6``,
negative-graph degree 20, Adam 1e-3, patience 999) with induced subgraphs of 384 segments
(paper: 4000 on a whole city) and 60 (quick) / 120 (full) epochs instead of 2500; the same
for Garner, MVGRL and DGI. The city's street-view noise is :data:`SVI_NOISE`, its roads keep
their ``highway`` class along a grid line and change it with probability :data:`HW_CHANGE`
per street (calibrated on real OSM extracts). No regression is explained: the speed metrics,
on which every embedding probed alone is far below the raw-feature probes, stay unexplained,
so the demo does not decide a win (see the package notes). Ablations:
the untrained Garner encoder (the same initialisation, no training step) and the views'
plain neighbourhood means (raw + road-graph + street-view-kNN means, no learning).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from torch_geometric.utils import to_undirected

from ...demo import DemoResult, finish, new_figure
from ...seed import seed_everything
from .data import GarnerCity, write_fixture
from .evaluate import road_function_eval, speed_eval
from .model import GarnerConfig, Views, build_views, train_contrastive

__all__ = ["DEMO_MARGIN", "HW_CHANGE", "SVI_NOISE", "demo", "demo_config", "embed_network", "neighbourhood_features"]

#: Margin asserted by ``beats_baseline`` on macro-F1 (absolute).
DEMO_MARGIN = 0.02

#: Per-dimension noise of the synthetic street-view features around their configuration's
#: centre. Chosen on development seeds 10-12 (see the package notes): at 2.0 (used before)
#: a segment's 6 street-view nearest neighbours shared its configuration only 43-48% of the
#: time (its road-graph neighbours 38-40%), so the Third-Law view was hardly more than a
#: second First-Law view; at 1.5 they share it 70-77% of the time, as the paper's premise
#: (similar street views <=> similar geographic configuration) asks.
SVI_NOISE = 1.5

#: Probability that a road (a grid line of the synthetic city) changes its ``highway`` class
#: at a street. Calibrated on the real OSM extracts in the shared data (West Oakland, Munich,
#: NYC): there a segment's line-graph neighbours share its class 63% of the time (pooled;
#: 38-72% per extract); with 0.1 the synthetic city gives 59-61% (dev seeds 10-12), with the
#: former i.i.d. draw per street (1.0) 40-41%.
HW_CHANGE = 0.1

DIRECTIONS: dict[str, Any] = {
    "rf_micro_f1": "max", "rf_macro_f1": "max", "rf_macro_auroc": "max",
    "speed_mae": "min", "speed_rmse": "min", "speed_mape": "min", "speed_mare": "min",
    "speed_r2": "max",
}


def embed_network(road_feat: NDArray[np.float32], svi: NDArray[np.float32],
                  line_edges: NDArray[np.int64] | Tensor, cfg: GarnerConfig | None = None,
                  seed: int = 0, kind: str = "garner") -> tuple[Tensor, list[float], Views]:
    """Build the views, train ``kind`` (garner / mvgrl / dgi), return the summed embedding
    of every segment, the loss curve and the views."""
    cfg = cfg or GarnerConfig()
    seed_everything(seed)
    views = build_views(torch.as_tensor(line_edges), torch.as_tensor(svi), cfg, seed)
    _, emb, curve = train_contrastive(kind, road_feat, svi, views, cfg, seed)  # type: ignore[arg-type]
    return emb, curve, views


def demo_config(quick: bool = False) -> GarnerConfig:
    """The demo's configuration: the paper's (:class:`GarnerConfig` defaults: widths, PPR,
    kNN ``k = 6``, negative-graph degree 20, lr, patience) with fewer epochs on smaller
    induced subgraphs (CPU budget)."""
    return dataclasses.replace(GarnerConfig(), epochs=60 if quick else 120, sample_size=384)


def _mean_agg(x: Tensor, edge_index: Tensor, n: int) -> Tensor:
    a = torch.sparse_coo_tensor(edge_index, torch.ones(edge_index.shape[1]), (n, n)).coalesce()
    deg = torch.sparse.sum(a, 1).to_dense().clamp(min=1)
    out: Tensor = torch.sparse.mm(a, x) / deg[:, None]
    return out


def neighbourhood_features(x: Tensor, edge_index: Tensor, hops: int = 2) -> Tensor:
    """``[x, mean_N(x), mean_N(mean_N(x)), ...]`` over the undirected graph: the practitioner's
    first try (raw features plus neighbourhood averages)."""
    n = len(x)
    und = to_undirected(edge_index, num_nodes=n)
    out, cur = [x], x
    for _ in range(hops):
        cur = _mean_agg(cur, und, n)
        out.append(cur)
    return torch.cat(out, 1)


def _scores(x: Tensor, city: GarnerCity, runs: int, seed: int) -> dict[str, float]:
    rf = road_function_eval(x.numpy(), city.road_function, runs=runs, seed=seed)
    sp = speed_eval(x.numpy(), city.speed_index, city.speed, runs=runs, seed=seed)
    return {**{f"rf_{k}": v for k, v in rf.items()}, **{f"speed_{k}": v for k, v in sp.items()}}


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult:
    """Garner vs raw-feature baselines, DGI and MVGRL on a synthetic Third-Law city."""
    started = time.perf_counter()
    seed_everything(seed)
    grid, runs = (12, 3) if quick else (14, 5)
    cfg = demo_config(quick)
    epochs = cfg.epochs
    with tempfile.TemporaryDirectory() as tmp:
        write_fixture(Path(tmp) / "city", seed=1000 + seed, grid=grid, svi_noise=SVI_NOISE,
                      hw_change=HW_CHANGE)
        city = GarnerCity(Path(tmp) / "city")
    sample = city[0]
    road, svi, lg = city.road_feat, city.svi, sample["edge_index"]
    views = build_views(lg, torch.as_tensor(svi), cfg, seed)
    embs: dict[str, Tensor] = {}
    fit_s: dict[str, float] = {}
    curves: dict[str, list[float]] = {}
    for kind in ("garner", "mvgrl", "dgi"):
        t0 = time.perf_counter()
        _, embs[kind], curves[kind] = train_contrastive(kind, road, svi, views, cfg, seed)
        fit_s[kind] = round(time.perf_counter() - t0, 2)
    raw = torch.as_tensor(np.concatenate([road, svi], 1))
    raw_nb = neighbourhood_features(raw, lg)
    knn_view = torch.cat([raw_nb, neighbourhood_features(raw, views.sim, hops=1)[:, raw.shape[1]:]],
                         1)
    ours = _scores(embs["garner"], city, runs, seed)
    baselines = {
        "raw_features_logreg": _scores(raw, city, runs, seed),
        "raw_neighbourhood_logreg": _scores(raw_nb, city, runs, seed),
        "dgi": _scores(embs["dgi"], city, runs, seed),
        "mvgrl": _scores(embs["mvgrl"], city, runs, seed),
    }
    untrained = train_contrastive("garner", road, svi, views, dataclasses.replace(cfg, epochs=0),
                                  seed)[1]
    ablations = {"knn_view_features_no_learning": _scores(knn_view, city, runs, seed),
                 "garner_untrained_encoder": _scores(untrained, city, runs, seed)}
    fig, axes = new_figure(2, 1, size=4.5)
    city.plot(sample, ax=axes[0, 0])
    names = [*baselines, *ablations, "garner"]
    vals = [{**baselines, **ablations, "garner": ours}[k]["rf_macro_f1"] for k in names]
    axes[0, 1].barh(names, vals, color=["grey"] * (len(names) - 1) + ["tab:green"])
    axes[0, 1].set_xlabel("road function macro-F1 (mean over splits)")
    return finish(
        "garner", ours, baselines=baselines, primary="rf_macro_f1", margin=DEMO_MARGIN,
        directions=DIRECTIONS, figure=fig, out_dir=out_dir, started=started,
        ablations=ablations,
        details={"seed": seed, "segments": len(svi), "grid": grid, "epochs": epochs,
                 "probe_runs": runs, "config": dataclasses.asdict(cfg), "fit_seconds": fit_s,
                 "final_loss": {k: c[-1] for k, c in curves.items()},
                 "street_view": "synthetic features (no images or vision weights offline)"},
    )
