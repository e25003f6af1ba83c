"""``geoneurips vrsbench-eval`` and ``geoneurips vrsbench-run``.

No heavy import at module level.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["vrsbench_eval", "vrsbench_run"]


def vrsbench_eval(
    predictions: Annotated[Path, typer.Argument(help="prediction JSONL (image_id, question_id, "
                                                "question, ground_truth, answer, type)")],
    judge: Annotated[str, typer.Option("--judge", help="VQA judge for items the shortcut "
                                       "rules leave open: minilm (offline stand-in, "
                                       "default), endpoint, none")] = "minilm",
    judge_endpoint: Annotated[str | None, typer.Option(
        "--judge-endpoint", help="OpenAI-compatible base URL for --judge endpoint")] = None,
    judge_model: Annotated[str, typer.Option("--judge-model")] = "gpt-4o-mini",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write JSON")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Score a VRSBench prediction file with the published scorers.

    Captioning: pycocoevalcap BLEU-1..4, METEOR, ROUGE_L, CIDEr at corpus level (x100) and
    Avg_L (needs Java). Grounding: Acc@0.5/0.7 on the 0-100 grid with the +1 convention,
    meanIoU, cumIoU, on all / unique / non-unique. VQA: per-type accuracy with the shortcut
    rules and the judge, All = unweighted mean of the types present.
    """
    from ...io import write_json
    from .run import evaluate_file, make_judge

    scores = evaluate_file(predictions, make_judge(judge, judge_endpoint, judge_model))
    if output is not None:
        write_json(output, scores)
    if json_output:
        typer.echo(json.dumps(scores))
        return
    for task, vals in scores.items():
        typer.echo(f"[{task}]")
        for k, v in vals.items():
            typer.echo(f"  {k}: {v:.2f}" if isinstance(v, float) else f"  {k}: {v}")


def vrsbench_run(
    endpoint: Annotated[str, typer.Option("--endpoint", help="OpenAI-compatible base URL, "
                                          "e.g. http://127.0.0.1:8000/v1")],
    root: Annotated[Path, typer.Option("--root", help="folder with the EVAL JSONs and "
                                       "Images_<split>/")],
    output: Annotated[Path, typer.Option("-o", "--output", help="prediction JSONL")],
    model: Annotated[str, typer.Option("--model", help="served model name")] = "default",
    tasks: Annotated[str, typer.Option("--tasks", help="comma list of caption,referring,vqa")
                     ] = "caption,referring,vqa",
    split: Annotated[str, typer.Option("--split")] = "val",
    limit: Annotated[int | None, typer.Option("--limit", help="items per task")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds per request")] = 120.0,
) -> None:
    """Query a vision-language server for every EVAL item; write a prediction JSONL that
    ``geoneurips vrsbench-eval`` scores."""
    from ...errors import InvalidInputError
    from .run import run_endpoint

    if limit is not None and limit < 1:
        raise InvalidInputError(f"--limit must be positive, got {limit}")
    chosen = tuple(t.strip() for t in tasks.split(",") if t.strip())
    counts = run_endpoint(endpoint, root, output, tasks=chosen, split=split, model=model,
                          limit=limit, timeout=timeout)
    typer.echo(json.dumps({"output": str(output), "items": counts}))
