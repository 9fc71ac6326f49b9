from __future__ import annotations

import numpy as np
import pytest

import fastmlp


@pytest.fixture(scope="session")
def iris():
    """The bundled split: (X_train, Y_train, X_test, Y_test)."""
    return fastmlp.datasets.load_iris()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
