"""MMM-RS benchmark metrics: FID and IS (torch-fidelity's Inception), CLIP-score.

The paper reports FID and IS of generated images (Table 2). Both use the TF-ported
Inception-v3 of torch-fidelity (``FeatureExtractorInceptionV3``: 2048-d pool features for
FID, ``logits_unbiased`` for IS, images resized to 299 with TF1's bilinear rule), with the
weights read from a **local file** (:data:`INCEPTION_FILE`; nothing is downloaded). The
file is first loaded with ``torch.load(weights_only=True)`` (:func:`geoneurips.io.
load_checkpoint`), so a file holding anything but tensors is refused before
torch-fidelity reads it.

- FID: torch-fidelity's ``fid_statistics_to_metric`` on the features' mean and covariance
  (unbiased, ``np.cov`` rowvar=False). :func:`frechet_distance_scipy` is an independent
  implementation with ``scipy.linalg.sqrtm`` used to cross-check it (tests).
- IS: torch-fidelity's ``isc_features_to_metric`` (10 splits, shuffled with seed 2020).
- CLIP-score (torchmetrics' definition): ``100 * max(cos(image, text), 0)`` averaged over
  pairs, with a CLIP model read from a local folder (transformers layout).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.io import load_checkpoint, safe_pretrained_folder

__all__ = [
    "INCEPTION_FILE",
    "INCEPTION_URL",
    "clip_score",
    "clip_similarities",
    "feature_statistics",
    "fid_from_features",
    "fid_is",
    "frechet_distance_scipy",
    "inception_extractor",
    "inception_features",
    "inception_score",
]

#: torch-fidelity's Inception-v3 weights (the TF FID network ported to PyTorch).
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                 + INCEPTION_FILE)


def inception_extractor(weights: str | Path) -> Any:
    """torch-fidelity's Inception-v3 with weights from a local file.

    Raises:
        CheckpointError: the file is missing (the message says which file and where to get
            it) or holds anything but tensors.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    p = Path(weights)
    if not p.is_file():
        raise CheckpointError(
            f"Inception weights not found at {str(p)!r}. FID/IS need torch-fidelity's "
            f"Inception-v3 file {INCEPTION_FILE} (from {INCEPTION_URL}); download it on a "
            "machine with internet and pass its local path (--inception). geoneurips never "
            "downloads weights.")
    state = load_checkpoint(p)
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{str(p)!r} is not an Inception state dict of tensors")
    try:
        return FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                           feature_extractor_weights_path=str(p))
    except RuntimeError as exc:
        raise CheckpointError(f"{str(p)!r} does not match torch-fidelity's Inception-v3: "
                              f"{str(exc)[:200]}") from exc


def _as_uint8(images: Tensor | np.ndarray) -> Tensor:
    x = torch.as_tensor(images)
    if x.dim() != 4 or x.shape[1] != 3:
        raise InvalidInputError(f"images must be (N, 3, H, W), got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x
    if x.is_floating_point():
        if float(x.min()) < -1e-6 or float(x.max()) > 1 + 1e-6:
            raise InvalidInputError("float images must be in [0, 1]")
        return (x * 255).round().clamp(0, 255).to(torch.uint8)
    raise InvalidInputError(f"images must be uint8 or float in [0, 1], got {x.dtype}")


@torch.no_grad()
def inception_features(extractor: Any, images: Tensor | np.ndarray,
                       batch: int = 32) -> tuple[np.ndarray, Tensor]:
    """2048-d pool features (float64 numpy) and unbiased logits of ``images`` (N, 3, H, W),
    uint8 or float in [0, 1]."""
    x = _as_uint8(images)
    feats, logits = [], []
    for i in range(0, len(x), batch):
        f, lg = extractor(x[i:i + batch])
        feats.append(f.double().numpy())
        logits.append(lg)
    return np.concatenate(feats), torch.cat(logits)


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of ``(N, D)`` features (N >= 2)."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise InvalidInputError(f"features must be (N >= 2, D), got {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """FID between two feature sets through torch-fidelity's formula."""
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    m1, s1 = feature_statistics(real)
    m2, s2 = feature_statistics(fake)
    out = fid_statistics_to_metric({"mu": m1, "sigma": s1}, {"mu": m2, "sigma": s2}, False)
    return float(out["frechet_inception_distance"])


def frechet_distance_scipy(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray,
                           s2: np.ndarray) -> float:
    """``|mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))`` with ``scipy.linalg.sqrtm`` (the
    pytorch-fid formulation, with its small-eps retry for singular products)."""
    from scipy import linalg

    diff = mu1 - mu2
    covmean = linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        off = np.eye(s1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
    covmean = np.real(covmean)
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def inception_score(logits: Tensor, splits: int = 10) -> tuple[float, float]:
    """IS mean and std over ``splits`` (torch-fidelity's ``isc_features_to_metric``)."""
    from torch_fidelity.metric_isc import isc_features_to_metric

    if logits.dim() != 2 or len(logits) < splits:
        raise InvalidInputError(f"IS needs (N >= splits={splits}, classes) logits, got "
                                f"{tuple(logits.shape)}")
    out = isc_features_to_metric(logits, splits=splits)
    return float(out["inception_score_mean"]), float(out["inception_score_std"])


def fid_is(real: Tensor | np.ndarray, fake: Tensor | np.ndarray, weights: str | Path,
           splits: int = 10) -> dict[str, float]:
    """FID(real, fake) and IS(fake) with the Inception weights at ``weights``."""
    ext = inception_extractor(weights)
    fr, _ = inception_features(ext, real)
    ff, lg = inception_features(ext, fake)
    mean, std = inception_score(lg, splits)
    return {"fid": fid_from_features(fr, ff), "is_mean": mean, "is_std": std}


def clip_score(images: Tensor | np.ndarray, prompts: Sequence[str], clip_path: str | Path,
               batch: int = 32) -> float:
    """CLIP-score ``mean(max(100 cos(image, text), 0))`` (Hessel et al.'s per-pair clamp,
    torchmetrics' scale 100) with a local CLIP; see :func:`clip_similarities`."""
    return float(clip_similarities(images, prompts, clip_path, batch).clamp(min=0).mean())


@torch.no_grad()
def clip_similarities(images: Tensor | np.ndarray, prompts: Sequence[str],
                      clip_path: str | Path, batch: int = 32) -> Tensor:
    """``100 * cos(image embedding, text embedding)`` per pair with a local CLIP folder.

    The folder is opened offline with safetensors weights only and no remote code
    (:func:`geoneurips.io.safe_pretrained_folder`).

    Raises:
        CheckpointError: ``clip_path`` is not a local CLIP folder (transformers layout), holds
            only pickled weights, or asks for its own code.
    """
    from transformers import CLIPModel, CLIPProcessor

    p = Path(clip_path)
    if not (p / "config.json").is_file():
        raise CheckpointError(f"no CLIP model at {str(p)!r} (config.json missing). Put a local "
                              "copy of a CLIP model (e.g. openai/clip-vit-large-patch14, "
                              "transformers layout) there; geoneurips never downloads it.")
    x = _as_uint8(images)
    if len(x) != len(prompts):
        raise InvalidInputError(f"{len(x)} images but {len(prompts)} prompts")
    safe_pretrained_folder(p, "CLIP")  # safetensors only, no remote code
    try:
        model = CLIPModel.from_pretrained(str(p), local_files_only=True, use_safetensors=True,
                                          trust_remote_code=False)
        model.eval()  # type: ignore[no-untyped-call]
        proc = CLIPProcessor.from_pretrained(str(p), local_files_only=True,
                                             trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot load CLIP from {str(p)!r}: {exc}") from exc
    scores = []
    for i in range(0, len(x), batch):
        imgs = [im.permute(1, 2, 0).numpy() for im in x[i:i + batch]]
        inp = proc(text=list(prompts[i:i + batch]), images=imgs, return_tensors="pt",
                   padding=True, truncation=True)
        ie = model.get_image_features(pixel_values=inp["pixel_values"])
        te = model.get_text_features(input_ids=inp["input_ids"],
                                     attention_mask=inp["attention_mask"])
        ie = getattr(ie, "pooler_output", ie)
        te = getattr(te, "pooler_output", te)
        cos = torch.nn.functional.cosine_similarity(ie, te, dim=-1)
        scores.append((100 * cos).double())
    return torch.cat(scores)
