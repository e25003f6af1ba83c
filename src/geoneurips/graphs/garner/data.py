"""Garner's published data layout, street-view feature files and per-segment outputs.

The public code (``src/data/dataset.py``, ``src/task/static.py``) reads, per city
(``singapore`` or ``nyc``; data on the authors' Google Drive)::

    <city>/data_processed/edges.geojson      road segments: u, v, key, osmid, LineString
    <city>/data_processed/nodes.geojson      junctions: id, osmid, x, y, Point
    <city>/data_processed/road_feat.npz      arr_0: (n_segments, F) road features
    <city>/data_processed/svi_emb/svi_emb_on_road_{30,40,50}.pt
                                             (n_segments, 768) float tensor: the mean CLIP
                                             ViT-L/14 embedding of the street-view images
                                             matched within 30/40/50 m (all-zero = none)
    <city>/task/road_function.npz            arr_0: (n_segments,) int, 6 classes, -100 =
                                             excluded ("special use")
    <city>/task/average_speed.csv            road_id, speed, count (speed > 0 kept)

:class:`GarnerCity` reads that layout (``.pt`` files with ``torch.load(weights_only=True)``,
never a bare unpickler) and :func:`write_city` writes it (the fixture and the demo).

Street-view features for the task command (:func:`load_svi`): no street-view images or
vision weights ship with geoneurips, so the user gives precomputed vectors, one row per
road segment in the order of the segments the reader produces: a ``.pt`` tensor (the
published format), a ``.npy`` array, or an ``.npz`` with ``embedding`` (and optionally
``road_id``: the row's segment index; segments without a row get zeros). All-zero rows are
imputed with the mean of the others, as published.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ...errors import DataNotFoundError, InvalidInputError
from ...io import atomic_path
from .roads import RoadSegments, line_graph

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from torch import Tensor

__all__ = ["GarnerCity", "impute_svi", "load_svi", "write_city", "write_fixture",
           "write_segments"]

URL = "https://github.com/Haicang/Garner (Google Drive links in its README)"


def impute_svi(svi: NDArray[np.float32]) -> NDArray[np.float32]:
    """Replace all-zero rows (segments without a matched image) by the mean of the others."""
    out = np.array(svi, dtype=np.float32, copy=True)
    zero = ~np.any(out != 0, axis=1)
    if zero.all():
        raise InvalidInputError("every street-view feature row is zero")
    out[zero] = out[~zero].mean(0)
    return out


def load_svi(path: str | Path, n: int | None = None) -> NDArray[np.float32]:
    """Read a street-view feature file (see the module docstring), imputed, ``(n, d)``."""
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError("street-view features", p.parent, [p.name],
                                layout="a .pt/.npy (n_segments, d) array or an .npz with "
                                "'embedding' (+ 'road_id')")
    ids = None
    try:
        if p.suffix == ".pt":
            import torch

            obj = torch.load(p, map_location="cpu", weights_only=True)
            if not isinstance(obj, torch.Tensor):
                raise InvalidInputError(f"{str(p)!r} must hold one tensor, got {type(obj)}")
            arr = obj.float().numpy()
        elif p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        elif p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                if "embedding" not in z:
                    raise InvalidInputError(f"{str(p)!r} has no 'embedding' array")
                arr = z["embedding"]
                ids = z["road_id"] if "road_id" in z else None
        else:
            raise InvalidInputError(f"street-view features must be .pt, .npy or .npz: {p}")
    except InvalidInputError:
        raise
    except Exception as exc:
        raise InvalidInputError(f"cannot read street-view features {str(p)!r}: {exc}") from None
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim != 2 or not np.isfinite(arr).all():
        raise InvalidInputError(f"street-view features must be a finite 2-D array: {p}")
    if ids is not None:
        size = n if n is not None else int(ids.max()) + 1
        if len(ids) != len(arr) or ids.min() < 0 or ids.max() >= size:
            raise InvalidInputError(f"road_id in {str(p)!r} must index 0..{size - 1}")
        full = np.zeros((size, arr.shape[1]), dtype=np.float32)
        full[ids.astype(np.int64)] = arr
        arr = full
    if n is not None and len(arr) != n:
        raise InvalidInputError(
            f"{str(p)!r} has {len(arr)} rows but the network has {n} road segments")
    return impute_svi(arr)


def _segments_gdf(seg: RoadSegments, columns: dict[str, Any] | None = None,
                  published: bool = True) -> Any:
    import geopandas as gpd
    from shapely.geometry import LineString

    data: dict[str, Any] = {"u": seg.u, "v": seg.v, "key": np.zeros(len(seg), dtype=np.int64),
                            "osmid": [str(x) for x in seg.attrs.get("osmid", [None] * len(seg))]}
    if not published:
        for k in ("highway", "name", "length"):
            if k in seg.attrs:
                data[k] = [str(x) if isinstance(x, list) else x for x in seg.attrs[k]]
    data.update(columns or {})
    return gpd.GeoDataFrame(data, geometry=[LineString(g) for g in seg.geometry], crs=4326)


def write_segments(seg: RoadSegments, path: str | Path, columns: dict[str, Any]) -> Path:
    """Write road segments with extra per-segment ``columns`` as GeoJSON or GeoParquet
    (by the suffix), atomically."""
    p = Path(path)
    gdf = _segments_gdf(seg, columns, published=False)
    if p.suffix not in (".geojson", ".json", ".parquet"):
        raise InvalidInputError(f"output must be .geojson or .parquet, got {p.name!r}")
    with atomic_path(p) as tmp:
        if p.suffix == ".parquet":
            gdf.to_parquet(tmp)
        else:
            gdf.to_file(tmp, driver="GeoJSON")
    return p


def write_city(root: str | Path, seg: RoadSegments, road_feat: NDArray[np.float32],
               svi: NDArray[np.float32], road_function: NDArray[np.int64],
               speed_ids: NDArray[np.int64], speed: NDArray[np.float64],
               node_xy: NDArray[np.float64] | None = None, match_distance: int = 50) -> Path:
    """Write one city in the published layout (module docstring)."""
    import geopandas as gpd
    import pandas as pd
    import torch
    from shapely.geometry import Point

    root = Path(root)
    proc = root / "data_processed"
    (proc / "svi_emb").mkdir(parents=True, exist_ok=True)
    (root / "task").mkdir(parents=True, exist_ok=True)
    edges = _segments_gdf(seg)
    with atomic_path(proc / "edges.geojson") as tmp:
        edges.to_file(tmp, driver="GeoJSON")
    ids = np.unique(np.concatenate([seg.u, seg.v]))
    if node_xy is None:
        first: dict[int, NDArray[np.float64]] = {}
        for a, b, g in zip(seg.u, seg.v, seg.geometry, strict=True):
            first.setdefault(int(a), g[0])
            first.setdefault(int(b), g[-1])
        xy = np.array([first[int(i)] for i in ids])
    else:
        xy = node_xy[ids]
    nodes = gpd.GeoDataFrame({"id": ids, "osmid": ids, "x": xy[:, 0], "y": xy[:, 1]},
                             geometry=[Point(p) for p in xy], crs=4326)
    with atomic_path(proc / "nodes.geojson") as tmp:
        nodes.to_file(tmp, driver="GeoJSON")
    with atomic_path(proc / "road_feat.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, road_feat)
    with atomic_path(proc / "svi_emb" / f"svi_emb_on_road_{match_distance}.pt") as tmp:
        torch.save(torch.as_tensor(svi), tmp)
    with atomic_path(root / "task" / "road_function.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, road_function.astype(np.int64))
    df = pd.DataFrame({"road_id": speed_ids, "speed": speed, "count": 1})
    with atomic_path(root / "task" / "average_speed.csv") as tmp:
        df.to_csv(tmp, index=False)
    return root


def write_fixture(root: str | Path, seed: int = 0, grid: int = 8, **kwargs: Any) -> Path:
    """A small synthetic city (:func:`synthetic.synthetic_city`) in the published layout."""
    from .synthetic import synthetic_city

    c = synthetic_city(grid, seed, **kwargs)
    return write_city(root, c.segments, c.segments.features(), c.svi, c.road_function,
                      c.speed_ids, c.speed, c.node_xy)


class GarnerCity:
    """One city in the published layout (module docstring) as one graph sample.

    ``dataset[0]`` is a dict: ``road_feat`` (n, F), ``svi`` (n, d) imputed,
    ``edge_index`` (2, E) the line graph, ``road_function`` (n,) with -100 excluded,
    ``speed_index`` (m,) and ``speed`` (m,) with speed > 0. ``segments`` holds the
    geometry and u/v of every segment.
    """

    def __init__(self, root: str | Path, match_distance: int = 50,
                 transforms: Any = None) -> None:
        self.root = Path(root)
        proc = self.root / "data_processed"
        need = ["data_processed/edges.geojson", "data_processed/road_feat.npz",
                f"data_processed/svi_emb/svi_emb_on_road_{match_distance}.pt",
                "task/road_function.npz", "task/average_speed.csv"]
        missing = [n for n in need if not (self.root / n).is_file()]
        if missing:
            raise DataNotFoundError("Garner city", self.root, missing, URL,
                                    "<city>/data_processed/... and <city>/task/... as in "
                                    "the Garner repository")
        from .roads import read_roads

        self.segments = read_roads(proc / "edges.geojson")
        n = len(self.segments)
        with np.load(proc / "road_feat.npz", allow_pickle=False) as z:
            self.road_feat = np.asarray(z["arr_0"], dtype=np.float32)
        self.svi = load_svi(proc / "svi_emb" / f"svi_emb_on_road_{match_distance}.pt", n)
        with np.load(self.root / "task" / "road_function.npz", allow_pickle=False) as z:
            self.road_function = np.asarray(z["arr_0"], dtype=np.int64)
        import pandas as pd

        df = pd.read_csv(self.root / "task" / "average_speed.csv")
        if not {"road_id", "speed"} <= set(df.columns):
            raise InvalidInputError("average_speed.csv needs road_id and speed columns")
        df = df[df["speed"] > 0]
        self.speed_index = df["road_id"].to_numpy(np.int64)
        self.speed = df["speed"].to_numpy(np.float64)
        for name, arr in (("road_feat.npz", self.road_feat), ("road_function.npz",
                                                                self.road_function)):
            if len(arr) != n:
                raise InvalidInputError(f"{name} has {len(arr)} rows for {n} road segments")
        if len(self.speed_index) and (self.speed_index.min() < 0
                                      or self.speed_index.max() >= n):
            raise InvalidInputError("average_speed.csv road_id out of range")
        self.transforms = transforms

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        import torch

        if index != 0:
            raise IndexError(index)
        sample = {
            "road_feat": torch.as_tensor(self.road_feat),
            "svi": torch.as_tensor(self.svi),
            "edge_index": torch.as_tensor(line_graph(self.segments.u, self.segments.v)),
            "road_function": torch.as_tensor(self.road_function),
            "speed_index": torch.as_tensor(self.speed_index.copy()),
            "speed": torch.tensor(self.speed, dtype=torch.float32),
        }
        return self.transforms(sample) if self.transforms else sample

    def plot(self, sample: dict[str, Tensor] | None = None, show_titles: bool = True,
             suptitle: str | None = None, ax: Any = None) -> Figure:
        """The road segments coloured by road function (grey: excluded)."""
        import matplotlib.pyplot as plt
        from matplotlib.collections import LineCollection

        labels = (sample or self[0])["road_function"].numpy()
        if ax is None:
            fig, ax = plt.subplots(figsize=(5, 5))
        else:
            fig = ax.figure
        cmap = plt.get_cmap("tab10")
        colours = [cmap(int(c) % 10) if c >= 0 else (0.6, 0.6, 0.6, 1.0) for c in labels]
        ax.add_collection(LineCollection(self.segments.geometry, colors=colours,
                                         linewidths=1.2))
        ax.autoscale()
        ax.set_aspect("equal")
        if show_titles:
            ax.set_title("road function")
        if suptitle:
            fig.suptitle(suptitle)
        return fig
