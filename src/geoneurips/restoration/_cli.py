"""What the restoration task commands share (light: typer and json only, no heavy import)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import typer

__all__ = ["exit_on_error"]


@contextmanager
def exit_on_error(json_output: bool) -> Iterator[None]:
    """Report a :class:`~geoneurips.errors.GeoNeuripsError` raised inside the block as one
    line, ``{"error": ...}`` on stdout with ``--json`` or ``error: ...`` on stderr otherwise,
    and exit with code 2, as every other command of ours does."""
    from ..errors import GeoNeuripsError

    try:
        yield
    except GeoNeuripsError as exc:
        if json_output:
            typer.echo(json.dumps({"error": str(exc)}))
        else:
            typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
