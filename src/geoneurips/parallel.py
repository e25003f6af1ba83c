"""Independent jobs side by side (a demo's arms, whole demos), one process per job.

A demo that must decide the same on any machine trains inside :func:`.seed.single_thread`
(a float sum's order depends on the intra-op thread count). On the two cores the demos
are sized for, that leaves one core idle. :func:`run_jobs` gives each independent arm
(a baseline, the method, a group of branches sharing their first iterations) its own
process with one intra-op thread, so every arm computes exactly what it computes alone on
one thread, and the arms run at the same time.

Transport: a job's result travels back through ``torch.save`` and is read with
``torch.load(weights_only=True)``, so results are tensors, numpy-free containers of them
(dict, list, tuple) and plain Python numbers / strings - e.g. a ``state_dict()`` - and
no arbitrary object is unpickled in the parent.

Workers are started with ``spawn`` (no fork of a process whose OpenMP pool may be running)
and import torch once each (a few seconds): worth it for arms of tens of seconds, not for
short ones; ``workers=1`` runs the jobs in this process, in order, with the same result.
``geoneurips reproduce --jobs N`` runs whole demos this way, leaving each demo's thread
count to the demo (``threads=None``).
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Job", "available_cores", "run_jobs"]

#: A job: a module-level function (it is pickled by reference) and its arguments.
Job = tuple[Callable[..., Any], tuple[Any, ...]]


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def _to_bytes(result: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(result, buf)
    return buf.getvalue()


def _from_bytes(data: bytes) -> Any:
    import torch

    return torch.load(io.BytesIO(data), weights_only=True)


def _call(fn: Callable[..., Any], args: tuple[Any, ...]) -> bytes:
    return _to_bytes(fn(*args))


def run_jobs(jobs: Mapping[str, Job], workers: int | None = None,
             threads: int | None = 1) -> dict[str, Any]:
    """Run ``jobs`` (name -> (function, args)) and return name -> result, in ``jobs``'
    order. ``workers``: processes (default: the available cores, at most one per job);
    1 runs every job here, in order. ``threads``: torch intra-op threads of each job (here
    inside :func:`.seed.torch_threads`); ``None`` leaves torch's default (a fresh process's
    default in a worker, the caller's count here), for jobs that set their own.

    Give the longest job first: it starts first, which shortens the wall time when there
    are more jobs than workers. Each job must seed its own random streams (the workers'
    order of execution is not the submission order). Results come back as
    ``torch.load(weights_only=True)`` reads them (see the module docstring), also with
    one worker, so both paths return the same types.
    """
    from contextlib import nullcontext

    from .seed import torch_threads, worker_threads

    if workers is None:
        workers = available_cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    workers = min(workers, len(jobs))
    if workers <= 1:
        with nullcontext() if threads is None else torch_threads(threads):
            return {name: _from_bytes(_call(fn, args)) for name, (fn, args) in jobs.items()}
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    init = None if threads is None else functools.partial(worker_threads, threads)
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=init) as pool:
        futures = {name: pool.submit(_call, fn, args) for name, (fn, args) in jobs.items()}
        return {name: _from_bytes(f.result()) for name, f in futures.items()}
