"""The shared DOTA label reader (``geoneurips.formats.dota``), used by PECL, debLoRA and VRSBench.

Independent files: TorchGeo's own DOTA fixture (``torchgeo_fixtures/dota``), read by
TorchGeo's ``DOTA`` dataset and by ours; the polygons and class names must agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.formats.dota import (
    DOTA_CLASSES,
    DotaLabels,
    DotaObject,
    format_dota_txt,
    parse_dota_txt,
    read_dota_txt,
    write_dota_txt,
)


def test_round_trip_and_headers(tmp_path: Path) -> None:
    labels = DotaLabels(
        [DotaObject((1, 2, 3, 2, 3, 4, 1, 4), "plane", 1), DotaObject((0,) * 8, "ship")],
        imagesource="GoogleEarth", gsd=0.15,
    )
    path = tmp_path / "P9.txt"
    write_dota_txt(path, labels)
    back = read_dota_txt(path)
    assert back == labels
    assert back.objects[0].hbb == (1.0, 2.0, 3.0, 4.0)
    # "gsd:None" (devkit files) and a missing difficult flag (read as 0)
    lab = parse_dota_txt("imagesource:GF2\ngsd:None\n5 5 9 5 9 9 5 9 ship\n")
    assert lab.gsd is None and lab.objects[0].difficult == 0
    assert format_dota_txt(DotaLabels()) == "\n"


def test_bad_lines_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"f\.txt:2: expected .*8 coordinates"):
        parse_dota_txt("1 2 3 2 3 4 1 4 plane\n1 2 3 plane\n", where="f.txt")
    with pytest.raises(InvalidInputError, match="non-numeric"):
        parse_dota_txt("1 2 3 4 5 6 7 x plane 0")
    with pytest.raises(DataNotFoundError, match="DOTA"):
        read_dota_txt(tmp_path / "missing.txt")


def test_torchgeo_reads_the_same_polygons(real_data: Path) -> None:
    from torchgeo.datasets import DOTA

    root = real_data / "torchgeo_fixtures" / "dota"
    for version in ("1.0", "2.0"):
        ds = DOTA(str(root), split="train", version=version, bbox_orientation="oriented")
        for i in range(len(ds)):
            sample = ds[i]
            stem = Path(ds.sample_df.iloc[i]["image_path"]).stem
            ours = read_dota_txt(root / "train" / "annotations" / f"version{version}" /
                                 f"{stem}.txt")
            kept = [o for o in ours.objects if o.difficult != 2]
            np.testing.assert_allclose(
                np.array([o.poly for o in kept]).reshape(-1, 8),
                sample["bbox"].numpy().reshape(-1, 8), atol=1e-4)
            assert [DOTA_CLASSES.index(o.label) for o in kept] == sample["labels"].tolist()
            assert DOTA_CLASSES == tuple(ds.classes)
