"""OAM-TCD Hugging Face parquet shards: columns as published, same samples as the COCO export.

No real shard is available offline (Hugging Face cannot be reached from here), so the
reader is tested on our own fixture writer only: shards written from our synthetic COCO
export must yield, tile for tile, exactly the samples of the COCO-export reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa  # a declared dependency: these tests always run
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.segmentation.oamtcd.data import OAMTCD, write_fixture
from geoneurips.segmentation.oamtcd.parquet import (  # noqa: E402
    COLUMNS,
    OAMTCDParquet,
    panoptic_ids,
    write_parquet_fixture,
)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("tcdpq")
    export = write_fixture(base / "export", n_train=4, n_test=2, size=32, folds=2, seed=3)
    write_parquet_fixture(export, base / "hf", folds=2)
    return export, base / "hf"


def test_shard_has_the_published_columns_and_types(shards: tuple[Path, Path]) -> None:
    _, hf = shards
    t = pq.read_table(hf / "data" / "train-00000-of-00001.parquet")
    assert tuple(t.column_names) == COLUMNS
    img_t = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    s = t.schema
    assert s.field("image").type == img_t and s.field("annotation").type == img_t
    assert s.field("coco_annotations").type == pa.string()
    assert s.field("validation_fold").type == pa.int64()
    assert s.field("bounds").type == pa.list_(pa.float64())
    assert t.column("crs").to_pylist() == ["EPSG:3395"] * 4
    left, bottom, right, top = t.column("bounds")[0].as_py()
    assert right - left == pytest.approx(3.2) and top - bottom == pytest.approx(3.2)
    assert sorted(t.column("validation_fold").to_pylist()) == [0, 0, 1, 1]


@pytest.mark.parametrize(("split", "fold"), [("train", None), ("test", None), ("val", 0),
                                             ("train", 1)])
def test_parquet_reader_yields_the_coco_export_samples(
        shards: tuple[Path, Path], split: str, fold: int | None) -> None:
    export, hf = shards
    coco = OAMTCD(export, split, fold=fold, instances=True)
    pq_ds = OAMTCDParquet(hf, split, fold=fold, instances=True)
    assert len(pq_ds) == len(coco) > 0
    for i in range(len(coco)):
        a, b = coco[i], pq_ds[i]
        assert a.keys() == b.keys()
        for k in a:
            assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k
        assert {1, 2} >= set(np.unique(b["mask"].numpy())) - {0}
        # the published binary mask is annotation != 0 and equals the export's PNG
        png = np.array(Image.open(coco.mask_path(i))) > 0
        assert (pq_ds.binary_mask(i) == png).all()
        assert (png == (b["mask"].numpy() > 0)).all()


def test_panoptic_ids_rgb2id() -> None:
    rgb = np.array([[[0, 0, 0], [1, 2, 3]]], dtype=np.uint8)
    import io
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    assert panoptic_ids(buf.getvalue()).tolist() == [[0, 1 + 2 * 256 + 3 * 65536]]


def test_parquet_errors(tmp_path: Path, shards: tuple[Path, Path]) -> None:
    with pytest.raises(DataNotFoundError, match="parquet"):
        OAMTCDParquet(tmp_path, "train")
    _, hf = shards
    with pytest.raises(InvalidInputError, match="split"):
        OAMTCDParquet(hf, "val")
    t = pq.read_table(hf / "data" / "test-00000-of-00001.parquet").drop(["crs"])
    bad = tmp_path / "test-00000-of-00001.parquet"
    pq.write_table(t, bad)
    with pytest.raises(InvalidInputError, match="crs"):
        OAMTCDParquet(bad, "test")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(InvalidInputError, match="cannot read"):
        OAMTCDParquet(tmp_path / "junk.parquet", "test")
