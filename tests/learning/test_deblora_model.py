"""debLoRA's components: LoRA on a timm backbone, K-means de-biased centres, calibration
(Eq. 3), the imbalance-dependent alpha, the debLoRA module and the probe."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.learning.deblora.model import (
    DebiasedCalibrator,
    DebLoRAConfig,
    ProbeConfig,
    adapt_lora,
    build_backbone,
    extract_features,
    imbalance_alpha,
    train_debias_lora,
    train_linear_probe,
)


def _features(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (4, 6))
    y = np.repeat([0, 1, 2, 3], [60, 60, 8, 6])
    return centres[y] + rng.normal(0, 1, (len(y), 6)), y


def test_calibrator_weighted_centre_and_eq3() -> None:
    x, y = _features()
    cfg = DebLoRAConfig(n_clusters=32)
    cal = DebiasedCalibrator(cfg).fit(x, y, tail_classes=[2, 3])
    assert cal.centers_.shape == (32, 6)
    for c in (2, 3):
        w = cal.weights_[c]
        assert abs(w.sum() - 1) < 1e-12
        # weights are the class's share of each cluster, the centre their weighted mean
        counts = np.bincount(cal.assignments_[y == c], minlength=32)
        np.testing.assert_allclose(w, counts / counts.sum())
        np.testing.assert_allclose(cal.debiased_[c], w @ cal.centers_)
    z = cal.calibrate(x, y)
    np.testing.assert_array_equal(z[y < 2], x[y < 2])  # head rows untouched
    zs, xs = cal.standardise(z[y == 2]), cal.standardise(x[y == 2])
    np.testing.assert_allclose(zs, 0.5 * xs + 0.5 * cal.debiased_[2], atol=1e-10)
    # the standardisation is the per-feature z-score of all training features
    np.testing.assert_allclose(cal.standardise(x).mean(0), 0, atol=1e-10)


def test_threshold_and_imbalance_alpha() -> None:
    x, y = _features()
    cfg = DebLoRAConfig(n_clusters=8, threshold=1e9)
    cal = DebiasedCalibrator(cfg).fit(x, y, [2, 3])
    np.testing.assert_allclose(cal.calibrate(x, y), x)  # everything nearer than 1e9
    a = imbalance_alpha([100, 100, 10, 1], [2, 3], alpha=0.5, alpha_max=0.9)
    assert a[3] == pytest.approx(0.9) and a[2] == pytest.approx(0.5 + 0.4 * 0.5)
    cfg2 = DebLoRAConfig(n_clusters=8, alpha_mode="imbalance")
    cal2 = DebiasedCalibrator(cfg2).fit(x, y, [2, 3])
    assert cal2.alphas_[3] > cal2.alphas_[2] > 0.5
    with pytest.raises(InvalidInputError, match="at least 32"):
        DebiasedCalibrator(DebLoRAConfig()).fit(x[:10], y[:10], [0])
    with pytest.raises(InvalidInputError, match="no training features"):
        DebiasedCalibrator(cfg).fit(x, y, [7])


def test_lora_debias_module_and_probe(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = DebLoRAConfig.tiny()
    cfg.adapt_epochs, cfg.debias_epochs = 2, 20  # debias_lr 3e-3 (tiny): error / 4.5
    bb = build_backbone(cfg)
    x = torch.rand(24, 3, 32, 32) * 0.3
    x[12:] += 0.7  # two kinds of image: dark (head) and bright (tail)
    y = (torch.arange(24) >= 12).long()
    before = {k: v.clone() for k, v in bb.state_dict().items()}
    lora = adapt_lora(copy.deepcopy(bb), x, y, 2, cfg)
    assert set(lora.state_dict()) == set(before)  # merged back into a plain timm model
    changed = [k for k in before if "conv" in k and "layer" in k
               and not torch.equal(before[k], lora.state_dict()[k])]
    assert changed  # LoRA deltas were merged into the block convolutions
    assert torch.equal(before["conv1.0.weight"], lora.state_dict()["conv1.0.weight"])  # stem frozen
    assert extract_features(lora, x).shape == (24, 128)
    f = extract_features(bb, x)
    # calibrated targets: tail features pulled together and shifted, head kept
    target = f.copy()
    tail = f[12:]
    target[12:] = tail.mean(0) + 0.2 * (tail - tail.mean(0)) + f.std(0)
    mse0 = float(((f - target) ** 2).mean())
    deb = train_debias_lora(copy.deepcopy(bb), x, target, cfg)
    mse1 = float(((extract_features(deb, x) - target) ** 2).mean())
    assert mse1 < 0.5 * mse0  # the debLoRA module regresses onto its targets
    with pytest.raises(InvalidInputError):
        DebiasedCalibrator(cfg).calibrate(f, y.numpy())  # not fitted


def test_probe_losses_learn() -> None:
    x, y = _features(1)
    xs = (x - x.mean(0)) / x.std(0)
    cfg = ProbeConfig(epochs=60, lr=1e-2, batch_size=64, optimizer="adam")
    for loss in ("ce", "reweighted", "logit_adjusted"):
        p = train_linear_probe(xs, y, 4, cfg, loss=loss)  # type: ignore[arg-type]
        with torch.no_grad():
            acc = (p(torch.as_tensor(xs, dtype=torch.float32)).argmax(1).numpy() == y).mean()
        assert acc > 0.9, loss
    # logit adjustment shifts decisions toward rare classes on an ambiguous point
    mid = torch.zeros(1, 6)
    ce = train_linear_probe(xs, y, 4, cfg, loss="ce")
    la = train_linear_probe(xs, y, 4, cfg, loss="logit_adjusted")
    with torch.no_grad():
        assert (la(mid)[0, 2:].max() - la(mid)[0, :2].max()) > (
            ce(mid)[0, 2:].max() - ce(mid)[0, :2].max())


def test_backbone_checkpoint(tmp_path: Path) -> None:
    cfg = DebLoRAConfig.tiny()
    bb = build_backbone(cfg)
    torch.save(bb.state_dict(), tmp_path / "w.pth")
    bb2 = build_backbone(cfg, tmp_path / "w.pth")
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(bb.eval()(x), bb2.eval()(x))
    torch.save({"foo": torch.zeros(3)}, tmp_path / "bad.pth")
    with pytest.raises(InvalidInputError, match="does not fit"):
        build_backbone(cfg, tmp_path / "bad.pth")


def test_balanced_centres_and_released_target_cluster() -> None:
    """``centre_mode="balanced"``: each cluster centre is the mean of its classes' mean
    members (hand-worked); ``target_cluster``: the released script's single-cluster target."""
    from geoneurips.learning.deblora.model import balanced_centres

    xs = np.array([[0.0], [0.0], [0.0], [3.0], [10.0]])
    y = np.array([0, 0, 0, 1, 2])
    a = np.array([0, 0, 0, 0, 1])
    fb = np.array([[99.0], [99.0], [7.0]])
    # cluster 0: class 0 (mean 0, three members) and class 1 (mean 3) count once each -> 1.5
    # (the plain K-means centre would be 0.75); cluster 2 is empty and keeps its fallback
    np.testing.assert_allclose(balanced_centres(xs, y, a, 3, fb), [[1.5], [10.0], [7.0]])
    x, yy = _features()
    base = DebiasedCalibrator(DebLoRAConfig(n_clusters=8)).fit(x, yy, [2, 3])
    bal = DebiasedCalibrator(DebLoRAConfig(n_clusters=8, centre_mode="balanced")).fit(x, yy, [2, 3])
    xs2 = bal.standardise(x)
    want = balanced_centres(xs2, yy, bal.assignments_, 8, bal.centers_)
    np.testing.assert_allclose(bal.debiased_[2], bal.weights_[2] @ want)
    np.testing.assert_array_equal(base.assignments_, bal.assignments_)  # same clustering
    rel = DebiasedCalibrator(DebLoRAConfig(n_clusters=8, target_cluster=5)).fit(x, yy, [2, 3])
    np.testing.assert_allclose(rel.debiased_[3], rel.centers_[5])
    with pytest.raises(InvalidInputError, match="target_cluster"):
        DebiasedCalibrator(DebLoRAConfig(n_clusters=8, target_cluster=8)).fit(x, yy, [2])
