"""The project's one MiniLM sentence encoder against the sentence-transformers pipeline of
the same folder (the independent reference)."""

from __future__ import annotations

import numpy as np

from geoneurips.nn.text_encoders import encode_texts, load_minilm


def test_encode_texts_equals_sentence_transformers() -> None:
    texts = ["a dense residential block with a church", "farmland beside a river",
             "a", "a much longer caption " * 200, "Ünïcödé harbour, pier 3"]
    ref = load_minilm().encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    got = encode_texts(texts, batch_size=2)
    assert got.shape == (5, 384) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert encode_texts([]).shape == (0, 384)
