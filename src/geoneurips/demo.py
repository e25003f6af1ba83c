"""The demo contract shared by every system.

A system's demo is a function ``demo(out_dir: Path, quick: bool = False, seed: int = 0)``
that builds its embedded synthetic data (through its fixture writer and dataset class),
trains or runs the method, evaluates it with the paper's metrics against a trivial
baseline, and returns :func:`finish`'s :class:`DemoResult`, which has written a PNG figure
and a JSON result into ``out_dir``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .io import atomic_path, write_json

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DemoFunction", "DemoResult", "finish", "new_figure"]


@dataclass
class DemoResult:
    """What a demo reports (also the shape of ``geoneurips demo ID --json``).

    Attributes:
        system: system id.
        metrics: the method's metrics (paper conventions), name -> value.
        baseline: the same metrics for the trivial baseline.
        beats_baseline: whether the method beats the baseline by the stated margin on the
            primary metric.
        primary: name of the metric that decides ``beats_baseline``.
        margin: the margin required on ``primary``.
        seconds: wall time of the demo.
        artifacts: ``{"figure": png path, "result": json path}``.
        details: anything else worth reporting (sizes, settings, extra numbers).
    """

    system: str
    metrics: dict[str, float]
    baseline: dict[str, float]
    beats_baseline: bool
    primary: str
    margin: float
    seconds: float
    artifacts: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


class DemoFunction(Protocol):
    """Signature every registered demo follows."""

    def __call__(self, out_dir: Path, quick: bool = False, seed: int = 0) -> DemoResult: ...


def new_figure(ncols: int = 2, nrows: int = 1, size: float = 4.0) -> tuple[Figure, Any]:
    """A matplotlib figure on the non-interactive Agg backend (safe on headless machines)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    return fig, axes


def finish(
    system: str,
    metrics: dict[str, float],
    baseline: dict[str, float],
    *,
    primary: str,
    margin: float,
    higher_is_better: bool,
    figure: Figure,
    out_dir: str | Path,
    started: float,
    details: dict[str, Any] | None = None,
) -> DemoResult:
    """Decide ``beats_baseline``, write the figure and JSON atomically, return the result.

    Args:
        system: system id (file names are ``<system>.png`` and ``<system>.json``).
        metrics: method metrics; must contain ``primary``.
        baseline: baseline metrics; must contain ``primary``.
        primary: the deciding metric.
        margin: the method must be better than the baseline by more than this.
        higher_is_better: direction of ``primary``.
        figure: the figure to save (closed afterwards).
        out_dir: output folder (created).
        started: ``time.perf_counter()`` at the start of the demo.
        details: extra JSON-able information.
    """
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    m, b = float(metrics[primary]), float(baseline[primary])
    beats = (m - b > margin) if higher_is_better else (b - m > margin)
    png = out / f"{system}.png"
    with atomic_path(png) as tmp:
        figure.savefig(tmp, dpi=90, bbox_inches="tight", format="png")
    plt.close(figure)
    result = DemoResult(
        system=system,
        metrics={k: float(v) for k, v in metrics.items()},
        baseline={k: float(v) for k, v in baseline.items()},
        beats_baseline=bool(beats),
        primary=primary,
        margin=float(margin),
        seconds=round(time.perf_counter() - started, 2),
        artifacts={"figure": str(png), "result": str(out / f"{system}.json")},
        details=details or {},
    )
    write_json(out / f"{system}.json", result.to_json())
    return result
