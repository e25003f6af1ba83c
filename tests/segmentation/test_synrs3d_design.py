"""The demo task tests the paper's claim, and the RS3DAda loop follows the public script.

Two defects of the earlier synthetic target (``synthetic.TARGET``) and two of the earlier
adaptation loop, each with a test that fails on the old code:

* target buildings were 6-20 m, out of the source's 3-12 m: unreachable for any model
  trained on source labels (and for a teacher's pseudo-labels);
* the target roof colour, after contrast and cast, was nearer the source's bare-land
  colour than its roof colour (a class swap, not an appearance shift);
* the EMA teacher started at alpha 0.99 (step count offset by 100), so over a few dozen
  adaptation iterations it stayed the phase-1 snapshot; the public script counts from the
  start of self-training (alpha 0.5, 0.67, ... up to 0.99);
* the ClassMix images got colour jitter 0.4 on every image; the public script's strong
  transform is albumentations' ``ColorJitter(p=0.8)`` (strength 0.2) and blur p 0.5.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from geoneurips.segmentation.synrs3d import training as T
from geoneurips.segmentation.synrs3d.model import RS3DConfig
from geoneurips.segmentation.synrs3d.synthetic import SOURCE, TARGET, TARGET_MATERIALS, make_scene


def _class_colours(style: dict[str, Any], seed: int) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    acc: dict[int, list[np.ndarray]] = {}
    for _ in range(16):
        s = make_scene(rng, style, 48)
        for c in style["palette"]:
            m = s["ss_mask"] == c
            if m.any():
                acc.setdefault(c, []).append(s["image"][:, m].T)
    return {c: np.median(np.concatenate(v), 0) for c, v in acc.items()}


def test_target_heights_inside_the_source_range() -> None:
    """Old target: buildings up to 20 m against the source's 12 m (max 20.0 m over these 24 scenes)."""
    rng = np.random.default_rng(0)
    lo, hi = SOURCE["building_h"]
    for _ in range(24):
        s = make_scene(rng, TARGET, 48)
        bld = s["ss_mask"] == 8
        assert ((s["height"][bld] >= lo) & (s["height"][bld] <= hi)).all()
        assert s["height"][s["ss_mask"] == 5].max(initial=0) <= SOURCE["tree_h"][1]
    assert TARGET["building_h"] != SOURCE["building_h"]  # still a different distribution


def test_every_target_class_looks_nearest_its_own_source_class() -> None:
    """Median colour per class over 16 scenes (shadows and texture included). Old target:
    roofs (190, 129, 107) were nearer the source's bare land (distance 45.7) than its roofs
    (48.5), agriculture nearer rangeland (11.0 vs 35.6). Each class is still shifted by
    more than 10 RGB units."""
    src, tgt = _class_colours(SOURCE, 0), _class_colours(TARGET, 1)
    for c, t in tgt.items():
        d = {k: float(np.linalg.norm(t - v)) for k, v in src.items()}
        assert min(d, key=d.__getitem__) == c, (c, d)
        others = min(v for k, v in d.items() if k != c)
        assert d[c] < others - 10 and d[c] > 10, (c, d)


def test_target_materials_straddle_a_boundary_without_a_swap() -> None:
    """:data:`TARGET_MATERIALS`, per object (median colour of each roof / crown, 20
    scenes): most stay nearest their own source class, a real share (measured 36-37 % over
    30 scenes) lies nearer another: a class-conditional shift with spread, not a class
    swap (then most would be across) and not nothing (then none would)."""
    from scipy.ndimage import label

    src = {c: np.asarray(v, float) for c, v in SOURCE["palette"].items()}
    own: dict[int, list[bool]] = {5: [], 8: []}
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = make_scene(rng, TARGET_MATERIALS, 48)
        img = s["image"].transpose(1, 2, 0).astype(float)
        for c in own:
            objects, n = label(s["ss_mask"] == c)
            for k in range(1, n + 1):
                med = np.median(img[objects == k], 0)
                own[c].append(min(src, key=lambda q: float(np.linalg.norm(src[q] - med))) == c)
    for c, hits in own.items():
        assert 0.5 < float(np.mean(hits)) < 0.8, (c, np.mean(hits), len(hits))


def _spy_run(monkeypatch: pytest.MonkeyPatch, s: T.Settings) -> dict[str, list[Any]]:
    seen: dict[str, list[Any]] = {"alpha": [], "jitter": [], "mix": []}
    ema, strong, mix = T.ema_update, T.strong_augment, T.mix_augment

    def ema_spy(*a: Any, **k: Any) -> float:
        alpha = ema(*a, **k)
        seen["alpha"].append(alpha)
        return alpha

    def strong_spy(x: torch.Tensor, gen: torch.Generator, *a: Any) -> torch.Tensor:
        seen["jitter"].append(a)
        return strong(x, gen, *a)

    def mix_spy(x: torch.Tensor, gen: torch.Generator, *a: Any, **k: Any) -> torch.Tensor:
        seen["mix"].append((*a, k.get("hue")))
        return mix(x, gen, *a, **k)

    monkeypatch.setattr(T, "ema_update", ema_spy)
    monkeypatch.setattr(T, "strong_augment", strong_spy)
    monkeypatch.setattr(T, "mix_augment", mix_spy)
    g = torch.Generator().manual_seed(0)
    src = {"image": torch.rand(6, 3, 16, 16, generator=g) * 255,
           "height": torch.rand(6, 16, 16, generator=g) * 5,
           "mask": torch.randint(0, 3, (6, 16, 16), generator=g)}
    T.train(src, src["image"], RS3DConfig.tiny(img_size=16), s, seed=0)
    return seen


def test_ema_ramp_and_mix_jitter_follow_the_public_script(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Old code: first alpha 0.99; jitter called without arguments (0.4, every image);
    then the baseline's jitter (no hue, one blur sigma U(0.1, 2) per batch) with (0.2, 0.8)
    instead of the public transform (:func:`mix_augment`)."""
    s = T.Settings(iters=6, batch=2, uda=True, uda_start=2, warmup=2)
    seen = _spy_run(monkeypatch, s)
    assert seen["alpha"] == pytest.approx([0.5, 2 / 3, 0.75, 0.8])
    assert seen["mix"] == [(0.2, 0.8, 0.2)] * 4 and seen["jitter"] == []
    # the practitioner's baseline keeps its stronger jitter (0.4 on every image)
    seen = _spy_run(monkeypatch, T.Settings(iters=3, batch=2, colour_jitter=True, warmup=1))
    assert seen["jitter"] == [()] * 3 and seen["alpha"] == [] and seen["mix"] == []


def test_photometric_view_is_the_public_oneof() -> None:
    """Defect (fixed): every teacher view was jittered and / or blurred (one choice per
    batch). The public ``utils.get_transforms`` is an albumentations ``OneOf`` with its
    default p 0.5 over {jitter, blur, Compose(jitter p 0.5, blur p 0.5)}, drawn per image:
    the view is the image itself with probability 1/2 + 1/6 * 1/4 = 13/24 (then the
    height-consistency weight is 1), jitter only 5/24, blur only 5/24, both 1/24. Old
    code: 0 identical views."""
    from geoneurips.segmentation.synrs3d.rs3dada import photometric_view

    g = torch.Generator().manual_seed(0)
    x = torch.rand(3000, 3, 6, 6, generator=g) * 200 + 20
    same = (photometric_view(x, g) == x).flatten(1).all(1).float().mean()
    assert abs(float(same) - 13 / 24) < 0.03


def test_published_blur_and_hue_jitter() -> None:
    """Defects (fixed): the teacher view and the ClassMix images were blurred with sigma
    U(0.1, 2); albumentations' ``GaussianBlur(blur_limit=(3, 7))`` keeps its default
    ``sigma_limit=0``, i.e. OpenCV's sigma for the kernel, 0.3 * ((k - 1) / 2 - 1) + 0.8.
    And their ``ColorJitter`` has hue 0.2 (albumentations' default), which we did not
    apply. The hue rotation is checked against :mod:`colorsys`."""
    import colorsys

    from geoneurips.segmentation.synrs3d.rs3dada import _hue_shift, published_blur

    img = torch.zeros(3, 15, 15)
    img[:, 7, 7] = 1.0
    g = torch.Generator().manual_seed(0)
    for _ in range(12):
        row = published_blur(img, g)[0, 7]
        k = int((row > 0).sum())
        assert k in (3, 5, 7)
        sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8
        r = torch.arange(k, dtype=torch.float32) - k // 2
        want = torch.exp(-(r ** 2) / (2 * sigma ** 2))
        want = want / want.sum()
        torch.testing.assert_close(row[row > 0], want * want[k // 2])
    x = torch.rand(3, 4, 4, generator=g) * 255
    y = _hue_shift(x, 0.15)
    for i in range(4):
        for j in range(4):
            h, s, v = colorsys.rgb_to_hsv(*(x[:, i, j] / 255).tolist())
            want = torch.tensor(colorsys.hsv_to_rgb((h + 0.15) % 1, s, v)) * 255
            torch.testing.assert_close(y[:, i, j], want, atol=1e-3, rtol=0)


def test_mix_jitter_probability() -> None:
    """strong_augment with p = 0 leaves colours alone (only the blur may act)."""
    from geoneurips.segmentation.synrs3d.rs3dada import strong_augment

    x = torch.full((8, 3, 8, 8), 100.0)
    x[:, 0] = 200.0
    out = strong_augment(x, torch.Generator().manual_seed(0), 0.4, 0.0)
    torch.testing.assert_close(out, x)  # a blur of a constant image is the image
    out = strong_augment(x, torch.Generator().manual_seed(0), 0.4, 1.0)
    assert not torch.allclose(out, x)


def test_whole_delta_explained_only_where_the_deficit_is_on_ground() -> None:
    """Defect (fixed): the 'whole' delta regression was excused by a fixed string whatever
    the numbers. Now it is explained only when RS3DAda's delta on the pixels above 1 m
    (``delta1_low``) is at least every baseline's; otherwise it stays a regression and
    the demo fails."""
    from geoneurips.segmentation.synrs3d.pipeline import explain_regressions

    base = {"source_only": {"delta1_low": 0.40}, "hm": {"delta1_low": 0.45}}
    assert set(explain_regressions({"delta1_low": 0.46}, base)) == {"delta1_whole"}
    assert explain_regressions({"delta1_low": 0.44}, base) == {}


def test_published_hue_range_crosses_the_synthetic_class_colours() -> None:
    """Why the demo's RS3DAda runs without the public hue jitter (``pipeline.HUE``): our
    classes are coded by a palette, and albumentations' default hue range (0.2 turns)
    rotates one class's colour onto another's. Over U(-0.2, 0.2), the source roof colour
    is nearest another source class's colour in 41 % of the shifts (target roof 54 %,
    source agriculture 66 %). If the palette stops coding classes by hue, this fails and
    the deviation should go."""
    import colorsys

    from geoneurips.segmentation.synrs3d.pipeline import HUE

    pal = {c: np.asarray(v, float) for c, v in SOURCE["palette"].items()}

    def swapped(rgb: tuple[int, int, int], code: int) -> float:
        h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
        out = []
        for shift in np.linspace(-0.2, 0.2, 401):
            x = np.asarray(colorsys.hsv_to_rgb((h + shift) % 1, s, v)) * 255
            d = {k: float(np.linalg.norm(x - p)) for k, p in pal.items()}
            out.append(min(d, key=d.__getitem__) != code)
        return float(np.mean(out))

    assert swapped(SOURCE["palette"][8], 8) > 0.35
    assert swapped(TARGET["palette"][8], 8) > 0.45
    assert swapped(SOURCE["palette"][7], 7) > 0.6
    assert swapped(SOURCE["palette"][8], 8) < 0.5  # a real range, not everything swapped
    assert HUE == 0.0
