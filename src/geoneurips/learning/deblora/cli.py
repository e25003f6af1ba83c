"""``geoneurips deblora-fit`` / ``deblora-classify`` (no heavy import at module level)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["deblora_classify", "deblora_fit"]

_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def deblora_fit(
    root: Annotated[Path, typer.Argument(help="DOTA object crops in debLoRA's layout")],
    output: Annotated[Path, typer.Option("-o", "--output", help="classifier checkpoint")],
    backbone: Annotated[str, typer.Option(help="timm model name")] = "vit_base_patch16_224",
    checkpoint: Annotated[
        Path | None, typer.Option(help="local backbone weights (never downloaded)")
    ] = None,
    size: Annotated[int, typer.Option(help="chip size fed to the backbone")] = 224,
    alpha: Annotated[float, typer.Option(help="calibration alpha (paper: 0.5)")] = 0.5,
    imbalance_alpha: Annotated[
        bool, typer.Option(help="larger alpha for rarer tail classes")
    ] = False,
    tiny: Annotated[
        bool, typer.Option(help="the tiny random test backbone at 32 px (smoke tests only)")
    ] = False,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Fit debLoRA (LoRA, K=32 calibration, debLoRA module, linear probe) on DOTA crops."""
    from .data import DOTA_CLASSES, DOTAObjectCrops
    from .model import DebLoRAConfig
    from .pipeline import fit_deblora, load_images, save_classifier

    cfg = DebLoRAConfig.tiny() if tiny else DebLoRAConfig(backbone=backbone)
    if tiny:
        size = 32
    cfg.alpha = alpha
    cfg.alpha_mode = "imbalance" if imbalance_alpha else "fixed"
    ds = DOTAObjectCrops(root, "train", size=size)
    x, y = load_images(ds)
    model = fit_deblora(x, y, ds.group_of()["tail"], len(DOTA_CLASSES), cfg,
                        checkpoint=checkpoint, seed=seed)
    save_classifier(output, model, cfg, DOTA_CLASSES, size)
    typer.echo(json.dumps({"checkpoint": str(output), "n_train": int(len(y))}))


def deblora_classify(
    folder: Annotated[Path, typer.Argument(help="folder of image chips")],
    checkpoint: Annotated[Path, typer.Option(help="classifier from deblora-fit")],
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV: chip, class, score")],
) -> None:
    """Classify every chip of a folder with a fitted debLoRA classifier (CSV, atomic)."""
    from geoneurips.errors import InvalidInputError
    from geoneurips.io import atomic_path

    from .pipeline import classify_chips, load_classifier

    if not folder.is_dir():
        raise InvalidInputError(f"{str(folder)!r} is not a folder of image chips")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in _EXTS)
    if not paths:
        raise InvalidInputError(f"no image chips ({', '.join(_EXTS)}) under {str(folder)!r}")
    model, classes, size = load_classifier(checkpoint)
    pred, score = classify_chips(model, paths, size)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output) as tmp:
        lines = ["chip,class,score"]
        lines += [f"{p.relative_to(folder).as_posix()},{classes[int(c)]},{float(s):.4f}"
                  for p, c, s in zip(paths, pred, score, strict=True)]
        tmp.write_text("\n".join(lines) + "\n")
    typer.echo(json.dumps({"output": str(output), "chips": len(paths)}))
