"""Shared fixtures: temporary workspaces, and real data that skips with a reason when absent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sitewatch import samples
from sitewatch.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    w = Workspace.init(tmp_path / "ws")
    yield w
    w.close()


def shared(rel: str) -> Path:
    """A path under ../shared, or skip the test saying what is missing."""
    p = samples.shared_path(rel)
    if p is None:
        pytest.skip(f"shared data {rel!r} not found (set SITEWATCH_SHARED or provide ../shared)")
    return p


def traffic(rel: str) -> Path:
    """A file of the traffic 2.13 wheel's samples, or skip (fetched by `make test` set-up)."""
    p = samples.traffic_sample(rel)
    if p is None:
        pytest.skip(f"traffic==2.13 wheel not cached (run `python -m sitewatch.samples fetch`); needed for {rel}")
    return p


def tracktable(rel: str) -> Path:
    """A file of the tracktable-data 1.7.3.1 wheel, or skip."""
    p = samples.tracktable_sample(rel)
    if p is None:
        pytest.skip(f"tracktable-data wheel not cached (run `python -m sitewatch.samples fetch`); needed for {rel}")
    return p
