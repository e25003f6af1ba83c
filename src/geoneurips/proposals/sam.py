"""SAM shared by AnyChange and SeCo: building, embedding, grid mask proposals, prompts.

* :func:`build_sam` reads ``vit_b``/``vit_l``/``vit_h`` from a *local* checkpoint with
  :func:`geoneurips.io.load_checkpoint` (``weights_only=True``; nothing downloads);
  :func:`build_tiny_sam` gives the same architecture with tiny random weights (tests).
* :func:`sam_encode` resizes the long side to the model input (1024 for the official SAMs),
  normalises, pads the short side and embeds; :class:`SamEmbedding` keeps the sizes and
  :meth:`SamEmbedding.valid_features` crops the embedding grid to the cells that cover the
  image (for a non-square image the rest of the grid sees only padding).
* :class:`SamMaskGenerator` is SAM's automatic mask generation on one embedding: a regular
  point grid, three masks per point, predicted-IoU and stability-score filters, box NMS
  (``SamAutomaticMaskGenerator`` with ``crop_n_layers=0``; AnyChange passes its own
  thresholds, Sec. 3.2). It also follows the :class:`~.superpixels.SegmentGenerator`
  interface (SeCo's PSA stuff segments).
* :class:`SamPrompter` is SAM's predictor with one box and positive points, single-mask
  output (SeCo's PSA things prompts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from geoneurips.errors import CheckpointError
from geoneurips.io import load_checkpoint

from .masks import Proposals, masks_to_boxes, stability_score
from .superpixels import as_uint8_rgb

__all__ = [
    "SamEmbedding",
    "SamMaskGenerator",
    "SamPrompter",
    "SamType",
    "build_sam",
    "build_tiny_sam",
    "neck_norm_affine",
    "sam_decode_points",
    "sam_encode",
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


def neck_norm_affine(sam: torch.nn.Module) -> tuple[Tensor, Tensor]:
    """Weight and bias of the last LayerNorm of SAM's neck (``image_encoder.neck[3]``)."""
    ln = cast(_SamModel, sam).image_encoder.neck[3]
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
class SamEmbedding:
    """One encoded image: SAM's image embedding and the sizes needed to map back.

    Attributes:
        embedding: ``(1, C, g, g)`` over the padded square model input.
        input_size: ``(nh, nw)``, the resized image inside the model input (long side =
            ``img_size``).
        original_size: ``(H, W)`` of the image.
        img_size: side of the square model input (1024 for the official SAMs).
    """

    embedding: Tensor
    input_size: tuple[int, int]
    original_size: tuple[int, int]
    img_size: int = 1024

    def valid_grid(self) -> tuple[int, int]:
        """Rows and columns of the embedding grid that cover the image (not the padding).

        SAM pads the resized image at the bottom/right to ``img_size``; a grid cell spans
        ``img_size / g`` input pixels, so ``ceil(nh g / img_size)`` rows hold image content
        (the last one may be partly padding).
        """
        g_h, g_w = (int(v) for v in self.embedding.shape[-2:])
        nh, nw = self.input_size
        vh = min(g_h, max(1, math.ceil(nh * g_h / self.img_size - 1e-9)))
        vw = min(g_w, max(1, math.ceil(nw * g_w / self.img_size - 1e-9)))
        return vh, vw

    def valid_features(self) -> Tensor:
        """``(C, vh, vw)``: the embedding cropped to :meth:`valid_grid` (float, CPU).

        Upsampling this crop to ``original_size`` aligns feature and image pixels; the full
        grid would stretch the padding over the image of a non-square input.
        """
        vh, vw = self.valid_grid()
        return self.embedding[0, :, :vh, :vw].float().cpu()


@torch.no_grad()
def sam_encode(sam: torch.nn.Module, image: np.ndarray,
               device: str | torch.device = "cpu") -> SamEmbedding:
    """Resize the long side to the model input, normalise, pad, and embed one image."""
    model = cast(_SamModel, sam)
    img = as_uint8_rgb(image)
    h, w = img.shape[:2]
    size = int(model.image_encoder.img_size)
    scale = size / max(h, w)
    nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
    x = torch.from_numpy(np.ascontiguousarray(img).copy()).permute(2, 0, 1)[None].float()
    x = x.to(device)
    if (nh, nw) != (h, w):
        x = F.interpolate(x, (nh, nw), mode="bilinear", align_corners=False, antialias=True)
    x = model.preprocess(x)
    emb = model.image_encoder(x)
    return SamEmbedding(emb.float(), (nh, nw), (h, w), size)


@torch.no_grad()
def sam_decode_points(sam: torch.nn.Module, state: SamEmbedding, points_xy: np.ndarray,
                      device: str | torch.device = "cpu") -> tuple[Tensor, Tensor]:
    """Logit masks ``(B, 3, H, W)`` and IoU predictions ``(B, 3)`` for positive points."""
    model = cast(_SamModel, sam)
    oh, ow = state.original_size
    ih, iw = state.input_size
    coords = torch.as_tensor(points_xy, dtype=torch.float32, device=device).clone()
    coords[:, 0] *= iw / ow
    coords[:, 1] *= ih / oh
    labels = torch.ones(coords.shape[0], 1, dtype=torch.int, device=device)
    sparse, dense = model.prompt_encoder(points=(coords[:, None, :], labels), boxes=None,
                                         masks=None)
    low, iou = model.mask_decoder(
        image_embeddings=state.embedding, image_pe=model.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
        multimask_output=True,
    )
    masks = model.postprocess_masks(low, state.input_size, state.original_size)
    return masks.float().cpu(), iou.float().cpu()


class SamMaskGenerator:
    """SAM's automatic mask generation on one embedding (grid points, filters, box NMS).

    Defaults are those of ``SamAutomaticMaskGenerator`` (32 x 32 points, predicted IoU >
    0.88, stability >= 0.95 at offset 1, box NMS 0.7, one crop layer); AnyChange overrides
    them per call (IoU 0.5, Sec. 3.2). Calling the generator on an ``(H, W, 3)`` image gives
    ``(N, H, W)`` bool masks (the :class:`~.superpixels.SegmentGenerator` interface).

    Difference from ``SamAutomaticMaskGenerator``: the image is resized with antialiased
    bilinear interpolation in torch (SAM's ``ResizeLongestSide`` uses PIL).

    Args:
        sam: a ``segment_anything`` ``Sam`` (:func:`build_sam` or :func:`build_tiny_sam`).
        points_per_side, points_per_batch, pred_iou_thresh, stability_score_thresh,
        stability_score_offset, box_nms_thresh: as in ``SamAutomaticMaskGenerator``.
        device: torch device (CPU by default).
    """

    def __init__(self, sam: torch.nn.Module, points_per_side: int = 32,
                 points_per_batch: int = 64, pred_iou_thresh: float = 0.88,
                 stability_score_thresh: float = 0.95, stability_score_offset: float = 1.0,
                 box_nms_thresh: float = 0.7, device: str | torch.device = "cpu") -> None:
        self.sam = sam.to(device).eval()
        self.device = torch.device(device)
        self.points_per_side = int(points_per_side)
        self.points_per_batch = int(points_per_batch)
        self.pred_iou_thresh = float(pred_iou_thresh)
        self.stability_score_thresh = float(stability_score_thresh)
        self.stability_score_offset = float(stability_score_offset)
        self.box_nms_thresh = float(box_nms_thresh)

    @classmethod
    def tiny(cls, sam: torch.nn.Module) -> SamMaskGenerator:
        """Settings for a random tiny SAM (4 x 4 grid, quality filters opened)."""
        return cls(sam, points_per_side=4, pred_iou_thresh=-math.inf,
                   stability_score_thresh=0.0)

    @property
    def img_size(self) -> int:
        """Model input side (1024 for the official SAMs)."""
        return int(cast(_SamModel, self.sam).image_encoder.img_size)

    def encode(self, image: np.ndarray) -> SamEmbedding:
        """:func:`sam_encode` on this generator's model and device."""
        return sam_encode(self.sam, image, self.device)

    def decode_points(self, state: SamEmbedding, points_xy: np.ndarray
                      ) -> tuple[Tensor, Tensor]:
        """:func:`sam_decode_points` on this generator's model and device."""
        return sam_decode_points(self.sam, state, points_xy, self.device)

    @torch.no_grad()
    def generate(self, state: SamEmbedding, *, points_per_side: int | None = None,
                 points_per_batch: int | None = None, pred_iou_thresh: float | None = None,
                 stability_score_thresh: float | None = None,
                 stability_score_offset: float | None = None,
                 box_nms_thresh: float | None = None) -> Proposals:
        """Grid-prompted proposals of one embedding (arguments override the defaults)."""
        n = self.points_per_side if points_per_side is None else int(points_per_side)
        batch = self.points_per_batch if points_per_batch is None else int(points_per_batch)
        iou_t = self.pred_iou_thresh if pred_iou_thresh is None else float(pred_iou_thresh)
        stab_t = (self.stability_score_thresh if stability_score_thresh is None
                  else float(stability_score_thresh))
        offset = (self.stability_score_offset if stability_score_offset is None
                  else float(stability_score_offset))
        nms_t = self.box_nms_thresh if box_nms_thresh is None else float(box_nms_thresh)
        oh, ow = state.original_size
        offs = (np.arange(n) + 0.5) / n
        gx, gy = np.meshgrid(offs * ow, offs * oh)
        points = np.stack([gx.ravel(), gy.ravel()], axis=1)
        thr = float(cast(_SamModel, self.sam).mask_threshold)
        parts: list[Proposals] = []
        for s in range(0, len(points), batch):
            logits, iou = self.decode_points(state, points[s : s + batch])
            logits = logits.flatten(0, 1)
            iou = iou.flatten(0, 1)
            keep = iou > iou_t
            logits, iou = logits[keep], iou[keep]
            stab = stability_score(logits, thr, offset)
            keep = stab >= stab_t
            logits, iou, stab = logits[keep], iou[keep], stab[keep]
            masks = logits > thr
            nonempty = masks.flatten(1).any(1)
            masks, iou, stab = masks[nonempty], iou[nonempty], stab[nonempty]
            parts.append(Proposals(masks, iou, masks_to_boxes(masks), stab))
        return Proposals.cat(parts, oh, ow).nms(nms_t)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """``(N, H, W)`` bool masks of an ``(H, W, 3)`` image."""
        return np.asarray(self.generate(self.encode(image)).masks.numpy(), dtype=bool)


class SamPrompter:
    """SAM's predictor with one box and positive points, single-mask output (SeCo PSA).

    ``set_image(image)`` once per image, then ``predict(points (K, 2) xy, labels (K,), box
    (4,) xyxy) -> (H, W) bool``.
    """

    def __init__(self, sam: torch.nn.Module) -> None:
        from segment_anything import SamPredictor

        self.predictor = SamPredictor(sam)

    @torch.no_grad()
    def set_image(self, image: np.ndarray) -> None:
        self.predictor.set_image(as_uint8_rgb(image))

    @torch.no_grad()
    def predict(self, points: np.ndarray, labels: np.ndarray, box: np.ndarray) -> np.ndarray:
        masks, _, _ = self.predictor.predict(
            point_coords=np.asarray(points, dtype=np.float32),
            point_labels=np.asarray(labels, dtype=np.int64),
            box=np.asarray(box, dtype=np.float32), multimask_output=False,
        )
        return np.asarray(masks[0], dtype=bool)
