"""The ``gomaa-convert`` task command through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from geoneurips.errors import InvalidInputError
from geoneurips.location.gomaageo.cli import gomaa_convert


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    app.command()(gomaa_convert)
    return app


def test_convert_roundtrip(app: typer.Typer, tmp_path: Path) -> None:
    d = {f"img_{i}": np.full((25, 6), i, dtype=np.float32) for i in (0, 1, 2, 10)}
    np.save(tmp_path / "e.npy", d, allow_pickle=True)
    res = CliRunner().invoke(app, [str(tmp_path / "e.npy"), str(tmp_path / "e.npz")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["shape"] == [4, 25, 6]
    with np.load(tmp_path / "e.npz", allow_pickle=False) as z:
        assert z["names"].tolist() == ["img_0", "img_1", "img_2", "img_10"]  # numeric order
        np.testing.assert_array_equal(z["embeddings"][3], d["img_10"])


def test_convert_bad_inputs(app: typer.Typer, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, [str(tmp_path / "missing.npy"), str(tmp_path / "o.npz")])
    assert isinstance(res.exception, InvalidInputError)
    np.save(tmp_path / "e.npy", {"img_0": np.zeros((25, 2))}, allow_pickle=True)
    res = CliRunner().invoke(app, [str(tmp_path / "e.npy"), str(tmp_path / "o.txt")])
    assert isinstance(res.exception, InvalidInputError)
    assert not (tmp_path / "o.txt").exists()
    np.save(tmp_path / "mixed.npy", {"img_0": np.zeros((25, 2)), "img_1": np.zeros((25, 3))},
            allow_pickle=True)
    res = CliRunner().invoke(app, [str(tmp_path / "mixed.npy"), str(tmp_path / "m.npz")])
    assert isinstance(res.exception, InvalidInputError)
    assert not (tmp_path / "m.npz").exists()
