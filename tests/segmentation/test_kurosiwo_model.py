"""Kuro Siwo models, loss, metrics (cross-checked against torchmetrics and hand values)
and the Otsu baseline (against scikit-image)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from geoneurips.errors import InvalidInputError
from geoneurips.segmentation.kurosiwo.metrics import (
    FloodMetrics,
    flood_scores,
    otsu_threshold,
)
from geoneurips.segmentation.kurosiwo.model import FloodConfig, build_model, flood_loss


@pytest.mark.parametrize(("arch", "dates"), [("unet", 3), ("unet", 1), ("siam-conc", 3),
                                             ("siam-diff", 3), ("snunet", 3),
                                             ("siam-diff", 2)])
def test_model_shapes_and_gradients(arch: str, dates: int) -> None:
    torch.manual_seed(0)
    cfg = FloodConfig(arch, dates, width=4, depth=2)
    model = build_model(cfg)
    x = torch.randn(2, 2 * dates, 32, 32)
    out = model(x)
    assert out.shape == (2, 3, 32, 32)
    flood_loss(out, torch.randint(0, 4, (2, 32, 32))).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_siamese_models_share_the_encoder_across_dates() -> None:
    """Siam-Diff has one encoder, applied to every date, and its features of a date
    depend on that date's two channels only."""
    torch.manual_seed(0)
    cfg = FloodConfig("siam-diff", 3, width=4, depth=2)
    model = build_model(cfg).eval()
    enc = [m for m in model.modules() if m.__class__.__name__ == "_Encoder"]
    assert len(enc) == 1  # one encoder for every date
    x = torch.randn(1, 6, 16, 16)
    with torch.no_grad():
        post_feats = enc[0](x[:, :2])
    assert post_feats[0].shape == (1, 4, 16, 16) and post_feats[-1].shape == (1, 16, 4, 4)
    y = x.clone()
    y[:, 2:] = torch.randn(1, 4, 16, 16)  # other pre-event images
    with torch.no_grad():
        assert torch.equal(enc[0](y[:, :2])[-1], post_feats[-1])
        assert not torch.allclose(model(x), model(y))


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="arch"):
        FloodConfig("bit")
    with pytest.raises(ValueError, match="dates"):
        FloodConfig("siam-diff", 1)
    cfg = FloodConfig("snunet", 3, 8, 2, patch_size=64)
    assert FloodConfig.from_dict(cfg.to_dict()) == cfg and cfg.in_channels == 6


def test_loss_ignores_invalid_class() -> None:
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 4, 4)
    target = torch.randint(0, 3, (1, 4, 4))
    target[0, 0] = 3
    keep = target != 3
    want = F.cross_entropy(logits.permute(0, 2, 3, 1)[keep], target[keep])
    assert flood_loss(logits, target).item() == pytest.approx(want.item(), rel=1e-6)
    with pytest.raises(InvalidInputError):
        flood_loss(torch.randn(1, 4, 2, 2), torch.zeros(1, 2, 2))


def test_metrics_hand_values() -> None:
    target = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    pred = np.array([0, 2, 1, 2, 2, 2, 1, 0])
    s = flood_scores(pred, target)
    # confusion (rows truth): [[1,0,1],[0,1,1],[0,0,2]]; pixels with label 3 ignored
    assert s["iou_nowater"] == pytest.approx(1 / 2)
    assert s["iou_permwater"] == pytest.approx(1 / 2)
    assert s["iou_flood"] == pytest.approx(2 / 4)
    assert s["precision_flood"] == pytest.approx(2 / 4) and s["recall_flood"] == 1.0
    assert s["miou"] == pytest.approx(0.5)
    # water (1 or 2): truth water at 2..5, predicted water at 1..5 -> tp 4, fp 1, fn 0
    assert s["water_f1"] == pytest.approx(8 / 9)
    assert s["pixels"] == 6


def test_metrics_match_torchmetrics() -> None:
    from torchmetrics.classification import (
        BinaryF1Score,
        MulticlassF1Score,
        MulticlassJaccardIndex,
        MulticlassPrecision,
        MulticlassRecall,
    )

    rng = np.random.default_rng(0)
    target = rng.integers(0, 4, (3, 20, 20))
    pred = np.where(rng.random(target.shape) < 0.6, np.minimum(target, 2),
                    rng.integers(0, 3, target.shape))
    s = flood_scores(pred, target)
    p, t = torch.from_numpy(pred), torch.from_numpy(target)
    kw = {"num_classes": 4, "ignore_index": 3, "average": None}
    tm = {"iou": MulticlassJaccardIndex(**kw)(p, t), "f1": MulticlassF1Score(**kw)(p, t),
          "precision": MulticlassPrecision(**kw)(p, t), "recall": MulticlassRecall(**kw)(p, t)}
    for k, name in enumerate(("nowater", "permwater", "flood")):
        for metric, values in tm.items():
            assert s[f"{metric}_{name}"] == pytest.approx(values[k].item(), abs=1e-6)
    assert s["miou"] == pytest.approx(tm["iou"][:3].mean().item(), abs=1e-6)
    keep = t != 3
    wf1 = BinaryF1Score()((p[keep] > 0).long(), (t[keep] > 0).long())
    assert s["water_f1"] == pytest.approx(wf1.item(), abs=1e-6)


def test_per_aoi_and_zone_tables() -> None:
    m = FloodMetrics()
    m.update(np.array([0, 1]), np.array([0, 1]), actid=321, aoiid=1, clz=3)
    m.update(np.array([0, 0]), np.array([2, 2]), actid=445, aoiid=2, clz=2)
    aoi = m.table("aoi")
    assert set(aoi) == {"321_01", "445_02"} and aoi["321_01"]["iou_permwater"] == 1.0
    assert aoi["445_02"]["recall_flood"] == 0.0
    zone = m.table("zone")
    assert set(zone) == {"Temperate", "Arid"}
    assert set(m.table("activation")) == {"321", "445"}
    with pytest.raises(ValueError):
        m.table("country")
    assert m.compute()["pixels"] == 4 and "| 321_01 |" in m.markdown("aoi")


def test_otsu_matches_scikit_image() -> None:
    from skimage.filters import threshold_otsu

    rng = np.random.default_rng(0)
    for _ in range(3):
        v = np.concatenate([rng.normal(-20, 2, 3000), rng.normal(-8, 3, 7000)])
        assert otsu_threshold(v) == pytest.approx(threshold_otsu(v, nbins=256), abs=1e-9)
    assert otsu_threshold(np.full(5, 2.0)) == 2.0
    with pytest.raises(ValueError):
        otsu_threshold(np.array([np.nan]))
