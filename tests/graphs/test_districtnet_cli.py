"""The ``district`` task command on the real Paris and city1 instances."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from geoneurips.errors import InvalidInputError
from geoneurips.graphs.districtnet.cli import district
from geoneurips.graphs.districtnet.data import read_city, synthetic_city
from geoneurips.graphs.districtnet.pipeline import make_train_city, train_districtnet
from geoneurips.io import save_model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = [make_train_city(synthetic_city(12, 300 + i), 3, 3, i) for i in range(2)]
    model = train_districtnet(data, 1, samples=2, seed=0, hidden=16)
    return save_model(tmp_path_factory.mktemp("ckpt") / "dn.pt", model,
                      {"in_dim": 8, "hidden": 16})


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    app.command()(district)
    return app


def _check(units: Path, out: Path, lo: int, hi: int) -> list[int]:
    city = read_city(units)
    feats = json.loads(out.read_text())["features"]
    labels = [f["properties"]["DISTRICT"] for f in feats]
    assert len(labels) == city.n
    sizes = []
    for k in set(labels):
        members = {i for i, lab in enumerate(labels) if lab == k}
        assert lo <= len(members) <= hi
        seen, stack = {min(members)}, [min(members)]
        while stack:  # each district is connected
            for v in city.adjacency[stack.pop()]:
                if v in members and v not in seen:
                    seen.add(v)
                    stack.append(v)
        assert seen == members
        sizes.append(len(members))
    return sizes


def test_city1_exact_and_ils(app: typer.Typer, real_data: Path, checkpoint: Path,
                             tmp_path: Path) -> None:
    units = real_data / "districtnet" / "city1.geojson"
    for solver in ("exact", "ils"):
        out = tmp_path / f"{solver}.geojson"
        res = CliRunner().invoke(app, [str(units), "--size", "3", "-o", str(out), "--checkpoint",
                                       str(checkpoint), "--solver", solver, "--json",
                                       "--iterations", "10"])
        assert res.exit_code == 0, res.output
        info = json.loads(res.stdout.strip().splitlines()[-1])
        assert info["solver"] == solver
        assert len(_check(units, out, 2, 4)) == 10


@pytest.mark.slow
def test_paris_default_model(app: typer.Typer, real_data: Path, tmp_path: Path) -> None:
    """The real 120-BU Paris instance, target 6 (local search), model trained on the spot."""
    units = real_data / "districtnet" / "Paris.geojson"
    out = tmp_path / "paris.geojson"
    res = CliRunner().invoke(app, [str(units), "--size", "6", "-o", str(out), "--solver", "ils",
                                   "--iterations", "20"])
    assert res.exit_code == 0, res.output
    assert len(_check(units, out, 4, 8)) == 20  # N / t districts


def test_bad_input_leaves_no_output(app: typer.Typer, real_data: Path, checkpoint: Path,
                                    tmp_path: Path) -> None:
    units = real_data / "districtnet" / "city1.geojson"
    out = tmp_path / "o.geojson"
    for args in (["--size", "0"], ["--size", "3", "--solver", "magic"]):
        res = CliRunner().invoke(app, [str(units), "-o", str(out), "--checkpoint",
                                       str(checkpoint), *args])
        assert isinstance(res.exception, InvalidInputError)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
