"""OpenSatMap baseline components: segmenter shapes, watershed instances, polylines,
checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import CheckpointError
from geoneurips.segmentation.opensatmap.inference import (
    load_model,
    predict_probs,
    save_checkpoint,
)
from geoneurips.segmentation.opensatmap.metrics import Instance, instances_from_map, line_ap
from geoneurips.segmentation.opensatmap.model import (
    LaneConfig,
    build_model,
    extract_instances,
    instance_polyline,
    watershed_instances,
)
from geoneurips.segmentation.opensatmap.rasterize import dilate_labels, rasterize_lines
from geoneurips.segmentation.opensatmap.synth import render_scene


def test_configs_and_shapes() -> None:
    p = LaneConfig.paper()
    assert (p.num_classes, p.train_dilate, p.test_dilate, p.min_area, p.redraw_kernel,
            p.tile) == (4, 9, 3, 100, 3, 512)
    cfg = LaneConfig.tiny()
    net = build_model(cfg)
    assert net(torch.zeros(2, 3, 64, 64)).shape == (2, 4, 64, 64)
    probs = predict_probs(net.eval(), cfg, torch.zeros(1, 3, 30, 37))  # padded inside
    assert probs.shape == (1, 4, 30, 37)
    assert torch.allclose(probs.sum(1), torch.ones(1, 30, 37), atol=1e-5)


def test_watershed_separates_lines_and_keeps_one_line_whole() -> None:
    m = np.zeros((64, 64), bool)
    m[10:13, 5:60] = True
    m[30:33, 5:60] = True
    ws = watershed_instances(m)
    assert sorted(np.unique(ws[m]).tolist()) == [1, 2]
    assert (ws[~m] == 0).all()
    assert len(np.unique(ws[10:13, 5:60])) == 1
    assert watershed_instances(np.zeros((8, 8), bool)).max() == 0


def test_instance_polyline_orders_an_l_shape() -> None:
    m = np.zeros((40, 40), bool)
    m[5, 5:30] = True
    m[5:35, 29] = True
    poly = instance_polyline(m, step=1)
    ends = {tuple(poly[0].astype(int)), tuple(poly[-1].astype(int))}
    assert ends == {(5, 5), (29, 34)}  # (x, y): the two free ends
    steps = np.abs(np.diff(poly, axis=0)).max(axis=1)
    assert (steps <= 1).all()  # consecutive path pixels


def test_extraction_on_the_reference_recovers_every_line() -> None:
    """Watershed -> polyline -> redraw on a dilated reference gives line AP 1 at 3 px."""
    cfg = LaneConfig.tiny()
    rng = np.random.default_rng(5)
    pairs = []
    for _ in range(3):
        _, lines = render_scene(128, rng)
        gt = rasterize_lines(lines, (128, 128))
        cat = dilate_labels(gt.category, 3)
        inst = dilate_labels(gt.instance.astype(np.int64), 3, ignore=0)
        refs = instances_from_map(cat, inst)
        found = extract_instances(cat, None, cfg)
        assert len(found) == len(refs)
        pairs.append((refs, [Instance(f.category, f.mask, 1.0) for f in found]))
    assert line_ap(pairs)["ap@3"] == pytest.approx(1.0)


def test_checkpoint_round_trip_and_errors(tmp_path: Path) -> None:
    cfg = LaneConfig.tiny()
    net = build_model(cfg).eval()
    path = save_checkpoint(tmp_path / "m.pt", net, cfg)
    net2, cfg2 = load_model(path)
    assert cfg2 == cfg
    x = torch.rand(1, 3, 32, 32) * 255
    assert torch.allclose(predict_probs(net, cfg, x), predict_probs(net2, cfg2, x))
    torch.save({"w": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="config"):
        load_model(tmp_path / "bad.pt")
    other = LaneConfig.tiny()
    other.width = 8
    save_checkpoint(tmp_path / "mismatch.pt", build_model(other), cfg)
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(tmp_path / "mismatch.pt")


def test_lines_to_geojson_uses_pixel_centres() -> None:
    from affine import Affine

    from geoneurips.segmentation.opensatmap.inference import lines_to_geojson
    from geoneurips.segmentation.opensatmap.model import LineInstance

    ln = LineInstance(2, np.array([[0.0, 0.0], [4.0, 1.0]]), np.zeros((2, 5), bool), 0.75)
    feats = lines_to_geojson([ln], Affine(2.0, 0.0, 100.0, 0.0, -3.0, 50.0), None,
                             offset=(10, 20))
    assert feats[0]["geometry"]["coordinates"] == [[121.0, -11.5], [129.0, -14.5]]
    assert feats[0]["properties"] == {"category": "Curb", "category_id": 2, "score": 0.75}
