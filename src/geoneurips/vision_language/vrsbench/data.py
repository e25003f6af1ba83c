"""VRSBench readers: the per-image annotation JSON, the three EVAL JSONs, the LLaVA-style
training JSON, and the dataset class over ``Annotations_<split>/`` + ``Images_<split>/``.

Published layout (HF ``xiang709/VRSBench``): ``Annotations_{train,val}.zip`` hold one JSON per
512x512 image patch (DOTA-v2 / DIOR), ``Images_{train,val}.zip`` the PNG patches;
``VRSBench_EVAL_Cap.json``, ``VRSBench_EVAL_referring.json``, ``VRSBench_EVAL_vqa.json`` (JSON
lists built from the val annotations by ``prepare_eval_all.ipynb``, see
:mod:`.builder`) and ``VRSBench_train.json`` (LLaVA conversations). Extract the zips under one
root: ``root/Annotations_val/*.json``, ``root/Images_val/*.png`` (any sub-folder depth).

The annotation schema (Sec. 3 of the paper; the fields the public notebooks read are
``image``, ``caption``, ``objects[].{referring_sentence, obj_corner, obj_cls, is_unique,
obj_size}`` and ``qa_pairs[].{question, answer, type}``)::

    {"image": "P0003_0002.png", "caption": str,
     "objects": [{"obj_id", "obj_cls", "referring_sentence", "obj_coord": [x1,y1,x2,y2] (0-1),
                  "obj_corner": [x1,y1,...,x4,y4] (0-1, may leave [0,1]), "is_unique",
                  "obj_position", "obj_rel_position", "obj_size", "obj_rel_size", "flag"}],
     "qa_pairs": [{"ques_id", "question", "answer", "type"}]}

The public notebooks parse with ``json5`` (lenient JSON); the released files are plain JSON,
so ``json`` is used here (a file that is not JSON raises :class:`InvalidInputError`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import DataNotFoundError, InvalidInputError
from ...formats.dior import read_dior_xml
from ...formats.dota import read_dota_txt

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CLASSES",
    "DOTA_TO_VRSBENCH",
    "HF_URL",
    "QA_TYPES",
    "RAW_QA_TYPES",
    "ImageAnnotation",
    "ObjectAnnotation",
    "QAPair",
    "VRSBench",
    "objects_from_dior",
    "objects_from_dota",
    "read_annotation",
    "read_eval_caption",
    "read_eval_referring",
    "read_eval_vqa",
    "read_jsonl",
    "read_training_json",
]

HF_URL = "https://huggingface.co/datasets/xiang709/VRSBench"

#: The 26 object classes (union of DOTA-v2 and DIOR), in the order of prepare_eval_all.ipynb.
CLASSES: tuple[str, ...] = (
    "dam", "storage-tank", "ground-track-field", "overpass", "baseball-diamond",
    "tennis-court", "vehicle", "basketball-court", "golffield", "harbor",
    "expressway-service-area", "chimney", "trainstation", "windmill",
    "expressway-toll-station", "ship", "airport", "bridge", "airplane", "stadium",
    "soccer-ball-field", "roundabout", "swimming-pool", "helicopter", "container-crane",
    "helipad",
)

#: The 12 raw question types of the annotations (prepare_eval_all.ipynb).
RAW_QA_TYPES: tuple[str, ...] = (
    "object existence", "object position", "object quantity", "object category",
    "object color", "object shape", "object size", "object direction", "scene type", "image",
    "reasoning", "rural or urban",
)

#: The 10 reported types, in the order eval_vqa_gpt.ipynb prints them ("image" and
#: "rural or urban" are folded into "scene type").
QA_TYPES: tuple[str, ...] = (
    "object category", "object existence", "object quantity", "object color",
    "object shape", "object size", "object position", "object direction", "scene type",
    "reasoning",
)


def _req(d: dict[str, Any], key: str, where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise InvalidInputError(f"{where}: missing key {key!r}")
    return d[key]


@dataclass
class ObjectAnnotation:
    """One object of an image: class, referring sentence, HBB and OBB corners (normalised)."""

    obj_id: int
    obj_cls: str
    referring_sentence: str
    obj_corner: list[float]
    obj_coord: list[float] = field(default_factory=list)
    is_unique: bool = True
    obj_size: str = ""
    obj_position: str = ""
    obj_rel_position: str = ""
    obj_rel_size: str = ""
    flag: Any = None

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> ObjectAnnotation:
        corner = [float(v) for v in _req(d, "obj_corner", where)]
        if len(corner) != 8:
            raise InvalidInputError(f"{where}: obj_corner needs 8 numbers, got {len(corner)}")
        coord = [float(v) for v in d.get("obj_coord", [])]
        if not coord:
            xs, ys = corner[0::2], corner[1::2]
            coord = [min(xs), min(ys), max(xs), max(ys)]
        return cls(
            obj_id=int(d.get("obj_id", 0)), obj_cls=str(_req(d, "obj_cls", where)),
            referring_sentence=str(_req(d, "referring_sentence", where)), obj_corner=corner,
            obj_coord=coord, is_unique=bool(d.get("is_unique", True)),
            obj_size=str(d.get("obj_size", "") or ""),
            obj_position=str(d.get("obj_position", "") or ""),
            obj_rel_position=str(d.get("obj_rel_position", "") or ""),
            obj_rel_size=str(d.get("obj_rel_size", "") or ""), flag=d.get("flag"),
        )


@dataclass
class QAPair:
    """One question-answer pair with its raw type."""

    ques_id: int
    question: str
    answer: str
    type: str


@dataclass
class ImageAnnotation:
    """The per-image annotation JSON."""

    image: str
    caption: str
    objects: list[ObjectAnnotation]
    qa_pairs: list[QAPair]

    def to_dict(self) -> dict[str, Any]:
        """The published JSON form."""
        return asdict(self)


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise InvalidInputError(f"{path}: not valid JSON ({e})") from e


def read_annotation(path: str | Path) -> ImageAnnotation:
    """Read one per-image annotation JSON (``Annotations_<split>/<image>.json``).

    Objects without ``obj_corner``/``obj_cls``/``referring_sentence`` and QA pairs without
    ``question``/``answer``/``type`` raise :class:`InvalidInputError` (the published builder
    skips the whole file or the pair; :func:`.builder.build_eval` does the same on the dicts).
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError("VRSBench annotation", p.parent, [p.name], HF_URL,
                                "root/Annotations_<split>/<image>.json")
    d = _load_json(p)
    where = str(p)
    objs = [ObjectAnnotation.from_dict(o, f"{where} objects[{i}]")
            for i, o in enumerate(d.get("objects", []) or [])]
    qas = []
    for i, q in enumerate(d.get("qa_pairs", []) or []):
        w = f"{where} qa_pairs[{i}]"
        qas.append(QAPair(int(q.get("ques_id", i)), str(_req(q, "question", w)),
                          str(_req(q, "answer", w)), str(_req(q, "type", w))))
    return ImageAnnotation(str(_req(d, "image", where)), str(d.get("caption", "")), objs, qas)


def _read_list(path: str | Path, keys: tuple[str, ...], what: str) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"VRSBench {what}", p.parent, [p.name], HF_URL,
                                f"root/{p.name}")
    items = _load_json(p)
    if not isinstance(items, list):
        raise InvalidInputError(f"{p}: a VRSBench EVAL file is a JSON list")
    for i, it in enumerate(items):
        for k in keys:
            _req(it, k, f"{p}[{i}]")
    return items


def read_eval_caption(path: str | Path) -> list[dict[str, Any]]:
    """``VRSBench_EVAL_Cap.json``: ``{image_id, ground_truth, question, dataset, question_id,
    type: "caption"}`` per image (9,350 items in the release)."""
    return _read_list(path, ("image_id", "ground_truth", "question_id"), "EVAL_Cap")


def read_eval_referring(path: str | Path) -> list[dict[str, Any]]:
    """``VRSBench_EVAL_referring.json``: ``{image_id, question (the referring sentence),
    ground_truth "{<x1><y1><x2><y2>}" (0-100 ints), question_id, type: "ref", unique,
    obj_corner, obj_cls, obj_ids, size_group}`` (16,159 items in the release)."""
    return _read_list(path, ("image_id", "question", "ground_truth", "question_id", "unique"),
                      "EVAL_referring")


def read_eval_vqa(path: str | Path) -> list[dict[str, Any]]:
    """``VRSBench_EVAL_vqa.json``: ``{image_id, question, ground_truth, question_id, type}``
    (37,409 items in the release)."""
    return _read_list(path, ("image_id", "question", "ground_truth", "question_id", "type"),
                      "EVAL_vqa")


def read_training_json(path: str | Path) -> list[dict[str, Any]]:
    """``VRSBench_train.json``: LLaVA records ``{id?, image, conversations: [{from: human,
    value: "<image>\\n[caption]|[refer]|[vqa] ..."}, {from: gpt, value}]}``.

    Checks that each record has an image and alternating human/gpt turns.
    """
    items = _read_list(path, ("image", "conversations"), "train")
    for i, it in enumerate(items):
        conv = it["conversations"]
        if not isinstance(conv, list) or len(conv) < 2 or len(conv) % 2:
            raise InvalidInputError(f"{path}[{i}]: conversations must be human/gpt pairs")
        for j, turn in enumerate(conv):
            want = "human" if j % 2 == 0 else "gpt"
            if _req(turn, "from", f"{path}[{i}]") != want or "value" not in turn:
                raise InvalidInputError(f"{path}[{i}] turn {j}: expected from={want!r}")
    return items


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """A JSONL prediction file (one object per line; blank lines skipped)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"prediction file not found: {p}")
    out = []
    with open(p, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InvalidInputError(f"{p}:{n}: not a JSON object ({e})") from e
            if not isinstance(obj, dict):
                raise InvalidInputError(f"{p}:{n}: expected a JSON object per line")
            out.append(obj)
    return out


def _find_dir(root: Path, name: str) -> Path | None:
    direct = root / name
    if direct.is_dir():
        return direct
    hits = sorted(p for p in root.glob(f"**/{name}") if p.is_dir())
    return hits[0] if hits else None


class VRSBench:
    """VRSBench images with their annotations (TorchGeo-style ``NonGeoDataset`` interface).

    Samples: ``image`` float tensor (3, H, W) in [0, 1]; ``boxes`` (N, 4) HBB in pixels
    (x1, y1, x2, y2, from ``obj_coord``); ``corners`` (N, 8) in pixels; ``labels`` (N,)
    indices into :data:`CLASSES` (-1 for a class outside them); ``annotation`` the
    :class:`ImageAnnotation`.

    Args:
        root: folder holding ``Annotations_<split>/`` and ``Images_<split>/``.
        split: ``"train"`` or ``"val"``.
        transforms: optional callable on the sample dict.
    """

    splits = ("train", "val")

    def __init__(self, root: str | Path, split: str = "val", transforms: Any = None) -> None:
        if split not in self.splits:
            raise InvalidInputError(f"split must be one of {self.splits}, got {split!r}")
        self.root = Path(root)
        self.split = split
        self.transforms = transforms
        ann_dir = _find_dir(self.root, f"Annotations_{split}")
        img_dir = _find_dir(self.root, f"Images_{split}")
        if ann_dir is None or img_dir is None:
            raise DataNotFoundError(
                "VRSBench", self.root, [f"Annotations_{split}/", f"Images_{split}/"], HF_URL,
                f"root/Annotations_{split}/*.json and root/Images_{split}/*.png "
                f"(extract Annotations_{split}.zip and Images_{split}.zip)")
        self.files = sorted(ann_dir.glob("**/*.json"))
        if not self.files:
            raise DataNotFoundError("VRSBench", ann_dir, ["*.json"], HF_URL,
                                    f"root/Annotations_{split}/*.json")
        self.images = {p.name: p for p in img_dir.glob("**/*") if p.is_file()}

    def __len__(self) -> int:
        return len(self.files)

    def annotation(self, index: int) -> ImageAnnotation:
        """The parsed annotation of sample ``index``."""
        return read_annotation(self.files[index])

    def __getitem__(self, index: int) -> dict[str, Any]:
        import numpy as np
        import torch
        from PIL import Image

        ann = self.annotation(index)
        path = self.images.get(ann.image)
        if path is None:
            raise DataNotFoundError("VRSBench image", self.root / f"Images_{self.split}",
                                    [ann.image], HF_URL, f"root/Images_{self.split}/")
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
        h, w = arr.shape[:2]
        scale = torch.tensor([w, h, w, h], dtype=torch.float32)
        boxes = torch.tensor([o.obj_coord for o in ann.objects],
                             dtype=torch.float32).reshape(-1, 4) * scale
        corners = torch.tensor([o.obj_corner for o in ann.objects],
                               dtype=torch.float32).reshape(-1, 8) * scale.repeat(2)
        labels = torch.tensor([CLASSES.index(o.obj_cls.lower())
                               if o.obj_cls.lower() in CLASSES else -1 for o in ann.objects],
                              dtype=torch.long)
        sample: dict[str, Any] = {
            "image": torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255.0,
            "boxes": boxes, "corners": corners, "labels": labels, "annotation": ann,
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(self, sample: dict[str, Any], show_titles: bool = True,
             suptitle: str | None = None) -> Figure:
        """The image with its HBBs and class names; the caption as title."""
        from ...demo import new_figure

        fig, axes = new_figure(1, 1, size=5.0)
        ax = axes[0, 0]
        ax.imshow(sample["image"].permute(1, 2, 0).numpy())
        for box, lab in zip(sample["boxes"].tolist(), sample["labels"].tolist(), strict=True):
            x1, y1, x2, y2 = box
            ax.add_patch(_rect(x1, y1, x2 - x1, y2 - y1))
            ax.text(x1, y1, CLASSES[lab] if lab >= 0 else "?", color="yellow", fontsize=7)
        ax.axis("off")
        if show_titles:
            cap = sample["annotation"].caption
            ax.set_title(cap[:80] + ("..." if len(cap) > 80 else ""), fontsize=7)
        if suptitle:
            fig.suptitle(suptitle)
        return fig


def _rect(x: float, y: float, w: float, h: float) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, fill=False, edgecolor="red", linewidth=1)



#: DOTA class names -> VRSBench classes (VRSBench merges small/large vehicles, renames plane).
DOTA_TO_VRSBENCH = {"plane": "airplane", "small-vehicle": "vehicle",
                    "large-vehicle": "vehicle"}


def objects_from_dota(path: str | Path, width: int, height: int) -> list[ObjectAnnotation]:
    """VRSBench objects from a DOTA label file (``x1 y1 ... x4 y4 class difficult`` per line
    after the ``imagesource:``/``gsd:`` header, read by the shared
    :func:`geoneurips.formats.dota.read_dota_txt`) of a ``width`` x ``height`` image.

    VRSBench's ``obj_corner`` is the DOTA polygon divided by the patch size and ``obj_coord``
    its min/max box; the referring sentence is left empty (GPT-4V wrote them) and
    ``is_unique`` is whether the class occurs once.
    """
    p = Path(path)
    labels = read_dota_txt(p, layout="labelTxt/<image>.txt")
    rows = [([float(v) for v in o.poly], DOTA_TO_VRSBENCH.get(o.label, o.label))
            for o in labels.objects]
    counts: dict[str, int] = {}
    for _, c in rows:
        counts[c] = counts.get(c, 0) + 1
    out = []
    for k, (xy, cls) in enumerate(rows):
        corner = [v / (width if i % 2 == 0 else height) for i, v in enumerate(xy)]
        out.append(ObjectAnnotation.from_dict(
            {"obj_id": k, "obj_cls": cls, "referring_sentence": "", "obj_corner": corner,
             "is_unique": counts[cls] == 1}, f"{p}:{k}"))
    return out



#: DIOR classes (canonical spelling, :data:`geoneurips.formats.dior.DIOR_CLASSES`) ->
#: VRSBench classes. VRSBench's 26 classes are the union of DOTA-v2's (17 after merging
#: the vehicles and renaming plane) and DIOR's 20; the 9 DIOR-only ones make the count, so
#: the 11 shared ones are DIOR's classes under DOTA's names (baseballfield is
#: baseball-diamond, and so on).
DIOR_TO_VRSBENCH: dict[str, str] = {
    "airplane": "airplane", "airport": "airport", "baseballfield": "baseball-diamond",
    "basketballcourt": "basketball-court", "bridge": "bridge", "chimney": "chimney",
    "dam": "dam", "expresswayservicearea": "expressway-service-area",
    "expresswaytollstation": "expressway-toll-station", "golffield": "golffield",
    "groundtrackfield": "ground-track-field", "harbor": "harbor", "overpass": "overpass",
    "ship": "ship", "stadium": "stadium", "storagetank": "storage-tank",
    "tenniscourt": "tennis-court", "trainstation": "trainstation", "vehicle": "vehicle",
    "windmill": "windmill",
}


def objects_from_dior(path: str | Path, width: int | None = None,
                      height: int | None = None) -> list[ObjectAnnotation]:
    """VRSBench objects from a DIOR annotation file (Pascal VOC XML, read by the shared
    :func:`geoneurips.formats.dior.read_dior_xml`).

    DIOR has horizontal boxes only, so ``obj_corner`` is the box's 4 corners (clockwise from
    the top left, DOTA's order) divided by the image size, taken from the file's ``<size>``
    unless ``width``/``height`` are given; the referring sentence is left empty (GPT-4V
    wrote them) and ``is_unique`` is whether the class occurs once.

    Raises:
        InvalidInputError: no image size in the file and none given.
    """
    p = Path(path)
    labels = read_dior_xml(p)
    w, h = width or labels.width, height or labels.height
    if w <= 0 or h <= 0:
        raise InvalidInputError(f"{p}: no <size> in the file; pass width and height")
    rows = [(o.corners, DIOR_TO_VRSBENCH[o.label]) for o in labels.objects]
    counts = Counter(c for _, c in rows)
    return [
        ObjectAnnotation.from_dict(
            {"obj_id": k, "obj_cls": cls, "referring_sentence": "",
             "obj_corner": [v / (w if i % 2 == 0 else h) for i, v in enumerate(xy)],
             "is_unique": counts[cls] == 1}, f"{p}:{k}")
        for k, (xy, cls) in enumerate(rows)
    ]
