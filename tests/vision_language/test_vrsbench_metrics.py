"""VRSBench scorers: hand-worked grounding and VQA values, and captioning against the
published route (caption-eval: SHA-256-hashed ids -> pycocotools COCO/loadRes ->
pycocoevalcap COCOEvalCap) on the published examples.

The five published examples are real VRSBench reference captions with a third party's
predictions (``Slippin-KD/vrsbench-captioning: reports/baseline_predictions.jsonl``; the
captions are VRSBench's, CC-BY-4.0). Nobody published VRSBench-scorer numbers for them, so
the reference values are those of the published route run here.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from typing import Any

import pytest

from geoneurips.vision_language.vrsbench.metrics import (
    caption_scores,
    compute_iou,
    grounding_scores,
    vqa_match,
    vqa_scores,
)

PUBLISHED = [
    ("P0003_0002.png", "The aerial image from GoogleEarth features a group of large yellow "
     "buses lined up on the left side, and two small vehicles, one on the top-right and "
     "another large vehicle on the bottom-right side of the image. The buses are parked in a "
     "lot adjacent to a green area and a road running roughly north-south.",
     "a large building with a lot of yellow dumps"),
    ("P0003_0004.png", "The image from GoogleEarth captures a section of a road with three "
     "vehicles visible. One large vehicle is positioned towards the middle-left side of the "
     "frame, two small vehicles are located at the top of the frame and the other at the "
     "bottom, with the road curving around the landscape.",
     "a truck is parked on the side of a road"),
    ("P0007_0001.png", "The high-resolution image from GoogleEarth shows a parking area with "
     "vehicles and asphalt surfaces. A small vehicle is positioned towards the top of this "
     "aerial view.", "an aerial view of the site of the former person ' s former building"),
    ("P0007_0004.png", "The aerial image, sourced from GoogleEarth with high resolution, shows "
     "a parking lot with large vehicles arranged neatly in rows. Most of the large vehicles "
     "are white, and they are predominantly parked in a north-south alignment. There is a "
     "large vehicle at the left edge of the road.",
     "a small town with a lot of cars parked in it"),
    ("P0007_0005.png", "A high-resolution Google Earth image capturing a gray parking lot with "
     "large vehicles and a small vehicle. The large vehicles are aligned in parallel rows. A "
     "small vehicle is positioned near the top-right corner.",
     "an aerial view of the site of the former person ' s former factory in the site is now "
     "a parking lot"),
]


def published_caption_records() -> list[dict[str, Any]]:
    return [{"image_id": i, "question_id": k, "question": "Describe the image in detail",
             "ground_truth": g, "answer": p, "type": "caption"}
            for k, (i, g, p) in enumerate(PUBLISHED)]


def published_route(records: list[dict[str, Any]]) -> dict[str, float]:
    """caption-eval's route, written independently: hashed integer ids, COCO reference
    JSON, loadRes, COCOEvalCap (SPICE stubbed: it is not in VRSBench's table)."""
    import pycocoevalcap.eval as ev
    from pycocotools.coco import COCO

    def h(name: str) -> int:
        return int(hashlib.sha256(name.encode()).hexdigest(), 16) % sys.maxsize

    coco = COCO()
    coco.dataset = {
        "images": [{"id": h(r["image_id"])} for r in records],
        "annotations": [{"id": k + 1, "image_id": h(r["image_id"]),
                         "caption": r["ground_truth"]} for k, r in enumerate(records)],
        "type": "captions", "info": {}, "licenses": []}
    coco.createIndex()
    res = coco.loadRes([{"image_id": h(r["image_id"]), "caption": r["answer"]}
                        for r in records])

    class NoSpice:
        def compute_score(self, gts: Any, res: Any) -> tuple[float, list[float]]:
            return 0.0, [0.0] * len(gts)

        def method(self) -> str:
            return "SPICE"

    old = ev.Spice
    ev.Spice = NoSpice  # type: ignore[assignment,misc]
    try:
        e = ev.COCOEvalCap(coco, res)
        e.evaluate()
    finally:
        ev.Spice = old
    names = {"Bleu_1": "BLEU-1", "Bleu_2": "BLEU-2", "Bleu_3": "BLEU-3", "Bleu_4": "BLEU-4",
             "METEOR": "METEOR", "ROUGE_L": "ROUGE_L", "CIDEr": "CIDEr"}
    return {names[k]: 100 * v for k, v in e.eval.items() if k in names}


@functools.lru_cache(maxsize=1)
def published_reference() -> dict[str, float]:
    """The published route's numbers on the five published examples (computed once)."""
    return published_route(published_caption_records())


@pytest.mark.slow
def test_caption_scores_match_published_route() -> None:
    recs = published_caption_records()
    ours = caption_scores(recs)
    ref = published_reference()
    for k, v in ref.items():
        assert ours[k] == pytest.approx(v, abs=1e-9), k
    # measured with pycocoevalcap 1.2 (Java 17); the values are tiny: these are poor captions
    assert ours["BLEU-1"] == pytest.approx(4.8739, abs=1e-3)
    assert ours["METEOR"] == pytest.approx(5.7964, abs=1e-2)
    assert ours["ROUGE_L"] == pytest.approx(13.4660, abs=1e-3)
    assert ours["CIDEr"] == pytest.approx(1.2666, abs=1e-3)
    # Avg_L: whitespace words of the predictions: (9 + 10 + 14 + 11 + 22) / 5
    assert ours["Avg_L"] == pytest.approx(13.2)
    assert ours["n"] == 5


def test_caption_hand_values_and_corpus_cider() -> None:
    one = [{"image_id": "a", "ground_truth": "A b d.", "answer": "a b c", "type": "caption"}]
    s = caption_scores(one, meteor=False)
    assert s["BLEU-1"] == pytest.approx(100 * 2 / 3, abs=1e-4)  # 2 of 3 unigrams, BP = 1
    # issue lx709/VRSBench#2: CIDEr per sample (a one-image corpus) is always 0 ...
    assert s["CIDEr"] == 0.0
    # ... at corpus level (document frequencies over the set) it is not
    recs = published_caption_records()
    per_sample = [caption_scores([r], meteor=False)["CIDEr"] for r in recs[:2]]
    assert per_sample == [0.0] * 2
    assert caption_scores(recs, meteor=False)["CIDEr"] > 1.0
    # one prediction per image (the first), non-ASCII dropped
    dup = [{"image_id": "a", "ground_truth": "a b c", "answer": "a b c"},
           {"image_id": "a", "ground_truth": "a b c", "answer": "x y z"},
           {"image_id": "b", "ground_truth": "d e f", "answer": "d\u00e9 e f"}]
    d = caption_scores(dup, meteor=False)
    assert d["n"] == 2


def test_iou_plus_one_convention() -> None:
    assert compute_iou([10, 10, 19, 19], [10, 10, 19, 19])[0] == 1.0
    iou, inter, union = compute_iou([0, 0, 9, 9], [5, 0, 14, 9])
    assert (inter, union) == (50, 150) and iou == pytest.approx(1 / 3)
    iou, inter, union = compute_iou([0, 0, 9, 9], [0, 0, 9, 13])
    assert (inter, union) == (100, 140) and iou == pytest.approx(100 / 140)
    # without the +1 this pair would be 81 / 117 = 0.692 < 0.7
    assert iou >= 0.7 > 81 / 117


GROUNDING = [
    {"ground_truth": "{<10><10><19><19>}", "answer": "{<10><10><19><19>}", "is_unique": 1},
    {"ground_truth": "{<0><0><9><9>}", "answer": "<5><0><14><9>", "is_unique": 0},
    {"ground_truth": "{<0><0><9><9>}", "answer": "box {<0><0><9><13>} at 55", "unique": True},
    {"ground_truth": "{<0><0><9><9>}", "answer": "I cannot find it", "is_unique": 0},
]


def test_grounding_hand_values() -> None:
    s = grounding_scores(GROUNDING)
    ious = [1.0, 1 / 3, 100 / 140]
    assert s["Acc@0.5"] == pytest.approx(50.0) and s["Acc@0.7"] == pytest.approx(50.0)
    assert s["meanIoU"] == pytest.approx(100 * sum(ious) / 4)  # invalid stays in the count
    assert s["cumIoU"] == pytest.approx(100 * 250 / 390)
    assert (s["n"], s["n_valid"]) == (4, 3)
    assert s["Acc@0.5_unique"] == 100.0 and s["Acc@0.7_unique"] == 100.0
    assert s["meanIoU_unique"] == pytest.approx(100 * (1 + 100 / 140) / 2)
    assert s["Acc@0.5_non_unique"] == 0.0
    assert s["meanIoU_non_unique"] == pytest.approx(100 * (1 / 3) / 2)
    assert (s["n_non_unique"], s["n_valid_non_unique"]) == (2, 1)


def test_vqa_rules_and_all_is_unweighted() -> None:
    calls: list[tuple[str, str, str]] = []

    def judge(q: str, g: str, p: str) -> str:
        calls.append((q, g, p))
        return "1" if p == "boat" else "1." if p == "vessel" else "0"

    assert vqa_match("q", "Yes", "Yes, there is", None) == "1"  # substring first
    assert vqa_match("q", "no", "None", None) == "1"  # 'no' in 'none', as published
    assert vqa_match("q", "13", "3", judge) == "0"  # numbers 0-99 need an exact match
    assert vqa_match("q", "yes", "y", judge) == "0"
    assert calls == []
    assert vqa_match("q", "ship", "boat", None) == "0"  # no judge: wrong
    assert vqa_match("q", "ship", "boat", None, cached="1") == "1"  # cached judgement
    recs = [
        {"question": "a", "ground_truth": "yes", "answer": "yes", "type": "object existence"},
        {"question": "b", "ground_truth": "no", "answer": "yes", "type": "object existence"},
        {"question": "c", "ground_truth": "3", "answer": "3 ships", "type": "object quantity"},
        {"question": "d", "ground_truth": "ship", "answer": "boat", "type": "object category"},
        {"question": "e", "ground_truth": "ship", "answer": "vessel", "type": "Object Category"},
        {"question": "f", "ground_truth": "urban", "answer": "rural", "type": "rural or urban"},
        {"question": "g", "ground_truth": "port", "answer": "a port", "type": "image"},
        {"question": "h", "ground_truth": "x", "answer": "x", "type": "weird"},
    ]
    s, judged = vqa_scores(recs, judge)
    assert s["object existence"] == 50.0 and s["object quantity"] == 100.0
    assert s["object category"] == 50.0  # the judge's "1." is not "1"
    assert s["scene type"] == 50.0  # "image" and "rural or urban" folded
    assert s["All"] == pytest.approx((50 + 100 + 50 + 50) / 4)
    assert s["Overall"] == pytest.approx(100 * 5 / 8)  # unknown type counts here only
    assert [j["correct"] for j in judged][3:5] == ["1", "1."]
