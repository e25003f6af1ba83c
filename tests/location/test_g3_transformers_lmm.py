"""G3's local ``transformers`` LMM on a real (tiny, random) vision-language model folder.

The fixture builds, with nothing downloaded, a LLaVA model (``LlavaForConditionalGeneration``:
a 1-layer CLIP vision tower, a 2-layer-MLP projector and a 1-layer Llama, hidden size 16) and
its processor (``LlavaProcessor``: a byte-level BPE tokenizer trained here with the
``tokenizers`` library, a CLIP image processor at 16 px, a chat template), saved with
``save_pretrained`` in the layout ``from_pretrained`` reads. Its ``generation_config.json``
carries the sampling presets Qwen2-VL ships (``top_k=1, top_p=0.001, temperature=0.01``) to
show that G3 samples with the published settings instead. No independent VLM folder exists
offline (every real one is a multi-GB download): the independence here is that the folder is
written by ``transformers`` itself, not by our code.

Random weights answer garbage, so the published fallback ``(0, 0)`` is what an ordinary call
tests; a forced decoding (a logits processor handed to the REAL loaded model's ``generate``,
all its forward passes included) shows that a well-formed answer is decoded and parsed.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.location.g3.lmm import (
    COORD_PATTERN,
    TransformersLMM,
    parse_coordinates,
    rag_prompt,
    zero_shot_prompt,
)

transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

IMAGE_PX, PATCH = 16, 8
N_IMAGE_TOKENS = (IMAGE_PX // PATCH) ** 2  # "default" strategy drops CLIP's CLS token
ANSWER = '{"latitude": 48.8566, "longitude": 2.3522}'
_TEMPLATE = (
    "{% for m in messages %}{{ m['role'].upper() }}: {% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %} "
    "{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def _write_tiny_llava(folder: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    t = transformers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<pad>", "<s>", "</s>", "<image>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator([ANSWER, "USER: ASSISTANT: where was this photo taken"], trainer)
    fast = t.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
    )
    small = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
             "num_attention_heads": 2}
    cfg = t.LlavaConfig(
        vision_config=t.CLIPVisionConfig(**small, image_size=IMAGE_PX, patch_size=PATCH),
        text_config=t.LlamaConfig(**small, vocab_size=len(fast), num_key_value_heads=2,
                                  max_position_embeddings=512, bos_token_id=1, eos_token_id=2,
                                  pad_token_id=0),
        image_token_index=fast.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1, vision_feature_select_strategy="default",
    )
    torch.manual_seed(0)
    model = t.LlavaForConditionalGeneration(cfg)
    model.generation_config = t.GenerationConfig(  # Qwen2-VL's shipped sampling presets
        do_sample=True, top_k=1, top_p=0.001, temperature=0.01, repetition_penalty=1.05,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )
    model.save_pretrained(folder)
    t.LlavaProcessor(
        image_processor=t.CLIPImageProcessor(
            size={"shortest_edge": IMAGE_PX}, crop_size={"height": IMAGE_PX, "width": IMAGE_PX}
        ),
        tokenizer=fast, patch_size=PATCH, vision_feature_select_strategy="default",
        num_additional_image_tokens=1, chat_template=_TEMPLATE,
    ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_tiny_llava(tmp_path_factory.mktemp("vlm") / "tiny-llava")


@pytest.fixture
def photo() -> bytes:
    from PIL import Image

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (24, 30, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: any socket connection fails the test; the hub is told it is offline."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("network access while loading a local model")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def spy_generate(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[dict[str, Any]]]:
    """Record the real model's ``generate`` calls; ``extra`` kwargs are added to each."""

    def install(**extra: Any) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []
        cls = transformers.LlavaForConditionalGeneration
        real = cls.generate

        def spy(self: Any, *a: Any, **k: Any) -> Any:
            calls.append(k)
            return real(self, *a, **k, **extra)

        monkeypatch.setattr(cls, "generate", spy)
        return calls

    return install


def test_loads_offline_feeds_image_and_prompt_and_falls_back(
    tiny_vlm: Path, photo: bytes, offline: None, spy_generate: Callable[..., Any]
) -> None:
    calls = spy_generate()
    lmm = TransformersLMM(tiny_vlm, max_new_tokens=8)
    torch.manual_seed(0)
    out = lmm.generate(rag_prompt(np.array([[48.85, 2.35]]), np.array([[-33.9, 151.2]])),
                       photo, 10, 1.2)
    assert len(out) == 10 and all(isinstance(o, str) for o in out)
    k = calls[0]
    gc = k["generation_config"]  # the published settings: temperature 1.2, n 10, no top-k
    assert (gc.do_sample, gc.temperature, gc.top_k, gc.top_p) == (True, 1.2, 0, 1.0)
    assert gc.num_return_sequences == 10 and gc.repetition_penalty == 1.0
    assert tuple(k["pixel_values"].shape) == (1, 3, IMAGE_PX, IMAGE_PX)
    image_id = lmm._model.config.image_token_index
    assert int((k["input_ids"] == image_id).sum()) == N_IMAGE_TOKENS
    ids = k["input_ids"][0]
    prompt_text = lmm._processor.decode(ids, skip_special_tokens=True)
    assert "dissimilar" in prompt_text and prompt_text.rstrip().endswith("ASSISTANT:")
    # the image follows the prompt text, as the public llm_predict(_hf).py send it
    first_image = int((ids == image_id).nonzero()[0])
    assert "dissimilar" in lmm._processor.decode(ids[:first_image], skip_special_tokens=True)
    # random weights: garbage text, so every answer takes the published (0, 0) fallback
    assert all(len(COORD_PATTERN.findall(o)) < 2 for o in out)
    assert {parse_coordinates(o) for o in out} == {(0.0, 0.0)}
    # a text-only prompt has no image tokens and no pixels
    lmm.generate(zero_shot_prompt(), None, 2, 1.2)
    assert "pixel_values" not in calls[1] or calls[1]["pixel_values"] is None
    assert int((calls[1]["input_ids"] == image_id).sum()) == 0


def test_folder_sampling_presets_do_not_replace_the_published_ones(
    tiny_vlm: Path, photo: bytes
) -> None:
    """The folder says top_k=1 (one answer repeated 10 times, no diversification); G3 samples
    at temperature 1.2 without top-k, so its 10 answers differ (failed on the old code, which
    let the folder's presets apply: 10 identical answers)."""
    torch.manual_seed(0)
    out = TransformersLMM(tiny_vlm, max_new_tokens=8).generate(zero_shot_prompt(), photo, 10, 1.2)
    assert len(set(out)) >= 8
    # the public llm_predict_hf.py's settings on request: temperature 0.7, top-k 50
    gc = TransformersLMM(tiny_vlm, top_k=50).generation_config(10, 0.7)
    assert (gc.temperature, gc.top_k, gc.top_p, gc.num_return_sequences) == (0.7, 50, 1.0, 10)


def test_forced_well_formed_answer_is_decoded_and_parsed(
    tiny_vlm: Path, photo: bytes, offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A logits processor forces ANSWER + EOS on the real model's sampling loop (the forward
    passes still run); the answer comes back through decoding and the published parsing."""
    from geoneurips.location.g3.model import G3Config, G3Model
    from geoneurips.location.g3.retrieval import G3Geolocator

    lmm = TransformersLMM(tiny_vlm, max_new_tokens=40)
    lmm._load()
    tok = lmm._processor.tokenizer
    target = tok.encode(ANSWER, add_special_tokens=False) + [tok.eos_token_id]
    seen: list[int] = []

    class Force(transformers.LogitsProcessor):  # type: ignore[misc]
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            seen.append(scores.shape[-1])
            step = input_ids.shape[1] - prompt_len[0]
            forced = torch.full_like(scores, -float("inf"))
            forced[:, target[min(step, len(target) - 1)]] = 0.0
            return forced

    prompt_len = [0]
    real = transformers.LlavaForConditionalGeneration.generate

    def run(self: Any, *a: Any, **k: Any) -> Any:
        prompt_len[0] = k["input_ids"].shape[1]
        return real(self, *a, **k, logits_processor=transformers.LogitsProcessorList([Force()]))

    monkeypatch.setattr(transformers.LlavaForConditionalGeneration, "generate", run)
    out = lmm.generate(zero_shot_prompt(), photo, 10, 1.2)
    assert out == [ANSWER] * 10
    assert {parse_coordinates(o) for o in out} == {(48.8566, 2.3522)}
    assert seen and set(seen) == {len(tok)}  # the real model's vocabulary scores
    # through G3's candidate builder: top-1 + 2 answers of each prompt, all parsed
    torch.manual_seed(0)
    m = G3Model(G3Config(embed_dim=8, train_capsules=False), clip_dim=8)
    ll = np.array([[10.0, 20.0], [11.0, 21.0], [-5.0, 30.0]])
    geo = G3Geolocator(m, np.eye(3, dtype=np.float32), ll, lmm, rag_k=(2,),
                       answers_per_prompt=2, n_samples=3)
    pts, src = geo.candidates(np.array([0, 1]), np.array([2, 1]), photo)
    assert src == ["retrieval_top1", "zero_shot", "zero_shot", "rag_2", "rag_2"]
    np.testing.assert_allclose(pts, [[10.0, 20.0]] + [[48.8566, 2.3522]] * 4)


def test_greedy_decoding_repeats_one_answer(tiny_vlm: Path, photo: bytes) -> None:
    """Temperature 0: one greedy answer repeated n times (the old code passed
    num_return_sequences=n to greedy decoding, which transformers refuses)."""
    out = TransformersLMM(tiny_vlm, max_new_tokens=6).generate(zero_shot_prompt(), photo, 3, 0.0)
    assert len(out) == 3 and len(set(out)) == 1


def test_pickled_weights_are_refused(
    tiny_vlm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder with only ``pytorch_model.bin`` is refused before anything is unpickled (the
    old code loaded it through torch.load)."""
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_vlm, folder)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()

    def no_unpickling(*a: object, **k: object) -> None:
        raise AssertionError("torch.load called on a pickled checkpoint")

    monkeypatch.setattr(torch, "load", no_unpickling)
    with pytest.raises(CheckpointError, match=r"no safetensors.*pytorch_model\.bin"):
        TransformersLMM(folder).generate("p", None, 1, 1.2)


def test_remote_code_is_refused(tiny_vlm: Path, tmp_path: Path) -> None:
    """A config asking for the folder's own Python (auto_map) is refused; the code never runs."""
    folder = tmp_path / "remote"
    shutil.copytree(tiny_vlm, folder)
    marker = tmp_path / "executed"
    (folder / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    for name, auto in (("config.json", {"AutoModelForImageTextToText": "modeling_evil.Evil"}),
                       ("processor_config.json", {"AutoProcessor": "modeling_evil.EvilProc"})):
        cfg = json.loads((folder / name).read_text())
        cfg["auto_map"] = auto
        (folder / name).write_text(json.dumps(cfg))
        with pytest.raises(CheckpointError, match=f"auto_map in {name}"):
            TransformersLMM(folder).generate("p", None, 1, 1.2)
        assert not marker.exists()
        shutil.copy(tiny_vlm / name, folder / name)


def test_bad_inputs(tiny_vlm: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not a readable image"):
        TransformersLMM(tiny_vlm, max_new_tokens=2).generate("p", b"not an image", 1, 1.2)
    with pytest.raises(InvalidInputError, match="max_new_tokens"):
        TransformersLMM(tiny_vlm, max_new_tokens=0)
    with pytest.raises(InvalidInputError, match="top_p"):
        TransformersLMM(tiny_vlm, top_p=0.0)
    folder = tmp_path / "no-template"
    shutil.copytree(tiny_vlm, folder)
    (folder / "chat_template.jinja").unlink()
    with pytest.raises(CheckpointError, match="chat template"):
        TransformersLMM(folder).generate("p", None, 1, 1.2)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="JSON"):
        TransformersLMM(folder)
