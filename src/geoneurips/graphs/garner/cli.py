"""``geoneurips road-embed``: Garner embeddings for every segment of a road network.

No heavy import at module level: torch, osmnx and geopandas are imported when it runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["road_embed"]


def road_embed(
    roads: Annotated[Path, typer.Argument(
        help="road network: OSM XML (.osm, .osm.bz2), OSMnx GraphML or road GeoJSON/GPKG")],
    output: Annotated[Path, typer.Option("-o", "--output",
                                         help="output .geojson or .parquet (one row a segment)")],
    svi: Annotated[Path | None, typer.Option(
        "--svi", help="street-view features per segment (.pt/.npy (n, d), or .npz with "
        "'embedding' and 'road_id'); without it the Third-Law view cannot be built")] = None,
    road_features_only: Annotated[bool, typer.Option(
        "--road-features-only", help="no street-view file: train MVGRL (First-Law views "
        "only) on the road features, and say so in the output")] = False,
    epochs: Annotated[int, typer.Option("--epochs", help="training epochs (paper 2500)")] = 300,
    dim: Annotated[int, typer.Option("--dim", help="embedding size (paper 512)")] = 128,
    sample_size: Annotated[int, typer.Option("--sample-size",
                                             help="induced subgraph size (paper 4000)")] = 4000,
    seed: Annotated[int, typer.Option("--seed", help="seed")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Train Garner on the network and write each segment's summed embedding (h1 + h2 + h3).

    Segments are the drivable OSMnx edges with key 0 (see ``garner.roads``); the output
    keeps their geometry (EPSG:4326), u, v, osmid, highway, name, length and adds the
    columns emb_0 ... emb_{dim-1}, written atomically.
    """
    import dataclasses
    import time

    import numpy as np

    from ...errors import InvalidInputError
    from .data import load_svi, write_segments
    from .model import GarnerConfig
    from .pipeline import embed_network
    from .roads import read_roads

    if output.suffix not in (".geojson", ".json", ".parquet"):
        raise InvalidInputError(f"--output must end in .geojson or .parquet, got {output.name}")
    if svi is None and not road_features_only:
        raise InvalidInputError(
            "Garner's Third-Law view needs street-view features per segment: pass --svi FILE "
            "(precomputed image embeddings; none ship with geoneurips), or --road-features-only "
            "to train the First-Law views (MVGRL) alone")
    if epochs < 1 or dim < 2 or sample_size < 2:
        raise InvalidInputError("--epochs, --dim and --sample-size must be positive")
    started = time.perf_counter()
    seg = read_roads(roads)
    n = len(seg)
    if n < 3:
        raise InvalidInputError(f"{roads} has {n} drivable road segments; at least 3 needed")
    road = seg.features()
    if svi is not None:
        svi_arr = load_svi(svi, n)
        kind = "garner"
    else:
        svi_arr = np.zeros((n, 1), dtype=np.float32)
        svi_arr[:, 0] = 1.0
        kind = "mvgrl"
    cfg = dataclasses.replace(GarnerConfig(), hid_dim=dim, proj_dim_a=max(1, dim // 2),
                              proj_dim_b=max(1, dim // 2), epochs=epochs,
                              sample_size=sample_size)
    emb, curve, _ = embed_network(road, svi_arr, seg.line_graph(), cfg, seed, kind)
    e = emb.numpy()
    cols = {f"emb_{i}": e[:, i].astype(np.float64) for i in range(e.shape[1])}
    out = write_segments(seg, output, cols)
    result = {"output": str(out), "segments": n, "dim": int(e.shape[1]), "model": kind,
              "final_loss": round(curve[-1], 4),
              "seconds": round(time.perf_counter() - started, 2)}
    if json_output:
        typer.echo(json.dumps(result))
    else:
        typer.echo(f"wrote {out}: {n} road segments x {e.shape[1]} ({kind}, "
                   f"{epochs} epochs)")
