"""Build G3 around a user database and geolocate one photo (used by ``geoneurips geolocate``)."""

from __future__ import annotations

from pathlib import Path

import torch

from geoneurips.errors import InvalidInputError
from geoneurips.location.g3.data import MP16Pro, _load_image
from geoneurips.location.g3.lmm import (
    LMM,
    NeighbourVoteLMM,
    OpenAICompatibleLMM,
    TransformersLMM,
)
from geoneurips.location.g3.model import (
    CLIPTowers,
    G3Config,
    G3Model,
    TinyImageTower,
    TinyTextTower,
)
from geoneurips.location.g3.pipeline import train_alignment
from geoneurips.location.g3.retrieval import G3Geolocator, Ranked

__all__ = ["build_and_predict", "choose_lmm"]

TINY_DIM = 256


def choose_lmm(
    lmm_url: str | None,
    lmm_model: str,
    api_key: str | None,
    lmm_path: Path | None,
    max_tokens: int = 200,
) -> LMM:
    """The LMM named by the options (the rule-based stand-in when none is)."""
    if max_tokens < 1:
        raise InvalidInputError(f"--lmm-max-tokens must be >= 1, got {max_tokens}")
    if lmm_url:
        return OpenAICompatibleLMM(lmm_url, lmm_model, api_key=api_key, max_tokens=max_tokens)
    if lmm_path is not None:
        return TransformersLMM(lmm_path, max_new_tokens=max_tokens)
    return NeighbourVoteLMM()


def _features(
    db: MP16Pro, photo: Path, clip: Path | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    if clip is not None:
        from PIL import Image

        towers = CLIPTowers(clip)
        pils = []
        for i in range(len(db)):
            with Image.open(db.image_path(i)) as im:
                pils.append(im.convert("RGB"))
        with Image.open(photo) as im:
            q = towers.images([im.convert("RGB")])
        return towers.images(pils), towers.texts(db.texts), q, towers.dim
    tower = TinyImageTower(TINY_DIM, seed=seed)
    imgs = torch.stack([db[i]["image"] for i in range(len(db))])
    q = tower(_load_image(photo)[None])
    return tower(imgs), TinyTextTower(TINY_DIM, seed=seed)(db.texts), q, TINY_DIM


def build_and_predict(
    photo: Path,
    database: Path,
    clip: Path | None = None,
    checkpoint: Path | None = None,
    epochs: int = 5,
    lmm_url: str | None = None,
    lmm_model: str = "",
    api_key: str | None = None,
    lmm_path: Path | None = None,
    seed: int = 0,
    save_checkpoint: Path | None = None,
    lmm_max_tokens: int = 200,
) -> Ranked:
    """Features -> aligned G3 heads (checkpoint or brief alignment) -> G3 -> ranked candidates."""
    lmm = choose_lmm(lmm_url, lmm_model, api_key, lmm_path, lmm_max_tokens)
    db = MP16Pro(database)
    if len(db) < 2:
        raise InvalidInputError(f"the database {str(database)!r} needs at least 2 records")
    torch.manual_seed(seed)
    db_feat, text_feat, q_feat, dim = _features(db, photo, clip, seed)
    cfg = G3Config(embed_dim=dim, lr=1e-3, epochs=epochs, train_capsules=False)
    model = G3Model(cfg, clip_dim=dim)
    if checkpoint is not None:
        from geoneurips.io import load_model_state, load_weights

        state, _ = load_model_state(checkpoint, "G3")
        load_weights(model, state, checkpoint, "G3")
    else:
        train_alignment(model, db_feat, text_feat, db.latlon, seed=seed)
    if save_checkpoint is not None:
        from dataclasses import asdict

        from geoneurips.io import save_model

        save_model(save_checkpoint, model, {"g3": asdict(cfg), "clip_dim": dim})
    with torch.no_grad():
        vec = model.database_vectors(db_feat).numpy()
    g3 = G3Geolocator(model, vec, db.latlon, lmm)
    return g3.predict(q_feat, images=[photo.read_bytes()])[0]
