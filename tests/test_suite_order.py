"""The suite's own schedule (tests/conftest.py): files holding slow tests come first."""

from __future__ import annotations

import pytest


def test_files_with_slow_tests_are_collected_first(request: pytest.FixtureRequest) -> None:
    """Counted per file over the session's items: the number of slow tests never rises
    along the collection order, and each file's tests stay together."""
    items = request.session.items
    files = [item.nodeid.split("::")[0] for item in items]
    slow: dict[str, int] = {}
    for f, item in zip(files, items, strict=True):
        slow[f] = slow.get(f, 0) + int(item.get_closest_marker("slow") is not None)
    order = list(dict.fromkeys(files))
    # every file's tests are contiguous: the order of first appearances equals the runs
    runs = [f for i, f in enumerate(files) if i == 0 or files[i - 1] != f]
    assert runs == order
    counts = [slow[f] for f in order]
    assert counts == sorted(counts, reverse=True)
