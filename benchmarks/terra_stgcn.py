"""STGCN training step on Terra's real 100-node UK graph: dense Chebyshev convolution (ours)
against torch_geometric's message-passing ChebConv, side by side in one run.

Both networks have the same architecture and weights (the demo's channels (32, 8, 32),
batch 64, 30-day history, 30 horizons); one step is forward + backward. CPU time, one
thread, median of ``--repeats`` steps after one warm-up.

    python benchmarks/terra_stgcn.py [--data ../shared/data/terra] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import Tensor, nn


class _PygChebAdapter(nn.Module):
    """torch_geometric's ChebConv behind DenseChebConv's call signature."""

    def __init__(self, dense: nn.Module, edge_index: Tensor) -> None:
        super().__init__()
        from torch_geometric.nn import ChebConv

        lins = dense.lins  # type: ignore[union-attr]
        self.conv = ChebConv(lins[0].in_features, lins[0].out_features, K=len(lins))
        self.conv.load_state_dict({k: v for k, v in dense.state_dict().items() if k != "lap"})
        self.edge_index = edge_index

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.conv(x, self.edge_index)
        return out


def _step_seconds(net: nn.Module, x: Tensor, repeats: int) -> float:
    net(x).sum().backward()
    times = []
    for _ in range(repeats):
        t = time.process_time()
        net(x).sum().backward()
        times.append(time.process_time() - t)
    return statistics.median(times)


def main() -> None:
    from geoneurips.forecasting.terra.baselines import STGCN, edge_index_from_adjacency
    from geoneurips.forecasting.terra.data import read_adjacency

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data/terra"))
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    torch.set_num_threads(1)
    adj = read_adjacency(args.data / "adj_Rainfall_UK.pkl")
    torch.manual_seed(0)
    dense = STGCN(adj, 30, 30, channels=(32, 8, 32))
    ref = STGCN(adj, 30, 30, channels=(32, 8, 32))
    ref.load_state_dict(dense.state_dict())
    ei = edge_index_from_adjacency(adj)
    for block in ref.blocks:
        block.graph = _PygChebAdapter(block.graph, ei)
    x = torch.randn(64, 30, adj.shape[0], 3)
    with torch.no_grad():  # eval mode: no dropout, so the two see the same network
        diff = float((dense.eval()(x) - ref.eval()(x)).abs().max())
    dense.train()
    ref.train()
    t_dense = _step_seconds(dense, x, args.repeats)
    t_ref = _step_seconds(ref, x, args.repeats)
    print(f"max |dense - torch_geometric| output difference: {diff:.2e}")
    print(f"train step, CPU s: dense {t_dense:.3f}  torch_geometric {t_ref:.3f}  ratio {t_ref / t_dense:.2f}x")


if __name__ == "__main__":
    main()
