"""SynRS3D data: the synthetic source folders, the real targets, label remaps, nDSM cleaning.

Published layout (JTRNEO/SynRS3D, ``dataset/dataset.py``, ``utils/datasets_config.py``)::

    <root>/{grid|terrain}_g{005|05|1}_{low|mid|high}_v{1|2}/   one of 17 source folders
        opt/{id}.tif        RGB image (read as PIL ``convert('RGB')``, uint8)
        pre_opt/{id}.tif    pre-event RGB image (change detection)
        gt_nDSM/{id}.tif    normalised DSM, float32 metres (NaN or > 450 m -> 0)
        gt_ss_mask/{id}.tif uint8 land cover, OEM codes 1 Bareland, 2 Rangeland,
                            3 Developed, 4 Road, 5 Trees, 6 Water, 7 Agriculture, 8 Buildings
        gt_cd_mask/{id}.tif uint8 change mask, 0 / 255
        train.txt           ids without suffix, one per line
    <root>/{DFC18|DFC19_JAX|DFC19_OMA|geonrw_urban|OGC_ARG|OEM|...}/   real targets
        opt/ gt_nDSM/ [gt_ss_mask/]  same files; test.txt (evaluation), test_syn.txt
                            (validation, issue #5), train.txt (unlabelled adaptation images)

Label remaps (``utils/datasets_config.py``): "normal" OEM 1..8 -> 0..7; DFC19
{2:0, 5:1, 6:2, 9:3, 17:4, 65:2}; ISPRS identity on 0..5; the "combined" 3-class scheme
(0 other, 1 tree, 2 building) OEM {5:1, 8:2, other codes 1..8 -> 0},
DFC19 {5:1, 6:2, 65:2, 2/9/17 -> 0}, ISPRS {1:2, 3:1, 0/2/4/5 -> 0}. Any other code -> 255.
"combined" is the default of the public loader's constructor; the published training
scripts (no ``--combine_class``) train the 8 OEM classes and map predictions to the
combined scheme for DFC19 / ISPRS targets (``evaluation.py``).

Which TorchGeo readers exist: TorchGeo 0.8.1 has ``GeoNRW`` and ``DFC2022`` readers, but
they read those datasets' *original* layouts, not SynRS3D's re-packaging (``opt/``,
``gt_nDSM/``, split lists), and no fixture of theirs is offline; there is no DFC2018 /
DFC2019 / OGC reader. So no independent file exists for this layout.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch.utils.data import Dataset

from ...errors import DataNotFoundError, InvalidInputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["COMBINED_CLASSES", "MAX_HEIGHT", "OEM_CLASSES", "REMAPS", "SOURCE_FOLDER",
           "SynRS3D", "SynRS3DTarget", "clean_ndsm", "label_category", "remap_labels",
           "write_fixture", "write_folder"]

URL = "https://huggingface.co/datasets/JTRNEO/SynRS3D (or Zenodo record 13905264)"
SOURCE_FOLDER = re.compile(r"^(grid|terrain)_g(\d+)_(low|mid|high)_v(\d+)$")
MAX_HEIGHT = 450.0
IGNORE = 255
OEM_CLASSES = ("bareland", "rangeland", "developed", "road", "trees", "water",
               "agriculture", "buildings")
COMBINED_CLASSES = ("other", "tree", "building")
REMAPS: dict[str, dict[str, dict[int, int]]] = {
    "normal": {"OEM": {k: k - 1 for k in range(1, 9)},
               "DFC19": {2: 0, 5: 1, 6: 2, 9: 3, 17: 4, 65: 2},
               "ISPRS": {k: k for k in range(6)}},
    "combined": {"OEM": {1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 0, 7: 0, 8: 2},
                 "DFC19": {2: 0, 5: 1, 6: 2, 9: 0, 17: 0, 65: 2},
                 "ISPRS": {0: 0, 1: 2, 2: 0, 3: 1, 4: 0, 5: 0}},
}
_REAL_CATEGORY = {"DFC19_JAX": "DFC19", "DFC19_OMA": "DFC19", "vaihingen": "ISPRS",
                  "potsdam": "ISPRS", "OEM": "OEM"}
_LAYOUT = ("{folder}/opt/{id}.tif, gt_nDSM/{id}.tif, gt_ss_mask/{id}.tif and the split list "
           "({split}.txt) inside each folder")


def clean_ndsm(ndsm: np.ndarray) -> np.ndarray:
    """The public loader's cleaning: NaN or > 450 m -> 0 (float32 copy)."""
    out = np.array(ndsm, dtype=np.float32, copy=True)
    out[np.isnan(out) | (out > MAX_HEIGHT)] = 0.0
    return out


def label_category(folder: str) -> str | None:
    """Label family of a folder: synthetic folders and OEM use OEM codes; DFC19 and ISPRS
    their own; other real targets carry no land cover (``None``)."""
    if SOURCE_FOLDER.match(folder):
        return "OEM"
    return _REAL_CATEGORY.get(folder)


def remap_labels(mask: np.ndarray, category: str, scheme: str = "combined") -> np.ndarray:
    """Map raw codes to training ids with the published rules; unknown codes -> 255."""
    try:
        rules = REMAPS[scheme][category]
    except KeyError as exc:
        raise InvalidInputError(f"no label remap for scheme {scheme!r} / {category!r}; "
                                f"schemes {sorted(REMAPS)}, categories OEM, DFC19, ISPRS"
                                ) from exc
    lut = np.full(256, IGNORE, np.uint8)
    for src, dst in rules.items():
        lut[src] = dst
    return lut[np.asarray(mask, dtype=np.uint8)]


def _read(path: Path, rgb: bool = False) -> np.ndarray:
    import rasterio

    with rasterio.open(path) as ds:
        arr = ds.read()
    if rgb:
        if arr.shape[0] == 1:  # PIL convert('RGB') of a grey image repeats it
            arr = np.repeat(arr, 3, 0)
        return np.ascontiguousarray(arr[:3].astype(np.uint8))
    band: np.ndarray = arr[0]
    return band


def _split_ids(folder: Path, split: str) -> list[str]:
    lines = (folder / f"{split}.txt").read_text().splitlines()
    return [s.strip() for s in lines if s.strip()]


class _Base(Dataset[dict[str, Any]]):
    dataset_name = "SynRS3D"
    files: list[tuple[Path, str]]
    scheme: str
    transforms: Callable[[dict[str, Any]], dict[str, Any]] | None

    def __len__(self) -> int:
        return len(self.files)

    def _sample(self, folder: Path, stem: str, land_cover: bool) -> dict[str, Any]:
        import torch

        img = _read(folder / "opt" / f"{stem}.tif", rgb=True)
        out: dict[str, Any] = {"image": torch.from_numpy(img.astype(np.float32)),
                               "folder": folder.name, "id": stem}
        if (folder / "gt_nDSM").is_dir():
            out["height"] = torch.from_numpy(clean_ndsm(_read(folder / "gt_nDSM"
                                                              / f"{stem}.tif")))
        cat = label_category(folder.name)
        if land_cover and cat is not None and (folder / "gt_ss_mask").is_dir():
            raw = _read(folder / "gt_ss_mask" / f"{stem}.tif")
            out["mask"] = torch.from_numpy(remap_labels(raw, cat, self.scheme).astype(np.int64))
        return out

    def plot(self, sample: Mapping[str, Any], show_titles: bool = True,
             suptitle: str | None = None) -> Figure:
        """Image, nDSM, land cover and (if given) ``prediction_height`` /
        ``prediction_mask``."""
        import matplotlib.pyplot as plt

        panels: list[tuple[str, np.ndarray, str]] = [
            ("image", np.asarray(sample["image"]).transpose(1, 2, 0) / 255.0, "")]
        for key, title, cmap in (("height", "nDSM (m)", "magma"), ("mask", "land cover", "tab10"),
                                 ("prediction_height", "predicted nDSM", "magma"),
                                 ("prediction_mask", "predicted land cover", "tab10")):
            if key in sample:
                panels.append((title, np.asarray(sample[key]), cmap))
        fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 3.0))
        for ax, (title, arr, cmap) in zip(np.atleast_1d(axes), panels, strict=True):
            if cmap:
                arr = np.where(arr == IGNORE, np.nan, arr) if cmap == "tab10" else arr
                ax.imshow(arr, cmap=cmap, interpolation="nearest")
            else:
                ax.imshow(np.clip(arr, 0, 1))
            ax.axis("off")
            if show_titles:
                ax.set_title(title)
        if suptitle:
            fig.suptitle(suptitle)
        return fig


class SynRS3D(_Base):
    """The synthetic source folders of SynRS3D (all under ``root``, or the named ones).

    Samples: ``image`` float32 ``(3, H, W)`` on 0-255, ``height`` float32 ``(H, W)`` metres
    (cleaned), ``mask`` int64 ``(H, W)`` (``scheme``: ``"combined"`` 3 classes, the public
    loader's default, or ``"normal"`` 8 OEM classes, what ``RS3DAda.sh`` trains; 255
    ignore), with ``with_change=True`` also
    ``pre_image`` and ``change`` (0/1, 255 -> 1), plus ``folder`` and ``id``.
    """

    def __init__(self, root: str | Path, split: str = "train",
                 folders: Sequence[str] | None = None, scheme: str = "combined",
                 with_change: bool = False,
                 transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.root = Path(root)
        self.scheme, self.with_change, self.transforms = scheme, with_change, transforms
        if scheme not in REMAPS:
            raise InvalidInputError(f"scheme must be one of {sorted(REMAPS)}, got {scheme!r}")
        if folders is None:
            found = sorted(p.name for p in self.root.glob("*") if p.is_dir()
                           and SOURCE_FOLDER.match(p.name)) if self.root.is_dir() else []
        else:
            bad = [f for f in folders if not SOURCE_FOLDER.match(f)]
            if bad:
                raise InvalidInputError(f"not SynRS3D source folder names: {bad} (expected "
                                        "{grid|terrain}_g*_{low|mid|high}_v*)")
            found = list(folders)
        missing = [f"{f}/{split}.txt" for f in found if not (self.root / f / f"{split}.txt")
                   .is_file()]
        if not found or missing:
            raise DataNotFoundError("SynRS3D", self.root, missing or
                                    ["{grid|terrain}_g*_{low|mid|high}_v*/"], URL,
                                    _LAYOUT.format(folder="<folder>", id="<id>", split=split))
        self.files = [(self.root / f, s) for f in found for s in _split_ids(self.root / f, split)]

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        folder, stem = self.files[index]
        out = self._sample(folder, stem, land_cover=True)
        if self.with_change:
            pre = _read(folder / "pre_opt" / f"{stem}.tif", rgb=True)
            out["pre_image"] = torch.from_numpy(pre.astype(np.float32))
            cd = _read(folder / "gt_cd_mask" / f"{stem}.tif")
            out["change"] = torch.from_numpy((cd > 0).astype(np.int64))
        return self.transforms(out) if self.transforms else out


class SynRS3DTarget(_Base):
    """One real target in SynRS3D's re-packaging (``DFC19_JAX``, ``geonrw_urban``, ``OEM``...).

    ``split``: ``"test"`` (evaluation), ``"test_syn"`` (validation) or ``"train"``
    (unlabelled adaptation images). ``height`` is present when ``gt_nDSM/`` is; ``mask``
    for the targets with land cover (OEM, DFC19, ISPRS codes; ``scheme`` as in
    :class:`SynRS3D`). ``labels=False`` reads images only (adaptation).
    """

    def __init__(self, root: str | Path, name: str, split: str = "test",
                 scheme: str = "combined", labels: bool = True,
                 transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.root, self.name = Path(root), name
        self.scheme, self.labels, self.transforms = scheme, labels, transforms
        if split not in ("test", "test_syn", "train"):
            raise InvalidInputError(f"split must be test, test_syn or train, got {split!r}")
        folder = self.root / name
        if not (folder / f"{split}.txt").is_file() or not (folder / "opt").is_dir():
            raise DataNotFoundError(f"SynRS3D target {name}", self.root,
                                    [f"{name}/{split}.txt", f"{name}/opt/"], URL,
                                    _LAYOUT.format(folder=name, id="<id>", split=split))
        self.files = [(folder, s) for s in _split_ids(folder, split)]

    def __getitem__(self, index: int) -> dict[str, Any]:
        folder, stem = self.files[index]
        if self.labels:
            out = self._sample(folder, stem, land_cover=True)
        else:
            import torch

            img = _read(folder / "opt" / f"{stem}.tif", rgb=True)
            out = {"image": torch.from_numpy(img.astype(np.float32)), "folder": folder.name,
                   "id": stem}
        return self.transforms(out) if self.transforms else out


def _write_tif(path: Path, arr: np.ndarray, nodata: float | None = None) -> None:
    import rasterio
    from affine import Affine

    arr = arr if arr.ndim == 3 else arr[None]
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[1], width=arr.shape[2],
                       count=arr.shape[0], dtype=arr.dtype, nodata=nodata,
                       transform=Affine(0.5, 0.0, 0.0, 0.0, -0.5, 0.0)) as ds:
        ds.write(arr)


def write_folder(root: str | Path, name: str, samples: Iterable[Mapping[str, Any]],
                 splits: Mapping[str, Sequence[str]]) -> Path:
    """Write one folder in the published layout.

    Each sample: ``id``, ``image`` uint8 ``(3, H, W)``; optional ``height`` float32
    ``(H, W)`` (``gt_nDSM``), ``ss_mask`` uint8 raw codes, ``pre_image``, ``cd_mask``
    (0/255). ``splits`` maps a split name (``train``, ``test``, ``test_syn``) to ids.
    """
    folder = Path(root) / name
    for s in samples:
        stem = str(s["id"])
        _write_tif(folder / "opt" / f"{stem}.tif", np.asarray(s["image"], np.uint8))
        for key, sub, dtype in (("pre_image", "pre_opt", np.uint8),
                                ("height", "gt_nDSM", np.float32),
                                ("ss_mask", "gt_ss_mask", np.uint8),
                                ("cd_mask", "gt_cd_mask", np.uint8)):
            if key in s:
                _write_tif(folder / sub / f"{stem}.tif", np.asarray(s[key], dtype))
    for split, ids in splits.items():
        (folder / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    return folder


def write_fixture(root: str | Path, n: int = 4, size: int = 32, seed: int = 0) -> Path:
    """A tiny SynRS3D tree: two source folders and a ``DFC19_JAX`` target (random content,
    NaN and > 450 m heights included to exercise the cleaning)."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for name in ("grid_g05_mid_v1", "terrain_g005_high_v2"):
        samples = []
        for k in range(n):
            h = rng.uniform(0, 30, (size, size)).astype(np.float32)
            h[0, 0], h[0, 1] = np.nan, 500.0
            samples.append({"id": f"{name}_{k:04d}",
                            "image": rng.integers(0, 256, (3, size, size), dtype=np.uint8),
                            "pre_image": rng.integers(0, 256, (3, size, size), dtype=np.uint8),
                            "height": h,
                            "ss_mask": rng.integers(0, 10, (size, size), dtype=np.uint8),
                            "cd_mask": (rng.random((size, size)) < 0.3).astype(np.uint8) * 255})
        write_folder(root, name, samples, {"train": [str(s["id"]) for s in samples]})
    codes = np.array([2, 5, 6, 9, 17, 65, 0], np.uint8)
    samples = [{"id": f"JAX_{k:03d}_0_0",
                "image": rng.integers(0, 256, (3, size, size), dtype=np.uint8),
                "height": rng.uniform(0, 40, (size, size)).astype(np.float32),
                "ss_mask": codes[rng.integers(0, len(codes), (size, size))]} for k in range(n)]
    ids = [str(s["id"]) for s in samples]
    write_folder(root, "DFC19_JAX", samples, {"test": ids[: n // 2 or 1],
                                              "test_syn": ids[n // 2:], "train": ids})
    return root
