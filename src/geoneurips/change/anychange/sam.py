"""AnyChange's SAM back end (Sec. 3.2): embeddings, grid proposals, point prompts.

* **Per-date mask proposals** (Sec. 3.2, "object proposals"): SAM prompted with a regular
  point grid, filtered on predicted IoU and stability score, then box NMS
  (:meth:`SamBackend.propose`).
* **De-normalised embeddings** (Sec. 3.2; public code ``use_normalized_feature``): the affine
  of the last LayerNorm of SAM's neck is undone, ``z' = (z - b) / w``
  (:meth:`SamBackend.features`).
* **Point prompts** (Sec. 3.3): among SAM's three masks for a click, the one with the highest
  predicted IoU (SAM's own ambiguity rule; the public code takes the first one surviving the
  proposal filters, which may be none) (:meth:`SamBackend.point_mask`).

SAM comes from :func:`build_sam` (a local checkpoint; nothing downloads) or
:func:`build_tiny_sam` (random weights, for tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from geoneurips.errors import CheckpointError
from geoneurips.io import load_checkpoint

from .backends import _as_uint8_rgb
from .config import AnyChangeConfig
from .features import DenseFeatures
from .proposals import Proposals, masks_to_boxes, stability_score

__all__ = [
    "SamBackend",
    "SamState",
    "SamType",
    "build_sam",
    "build_tiny_sam",
    "sam_type_from_state",
]

SamType = Literal["vit_b", "vit_l", "vit_h"]


# ``segment_anything`` has no type information: these protocols state the parts of its ``Sam``
# (``image_encoder``, ``prompt_encoder``, ``mask_decoder``) that the back end uses.


class _SamImageEncoder(Protocol):
    img_size: int
    neck: torch.nn.Sequential

    def __call__(self, x: Tensor) -> Tensor: ...


class _SamPromptEncoder(Protocol):
    def __call__(
        self, points: tuple[Tensor, Tensor] | None, boxes: Tensor | None, masks: Tensor | None
    ) -> tuple[Tensor, Tensor]: ...

    def get_dense_pe(self) -> Tensor: ...


class _SamMaskDecoder(Protocol):
    def __call__(
        self, image_embeddings: Tensor, image_pe: Tensor, sparse_prompt_embeddings: Tensor,
        dense_prompt_embeddings: Tensor, multimask_output: bool,
    ) -> tuple[Tensor, Tensor]: ...


class _SamModel(Protocol):
    image_encoder: _SamImageEncoder
    prompt_encoder: _SamPromptEncoder
    mask_decoder: _SamMaskDecoder
    mask_threshold: float

    def preprocess(self, x: Tensor) -> Tensor: ...

    def postprocess_masks(
        self, masks: Tensor, input_size: tuple[int, ...], original_size: tuple[int, ...]
    ) -> Tensor: ...


def _neck_norm_affine(sam: _SamModel) -> tuple[Tensor, Tensor]:
    """Weight and bias of the last LayerNorm of SAM's neck (``image_encoder.neck[3]``)."""
    ln = sam.image_encoder.neck[3]
    weight, bias = ln.weight, ln.bias
    assert isinstance(weight, Tensor) and isinstance(bias, Tensor), "SAM neck[3] is a LayerNorm"
    return weight, bias


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
    return cast(torch.nn.Module, sam.eval())  # a Sam (untyped package)


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
    return cast(torch.nn.Module, sam.eval())  # a Sam (untyped package)


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
        ln_weight, ln_bias = _neck_norm_affine(self._model)
        w = ln_weight.detach().float().cpu()
        # avoid dividing by an exact zero scale (a degenerate checkpoint)
        self._ln_w = torch.where(w.abs() < 1e-12, torch.full_like(w, 1e-12), w)
        self._ln_b = ln_bias.detach().float().cpu()

    @property
    def _model(self) -> _SamModel:
        """``self.sam`` seen through the interface the back end uses."""
        return cast(_SamModel, self.sam)

    @property
    def img_size(self) -> int:
        """Model input side (1024 for the official SAMs)."""
        return int(self._model.image_encoder.img_size)

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
        x = self._model.preprocess(x)
        emb = self._model.image_encoder(x)
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
        sparse, dense = self._model.prompt_encoder(
            points=(coords[:, None, :], labels), boxes=None, masks=None
        )
        low, iou = self._model.mask_decoder(
            image_embeddings=state.embedding, image_pe=self._model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
            multimask_output=True,
        )
        masks = self._model.postprocess_masks(low, state.input_size, state.original_size)
        return masks.float().cpu(), iou.float().cpu()

    @torch.no_grad()
    def propose(self, state: SamState, config: AnyChangeConfig) -> Proposals:
        """Grid-prompted proposals with the paper's IoU/stability filters and box NMS."""
        oh, ow = state.original_size
        n = config.points_per_side
        offs = (np.arange(n) + 0.5) / n
        gx, gy = np.meshgrid(offs * ow, offs * oh)
        points = np.stack([gx.ravel(), gy.ravel()], axis=1)
        thr = float(self._model.mask_threshold)
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
        return logits[0, best] > float(self._model.mask_threshold)
