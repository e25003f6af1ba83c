"""Synthetic biomes of the OAM-TCD demo (diverse vs. single-biome training)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.segmentation.oamtcd.biomes import (
    _GROUPS,
    TRAIN_BIOMES,
    biome_scene,
    make_biome_scene,
    unseen_biome,
)
from geoneurips.segmentation.oamtcd.data import OAMTCD, rasterize_annotations, write_fixture
from geoneurips.segmentation.oamtcd.pipeline import _augment_colour

CATS = [{"id": 1, "name": "canopy"}, {"id": 2, "name": "tree"}]


def test_unseen_biome_recombines_training_attributes() -> None:
    rng = np.random.default_rng(0)
    groups = [g for grp in _GROUPS for g in grp]
    assert sorted(groups) == sorted(f.name for f in fields(TRAIN_BIOMES[0]) if f.name != "name")
    for _ in range(50):
        b = unseen_biome(rng)
        src = []
        for grp in _GROUPS:
            owners = [k for k, t in enumerate(TRAIN_BIOMES)
                      if all(getattr(t, a) == getattr(b, a) for a in grp)]
            assert owners, grp  # every attribute value was seen in training
            src.append(owners[0])
        assert len(set(src)) > 1  # never a copy of one training biome
        assert b.name.split(":")[1] == "".join(TRAIN_BIOMES[k].name[0] for k in src)
    with pytest.raises(ValueError):
        unseen_biome(rng, TRAIN_BIOMES[:1])


def test_crowns_are_textured_and_grass_is_not() -> None:
    for b in TRAIN_BIOMES:
        img, anns = make_biome_scene(np.random.default_rng(1), 96, b)
        assert img.dtype == np.uint8 and img.shape == (3, 96, 96)
        sem, _, _ = rasterize_annotations(anns, CATS, 96, 96)
        g = img[1].astype(float)
        dx = np.abs(np.diff(g, axis=1))
        inside = (sem[:, 1:] > 0) & (sem[:, :-1] > 0)
        outside = (sem[:, 1:] == 0) & (sem[:, :-1] == 0)
        # neighbouring-pixel differences: leaf clumps inside crowns, smooth ground outside
        assert np.median(dx[inside]) > 1.5 * np.median(dx[outside]), b.name  # temperate: 14 vs 7


def test_biome_scene_records_biomes_through_write_fixture(tmp_path) -> None:  # type: ignore[no-untyped-def]
    scene = biome_scene(None, np.random.default_rng(3))
    root = write_fixture(tmp_path / "u", n_train=1, n_test=3, size=32, folds=1, seed=5,
                         scene=scene)
    assert len(scene.biomes) == 4 and all(b.name.startswith("unseen_") for b in scene.biomes)
    assert len(OAMTCD(root, "test")) == 3
    fixed = biome_scene(TRAIN_BIOMES[1])
    a = fixed(np.random.default_rng(0), 32)[0]
    assert np.array_equal(a, make_biome_scene(np.random.default_rng(0), 32, TRAIN_BIOMES[1])[0])
    assert fixed.biomes == [TRAIN_BIOMES[1]]


def test_colour_augmentation_keeps_masks_and_range() -> None:
    torch.manual_seed(0)
    img = torch.full((3, 8, 8), 200.0)
    mask = torch.zeros(8, 8, dtype=torch.long)
    mask[0, :3] = 1
    out = _augment_colour([{"image": img, "mask": mask}] * 16)
    assert out["image"].shape == (16, 3, 8, 8) and float(out["image"].max()) <= 255.0
    gains = out["image"][:, :, 4, 4] / 200.0
    assert 0.55 < float(gains.min()) and float(gains.max()) <= 1.3 * 1.2 * 200 / 200 + 1e-6
    assert float(gains.std()) > 0.05  # the colours do change
    assert sorted(out["mask"].sum((1, 2)).tolist()) == [3] * 16


def test_paper_recipe_does_not_collapse_on_arid_tiles(tmp_path: Path) -> None:
    """Regression: the paper's recipe (focal loss + flips) used to collapse on the tiny
    U-Net: trained on the arid-savanna tiles (smallest, rarest crowns, ~5 % tree pixels)
    it predicted background everywhere, even on its own training tiles (train tree IoU
    0.000 for the demo's seeds 1, 10 and 12 with smp's default unnormalised focal loss,
    Adam lr 1e-2, batch 12, 80 epochs). The tree channel's sigmoid on tree pixels stalled
    near 0.44 while the background channel stayed near 0.6, so the argmax never flipped.
    Fixed by the released code's settings (``smp.losses.FocalLoss("multiclass",
    normalized=True)``, AdamW) and 160 updates (batch 6, 40 epochs). These are the demo's
    tiles of dev seed 10 and its recipe; measured train tree IoU 0.951 (old: 0.000) on the
    earlier, colour-only arid biome. With the structural arid biome (crowns 0.05 of the
    tile, 8 per tile, long shadows) the same tiles give 0.981, and the unnormalised loss at
    these settings 0.970: the guard on the released settings stays, but these tiles no
    longer reproduce the old collapse."""
    from geoneurips.segmentation.oamtcd.demo import BATCH, EPOCHS, N_TRAIN, TILE
    from geoneurips.segmentation.oamtcd.model import TCDConfig
    from geoneurips.segmentation.oamtcd.pipeline import TCDTask, evaluate, train_model

    root = write_fixture(tmp_path / "arid", n_train=N_TRAIN, n_test=1, size=TILE, folds=1,
                         seed=10 * 100 + 1, scene=biome_scene(TRAIN_BIOMES[1]))
    ds = OAMTCD(root, "train")
    cfg = TCDConfig.tiny(num_classes=2)
    assert cfg.loss == "focal" and cfg.focal_normalized and cfg.optimizer == "adamw"
    task = TCDTask(cfg)
    assert task.criterion.normalized  # type: ignore[union-attr]
    assert isinstance(task.configure_optimizers(), torch.optim.AdamW)
    samples = [ds[i] for i in range(len(ds))]
    model = train_model(cfg, samples, epochs=EPOCHS, batch_size=BATCH, seed=10, augment=True)
    scores, _ = evaluate(model, cfg, samples)
    assert scores["iou_tree"] > 0.5, scores["iou_tree"]


def _structure(biome: object) -> tuple[float, float]:
    """(lag-2 texture correlation inside crowns, dark-ground / crown pixel ratio) over 12
    tiles of 64 px."""
    corr, shade = [], []
    for k in range(12):
        img, anns = make_biome_scene(np.random.default_rng(k), 64,
                                     biome)  # type: ignore[arg-type]
        sem, _, _ = rasterize_annotations(anns, CATS, 64, 64)
        crown = sem > 0
        g = img[1].astype(float)
        both = crown[:, 2:] & crown[:, :-2]
        a, b = g[:, 2:][both], g[:, :-2][both]
        if len(a) > 20:
            corr.append(float(np.corrcoef(a, b)[0, 1]))
        v = img.astype(float).mean(0)
        ground = ~crown
        shade.append(float((ground & (v < 0.75 * np.median(v[ground]))).sum()
                           / max(1, crown.sum())))
    return float(np.mean(corr)), float(np.mean(shade))


def test_biomes_differ_in_crown_structure_not_only_colour() -> None:
    """Regression: the biomes used to differ mainly in colour, light and texture amplitude
    (leaf clumps of 2 px everywhere, a shadow as a copy of the crown shifted by 0.6 radii),
    which the released photometric transform imitates, so one biome plus augmentation
    matched the diverse training set. Now the structure differs too. Measured (12 tiles
    each): lag-2 leaf-clump correlation temperate / arid / tropical 0.062 / 0.009 / 0.318
    (old: 0.010 / -0.039 / 0.003); dark-ground-to-crown pixel ratio 0.48 / 1.40 / 0.13
    (old: 0.34 / 0.81 / 0.21, arid 3.9x tropical; now 11x)."""
    temperate, arid, tropical = (_structure(b) for b in TRAIN_BIOMES)
    # texture grain: coarse 4 px leaf clumps under tropical canopy (1 px arid, 2 px
    # temperate: lag 2 leaves the clump, correlation near 0)
    assert tropical[0] > max(arid[0], temperate[0]) + 0.15
    # shadow geometry: long arid shadows, short ones under tropical canopy
    assert arid[1] > 6 * tropical[1]
