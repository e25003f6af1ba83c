"""Terra's spatial task on the REAL global 1-degree temperature CSV (Spatial_Task/data), with
the project's TorchSpatial encodings (shared layer ``geoneurips.nn.location_encoders``) and
GeoCLIP's pretrained location encoder (weights from the installed ``geoclip`` wheel).

The published protocol (random 70/30 split, the public MLP with its shared hidden layer,
unscaled embeddings, full-batch Adam 1e-3, early stopping on the training loss) at the quick
demo's budget (1,000 training cells, 2,000 test cells, at most 300 epochs), test MSE in
degC^2; seeds 0-2 final, 3-4 confirmation (choices were made on seeds 10-12, docs/terra.md):

====  =====  ====  ========  ========  =======  =========  ===
seed  raw    xyz   sphere_c  sphere_m  geoclip  spherical  kNN
====  =====  ====  ========  ========  =======  =========  ===
0     12.31  9.48  6.36      4.93      67.28    6.25       5.33
1     11.14  8.92  6.84      4.97      76.05    5.66       6.45
2     12.55  9.24  8.44      5.02      70.32    7.15       6.01
3     10.45  8.43  7.71      4.29      55.91    6.18       4.95
4     11.62  9.36  7.15      5.12      71.80    6.42       5.72
====  =====  ====  ========  ========  =======  =========  ===

Sphere2Vec (r_min 0.1) beats raw lon/lat in every run: sphereM/raw 0.40-0.45, sphereC/raw
0.52-0.74; sphereM also beats the kNN interpolation (kNN/sphereM 1.08-1.30). GeoCLIP's
unscaled 512-d embedding (entries ~1e-2) barely trains within 300 epochs at lr 1e-3. The
test asserts sphereM < 0.6 x raw on seed 0 (measured 0.401).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.forecasting.terra.data import read_grid_csv
from geoneurips.forecasting.terra.spatial import (
    PUBLISHED,
    SPHERE_MIN_RADIUS,
    LitSpatialMLP,
    TerraMLP,
    fit_full_batch,
    knn_regression,
    location_features,
    spatial_regression,
    split_cells,
)
from geoneurips.nn.location_encoders import geoclip as gc

RATIO_ASSERTED = 0.5  # set from seeds 0-2, see the module docstring


def test_spherical_features_are_continuous_across_the_antimeridian() -> None:
    lat = np.array([10.0, 10.0])
    lon = np.array([179.5, -179.5])
    sph = location_features(lat, lon, "spherical")
    raw = location_features(lat, lon, "raw")
    assert sph.shape == (2, 3 + 16)
    np.testing.assert_allclose(np.linalg.norm(sph[:, :3], axis=1), 1.0, rtol=1e-6)
    assert np.abs(sph[0] - sph[1]).max() < 0.15  # 1 degree apart on the sphere
    assert np.abs(raw[0] - raw[1]).max() > 1.9  # raw longitude jumps by 2
    xyz = location_features(lat, lon, "xyz")
    assert np.abs(xyz[0] - xyz[1]).max() < 0.02
    with pytest.raises(InvalidInputError, match="unknown"):
        location_features(lat, lon, "h3")


def test_torchspatial_features_accept_the_published_last_row() -> None:
    """The published formula puts row 64,799 at lat 90.5; the encodings clamp it to the pole."""
    lat, lon = np.array([90.5, 90.0]), np.array([179.5, 179.5])
    for kind, width in (("xyz", 3), ("sphere_c", 192), ("sphere_m", 320)):
        f = location_features(lat, lon, kind)
        assert f.shape == (2, width) and np.isfinite(f).all()
        np.testing.assert_array_equal(f[0], f[1])


def _public_geoclip_encoder(monkeypatch: pytest.MonkeyPatch) -> torch.nn.Module:
    """The installed wheel's own LocationEncoder, imported without the package __init__ (which
    needs transformers) by registering bare parent packages."""
    root = gc.geoclip_weights_path().parents[2]
    for name, path in (("geoclip", root), ("geoclip.model", root / "model")):
        mod = types.ModuleType(name)
        mod.__path__ = [str(path)]
        monkeypatch.setitem(sys.modules, name, mod)
    import importlib

    public = importlib.import_module("geoclip.model.location_encoder")
    enc: torch.nn.Module = public.LocationEncoder().eval()
    return enc


def test_geoclip_encoder_matches_the_public_package(monkeypatch: pytest.MonkeyPatch) -> None:
    ours = gc.load_geoclip_location_encoder()
    before = set(sys.modules)
    try:
        theirs = _public_geoclip_encoder(monkeypatch)
    finally:  # drop the public submodules imported under the bare parents
        for name in set(sys.modules) - before:
            if name.startswith("geoclip."):
                del sys.modules[name]
    g = torch.Generator().manual_seed(0)
    latlon = torch.stack(
        [torch.rand(256, generator=g) * 180 - 90, torch.rand(256, generator=g) * 360 - 180], 1
    )
    with torch.no_grad():
        a, b = ours(latlon), theirs(latlon)
    assert a.shape == (256, 512)
    assert float((a - b).abs().max()) < 1e-3 * float(b.abs().max())
    # latitude first: swapping the columns gives a different embedding
    with torch.no_grad():
        assert float((ours(latlon.flip(1)) - a).abs().max()) > 0.1 * float(a.abs().max())


def test_geoclip_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInputError, match="unexpected tensor"):
        gc.convert_geoclip_state_dict({"LocEnc0.other.0.weight": torch.zeros(1)})
    with pytest.raises(InvalidInputError, match=r"\(lat, lon\)"):
        gc.GeoCLIPLocationEncoder()(torch.zeros(3, 3))
    monkeypatch.setattr(gc.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataNotFoundError, match="no-deps geoclip"):
        gc.load_geoclip_location_encoder()


def test_sphere_encoding_beats_raw_lonlat_on_real_temperature(real_data: Path) -> None:
    """Quick-demo budget (1,000 training cells, 2,000 test cells, 300 epochs), seed 0."""
    torch.set_num_threads(1)
    lat, lon, v = read_grid_csv(real_data / "terra" / "temperature_avg_day.csv")
    kw = {"seed": 0, "train_cells": 1000, "test_cells": 2000, "max_epochs": 300}
    raw = spatial_regression(lat, lon, v, "raw", **kw)
    sph = spatial_regression(lat, lon, v, "sphere_m", **kw)
    assert sph["mse"] < RATIO_ASSERTED * raw["mse"]
    assert sph["mae"] < raw["mae"]
    assert sph["mse_z"] == pytest.approx(
        sph["mse"] / float(np.std(v[split_cells(len(v), 0, 1000)[0]])) ** 2
    )
    with pytest.raises(InvalidInputError, match="same length"):
        spatial_regression(lat[:3], lon[:2], v[:3], "raw")
    with pytest.raises(InvalidInputError, match="for all cells"):
        spatial_regression(lat, lon, v, "raw", features=np.zeros((3, 2), np.float32))


def test_spatial_mlp_is_a_lightning_module() -> None:
    import lightning as L

    lit = LitSpatialMLP(5)
    assert isinstance(lit, L.LightningModule)
    assert lit(torch.zeros(7, 5)).shape == (7,)


def test_mlp_is_the_published_network() -> None:
    """The public ``MLP(in, 64, num_layers=2, 1)`` builds ``[Linear, ReLU] + [Linear(64, 64),
    ReLU] * 2 + [Linear]``: the list product repeats ONE hidden layer (shared weights, applied
    twice). Built here the public way and loaded with our weights, it gives our outputs; the
    old two-layer MLP (hidden layer applied once) did not."""
    torch.manual_seed(0)
    ours = TerraMLP(5)
    hidden = [torch.nn.Linear(64, 64), torch.nn.ReLU()]
    public = torch.nn.Sequential(
        torch.nn.Linear(5, 64), torch.nn.ReLU(), *(hidden * 2), torch.nn.Linear(64, 1)
    )
    assert len(list(public.parameters())) == 6  # the repeated layer is one set of weights
    with torch.no_grad():
        for dst, src in ((public[0], ours.inp), (public[2], ours.hidden), (public[6], ours.out)):
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
    x = torch.randn(11, 5)
    torch.testing.assert_close(ours(x), public(x))
    lit = LitSpatialMLP(5)
    assert lit.lr == PUBLISHED["lr"] == 1e-3
    assert isinstance(lit.configure_optimizers(), torch.optim.Adam)


def test_published_split_and_stopping_rule() -> None:
    """70/30 random split of all cells (the SatCLIP/GeoCLIP notebooks); training stops when
    the TRAINING loss has not improved for ``patience`` epochs."""
    train, test = split_cells(64_800, seed=3)
    assert len(train) == 45_360 and len(test) == 19_440
    assert len(np.intersect1d(train, test)) == 0
    assert np.array_equal(split_cells(64_800, 3, 100, 50)[0], train[:100])
    lit = LitSpatialMLP(2, lr=0.0)  # the loss never improves after the first epoch
    assert fit_full_batch(lit, torch.randn(20, 2), torch.randn(20), 1000, patience=7) == 8
    lit = LitSpatialMLP(2)
    assert fit_full_batch(lit, torch.randn(20, 2), torch.randn(20), 30, patience=100) == 30


def test_embeddings_are_fed_unscaled() -> None:
    """The published MLP sees the embeddings as they come (the old code z-scored every
    column, which made the result invariant to a feature's scale)."""
    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(-80, 80, 300), rng.uniform(-180, 180, 300)
    v = np.cos(np.radians(lat)) * 30.0
    f = location_features(lat, lon, "raw")
    a = spatial_regression(lat, lon, v, "raw", features=f, max_epochs=30)
    b = spatial_regression(lat, lon, v, "raw", features=f * 50.0, max_epochs=30)
    assert abs(a["mse"] - b["mse"]) > 0.05 * a["mse"]


def test_sphere2vec_min_radius_is_the_chosen_one() -> None:
    """Sphere2Vec runs at r_min = SPHERE_MIN_RADIUS (0.1, chosen on dev seeds) and r_max = 1:
    64 scales from 1 to 10 cycles per radian (the old 1e-3 reached 1,000, beyond the 1-degree
    grid's Nyquist limit of 180 per radian)."""
    from geoneurips.nn.location_encoders import SphereCPositionEncoder

    assert SPHERE_MIN_RADIUS == 0.1
    lat, lon = np.array([10.5, -45.5, 89.5]), np.array([-179.5, 0.5, 33.5])
    pe = SphereCPositionEncoder(64, 0.1, 1.0)
    assert float(pe.freqs.max()) == pytest.approx(10.0) and float(pe.freqs.min()) == pytest.approx(
        1.0
    )
    ref = pe(torch.tensor(np.stack([lon, lat], 1), dtype=torch.float32)).numpy()
    np.testing.assert_allclose(location_features(lat, lon, "sphere_c"), ref, rtol=1e-6, atol=1e-6)
    finer = location_features(lat, lon, "sphere_c", min_radius=1e-3)
    assert np.abs(finer - ref).max() > 0.1


def test_knn_interpolation_matches_brute_force() -> None:
    """Inverse-distance kNN against a brute-force search with the project's haversine."""
    from geoneurips.metrics.geodesic import haversine_km

    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(-89, 89, 400), rng.uniform(-180, 180, 400)
    v = rng.normal(size=400)
    got = knn_regression(lat, lon, v, k=3, seed=2)
    train, test = split_cells(400, 2)
    d = haversine_km(lat[test][:, None], lon[test][:, None], lat[train][None], lon[train][None])
    j = np.argsort(d, axis=1)[:, :3]
    w = 1.0 / np.take_along_axis(d, j, 1)
    pred = (w * v[train][j]).sum(1) / w.sum(1)
    assert got["mse"] == pytest.approx(float(np.mean((pred - v[test]) ** 2)), rel=1e-9)
    assert got["mae_z"] == pytest.approx(got["mae"] / float(v[train].std()))
    with pytest.raises(InvalidInputError, match="k must be"):
        knn_regression(lat, lon, v, k=0)
