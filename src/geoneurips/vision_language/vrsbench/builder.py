"""The EVAL builder (``prepare_eval_all.ipynb``) and the LLaVA-style training records.

:func:`build_eval` turns per-image annotation dicts (in sorted file order) into the three EVAL
lists with the published rules:

* **referring**: one item per object; the HBB is the min/max of ``obj_corner`` clipped to
  [0, 1] and truncated with ``int(100 * v)`` (Python float arithmetic, so 0.29 -> 28), written
  ``"{<x1><y1><x2><y2>}"``; ``obj_cls`` is lower-cased and must be one of the 26 classes;
* **VQA**: a pair is dropped when its question or answer contains (case-sensitively) one of
  the excluded phrases (``flag``, ``not provide``, ..., ``day``, ``night``, ``source``,
  ``resolution``), or when the lower-cased question contains ``which`` and the answer holds
  a number 0-99 as digits or as an English word (``"one"`` also matches inside ``"stone"``,
  as published); the type is stripped, lower-cased and must be one of the 12 raw types;
* **caption**: one item per file with a ``caption``, question ``"Describe the image in
  detail"``.

``question_id`` counts kept items per list. As in the notebook, an error inside a file (an
unknown class or type, a malformed corner list) stops that file for that list but keeps the
items it already produced. Deliberate difference: a file without ``objects``/``qa_pairs``
contributes nothing (the notebook reused the previous file's list).
"""

from __future__ import annotations

from typing import Any

from .data import CLASSES, RAW_QA_TYPES

__all__ = [
    "EXCLUDE_PHRASES",
    "NUMBER_WORDS",
    "build_eval",
    "build_training_records",
    "hbb_string",
    "number_to_words",
    "vqa_kept",
]

EXCLUDE_PHRASES: tuple[str, ...] = (
    "flag", "not provide", "not specified", "unknown", "referred", "referring", "nose",
    "vertical stabilizer", " tail", "tail ", "facing", "pointing", "first-mentioned",
    "aforementioned", "previously mentioned", "motion", "day", "night", "source",
    "resolution",
)

_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
          "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
          "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_to_words(n: int) -> str:
    """English words for 0 <= n < 100, as ``inflect.engine().number_to_words`` writes them
    (``21 -> "twenty-one"``)."""
    if not 0 <= n < 100:
        raise ValueError(f"only 0..99 are supported, got {n}")
    if n < 20:
        return _UNITS[n]
    t, u = divmod(n, 10)
    return _TENS[t] if u == 0 else f"{_TENS[t]}-{_UNITS[u]}"


NUMBER_WORDS: tuple[str, ...] = tuple(number_to_words(n) for n in range(100))


def vqa_kept(question: str, answer: str) -> bool:
    """Whether a QA pair survives the published filters (see the module docstring)."""
    for phr in EXCLUDE_PHRASES:
        if phr in answer or phr in question:
            return False
    if "which" in question.lower():
        for num in range(100):
            if str(num) in answer or NUMBER_WORDS[num] in answer:
                return False
    return True


def hbb_string(corner: list[float] | tuple[float, ...]) -> str:
    """``"{<x1><y1><x2><y2>}"`` on the 0-100 grid from normalised OBB corners."""
    x1, y1, x2, y2, x3, y3, x4, y4 = (float(v) for v in corner)
    xmin = int(max(min(x1, x2, x3, x4), 0) * 100)
    xmax = int(min(max(x1, x2, x3, x4), 1) * 100)
    ymin = int(max(min(y1, y2, y3, y4), 0) * 100)
    ymax = int(min(max(y1, y2, y3, y4), 1) * 100)
    return "{" + f"<{xmin}><{ymin}><{xmax}><{ymax}>" + "}"


def build_eval(annotations: list[dict[str, Any]],
               dataset: str = "RSBench") -> dict[str, list[dict[str, Any]]]:
    """``{"caption": [...], "referring": [...], "vqa": [...]}`` from annotation dicts.

    Pass the dicts in sorted file-path order (the notebook sorts the file list) so that the
    ``question_id`` values match the release.
    """
    refs: list[dict[str, Any]] = []
    vqas: list[dict[str, Any]] = []
    caps: list[dict[str, Any]] = []
    for data in annotations:
        image = data.get("image")
        try:
            for ref in data.get("objects", []) or []:
                bbox = hbb_string(ref["obj_corner"])
                obj_cls = str(ref["obj_cls"]).lower()
                if obj_cls not in CLASSES:
                    raise ValueError(f"unknown class {obj_cls!r}")
                refs.append({
                    "image_id": image, "question": ref["referring_sentence"],
                    "ground_truth": bbox, "dataset": dataset, "question_id": len(refs),
                    "type": "ref", "unique": ref["is_unique"], "obj_corner": ref["obj_corner"],
                    "obj_cls": obj_cls, "obj_ids": [0], "size_group": ref["obj_size"],
                })
        except (KeyError, ValueError, TypeError):
            pass  # published notebook: a bad record ends this file's referring items
        try:
            for qa in data.get("qa_pairs", []) or []:
                if "question" not in qa or "answer" not in qa or "type" not in qa:
                    continue
                if not vqa_kept(qa["question"], qa["answer"]):
                    continue
                qtype = str(qa["type"]).strip().lower()
                if qtype not in RAW_QA_TYPES:
                    raise ValueError(f"unknown QA type {qtype!r}")
                vqas.append({
                    "image_id": image, "question": qa["question"],
                    "ground_truth": qa["answer"], "dataset": dataset,
                    "question_id": len(vqas), "type": qtype,
                })
        except (KeyError, ValueError, TypeError):
            pass  # published notebook: a bad record ends this file's QA items
        if "caption" in data:
            caps.append({
                "image_id": image, "ground_truth": data["caption"],
                "question": "Describe the image in detail", "dataset": dataset,
                "question_id": len(caps), "type": "caption",
            })
    return {"caption": caps, "referring": refs, "vqa": vqas}


def build_training_records(annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """LLaVA-style training records with the task tags ``[caption]``, ``[refer]``, ``[vqa]``.

    The release's exact prompt wording was not retrieved (a third party's summary gives the
    tags and counts); this writes one record per caption, object and kept QA pair.
    """
    ev = build_eval(annotations)
    out: list[dict[str, Any]] = []

    def rec(image: str, prompt: str, answer: str) -> None:
        out.append({"id": f"{len(out)}", "image": image, "conversations": [
            {"from": "human", "value": f"<image>\n{prompt}"},
            {"from": "gpt", "value": answer}]})

    for c in ev["caption"]:
        rec(c["image_id"], "[caption] Describe the image in detail", c["ground_truth"])
    for r in ev["referring"]:
        rec(r["image_id"], f"[refer] {r['question']}", r["ground_truth"])
    for q in ev["vqa"]:
        rec(q["image_id"], f"[vqa] {q['question']}", q["ground_truth"])
    return out
