"""SSDiff pipeline: patches, L-BAF freezing, checkpoints, tiled inference, CLI, real sample,
and the demo (it learns)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.metrics.mtf import interp23, make_reduced_resolution
from geoneurips.restoration.pansharpening.data import PanCollection, write_fixture
from geoneurips.restoration.ssdiff.model import SSNet, SSNetConfig, branch_parameters
from geoneurips.restoration.ssdiff.pipeline import (
    PatchDataset,
    SamplingConfig,
    SSDiffModule,
    SSDiffPansharpener,
    load_pansharpener,
    save_checkpoint,
    train_ssdiff,
)


@pytest.fixture(scope="module")
def fixture_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fixture(tmp_path_factory.mktemp("ssd") / "train_qb.h5", n=2, size=32,
                         bands=4, sensor="QB", seed=3)


def test_patch_dataset_is_aligned_and_deterministic(fixture_h5: Path) -> None:
    ds = PanCollection(fixture_h5, sensor="QB")
    plain = PatchDataset(ds, 16, length=5, seed=1, augment=False)
    for k in range(5):
        s = plain[k]
        assert s["gt"].shape == (4, 16, 16) and s["ms"].shape == (4, 4, 4)
        # locate the crop in the source image and check the MS window matches it
        found = False
        for n in range(len(ds)):
            full = ds[n]
            for i in range(0, 17, 4):
                for j in range(0, 17, 4):
                    if torch.equal(full["pan"][:, i : i + 16, j : j + 16], s["pan"]):
                        assert torch.equal(full["ms"][:, i // 4 : i // 4 + 4, j // 4 : j // 4 + 4],
                                           s["ms"])
                        assert torch.equal(full["lms"][:, i : i + 16, j : j + 16], s["lms"])
                        found = True
        assert found
    aug = PatchDataset(ds, 16, length=5, seed=1)
    assert all(torch.equal(aug[2][k], aug[2][k]) for k in ("gt", "ms"))
    with pytest.raises(InvalidInputError, match="multiple of 16"):
        PatchDataset(ds, 20, length=1)
    full_res = write_fixture(fixture_h5.parent / "full.h5", n=1, size=32, bands=4, sensor="QB",
                             full_resolution=True)
    with pytest.raises(InvalidInputError, match="gt"):
        PatchDataset(PanCollection(full_res), 16, length=1)


def test_lbaf_stage_trains_only_one_branch(fixture_h5: Path) -> None:
    torch.manual_seed(0)
    module = SSDiffModule(SSNetConfig.tiny(4), lr=1e-2)
    batch = next(iter(torch.utils.data.DataLoader(
        PatchDataset(PanCollection(fixture_h5), 16, length=4), batch_size=4)))
    # a few base steps so that no branch sits at its zero initialisation
    opt = module.configure_optimizers()
    module.train()
    for _ in range(3):
        opt.zero_grad()
        module.training_step(batch, 0).backward()
        opt.step()
    for stage, frozen, bn_name in (("spatial", "spectral", "spectral_in.out.0"),
                                   ("spectral", "spatial", "spatial_in.out.0")):
        module.set_stage(stage)
        module.train()
        groups = branch_parameters(module.model)
        before = {k: [p.detach().clone() for p in g] for k, g in groups.items()}
        bn = module.model.get_submodule(bn_name)
        stats = bn.running_mean.clone()
        opt = module.configure_optimizers()
        assert {id(p) for g in opt.param_groups for p in g["params"]} == {
            id(p) for p in groups[stage]}
        for _ in range(2):
            opt.zero_grad()
            module.training_step(batch, 0).backward()
            opt.step()
            module.update_ema()
        after = {k: list(g) for k, g in groups.items()}
        assert all(torch.equal(a, b) for a, b in zip(before[frozen], after[frozen], strict=True))
        assert all(torch.equal(a, b) for a, b in
                   zip(before["shared"], after["shared"], strict=True))
        assert any(not torch.equal(a, b) for a, b in
                   zip(before[stage], after[stage], strict=True))
        assert torch.equal(stats, bn.running_mean)
    module.set_stage("base")
    assert all(p.requires_grad for p in module.model.parameters())
    with pytest.raises(InvalidInputError, match="stage"):
        module.set_stage("both")


def test_lbaf_through_the_trainer_freezes_one_branchs_statistics(fixture_h5: Path) -> None:
    """The same through ``train_ssdiff``'s Lightning path, which the demo takes: base
    training (it returns the module in eval mode), then each L-BAF stage in a later call.
    Lightning >= 2.2 does not call ``train()`` when fitting starts (it keeps the modes it
    finds); ``make_trainer``'s callback does, so the module's override applies: the trained
    branch's BatchNorm statistics follow its batches, the frozen branch's stay. Defect (fixed): the whole network stayed in eval
    mode through L-BAF (the trained branch normalised with stale statistics), and a module
    in training mode kept moving the frozen branch's statistics."""
    ds = PanCollection(fixture_h5, sensor="QB")
    module = train_ssdiff(ds, steps=2, batch_size=4, patch_size=16, seed=0)
    assert not module.training
    for stage, frozen, trained in (("spatial", "spectral_in.out.0", "spatial_in.out.0"),
                                   ("spectral", "spatial_in.out.0", "spectral_in.out.0")):
        kept = module.model.get_submodule(frozen).running_mean.clone()
        moved = module.model.get_submodule(trained).running_mean.clone()
        module = train_ssdiff(ds, steps=0, batch_size=4, patch_size=16, lbaf_steps=2,
                              lbaf_order=(stage,), seed=1, module=module)
        assert torch.equal(kept, module.model.get_submodule(frozen).running_mean), stage
        assert not torch.equal(moved, module.model.get_submodule(trained).running_mean), stage
    # a fresh module (in training mode) straight into the spatial stage: the frozen
    # spectral branch keeps its initial statistics
    module = train_ssdiff(ds, steps=0, batch_size=4, patch_size=16, lbaf_steps=2,
                          lbaf_order=("spatial",), seed=2)
    bn = module.model.get_submodule("spectral_in.out.0")
    assert torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))
    assert torch.equal(bn.running_var, torch.ones_like(bn.running_var))


def test_pansharpener_tiles_pads_and_validates() -> None:
    torch.manual_seed(0)
    model = SSNet(SSNetConfig.tiny(4))  # untrained: zero residual head, so output = lms
    p = SSDiffPansharpener(model, SamplingConfig(steps=2, patch_size=16, overlap=4,
                                                 batch_tiles=3))
    rng = np.random.default_rng(0)
    ms = rng.uniform(0.2, 0.8, size=(4, 7, 7)).astype(np.float32)  # 28 = 16 + 12: no padding
    pan = rng.uniform(0.2, 0.8, size=(1, 28, 28)).astype(np.float32)
    out = p(ms, pan)
    assert out.dtype == np.float32 and out.shape == (4, 28, 28)
    # whole image, borders included: lms is interp23 with mirrored (not circular) borders
    lms = interp23(ms.astype(np.float64), 4, mode="symmetric")
    assert np.abs(out - np.clip(lms, 0, 1)).max() < 1e-5
    odd = p(ms[:, :5, :3], pan[:, :20, :12])  # grid extends past both edges (mirrored)
    assert odd.shape == (4, 20, 12)
    lms_odd = interp23(ms[:, :5, :3].astype(np.float64), 4, mode="symmetric")
    assert np.abs(odd - np.clip(lms_odd, 0, 1)).max() < 1e-5
    assert np.array_equal(p(ms, pan[0]), out)  # (H, W) PAN accepted, deterministic
    with pytest.raises(InvalidInputError, match="4 MS bands"):
        p(ms[:3], pan)
    with pytest.raises(InvalidInputError, match="ratio=4"):
        p(ms, pan[:, :24])
    bad = ms.copy()
    bad[0, 1, 1] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        p(bad, pan)
    with pytest.raises(InvalidInputError, match="patch_size"):
        SSDiffPansharpener(model, SamplingConfig(patch_size=20))


def _random_model(bands: int = 4, seed: int = 0) -> SSNet:
    """A tiny SSNet whose weights are all perturbed (its output is not just ``lms``)."""
    torch.manual_seed(seed)
    model = SSNet(SSNetConfig.tiny(bands))
    with torch.no_grad():
        for prm in model.parameters():
            prm.add_(0.05 * torch.randn_like(prm))
    return model.eval()


def test_tiled_run_equals_untiled_run_everywhere() -> None:
    """Regression: tiled inference corrupted a band of about 8 px at every tile and image
    edge (circular interp23 on the padded canvas; per-tile noise). Any split of the image
    into windows now gives the untiled result at every pixel, borders included."""
    model = _random_model()
    sampling = SamplingConfig(steps=2, patch_size=16, overlap=4, batch_tiles=5, seed=3)
    p = SSDiffPansharpener(model, sampling)
    rng = np.random.default_rng(0)
    ms = rng.uniform(0.2, 0.8, size=(4, 11, 9))
    pan = rng.uniform(0.2, 0.8, size=(1, 44, 36))
    whole = p(ms, pan)
    assert np.abs(whole - np.clip(interp23(ms, 4, mode="symmetric"), 0, 1)).mean() > 1e-3

    def read_ms(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return ms[:, rows][:, :, cols]

    def read_pan(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return pan[0][rows][:, cols]

    for cuts_r, cuts_c in (([0, 20, 44], [0, 12, 36]), ([0, 8, 9, 28, 44], [0, 4, 24, 36])):
        tiled = np.zeros_like(whole)
        for a, b in zip(cuts_r[:-1], cuts_r[1:], strict=True):
            for c, d in zip(cuts_c[:-1], cuts_c[1:], strict=True):
                tiled[:, a:b, c:d] = p.fuse_region(read_ms, read_pan, (44, 36), (a, b, c, d))
        assert np.abs(tiled - whole).max() < 1e-5
    # eta > 0: the per-step noise also belongs to the patch, not to the batch
    q = SSDiffPansharpener(model, SamplingConfig(steps=2, eta=0.5, patch_size=16, overlap=4,
                                                 batch_tiles=4))
    whole_q = q(ms, pan)
    part = q.fuse_region(read_ms, read_pan, (44, 36), (20, 44, 12, 36))
    assert np.abs(part - whole_q[:, 20:, 12:]).max() < 1e-5
    with pytest.raises(InvalidInputError, match="region"):
        p.fuse_region(read_ms, read_pan, (44, 36), (0, 50, 0, 8))


def test_checkpoint_round_trip_and_errors(tmp_path: Path, fixture_h5: Path) -> None:
    module = train_ssdiff(PanCollection(fixture_h5, sensor="QB"), steps=3, batch_size=4,
                          patch_size=16, lbaf_steps=1, seed=0)
    assert len(module.losses) == 5 and module.ema_updates == 5
    sampling = SamplingConfig(steps=3, patch_size=16, overlap=4, seed=2)
    ckpt = save_checkpoint(module, tmp_path / "m.pt", sampling)
    fn = load_pansharpener(ckpt)
    rng = np.random.default_rng(1)
    ms = rng.uniform(0.2, 0.8, size=(4, 8, 8)).astype(np.float32)
    pan = rng.uniform(0.2, 0.8, size=(1, 32, 32)).astype(np.float32)
    direct = SSDiffPansharpener(module.ema, sampling)(ms, pan)
    assert np.allclose(fn(ms, pan), direct, atol=1e-6)
    assert load_pansharpener(ckpt, steps=1)(ms, pan).shape == (4, 32, 32)
    with pytest.raises(InvalidInputError, match="sampling option"):
        load_pansharpener(ckpt, nope=1)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_pansharpener(tmp_path / "missing.pt")
    torch.save({"a": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an SSDiff checkpoint"):
        load_pansharpener(tmp_path / "other.pt")
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(ckpt.read_bytes()[:200])
    with pytest.raises(CheckpointError):
        load_pansharpener(trunc)
    state = torch.load(ckpt, weights_only=True)
    state["ssdiff.config"] = json.dumps(SSNetConfig.tiny(8).to_dict())
    torch.save(state, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_pansharpener(tmp_path / "mismatch.pt")


def test_pansharpen_cli_with_ssdiff_checkpoint(tmp_path: Path) -> None:
    import typer
    from rasterio.transform import from_origin
    from typer.testing import CliRunner

    from geoneurips.raster.io import read_raster, write_raster
    from geoneurips.registry import get, load_entry

    spec = get("ssdiff")
    assert spec.family == "restoration" and "pansharpen" in spec.commands
    sampling = SamplingConfig(steps=2, patch_size=16, overlap=4)
    model = _random_model()
    ckpt = save_checkpoint(model, tmp_path / "m.pt", sampling)
    rng = np.random.default_rng(0)
    ms = rng.uniform(300, 1500, size=(4, 15, 13)).astype(np.float32)  # not a tile multiple
    pan = rng.uniform(300, 1500, size=(1, 60, 52)).astype(np.float32)
    ms_path = write_raster(tmp_path / "ms.tif", ms, crs="EPSG:32633",
                           transform=from_origin(500000, 4000000, 2.0, 2.0))
    pan_path = write_raster(tmp_path / "pan.tif", pan, crs="EPSG:32633",
                            transform=from_origin(500000, 4000000, 0.5, 0.5))
    app = typer.Typer()
    app.command()(load_entry(spec.commands["pansharpen"]))
    out = tmp_path / "fused.tif"
    res = CliRunner().invoke(app, ["--ms", str(ms_path), "--pan", str(pan_path), "-o", str(out),
                                   "--method", "ssdiff", "--checkpoint", str(ckpt),
                                   "--sensor", "QB", "--tile-size", "32", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["method"] == "ssdiff"
    fused, info = read_raster(out)
    _, pan_info = read_raster(pan_path)
    assert fused.shape == (4, 60, 52) and np.isfinite(fused).all()
    assert info.crs == pan_info.crs and info.transform == pan_info.transform
    # regression: 32-px tiles of the command equal one untiled run at EVERY pixel (the old
    # command passed MS tiles without margin and differed in a band at every tile edge)
    ref = SSDiffPansharpener(model, sampling)(ms / 2047.0, pan / 2047.0) * 2047.0
    assert np.abs(fused - ref).max() < 0.02  # DN, float32 rounding


def test_real_worldview3_sample(real_data: Path) -> None:
    """The real WV3 sample: Wald-reduced training patches, a short training run, then
    reduced- and full-resolution pansharpening with the toolbox metrics."""
    from scipy.io import loadmat

    from geoneurips.metrics.pansharpening import (
        full_resolution_metrics,
        reduced_resolution_metrics,
    )

    mat = loadmat(real_data / "pansharpening" / "WV3_example.mat")
    ms = np.moveaxis(mat["I_MS_LR"].astype(np.float64), -1, 0)
    pan = mat["I_PAN"].astype(np.float64)[None]
    assert ms.shape == (8, 32, 32) and pan.shape == (1, 128, 128)
    rr = make_reduced_resolution(ms, pan, "WV3")
    sample = {k: torch.from_numpy(v / 2047.0).float() for k, v in rr.items()}
    module = train_ssdiff([sample], steps=20, batch_size=8, patch_size=16, seed=0)
    assert np.isfinite(module.losses).all()
    fn = SSDiffPansharpener(module.ema, SamplingConfig(steps=3, patch_size=16, overlap=4))
    fused = fn((rr["ms"] / 2047).astype(np.float32), (rr["pan"] / 2047).astype(np.float32))
    assert fused.shape == (8, 32, 32) and np.isfinite(fused).all()
    m = reduced_resolution_metrics(fused * 2047.0, rr["gt"])
    ref = reduced_resolution_metrics(rr["lms"], rr["gt"])
    assert np.isfinite(list(m.values())).all()
    # a 20-step run starts from lms (zero-initialised residual head) and must not wreck it
    assert m["SAM"] < ref["SAM"] + 2.0 and m["ERGAS"] < 1.5 * ref["ERGAS"]
    ms_c, pan_c = ms[:, :16, :16], pan[:, :64, :64]
    full = fn((ms_c / 2047).astype(np.float32), (pan_c / 2047).astype(np.float32))
    assert full.shape == (8, 64, 64)
    fr = full_resolution_metrics(full * 2047.0, ms_c, pan_c, "WV3")
    assert 0.0 < fr["HQNR"] <= 1.0


@pytest.mark.slow
def test_demo_reports_every_baseline_and_learns(tmp_path: Path) -> None:
    """The demo on ``"metamers"`` scenes (unseen test seeds) against lms, Brovey, GS and a
    PanNet-style CNN of similar size trained the same steps, with the no-L-BAF ablation.

    Measured ERGAS (seeds 0, 1, 2; 2026-12-07): SSDiff 6.37 / 5.96 / 6.99, CNN 6.19 / 5.77 /
    7.12, GS 6.70 / 6.15 / 6.67, lms 6.90 / 6.52 / 7.94 (seeds 3, 4: SSDiff 5.24 / 6.09, lms
    5.74 / 6.86). SSDiff learns (ERGAS 0.50 to 0.94 below lms: asserted margin 0.3 on seed
    0; Q2n 0.80 vs 0.73, asserted 0.03) but does not beat the strongest baseline, so the system is
    ``partial``; the test checks that ``beats_baseline`` is decided by the strongest baseline
    and the stated margin, whatever it says.
    """
    from geoneurips.restoration.ssdiff.demo import DEMO_MARGIN, DIRECTIONS
    from geoneurips.restoration.ssdiff.pipeline import demo

    res = demo(tmp_path, seed=0)
    assert Path(res.artifacts["figure"]).is_file() and Path(res.artifacts["result"]).is_file()
    assert Path(tmp_path / "ssdiff_checkpoint.pt").is_file()
    saved = json.loads(Path(res.artifacts["result"]).read_text())
    assert saved["metrics"]["ERGAS"] == pytest.approx(res.metrics["ERGAS"])
    assert set(res.baselines) == {"pannet_cnn", "gs", "brovey", "lms"}
    assert set(res.ablations) == {"ssdiff_without_lbaf"}
    metrics = {"SAM", "ERGAS", "Q2n", "SCC", "D_lambda", "D_s", "HQNR"}
    assert set(res.metrics) == metrics and set(DIRECTIONS) == metrics
    assert all(set(m) == metrics for m in res.baselines.values())
    assert res.primary == "ERGAS" and res.details["scene"] == "metamers"
    assert res.details["cnn_steps"] == 600 and res.details["test_images"] == 2
    assert abs(res.details["cnn_params"] - res.details["params"]) < 0.2 * res.details["params"]
    strongest = min(res.baselines, key=lambda k: res.baselines[k]["ERGAS"])
    assert res.strongest_baseline == strongest
    assert res.beats_baseline == (
        res.metrics["ERGAS"] < res.baselines[strongest]["ERGAS"] - DEMO_MARGIN
        and not [r for r in res.regressions if not r["explanation"]])
    # it learns: clearly better than the interpolated MS
    assert res.metrics["ERGAS"] < res.baselines["lms"]["ERGAS"] - 0.3
    assert res.metrics["Q2n"] > res.baselines["lms"]["Q2n"] + 0.03
    assert res.details["final_train_loss"] < res.details["first_train_loss"]


def _ssdiff_metrics(**kw: float) -> dict[str, float]:
    base = {"SAM": 10.0, "ERGAS": 6.0, "Q2n": 0.8, "SCC": 0.85, "D_lambda": 0.1, "D_s": 0.05,
            "HQNR": 0.855}
    return {**base, **kw}


def test_explain_regressions_only_while_the_measured_condition_holds() -> None:
    """Each explanation is given exactly when the run's numbers show its mechanism: the
    seed-0 quick demo's pattern (lms D_lambda 0.030, CNN below SSDiff on D_lambda, GS best on
    D_s with the CNN worse) and hand-made variants that break one condition at a time."""
    from geoneurips.restoration.ssdiff.demo import LMS_D_LAMBDA_NEAR_ZERO, explain_regressions

    ours = _ssdiff_metrics(D_lambda=0.10, D_s=0.05, HQNR=0.90 * 0.95, SAM=10.0, SCC=0.82,
                           Q2n=0.70)
    cnn = _ssdiff_metrics(D_lambda=0.12, D_s=0.07, HQNR=0.88 * 0.93, SAM=10.2, SCC=0.80,
                          Q2n=0.78)
    gs = _ssdiff_metrics(D_lambda=0.05, D_s=0.02, HQNR=0.95 * 0.98, SAM=9.5, SCC=0.86,
                         Q2n=0.72)
    lms = _ssdiff_metrics(D_lambda=0.03, D_s=0.06, HQNR=0.97 * 0.94, SAM=11.0, SCC=0.81,
                          Q2n=0.70)
    base = {"pannet_cnn": cnn, "gs": gs, "brovey": dict(gs), "lms": lms}
    out = explain_regressions(ours, base)
    # every condition holds: all but Q2n (no measured mechanism) are explained
    assert set(out) == {"D_lambda", "D_s", "HQNR", "SAM", "SCC"}
    assert "0.030" in out["D_lambda"] and "0.120" in out["D_lambda"]

    # the learned CNN better than SSDiff on D_lambda: D_lambda and HQNR lose their text
    out = explain_regressions(ours, {**base, "pannet_cnn": {**cnn, "D_lambda": 0.08}})
    assert "D_lambda" not in out and "HQNR" not in out and "D_s" in out
    # lms not near 0: D_lambda unexplained
    lms_far = {**lms, "D_lambda": LMS_D_LAMBDA_NEAR_ZERO + 0.01}
    assert "D_lambda" not in explain_regressions(ours, {**base, "lms": lms_far})
    # CNN better on D_s, SCC, SAM, HQNR: none of them explained
    strong = {**cnn, "D_s": 0.03, "SCC": 0.84, "SAM": 9.9, "HQNR": 0.95}
    out = explain_regressions(ours, {**base, "pannet_cnn": strong})
    assert not {"D_s", "SCC", "SAM", "HQNR"} & set(out)
    # the best on D_s is the learned CNN, not a component-substitution method
    no_cs = {**base, "gs": {**gs, "D_s": 0.09}, "brovey": {**gs, "D_s": 0.09},
             "pannet_cnn": {**cnn, "D_s": 0.04}}
    assert "D_s" not in explain_regressions(ours, no_cs)
    # not a regression at all: nothing to explain
    best_everywhere = _ssdiff_metrics(D_lambda=0.0, D_s=0.0, HQNR=1.0, SAM=1.0, SCC=0.99,
                                      Q2n=0.99)
    assert explain_regressions(best_everywhere, base) == {}
