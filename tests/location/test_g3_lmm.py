"""G3 geo-diversification: prompts, coordinate parsing and the LMM implementations.

The OpenAI-compatible client is tested against a local stub server (``http.server`` on
127.0.0.1 in a thread, stopped after the test); the transformers LMM here through its error
on a missing model folder, and on a real tiny random LLaVA folder in
``test_g3_transformers_lmm.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geoneurips.errors import InvalidInputError
from geoneurips.location.g3.lmm import (
    LMMError,
    NeighbourVoteLMM,
    OpenAICompatibleLMM,
    ScriptedLMM,
    TransformersLMM,
    parse_coordinates,
    rag_prompt,
    zero_shot_prompt,
)


class _Stub(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    status = 200
    per_call = 10

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body["_path"] = self.path
        body["_auth"] = self.headers.get("Authorization")
        type(self).requests.append(body)
        if type(self).status != 200:
            self.send_response(type(self).status)
            self.end_headers()
            return
        k = min(int(body.get("n", 1)), type(self).per_call)
        choices = [
            {"message": {"content": f'{{"latitude": {10 + i}.5, "longitude": -{20 + i}.25}}'}}
            for i in range(k)
        ]
        out = json.dumps({"choices": choices}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture
def stub(serve_local: Callable[[type[BaseHTTPRequestHandler]], str]) -> str:
    _Stub.requests = []
    _Stub.status = 200
    _Stub.per_call = 10
    return serve_local(_Stub)


def test_parse_coordinates_published_rules() -> None:
    assert parse_coordinates('{"latitude": 48.8566, "longitude": 2.3522}') == (48.8566, 2.3522)
    assert parse_coordinates("It is at (-33.87, 151.21), Sydney.") == (-33.87, 151.21)
    assert parse_coordinates("somewhere in Paris") == (0.0, 0.0)  # published fallback
    assert parse_coordinates("lat 48 lon 2") == (0.0, 0.0)  # integers do not match \d+\.\d+
    assert parse_coordinates(None) == (0.0, 0.0)
    assert parse_coordinates("95.5, 10.5") == (0.0, 10.5)  # out of range -> 0
    assert parse_coordinates("45.5, -190.5") == (45.5, 0.0)


def test_prompts() -> None:
    sim = np.array([[48.85, 2.35], [51.5, -0.12]])
    dis = np.array([[-33.9, 151.2]])
    p = rag_prompt(sim, dis)
    assert "[48.850000, 2.350000]" in p and "[-33.900000, 151.200000]" in p
    assert p.index("48.85") < p.index("dissimilar") < p.index("-33.9")
    assert "latitude" in zero_shot_prompt() and "similar" not in zero_shot_prompt()


def test_neighbour_vote_stand_in() -> None:
    lmm = NeighbourVoteLMM(radius_km=200)
    sim = np.array([[-33.9, 151.2], [48.85, 2.35], [48.9, 2.4], [49.0, 2.2]])
    dis = np.array([[0.5, 0.5]] * 4)  # dissimilar coordinates never count
    out = lmm.generate(rag_prompt(sim, dis), None, 5, 1.2)
    assert len(out) == 5
    assert parse_coordinates(out[0]) == (48.85, 2.35)  # densest cluster, best rank first
    assert parse_coordinates(out[3]) == (-33.9, 151.2)
    assert parse_coordinates(lmm.generate(zero_shot_prompt(), None, 2, 1.2)[0]) == (0.0, 0.0)


def test_scripted_lmm_cycles_and_records() -> None:
    s = ScriptedLMM(["a 1.5 2.5", "b"])
    assert s.generate("p", None, 3, 1.0) == ["a 1.5 2.5", "b", "a 1.5 2.5"]
    assert s.prompts == ["p"]
    assert ScriptedLMM(lambda p: [p + "!"]).generate("q", None, 2, 0.0) == ["q!", "q!"]


def test_openai_compatible_client(stub: str) -> None:
    lmm = OpenAICompatibleLMM(stub, "local-vlm", api_key="k")
    out = lmm.generate("where?", b"\xff\xd8jpegbytes", 3, 1.2)
    assert [parse_coordinates(o) for o in out] == [(10.5, -20.25), (11.5, -21.25), (12.5, -22.25)]
    req = _Stub.requests[0]
    assert req["_path"] == "/v1/chat/completions" and req["_auth"] == "Bearer k"
    assert req["model"] == "local-vlm" and req["n"] == 3 and req["temperature"] == 1.2
    content = req["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "where?"}
    assert content[1]["image_url"]["url"].startswith("data:image/jpeg;base64,/9hq")


def test_openai_client_asks_again_when_n_is_ignored(stub: str) -> None:
    _Stub.per_call = 1  # a server that returns one choice per request
    out = OpenAICompatibleLMM(stub + "/chat/completions", "m").generate("p", None, 3, 1.2)
    assert len(out) == 3 and len(_Stub.requests) == 3
    assert _Stub.requests[0]["_auth"] is None
    OpenAICompatibleLMM(stub, "m").generate("p", b"\x89PNG\r\n", 1, 1.2)
    assert _Stub.requests[-1]["messages"][0]["content"][1]["image_url"]["url"].startswith(
        "data:image/png;base64,"
    )


def test_openai_client_errors(stub: str) -> None:
    _Stub.status = 500
    with pytest.raises(LMMError, match="HTTP 500"):
        OpenAICompatibleLMM(stub, "m").generate("p", None, 1, 1.2)
    with pytest.raises(LMMError, match="cannot reach"):
        OpenAICompatibleLMM("http://127.0.0.1:9/v1", "m", timeout=2).generate("p", None, 1, 1.0)
    with pytest.raises(InvalidInputError):
        OpenAICompatibleLMM("ftp://x", "m")


def test_transformers_lmm_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not found"):
        TransformersLMM(tmp_path / "nope")
    with pytest.raises(InvalidInputError, match="config.json"):
        TransformersLMM(tmp_path)
