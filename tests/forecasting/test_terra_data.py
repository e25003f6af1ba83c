"""Terra readers on the real released files (``../shared/data/terra`` via ``real_data``;
copied unchanged from CityMind-Lab/NeurIPS24-Terra) and on small files written here for the error paths.

PyTables is not installed, so pandas' own ``read_hdf`` cannot serve as the independent
reader; the table's shape, date range, value range and absence of NaN are checked against
the values recorded in the research notes from a pandas load of the same file.
"""

from __future__ import annotations

import pickle
import pickletools
from pathlib import Path

import h5py
import numpy as np
import pytest

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.forecasting.terra.data import (
    TerraRainfall,
    calendar_features,
    grid_coordinates,
    prepare_windows,
    read_adjacency,
    read_grid_csv,
    read_rainfall_h5,
)


@pytest.fixture
def real(real_data: Path) -> Path:
    """The released Terra sample files (CI fails, rather than skips, when they are absent)."""
    return real_data / "terra"


def test_real_rainfall_table(real: Path) -> None:
    t = read_rainfall_h5(real / "Rainfall_UK.h5")
    assert t.values.shape == (9404, 100)
    assert str(t.dates[0]) == "1996-10-01" and str(t.dates[-1]) == "2022-06-30"
    assert np.all(np.diff(t.dates).astype(int) == 1)  # daily, no gaps
    assert np.array_equal(t.nodes, np.arange(100))
    assert not np.isnan(t.values).any()
    assert t.values.min() == 0.0 and 53.0 < t.values.max() < 53.5


def test_real_adjacency_is_a_plain_array_and_only_array_globals(real: Path) -> None:
    raw = (real / "adj_Rainfall_UK.pkl").read_bytes()
    globals_seen = set()
    strings: list[str] = []  # the last pushed strings (STACK_GLOBAL takes the last two)
    memo: dict[int, str] = {}
    last: object = None
    for op, arg, _ in pickletools.genops(raw):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE"):
            strings.append(str(arg))
        if op.name == "MEMOIZE" and isinstance(last, str):
            memo[len(memo)] = last
        elif op.name == "MEMOIZE":
            memo[len(memo)] = ""
        if op.name in ("BINGET", "LONG_BINGET") and memo.get(int(arg)):  # type: ignore[arg-type]
            strings.append(memo[int(arg)])  # type: ignore[arg-type]
        last = str(arg) if op.name in ("SHORT_BINUNICODE", "BINUNICODE") else None
        if op.name == "STACK_GLOBAL":
            globals_seen.add((strings[-2], strings[-1]))
    assert globals_seen == {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }
    adj = read_adjacency(real / "adj_Rainfall_UK.pkl")
    assert adj.shape == (100, 100)
    assert set(np.unique(adj)) <= {0.0, 1.0}
    assert adj.sum() > 100  # more than the diagonal


def test_adjacency_reader_refuses_other_globals(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("executed",))

    bad = tmp_path / "adj_evil.pkl"
    bad.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(InvalidInputError, match=r"builtins\.print"):
        read_adjacency(bad)
    dct = tmp_path / "adj_dict.pkl"
    dct.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(InvalidInputError, match="square"):
        read_adjacency(dct)
    ok = tmp_path / "adj_ok.pkl"
    ok.write_bytes(pickle.dumps(np.eye(3)))
    assert np.array_equal(read_adjacency(ok), np.eye(3))


def test_missing_files_raise_data_not_found(tmp_path: Path) -> None:
    for fn in (read_rainfall_h5, read_adjacency, read_grid_csv):
        with pytest.raises(DataNotFoundError, match="NeurIPS24-Terra"):
            fn(tmp_path / "nope")


def test_h5_without_key_t_or_not_a_frame(tmp_path: Path) -> None:
    p = tmp_path / "x.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("u", data=np.zeros(3))
    with pytest.raises(InvalidInputError, match="no key 't'"):
        read_rainfall_h5(p)
    with h5py.File(p, "w") as f:
        f.create_group("t").attrs["pandas_type"] = b"series"
    with pytest.raises(InvalidInputError, match="frame"):
        read_rainfall_h5(p)


def test_grid_formula_hand_values() -> None:
    lat, lon = grid_coordinates()
    # published: lat = k//360 - 89 + 0.5, lon = k%360 - 180 + 0.5
    assert (lat[0], lon[0]) == (-88.5, -179.5)
    assert (lat[359], lon[359]) == (-88.5, 179.5)
    assert (lat[360], lon[360]) == (-87.5, -179.5)
    assert (lat[361 * 100], lon[361 * 100]) == (100 - 89 + 0.5, 100 - 180 + 0.5)
    # the published offset runs to 90.5 on the last row (kept as published)
    assert lat[-1] == 90.5


@pytest.mark.parametrize("var", ["temperature", "precipitation", "wind"])
def test_real_grid_csvs(var: str, real: Path) -> None:
    lat, lon, v = read_grid_csv(real / f"{var}_avg_day.csv")
    assert v.shape == (64800,) and np.isfinite(v).all()
    assert float(v[0]) == float((real / f"{var}_avg_day.csv").read_text().split()[0])
    if var == "temperature":
        # tropics warmer than the polar rows in the published row order
        tropics = v[np.abs(lat) < 20].mean()
        assert tropics > v[lat < -60].mean() + 20 and tropics > v[lat > 70].mean() + 20


def test_grid_csv_bad_length(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("1\n2\n3\n")
    with pytest.raises(InvalidInputError, match="64800"):
        read_grid_csv(p)


def test_calendar_features_hand_values() -> None:
    d = np.array(["1996-10-01", "1996-12-31", "2000-02-29"], dtype="datetime64[D]")
    f = calendar_features(d)
    np.testing.assert_allclose(f, [[0, 9 / 12], [30 / 31, 11 / 12], [28 / 31, 1 / 12]], rtol=1e-6)


def test_windows_hand_split_and_zscore() -> None:
    t = 70
    values = np.arange(t, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    dates = np.datetime64("2000-01-01") + np.arange(t)
    w = prepare_windows(values, dates)
    # 70 - 30 - 30 + 1 = 11 samples: round(6.6)=7 train, round(2.2)=2 val, 2 test
    assert [len(w.starts[s]) for s in ("train", "val", "test")] == [7, 2, 2]
    assert w.starts["val"][0] == 7 and w.starts["test"][-1] == 10
    # z-score from values[: 6 + 30] = 0..35
    assert w.mean == pytest.approx(17.5) and w.std == pytest.approx(np.arange(36).std())
    x, y = w.sample("test", 1)
    assert x.shape == (30, 2, 3) and y.shape == (30, 2)
    assert y[0, 0] == 40.0 and y[-1, 0] == 69.0  # horizon 1 and 30 of the last window
    assert x[-1, 0, 0] == pytest.approx((39 - 17.5) / w.std)


def test_dataset_on_real_uk(real: Path) -> None:
    ds = TerraRainfall(real, "UK", "test")
    n = 9404 - 59
    assert len(ds) == n - round(0.6 * n) - round(0.2 * n)
    item = ds[0]
    assert item["x"].shape == (30, 100, 3) and item["y"].shape == (30, 100)
    t0 = int(ds.windows.starts["test"][0])
    assert np.array_equal(item["y"].numpy(), ds.table.values[t0 + 30 : t0 + 60])
    fig = ds.plot(3)
    assert fig.axes
    with pytest.raises(InvalidInputError, match="split"):
        TerraRainfall(real, "UK", "valid")
