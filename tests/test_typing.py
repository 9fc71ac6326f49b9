"""mypy accepts the package (its C++ module through the _core.pyi stub) and
the examples, with the settings in pyproject.toml's [tool.mypy]."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

pytest.importorskip("mypy", reason="mypy is in the test extra")


def test_mypy_accepts_the_package_and_the_examples(tmp_path):
    examples = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.py"))
    assert examples  # the examples are there to check
    res = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", "--cache-dir",
                          str(tmp_path / "mypy-cache"), "python/fastmlp", *examples],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    package = [*(ROOT / "python/fastmlp").glob("*.py"), *(ROOT / "python/fastmlp").glob("*.pyi")]
    assert f"no issues found in {len(package) + len(examples)} source files" in res.stdout, res.stdout


def mypy_on(snippet: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "snippet.py"
    path.write_text(snippet)
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", "--cache-dir",
                           str(tmp_path / "mypy-cache"), str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_mypy_catches_a_misspelt_string_option(tmp_path):
    good = mypy_on('import fastmlp\nnet = fastmlp.Network([4, 5, 3], activation="relu")\n'
                   'net.fit([[0.0] * 4], [[0.0] * 3], optimizer="adam", schedule="cosine")\n', tmp_path)
    assert good.returncode == 0, good.stdout
    for call, arg in [('fastmlp.Network([4, 5, 3], activation="rleu")', "activation"),
                      ('fastmlp.Network([4, 5, 3], output="softmx")', "output"),
                      ('fastmlp.train([[0.0]], [[0.0]], loss="crossentropy")', "loss"),
                      ('fastmlp.Network([4, 3], dtype="float16")', "dtype"),
                      ('fastmlp.Network([4, 3]).fit([[0.0] * 4], [[0.0] * 3], optimizer="adma")', "optimizer")]:
        bad = mypy_on(f"import fastmlp\n{call}\n", tmp_path)
        assert bad.returncode == 1, call + "\n" + bad.stdout
        assert f'Argument "{arg}"' in bad.stdout and "incompatible type" in bad.stdout, bad.stdout


def test_the_literal_types_are_the_choices_the_code_accepts():
    import typing

    import fastmlp
    from fastmlp import _core, network

    table = {row["name"]: row["rule"] for row in _core.fit_option_table()}
    for name, literal in [("optimizer", network.Optimizer), ("schedule", network.Schedule),
                          ("on_divergence", network.OnDivergence)]:
        assert table[name] == "one of " + ", ".join(repr(c) for c in typing.get_args(literal))
    for option, literal in [("activation", network.Activation), ("output", network.Output),
                            ("loss", network.LossName), ("reduction", network.Reduction), ("init", network.Init)]:
        for choice in typing.get_args(literal):  # each is accepted (as the first layer's, for activation)
            kwargs = {option: choice}
            if option == "loss" and choice == "cross_entropy":
                kwargs["output"] = "softmax"
            if option == "loss" and choice == "poisson":
                kwargs["output"] = "exp"
            fastmlp.Network([2, 3, 2], **kwargs)
        with pytest.raises(ValueError, match=f"{option} must be one of " + ", ".join(
                repr(c) for c in typing.get_args(literal))):
            fastmlp.Network([2, 3, 2], **{option: "nope"})
    for dtype in typing.get_args(network.DType):
        assert fastmlp.Network([2, 2], dtype=dtype).dtype == dtype


def test_mypy_catches_a_misspelt_estimator_choice(tmp_path):
    pytest.importorskip("sklearn", reason="scikit-learn is an optional extra")
    good = mypy_on('from fastmlp.sklearn import MLPClassifier, MLPRegressor\n'
                   'MLPClassifier((8,), "logistic", solver="sgd", learning_rate="adaptive", batch_size="auto", '
                   'dtype="float32", class_weight="balanced")\n'
                   'MLPRegressor(activation="leaky_relu", loss="poisson", solver="lbfgs", dtype=None)\n', tmp_path)
    assert good.returncode == 0, good.stdout
    for call, arg in [('MLPClassifier(activation="rleu")', "activation"),
                      ('MLPClassifier(activation="sigmoid")', "activation"),  # Network's name, not scikit-learn's
                      ('MLPClassifier(solver="adma")', "solver"),
                      ('MLPRegressor(learning_rate="adaptiv")', "learning_rate"),
                      ('MLPRegressor(loss="mse")', "loss"),
                      ('MLPClassifier(dtype="float16")', "dtype"),
                      ('MLPClassifier(batch_size="full")', "batch_size"),
                      ('MLPClassifier(class_weight="balance")', "class_weight")]:
        bad = mypy_on(f"from fastmlp.sklearn import MLPClassifier, MLPRegressor\n{call}\n", tmp_path)
        assert bad.returncode == 1, call + "\n" + bad.stdout
        assert f'Argument "{arg}"' in bad.stdout and "incompatible type" in bad.stdout, bad.stdout


def test_the_estimators_literal_types_are_the_choices_they_accept():
    pytest.importorskip("sklearn", reason="scikit-learn is an optional extra")
    import typing

    from sklearn.datasets import make_classification

    from fastmlp import network, sklearn

    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    assert set(sklearn._ACTIVATIONS) == set(typing.get_args(sklearn.ActivationName))
    for estimator, option, literal in [(sklearn.MLPClassifier, "activation", sklearn.ActivationName),
                                       (sklearn.MLPClassifier, "solver", sklearn.Solver),
                                       (sklearn.MLPClassifier, "learning_rate", sklearn.LearningRate),
                                       (sklearn.MLPRegressor, "loss", sklearn.RegressorLoss),
                                       (sklearn.MLPClassifier, "dtype", network.DType)]:
        for choice in typing.get_args(literal):  # each fits
            est = estimator(hidden_layer_sizes=(3,), max_iter=2, random_state=0, **{option: choice})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # not converged in two epochs
                est.fit(X, y)
        with pytest.raises(ValueError, match=f"The '{option}' parameter") as refused:
            estimator(**{option: "nope"}).fit(X, y)
        expected = str(refused.value).split(" must be ")[1]
        assert [c for c in typing.get_args(literal) if repr(c) in expected] == list(typing.get_args(literal))
