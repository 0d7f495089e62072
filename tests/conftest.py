"""Shared test fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_maps() -> Iterator[None]:
    """Checkpoint readers cache memory maps per process: start and end every test without
    any, so a test that rewrites a file never reads a stale map."""
    from precli.sources.read import forget_maps

    forget_maps()
    yield
    forget_maps()
