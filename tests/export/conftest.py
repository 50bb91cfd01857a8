"""Fixtures of the export tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_fixtures import write_dataset


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny dataset folder (5 images, 2 foregrounds each, k = 3: 18 train and 12 test composites)."""
    return write_dataset(tmp_path_factory.mktemp("source") / "ds")
