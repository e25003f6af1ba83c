"""Prediction files from an OpenAI-compatible vision-language server, and scoring them.

:func:`run_endpoint` sends every EVAL item (image + prompt) to ``{endpoint}/chat/completions``
and writes the JSONL the published scorers read (``image_id, question_id, question,
ground_truth, answer, type[, is_unique]``). :func:`evaluate_file` scores such a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import DataNotFoundError, InvalidInputError
from ...io import atomic_path
from .data import HF_URL, read_eval_caption, read_eval_referring, read_eval_vqa, read_jsonl

__all__ = ["EVAL_FILES", "PROMPTS", "evaluate_file", "make_judge", "run_endpoint"]

EVAL_FILES = {"caption": "VRSBench_EVAL_Cap.json", "referring": "VRSBench_EVAL_referring.json",
              "vqa": "VRSBench_EVAL_vqa.json"}

#: Prompts per task (the fine-tuned models of the paper take task tags; the exact
#: wording is a choice of this runner, override it with ``prompts=``).
PROMPTS = {
    "caption": "[caption] {question}",
    "referring": "[refer] {question} Answer with the bounding box as {{<x1><y1><x2><y2>}} "
                 "with coordinates on a 0-100 grid.",
    "vqa": "[vqa] {question} Answer with a single word or phrase.",
}

_READERS: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
    "caption": read_eval_caption, "referring": read_eval_referring, "vqa": read_eval_vqa}


def _image_index(root: Path, split: str) -> dict[str, Path]:
    dirs = [p for p in [root / f"Images_{split}", *root.glob(f"**/Images_{split}")] if p.is_dir()]
    if not dirs:
        raise DataNotFoundError("VRSBench images", root, [f"Images_{split}/"], HF_URL,
                                f"root/Images_{split}/*.png")
    return {p.name: p for p in dirs[0].glob("**/*") if p.is_file()}


def run_endpoint(endpoint: str, root: str | Path, output: str | Path, *,
                 tasks: tuple[str, ...] = ("caption", "referring", "vqa"), split: str = "val",
                 model: str = "default", limit: int | None = None,
                 prompts: dict[str, str] | None = None, api_key: str | None = None,
                 timeout: float = 120.0) -> dict[str, int]:
    """Query the server for every item of the chosen EVAL files; write ``output`` (JSONL,
    atomically). Returns the number of items per task. ``limit`` caps items per task."""
    from .judges import EndpointClient

    root = Path(root)
    bad = [t for t in tasks if t not in EVAL_FILES]
    if bad:
        raise InvalidInputError(f"unknown task(s) {bad}; choose from {list(EVAL_FILES)}")
    client = EndpointClient(endpoint, model=model, api_key=api_key, timeout=timeout)
    prompts = {**PROMPTS, **(prompts or {})}
    items = {t: _READERS[t](root / EVAL_FILES[t])[:limit] for t in tasks}
    images = _image_index(root, split)
    counts: dict[str, int] = {}
    with atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for task in tasks:
            for it in items[task]:
                img = images.get(str(it["image_id"]))
                if img is None:
                    raise DataNotFoundError("VRSBench image", root / f"Images_{split}",
                                            [str(it["image_id"])], HF_URL,
                                            f"root/Images_{split}/")
                answer = client.chat(prompts[task].format(question=it["question"]), image=img)
                rec = {"image_id": it["image_id"], "question_id": it["question_id"],
                       "question": it["question"], "ground_truth": it["ground_truth"],
                       "answer": answer, "type": it["type"]}
                if task == "referring":
                    rec["is_unique"] = int(bool(it["unique"]))
                f.write(json.dumps(rec) + "\n")
            counts[task] = len(items[task])
    return counts


def make_judge(kind: str, endpoint: str | None = None, model: str = "gpt-4o-mini",
               threshold: float = 0.8) -> Any:
    """``"none"`` (items needing a judge count as wrong), ``"minilm"`` (offline stand-in,
    not comparable to the paper) or ``"endpoint"`` (the paper's judge prompt)."""
    from .judges import EndpointClient, EndpointJudge, MiniLMJudge

    if kind == "none":
        return None
    if kind == "minilm":
        return MiniLMJudge(threshold)
    if kind == "endpoint":
        if not endpoint:
            raise InvalidInputError("--judge endpoint needs --judge-endpoint URL")
        return EndpointJudge(EndpointClient(endpoint, model=model))
    raise InvalidInputError(f"unknown judge {kind!r}: none, minilm or endpoint")


def evaluate_file(path: str | Path, judge: Any = None) -> dict[str, Any]:
    """Score a prediction JSONL (any mix of caption / ref / VQA lines)."""
    from .metrics import score_predictions

    records = read_jsonl(path)
    if not records:
        raise InvalidInputError(f"{path}: no predictions")
    scores: dict[str, Any] = dict(score_predictions(records, judge))
    if "vqa" in scores:
        scores["vqa_judge"] = {
            "name": getattr(judge, "name", "none"),
            "comparable_to_paper": bool(getattr(judge, "comparable", False)),
            "note": "the paper judges non-shortcut VQA items with gpt-4o-mini; the offline "
                    "MiniLM stand-in and 'none' are not comparable to the paper's numbers",
        }
    return scores
