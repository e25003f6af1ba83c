"""VRSBench: the small model's shapes and the demo against the strongest baseline.

Demo (primary ``score`` = mean of BLEU-4, Acc@0.5 and VQA All, percent; evaluation scenes
from seed + 10,000, never seen in training; training with Lightning):

* full (600 training scenes, 100 evaluation scenes, 40 epochs; it decides): model
  86.3 / 82.3 / 81.2 / 86.35 / 84.00 on seeds 0-4. Against the untrained baselines alone
  (strongest: pixel nearest-neighbour retrieval, 57.0 / 56.3 / 57.6 / 59.5 / 58.75) it
  decided on all five with no regression. Since 2026-12-08 the learned cheap baseline
  ``pixel linear`` (linear models on pixel features, tuned on the training scenes) is the
  strongest on all five: 61.2 / 62.9 / 64.9 / 64.8 / 67.7, so the model leads by
  25.0 / 19.4 / 16.2 / 21.5 / 16.3, but on seed 4 its VQA All (74.9) is below the linear
  arm's (76.4): seed 4 decides False and the system is partial;
* quick (the same scenes, 8 epochs, 60 evaluation scenes; about 26-29 s of CPU with the
  linear arm): seeds 0-4 55.1 / 53.1 / 50.9 / 58.4 / 46.3 vs pixel linear
  61.9 / 63.0 / 68.3 / 65.8 / 68.0: too short to decide (the captioner is still behind
  caption retrieval; 12 epochs did not decide either on development seeds 10 / 11), so
  the system is registered ``quick_decides=False``.

The slow test runs the full demo on seed 0 and asserts it beats the strongest baseline (the
pixel-linear arm, the best of the four on ``score``) by more than the demo's margin (10
points; measured gains 16.2-25.0 on the five full runs) with no regression, and that the
model beats each published trivial baseline on its own task.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from geoneurips.vision_language.vrsbench.model import SmallVLM, VLMConfig, Vocab, giou_loss


def test_model_shapes_tiny() -> None:
    torch.manual_seed(0)
    vocab = Vocab(["the small ship at the top-left", "how many ships are there?"])
    assert vocab.decode(vocab.encode("the ship at the top-left", 12, True)[1:]) == \
        "the ship at the top-left"
    cfg = VLMConfig.tiny()
    cfg.vocab_size = len(vocab)
    m = SmallVLM(cfg).eval()
    f = m.features(torch.rand(2, 3, 64, 64))
    assert f.shape == (2, cfg.width + 2, 16, 16)
    q = torch.tensor([vocab.encode("the ship at the top-left", 12)] * 2)
    box = m.ground(f, q)
    assert box.shape == (2, 4) and bool((box[:, 2] > box[:, 0]).all())
    assert m.answer_logits(f, q).shape == (2, cfg.n_answers)
    assert len(m.generate(f, max_len=7)[0]) == 7
    caps = torch.tensor([vocab.encode("the small ship", 8, True)] * 2)
    assert float(m.caption_loss(f, caps)) > 0
    t = torch.tensor([[0.1, 0.1, 0.3, 0.3]])
    assert float(giou_loss(t, t)) == pytest.approx(0.0, abs=1e-6)


def test_quick_demo_does_not_decide() -> None:
    """The quick setting trains 8 of the full demo's 40 epochs on the same scenes (the CPU
    budget); measured too short to decide, so the system says so and ``reproduce --quick``
    runs the full demo."""
    from geoneurips.registry import get
    from geoneurips.vision_language.vrsbench.pipeline import DEMO_FULL, DEMO_QUICK

    assert get("vrsbench").quick_decides is False
    assert DEMO_QUICK[0] == DEMO_FULL[0] and DEMO_QUICK[2] < DEMO_FULL[2] == 40


def test_text_inputs_are_not_truncated(tmp_path: Path) -> None:
    """Every question and referring sentence (training prompts and EVAL items) reaches the
    model whole, class and position words included, with no ``<unk>``; so does every
    training caption (between ``<bos>`` and ``<eos>``). Checked 2026-12-08 while diagnosing the model's weak
    "object existence" answers (not a truncation: see the system notes); fails if
    :data:`TEXT_LEN` drops below the longest template (11 tokens) or
    :data:`CAPTION_LEN` below the longest caption."""
    from geoneurips.vision_language.vrsbench.data import read_eval_referring, read_eval_vqa
    from geoneurips.vision_language.vrsbench.model import tokenize
    from geoneurips.vision_language.vrsbench.pipeline import (
        CAPTION_LEN,
        DEMO_CLASSES,
        TEXT_LEN,
        _training_items,
        build_vocab,
    )
    from geoneurips.vision_language.vrsbench.synthetic import write_fixture

    write_fixture(tmp_path / "tr", 80, "train", 0, classes=DEMO_CLASSES)
    write_fixture(tmp_path / "te", 40, "val", 10_000, classes=DEMO_CLASSES, prefix="T")
    items = _training_items(tmp_path / "tr")
    vocab = build_vocab(items)
    texts = [p for t in ("refer", "vqa") for _, p, _ in items[t]]
    texts += [q["question"] for q in read_eval_vqa(tmp_path / "te" / "VRSBench_EVAL_vqa.json")]
    texts += [r["question"] for r in
              read_eval_referring(tmp_path / "te" / "VRSBench_EVAL_referring.json")]
    assert any(t.startswith("is there a ") for t in texts)
    for t in texts:
        got = [vocab.itos[i] for i in vocab.encode(t, TEXT_LEN) if i > 0]
        assert got == tokenize(t), t
    for _, _, cap in items["caption"]:
        ids = vocab.encode(cap, CAPTION_LEN, True)
        assert [vocab.itos[i] for i in ids if i > 3] == tokenize(cap), cap


@pytest.mark.slow
def test_demo_beats_strongest_baseline(tmp_path: Path) -> None:
    from geoneurips.vision_language.vrsbench.pipeline import demo

    r = demo(tmp_path, quick=False, seed=0)
    assert r.beats_baseline, (r.metrics, r.baselines, r.regressions)
    assert set(r.baselines) == {"paper trivial", "text prior", "pixel retrieval",
                                "pixel linear"}
    assert r.strongest_baseline == max(r.baselines, key=lambda k: r.baselines[k]["score"])
    assert r.strongest_baseline == "pixel linear"
    assert r.metrics["score"] - r.baseline["score"] > r.margin == 10.0
    assert not r.regressions
    trivial = r.baselines["paper trivial"]
    for k in ("CIDEr", "Acc@0.5", "VQA_All"):
        assert r.metrics[k] > trivial[k], k
    saved = json.loads((tmp_path / "vrsbench.json").read_text())
    assert saved["beats_baseline"] is True
    assert (tmp_path / "vrsbench.png").stat().st_size > 0
    preds = (tmp_path / "vrsbench_predictions.jsonl").read_text().splitlines()
    assert {json.loads(p)["type"] for p in preds} >= {"caption", "ref", "object existence"}
