"""MMM-RS metrics: FID/IS through torch-fidelity's Inception from a local file, CLIP-score.

No real Inception or CLIP weights exist offline: the plumbing is tested with random weights
of the same architecture written to a local file (the real file is loaded the same way);
the formulas are cross-checked on features with known answers.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.vision_language.mmmrs.metrics import (
    INCEPTION_FILE,
    clip_score,
    clip_similarities,
    feature_statistics,
    fid_from_features,
    fid_is,
    frechet_distance_scipy,
    inception_extractor,
    inception_features,
    inception_score,
)


def _random_inception(path: Path) -> Path:
    """torch-fidelity's Inception-v3 with random weights saved as a state dict."""
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    torch.manual_seed(0)
    with mock.patch.object(fe, "load_state_dict_from_url", return_value={}), \
            mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict"):
        net = fe.FeatureExtractorInceptionV3("x", ["2048"])
    for m in net.modules():  # variance-preserving init, so random features do not vanish
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    torch.save(net.state_dict(), path)
    return path


def test_fid_matches_scipy_sqrtm_and_known_answers() -> None:
    """torch-fidelity's eigenvalue formula == scipy sqrtm formula; FID(X, X) = 0; two
    Gaussians with identity covariance differ by |mu1 - mu2|^2 only; hand value for
    diagonal covariances: sum (sqrt(a) - sqrt(b))^2."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 16)) @ rng.standard_normal((16, 16))
    b = rng.standard_normal((300, 16)) * 1.5 + 0.7
    m1, s1 = feature_statistics(a)
    m2, s2 = feature_statistics(b)
    assert fid_from_features(a, b) == pytest.approx(frechet_distance_scipy(m1, s1, m2, s2),
                                                    rel=1e-6)
    assert abs(fid_from_features(a, a)) < 1e-6
    d1 = np.diag([1.0, 4.0, 9.0])
    d2 = np.diag([4.0, 1.0, 9.0])
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    hand = 5.0 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0.0
    assert frechet_distance_scipy(mu1, d1, mu2, d2) == pytest.approx(hand, abs=1e-9)


def test_fid_agrees_with_torchmetrics_formula() -> None:
    """An independent implementation: torchmetrics' FID on the same statistics."""
    from torchmetrics.image.fid import _compute_fid

    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((200, 8)), rng.standard_normal((150, 8)) * 0.8 + 0.3
    m1, s1 = feature_statistics(a)
    m2, s2 = feature_statistics(b)
    tm = float(_compute_fid(torch.tensor(m1), torch.tensor(s1), torch.tensor(m2),
                            torch.tensor(s2)))
    assert fid_from_features(a, b) == pytest.approx(tm, rel=1e-6)


def test_inception_score_known_answers() -> None:
    """IS of identical predictions is 1; of K confident, equally used classes it is K."""
    same = torch.zeros(100, 10)
    assert inception_score(same)[0] == pytest.approx(1.0)
    k = 5
    onehot = torch.full((100, 1008), -40.0)
    onehot[torch.arange(100), torch.arange(100) % k] = 0
    assert inception_score(onehot, splits=1)[0] == pytest.approx(k, rel=1e-6)
    with pytest.raises(InvalidInputError):
        inception_score(torch.zeros(5, 10))


@pytest.mark.slow
def test_inception_from_local_file_and_errors(tmp_path: Path) -> None:
    """A missing file names the expected file and where to get it; a non-tensor pickle is
    refused; a local file of the right architecture gives FID(X, X) ~ 0 and IS > 0."""
    with pytest.raises(CheckpointError, match=INCEPTION_FILE):
        inception_extractor(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"x": object()}, bad)
    with pytest.raises(CheckpointError):
        inception_extractor(bad)
    w = _random_inception(tmp_path / INCEPTION_FILE)
    g = torch.Generator().manual_seed(0)
    real = torch.rand(4, 3, 32, 32, generator=g)
    dark = (real * 0.2).clamp(0, 1)
    ext = inception_extractor(w)
    fr, logits = inception_features(ext, real)
    assert fr.shape == (4, 2048) and logits.shape == (4, 1008)
    assert fr.std(0).mean() > 1e-3  # the random network is informative
    assert abs(fid_from_features(fr, fr)) < 1e-6 * max(1.0, float(np.trace(np.cov(fr.T))))
    res = fid_is(real, dark, w, splits=2)
    fd, _ = inception_features(ext, dark)
    assert res["fid"] == pytest.approx(fid_from_features(fr, fd), rel=1e-6)
    assert res["fid"] > 1e-3 * float(np.trace(np.cov(fr.T)))
    assert res["is_mean"] >= 1.0 - 1e-6
    with pytest.raises(InvalidInputError):
        inception_features(ext, real * 3)


def test_clip_similarities_match_hand_computation(tmp_path: Path) -> None:
    """CLIP similarities with a tiny random CLIP saved locally equal a hand computation
    (towers + projections + numpy cosine); a missing folder is a clear error."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from geoneurips.vision_language.mmmrs.model import tiny_tokenizer

    with pytest.raises(CheckpointError, match="CLIP"):
        clip_score(torch.rand(1, 3, 32, 32), ["x"], tmp_path / "none")
    tok = tiny_tokenizer(tmp_path / "tok", ["fog", "snow"])
    cfg = CLIPConfig(
        text_config={"vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64,
                     "num_attention_heads": 2, "num_hidden_layers": 1,
                     "max_position_embeddings": 32, "bos_token_id": tok.bos_token_id,
                     "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
                       "num_hidden_layers": 1, "image_size": 32, "patch_size": 8},
        projection_dim=16)
    torch.manual_seed(0)
    folder = tmp_path / "clip"
    CLIPModel(cfg).save_pretrained(folder)
    ip = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=ip, tokenizer=tok).save_pretrained(folder)
    imgs = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    prompts = ["fog", "snow", "fog snow", "a town"]
    ours = clip_similarities(imgs, prompts, folder)
    # independent path: the towers and projections by hand, cosine in numpy
    # (torchmetrics 1.9's CLIPScore does not run with transformers 5's feature outputs)
    model = CLIPModel.from_pretrained(str(folder)).eval()
    proc = CLIPProcessor.from_pretrained(str(folder))
    u8 = (imgs * 255).round().to(torch.uint8)
    inp = proc(text=prompts, images=[im.permute(1, 2, 0).numpy() for im in u8],
               return_tensors="pt", padding=True)
    with torch.no_grad():
        v = model.visual_projection(model.vision_model(pixel_values=inp["pixel_values"])
                                    .pooler_output).double().numpy()
        t = model.text_projection(model.text_model(input_ids=inp["input_ids"],
                                                   attention_mask=inp["attention_mask"])
                                  .pooler_output).double().numpy()
    hand = 100 * (v * t).sum(1) / np.linalg.norm(v, axis=1) / np.linalg.norm(t, axis=1)
    np.testing.assert_allclose(ours.numpy(), hand, atol=1e-4)
    assert clip_score(imgs, prompts, folder) == pytest.approx(
        float(ours.clamp(min=0).mean()), abs=1e-9)
    # pickled weights are refused, never unpickled (the old loader read pytorch_model.bin)
    from safetensors.torch import load_file

    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no safetensors"):
        clip_similarities(imgs, prompts, folder)
