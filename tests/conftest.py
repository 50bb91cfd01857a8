"""Shared fixtures: paths to ../shared (skipped when absent) and small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """Return ``../shared`` beside the checkout, or skip the test when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"{SHARED} is absent: this test reads the shared real-photo data in place")
    return SHARED


@pytest.fixture(scope="session")
def real_dir(shared_dir: Path) -> Path:
    """Return ``../shared/data/real``."""
    return shared_dir / "data" / "real"
