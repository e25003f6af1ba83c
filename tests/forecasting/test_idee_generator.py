"""The IDEE synthetic generator: hand-worked event classes and propagation, the injection's
sign rule, coupling matrix, dependent variables, seeds, published configurations.

No independent cube exists to compare with (the published cubes are 46 GB and the public
generator draws its noise from an unseeded RNG), so the checks are hand values and the
generator's own equations."""

from __future__ import annotations

import numpy as np
import pytest

from geoneurips.errors import DataNotFoundError
from geoneurips.forecasting.idee.generator import (
    PUBLISHED_SHAPE,
    CubeEvent,
    coupling_matrix,
    exp_config,
    extreme_classes,
    generate,
    make_base,
    propagate_extremes,
)


def test_extreme_classes_dilate_in_time() -> None:
    e = np.zeros((11, 1, 1), np.uint8)
    e[5] = 1
    out = extreme_classes(e)[:, 0, 0]
    assert out.tolist() == [0, 0, 0, 3, 2, 1, 2, 3, 0, 0, 0]
    assert e.sum() == 1  # the input is not modified (the public code mutates it)


def test_propagation_window_hand_values() -> None:
    ext = np.zeros((40, 1, 1), np.uint8)
    ext[20] = 1
    ext[21] = 2  # class 2 does not propagate
    row = np.zeros(14, np.uint8)
    row[[0, 9, 13]] = 1
    out = propagate_extremes(ext, row, pos=10)[:, 0, 0]
    # k -> t + k - pos + 1: 0 -> 11, 9 -> 20 (the extreme itself), 13 -> 24
    assert np.flatnonzero(out).tolist() == [11, 20, 24]
    # clipped at both ends of the series
    ext2 = np.zeros((5, 1, 1), np.uint8)
    ext2[2] = 1
    assert np.flatnonzero(propagate_extremes(ext2, row, 10)[:, 0, 0]).tolist() == [2]


def test_coupling_matrix_runs() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        ecm = coupling_matrix(6, (1, 5), 14, rng)
        assert ecm.dtype == np.uint8 and ecm.shape == (6, 14)
        assert ecm[0].sum() == 0 and ecm[4].sum() == 0
        for v in (1, 2, 3, 5):
            on = np.flatnonzero(ecm[v])
            assert len(on) >= 2 and np.all(np.diff(on) == 1)  # one contiguous run


def test_cube_event_half_sizes() -> None:
    ev = CubeEvent(1, sx=3, sy=3, sz=3).draw((20, 20, 20), np.random.default_rng(1))
    assert ev.sum() in (1, 2, 4, 8)  # half size 1 each way: at most a 2x2x2 box


@pytest.fixture(scope="module")
def cube():  # type: ignore[no-untyped-def]
    return generate(exp_config("exp_1", (52 * 3, 12, 12), seed=3))


def test_generate_layout_and_determinism(cube) -> None:  # type: ignore[no-untyped-def]
    v, t, h, w = cube.data.shape
    assert (v, t, h, w) == (6, 156, 12, 12) and cube.data.dtype == np.float32
    assert cube.extreme.max() <= 3 and (cube.extreme == 1).any()
    assert cube.anomaly_extreme[[0, 4]].sum() == 0  # var_drop = [1, 5]
    assert cube.anomaly_extreme[[1, 2, 3, 5]].sum() > 0
    again = generate(exp_config("exp_1", (52 * 3, 12, 12), seed=3))
    np.testing.assert_array_equal(again.data, cube.data)
    other = generate(exp_config("exp_1", (52 * 3, 12, 12), seed=4))
    assert not np.array_equal(other.extreme, cube.extreme)


def test_dependent_anomalies_are_or_of_independent(cube) -> None:  # type: ignore[no-untyped-def]
    union = (cube.anomaly[:3].sum(0) > 0).astype(np.uint8)
    for d in (3, 4, 5):
        np.testing.assert_array_equal(cube.anomaly[d], union)


def test_driver_cells_take_the_coupling_sign(cube) -> None:  # type: ignore[no-untyped-def]
    cfg = cube.config
    for v in (1, 2):  # independent, coupled; signs +1 and -1
        theta = cube.data[v].astype(np.float64) - make_base(cfg.bases[v], cfg.shape)
        d = cube.anomaly_extreme[v] == 1
        assert d.any()
        assert np.all(theta[d] * cfg.sign[v] >= -1e-4)
        # elsewhere the sign is free: both signs occur
        assert (theta[~d] > 0).any() and (theta[~d] < 0).any()


def test_published_configs() -> None:
    c1 = exp_config("exp_1")
    assert c1.shape == PUBLISHED_SHAPE and c1.seed == 44 and c1.n_var == 6
    assert c1.kb == (0.35, 0.35, 0.9, 0.35, 0.35, 0.35) and c1.pos_extreme == 10
    c3 = exp_config("exp_3")
    assert c3.n_var == 6 and c3.training_end == 52 * 34 and c3.dep_coupling == ()
    assert exp_config("exp_2").n_var == 5
    with pytest.raises(DataNotFoundError, match="NOAA"):
        generate(exp_config("exp_2", (52, 4, 4), data_base="/nonexistent"))
    with pytest.raises(ValueError, match="exp_9"):
        exp_config("exp_9")
