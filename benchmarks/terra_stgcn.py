"""STGCN training step on Terra's real 100-node UK graph: dense Chebyshev convolution (ours,
Clenshaw form) against the textbook recursion on the input channels (the previous dense
form) and torch_geometric's message-passing ChebConv, side by side in one run.

All networks have the same architecture and weights (the demo's channels (32, 8, 32),
batch 64, 30-day history, 30 horizons); one step is forward + backward; the prediction is a
forward pass without autograd on 256 windows (the demo's prediction batch). CPU time, one
thread, median of ``--repeats`` calls after one warm-up. Measured on the shared 2-core
machine (noisy): Clenshaw vs textbook 0.98-1.16x per training step, 1.25-1.46x per
prediction batch; vs torch_geometric 2.3-3.0x per training step.

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


class _TextbookCheb(nn.Module):
    """The textbook recursion ``T_k X`` on the input channels, then the channel maps (the
    previous DenseChebConv forward), with DenseChebConv's weights."""

    def __init__(self, dense: nn.Module) -> None:
        super().__init__()
        self.dense = dense

    def forward(self, x: Tensor) -> Tensor:
        d = self.dense
        t_prev, t_cur = x, x
        out = d.lins[0](x)  # type: ignore[index]
        for k in range(1, len(d.lins)):  # type: ignore[arg-type]
            t_next = torch.matmul(d.lap, t_cur)  # type: ignore[arg-type]
            if k > 1:
                t_next = 2.0 * t_next - t_prev
            out = out + d.lins[k](t_next)  # type: ignore[index]
            t_prev, t_cur = t_cur, t_next
        result: Tensor = out + d.bias  # type: ignore[operator]
        return result


def _step_seconds(net: nn.Module, x: Tensor, repeats: int) -> float:
    net(x).sum().backward()
    times = []
    for _ in range(repeats):
        t = time.process_time()
        net(x).sum().backward()
        times.append(time.process_time() - t)
    return statistics.median(times)


def _predict_seconds(net: nn.Module, x: Tensor, repeats: int) -> float:
    net.eval()
    with torch.no_grad():
        net(x)
        times = []
        for _ in range(repeats):
            t = time.process_time()
            net(x)
            times.append(time.process_time() - t)
    net.train()
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
    book = STGCN(adj, 30, 30, channels=(32, 8, 32))
    book.load_state_dict(dense.state_dict())
    for block in ref.blocks:
        block.graph = _PygChebAdapter(block.graph, ei)
    for block in book.blocks:
        block.graph = _TextbookCheb(block.graph)
    x = torch.randn(64, 30, adj.shape[0], 3)
    with torch.no_grad():  # eval mode: no dropout, so the three see the same network
        out = dense.eval()(x)
        diff = float((out - ref.eval()(x)).abs().max())
        diff_book = float((out - book.eval()(x)).abs().max())
    for net in (dense, ref, book):
        net.train()
    t_dense = _step_seconds(dense, x, args.repeats)
    t_ref = _step_seconds(ref, x, args.repeats)
    t_book = _step_seconds(book, x, args.repeats)
    big = torch.randn(256, 30, adj.shape[0], 3)  # the demo's prediction batch
    p_dense = _predict_seconds(dense, big, args.repeats)
    p_book = _predict_seconds(book, big, args.repeats)
    print(f"max |dense - torch_geometric| output difference: {diff:.2e}")
    print(f"max |dense - textbook recursion| output difference: {diff_book:.2e}")
    print(
        f"train step, CPU s: dense (Clenshaw) {t_dense:.3f}  textbook {t_book:.3f}  "
        f"torch_geometric {t_ref:.3f}  ratios {t_book / t_dense:.2f}x, {t_ref / t_dense:.2f}x"
    )
    print(
        f"prediction, 256 windows, CPU s: dense (Clenshaw) {p_dense:.3f}  textbook {p_book:.3f}"
        f"  ratio {p_book / p_dense:.2f}x"
    )


if __name__ == "__main__":
    main()
