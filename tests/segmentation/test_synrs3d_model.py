"""RS3DAda network and adaptation components: shapes, checkpoint loading, hand values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.segmentation.synrs3d import rs3dada as R
from geoneurips.segmentation.synrs3d.model import (
    DPTHead,
    RS3DConfig,
    RS3DModel,
    build_backbone,
    frozen_copy,
)


def test_model_shapes_and_bad_input() -> None:
    torch.manual_seed(0)
    m = RS3DModel(RS3DConfig.tiny(num_classes=8)).eval()
    out = m(torch.rand(2, 3, 48, 64) * 255)
    assert out["height"].shape == (2, 48, 64)
    assert out["seg"].shape == (2, 8, 48, 64)
    assert out["features"].shape == (2, 12 * 16, 48)
    feats = m.encode(torch.rand(1, 3, 64, 64) * 255)
    assert len(feats) == 4 and all(f.shape == (1, 256, 48) for f in feats)
    with pytest.raises(InvalidInputError):
        m(torch.rand(1, 3, 50, 64))
    paper = RS3DConfig()
    assert (paper.embed_dim, paper.depth, paper.patch_size, paper.features,
            paper.out_channels) == (1024, 24, 14, 256, [256, 512, 1024, 1024])


def test_tiny_config_sees_a_tree_as_one_or_two_tokens() -> None:
    """The tiny ViT's patch is 4 (was 8): at the demo's 48 px a 12 x 12 token grid, where
    a synthetic tree crown spans one or two patches, as a crown at 0.3-1 m GSD spans one
    or two of DINOv2's 14 px patches (:meth:`RS3DConfig.tiny`). Measured on the demo's
    target scenes: the median tree's extent is between 1 and 2 patches (with patch 8 it
    was below 1: the old config fails). The DPT reassemble stages stay relative to the
    grid as published: maps at x4, x2, x1, x1/2 of it (48, 24, 12, 6 px) and the fused
    map at 8 x the grid before the output convolutions resize to the image. (Median tree
    extent over 30 scenes: 6 px, 1.5 patches; 0.75 with patch 8.)"""
    from scipy.ndimage import find_objects, label

    from geoneurips.segmentation.synrs3d.synthetic import TARGET, make_scene

    cfg = RS3DConfig.tiny(img_size=48)
    assert (cfg.patch_size, cfg.embed_dim, cfg.depth, cfg.num_heads) == (4, 48, 4, 3)
    rng = np.random.default_rng(0)
    extents = []
    for _ in range(30):
        trees, _n = label(make_scene(rng, TARGET, 48)["ss_mask"] == 5)
        extents += [max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
                    for sl in find_objects(trees)]
    assert 1.0 <= float(np.median(extents)) / cfg.patch_size <= 2.0
    torch.manual_seed(0)
    m = RS3DModel(cfg).eval()
    sizes: dict[str, tuple[int, ...]] = {}
    for i, rn in enumerate(m.height_head.rn):
        rn.register_forward_hook(lambda _m, _i, o, i=i: sizes.__setitem__(f"rn{i}",
                                                                          tuple(o.shape[-2:])))
    m.height_head.fuse[0].register_forward_hook(
        lambda _m, _i, o: sizes.__setitem__("fused", tuple(o.shape[-2:])))
    with torch.no_grad():
        out = m(torch.rand(1, 3, 48, 48) * 255)
    g = 48 // cfg.patch_size
    assert g == 12 and out["features"].shape == (1, g * g, 48)
    assert [sizes[f"rn{i}"] for i in range(4)] == [(4 * g,) * 2, (2 * g,) * 2, (g, g),
                                                   ((g + 1) // 2,) * 2]
    assert sizes["fused"] == (8 * g, 8 * g) and out["height"].shape == (1, 48, 48)


def test_output_convolutions_follow_the_public_heads() -> None:
    """Defect (fixed): both DPT heads ended with Depth Anything's ``conv 3x3 -> ReLU ->
    conv 1x1``. SynRS3D's ``models/dpt.py`` has no activation there: its height head is
    ``conv 3x3 (features / 2)``, resize, ``conv 3x3 (32)``, ``conv 1x1 (1)``, affine in the
    fused features; its land-cover head is ``conv 3x3 (features)``, ``conv 1x1 (classes)``
    at the fused size, then resized. The old code fails both checks (a ReLU makes the
    height tail non-affine: its second difference was far from 0; the land-cover head had
    no ``out``)."""
    torch.manual_seed(0)
    m = RS3DModel(RS3DConfig.tiny(num_classes=3)).eval()
    f = m.config.features
    h = m.height_head

    def tail(p: torch.Tensor) -> torch.Tensor:
        return h.out2(h.out1(p))  # type: ignore[no-any-return]

    p = torch.randn(2, f, 12, 12) * 3
    with torch.no_grad():
        second = tail(2 * p) - 2 * tail(p) + tail(torch.zeros_like(p))
    assert float(second.abs().max()) < 1e-4 * float(tail(p).detach().abs().max() + 1)
    assert [type(x) for x in h.out2] == [torch.nn.Conv2d, torch.nn.Conv2d]
    assert (h.out1.out_channels, h.out2[0].out_channels, h.out2[1].out_channels) == (
        f // 2, 32, 1)
    seg = m.seg_head.out
    assert [type(x) for x in seg] == [torch.nn.Conv2d, torch.nn.Conv2d]
    assert (seg[0].in_channels, seg[0].out_channels, seg[0].kernel_size) == (f, f, (3, 3))
    assert (seg[1].out_channels, seg[1].kernel_size) == (3, (1, 1))
    assert not any(isinstance(x, torch.nn.ReLU) for x in [*h.modules(),
                                                          *m.seg_head.modules()])


def _published_head(head: DPTHead, tokens: list[torch.Tensor], grid: tuple[int, int],
                    size: tuple[int, int]) -> torch.Tensor:
    """The public ``models/dpt.py`` order, layer by layer: each fusion upsamples, then
    applies its 1x1; the output convolutions run one after the other."""
    import torch.nn.functional as F

    def fuse(f: Any, x: torch.Tensor, skip: torch.Tensor | None,
             to: tuple[int, ...] | None) -> torch.Tensor:
        if skip is not None:
            x = x + f.skip(skip)
        x = F.interpolate(f.refine(x), size=to, scale_factor=None if to else 2.0,
                          mode="bilinear", align_corners=True)
        return f.out(x)  # type: ignore[no-any-return]

    b = tokens[0].shape[0]
    maps = [head.rn[i](head.resize[i](head.project[i](t.transpose(1, 2).reshape(b, -1, *grid))))
            for i, t in enumerate(tokens)]
    p = fuse(head.fuse[3], maps[3], None, maps[2].shape[-2:])
    p = fuse(head.fuse[2], p, maps[2], maps[1].shape[-2:])
    p = fuse(head.fuse[1], p, maps[1], maps[0].shape[-2:])
    p = fuse(head.fuse[0], p, maps[0], None)

    def up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)

    if head.regression:
        return head.out2(up(head.out1(p)))  # type: ignore[no-any-return]
    return up(head.out(p))


def test_cheaper_head_computes_the_published_head() -> None:
    """:class:`DPTHead` applies each fusion's 1x1 before its upsampling and composes the
    output 3x3 + 1x1 pairs into one convolution (the step's cost); outputs and every
    parameter's gradient equal the published order's up to float rounding. Fails if
    either rewrite changes the function (e.g. a 1x1 moved across a 3x3, a bias dropped,
    the composed weight transposed)."""
    torch.manual_seed(0)
    m = RS3DModel(RS3DConfig.tiny(num_classes=3)).train()
    with torch.no_grad():  # non-trivial biases everywhere
        for p in m.decoder_parameters():
            p.add_(0.1 * torch.randn_like(p))
    tokens = [t.detach().requires_grad_() for t in m.encode(torch.rand(2, 3, 48, 64) * 255)]
    for head in (m.height_head, m.seg_head):
        grads = []
        for published in (False, True):
            head.zero_grad()
            out = (_published_head(head, tokens, (12, 16), (48, 64)) if published
                   else head(tokens, (12, 16), (48, 64)))
            (out * torch.linspace(-1, 2, out.numel()).view_as(out)).sum().backward()
            grads.append((out.detach(), [p.grad for p in head.parameters()  # fuse[3].skip:
                                         if p.grad is not None]))  # unused, as published
        (ours, g_ours), (ref, g_ref) = grads
        assert ours.shape == ref.shape and ours.shape[-2:] == (48, 64)
        assert len(g_ours) == len(g_ref) == len(list(head.parameters())) - 6
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)
        for a, b in zip(g_ours, g_ref, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5 * float(b.abs().max()))


def test_local_dinov2_checkpoint(tmp_path: Path) -> None:
    """A DINOv2-format state dict (``mask_token`` key, as facebookresearch publishes it)
    loads through the safe loader into an identical encoder; a mismatched one fails."""
    cfg = RS3DConfig.tiny()
    torch.manual_seed(1)
    ref = build_backbone(cfg).eval()
    state = {k: v.clone() for k, v in ref.state_dict().items()}
    state["mask_token"] = torch.zeros(1, cfg.embed_dim)
    torch.save(state, tmp_path / "dinov2.pth")
    torch.manual_seed(2)
    loaded = build_backbone(cfg, tmp_path / "dinov2.pth").eval()
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(loaded(x), ref(x))
    m = RS3DModel(cfg, tmp_path / "dinov2.pth")
    torch.testing.assert_close(m.encoder.state_dict()["pos_embed"], state["pos_embed"])
    bigger = RS3DConfig.tiny()
    bigger.embed_dim, bigger.num_heads = 96, 3
    with pytest.raises(CheckpointError):
        build_backbone(bigger, tmp_path / "dinov2.pth")


def test_losses_and_weights_by_hand() -> None:
    a = torch.tensor([[[1.0, 2.0], [0.0, 10.0]]])
    b = torch.tensor([[[1.5, 2.0], [0.0, 30.0]]])
    # ratios 1.5, 1, 0/0 (NaN: not consistent, as in the public code), 3 -> 2 of 4
    assert R.height_consistency_weight(a, b).tolist() == [0.5]
    prob = torch.tensor([[[[0.96, 0.5]], [[0.04, 0.5]]]])  # (1, 2, 1, 2)
    assert R.confidence_weight(prob).tolist() == [0.5]
    cls = torch.tensor([[[0, 1], [2, 3]]])
    h = torch.tensor([[[5.0, 6.0], [7.0, 8.0]]])
    assert R.ground_guided_refine(h, cls).tolist() == [[[0.0, 6.0], [7.0, 0.0]]]
    s = torch.randn(2, 5, 8)
    assert float(R.feature_constraint_loss(s, s)) == 0.0
    o = torch.zeros(1, 2, 2)
    o[0, 0, 0] = o[0, 1, 0] = 1.0
    q = torch.zeros(1, 2, 2)
    q[0, 0, 1] = q[0, 1, 1] = 1.0
    assert float(R.feature_constraint_loss(o, q)) == pytest.approx(1.0)
    t, st = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    with torch.no_grad():
        t.weight.fill_(1.0)
        st.weight.fill_(0.0)
    assert R.ema_update(t, st, 0) == 0.0 and float(t.weight.detach()) == 0.0
    with torch.no_grad():
        t.weight.fill_(1.0)
    assert R.ema_update(t, st, 3) == pytest.approx(0.75)
    assert float(t.weight.detach()) == pytest.approx(0.75)
    assert R.ema_update(t, st, 10_000) == 0.99
    # the public CE(reduction='none', ignore 255).mean(): the ignored pixel adds 0 and
    # counts in the mean, 3 / 4 * log 2 (the old mean over labelled pixels gave log 2)
    gt_h, gt_m = torch.zeros(1, 2, 2), torch.tensor([[[0, 255], [1, 1]]])
    logits = torch.zeros(1, 2, 2, 2)
    exp = 0.5 * 0.8 * 0.0 + 0.5 * 0.75 * float(np.log(2))
    assert float(R.source_loss(torch.zeros(1, 2, 2), logits, gt_h, gt_m)) == pytest.approx(exp)


def test_classmix_and_views() -> None:
    g = torch.Generator().manual_seed(0)
    src = torch.full((1, 3, 4, 4), 200.0)
    tgt = torch.full((1, 3, 4, 4), 10.0)
    sm = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 255, 255], [2, 2, 255, 255]]])
    tc = torch.full((1, 4, 4), 1)
    img, cls, h, ws, wh, m = R.classmix(src, tgt, sm, tc, torch.ones(1, 4, 4),
                                        torch.zeros(1, 4, 4), torch.tensor([0.3]),
                                        torch.tensor([0.6]), g)
    n_cls = len({int(c) for c in sm[m]})
    assert n_cls == 2  # half of the 3 classes present, rounded up
    assert bool((img[:, 0][m] == 200).all()) and bool((img[:, 0][~m] == 10).all())
    assert bool((cls[m] == sm[m]).all()) and bool((cls[~m] == 1).all())
    assert bool((ws[m] == 1).all()) and torch.allclose(ws[~m], torch.tensor(0.3))
    assert torch.allclose(wh[~m], torch.tensor(0.6)) and bool((h[m] == 1).all())
    x = torch.rand(2, 3, 16, 16) * 255
    v = R.photometric_view(x, g)
    assert v.shape == x.shape and float(v.min()) >= 0 and float(v.max()) <= 255
    assert R.strong_augment(x, g).shape == x.shape


def test_classmix_draws_the_ignore_value_like_the_public_code() -> None:
    """``get_class_masks`` draws ceil(n / 2) of the n values of ``torch.unique(label)``,
    255 included: with {0, 1, 255} present two values are pasted and 255 is one of them
    in about 2 / 3 of the draws (the old code drew 1 of {0, 1} and never pasted 255)."""
    g = torch.Generator().manual_seed(0)
    sm = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1], [255, 255, 255, 255], [0, 1, 0, 1]]])
    with_ignore = 0
    for _ in range(60):
        _, cls, h, ws, _, m = R.classmix(torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), sm,
                                         torch.zeros(1, 4, 4, dtype=torch.long),
                                         torch.full((1, 4, 4), 5.0), torch.zeros(1, 4, 4),
                                         torch.tensor([0.3]), torch.tensor([0.6]), g)
        pasted = {int(c) for c in sm[m]}
        assert len(pasted) == 2
        if 255 in pasted:
            with_ignore += 1
            assert bool((cls[sm == 255] == 255).all()) and bool((h[sm == 255] == 5).all())
            assert bool((ws[sm == 255] == 1).all())
    assert 25 <= with_ignore <= 55


def test_style_augmentations() -> None:
    rng = np.random.default_rng(0)
    src = rng.integers(0, 120, (32, 32, 3)).astype(np.uint8)
    ref = rng.integers(100, 256, (32, 32, 3)).astype(np.uint8)
    # beta 0: only the DC term is swapped, i.e. each channel's mean becomes the reference's
    dc = R.fda(src, ref, beta=0.0).astype(float) - src
    np.testing.assert_allclose(dc, np.broadcast_to(ref.mean((0, 1)) - src.mean((0, 1)),
                                                   dc.shape), atol=1.0)
    out = R.fda(src, ref, beta=0.05)
    assert abs(out.mean() - ref.mean()) < abs(src.mean() - ref.mean()) / 4
    hm = R.histogram_match(src, ref, 1.0)
    for c in range(3):  # the matched quantiles are the reference's
        assert abs(np.median(hm[..., c]) - np.median(ref[..., c])) <= 2
    pda = R.pda_standard(src, ref, 1.0).astype(float)
    np.testing.assert_allclose(pda.reshape(-1, 3).mean(0), ref.reshape(-1, 3).mean(0), atol=1)
    np.testing.assert_allclose(pda.reshape(-1, 3).std(0), ref.reshape(-1, 3).std(0), atol=1)
    half = R.pda_standard(src, ref, 0.5).astype(float)
    np.testing.assert_allclose(half.mean(), (src.mean() + pda.mean()) / 2, atol=1)
    np.testing.assert_array_equal(R.style_augment(src, [ref], rng, p=0.0), src)
    assert R.style_augment(src, [ref], rng, p=1.0, methods=("HM",)).mean() > 100


def test_fda_beta_is_drawn_up_to_the_limit() -> None:
    """The public loader passes ``FDA_beta`` to albumentations' ``FDA(beta_limit=...)``,
    which draws beta from U(0, beta_limit) on every application. At 48 px and limit 0.05
    the window half-side floor(48 beta) is 0, 1 or 2 with probabilities 5/12, 5/12, 1/6.
    The old code used the limit itself, so every output was ``fda(src, ref, 0.05)``."""
    rng = np.random.default_rng(1)
    src = rng.integers(0, 120, (48, 48, 3)).astype(np.uint8)
    ref = rng.integers(100, 256, (48, 48, 3)).astype(np.uint8)
    windows = {b: R.fda(src, ref, b / 48 + 1e-9) for b in (0, 1, 2)}
    seen = []
    for _ in range(120):
        out = R.style_augment(src, [ref], rng, p=1.0, beta=0.05, methods=("FDA",))
        hit = [b for b, w in windows.items() if np.array_equal(out, w)]
        assert len(hit) == 1  # always one of the three windows up to the limit
        seen.append(hit[0])
    counts = np.bincount(seen, minlength=3) / len(seen)
    np.testing.assert_allclose(counts, [5 / 12, 5 / 12, 1 / 6], atol=0.12)


def test_frozen_copy() -> None:
    m = torch.nn.Linear(2, 2)
    f = frozen_copy(m)
    assert not any(p.requires_grad for p in f.parameters()) and not f.training
