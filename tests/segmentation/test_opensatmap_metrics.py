"""OpenSatMap metrics: mIoU with ignore (hand values), COCO mask AP (against pycocotools)
and chamfer line AP at 3/5/10/15 px (hand-worked values)."""

from __future__ import annotations

import numpy as np
import pytest

from geoneurips.segmentation.opensatmap.metrics import (
    Instance,
    chamfer_distance,
    instance_ap,
    instances_from_map,
    line_ap,
    semantic_miou,
)


def test_semantic_miou_with_ignore_hand_values() -> None:
    target = np.array([[0, 0, 1, 1], [2, 2, 255, 255]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 1, 2]])
    s = semantic_miou([pred], [target], num_classes=4)
    # bg: tp 1, fp 1, fn 1 -> 1/3; lane: tp 2, fp 1 -> 2/3; curb: tp 1, fn 1 -> 1/2;
    # class 3 absent from both -> left out of the mean; ignore pixels left out
    assert s["iou_0"] == pytest.approx(1 / 3) and s["iou_1"] == pytest.approx(2 / 3)
    assert s["iou_2"] == pytest.approx(0.5) and np.isnan(s["iou_3"])
    assert s["miou"] == pytest.approx((1 / 3 + 2 / 3 + 0.5) / 3)


def _hline(row: int, c0: int, c1: int, shape: tuple[int, int] = (40, 40)) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    m[row, c0:c1] = True
    return m


def test_chamfer_distance_hand_values() -> None:
    assert chamfer_distance(_hline(5, 0, 10), _hline(9, 0, 10)) == pytest.approx(4.0)
    # a 10-px line against its first half: 5 pixels at distance 1..5 one way, 0 the other
    assert chamfer_distance(_hline(5, 0, 10), _hline(5, 0, 5)) == pytest.approx(
        (np.mean([0] * 5 + [1, 2, 3, 4, 5]) + 0) / 2)


def test_line_ap_hand_values() -> None:
    gt = [Instance(1, _hline(5, 0, 20))]
    # one detection 4 px away: misses at 3 px, hits at 5/10/15 -> AP = 3/4
    r = line_ap([(gt, [Instance(1, _hline(9, 0, 20), 0.8)])])
    assert r["ap@3"] == 0.0 and r["ap@5"] == pytest.approx(1.0) and r["ap"] == pytest.approx(0.75)
    # a higher-scored detection 20 px away first: precision 1/2 at full recall
    dts = [Instance(1, _hline(25, 0, 20), 0.9), Instance(1, _hline(9, 0, 20), 0.8)]
    r = line_ap([(gt, dts)])
    assert r["ap@5"] == pytest.approx(0.5) and r["ap"] == pytest.approx(0.375)
    # wrong category never matches; a category without references is left out
    r = line_ap([(gt, [Instance(2, _hline(5, 0, 20), 0.9)])])
    assert r["ap"] == 0.0


def _random_case(rng: np.random.Generator) -> list[tuple[list[Instance], list[Instance]]]:
    images = []
    for _ in range(3):
        gts, dts = [], []
        for _ in range(int(rng.integers(1, 5))):
            c = int(rng.integers(1, 3))
            r0, c0 = rng.integers(0, 24, 2)
            m = np.zeros((32, 32), bool)
            m[r0:r0 + int(rng.integers(2, 8)), c0:c0 + int(rng.integers(2, 8))] = True
            gts.append(Instance(c, m))
            for _ in range(int(rng.integers(0, 3))):
                d = np.roll(m, tuple(rng.integers(-2, 3, 2)), axis=(0, 1))
                dts.append(Instance(c if rng.random() < 0.8 else 3 - c, d,
                                    float(rng.uniform(0.05, 1))))
        images.append((gts, dts))
    return images


def _pycoco_ap(images: list[tuple[list[Instance], list[Instance]]]) -> float:
    import contextlib
    import io

    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    anns, dets, imgs = [], [], []
    for i, (gts, dts) in enumerate(images):
        shape = (gts or dts)[0].mask.shape
        imgs.append({"id": i, "width": shape[1], "height": shape[0]})
        for g in gts:
            rle = mask_utils.encode(np.asfortranarray(g.mask.astype(np.uint8)))
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": g.category,
                         "segmentation": rle, "area": float(g.mask.sum()), "iscrowd": 0,
                         "bbox": list(mask_utils.toBbox(rle))})
        for d in dts:
            rle = mask_utils.encode(np.asfortranarray(d.mask.astype(np.uint8)))
            dets.append({"image_id": i, "category_id": d.category, "segmentation": rle,
                         "score": d.score})
    coco = COCO()
    coco.dataset = {"images": imgs, "annotations": anns,
                    "categories": [{"id": 1, "name": "lane"}, {"id": 2, "name": "curb"},
                                   {"id": 3, "name": "virtual"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
        res = coco.loadRes(dets) if dets else COCO()
        ev = COCOeval(coco, res, iouType="segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_instance_ap_matches_pycocotools(seed: int) -> None:
    images = _random_case(np.random.default_rng(seed))
    ours = instance_ap(images)["ap"]
    assert ours == pytest.approx(_pycoco_ap(images), abs=1e-9)


def test_instances_from_map_majority_category() -> None:
    cat = np.array([[1, 1, 255, 2], [0, 0, 0, 2]])
    inst = np.array([[1, 1, 1, 2], [0, 0, 0, 2]])
    ins = instances_from_map(cat, inst)
    assert [(i.category, int(i.mask.sum())) for i in ins] == [(1, 3), (2, 2)]


@pytest.mark.parametrize("seed", [0, 1])
def test_instance_ap_of_extracted_lines_matches_pycocotools(seed: int) -> None:
    """The demo's own situation: reference instances of rasterised scenes (3-px dilation)
    against watershed instances of a damaged label map (the reference with a cut across it and
    a false stroke), random scores; pycocotools' COCOeval ``segm`` is the reference."""
    from geoneurips.segmentation.opensatmap.model import LaneConfig, extract_instances
    from geoneurips.segmentation.opensatmap.rasterize import dilate_labels, rasterize_lines
    from geoneurips.segmentation.opensatmap.synth import render_scene

    rng = np.random.default_rng(seed)
    cfg = LaneConfig.tiny()
    images = []
    for _ in range(3):
        _, lines = render_scene(96, rng)
        gt = rasterize_lines(lines, (96, 96))
        cat = dilate_labels(gt.category, 3)
        refs = instances_from_map(cat, dilate_labels(gt.instance.astype(np.int64), 3, ignore=0))
        pred = np.where(cat == 255, 0, cat)
        pred[:, 40:43] = 0
        pred[80:83, 10:70] = 2
        dts = [Instance(d.category, d.mask, float(rng.uniform(0.1, 1)))
               for d in extract_instances(pred, None, cfg)]
        images.append((refs, dts))
    ours = instance_ap(images)["ap"]
    assert 0.0 < ours < 1.0 and instance_ap(images)["ap50"] > 0.2  # hits and misses
    assert ours == pytest.approx(_pycoco_ap(images), abs=1e-9)
