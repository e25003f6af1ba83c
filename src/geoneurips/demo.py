"""The demo contract shared by every system.

A system's demo is a function ``demo(out_dir: Path, quick: bool = False, seed: int = 0)``
that builds its embedded synthetic data (through its fixture writer and dataset class),
trains or runs the method, evaluates it with the paper's metrics against **every** baseline
it computed (the paper's cheap baselines and the method a practitioner would try first) and
the ablations that remove the paper's contribution, and returns :func:`finish`'s
:class:`DemoResult`, which has written a PNG figure and a JSON result into ``out_dir``.

The rules :func:`finish` enforces (the developers' guide, "it beats the strongest
baseline"):

- ``beats_baseline`` compares the method with the **strongest** baseline on the primary
  metric (the best of all of them), never with a chosen one, and needs the stated margin.
- Every metric the demo reports declares its direction (``"max"``, ``"min"`` or ``"info"``
  for numbers that are context, such as a bit rate that is fixed by design). Any metric on
  which the method is worse than the best baseline is a *regression*: it is listed in the
  result and the report, and ``beats_baseline`` stays false unless the demo explains it in
  ``regressions_explained`` (the explanation is printed beside it; nothing is hidden).
- Ablations (the method without the paper's component) are reported beside the baselines;
  they do not decide ``beats_baseline``, the report shows how much the component adds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .io import atomic_path, write_json

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DemoFunction",
    "DemoResult",
    "Direction",
    "Regression",
    "decide",
    "finish",
    "new_figure",
]

Direction = Literal["max", "min", "info"]


@dataclass(frozen=True)
class Regression:
    """A metric on which the method is worse than the best baseline on that metric.

    Attributes:
        metric: the metric's name.
        ours: the method's value.
        best: the best baseline's value on this metric.
        best_baseline: which baseline holds it.
        explanation: the demo's explanation ("" when it gave none: then the demo fails).
    """

    metric: str
    ours: float
    best: float
    best_baseline: str
    explanation: str = ""


@dataclass
class DemoResult:
    """What a demo reports (also the shape of ``geoneurips demo ID --json``).

    Attributes:
        system: system id.
        metrics: the method's metrics (paper conventions), name -> value.
        baselines: every baseline computed, name -> metrics (each holds ``primary``).
        strongest_baseline: the name of the best baseline on ``primary``.
        baseline: the strongest baseline's metrics (``baselines[strongest_baseline]``).
        ablations: the method without a component, name -> metrics (reported, not deciding).
        beats_baseline: the method beats the strongest baseline on ``primary`` by more than
            ``margin`` and every regression on another metric is explained.
        primary: name of the metric that decides ``beats_baseline``.
        margin: the margin required on ``primary`` (in the metric's units).
        directions: metric -> ``"max"``, ``"min"`` or ``"info"``.
        regressions: metrics on which the method is worse than the best baseline.
        seconds: wall time of the demo.
        artifacts: ``{"figure": png path, "result": json path}``.
        details: anything else worth reporting (sizes, settings, extra numbers).
    """

    system: str
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    strongest_baseline: str
    baseline: dict[str, float]
    beats_baseline: bool
    primary: str
    margin: float
    seconds: float
    ablations: dict[str, dict[str, float]] = field(default_factory=dict)
    directions: dict[str, str] = field(default_factory=dict)
    regressions: list[dict[str, Any]] = field(default_factory=list)
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


def _better(a: float, b: float, direction: str) -> bool:
    """Whether ``a`` is strictly better than ``b`` (NaN is never better)."""
    if math.isnan(a):
        return False
    if math.isnan(b):
        return True
    return a > b if direction == "max" else a < b


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`decide`."""

    beats: bool
    strongest: str
    regressions: tuple[Regression, ...]


def decide(
    metrics: Mapping[str, float],
    baselines: Mapping[str, Mapping[str, float]],
    *,
    primary: str,
    margin: float,
    directions: Mapping[str, str],
    regressions_explained: Mapping[str, str] | None = None,
) -> Decision:
    """Pick the strongest baseline on ``primary`` and decide whether the method beats it.

    Args:
        metrics: the method's metrics.
        baselines: name -> metrics; every one must hold ``primary``.
        primary: the deciding metric.
        margin: the method must be better than the strongest baseline by more than this.
        directions: ``"max"``/``"min"``/``"info"`` for every metric in ``metrics``.
        regressions_explained: metric -> why the method may be worse there.

    Raises:
        ValueError: no baseline, a baseline without ``primary``, a metric without a
            direction, an unknown direction, or ``primary`` marked ``"info"``.
    """
    if not baselines:
        raise ValueError("a demo must compute at least one baseline")
    unknown = [k for k in metrics if k not in directions]
    if unknown:
        raise ValueError(f"metrics without a direction (max/min/info): {unknown}")
    bad = {k: v for k, v in directions.items() if v not in ("max", "min", "info")}
    if bad:
        raise ValueError(f"unknown metric directions: {bad}")
    if primary not in metrics:
        raise ValueError(f"primary metric {primary!r} is not among the method's metrics")
    dp = directions[primary]
    if dp == "info":
        raise ValueError(f"primary metric {primary!r} cannot be 'info'")
    missing = [n for n, b in baselines.items() if primary not in b]
    if missing:
        raise ValueError(f"baselines without the primary metric {primary!r}: {missing}")
    explained = dict(regressions_explained or {})

    strongest = ""
    for name, b in baselines.items():
        if not strongest or _better(float(b[primary]), float(baselines[strongest][primary]), dp):
            strongest = name
    m = float(metrics[primary])
    s = float(baselines[strongest][primary])
    gain = (m - s) if dp == "max" else (s - m)
    beats = not math.isnan(gain) and gain > margin

    regressions: list[Regression] = []
    for k, v in metrics.items():
        d = directions[k]
        if d == "info" or k == primary:
            continue
        holders = {n: float(b[k]) for n, b in baselines.items() if k in b}
        if not holders:
            continue
        best_name = ""
        for n, bv in holders.items():
            if not best_name or _better(bv, holders[best_name], d):
                best_name = n
        if _better(holders[best_name], float(v), d):
            regressions.append(
                Regression(k, float(v), holders[best_name], best_name, explained.get(k, ""))
            )
    if any(not r.explanation for r in regressions):
        beats = False
    return Decision(bool(beats), strongest, tuple(regressions))


def finish(
    system: str,
    metrics: Mapping[str, float],
    *,
    baselines: Mapping[str, Mapping[str, float]],
    primary: str,
    margin: float,
    directions: Mapping[str, str],
    figure: Figure,
    out_dir: str | Path,
    started: float,
    ablations: Mapping[str, Mapping[str, float]] | None = None,
    regressions_explained: Mapping[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> DemoResult:
    """Decide ``beats_baseline`` (see :func:`decide`), write the figure and JSON atomically.

    Args:
        system: system id (file names are ``<system>.png`` and ``<system>.json``).
        metrics: method metrics; must contain ``primary``.
        baselines: every baseline computed, name -> metrics (each with ``primary``).
        primary: the deciding metric.
        margin: the method must beat the strongest baseline by more than this.
        directions: ``"max"``/``"min"``/``"info"`` for every reported metric.
        figure: the figure to save (closed afterwards).
        out_dir: output folder (created).
        started: ``time.perf_counter()`` at the start of the demo.
        ablations: the method without a component, name -> metrics (reported only).
        regressions_explained: metric -> why the method may be worse than a baseline there.
        details: extra JSON-able information.
    """
    import matplotlib.pyplot as plt

    decision = decide(
        metrics,
        baselines,
        primary=primary,
        margin=margin,
        directions=directions,
        regressions_explained=regressions_explained,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{system}.png"
    with atomic_path(png) as tmp:
        figure.savefig(tmp, dpi=90, bbox_inches="tight", format="png")
    plt.close(figure)
    clean = {n: {k: float(v) for k, v in b.items()} for n, b in baselines.items()}
    result = DemoResult(
        system=system,
        metrics={k: float(v) for k, v in metrics.items()},
        baselines=clean,
        strongest_baseline=decision.strongest,
        baseline=dict(clean[decision.strongest]),
        beats_baseline=decision.beats,
        primary=primary,
        margin=float(margin),
        seconds=round(time.perf_counter() - started, 2),
        ablations={n: {k: float(v) for k, v in a.items()} for n, a in (ablations or {}).items()},
        directions={k: str(v) for k, v in directions.items()},
        regressions=[asdict(r) for r in decision.regressions],
        artifacts={"figure": str(png), "result": str(out / f"{system}.json")},
        details=details or {},
    )
    write_json(out / f"{system}.json", result.to_json())
    return result
