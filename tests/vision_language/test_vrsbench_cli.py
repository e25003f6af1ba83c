"""``vrsbench-eval`` on a prediction file built from the published examples, and the
OpenAI-compatible paths (``vrsbench-run``, the endpoint VQA judge, CLAIR) against a local
stub server that each test starts and stops."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from geoneurips.errors import InvalidInputError
from geoneurips.vision_language.vrsbench.cli import vrsbench_eval, vrsbench_run
from geoneurips.vision_language.vrsbench.judges import (
    EndpointClair,
    EndpointClient,
    EndpointError,
    MiniLMClair,
    MiniLMJudge,
)
from geoneurips.vision_language.vrsbench.synthetic import write_fixture

from .test_vrsbench_metrics import GROUNDING, published_caption_records, published_reference


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("vrsbench-eval")(vrsbench_eval)
    app.command("vrsbench-run")(vrsbench_run)
    return app


class _Stub(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Stub.requests.append({"path": self.path, "body": body})
        if body.get("model") == "broken":
            self.send_response(500)
            self.end_headers()
            return
        content = body["messages"][0]["content"]
        text = next(c["text"] for c in content if c["type"] == "text")
        if text.startswith("[refer]"):
            reply = "{<10><10><30><30>}"
        elif text.startswith("[vqa]"):
            reply = "yes"
        elif text.startswith("[caption]"):
            reply = "an aerial image of an urban area."
        elif "Ground Truth Answer" in text:
            reply = "1"
        elif "Candidate set" in text:
            reply = 'Sure: {"score": 75, "reason": "same scene"}'
        else:
            reply = "?"
        data = json.dumps({"choices": [{"message": {"role": "assistant",
                                                    "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def stub(serve_local: Callable[[type[BaseHTTPRequestHandler]], str]) -> str:
    _Stub.requests = []
    return serve_local(_Stub)


@pytest.mark.slow
def test_eval_reproduces_published_scorer(tmp_path: Path) -> None:
    """A prediction file of the five published caption examples plus hand-worked grounding
    and VQA lines: the CLI reproduces the published route's caption numbers and the
    hand values."""
    caps = published_caption_records()
    lines = caps + [{**g, "image_id": "x", "question_id": k, "question": "s", "type": "ref"}
                    for k, g in enumerate(GROUNDING)]
    lines += [
        {"image_id": "x", "question_id": 9, "question": "q", "ground_truth": "yes",
         "answer": "Yes", "type": "object existence"},
        {"image_id": "x", "question_id": 10, "question": "q", "ground_truth": "4",
         "answer": "14", "type": "object quantity"},  # "4" in "14": correct, as published
        {"image_id": "x", "question_id": 11, "question": "q", "ground_truth": "4",
         "answer": "3", "type": "object quantity"},
    ]
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps(r) + "\n" for r in lines))
    out = tmp_path / "scores.json"
    res = CliRunner().invoke(_app(), ["vrsbench-eval", str(pred), "--judge", "none", "--json",
                                      "-o", str(out)])
    assert res.exit_code == 0, res.output
    scores = json.loads(res.output)
    assert json.loads(out.read_text()) == scores
    ref = published_reference()
    for k, v in ref.items():
        assert scores["caption"][k] == pytest.approx(v, abs=1e-9), k
    assert scores["referring"]["Acc@0.5"] == 50.0
    assert scores["referring"]["cumIoU"] == pytest.approx(100 * 250 / 390)
    assert scores["vqa"]["object existence"] == 100.0
    assert scores["vqa"]["object quantity"] == 50.0
    assert scores["vqa"]["All"] == 75.0
    assert scores["vqa_judge"]["comparable_to_paper"] is False


def test_run_against_stub_server(stub: str, tmp_path: Path) -> None:
    root = write_fixture(tmp_path / "vrs", n_images=3, seed=5)
    out = tmp_path / "pred.jsonl"
    res = CliRunner().invoke(_app(), ["vrsbench-run", "--endpoint", stub, "--root", str(root),
                                      "-o", str(out), "--limit", "2", "--model", "stub-vlm"])
    assert res.exit_code == 0, res.output
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["type"] for r in recs][:2] == ["caption", "caption"]
    assert len(recs) == 6
    assert {r["answer"] for r in recs if r["type"] == "ref"} == {"{<10><10><30><30>}"}
    assert all("is_unique" in r for r in recs if r["type"] == "ref")
    first = _Stub.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["body"]["model"] == "stub-vlm"
    img = first["body"]["messages"][0]["content"][0]["image_url"]["url"]
    assert img.startswith("data:image/png;base64,")
    # the prediction file scores, with the endpoint judge for open answers
    res = CliRunner().invoke(_app(), ["vrsbench-eval", str(out), "--judge", "endpoint",
                                      "--judge-endpoint", stub, "--json"])
    assert res.exit_code == 0, res.output
    scores = json.loads(res.output)
    assert set(scores) >= {"caption", "referring", "vqa"}
    assert scores["vqa_judge"] == {**scores["vqa_judge"], "name": "endpoint",
                                   "comparable_to_paper": True}
    judge_calls = [r for r in _Stub.requests
                   if "Ground Truth Answer" in r["body"]["messages"][0]["content"][-1]["text"]]
    vqa = [r for r in recs if r["type"] not in ("caption", "ref")]
    open_items = [r for r in vqa if r["ground_truth"].lower() not in "yes"
                  and r["ground_truth"].lower() not in ("no", *map(str, range(100)))]
    assert len(judge_calls) == len(open_items)
    assert scores["vqa"]["Overall"] == pytest.approx(
        100 * sum(r["ground_truth"].lower() in ("yes",) or r in open_items for r in vqa)
        / len(vqa))


def test_clair_and_errors(stub: str, tmp_path: Path) -> None:
    clair = EndpointClair(EndpointClient(stub))
    assert clair(["a parking lot"], ["cars in a lot"]) == pytest.approx(0.75)
    with pytest.raises(EndpointError, match="HTTP 500"):
        EndpointClient(stub, model="broken").chat("hi")
    with pytest.raises(EndpointError, match="http"):
        EndpointClient("ftp://x")
    with pytest.raises(EndpointError, match="cannot reach"):
        EndpointClient("http://127.0.0.1:9/v1", timeout=2).chat("hi")
    res = CliRunner().invoke(_app(), ["vrsbench-eval", str(tmp_path / "none.jsonl")])
    assert isinstance(res.exception, InvalidInputError)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"image_id": "a", "answer": "x"}\n')
    res = CliRunner().invoke(_app(), ["vrsbench-eval", str(bad)])
    assert isinstance(res.exception, InvalidInputError) and "ground_truth" in str(res.exception)
    res = CliRunner().invoke(_app(), ["vrsbench-run", "--endpoint", stub, "--root",
                                      str(tmp_path), "-o", str(tmp_path / "o.jsonl")])
    assert res.exception is not None and not (tmp_path / "o.jsonl").exists()


def test_minilm_stand_ins() -> None:
    """The packaged all-MiniLM-L6-v2, loaded offline: the VQA judge stand-in and CLAIR
    stand-in (not comparable to the paper's GPT numbers)."""
    judge = MiniLMJudge()
    assert judge("q", "football field", "soccer pitch") == "1"  # the prompt's synonyms
    assert judge("q", "harbor", "harbour") == "1"
    assert judge("q", "harbor", "airplane") == "0"
    clair = MiniLMClair()
    close = clair(["many cars parked in a parking lot"], ["a parking lot full of vehicles"])
    far = clair(["a tennis court next to a river"], ["a parking lot full of vehicles"])
    assert 0 <= far < close <= 1
