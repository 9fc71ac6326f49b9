"""Dropout: the masks the core draws (against their definition, written again
here), the gradient of a step with them (against NumPy backpropagation given
the same masks, PyTorch when installed, and finite differences), the
reproducibility rules, and dropout in model files, the estimators, the
command line and ONNX export."""

from __future__ import annotations

import json
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import _core

from reference import epoch_order

MASK64 = (1 << 64) - 1


# --- the masks, from their definition (csrc/fastmlp/dropout.hpp) ------------------------

def splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def mask_by_definition(seed, epoch, layer, rows, units, p):
    out = np.empty((len(rows), units))
    for i, r in enumerate(rows):
        h = splitmix64(seed ^ 0x6A09E667F3BCC909)
        h = splitmix64(h ^ epoch)
        h = splitmix64(h ^ layer)
        key = splitmix64(h ^ r)
        for j in range(units):
            u = (splitmix64((key + 0xD1B54A32D192ED03 * j) & MASK64) >> 11) * 2.0**-53
            out[i, j] = 1.0 / (1.0 - p) if u >= p else 0.0
    return out


def test_mask_is_the_documented_hash():
    for seed, epoch, layer, p in [(0, 0, 0, 0.5), (2**64 - 1, 17, 3, 0.1), (12345, 2**40, 1, 0.9)]:
        rows = [0, 1, 7, 1000, 2**33]
        np.testing.assert_array_equal(_core.dropout_mask(seed, epoch, layer, rows, 9, p),
                                      mask_by_definition(seed, epoch, layer, rows, 9, p))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_mask_statistics(p):
    m = _core.dropout_mask(3, 1, 0, list(range(400)), 250, p)
    n = m.size
    dropped = np.mean(m == 0)
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / n)  # five standard deviations of a binomial share
    assert np.all(m[m != 0] == 1.0 / (1.0 - p))  # survivors scaled by 1 / (1 - p)
    # no correlation between neighbouring units, rows or layers
    other = _core.dropout_mask(3, 1, 1, list(range(400)), 250, p)
    assert abs(np.mean((m == 0) & (other == 0)) - p * p) < 5 * np.sqrt(p * p * (1 - p * p) / n)
    assert not np.array_equal(m, _core.dropout_mask(3, 2, 0, list(range(400)), 250, p))  # epochs differ


# --- the gradient of a step ---------------------------------------------------------------

ACT = {"relu": (lambda z: np.maximum(z, 0), lambda a: (a > 0).astype(a.dtype)),
       "tanh": (np.tanh, lambda a: 1 - a * a),
       "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a: a * (1 - a))}


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def masked_loss_and_grads(Ws, bs, X, Y, hidden, masks, reduction):
    """Softmax cross-entropy of a network whose hidden layer l's output is
    multiplied by masks[l], and its gradient, by plain backpropagation."""
    acts, raw = [X], []
    for l, (W, b) in enumerate(zip(Ws[:-1], bs[:-1])):
        a = ACT[hidden[l]][0](acts[-1] @ W + b)
        raw.append(a)
        acts.append(a * masks[l])
    P = softmax(acts[-1] @ Ws[-1] + bs[-1])
    scale = 1.0 / len(X) if reduction == "mean" else 1.0
    loss = -scale * float(np.sum(Y * np.log(P)))
    dZ = scale * (P - Y)
    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    for l in reversed(range(len(Ws))):
        dWs[l] = acts[l].T @ dZ
        dbs[l] = dZ.sum(axis=0)
        if l > 0:
            dZ = (dZ @ Ws[l].T) * masks[l - 1] * ACT[hidden[l - 1]][1](raw[l - 1])
    return loss, dWs, dbs


def problem(seed=0, n=24, sizes=(5, 7, 6, 3)):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    return X, Y


def make_net(rates, sizes=(5, 7, 6, 3), dtype="float64", seed=4, hidden=("relu", "tanh")):
    net = fastmlp.Network(list(sizes), activation=hidden, output="softmax", loss="cross_entropy",
                          reduction="mean", init="glorot", seed=seed, dtype=dtype, dropout=rates)
    rng = np.random.default_rng(seed)
    for b in net.biases:
        b[:] = rng.normal(0, 0.3, b.shape)
    return net


def step_gradients(net, X, Y, **fit):
    """(dW, db) of one plain SGD step at learning rate 1, from the parameters' change."""
    Ws, bs = [W.copy() for W in net.weights], [b.copy() for b in net.biases]
    net.fit(X, Y, epochs=1, learning_rate=1.0, optimizer="sgd", **fit)
    return [W - V for W, V in zip(Ws, net.weights)], [b - c for b, c in zip(bs, net.biases)], Ws, bs


@pytest.mark.parametrize("rates", [0.4, (0.3, 0.6), (0.0, 0.5)])
def test_full_batch_step_equals_backprop_with_the_same_masks(rates):
    X, Y = problem()
    net = make_net(rates)
    p = [rates, rates] if isinstance(rates, float) else list(rates)
    dWs, dbs, Ws, bs = step_gradients(net, X, Y)
    rows = list(range(len(X)))
    masks = [_core.dropout_mask(net.seed, 0, l, rows, W.shape[1], p[l]) for l, W in enumerate(Ws[:-1])]
    loss, eW, eb = masked_loss_and_grads(Ws, bs, X, Y, ("relu", "tanh"), masks, "mean")
    for got, want in zip([*dWs, *dbs], [*eW, *eb]):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert net.history["loss"][0] == pytest.approx(loss, rel=1e-12)  # the loss is the masked one
    assert any(np.any(m == 0) for m in masks)  # something was dropped


def test_masks_follow_the_row_not_its_batch():
    """Shuffled mini-batches: each row keeps the mask of its own index in the
    training data, whatever batch it lands in; each epoch draws new ones."""
    X, Y = problem(n=20)
    net = make_net(0.5, seed=11)
    Ws, bs = [W.copy() for W in net.weights], [b.copy() for b in net.biases]
    net.fit(X, Y, epochs=2, learning_rate=0.1, optimizer="sgd", batch_size=6)
    for epoch in range(2):
        order = epoch_order(len(X), net.seed, epoch)
        for first in range(0, len(X), 6):
            rows = order[first:first + 6]
            masks = [_core.dropout_mask(net.seed, epoch, l, rows, W.shape[1], 0.5) for l, W in enumerate(Ws[:-1])]
            _, eW, eb = masked_loss_and_grads(Ws, bs, X[rows], Y[rows], ("relu", "tanh"), masks, "mean")
            Ws = [W - 0.1 * g for W, g in zip(Ws, eW)]
            bs = [b - 0.1 * g for b, g in zip(bs, eb)]
    for got, want in zip([*net.weights, *net.biases], [*Ws, *bs]):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_step_gradient_equals_finite_differences_of_the_masked_loss():
    X, Y = problem(seed=2, n=10, sizes=(3, 4, 3))
    net = make_net(0.5, sizes=(3, 4, 3), hidden="sigmoid", seed=5)
    dWs, dbs, Ws, bs = step_gradients(net, X, Y)
    masks = [_core.dropout_mask(net.seed, 0, 0, list(range(10)), 4, 0.5)]
    assert 0 < np.count_nonzero(masks[0]) < masks[0].size
    params = [*Ws, *bs]
    for k, (P, G) in enumerate(zip(params, [*dWs, *dbs])):
        fd = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            def at(delta):
                Q = [q.copy() for q in params]
                Q[k][idx] += delta
                return masked_loss_and_grads(Q[:2], Q[2:], X, Y, ["sigmoid"], masks, "mean")[0]
            fd[idx] = (at(1e-6) - at(-1e-6)) / 2e-6
        assert np.abs(fd).max() > 1e-4  # not trivially zero
        np.testing.assert_allclose(G, fd, rtol=1e-5, atol=1e-8)


def test_step_gradient_equals_torch_with_the_same_masks():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    X, Y = problem(seed=3)
    net = make_net((0.3, 0.6), seed=8)
    dWs, dbs, Ws, bs = step_gradients(net, X, Y)
    rows = list(range(len(X)))
    masks = [torch.tensor(_core.dropout_mask(net.seed, 0, l, rows, W.shape[1], p))
             for l, (W, p) in enumerate(zip(Ws[:-1], (0.3, 0.6)))]
    tW = [torch.tensor(W, requires_grad=True) for W in Ws]
    tb = [torch.tensor(b, requires_grad=True) for b in bs]
    h = torch.relu(torch.tensor(X) @ tW[0] + tb[0]) * masks[0]
    h = torch.tanh(h @ tW[1] + tb[1]) * masks[1]
    loss = torch.nn.functional.cross_entropy(h @ tW[2] + tb[2], torch.tensor(Y.argmax(axis=1)))
    loss.backward()
    for got, t in zip([*dWs, *dbs], [*tW, *tb]):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-9, atol=1e-12)


# --- reproducibility ----------------------------------------------------------------------

def test_zero_dropout_is_bit_identical_to_none(iris):
    X, Y, _, _ = iris
    plain = fastmlp.train(X, Y, hidden=5, epochs=200, seed=3)
    for rates in (0.0, (0.0,), 0):
        net = fastmlp.train(X, Y, hidden=5, epochs=200, seed=3, dropout=rates)
        for a, b in zip([*plain.weights, *plain.biases], [*net.weights, *net.biases]):
            assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_network_for_any_thread_count(dtype):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 20))
    Y = np.eye(3)[rng.integers(0, 3, 3000)]
    nets = []
    for threads in (1, 2, 3):
        net = fastmlp.Network([20, 64, 64, 3], activation="relu", output="softmax", loss="cross_entropy",
                              reduction="mean", init="he", seed=9, dtype=dtype, dropout=(0.2, 0.5))
        net.fit(X, Y, epochs=3, learning_rate=0.05, batch_size=1000, threads=threads)
        nets.append(net)
    for other in nets[1:]:
        for a, b in zip([*nets[0].weights, *nets[0].biases], [*other.weights, *other.biases]):
            assert a.tobytes() == b.tobytes()
    # and dropout changed the training
    plain = fastmlp.Network([20, 64, 64, 3], activation="relu", output="softmax", loss="cross_entropy",
                            reduction="mean", init="he", seed=9, dtype=dtype)
    plain.fit(X, Y, epochs=3, learning_rate=0.05, batch_size=1000)
    assert not np.array_equal(plain.weights[0], nets[0].weights[0])


def test_predict_loss_and_gradient_ignore_dropout():
    X, Y = problem()
    dropping, plain = make_net(0.5), make_net(0.0)
    np.testing.assert_array_equal(dropping.predict(X), plain.predict(X))
    assert dropping.loss(X, Y) == plain.loss(X, Y)
    for a, b in zip(dropping.gradient(X, Y), plain.gradient(X, Y)):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)
    # validation figures are those of the plain network
    dropping.fit(X, Y, epochs=1, learning_rate=0.0, validation=(X, Y))
    assert dropping.history["val_loss"][0] == pytest.approx(plain.loss(X, Y), rel=1e-12)


# --- arguments ----------------------------------------------------------------------------

@pytest.mark.parametrize("rates, error, words", [
    (1.0, ValueError, "[0, 1)"), (-0.1, ValueError, "[0, 1)"), (float("nan"), ValueError, "finite"),
    ((0.1,), ValueError, "one rate per hidden layer (2)"), ((0.1, 0.2, 0.3), ValueError, "(2)"),
    ("0.5", TypeError, "dropout"), (True, TypeError, "dropout"), ((0.1, "x"), TypeError, "dropout"),
    ((0.1, 1.5), ValueError, "[0, 1)"),
])
def test_bad_rates_are_refused(rates, error, words):
    with pytest.raises(error, match="dropout") as info:
        fastmlp.Network([4, 5, 6, 3], dropout=rates)
    assert words in str(info.value)


def test_dropout_without_hidden_layers_is_refused():
    with pytest.raises(ValueError, match="hidden"):
        fastmlp.Network([4, 3], dropout=0.5)
    assert fastmlp.Network([4, 3], dropout=0.0).dropout == 0.0


def test_repr_and_attribute():
    net = fastmlp.Network([4, 5, 6, 3], dropout=(0.1, 0.2))
    assert net.dropout == (0.1, 0.2) and "dropout=(0.1, 0.2)" in repr(net)
    assert "dropout" not in repr(fastmlp.Network([4, 5, 3]))


# --- model files ----------------------------------------------------------------------------

def metadata(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))["__metadata__"]


def test_model_files_record_the_rates(tmp_path):
    net = fastmlp.Network([4, 5, 6, 3], dropout=(0.25, 0.5), seed=2)
    net.save(tmp_path / "m.safetensors")
    assert metadata(tmp_path / "m.safetensors")["dropout"] == "0.25,0.5"
    back = fastmlp.load(tmp_path / "m.safetensors")
    assert back.dropout == (0.25, 0.5)
    X = np.random.default_rng(0).random((7, 4))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    import pickle
    assert pickle.loads(pickle.dumps(net)).dropout == (0.25, 0.5)
    # one rate for all layers reads back as one rate
    fastmlp.Network([4, 5, 6, 3], dropout=0.3).save(tmp_path / "one.safetensors")
    assert fastmlp.load(tmp_path / "one.safetensors").dropout == 0.3
    # a network without dropout writes no entry (files as before) and reads back 0
    fastmlp.Network([4, 5, 3]).save(tmp_path / "none.safetensors")
    assert "dropout" not in metadata(tmp_path / "none.safetensors")
    assert fastmlp.load(tmp_path / "none.safetensors").dropout == 0.0


def rewrite_metadata(src, dst, **changes):
    with open(src, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        body = f.read()
    header["__metadata__"].update(changes)
    text = json.dumps(header).encode()
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


@pytest.mark.parametrize("value", ["0.5", "0.5,0.5,0.5", "1", "-0.1", "nan", "x,0.1", "0.1,", ""])
def test_bad_dropout_metadata_is_refused(tmp_path, value):
    fastmlp.Network([4, 5, 6, 3], dropout=0.1).save(tmp_path / "m.safetensors")
    rewrite_metadata(tmp_path / "m.safetensors", tmp_path / "bad.safetensors", dropout=value)
    with pytest.raises(ValueError, match="dropout"):
        fastmlp.load(tmp_path / "bad.safetensors")


# --- the estimators, the command line, ONNX ---------------------------------------------------

@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimators_take_dropout(iris):
    pytest.importorskip("sklearn")
    from fastmlp.sklearn import MLPClassifier, MLPRegressor
    X, Y, _, _ = iris
    y = Y.argmax(axis=1)
    base = MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0).fit(X, y)
    zero = MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0, dropout=0.0).fit(X, y)
    for a, b in zip(base.coefs_, zero.coefs_):
        assert a.tobytes() == b.tobytes()
    dropped = MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0, dropout=0.3).fit(X, y)
    assert dropped.network_.dropout == 0.3 and dropped.get_params()["dropout"] == 0.3
    assert not np.array_equal(base.coefs_[0], dropped.coefs_[0])
    reg = MLPRegressor(hidden_layer_sizes=(8, 8), max_iter=5, random_state=0, dropout=0.2).fit(X, y.astype(float))
    assert reg.network_.dropout == 0.2
    with pytest.raises(ValueError, match="dropout"):
        MLPClassifier(dropout=1.0).fit(X, y)
    with pytest.raises(ValueError, match="dropout needs a stochastic solver"):
        MLPClassifier(dropout=0.2, solver="lbfgs").fit(X, y)


def test_command_line_dropout(tmp_path):
    cmd = [sys.executable, "-m", "fastmlp"]
    model = tmp_path / "m.safetensors"
    res = subprocess.run([*cmd, "train", "--hidden", "6,4", "--epochs", "20", "--dropout", "0.2,0.4",
                          "--quiet", "-o", str(model)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Accuracy: ")
    assert fastmlp.load(model).dropout == (0.2, 0.4)
    res = subprocess.run([*cmd, "train", "--hidden", "6,4", "--epochs", "20", "--dropout", "0.3",
                          "--quiet", "-o", str(model)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert fastmlp.load(model).dropout == 0.3
    for bad in ("1", "0.1,0.2,0.3", "x", "-0.5"):
        res = subprocess.run([*cmd, "train", "--hidden", "6,4", "--epochs", "1", "--dropout", bad],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 2 and "--dropout" in res.stderr and res.stderr.count("\n") == 1, res.stderr


def test_onnx_export_ignores_dropout():
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    X, Y = problem()
    net = make_net((0.3, 0.5))
    net.fit(X, Y, epochs=5, learning_rate=0.1)
    session = ort.InferenceSession(net.to_onnx().SerializeToString(), providers=["CPUExecutionProvider"])
    (P,) = session.run(None, {"X": X})
    np.testing.assert_allclose(P, net.predict(X), rtol=1e-12, atol=1e-12)


def test_the_rate_is_fixed_when_the_network_is_made():
    # an attribute that could be set would say one rate while the core trains with another
    net = fastmlp.Network([4, 5, 3], seed=0, dropout=0.5)
    with pytest.raises(AttributeError, match="dropout is fixed when the network is made"):
        net.dropout = 0.0
    assert net.dropout == 0.5
    again = pickle.loads(pickle.dumps(net))
    assert again.dropout == 0.5


def test_a_0_d_array_is_its_one_rate():
    X, Y = np.random.default_rng(0).random((20, 4)), np.eye(3)[np.arange(20) % 3]
    a = fastmlp.Network([4, 5, 3], seed=0, dropout=np.array(0.2)).fit(X, Y, epochs=3)
    b = fastmlp.Network([4, 5, 3], seed=0, dropout=0.2).fit(X, Y, epochs=3)
    assert a.dropout == 0.2
    np.testing.assert_array_equal(a.weights[0], b.weights[0])


# --- given per layer, kept per layer ------------------------------------------------------------

@pytest.mark.parametrize("kwargs, attribute, expected", [
    (dict(sizes=[4, 5, 6, 3], dropout=(0.5, 0.5)), "dropout", (0.5, 0.5)),
    (dict(sizes=[4, 5, 3], dropout=(0.25,)), "dropout", (0.25,)),
    (dict(sizes=[4, 5, 6, 3], dropout=(0.0, 0.0)), "dropout", (0.0, 0.0)),
    (dict(sizes=[4, 5, 6, 3], dropout=0.5), "dropout", 0.5),
    (dict(sizes=[4, 5, 6, 3], activation=("relu", "relu")), "activation", ("relu", "relu")),
    (dict(sizes=[4, 5, 6, 3], activation="relu"), "activation", "relu"),
])
def test_a_per_layer_value_comes_back_as_given(tmp_path, kwargs, attribute, expected):
    # (0.5, 0.5) came back from a model file (and a pickle) as 0.5: the file's one rate per
    # layer cannot tell them apart, so the package's own entry says which was given
    net = fastmlp.Network(**kwargs)
    assert getattr(net, attribute) == expected
    net.save(tmp_path / "m.safetensors")
    back = fastmlp.load(tmp_path / "m.safetensors")
    assert getattr(back, attribute) == expected and type(getattr(back, attribute)) is type(expected)
    assert getattr(pickle.loads(pickle.dumps(net)), attribute) == expected
    back.save(tmp_path / "again.safetensors")  # and again
    assert getattr(fastmlp.load(tmp_path / "again.safetensors"), attribute) == expected
    # the entry is written only when the lists alone would say otherwise
    meta = metadata(tmp_path / "m.safetensors")
    assert ("python.per_layer" in meta) == isinstance(expected, tuple)


@pytest.mark.parametrize("value", ["bias", "dropout,dropout", "", "dropout;activation"])
def test_a_bad_per_layer_entry_is_refused(tmp_path, value):
    fastmlp.Network([4, 5, 6, 3], dropout=(0.1, 0.1)).save(tmp_path / "m.safetensors")
    rewrite_metadata(tmp_path / "m.safetensors", tmp_path / "bad.safetensors", **{"python.per_layer": value})
    with pytest.raises(ValueError, match="metadata 'python.per_layer' must name some of 'activation', 'dropout'"):
        fastmlp.load(tmp_path / "bad.safetensors")


def test_summary_shows_each_layers_dropout(capsys):
    fastmlp.Network([4, 5, 6, 3], dropout=(0.2, 0.5)).summary()
    assert capsys.readouterr().out.splitlines() == [
        "layer  shape   activation  dropout  parameters",
        "    1  4 -> 5  sigmoid     0.2              25",
        "    2  5 -> 6  sigmoid     0.5              36",
        "    3  6 -> 3  sigmoid                      21",
        "total                                       82",
    ]
    fastmlp.Network([4, 5, 6, 3], dropout=0.1).summary()
    assert [line.split()[5] for line in capsys.readouterr().out.splitlines()[1:3]] == ["0.1", "0.1"]
    # without dropout, the table as before
    fastmlp.Network([4, 5, 3]).summary()
    assert capsys.readouterr().out.splitlines()[0] == "layer  shape   activation  parameters"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimators_take_a_rate_per_hidden_layer(iris, tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.base import clone

    from fastmlp.sklearn import MLPClassifier, MLPRegressor, load
    X, Y, _, _ = iris
    y = Y.argmax(axis=1)
    params = dict(hidden_layer_sizes=(12, 8), max_iter=15, random_state=0)
    per_layer = MLPClassifier(**params, dropout=(0.3, 0.1)).fit(X, y)
    assert per_layer.network_.dropout == (0.3, 0.1) and per_layer.get_params()["dropout"] == (0.3, 0.1)
    # the rates change the fit; a list is the same rates as a tuple
    plain = MLPClassifier(**params).fit(X, y)
    assert not np.array_equal(per_layer.coefs_[0], plain.coefs_[0])
    same = MLPClassifier(**params, dropout=[0.3, 0.1]).fit(X, y)
    np.testing.assert_array_equal(same.coefs_[0], per_layer.coefs_[0])
    # get_params, set_params, clone and the model file keep it as given
    assert clone(per_layer).get_params()["dropout"] == (0.3, 0.1)
    assert MLPClassifier().set_params(dropout=(0.5, 0.5)).get_params()["dropout"] == (0.5, 0.5)
    for dropout in [(0.3, 0.1), (0.5, 0.5)]:
        est = MLPRegressor(**params, dropout=dropout).fit(X, y.astype(float))
        est.save(tmp_path / "m.st")
        back = load(tmp_path / "m.st")
        assert back.get_params()["dropout"] == dropout and back.network_.dropout == dropout
        np.testing.assert_array_equal(back.predict(X), est.predict(X))
    # one rate per hidden layer, each in [0, 1), and a stochastic solver
    for bad, message in [((0.3,), r"dropout must give one rate per hidden layer \(2\); got 1"),
                         ((0.1, 0.2, 0.3), r"dropout must give one rate per hidden layer \(2\); got 3"),
                         ((0.1, 1.0), "The 'dropout' parameter of MLPClassifier must be a real number in"),
                         ((0.1, "x"), "The 'dropout' parameter"), ((0.1, float("nan")), "The 'dropout' parameter")]:
        with pytest.raises(ValueError, match=message):
            MLPClassifier(**params, dropout=bad).fit(X, y)
    with pytest.raises(ValueError, match="dropout needs a stochastic solver"):
        MLPClassifier(**params, dropout=(0.0, 0.2), solver="lbfgs").fit(X, y)
    MLPClassifier(**{**params, "max_iter": 2}, dropout=(0.0, 0.0), solver="lbfgs").fit(X, y)  # no dropout: fine


def test_command_line_reads_a_tiny_rate_as_python_does(tmp_path):
    # 1e-400 is 0.0 to Python's float() and to --lr; --dropout said "expected a finite number"
    cmd = [sys.executable, "-m", "fastmlp"]
    runs = {}
    for rate in ("1e-400", "0"):
        model = tmp_path / f"{rate}.st"
        res = subprocess.run([*cmd, "train", "--epochs", "5", "--dropout", rate, "--quiet", "-o", str(model)],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        runs[rate] = (res.stdout, model.read_bytes())
    assert runs["1e-400"] == runs["0"]
    res = subprocess.run([*cmd, "train", "--epochs", "1", "--dropout", "1e999"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2 and "--dropout: expected a finite number, got '1e999'" in res.stderr
