"""OAM-TCD training, checkpoints, the tcd-segment command and the demo."""

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
from affine import Affine
from rasterio.windows import Window
from typer.testing import CliRunner

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.segmentation.oamtcd.cli import tcd_segment
from geoneurips.segmentation.oamtcd.data import OAMTCD, write_fixture
from geoneurips.segmentation.oamtcd.inference import (
    green_baseline,
    load_model,
    save_checkpoint,
    segment_raster,
)
from geoneurips.segmentation.oamtcd.metrics import semantic_scores
from geoneurips.segmentation.oamtcd.model import TCDConfig, build_model
from geoneurips.segmentation.oamtcd.pipeline import evaluate, train_model

SAMPLE = "5b3622402b6a08001185f8d8_10_00004"
#: Tree-IoU margin of the quick demo's method over excess green asserted on seed 0
#: (measured 0.816 - 0.399 = 0.417).
MARGIN_GREEN_SEED0 = 0.15


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(tcd_segment)
    return app


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, float],
                                                               dict[str, float]]:
    tmp = tmp_path_factory.mktemp("oamtcd")
    root = write_fixture(tmp / "data", n_train=16, n_test=4, size=64, folds=2, seed=0)
    train, test = OAMTCD(root, "train"), OAMTCD(root, "test")
    cfg = TCDConfig.tiny()
    model = train_model(cfg, [train[i] for i in range(len(train))], epochs=15, seed=0,
                        checkpoint=tmp / "model.pt")
    scores, _ = evaluate(model, cfg, test)
    samples = [test[i] for i in range(len(test))]
    base = semantic_scores(
        np.concatenate([green_baseline(s["image"].numpy()).ravel() for s in samples]),
        np.concatenate([s["mask"].numpy().ravel() for s in samples]))
    return root, tmp / "model.pt", scores, base


def test_it_learns_beats_green_threshold(trained: tuple[Path, Path, dict[str, float],
                                                        dict[str, float]]) -> None:
    _, _, scores, base = trained
    # fixed seed; measured 0.71 vs 0.11 tree IoU
    assert scores["iou_tree"] > base["iou_tree"] + 0.3, (scores["iou_tree"], base["iou_tree"])
    assert scores["iou_canopy"] > 0.5
    assert scores["miou"] > base["miou"] + 0.3


def test_checkpoint_round_trip_and_errors(tmp_path: Path,
                                          trained: tuple[Path, Path, dict[str, float],
                                                         dict[str, float]]) -> None:
    _, ckpt, _, _ = trained
    model, cfg = load_model(ckpt)
    assert cfg == TCDConfig.tiny()
    fresh = build_model(cfg)
    p = save_checkpoint(tmp_path / "again.pt", model, cfg)
    m2, _ = load_model(p)
    for (k, a), b in zip(m2.state_dict().items(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert any(not torch.equal(a, b) for a, b in zip(fresh.state_dict().values(),
                                                     model.state_dict().values(), strict=True))
    torch.save({"w": torch.zeros(1)}, tmp_path / "noconf.pt")
    with pytest.raises(CheckpointError, match="config"):
        load_model(tmp_path / "noconf.pt")
    state = torch.load(ckpt, weights_only=True)
    state["__config__"] = json.dumps(TCDConfig.tiny(width=4).to_dict())
    torch.save(state, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(tmp_path / "mismatch.pt")


def test_segment_raster_keeps_grid_and_nodata(tmp_path: Path,
                                              trained: tuple[Path, Path, dict[str, float],
                                                             dict[str, float]]) -> None:
    root, ckpt, _, _ = trained
    src = next((root / "holdout/images").glob("*00016.tif"))
    ds = OAMTCD(root, "test")
    with rasterio.open(src) as s:
        prof, img = s.profile, s.read()
    prof.update(nodata=0)
    img[:, :5, :5] = 0  # nodata corner
    nod = tmp_path / "with_nodata.tif"
    with rasterio.open(nod, "w", **prof) as d:
        d.write(img)
    dst = tmp_path / "out.tif"
    res = CliRunner().invoke(_app(), [str(nod), "-o", str(dst), "--checkpoint", str(ckpt),
                                      "--tile-size", "32", "--overlap", "8", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output.strip().splitlines()[-1])
    assert info["classes"] == ["background", "tree", "canopy"]
    with rasterio.open(dst) as o:
        out = o.read(1)
        assert o.crs == prof["crs"] and o.transform == prof["transform"]
        assert o.nodata == 255 and o.dtypes[0] == "uint8"
    assert (out[:5, :5] == 255).all()
    valid = out != 255
    target = ds[0]["mask"].numpy()
    assert (out[valid] == target[valid]).mean() > 0.85
    # no leftovers from the atomic write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif", "with_nodata.tif"]


def test_cli_bad_inputs(tmp_path: Path, trained: tuple[Path, Path, dict[str, float],
                                                      dict[str, float]]) -> None:
    root, ckpt, _, _ = trained
    src = next((root / "holdout/images").glob("*00016.tif"))
    dst = tmp_path / "o.tif"
    one = tmp_path / "one.tif"
    with rasterio.open(one, "w", driver="GTiff", width=16, height=16, count=1,
                       dtype="uint8", crs="EPSG:3395",
                       transform=Affine(0.1, 0.0, 0.0, 0.0, -0.1, 0.0)) as d:
        d.write(np.zeros((1, 16, 16), dtype=np.uint8))
    app = _app()
    r = CliRunner().invoke(app, [str(one), "-o", str(dst), "--checkpoint", str(ckpt)])
    assert isinstance(r.exception, InvalidInputError) and "RGB" in str(r.exception)
    r = CliRunner().invoke(app, [str(tmp_path / "nope.tif"), "-o", str(dst),
                                 "--checkpoint", str(ckpt)])
    assert isinstance(r.exception, InvalidInputError)
    r = CliRunner().invoke(app, [str(src), "-o", str(dst), "--checkpoint", str(ckpt),
                                 "--tile-size", "4"])
    assert isinstance(r.exception, InvalidInputError)
    r = CliRunner().invoke(app, [str(src), "-o", str(dst), "--checkpoint", str(src)])
    assert r.exception is not None and not dst.exists()
    with pytest.raises(InvalidInputError, match="overlap"):
        model, cfg = load_model(ckpt)
        segment_raster(src, dst, model, cfg, tile_size=32, overlap=20)
    assert not dst.exists()


def test_real_tile_window(real_data: Path, tmp_path: Path,
                          trained: tuple[Path, Path, dict[str, float], dict[str, float]]) -> None:
    """The command runs on a 256 x 256 window of the real JPEG-compressed tile."""
    _, ckpt, _, _ = trained
    with rasterio.open(real_data / "oam_tcd" / f"{SAMPLE}.tif") as s:
        win = Window(1024, 1024, 256, 256)
        arr = s.read(window=win)
        prof = s.profile
        t = s.transform
        shifted = Affine(t.a, 0.0, t.c + 1024 * t.a, 0.0, t.e, t.f + 1024 * t.e)
        prof.update(width=256, height=256, transform=shifted, compress="deflate",
                    blockxsize=256, blockysize=16)
    crop = tmp_path / "crop.tif"
    with rasterio.open(crop, "w", **prof) as d:
        d.write(arr)
    dst = tmp_path / "crop_out.tif"
    r = CliRunner().invoke(_app(), [str(crop), "-o", str(dst), "--checkpoint", str(ckpt),
                                    "--tile-size", "128", "--overlap", "32"])
    assert r.exit_code == 0, r.output
    with rasterio.open(dst) as o:
        out = o.read(1)
        assert o.crs.to_epsg() == 3395
        assert isinstance(o.transform, Affine) and o.transform.c == pytest.approx(
            1009956.8118939905 + 102.4)
    assert out.shape == (256, 256) and set(np.unique(out)) <= {0, 1, 2}


def test_cli_module_is_light() -> None:
    code = ("import sys, geoneurips.segmentation.oamtcd, geoneurips.segmentation.oamtcd.cli; "
            "bad = [m for m in ('torch', 'rasterio') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_demo_quick(tmp_path: Path) -> None:
    """Diverse-biome vs. single-biome training of the same U-Net with the paper's recipe
    as released (normalized focal loss, AdamW lr 3e-3, the released training transform),
    decided like the paper's holdout split: 48 unseen tiles, 16 from each training biome
    (binary tree cover; 24 tiles of 64 px per arm, 40 epochs in batches of 6); the
    recombined new-biome test of the old demo is reported in details.

    Measured, pooled tree IoU: dev seeds 10 / 11 / 12 method 0.854 / 0.812 / 0.820 vs.
    the strongest baseline 0.795 / 0.796 / 0.766 (+0.059 / +0.016 / +0.054; dev 11 misses
    the margin); full demo,
    seeds 0 / 1 / 2 (3 / 4 confirmation): method 0.816 / 0.781 / 0.856 (0.805 / 0.840),
    strongest baseline 0.756 / 0.723 / 0.766 (0.753 / 0.743), margins +0.060 / +0.057 /
    +0.090 (+0.053 / +0.098); this quick demo (the one ``make demo`` runs), seeds 0 / 1 /
    2 / 3 / 4: 0.816 / 0.781 / 0.856 / 0.805 / 0.840 vs. single_tropical 0.745 / 0.706 /
    0.751 / 0.730 / 0.743 (+0.072 / +0.074 / +0.105 / +0.075 / +0.098, at least 2.4x the
    margin), excess green 0.399 on seed 0. The demo trains and evaluates on one thread
    whatever the caller set (``seed.single_thread``): quick seeds 0-4 re-measured on
    2026-12-06 in fresh processes, and seed 0 after Kuro Siwo's demo in the same process
    with two threads set: identical. AVX2 kernels instead of AVX-512 (ATEN_CPU_CAPABILITY=
    avx2, ONEDNN_MAX_CPU_ISA=AVX2, as on a CPU without AVX-512) still move it: quick seed 0
    0.851 vs. single_tropical 0.744 (+0.107; single_arid_savanna 0.512, not 0.249). Asserted: the method beats the strongest baseline by
    DEMO_MARGIN = 0.03 with every regression explained (the old demo lost by -0.040 on
    this seed), and excess green by MARGIN_GREEN_SEED0 = 0.15 (measured 0.417)."""
    from geoneurips.registry import get
    from geoneurips.segmentation.oamtcd.biomes import TRAIN_BIOMES
    from geoneurips.segmentation.oamtcd.demo import DEMO_MARGIN, N_UNSEEN, demo

    res = demo(tmp_path, quick=True, seed=0)
    singles = {f"single_{b.name}" for b in TRAIN_BIOMES}
    assert set(res.baselines) == singles | {"excess_green"}
    assert res.ablations == {}
    green = res.baselines["excess_green"]["iou_tree"]
    best = max(v["iou_tree"] for v in res.baselines.values())
    assert res.baseline["iou_tree"] == best
    assert res.metrics["iou_tree"] > green + MARGIN_GREEN_SEED0
    unexplained = [r for r in res.regressions if not r["explanation"]]
    assert res.beats_baseline == (res.metrics["iou_tree"] - best > DEMO_MARGIN
                                  and not unexplained)
    assert res.metrics["iou_tree"] - best > DEMO_MARGIN, (res.metrics["iou_tree"], best)
    assert not unexplained and res.beats_baseline
    assert set(res.directions) == set(res.metrics)
    saved = json.loads((tmp_path / "oamtcd.json").read_text())
    assert saved["baselines"]["excess_green"]["iou_tree"] == pytest.approx(green)
    # deciding test = the holdout analogue (unseen tiles of the training biomes, like the
    # paper's holdout split); the old demo decided on recombined unseen biomes only
    names = {b.name for b in TRAIN_BIOMES}
    by_biome = saved["details"]["holdout_iou_tree_by_biome"]
    assert set(by_biome) == singles | {"diverse_biomes", "excess_green"}
    assert all(set(v) == names for v in by_biome.values())
    unseen = saved["details"]["unseen_biomes"]
    assert len(unseen["biomes"]) == N_UNSEEN
    assert not names & {b.split(":")[0] for b in unseen["biomes"]}
    assert set(unseen["scores"]) == set(by_biome)
    assert (tmp_path / "oamtcd.png").stat().st_size > 0
    _, cfg = load_model(tmp_path / "oamtcd_model.pt")
    # the method is the paper's recipe (as released)
    assert cfg.num_classes == 2 and cfg.loss == "focal" and cfg.focal_normalized
    assert saved["details"]["augment"] == "released"
    assert "instances" not in res.details and not (tmp_path / "oamtcd_mask_rcnn.pt").exists()
    assert get("oamtcd").demo == "geoneurips.segmentation.oamtcd.demo:demo"


def test_demo_explains_only_true_precision_recall_tradeoffs() -> None:
    from geoneurips.segmentation.oamtcd.demo import _tradeoffs

    ours = {"precision_tree": 0.9, "recall_tree": 0.8, "accuracy_tree": 0.8, "f1_tree": 0.85,
            "iou_tree": 0.74}
    # green: higher recall but lower F1 -> a trade-off; nothing beats our precision
    green = {"precision_tree": 0.5, "recall_tree": 0.99, "accuracy_tree": 0.99,
             "f1_tree": 0.66, "iou_tree": 0.49}
    got = _tradeoffs(ours, {"green": green})
    assert set(got) == {"recall_tree", "accuracy_tree"}  # only regressions get a reason
    # a baseline better on recall AND on F1: that recall regression is real
    strong = {"precision_tree": 0.85, "recall_tree": 0.95, "accuracy_tree": 0.95,
              "f1_tree": 0.9, "iou_tree": 0.8}
    got = _tradeoffs(ours, {"green": green, "strong": strong})
    assert set(got) == set()


def test_demo_explains_background_only_when_it_costs_trees() -> None:
    """Background IoU / F1 and OA regressions are explained only when every baseline
    better on them marks fewer trees and is worse on the class mean (the seed-4 case of
    the old demo: background IoU lower in the 4th decimal was left unexplained)."""
    from geoneurips.segmentation.oamtcd.demo import _tradeoffs

    ours = {"iou_background": 0.9580, "f1_background": 0.9785, "oa": 0.962, "miou": 0.80,
            "mf1": 0.88, "recall_tree": 0.80, "f1_tree": 0.78, "iou_tree": 0.64}
    shy = {"iou_background": 0.9581, "f1_background": 0.9786, "oa": 0.963, "miou": 0.75,
           "mf1": 0.85, "recall_tree": 0.60, "f1_tree": 0.70, "iou_tree": 0.54}
    assert set(_tradeoffs(ours, {"shy": shy})) == {"iou_background", "f1_background", "oa"}
    # as many trees marked and better on the mean: a real regression, not explained
    real = dict(shy, recall_tree=0.85, miou=0.81, mf1=0.89)
    assert set(_tradeoffs(ours, {"shy": shy, "real": real})) == {"recall_tree"}
    # fewer trees but better on the mean: not explained either
    assert _tradeoffs(ours, {"x": dict(shy, miou=0.81, mf1=0.89)}) == {}


def test_per_biome_scores_split_the_holdout_in_biome_order() -> None:
    """Hand values: two biomes of two 2x2 tiles each; the first biome's prediction is
    perfect (IoU 1), the second marks one of two tree pixels and one false one (1/3)."""
    from geoneurips.segmentation.oamtcd.demo import _per_biome

    t = [np.array([[1, 0], [0, 0]]), np.array([[0, 2], [0, 0]]),
         np.array([[1, 1], [0, 0]]), np.zeros((2, 2), np.int64)]
    p = [np.array([[1, 0], [0, 0]]), np.array([[0, 1], [0, 0]]),
         np.array([[1, 0], [1, 0]]), np.zeros((2, 2), np.int64)]
    samples = [{"mask": torch.from_numpy(x)} for x in t]
    got = _per_biome(p, samples, ["a", "b"])
    assert got == {"a": 1.0, "b": pytest.approx(1 / 3, abs=1e-4)}
