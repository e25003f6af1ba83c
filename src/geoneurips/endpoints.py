"""The one OpenAI-compatible chat-completions client of the project (shared layer).

G3's LMM and VRSBench's runner and judges talk to any server a user runs (vLLM, llama.cpp,
Ollama, ...) through :func:`post_chat`; nothing here imports a heavy library.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

from .errors import GeoNeuripsError

__all__ = ["EndpointError", "chat_url", "image_data_url", "post_chat"]


class EndpointError(GeoNeuripsError):
    """The OpenAI-compatible server could not be reached or answered badly."""


def chat_url(base_url: str) -> str:
    """``base_url`` with ``/chat/completions`` appended unless it already ends with it."""
    url = base_url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


def image_data_url(image: bytes) -> str:
    """``data:<mime>;base64,...`` for encoded image bytes (MIME from the magic bytes: PNG,
    GIF, WebP, else JPEG)."""
    if image.startswith(b"\x89PNG"):
        mime = "image/png"
    elif image.startswith(b"GIF8"):
        mime = "image/gif"
    elif image[:4] == b"RIFF" and image[8:12] == b"WEBP":
        mime = "image/webp"
    else:
        mime = "image/jpeg"
    return f"data:{mime};base64," + base64.b64encode(image).decode("ascii")


def post_chat(url: str, body: dict[str, Any], *, api_key: str | None = None,
              timeout: float = 60.0) -> dict[str, Any]:
    """POST ``body`` to the chat-completions ``url``; the decoded JSON object.

    Raises:
        EndpointError: HTTP error (``HTTP <code>``), unreachable server (``cannot reach``),
            a reply that is not JSON or not a JSON object.
    """
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    req = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"), headers=headers,
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            data = json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as err:
        raise EndpointError(f"server {url} answered HTTP {err.code}: {err.reason}") from err
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise EndpointError(f"cannot reach the server {url}: {err}") from err
    except json.JSONDecodeError as err:
        raise EndpointError(f"server {url} returned invalid JSON: {err}") from err
    if not isinstance(data, dict):
        raise EndpointError(f"server {url} returned {type(data).__name__}, not an object")
    return data
