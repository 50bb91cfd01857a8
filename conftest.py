"""Root pytest configuration: applies to the tests and to the doctests in ccharmony/."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _numpy_print_style() -> None:
    """Keep numpy's current print style: importing ``colour`` switches it to the 1.13 legacy one."""
    np.set_printoptions(legacy=False)


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace: dict) -> None:
    doctest_namespace["np"] = np
