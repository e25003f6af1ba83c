"""G3's geo-diversification (Sec. 3.3): prompts, coordinate parsing and the LMM interface.

The LMM (GPT-4V in the paper) gets the query image with a **zero-shot** prompt and with
**RAG** prompts that list the GPS of the K most similar and K most dissimilar ("reverse")
database images, K in {5, 10, 15}; sampling at temperature 1.2 with ``n = 10`` answers per
prompt. Each answer is parsed with the regular expression ``[-+]?\\d+\\.\\d+``: the first two
numbers are (latitude, longitude); an answer with fewer numbers falls back to ``(0, 0)``
(the public ``aggregate_llm_predictions.py``), and so does a missing answer. A value outside
the valid range is set to 0 (the public verification step).

Implementations of :class:`LMM` (``generate(prompt, image, n, temperature) -> list[str]``):

* :class:`OpenAICompatibleLMM`: any OpenAI-compatible ``/chat/completions`` endpoint (a local
  vLLM, llama.cpp or Ollama server the user runs), image sent as a base64 data URL;
* :class:`TransformersLMM`: a local Hugging Face ``transformers`` image-text-to-text model
  folder (lazy import, ``local_files_only``, safetensors only, no remote code), sampled
  with the published settings whatever the folder's ``generation_config.json`` says;
* :class:`ScriptedLMM`: fixed replies (tests);
* :class:`NeighbourVoteLMM`: a rule-based stand-in used by the demo. It cannot see the image
  and has no world knowledge: it reads the similar coordinates in the RAG prompt and answers
  the ones with most other similar coordinates within ``radius_km`` (a density vote); to a
  zero-shot prompt it answers text with no coordinates (parsed as ``(0, 0)``). It is **not**
  the paper's LMM; what it contributes is exactly a top-K retrieval vote.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from geoneurips.endpoints import EndpointError, chat_url, image_data_url, post_chat
from geoneurips.errors import (
    CheckpointError,
    DependencyMissingError,
    GeoNeuripsError,
    InvalidInputError,
)
from geoneurips.io import safe_pretrained_folder
from geoneurips.metrics.geodesic import haversine_km

__all__ = [
    "COORD_PATTERN",
    "LMM",
    "LMMError",
    "NeighbourVoteLMM",
    "OpenAICompatibleLMM",
    "ScriptedLMM",
    "TransformersLMM",
    "parse_coordinates",
    "rag_prompt",
    "zero_shot_prompt",
]

COORD_PATTERN = re.compile(r"[-+]?\d+\.\d+")
_ANSWER_FORMAT = 'Reply only with JSON of the form {"latitude": float, "longitude": float}.'
_SIMILAR = "Coordinates of visually similar photos:"
_DISSIMILAR = "Coordinates of dissimilar photos:"


class LMMError(GeoNeuripsError):
    """The multimodal model could not be reached or answered something unusable."""


class LMM(Protocol):
    """A multimodal LLM: ``n`` sampled text answers to a prompt about an image."""

    def generate(
        self, prompt: str, image: bytes | None, n: int, temperature: float
    ) -> list[str]: ...


def zero_shot_prompt() -> str:
    """The zero-shot geolocalisation prompt (paraphrasing the paper's, Sec. 3.3)."""
    return (
        "You are an expert in geolocalisation. Estimate where this photo was taken, as GPS "
        "coordinates. Always give your best guess, even when unsure. " + _ANSWER_FORMAT
    )


def _fmt(latlon: np.ndarray) -> str:
    return "[" + ", ".join(f"[{a:.6f}, {b:.6f}]" for a, b in np.asarray(latlon).reshape(-1, 2)) + "]"


def rag_prompt(similar: np.ndarray, dissimilar: np.ndarray) -> str:
    """The RAG prompt with K similar and K dissimilar ``(lat, lon)`` GPS (Sec. 3.3)."""
    return (
        "You are an expert in geolocalisation. Estimate where this photo was taken, as GPS "
        f"coordinates (latitude, longitude). For reference: {_SIMILAR} {_fmt(similar)}. "
        f"{_DISSIMILAR} {_fmt(dissimilar)}. Always give your best guess, even when unsure. "
        + _ANSWER_FORMAT
    )


def parse_coordinates(text: str | None) -> tuple[float, float]:
    """``(lat, lon)`` from an answer: the first two numbers matching ``[-+]?\\d+\\.\\d+``.

    Fewer than two numbers (or ``None``) gives ``(0.0, 0.0)``; a latitude outside [-90, 90]
    or a longitude outside [-180, 180] is set to 0.
    """
    if not text:
        return 0.0, 0.0
    found = COORD_PATTERN.findall(text)
    if len(found) < 2:
        return 0.0, 0.0
    lat, lon = float(found[0]), float(found[1])
    return (lat if abs(lat) <= 90 else 0.0), (lon if abs(lon) <= 180 else 0.0)


class ScriptedLMM:
    """Fixed replies: a list (cycled to ``n``) or a function of the prompt. Records prompts."""

    def __init__(self, replies: Sequence[str] | Callable[[str], Sequence[str]]) -> None:
        self.replies = replies
        self.prompts: list[str] = []

    def generate(self, prompt: str, image: bytes | None, n: int, temperature: float) -> list[str]:
        self.prompts.append(prompt)
        rep = list(self.replies(prompt) if callable(self.replies) else self.replies)
        if not rep:
            return [""] * n
        return [rep[i % len(rep)] for i in range(n)]


class NeighbourVoteLMM:
    """Rule-based stand-in (demo): answers the densest similar coordinates of a RAG prompt.

    Sees neither the image nor the truth; ignores ``temperature`` (deterministic).
    """

    def __init__(self, radius_km: float = 200.0) -> None:
        self.radius_km = radius_km

    def generate(self, prompt: str, image: bytes | None, n: int, temperature: float) -> list[str]:
        if _SIMILAR not in prompt:
            return ["I cannot tell where this photo was taken."] * n
        part = prompt.split(_SIMILAR, 1)[1].split(_DISSIMILAR, 1)[0]
        nums = [float(v) for v in COORD_PATTERN.findall(part)]
        pts = np.asarray(nums[: len(nums) // 2 * 2], dtype=np.float64).reshape(-1, 2)
        if len(pts) == 0:
            return ["no idea"] * n
        d = haversine_km(pts[:, None, 0], pts[:, None, 1], pts[None, :, 0], pts[None, :, 1])
        votes = (d < self.radius_km).sum(1)
        order = sorted(range(len(pts)), key=lambda i: (-int(votes[i]), i))
        answers = [f'{{"latitude": {pts[i, 0]:.6f}, "longitude": {pts[i, 1]:.6f}}}' for i in order]
        return [answers[i % len(answers)] for i in range(n)]


def _choices_text(payload: dict[str, Any]) -> list[str]:
    out = []
    for choice in payload.get("choices", []) or []:
        content = (choice.get("message") or {}).get("content") if isinstance(choice, dict) else None
        if isinstance(content, list):  # some servers return content parts
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        out.append(content if isinstance(content, str) else '{"latitude": 0.0, "longitude": 0.0}')
    return out


class OpenAICompatibleLMM:
    """An OpenAI-compatible chat-completions endpoint (any server the user runs).

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1`` (``/chat/completions`` is appended unless
            the URL already ends with it).
        model: the model name the server expects.
        api_key: sent as ``Authorization: Bearer``; ``None`` sends none.
        timeout: seconds per request.
        max_tokens, detail: as in the public ``llm_predict.py`` (200, ``"low"``).

    A server that returns fewer than ``n`` choices is asked again until ``n`` are collected
    (at most ``n`` requests).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_tokens: int = 200,
        detail: str = "low",
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidInputError(f"base_url must start with http:// or https://: {base_url!r}")
        self.url = chat_url(base_url)
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.detail = detail

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return post_chat(self.url, body, api_key=self.api_key, timeout=self.timeout)
        except EndpointError as err:
            raise LMMError(f"LMM {err}") from err

    def generate(self, prompt: str, image: bytes | None, n: int, temperature: float) -> list[str]:
        content: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
        if image is not None:
            content.append(
                {
                    "type": "image_url",
                    "image_url": {"url": image_data_url(image), "detail": self.detail},
                }
            )
        out: list[str] = []
        for _ in range(max(n, 1)):
            body = {
                "model": self.model,
                "messages": [{"role": "user", "content": content}],
                "max_tokens": self.max_tokens,
                "temperature": temperature,
                "n": n - len(out),
            }
            got = _choices_text(self._post(body))
            if not got:
                raise LMMError(f"LMM server {self.url} returned no choices")
            out.extend(got)
            if len(out) >= n:
                break
        return out[:n]


#: special-token ids kept from a model folder's ``generation_config.json`` (everything else in
#: it, e.g. Qwen2-VL's shipped ``top_k=1, top_p=0.001, temperature=0.01``, is replaced)
_TOKEN_IDS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id")
class TransformersLMM:
    """A local Hugging Face image-text-to-text model folder, loaded safely and offline.

    ``transformers`` is imported and the model loaded on the first :meth:`generate` call,
    through ``AutoProcessor`` / ``AutoModelForImageTextToText`` with
    ``local_files_only=True`` (nothing is downloaded), ``use_safetensors=True`` (no pickles;
    see :func:`safe_pretrained_folder`) and ``trust_remote_code=False``. One user turn holds
    the prompt text, then the image (the order of the public ``llm_predict.py`` and
    ``llm_predict_hf.py``), formatted by the processor's chat template; only the new tokens
    are decoded.

    Sampling follows the paper's settings (the public ``llm_predict.py``'s GPT-4V request:
    the caller's temperature, 1.2 in G3, ``n`` answers, ``max_tokens`` 200, the API's
    default ``top_p`` 1 and no top-k): by default ``top_k`` is 0 and ``top_p`` 1.0 whatever
    the folder's ``generation_config.json`` says (``transformers`` would otherwise apply the
    folder's presets, or its own ``top_k=50``); only its special-token ids are kept.
    Temperature 0 decodes greedily once and repeats the answer ``n`` times. The public
    ``llm_predict_hf.py`` (LLaVA-NeXT) samples at temperature 0.7 with transformers'
    defaults (top-k 50): ``TransformersLMM(path, top_k=50)`` with ``G3Geolocator(...,
    temperature=0.7)`` reproduces it.

    Raises:
        InvalidInputError: the folder or its ``config.json`` is missing.
        CheckpointError: unsafe or unloadable weights / processor (see above).
    """

    def __init__(
        self, path: str | Path, max_new_tokens: int = 200, top_k: int = 0, top_p: float = 1.0
    ) -> None:
        self.path = safe_pretrained_folder(path, "model")
        if max_new_tokens < 1:
            raise InvalidInputError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if top_k < 0 or not 0.0 < top_p <= 1.0:
            raise InvalidInputError(f"need top_k >= 0 and 0 < top_p <= 1, got {top_k}, {top_p}")
        self.max_new_tokens = max_new_tokens
        self.top_k, self.top_p = top_k, top_p
        self._model: Any = None
        self._processor: Any = None

    def _load(self) -> None:
        try:
            import transformers
        except ImportError as err:  # pragma: no cover - transformers is a dependency
            raise DependencyMissingError("transformers", "a local LMM") from err
        auto: Any = transformers
        kw: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
        try:
            processor = auto.AutoProcessor.from_pretrained(str(self.path), **kw)
            model = auto.AutoModelForImageTextToText.from_pretrained(
                str(self.path), use_safetensors=True, **kw
            )
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"cannot load the local LMM in {str(self.path)!r}: {err}") from err
        if getattr(processor, "chat_template", None) is None:
            raise CheckpointError(
                f"the processor in {str(self.path)!r} has no chat template (chat_template.jinja "
                "or chat_template.json); the prompt cannot be formatted"
            )
        self._processor, self._model = processor, model.eval()

    def generation_config(self, n: int, temperature: float) -> Any:
        """The ``GenerationConfig`` of one call: the published sampling settings."""
        import transformers

        gen_config: Any = transformers.GenerationConfig
        if self._model is None:
            self._load()
        # transformers 5 fills every unset (None) field from the folder's config, then from
        # its global defaults: start from those defaults so that no folder preset leaks in
        defaults = getattr(gen_config, "_get_default_generation_params", dict)
        params: dict[str, Any] = dict(defaults())
        own = self._model.generation_config
        params.update({k: getattr(own, k) for k in _TOKEN_IDS if getattr(own, k, None) is not None})
        params.pop("max_length", None)  # max_new_tokens decides
        params.update(max_new_tokens=self.max_new_tokens, do_sample=temperature > 0)
        if temperature > 0:
            params.update(temperature=float(temperature), top_k=self.top_k, top_p=self.top_p,
                          num_return_sequences=n)
        return gen_config(**params)

    def generate(self, prompt: str, image: bytes | None, n: int, temperature: float) -> list[str]:
        import io

        import torch

        if n < 1:
            return []
        if self._model is None:
            self._load()
        content: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
        images = None
        if image is not None:
            from PIL import Image, UnidentifiedImageError

            try:
                images = [Image.open(io.BytesIO(image)).convert("RGB")]
            except (UnidentifiedImageError, OSError) as err:
                raise InvalidInputError(f"the query image is not a readable image: {err}") from err
            content.append({"type": "image"})  # after the text, as the public scripts send it
        text = self._processor.apply_chat_template(
            [{"role": "user", "content": content}], add_generation_prompt=True
        )
        inputs = self._processor(text=[text], images=images, return_tensors="pt")
        with torch.no_grad():
            ids = self._model.generate(**inputs, generation_config=self.generation_config(n, temperature))
        new = ids[:, inputs["input_ids"].shape[1] :]
        out = [str(s) for s in self._processor.batch_decode(new, skip_special_tokens=True)]
        return out if len(out) >= n else [out[i % len(out)] for i in range(n)]
