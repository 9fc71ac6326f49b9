from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

import fastmlp

# Hypothesis keeps what it once found in the repository, so every run (CI's
# too) replays it; CI runs a bounded number of new examples.
settings.register_profile("default", database=DirectoryBasedExampleDatabase(str(Path(__file__).parent / "hypothesis-db")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("default"), max_examples=50)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def iris():
    """The bundled split: (X_train, Y_train, X_test, Y_test)."""
    return fastmlp.datasets.load_iris()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
