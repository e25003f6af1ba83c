"""IDEE model pieces: shapes, the 1-bit LFQ (bit = sign, straight-through gradient, loss
terms), the classifier's T = 8 collapse, the weighted BCE, the anomaly loss, and Integrated
Gradients' completeness."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from geoneurips.forecasting.idee.baselines import integrated_gradients
from geoneurips.forecasting.idee.model import (
    LFQ,
    IDEEConfig,
    IDEEModel,
    PlainClassifier,
    anomaly_loss,
    class_weights,
    weighted_bce,
)


def test_shapes_and_bit() -> None:
    torch.manual_seed(0)
    cfg = IDEEConfig.tiny(3)
    m = IDEEModel(cfg)
    out = m(torch.randn(2, 3, 1, 8, 5, 6))
    assert tuple(out.logit.shape) == (2, 1, 5, 6)
    assert len(out.logits_var) == 3 and tuple(out.logits_var[0].shape) == (2, 1, 5, 6)
    assert tuple(out.drivers.shape) == (2, 3, 8, 5, 6)
    assert tuple(out.z_q.shape) == (2, 3, cfg.codebook_dim, 8, 5, 6)
    assert torch.equal(out.drivers, (out.code > 0).long())
    assert PlainClassifier(cfg)(torch.randn(1, 3, 1, 8, 4, 4)).shape == (1, 1, 4, 4)
    with pytest.raises(ValueError, match="T = 8"):
        m(torch.randn(1, 3, 1, 6, 4, 4))
    with pytest.raises(ValueError, match="expected"):
        m(torch.randn(1, 2, 1, 8, 4, 4))
    full = IDEEConfig()
    assert full.widths == (16, 16) and full.lambda_anomaly == 100.0


def test_lfq_quantises_with_straight_through() -> None:
    torch.manual_seed(0)
    q = LFQ(4)
    z = torch.randn(50, 4, requires_grad=True)
    zq, idx, loss, u = q(z)
    # only two distinct output features: project_out(-1) and project_out(+1)
    assert torch.unique(zq.detach(), dim=0).shape[0] == 2
    assert torch.allclose(zq[idx == 0][0], q.normal_code(), atol=1e-6)
    zq.sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0  # straight-through
    # the loss: 3 * commitment + 0.1 * (per-sample entropy - codebook entropy)
    uu = u.detach()[:, None]
    sgn = torch.where(uu > 0, 1.0, -1.0)
    p = (100 * 2 * uu * torch.tensor([[-1.0, 1.0]])).softmax(-1)
    ps = -(p * p.clamp_min(1e-5).log()).sum(-1).mean()
    avg = p.mean(0)
    cb = -(avg * avg.clamp_min(1e-5).log()).sum()
    want = 3 * F.mse_loss(uu, sgn) + 0.1 * (ps - cb)
    assert float(loss.detach()) == pytest.approx(float(want), rel=1e-5)
    q.eval()
    assert float(q(z)[2]) == 0.0


def test_class_weights_and_bce_hand_values() -> None:
    y = torch.tensor([[0, 0, 0, 1]])
    w = class_weights(y)
    assert float(w[0]) == pytest.approx(math.log(0.75**-0.5 + 1.1))
    assert float(w[1]) == pytest.approx(math.log(0.25**-0.5 + 1.1))
    logit = torch.tensor([[0.5, -1.0, 2.0, 0.3]])
    want = F.binary_cross_entropy_with_logits(logit, y.float(), weight=w[y])
    assert float(weighted_bce(logit, y)) == pytest.approx(float(want))
    assert float(class_weights(torch.zeros(5, dtype=torch.long))[1]) == 0.0


def test_anomaly_loss_only_on_calm_pixels() -> None:
    code = torch.zeros(1, 2, 8, 1, 2)
    code[..., 0, 1] = 5.0  # pixel 1 has an extreme in the window: ignored
    ext = torch.zeros(1, 8, 1, 2, dtype=torch.uint8)
    ext[0, 3, 0, 1] = 2
    assert float(anomaly_loss(code, ext)) == pytest.approx(1.0)  # |0 - (-1)|
    ext[0, 3, 0, 0] = 1
    assert float(anomaly_loss(code, ext)) == 0.0


def test_integrated_gradients_completeness() -> None:
    torch.manual_seed(0)
    f = PlainClassifier(IDEEConfig.tiny(2))
    x = torch.randn(2, 2, 1, 8, 4, 4)
    attr = integrated_gradients(f, x, steps=64)
    with torch.no_grad():
        gap = f(x).sum() - f(torch.zeros_like(x)).sum()
    assert float(attr.sum()) == pytest.approx(float(gap), rel=0.02, abs=1e-3)
    lin = torch.nn.Linear(3, 1)
    xl = torch.randn(4, 3)
    a = integrated_gradients(lin, xl, steps=1)  # exact for a linear map
    assert torch.allclose(a, xl * lin.weight.detach(), atol=1e-6)
