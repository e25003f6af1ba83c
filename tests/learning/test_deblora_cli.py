"""``deblora-fit`` and ``deblora-classify`` through typer's CliRunner (tiny random backbone)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from geoneurips.errors import CheckpointError, DataNotFoundError, InvalidInputError
from geoneurips.learning.deblora.cli import deblora_classify, deblora_fit
from geoneurips.learning.deblora.synthetic import group_counts, write_synthetic_crops


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("fit")(deblora_fit)
    app.command("classify")(deblora_classify)
    return app


@pytest.mark.slow
def test_fit_then_classify(tmp_path: Path) -> None:
    root = write_synthetic_crops(tmp_path / "crops", "train", group_counts(6, 3, 2), seed=0)
    ckpt = tmp_path / "deblora.pt"
    runner = CliRunner()
    res = runner.invoke(_app(), ["fit", str(root), "-o", str(ckpt), "--tiny"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["n_train"] == 4 * 6 + 5 * 3 + 6 * 2
    chips = root / "train" / "plane"
    out = tmp_path / "pred" / "pred.csv"
    res = runner.invoke(_app(), ["classify", str(chips), "--checkpoint", str(ckpt),
                                 "-o", str(out)])
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert lines[0] == "chip,class,score" and len(lines) == 1 + 6
    from geoneurips.learning.deblora.data import DOTA_CLASSES

    for ln in lines[1:]:
        name, cls, score = ln.split(",")
        assert name.endswith(".png") and cls in DOTA_CLASSES and 0 < float(score) <= 1


def test_bad_inputs(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(_app(), ["classify", str(tmp_path / "nope"), "--checkpoint",
                                 str(tmp_path / "c.pt"), "-o", str(tmp_path / "o.csv")])
    assert isinstance(res.exception, InvalidInputError)
    (tmp_path / "empty").mkdir()
    res = runner.invoke(_app(), ["classify", str(tmp_path / "empty"), "--checkpoint",
                                 str(tmp_path / "c.pt"), "-o", str(tmp_path / "o.csv")])
    assert isinstance(res.exception, InvalidInputError)
    write_synthetic_crops(tmp_path / "chips", "x", {"plane": 1}, seed=0)
    (tmp_path / "c.pt").write_bytes(b"not a checkpoint")
    res = runner.invoke(_app(), ["classify", str(tmp_path / "chips"), "--checkpoint",
                                 str(tmp_path / "c.pt"), "-o", str(tmp_path / "o.csv")])
    assert isinstance(res.exception, CheckpointError)
    assert not (tmp_path / "o.csv").exists()
    res = runner.invoke(_app(), ["fit", str(tmp_path / "none"), "-o", str(tmp_path / "m.pt")])
    assert isinstance(res.exception, DataNotFoundError)
