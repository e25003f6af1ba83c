"""GOMAA-Geo embedding files: restricted loading of the published pickled-dict ``.npy``.

No published embedding file is available offline (they come from the authors' Sat2Cap
features); the independent writer here is numpy itself: ``np.save`` of a dict, exactly how the
public code writes them, including a protocol-2 pickle and a file written by
``np.save(..., allow_pickle=True)`` of an object array nested in the dict.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.location.gomaageo.data import (
    GomaaGeoGrids,
    UnsafePickleError,
    convert_embedding_dict,
    load_embedding_dict,
    load_npy_restricted,
    write_fixture,
)


class _Evil:
    """Pickles to a call of ``open(marker, "w")``: creates a file if ever executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_benign_dict_roundtrip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    d = {f"img_{i}": rng.normal(size=(25, 16)).astype(np.float32) for i in range(3)}
    np.save(tmp_path / "e.npy", d, allow_pickle=True)  # the public code's writer
    got = load_embedding_dict(tmp_path / "e.npy")
    assert sorted(got) == ["img_0", "img_1", "img_2"]
    for k in d:
        np.testing.assert_array_equal(got[k], d[k])
    # and identical to what np.load(allow_pickle=True)[()] gives on this benign file
    ref = np.load(tmp_path / "e.npy", allow_pickle=True)[()]
    np.testing.assert_array_equal(got["img_2"], ref["img_2"])


def test_protocol2_float64_and_plain_arrays(tmp_path: Path) -> None:
    d = {"img_0": np.arange(25 * 4, dtype=np.float64).reshape(25, 4)}
    p = tmp_path / "p2.npy"
    with open(p, "wb") as f:
        arr = np.array(d, dtype=object)
        np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(arr))
        pickle.dump(arr, f, protocol=2)  # older numpy writers: _codecs.encode for bytes
    np.testing.assert_array_equal(load_embedding_dict(p)["img_0"], d["img_0"])
    np.save(tmp_path / "plain.npy", np.ones((2, 3)))
    assert load_npy_restricted(tmp_path / "plain.npy").shape == (2, 3)


@pytest.mark.parametrize("nested", [False, True])
def test_malicious_payload_refused_nothing_executed(tmp_path: Path, nested: bool) -> None:
    marker = tmp_path / "pwned"
    payload: object = {"img_0": _Evil(marker)} if nested else _Evil(marker)
    path = tmp_path / "evil.npy"
    np.save(path, np.array(payload, dtype=object), allow_pickle=True)
    assert not marker.exists()
    with pytest.raises(UnsafePickleError, match="refusing to unpickle global"):
        load_embedding_dict(path)
    assert not marker.exists()
    # the payload is real: numpy's own pickle loading executes it
    np.load(path, allow_pickle=True)
    assert marker.exists()


def test_other_globals_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.array({"img_0": Path("x")}, dtype=object), allow_pickle=True)
    with pytest.raises(UnsafePickleError):
        load_embedding_dict(path)


def test_convert_to_npz_and_dataset(tmp_path: Path) -> None:
    grids = np.random.default_rng(1).normal(size=(4, 25, 8)).astype(np.float32)
    write_fixture(tmp_path, {"train": grids, "val": grids[:2]})
    ds = GomaaGeoGrids(tmp_path, "train")
    assert len(ds) == 4
    np.testing.assert_array_equal(ds[3]["patches"].numpy(), grids[3])
    out = convert_embedding_dict(tmp_path / "papr_val_sat_embeds_grid_5.npy",
                                 tmp_path / "papr_val_sat_embeds_grid_5.npz")
    with np.load(out, allow_pickle=False) as z:
        assert z["names"].tolist() == ["img_0", "img_1"]
    np.testing.assert_array_equal(GomaaGeoGrids(tmp_path, "val").grids, grids[:2])
    import matplotlib.pyplot as plt

    plt.close(ds.plot(ds[0], suptitle="x"))


def test_missing_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="papr_train_sat_embeds_grid_5.npy"):
        GomaaGeoGrids(tmp_path, "train")
    with pytest.raises(InvalidInputError):
        GomaaGeoGrids(tmp_path, "test")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(InvalidInputError):
        load_npy_restricted(tmp_path / "bad.npy")
    np.save(tmp_path / "papr_train_sat_embeds_grid_5.npy", {"img_0": np.zeros((16, 4))},
            allow_pickle=True)
    with pytest.raises(InvalidInputError, match="25"):
        GomaaGeoGrids(tmp_path, "train")
