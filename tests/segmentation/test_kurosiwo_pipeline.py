"""Kuro Siwo: the flood-map task command (real Sen1Floods11 S1 file), bad inputs, the
Otsu baselines and the demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
import typer
from typer.testing import CliRunner

from geoneurips.errors import CheckpointError, CoregistrationError, InvalidInputError
from geoneurips.segmentation.kurosiwo.cli import flood_map
from geoneurips.segmentation.kurosiwo.inference import load_model, save_checkpoint
from geoneurips.segmentation.kurosiwo.model import FloodConfig, build_model
from geoneurips.segmentation.kurosiwo.pipeline import otsu_change, otsu_post


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(flood_map)
    return app


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    cfg = FloodConfig("unet", 3, width=4, depth=2, patch_size=64)
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "k.pt", build_model(cfg), cfg)


@pytest.fixture(scope="module")
def s1(real_data: Path) -> Path:
    return real_data / "sen1floods11" / "Spain_7370579_S1Hand.tif"


def _copy(src: Path, dst: Path, fn=None, **update) -> Path:  # type: ignore[no-untyped-def]
    with rasterio.open(src) as ds:
        prof = ds.profile
        data = ds.read()
    prof.update(**update)
    if fn is not None:
        data = fn(data)
    prof["count"] = data.shape[0]
    with rasterio.open(dst, "w", **prof) as o:
        o.write(data.astype(prof["dtype"]))
    return dst


def test_flood_map_on_real_sen1floods11(s1: Path, checkpoint: Path, tmp_path: Path) -> None:
    """Smoke test on the real Sen1Floods11 S1 file (VV/VH in dB). Only one date exists, so
    the same file serves as post-event and both pre-event images."""
    dst = tmp_path / "flood.tif"
    res = CliRunner().invoke(_app(), [str(s1), str(s1), str(s1), "-o", str(dst),
                                      "--checkpoint", str(checkpoint), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["input_unit"] == "dB" and info["dates"] == 3
    with rasterio.open(s1) as a, rasterio.open(dst) as b:
        assert b.crs == a.crs and b.transform == a.transform and b.shape == a.shape
        assert b.count == 1 and b.dtypes[0] == "uint8" and b.nodata == 255
        assert set(np.unique(b.read(1))) <= {0, 1, 2}
    res = CliRunner().invoke(_app(), [str(s1), str(s1), str(s1), "-o", str(dst),
                                      "--checkpoint", str(checkpoint)])
    assert "converted to linear backscatter" in res.output


def test_db_conversion_equals_linear_input(s1: Path, checkpoint: Path, tmp_path: Path) -> None:
    """dB input converted by the command == the same scene given as linear (--linear)."""
    crop = _copy(s1, tmp_path / "db.tif", lambda d: d[:, :96, :96], width=96, height=96)
    lin = _copy(crop, tmp_path / "lin.tif", lambda d: 10 ** (d / 10))
    outs = []
    for src, extra in ((crop, []), (lin, ["--linear"])):
        dst = tmp_path / f"o_{src.stem}.tif"
        r = CliRunner().invoke(_app(), [str(src), str(src), str(src), "-o", str(dst),
                                        "--checkpoint", str(checkpoint), *extra])
        assert r.exit_code == 0, r.output
        with rasterio.open(dst) as ds:
            outs.append(ds.read(1))
    assert (outs[0] == outs[1]).mean() > 0.999
    # the unit checks: dB passed as linear, linear passed as dB
    r = CliRunner().invoke(_app(), [str(crop), str(crop), str(crop), "-o", str(tmp_path / "x.tif"),
                                    "--checkpoint", str(checkpoint), "--linear"])
    assert isinstance(r.exception, InvalidInputError) and "dB" in str(r.exception)
    r = CliRunner().invoke(_app(), [str(lin), str(lin), str(lin), "-o", str(tmp_path / "x.tif"),
                                    "--checkpoint", str(checkpoint)])
    assert isinstance(r.exception, InvalidInputError) and "--linear" in str(r.exception)


def test_flood_map_keeps_nodata(s1: Path, checkpoint: Path, tmp_path: Path) -> None:
    def hole(d: np.ndarray) -> np.ndarray:
        d = d[:, :64, :64].copy()
        d[:, :10, :10] = np.nan
        return d

    src = _copy(s1, tmp_path / "hole.tif", hole, width=64, height=64)
    dst = tmp_path / "o.tif"
    r = CliRunner().invoke(_app(), [str(src), str(src), str(src), "-o", str(dst),
                                    "--checkpoint", str(checkpoint)])
    assert r.exit_code == 0, r.output
    with rasterio.open(dst) as ds:
        out = ds.read(1)
    assert (out[:10, :10] == 255).all() and (out[10:, 10:] != 255).all()


def test_flood_map_bad_inputs_leave_nothing(s1: Path, checkpoint: Path, tmp_path: Path,
                                            real_data: Path) -> None:
    app = _app()
    dst = tmp_path / "o.tif"

    def run(*args: str) -> BaseException | None:
        r = CliRunner().invoke(app, [*args, "-o", str(dst), "--checkpoint", str(checkpoint)])
        return r.exception

    s2 = real_data / "sen1floods11" / "Spain_7370579_S2Hand.tif"
    e = run(str(s2), str(s1), str(s1))
    assert isinstance(e, InvalidInputError) and "13 band(s)" in str(e)
    e = run(str(s1))
    assert isinstance(e, InvalidInputError) and "3 date(s)" in str(e)
    other_crs = _copy(s1, tmp_path / "crs.tif", crs="EPSG:3857")
    assert isinstance(run(str(s1), str(other_crs), str(s1)), CoregistrationError)
    nan = _copy(s1, tmp_path / "nan.tif", lambda d: np.where(np.arange(512) == 7, np.nan, d),
                nodata=-9999.0)
    e = run(str(s1), str(nan), str(s1))
    assert isinstance(e, InvalidInputError) and "NaN" in str(e) and "column 7" in str(e)
    empty = _copy(s1, tmp_path / "empty.tif", lambda d: np.full_like(d, np.nan))
    e = run(str(empty), str(s1), str(s1))
    assert isinstance(e, InvalidInputError) and "no valid pixel" in str(e)
    r = CliRunner().invoke(app, [str(s1), str(s1), str(s1), "-o", str(dst), "--checkpoint",
                                 str(tmp_path / "missing.pt")])
    assert isinstance(r.exception, CheckpointError)
    assert not dst.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o")]


def test_checkpoint_round_trip_and_errors(checkpoint: Path, tmp_path: Path) -> None:
    model, cfg = load_model(checkpoint)
    assert cfg.arch == "unet" and cfg.dates == 3 and not model.training
    bad = tmp_path / "bad.pt"
    torch.save({"w": torch.zeros(1)}, bad)
    with pytest.raises(CheckpointError, match="no Kuro Siwo config"):
        load_model(bad)


def test_otsu_baselines_on_a_clean_scene() -> None:
    """Hand-built scene: permanent water (dark on all dates), flood (dark after the event),
    land; in normalised units as the dataset returns them."""
    from geoneurips.segmentation.kurosiwo.data import normalize_sar

    lin = np.full((6, 20, 20), 0.1, np.float32)
    lin[1::2] = 0.025
    lin[:, :, :6] = 0.004  # permanent water
    lin[:2, :, 12:] = 0.004  # flood: dark in post (channels 0, 1) only
    img = normalize_sar(lin)
    valid = np.ones((20, 20), bool)
    change = otsu_change(img, valid)
    assert (change[:, :4] == 1).all() and (change[:, 14:] == 2).all()
    assert (change[:, 8:10] == 0).all()
    post = otsu_post(img, valid)
    assert (post[:, :4] == 2).all() and (post[:, 8:10] == 0).all()
    # water is dark in VH too (the boxcar speckle filter blurs the class edges, as above)
    vh = otsu_change(img, valid, pol="vh")
    assert (vh[:, :4] == 1).all() and (vh[:, 14:] == 2).all() and (vh[:, 8:10] == 0).all()


def test_otsu_on_vh_is_not_fooled_by_land_that_is_dark_in_vv_only() -> None:
    """Tarmac / radar shadow: as dark as water in VV, brighter in VH (the demo's dark
    land). Otsu on VV calls it permanent water; Otsu on VH keeps it land, and still finds
    the water and the flood."""
    from geoneurips.segmentation.kurosiwo.data import normalize_sar

    lin = np.full((6, 32, 32), 0.1, np.float32)
    lin[1::2] = 0.025
    lin[:, :, :7] = 0.004  # permanent water
    lin[:2, :, 25:] = 0.004  # flood
    lin[0::2, :, 12:20] = 0.004  # dark land: as dark as water in VV on every date ...
    lin[1::2, :, 12:20] = 0.02  # ... not in VH
    img, valid = normalize_sar(lin), np.ones((32, 32), bool)
    vv, vh = otsu_change(img, valid, pol="vv"), otsu_change(img, valid, pol="vh")
    # the strip's interior (the 5-px boxcar speckle filter blurs its edges)
    assert (vv[:, 14:18] == 1).all() and (vh[:, 12:20] == 0).all()
    for pred in (vv, vh):
        assert (pred[:, :5] == 1).all() and (pred[:, 27:] == 2).all()
    assert (otsu_post(img, valid, pol="vh")[:, 12:20] == 0).all()
    assert (otsu_post(img, valid, pol="vv")[:, 14:18] == 2).all()


def test_inference_module_does_not_import_lightning() -> None:
    code = ("import sys; import geoneurips.segmentation.kurosiwo.inference; "
            "import geoneurips.segmentation.kurosiwo.cli; "
            "print('lightning' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_demo_beats_the_strongest_baseline(tmp_path: Path, s1: Path) -> None:
    """Quick demo, seed 0 (train scenes seed 0, test scenes seed 10000, unseen).

    Stated margin: the post+pre U-Net's mIoU exceeds the strongest baseline's (the Otsu
    change baseline on post/pre VH since 2026-12-07: VH is not fooled by the tarmac that is
    water-dark in VV, which a practitioner who sees VH would use) by more than 0.15.
    Otsu change on VH, quick seeds 0-4: 0.760/0.768/0.758/0.764/0.757 (VV
    0.708/0.727/0.702/0.692/0.718), full seeds 0-2: 0.758/0.770/0.758 (VV
    0.701/0.728/0.706); smallest lead 0.190 (quick seed 1) = 1.27x the margin, full
    leads 0.236/0.223/0.234. Before that, measured (mIoU, ours / Otsu change /
    post-only U-Net / Otsu post): full demo seeds 0, 1, 2: 0.994/0.701/0.556/0.416,
    0.993/0.728/0.549/0.420, 0.992/0.706/0.565/0.426; quick demo seeds 0, 1, 2:
    0.965/0.708/0.540/0.422, 0.958/0.727/0.477/0.414, 0.972/0.702/0.522/0.424 (smallest
    margin over the strongest baseline 0.231; over the post-only U-Net 0.425); confirmation
    seeds 3, 4 (quick): 0.972/0.692/0.545/0.393, 0.971/0.718/0.536/0.423 (margins 0.280,
    0.253). The demo trains and evaluates on one thread whatever the caller set
    (``seed.single_thread``): re-measured 2026-12-06 in fresh processes, quick seeds 0-4 as
    above (smallest lead 0.231 = 1.5x the margin, seed 1), and seed 0 after FUSU's demo in
    the same process with two threads set: identical. AVX2 kernels instead of AVX-512
    (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2): quick seed 0 0.966 vs 0.708.
    Then the saved checkpoint runs `flood-map` on the real Sen1Floods11 S1 file (the same
    file as post and pre-event images, since the sample has one date): no change, so
    (almost) no flood, and the water it finds is checked against the real hand label.
    """
    from geoneurips.segmentation.kurosiwo.pipeline import demo

    r = demo(tmp_path, quick=True, seed=0)
    assert set(r.baselines) == {"otsu_post_vv", "otsu_post_vh", "otsu_change_vv",
                                "otsu_change_vh", "unet_post_only"}
    assert r.primary == "miou" and r.margin == 0.15
    # VH is not fooled by the tarmac that is water-dark in VV
    assert r.strongest_baseline == "otsu_change_vh"
    assert r.baseline["miou"] > r.baselines["otsu_change_vv"]["miou"] + 0.02
    assert r.metrics["miou"] - r.baseline["miou"] > 0.15
    # the paper's point: the same network without the pre-event images is far behind
    assert r.metrics["miou"] - r.baselines["unet_post_only"]["miou"] > 0.25
    assert r.beats_baseline, r.regressions
    saved = json.loads(Path(r.artifacts["result"]).read_text())
    assert saved["metrics"]["miou"] == pytest.approx(r.metrics["miou"])
    ck = tmp_path / "kurosiwo_unet.pt"
    dst = tmp_path / "flood.tif"
    res = CliRunner().invoke(_app(), [str(s1), str(s1), str(s1), "-o", str(dst),
                                      "--checkpoint", str(ck)])
    assert res.exit_code == 0, res.output
    with rasterio.open(s1) as a, rasterio.open(dst) as b:
        assert (b.crs, b.transform, b.shape) == (a.crs, a.transform, a.shape)
        out = b.read(1)
    assert set(np.unique(out)) <= {0, 1, 2}
    # no change between the dates -> (almost) no flood: the water found is permanent water
    # (measured: 125 flood pixels of 262,144). Water (1 or 2) against the real hand label,
    # a model trained on synthetic scenes only: F1 0.74 measured.
    assert (out == 2).mean() < 0.01
    with rasterio.open(s1.parent / "Spain_7370579_LabelHand.tif") as ds:
        label = ds.read(1)
    ok, water, truth = label >= 0, out > 0, label == 1
    tp = (water & truth & ok).sum()
    f1 = 2 * tp / (2 * tp + (water & ~truth & ok).sum() + (~water & truth & ok).sum())
    assert f1 > 0.6


def test_terrain_channels_train_and_evaluate(tmp_path: Path, s1: Path) -> None:
    """DEM and slope as optional inputs: appended after the SAR channels of the U-Net."""
    from geoneurips.segmentation.kurosiwo.data import KuroSiwo, write_fixture
    from geoneurips.segmentation.kurosiwo.pipeline import evaluate, model_input, train_model
    from geoneurips.segmentation.kurosiwo.synthetic import make_scene

    rng = np.random.default_rng(0)
    scenes = []
    for k in range(2):
        sc = make_scene(rng, 16)
        sc["dem"] = rng.normal(100, 10, (16, 16)).astype(np.float32)
        scenes.append((130 if k else 321, 1, sc))
    write_fixture(tmp_path, scenes)
    cfg = FloodConfig("unet", 3, width=4, depth=2, patch_size=16, terrain=("dem", "slope"))
    assert cfg.in_channels == 8
    assert FloodConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    train = KuroSiwo(tmp_path, "train", dem=True, slope=True)
    model = train_model(train, cfg, epochs=1, batch_size=1)
    batch = {k: v[None] for k, v in train[0].items() if k in ("image", "dem", "slope")}
    x = model_input(batch, cfg)
    assert x.shape == (1, 8, 16, 16)
    assert torch.equal(x[:, 6:7], batch["dem"]) and torch.equal(x[:, 7:], batch["slope"])
    m = evaluate(KuroSiwo(tmp_path, "test", dem=True, slope=True), model, cfg)
    assert m.compute()["pixels"] > 0
    with pytest.raises(InvalidInputError, match="dem"):
        model_input({"image": batch["image"]}, cfg)
    ck = save_checkpoint(tmp_path / "t.pt", model, cfg)
    r = CliRunner().invoke(_app(), [str(s1), str(s1), str(s1), "-o", str(tmp_path / "o.tif"),
                                    "--checkpoint", str(ck)])
    assert isinstance(r.exception, InvalidInputError) and "SAR images only" in str(r.exception)
    with pytest.raises(ValueError, match="U-Net only"):
        FloodConfig("siam-diff", 3, terrain=("dem",))


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["siam-diff", "siam-conc", "snunet"])
def test_siamese_benchmark_models_learn(arch: str, tmp_path: Path) -> None:
    """The benchmark's change networks learn the task (24 train scenes of 32 px from seed
    0, 8 test scenes from seed 10000, width 8, depth 2, 20 epochs). Stated margin: mIoU
    above the Otsu change baseline's by more than 0.15. Measured (ours vs Otsu change),
    seeds 0/1/2: siam-diff 0.859/0.889/0.854, siam-conc 0.926/0.863/0.824, snunet
    0.919/0.902/0.947 vs 0.570/0.610/0.606 (smallest margin 0.218)."""
    from geoneurips.segmentation.kurosiwo.data import RANDOM_EVENTS, KuroSiwo, write_fixture
    from geoneurips.segmentation.kurosiwo.pipeline import _scenes, evaluate, train_model

    write_fixture(tmp_path, _scenes(0, 24, RANDOM_EVENTS["train"][:3], 32))
    write_fixture(tmp_path, _scenes(10_000, 8, RANDOM_EVENTS["test"][:2], 32))
    train, test = KuroSiwo(tmp_path, "train"), KuroSiwo(tmp_path, "test")
    model = train_model(train, FloodConfig(arch, 3, 8, 2, patch_size=32), epochs=20, seed=0)
    ours = evaluate(test, model).compute()["miou"]
    otsu = evaluate(test, otsu_change).compute()["miou"]
    assert ours - otsu > 0.15, (ours, otsu)


def test_small_splits_are_read_once_with_the_same_batches(tmp_path: Path) -> None:
    """``train_model`` reads a small split without transforms into memory once
    (``_in_memory``) instead of every epoch; the samples and the trained weights are
    exactly those of reading from disk every epoch (``cache_mib=0``). A split over the
    budget, or one with transforms (which may draw random numbers), is left on disk."""
    from geoneurips.segmentation.kurosiwo.data import RANDOM_EVENTS, KuroSiwo, write_fixture
    from geoneurips.segmentation.kurosiwo.pipeline import _in_memory, _scenes, train_model

    write_fixture(tmp_path, _scenes(0, 6, RANDOM_EVENTS["train"][:2], 32))
    ds = KuroSiwo(tmp_path, "train")
    cached = _in_memory(ds, 512.0)
    assert isinstance(cached, list) and len(cached) == len(ds)
    for i, s in enumerate(cached):
        t = ds[i]
        assert set(s) == set(t)
        for k, v in s.items():
            assert torch.equal(v, t[k]) if isinstance(v, torch.Tensor) else v == t[k]
    assert _in_memory(ds, 0.0) is ds
    assert _in_memory(ds, 1e-4) is ds  # over the budget
    with_tf = KuroSiwo(tmp_path, "train", transforms=lambda s: s)
    assert _in_memory(with_tf, 512.0) is with_tf
    cfg = FloodConfig("unet", 3, 8, 2, patch_size=32)
    a = train_model(ds, cfg, epochs=2, batch_size=2, seed=0)
    b = train_model(ds, cfg, epochs=2, batch_size=2, seed=0, cache_mib=0)
    for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q)
