"""G3 data readers: MP16-Pro, im2gps3k/YFCC (axis order) and GeoCLIP's gallery.

Independent files: GeoCLIP's real ``coordinates_100K.csv`` (``shared/data/geoclip``) and
the copy inside the installed ``geoclip`` wheel. No MP16-Pro or im2gps3k file is in the
shared data (MP16-Pro is a 4.7M-row Hugging Face dataset); their tests use our writer, laid
out after the published headers (``IMG_ID, AUTHOR, LON, LAT, S3_Label, ...`` with the
latitudes under ``LON`` as in TIBHannover/GeoEstimation ``meta/im2gps3k_places365.csv``,
whose first row reads ``LON=32.325436, LAT=-64.764404``: Bermuda).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.location.g3 import data as d
from geoneurips.location.g3.demo_run import geoclip_gallery_path

LL = np.array([[51.501821, -0.140655], [-33.861328, 151.209039], [32.325436, -64.764404]])


def _addr(n: int) -> dict[str, list[str]]:
    return {
        "city": ["London", "", "Hamilton"][:n],
        "state": ["England", "New South Wales", ""][:n],
        "country": ["United Kingdom", "Australia", "Bermuda"][:n],
        "neighbourhood": ["Westminster", "", ""][:n],
    }


def test_mp16pro_round_trip(tmp_path: Path) -> None:
    imgs = np.random.default_rng(0).integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)
    d.write_mp16pro_fixture(tmp_path, LL, _addr(3), imgs)
    head = pd.read_csv(tmp_path / d.MP16_CSV, nrows=0).columns.tolist()
    assert head[:4] == ["IMG_ID", "AUTHOR", "LAT", "LON"]
    assert all(c in head for c in d.ADDRESS_FIELDS)
    ds = d.MP16Pro(tmp_path)
    assert len(ds) == 3
    np.testing.assert_allclose(ds.latlon, LL, atol=1e-6)
    s = ds[0]
    assert s["image"].shape == (3, 16, 16) and 0 <= float(s["image"].min())
    assert s["text"] == "A street view photo taken in London, England, United Kingdom"
    assert ds[1]["text"] == "A street view photo taken in New South Wales, Australia"
    assert ds[2]["text"] == "A street view photo taken in Hamilton, Bermuda"
    assert ds.plot(s) is not None


def test_mp16pro_drops_rows_without_country(tmp_path: Path) -> None:
    a = _addr(3)
    a["country"] = ["United Kingdom", "", "Bermuda"]
    d.write_mp16pro_fixture(tmp_path, LL, a)
    assert len(d.read_mp16pro_csv(tmp_path / d.MP16_CSV)) == 2
    assert len(d.read_mp16pro_csv(tmp_path / d.MP16_CSV, require_country=False)) == 3


def test_im2gps3k_swapped_header_is_detected(tmp_path: Path) -> None:
    d.write_benchmark_fixture(tmp_path, LL, swap_axes=True)
    head = pd.read_csv(tmp_path / "im2gps3k_places365.csv", nrows=1)
    assert head.columns.tolist()[:4] == ["IMG_ID", "AUTHOR", "LON", "LAT"]
    assert head["LON"].iloc[0] == pytest.approx(51.501821)  # latitudes under LON
    df = d.read_benchmark_csv(tmp_path / "im2gps3k_places365.csv")
    assert df.attrs["axis_swapped"] is True
    np.testing.assert_allclose(df[["LAT", "LON"]].to_numpy(), LL, atol=1e-6)
    with pytest.raises(InvalidInputError, match="swapped"):
        d.read_benchmark_csv(tmp_path / "im2gps3k_places365.csv", axis_order="as_labelled")
    ds = d.GeoBenchmark(tmp_path, load_images=False)
    np.testing.assert_allclose(ds.latlon, LL, atol=1e-6)


def test_correct_header_is_kept(tmp_path: Path) -> None:
    d.write_benchmark_fixture(tmp_path, LL, swap_axes=False)
    df = d.read_benchmark_csv(tmp_path / "im2gps3k_places365.csv")
    assert df.attrs["axis_swapped"] is False
    np.testing.assert_allclose(df[["LAT", "LON"]].to_numpy(), LL, atol=1e-6)


def test_neither_axis_order_valid(tmp_path: Path) -> None:
    bad = np.array([[10.0, 20.0], [95.0, 100.0]])
    pd.DataFrame({"IMG_ID": ["a", "b"], "LON": bad[:, 1], "LAT": bad[:, 0]}).to_csv(
        tmp_path / "im2gps3k_places365.csv", index=False
    )
    with pytest.raises(InvalidInputError, match="neither"):
        d.read_benchmark_csv(tmp_path / "im2gps3k_places365.csv")


def test_missing_files_and_columns(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="huggingface"):
        d.MP16Pro(tmp_path)
    pd.DataFrame({"IMG_ID": ["a"], "LAT": [1.0], "LON": [2.0]}).to_csv(
        tmp_path / d.MP16_CSV, index=False
    )
    with pytest.raises(InvalidInputError, match="missing column"):
        d.MP16Pro(tmp_path)
    d.write_mp16pro_fixture(tmp_path, LL, _addr(3))  # CSV only, no images folder
    with pytest.raises(DataNotFoundError, match="images"):
        d.MP16Pro(tmp_path)
    assert len(d.MP16Pro(tmp_path, load_images=False)) == 3
    with pytest.raises(InvalidInputError, match="unknown benchmark"):
        d.GeoBenchmark(tmp_path, name="im2gps")


def test_real_geoclip_gallery(real_data: Path) -> None:
    g = d.read_gps_gallery(real_data / "geoclip" / "coordinates_100K.csv")
    assert g.shape == (100_000, 2)
    assert np.abs(g[:, 0]).max() <= 90 and np.abs(g[:, 1]).max() <= 180
    np.testing.assert_allclose(g[0], [-50.943392, -72.935664])
    # the copy inside the geoclip wheel (what the demo and the GeoCLIP baseline read)
    np.testing.assert_array_equal(d.read_gps_gallery(geoclip_gallery_path()), g)
