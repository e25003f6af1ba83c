"""FUSU pipeline: synthetic task, augmentation, and the demo ("it learns")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.change.fusu.baselines import SiameseUNetSeriesChannels, series_as_channels
from geoneurips.change.fusu.data import collate_fusu
from geoneurips.change.fusu.model import FUSUNetConfig
from geoneurips.change.fusu.pipeline import (
    GREEN,
    VARIANTS,
    FUSUTask,
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


def test_series_channels_baseline_sees_the_series() -> None:
    """The series-as-channels baseline's first convolution takes RGB + every date x band, the
    series is cropped to the tile's footprint like FUSU-Net's fusion and laid on the HR grid,
    and changing only the series changes the output (through FUSUTask, as trained)."""
    assert "siamese_unet_series_channels" in VARIANTS
    sc = make_synthetic_scenes(2, np.random.default_rng(3))
    batch = collate_fusu([{
        "image": torch.from_numpy(np.stack([s["im1"], s["im2"]])).permute(0, 3, 1, 2).float(),
        "mask": torch.from_numpy(np.stack([s["label1"], s["label2"]])).long(),
        "change": torch.from_numpy((s["label1"] != s["label2"]).astype(np.int64)),
        "time_series": torch.from_numpy(s["time_series"]),
        "dates": torch.from_numpy(s["dates"])} for s in sc])
    t, c = batch["time_series"].shape[1:3]
    cfg = FUSUNetConfig.tiny(ts_channels=c, crop_size=8, use_time_series=False)
    torch.manual_seed(0)
    task = FUSUTask(cfg, model=SiameseUNetSeriesChannels(cfg, n_dates=t)).eval()
    assert task.model.encoder.blocks[0][0].in_channels == 3 + t * c == 35
    # centre 8x8 series window -> 32x32 HR grid, each series pixel over a 4x4 block
    ch = series_as_channels(batch["time_series"], (32, 32), 8)
    assert ch.shape == (2, t * c, 32, 32)
    assert torch.equal(ch[:, :, ::4, ::4], batch["time_series"][..., 2:10, 2:10].flatten(1, 2))
    with torch.no_grad():
        out = task(batch)
        other = dict(batch, time_series=batch["time_series"].flip(1))  # same RGB, new series
        out2 = task(other)
        out3 = task(dict(batch))
    for k in ("seg1", "seg2", "change"):
        assert torch.equal(out[k], out3[k])  # deterministic in eval mode
    assert (out["seg1"] - out2["seg1"]).abs().max() > 1e-3
    assert (out["change"] - out2["change"]).abs().max() > 1e-4


@pytest.mark.slow  # the quick demo: four trainings (72 s one-core CPU on a busy host)
def test_demo_series_as_channels_beats_fusu_net(tmp_path: Path) -> None:
    """The honest decision: the Siamese U-Net given the series as plain input channels is
    the strongest baseline and FUSU-Net does not beat it (status partial).

    Measured SeK, full demo (32 scenes, 100 epochs, one thread, 2026-12-07, AVX2 host; one-
    core times 146-167 s on a busy host), seeds 0 / 1 / 2 / 3 / 4: FUSU-Net 0.809 / 0.818 /
    0.850 / 0.824 / 0.696; Siamese U-Net + series channels 0.9998 / 0.9999 / 1.0000 /
    1.0000 / 0.9999; same network without the series 0.700 / 0.689 / 0.674 / 0.705 / 0.672;
    Siamese U-Net 0.707 / 0.661 / 0.640 / 0.655 / 0.666. seg mIoU FUSU-Net 0.882 / 0.890 /
    0.906 / 0.862 / 0.682 vs 0.9999-1.0000; miou_bin / iou_c >= 0.9998 for every arm.
    beats_baseline False on all five. Quick demo (24 scenes, 80 epochs), seeds 0 / 1 / 2:
    FUSU-Net 0.790 / 0.834 / 0.837, series channels 0.998 / 1.000 / 0.999, no series
    0.662 / 0.685 / 0.683, Siamese U-Net 0.592 / 0.721 / 0.681 (False on all three).
    Series channels upsampled bilinearly instead of nearest (dev seed 10, full): SeK 0.998
    (nearest 1.000), so the choice of resampling does not decide it. 2x budget
    (full, seed 0, 200 epochs): FUSU-Net 0.794, series channels 1.000.
    On an AVX-512 host (2026-12-08) the full demo gives FUSU-Net 0.800 / 0.800 / 0.841 /
    0.811 / 0.832, series channels >= 0.9998 (False on all five). Why FUSU-Net stays near
    0.8 (measured, see ``FusionModule``): the published auxiliary loss supervises the one
    time-collapsed Sentinel map with the date-1 labels, so the temporal attention looks at
    the date-1 year and the date-2 head is at chance on built->green parcels.
    This test runs the quick demo on seed 0 (cheaper than the full demo with the fourth
    arm; both decide False by a wide gap); the full demo decided True against the former
    two baselines until 2026-12-07 (leads 0.085-0.171 on the host of the earlier notes).
    """
    res = demo(tmp_path, quick=True, seed=0)
    assert res.primary == "sek" and res.margin == 0.05
    assert set(res.baselines) == {"no_time_series", "siamese_unet",
                                  "siamese_unet_series_channels"}
    assert res.ablations["without_time_series"] == res.baselines["no_time_series"]
    ch = res.baselines["siamese_unet_series_channels"]
    others = [b for n, b in res.baselines.items() if n != "siamese_unet_series_channels"]
    # the series as channels is the strongest baseline, ahead of FUSU-Net ...
    assert ch["sek"] > max(b["sek"] for b in others) + 0.1, res.baselines
    assert ch["sek"] > res.metrics["sek"] + 0.1, (res.metrics, ch)
    assert not res.beats_baseline
    # ... while FUSU-Net still beats the baselines without the series (the series helps)
    assert res.metrics["sek"] > max(b["sek"] for b in others), (res.metrics, res.baselines)
    assert res.metrics["miou_bin"] > 0.8
    # the semantic part is where it falls behind (said as unexplained regressions)
    regs = {r["metric"]: r for r in res.regressions}
    assert {"score", "seg_miou"} <= set(regs), res.regressions
    assert regs["seg_miou"]["best_baseline"] == "siamese_unet_series_channels"
    assert not regs["seg_miou"]["explanation"]
    data = json.loads(Path(res.artifacts["result"]).read_text())
    assert data["system"] == "fusu" and data["metrics"]["sek"] == res.metrics["sek"]
    assert data["strongest_baseline"] == "siamese_unet_series_channels"
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


def test_siamese_baselines_reject_bad_inputs() -> None:
    """Both Siamese U-Nets name the problem: images that are not (B, 3, H, W) pairs of one
    shape, and (the series variant) a missing series or one of the wrong date / band count."""
    from geoneurips.change.fusu.baselines import SiameseUNetSCD
    from geoneurips.errors import InvalidInputError

    cfg = FUSUNetConfig.tiny(ts_channels=4, crop_size=8, use_time_series=False)
    ok = torch.zeros(1, 3, 32, 32)
    series = SiameseUNetSeriesChannels(cfg, n_dates=8)
    for net in (SiameseUNetSCD(cfg), series):
        with pytest.raises(InvalidInputError, match="expected two"):
            net(ok, torch.zeros(1, 3, 16, 16))
        with pytest.raises(InvalidInputError, match="expected two"):
            net(torch.zeros(1, 4, 32, 32), torch.zeros(1, 4, 32, 32))
    with pytest.raises(InvalidInputError, match="time_series"):
        series(ok, ok)
    with pytest.raises(InvalidInputError, match="time_series"):
        series(ok, ok, torch.zeros(1, 6, 4, 12, 12))
    assert series(ok, ok, torch.zeros(1, 8, 4, 12, 12))["change"].shape == (1, 32, 32)
