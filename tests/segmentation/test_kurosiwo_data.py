"""Kuro Siwo data: the real catalogue and SLC grid index, the GRD layout, preprocessing.

Independent files: ``catalogue.yaml`` and ``slc_grid_pwater_0.0001.json`` from the public
repository (../shared/data/kurosiwo). No real GRD patch is available offline (the imagery
is only on Dropbox), so the patch reader is tested on our fixture writer; TorchGeo has no
Kuro Siwo reader to compare with.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.segmentation.kurosiwo.data import (
    CLAMP,
    DATA_MEAN,
    DATA_STD,
    RANDOM_EVENTS,
    KuroSiwo,
    load_catalogue,
    load_grid_index,
    normalize_sar,
    slope_riserun,
    split_keys,
    write_fixture,
)
from geoneurips.segmentation.kurosiwo.synthetic import make_scene


@pytest.fixture(scope="module")
def catalogue(real_data: Path):  # type: ignore[no-untyped-def]
    return load_catalogue(real_data / "kurosiwo" / "catalogue.yaml")


@pytest.fixture(scope="module")
def grid(real_data: Path) -> dict:  # type: ignore[type-arg]
    return load_grid_index(real_data / "kurosiwo" / "slc_grid_pwater_0.0001.json")


def test_real_catalogue(catalogue) -> None:  # type: ignore[no-untyped-def]
    assert len(catalogue.events) == 45 and catalogue.crs == 3857
    togo = catalogue.events[470]
    assert togo.region == "Togo" and togo.ref_date.isoformat() == "2020-10-05T18:00:00"
    assert togo.aois[1].name == "Oti River" and catalogue.climate_zone(470, 1) == 1
    assert catalogue.climate_zone(437, 7) == 3 and catalogue.climate_zone(437, 1) is None
    assert catalogue.climate_zones[2] == "Arid"
    # the !join tag is understood (concatenation of its items)
    assert catalogue.meta["CAT_PATH"] == "your/path/to/datacatalogue.gpkg"
    assert sum(len(e.aois) for e in catalogue.events.values()) == 79
    # every activation of the RandomEvents track is in the catalogue
    for acts in RANDOM_EVENTS.values():
        assert set(acts) <= set(catalogue.events)


def test_real_grid_index(grid: dict, catalogue) -> None:  # type: ignore[no-untyped-def, type-arg]
    assert len(grid) == 20552
    assert grid["421/05/18_6"] == {"actid": 421, "path": "421/05/18_6", "aoiid": 5, "clz": 2}
    assert Counter(v["clz"] for v in grid.values()) == {3: 15090, 1: 3508, 2: 1954}
    assert len({v["actid"] for v in grid.values()}) == 43
    # climate zones agree with the catalogue wherever the catalogue lists the AOI; three
    # (act, aoi) pairs of the index are absent from the catalogue (as published)
    missing = set()
    for v in grid.values():
        zone = catalogue.climate_zone(v["actid"], v["aoiid"])
        if zone is None:
            missing.add((v["actid"], v["aoiid"]))
        else:
            assert zone == v["clz"]
    assert missing == {(1111009, 2), (555, 2), (1111009, 3)}
    per_split = {s: sum(v["actid"] in split_keys("RandomEvents", s) for v in grid.values())
                 for s in ("train", "val", "test")}
    assert sum(per_split.values()) == len(grid) - sum(
        v["actid"] not in set().union(*map(set, RANDOM_EVENTS.values())) for v in grid.values())
    assert all(n > 0 for n in per_split.values())


def test_bad_index_and_catalogue(tmp_path: Path) -> None:
    p = tmp_path / "g.json"
    p.write_text(json.dumps({"421/05/18_6": {"actid": 421, "path": "421/05/18_6",
                                             "aoiid": 4, "clz": 2}}))
    with pytest.raises(InvalidInputError, match="disagrees"):
        load_grid_index(p)
    with pytest.raises(DataNotFoundError, match="github.com/Orion-AI-Lab"):
        load_grid_index(tmp_path / "missing.json")
    c = tmp_path / "c.yaml"
    c.write_text("App: x\n")
    with pytest.raises(InvalidInputError, match="Floods"):
        load_catalogue(c)
    with pytest.raises(DataNotFoundError):
        load_catalogue(tmp_path / "none.yaml")


def test_normalize_clamps_then_fills_nan() -> None:
    x = np.array([[[-1.0, 0.05, 0.3, np.nan]], [[0.0, 0.01, 1.0, np.nan]]], np.float32)
    y = normalize_sar(x)
    vv = (np.array([0.0, 0.05, CLAMP, CLAMP]) - DATA_MEAN[0]) / DATA_STD[0]
    vh = (np.array([0.0, 0.01, CLAMP, CLAMP]) - DATA_MEAN[1]) / DATA_STD[1]
    np.testing.assert_allclose(y[0, 0], vv, rtol=1e-6)
    np.testing.assert_allclose(y[1, 0], vh, rtol=1e-6)
    with pytest.raises(InvalidInputError):
        normalize_sar(np.zeros((3, 2, 2)))


def test_slope_riserun_hand_values() -> None:
    yy, xx = np.mgrid[0:6, 0:6].astype(np.float64)
    s = slope_riserun(3 * xx + 4 * yy)
    np.testing.assert_allclose(s[1:-1, 1:-1], 5.0, rtol=1e-6)  # sqrt(3^2 + 4^2)
    np.testing.assert_allclose(slope_riserun(3 * xx, cell_size=2.0)[2, 2], 1.5)


def test_fixture_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    scenes = [make_scene(rng, 32) for _ in range(3)]
    scenes[1]["valid"][0, :5] = 0  # MNA = 0 on a valid-looking label
    scenes[1]["dem"] = np.add.outer(np.arange(32.0), 2 * np.arange(32.0)).astype(np.float32)
    scenes[1]["clz"] = 2
    write_fixture(tmp_path, [(130, 1, scenes[0]), (321, 3, scenes[1]), (514, 1, scenes[2])])
    folder = next((tmp_path / "data" / "321" / "03").iterdir())
    names = sorted(p.name for p in folder.iterdir())
    assert names[0] == "MK0_DEM_321_03_20210715.tif" and "info.json" in names
    assert {n[:7] for n in names if n.endswith(".tif")} == {
        "MK0_DEM", "MK0_MLU", "MK0_MNA", "MS1_IVH", "MS1_IVV", "SL1_IVH", "SL1_IVV",
        "SL2_IVH", "SL2_IVV"}
    test = KuroSiwo(tmp_path, "test", dem=True, slope=True)
    assert len(test) == 1 and len(KuroSiwo(tmp_path, "train")) == 1
    s = test[0]
    assert s["image"].shape == (6, 32, 32) and s["image"].dtype == torch.float32
    stack = np.concatenate([scenes[1]["post"], scenes[1]["pre1"], scenes[1]["pre2"]])
    np.testing.assert_allclose(s["image"].numpy(), normalize_sar(stack), rtol=1e-6)
    want = np.where(scenes[1]["valid"] == 1, scenes[1]["label"], 3)
    np.testing.assert_array_equal(s["mask"].numpy(), want)
    assert (s["mask"][0, :5] == 3).all() and s["clz"] == 2 and s["actid"] == 321
    assert s["dem"].shape == (1, 32, 32) and s["slope"].shape == (1, 32, 32)
    np.testing.assert_allclose(s["slope"][0, 5, 5].item() * 67.5048 + 2.1277, np.sqrt(5),
                               rtol=1e-4)
    fig = test.plot({**s, "prediction": s["mask"].clamp(max=2)}, suptitle="x")
    assert len(fig.axes) == 4


def test_climatic_track_and_missing_data(tmp_path: Path) -> None:
    write_fixture(tmp_path, size=16)
    ds = KuroSiwo(tmp_path, "a", track="Climatic", split_lists={"a": ["514_01"]})
    assert len(ds) == 1 and ds[0]["actid"] == 514
    with pytest.raises(InvalidInputError, match="Climatic"):
        KuroSiwo(tmp_path, "train", track="Climatic")
    with pytest.raises(InvalidInputError):
        KuroSiwo(tmp_path, "holdout")
    with pytest.raises(DataNotFoundError, match="download_kuro_siwo"):
        KuroSiwo(tmp_path / "nowhere")
    with pytest.raises(DataNotFoundError):
        KuroSiwo(tmp_path, "val", track="Climatic", split_lists={"val": ["1_01"]})


def test_synthetic_scene_needs_pre_event_context() -> None:
    """Flood and permanent water have the same post-event statistics; only the pre-event
    dates differ (flood is land there)."""
    s = make_scene(np.random.default_rng(0), 64)
    perm, flood = s["label"] == 1, s["label"] == 2
    assert perm.any() and flood.any()
    ratio = s["post"][0][perm].mean() / s["post"][0][flood].mean()
    assert 0.8 < ratio < 1.25
    assert s["pre1"][0][flood].mean() > 5 * s["pre1"][0][perm].mean()


def test_torchgeo_flood_s1_reads_our_fixture_the_same_way(tmp_path: Path) -> None:
    """TorchGeo's Copernicus-Bench Flood-S1 reader (a Kuro Siwo subset kept in the same
    ``data/{actid}/{aoi}/{grid}/`` layout, indexed by ``grid_dict_{split}.json``) reads our
    fixture: same backscatter per date, same label, the post-event date from the name."""
    from datetime import UTC, datetime

    from torchgeo.datasets import CopernicusBenchFloodS1

    rng = np.random.default_rng(1)
    scene = make_scene(rng, 24)
    root = tmp_path / "flood_s1"
    write_fixture(root, [(1111002, 1, scene)])
    folder = next((root / "data" / "1111002" / "01").iterdir())
    key = f"1111002/01/{folder.name}"
    (root / "grid_dict_test.json").write_text(json.dumps({key: {"path": key}}))
    tg = CopernicusBenchFloodS1(tmp_path, split="test", mode=2)[0]
    ours = KuroSiwo(root, "test")[0]
    sl2, sl1, ms1 = tg["image"].numpy()  # TorchGeo's order: pre 2, pre 1, post
    np.testing.assert_array_equal(ms1, scene["post"])
    stack = np.concatenate([ms1, sl1, sl2])
    np.testing.assert_allclose(ours["image"].numpy(), normalize_sar(stack), rtol=1e-6)
    valid = ours["valid"].numpy()
    np.testing.assert_array_equal(tg["mask"].numpy()[valid], ours["mask"].numpy()[valid])
    post_day = datetime.fromtimestamp(float(tg["time"][-1]), tz=UTC).date()
    assert post_day.isoformat() == "2021-07-15"
