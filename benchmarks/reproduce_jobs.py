"""Wall time of ``geoneurips reproduce --quick`` (what ``make demo`` runs) with ``--jobs 1``
and ``--jobs 2``, side by side in one run, and whether both report the same numbers.

Each demo keeps its own thread count in a worker process (``threads=None`` in
``geoneurips.parallel.run_jobs``), so the rows must be equal apart from their timings.

    python benchmarks/reproduce_jobs.py [OUT_DIR]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def _run(jobs: int, out: Path) -> tuple[float, list[dict[str, object]]]:
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "geoneurips.cli.main", "reproduce", "--quick",
                          "--jobs", str(jobs), "--out", str(out), "--json"],
                         capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    rows = json.loads(res.stdout)["results"]
    keep = ("system", "metrics", "baselines", "beats_baseline")
    return wall, [{k: r.get(k) for k in keep} for r in rows]


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("bench_reproduce_jobs")
    walls, rows = {}, {}
    for jobs in (1, 2):
        walls[jobs], rows[jobs] = _run(jobs, out / f"jobs{jobs}")
    print(json.dumps({"wall_s": {str(j): round(w, 1) for j, w in walls.items()},
                      "ratio": round(walls[1] / walls[2], 2),
                      "same_rows": rows[1] == rows[2],
                      "systems": [r["system"] for r in rows[1]]}, indent=1))


if __name__ == "__main__":
    main()
