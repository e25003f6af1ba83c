"""AnyChange datasets: LEVIR-CD and SECOND published layouts, fixtures, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geoneurips.change.anychange.data import (
    LEVIRCD,
    SECOND,
    SECOND_COLORS,
    make_change_pair,
    write_levircd_fixture,
    write_second_fixture,
)
from geoneurips.errors import DataNotFoundError, InvalidInputError


def test_levircd_fixture_layout_and_roundtrip(tmp_path: Path) -> None:
    root = write_levircd_fixture(tmp_path, (2, 1, 1), size=64, seed=3)
    for split, n in (("train", 2), ("val", 1), ("test", 1)):
        for d in ("A", "B", "label"):
            assert len(list((root / split / d).glob("*.png"))) == n
    lab = np.asarray(Image.open(root / "train" / "label" / "train_1.png"))
    assert lab.ndim == 2 and set(np.unique(lab)) <= {0, 255}
    ds = LEVIRCD(root, split="train")
    s = ds[0]
    assert s["image1"].shape == (3, 64, 64) and s["image2"].shape == (3, 64, 64)
    assert np.array_equal(s["mask"].numpy(), (lab == 255).astype(np.int64))
    a = np.asarray(Image.open(root / "train" / "A" / "train_1.png"))
    assert np.array_equal(s["image1"].numpy().transpose(1, 2, 0), a)
    fig = ds.plot({**s, "prediction": s["mask"]}, suptitle="x")
    assert len(fig.axes) == 4


def test_second_fixture_layout_and_labels(tmp_path: Path) -> None:
    root = write_second_fixture(tmp_path, (1, 2), size=64, seed=1)
    ds = SECOND(root, split="test")
    assert len(ds) == 2
    s = ds[1]
    lab1 = np.asarray(Image.open(root / "test" / "label1" / ds.names[1]).convert("RGB"))
    white = np.all(lab1 == 255, axis=-1)
    assert np.array_equal(s["mask"].numpy() == 0, white)
    assert s["semantic1"].max() <= 6 and s["semantic2"].min() >= 0
    changed = s["mask"].numpy() == 1
    assert changed.any()
    assert (s["semantic1"].numpy()[changed] != s["semantic2"].numpy()[changed]).all()
    k = int(s["semantic1"].numpy()[changed][0])
    assert tuple(lab1[changed][0]) == SECOND_COLORS[k]


def test_missing_data_says_where(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="justchenhao.github.io"):
        LEVIRCD(tmp_path / "nothing", split="test")
    with pytest.raises(DataNotFoundError, match="im1"):
        SECOND(tmp_path / "nothing")
    root = write_levircd_fixture(tmp_path / "l", (0, 0, 1), size=32)
    (root / "test" / "label" / "test_1.png").unlink()
    with pytest.raises(DataNotFoundError, match="label/test_1.png"):
        LEVIRCD(root, split="test")


def test_bad_label_values_and_truncated_file(tmp_path: Path) -> None:
    root = write_levircd_fixture(tmp_path, (0, 0, 1), size=32)
    Image.fromarray(np.full((32, 32), 7, np.uint8)).save(root / "test" / "label" / "test_1.png")
    with pytest.raises(InvalidInputError, match="expected 0 and 255"):
        LEVIRCD(root, split="test")[0]
    (root / "test" / "A" / "test_1.png").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(InvalidInputError, match="cannot read"):
        LEVIRCD(root, split="test")[0]


def test_make_change_pair_plants_changes() -> None:
    a, b, ch, inst = make_change_pair(96, n_changes=3, seed=5)
    assert a.shape == b.shape == (96, 96, 3) and a.dtype == np.uint8
    assert len(inst) >= 1 and np.array_equal(np.any(inst, axis=0), ch.astype(bool))
