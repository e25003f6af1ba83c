"""AnyChange: Segment Any Change (Zheng, Zhong, Zhang, Ermon; NeurIPS 2024).

Zero-shot change detection built on the Segment Anything Model (SAM). Every step of the
paper is here:

* **Per-date mask proposals** (Sec. 3.2, "object proposals"): SAM prompted with a regular
  point grid (32 x 32, 3 masks per point), kept when the predicted IoU exceeds 0.5 (lower than
  SAM's automatic 0.88, so that more candidates reach the matching) and the stability score is
  at least 0.95, then box NMS at 0.7; masks covering 80 % of the image or more are dropped.
* **De-normalised embeddings** (Sec. 3.2, "bitemporal latent matching"; public code
  ``use_normalized_feature``): the affine of the last LayerNorm of SAM's neck is undone,
  ``z' = (z - b) / w``, and the 64 x 64 map is upsampled bilinearly (``align_corners=True``)
  to the image size.
* **Bitemporal latent matching** (Sec. 3.2, Eq. 1-2): each proposal ``m`` of *both* dates
  gives mask embeddings ``x_t = mean(z'_t[:, m])``; its change confidence is
  ``c = -cos(x_1, x_2)``; it is a change when ``c > cos(theta)``, ``theta = 155`` degrees by
  default (the angle between the two embeddings exceeds ``180 - theta`` = 25 degrees).
  Optionally ``theta`` comes from Otsu's threshold on the per-pixel ``-cos`` map.
* **Merging** (Sec. 3.2): the change masks of both directions are concatenated, box NMS at
  0.7 on SAM's IoU predictions, then the top 1000 by change confidence are kept.
* **Point query** (Sec. 3.3, "point query mechanism"): a clicked point ``(x, y, t)`` gives a
  SAM object mask ``q`` on date ``t``; its mean *raw* embedding selects, on both dates, the
  pixels with ``cos > cos(60 deg)``; proposals with ``0.25 |q| < area < 4 |q|`` and more than
  half of their pixels on that object map are kept, then matched as above. Several points
  average their features and areas.

Back ends: :class:`SamBackend` (any SAM built by :func:`build_sam` from a local checkpoint,
or :func:`build_tiny_sam` with random weights for tests) and :class:`PluggableBackend` (any
mask-proposal generator plus any dense feature extractor; defaults: multi-scale SLIC segments
and simple spectral/texture features), so that the method runs without SAM weights.

Differences from the public code (``torchange``), all deliberate:

* Mask embeddings are computed *exactly* as the mean of the bilinearly upsampled map, but
  through the separable interpolation matrices (``A^T M B``) instead of materialising a
  256 x H x W float map (1 GiB at 1024 x 1024); numerically the same quantity.
* The public top-k keeps ``scores > sorted[1000]``, which can keep fewer than 1000 masks on
  ties; here exactly ``top_k`` are kept (the paper's intent: "top-1000").
* The public Otsu call passes the number of pixels as the number of histogram bins; here the
  histogram has ``otsu_bins`` (256) bins.
* The point query takes, among SAM's three masks for the click, the one with the highest
  predicted IoU (SAM's own ambiguity rule); the public code takes the first one surviving the
  proposal filters, which may be none (an index error there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.io import load_checkpoint

__all__ = [
    "AnyChange",
    "AnyChangeConfig",
    "ChangeBackend",
    "ChangeResult",
    "PluggableBackend",
    "Proposals",
    "SamBackend",
    "SlicProposer",
    "SpectralTextureFeatures",
    "angle_to_cosine",
    "build_sam",
    "build_tiny_sam",
    "cosine_to_angle",
    "interpolation_matrix",
    "masks_to_boxes",
]

SamType = Literal["vit_b", "vit_l", "vit_h"]


def angle_to_cosine(angle: float) -> float:
    """``cos`` of an angle in degrees (``0 <= angle <= 180``)."""
    if not 0.0 <= angle <= 180.0:
        raise InvalidInputError(f"angle must be in [0, 180] degrees, got {angle}")
    return math.cos(math.radians(angle))


def cosine_to_angle(cosine: float) -> float:
    """Angle in degrees of a cosine in ``[-1, 1]``."""
    return math.degrees(math.acos(max(-1.0, min(1.0, float(cosine)))))


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class AnyChangeConfig:
    """Hyper-parameters, paper/public-code defaults (Sec. 3.2-3.3, Sec. 4 "implementation").

    Attributes:
        points_per_side: side of the regular point grid prompting SAM (32 -> 1024 points).
        points_per_batch: points decoded at once (memory only).
        pred_iou_thresh: keep masks with SAM's predicted IoU above this (0.5).
        stability_score_thresh: keep masks with stability score at least this (0.95).
        stability_score_offset: logit offset of the stability score (1.0).
        box_nms_thresh: box IoU of the NMS inside a date and of the final merge (0.7).
        area_thresh: drop proposals covering this fraction of the image or more (0.8).
        change_confidence_threshold: ``theta`` in degrees; a change needs ``-cos > cos(theta)``
            (155; the README of the public code uses 145).
        auto_threshold: choose ``theta`` by Otsu on the per-pixel ``-cos`` map.
        otsu_bins: histogram bins of the Otsu threshold.
        use_normalized_feature: undo the neck's last LayerNorm affine before matching.
        bitemporal_match: match proposals of both dates (paper); else only date 2's.
        match_hist: histogram-match image 2 to image 1 first.
        object_sim_thresh: angle (degrees) of the point query's object map (60).
        query_area_range: a proposal must have ``lo |q| < area < hi |q|`` (0.25, 4).
        top_k: number of change masks kept after the merge (1000).
    """

    points_per_side: int = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.5
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    area_thresh: float = 0.8
    change_confidence_threshold: float = 155.0
    auto_threshold: bool = False
    otsu_bins: int = 256
    use_normalized_feature: bool = True
    bitemporal_match: bool = True
    match_hist: bool = False
    object_sim_thresh: float = 60.0
    query_area_range: tuple[float, float] = (0.25, 4.0)
    top_k: int = 1000

    def __post_init__(self) -> None:
        if self.points_per_side < 1 or self.points_per_batch < 1 or self.top_k < 1:
            raise InvalidInputError("points_per_side, points_per_batch and top_k must be >= 1")
        for name in ("change_confidence_threshold", "object_sim_thresh"):
            v = getattr(self, name)
            if not 0.0 <= v <= 180.0:
                raise InvalidInputError(f"{name} must be an angle in [0, 180], got {v}")
        if not 0.0 < self.area_thresh <= 1.0:
            raise InvalidInputError(f"area_thresh must be in (0, 1], got {self.area_thresh}")

    @classmethod
    def tiny(cls, **overrides: Any) -> AnyChangeConfig:
        """A small configuration for tests with a random SAM (4 x 4 grid, no score filters).

        A randomly initialised SAM predicts meaningless IoUs and unstable masks, so the
        thresholds are opened (0) to let proposals reach the matching stage.
        """
        base: dict[str, Any] = dict(
            points_per_side=4, points_per_batch=16, pred_iou_thresh=0.0,
            stability_score_thresh=0.0, top_k=100,
        )
        base.update(overrides)
        return cls(**base)


# --------------------------------------------------------------------------- proposals


def masks_to_boxes(masks: Tensor) -> Tensor:
    """XYXY boxes (inclusive max, SAM's convention) of boolean masks ``(N, H, W)``.

    Empty masks give ``[0, 0, 0, 0]``.
    """
    n, h, w = masks.shape
    if n == 0:
        return torch.zeros(0, 4)
    rows = masks.any(dim=2)  # (N, H)
    cols = masks.any(dim=1)  # (N, W)
    ar_h = torch.arange(h, device=masks.device)
    ar_w = torch.arange(w, device=masks.device)
    y0 = torch.where(rows, ar_h, h).min(dim=1).values
    y1 = torch.where(rows, ar_h, -1).max(dim=1).values
    x0 = torch.where(cols, ar_w, w).min(dim=1).values
    x1 = torch.where(cols, ar_w, -1).max(dim=1).values
    boxes = torch.stack([x0, y0, x1, y1], dim=1).float()
    empty = ~rows.any(dim=1)
    boxes[empty] = 0.0
    return boxes


def stability_score(logits: Tensor, threshold: float, offset: float) -> Tensor:
    """SAM's stability score: IoU of the masks binarised at ``threshold +/- offset``."""
    inter = (logits > threshold + offset).flatten(1).sum(1).float()
    union = (logits > threshold - offset).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.zeros_like(union))


@dataclass
class Proposals:
    """Mask proposals of one date (or change masks after matching).

    Attributes:
        masks: ``(N, H, W)`` bool.
        iou_preds: ``(N,)`` the generator's quality score (SAM's predicted IoU), used by NMS.
        boxes: ``(N, 4)`` XYXY boxes.
        stability: ``(N,)`` stability scores (1 for non-SAM proposers).
        confidence: ``(N,)`` change confidence ``-cos`` (filled by the matching), else NaN.
        date: ``(N,)`` int, the date (1 or 2) a mask was proposed on (0 if unknown).
    """

    masks: Tensor
    iou_preds: Tensor
    boxes: Tensor
    stability: Tensor
    confidence: Tensor = field(default_factory=lambda: torch.zeros(0))
    date: Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.int64))

    def __post_init__(self) -> None:
        n = self.masks.shape[0]
        if self.confidence.numel() != n:
            self.confidence = torch.full((n,), float("nan"))
        if self.date.numel() != n:
            self.date = torch.zeros(n, dtype=torch.int64)

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    @property
    def areas(self) -> Tensor:
        """Pixel counts of the masks."""
        return self.masks.flatten(1).sum(1)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the masks."""
        return int(self.masks.shape[1]), int(self.masks.shape[2])

    def filter(self, keep: Tensor) -> Proposals:
        """A new :class:`Proposals` with the rows selected by ``keep`` (bool or indices)."""
        return Proposals(
            self.masks[keep], self.iou_preds[keep], self.boxes[keep], self.stability[keep],
            self.confidence[keep], self.date[keep],
        )

    @classmethod
    def empty(cls, height: int, width: int) -> Proposals:
        """No proposals on an ``height x width`` image."""
        return cls(
            torch.zeros(0, height, width, dtype=torch.bool), torch.zeros(0), torch.zeros(0, 4),
            torch.zeros(0),
        )

    @classmethod
    def from_masks(cls, masks: Tensor, scores: Tensor | None = None) -> Proposals:
        """Proposals from boolean masks (scores default to 1)."""
        masks = masks.bool()
        n = masks.shape[0]
        s = torch.ones(n) if scores is None else scores.float()
        return cls(masks, s, masks_to_boxes(masks), torch.ones(n))

    @classmethod
    def cat(cls, items: Sequence[Proposals], height: int, width: int) -> Proposals:
        """Concatenate proposals of the same image size."""
        items = [p for p in items if len(p) > 0]
        if not items:
            return cls.empty(height, width)
        return cls(
            torch.cat([p.masks for p in items]), torch.cat([p.iou_preds for p in items]),
            torch.cat([p.boxes for p in items]), torch.cat([p.stability for p in items]),
            torch.cat([p.confidence for p in items]), torch.cat([p.date for p in items]),
        )

    def nms(self, iou_threshold: float) -> Proposals:
        """Box NMS on ``iou_preds`` (boxes made half-open so one-pixel boxes have area)."""
        if len(self) == 0:
            return self
        from torchvision.ops import nms

        boxes = self.boxes.float().clone()
        boxes[:, 2:] += 1.0
        keep = nms(boxes, self.iou_preds.float(), iou_threshold)
        return self.filter(keep)


# --------------------------------------------------------------------------- interpolation


def interpolation_matrix(out_size: int, in_size: int) -> Tensor:
    """Matrix ``A (out, in)`` of 1-D bilinear interpolation with ``align_corners=True``.

    ``A @ f`` equals ``F.interpolate(..., mode="bilinear", align_corners=True)`` along one
    axis, so a 2-D upsampling is ``A f B^T`` and the mean of the upsampled map over a mask
    ``M`` is ``sum(f * (A^T M B)) / |M|`` (used for exact, memory-light mask embeddings).
    """
    if in_size == out_size:
        return torch.eye(out_size)
    a = torch.zeros(out_size, in_size)
    if in_size == 1:
        a[:, 0] = 1.0
        return a
    if out_size == 1:
        a[0, 0] = 1.0
        return a
    src = torch.arange(out_size, dtype=torch.float64) * (in_size - 1) / (out_size - 1)
    lo = src.floor().long().clamp(0, in_size - 1)
    hi = (lo + 1).clamp(max=in_size - 1)
    frac = (src - lo.double()).float()
    rows = torch.arange(out_size)
    a.index_put_((rows, lo), 1.0 - frac, accumulate=True)
    a.index_put_((rows, hi), frac, accumulate=True)
    return a


class DenseFeatures:
    """A dense feature map ``(C, h, w)`` seen at image size ``(H, W)`` (bilinear, corners).

    Gives exact mask means and per-pixel cosine maps of the upsampled map without keeping it
    in memory.
    """

    def __init__(self, features: Tensor, size: tuple[int, int]) -> None:
        if features.ndim != 3:
            raise InvalidInputError(f"features must be (C, h, w), got {tuple(features.shape)}")
        self.f = features.float()
        self.size = (int(size[0]), int(size[1]))
        self.identity = tuple(self.f.shape[1:]) == self.size
        if not self.identity:
            self.a = interpolation_matrix(self.size[0], self.f.shape[1])  # (H, h)
            self.b = interpolation_matrix(self.size[1], self.f.shape[2])  # (W, w)

    def mask_means(self, masks: Tensor, chunk: int = 32) -> Tensor:
        """``(N, C)`` means of the upsampled map over each mask (zeros for empty masks)."""
        n = masks.shape[0]
        c = self.f.shape[0]
        out = torch.zeros(n, c)
        flat = self.f.flatten(1)  # (C, h*w)
        for s in range(0, n, chunk):
            m = masks[s : s + chunk].float()
            if self.identity:
                w = m.flatten(1)
            else:
                w = torch.einsum("Hh,nHW,Ww->nhw", self.a, m, self.b).flatten(1)
            area = m.flatten(1).sum(1, keepdim=True).clamp_min(1.0)
            out[s : s + chunk] = (w @ flat.T) / area
        return out

    def rows(self, chunk: int = 64) -> Any:
        """Yield ``(row0, block (C, r, W))`` of the upsampled map, ``chunk`` rows at a time."""
        h = self.size[0]
        for r0 in range(0, h, chunk):
            r1 = min(h, r0 + chunk)
            if self.identity:
                yield r0, self.f[:, r0:r1]
            else:
                yield r0, torch.einsum("rh,chw,Ww->crW", self.a[r0:r1], self.f, self.b)


def _cosine_map(fa: DenseFeatures, fb: DenseFeatures) -> Tensor:
    """Per-pixel cosine similarity ``(H, W)`` of two upsampled maps."""
    out = torch.zeros(fa.size)
    for (r0, ba), (_, bb) in zip(fa.rows(), fb.rows(), strict=True):
        out[r0 : r0 + ba.shape[1]] = F.cosine_similarity(ba, bb, dim=0, eps=1e-8)
    return out


def _cosine_to_vector(fa: DenseFeatures, v: Tensor) -> Tensor:
    """Per-pixel cosine ``(H, W)`` between an upsampled map and one vector."""
    out = torch.zeros(fa.size)
    for r0, ba in fa.rows():
        out[r0 : r0 + ba.shape[1]] = F.cosine_similarity(ba, v[:, None, None], dim=0, eps=1e-8)
    return out


# --------------------------------------------------------------------------- back ends


class ChangeBackend(Protocol):
    """What AnyChange needs from a segmentation model.

    ``encode`` prepares one date (for SAM: the image embedding); ``propose`` gives the
    date's mask proposals; ``features`` its dense feature map (``normalized``: the
    de-normalised variant used by the latent matching); ``point_mask`` the object mask
    under a clicked point ``(x, y)`` in pixel coordinates.
    """

    def encode(self, image: np.ndarray) -> Any: ...

    def propose(self, state: Any, config: AnyChangeConfig) -> Proposals: ...

    def features(self, state: Any, normalized: bool) -> DenseFeatures: ...

    def point_mask(self, state: Any, xy: tuple[float, float]) -> Tensor: ...


def _as_uint8_rgb(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Check an ``(H, W, 3)`` image and bring it to uint8 (floats in [0, 1] or [0, 255])."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InvalidInputError(f"{name} must be (H, W, 3) RGB, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"{name} contains NaN or infinite values")
    if arr.dtype == np.uint8:
        return arr
    arr = arr.astype(np.float64)
    if arr.max() <= 1.0 + 1e-6:
        arr = arr * 255.0
    return np.clip(np.round(arr), 0, 255).astype(np.uint8)


def build_tiny_sam(
    embed_dim: int = 32,
    depth: int = 2,
    num_heads: int = 2,
    img_size: int = 256,
    prompt_dim: int = 32,
    seed: int = 0,
) -> torch.nn.Module:
    """A randomly initialised SAM with tiny dimensions (tests and CPU smoke runs).

    Same architecture as SAM (ViT image encoder with windowed + global attention, prompt
    encoder, two-way-transformer mask decoder) at a fraction of the width, input size
    ``img_size`` and patch 16.
    """
    from functools import partial

    from segment_anything.modeling import (
        ImageEncoderViT,
        MaskDecoder,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )

    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        grid = img_size // 16
        sam = Sam(
            image_encoder=ImageEncoderViT(
                img_size=img_size, patch_size=16, embed_dim=embed_dim, depth=depth,
                num_heads=num_heads, mlp_ratio=2.0, out_chans=prompt_dim, qkv_bias=True,
                norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True,
                window_size=4, global_attn_indexes=(depth - 1,),
            ),
            prompt_encoder=PromptEncoder(
                embed_dim=prompt_dim, image_embedding_size=(grid, grid),
                input_image_size=(img_size, img_size), mask_in_chans=4,
            ),
            mask_decoder=MaskDecoder(
                transformer_dim=prompt_dim,
                transformer=TwoWayTransformer(
                    depth=1, embedding_dim=prompt_dim, mlp_dim=2 * prompt_dim, num_heads=2
                ),
                num_multimask_outputs=3, iou_head_depth=2, iou_head_hidden_dim=prompt_dim,
            ),
            pixel_mean=[123.675, 116.28, 103.53],
            pixel_std=[58.395, 57.12, 57.375],
        )
        # random affine in the neck's last LayerNorm so that de-normalisation is exercised
        ln = sam.image_encoder.neck[3]
        with torch.no_grad():
            ln.weight.uniform_(0.5, 1.5)
            ln.bias.normal_(0.0, 0.1)
            # A random decoder gives almost all-foreground masks (the upscaled embedding is
            # positive after GELU); unbiased, unsquashed upscaling makes the random masks
            # split the image, so the proposal and matching steps see varied masks.
            dec = sam.mask_decoder
            dec.output_upscaling[-1] = torch.nn.Identity()
            dec.output_upscaling[3].bias.zero_()
            for mlp in dec.output_hypernetworks_mlps:
                mlp.layers[-1].weight.mul_(20.0)
                mlp.layers[-1].bias.zero_()
    finally:
        torch.random.set_rng_state(gen_state)
    return sam.eval()


def build_sam(model_type: SamType, checkpoint: str | Path) -> torch.nn.Module:
    """SAM ``vit_b`` / ``vit_l`` / ``vit_h`` from a *local* checkpoint (nothing downloads).

    The official files are ``sam_vit_b_01ec64.pth``, ``sam_vit_l_0b3195.pth`` and
    ``sam_vit_h_4b8939.pth`` from https://github.com/facebookresearch/segment-anything;
    they are read safely with :func:`geoneurips.io.load_checkpoint` (``weights_only=True``).

    Raises:
        CheckpointError: unknown type, unreadable file, or weights of another model.
    """
    from segment_anything import sam_model_registry

    if model_type not in ("vit_b", "vit_l", "vit_h"):
        raise CheckpointError(f"unknown SAM type {model_type!r}; use vit_b, vit_l or vit_h")
    state = load_checkpoint(checkpoint)
    sam = sam_model_registry[model_type](checkpoint=None)
    try:
        sam.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} does not match SAM {model_type}: {str(exc)[:300]}"
        ) from exc
    return sam.eval()


def sam_type_from_state(state: dict[str, Any]) -> SamType:
    """Guess ``vit_b``/``vit_l``/``vit_h`` from the patch-embedding width of a state dict."""
    w = state.get("image_encoder.patch_embed.proj.weight")
    if w is None:
        raise CheckpointError("not a SAM checkpoint (no image_encoder.patch_embed.proj.weight)")
    width = int(w.shape[0])
    types: dict[int, SamType] = {768: "vit_b", 1024: "vit_l", 1280: "vit_h"}
    if width not in types:
        raise CheckpointError(f"SAM checkpoint with unknown encoder width {width}")
    return types[width]


@dataclass
class SamState:
    """One encoded date: SAM image embedding and the sizes needed to map masks back."""

    embedding: Tensor  # (1, C, h, w)
    input_size: tuple[int, int]
    original_size: tuple[int, int]


class SamBackend:
    """AnyChange's SAM back end (Sec. 3.2): embeddings, grid proposals, point prompts.

    Args:
        sam: a ``segment_anything`` :class:`Sam` (from :func:`build_sam` or
            :func:`build_tiny_sam`).
        device: torch device (CPU by default).
    """

    def __init__(self, sam: torch.nn.Module, device: str | torch.device = "cpu") -> None:
        self.sam = sam.to(device).eval()
        self.device = torch.device(device)
        ln = self.sam.image_encoder.neck[3]
        w = ln.weight.detach().float().cpu()
        # avoid dividing by an exact zero scale (a degenerate checkpoint)
        self._ln_w = torch.where(w.abs() < 1e-12, torch.full_like(w, 1e-12), w)
        self._ln_b = ln.bias.detach().float().cpu()

    @property
    def img_size(self) -> int:
        """Model input side (1024 for the official SAMs)."""
        return int(self.sam.image_encoder.img_size)

    @torch.no_grad()
    def encode(self, image: np.ndarray) -> SamState:
        """Resize the longest side to the model input, normalise, pad, and embed."""
        img = _as_uint8_rgb(image)
        h, w = img.shape[:2]
        scale = self.img_size / max(h, w)
        nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
        x = torch.from_numpy(np.ascontiguousarray(img).copy()).permute(2, 0, 1)[None].float().to(self.device)
        if (nh, nw) != (h, w):
            x = F.interpolate(x, (nh, nw), mode="bilinear", align_corners=False, antialias=True)
        x = self.sam.preprocess(x)
        emb = self.sam.image_encoder(x)
        return SamState(emb.float(), (nh, nw), (h, w))

    @torch.no_grad()
    def _decode(self, state: SamState, points_xy: np.ndarray) -> tuple[Tensor, Tensor]:
        """Logit masks ``(B, 3, H, W)`` and IoU predictions ``(B, 3)`` for point prompts."""
        oh, ow = state.original_size
        ih, iw = state.input_size
        coords = torch.as_tensor(points_xy, dtype=torch.float32, device=self.device).clone()
        coords[:, 0] *= iw / ow
        coords[:, 1] *= ih / oh
        labels = torch.ones(coords.shape[0], 1, dtype=torch.int, device=self.device)
        sparse, dense = self.sam.prompt_encoder(
            points=(coords[:, None, :], labels), boxes=None, masks=None
        )
        low, iou = self.sam.mask_decoder(
            image_embeddings=state.embedding, image_pe=self.sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
            multimask_output=True,
        )
        masks = self.sam.postprocess_masks(low, state.input_size, state.original_size)
        return masks.float().cpu(), iou.float().cpu()

    @torch.no_grad()
    def propose(self, state: SamState, config: AnyChangeConfig) -> Proposals:
        """Grid-prompted proposals with the paper's IoU/stability filters and box NMS."""
        oh, ow = state.original_size
        n = config.points_per_side
        offs = (np.arange(n) + 0.5) / n
        gx, gy = np.meshgrid(offs * ow, offs * oh)
        points = np.stack([gx.ravel(), gy.ravel()], axis=1)
        thr = float(self.sam.mask_threshold)
        parts: list[Proposals] = []
        for s in range(0, len(points), config.points_per_batch):
            logits, iou = self._decode(state, points[s : s + config.points_per_batch])
            logits = logits.flatten(0, 1)
            iou = iou.flatten(0, 1)
            keep = iou > config.pred_iou_thresh
            logits, iou = logits[keep], iou[keep]
            stab = stability_score(logits, thr, config.stability_score_offset)
            keep = stab >= config.stability_score_thresh
            logits, iou, stab = logits[keep], iou[keep], stab[keep]
            masks = logits > thr
            nonempty = masks.flatten(1).any(1)
            masks, iou, stab = masks[nonempty], iou[nonempty], stab[nonempty]
            parts.append(Proposals(masks, iou, masks_to_boxes(masks), stab))
        return Proposals.cat(parts, oh, ow).nms(config.box_nms_thresh)

    def features(self, state: SamState, normalized: bool) -> DenseFeatures:
        """Image embedding (optionally with the neck's last LayerNorm affine undone)."""
        z = state.embedding[0].float().cpu()
        if normalized:
            z = (z - self._ln_b[:, None, None]) / self._ln_w[:, None, None]
        return DenseFeatures(z, state.original_size)

    def point_mask(self, state: SamState, xy: tuple[float, float]) -> Tensor:
        """SAM's mask (highest predicted IoU of the three) for one positive click."""
        logits, iou = self._decode(state, np.asarray([xy], dtype=np.float64))
        best = int(iou[0].argmax())
        return logits[0, best] > float(self.sam.mask_threshold)


class SlicProposer:
    """Mask proposals from SLIC superpixels at several scales (a SAM-free proposer).

    Args:
        n_segments: superpixel counts, one SLIC run per value (coarse to fine).
        compactness: SLIC compactness.
    """

    def __init__(self, n_segments: Sequence[int] = (100, 300), compactness: float = 10.0) -> None:
        self.n_segments = tuple(int(n) for n in n_segments)
        self.compactness = float(compactness)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """``(N, H, W)`` bool masks for an ``(H, W, C)`` image in [0, 1]."""
        from skimage.segmentation import slic

        masks = []
        for n in self.n_segments:
            labels = slic(
                image, n_segments=n, compactness=self.compactness, start_label=0,
                channel_axis=-1, enforce_connectivity=True,
            )
            for k in np.unique(labels):
                masks.append(labels == k)
        return np.stack(masks) if masks else np.zeros((0, *image.shape[:2]), bool)


class SpectralTextureFeatures:
    """Dense spectral/texture features ``(D, H, W)`` (a SAM-free feature extractor).

    Per band: Gaussian-smoothed value at each ``sigma`` and local standard deviation at the
    largest ``sigma``; plus the gradient magnitude of the smoothed mean band. Each channel is
    standardised over the image (zero mean, unit variance), which also removes global
    radiometric offsets between the dates. A constant ``anchor`` channel (``anchor`` times
    the root of the channel count) is appended: without it, pixels close to the image mean
    have near-zero vectors whose direction, hence cosine, is pure noise.
    """

    def __init__(self, sigmas: Sequence[float] = (0.5, 1.5), anchor: float = 2.0) -> None:
        self.sigmas = tuple(float(s) for s in sigmas)
        self.anchor = float(anchor)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Features of an ``(H, W, C)`` float image."""
        from scipy import ndimage

        img = np.asarray(image, dtype=np.float64)
        chans = []
        big = max(self.sigmas)
        for b in range(img.shape[2]):
            band = img[..., b]
            for s in self.sigmas:
                chans.append(ndimage.gaussian_filter(band, s))
            mean = ndimage.gaussian_filter(band, big)
            sq = ndimage.gaussian_filter(band * band, big)
            chans.append(np.sqrt(np.clip(sq - mean * mean, 0, None)))
        gray = ndimage.gaussian_filter(img.mean(axis=2), min(self.sigmas))
        chans.append(np.hypot(ndimage.sobel(gray, 0), ndimage.sobel(gray, 1)))
        feats = np.stack(chans)
        mu = feats.mean(axis=(1, 2), keepdims=True)
        sd = feats.std(axis=(1, 2), keepdims=True)
        feats = (feats - mu) / np.where(sd > 1e-8, sd, 1.0)
        if self.anchor > 0:
            const = np.full((1, *feats.shape[1:]), self.anchor * np.sqrt(len(feats)))
            feats = np.concatenate([feats, const])
        return feats.astype(np.float32)


@dataclass
class PluggableState:
    """One date for :class:`PluggableBackend`."""

    image: np.ndarray
    features: Tensor
    proposals: Proposals


class PluggableBackend:
    """Any mask-proposal generator plus any dense feature extractor (no SAM needed).

    Args:
        proposer: ``image (H, W, C) float [0, 1] -> masks (N, H, W) bool`` or a label image
            ``(H, W)`` int (one mask per label). Default :class:`SlicProposer`.
        extractor: ``image (H, W, C) float [0, 1] -> features (D, h, w)``; a coarser map is
            upsampled bilinearly like SAM's. Default :class:`SpectralTextureFeatures`.

    The same features serve as "raw" and "de-normalised" embeddings; the point mask is the
    smallest proposal containing the click.
    """

    def __init__(
        self,
        proposer: Callable[[np.ndarray], np.ndarray] | None = None,
        extractor: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.proposer = proposer or SlicProposer()
        self.extractor = extractor or SpectralTextureFeatures()

    def encode(self, image: np.ndarray) -> PluggableState:
        """Run the proposer and the extractor on one date."""
        img = _as_uint8_rgb(image).astype(np.float32) / 255.0
        h, w = img.shape[:2]
        out = np.asarray(self.proposer(img))
        if out.ndim == 2:
            masks = np.stack([out == k for k in np.unique(out)])
        elif out.ndim == 3:
            masks = out.astype(bool)
        else:
            raise InvalidInputError(f"proposer returned shape {out.shape}; want (N,H,W) or (H,W)")
        if masks.shape[1:] != (h, w):
            raise InvalidInputError(f"proposer masks {masks.shape[1:]} != image {(h, w)}")
        masks = masks[masks.reshape(len(masks), -1).any(1)]
        feats = torch.as_tensor(np.asarray(self.extractor(img), dtype=np.float32))
        return PluggableState(img, feats, Proposals.from_masks(torch.from_numpy(masks)))

    def propose(self, state: PluggableState, config: AnyChangeConfig) -> Proposals:
        """The proposer's masks after box NMS."""
        return state.proposals.nms(config.box_nms_thresh)

    def features(self, state: PluggableState, normalized: bool) -> DenseFeatures:
        """The extractor's map seen at image size."""
        return DenseFeatures(state.features, state.image.shape[:2])

    def point_mask(self, state: PluggableState, xy: tuple[float, float]) -> Tensor:
        """Smallest proposal containing the clicked pixel."""
        h, w = state.image.shape[:2]
        c, r = min(w - 1, max(0, int(xy[0]))), min(h - 1, max(0, int(xy[1])))
        m = state.proposals.masks
        hit = m[:, r, c]
        if not bool(hit.any()):
            out = torch.zeros(h, w, dtype=torch.bool)
            out[r, c] = True
            return out
        areas = torch.where(hit, m.flatten(1).sum(1), torch.iinfo(torch.int64).max)
        return m[int(areas.argmin())].clone()


# --------------------------------------------------------------------------- AnyChange


@dataclass
class ChangeResult:
    """Output of :class:`AnyChange`.

    Attributes:
        changes: change masks with ``confidence`` (``-cos``) and ``date``.
        proposals1, proposals2: the per-date proposals after the area filter.
        threshold: the angle ``theta`` actually used (differs from the config with Otsu).
    """

    changes: Proposals
    proposals1: Proposals
    proposals2: Proposals
    threshold: float

    @property
    def scores(self) -> Tensor:
        """Change scores in [0, 1]: ``(1 + c) / 2`` with ``c = -cos``."""
        return (1.0 + self.changes.confidence) / 2.0

    def probability_map(self) -> np.ndarray:
        """``(H, W)`` float32: the highest score of the change masks covering each pixel."""
        h, w = self.changes.shape
        out = torch.zeros(h, w)
        for m, s in zip(self.changes.masks, self.scores, strict=True):
            out = torch.where(m, torch.maximum(out, s), out)
        return out.numpy().astype(np.float32)

    def change_mask(self) -> np.ndarray:
        """``(H, W)`` bool: union of the change masks."""
        if len(self.changes) == 0:
            return np.zeros(self.changes.shape, dtype=bool)
        return self.changes.masks.any(0).numpy()

    def to_eval_format(self) -> dict[str, Any]:
        """``boxes``, ``scores`` (= ``-cos``, the public code's convention), ``labels``, ``masks``."""
        n = len(self.changes)
        return {
            "boxes": self.changes.boxes.float(), "scores": self.changes.confidence.float(),
            "labels": torch.ones(n, dtype=torch.int64), "masks": self.changes.masks,
        }


class AnyChange:
    """Segment Any Change (Sec. 3): training-free change detection on a segmentation model.

    Args:
        backend: :class:`SamBackend` or :class:`PluggableBackend` (or anything following
            :class:`ChangeBackend`).
        config: hyper-parameters (paper defaults).

    Example:
        >>> model = AnyChange(SamBackend(build_tiny_sam()), AnyChangeConfig.tiny())
        >>> result = model(img1, img2)           # (H, W, 3) uint8 each
        >>> prob, binary = result.probability_map(), result.change_mask()
    """

    def __init__(self, backend: ChangeBackend, config: AnyChangeConfig | None = None) -> None:
        self.backend = backend
        self.config = config or AnyChangeConfig()

    @classmethod
    def from_checkpoint(
        cls, checkpoint: str | Path, model_type: SamType | None = None,
        config: AnyChangeConfig | None = None, device: str = "cpu",
    ) -> AnyChange:
        """AnyChange on a SAM read from a local checkpoint (type guessed if not given)."""
        if model_type is None:
            model_type = sam_type_from_state(load_checkpoint(checkpoint))
        return cls(SamBackend(build_sam(model_type, checkpoint), device), config)

    def with_config(self, **changes: Any) -> AnyChange:
        """A copy with some hyper-parameters changed (same back end)."""
        return AnyChange(self.backend, replace(self.config, **changes))

    # -- steps ---------------------------------------------------------------------------

    def _prepare(self, image1: np.ndarray, image2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        img1 = _as_uint8_rgb(image1, "image1")
        img2 = _as_uint8_rgb(image2, "image2")
        if img1.shape != img2.shape:
            raise InvalidInputError(f"image1 {img1.shape} and image2 {img2.shape} differ in shape")
        if self.config.match_hist:
            from skimage.exposure import match_histograms

            img2 = np.clip(match_histograms(img2, img1, channel_axis=-1), 0, 255).astype(np.uint8)
        return img1, img2

    def proposals(self, state: Any) -> Proposals:
        """Per-date proposals, minus those covering ``area_thresh`` of the image or more."""
        p = self.backend.propose(state, self.config)
        h, w = p.shape
        return p.filter(p.areas.float() / (h * w) < self.config.area_thresh)

    def otsu_threshold(self, f1: DenseFeatures, f2: DenseFeatures) -> float:
        """Angle ``theta`` from Otsu's threshold on the per-pixel ``-cos`` map."""
        from skimage.filters import threshold_otsu

        neg = -_cosine_map(f1, f2).numpy().ravel()
        if np.ptp(neg) < 1e-12:
            return self.config.change_confidence_threshold
        t = float(threshold_otsu(neg, nbins=self.config.otsu_bins))
        return cosine_to_angle(t)

    def latent_match(
        self, proposals: Proposals, f1: DenseFeatures, f2: DenseFeatures, threshold: float
    ) -> Proposals:
        """Eq. 1-2: change confidence ``-cos(x1, x2)`` of mask embeddings; keep changes."""
        if len(proposals) == 0:
            return proposals
        x1 = f1.mask_means(proposals.masks)
        x2 = f2.mask_means(proposals.masks)
        conf = -F.cosine_similarity(x1, x2, dim=1, eps=1e-8)
        out = replace(proposals, confidence=conf)
        return out.filter(conf > angle_to_cosine(threshold))

    def bitemporal_match(
        self, p1: Proposals, p2: Proposals, f1: DenseFeatures, f2: DenseFeatures,
        threshold: float,
    ) -> Proposals:
        """Match the proposals of both dates (or only date 2's) and concatenate."""
        p1 = replace(p1, date=torch.ones(len(p1), dtype=torch.int64))
        p2 = replace(p2, date=torch.full((len(p2),), 2, dtype=torch.int64))
        h, w = p1.shape
        parts = [self.latent_match(p2, f1, f2, threshold)]
        if self.config.bitemporal_match:
            parts.insert(0, self.latent_match(p1, f1, f2, threshold))
        return Proposals.cat(parts, h, w)

    def merge(self, changes: Proposals) -> Proposals:
        """Box NMS (on the generator's IoU predictions), then the top-k by confidence."""
        changes = changes.nms(self.config.box_nms_thresh)
        if len(changes) > self.config.top_k:
            order = torch.argsort(changes.confidence, descending=True, stable=True)
            changes = changes.filter(order[: self.config.top_k])
        return changes

    # -- entry points ----------------------------------------------------------------------

    @torch.no_grad()
    def __call__(self, image1: np.ndarray, image2: np.ndarray) -> ChangeResult:
        """Zero-shot change masks between two co-registered ``(H, W, 3)`` images."""
        img1, img2 = self._prepare(image1, image2)
        s1, s2 = self.backend.encode(img1), self.backend.encode(img2)
        p1, p2 = self.proposals(s1), self.proposals(s2)
        norm = self.config.use_normalized_feature
        f1, f2 = self.backend.features(s1, norm), self.backend.features(s2, norm)
        theta = (
            self.otsu_threshold(f1, f2) if self.config.auto_threshold
            else self.config.change_confidence_threshold
        )
        changes = self.merge(self.bitemporal_match(p1, p2, f1, f2, theta))
        return ChangeResult(changes, p1, p2, theta)

    @torch.no_grad()
    def query_embedding(
        self, image1: np.ndarray, image2: np.ndarray,
        points: Sequence[tuple[float, float, int]],
    ) -> tuple[Tensor, float]:
        """Sec. 3.3: mean *raw* embedding and area of the objects under ``(x, y, date)`` clicks.

        Several points average their features and areas (public code ``multi_points_match``).
        """
        if not points:
            raise InvalidInputError("the point query needs at least one (x, y, date) point")
        img1, img2 = self._prepare(image1, image2)
        h, w = img1.shape[:2]
        imgs = {1: img1, 2: img2}
        states: dict[int, Any] = {}
        feats, areas = [], []
        for x, y, t in points:
            if t not in (1, 2):
                raise InvalidInputError(f"point date must be 1 or 2, got {t}")
            if not (0 <= x < w and 0 <= y < h):
                raise InvalidInputError(f"point ({x}, {y}) lies outside the {w}x{h} image")
            if t not in states:
                states[t] = self.backend.encode(imgs[t])
            q = self.backend.point_mask(states[t], (float(x), float(y)))
            if not bool(q.any()):
                q = torch.zeros(h, w, dtype=torch.bool)
                q[int(y), int(x)] = True
            feats.append(self.backend.features(states[t], False).mask_means(q[None])[0])
            areas.append(float(q.sum()))
        return torch.stack(feats).mean(0), sum(areas) / len(areas)

    @torch.no_grad()
    def point_query(
        self, image1: np.ndarray, image2: np.ndarray,
        points: Sequence[tuple[float, float, int]] | None = None,
        *, query: tuple[Tensor, float] | None = None,
    ) -> ChangeResult:
        """Sec. 3.3: changes of the kind of object under clicked points ``(x, y, date)``.

        ``query`` (from :meth:`query_embedding`, possibly on another image window) replaces
        ``points``, so that tiles of a large raster share one query.
        """
        if query is None:
            if points is None:
                raise InvalidInputError("point_query needs points or a precomputed query")
            query = self.query_embedding(image1, image2, points)
        q_feat, q_area = query
        img1, img2 = self._prepare(image1, image2)
        states = {1: self.backend.encode(img1), 2: self.backend.encode(img2)}
        p1, p2 = self.proposals(states[1]), self.proposals(states[2])
        raw = {t: self.backend.features(states[t], False) for t in (1, 2)}
        cos_obj = angle_to_cosine(self.config.object_sim_thresh)
        lo, hi = self.config.query_area_range

        def keep_objects(p: Proposals, t: int) -> Proposals:
            p = p.filter((p.areas > lo * q_area) & (p.areas < hi * q_area))
            if len(p) == 0:
                return p
            obj = (_cosine_to_vector(raw[t], q_feat) > cos_obj).float()
            frac = (p.masks.float() * obj).flatten(1).sum(1) / p.areas.clamp_min(1)
            return p.filter(frac > 0.5)

        p1, p2 = keep_objects(p1, 1), keep_objects(p2, 2)
        norm = self.config.use_normalized_feature
        f1, f2 = self.backend.features(states[1], norm), self.backend.features(states[2], norm)
        theta = (
            self.otsu_threshold(f1, f2) if self.config.auto_threshold
            else self.config.change_confidence_threshold
        )
        changes = self.merge(self.bitemporal_match(p1, p2, f1, f2, theta))
        return ChangeResult(changes, p1, p2, theta)
