"""The shared DIOR annotation reader (``geoneurips.formats.dior``), used by VRSBench.

Independent files: TorchGeo's own DIOR fixture (``torchgeo_fixtures/dior``), read by
TorchGeo's ``DIOR`` dataset and by ours; boxes and classes must agree. TorchGeo's reader
also reads a file our writer wrote.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.formats.dior import (
    DIOR_CLASSES,
    DiorLabels,
    DiorObject,
    dior_class,
    parse_dior_xml,
    read_dior_xml,
    write_dior_xml,
)


def _torchgeo_dior(root: Path, split: str = "train") -> object:
    from torchgeo.datasets import DIOR

    return DIOR(root, split=split)  # type: ignore[arg-type]


def test_torchgeo_reads_the_same_boxes(real_data: Path) -> None:
    root = real_data / "torchgeo_fixtures" / "dior"
    assert DIOR_CLASSES == tuple(_torchgeo_dior(root).classes)  # type: ignore[attr-defined]
    seen = 0
    for split in ("train", "val"):
        ds = _torchgeo_dior(root, split)
        df = ds.sample_df  # type: ignore[attr-defined]
        for i in range(len(ds)):  # type: ignore[arg-type]
            sample = ds[i]  # type: ignore[index]
            ours = read_dior_xml(root / df.iloc[i]["label_path"])
            assert ours.filename == Path(df.iloc[i]["image_path"]).name
            assert (ours.width, ours.height) == tuple(sample["image"].shape[-1:-3:-1])
            np.testing.assert_array_equal(
                np.array([o.box for o in ours.objects]).reshape(-1, 4),
                sample["bbox_xyxy"].numpy().reshape(-1, 4))
            assert [DIOR_CLASSES.index(o.label) for o in ours.objects] == \
                sample["label"].tolist()
            seen += len(ours.objects)
    assert seen > 10


def test_torchgeo_reads_what_we_write(real_data: Path, tmp_path: Path) -> None:
    """Our writer's file, dropped into a copy of TorchGeo's layout, reads the same there."""
    root = tmp_path / "dior"
    shutil.copytree(real_data / "torchgeo_fixtures" / "dior", root)
    labels = DiorLabels("000000.jpg", 32, 32, [
        DiorObject("expresswayservicearea", (1, 2, 30, 31)),
        DiorObject("storagetank", (4, 4, 9, 12), difficult=1),
    ])
    write_dior_xml(root / "Annotations" / "trainval" / "000000.xml", labels)
    sample = _torchgeo_dior(root)[0]  # type: ignore[index]
    np.testing.assert_array_equal(sample["bbox_xyxy"].numpy(), [[1, 2, 30, 31], [4, 4, 9, 12]])
    assert sample["label"].tolist() == [7, 15]
    assert read_dior_xml(root / "Annotations" / "trainval" / "000000.xml") == labels


def test_release_spellings_and_corners() -> None:
    """The release writes ``Expressway-Service-area``; any spelling maps to one class."""
    assert dior_class("Expressway-Service-area") == "expresswayservicearea"
    assert dior_class("Expressway-toll-station") == "expresswaytollstation"
    assert dior_class("groundtrackfield") == "groundtrackfield"
    xml = ("<annotation><filename>00001.jpg</filename><size><width>800</width>"
           "<height>800</height></size><object><name>Expressway-Service-area</name>"
           "<difficult>0</difficult><bndbox><xmin>10</xmin><ymin>20</ymin><xmax>110</xmax>"
           "<ymax>60</ymax></bndbox></object></annotation>")
    lab = parse_dior_xml(xml)
    assert (lab.width, lab.height) == (800, 800)
    assert lab.objects[0].label == "expresswayservicearea"
    assert lab.objects[0].corners == (10, 20, 110, 20, 110, 60, 10, 60)


def test_bad_files_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="DIOR"):
        read_dior_xml(tmp_path / "missing.xml")
    with pytest.raises(InvalidInputError, match="not well-formed"):
        parse_dior_xml("<annotation><object>", where="f.xml")
    with pytest.raises(InvalidInputError, match="DOCTYPE"):
        parse_dior_xml('<!DOCTYPE a [<!ENTITY x "y">]><annotation/>')
    with pytest.raises(InvalidInputError, match="expected <annotation>"):
        parse_dior_xml("<root/>")
    obj = "<annotation><object><name>{}</name>{}</object></annotation>"
    box = "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>{}</xmax><ymax>5</ymax></bndbox>"
    with pytest.raises(InvalidInputError, match="'plane' is not a DIOR class"):
        parse_dior_xml(obj.format("plane", box.format(5)))
    with pytest.raises(InvalidInputError, match="object 0: no <bndbox>.*robndbox"):
        parse_dior_xml(obj.format("ship", "<robndbox/>"))
    with pytest.raises(InvalidInputError, match="<xmax> is not a number"):
        parse_dior_xml(obj.format("ship", box.format("x")))
    with pytest.raises(InvalidInputError, match="inverted box"):
        parse_dior_xml(obj.format("ship", box.format(0)))
    with pytest.raises(InvalidInputError, match="has no <name>"):
        parse_dior_xml(obj.format("", box.format(5)))
