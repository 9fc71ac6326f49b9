"""The Poisson loss (half Poisson deviance) with the exp output: its value
against scikit-learn's metric, its gradient against finite differences, its
checks, and the loss in the estimator (against scikit-learn's own
MLPRegressor(loss="poisson") where installed), model files, ONNX export and
the command line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import fastmlp

sklearn = pytest.importorskip("sklearn", reason="the sklearn extra is not installed")
from sklearn.metrics import mean_poisson_deviance  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def counts(seed=0, n=400, features=5, outputs=1):
    """Poisson counts whose log-mean is a smooth function of X."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    w = rng.normal(0, 0.4, (features, outputs))
    mu = np.exp(0.5 + X @ w + 0.3 * np.sin(X[:, :1]))
    return X, rng.poisson(mu).astype(float)


def poisson_net(sizes, reduction="mean", dtype="float64", seed=0, activation="tanh"):
    net = fastmlp.Network(sizes, activation=activation, output="exp", loss="poisson", reduction=reduction,
                          init="glorot", seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed)
    for b in net.biases:
        b[:] = rng.normal(0, 0.3, b.shape)
    return net


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("outputs", [1, 3])
def test_loss_is_half_the_poisson_deviance(reduction, outputs):
    X, Y = counts(outputs=outputs, n=50)
    Y[:5] = 0  # zero counts take the y log y = 0 limit
    net = poisson_net([5, 8, outputs], reduction)
    P = net.predict(X)
    np.testing.assert_allclose(P, np.exp(np.log(P)))  # positive
    # scikit-learn's metric is the mean over rows of the full deviance, per output
    expected = sum(mean_poisson_deviance(Y[:, j], P[:, j]) for j in range(outputs)) / 2
    if reduction == "sum":
        expected *= len(X)
    assert net.loss(X, Y) == pytest.approx(expected, rel=1e-12)
    # zero at a perfect fit: the deviance's constant is included
    assert net.loss(X, P) == pytest.approx(0, abs=1e-10)


def test_predict_is_exp_of_the_last_layer():
    X, _ = counts(n=20)
    net = poisson_net([5, 6, 2])
    H = np.tanh(X @ net.weights[0] + net.biases[0])
    np.testing.assert_allclose(net.predict(X), np.exp(H @ net.weights[1] + net.biases[1]), rtol=1e-13)


@pytest.mark.parametrize("loss", ["poisson", "mse"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_equals_finite_differences(loss, reduction):
    X, Y = counts(seed=3, n=12, features=3, outputs=2)
    net = fastmlp.Network([3, 4, 2], activation="sigmoid", output="exp", loss=loss, reduction=reduction,
                          init="glorot", seed=2)
    dW, db = net.gradient(X, Y)
    for params, grads in ((net.weights, dW), (net.biases, db)):
        for P, G in zip(params, grads):
            fd = np.zeros_like(P)
            for idx in np.ndindex(P.shape):
                keep = P[idx]
                P[idx] = keep + 1e-6
                up = net.loss(X, Y)
                P[idx] = keep - 1e-6
                down = net.loss(X, Y)
                P[idx] = keep
                fd[idx] = (up - down) / 2e-6
            assert np.abs(fd).max() > 1e-4  # not trivially zero
            np.testing.assert_allclose(G, fd, rtol=1e-5, atol=1e-7)


def test_negative_targets_are_refused():
    X, Y = counts(n=10)
    Y[3, 0] = -1
    net = poisson_net([5, 4, 1])
    for call in (lambda: net.fit(X, Y, epochs=1), lambda: net.loss(X, Y), lambda: net.gradient(X, Y)):
        with pytest.raises(ValueError, match=r"Y must be >= 0 for loss 'poisson'.*row 3"):
            call()
    with pytest.raises(ValueError, match="Y_val must be >= 0"):
        net.fit(np.abs(X), np.abs(Y), epochs=1, validation=(X, Y))


def test_pairings_are_checked():
    with pytest.raises(ValueError, match="loss 'poisson' needs output 'exp'"):
        fastmlp.Network([3, 4, 1], output="identity", loss="poisson")
    with pytest.raises(ValueError, match="activation must be one of"):
        fastmlp.Network([3, 4, 1], activation="exp", output="exp", loss="poisson")
    with pytest.raises(ValueError, match="cross_entropy"):
        fastmlp.Network([3, 4, 1], output="exp", loss="cross_entropy")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_training_lowers_the_held_out_deviance(dtype):
    X, y = counts(seed=1, n=1200)
    net = poisson_net([5, 16, 1], dtype=dtype, seed=1)
    before = mean_poisson_deviance(y[800:, 0], net.predict(X[800:]).ravel())
    net.fit(X[:800], y[:800], epochs=200, optimizer="adam", learning_rate=0.01, batch_size=64)
    after = mean_poisson_deviance(y[800:, 0], net.predict(X[800:]).ravel())
    null = mean_poisson_deviance(y[800:, 0], np.full(400, y[:800].mean()))
    assert after < 0.8 * null < before


def test_model_files_keep_the_loss_and_output(tmp_path):
    X, y = counts(n=30)
    net = poisson_net([5, 4, 1])
    net.save(tmp_path / "p.safetensors")
    back = fastmlp.load(tmp_path / "p.safetensors")
    assert (back.output, back.loss_name) == ("exp", "poisson")
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    assert back.loss(X, y) == net.loss(X, y)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_onnx_exports_the_exp_output(dtype):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    X, _ = counts(n=40)
    X = X.astype(dtype)
    net = poisson_net([5, 7, 2], dtype=dtype)
    session = ort.InferenceSession(net.to_onnx().SerializeToString(), providers=["CPUExecutionProvider"])
    (P,) = session.run(None, {"X": X})
    np.testing.assert_allclose(P, net.predict(X), rtol=1e-12 if dtype == "float64" else 1e-5)


# --- the estimator ----------------------------------------------------------------------------

def test_estimator_poisson_basics():
    from fastmlp.sklearn import MLPRegressor
    X, y = counts(n=300)
    y = y.ravel()
    reg = MLPRegressor(hidden_layer_sizes=(8,), loss="poisson", max_iter=50, random_state=0).fit(X, y)
    assert reg.out_activation_ == "exp" and reg.network_.loss_name == "poisson"
    assert np.all(reg.predict(X) > 0)
    # loss_ is the mean half deviance plus the penalty alpha / (2 n) ||W||^2, as scikit-learn's
    penalty = 0.5 * reg.alpha * sum(float(np.sum(W * W)) for W in reg.coefs_) / len(X)
    full_batch = mean_poisson_deviance(y, reg.predict(X)) / 2 + penalty
    assert reg.loss_ == pytest.approx(full_batch, rel=0.1)  # loss_ is the epoch's, along the way
    with pytest.raises(ValueError, match="y must be >= 0"):
        MLPRegressor(loss="poisson").fit(X, y - 5)
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="gamma").fit(X, y)


def test_held_out_deviance_close_to_scikit_learns():
    from sklearn.neural_network import MLPRegressor as SkRegressor

    from fastmlp.sklearn import MLPRegressor
    if "poisson" not in SkRegressor._parameter_constraints["loss"][0].options:
        pytest.skip(f"scikit-learn {sklearn.__version__} has no MLPRegressor(loss='poisson')")
    ours, theirs = [], []
    for state in range(4):
        X, y = counts(seed=10 + state, n=1500, features=6)
        y = y.ravel()
        params = dict(hidden_layer_sizes=(32,), loss="poisson", max_iter=300, learning_rate_init=0.003,
                      random_state=state, early_stopping=False, tol=1e-5, n_iter_no_change=20)
        a = MLPRegressor(**params).fit(X[:1000], y[:1000])
        b = SkRegressor(**params).fit(X[:1000], y[:1000])
        ours.append(mean_poisson_deviance(y[1000:], a.predict(X[1000:])))
        theirs.append(mean_poisson_deviance(y[1000:], b.predict(X[1000:])))
    print("held-out mean Poisson deviance, fastmlp vs scikit-learn:", ours, theirs)
    assert np.mean(ours) == pytest.approx(np.mean(theirs), rel=0.05), (ours, theirs)


# --- the command line ---------------------------------------------------------------------------

def test_command_line_trains_a_poisson_network(tmp_path):
    cmd = [sys.executable, "-m", "fastmlp"]
    model = tmp_path / "p.safetensors"
    res = subprocess.run([*cmd, "train", "--output", "exp", "--loss", "poisson", "--reduction", "mean",
                          "--init", "glorot", "--lr", "0.05", "--epochs", "50", "--quiet", "-o", str(model)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    net = fastmlp.load(model)
    assert (net.output, net.loss_name) == ("exp", "poisson")
    # --loss poisson alone implies the exp output (test_cli_csv_findings); another output is a mistake
    res = subprocess.run([*cmd, "train", "--loss", "poisson", "--output", "identity", "--epochs", "1"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "poisson" in res.stderr and res.stderr.count("\n") == 1, res.stderr
    res = subprocess.run([*cmd, "train", "--activation", "exp", "--epochs", "1"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2 and "exp" in res.stderr, res.stderr


def test_a_tiny_negative_target_is_shown_as_it_is():
    # %f printed -1e-300 as -0.000000, which reads as a valid target
    X = np.ones((3, 2))
    Y = np.array([[1.0], [-1e-300], [2.0]])
    net = fastmlp.Network([2, 3, 1], output="exp", loss="poisson", seed=0)
    with pytest.raises(ValueError, match=r"found -1e-300 at row 1, column 0"):
        net.fit(X, Y, epochs=1)


@pytest.mark.parametrize("dtype, edge", [("float64", 709.782712893384), ("float32", 88.72283935546875)])
def test_exp_output_overflows_to_infinity_as_numpy_does(dtype, edge):
    # logits on both sides of the largest finite e^z: the exp output is NumPy's
    # exp there, finite values to a few ulp and infinity past the edge (a
    # prediction held at a huge finite value would hide a diverged fit)
    z = np.concatenate([np.linspace(edge - 3, edge + 3, 61), [edge * 2, 1e30]]).astype(dtype)
    net = fastmlp.Network([1, 1], activation="identity", output="exp", loss="poisson", dtype=dtype)
    net.weights[0][:] = 1
    net.biases[0][:] = 0
    with np.errstate(over="ignore"):
        want = np.exp(z)
    got = net.predict(z[:, None])[:, 0]
    assert np.array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=8 * np.finfo(dtype).eps)


def test_sigmoid_of_a_very_negative_logit_is_zero():
    net = fastmlp.Network([1, 1], activation="identity", output="sigmoid", loss="mse")
    net.weights[0][:] = 1
    net.biases[0][:] = 0
    z = np.array([[-700.0], [-720.0], [-1e6]])
    with np.errstate(over="ignore"):
        want = 1 / (1 + np.exp(-z))
    got = net.predict(z)
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(np.float64).eps)
    assert got[1, 0] == 0 and got[2, 0] == 0


def test_a_fit_whose_logits_run_off_raises_instead_of_returning_zeros():
    # the article's defaults (summed loss, learning rate 0.2) on 2000 rows of
    # counts: the logits run to about -1e273, the loss (1.9e277) and every
    # prediction (e^-708) stay finite; the guard reads the parameters' norm
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 4))
    y = rng.poisson(np.exp(0.5 * X[:, 0] + 0.3)).astype(float)[:, None]
    with pytest.raises(FloatingPointError, match="too large to square") as info:
        fastmlp.train(X, y, hidden=5, output="exp", loss="poisson", epochs=200)
    assert "epoch" in str(info.value)
    net = fastmlp.train(X, y, hidden=5, output="exp", loss="poisson", epochs=200, on_divergence="continue")
    assert max(np.abs(w).max() for w in net.weights) > 1e154  # what "continue" leaves


def test_loss_of_huge_counts_fitted_well_is_finite():
    # y log y alone overflows past y ~ 2.5e305; the deviance of a good fit does not
    y = np.array([[1e306], [3e307], [1e300]])
    net = fastmlp.Network([1, 1], activation="identity", output="exp", loss="poisson", reduction="sum")
    net.weights[0][:] = 1
    net.biases[0][:] = 0
    X = np.log(y) + np.array([[0.0], [1e-3], [-2e-3]])  # a near-perfect fit: a = y e^d
    a = np.exp(X)
    want = np.sum(y * (np.log(y) - X) - y + a)  # half deviance, in a form that stays finite here
    got = net.loss(X, y)
    assert np.isfinite(got)
    np.testing.assert_allclose(got, want, rtol=1e-9)


# --- a Poisson network is a regression --------------------------------------------------------

def test_a_poisson_network_cannot_be_given_the_classification_task(tmp_path):
    # it trained happily as a "classifier" of one-hot rows and named classes; now one rule says no,
    # naming the task and what in the network contradicts it
    for kwargs, culprit in [(dict(output="exp", loss="poisson"), "loss 'poisson'"),
                            (dict(output="exp", loss="mse"), "output 'exp'")]:
        net = fastmlp.Network([3, 4, 2], **kwargs)
        with pytest.raises(ValueError, match=f"task 'classification' does not fit this network: {culprit}"):
            net.task = "classification"
        with pytest.raises(ValueError, match=f"classes \\(task 'classification'\\) does not fit .*{culprit}"):
            net.classes = ["a", "b"]
        assert net.task is None and net.classes is None
        net.task = "regression"  # what it is
        net.target_names = ["x", "y"]
        # the model file's writer refuses the pair too, writing nothing
        with pytest.raises(ValueError, match=f"metadata 'task' is 'classification', but {culprit}"):
            net._core.save(str(tmp_path / "c.st"), "uniform", 0, {}, task="classification")
        assert not (tmp_path / "c.st").exists()
    # a softmax (or sigmoid, identity) classifier is still one
    fastmlp.Network([3, 4, 2], output="softmax", loss="cross_entropy").task = "classification"
    fastmlp.Network([3, 4, 2], output="identity").classes = ["a", "b"]


def test_a_file_claiming_a_poisson_classifier_is_refused(tmp_path):
    from test_dropout import rewrite_metadata

    poisson_net([3, 4, 2]).save(tmp_path / "p.st")
    rewrite_metadata(tmp_path / "p.st", tmp_path / "bad.st", task="classification", classes='["a","b"]',
                     classes_type="str")
    with pytest.raises(ValueError, match="metadata 'task' is 'classification', but loss 'poisson' fits counts"):
        fastmlp.load(tmp_path / "bad.st")
    res = subprocess.run([sys.executable, "-m", "fastmlp", "eval", str(tmp_path / "bad.st"), str(tmp_path / "p.st")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "metadata 'task' is 'classification'" in res.stderr, res.stderr


@pytest.mark.parametrize("args, culprit", [(["--loss", "poisson", "--task", "classification"], "--loss poisson"),
                                           (["--task", "classification", "--output", "exp"], "--output exp")])
def test_command_line_refuses_a_poisson_classifier(args, culprit, tmp_path):
    # both trained a meaningless classifier and printed its accuracy with exit status 0
    res = subprocess.run([sys.executable, "-m", "fastmlp", "train", *args, "--epochs", "1", "-o",
                          str(tmp_path / "m.st")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stdout == "", res.stdout
    assert f"--task classification and {culprit} conflict: " in res.stderr and res.stderr.count("\n") == 1
    assert "give --task regression" in res.stderr
    assert not (tmp_path / "m.st").exists()


def write_counts(path, X, y, header=True):
    names = [f"x{j}" for j in range(X.shape[1])] + [f"y{j}" for j in range(y.shape[1])]
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", fmt="%.17g",
               header=",".join(names) if header else "", comments="")


def figures(stdout):
    return dict((k, float(v)) for k, v in (line.split(": ") for line in stdout.splitlines()))


def test_command_line_reports_the_mean_poisson_deviance(tmp_path):
    from sklearn.metrics import mean_absolute_error, r2_score

    cmd = [sys.executable, "-m", "fastmlp"]
    X, y = counts(seed=4, n=300, features=3)
    write_counts(tmp_path / "train.csv", X[:200], y[:200])
    write_counts(tmp_path / "test.csv", X[200:], y[200:])
    model = tmp_path / "p.st"
    res = subprocess.run([*cmd, "train", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
                          "--target", "y0", "--loss", "poisson", "--hidden", "6", "--optimizer", "adam", "--lr", "0.01",
                          "--epochs", "100", "--quiet", "-o", str(model)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert list(figures(res.stdout)) == ["R2", "RMSE", "MAE", "Mean Poisson deviance"]
    P = fastmlp.load(model).predict(X[200:]).ravel()
    expected = mean_poisson_deviance(y[200:, 0], P)
    assert figures(res.stdout)["Mean Poisson deviance"] == pytest.approx(expected, rel=1e-5)
    assert figures(res.stdout)["R2"] == pytest.approx(r2_score(y[200:, 0], P), abs=1e-6)
    # eval of the saved model says the same
    res = subprocess.run([*cmd, "eval", str(model), str(tmp_path / "test.csv")], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert figures(res.stdout)["Mean Poisson deviance"] == pytest.approx(expected, rel=1e-5)
    assert figures(res.stdout)["MAE"] == pytest.approx(mean_absolute_error(y[200:, 0], P), rel=1e-5)
    # a regression with mse reports no deviance
    res = subprocess.run([*cmd, "train", "--train", str(tmp_path / "train.csv"), "--target", "y0", "--task",
                          "regression", "--epochs", "5", "--quiet"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "Poisson" not in res.stdout, res.stdout


def test_command_line_deviance_of_several_targets_is_their_mean(tmp_path):
    # scikit-learn's mean_poisson_deviance takes one output; over several, the mean of theirs (as R2's)
    cmd = [sys.executable, "-m", "fastmlp"]
    X, y = counts(seed=5, n=120, features=3, outputs=2)
    write_counts(tmp_path / "train.csv", X, y, header=False)
    net = poisson_net([3, 4, 2], seed=3)
    net.task = "regression"
    net.save(tmp_path / "p.st")
    res = subprocess.run([*cmd, "eval", str(tmp_path / "p.st"), str(tmp_path / "train.csv")], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    P = net.predict(X)
    expected = np.mean([mean_poisson_deviance(y[:, j], P[:, j]) for j in range(2)])
    assert figures(res.stdout)["Mean Poisson deviance"] == pytest.approx(expected, rel=1e-5)


def test_a_poisson_network_saved_without_a_task_is_evaluated_as_a_regression(tmp_path):
    # files without a task are read as classifiers; one whose network cannot be one printed an accuracy
    cmd = [sys.executable, "-m", "fastmlp"]
    X, y = counts(seed=6, n=60, features=3)
    write_counts(tmp_path / "d.csv", X, y, header=False)
    net = poisson_net([3, 4, 1])
    net.save(tmp_path / "p.st")
    assert fastmlp.load(tmp_path / "p.st").task is None
    res = subprocess.run([*cmd, "eval", str(tmp_path / "p.st"), str(tmp_path / "d.csv")], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert figures(res.stdout)["Mean Poisson deviance"] == pytest.approx(
        mean_poisson_deviance(y.ravel(), net.predict(X).ravel()), rel=1e-5)
    res = subprocess.run([*cmd, "predict", "--classes", str(tmp_path / "p.st"), str(tmp_path / "d.csv")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "--classes needs a classifier" in res.stderr, res.stderr


def test_negative_test_targets_of_a_poisson_model_are_refused(tmp_path):
    cmd = [sys.executable, "-m", "fastmlp"]
    X, y = counts(seed=7, n=60, features=3)
    write_counts(tmp_path / "train.csv", X, y)
    y_bad = y.copy()
    y_bad[4, 0] = -1
    write_counts(tmp_path / "test.csv", X, y_bad)
    model = tmp_path / "p.st"
    res = subprocess.run([*cmd, "train", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
                          "--target", "y0", "--loss", "poisson", "--epochs", "1", "-o", str(model)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and res.stdout == ""
    assert "test.csv, data row 5: target -1 is below 0" in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert not model.exists()  # refused before training
    subprocess.run([*cmd, "train", "--train", str(tmp_path / "train.csv"), "--target", "y0", "--loss", "poisson",
                    "--epochs", "1", "--quiet", "-o", str(model)], check=True, capture_output=True, timeout=120)
    res = subprocess.run([*cmd, "eval", str(model), str(tmp_path / "test.csv")], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1 and "test.csv, data row 5: target -1 is below 0" in res.stderr, res.stderr


def test_output_exp_alone_is_a_regression(tmp_path):
    # the log link models counts: --output exp makes the task regression, as --output identity does
    res = subprocess.run([sys.executable, "-m", "fastmlp", "train", "--output", "exp", "--epochs", "2", "--quiet",
                          "-o", str(tmp_path / "m.st")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("R2: ")
    assert fastmlp.load(tmp_path / "m.st").task == "regression"


def _overflowing_counts():
    """Counts near 1e4 that one SGD step at a large rate sends past exp's overflow."""
    X = (np.arange(8) / 8.0)[:, None]
    return X, 10000.0 + np.arange(8)


def test_an_estimator_whose_last_step_overflows_exp_raises():
    from fastmlp.sklearn import MLPRegressor

    X, y = _overflowing_counts()
    est = MLPRegressor(loss="poisson", solver="sgd", hidden_layer_sizes=(2,), learning_rate_init=0.5, momentum=0,
                       max_iter=1, batch_size=8, random_state=0)
    with pytest.raises(ValueError, match="predictions overflow"):
        est.fit(X, y)


def test_the_command_line_writes_no_model_whose_last_step_overflows(tmp_path):
    X, y = _overflowing_counts()
    data = tmp_path / "big.csv"
    np.savetxt(data, np.column_stack([X, y]), delimiter=",", header="x,y", comments="", fmt="%.6g")
    model = tmp_path / "m.safetensors"
    res = subprocess.run([sys.executable, "-m", "fastmlp", "train", "--train", str(data), "--target", "y",
                          "--loss", "poisson", "--hidden", "2", "--epochs", "1", "--lr", "0.5", "--quiet",
                          "-o", str(model)], capture_output=True, text=True)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "diverged in its last step" in res.stderr
    assert not model.exists()
