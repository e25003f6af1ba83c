"""The demo contract (beats_baseline logic, artifacts) and the error messages."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from geoneurips.demo import finish, new_figure
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
        {"m": base},
        primary="m",
        margin=margin,
        higher_is_better=higher,
        figure=fig,
        out_dir=tmp_path,
        started=time.perf_counter(),
    )
    assert res.beats_baseline is expected
    saved = json.loads(Path(res.artifacts["result"]).read_text())
    assert saved["beats_baseline"] is expected and saved["margin"] == margin
    assert Path(res.artifacts["figure"]).stat().st_size > 0


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
