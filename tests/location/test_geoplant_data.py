"""GeoPlant / GLC24 readers: the real files of ../shared/data/geoplant as they are, the
fixture writer round trip, labels built before de-duplication, and bad inputs.

Independent files: malpolon's GLC24 pre-extracted sample (PA metadata with a ``subset``
column, one survey's RGB/NIR JPEGs and Landsat/bioclim cubes) and one GLC25 survey's cubes.
No real environmental or Landsat-value CSV is available offline: those readers are tested on
our fixture writer only. TorchGeo 0.8.1 has no GeoLifeCLEF/GeoPlant reader, so there is no
cross-read of our fixture by TorchGeo.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.location.geoplant.data import (
    GeoPlantPA,
    cube_path,
    load_cube,
    patch_path,
    read_environmental,
    read_landsat_values,
    read_metadata,
    read_sentinel,
    survey_labels,
    survey_table,
    write_fixture,
    write_split,
)


@pytest.fixture
def glc24(real_data: Path) -> Path:
    return real_data / "geoplant" / "glc24_pre_extracted"


def test_real_metadata_long_format(glc24: Path) -> None:
    df = read_metadata(glc24 / "metadata.csv")
    assert len(df) == 100 and df["surveyId"].nunique() == 99
    assert df["speciesId"].dtype == "Int64" and df["surveyId"].dtype == np.int64
    # areaInM2 holds -inf in the published rows: read as missing, never as a number.
    assert np.isfinite(df["areaInM2"].dropna()).all()
    assert df.loc[df.surveyId == 1322301, "areaInM2"].isna().all()
    train = read_metadata(glc24 / "metadata.csv", split="train")
    assert set(train["subset"]) == {"train"} and len(train) == 49


def _buggy_public_labels(df: pd.DataFrame) -> dict[int, list[int]]:
    """malpolon's order: drop_duplicates('surveyId') first, then the label dict."""
    dedup = df.drop_duplicates("surveyId")
    return {int(s): [int(v)] for s, v in zip(dedup.surveyId, dedup.speciesId, strict=True)}


def test_labels_built_before_deduplication(glc24: Path) -> None:
    """Survey 2357522 has two species (8858, 9816) in the real file. The public loader's
    order keeps one of them; ours keeps both, and every (survey, species) row is a label."""
    df = read_metadata(glc24 / "metadata.csv")
    labels = survey_labels(df)
    assert labels[2357522] == [8858, 9816]
    assert sum(len(v) for v in labels.values()) == len(df)
    assert _buggy_public_labels(df)[2357522] != labels[2357522]
    # de-duplicating afterwards leaves the labels intact
    assert len(survey_table(df)) == 99 and labels[2357522] == [8858, 9816]


def test_real_patch_tree_and_cubes(glc24: Path, real_data: Path) -> None:
    rgb = patch_path(glc24, "train", 1322301, "rgb")
    assert rgb.relative_to(glc24).as_posix() == (
        "PA_Train_SatellitePatches_RGB/pa_train_patches_rgb/01/23/1322301.jpeg")
    s2 = read_sentinel(rgb, patch_path(glc24, "train", 1322301, "nir"))
    assert s2.shape == (4, 128, 128) and -1.0 <= float(s2.min()) < float(s2.max()) <= 1.0
    land = load_cube(cube_path(glc24, "train", 1322301, "landsat"), (6, 4, 21))
    bio = load_cube(cube_path(glc24, "train", 1322301, "bioclim"), (4, 19, 12))
    assert torch.isfinite(land).all() and torch.isfinite(bio).all()
    assert float(bio.min()) == 328.0  # the raw values, unchanged
    glc25 = real_data / "geoplant" / "glc25_pre_extracted"
    cube = load_cube(next((glc25 / "SateliteTimeSeries-Landsat").rglob("*_cube.pt")))
    assert cube.shape == (6, 4, 21)
    assert load_cube(next((glc25 / "BioclimTimeSeries").rglob("*_cube.pt"))).shape == (4, 19, 12)


def test_real_dataset_sample(glc24: Path) -> None:
    ds = GeoPlantPA(glc24, "train", survey_ids=[1322301])
    s = ds[0]
    assert s["landsat"].shape == (6, 4, 21) and s["bioclim"].shape == (4, 19, 12)
    assert s["sentinel"].shape == (4, 128, 128)
    assert s["label"].shape == (11255,) and s["label"].nonzero().flatten().tolist() == [8748]
    np.testing.assert_allclose(s["lonlat"].numpy(), [5.19824, 51.08484], rtol=1e-6)
    assert int(s["survey_id"]) == 1322301
    fig = ds.plot(s, suptitle="real GLC24 sample")
    assert len(fig.axes) == 3


def test_real_split_reports_missing_files(glc24: Path) -> None:
    """Only one survey of the sample has its inputs: the whole split must say which are missing."""
    with pytest.raises(DataNotFoundError, match="Missing: .*_cube.pt|Missing: .*jpeg"):
        GeoPlantPA(glc24, "train")


def test_fixture_round_trip(tmp_path: Path) -> None:
    truth = write_fixture(tmp_path, n_surveys=5, num_species=9, patch_size=32, seed=3)
    assert (tmp_path / "GLC24_PA_metadata_train.csv").is_file()
    test_meta = pd.read_csv(tmp_path / "GLC24_PA_metadata_test.csv")
    assert "speciesId" not in test_meta.columns
    ds = GeoPlantPA(tmp_path, "train", num_classes=9)
    assert len(ds) == 5
    y = ds.label_matrix()
    for i, sid in enumerate(ds.survey_ids):
        assert np.flatnonzero(y[i]).tolist() == truth["train"][int(sid)]
        assert ds[i]["label"].nonzero().flatten().tolist() == truth["train"][int(sid)]
    s = ds[0]
    assert s["sentinel"].shape == (4, 32, 32) and torch.isfinite(s["landsat"]).all()
    ts = GeoPlantPA(tmp_path, "test", modalities=("bioclim",), num_classes=9)
    assert "label" not in ts[0] and set(ts[0]) == {"survey_id", "lonlat", "bioclim"}
    env = read_environmental(tmp_path, "train", ("bioclimatic", "landcover"))
    assert env.shape == (5, 20) and set(env.index) == set(truth["train"])


def test_test_split_cube_names(tmp_path: Path) -> None:
    p = cube_path(tmp_path, "test", 42, "landsat").name
    assert p == "GLC24-PA-test-landsat_time_series_42_cube.pt"
    assert cube_path(tmp_path, "train", 42, "landsat").name == (
        "GLC24-PA-train-landsat-time-series_42_cube.pt")


def test_landsat_values_round_trip(tmp_path: Path) -> None:
    ids = [11, 12]
    vals = pd.DataFrame({"surveyId": ids, **{f"{b}:2000_1": [1.0, 2.0] for b in
                                             ("blue", "green", "red", "nir", "swir1", "swir2")}})
    long = pd.DataFrame({"lon": [1, 2], "lat": [3, 4], "speciesId": [1.0, 2.0], "surveyId": ids})
    write_split(tmp_path, "train", long, {}, None, ids, landsat_values=vals)
    got = read_landsat_values(tmp_path, "train")
    assert got.loc[12, "nir:2000_1"] == 2.0 and got.shape == (2, 6)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="kaggle"):
        GeoPlantPA(tmp_path / "nowhere")
    with pytest.raises(InvalidInputError, match="split"):
        GeoPlantPA(tmp_path, split="val")
    write_fixture(tmp_path, n_surveys=2, num_species=5, patch_size=8)
    with pytest.raises(InvalidInputError, match="num_classes"):
        GeoPlantPA(tmp_path, num_classes=3)
    with pytest.raises(InvalidInputError, match="modalities"):
        GeoPlantPA(tmp_path, modalities=("lidar",), num_classes=5)
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(ValueError("x")))
    with pytest.raises(InvalidInputError, match="refused or unreadable"):
        load_cube(evil)
    torch.save(torch.zeros(2, 2), tmp_path / "small.pt")
    with pytest.raises(InvalidInputError, match="shape"):
        load_cube(tmp_path / "small.pt", (6, 4, 21))
    torch.save(torch.tensor([np.nan, np.inf, -np.inf, 2.0]), tmp_path / "gaps.pt")
    assert load_cube(tmp_path / "gaps.pt").tolist() == [0.0, 0.0, 0.0, 2.0]


def test_presence_only_table(tmp_path: Path) -> None:
    """No real GLC24 PO file is available offline (the GLC22 observation CSVs have another
    schema): the PO reader is checked on a table written here in the published columns."""
    from geoneurips.location.geoplant.data import read_po_metadata

    po = pd.DataFrame({"publisher": ["iNaturalist", "Pl@ntNet", "iNaturalist"],
                       "year": [2019] * 3, "month": [5, 6, 6], "day": [1, 2, 2],
                       "lat": [45.0, 46.0, 46.0], "lon": [3.0, 4.0, 4.0],
                       "geoUncertaintyInM": [10.0, 5.0, 5.0], "taxonRank": ["SPECIES"] * 3,
                       "date": ["2019-05-01", "2019-06-02", "2019-06-02"],
                       "dayOfYear": [121, 153, 153], "speciesId": [12.0, 7.0, 9.0],
                       "surveyId": [1, 2, 2]})
    po.to_csv(tmp_path / "GLC24_P0_metadata_train.csv", index=False)
    df = read_po_metadata(tmp_path)
    assert survey_labels(df) == {1: [12], 2: [7, 9]}
    po.drop(columns=["taxonRank"]).to_csv(tmp_path / "GLC24_P0_metadata_train.csv", index=False)
    with pytest.raises(InvalidInputError, match="taxonRank"):
        read_po_metadata(tmp_path)
    with pytest.raises(DataNotFoundError):
        read_po_metadata(tmp_path / "none")
