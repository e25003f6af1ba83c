"""Is there anything to forecast? A history-aware probe against the wet-day climatology.

The Terra demo's strongest baseline on the real UK rainfall is a per-node, per-month
wet-day median (:func:`.pipeline.climatology`), and no trained model of the benchmark
beats it on the published masked MAE (null 0: dry days are excluded, so only the *amount*
on wet days is scored). This module asks the question behind that result directly: given
the climatology itself plus summaries of the 30-day history, can a gradient-boosted model
trained with the L1 loss (the masked-MAE-optimal objective) predict the wet-day amount
better than the climatology? If it cannot, the history carries no usable signal at that
horizon and no forecaster can clear the strongest-baseline bar on this data.

Same protocol as the demo: the published windows (:func:`.data.prepare_windows`: 30-day
history, chronological 0.6/0.2/0.2 split), climatology from the training range, masked MAE
on the test split. Features per (window, node): the climatology at the target day, the
mean of the last 1, 7 and 30 days, the wet-day fraction over 30 days, the target month and
the node index. Run it on the released file with
``python -m geoneurips.forecasting.terra.predictability Rainfall_UK.h5``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .data import HISTORY, HORIZONS, TerraWindows, prepare_windows, read_rainfall_h5

__all__ = ["history_features", "predictability_probe"]


def _months(dates: NDArray[np.datetime64]) -> NDArray[np.int64]:
    return (dates.astype("datetime64[M]").astype(np.int64) % 12).astype(np.int64)


def history_features(
    w: TerraWindows, clim: NDArray[np.float32], months: NDArray[np.int64], start: int, horizon: int
) -> NDArray[np.float64]:
    """``(N, 7)`` features of the window starting at ``start`` for its ``horizon``-day target."""
    hist = w.raw[start : start + w.history].astype(np.float64)
    target_day = start + w.history + horizon - 1
    n = hist.shape[1]
    return np.stack(
        [
            clim[target_day].astype(np.float64),
            hist[-1],
            hist[-7:].mean(0),
            hist.mean(0),
            (hist > 0).mean(0),
            np.full(n, months[target_day], np.float64),
            np.arange(n, dtype=np.float64),
        ],
        axis=1,
    )


def predictability_probe(
    values: NDArray[np.floating[Any]],
    dates: NDArray[np.datetime64],
    *,
    horizons: Sequence[int] = (1, 7, 15, 30),
    stride: int = 3,
    n_estimators: int = 300,
    seed: int = 0,
) -> dict[int, dict[str, float]]:
    """Masked test MAE of the climatology and of an L1 LightGBM on history features.

    Returns ``{horizon: {"climatology": mae, "history_gbm": mae, "gain": clim - gbm,
    "test_points": n}}``. Training uses every ``stride``-th training window; the test split
    is complete. A positive ``gain`` means the history predicts the wet-day amount beyond the
    season.
    """
    import lightgbm as lgb

    from .pipeline import climatology

    w = prepare_windows(values, dates, history=HISTORY, horizons=HORIZONS)
    months = _months(dates)
    clim = climatology(w, dates)
    out: dict[int, dict[str, float]] = {}
    for h in horizons:
        if not 1 <= h <= w.future:
            raise ValueError(f"horizon {h} outside 1..{w.future}")
        parts: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
        for split, starts in (("train", w.starts["train"][::stride]), ("test", w.starts["test"])):
            x = np.concatenate([history_features(w, clim, months, int(s), h) for s in starts])
            y = np.concatenate([w.raw[int(s) + w.history + h - 1] for s in starts])
            wet = y != 0
            parts[split] = (x[wet], y[wet].astype(np.float64))
        model = lgb.LGBMRegressor(
            objective="l1",
            n_estimators=n_estimators,
            learning_rate=0.05,
            num_leaves=31,
            random_state=seed,
            n_jobs=1,
            verbose=-1,
        ).fit(*parts["train"])
        x_te, y_te = parts["test"]
        c = float(np.abs(x_te[:, 0] - y_te).mean())
        g = float(np.abs(model.predict(x_te) - y_te).mean())
        out[h] = {"climatology": c, "history_gbm": g, "gain": c - g, "test_points": len(y_te)}
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Print the probe for a released ``Rainfall_<R>.h5`` file."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        raise SystemExit("usage: python -m geoneurips.forecasting.terra.predictability FILE.h5")
    table = read_rainfall_h5(args[0])
    for h, r in predictability_probe(table.values, table.dates).items():
        print(
            f"horizon {h:2d}: climatology {r['climatology']:.3f}  history GBM "
            f"{r['history_gbm']:.3f}  gain {r['gain']:+.3f} mm/day  ({int(r['test_points'])} points)"
        )


if __name__ == "__main__":
    main()
