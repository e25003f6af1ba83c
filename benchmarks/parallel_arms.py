"""Wall time of a demo whose arms run side by side (``geoneurips.parallel``) vs in order.

Runs SynRS3D's full demo (seed 0) with ``workers=1`` (every arm in this process, one
thread: the old way) and ``workers=2`` (RS3DAda's branches and the two baselines on two
one-thread worker processes), alternating, and reports each run's wall time, the ratio,
and whether both wrote the same metrics (they must: each arm runs on one thread either
way).

    python benchmarks/parallel_arms.py [REPEATS] [OUT_DIR]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> None:
    from geoneurips.segmentation.synrs3d.pipeline import demo

    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("bench_parallel_arms")
    walls: dict[int, list[float]] = {1: [], 2: []}
    metrics: dict[int, dict[str, object]] = {}
    for r in range(repeats):
        for workers in (1, 2):
            folder = out / f"w{workers}_{r}"
            t = time.perf_counter()
            demo(folder, quick=False, seed=0, workers=workers)
            walls[workers].append(time.perf_counter() - t)
            j = json.loads((folder / "synrs3d.json").read_text())
            metrics[workers] = {"method": j["metrics"], "baselines": j["baselines"],
                                "ablations": j["ablations"]}
    best = {w: min(v) for w, v in walls.items()}
    print(json.dumps({"wall_s": {str(w): [round(x, 1) for x in v] for w, v in walls.items()},
                      "ratio_best": round(best[1] / best[2], 2),
                      "same_metrics": metrics[1] == metrics[2]}, indent=1))


if __name__ == "__main__":
    main()
