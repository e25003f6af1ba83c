"""The VRSBench scorers, exactly as published (``eval_fianl/compute_metrics.ipynb``,
``eval_utils.py``, ``eval_vqa_gpt.ipynb`` and ``vsubhashini/caption-eval``).

Prediction records are dicts ``{image_id, question_id, question, ground_truth, answer,
type[, is_unique | unique][, correct]}`` (one JSONL line each); ``type`` is ``"caption"``,
``"ref"`` or a VQA type. All reported values are percentages except CLAIR (0-1) and Avg_L.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ...errors import InvalidInputError
from .data import QA_TYPES

__all__ = [
    "VQA_TYPE_FOLD",
    "caption_scores",
    "compute_iou",
    "grounding_scores",
    "score_predictions",
    "vqa_match",
    "vqa_scores",
]

#: Raw types folded into the 10 reported ones (eval_vqa_gpt.ipynb).
VQA_TYPE_FOLD = {"image": "scene type", "rural or urban": "scene type"}
_SHORT_ANSWERS = frozenset(["yes", "no", *map(str, range(100))])

Judge = Callable[[str, str, str], str]


# ----------------------------------------------------------------------------- captioning
def _clean(text: Any) -> str:
    """Notebook: ``strip().replace('\\n', ' ')``; caption-eval: ``decode('ascii', 'ignore')``.
    Tabs would split the TSV column, so they become spaces as well."""
    s = str(text).strip().replace("\n", " ").replace("\t", " ")
    return s.encode("ascii", "ignore").decode("ascii")


def caption_scores(records: Iterable[Mapping[str, Any]], meteor: bool = True
                   ) -> dict[str, float]:
    """BLEU-1..4, METEOR, ROUGE_L, CIDEr (x100, corpus level) and Avg_L.

    The published route: ``(image_id, ground_truth)`` and ``(image_id, answer)`` pairs ->
    caption-eval (non-ASCII dropped; one prediction per image, the first; every reference of
    that image) -> ``pycocoevalcap``'s PTBTokenizer and the Bleu(4), Meteor, Rouge, Cider
    scorers over the whole set (CIDEr's document frequencies come from all references, so
    it is not 0 with one reference per image: issue lx709/VRSBench#2). SPICE is not part of
    the VRSBench table and is not run. Avg_L: mean whitespace word count of the predictions
    (before the ASCII filter). Needs Java for the tokenizer and METEOR.
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    refs: dict[str, list[dict[str, str]]] = {}
    preds: dict[str, list[dict[str, str]]] = {}
    lengths: list[int] = []
    for r in records:
        img = r.get("image_id")
        if img is None:
            continue
        key = str(img)
        raw = str(r.get("answer", "")).strip().replace("\n", " ")
        lengths.append(len(raw.split()))
        refs.setdefault(key, []).append({"caption": _clean(r.get("ground_truth", ""))})
        if key not in preds:
            preds[key] = [{"caption": _clean(raw)}]
    if not preds:
        raise InvalidInputError("no caption predictions to score")
    tok = PTBTokenizer()
    gts = tok.tokenize(refs)
    res = tok.tokenize(preds)
    out: dict[str, float] = {}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    for n, v in enumerate(bleu, 1):
        out[f"BLEU-{n}"] = 100.0 * float(v)
    if meteor:
        out["METEOR"] = 100.0 * float(_shared_meteor(Meteor).compute_score(gts, res)[0])
    out["ROUGE_L"] = 100.0 * float(Rouge().compute_score(gts, res)[0])
    out["CIDEr"] = 100.0 * float(Cider().compute_score(gts, res)[0])
    out["Avg_L"] = float(sum(lengths) / len(lengths))
    out["n"] = float(len(preds))
    return out


_METEOR: list[Any] = []


def _shared_meteor(factory: Callable[[], Any]) -> Any:
    if not _METEOR:
        import atexit

        _METEOR.append(factory())
        atexit.register(_close_meteor, _METEOR[0])
    return _METEOR[0]


def _close_meteor(meteor: Any) -> None:
    proc = getattr(meteor, "meteor_p", None)
    if proc is None:
        return
    with meteor.lock:
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------------------ grounding
def compute_iou(b1: list[int], b2: list[int]) -> tuple[float, int, int]:
    """IoU, intersection and union of two ``[x1, y1, x2, y2]`` boxes on the 0-100 integer
    grid with the **+1 pixel convention** of ``eval_utils.computeIoU``: a box covers
    ``(x2 - x1 + 1) * (y2 - y1 + 1)`` cells. A zero union raises ``ZeroDivisionError``."""
    x1, y1, x2, y2 = b1
    x3, y3, x4, y4 = b2
    inter = max(0, min(x2, x4) - max(x1, x3) + 1) * max(0, min(y2, y4) - max(y1, y3) + 1)
    union = (x2 - x1 + 1) * (y2 - y1 + 1) + (x4 - x3 + 1) * (y4 - y3 + 1) - inter
    return inter / union, inter, union


def _unique_flag(r: Mapping[str, Any]) -> Any:
    return r["is_unique"] if "is_unique" in r else r.get("unique")


def grounding_scores(records: Iterable[Mapping[str, Any]],
                     thresholds: tuple[float, ...] = (0.5, 0.7)) -> dict[str, float]:
    """Acc@0.5/0.7, meanIoU, cumIoU (x100) on all / unique / non-unique items.

    Ground truth and prediction are parsed with ``re.findall(r"\\d+")`` and their first
    four integers used. A prediction with fewer than four integers (or a zero union) is
    invalid: no hit, but it stays in the denominator (``total_count``); meanIoU divides by
    ``total_count`` too, cumIoU = sum(I) / sum(U) over the valid ones. Subsets follow the
    item's ``is_unique`` (or the EVAL file's ``unique``): ``in [1]`` / ``in [0]``.
    """
    recs = list(records)
    out: dict[str, float] = {}
    for name, keep in (("all", (1, 0)), ("unique", (1,)), ("non_unique", (0,))):
        total = valid = 0
        hits = [0] * len(thresholds)
        cum_i = cum_u = 0
        mean_iou = 0.0
        for r in recs:
            if _unique_flag(r) not in keep:
                continue
            total += 1
            gt = [int(v) for v in re.findall(r"\d+", str(r.get("ground_truth", "")))]
            pred = [int(v) for v in re.findall(r"\d+", str(r.get("answer", "")))]
            try:
                iou, inter, union = compute_iou(gt[:4], pred[:4])
            except (ValueError, ZeroDivisionError):
                continue
            mean_iou += iou
            cum_i += inter
            cum_u += union
            for k, t in enumerate(thresholds):
                hits[k] += int(iou >= t)
            valid += 1
        if total == 0:
            continue
        sfx = "" if name == "all" else f"_{name}"
        for k, t in enumerate(thresholds):
            out[f"Acc@{t}{sfx}"] = 100.0 * hits[k] / total
        out[f"meanIoU{sfx}"] = 100.0 * mean_iou / total
        out[f"cumIoU{sfx}"] = 100.0 * cum_i / cum_u if cum_u else float("nan")
        out[f"n{sfx}"] = float(total)
        out[f"n_valid{sfx}"] = float(valid)
    if not out:
        raise InvalidInputError("no grounding predictions to score")
    return out


# ------------------------------------------------------------------------------------ VQA
def vqa_match(question: str, ground_truth: str, predicted: str, judge: Judge | None,
              cached: Any = None) -> str:
    """``"1"`` / ``"0"`` (or the judge's raw reply) for one VQA item.

    Lower-cased; correct when the ground truth is a substring of the prediction; otherwise a
    ground truth ``yes``/``no``/``0``-``99`` needs an exact match; otherwise a cached
    ``correct`` of ``"1"``/``"0"`` is reused, else the judge decides (gpt-4o-mini in the
    paper). With ``judge=None`` such items count as wrong (``"0"``).
    """
    gt = str(ground_truth).lower()
    pred = str(predicted).lower()
    if gt in pred:
        return "1"
    if gt in _SHORT_ANSWERS:
        return "1" if gt == pred else "0"
    if cached in ("1", "0"):
        return str(cached)
    if judge is None:
        return "0"
    return judge(question, gt, pred)


def vqa_scores(records: Iterable[Mapping[str, Any]], judge: Judge | None = None
               ) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Per-type accuracy (x100), ``All`` = unweighted mean over the reported types present
    (the 10 of :data:`QA_TYPES`), ``Overall`` = correct / total; plus the judged records.

    An item counts as correct only when its match is exactly ``"1"`` (a judge reply such as
    ``"1."`` counts as wrong, as published). Unknown types count in ``Overall`` only.
    """
    correct = total = 0
    per_c = dict.fromkeys(QA_TYPES, 0)
    per_t = dict.fromkeys(QA_TYPES, 0)
    judged: list[dict[str, Any]] = []
    for r in records:
        q = str(r.get("question", ""))
        m = vqa_match(q, str(r.get("ground_truth", "")), str(r.get("answer", "")), judge,
                      r.get("correct"))
        qt = str(r.get("type", "")).lower()
        qt = VQA_TYPE_FOLD.get(qt, qt)
        total += 1
        if qt in per_t:
            per_t[qt] += 1
        if m == "1":
            correct += 1
            if qt in per_c:
                per_c[qt] += 1
        judged.append({**r, "correct": m})
    if total == 0:
        raise InvalidInputError("no VQA predictions to score")
    out: dict[str, float] = {}
    accs = []
    for t in QA_TYPES:
        if per_t[t]:
            out[t] = 100.0 * per_c[t] / per_t[t]
            accs.append(out[t])
    out["All"] = float(sum(accs) / len(accs)) if accs else float("nan")
    out["Overall"] = 100.0 * correct / total
    out["n"] = float(total)
    return out, judged


# ---------------------------------------------------------------------------- dispatching
def score_predictions(records: Iterable[Mapping[str, Any]], judge: Judge | None = None,
                      captions: bool = True) -> dict[str, dict[str, float]]:
    """Split a mixed prediction file by ``type`` and score each task present."""
    caps: list[Mapping[str, Any]] = []
    refs: list[Mapping[str, Any]] = []
    vqas: list[Mapping[str, Any]] = []
    for i, r in enumerate(records):
        for k in ("ground_truth", "answer", "type"):
            if k not in r:
                raise InvalidInputError(f"prediction {i}: missing key {k!r}")
        t = str(r["type"]).lower()
        (caps if t == "caption" else refs if t == "ref" else vqas).append(r)
    out: dict[str, dict[str, float]] = {}
    if caps and captions:
        out["caption"] = caption_scores(caps)
    if refs:
        out["referring"] = grounding_scores(refs)
    if vqas:
        out["vqa"] = vqa_scores(vqas, judge)[0]
    if not out:
        raise InvalidInputError("no predictions to score")
    return out
