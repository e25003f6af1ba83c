"""RS3DAda's adaptation components (paper Sec. 4; public ``train_dpt_RS3DAda.py``).

* :func:`source_loss`: SmoothL1(height) * 0.5 * lambda (lambda = 0.8) + CE(ignore 255) * 0.5,
  both means over every pixel.
* :func:`feature_constraint_loss`: cosine similarity of the student's last returned
  encoder tokens to a frozen copy of the initial (DINOv2) encoder; loss = 1 - mean of the
  similarities below 0.8 (tokens already close are not pulled), weight 1.0, on the source
  batch. The public script loops over layers ``fl_start``..3 with threshold
  ``fl_threshold - fl_decrement * layer``; ``RS3DAda.sh`` sets fl_start 3 and fl_decrement
  0, i.e. the last returned layer at 0.8 (the argparse default decrement 0.05 would give
  0.65).
* :func:`ema_update`: mean teacher, alpha = min(1 - 1 / (t + 1), 0.99), t counted from
  the start of self-training (public ``update_ema``).
* :func:`photometric_view`: the public ``get_transforms``: with albumentations' default
  ``OneOf`` probability 0.5, ColorJitter(0.2, hue 0.2) and / or GaussianBlur (kernel
  3-7, OpenCV's sigma for the kernel); the other half of the views are the image itself.
* :func:`height_consistency_weight`: per image, the fraction of pixels whose teacher
  heights on the target image and on its photometric view agree, max(a/b, b/a) < 1.55.
  For the first ``warm_ss`` adaptation iterations the public code can weight the height
  pseudo-labels with the *segmentation* confidence weight instead (``--warmss``, 0 in the
  published ``RS3DAda.sh`` and in our demo); the
  public code takes both weights over the whole batch, whose published size is 1, i.e.
  per image; we take them per image.
* :func:`confidence_weight`: per image, the fraction of pixels whose pseudo-class
  probability is >= 0.95 (DACS-style scalar weight; ``pesudo_threshold`` 0.95, not DACS'
  0.968). The pseudo-labels themselves are the teacher's argmax on every pixel, none
  ignored; the cross-entropy on them is weighted by this scalar (1 on pasted source
  pixels).
* :func:`ground_guided_refine`: pseudo-height set to a hard 0 where the pseudo-class is
  neither tree nor building (trees are not ground: OEM 4 / 7, combined 1 / 2, as the
  public ``use_ground_mask`` branch); applied to the teacher's pseudo-heights of the
  target image only, after the consistency weight was taken on the raw heights.
* :func:`classmix`: half of the classes present in the source label (255 included, as
  published) are pasted onto the target image; labels, heights and weights mixed the
  same way (source weight 1).
* :func:`fda`, :func:`histogram_match`, :func:`pda_standard`, :func:`style_augment`:
  source-style augmentation, with p = 0.8 OneOf (FDA with beta from U(0, 0.01), histogram
  matching blend 0.8-1, PDA "standard" blend 0.8-1) against a random target image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["classmix", "confidence_weight", "ema_update", "fda", "feature_constraint_loss",
           "ground_guided_refine", "height_consistency_weight", "histogram_match",
           "mix_augment", "pda_standard", "photometric_view", "published_blur",
           "published_jitter", "source_loss", "strong_augment",
           "style_augment", "weighted_target_loss"]

IGNORE = 255


def source_loss(height: torch.Tensor, seg: torch.Tensor, gt_height: torch.Tensor,
                gt_mask: torch.Tensor, lam: float = 0.8) -> torch.Tensor:
    """Supervised loss on source images (paper defaults: lambda 0.8, both halves 0.5).

    The cross-entropy is the public ``CriterionCrossEntropy(reduction='none',
    ignore_index=255)`` followed by ``.mean()``: ignored pixels add 0 and still count in
    the mean (over every pixel of the batch), as on the target images. Defect fixed: the
    mean was over the labelled pixels only (PyTorch's ``reduction='mean'``), which weights
    a partly unlabelled image's land cover more than the public script does (no effect on
    the demo, whose source labels have no ignored pixel; tested in
    ``test_synrs3d_model.py``)."""
    lh = F.smooth_l1_loss(height, gt_height)
    valid = int((gt_mask != IGNORE).sum())
    if valid == 0:  # every pixel ignored: the public mean of zeros
        return lh * 0.5 * lam + seg.sum() * 0.0
    # the mean over labelled pixels rescaled to a mean over all; with no ignored pixel the
    # factor is exactly 1 (bit for bit the labelled-pixel mean, whatever the summation)
    ls = F.cross_entropy(seg, gt_mask, ignore_index=IGNORE) * (valid / gt_mask.numel())
    return lh * 0.5 * lam + ls * 0.5


def weighted_target_loss(height: torch.Tensor, seg: torch.Tensor, pseudo_h: torch.Tensor,
                         pseudo_cls: torch.Tensor, w_h: torch.Tensor, w_s: torch.Tensor,
                         lam: float = 0.8) -> torch.Tensor:
    """The student's loss on ClassMix images: pixel-weighted SmoothL1 and CE."""
    lh = (F.smooth_l1_loss(height, pseudo_h, reduction="none") * w_h).mean()
    ce = F.cross_entropy(seg, pseudo_cls, ignore_index=IGNORE, reduction="none")
    ls = (ce * w_s).mean()
    return lh * 0.5 * lam + ls * 0.5


def feature_constraint_loss(student: torch.Tensor, frozen: torch.Tensor,
                            threshold: float = 0.8) -> torch.Tensor:
    """1 - mean(cos) over the tokens whose cosine to the frozen features is < threshold."""
    cos = F.cosine_similarity(student, frozen.detach(), dim=-1)
    low = cos < threshold
    if not bool(low.any()):
        return cos.new_zeros(())
    return 1.0 - cos[low].mean()


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, step: int,
               max_alpha: float = 0.99) -> float:
    """teacher <- alpha * teacher + (1 - alpha) * student; buffers (BN statistics) copied."""
    alpha = min(1.0 - 1.0 / (step + 1), max_alpha)
    tp: list[torch.Tensor] = list(teacher.parameters())
    sp: list[torch.Tensor] = list(student.parameters())
    tb, sb = list(teacher.buffers()), list(student.buffers())
    if len(tp) != len(sp) or len(tb) != len(sb):
        raise ValueError("teacher and student differ in their parameters or buffers")
    if tp:
        torch._foreach_mul_(tp, alpha)
        torch._foreach_add_(tp, [p.detach() for p in sp], alpha=1.0 - alpha)
    if tb:
        torch._foreach_copy_(tb, sb)
    return alpha


def _jitter(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    """ColorJitter(brightness, contrast, saturation = strength) on 0-255 images."""
    b = x.shape[0]

    def f() -> torch.Tensor:
        u = torch.rand(b, 1, 1, 1, generator=gen)
        return 1.0 + (2 * u - 1) * strength

    x = x * f()
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * f() + mean
    grey = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    x = (x - grey) * f() + grey
    return x.clamp(0, 255)


def _gauss(x: torch.Tensor, k: int, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(B, C, H, W)``, kernel ``k``, reflected borders."""
    r = torch.arange(k, dtype=x.dtype) - k // 2
    g = torch.exp(-(r ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    c = x.shape[1]
    x = F.pad(x, (k // 2,) * 4, mode="reflect")
    x = F.conv2d(x, g.view(1, 1, 1, k).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, g.view(1, 1, k, 1).repeat(c, 1, 1, 1), groups=c)


def _blur(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The practitioner's baseline blur: one kernel (3-7 px) and sigma U(0.1, 2) for the
    whole batch."""
    k = int(torch.randint(1, 4, (1,), generator=gen)) * 2 + 1  # 3, 5, 7
    sigma = float(torch.empty(1).uniform_(0.1, 2.0, generator=gen))
    return _gauss(x, k, sigma)


def _hue_shift(x: torch.Tensor, shift: float) -> torch.Tensor:
    """Rotate the hue of a ``(3, H, W)`` 0-255 image by ``shift`` turns (HSV round trip)."""
    v, arg = x.max(0)
    d = v - x.min(0).values
    safe = torch.where(d > 0, d, torch.ones_like(d))
    r, g, b = x
    sector = torch.stack([((g - b) / safe) % 6, (b - r) / safe + 2, (r - g) / safe + 4])
    h = sector.gather(0, arg[None])[0] / 6.0
    h = torch.where(d > 0, h, torch.zeros_like(h))
    h = (h + shift) % 1.0
    sat = torch.where(v > 0, d / torch.where(v > 0, v, torch.ones_like(v)), torch.zeros_like(v))
    k = (torch.tensor([5.0, 3.0, 1.0])[:, None, None] + h[None] * 6) % 6
    out: torch.Tensor = v[None] - v[None] * sat[None] * torch.clamp(torch.minimum(k, 4 - k),
                                                                      0, 1)
    return out


def _uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return float(torch.empty(()).uniform_(lo, hi, generator=gen))


def published_jitter(img: torch.Tensor, gen: torch.Generator, strength: float = 0.2,
                     hue: float = 0.2) -> torch.Tensor:
    """albumentations' (1.x) ``ColorJitter`` with its defaults on one ``(3, H, W)`` 0-255
    image: brightness, contrast and saturation factors from U(1 - s, 1 + s) and a hue
    rotation from U(-hue, hue) turns, applied in a random order (the public script's
    photometric view and strong transform). Contrast blends with the mean grey level,
    saturation with the grey image, as albumentations does."""
    grey_w = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    ops = torch.randperm(4, generator=gen).tolist()
    for op in ops:
        if op == 3:
            if hue > 0:
                img = _hue_shift(img, _uniform(gen, -hue, hue))
            continue
        f = _uniform(gen, 1 - strength, 1 + strength)
        if op == 0:
            img = img * f
        else:
            grey = (img * grey_w).sum(0, keepdim=True)
            ref = grey.mean() if op == 1 else grey
            img = img * f + ref * (1 - f)
        img = img.clamp(0, 255)
    return img.clamp(0, 255)


def published_blur(img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """albumentations' (1.x) ``GaussianBlur(blur_limit=(3, 7))`` on one ``(3, H, W)``
    image: an odd kernel of 3-7 px and, with its default ``sigma_limit=0``, OpenCV's sigma
    for that kernel, 0.3 * ((k - 1) / 2 - 1) + 0.8 (0.8, 1.1, 1.4 px)."""
    k = int(torch.randint(1, 4, (1,), generator=gen)) * 2 + 1
    return _gauss(img[None], k, 0.3 * ((k - 1) * 0.5 - 1) + 0.8)[0]


def _coin(gen: torch.Generator, p: float) -> bool:
    return float(torch.rand((), generator=gen)) < p


def photometric_view(x: torch.Tensor, gen: torch.Generator, hue: float = 0.2) -> torch.Tensor:
    """The teacher's second view, per image, as the public ``utils.get_transforms``:
    ``OneOf([ColorJitter(0.2, hue 0.2, p=1), GaussianBlur(3-7, p=1),
    Compose([ColorJitter(p=0.5), GaussianBlur(p=0.5)])])`` with albumentations' default
    ``OneOf`` probability 0.5 - so half of the views are the image itself (and their
    height-consistency weight is 1) - and the inner pair at their default p 0.5."""
    out = []
    for img in x:
        if _coin(gen, 0.5):
            choice = int(torch.randint(0, 3, (1,), generator=gen))
            if choice == 0:
                img = published_jitter(img, gen, hue=hue)
            elif choice == 1:
                img = published_blur(img, gen)
            else:
                if _coin(gen, 0.5):
                    img = published_jitter(img, gen, hue=hue)
                if _coin(gen, 0.5):
                    img = published_blur(img, gen)
        out.append(img)
    return torch.stack(out)


def mix_augment(x: torch.Tensor, gen: torch.Generator, strength: float = 0.2,
                p: float = 0.8, hue: float = 0.2) -> torch.Tensor:
    """The public script's ``strong_transforms`` of the ClassMix images, per image:
    ``ColorJitter(p=0.8)`` (albumentations defaults, hue included: :func:`published_jitter`)
    then ``GaussianBlur(p=0.5)`` (:func:`published_blur`)."""
    out = []
    for img in x:
        if _coin(gen, p):
            img = published_jitter(img, gen, strength, hue)
        if _coin(gen, 0.5):
            img = published_blur(img, gen)
        out.append(img)
    return torch.stack(out)


def strong_augment(x: torch.Tensor, gen: torch.Generator, strength: float = 0.4,
                   p: float = 1.0) -> torch.Tensor:
    """The practitioner's HM + jitter baseline's augmentation: colour jitter (brightness,
    contrast, saturation ``strength``, on each image with probability ``p``; no hue) then a
    Gaussian blur (3-7 px, sigma U(0.1, 2)) of the batch with probability 0.5. (RS3DAda's
    ClassMix images get the public transform instead, :func:`mix_augment`.)"""
    jit = _jitter(x, strength, gen)
    if p >= 1.0:
        x = jit
    else:
        keep = torch.rand(x.shape[0], 1, 1, 1, generator=gen) < p
        x = torch.where(keep, jit, x)
    if float(torch.rand(1, generator=gen)) < 0.5:
        x = _blur(x, gen)
    return x


def height_consistency_weight(a: torch.Tensor, b: torch.Tensor, ratio: float = 1.55
                              ) -> torch.Tensor:
    """Per-image fraction of pixels with max(a/b, b/a) < ratio, on the raw predictions as
    the public code computes it: a pixel where both views predict 0 (0/0, NaN) does *not*
    count as consistent, so a teacher collapsing to 0 m gets no height weight."""
    with torch.no_grad():
        r = torch.maximum(a / b, b / a)
    return (r < ratio).float().flatten(1).mean(1)


def confidence_weight(prob: torch.Tensor, threshold: float = 0.95) -> torch.Tensor:
    """Per-image fraction of pixels whose top class probability is >= threshold."""
    return (prob.max(1).values >= threshold).float().flatten(1).mean(1)


def ground_guided_refine(height: torch.Tensor, classes: torch.Tensor,
                         keep: Sequence[int] = (1, 2)) -> torch.Tensor:
    """Pseudo-height 0 wherever the pseudo-class is not in ``keep`` (tree, building; in
    the combined scheme 1 and 2, in the 8-class OEM scheme 4 and 7)."""
    k = torch.zeros_like(classes, dtype=torch.bool)
    for c in keep:
        k |= classes == c
    return torch.where(k, height, torch.zeros_like(height))


def classmix(src_img: torch.Tensor, tgt_img: torch.Tensor, src_mask: torch.Tensor,
             tgt_cls: torch.Tensor, src_h: torch.Tensor, tgt_h: torch.Tensor,
             w_seg: torch.Tensor, w_h: torch.Tensor, gen: torch.Generator
             ) -> tuple[torch.Tensor, ...]:
    """ClassMix (Olsson et al. 2021) between source and target, per image.

    Returns the mixed image ``(B, 3, H, W)``, class label, height, and per-pixel CE and
    height weights ``(B, H, W)`` (1 on pasted source pixels, the target image's scalar
    weights elsewhere), and the paste mask.

    The classes to paste are drawn as the public ``utils/mix_op.get_class_masks`` does:
    ceil(n / 2) of the n values in the source label, the ignore value 255 counted as one
    of them when present (its pixels are then pasted with label 255, ignored by the
    cross-entropy, and their source heights at weight 1). Defect fixed: 255 was left out
    of the draw, so it was never pasted and one class fewer was drawn from an odd count
    (no effect on the demo, whose source labels have no 255; tested in
    ``test_synrs3d_model.py``).
    """
    masks = []
    for i in range(src_mask.shape[0]):
        present = torch.unique(src_mask[i])
        n = (present.numel() + 1) // 2
        pick = present[torch.randperm(present.numel(), generator=gen)[:n]]
        masks.append(torch.isin(src_mask[i], pick))
    m = torch.stack(masks)
    mf = m[:, None].float()
    img = mf * src_img + (1 - mf) * tgt_img
    cls = torch.where(m, src_mask, tgt_cls)
    h = torch.where(m, src_h, tgt_h)
    ones = torch.ones_like(src_h)
    ws = torch.where(m, ones, w_seg.view(-1, 1, 1) * ones)
    wh = torch.where(m, ones, w_h.view(-1, 1, 1) * ones)
    return img, cls, h, ws, wh, m


# ---------------------------------------------------------------- source-style (numpy, HWC)

def fda(src: np.ndarray, ref: np.ndarray, beta: float = 0.01) -> np.ndarray:
    """Fourier Domain Adaptation (Yang & Soatto 2020): the low-frequency amplitude of
    ``src`` (a centred square of half-side floor(min(H, W) * beta)) is replaced by
    ``ref``'s; phase kept. uint8 HWC in and out."""
    s = src.astype(np.float64)
    r = ref.astype(np.float64)
    h, w = s.shape[:2]
    fs = np.fft.fftshift(np.fft.fft2(s, axes=(0, 1)), axes=(0, 1))
    fr = np.fft.fftshift(np.fft.fft2(r, axes=(0, 1)), axes=(0, 1))
    amp, pha = np.abs(fs), np.angle(fs)
    b = int(np.floor(min(h, w) * beta))
    cy, cx = h // 2, w // 2
    amp[cy - b: cy + b + 1, cx - b: cx + b + 1] = np.abs(fr)[cy - b: cy + b + 1,
                                                            cx - b: cx + b + 1]
    out = np.fft.ifft2(np.fft.ifftshift(amp * np.exp(1j * pha), axes=(0, 1)), axes=(0, 1))
    res: np.ndarray = np.clip(np.real(out), 0, 255).astype(np.uint8)
    return res


def histogram_match(src: np.ndarray, ref: np.ndarray, blend: float = 1.0) -> np.ndarray:
    """Per-channel histogram matching to ``ref``, blended: blend * matched + (1 - blend) *
    src."""
    from skimage.exposure import match_histograms

    m = match_histograms(src, ref, channel_axis=-1)
    out = blend * m + (1 - blend) * src.astype(np.float64)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)  # type: ignore[no-any-return]


def pda_standard(src: np.ndarray, ref: np.ndarray, blend: float = 1.0) -> np.ndarray:
    """Pixel distribution adaptation, "standard" transform: per-channel standardisation
    fitted on ``src``, inverse fitted on ``ref``; blended as above."""
    s = src.reshape(-1, src.shape[-1]).astype(np.float64)
    r = ref.reshape(-1, ref.shape[-1]).astype(np.float64)
    z = (s - s.mean(0)) / np.maximum(s.std(0), 1e-8)
    m = (z * r.std(0) + r.mean(0)).reshape(src.shape)
    out = blend * m + (1 - blend) * src.astype(np.float64)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)  # type: ignore[no-any-return]


def style_augment(src: np.ndarray, refs: Sequence[np.ndarray], rng: np.random.Generator,
                  p: float = 0.8, beta: float = 0.01, methods: Sequence[str] = ("FDA", "HM",
                                                                               "PDA")
                  ) -> np.ndarray:
    """With probability ``p`` one of ``methods`` against a random reference image.

    ``beta`` is FDA's ``beta_limit`` as the public loader passes it to albumentations'
    ``FDA``: each application draws its beta from U(0, beta_limit) (a single value means
    the range (0, value) there), so the swapped window varies from the DC term alone to
    the full limit. Defect fixed: every application used the limit itself (at the demo's
    48 px and limit 0.05 always a 5 x 5 window; now 1 x 1, 3 x 3 or 5 x 5 with
    probabilities 0.42 / 0.42 / 0.17), tested in ``test_synrs3d_model.py``.
    """
    if not refs or rng.random() >= p:
        return src
    ref = refs[int(rng.integers(len(refs)))]
    kind = methods[int(rng.integers(len(methods)))]
    if kind == "FDA":
        return fda(src, ref, float(rng.uniform(0.0, beta)))
    blend = float(rng.uniform(0.8, 1.0))
    return histogram_match(src, ref, blend) if kind == "HM" else pda_standard(src, ref, blend)
