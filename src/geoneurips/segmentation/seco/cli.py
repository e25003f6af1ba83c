"""``geoneurips seco-refine``: SeCo on an image and its pseudo-labels (no heavy import here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["seco_refine"]


def _int_list(text: str, what: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise typer.BadParameter(f"{what} {text!r} must be comma-separated integers") from exc


def seco_refine(
    image: Annotated[Path, typer.Argument(help="image GeoTIFF (RGB bands)")],
    pseudo: Annotated[Path, typer.Argument(help="pseudo-label GeoTIFF, same grid, 255 = ignore")],
    output: Annotated[Path, typer.Option("-o", "--output", help="refined labels (.tif or .png)")],
    num_classes: Annotated[int, typer.Option(help="number of classes (LoveDA: 7)")] = 7,
    things: Annotated[
        str, typer.Option(help="comma-separated 'thing' class ids (LoveDA: building = 1)")
    ] = "1",
    bands: Annotated[str, typer.Option(help="three 1-based image bands used as RGB")] = "1,2,3",
    sam_checkpoint: Annotated[
        Path | None, typer.Option(help="local SAM checkpoint (sam_vit_b/l/h .pth)")
    ] = None,
    sam_type: Annotated[
        str | None, typer.Option(help="vit_b, vit_l or vit_h (guessed when omitted)")
    ] = None,
    tiny_sam: Annotated[
        bool, typer.Option(help="random tiny SAM (smoke tests only, meaningless output)")
    ] = False,
    classifier: Annotated[
        str, typer.Option(help="SCC classifier: tiny, resnet18, resnet50, resnet101 (paper)")
    ] = "tiny",
    classifier_checkpoint: Annotated[
        Path | None, typer.Option(help="local torchvision ResNet weights for the classifier")
    ] = None,
    epochs: Annotated[int, typer.Option(help="SCC classifier epochs")] = 12,
    filter_mode: Annotated[
        str, typer.Option(help="SCC filter (both_loss = paper; none keeps all components)")
    ] = "both_loss",
    psa_only: Annotated[bool, typer.Option(help="skip SCC (PSA only)")] = False,
    tile_size: Annotated[
        int, typer.Option(help="PSA tile edge (and strip height of the component pass)")
    ] = 1024,
    overlap: Annotated[int, typer.Option(help="tile overlap in pixels")] = 64,
    seed: Annotated[int, typer.Option(help="seed of the SCC classifier")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Refine pseudo-labels with SeCo (PSA + SCC); write a georeferenced label map.

    PSA runs tile by tile; SCC trains one classifier over the components of the whole
    raster (components may cross tiles) and sets its thresholds over all of them.
    """
    from .model import SCCConfig
    from .pipeline import build_seco, refine_raster

    thing_ids = _int_list(things, "things")
    band_list = _int_list(bands, "bands")
    if classifier == "tiny":
        scc = SCCConfig.tiny(epochs=epochs, filter_mode=filter_mode, seed=seed)
    else:
        scc = SCCConfig(
            arch=classifier, epochs=epochs, filter_mode=filter_mode,  # type: ignore[arg-type]
            checkpoint=None if classifier_checkpoint is None else str(classifier_checkpoint),
            seed=seed,
        )
    seco = build_seco(
        num_classes, thing_ids, sam_checkpoint=sam_checkpoint, sam_type=sam_type,
        tiny_sam=tiny_sam, scc=scc, psa_only=psa_only,
    )
    res = refine_raster(image, pseudo, output, seco, bands=band_list, tile_size=tile_size,
                        overlap=overlap, progress=not json_output)
    summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in res.items()}
    if json_output:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(
            f"labelled {100 * res['labelled_fraction']:.1f} % of pixels, classes "
            f"{res['classes']} -> {output}"
        )
