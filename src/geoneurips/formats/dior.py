"""DIOR annotation files: Pascal VOC XML with horizontal boxes (Li et al., ISPRS 2020).

DIOR stores one XML file per 800 x 800 image (``Annotations/<image>.xml`` in the release,
``Annotations/trainval/<image>.xml`` in TorchGeo's repackaging)::

    <annotation>
      <filename>00001.jpg</filename>
      <size><width>800</width><height>800</height><depth>3</depth></size>
      <object>
        <name>airplane</name>
        <bndbox><xmin>..</xmin><ymin>..</ymin><xmax>..</xmax><ymax>..</ymax></bndbox>
      </object>
      ...
    </annotation>

Class names are spelled differently by different copies: the release writes
``Expressway-Service-area`` and ``Expressway-toll-station``, TorchGeo (0.7+)
``expresswayservicearea``; every spelling is reduced to its lower-case letters and matched
against :data:`DIOR_CLASSES` (TorchGeo's order and spelling). VRSBench's images are 512-px
patches of DOTA-v2 and DIOR, and its 26 object classes are the union of both class lists
(``geoneurips.vision_language.vrsbench.data.objects_from_dior`` maps them).

Only the horizontal boxes (``bndbox``) are read: the oriented DIOR-R annotations are a
separate release whose XML schema we have no file of; an object without a ``bndbox`` is an
error that says so. Files with a document type declaration are refused (no entity
expansion of untrusted XML).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.io import atomic_path

__all__ = [
    "DIOR_CLASSES",
    "DIOR_URL",
    "DiorLabels",
    "DiorObject",
    "dior_class",
    "format_dior_xml",
    "parse_dior_xml",
    "read_dior_xml",
    "write_dior_xml",
]

DIOR_URL = "https://gcheng-nwpu.github.io/#Datasets (DIOR; TorchGeo: hf.co/datasets/torchgeo/dior)"

#: DIOR's 20 classes in TorchGeo's order and spelling (lower-case letters only).
DIOR_CLASSES: tuple[str, ...] = (
    "airplane", "airport", "baseballfield", "basketballcourt", "bridge", "chimney", "dam",
    "expresswayservicearea", "expresswaytollstation", "golffield", "groundtrackfield",
    "harbor", "overpass", "ship", "stadium", "storagetank", "tenniscourt", "trainstation",
    "vehicle", "windmill",
)


def dior_class(name: str, *, where: str = "<xml>") -> str:
    """The canonical DIOR class of a spelling (``Expressway-Service-area`` ->
    ``expresswayservicearea``).

    Raises:
        InvalidInputError: the name is not one of the 20 DIOR classes.
    """
    key = re.sub(r"[^a-z]", "", name.lower())
    if key not in DIOR_CLASSES:
        raise InvalidInputError(
            f"{where}: {name!r} is not a DIOR class (expected one of {', '.join(DIOR_CLASSES)})"
        )
    return key


@dataclass(frozen=True)
class DiorObject:
    """One object: canonical class name, horizontal box ``(xmin, ymin, xmax, ymax)`` in
    pixels, and the VOC ``difficult`` flag (0 when absent)."""

    label: str
    box: tuple[float, float, float, float]
    difficult: int = 0

    @property
    def corners(self) -> tuple[float, ...]:
        """The box as 4 clockwise corners from the top left, DOTA's polygon order."""
        x1, y1, x2, y2 = self.box
        return (x1, y1, x2, y1, x2, y2, x1, y2)


@dataclass
class DiorLabels:
    """A parsed annotation file: image file name, size (0 when absent) and objects."""

    filename: str = ""
    width: int = 0
    height: int = 0
    objects: list[DiorObject] = field(default_factory=list)


def _text(node: ET.Element, tag: str, where: str) -> str:
    child = node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise InvalidInputError(f"{where}: <{node.tag}> has no <{tag}>")
    return child.text.strip()


def _number(node: ET.Element, tag: str, where: str) -> float:
    value = _text(node, tag, where)
    try:
        return float(value)
    except ValueError:
        raise InvalidInputError(f"{where}: <{tag}> is not a number: {value!r}") from None


def parse_dior_xml(text: str, *, where: str = "<xml>") -> DiorLabels:
    """Parse the content of a DIOR (Pascal VOC) annotation file.

    Raises:
        InvalidInputError: not well-formed XML, a DOCTYPE/ENTITY declaration, a root other
            than ``<annotation>``, an object without ``name`` or ``bndbox``, a non-numeric or
            inverted box, an unknown class (the message names ``where`` and the object).
    """
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise InvalidInputError(f"{where}: DOCTYPE/ENTITY declarations are refused")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InvalidInputError(f"{where}: not well-formed XML ({exc})") from None
    if root.tag != "annotation":
        raise InvalidInputError(f"{where}: root element is <{root.tag}>, expected <annotation>")
    out = DiorLabels(filename=(root.findtext("filename") or "").strip())
    size = root.find("size")
    if size is not None:
        out.width = int(_number(size, "width", f"{where}: <size>"))
        out.height = int(_number(size, "height", f"{where}: <size>"))
    for k, obj in enumerate(root.findall("object")):
        at = f"{where}: object {k}"
        label = dior_class(_text(obj, "name", at), where=at)
        bnd = obj.find("bndbox")
        if bnd is None:
            kind = " (an oriented DIOR-R <robndbox>, not supported)" \
                if obj.find("robndbox") is not None else ""
            raise InvalidInputError(f"{at}: no <bndbox>{kind}")
        box = tuple(_number(bnd, t, at) for t in ("xmin", "ymin", "xmax", "ymax"))
        if box[2] < box[0] or box[3] < box[1]:
            raise InvalidInputError(f"{at}: inverted box {box} (xmax < xmin or ymax < ymin)")
        difficult = int(_number(obj, "difficult", at)) if obj.find("difficult") is not None \
            else 0
        out.objects.append(DiorObject(label, (box[0], box[1], box[2], box[3]), difficult))
    return out


def read_dior_xml(path: str | Path) -> DiorLabels:
    """Read one DIOR annotation file.

    Raises:
        DataNotFoundError: the file does not exist (the error says where to get DIOR).
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(
            "DIOR annotation file", p.parent, [p.name], DIOR_URL,
            "Annotations/<image>.xml (release; Horizontal Bounding Boxes) or "
            "Annotations/trainval/<image>.xml (TorchGeo)",
        )
    return parse_dior_xml(p.read_text(encoding="utf-8"), where=str(p))


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def format_dior_xml(labels: DiorLabels) -> str:
    """The XML text of an annotation file (integer pixel boxes written as integers, which
    TorchGeo's ``DIOR`` requires)."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = labels.filename
    size = ET.SubElement(root, "size")
    for tag, v in (("width", labels.width), ("height", labels.height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(v)
    for o in labels.objects:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = o.label
        ET.SubElement(obj, "difficult").text = str(o.difficult)
        bnd = ET.SubElement(obj, "bndbox")
        for tag, coord in zip(("xmin", "ymin", "xmax", "ymax"), o.box, strict=True):
            ET.SubElement(bnd, tag).text = _fmt(coord)
    return ET.tostring(root, encoding="unicode") + "\n"


def write_dior_xml(path: str | Path, labels: DiorLabels) -> None:
    """Write an annotation file atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(format_dior_xml(labels), encoding="utf-8")
