"""The error hierarchy of geoneurips.

Every error a user can trigger derives from :class:`GeoNeuripsError`, so a caller can catch
one type. Messages name the offending file, band, shape or CRS and, for missing data, say
where to get it and where to put it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "CheckpointError",
    "CoregistrationError",
    "DataNotFoundError",
    "DependencyMissingError",
    "GeoNeuripsError",
    "InvalidInputError",
    "UnknownSystemError",
]


class GeoNeuripsError(Exception):
    """Base class of every error raised on purpose by geoneurips."""


class DataNotFoundError(GeoNeuripsError, FileNotFoundError):
    """A dataset (or one of its files) is not where it should be.

    Args:
        dataset: human name of the dataset, e.g. ``"LocBench BirdSnap"``.
        root: the folder that was searched.
        missing: the files or patterns that were looked for.
        url: where to download the data from.
        layout: one line describing where to put it, relative to ``root``.
    """

    def __init__(
        self,
        dataset: str,
        root: str | Path,
        missing: Sequence[str] = (),
        url: str | None = None,
        layout: str | None = None,
    ) -> None:
        self.dataset = dataset
        self.root = Path(root)
        self.missing = list(missing)
        self.url = url
        self.layout = layout
        parts = [f"{dataset} not found in root={str(self.root)!r}."]
        if self.missing:
            shown = ", ".join(self.missing[:5]) + (" ..." if len(self.missing) > 5 else "")
            parts.append(f"Missing: {shown}.")
        if url:
            parts.append(f"Get it from {url}")
        if layout:
            parts.append(f"and place it as {layout}.")
        parts.append("geoneurips never downloads data itself.")
        super().__init__(" ".join(parts))


class InvalidInputError(GeoNeuripsError, ValueError):
    """An input has the wrong shape, bands, dtype, values or format.

    The message always names the offending object (file, band, array) and what was expected.
    """


class CoregistrationError(InvalidInputError):
    """Several rasters that must share a grid do not (CRS, transform or shape differ)."""


class CheckpointError(GeoNeuripsError):
    """A checkpoint is missing, unreadable, unsafe to load, or does not match the model."""


class UnknownSystemError(GeoNeuripsError, KeyError):
    """No system is registered under the given id."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else "unknown system"


class DependencyMissingError(GeoNeuripsError, ImportError):
    """An optional dependency needed for this feature is not installed."""

    def __init__(self, package: str, feature: str) -> None:
        super().__init__(f"{feature} needs the optional package {package!r}: pip install {package}")
