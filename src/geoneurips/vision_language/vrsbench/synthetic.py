"""Synthetic VRSBench-style scenes and the fixture writer (published layout).

Each of the 26 classes is rendered as its own (shape, colour) pair on a rural (green) or
urban (grey) textured background; an image holds 1-4 objects of 1-2 classes, small or
large, in one of nine named regions. The annotation follows the published schema:
a caption, objects with normalised ``obj_coord`` and ``obj_corner``, referring sentences
with ``is_unique``, and QA pairs of seven of the raw types (object existence, quantity,
category, color, position, size and rural or urban).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...io import atomic_path
from .builder import build_eval, build_training_records
from .data import CLASSES

__all__ = ["COLOURS", "POSITIONS", "SHAPES", "class_style", "render_scene", "write_fixture"]

SHAPES = ("square", "circle", "cross", "ring", "bar", "diamond")
COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (235, 235, 235), "red": (210, 40, 40), "blue": (40, 80, 220),
    "yellow": (230, 210, 40), "black": (25, 25, 25),
}
POSITIONS = ("top-left", "top", "top-right", "left", "center", "right", "bottom-left",
             "bottom", "bottom-right")
_WORDS = ("zero", "one", "two", "three", "four", "five")


def class_style(cls: str) -> tuple[str, str]:
    """The (shape, colour) a class is rendered with (26 distinct pairs)."""
    i = CLASSES.index(cls)
    return SHAPES[i % len(SHAPES)], tuple(COLOURS)[(i // len(SHAPES) + i) % len(COLOURS)]


def _draw(img: np.ndarray, shape: str, colour: tuple[int, int, int], cx: float, cy: float,
          r: float) -> None:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    dx, dy = np.abs(xx - cx), np.abs(yy - cy)
    if shape == "square":
        m = (dx <= r) & (dy <= r)
    elif shape == "circle":
        m = dx**2 + dy**2 <= r**2
    elif shape == "cross":
        m = ((dx <= r) & (dy <= r / 3)) | ((dy <= r) & (dx <= r / 3))
    elif shape == "ring":
        d2 = dx**2 + dy**2
        m = (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
    elif shape == "bar":
        m = (dx <= r) & (dy <= r / 2)
    else:
        m = dx + dy <= r
    img[m] = colour


def _region(pos: str, size: int, rng: np.random.Generator, r: float) -> tuple[float, float]:
    k = POSITIONS.index(pos)
    row, col = divmod(k, 3)
    cell = size / 3
    lo_x, lo_y = col * cell + r, row * cell + r
    hi_x, hi_y = (col + 1) * cell - r, (row + 1) * cell - r
    return (float(rng.uniform(lo_x, max(lo_x, hi_x))), float(rng.uniform(lo_y, max(lo_y, hi_y))))


def render_scene(rng: np.random.Generator, size: int = 64,
                 classes: tuple[str, ...] = CLASSES, name: str = "scene.png"
                 ) -> tuple[np.ndarray, dict[str, Any]]:
    """One (H, W, 3) uint8 image and its annotation dict (published schema)."""
    scene = "rural" if rng.random() < 0.5 else "urban"
    base = (70, 120, 60) if scene == "rural" else (120, 120, 125)
    img = (np.array(base, np.float32) + rng.normal(0, 12, (size, size, 3))).clip(0, 255)
    img = img.astype(np.uint8)
    n_cls = 1 if rng.random() < 0.5 else 2
    chosen = [str(c) for c in rng.choice(classes, size=n_cls, replace=False)]
    n_obj = int(rng.integers(1, 5))
    slots = sorted((str(p) for p in rng.choice(POSITIONS, size=n_obj, replace=False)),
                   key=POSITIONS.index)  # reading order: the caption names the first
    objects: list[dict[str, Any]] = []
    for k, pos in enumerate(slots):
        cls = chosen[0] if k == 0 or n_cls == 1 else str(rng.choice(chosen))
        large = bool(rng.random() < 0.5)
        r = float(rng.uniform(6.0, 8.5) if large else rng.uniform(3.0, 4.5)) * size / 64
        cx, cy = _region(pos, size, rng, r)
        shape, colour = class_style(cls)
        _draw(img, shape, COLOURS[colour], cx, cy, r)
        x1, y1, x2, y2 = (cx - r) / size, (cy - r) / size, (cx + r) / size, (cy + r) / size
        objects.append({
            "obj_id": k, "obj_cls": cls, "obj_coord": [x1, y1, x2, y2],
            "obj_corner": [x1, y1, x2, y1, x2, y2, x1, y2], "obj_position": pos,
            "obj_size": "large" if large else "small", "obj_colour": colour,
            "obj_rel_position": "", "obj_rel_size": "", "flag": False,
        })
    counts = {c: sum(o["obj_cls"] == c for o in objects) for c in chosen}
    for o in objects:
        o["is_unique"] = counts[o["obj_cls"]] == 1
        o["referring_sentence"] = (f"the {o['obj_size']} {o['obj_colour']} {o['obj_cls']} "
                                   f"at the {o['obj_position']}")
    parts = [f"{_WORDS[n]} {c}{'s' if n > 1 else ''}" for c, n in counts.items() if n]
    first = objects[0]
    article = "an" if scene == "urban" else "a"
    caption = (f"an aerial image of {article} {scene} area with {' and '.join(parts)}. "
               f"a {first['obj_size']} {first['obj_colour']} {first['obj_cls']} is at the "
               f"{first['obj_position']} of the image.")
    qas: list[tuple[str, str, str]] = []
    absent = [c for c in classes if c not in counts]
    ask = chosen[0] if rng.random() < 0.5 or not absent else str(rng.choice(absent))
    qas.append((f"is there a {ask} in the image?", "yes" if ask in counts else "no",
                "object existence"))
    qc = str(rng.choice(chosen))
    qas.append((f"how many {qc}s are there?", str(counts[qc]), "object quantity"))
    o = objects[int(rng.integers(len(objects)))]
    qas.append((f"what is the object at the {o['obj_position']}?", o["obj_cls"],
                "object category"))
    qas.append((f"what color is the object at the {o['obj_position']}?", o["obj_colour"],
                "object color"))
    qas.append((f"what is the size of the object at the {o['obj_position']}?", o["obj_size"],
                "object size"))
    uniq = [u for u in objects if u["is_unique"]]
    if uniq:
        u = uniq[int(rng.integers(len(uniq)))]
        qas.append((f"where is the {u['obj_cls']} located?", u["obj_position"],
                    "object position"))
    qas.append(("is this a rural or urban area?", scene, "rural or urban"))
    ann = {"image": name, "caption": caption, "objects": objects,
           "qa_pairs": [{"ques_id": i, "question": q, "answer": a, "type": t}
                        for i, (q, a, t) in enumerate(qas)]}
    return img, ann


def write_fixture(root: str | Path, n_images: int = 6, split: str = "val", seed: int = 0,
                  size: int = 64, classes: tuple[str, ...] = CLASSES,
                  prefix: str = "P") -> Path:
    """Write ``n_images`` scenes in the published layout under ``root``.

    Writes ``Annotations_<split>/<name>.json``, ``Images_<split>/<name>.png``, the three EVAL
    JSONs (``VRSBench_EVAL_Cap.json``, ``VRSBench_EVAL_referring.json``,
    ``VRSBench_EVAL_vqa.json``, built with :func:`.builder.build_eval`) and
    ``VRSBench_train.json`` (LLaVA records of the same scenes).
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = Path(root)
    ann_dir, img_dir = root / f"Annotations_{split}", root / f"Images_{split}"
    ann_dir.mkdir(parents=True, exist_ok=True)
    img_dir.mkdir(parents=True, exist_ok=True)
    anns = []
    for i in range(n_images):
        name = f"{prefix}{seed:04d}_{i:04d}.png"
        img, ann = render_scene(rng, size, classes, name)
        with atomic_path(img_dir / name, suffix=".png") as tmp:
            Image.fromarray(img).save(tmp, format="PNG")
        (ann_dir / name.replace(".png", ".json")).write_text(json.dumps(ann, indent=1))
        anns.append(ann)
    ev = build_eval(anns)
    for key, fname in (("caption", "VRSBench_EVAL_Cap.json"),
                       ("referring", "VRSBench_EVAL_referring.json"),
                       ("vqa", "VRSBench_EVAL_vqa.json")):
        (root / fname).write_text(json.dumps(ev[key], indent=1))
    (root / "VRSBench_train.json").write_text(json.dumps(build_training_records(anns)))
    return root
