"""FeINFN pipeline: metrics cross-checks, checkpoints, Lightning step, the learning demo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.restoration.feinfn.model import FeINFN, FeINFNConfig
from geoneurips.restoration.feinfn.pipeline import evaluate, load_model, predict, save_model

TINY = FeINFNConfig(hsi_bands=6, msi_bands=3, enc_dim=8, enc_blocks=1, hidden=8)


def test_evaluate_matches_independent_formulas() -> None:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    rng = np.random.default_rng(0)
    gt = rng.uniform(0.1, 0.9, size=(2, 5, 16, 16))
    pred = np.clip(gt + 0.03 * rng.normal(size=gt.shape), 0, 1)
    m = evaluate(pred, gt, ratio=4)
    psnr = np.mean([np.mean([peak_signal_noise_ratio(gt[i, b], pred[i, b], data_range=1.0)
                             for b in range(5)]) for i in range(2)])
    ssim = np.mean([structural_similarity(gt[i], pred[i], channel_axis=0, data_range=1.0,
                                          gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False) for i in range(2)])
    cos = (pred * gt).sum(1) / np.linalg.norm(pred, axis=1) / np.linalg.norm(gt, axis=1)
    sam = np.degrees(np.arccos(np.clip(cos, -1, 1))).mean(axis=(1, 2)).mean()
    mse_b = ((pred - gt) ** 2).mean(axis=(2, 3))
    ergas = (100 / 4 * np.sqrt((mse_b / gt.mean(axis=(2, 3)) ** 2).mean(axis=1))).mean()
    assert m["psnr"] == pytest.approx(psnr, rel=1e-9)
    assert m["ssim"] == pytest.approx(ssim, rel=1e-7)
    assert m["sam"] == pytest.approx(sam, rel=1e-6)
    assert m["ergas"] == pytest.approx(ergas, rel=1e-9)
    with pytest.raises(InvalidInputError, match="differs"):
        evaluate(pred[0], gt, ratio=4)


def test_checkpoint_round_trip_and_bad_checkpoints(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = FeINFN(TINY)
    torch.nn.init.normal_(model.decoder.out.weight, std=0.1)
    path = save_model(model, tmp_path / "ck.pt", msi_order="bgr")
    loaded, order = load_model(path)
    assert order == "bgr" and loaded.config == TINY
    lr, msi = torch.rand(6, 4, 4), torch.rand(3, 16, 16)
    torch.testing.assert_close(predict(loaded, lr, msi), predict(model, lr, msi))
    assert predict(model, lr, msi).shape == (6, 16, 16)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a FeINFN checkpoint"):
        load_model(tmp_path / "plain.pt")
    state = torch.load(path, weights_only=True)
    state["feinfn_config"]["hidden"] = 16
    torch.save(state, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="does not match"):
        load_model(tmp_path / "mismatch.pt")
    (tmp_path / "trunc.pt").write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "trunc.pt")


def test_lightning_task_step(tmp_path: Path) -> None:
    from torch.utils.data import DataLoader

    from geoneurips.nn.training import make_trainer
    from geoneurips.restoration.feinfn.data import HISRDataset, write_fixture
    from geoneurips.restoration.feinfn.pipeline import FeINFNTask

    write_fixture(tmp_path, "train", n=2, size=16, bands=6, seed=0)
    ds = HISRDataset(tmp_path, "train")
    task = FeINFNTask(config=TINY.to_dict(), lr=1e-3, max_epochs=1)
    before = task.model.decoder.out.weight.detach().clone()
    trainer = make_trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1,
                           default_root_dir=tmp_path)
    trainer.fit(task, DataLoader(ds, batch_size=2), DataLoader(ds, batch_size=2))
    assert not torch.equal(before, task.model.decoder.out.weight.detach())
    assert "val_psnr" in trainer.callback_metrics


def test_train_reaches_every_stage_and_lowers_the_loss() -> None:
    """:func:`train` (param groups, cosine) on a fixture: after training every parameter has
    moved (gradients reach the encoders, the Spa-Fre IFF, both SFID branches and the Gabor
    scalars) and the last epoch's loss is below the first's."""
    import tempfile

    from geoneurips.restoration.feinfn.data import HISRDataset, write_fixture
    from geoneurips.restoration.feinfn.pipeline import train

    with tempfile.TemporaryDirectory() as tmp:
        write_fixture(tmp, "train", n=4, size=16, bands=6, seed=0)
        ds = HISRDataset(tmp, "train")
        torch.manual_seed(0)
        model = FeINFN(TINY)
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        history = train(model, ds, epochs=6, batch_size=2, lr=3e-3, seed=0)
    assert len(history) == 6 and all(np.isfinite(history))
    assert history[-1] < history[0], history
    unchanged = [n for n, p in model.named_parameters() if torch.equal(p, before[n])]
    assert not unchanged, unchanged
    assert not model.training


@pytest.mark.slow
def test_demo_reports_every_baseline_and_ablation_honestly(tmp_path: Path) -> None:
    """The quick demo (80 Adam steps on 16 synthetic 32 x 32 scenes, 3 held-out 64 x 64
    scenes from another seed) against every baseline.

    Measured PSNR (dB), seeds 0 / 1 / 2, quick: FeINFN 32.23 / 32.54 / 32.79; bicubic
    29.57 / 29.48 / 28.91; guided filter 30.44 / 30.30 / 29.71; MTF-matched guided fusion
    51.30 / 49.44 / 54.96; CNN [HSI_up, RGB] 32.73 / 32.76 / 33.36; ablations: without the
    Fourier unit 31.68 / 32.64 / 31.84, ReLU instead of Gabor 28.81 / 31.03 / 30.38. Full
    demo (200 steps), seed 0: FeINFN 35.53, CNN 37.26, guided fusion 51.30.

    Asserted (seed 0): FeINFN learns (beats bicubic by > 1 dB PSNR with lower SAM and
    ERGAS, higher SSIM: measured margins 2.7 dB, 0.33 degrees), the Gabor activation helps
    (the ReLU ablation is > 1 dB worse: measured 3.4 dB), and the demo reports, truthfully,
    that FeINFN does not beat the strongest baseline (guided fusion), so the system is
    registered ``partial``.
    """
    from geoneurips.registry import get as get_spec
    from geoneurips.restoration.feinfn.pipeline import demo

    res = demo(tmp_path, quick=True, seed=0)
    m, bs = res.metrics, res.baselines
    assert set(bs) == {"bicubic_hsi_up", "guided_filter_rgb", "guided_fusion_mtf",
                       "cnn_hsi_up_rgb"}
    assert set(res.ablations) == {"feinfn_without_fourier_unit",
                                  "feinfn_relu_instead_of_gabor"}
    assert all(set(v) == {"psnr", "ssim", "sam", "ergas"} for v in bs.values())
    assert all(np.isfinite(v) for v in m.values())
    b = bs["bicubic_hsi_up"]
    assert b["psnr"] > 20  # bicubic on the synthetic scenes, sanity
    assert m["psnr"] > b["psnr"] + 1.0, (m, b)
    assert m["sam"] < b["sam"] - 0.1, (m, b)
    assert m["ergas"] < b["ergas"] and m["ssim"] > b["ssim"], (m, b)
    relu = res.ablations["feinfn_relu_instead_of_gabor"]
    assert m["psnr"] > relu["psnr"] + 1.0, (m, relu)
    # the strongest baseline decides, and it is not beaten
    assert res.strongest_baseline == "guided_fusion_mtf"
    assert res.baseline == bs["guided_fusion_mtf"] and res.baseline["psnr"] > m["psnr"] + 5
    assert not res.beats_baseline and res.primary == "psnr" and res.margin == 1.0
    assert get_spec("feinfn").status == "partial"
    assert res.details["steps"] == 80 and res.details["final_loss"] < res.details["first_loss"]
    assert Path(res.artifacts["figure"]).stat().st_size > 1000
    saved = json.loads(Path(res.artifacts["result"]).read_text())
    assert saved["system"] == "feinfn" and saved["beats_baseline"] is False
    assert set(saved["baselines"]) == set(bs)
