"""DOTA label files: the one reader and writer of the project.

DOTA (``DOTA_devkit``; also TorchGeo's ``annotations/version<v>/``) stores one ``.txt`` per
image: two optional header lines (``imagesource:<source>``, ``gsd:<metres or None>``), then
one object per line::

    x1 y1 x2 y2 x3 y3 x4 y4 class difficult

the four corners of the oriented box (clockwise, pixels), the class name, and the difficult
flag (0/1; missing reads as 0, as in the devkit; PECL's code also meets ``2``). PECL's sparse
labels, debLoRA's object crops and VRSBench's object annotations are all built from these
files, so the systems share this module instead of parsing them three times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.io import atomic_path

__all__ = [
    "DOTA_CLASSES",
    "DOTA_URL",
    "DOTA_V1_CLASSES",
    "DotaLabels",
    "DotaObject",
    "format_dota_txt",
    "parse_dota_txt",
    "read_dota_txt",
    "write_dota_txt",
]

DOTA_URL = "https://captain-whu.github.io/DOTA/dataset.html"

#: DOTA-v1.0's 15 classes in the official (and TorchGeo) order.
DOTA_V1_CLASSES: tuple[str, ...] = (
    "plane", "ship", "storage-tank", "baseball-diamond", "tennis-court",
    "basketball-court", "ground-track-field", "harbor", "bridge", "large-vehicle",
    "small-vehicle", "helicopter", "roundabout", "soccer-ball-field", "swimming-pool",
)
#: All DOTA classes in TorchGeo's order: v1.5 adds container-crane, v2.0 airport and helipad.
DOTA_CLASSES: tuple[str, ...] = (*DOTA_V1_CLASSES, "container-crane", "airport", "helipad")


@dataclass(frozen=True)
class DotaObject:
    """One DOTA object: the 4 corners ``poly`` (x1, y1, ..., x4, y4), class name, difficult."""

    poly: tuple[float, ...]
    label: str
    difficult: int = 0

    @property
    def hbb(self) -> tuple[float, float, float, float]:
        """The horizontal box ``(xmin, ymin, xmax, ymax)`` enclosing the polygon."""
        xs, ys = self.poly[0::2], self.poly[1::2]
        return (min(xs), min(ys), max(xs), max(ys))


@dataclass
class DotaLabels:
    """A parsed label file: header metadata and objects in file order."""

    objects: list[DotaObject] = field(default_factory=list)
    imagesource: str | None = None
    gsd: float | None = None


def parse_dota_txt(text: str, *, where: str = "<text>") -> DotaLabels:
    """Parse the content of a DOTA label file (headers optional, blank lines skipped).

    Raises:
        InvalidInputError: a line with fewer than 9 fields, or non-numeric coordinates or
            difficult flag (the message names ``where`` and the line number).
    """
    out = DotaLabels()
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("imagesource:"):
            out.imagesource = line.split(":", 1)[1]
            continue
        if line.startswith("gsd:"):
            try:
                out.gsd = float(line.split(":", 1)[1].strip())
            except ValueError:
                out.gsd = None  # the devkit files hold "gsd:None" for some images
            continue
        parts = line.split()
        if len(parts) < 9:
            raise InvalidInputError(
                f"{where}:{n}: expected 'x1 y1 ... x4 y4 class [difficult]' (8 coordinates "
                f"and a class), got {len(parts)} fields"
            )
        try:
            poly = tuple(float(p) for p in parts[:8])
            difficult = int(parts[9]) if len(parts) > 9 else 0
        except ValueError as exc:
            raise InvalidInputError(f"{where}:{n}: non-numeric coordinates ({exc})") from None
        out.objects.append(DotaObject(poly, parts[8], difficult))
    return out


def read_dota_txt(path: str | Path, *, layout: str | None = None) -> DotaLabels:
    """Read one DOTA label file.

    Raises:
        DataNotFoundError: the file does not exist (``layout`` describes where it belongs).
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(
            "DOTA label file", p.parent, [p.name], DOTA_URL,
            layout or "<split>/labelTxt/<image>.txt (devkit) or "
            "<split>/annotations/version<v>/<image>.txt (TorchGeo)",
        )
    return parse_dota_txt(p.read_text(), where=str(p))


def format_dota_txt(labels: DotaLabels) -> str:
    """The text of a DOTA label file (headers written when the source is known)."""
    lines = []
    if labels.imagesource is not None:
        lines.append(f"imagesource:{labels.imagesource}")
        lines.append(f"gsd:{labels.gsd if labels.gsd is not None else 'None'}")
    for o in labels.objects:
        coords = " ".join(f"{v:.1f}" for v in o.poly)
        lines.append(f"{coords} {o.label} {o.difficult}")
    return "\n".join(lines) + "\n"


def write_dota_txt(path: str | Path, labels: DotaLabels) -> None:
    """Write a DOTA label file atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(format_dota_txt(labels))
