"""GOMAA-Geo task command: convert a published pickled embedding file into a safe ``.npz``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["gomaa_convert"]


def gomaa_convert(
    src: Annotated[Path, typer.Argument(help="published GOMAA-Geo embedding .npy (pickled dict)")],
    dst: Annotated[Path, typer.Argument(help="output .npz (names, embeddings; no pickle)")],
) -> None:
    """Convert a GOMAA-Geo embedding .npy (pickled dict) into a pickle-free .npz.

    The ``{"img_i": [25, 512]}`` file is read with the restricted unpickler (numpy arrays and
    plain containers only: any other pickled object is refused, never run); the ``.npz``
    (``names``, ``embeddings``) loads with ``np.load(allow_pickle=False)``.
    """
    from geoneurips.errors import InvalidInputError

    from .data import convert_embedding_dict

    if dst.suffix != ".npz":
        raise InvalidInputError(f"output must end in .npz, got {str(dst)!r}")
    if not src.is_file():
        raise InvalidInputError(f"input file {str(src)!r} does not exist")
    out = convert_embedding_dict(src, dst)
    import numpy as np

    with np.load(out, allow_pickle=False) as z:
        shape = list(z["embeddings"].shape)
    typer.echo(json.dumps({"output": str(out), "entries": shape[0], "shape": shape}))
