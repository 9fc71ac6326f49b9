"""The fused path for small networks against the general path and NumPy.

Each path is forced in its own process (FASTMLP_FUSED=on / off, read when the
first batch is trained); the gradients, losses and a short fit must agree bit
for bit, and both must match the NumPy reference (tests/reference.py).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import reference

HERE = os.path.dirname(__file__)

# (hidden activation, output, loss): every activation and every loss
CASES = [
    ("sigmoid", "sigmoid", "mse"),
    ("tanh", "softmax", "mse"),
    ("relu", "identity", "mse"),
    ("leaky_relu", "tanh", "mse"),
    ("identity", "relu", "mse"),
    ("tanh", "softmax", "cross_entropy"),
    ("relu", "sigmoid", "cross_entropy"),
    ("sigmoid", "exp", "poisson"),
]

# Runs in a child: for every case, dtype, reduction and weighting, the
# gradient and loss of a random small network, and a short fit; all saved.
SCRIPT = """
import sys
import numpy as np
import fastmlp
sys.path.insert(0, %(here)r)
from test_fused import CASES, problem

out = {}
for c, (act, output, loss) in enumerate(CASES):
    for dtype in ("float32", "float64"):
        for reduction in ("sum", "mean"):
            for weighted in (False, True):
                key = f"{c}-{dtype}-{reduction}-{int(weighted)}"
                net, X, Y, w = problem(c, dtype, reduction, weighted)
                dW, db = net.gradient(X, Y, sample_weight=w)
                out[key + "-loss"] = np.array(net.loss(X, Y, sample_weight=w))
                for i, g in enumerate(dW + db):
                    out[f"{key}-g{i}"] = g
                net.fit(X, Y, epochs=5, learning_rate=0.01, batch_size=16, sample_weight=w, l2=1e-3,
                        clip_norm=1.0, threads=2)
                for i, p in enumerate(net.weights + net.biases):
                    out[f"{key}-p{i}"] = p
np.savez(sys.argv[1], **out)
"""


def problem(case, dtype, reduction, weighted):
    """A random network (a shape drawn per case, widths 1..12) and its data."""
    import fastmlp

    act, output, loss = CASES[case]
    rng = np.random.default_rng(100 + case)
    sizes = [int(s) for s in rng.integers(1, 13, size=int(rng.integers(2, 5)))]
    if output == "softmax":
        sizes[-1] = max(sizes[-1], 2)
    n = int(rng.choice([1, 7, 50, 130, 300]))
    net = fastmlp.Network(sizes, activation=act, output=output, loss=loss, reduction=reduction,
                          init="glorot", seed=case, dtype=dtype)
    X = rng.uniform(-2, 2, (n, sizes[0])).astype(dtype)
    if loss == "poisson":
        Y = rng.integers(0, 4, (n, sizes[-1])).astype(dtype)
    elif output in ("softmax", "sigmoid") and loss == "cross_entropy":
        Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], n)]
    else:
        Y = rng.random((n, sizes[-1])).astype(dtype)
    w = rng.uniform(0.25, 2, n).astype(dtype) if weighted else None
    return net, X, Y, w


def _run(tmp_path, mode):
    path = tmp_path / f"{mode}.npz"
    env = dict(os.environ, FASTMLP_FUSED=mode)
    res = subprocess.run([sys.executable, "-c", SCRIPT % {"here": HERE}, str(path)], env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return dict(np.load(path))


def test_fused_path_matches_general_path_bit_for_bit(tmp_path):
    fused, general = _run(tmp_path, "on"), _run(tmp_path, "off")
    assert fused.keys() == general.keys() and len(fused) > 100
    for key in fused:
        np.testing.assert_array_equal(fused[key], general[key], err_msg=key)


def _poisson_reference(weights, biases, X, Y, act, w):
    """Loss and (dW, db) of a poisson network (output exp), mean over the weights, by NumPy."""
    f, df = reference.activation_pair(act)
    acts = [X]
    for W, b in zip(weights[:-1], biases[:-1]):
        acts.append(f(acts[-1] @ W + b))
    z = acts[-1] @ weights[-1] + biases[-1]
    A = np.exp(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        constant = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1)) - Y, 0.0)
    value = float(np.sum(w[:, None] * (A - Y * z + constant))) / w.sum()
    delta = (A - Y) * (w / w.sum())[:, None]
    dW, db = [None] * len(weights), [None] * len(weights)
    for layer in reversed(range(len(weights))):
        dW[layer] = acts[layer].T @ delta
        db[layer] = delta.sum(axis=0)
        if layer > 0:
            delta = (delta @ weights[layer].T) * df(acts[layer])
    return value, dW, db


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_gradient_matches_numpy(case, dtype):
    # in this process, the default mode: these networks take the fused path
    net, X, Y, w = problem(case, dtype, "mean", True)
    act, output, loss = CASES[case]
    args = ([W.astype(np.float64) for W in net.weights], [b.astype(np.float64) for b in net.biases],
            X.astype(np.float64), Y.astype(np.float64))
    if loss == "poisson":
        value, want_dW, want_db = _poisson_reference(*args, act, w.astype(np.float64))
    else:
        value, want_dW, want_db = reference.general_loss_and_grads(*args, act, output, loss, "mean",
                                                                   sample_weight=w)
    dW, db = net.gradient(X, Y, sample_weight=w)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-3, atol=2e-5)
    assert net.loss(X, Y, sample_weight=w) == pytest.approx(value, rel=tol["rtol"], abs=tol["atol"])
    for i, (got, want) in enumerate(zip(dW + db, want_dW + want_db)):
        np.testing.assert_allclose(got, want, **tol, err_msg=f"parameter group {i}")
    assert max(np.abs(g).max() for g in dW) > 1e-4, "gradient trivially small"


def test_unknown_mode_is_refused():
    env = dict(os.environ, FASTMLP_FUSED="sometimes")
    script = ("import numpy as np, fastmlp\n"
              "fastmlp.Network([2, 3, 1], seed=1).fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=1)\n")
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert res.returncode != 0 and "FASTMLP_FUSED=sometimes" in res.stderr
