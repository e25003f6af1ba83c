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
    anomaly_loss_code,
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


def test_anomaly_loss_code_only_on_calm_pixels() -> None:
    code = torch.zeros(1, 2, 8, 1, 2)
    code[..., 0, 1] = 5.0  # pixel 1 has an extreme in the window: ignored
    ext = torch.zeros(1, 8, 1, 2, dtype=torch.uint8)
    ext[0, 3, 0, 1] = 2
    assert float(anomaly_loss_code(code, ext)) == pytest.approx(1.0)  # |0 - (-1)|
    ext[0, 3, 0, 0] = 1
    assert float(anomaly_loss_code(code, ext)) == 0.0


def test_anomaly_loss_published_form() -> None:
    """``L_anom`` as in the public ``Anomaly_L1_loss_synthetic``: L1 between ``z_q`` and the
    detached ``project_out(-1)`` over the cells of calm pixels. Hand values: a calm cell at
    the normal bit costs 0, one at the driver bit ``2 |W|`` per feature; pixels with an
    extreme (any class) are ignored; no gradient reaches the target."""
    torch.manual_seed(0)
    q = LFQ(3)
    with torch.no_grad():
        q.project_out.weight.copy_(torch.tensor([[0.5], [-1.0], [2.0]]))
        q.project_out.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
    normal = q.normal_code()
    driver = q.project_out(torch.ones(1, 1))[0]
    zq = normal.detach().view(1, 1, 3, 1, 1, 1).repeat(1, 2, 1, 8, 1, 2)  # (1, 2, 3, 8, 1, 2)
    ext = torch.zeros(1, 8, 1, 2, dtype=torch.uint8)
    assert float(anomaly_loss(zq, ext, normal)) == 0.0
    zq = zq.clone()
    zq[0, 0, :, 4, 0, 0] = driver.detach()  # one calm cell at the driver bit
    want = 2 * (0.5 + 1.0 + 2.0) / (2 * 3 * 8 * 2)
    assert float(anomaly_loss(zq, ext, normal)) == pytest.approx(want)
    ext[0, 7, 0, 0] = 3  # that pixel saw an extreme class: ignored
    assert float(anomaly_loss(zq, ext, normal)) == 0.0
    ext[0, 0, 0, 1] = 1
    assert float(anomaly_loss(zq, ext, normal)) == 0.0  # no calm pixel left
    # the target is detached: the gradient reaches project_out only through z_q
    z = torch.randn(40, 3)
    zq2, _, _, _ = q(z)
    normal = q.normal_code()
    loss = anomaly_loss(zq2.t().reshape(1, 1, 3, 8, 5, 1), torch.zeros(1, 8, 5, 1), normal)
    loss.backward()
    assert q.project_in.weight.grad is not None  # straight-through into the code
    # z_q - project_out(-1) does not depend on project_out's bias, so a bias gradient can
    # only come from z_q alone: the target is detached, as published
    assert q.project_out.bias.grad is not None and float(q.project_out.bias.grad.abs().sum()) > 0


def test_encoder_is_local() -> None:
    """Regression: the encoder used ``GroupNorm(1, C)``, which normalises each window over all
    its cells, so a cell's driver bit changed with pixels far outside the receptive field and
    with the rest of the grid. The public encoder normalises the channels of each cell
    (``LayerNorm`` channels-last); a cell's code must depend on its neighbourhood only."""
    torch.manual_seed(0)
    m = IDEEModel(IDEEConfig.tiny(2)).eval()
    x = torch.randn(1, 2, 1, 8, 16, 16)
    y = x.clone()
    y[0, :, 0, :, 12:, 12:] += 8.0  # a strong anomaly in the far corner
    with torch.no_grad():
        cx, cy = m(x).code, m(y).code
    # receptive field of the tiny encoder: 1 block (2 convs) + 2 projection convs -> +-4
    assert torch.allclose(cx[..., :6, :6], cy[..., :6, :6], atol=1e-6)
    assert not torch.allclose(cx[..., 12:, 12:], cy[..., 12:, 12:])
    # nor does it depend on the other samples of the batch
    with torch.no_grad():
        both = m(torch.cat([x, y])).code
    assert torch.allclose(both[:1], cx, atol=1e-6)


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


def test_published_embedding_keeps_only_the_sign() -> None:
    """The public ``PatchEmbed3D`` (1x1x1, bias-free, affine-free channel LayerNorm) on the
    synthetic cubes' single input channel maps ``x`` to ``sign(x) (w - mean w) / std w``
    once ``|x| std(w)`` exceeds ``sqrt(eps)``: the magnitude of the anomaly is lost. Kept as
    the default (``embed_norm=True``, published); ``embed_norm=False`` keeps ``w x``."""
    from geoneurips.forecasting.idee.model import VarEncoder

    torch.manual_seed(0)
    x = torch.full((1, 1, 8, 3, 3), 1.5)
    pub = VarEncoder(1, (8,), 8).encoders[0][0].embed
    raw = VarEncoder(1, (8,), 8, embed_norm=False).encoders[0][0].embed
    assert pub is not None and raw is not None
    with torch.no_grad():
        assert torch.allclose(pub(x), pub(3 * x), atol=1e-4)
        assert torch.allclose(pub(-x), -pub(x), atol=1e-4)
        assert torch.allclose(raw(3 * x), 3 * raw(x), atol=1e-6)
    assert IDEEConfig().embed_norm and IDEEConfig.tiny().embed_norm


def test_loss_warmup_ramps_the_quantiser_terms() -> None:
    """``loss_warmup_steps`` (not in the paper; 0 = published) scales the LFQ and anomaly
    terms by ``min(1, step / warmup)``: at step 0 only the classification terms remain."""
    from geoneurips.forecasting.idee.pipeline import IDEEModule

    torch.manual_seed(0)
    cfg = IDEEConfig.tiny(2)
    batch = {
        "image": torch.randn(2, 2, 1, 8, 4, 4),
        "mask": torch.randint(0, 2, (2, 4, 4)),
        "extreme": torch.zeros(2, 8, 4, 4, dtype=torch.uint8),
    }
    pub = IDEEModule(cfg)
    ramp = IDEEModule(cfg, loss_warmup_steps=10)
    ramp.model.load_state_dict(pub.model.state_dict())
    pub.train()
    ramp.train()
    out = pub.model(batch["image"])
    cls = weighted_bce(out.logit, batch["mask"]) + sum(
        weighted_bce(lv, batch["mask"]) for lv in out.logits_var
    )
    assert float(ramp.loss(batch).detach()) == pytest.approx(float(cls.detach()), rel=1e-5)
    assert float(pub.loss(batch).detach()) > float(cls.detach()) + 1e-3
