"""Options beyond the article: activations, softmax, cross-entropy, reductions,
initialisations, mini-batches and threads, each against the NumPy reference."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
import reference

COMBOS = [
    (act, out, loss)
    for act in ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
    for out, loss in [("sigmoid", "mse"), ("identity", "mse"), ("softmax", "mse"), ("tanh", "mse"),
                      ("softmax", "cross_entropy"), ("sigmoid", "cross_entropy")]
]


def _random_net(sizes, rng, **options):
    net = fastmlp.Network(sizes, **options)
    for W in net.weights:
        W[...] = rng.standard_normal(W.shape) / np.sqrt(W.shape[0])
    for b in net.biases:
        b[...] = 0.1 * rng.standard_normal(b.shape)
    return net


def _targets(rng, n, k, output):
    if output == "softmax":
        return np.eye(k)[rng.integers(0, k, n)]
    return rng.random((n, k))


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("activation,output,loss", COMBOS)
def test_gradient_matches_reference_and_finite_differences(activation, output, loss, reduction):
    rng = np.random.default_rng(7)
    sizes = [3, 6, 5, 4]
    X = rng.standard_normal((11, 3))
    Y = _targets(rng, 11, 4, output)
    net = _random_net(sizes, rng, activation=activation, output=output, loss=loss, reduction=reduction)
    dW, db = net.gradient(X, Y)
    value, ref_dW, ref_db = reference.general_loss_and_grads(
        [w.copy() for w in net.weights], [b.copy() for b in net.biases], X, Y, activation, output, loss, reduction)
    assert net.loss(X, Y) == pytest.approx(value, rel=1e-12)
    for i, (got, want) in enumerate(zip(dW + db, ref_dW + ref_db)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=f"parameter group {i}")
    # finite differences on a few parameters of every group
    h = 1e-5
    for i, param in enumerate((*net.weights, *net.biases)):
        flat, grad = param.reshape(-1), (dW + db)[i].reshape(-1)
        for j in rng.choice(flat.size, size=min(3, flat.size), replace=False):
            old = flat[j]
            flat[j] = old + h
            up = net.loss(X, Y)
            flat[j] = old - h
            down = net.loss(X, Y)
            flat[j] = old
            assert (up - down) / (2 * h) == pytest.approx(grad[j], rel=1e-5, abs=1e-8), f"group {i} index {j}"
    if activation != "identity" or output != "identity":
        assert max(np.abs(g).max() for g in dW) > 1e-3, "gradient trivially small"


@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_cross_entropy_is_stable_at_extreme_logits(output):
    net = fastmlp.Network([2, 3], activation="identity", output=output, loss="cross_entropy")
    net.weights[0][...] = [[1000.0, -1000.0, 0.0], [0.0, 0.0, 0.0]]
    net.biases[0][...] = 0.0
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    Y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # both rows badly wrong
    value, ref_dW, ref_db = reference.general_loss_and_grads(
        [net.weights[0].copy()], [net.biases[0].copy()], X, Y, "identity", output, "cross_entropy", "sum")
    assert np.isfinite(net.loss(X, Y)) and net.loss(X, Y) == pytest.approx(value, rel=1e-12)
    assert net.loss(X, Y) >= 2000.0 - 1e-9
    dW, db = net.gradient(X, Y)
    np.testing.assert_allclose(dW[0], ref_dW[0], atol=1e-12)
    np.testing.assert_allclose(db[0], ref_db[0], atol=1e-12)


def test_cross_entropy_needs_a_probability_output():
    with pytest.raises(ValueError, match="needs output 'softmax' or 'sigmoid'"):
        fastmlp.Network([4, 3], output="identity", loss="cross_entropy")
    with pytest.raises(ValueError, match="activation must be one of"):
        fastmlp.Network([4, 3], activation="softmax")


@pytest.mark.parametrize("init,limit", [("glorot", lambda i, o: np.sqrt(6 / (i + o))),
                                        ("he", lambda i, o: np.sqrt(6 / i))])
def test_scaled_initialisations(init, limit):
    sizes = [30, 20, 10]
    net = fastmlp.Network(sizes, init=init, seed=5)
    gen = reference.xoshiro256ss(5)
    for W, b in zip(net.weights, net.biases):
        bound = limit(*W.shape)
        want = np.array([bound * (2 * ((next(gen) >> 11) * 2.0**-53) - 1) for _ in range(W.size)]).reshape(W.shape)
        np.testing.assert_allclose(W, want, rtol=1e-15)
        assert np.abs(W).max() < bound and not b.any()


@pytest.mark.parametrize("init,sd", [("glorot_normal", lambda i, o: np.sqrt(2 / (i + o))),
                                     ("he_normal", lambda i, o: np.sqrt(2 / i))])
def test_normal_initialisations(init, sd):
    """Draws follow Marsaglia's polar method on the project's RNG (the reference
    uses math.log, the core its own log: equal to a few ulps), and their
    spread is the documented standard deviation."""
    sizes = [200, 150, 10]
    net = fastmlp.Network(sizes, init=init, seed=9)
    gen = reference.xoshiro256ss(9)
    for W, b in zip(net.weights, net.biases):
        want = sd(*W.shape) * np.array(reference.normal_draws(gen, W.size)).reshape(W.shape)
        np.testing.assert_allclose(W, want, rtol=1e-14, atol=1e-300)
        assert not b.any()
    W = net.weights[0]
    assert abs(W.mean()) < 4 * sd(*W.shape) / np.sqrt(W.size)
    assert W.std() == pytest.approx(sd(*W.shape), rel=0.02)
    again = fastmlp.Network(sizes, init=init, seed=9, dtype="float32")
    np.testing.assert_array_equal(again.weights[0], W.astype(np.float32))


def test_leaky_relu_slope_is_respected():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((50, 4))
    for slope in (0.0, 0.01, 0.3):
        net = fastmlp.Network([4, 6, 2], activation="leaky_relu", output="leaky_relu", leaky_slope=slope, init="he")
        (W0, W1), (b0, b1) = net.weights, net.biases
        leaky = reference.activation_pair("leaky_relu", slope)[0]
        np.testing.assert_allclose(net.predict(X), leaky(leaky(X @ W0 + b0) @ W1 + b1), rtol=1e-13, atol=1e-15)
    assert np.any(X @ W0 + b0 < 0), "some inputs must fall on the negative side"


def test_one_activation_per_hidden_layer():
    rng = np.random.default_rng(12)
    hidden = ("relu", "tanh", "leaky_relu")
    X, Y = rng.standard_normal((9, 3)), rng.random((9, 2))
    net = _random_net([3, 7, 6, 5, 2], rng, activation=hidden, output="sigmoid", leaky_slope=0.2)
    assert net.activations == hidden
    value, ref_dW, ref_db = reference.general_loss_and_grads(
        [w.copy() for w in net.weights], [b.copy() for b in net.biases], X, Y, hidden, "sigmoid", "mse", "sum",
        leaky_slope=0.2)
    dW, db = net.gradient(X, Y)
    assert net.loss(X, Y) == pytest.approx(value, rel=1e-12)
    for got, want in zip(dW + db, ref_dW + ref_db):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="one activation per hidden layer"):
        fastmlp.Network([3, 7, 2], activation=("relu", "tanh"))


def _sgd_reference(net, X, Y, epochs, lr, batch_size, shuffle, options):
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    n = X.shape[0]
    for epoch in range(epochs):
        order = reference.epoch_order(n, net.seed, epoch) if shuffle else list(range(n))
        for start in range(0, n, batch_size):
            rows = order[start:start + batch_size]
            _, dW, db = reference.general_loss_and_grads(weights, biases, X[rows], Y[rows], **options)
            weights = [w - lr * g for w, g in zip(weights, dW)]
            biases = [b - lr * g for b, g in zip(biases, db)]
    return weights, biases


@pytest.mark.parametrize("shuffle", [False, True])
def test_minibatch_sgd_matches_reference(shuffle):
    rng = np.random.default_rng(3)
    options = dict(activation="relu", output="softmax", loss="cross_entropy", reduction="mean")
    X = rng.standard_normal((53, 6))  # 53 = 4 batches of 13 and a last one of 1
    Y = np.eye(4)[rng.integers(0, 4, 53)]
    net = fastmlp.Network([6, 9, 4], init="he", seed=8, **options)
    want_w, want_b = _sgd_reference(net, X, Y, 3, 0.1, 13, shuffle, options)
    net.fit(X, Y, epochs=3, learning_rate=0.1, batch_size=13, shuffle=shuffle)
    for got, want in zip((*net.weights, *net.biases), (*want_w, *want_b)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_resumed_fit_continues_the_shuffles():
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((40, 3)), rng.random((40, 2))
    a = fastmlp.Network([3, 5, 2], seed=1).fit(X, Y, epochs=4, batch_size=7, learning_rate=0.1)
    b = fastmlp.Network([3, 5, 2], seed=1).fit(X, Y, epochs=1, batch_size=7, learning_rate=0.1)
    b.fit(X, Y, epochs=3, batch_size=7, learning_rate=0.1)
    assert all(np.array_equal(p, q) for p, q in zip(a.weights, b.weights))


def test_epoch_loss_under_mean_reduction_is_the_mean_over_rows():
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((30, 3)), rng.random((30, 2))
    net = fastmlp.Network([3, 4, 2], reduction="mean", seed=2)
    before = net.loss(X, Y)
    net.fit(X, Y, epochs=1, batch_size=30, learning_rate=0.0)
    assert net.history["loss"][0] == before
    net.fit(X, Y, epochs=1, batch_size=7, learning_rate=0.0, shuffle=False)  # lr 0: the same network
    assert net.history["loss"][1] == pytest.approx(before, rel=1e-13)


def _train_b_like(threads, dtype="float32", **fit_options):
    rng = np.random.default_rng(0)
    X = rng.random((700, 300)).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, 700)]
    net = fastmlp.Network([300, 200, 120, 10], activation="relu", output="softmax", loss="cross_entropy",
                          reduction="mean", init="he", seed=0, dtype=dtype)
    net.fit(X, Y, epochs=2, learning_rate=fit_options.pop("learning_rate", 0.05), batch_size=256, threads=threads,
            **fit_options)
    return net, net.predict(X, threads=threads)


# the parameter update is spread over the pool in fixed chunks: the optimisers'
# steps, l2 and the clipping norm too
ADAM = dict(optimizer="adam", learning_rate=1e-3, l2=1e-3, clip_norm=0.5)


@pytest.mark.parametrize("fit_options", [{}, ADAM], ids=["sgd", "adam-l2-clip"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_results_do_not_depend_on_the_thread_count(dtype, fit_options):
    base, P = _train_b_like(1, dtype, **fit_options)
    for threads in (2, 3, 4):
        net, Q = _train_b_like(threads, dtype, **fit_options)
        assert all(np.array_equal(p, q) for p, q in zip(base.weights, net.weights)), f"threads={threads}"
        np.testing.assert_array_equal(P, Q)
        np.testing.assert_array_equal(base.history["loss"], net.history["loss"])


def test_results_do_not_depend_on_the_gemm_kernel(tmp_path):
    script = (
        "import sys, numpy as np, fastmlp; sys.path.insert(0, %r)\n"
        "from test_training_options import _train_b_like\n"
        "net, P = _train_b_like(2)\n"
        "np.save(sys.argv[1], np.concatenate([w.ravel() for w in net.weights] + [P.ravel()]))\n"
        "print(fastmlp._core.gemm_kernel())\n" % os.path.dirname(__file__)
    )
    results = {}
    for kernel in ("ref", "avx2", "avx512"):
        env = dict(os.environ, FASTMLP_GEMM_KERNEL=kernel)
        out = tmp_path / f"{kernel}.npy"
        res = subprocess.run([sys.executable, "-c", script, str(out)], env=env, capture_output=True, text=True)
        if res.returncode != 0 and "cannot run that kernel" in res.stderr:
            continue  # this CPU lacks the instruction set
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == kernel
        results[kernel] = np.load(out)
    assert "ref" in results and len(results) >= 2
    for kernel, values in results.items():
        np.testing.assert_array_equal(values, results["ref"], err_msg=kernel)


# Weights of several MiB: a batch goes forward and back as one block whose
# products are split over the threads by columns, instead of blocks of rows.
WIDE = {"float32": [512, 2048, 10], "float64": [300, 1800, 10]}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_wide_layers_train_the_same_on_any_thread_count_and_as_numpy(dtype):
    sizes = WIDE[dtype]
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, sizes[0])).astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], 200)]

    def trained(threads, rows=200, batch=96):
        net = fastmlp.Network(sizes, activation="relu", output="softmax", loss="cross_entropy",
                              reduction="mean", init="he", seed=0, dtype=dtype)
        start = ([w.copy() for w in net.weights], [b.copy() for b in net.biases])
        net.fit(X[:rows], Y[:rows], epochs=1, learning_rate=0.05, batch_size=batch, threads=threads,
                shuffle=rows > batch)
        return net, start

    # three batches (the last of 8 rows), shuffled: the same bits on every thread count
    base, _ = trained(1)
    for threads in (2, 3):
        net, _ = trained(threads)
        for p, q in zip(base.weights + base.biases, net.weights + net.biases):
            np.testing.assert_array_equal(p, q, err_msg=f"threads={threads}")
    # one step on one batch, on 2 threads, against plain backpropagation in NumPy
    net, (W, b) = trained(2, rows=96)
    _, dW, db = reference.general_loss_and_grads(W, b, X[:96], Y[:96], "relu", "softmax",
                                                 "cross_entropy", "mean")
    tol = 2e-6 if dtype == "float32" else 1e-12
    for got, w, g in zip(net.weights + net.biases, W + b, dW + db):
        np.testing.assert_allclose(got, w - 0.05 * g, rtol=0, atol=tol)
        assert np.abs(got - w).max() > 100 * tol  # the step moved the parameters
