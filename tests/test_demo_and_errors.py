"""The demo contract (beats_baseline logic, artifacts) and the error messages."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from geoneurips.demo import decide, finish, new_figure
from geoneurips.errors import DataNotFoundError, DependencyMissingError, GeoNeuripsError


@pytest.mark.parametrize(
    ("ours", "base", "higher", "margin", "expected"),
    [
        (0.9, 0.5, True, 0.1, True),
        (0.55, 0.5, True, 0.1, False),
        (1.0, 2.0, False, 0.5, True),
        (1.8, 2.0, False, 0.5, False),
    ],
)
def test_finish_decides_beats_baseline(
    tmp_path: Path, ours: float, base: float, higher: bool, margin: float, expected: bool
) -> None:
    fig, _ = new_figure(1, 1)
    res = finish(
        "sgnet",
        {"m": ours},
        baselines={"b": {"m": base}},
        primary="m",
        margin=margin,
        directions={"m": "max" if higher else "min"},
        figure=fig,
        out_dir=tmp_path,
        started=time.perf_counter(),
    )
    assert res.beats_baseline is expected
    saved = json.loads(Path(res.artifacts["result"]).read_text())
    assert saved["beats_baseline"] is expected and saved["margin"] == margin
    assert Path(res.artifacts["figure"]).stat().st_size > 0


def test_decide_uses_the_strongest_baseline() -> None:
    """Beating the weakest baseline is not enough: the strongest decides."""
    baselines = {"weak": {"f1": 0.2}, "strong": {"f1": 0.75}, "mid": {"f1": 0.5}}
    d = decide({"f1": 0.8}, baselines, primary="f1", margin=0.1, directions={"f1": "max"})
    assert d.strongest == "strong" and d.beats is False
    d = decide({"f1": 0.9}, baselines, primary="f1", margin=0.1, directions={"f1": "max"})
    assert d.strongest == "strong" and d.beats is True
    # lower is better: the smallest error is the strongest
    d = decide({"mae": 1.0}, {"a": {"mae": 3.0}, "b": {"mae": 1.2}}, primary="mae",
               margin=0.5, directions={"mae": "min"})
    assert d.strongest == "b" and d.beats is False
    # a NaN baseline is never the strongest, a NaN method never beats
    d = decide({"m": 0.5}, {"a": {"m": float("nan")}, "b": {"m": 0.1}}, primary="m",
               margin=0.1, directions={"m": "max"})
    assert d.strongest == "b" and d.beats
    d = decide({"m": float("nan")}, {"b": {"m": 0.1}}, primary="m", margin=0.0,
               directions={"m": "max"})
    assert not d.beats


def test_decide_unexplained_regression_fails() -> None:
    """A secondary metric worse than the best baseline's must be said, else no win."""
    metrics = {"psnr": 30.0, "sam": 3.0, "bpp": 0.1}
    baselines = {"a": {"psnr": 25.0, "sam": 2.0, "bpp": 0.5}, "b": {"psnr": 28.0, "sam": 4.0}}
    dirs = {"psnr": "max", "sam": "min", "bpp": "info"}
    d = decide(metrics, baselines, primary="psnr", margin=1.0, directions=dirs)
    assert d.beats is False and d.strongest == "b"
    assert [(r.metric, r.best_baseline, r.best) for r in d.regressions] == [("sam", "a", 2.0)]
    d = decide(metrics, baselines, primary="psnr", margin=1.0, directions=dirs,
               regressions_explained={"sam": "the method trades spectral fidelity"})
    assert d.beats is True and d.regressions[0].explanation.startswith("the method")


@pytest.mark.parametrize(
    ("metrics", "baselines", "dirs", "message"),
    [
        ({"m": 1.0, "x": 2.0}, {"b": {"m": 0.0}}, {"m": "max"}, "without a direction"),
        ({"m": 1.0}, {}, {"m": "max"}, "at least one baseline"),
        ({"m": 1.0}, {"b": {"x": 0.0}}, {"m": "max"}, "without the primary"),
        ({"m": 1.0}, {"b": {"m": 0.0}}, {"m": "info"}, "cannot be 'info'"),
        ({"m": 1.0}, {"b": {"m": 0.0}}, {"m": "up"}, "unknown metric directions"),
    ],
)
def test_decide_rejects_incomplete_contracts(
    metrics: dict[str, float], baselines: dict[str, dict[str, float]], dirs: dict[str, str],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        decide(metrics, baselines, primary="m", margin=0.0, directions=dirs)


def test_data_not_found_says_where() -> None:
    err = DataNotFoundError(
        "LocBench YFCC",
        "/data/yfcc",
        ["train_test_split.csv"],
        url="https://doi.org/x",
        layout="<root>/yfcc/",
    )
    msg = str(err)
    assert "/data/yfcc" in msg and "train_test_split.csv" in msg and "https://doi.org/x" in msg
    assert "<root>/yfcc/" in msg
    assert isinstance(err, FileNotFoundError) and isinstance(err, GeoNeuripsError)
    assert "pip install compressai" in str(DependencyMissingError("compressai", "COSMIC"))
