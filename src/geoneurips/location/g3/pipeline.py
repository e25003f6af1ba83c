"""G3 training (geo-alignment), the GeoCLIP-style baseline, gallery matching and the demo.

Training follows Sec. 4.1 (AdamW, weight decay 1e-6, StepLR gamma 0.87 per epoch, batch 256,
symmetric CLIP losses); the demo uses a larger learning rate (1e-3) and more epochs on its
few thousand records than the paper's 3e-5 x 10 epochs on 4.7M images, and freezes the
pretrained GeoCLIP capsules (their outputs are computed once; the paper fine-tunes them).
Batches are reshuffled every epoch; the public ``run_G3.py`` uses ``shuffle=False`` (the
same batches in the CSV's order every epoch): on dev seeds 10-12 (full demo) that changed
G3's acc@25km by -0.010/-0.003/-0.013 and held-out image->GPS recall@1 by
+0.018/+0.020/-0.023, i.e. nothing. Like the public code, no image augmentation is applied
(its ``MP16Dataset`` defines contrast transforms but never calls them) and CLIP stays
frozen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geoneurips.errors import InvalidInputError
from geoneurips.location.g3.model import G3Config, G3Model, TinyImageTower, clip_loss
from geoneurips.nn.location_encoders.geoclip import load_geoclip_location_encoder

__all__ = [
    "DEMO_MARGIN",
    "GeoCLIPBaseline",
    "alignment_recall",
    "capsule_features",
    "demo",
    "gallery_match",
    "image_features",
    "train_alignment",
]

#: acc@25km margin (fraction) the demo requires over its strongest baseline (seeds 0-2 in
#: tests/location/test_g3_demo.py).
DEMO_MARGIN = 0.03


@torch.no_grad()
def capsule_features(
    fn: Callable[[Tensor], Tensor], latlon: np.ndarray, chunk: int = 4096
) -> Tensor:
    """Frozen GPS-capsule features of ``(N, 2)`` (lat, lon), computed in chunks."""
    x = torch.from_numpy(np.asarray(latlon, dtype=np.float32))
    return torch.cat([fn(x[i : i + chunk]) for i in range(0, len(x), chunk)])


def _fit(
    params: list[nn.Parameter],
    step_loss: Callable[[Tensor], Tensor],
    n: int,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    gamma: float,
    seed: int,
) -> list[float]:
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=gamma)
    g = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        total = 0.0
        for i in range(0, n - 1, batch_size):
            idx = perm[i : i + batch_size]
            if len(idx) < 2:
                continue
            loss = step_loss(idx)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        history.append(total / n)
    return history


def train_alignment(
    model: G3Model,
    image_feat: Tensor,
    text_feat: Tensor,
    latlon: np.ndarray,
    epochs: int | None = None,
    lr: float | None = None,
    seed: int = 0,
    use_text: bool = True,
    capsules: Tensor | None = None,
) -> list[float]:
    """Geo-alignment training (Sec. 3.1): CLIP(image, text) + CLIP(image, GPS) per batch.

    With frozen capsules (``config.train_capsules=False``) their outputs are computed once
    (or taken from ``capsules``, :func:`capsule_features` of ``latlon`` computed by the
    caller, who reuses them). ``use_text=False`` drops the image-text loss (an ablation).
    Returns the epoch losses.
    """
    cfg = model.config
    if not (len(image_feat) == len(text_feat) == len(latlon)):
        raise InvalidInputError("image_feat, text_feat and latlon must have the same length")
    ll = torch.from_numpy(np.asarray(latlon, dtype=np.float32))
    caps = None
    if not cfg.train_capsules:
        if capsules is None:
            caps = capsule_features(model.location.capsule_features, latlon)
        elif capsules.shape != (len(latlon), 512):
            raise InvalidInputError(
                f"capsules must be ({len(latlon)}, 512), got {tuple(capsules.shape)}"
            )
        else:
            caps = capsules
    model.train()

    def step(idx: Tensor) -> Tensor:
        c = caps[idx] if caps is not None else None
        out = model.loss(image_feat[idx], text_feat[idx], None if c is not None else ll[idx], c)
        return out["loss"] if use_text else out["loss_gps"]

    params = [p for p in model.parameters() if p.requires_grad]
    hist = _fit(
        params, step, len(ll), epochs or cfg.epochs, lr or cfg.lr, cfg.batch_size,
        cfg.weight_decay, cfg.step_gamma, seed,
    )
    model.eval()
    return hist


class GeoCLIPBaseline(nn.Module):
    """GeoCLIP-style image->GPS matching (Vivanco Cepeda et al., NeurIPS 2023).

    Image MLP ``clip_dim -> hidden (768) -> 512`` on the frozen image features, GeoCLIP's pretrained
    location encoder on its own Equal Earth input (frozen here, as G3's capsules are in the
    demo) with a trainable ``512 -> 512 -> 512`` head so that both sides have G3's
    trainable capacity, one learnable logit scale, symmetric CLIP loss; prediction is the
    argmax over a GPS gallery (GeoCLIP's inference). GeoCLIP's queue of extra GPS negatives
    is not used.
    """

    def __init__(
        self, clip_dim: int = 768, hidden: int = 768, logit_scale_init: float = 3.99
    ) -> None:
        super().__init__()
        self.encoder = load_geoclip_location_encoder()
        self.encoder.requires_grad_(False)
        self.image_head = nn.Sequential(
            nn.Linear(clip_dim, hidden), nn.ReLU(), nn.Linear(hidden, 512)
        )
        self.gps_head = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512))
        self.logit_scale = nn.Parameter(torch.tensor(logit_scale_init))

    def image_embeddings(self, feat: Tensor) -> Tensor:
        return F.normalize(self.image_head(feat), dim=-1)

    def gps_embeddings(self, caps: Tensor) -> Tensor:
        return F.normalize(self.gps_head(caps), dim=-1)

    def fit(
        self, image_feat: Tensor, latlon: np.ndarray, cfg: G3Config, epochs: int, lr: float,
        seed: int = 0,
    ) -> list[float]:
        caps = capsule_features(self.encoder, latlon)
        self.train()

        def step(idx: Tensor) -> Tensor:
            logits = self.logit_scale.exp() * self.gps_embeddings(caps[idx]) @ self.image_embeddings(
                image_feat[idx]
            ).t()
            return clip_loss(logits)

        params = [p for p in self.parameters() if p.requires_grad]
        hist = _fit(params, step, len(caps), epochs, lr, cfg.batch_size, cfg.weight_decay,
                    cfg.step_gamma, seed)
        self.eval()
        return hist


@torch.no_grad()
def alignment_recall(
    img_emb: Tensor, gps_emb: Tensor, ks: tuple[int, ...] = (1, 10)
) -> dict[str, float]:
    """Image->GPS retrieval recall of paired rows (row ``i`` of both is one photo).

    For each image, the rank of its own GPS among all rows' GPS by cosine (ties count
    against it); ``recall@k`` is the fraction ranked within the first ``k``. On held-out
    records this measures the geo-alignment directly.
    """
    if img_emb.ndim != 2 or img_emb.shape != gps_emb.shape:
        raise InvalidInputError(
            f"img_emb and gps_emb must be (N, D) of one shape: {tuple(img_emb.shape)} vs "
            f"{tuple(gps_emb.shape)}"
        )
    sims = img_emb @ gps_emb.t()
    rank = (sims >= sims.diagonal()[:, None]).sum(1) - 1
    return {f"recall@{k}": float((rank < k).float().mean()) for k in ks}


@torch.no_grad()
def gallery_match(img_emb: Tensor, gallery_emb: Tensor, gallery: np.ndarray) -> np.ndarray:
    """GeoCLIP inference: the gallery GPS with the highest cosine to each image embedding."""
    best = torch.argmax(img_emb @ gallery_emb.t(), dim=1).numpy()
    out: np.ndarray = gallery[best]
    return out


@torch.no_grad()
def image_features(ds: Any, tower: TinyImageTower, batch: int = 256) -> Tensor:
    """Frozen image features of every sample of a dataset with ``"image"`` tensors."""
    feats = []
    for i in range(0, len(ds), batch):
        imgs = torch.stack([ds[j]["image"] for j in range(i, min(i + batch, len(ds)))])
        feats.append(tower(imgs))
    return torch.cat(feats)


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> Any:
    """G3 vs retrieval-only top-1, kNN vote and GeoCLIP-style gallery matching (see demo_run)."""
    from geoneurips.location.g3.demo_run import run_demo

    return run_demo(Path(out_dir), quick=quick, seed=seed, started=time.perf_counter())
