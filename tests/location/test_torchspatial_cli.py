"""The ``geobias`` task command through typer's CliRunner."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from geoneurips.errors import InvalidInputError
from geoneurips.location.torchspatial.cli import geobias
from geoneurips.location.torchspatial.geobias import geobias_score


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    app.command()(geobias)
    return app


@pytest.fixture()
def sample_csv(tmp_path: Path, real_data: Path) -> Path:
    src = real_data / "torchspatial" / "eval_birdsnap_ebird_meta_test_Sphere2Vec-sphereC.csv"
    frame = pd.read_csv(src, index_col=0).iloc[:160]  # includes rows without coordinates
    path = tmp_path / "results.csv"
    frame.to_csv(path)
    return path


def test_cli_json_matches_library(app: typer.Typer, sample_csv: Path) -> None:
    res = CliRunner().invoke(app, [str(sample_csv), "--value", "hit@1", "--drop-nan", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    ref = geobias_score(pd.read_csv(sample_csv), "hit@1", dropna=True)
    assert out["unmarked"] == pytest.approx(ref["unmarked"])
    assert out["marked"] == pytest.approx(ref["marked"])
    assert out["n"] == ref["n"] and out["dropped"] > 0


def test_cli_ties_average(app: typer.Typer, sample_csv: Path) -> None:
    args = [str(sample_csv), "--value", "hit@1", "--drop-nan", "--json", "--ties", "average"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    ref = geobias_score(pd.read_csv(sample_csv), "hit@1", dropna=True, ties="average")
    assert json.loads(res.stdout)["marked"] == pytest.approx(ref["marked"])
    bad = CliRunner().invoke(app, [*args[:-1], "random"])
    assert bad.exit_code != 0


def test_cli_table_and_radius(app: typer.Typer, sample_csv: Path) -> None:
    res = CliRunner().invoke(app, [str(sample_csv), "--drop-nan", "--radius-km", "50"])
    assert res.exit_code == 0, res.output
    assert "unmarked GBS" in res.stdout and "50 km" in res.stdout
    assert "marked GBS (" not in res.stdout


def test_cli_bad_inputs(app: typer.Typer, sample_csv: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    cases = {
        "NaN": [str(sample_csv), "--value", "hit@1"],  # NaN rows without --drop-nan
        "lacks column": [str(sample_csv), "--value", "hit@5", "--drop-nan"],
        "does not exist": [str(tmp_path / "nope.csv")],
        "positive": [str(sample_csv), "--radius-km", "0", "--drop-nan"],
    }
    for message, args in cases.items():
        res = runner.invoke(app, args)
        assert res.exit_code != 0
        assert isinstance(res.exception, InvalidInputError), (message, res.exception)
        assert message in str(res.exception)
    swapped = tmp_path / "swapped.csv"
    pd.DataFrame({"lon": [10.0, 20.0], "lat": [120.0, 5.0]}).to_csv(swapped, index=False)
    res = runner.invoke(app, [str(swapped)])
    assert isinstance(res.exception, InvalidInputError) and "latitude" in str(res.exception)


def test_cli_module_imports_no_heavy_library() -> None:
    import subprocess

    code = (
        "import sys; import geoneurips.location.torchspatial.cli; "
        "import geoneurips.location.torchspatial; "
        "heavy = [m for m in ('torch', 'sklearn', 'pandas') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
