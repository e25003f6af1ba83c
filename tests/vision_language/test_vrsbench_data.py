"""VRSBench readers and the EVAL builder.

No real VRSBench file exists offline (the release is on Hugging Face only), so the readers
are checked on our fixture writer and on hand-written records with the published schema;
the files we did not write are TorchGeo's DOTA fixture (VRSBench's images and boxes come
from DOTA-v2), read by TorchGeo and by our DOTA -> VRSBench converter.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.vision_language.vrsbench.builder import (
    build_eval,
    build_training_records,
    hbb_string,
    number_to_words,
    vqa_kept,
)
from geoneurips.vision_language.vrsbench.data import (
    CLASSES,
    VRSBench,
    objects_from_dior,
    objects_from_dota,
    read_annotation,
    read_eval_caption,
    read_eval_referring,
    read_eval_vqa,
    read_training_json,
)
from geoneurips.vision_language.vrsbench.synthetic import write_fixture


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fixture(tmp_path_factory.mktemp("vrs"), n_images=5, split="val", seed=3)


def test_fixture_round_trip(fixture_root: Path) -> None:
    ds = VRSBench(fixture_root, "val")
    assert len(ds) == 5
    s = ds[0]
    ann = s["annotation"]
    raw = json.loads((fixture_root / "Annotations_val" / ann.image.replace(".png", ".json"))
                     .read_text())
    assert s["image"].shape == (3, 64, 64) and 0 <= float(s["image"].min())
    assert s["boxes"].shape == (len(raw["objects"]), 4)
    # boxes in pixels = normalised obj_coord * 64
    assert s["boxes"][0].tolist() == pytest.approx([v * 64 for v in raw["objects"][0]
                                                    ["obj_coord"]], abs=1e-4)
    assert [CLASSES[i] for i in s["labels"].tolist()] == [o["obj_cls"] for o in raw["objects"]]
    assert ann.caption == raw["caption"]
    assert [q.answer for q in ann.qa_pairs] == [q["answer"] for q in raw["qa_pairs"]]
    caps = read_eval_caption(fixture_root / "VRSBench_EVAL_Cap.json")
    refs = read_eval_referring(fixture_root / "VRSBench_EVAL_referring.json")
    vqas = read_eval_vqa(fixture_root / "VRSBench_EVAL_vqa.json")
    n_obj = sum(len(ds.annotation(i).objects) for i in range(len(ds)))
    assert len(caps) == 5 and len(refs) == n_obj
    assert [r["question_id"] for r in refs] == list(range(n_obj))
    assert caps[0]["question"] == "Describe the image in detail"
    assert all(v["type"] in {"object existence", "object quantity", "object category",
                             "object color", "object size", "object position",
                             "rural or urban"} for v in vqas)
    train = read_training_json(fixture_root / "VRSBench_train.json")
    assert len(train) == len(caps) + len(refs) + len(vqas)
    assert train[0]["conversations"][0]["value"].startswith("<image>\n[caption]")
    fig = ds.plot(s)
    assert fig.axes


def test_builder_published_rules() -> None:
    """Hand-built annotations exercising each rule of prepare_eval_all.ipynb."""
    ann = {"image": "a.png", "caption": "c", "objects": [
        # 0.29 * 100 = 28.999... -> 28 (int truncation); corners outside [0, 1] are clipped
        {"obj_cls": "Ship", "referring_sentence": "s1", "is_unique": True, "obj_size": "",
         "obj_corner": [0.29, -0.1, 0.575, -0.1, 0.575, 0.5, 0.29, 0.5]},
        {"obj_cls": "vehicle", "referring_sentence": "s2", "is_unique": False,
         "obj_size": "small", "obj_corner": [0.9, 0.9, 1.2, 0.9, 1.2, 1.3, 0.9, 1.3]},
        {"obj_cls": "not-a-class", "referring_sentence": "s3", "is_unique": True,
         "obj_size": "", "obj_corner": [0, 0, 1, 0, 1, 1, 0, 1]},
        {"obj_cls": "ship", "referring_sentence": "s4", "is_unique": True, "obj_size": "",
         "obj_corner": [0, 0, 1, 0, 1, 1, 0, 1]},
    ], "qa_pairs": [
        {"question": "Is there a ship?", "answer": "Yes", "type": " Object Existence "},
        {"question": "What flag is shown?", "answer": "red", "type": "object color"},
        {"question": "Which ship is larger?", "answer": "the 2nd one", "type": "reasoning"},
        {"question": "Which ship is larger?", "answer": "the stone one", "type": "reasoning"},
        {"question": "Which ship is larger?", "answer": "the left ship", "type": "reasoning"},
        {"question": "What is it?", "answer": "x"},
        {"question": "Is it daytime?", "answer": "yes", "type": "image"},
        {"question": "Q?", "answer": "a", "type": "image"},
        {"question": "Q2?", "answer": "b", "type": "bogus type"},
        {"question": "Q3?", "answer": "c", "type": "scene type"},
    ]}
    ev = build_eval([ann, {"image": "b.png", "caption": "d"}])
    refs = ev["referring"]
    # the unknown class stops this file's referring list; earlier objects are kept
    assert [r["ground_truth"] for r in refs] == ["{<28><0><57><50>}", "{<90><90><100><100>}"]
    assert refs[0]["obj_cls"] == "ship" and refs[1]["size_group"] == "small"
    assert [r["question_id"] for r in refs] == [0, 1]
    vq = ev["vqa"]
    # kept: existence (type normalised), "the left ship", "Q?" ("one" is a number word); "bogus type" stops the file
    assert [(v["ground_truth"], v["type"]) for v in vq] == [
        ("Yes", "object existence"), ("the left ship", "reasoning"), ("a", "image")]
    assert [c["image_id"] for c in ev["caption"]] == ["a.png", "b.png"]
    assert len(build_training_records([ann])) == 1 + 2 + 3


def test_builder_helpers() -> None:
    assert number_to_words(0) == "zero" and number_to_words(21) == "twenty-one"
    assert number_to_words(90) == "ninety" and number_to_words(17) == "seventeen"
    assert not vqa_kept("Which one?", "the stone one")  # "one" inside "stone"
    assert vqa_kept("What one?", "the stone one")
    assert not vqa_kept("Is it at night?", "no")
    assert not vqa_kept("What is the image resolution?", "high")
    assert hbb_string([0.1, 0.2, 0.3, 0.2, 0.3, 0.4, 0.1, 0.4]) == "{<10><20><30><40>}"


def test_dota_fixture_matches_torchgeo(real_data: Path) -> None:
    """TorchGeo's DOTA fixture (files we did not write): TorchGeo's reader and our DOTA ->
    VRSBench converter give the same polygons; the EVAL box follows from them."""
    import numpy as np
    from PIL import Image
    from torchgeo.datasets import DOTA

    root = real_data / "torchgeo_fixtures" / "dota"
    ds = DOTA(str(root), split="train", version="2.0", bbox_orientation="oriented")
    sample = ds[1]
    path = root / "train" / "images" / "P0001.png"
    with Image.open(path) as im:
        w, h = im.size
    objs = objects_from_dota(root / "train" / "annotations" / "version2.0" / "P0001.txt", w, h)
    tg = sample["bbox"].numpy().reshape(-1, 8)
    ours = np.array([o.obj_corner for o in objs]) * np.array([w, h] * 4)
    np.testing.assert_allclose(ours, tg, atol=1e-4)
    assert [o.obj_cls for o in objs] == ["airplane", "ship"]
    assert all(o.obj_cls in CLASSES for o in objs)
    ev = build_eval([{"image": "P0001.png", "objects": [
        {"obj_cls": o.obj_cls, "referring_sentence": "", "is_unique": o.is_unique,
         "obj_size": "", "obj_corner": o.obj_corner} for o in objs]}])
    x1, y1, x2, y2 = ours[0, 0::2].min(), ours[0, 1::2].min(), ours[0, 0::2].max(), \
        ours[0, 1::2].max()
    want = [int(x1 / w * 100), int(y1 / h * 100), int(min(x2 / w, 1) * 100),
            int(min(y2 / h, 1) * 100)]
    assert ev["referring"][0]["ground_truth"] == "{" + "".join(f"<{v}>" for v in want) + "}"


def test_dior_fixture_objects_match_torchgeo(real_data: Path, tmp_path: Path) -> None:
    """TorchGeo's DIOR fixture (files we did not write): our DIOR -> VRSBench converter gives
    TorchGeo's boxes as normalised corners, under VRSBench's class names (DIOR's
    ``baseballfield`` is VRSBench's ``baseball-diamond``); the EVAL box follows from them."""
    import numpy as np
    from torchgeo.datasets import DIOR

    from geoneurips.formats.dior import DIOR_CLASSES
    from geoneurips.vision_language.vrsbench.data import DIOR_TO_VRSBENCH

    assert set(DIOR_TO_VRSBENCH) == set(DIOR_CLASSES)
    assert set(DIOR_TO_VRSBENCH.values()) <= set(CLASSES)
    # the union of DOTA-v2 (vehicles merged, plane renamed) and DIOR is VRSBench's 26
    from geoneurips.formats.dota import DOTA_CLASSES
    from geoneurips.vision_language.vrsbench.data import DOTA_TO_VRSBENCH

    dota = {DOTA_TO_VRSBENCH.get(c, c) for c in DOTA_CLASSES}
    assert dota | set(DIOR_TO_VRSBENCH.values()) == set(CLASSES)

    root = real_data / "torchgeo_fixtures" / "dior"
    ds = DIOR(root, split="train")  # type: ignore[arg-type]
    for i in range(len(ds)):
        sample = ds[i]
        h, w = sample["image"].shape[-2:]
        objs = objects_from_dior(root / ds.sample_df.iloc[i]["label_path"])
        x1, y1, x2, y2 = sample["bbox_xyxy"].numpy().T
        want = np.stack([x1 / w, y1 / h, x2 / w, y1 / h, x2 / w, y2 / h, x1 / w, y2 / h], 1)
        np.testing.assert_allclose(np.array([o.obj_corner for o in objs]).reshape(-1, 8),
                                   want, atol=1e-6)
        assert [o.obj_cls for o in objs] == \
            [DIOR_TO_VRSBENCH[ds.classes[j]] for j in sample["label"].tolist()]
        counts = {c: [o.obj_cls for o in objs].count(c) for c in {o.obj_cls for o in objs}}
        assert [o.is_unique for o in objs] == [counts[o.obj_cls] == 1 for o in objs]
    ev = build_eval([{"image": "000000.jpg", "objects": [
        {"obj_cls": o.obj_cls, "referring_sentence": "", "is_unique": o.is_unique,
         "obj_size": "", "obj_corner": o.obj_corner}
        for o in objects_from_dior(root / "Annotations" / "trainval" / "000000.xml")]}])
    assert ev["referring"], "the converted objects build referring items"
    bare = tmp_path / "bare.xml"
    bare.write_text("<annotation><object><name>ship</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
                    "<xmax>3</xmax><ymax>3</ymax></bndbox></object></annotation>")
    with pytest.raises(InvalidInputError, match="no <size>"):
        objects_from_dior(bare)
    assert objects_from_dior(bare, 4, 8)[0].obj_corner == [0.25, 0.125, 0.75, 0.125, 0.75,
                                                            0.375, 0.25, 0.375]


def test_bad_inputs(tmp_path: Path, fixture_root: Path) -> None:
    with pytest.raises(DataNotFoundError, match="huggingface.co/datasets/xiang709/VRSBench"):
        VRSBench(tmp_path, "val")
    with pytest.raises(InvalidInputError, match="split"):
        VRSBench(fixture_root, "test")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        read_annotation(bad)
    bad.write_text(json.dumps({"image": "x.png", "objects": [{"obj_cls": "ship"}]}))
    with pytest.raises(InvalidInputError, match="obj_corner"):
        read_annotation(bad)
    bad.write_text(json.dumps({"image": "x.png", "objects": [
        {"obj_cls": "ship", "referring_sentence": "s", "obj_corner": [0, 1]}]}))
    with pytest.raises(InvalidInputError, match="8 numbers"):
        read_annotation(bad)
    bad.write_text(json.dumps({"a": 1}))
    with pytest.raises(InvalidInputError, match="JSON list"):
        read_eval_vqa(bad)
    bad.write_text(json.dumps([{"image_id": "x", "question": "q"}]))
    with pytest.raises(InvalidInputError, match="ground_truth"):
        read_eval_vqa(bad)
    bad.write_text(json.dumps([{"image": "x", "conversations": [{"from": "gpt", "value": "a"},
                                                                {"from": "human", "value": "b"}]}]))
    with pytest.raises(InvalidInputError, match="human"):
        read_training_json(bad)
    with pytest.raises(DataNotFoundError):
        read_eval_caption(tmp_path / "missing.json")
