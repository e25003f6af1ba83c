"""OAM-TCD Hugging Face parquet shards: columns as published, same samples as the COCO export.

No real shard is available offline (Hugging Face cannot be reached from here), so the
reader is tested on our own fixture writer only: shards written from our synthetic COCO
export must yield, tile for tile, exactly the samples of the COCO-export reader. The
writer follows the features of the dataset card (``restor/tcd`` README.md,
``dataset_info.features``, revision d97d4da: int16 height/width, int8 biome and
validation_fold, ``Sequence(float32, length=4)`` bounds, float32 lat/lon, string segments,
meta and coco_annotations), checked in ``test_shard_has_the_dataset_card_columns_and_types``.
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
    CARD_COLUMNS,
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


def test_shard_has_the_dataset_card_columns_and_types(shards: tuple[Path, Path]) -> None:
    export, hf = shards
    t = pq.read_table(hf / "data" / "train-00000-of-00001.parquet")
    assert tuple(t.column_names) == CARD_COLUMNS and set(COLUMNS) <= set(CARD_COLUMNS)
    assert len(CARD_COLUMNS) == 17  # the card lists 17 features
    img_t = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    s = t.schema
    assert s.field("image").type == img_t and s.field("annotation").type == img_t
    assert s.field("image_id").type == pa.int64()
    assert s.field("height").type == pa.int16() and s.field("width").type == pa.int16()
    assert s.field("biome").type == pa.int8() and s.field("validation_fold").type == pa.int8()
    assert s.field("bounds").type == pa.list_(pa.float32(), 4)
    assert s.field("lat").type == pa.float32() and s.field("lon").type == pa.float32()
    for c in ("oam_id", "license", "crs", "biome_name", "segments", "meta",
              "coco_annotations"):
        assert s.field(c).type == pa.string(), c
    assert t.column("crs").to_pylist() == ["EPSG:3395"] * 4
    # float32 bounds, as published: at y ~ 6.2e6 m float32 steps are 0.5 m, so the tile's
    # 3.2 m side can read as 3.0; they equal the GeoTIFF's bounds rounded to float32
    import rasterio

    with rasterio.open(OAMTCD(export, "train").records[0][0]) as src:
        b = src.bounds
    got = np.array(t.column("bounds")[0].as_py(), np.float32)
    assert (got == np.array([b.left, b.bottom, b.right, b.top], np.float32)).all()
    assert sorted(t.column("validation_fold").to_pylist()) == [0, 0, 1, 1]
    # the fixture tiles lie near 9.07 E / 48.7 N (EPSG:3395 x ~ 1.01e6 m)
    assert 8.0 < t.column("lon")[0].as_py() < 10.0 and 40 < t.column("lat")[0].as_py() < 60


def test_reader_keeps_the_card_metadata_and_needs_no_optional_column(
        shards: tuple[Path, Path], tmp_path: Path) -> None:
    _, hf = shards
    ds = OAMTCDParquet(hf, "train")
    assert ds.meta[0]["biome_name"] == "synthetic" and isinstance(ds.meta[0]["lat"], float)
    assert "image" not in ds.meta[0] and "annotation" not in ds.meta[0]
    t = pq.read_table(hf / "data" / "train-00000-of-00001.parquet")
    bare = t.drop(["biome", "biome_name", "lat", "lon", "segments", "meta"])
    pq.write_table(bare, tmp_path / "train-00000-of-00001.parquet")
    ds2 = OAMTCDParquet(tmp_path, "train")
    assert "biome" not in ds2.meta[0]
    assert torch.equal(ds2[1]["mask"], ds[1]["mask"])


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
