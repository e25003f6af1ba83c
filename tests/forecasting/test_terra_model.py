"""Terra masked metrics (hand values, and sklearn on the masked subset) and the baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import mean_absolute_error, mean_squared_error

from geoneurips.errors import InvalidInputError
from geoneurips.forecasting.terra.model import (
    STID,
    DLinear,
    HistoricalInertia,
    masked_mae,
    masked_rmse,
)
from geoneurips.forecasting.terra.pipeline import evaluate


def test_masked_metrics_hand_values() -> None:
    pred = torch.tensor([1.0, 2.0, 3.0, 4.0])
    target = torch.tensor([0.0, 2.0, 5.0, 1.0])  # the dry day (0) is excluded
    assert float(masked_mae(pred, target)) == pytest.approx(5 / 3)
    assert float(masked_rmse(pred, target)) == pytest.approx(np.sqrt(13 / 3))
    # values within 5e-5 of the null value count as null (BasicTS isclose, atol 5e-5)
    assert float(masked_mae(torch.tensor([9.0, 1.0]), torch.tensor([4e-5, 2.0]))) == 1.0


def test_masked_metrics_match_sklearn_on_wet_days() -> None:
    rng = np.random.default_rng(0)
    y = np.where(rng.random(500) < 0.4, 0.0, rng.gamma(2.0, 2.0, 500))
    p = rng.gamma(2.0, 2.0, 500)
    wet = y != 0
    assert float(masked_mae(torch.tensor(p), torch.tensor(y))) == pytest.approx(
        mean_absolute_error(y[wet], p[wet])
    )
    assert float(masked_rmse(torch.tensor(p), torch.tensor(y))) == pytest.approx(
        np.sqrt(mean_squared_error(y[wet], p[wet]))
    )


def test_evaluate_horizon_indexing() -> None:
    target = np.ones((4, 30, 3), np.float32)
    pred = np.ones_like(target)
    pred[:, 6] += 2.0  # only horizon 7 is wrong
    m = evaluate(pred, target)
    assert m["mae@7"] == 2.0 and m["mae@1"] == 0.0 and m["mae@30"] == 0.0
    assert m["mae_7_15_30"] == pytest.approx(2 / 3)


def test_hi_repeats_the_history() -> None:
    x = torch.arange(30.0).view(1, 30, 1, 1).repeat(1, 1, 2, 3)
    out = HistoricalInertia(30, 30)(x)
    assert out.shape == (1, 30, 2)
    assert torch.equal(out[0, :, 0], torch.arange(30.0))  # pred[t+k] = x[t-30+k]
    assert torch.equal(HistoricalInertia(30, 7)(x)[0, :, 1], torch.arange(23.0, 30.0))


def test_dlinear_decomposition_of_a_constant_is_all_trend() -> None:
    net = DLinear(30, 30)
    with torch.no_grad():
        net.trend.weight.zero_()
        net.trend.bias.zero_()
        net.trend.weight[:, -1] = 1.0  # trend head: repeat the last trend value
    x = torch.full((2, 30, 4, 3), 2.5)
    out = net(x)
    # seasonal part of a constant is 0, so the seasonal head gives only its bias
    expected = 2.5 + net.seasonal.bias.detach()
    assert torch.allclose(out[0, :, 0], expected, atol=1e-6)


def test_stid_learns_node_and_month_levels() -> None:
    """STID's node and month identities let it fit levels a shared linear model cannot."""
    torch.manual_seed(0)
    n, b = 6, 32
    level = torch.linspace(-1, 1, n)
    month = torch.randint(0, 12, (b,))
    x = torch.zeros(b, 30, n, 3)
    x[..., 2] = (month.float() / 12).view(b, 1, 1)
    y = (level.view(1, 1, n) + 0.5 * torch.cos(month.float()).view(b, 1, 1)).expand(b, 30, n)
    net = STID(n, embed=8, layers=1, dropout=0.0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = float(torch.mean((net(x) - y) ** 2).detach())
    for _ in range(150):
        opt.zero_grad()
        loss = torch.mean((net(x) - y) ** 2)
        loss.backward()
        opt.step()
    assert net(x).shape == (b, 30, n)
    assert float(loss.detach()) < 0.02 * first


def test_edge_index_drops_self_loops_and_rejects_non_square() -> None:
    from geoneurips.errors import InvalidInputError
    from geoneurips.forecasting.terra.baselines import edge_index_from_adjacency

    adj = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.5], [0.0, 0.5, 1.0]])
    ei = edge_index_from_adjacency(adj)
    assert sorted(map(tuple, ei.T.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    with pytest.raises(InvalidInputError, match="square"):
        edge_index_from_adjacency(np.ones((2, 3)))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_dense_chebconv_equals_torch_geometric(k: int) -> None:
    """Our dense Chebyshev convolution against torch_geometric's ChebConv (message passing,
    sym normalisation, lambda_max 2) with the same weights, on a weighted 7-node graph with
    a self-loop (dropped by both) and an isolated node, on a (B, T, N, C) input."""
    from torch_geometric.nn import ChebConv

    from geoneurips.forecasting.terra.baselines import DenseChebConv, edge_index_from_adjacency

    rng = np.random.default_rng(k)
    adj = (rng.random((7, 7)) < 0.4) * rng.random((7, 7))
    adj = np.maximum(adj, adj.T)
    adj[6, :] = adj[:, 6] = 0.0  # isolated node
    adj[2, 2] = 1.0  # self-loop
    torch.manual_seed(k)
    ref = ChebConv(5, 4, K=k)
    torch.nn.init.normal_(ref.bias)
    ours = DenseChebConv(5, 4, k, adj)
    missing = ours.load_state_dict(ref.state_dict(), strict=False)
    assert missing.missing_keys == ["lap"] and not missing.unexpected_keys
    x = torch.randn(2, 3, 7, 5)
    expect = ref(x, edge_index_from_adjacency(adj))
    torch.testing.assert_close(ours(x), expect, rtol=1e-5, atol=1e-5)
    with pytest.raises(InvalidInputError, match="6 nodes"):
        ours(torch.randn(2, 6, 5))


def test_stgcn_uses_the_graph() -> None:
    """On a 12-node path graph, node 0's forecast depends on its neighbour (node 1) about as
    much as on itself through the Chebyshev graph convolutions; with an edgeless graph (same
    network) node 1 reaches node 0 only through the layer norm over all nodes. Ratio
    |d out_0 / d x_1| / |d out_0 / d x_0| at initialisation, seeds 0/1/2: 0.98/1.17/1.28
    with the edges, 0.14/0.13/0.06 without."""
    from geoneurips.forecasting.terra.baselines import STGCN

    n = 12
    path = np.zeros((n, n))
    for i in range(n - 1):
        path[i, i + 1] = path[i + 1, i] = 1.0

    def ratio(adj: np.ndarray) -> float:
        torch.manual_seed(0)
        net = STGCN(adj, history=12, future=3, channels=(8, 4, 8)).eval()
        x = torch.randn(4, 12, n, 3, requires_grad=True)
        out = net(x)
        assert out.shape == (4, 3, n)
        out[:, :, 0].sum().backward()
        assert x.grad is not None
        g = x.grad.abs().sum((0, 1, 3))
        return float(g[1] / g[0])

    assert ratio(path) > 0.5
    assert ratio(np.zeros((n, n))) < 0.3


def test_patchtst_revin_makes_it_affine_equivariant() -> None:
    """RevIN normalises each series and undoes it: PatchTST(a x + c) = a PatchTST(x) + c."""
    from geoneurips.forecasting.terra.baselines import PatchTST

    torch.manual_seed(0)
    net = PatchTST(30, 30, d_model=16, ff=32).eval()
    x = torch.randn(2, 30, 5, 3)
    out = net(x)
    assert out.shape == (2, 30, 5)
    x2 = x.clone()
    x2[..., 0] = 3.0 * x[..., 0] + 2.0
    assert torch.allclose(net(x2), 3.0 * out + 2.0, atol=1e-4)
    # channel independence: node 4's forecast ignores node 0's series
    x3 = x.clone()
    x3[:, :, 0, 0] += 5.0
    assert torch.allclose(net(x3)[..., 4], out[..., 4], atol=1e-6)
