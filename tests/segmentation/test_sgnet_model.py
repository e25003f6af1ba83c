"""SGNet model components, losses, metrics and checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.segmentation.sgnet.model import (
    SCIModule,
    SGNet,
    SGNetConfig,
    SGNetLoss,
    WindowAttention,
    align_patch_features,
    boundary_consistency_loss,
    build_model,
    central_box,
)
from geoneurips.segmentation.sgnet.pipeline import (
    CONFIG_KEY,
    SGNetTask,
    evaluate_prediction,
    load_model,
    save_checkpoint,
)


def test_sgnet_shapes_and_gradients() -> None:
    torch.manual_seed(0)
    model = build_model(SGNetConfig.tiny())
    x, c = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    out = model(x, c)
    assert out["out"].shape == (2, 2, 32, 32)
    assert out["aux"].shape == (2, 2, 8, 8)
    out["out"].sum().backward()
    # the context branch receives gradient through the aligned features (fusion by concat)
    g = model.context.sci.attn.attn.in_proj_weight.grad
    assert g is not None and float(g.abs().sum()) > 0


def test_channels_last_inputs_give_the_same_outputs() -> None:
    # the streaming kernel passes channels-last tensors: same outputs as contiguous NCHW
    torch.manual_seed(0)
    model = build_model(SGNetConfig.tiny()).eval()
    x, c = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    cl = torch.channels_last
    with torch.inference_mode():
        ref = model(x, c)
        got = model(x.contiguous(memory_format=cl), c.contiguous(memory_format=cl))
    torch.testing.assert_close(got["out"], ref["out"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got["aux"], ref["aux"], atol=1e-5, rtol=1e-5)


def test_context_changes_the_prediction() -> None:
    torch.manual_seed(0)
    model = build_model(SGNetConfig.tiny()).eval()
    x = torch.randn(1, 3, 32, 32)
    a = model(x, torch.zeros(1, 3, 32, 32))["out"]
    b = model(x, torch.randn(1, 3, 32, 32) * 3)["out"]
    assert not torch.allclose(a, b)


def test_window_attention_handles_non_multiple_sizes_and_is_window_local() -> None:
    torch.manual_seed(0)
    attn = WindowAttention(8, window_size=4, num_heads=2).eval()
    x = torch.randn(1, 8, 10, 7)
    y = attn(x)
    assert y.shape == x.shape
    # changing a pixel in window (0, 0) must not change the output in window (1, 1)
    x2 = x.clone()
    x2[:, 0, 0, 0] += 5.0  # one channel (LayerNorm removes a shift of all channels)
    y2 = attn(x2)
    assert torch.allclose(y[..., 4:8, 4:7], y2[..., 4:8, 4:7], atol=1e-6)
    assert not torch.allclose(y[..., :4, :4], y2[..., :4, :4])


def test_sci_module_global_pooling_path_spreads_information() -> None:
    torch.manual_seed(0)
    sci = SCIModule(8, window_size=4, num_heads=2).eval()
    x = torch.randn(1, 8, 16, 16)
    x2 = x.clone()
    x2[:, 0, 0, 0] += 10.0  # far from pixel (15, 15): only global pooling can carry it there
    assert not torch.allclose(sci(x)[..., 15, 15], sci(x2)[..., 15, 15])


def test_central_box_and_alignment_by_hand() -> None:
    assert central_box(3.0) == pytest.approx((1 / 3, 2 / 3))
    assert central_box(1.0) == (0.0, 1.0)
    x = torch.arange(2 * 144.0).view(2, 1, 12, 12)
    crop = align_patch_features(x, 3.0, (4, 4))
    assert torch.equal(crop, x[:, :, 4:8, 4:8])
    # scale 2 on an 8x8 map: box [2, 6); upsampled 2x = bilinear at pixel centres
    y = torch.arange(64.0).view(1, 1, 8, 8)
    up = align_patch_features(y, 2.0, (4, 4))
    assert torch.equal(up, y[:, :, 2:6, 2:6])
    with pytest.raises(InvalidInputError):
        central_box(0.5)


def test_boundary_consistency_loss_by_hand() -> None:
    logits = torch.randn(1, 2, 6, 6)
    shifted = torch.zeros_like(logits)
    shifted[..., :, :4] = logits[..., :, 2:]  # b starts 2 columns right of a
    assert float(boundary_consistency_loss(logits, shifted, (0, 2))) == pytest.approx(0.0, abs=1e-6)
    a = torch.zeros(1, 2, 4, 4)  # p = 0.5 everywhere
    b = torch.zeros(1, 2, 4, 4)
    b[:, 0] = 100.0  # p = (1, 0) everywhere
    assert float(boundary_consistency_loss(a, b, (1, -1))) == pytest.approx(0.5)
    with pytest.raises(InvalidInputError):
        boundary_consistency_loss(a, b, (0, 4))


def test_loss_terms_and_weights() -> None:
    torch.manual_seed(0)
    out = {"out": torch.randn(2, 2, 8, 8), "aux": torch.randn(2, 2, 4, 4)}
    out_b = {"out": torch.randn(2, 2, 8, 8)}
    mask = torch.randint(0, 2, (2, 8, 8))
    cmask = torch.full((2, 8, 8), 255)
    cmask[:, :4] = 1
    loss = SGNetLoss(aux_weight=0.4, boundary_weight=0.5)
    t = loss(out, mask, cmask, out_b, (0, 4), mask)
    ce = torch.nn.functional.cross_entropy
    aux_t = torch.nn.functional.interpolate(cmask[:, None].float(), size=(4, 4))[:, 0].long()
    exp = (ce(out["out"], mask) + 0.4 * ce(out["aux"], aux_t, ignore_index=255)
           + 0.5 * boundary_consistency_loss(out["out"], out_b["out"], (0, 4))
           + ce(out_b["out"], mask))
    assert float(t["loss"]) == pytest.approx(float(exp), rel=1e-5)
    only_main = SGNetLoss(aux_weight=0.0, boundary_weight=0.0)(out, mask, cmask, out_b, (0, 4))
    assert set(only_main) == {"main", "loss"}


class _HalfResNet(nn.Module):
    """Any segmentation net: features at half resolution, 5 channels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 3, stride=2, padding=1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_any_base_network_with_forward_features() -> None:
    model = SGNet(_HalfResNet(), 3, 4, context_channels=8, window_size=4, num_heads=2,
                  base_channels=5)
    out = model(torch.randn(1, 3, 16, 16), torch.randn(1, 3, 16, 16))
    assert out["out"].shape == (1, 4, 16, 16)
    with pytest.raises(InvalidInputError, match="forward_features"):
        SGNet(nn.Conv2d(3, 3, 1), 3, 2)


def test_bad_inputs() -> None:
    model = build_model(SGNetConfig.tiny())
    with pytest.raises(InvalidInputError, match="bands"):
        model(torch.randn(1, 4, 32, 32), torch.randn(1, 4, 32, 32))
    with pytest.raises(InvalidInputError, match=r"\(B, C, H, W\)"):
        model(torch.randn(3, 32, 32), torch.randn(3, 32, 32))
    with pytest.raises(InvalidInputError, match="divisible"):
        WindowAttention(10, 4, 3)
    with pytest.raises(InvalidInputError, match="method"):
        build_model(SGNetConfig.tiny(method="bogus"))


def test_miou_matches_sklearn_and_hand_values() -> None:
    from sklearn.metrics import jaccard_score

    rng = np.random.default_rng(0)
    target = rng.integers(0, 3, (4, 16, 16))
    pred = np.where(rng.random(target.shape) < 0.7, target, rng.integers(0, 3, target.shape))
    got = evaluate_prediction(pred, target, 3)
    ref = jaccard_score(target.ravel(), pred.ravel(), average=None)
    assert got["miou"] == pytest.approx(float(ref.mean()))
    for i in range(3):
        assert got[f"iou_{i}"] == pytest.approx(float(ref[i]))
    # hand: 2x2, one pixel wrong -> IoU_0 = 1/2, IoU_1 = 2/3; 255 ignored
    p = np.array([[0, 1], [1, 1]])
    t = np.array([[0, 0], [1, 1]])
    assert evaluate_prediction(p, t, 2)["miou"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    t2 = np.array([[0, 255], [1, 1]])
    assert evaluate_prediction(p, t2, 2)["miou"] == pytest.approx(1.0)


def test_global_local_baseline_and_sci_ablation() -> None:
    """The global-local baseline sees the patch AND its context (six input bands); the
    ablation drops only the SCI module."""
    torch.manual_seed(0)
    gl = build_model(SGNetConfig.tiny(method="global_local", base_width=10)).eval()
    assert gl.base.downs[0][0].in_channels == 6
    x = torch.randn(1, 3, 32, 32)
    a = gl(x, torch.zeros(1, 3, 32, 32))["out"]
    b = gl(x, torch.randn(1, 3, 32, 32))["out"]
    assert a.shape == (1, 2, 32, 32) and not torch.allclose(a, b)
    with pytest.raises(InvalidInputError, match="global-local"):
        gl(x, torch.randn(1, 3, 16, 16))
    full = build_model(SGNetConfig.tiny())
    abl = build_model(SGNetConfig.tiny(use_sci=False))
    assert isinstance(abl.context.sci, nn.Identity)
    n = {k: sum(p.numel() for p in m.parameters()) for k, m in
         (("full", full), ("abl", abl), ("gl", gl))}
    sci = sum(p.numel() for p in full.context.sci.parameters())
    assert n["full"] - n["abl"] == sci > 0
    assert n["gl"] >= n["full"]  # the baseline is at least SGNet's size (46 k vs 41 k)
    out = abl(x, torch.randn(1, 3, 32, 32))
    assert out["out"].shape == (1, 2, 32, 32) and out["aux"].shape == (1, 2, 8, 8)


@pytest.mark.parametrize("method", ["sgnet", "sliding", "global_local"])
def test_plain_checkpoint_round_trip(tmp_path: Path, method: str) -> None:
    cfg = SGNetConfig.tiny(method=method, num_classes=3)
    torch.manual_seed(1)
    model = build_model(cfg).eval()
    ckpt = save_checkpoint(tmp_path / "m.pt", model, cfg)
    loaded, cfg2 = load_model(ckpt)
    assert cfg2 == cfg
    x = torch.randn(1, 3, 32, 32)
    assert torch.allclose(model(x, x)["out"], loaded(x, x)["out"])


def test_lightning_checkpoint_round_trip(tmp_path: Path) -> None:
    from torch.utils.data import DataLoader

    from geoneurips.nn.training import make_trainer

    cfg = SGNetConfig.tiny()
    task = SGNetTask(cfg)
    sample = {"image": torch.rand(3, 32, 32) * 255, "context": torch.rand(3, 32, 32) * 255,
              "mask": torch.randint(0, 2, (32, 32)), "context_mask": torch.randint(0, 2, (32, 32))}
    trainer = make_trainer(max_epochs=1, limit_train_batches=1)
    trainer.fit(task, DataLoader([sample, sample], batch_size=2))
    trainer.save_checkpoint(tmp_path / "l.ckpt")
    model, cfg2 = load_model(tmp_path / "l.ckpt")
    assert cfg2 == cfg
    x = torch.randn(1, 3, 32, 32)
    task.model.eval()
    assert torch.allclose(task.model(x, x)["out"], model(x, x)["out"])


def test_bad_checkpoints(tmp_path: Path) -> None:
    cfg = SGNetConfig.tiny()
    model = build_model(cfg)
    torch.save(model.state_dict(), tmp_path / "noconfig.pt")
    with pytest.raises(CheckpointError, match="config"):
        load_model(tmp_path / "noconfig.pt")
    state = dict(model.state_dict())
    state[CONFIG_KEY] = json.dumps(SGNetConfig.tiny(base_width=4).to_dict())
    torch.save(state, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(tmp_path / "mismatch.pt")
    (tmp_path / "trunc.pt").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "trunc.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
