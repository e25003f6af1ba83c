"""geoneurips.parallel: independent arms on separate one-thread processes.

The jobs here are library functions (a worker imports a job's function by module name;
this test module is not importable under that name: pytest's importlib mode, and a
``tests`` package from another distribution can shadow it). That two processes give each
job's exact one-thread result on a real training run is tested with SynRS3D's jobs
(``tests/segmentation/test_synrs3d_training.py``).
"""

from __future__ import annotations

import operator
from collections import OrderedDict

import pytest
import torch

from geoneurips.parallel import available_cores, run_jobs


def test_workers_run_one_thread_each_and_keep_the_order() -> None:
    """Each worker process runs one intra-op thread (the default would be the machine's
    cores), and results come back in the order the jobs were given."""
    jobs = {"b": (torch.get_num_threads, ()), "a": (torch.arange, (5,)),
            "c": (torch.get_num_threads, ())}
    out = run_jobs(jobs, workers=2)
    assert list(out) == ["b", "a", "c"]
    assert out["b"] == out["c"] == 1
    assert torch.equal(out["a"], torch.arange(5))


def test_in_process_path_pins_one_thread_and_restores() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out = run_jobs({"x": (torch.get_num_threads, ())}, workers=1)
        assert out == {"x": 1} and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_errors_and_transport_are_strict() -> None:
    """A job's exception reaches the caller; a result that is not
    tensors, containers and plain values is refused by the weights-only reader (nothing
    arbitrary is unpickled); a bad worker count is refused."""
    with pytest.raises(ZeroDivisionError):
        run_jobs({"x": (operator.truediv, (1, 0))}, workers=1)
    assert run_jobs({"d": (OrderedDict, ({"w": torch.ones(2)},))}, workers=1)["d"]["w"].sum() == 2
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        run_jobs({"x": (operator.attrgetter, ("real",))}, workers=1)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers"):
            run_jobs({"x": (torch.get_num_threads, ())}, workers=bad)  # type: ignore[arg-type]
    assert available_cores() >= 1
