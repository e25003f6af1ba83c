"""HDF5 sample files shared by the restoration datasets.

The pansharpening (PanCollection, :class:`~geoneurips.restoration.pansharpening.data.
PanCollection`) and hyperspectral fusion (CAVE / Harvard MHIF,
:class:`~geoneurips.restoration.feinfn.data.HISRDataset`) benchmarks are both distributed as
``.h5`` files of ``(N, C, H, W)`` arrays, one sample per index along ``N``. This module holds
what their readers share: reading the dataset shapes when the file is opened, the lazily
opened (and picklable) file handle, and the checked read of one sample's arrays. Each reader
keeps its own key names, shape checks and error wording.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError

__all__ = ["H5SampleFile", "read_h5_shapes"]


def read_h5_shapes(
    path: Path, keys: Iterable[str], what: str
) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """Shapes of the datasets ``keys`` present in the HDF5 file ``path`` (in ``keys`` order)
    and every key of the file, sorted.

    Args:
        path: the ``.h5`` file.
        keys: the dataset keys of the published layout.
        what: the kind of file, for the error message (e.g. ``"a PanCollection file"``).

    Raises:
        InvalidInputError: the file is not readable as HDF5 (e.g. truncated).
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            shapes = {k: tuple(int(s) for s in f[k].shape) for k in keys if k in f}
            found = sorted(f.keys())
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read {str(path)!r} as HDF5 (truncated or not {what}): {exc}"
        ) from exc
    return shapes, found


class H5SampleFile:
    """Mixin for a dataset over one HDF5 file of ``(N, C, H, W)`` arrays.

    The subclass sets ``path``, ``shapes`` (from :func:`read_h5_shapes`) and ``_file = None``
    in its ``__init__`` and defines ``__len__``. The file is opened lazily, once per process
    (DataLoader workers), and the open handle is dropped when the dataset is pickled.
    """

    path: Path
    shapes: dict[str, tuple[int, ...]]
    _file: Any

    def __len__(self) -> int:
        raise NotImplementedError

    def _handle(self) -> Any:
        import h5py

        if self._file is None:  # opened lazily, once per process (DataLoader workers)
            self._file = h5py.File(self.path, "r")
        return self._file

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        return state

    def _read_sample(self, index: int, keys: Iterable[str]) -> tuple[int, dict[str, np.ndarray]]:
        """The non-negative ``index`` and the float32 arrays of sample ``index`` for the
        ``keys`` present in the file, in ``keys`` order.

        Raises:
            IndexError: ``index`` outside ``[-len, len)``.
            InvalidInputError: an array cannot be read (truncated file) or holds NaN/inf.
        """
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        f = self._handle()
        arrays: dict[str, np.ndarray] = {}
        for k in keys:
            if k not in self.shapes:
                continue
            try:
                arr = np.asarray(f[k][index], dtype=np.float32)
            except OSError as exc:
                raise InvalidInputError(
                    f"cannot read {k!r}[{index}] of {str(self.path)!r} (truncated?): {exc}"
                ) from exc
            if not np.isfinite(arr).all():
                raise InvalidInputError(
                    f"{str(self.path)!r}: {k!r}[{index}] holds NaN or infinite values"
                )
            arrays[k] = arr
        return index, arrays
