"""ResNet-6, the multi-modal ensemble, the pos-weighted BCE and the cheap baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.location.geoplant.model import (
    GradientBoostedSpecies,
    ResNet6,
    SpeciesModel,
    TopKFrequency,
    pos_weight_bce,
    spatial_cells,
)


def test_resnet6_paper_shapes() -> None:
    net = ResNet6(6, 11255)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in net.modules()) == 2
    assert net(torch.zeros(2, 6, 4, 21)).shape == (2, 11255)
    assert ResNet6(4, None)(torch.zeros(1, 4, 19, 12)).shape == (1, 512)


def test_mme_concat_head_and_encoder_transfer() -> None:
    mme = SpeciesModel(("landsat", "bioclim", "sentinel"), 11255)
    assert mme.head.in_features == 1536 and mme.head.out_features == 11255
    small = SpeciesModel(("landsat", "bioclim", "sentinel"), 7, widths=(4, 8, 8, 8))
    batch = {"landsat": torch.randn(3, 6, 4, 21), "bioclim": torch.randn(3, 4, 19, 12),
             "sentinel": torch.randn(3, 4, 16, 16)}
    assert small(batch).shape == (3, 7)
    single = SpeciesModel(("bioclim",), 7, widths=(4, 8, 8, 8))
    single.set_normalization({"bioclim": (torch.full((4,), 2.0), torch.full((4,), 3.0))})
    small.load_encoders(single)
    for a, b in zip(small.encoders["bioclim"].state_dict().values(),
                    single.encoders["bioclim"].state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert float(small.mean_bioclim.flatten()[0]) == 2.0
    with pytest.raises(InvalidInputError):
        SpeciesModel(("radar",), 3)


def test_pos_weight_bce_formula() -> None:
    logits = torch.tensor([[0.3, -1.0, 2.0]])
    y = torch.tensor([[1.0, 0.0, 1.0]])
    p = torch.sigmoid(logits)
    hand = -(10 * y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    assert float(pos_weight_bce(logits, y, 10.0)) == pytest.approx(float(hand), rel=1e-5)
    ref = torch.nn.BCEWithLogitsLoss(pos_weight=y * 10)(logits, y)
    assert float(pos_weight_bce(logits, y, 10.0)) == pytest.approx(float(ref))


def test_district_top25_baseline() -> None:
    cells = spatial_cells(np.array([0.2, 0.7, 1.5, 0.4]), np.array([45.1, 45.9, 45.5, 45.2]))
    assert cells[0] == cells[1] == cells[3] != cells[2]
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]])
    f = TopKFrequency().fit(cells[:3], y)
    s = f.predict(np.array([cells[0], cells[2], -1]))
    assert s[0].argmax() == 0 and s[0, 1] > s[0, 2]
    assert s[1].argmax() == 2
    assert s[2].argmax() == 0  # unseen district: global frequency


def test_gradient_boosted_species_learns() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = np.stack([(x[:, 0] > 0), (x[:, 1] > 0.5), np.zeros(200, bool)], 1).astype(int)
    m = GradientBoostedSpecies(n_estimators=30).fit(x, y)
    p = m.predict(x)
    assert p.shape == (200, 3) and np.all(p[:, 2] == 0)
    assert ((p[:, 0] > 0.5) == y[:, 0]).mean() > 0.95


def test_late_fusion_is_the_mean_predicted_probability() -> None:
    """Hand values: logits 0 and ln 3 are probabilities 1/2 and 3/4; the late fusion of two
    models averages those, not the logits (mean logit ln 3 / 2 would give 0.634)."""
    from geoneurips.location.geoplant.pipeline import late_fusion

    a = np.array([[0.0, np.log(3.0)]])
    b = np.array([[np.log(3.0), 0.0]])
    np.testing.assert_allclose(late_fusion([a, b]), [[0.625, 0.625]])
    np.testing.assert_allclose(late_fusion([a]), [[0.5, 0.75]])
    with pytest.raises(InvalidInputError):
        late_fusion([])
