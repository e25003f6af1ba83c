"""GOMAA-Geo embedding files: a restricted reader and a dataset of 5x5 patch-embedding grids.

The published files (github mvrl/GOMAA-Geo, ``config.py``: ``papr_train_sat_embeds_grid_5.npy``,
``papr_val_sat_embeds_grid_5.npy``, ``papr_my_ground_embeds.npy``, ``papr_my_text_embeds.npy``)
are ``np.save`` of a Python dict ``{"img_<i>": float array [25, 512]}``: a 0-d object array
whose payload is a pickle. The public code reads them with ``np.load(allow_pickle=True)[()]``,
which executes any pickled callable. :func:`load_embedding_dict` instead parses the ``.npy``
header itself and unpickles with :class:`RestrictedUnpickler`, which resolves only the numpy
array/dtype reconstruction functions and ``_codecs.encode`` (protocol-2 bytes); dicts, lists,
tuples, strings and numbers need no class lookup at all. Anything else raises
:class:`UnsafePickleError` before it is called. :func:`convert_embedding_dict` converts a
published file once into a plain ``.npz`` (``names``, ``embeddings``) that ``np.load`` reads
without pickle.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from geoneurips.errors import DataNotFoundError, InvalidInputError

URL = "https://github.com/mvrl/GOMAA-Geo (embedding files linked from its README)"
SPLIT_FILES = {
    "train": "papr_train_sat_embeds_grid_5.npy",
    "val": "papr_val_sat_embeds_grid_5.npy",
}
GOAL_FILES = {"ground": "papr_my_ground_embeds.npy", "text": "papr_my_text_embeds.npy"}

_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        (mod, name)
        for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    }
    | {(mod, "_frombuffer") for mod in ("numpy.core.numeric", "numpy._core.numeric")}
    | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}
)


class UnsafePickleError(InvalidInputError):
    """A pickle asked for a global outside the numpy-array allowlist (nothing was called)."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy array/dtype reconstruction globals.

    ``find_class`` is the single place pickle turns a name into a callable; refusing every
    name outside :data:`_ALLOWED` means no ``os.system``, ``eval``, ``subprocess`` or custom
    class can be reached, whatever the payload's opcodes (``REDUCE``, ``BUILD``, ``INST``,
    ``OBJ``, ``STACK_GLOBAL`` all go through ``find_class``).
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise UnsafePickleError(
                f"refusing to unpickle global {module}.{name}: only numpy arrays and plain "
                "containers are allowed in GOMAA-Geo embedding files"
            )
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("persistent ids are not allowed in embedding files")


def restricted_loads(payload: bytes) -> Any:
    """Unpickle ``payload`` with :class:`RestrictedUnpickler` (latin1 for py2 numpy pickles)."""
    return RestrictedUnpickler(io.BytesIO(payload), encoding="latin1").load()


def load_npy_restricted(path: str | Path) -> Any:
    """Read a ``.npy`` file; object arrays are unpickled with :class:`RestrictedUnpickler`.

    Returns a plain ndarray for numeric files and the unpickled object (``arr[()]``) for a
    0-d object array (the published dict files).
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError("GOMAA-Geo embeddings", path.parent, [path.name], URL)
    with path.open("rb") as f:
        try:
            version = np.lib.format.read_magic(f)
        except ValueError as err:
            raise InvalidInputError(f"{path} is not a .npy file: {err}") from err
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise InvalidInputError(f"{path}: unsupported .npy version {version}")
        if not dtype.hasobject:
            f.seek(0)
            return np.load(f, allow_pickle=False)
        obj = restricted_loads(f.read())
    if not isinstance(obj, np.ndarray):
        raise InvalidInputError(f"{path}: object payload is {type(obj).__name__}, not an array")
    if obj.shape != tuple(shape):
        raise InvalidInputError(f"{path}: payload shape {obj.shape} != header shape {shape}")
    return obj[()] if obj.ndim == 0 else obj


def load_embedding_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Read a published ``{"img_<i>": [P*P, D]}`` file (``.npy`` restricted, or converted
    ``.npz``) into a dict of float32 arrays."""
    path = Path(path)
    if path.suffix == ".npz":
        if not path.is_file():
            raise DataNotFoundError("GOMAA-Geo embeddings", path.parent, [path.name], URL)
        with np.load(path, allow_pickle=False) as z:
            names = [str(n) for n in z["names"]]
            emb = z["embeddings"]
        return {n: np.asarray(emb[i], dtype=np.float32) for i, n in enumerate(names)}
    obj = load_npy_restricted(path)
    if not isinstance(obj, dict):
        raise InvalidInputError(f"{path}: expected a dict of embeddings, got {type(obj).__name__}")
    out: dict[str, np.ndarray] = {}
    for k, v in obj.items():
        arr = np.asarray(v)
        if arr.dtype.kind not in "fiu":
            raise InvalidInputError(f"{path}: entry {k!r} has non-numeric dtype {arr.dtype}")
        out[str(k)] = arr.astype(np.float32)
    return out


def convert_embedding_dict(src: str | Path, dst: str | Path) -> Path:
    """Convert a published pickled dict file once into a pickle-free ``.npz``.

    ``names`` holds the keys in ``img_0, img_1, ...`` order, ``embeddings`` the stacked arrays
    (all entries must share one shape). Written atomically.
    """
    from geoneurips.io import atomic_path

    d = load_embedding_dict(src)
    names = _ordered_names(d)
    shapes = {d[n].shape for n in names}
    if len(shapes) != 1:
        raise InvalidInputError(f"{src}: entries have different shapes {sorted(shapes)}")
    dst = Path(dst)
    with atomic_path(dst) as tmp, open(tmp, "wb") as f:
        np.savez(f, names=np.array(names), embeddings=np.stack([d[n] for n in names]))
    return dst


def _ordered_names(d: dict[str, np.ndarray]) -> list[str]:
    def key(n: str) -> tuple[int, str]:
        tail = n.rsplit("_", 1)[-1]
        return (int(tail), n) if tail.isdigit() else (1 << 30, n)

    return sorted(d, key=key)


def grids_from_dict(d: dict[str, np.ndarray], grid_size: int = 5) -> np.ndarray:
    """Stack a ``{"img_i": [P*P, D]}`` dict into ``[N, P*P, D]`` (checked)."""
    names = _ordered_names(d)
    arrs = []
    for n in names:
        a = d[n]
        if a.ndim != 2 or a.shape[0] != grid_size * grid_size:
            raise InvalidInputError(
                f"entry {n!r} has shape {a.shape}; expected [{grid_size * grid_size}, D]"
            )
        arrs.append(a)
    if not arrs:
        raise InvalidInputError("the embedding file holds no grids")
    return np.stack(arrs).astype(np.float32)


class GomaaGeoGrids(Dataset[dict[str, Any]]):
    """The GOMAA-Geo search grids of one split: ``[N, 25, D]`` patch embeddings.

    Published layout (``root``): ``papr_train_sat_embeds_grid_5.npy`` and
    ``papr_val_sat_embeds_grid_5.npy`` (Masa, Sat2Cap 512-d), read with the restricted
    loader; a converted ``.npz`` with the same stem is preferred when present. Item ``i`` is
    ``{"patches": Tensor[25, D], "index": i}``; goals are chosen per episode (a patch of the
    grid, or an aligned ground/text embedding) by :mod:`.env`.
    """

    def __init__(self, root: str | Path, split: str = "train", grid_size: int = 5) -> None:
        if split not in SPLIT_FILES:
            raise InvalidInputError(f"split must be one of {sorted(SPLIT_FILES)}, got {split!r}")
        self.root = Path(root)
        npy = self.root / SPLIT_FILES[split]
        npz = npy.with_suffix(".npz")
        path = npz if npz.is_file() else npy
        if not path.is_file():
            raise DataNotFoundError(
                "GOMAA-Geo Masa embeddings", self.root, [npy.name], URL,
                layout=f"put {npy.name} directly in root",
            )
        self.grid_size = grid_size
        self.grids = grids_from_dict(load_embedding_dict(path), grid_size)

    def __len__(self) -> int:
        return int(self.grids.shape[0])

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"patches": torch.from_numpy(self.grids[index]), "index": index}

    def plot(self, sample: dict[str, Any], show_titles: bool = True,
             suptitle: str | None = None) -> Any:
        """Show the grid as the first principal component of each patch embedding."""
        import matplotlib.pyplot as plt

        x = np.asarray(sample["patches"], dtype=np.float64)
        x = x - x.mean(0)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        pc = (x @ vt[0]).reshape(self.grid_size, self.grid_size)
        fig, ax = plt.subplots(figsize=(3.5, 3.5))
        ax.imshow(pc, cmap="viridis")
        if show_titles:
            ax.set_title(f"grid {sample['index']}: PC1 of patch embeddings")
        if suptitle:
            fig.suptitle(suptitle)
        return fig


def write_fixture(root: str | Path, grids: dict[str, np.ndarray]) -> None:
    """Write ``{split: [N, 25, D]}`` grids in the published pickled-dict ``.npy`` layout."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for split, g in grids.items():
        d = {f"img_{i}": np.asarray(g[i], dtype=np.float32) for i in range(len(g))}
        np.save(root / SPLIT_FILES[split], np.array(d, dtype=object), allow_pickle=True)
