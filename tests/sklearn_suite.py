"""A pytest plugin that runs scikit-learn's own MLP tests against fastmlp's estimators.

Loaded with ``-p`` (before anything is collected), it puts
``fastmlp.sklearn.MLPClassifier`` and ``MLPRegressor`` in place of
scikit-learn's in ``sklearn.neural_network``, so the installed test module's
``from sklearn.neural_network import MLPClassifier, MLPRegressor`` gets ours::

    uv run python -m pytest -p tests.sklearn_suite --pyargs sklearn.neural_network.tests.test_mlp

scikit-learn's conftest (installed beside its tests) provides its fixtures
(``global_random_seed``). The suite is the pinned scikit-learn's (pyproject's
test extra); .ci/run runs it.
"""

from __future__ import annotations

import pytest

# These four read scikit-learn's private attributes (_initialize,
# _loss_grad_lbfgs, _optimizer): they test its internals, not its behaviour.
PRIVATE = {"test_fit", "test_gradient", "test_learning_rate_warmstart", "test_adaptive_learning_rate"}


def pytest_configure(config: pytest.Config) -> None:
    import sklearn.neural_network

    from fastmlp.sklearn import MLPClassifier, MLPRegressor

    sklearn.neural_network.MLPClassifier = MLPClassifier
    sklearn.neural_network.MLPRegressor = MLPRegressor
    # The suite's short fits warn that they stopped at max_iter, as scikit-learn's
    # own configuration allows; every other warning stays an error (pyproject's).
    config.addinivalue_line("filterwarnings", "ignore::sklearn.exceptions.ConvergenceWarning")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    left_out = [item for item in items
                if item.module is not None and item.module.__name__ == "sklearn.neural_network.tests.test_mlp"
                and getattr(item, "originalname", item.name) in PRIVATE]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]
