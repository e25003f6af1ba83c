"""glibc ``malloc`` settings that keep freed memory for the next training step.

Why: torch's CPU allocator takes every tensor from ``malloc`` and gives it back at once.
glibc's defaults return memory to the system as soon as more than a small, self-adjusting
amount lies free at the top of the heap (``M_TRIM_THRESHOLD``, twice the dynamic mmap
threshold), so each forward/backward pass grows the heap again and the kernel zero-fills
the same pages once more: a page fault per 4 KiB of activations, every step. Keeping up to
1 GiB of freed memory (``M_TRIM_THRESHOLD``), growing the heap 64 MiB at a time
(``M_TOP_PAD``) and serving blocks below 32 MiB (glibc's largest allowed value) from the
heap (``M_MMAP_THRESHOLD``) removes those faults.

Measured (``benchmarks/allocator.py``: a default and a tuned process started together,
one per core, as the test suite's two workers run; quick demos, one thread, 2026-12-07 on
the 2-core development machine): 1.2-6x fewer minor page faults, tuned / default CPU time
per pair 0.917-1.049, about 4 % less on average (Kuro Siwo 1.049 / 0.917, SGNet 0.938 /
0.924, COSMIC 0.986 / 0.923), identical metrics (the allocator changes no arithmetic),
2-10 % more peak memory. A small gain, kept because it costs one call and changes no
result; it is not what keeps any demo within its minute.

What it changes: the settings of this process's allocator, from the call on. It is called
by the ``geoneurips`` command, by :func:`geoneurips.parallel.run_jobs`' worker processes
and by the test suite; importing :mod:`geoneurips` changes nothing. A library user who
trains in their own process may call :func:`tune_allocator` once at start-up.

Left alone: systems without glibc (macOS, Windows, musl), and a process whose user chose
allocator settings (``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_``,
``MALLOC_MMAP_THRESHOLD_`` or ``GLIBC_TUNABLES`` in the environment, or a preloaded
allocator in ``LD_PRELOAD``). ``GEONEURIPS_MALLOC=default`` turns it off.
"""

from __future__ import annotations

import os
import sys

__all__ = ["OPT_OUT", "SETTINGS", "tune_allocator"]

#: glibc's ``mallopt`` parameter numbers (``<malloc.h>``) and the values set.
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
SETTINGS: dict[int, int] = {
    M_MMAP_THRESHOLD: 32 << 20,  # glibc refuses more than 32 MiB on 64-bit systems
    M_TRIM_THRESHOLD: 1 << 30,
    M_TOP_PAD: 64 << 20,
}
#: The environment variable that turns the tuning off when set to ``default``.
OPT_OUT = "GEONEURIPS_MALLOC"
_USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_",
                  "GLIBC_TUNABLES", "LD_PRELOAD")


def tune_allocator() -> bool:
    """Apply :data:`SETTINGS` to glibc's allocator; return whether they were applied
    (``False``: not Linux with glibc, turned off, or the user's own settings kept).
    Idempotent."""
    if os.environ.get(OPT_OUT, "").strip().lower() == "default":
        return False
    if any(os.environ.get(name) for name in _USER_SETTINGS):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc_name = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):  # pragma: no cover - a libc that does not say
        libc_name = ""
    if not libc_name.startswith("glibc"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # pragma: no cover - glibc without the usual soname
        return False
    return all(libc.mallopt(param, value) == 1 for param, value in SETTINGS.items())
