"""G3 task command: ``geoneurips geolocate PHOTO.jpg`` (typer-style; nothing heavy at import).

Builds G3's pipeline around a retrieval database in the MP16-Pro layout and prints the
geo-verified candidates, best first (``--json``: a GeoJSON FeatureCollection of Points,
``[lon, lat]`` as GeoJSON requires, with ``rank``, ``score`` and ``source``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from geoneurips.errors import InvalidInputError

__all__ = ["geolocate", "ranked_geojson"]


def ranked_geojson(latlon: Any, scores: Any, sources: list[str]) -> dict[str, Any]:
    """GeoJSON FeatureCollection of ranked ``(lat, lon)`` candidates."""
    feats = []
    for r, ((lat, lon), s, src) in enumerate(zip(latlon, scores, sources, strict=True), 1):
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
                "properties": {"rank": r, "score": float(s), "source": src},
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def geolocate(
    photo: Annotated[Path, typer.Argument(help="the photo (JPEG/PNG) to geolocate")],
    database: Annotated[
        Path, typer.Option("--database", help="retrieval database in MP16-Pro layout "
                           "(MP16_Pro_places365.csv + images/)")
    ],
    clip: Annotated[
        Path | None, typer.Option("--clip", help="local CLIP checkpoint folder (HF layout); "
                                  "without it a tiny random tower is used (tests only)")
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="aligned G3 heads (save_model format); "
                                  "without it the heads are aligned on the database first")
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="alignment epochs without --checkpoint")] = 5,
    save_checkpoint: Annotated[
        Path | None, typer.Option("--save-checkpoint", help="write the aligned heads here "
                                  "(reuse them with --checkpoint)")
    ] = None,
    lmm_url: Annotated[
        str | None, typer.Option("--lmm-url", help="OpenAI-compatible endpoint, e.g. "
                                 "http://127.0.0.1:8000/v1")
    ] = None,
    lmm_model: Annotated[str, typer.Option("--lmm-model", help="model name for --lmm-url")] = "",
    lmm_key_env: Annotated[
        str | None, typer.Option("--lmm-key-env", help="environment variable holding the API key")
    ] = None,
    lmm_path: Annotated[
        Path | None, typer.Option("--lmm-path", help="local transformers image-text model folder")
    ] = None,
    lmm_max_tokens: Annotated[
        int, typer.Option("--lmm-max-tokens", help="most tokens per LMM answer (published: 200)")
    ] = 200,
    top: Annotated[int, typer.Option("--top", help="how many ranked candidates to print")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="seed of the alignment and tiny towers")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="print GeoJSON")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="also write the GeoJSON here")] = None,
) -> None:
    """Geolocate a photo with G3: retrieval, LMM geo-diversification, geo-verification.

    Without --lmm-url / --lmm-path the LMM is the rule-based stand-in (NeighbourVoteLMM), which
    only votes among the retrieved coordinates: it is not a multimodal model.
    """
    if not photo.is_file():
        raise InvalidInputError(f"photo {str(photo)!r} does not exist")
    if top < 1:
        raise InvalidInputError(f"--top must be >= 1, got {top}")
    if epochs < 1:
        raise InvalidInputError(f"--epochs must be >= 1, got {epochs}")
    if lmm_url and lmm_path:
        raise InvalidInputError("give at most one of --lmm-url and --lmm-path")
    if lmm_url and not lmm_model:
        raise InvalidInputError("--lmm-url needs --lmm-model")
    from .runner import build_and_predict

    ranked = build_and_predict(
        photo, database, clip=clip, checkpoint=checkpoint, epochs=epochs,
        lmm_url=lmm_url, lmm_model=lmm_model,
        api_key=os.environ.get(lmm_key_env) if lmm_key_env else None,
        lmm_path=lmm_path, seed=seed, save_checkpoint=save_checkpoint,
        lmm_max_tokens=lmm_max_tokens,
    )
    n = min(top, len(ranked.latlon))
    gj = ranked_geojson(ranked.latlon[:n], ranked.scores[:n], ranked.sources[:n])
    if out is not None:
        from geoneurips.io import write_json

        write_json(out, gj)
    if json_output:
        typer.echo(json.dumps(gj))
        return
    for f in gj["features"]:
        lon, lat = f["geometry"]["coordinates"]
        p = f["properties"]
        typer.echo(f"{p['rank']:>2}  lat {lat:9.5f}  lon {lon:10.5f}  score {p['score']:.4f}  "
                   f"{p['source']}")
