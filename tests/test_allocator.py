"""The allocator settings (``geoneurips.allocator``): freed memory is kept, so a loop that
allocates and frees the same blocks stops faulting pages in; the command, the worker
processes and the test suite apply them; opt-out and a user's own settings are kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from geoneurips import allocator
from geoneurips.allocator import tune_allocator

GLIBC = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION").startswith(
    "glibc")
needs_glibc = pytest.mark.skipif(not GLIBC, reason="the settings are glibc's (Linux)")


def faults_per_round(rounds: int = 4, blocks: int = 48, size: int = 1 << 20) -> float:
    """Minor page faults per round of allocating ``blocks`` arrays of ``size`` bytes,
    writing them and freeing them all (a training step's activations, in small), after
    two warm-up rounds."""
    import resource

    import numpy as np

    def one_round() -> None:
        arrays = [np.ones(size // 8) for _ in range(blocks)]
        del arrays

    one_round()
    one_round()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):
        one_round()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / rounds


def _fresh_process(setup: str, opt_out: bool = False) -> tuple[bool, float]:
    """(what ``setup`` returned, faults per round) in a fresh interpreter that runs
    ``setup`` first, with no allocator variables inherited from this environment."""
    env = {k: v for k, v in os.environ.items()
           if k not in {*allocator._USER_SETTINGS, allocator.OPT_OUT}}
    if opt_out:
        env[allocator.OPT_OUT] = "default"
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import test_allocator as t; "
            f"r = {setup}; print(r is not False, t.faults_per_round())")
    out = subprocess.run([sys.executable, "-c", code, os.path.dirname(__file__)], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0] == "True", float(out[1])


@needs_glibc
def test_freed_memory_is_kept_instead_of_faulted_in_again() -> None:
    """glibc's defaults give the freed blocks back and fault every page in again each
    round (48 MiB = about 12000 faults); with the settings, rounds after the warm-up reuse
    the same memory. Measured here: 12256 vs 0 per round."""
    setup = "__import__('geoneurips.allocator').allocator.tune_allocator()"
    applied, tuned = _fresh_process(setup)
    off, default = _fresh_process(setup, opt_out=True)
    assert applied and not off
    assert default > 0.5 * 48 * (1 << 20) / os.sysconf("SC_PAGE_SIZE"), default
    assert tuned < 0.05 * default, (tuned, default)


@needs_glibc
def test_test_processes_and_job_workers_are_tuned() -> None:
    """This test process (``conftest.pytest_configure``) and a fresh process after the
    initializer of ``run_jobs``' workers (``parallel._init_worker``; that it is their
    initializer, ``test_parallel`` checks through the thread count it also sets) run with
    the settings: a round faults next to nothing."""
    assert faults_per_round() < 200
    _, worker = _fresh_process("__import__('geoneurips.parallel').parallel._init_worker(None)")
    assert worker < 200


def test_the_command_applies_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """``geoneurips`` (``cli.main.main``) calls :func:`tune_allocator` before any command."""
    from geoneurips.cli.main import main

    calls: list[int] = []
    monkeypatch.setattr(allocator, "tune_allocator", lambda: calls.append(1) or True)
    with pytest.raises(SystemExit) as exc:
        main(["list", "--json"])
    assert exc.value.code in (0, None) and calls == [1]


@pytest.mark.parametrize("name, value", [(allocator.OPT_OUT, "default"),
                                         ("MALLOC_TRIM_THRESHOLD_", "131072"),
                                         ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1"),
                                         ("LD_PRELOAD", "/usr/lib/libjemalloc.so.2")])
def test_opt_out_and_users_own_settings_are_kept(monkeypatch: pytest.MonkeyPatch,
                                                 name: str, value: str) -> None:
    """``GEONEURIPS_MALLOC=default`` turns it off; a user's malloc variables or preloaded
    allocator win; with none of them set, it applies on glibc (and only there)."""
    for var in (*allocator._USER_SETTINGS, allocator.OPT_OUT):
        monkeypatch.delenv(var, raising=False)
    assert tune_allocator() is GLIBC
    monkeypatch.setenv(name, value)
    assert tune_allocator() is False
