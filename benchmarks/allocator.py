"""Demo wall time with glibc's default allocator settings vs ``geoneurips.allocator``'s.

Runs ``geoneurips demo <id> --quick --json`` for each system given, ``REPEATS`` times, as
a pair of fresh processes started together (one per core, as the test suite's two
workers run): one with glibc's defaults (``GEONEURIPS_MALLOC=default``), one tuned. Both
share whatever else loads the host, which on a shared machine varies more between runs
than the effect measured. Reports each run's wall time, minor page faults and peak RSS
(``wait4`` of the child), the tuned / default wall ratio of each pair, and whether both
settings printed the same metrics (they must: the allocator changes no arithmetic).

    OMP_NUM_THREADS=1 python benchmarks/allocator.py [REPEATS] [SYSTEM ...]
    (default: 2 sgnet feinfn kurosiwo)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

GEONEURIPS = str(Path(sys.executable).with_name("geoneurips"))


def start(system: str, tuned: bool, out: Path) -> tuple[subprocess.Popen[str], float]:
    """A quick demo in a fresh process (with or without the settings), and its start time."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_",
                        "GLIBC_TUNABLES", "LD_PRELOAD", "GEONEURIPS_MALLOC"}}
    if not tuned:
        env["GEONEURIPS_MALLOC"] = "default"
    cmd = [GEONEURIPS, "demo", system, "--quick", "--json", "--out", str(out)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True), time.perf_counter()


def finish(child: subprocess.Popen[str], started: float
           ) -> tuple[float, float, int, float, dict[str, float]]:
    """(wall s, CPU s, minor faults, peak RSS MiB, metrics) of a started demo, when it
    ends (call it from one thread per child: the wall time is read when the child ends)."""
    assert child.stdout is not None
    stdout = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{child.args} failed: {os.waitstatus_to_exitcode(status)}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_minflt, usage.ru_maxrss / 1024, json.loads(stdout)["metrics"]


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    systems = sys.argv[2:] or ["sgnet", "feinfn", "kurosiwo"]
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    for system in systems:
        ratios: list[float] = []
        cpu_ratios: list[float] = []
        same = True
        for r in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                # both at once, one core each: they share whatever else loads the host
                runs = {tuned: start(system, tuned, Path(tmp) / str(tuned))
                        for tuned in ((False, True) if r % 2 == 0 else (True, False))}
                with ThreadPoolExecutor(2) as pool:
                    waits = {tuned: pool.submit(finish, *run) for tuned, run in runs.items()}
                    done = {tuned: wait.result() for tuned, wait in waits.items()}
            for tuned in (False, True):
                wall, cpu, faults, rss, _ = done[tuned]
                print(f"{system} {'tuned  ' if tuned else 'default'} run {r}: wall {wall:6.1f} s, "
                      f"CPU {cpu:6.1f} s, {faults:9d} minor faults, peak RSS {rss:6.0f} MiB",
                      flush=True)
            ratios.append(done[True][0] / done[False][0])
            cpu_ratios.append(done[True][1] / done[False][1])
            same = same and done[True][4] == done[False][4]
        print(f"{system}: tuned / default wall per pair {[round(x, 3) for x in ratios]} "
              f"(median {statistics.median(ratios):.3f}), CPU per pair "
              f"{[round(x, 3) for x in cpu_ratios]}; identical metrics: {same}", flush=True)


if __name__ == "__main__":
    main()
