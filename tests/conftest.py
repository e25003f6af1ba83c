"""Shared test fixtures.

``real_data`` gives the folder of small real files (``GEONEURIPS_REAL_DATA``, default
``../shared/data``). When it is absent the test is skipped with a reason, except under
``GEONEURIPS_REQUIRE_REAL_DATA=1`` (set by CI), where a missing folder fails the test.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the test files that hold ``slow`` tests first (most slow tests first; the order
    within a file and among equals is kept). ``make test`` hands files to its two workers in
    this order (``--dist loadscope --no-loadscope-reorder``): the long demo tests start
    early, and the many short files fill the end, so neither worker is left alone with a
    two-minute demo while the other is idle. xdist's own order (files with the most tests
    first) put the single-test demo files last: one worker idled 92 s at the end."""
    files = {id(item): item.nodeid.split("::")[0] for item in items}
    slow = Counter(files[id(item)] for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[files[id(item)]])


def _real_data_dir() -> Path:
    return Path(os.environ.get("GEONEURIPS_REAL_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Path of the real sample data folder (see ../shared/data/README.md)."""
    path = _real_data_dir()
    if not path.is_dir():
        if os.environ.get("GEONEURIPS_REQUIRE_REAL_DATA") == "1":
            pytest.fail(f"real data folder {path} is missing but GEONEURIPS_REQUIRE_REAL_DATA=1")
        pytest.skip(f"real data folder {path} not present (set GEONEURIPS_REAL_DATA)")
    return path


@pytest.fixture(autouse=True)
def _torch_threads() -> None:
    """Use at most 2 threads (fewer if OMP_NUM_THREADS says so): the machine has 2 cores."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    wanted = int(os.environ.get("OMP_NUM_THREADS", "2") or 2)
    torch.set_num_threads(max(1, min(wanted, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    """Close the figures a test leaves open (``plot()`` tests return theirs): a worker runs
    hundreds of tests, and matplotlib keeps every pyplot figure until it is closed."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture
def serve_local() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], str]]:
    """Start local stub HTTP servers on 127.0.0.1 (an OpenAI-compatible stand-in, say):
    ``url = serve_local(Handler)`` gives ``http://127.0.0.1:<port>/v1``; request logging is
    silenced; every server started is shut down at teardown."""
    started: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(handler: type[BaseHTTPRequestHandler]) -> str:
        # a quiet subclass: the base handler logs every request to stderr
        quiet = type(handler.__name__, (handler,), {"log_message": lambda self, *a: None})
        server = ThreadingHTTPServer(("127.0.0.1", 0), quiet)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
