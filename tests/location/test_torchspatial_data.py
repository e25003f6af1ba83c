"""LocBench readers: fixture round trips in every published layout, filtering, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.location.torchspatial.data import (
    DATASETS,
    FIGSHARE_URL,
    YFCC,
    BirdSnap,
    FMoW,
    INat,
    Mosaiks,
    NABirds,
    SplitArrays,
    write_fixture,
)


def _splits(names: tuple[str, ...], n: int = 9, c: int = 5, d: int = 6, seed: int = 1):
    rng = np.random.default_rng(seed)
    out = {}
    for i, name in enumerate(names):
        lonlat = np.stack([rng.uniform(-179, 179, n), rng.uniform(-80, 80, n)], 1)
        labels = (np.arange(n) + i) % c
        probs = rng.dirichlet(np.ones(c), n).astype(np.float32)
        feats = rng.normal(size=(n, d)).astype(np.float32)
        out[name] = SplitArrays(lonlat, labels, probs, feats)
    return out


def _check(ds, arr: SplitArrays, num_classes: int) -> None:
    assert len(ds) == len(arr.labels)
    np.testing.assert_allclose(ds.lonlat, arr.lonlat, atol=1e-4)
    np.testing.assert_array_equal(ds.labels, arr.labels)
    assert ds.num_classes == num_classes
    s = ds[3]
    assert s["lonlat"].shape == (2,) and s["lonlat"].dtype == torch.float32
    assert s["label"].dtype == torch.long and int(s["label"]) == int(arr.labels[3])
    if ds.image_probs is not None:
        np.testing.assert_allclose(ds.image_probs, arr.probs, atol=1e-6)
        assert s["image_probs"].shape == (num_classes,)
    if ds.image_features is not None:
        np.testing.assert_allclose(ds.image_features, arr.features, atol=1e-6)
        assert s["image_features"].shape == (arr.features.shape[1],)


@pytest.mark.parametrize("ds_key,cls", [("birdsnap", BirdSnap), ("nabirds", NABirds)])
def test_birds_round_trip(tmp_path: Path, ds_key: str, cls) -> None:
    splits = _splits(("train", "valid", "test"))
    write_fixture(tmp_path, ds_key, splits=splits)
    assert (tmp_path / f"{ds_key}_with_loc_2019.json").is_file()
    assert (tmp_path / "features_inception" / f"{ds_key}_test_preds_sparse.npz").is_file()
    for split in ("train", "valid", "test"):
        ds = cls(tmp_path, split=split, load_preds=True, load_features=True)
        _check(ds, splits[split], 5)
    for meta in ("orig_meta", "ebird_meta"):
        assert len(cls(tmp_path, split="test", meta_type=meta)) == 9


@pytest.mark.parametrize("year", [2017, 2018])
def test_inat_round_trip(tmp_path: Path, year: int) -> None:
    splits = _splits(("train", "val"))
    write_fixture(tmp_path, f"inat{year}", splits=splits)
    assert (tmp_path / f"train{year}_locations.json").is_file()
    assert (tmp_path / "features_inception" / f"inat{year}_val_preds_sparse.npz").is_file()
    for split in ("train", "val"):
        _check(INat(tmp_path, year=year, split=split, load_preds=True, load_features=True),
               splits[split], 5)


def test_fmow_yfcc_round_trip(tmp_path: Path) -> None:
    splits = _splits(("train", "val"))
    write_fixture(tmp_path / "fmow", "fmow", splits=splits, class_names=list("abcde"))
    cats = json.loads((tmp_path / "fmow" / "category.json").read_text())
    assert cats == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 4}
    for split in ("train", "val"):
        ds = FMoW(tmp_path / "fmow", split=split, load_preds=True, load_features=True)
        _check(ds, splits[split], 5)
        assert ds.classes == list("abcde")
    splits = _splits(("train", "test"))
    write_fixture(tmp_path / "yfcc", "yfcc", splits=splits)
    header = (tmp_path / "yfcc" / "train_test_split.csv").read_text().splitlines()[0]
    assert header == "lon,lat,class,split"
    for split in ("train", "test"):
        _check(YFCC(tmp_path / "yfcc", split=split, load_preds=True, load_features=True),
               splits[split], 5)


def test_mosaiks_round_trip_and_subsample(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    splits = {
        s: SplitArrays(np.stack([rng.uniform(-170, 170, 20), rng.uniform(-60, 60, 20)], 1),
                       rng.gamma(2.0, size=20), None, rng.normal(size=(20, 7)).astype(np.float32))
        for s in ("train", "val", "test")
    }
    write_fixture(tmp_path, "mosaiks", splits=splits, mosaiks_name="elevation")
    ds = Mosaiks(tmp_path, name="elevation", split="val")
    np.testing.assert_allclose(ds.targets, splits["val"].labels, rtol=1e-6)
    np.testing.assert_allclose(ds.image_features, splits["val"].features, atol=1e-6)
    s = ds[2]
    assert set(s) == {"lonlat", "target", "image_features"}
    assert float(s["target"]) == pytest.approx(float(splits["val"].labels[2]), rel=1e-6)
    sub = Mosaiks(tmp_path, name="elevation", split="test", subsample=0.25, seed=3)
    assert len(sub) == 5
    # subsampled rows keep their features (row alignment with X_<name>.npy)
    full = Mosaiks(tmp_path, name="elevation", split="test")
    for i in range(len(sub)):
        j = int(np.flatnonzero((full.lonlat == sub.lonlat[i]).all(1))[0])
        np.testing.assert_array_equal(sub.image_features[i], full.image_features[j])


@pytest.mark.parametrize("dataset", DATASETS)
def test_random_fixture_every_format(tmp_path: Path, dataset: str) -> None:
    write_fixture(tmp_path, dataset, num_classes=3, num_samples=7, feature_dim=4, seed=2)
    if dataset in ("birdsnap", "nabirds"):
        cls = BirdSnap if dataset == "birdsnap" else NABirds
        # train holds one entry without location (dropped) and one invalid image (skipped)
        assert len(cls(tmp_path, split="train")) == 7
        kept = cls(tmp_path, split="train", remove_invalid=False)
        assert len(kept) == 8 and np.isnan(kept.lonlat[-1]).all()
        ds = cls(tmp_path, split="test")
    elif dataset.startswith("inat"):
        year = int(dataset[-4:])
        assert len(INat(tmp_path, year=year, split="train", load_features=True)) == 7
        assert len(INat(tmp_path, year=year, split="train", remove_invalid=False)) == 8
        ds = INat(tmp_path, year=year, split="val")
    elif dataset == "fmow":
        assert len(FMoW(tmp_path, split="train")) == 7
        ds = FMoW(tmp_path, split="val")
    elif dataset == "yfcc":
        ds = YFCC(tmp_path, split="test")
    else:
        ds = Mosaiks(tmp_path, split="test")
    assert len(ds) == 7
    fig = ds.plot(ds[0], suptitle="fixture")
    assert fig.axes
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_missing_data_error_names_source_and_layout(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as err:
        BirdSnap(tmp_path / "nothing", split="test")
    msg = str(err.value)
    assert "10.6084/m9.figshare.26026798" in msg and FIGSHARE_URL in msg
    assert "birdsnap_with_loc_2019.json" in msg and "preds_sparse.npz" in msg
    write_fixture(tmp_path / "y", "yfcc")
    (tmp_path / "y" / "features_inception" / "YFCC_test_preds.npy").unlink()
    with pytest.raises(DataNotFoundError, match="YFCC_test_preds.npy"):
        YFCC(tmp_path / "y", split="test")
    # without predictions requested the same folder loads
    assert len(YFCC(tmp_path / "y", split="test", load_preds=False)) == 12


def test_bad_inputs(tmp_path: Path) -> None:
    splits = _splits(("train", "valid", "test"))
    splits["test"] = SplitArrays(splits["test"].lonlat, splits["test"].labels,
                                 splits["test"].probs[:5], None)
    write_fixture(tmp_path, "birdsnap", splits=splits)
    with pytest.raises(InvalidInputError, match="rows"):
        BirdSnap(tmp_path, split="test")
    with pytest.raises(InvalidInputError, match="split"):
        BirdSnap(tmp_path, split="val")
    with pytest.raises(InvalidInputError, match="unknown LocBench dataset"):
        write_fixture(tmp_path, "imagenet")
    with pytest.raises(InvalidInputError, match="year"):
        INat(tmp_path, year=2019)


def test_sustainbench_fixture_round_trip_and_errors(tmp_path: Path) -> None:
    """SustainBench layout (``dhs_{trainval,test}_labels.csv``) through our fixture writer.

    No independent SustainBench file exists here: the label CSVs are only in the
    TorchSpatial figshare release (not in /work/shared/data, and TorchGeo has no reader), so
    the layout is checked against the column names of the public loader
    (``load_sustainbench_data``: ``lon``, ``lat``, ``nl_mean``, ``<label>_normalized``) by a
    CSV written by hand below, besides our own writer.
    """
    import pandas as pd

    from geoneurips.location.torchspatial.data import (
        SUSTAINBENCH_LABELS,
        SplitArrays,
        SustainBench,
        write_sustainbench_fixture,
    )

    ll = np.array([[10.0, -5.0], [30.5, 12.25], [-3.0, 7.0]])
    arr = SplitArrays(ll, np.array([0.5, -1.25, 2.0]), features=np.array([1.0, 20.0, 3.5]))
    root = write_sustainbench_fixture(tmp_path / "sb", {"test": arr}, label="women_edu")
    ds = SustainBench(root, "sustainbench_women_edu", split="test")
    assert len(ds) == 3 and ds.label == "women_edu"
    s = ds[1]
    assert torch.allclose(s["lonlat"], torch.tensor([30.5, 12.25]))
    assert float(s["target"]) == pytest.approx(-1.25)
    assert s["image_features"].tolist() == [20.0]
    assert len(SustainBench(root, "women_edu", split="trainval")) == 20
    # the other labels are empty columns in this fixture: no rows left
    with pytest.raises(InvalidInputError, match="no rows"):
        SustainBench(root, "asset_index", split="test")
    # a hand-written file in the public column layout, with a missing label dropped
    hand = tmp_path / "hand"
    hand.mkdir()
    cols = {"lon": [1.0, 2.0, 3.0], "lat": [4.0, 5.0, 6.0], "nl_mean": [0.1, 0.2, 0.3]}
    cols.update({f"{k}_normalized": [0.0, float("nan"), 1.0] for k in SUSTAINBENCH_LABELS})
    for name in ("dhs_trainval_labels.csv", "dhs_test_labels.csv"):
        pd.DataFrame(cols).to_csv(hand / name, index=False)
    ds = SustainBench(hand, "water_index", split="test")
    assert ds.lonlat.tolist() == [[1.0, 4.0], [3.0, 6.0]] and ds.targets.tolist() == [0.0, 1.0]
    assert len(SustainBench(hand, "water_index", split="trainval", subsample=0.5)) == 1
    fig = ds.plot()
    assert fig is not None
    with pytest.raises(DataNotFoundError, match="dhs_test_labels.csv"):
        SustainBench(tmp_path / "nowhere", "water_index")
    with pytest.raises(InvalidInputError, match="unknown SustainBench label"):
        SustainBench(hand, "gdp")
    with pytest.raises(InvalidInputError, match="split"):
        SustainBench(hand, "water_index", split="val")
