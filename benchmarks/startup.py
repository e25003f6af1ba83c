"""Start-up cost of ``import geoneurips`` and ``geoneurips --help`` beyond bare Python.

Run: ``python benchmarks/startup.py``. Reports the median over repeated runs of each command
minus the median of ``python -c pass`` (the target in the foundation issue: about 0.3 s).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def median_seconds(cmd: list[str], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main(repeat: int = 7) -> None:
    base = median_seconds([sys.executable, "-c", "pass"], repeat)
    cases = {
        "import geoneurips": [sys.executable, "-c", "import geoneurips"],
        "geoneurips list --json": [sys.executable, "-m", "geoneurips.cli.main", "list", "--json"],
        "geoneurips --help": [sys.executable, "-m", "geoneurips.cli.main", "--help"],
    }
    print(f"python -c pass: {base:.3f} s (subtracted below)")
    for name, cmd in cases.items():
        print(f"{name:28s} {median_seconds(cmd, repeat) - base:+.3f} s")


if __name__ == "__main__":
    main()
