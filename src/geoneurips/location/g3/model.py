"""G3's geo-alignment model (Jia et al., "G3: An Effective and Adaptive Framework for Worldwide
Geolocalization Using Large Multi-Modality Models", NeurIPS 2024, Sec. 3.1).

Components (checked against the public ``utils/G3.py``; written from the paper):

* **Frozen towers**: CLIP ViT-L/14's vision and text towers with their 768-d projections.
  They are frozen in G3, so their outputs are inputs here: :class:`TinyImageTower` /
  :class:`TinyTextTower` (small random, for tests and the demo) or :class:`CLIPTowers`
  (a local CLIP checkpoint folder through ``transformers``; nothing is downloaded).
* **Heads**: 2-layer MLPs ``768 -> 768 -> 768`` with ReLU: ``image_head_text`` (the public
  ``vision_projection_else_1``), ``text_head`` (``text_projection_else``) and
  ``image_head_gps`` (``vision_projection_else_2``).
* **GPS tower** (:class:`G3LocationEncoder`): GeoCLIP's three RFF capsules (sigma = 2^0,
  2^4, 2^8; 256 frequencies -> 3 x Linear 1024 + ReLU -> 512, summed) **initialised from the
  real GeoCLIP weights** (:func:`geoneurips.nn.location_encoders.geoclip
  .load_geoclip_location_encoder`, the project's safe loader), fed **Web-Mercator**
  (EPSG:3857) coordinates divided by 20037508.3427892 in the order ``(y, x)`` (northing
  first) as the public code does (GeoCLIP itself feeds Equal Earth ``(x, y)``), then
  ``location_projection`` ``512 -> 512 -> 768``.
* **Loss** (Eq. 1-3): symmetric CLIP cross-entropy of image<->text plus image<->GPS, each
  with its own learnable logit scale (log-scale initialised to 3.99, used as ``exp``).

Deliberate differences: latitudes are clipped to +-85.0511 before the Mercator projection
(pyproj returns ``inf`` at the poles); the capsules may be frozen (``train_capsules=False``,
used by the demo on a CPU: their outputs are then computed once); the paper trains them.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geoneurips.errors import CheckpointError, DependencyMissingError, InvalidInputError
from geoneurips.nn.location_encoders.geoclip import (
    GeoCLIPLocationEncoder,
    load_geoclip_location_encoder,
)

__all__ = [
    "MERCATOR_HALF_WORLD",
    "CLIPTowers",
    "G3Config",
    "G3LocationEncoder",
    "G3Model",
    "TinyImageTower",
    "TinyTextTower",
    "clip_loss",
    "web_mercator",
]

MERCATOR_HALF_WORLD = 20037508.3427892
MERCATOR_MAX_LAT = 85.05112878
_R = 6378137.0


@dataclass(frozen=True)
class G3Config:
    """Sizes and the published training settings (Sec. 4.1 and the public ``run_G3.py``)."""

    embed_dim: int = 768
    gps_dim: int = 512
    logit_scale_init: float = 3.99
    lr: float = 3e-5
    weight_decay: float = 1e-6
    step_gamma: float = 0.87
    epochs: int = 10
    batch_size: int = 256
    train_capsules: bool = True
    top_k: int = 20
    rag_k: tuple[int, ...] = (5, 10, 15)
    answers_per_prompt: int = 5
    temperature: float = 1.2
    n_samples: int = 10

    @classmethod
    def tiny(cls) -> G3Config:
        """A small config for tests (the GPS capsules keep GeoCLIP's real sizes)."""
        return cls(embed_dim=32, epochs=2, batch_size=32, lr=1e-3, train_capsules=False)


def web_mercator(latlon: Tensor) -> Tensor:
    """``(..., 2)`` (lat, lon) degrees -> Web-Mercator ``(y, x) / 20037508.34`` (G3's input).

    Spherical Mercator on the WGS84 semi-major axis (EPSG:3857): ``x = R lon``,
    ``y = R ln tan(pi/4 + lat/2)``; latitudes are clipped to the projection's +-85.0511.
    """
    lat = torch.deg2rad(latlon[..., 0].clamp(-MERCATOR_MAX_LAT, MERCATOR_MAX_LAT))
    lon = torch.deg2rad(latlon[..., 1])
    x = _R * lon
    y = _R * torch.log(torch.tan(math.pi / 4 + lat / 2))
    return torch.stack([y, x], dim=-1) / MERCATOR_HALF_WORLD


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_out))


class G3LocationEncoder(nn.Module):
    """GeoCLIP capsules on Web-Mercator input + G3's ``512 -> 512 -> out_dim`` projection."""

    def __init__(
        self,
        out_dim: int = 768,
        pretrained: bool = True,
        weights: str | Path | None = None,
        train_capsules: bool = True,
    ) -> None:
        super().__init__()
        base = load_geoclip_location_encoder(weights) if pretrained else GeoCLIPLocationEncoder()
        self.capsules = base.branches
        self.capsules.requires_grad_(train_capsules)
        self.train_capsules = train_capsules
        self.projection = _mlp(512, 512, out_dim)

    def capsule_features(self, latlon: Tensor) -> Tensor:
        """The summed capsule output ``(N, 512)`` for ``(N, 2)`` (lat, lon) degrees."""
        _check_latlon(latlon)
        v = web_mercator(latlon.double()).float()
        out: Tensor = self.capsules[0](v)
        for cap in self.capsules[1:]:
            out = out + cap(v)
        return out

    def forward(self, latlon: Tensor | None = None, features: Tensor | None = None) -> Tensor:
        """Embed ``latlon`` (or precomputed :meth:`capsule_features`) into ``(N, out_dim)``."""
        if features is None:
            if latlon is None:
                raise InvalidInputError("give latlon or features")
            features = self.capsule_features(latlon)
        out: Tensor = self.projection(features)
        return out


def _check_latlon(latlon: Tensor) -> None:
    if latlon.ndim != 2 or latlon.shape[1] != 2:
        raise InvalidInputError(f"expected (N, 2) (lat, lon) degrees, got {tuple(latlon.shape)}")
    if not torch.isfinite(latlon).all():
        raise InvalidInputError("coordinates must be finite")
    if (latlon[:, 0].abs() > 90).any() or (latlon[:, 1].abs() > 180).any():
        raise InvalidInputError("latitude must lie in [-90, 90] and longitude in [-180, 180]")


def clip_loss(logits: Tensor) -> Tensor:
    """Symmetric CLIP loss: mean of the row-wise and column-wise cross-entropies (Eq. 1)."""
    target = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


class G3Model(nn.Module):
    """The trainable part of G3's geo-alignment (heads, GPS tower, two logit scales)."""

    def __init__(
        self,
        config: G3Config | None = None,
        clip_dim: int = 768,
        pretrained_gps: bool = True,
        gps_weights: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.config = cfg = config or G3Config()
        d = cfg.embed_dim
        self.image_head_text = _mlp(clip_dim, d, d)
        self.text_head = _mlp(clip_dim, d, d)
        self.image_head_gps = _mlp(clip_dim, d, d)
        self.location = G3LocationEncoder(d, pretrained_gps, gps_weights, cfg.train_capsules)
        self.logit_scale_text = nn.Parameter(torch.tensor(cfg.logit_scale_init))
        self.logit_scale_gps = nn.Parameter(torch.tensor(cfg.logit_scale_init))

    def image_embeddings(self, image_feat: Tensor) -> tuple[Tensor, Tensor]:
        """L2-normalised ``(image<->text, image<->GPS)`` embeddings of frozen CLIP features."""
        e1 = F.normalize(self.image_head_text(image_feat), dim=-1)
        e2 = F.normalize(self.image_head_gps(image_feat), dim=-1)
        return e1, e2

    def gps_embeddings(self, latlon: Tensor | None = None, capsule: Tensor | None = None) -> Tensor:
        """L2-normalised GPS embeddings (from coordinates or precomputed capsule features)."""
        return F.normalize(self.location(latlon, capsule), dim=-1)

    def loss(
        self,
        image_feat: Tensor,
        text_feat: Tensor,
        latlon: Tensor | None = None,
        capsule: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """``loss = CLIP(image, text) + CLIP(image, GPS)`` for one batch (Sec. 3.1)."""
        e1, e2 = self.image_embeddings(image_feat)
        t = F.normalize(self.text_head(text_feat), dim=-1)
        g = self.gps_embeddings(latlon, capsule)
        l_text = clip_loss(self.logit_scale_text.exp() * t @ e1.t())
        l_gps = clip_loss(self.logit_scale_gps.exp() * g @ e2.t())
        return {"loss": l_text + l_gps, "loss_text": l_text, "loss_gps": l_gps}

    def database_vectors(self, image_feat: Tensor) -> Tensor:
        """G3's retrieval vectors: ``[CLIP, else_1, else_2]``, each L2-normalised (Sec. 3.2)."""
        e1, e2 = self.image_embeddings(image_feat)
        return torch.cat([F.normalize(image_feat, dim=-1), e1, e2], dim=-1)

    def verify(self, image_feat: Tensor, candidates: Tensor) -> Tensor:
        """Geo-verification scores (Sec. 3.4): cosine of each candidate GPS with the image.

        ``image_feat``: ``(D,)``; ``candidates``: ``(C, 2)`` (lat, lon). Returns ``(C,)``.
        """
        _, e2 = self.image_embeddings(image_feat.reshape(1, -1))
        return (self.gps_embeddings(candidates) @ e2[0]).reshape(-1)


# --------------------------------------------------------------------------------------
# frozen towers
# --------------------------------------------------------------------------------------


class TinyImageTower(nn.Module):
    """A small random frozen image tower (tests/demo stand-in for CLIP's vision tower).

    Average-pools the image to ``pool x pool``, flattens (``3 pool^2`` values) and applies a
    fixed random linear map to ``out_dim`` (seeded, so every run builds the same tower).
    """

    def __init__(self, out_dim: int = 768, pool: int = 8, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.pool = pool
        w = torch.randn(out_dim, 3 * pool * pool, generator=g) / math.sqrt(3 * pool * pool)
        self.weight: Tensor
        self.register_buffer("weight", w)
        self.requires_grad_(False)

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        """``(B, 3, H, W)`` in [0, 1] -> ``(B, out_dim)``."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise InvalidInputError(f"expected (B, 3, H, W) images, got {tuple(images.shape)}")
        x = F.adaptive_avg_pool2d(images.float() - 0.5, self.pool).flatten(1)
        return x @ self.weight.t()


class TinyTextTower(nn.Module):
    """A small random frozen text tower: mean of fixed random vectors of the words.

    Each lower-cased word (split on spaces and commas) gets a vector seeded by its CRC32, so
    the embedding depends only on the text (a stand-in for CLIP's text tower).
    """

    def __init__(self, out_dim: int = 768, seed: int = 0) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.seed = seed
        self._cache: dict[str, Tensor] = {}

    def _word(self, w: str) -> Tensor:
        v = self._cache.get(w)
        if v is None:
            rng = np.random.default_rng([zlib.crc32(w.encode()), self.seed])
            v = torch.from_numpy(rng.standard_normal(self.out_dim).astype(np.float32))
            self._cache[w] = v
        return v

    @torch.no_grad()
    def forward(self, texts: Sequence[str]) -> Tensor:
        out = torch.zeros(len(texts), self.out_dim)
        for i, t in enumerate(texts):
            words = [w for w in t.lower().replace(",", " ").split() if w]
            if words:
                out[i] = torch.stack([self._word(w) for w in words]).mean(0)
        return out


class CLIPTowers:
    """CLIP's frozen vision and text towers + projections from a **local** checkpoint folder.

    ``path`` is a folder in Hugging Face layout (``config.json``, weights, preprocessor and
    tokenizer files), e.g. a saved ``openai/clip-vit-large-patch14``; it is opened with
    ``local_files_only=True`` (nothing is downloaded), safetensors weights only and no remote
    code (:func:`geoneurips.io.safe_pretrained_folder`). ``transformers`` is
    imported lazily.
    """

    def __init__(self, path: str | Path) -> None:
        from geoneurips.io import safe_pretrained_folder

        p = safe_pretrained_folder(path, "CLIP checkpoint")
        try:
            from transformers import CLIPModel, CLIPProcessor
        except ImportError as err:  # pragma: no cover - transformers is a dependency
            raise DependencyMissingError("transformers", "CLIP towers") from err
        kw: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
        try:
            model: Any = CLIPModel.from_pretrained(str(p), use_safetensors=True, **kw)
            self.processor: Any = CLIPProcessor.from_pretrained(str(p), **kw)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"cannot load the CLIP checkpoint in {str(p)!r}: {err}") from err
        self.model = model.eval()
        self.dim = int(model.config.projection_dim)

    @torch.no_grad()
    def images(self, pil_images: Sequence[object]) -> Tensor:
        inputs = self.processor(images=list(pil_images), return_tensors="pt")
        return _projected(self.model.get_image_features(pixel_values=inputs["pixel_values"]))

    @torch.no_grad()
    def texts(self, texts: Sequence[str]) -> Tensor:
        inputs = self.processor(text=list(texts), return_tensors="pt", padding=True, truncation=True)
        return _projected(self.model.get_text_features(**inputs))


def _projected(out: Any) -> Tensor:
    """The projected CLIP features (a tensor in transformers 4, ``pooler_output`` in 5)."""
    if isinstance(out, Tensor):
        return out
    pooled: Tensor = out.pooler_output
    return pooled
