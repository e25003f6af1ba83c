"""G3 geo-alignment model, retrieval and geo-verification."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.location.g3.lmm import ScriptedLMM
from geoneurips.location.g3.model import (
    G3Config,
    G3Model,
    TinyImageTower,
    TinyTextTower,
    clip_loss,
    web_mercator,
)
from geoneurips.location.g3.pipeline import train_alignment
from geoneurips.location.g3.retrieval import G3Geolocator, RetrievalIndex
from geoneurips.nn.location_encoders.geoclip import load_geoclip_location_encoder


def test_web_mercator_matches_pyproj() -> None:
    from pyproj import Transformer

    ll = np.array([[0.0, 0.0], [51.5, -0.14], [-33.86, 151.21], [85.0, 179.9], [-60.0, -120.0]])
    t = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    x, y = t.transform(ll[:, 1], ll[:, 0])
    ours = web_mercator(torch.from_numpy(ll)).numpy()
    # G3 feeds (y, x) / 20037508.3427892 (northing first)
    np.testing.assert_allclose(ours[:, 0], np.asarray(y) / 20037508.3427892, atol=1e-9)
    np.testing.assert_allclose(ours[:, 1], np.asarray(x) / 20037508.3427892, atol=1e-9)
    assert torch.isfinite(web_mercator(torch.tensor([[90.0, 0.0]]))).all()  # clipped pole


def test_gps_tower_starts_from_geoclip_weights() -> None:
    m = G3Model(G3Config.tiny(), clip_dim=16)
    ref = load_geoclip_location_encoder()
    for a, b in zip(m.location.capsules.parameters(), ref.branches.parameters(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(m.location.capsules.buffers(), ref.branches.buffers(), strict=True):
        assert torch.equal(a, b)
    ll = torch.tensor([[48.85, 2.35], [-22.9, -43.2]])
    v = web_mercator(ll.double()).float()
    want = sum(br(v) for br in ref.branches)
    torch.testing.assert_close(m.location.capsule_features(ll), want)
    assert not any(p.requires_grad for p in m.location.capsules.parameters())
    assert G3Config().train_capsules  # the paper trains them
    with pytest.raises(InvalidInputError):
        m.location.capsule_features(torch.tensor([[91.0, 0.0]]))


def test_clip_loss_hand_values() -> None:
    eye = torch.eye(3) * 100.0
    assert float(clip_loss(eye)) == pytest.approx(0.0, abs=1e-6)
    flat = torch.zeros(4, 4)
    assert float(clip_loss(flat)) == pytest.approx(math.log(4))
    logits = torch.tensor([[2.0, 0.0], [1.0, 0.0]])
    row = -(math.log(math.e**2 / (math.e**2 + 1)) + math.log(1 / (math.e + 1))) / 2
    col = -(math.log(math.e**2 / (math.e**2 + math.e)) + math.log(1 / 2)) / 2
    assert float(clip_loss(logits)) == pytest.approx((row + col) / 2)


def test_logit_scales_and_heads() -> None:
    m = G3Model(G3Config(), clip_dim=768, pretrained_gps=False)
    assert float(m.logit_scale_text.detach()) == pytest.approx(3.99)
    assert [tuple(x.weight.shape) for x in m.image_head_gps if hasattr(x, "weight")] == [
        (768, 768), (768, 768)
    ]
    assert tuple(m.location.projection[0].weight.shape) == (512, 512)
    assert tuple(m.location.projection[2].weight.shape) == (768, 512)


def _toy(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[48.8, 2.3], [40.7, -74.0], [-33.9, 151.2], [35.7, 139.7]])
    lab = rng.integers(0, 4, n)
    ll = centres[lab] + rng.normal(0, 0.05, (n, 2))
    proto = torch.from_numpy(np.random.default_rng(99).normal(size=(4, 16))).float()
    feat = proto[lab] + 0.3 * torch.randn(n, 16, generator=torch.Generator().manual_seed(seed))
    texts = TinyTextTower(16)([f"city {k}" for k in lab])
    return feat, texts, ll


def test_alignment_learns_and_verification_ranks() -> None:
    """The aligned image<->GPS embedding picks the right city among the four (seed 0)."""
    torch.manual_seed(0)
    feat, texts, ll = _toy(256, 0)
    m = G3Model(G3Config(embed_dim=32, lr=3e-3, epochs=15, batch_size=64, train_capsules=False),
                clip_dim=16)
    hist = train_alignment(m, feat, texts, ll, seed=0)
    assert hist[-1] < 0.7 * hist[0]
    qf, _, qll = _toy(64, 1)
    centres = torch.tensor([[48.8, 2.3], [40.7, -74.0], [-33.9, 151.2], [35.7, 139.7]])
    with torch.no_grad():
        hits = [
            float(torch.linalg.norm(centres[int(m.verify(qf[i], centres).argmax())]
                                    - torch.from_numpy(qll[i]).float())) < 1.0
            for i in range(len(qf))
        ]
    assert np.mean(hits) > 0.9


def test_alignment_with_precomputed_capsules_is_the_same_training() -> None:
    """The demo passes the database's frozen capsule features in (computed once, reused for
    its ablation): training must be exactly the training that computes them itself."""
    from geoneurips.location.g3.pipeline import capsule_features

    feat, texts, ll = _toy(96, 0)
    cfg = G3Config(embed_dim=16, lr=3e-3, epochs=2, batch_size=32, train_capsules=False)
    torch.manual_seed(0)
    a = G3Model(cfg, clip_dim=16)
    torch.manual_seed(0)
    b = G3Model(cfg, clip_dim=16)
    caps = capsule_features(b.location.capsule_features, ll)
    assert train_alignment(a, feat, texts, ll, seed=0) == train_alignment(
        b, feat, texts, ll, seed=0, capsules=caps
    )
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    with pytest.raises(InvalidInputError, match="capsules must be"):
        train_alignment(b, feat, texts, ll, capsules=caps[:-1])


def test_retrieval_index_faiss_matches_torch() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(200, 24)).astype(np.float32)
    q = rng.normal(size=(5, 24)).astype(np.float32)
    a = RetrievalIndex(v)
    b = RetrievalIndex(v, use_faiss=False)
    assert a._faiss is not None
    sa, ia = a.search(q, 7)
    sb, ib = b.search(q, 7)
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_allclose(sa, sb, rtol=1e-4, atol=1e-4)
    _, rev = a.search_reverse(q, 3)
    full = q @ v.T
    np.testing.assert_array_equal(rev, np.argsort(full, axis=1)[:, :3])
    with pytest.raises(InvalidInputError):
        a.search(np.zeros((1, 5)), 3)


def test_geolocator_candidates_and_verification() -> None:
    torch.manual_seed(0)
    feat, texts, ll = _toy(64, 0)
    m = G3Model(G3Config(embed_dim=32, train_capsules=False), clip_dim=16)
    with torch.no_grad():
        vec = m.database_vectors(feat).numpy()
    lmm = ScriptedLMM(['{"latitude": 10.5, "longitude": 20.25}', "no numbers", "lat 95.0 lon 200.0"])
    g3 = G3Geolocator(m, vec, ll, lmm)
    (r,) = g3.predict(feat[:1])
    # top-1 + 5 answers x (zero-shot + RAG 5/10/15)
    assert len(r.latlon) == 1 + 5 * 4
    assert r.sources.count("retrieval_top1") == 1 and r.sources.count("rag_15") == 5
    assert np.all(np.diff(r.scores) <= 1e-9)
    got = {tuple(np.round(p, 4)) for p in r.latlon}
    assert (10.5, 20.25) in got and (0.0, 0.0) in got  # fallback and out-of-range -> 0
    with torch.no_grad():
        s = m.verify(feat[0], torch.from_numpy(r.latlon).float()).numpy()
    np.testing.assert_allclose(s, r.scores, atol=1e-5)
    assert len(lmm.prompts) == 4 and "similar" in lmm.prompts[1]


def test_tiny_towers() -> None:
    t = TinyImageTower(32, pool=4)
    x = torch.rand(2, 3, 20, 20)
    assert t(x).shape == (2, 32)
    torch.testing.assert_close(t(x), TinyImageTower(32, pool=4)(x))
    with pytest.raises(InvalidInputError):
        t(torch.rand(3, 20, 20))
    tt = TinyTextTower(8)
    e = tt(["A photo in Paris, France", "a photo in paris france"])
    torch.testing.assert_close(e[0], e[1])


def _tiny_clip(folder: Path) -> Path:
    """A tiny random CLIP in Hugging Face layout, built offline (hand-made character vocab)."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789,.")
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    ip = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    small = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
             "num_attention_heads": 2}
    cfg = CLIPConfig(
        text_config={**small, "vocab_size": len(vocab), "max_position_embeddings": 77,
                     "bos_token_id": vocab["<|startoftext|>"],
                     "eos_token_id": vocab["<|endoftext|>"]},
        vision_config={**small, "image_size": 32, "patch_size": 8},
        projection_dim=12,
    )
    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(folder)
    CLIPProcessor(image_processor=ip, tokenizer=tok).save_pretrained(folder)
    return folder


def test_clip_towers_from_a_local_folder(tmp_path: Path) -> None:
    from PIL import Image

    from geoneurips.location.g3.model import CLIPTowers

    towers = CLIPTowers(_tiny_clip(tmp_path / "clip"))
    assert towers.dim == 12
    t = towers.texts(["A street view photo taken in Paris, France", "a"])
    im = towers.images([Image.fromarray(np.zeros((40, 50, 3), np.uint8))] * 2)
    assert t.shape == (2, 12) and im.shape == (2, 12)
    assert not torch.allclose(t[0], t[1])
    with pytest.raises(InvalidInputError, match="config.json"):
        CLIPTowers(tmp_path)


def test_clip_towers_refuse_pickled_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only safetensors weights are read: a folder holding ``pytorch_model.bin`` is refused
    before anything is unpickled (the old code loaded it through torch.load)."""
    from safetensors.torch import load_file

    from geoneurips.errors import CheckpointError
    from geoneurips.location.g3.model import CLIPTowers

    folder = _tiny_clip(tmp_path / "clip")
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()

    def no_unpickling(*a: object, **k: object) -> None:
        raise AssertionError("torch.load called on a pickled checkpoint")

    monkeypatch.setattr(torch, "load", no_unpickling)
    with pytest.raises(CheckpointError, match="no safetensors"):
        CLIPTowers(folder)


def test_geolocator_batch_scores_equal_per_query_verification() -> None:
    """Several queries at once (candidates repeated within and across queries, embedded once
    each): every query's scores are its own geo-verification scores."""
    torch.manual_seed(0)
    feat, _, ll = _toy(64, 0)
    m = G3Model(G3Config(embed_dim=32, train_capsules=False), clip_dim=16)
    with torch.no_grad():
        vec = m.database_vectors(feat).numpy()
    lmm = ScriptedLMM(['{"latitude": 10.5, "longitude": 20.25}', "no numbers"])
    ranked = G3Geolocator(m, vec, ll, lmm).predict(feat[:6])
    assert len(ranked) == 6
    for i, r in enumerate(ranked):
        with torch.no_grad():
            s = m.verify(feat[i], torch.from_numpy(r.latlon).float()).numpy()
        np.testing.assert_allclose(s, r.scores, atol=1e-6)
        assert r.sources.count("retrieval_top1") == 1
