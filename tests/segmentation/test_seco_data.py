"""SeCo data: LoveDA published layout (fixture, torchgeo cross-check), synthetic noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.segmentation.seco.data import (
    IGNORE_INDEX,
    LoveDA,
    make_noisy_pseudo_label,
    make_scene,
    write_fixture,
)


@pytest.fixture(scope="module")
def loveda(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fixture(tmp_path_factory.mktemp("loveda"), size=48, per_folder=2, seed=1)


def test_fixture_layout_and_reader(loveda: Path) -> None:
    for split in ("Train", "Val"):
        for dom in ("Urban", "Rural"):
            imgs = sorted(p.name for p in (loveda / split / dom / "images_png").glob("*.png"))
            masks = sorted(p.name for p in (loveda / split / dom / "masks_png").glob("*.png"))
            assert len(imgs) == 2 and imgs == masks
    assert not (loveda / "Test" / "Urban" / "masks_png").exists()
    raw_path = next((loveda / "Train" / "Urban" / "masks_png").glob("*.png"))
    raw = np.asarray(Image.open(raw_path))
    assert raw.dtype == np.uint8 and raw.max() <= 7 and (raw[-2:] == 0).all()
    ds = LoveDA(loveda, "train", domains=("urban",))
    assert len(ds) == 2 and len(LoveDA(loveda, "val")) == 4 and len(LoveDA(loveda, "test")) == 4
    s = ds[[p[0].name for p in ds.files].index(raw_path.name)]
    assert s["image"].shape == (3, 48, 48) and s["image"].dtype == torch.float32
    m = s["mask"].numpy()
    assert (m[raw == 0] == IGNORE_INDEX).all() and (m[raw > 0] == raw[raw > 0] - 1).all()
    assert "mask" not in LoveDA(loveda, "test")[0]
    assert LoveDA(loveda, "train", domains="rural")[0]["domain"].item() == 1
    fig = ds.plot({**s, "prediction": s["mask"]})
    assert len(fig.axes) == 3


def test_reader_agrees_with_torchgeo(loveda: Path) -> None:
    from torchgeo.datasets import LoveDA as TGLoveDA

    ours = LoveDA(loveda, "val", domains=("rural",))
    theirs = TGLoveDA(str(loveda), split="val", scene=["rural"])
    assert len(ours) == len(theirs)
    by_name = {Path(f["image"]).name: i for i, f in enumerate(theirs.files)}
    for i, (img, _, _) in enumerate(ours.files):
        a, b = ours[i], theirs[by_name[img.name]]
        assert torch.equal(a["image"], b["image"])
        tm = b["mask"].numpy()
        assert np.array_equal(a["mask"].numpy(), np.where(tm == 0, IGNORE_INDEX, tm - 1))


def test_missing_and_corrupt(tmp_path: Path, loveda: Path) -> None:
    with pytest.raises(DataNotFoundError, match="zenodo"):
        LoveDA(tmp_path, "train")
    with pytest.raises(InvalidInputError):
        LoveDA(loveda, "bogus")
    bad = tmp_path / "Val" / "Urban"
    (bad / "images_png").mkdir(parents=True)
    (bad / "masks_png").mkdir()
    (bad / "images_png" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (bad / "masks_png" / "1.png").write_bytes(b"")
    with pytest.raises(InvalidInputError, match="corrupt or truncated"):
        LoveDA(tmp_path, "val", domains=("urban",))[0]
    (bad / "masks_png" / "1.png").unlink()
    with pytest.raises(DataNotFoundError, match="masks_png"):
        LoveDA(tmp_path, "val", domains=("urban",))


def test_noisy_pseudo_labels_are_noisy_but_close() -> None:
    img, truth = make_scene(64, seed=0)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    assert set(np.unique(truth)) <= set(range(7)) and (truth == 1).any()
    ps = make_noisy_pseudo_label(truth, seed=0)
    valid = ps != IGNORE_INDEX
    agree = (ps[valid] == truth[valid]).mean()
    assert 0.5 < agree < 0.97 and (~valid).any()
    assert np.array_equal(make_noisy_pseudo_label(truth, seed=0), ps)


def test_reader_reads_torchgeo_fixture(real_data: Path) -> None:
    """Files we did not write: TorchGeo's own LoveDA fixture (``Train/``, ``Val/``,
    ``Test/`` with ``Urban``/``Rural`` ``images_png``/``masks_png``), read by our reader and
    by TorchGeo's, sample by sample (mask 0 = no-data -> our ignore index, classes shifted)."""
    from torchgeo.datasets import LoveDA as TGLoveDA

    root = real_data / "torchgeo_fixtures" / "loveda"
    for split in ("train", "val"):
        ours = LoveDA(root, split)
        theirs = TGLoveDA(str(root), split=split)
        assert len(ours) == len(theirs) > 0
        by_name = {(Path(f["image"]).parent.parent.name, Path(f["image"]).name): i
                   for i, f in enumerate(theirs.files)}
        for i, (img, _, _) in enumerate(ours.files):
            a, b = ours[i], theirs[by_name[(img.parent.parent.name, img.name)]]
            assert torch.equal(a["image"], b["image"])
            tm = b["mask"].numpy()
            assert np.array_equal(a["mask"].numpy(), np.where(tm == 0, IGNORE_INDEX, tm - 1))
    assert "mask" not in LoveDA(root, "test")[0]
