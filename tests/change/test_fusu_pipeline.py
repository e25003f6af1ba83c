"""FUSU pipeline: synthetic task, augmentation, and the demo ("it learns")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.change.fusu.pipeline import (
    GREEN,
    demo,
    flip_rotate,
    make_synthetic_scenes,
)


def test_synthetic_scenes_hide_green_classes_from_rgb_and_single_dates() -> None:
    sc = make_synthetic_scenes(40, np.random.default_rng(0))
    assert sc[0]["im1"].shape == (32, 32, 3) and sc[0]["time_series"].shape == (8, 4, 12, 12)
    crop = np.concatenate([s["im1"][s["label1"] == GREEN[0]] for s in sc])
    grass = np.concatenate([s["im1"][s["label1"] == GREEN[1]] for s in sc])
    # same look in RGB (means within noise) ...
    assert np.abs(crop.mean(0) - grass.mean(0)).max() < 6
    # ... and the same value distribution at every single date (no date leaks the class):
    # per-date quantiles of band 0 over the Sentinel pixels of each class (year A, date 1)
    def values(cls: int, t: int) -> np.ndarray:
        return np.concatenate([s["time_series"][t, 0, 2:10, 2:10][s["label1"][::4, ::4] == cls]
                               for s in sc])

    qs = [10, 25, 75, 90]  # the median falls in the gap between the two modes
    for t in range(4):
        va, vb = values(GREEN[0], t), values(GREEN[1], t)
        a, b = np.percentile(va, qs), np.percentile(vb, qs)
        assert np.abs(a - b).max() < 0.06, (t, a, b)
        assert abs((va > 0.5).mean() - (vb > 0.5).mean()) < 0.12
    # ... only the dynamics differ: cropland alternates, grass keeps its level
    def swing(cls: int) -> float:
        return float(np.concatenate([
            np.abs(np.diff(s["time_series"][:4, 0, 2:10, 2:10], axis=0))[
                :, s["label1"][::4, ::4] == cls].ravel() for s in sc]).mean())

    assert swing(GREEN[0]) > 0.25 > 0.1 > swing(GREEN[1])
    changed = np.mean([(x["label1"] != x["label2"]).mean() for x in sc])
    assert 0.15 < changed < 0.65


def test_flip_rotate_keeps_time_series_aligned() -> None:
    block = torch.arange(16.0).view(4, 4)  # Sentinel pixel ids
    hr = block.repeat_interleave(2, 0).repeat_interleave(2, 1)  # each id over a 2x2 HR block
    batch = {"image": hr.expand(1, 2, 3, 8, 8).clone(), "mask": hr.long().expand(1, 2, 8, 8),
             "change": hr.long().expand(1, 8, 8), "time_series": block.expand(1, 3, 2, 4, 4)}
    seen = set()
    for seed in range(12):
        out = flip_rotate(batch, torch.Generator().manual_seed(seed))
        ts = out["time_series"][0, 0, 0]
        assert torch.equal(out["image"][0, 0, 0, ::2, ::2], ts)
        assert torch.equal(out["mask"][0, 1, ::2, ::2].float(), ts)
        assert torch.equal(out["change"][0, ::2, ::2].float(), ts)
        seen.add(tuple(ts.flatten().tolist()))
    assert len(seen) > 2  # the transform does change the layout


@pytest.mark.slow  # the full demo, which decides: three trainings (~55-60 s CPU)
def test_demo_fusu_net_beats_bitemporal_baselines(tmp_path: Path) -> None:
    """Full demo, seed 0: FUSU-Net beats the strongest bi-temporal baseline (the same network
    without the series, or the Siamese U-Net) by more than 0.05 SeK.

    Measured SeK (quick: 24 train scenes, 80 epochs; validation scenes from an unseen
    random stream), re-measured on 2026-12-06 (the method's values had drifted from the
    first measurement, 0.801 / 0.816 / 0.833, cause not investigated; the baselines had
    not), seeds 0 / 1 / 2: FUSU-Net 0.790 / 0.778 / 0.836; same network without the series
    0.665 / 0.690 / 0.683; Siamese U-Net 0.602 / 0.712 / 0.678. Gain over the strongest
    baseline 0.124 / 0.067 / 0.154; asserted margin 0.05 (seed 1 clears it by 0.017 only).
    Full demo (32 scenes, 100 epochs), seeds 0 / 1 / 2: FUSU-Net 0.800 / 0.800 / 0.841,
    gains 0.101 / 0.085 / 0.171 over the strongest baseline; confirmation seeds 3 / 4: full
    0.811 / 0.832, gains 0.092 / 0.165 (beats_baseline true on all five full runs); quick
    seed 3 gains only 0.002 (the series branch does not learn in 80 epochs there; 1e-5
    changes of the date encoding or a second thread decide it), quick seed 4 0.122. So the
    full demo decides (``quick_decides=False``) and this test runs it on seed 0 (it ran the
    quick demo until 2026-12-06, which does not decide).
    The demo trains and evaluates on one thread whatever the caller set
    (``seed.single_thread``; with the former ``min(2, threads)``, ``make demo`` on two
    threads after other demos gave a full seed-0 lead of 0.063). Re-measured 2026-12-06 in
    fresh processes: full seeds 0-4 exactly as above (smallest lead 0.085 = 1.7x the
    margin), quick seed 0 0.790 (+0.124); full seed 0 after GeoPlant's demo in the same
    process with two threads set: identical. AVX2 kernels instead of AVX-512
    (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2): full seed 0 0.809 vs the Siamese
    U-Net 0.707 (+0.102).
    """
    res = demo(tmp_path, quick=False, seed=0)
    assert res.primary == "sek" and res.margin == 0.05
    assert set(res.baselines) == {"no_time_series", "siamese_unet"}
    assert res.ablations["without_time_series"] == res.baselines["no_time_series"]
    best = max(b["sek"] for b in res.baselines.values())
    assert res.metrics["sek"] - best > 0.05, (res.metrics, res.baselines)
    assert res.beats_baseline
    # what the series adds is the semantic part (change itself is visible in RGB)
    assert res.metrics["seg_miou"] > max(b["seg_miou"] for b in res.baselines.values()) + 0.05
    assert res.metrics["miou_bin"] > 0.8
    assert {r["metric"] for r in res.regressions} <= {"miou_bin", "iou_c"}
    data = json.loads(Path(res.artifacts["result"]).read_text())
    assert data["system"] == "fusu" and data["metrics"]["sek"] == res.metrics["sek"]
    assert data["strongest_baseline"] in res.baselines
    assert Path(res.artifacts["figure"]).stat().st_size > 1000
    # the demo saves its model; fusu-change applies it to a synthetic scene as GeoTIFFs
    ck = Path(res.details["checkpoint"])
    assert ck == tmp_path / "fusu_demo.pt" and ck.is_file()
    _demo_checkpoint_on_geotiffs(ck, tmp_path / "geo")


def _demo_checkpoint_on_geotiffs(ck: Path, d: Path) -> None:
    from affine import Affine

    from geoneurips.change.fusu.cli import run_fusu_change
    from geoneurips.raster.io import read_raster, write_raster

    sc = make_synthetic_scenes(1, np.random.default_rng(7))[0]
    hr = Affine(1.0, 0, 500000.0, 0, -1.0, 2500000.0)
    ts = Affine(4.0, 0, 500000.0 - 8, 0, -4.0, 2500000.0 + 8)
    before = write_raster(d / "b.tif", sc["im1"].transpose(2, 0, 1), crs="EPSG:32650",
                          transform=hr)
    after = write_raster(d / "a.tif", sc["im2"].transpose(2, 0, 1), crs="EPSG:32650",
                         transform=hr)
    for date, arr in zip(sc["dates"].tolist(), sc["time_series"], strict=True):
        name = f"p_{chr(ord('A') + date // 12)}_{date % 12 + 1}.tif"
        write_raster(d / "series" / name, arr, crs="EPSG:32650", transform=ts)
    run_fusu_change(before, after, d / "out", ck, series=[d / "series"], progress=False)
    seg2, _ = read_raster(d / "out" / "landuse_t2.tif")
    change, _ = read_raster(d / "out" / "change.tif")
    acc = float((seg2[0] == sc["label2"]).mean())
    ch_acc = float((change[0] == (sc["label1"] != sc["label2"])).mean())
    assert acc > 0.6 and ch_acc > 0.8, (acc, ch_acc)
