"""AnyChange end to end: planted changes, GeoTIFF tiling, real pair with tiny SAM, CLI, demo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import typer
from PIL import Image
from rasterio.transform import from_origin
from typer.testing import CliRunner

from geoneurips.change.anychange.cli import change
from geoneurips.change.anychange.data import LEVIRCD, write_levircd_fixture
from geoneurips.change.anychange.model import AnyChangeConfig
from geoneurips.change.anychange.pipeline import build_model, detect_change_geotiff, evaluate
from geoneurips.errors import CoregistrationError, InvalidInputError
from geoneurips.raster.io import raster_info, write_raster

CRS = "EPSG:32615"
TRANSFORM = from_origin(500000.0, 3300000.0, 0.5, 0.5)


def _tif(path: Path, hwc: np.ndarray, crs: str = CRS, transform=TRANSFORM) -> Path:
    return write_raster(path, hwc.transpose(2, 0, 1), crs=crs, transform=transform)


def test_planted_changes_recovered(tmp_path: Path) -> None:
    """The demo's SAM-free AnyChange on three nuisance-laden LEVIR-CD fixture pairs.

    Measured on fixture seeds 0 / 1 / 2 (3 pairs, 128 px): F1 0.819 / 0.909 / 0.727,
    precision 0.861 / 0.920 / 0.849, mask AR@1000 0.575 / 0.800 / 0.625; plain pixel
    differencing + Otsu F1 0.378 / 0.603 / 0.597. Asserted on seed 0 with bounds that hold
    on all three: F1 > 0.65, F1 > pixel differencing + 0.08, precision > 0.75, AR > 0.45.
    """
    from geoneurips.change.anychange.baselines import pixel_difference_otsu
    from geoneurips.change.anychange.data import sample_to_images
    from geoneurips.change.anychange.pipeline import _binary_metrics, demo_model

    root = write_levircd_fixture(tmp_path, (0, 0, 3), size=128, seed=0)
    ds = LEVIRCD(root, split="test")
    out = evaluate(demo_model(), ds)["metrics"]
    diff = _binary_metrics([pixel_difference_otsu(*sample_to_images(ds[i])) for i in range(3)],
                           [ds[i]["mask"].numpy() for i in range(3)])
    assert out["f1"] > 0.65, out
    assert out["f1"] > diff["f1"] + 0.08, (out, diff)
    assert out["precision"] > 0.75
    assert out["mask_ar@1000"] > 0.45


def test_geotiff_tiled_outputs_georeferenced(tmp_path: Path) -> None:
    from geoneurips.change.anychange.data import make_change_pair

    a, b, ch, _ = make_change_pair(160, n_changes=4, seed=4)
    p1, p2 = _tif(tmp_path / "t1.tif", a), _tif(tmp_path / "t2.tif", b)
    res = detect_change_geotiff(p1, p2, tmp_path / "out", tile_size=96, overlap=16,
                                progress=False)
    for key in ("probability", "mask", "geojson"):
        assert res[key].is_file()
    info = raster_info(res["mask"])
    assert info.crs.to_string() == CRS and info.transform == TRANSFORM
    assert (info.width, info.height) == (160, 160)
    with rasterio.open(res["mask"]) as ds:
        mask = ds.read(1)
    with rasterio.open(res["probability"]) as ds:
        prob = ds.read(1)
    assert set(np.unique(mask)) <= {0, 1}
    assert prob.min() >= 0 and prob.max() <= 1 and (prob[mask == 1] > 0).all()
    tp = ((mask == 1) & (ch == 1)).sum()
    f1 = 2 * tp / ((mask == 1).sum() + ch.sum())
    assert f1 > 0.4
    gj = json.loads(res["geojson"].read_text())
    assert len(gj["features"]) == res["n_polygons"] >= 1
    x, y = gj["features"][0]["geometry"]["coordinates"][0][0]
    assert 500000 <= x <= 500080 and 3299920 <= y <= 3300000
    assert all(0 < f["properties"]["score"] <= 1 for f in gj["features"])
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_real_pair_tiny_sam(real_data: Path, tmp_path: Path) -> None:
    pair = real_data / "change_pair"
    a = np.asarray(Image.open(pair / "t1_img.png").convert("RGB"))
    b = np.asarray(Image.open(pair / "t2_img.png").convert("RGB"))
    assert a.shape == b.shape == (1024, 1024, 3)
    p1, p2 = _tif(tmp_path / "t1.tif", a), _tif(tmp_path / "t2.tif", b)
    model = build_model(tiny_sam=True)
    res = detect_change_geotiff(p1, p2, tmp_path / "out", model, tile_size=1024, overlap=0,
                                progress=False)
    info = raster_info(res["probability"])
    assert info.crs.to_string() == CRS and info.transform == TRANSFORM
    assert (info.width, info.height, info.count) == (1024, 1024, 1)
    with rasterio.open(res["probability"]) as ds:
        prob = ds.read(1)
    with rasterio.open(res["mask"]) as ds:
        mask = ds.read(1)
    assert np.isfinite(prob).all() and prob.min() >= 0 and prob.max() <= 1
    assert np.array_equal(mask == 1, prob > 0)
    assert json.loads(res["geojson"].read_text())["type"] == "FeatureCollection"


def test_bad_inputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    p1 = _tif(tmp_path / "a.tif", img)
    other_crs = _tif(tmp_path / "b.tif", img, crs="EPSG:4326",
                     transform=from_origin(10, 50, 0.001, 0.001))
    with pytest.raises(CoregistrationError):
        detect_change_geotiff(p1, other_crs, tmp_path / "o1", progress=False)
    small = _tif(tmp_path / "c.tif", img[:32])
    with pytest.raises(CoregistrationError):
        detect_change_geotiff(p1, small, tmp_path / "o2", progress=False)
    four = write_raster(tmp_path / "d.tif", np.concatenate([img, img[..., :1]], -1)
                        .transpose(2, 0, 1), crs=CRS, transform=TRANSFORM)
    with pytest.raises(InvalidInputError, match="band counts differ"):
        detect_change_geotiff(p1, four, tmp_path / "o3", progress=False)
    with pytest.raises(InvalidInputError, match="bands"):
        detect_change_geotiff(p1, p1, tmp_path / "o4", bands=(1, 2, 5), progress=False)
    trunc = tmp_path / "t.tif"
    trunc.write_bytes(p1.read_bytes()[:300])
    with pytest.raises(InvalidInputError):
        detect_change_geotiff(p1, trunc, tmp_path / "o5", progress=False)
    with pytest.raises(InvalidInputError, match="outside"):
        detect_change_geotiff(p1, p1, tmp_path / "o6", points=[(100, 5, 1)], progress=False)
    for d in ("o1", "o2", "o3", "o4", "o5", "o6"):
        assert not (tmp_path / d).exists() or not any((tmp_path / d).iterdir())


def test_cli_change_with_point(tmp_path: Path) -> None:
    from geoneurips.change.anychange.data import make_change_pair

    a, b, _, inst = make_change_pair(96, n_changes=3, n_static=0, seed=7)
    p1, p2 = _tif(tmp_path / "t1.tif", a), _tif(tmp_path / "t2.tif", b)
    app = typer.Typer()
    app.command()(change)
    rr, cc = np.argwhere(inst[0]).mean(0).astype(int)
    r = CliRunner().invoke(app, [str(p1), str(p2), "-o", str(tmp_path / "out"), "--tile-size",
                                 "96", "--overlap", "0", "--points", f"{cc},{rr},2", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output.strip().splitlines()[-1])
    assert Path(summary["mask"]).is_file() and summary["changed_fraction"] >= 0
    bad = CliRunner().invoke(app, [str(p1), str(p2), "-o", str(tmp_path / "o"), "--points",
                                   "1;2"])
    assert bad.exit_code != 0


@pytest.mark.slow
def test_demo_quick(tmp_path: Path) -> None:
    """The demo on its nuisance-laden synthetic LEVIR-CD, every baseline reported.

    Measured F1 (quick: 4 pairs of 128 px; seeds 0 / 1 / 2; scene seeds never used to choose
    anything: the proposer was chosen on scene seeds 100-123):

    ====================================  =====  =====  =====
    AnyChange (SAM-free, region merging)  0.793  0.826  0.717
    cva_otsu (per-date z-scores)          0.724  0.734  0.695
    cva_histmatch_otsu                    0.733  0.788  0.684
    feature_difference_otsu (same feats)  0.666  0.646  0.563
    pixel_difference_otsu                 0.406  0.572  0.545
    all_change                            0.115  0.128  0.114
    ablation: date-2 proposals only       0.433  0.486  0.538
    ====================================  =====  =====  =====

    The full demo (12 pairs) on seeds 0 / 1 / 2 / 3 gives AnyChange 0.773 / 0.835 / 0.670 /
    0.768 against the strongest baseline (cva_otsu) 0.748 / 0.729 / 0.758 / 0.767: no
    margin over the strongest baseline holds on every seed, so none is asserted here and
    the system is ``partial``. Asserted (bounds under the minimum gap of the three quick
    seeds): F1 above feature differencing + 0.08 (gaps 0.127 / 0.180 / 0.154), above pixel
    differencing + 0.1 (0.387 / 0.254 / 0.172), above the ablation + 0.12 (0.360 / 0.340 /
    0.179), and the strongest baseline is the best of all five on F1.
    """
    from geoneurips.change.anychange.pipeline import demo

    r = demo(tmp_path, quick=True, seed=0)
    assert set(r.baselines) == {"pixel_difference_otsu", "cva_otsu", "cva_histmatch_otsu",
                                "feature_difference_otsu", "all_change"}
    best = max(r.baselines, key=lambda k: r.baselines[k]["f1"])
    assert r.strongest_baseline == best and r.baseline == r.baselines[best]
    assert set(r.directions) == set(r.metrics) and r.primary == "f1"
    f1 = r.metrics["f1"]
    assert f1 > r.baselines["feature_difference_otsu"]["f1"] + 0.08
    assert f1 > r.baselines["pixel_difference_otsu"]["f1"] + 0.1
    (ablation,) = r.ablations.values()
    assert f1 > ablation["f1"] + 0.12
    assert r.beats_baseline == (f1 - r.baseline["f1"] > r.margin
                                and all(x["explanation"] for x in r.regressions))
    saved = json.loads(Path(r.artifacts["result"]).read_text())
    assert saved["baselines"] == r.baselines and saved["ablations"] == r.ablations
    assert Path(r.artifacts["figure"]).is_file()


def test_tiny_config_is_small() -> None:
    cfg = AnyChangeConfig.tiny()
    assert cfg.points_per_side == 4 and AnyChangeConfig().points_per_side == 32


def test_evaluate_diagnostics_by_hand() -> None:
    """The measured quantities behind the explanations, on one hand-made 8 x 8 pair: two
    changed 2 x 2 objects; one change mask is a 3 x 3 region around the first (5 background
    pixels taken in), one a false 1-pixel detection; the proposals hold that region, the
    false pixel and the exact second object."""
    import torch

    from geoneurips.change.anychange.model import ChangeResult
    from geoneurips.proposals.masks import Proposals

    target = np.zeros((8, 8), np.uint8)
    target[1:3, 1:3] = 1
    target[5:7, 5:7] = 1
    region = torch.zeros(8, 8, dtype=torch.bool)
    region[1:4, 1:4] = True
    false = torch.zeros(8, 8, dtype=torch.bool)
    false[7, 0] = True
    exact = torch.as_tensor(target == 1) & (torch.arange(8)[:, None] >= 5)

    class Stub:
        def __call__(self, a: np.ndarray, b: np.ndarray) -> ChangeResult:
            changes = Proposals.from_masks(torch.stack([region, false]))
            changes.confidence = torch.tensor([0.5, 0.4])
            return ChangeResult(changes, Proposals.from_masks(region[None]),
                                Proposals.from_masks(torch.stack([false, exact])), 25.0)

    sample = {"image1": torch.zeros(3, 8, 8), "image2": torch.zeros(3, 8, 8),
              "mask": torch.as_tensor(target)}
    out = evaluate(Stub(), [sample])  # type: ignore[arg-type]
    d = out["diagnostics"]
    # 10 predicted pixels, 4 true, 5 of them background inside the region that hits object 1
    assert out["metrics"]["precision"] == pytest.approx(0.4)
    assert d["region_background_share"] == pytest.approx(0.5)
    assert d["precision_without_region_background"] == pytest.approx(4 / 5)
    # object 1 is reached by no proposal (IoU 4/9 < 0.5), object 2 exactly: bound 0.5
    assert d["proposal_ar_bound@1000"] == pytest.approx(0.5)
    assert out["metrics"]["mask_ar@1000"] <= d["proposal_ar_bound@1000"]


def test_explain_regressions_only_while_measured() -> None:
    """Each explanation holds only while its measured condition does (hand-made numbers
    shaped like the seed-0 quick demo: recall 0.729 against all_change 1.0 and CVA 0.724,
    AR 0.494 against 0.669)."""
    from geoneurips.change.anychange.pipeline import explain_regressions

    ours = {"precision": 0.70, "recall": 0.729, "f1": 0.79, "iou": 0.66, "mask_ar@1000": 0.494}
    base = {
        "cva_histmatch_otsu": {"precision": 0.74, "recall": 0.724, "f1": 0.73, "iou": 0.58,
                               "mask_ar@1000": 0.669},
        "all_change": {"precision": 0.06, "recall": 1.0, "f1": 0.11, "iou": 0.06,
                       "mask_ar@1000": 0.0},
    }
    diag = {"region_background_share": 0.08, "precision_without_region_background": 0.76,
            "proposal_ar_bound@1000": 0.60}
    out = explain_regressions(ours, base, diag)
    assert set(out) == {"precision", "recall", "mask_ar@1000"}
    assert "0.760" in out["precision"] and "0.600" in out["mask_ar@1000"]
    # conditions fail: background removal not enough, proposals that could have reached the
    # baseline's AR (recall keeps its own condition)
    fail = {**diag, "precision_without_region_background": 0.72, "proposal_ar_bound@1000": 0.7}
    assert set(explain_regressions(ours, base, fail)) == {"recall"}
    # a real detector with a higher recall than AnyChange's
    real = {**base, "cva_otsu": {**base["cva_histmatch_otsu"], "recall": 0.80}}
    assert set(explain_regressions(ours, real, diag)) == {"precision", "mask_ar@1000"}
    # the best on recall is a real detector, not the trivial map: unexplained
    no_trivial = {"cva_histmatch_otsu": {**base["cva_histmatch_otsu"], "recall": 0.9}}
    assert "recall" not in explain_regressions(ours, no_trivial, diag)
    # no regression: nothing explained
    top = {"precision": 0.9, "recall": 1.0, "f1": 0.9, "iou": 0.8, "mask_ar@1000": 0.9}
    assert explain_regressions(top, base, diag) == {}
