"""Workload B, MNIST-shaped training: one epoch over 60000 x 784 random rows.

Network 784-256-128-10, relu, softmax + cross-entropy averaged over the batch,
plain SGD (W -= lr * dW), batch 128, lr 0.01, shuffled, 2 threads. fastmlp
against the same algorithm in NumPy, PyTorch and scikit-learn, float32, then
float64 (fastmlp, NumPy, PyTorch), and fastmlp on 1 thread for the scaling.

    python3 benchmarks/bench_train.py [--rounds 5]
"""

from __future__ import annotations

import _common  # first: re-executes without OPENBLAS_* before NumPy loads

import argparse
import statistics
import time
import warnings

import numpy as np

import fastmlp

SIZES = [784, 256, 128, 10]
ROWS, BATCH, LR, THREADS = 60000, 128, 0.01, 2
GFLOP = _common.train_flops(SIZES, ROWS) / 1e9  # 60.4 per epoch


def make_data(seed=0):
    """Random inputs and labels of MNIST's shape (the speed does not depend on them)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((ROWS, SIZES[0]), dtype=np.float32)
    labels = rng.integers(0, SIZES[-1], ROWS)
    return X, labels


def new_network(dtype, sizes=SIZES):
    """Workload B's network (or another shape), He-initialised, seed 0."""
    return fastmlp.Network(sizes, activation="relu", output="softmax", loss="cross_entropy",
                           reduction="mean", init="he", seed=0, dtype=dtype)


def params_of(net):
    """Copies of the network's parameters as [W1, b1, W2, b2, ...]."""
    return [p.copy() for W, b in zip(net.weights, net.biases) for p in (W, b)]


# --- the same algorithm in NumPy and PyTorch -----------------------------------


def numpy_epoch(X, labels, params, order):
    """One epoch of mini-batch SGD, rows taken in `order`; updates params in place.

    params = [W1, b1, W2, b2, W3, b3], W is (in, out). Written for speed, so
    that the comparison is with NumPy at its best: every batch-sized array
    lives in a buffer allocated once per epoch (out=), as fastmlp allocates
    once per fit, and no array is allocated or traversed twice that need not be.
    """
    (W1, b1), (W2, b2), (W3, b3) = zip(params[0::2], params[1::2])
    (n_in, h1), h2, n_out = W1.shape, W2.shape[1], W3.shape[1]
    buffer = {name: np.empty((BATCH, cols), X.dtype)
              for name, cols in dict(x=n_in, a1=h1, a2=h2, p=n_out, dz1=h1, dz2=h2).items()}
    dW = [np.empty_like(W) for W in (W1, W2, W3)]
    for start in range(0, len(order), BATCH):
        idx = order[start:start + BATCH]
        m = len(idx)  # the last batch may be smaller: use the buffers' first m rows
        xb = np.take(X, idx, axis=0, out=buffer["x"][:m])
        A1 = np.matmul(xb, W1, out=buffer["a1"][:m])
        A1 += b1
        np.maximum(A1, 0, out=A1)
        A2 = np.matmul(A1, W2, out=buffer["a2"][:m])
        A2 += b2
        np.maximum(A2, 0, out=A2)
        P = np.matmul(A2, W3, out=buffer["p"][:m])
        P += b3
        P -= P.max(axis=1, keepdims=True)  # stable softmax
        np.exp(P, out=P)
        P /= P.sum(axis=1, keepdims=True)
        P[np.arange(m), labels[idx]] -= 1  # dZ3 of the mean cross-entropy: (P - Y) / m ...
        P *= LR / m  # ... times lr: backprop is linear in dZ3, so every gradient below
        # comes out already scaled by lr, and the update is one pass over W
        dZ2 = np.matmul(P, W3.T, out=buffer["dz2"][:m])
        dZ2 *= A2 > 0  # relu' from the output: A > 0 exactly where Z > 0
        dZ1 = np.matmul(dZ2, W2.T, out=buffer["dz1"][:m])
        dZ1 *= A1 > 0
        for W, b, A, dZ, g in ((W3, b3, A2, P, dW[2]), (W2, b2, A1, dZ2, dW[1]), (W1, b1, xb, dZ1, dW[0])):
            W -= np.matmul(A.T, dZ, out=g)  # lr * dW
            b -= dZ.sum(axis=0)


def torch_model(torch, net):
    """nn.Linear layers holding fastmlp's weights (nn.Linear stores W as (out, in))."""
    layers = []
    for W, b in zip(net.weights, net.biases):
        lin = torch.nn.Linear(*W.shape, dtype=torch.from_numpy(W).dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])  # logits out; CrossEntropyLoss applies the softmax


def torch_epoch(torch, model, X, labels, order, batch=BATCH):
    """One epoch as in every PyTorch tutorial: CrossEntropyLoss (mean) and optim.SGD."""
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    for start in range(0, len(order), batch):
        idx = order[start:start + batch]
        opt.zero_grad()
        loss_fn(model(X[idx]), labels[idx]).backward()
        opt.step()


def sklearn_model(neural_network, **kw):
    return neural_network.MLPClassifier(hidden_layer_sizes=tuple(SIZES[1:-1]), solver="sgd", batch_size=BATCH,
                                        learning_rate_init=LR, momentum=0.0, alpha=0.0, max_iter=1,
                                        shuffle=True, **kw)


def quiet_fit(fit, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after max_iter=1
        fit(X, y)


# --- checks and timing -----------------------------------------------------------


def sgemm_peak(n=2048, seconds=2.0) -> float:
    """GFLOP/s of the fastest float32 n x n matmul (NumPy's BLAS) in a 2 s run.

    A run, not one call: here the first calls after start-up are up to twice
    as slow (threads and the CPUs waking up), and the yardstick is the ceiling.
    """
    a, b = (np.random.default_rng(i).standard_normal((n, n), dtype=np.float32) for i in range(2))
    c = np.empty_like(a)  # out=: time the product, not the page faults of a fresh 16 MiB result
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def check_one_step(X, labels, dtype, torch, neural_network):
    """One SGD step on the first batch from fastmlp's weights: every system must agree."""
    m, tol = slice(0, BATCH), (2e-6 if dtype == "float32" else 1e-13)
    Y = np.eye(SIZES[-1], dtype=dtype)[labels[m]]
    net = new_network(dtype)
    start = params_of(net)
    net.fit(X[m], Y, epochs=1, learning_rate=LR, batch_size=BATCH, shuffle=False, threads=THREADS)
    want = params_of(net)
    moved = max(float(np.abs(w - s).max()) for w, s in zip(want, start))
    print(f"check: one step on {BATCH} rows moves a parameter by up to {moved:.2e} (it must move)")
    assert moved > 100 * tol, "fastmlp's step did not change the weights"

    got = [p.copy() for p in start]
    numpy_epoch(X, labels, got, np.arange(BATCH))
    _common.check_close(f"numpy {dtype}", got, want, tol)
    if torch:
        model = torch_model(torch, new_network(dtype))
        torch_epoch(torch, model, torch.from_numpy(X), torch.from_numpy(labels), torch.arange(BATCH))
        got = [p.detach().numpy() for lin in model[0::2] for p in (lin.weight.T, lin.bias)]
        _common.check_close(f"pytorch {dtype}", got, want, tol)
    if neural_network and dtype == "float32":
        clf = sklearn_model(neural_network, random_state=0)
        quiet_fit(clf.fit, X[m], labels[m])  # sets up classes and buffers
        clf.coefs_, clf.intercepts_ = [p.copy() for p in start[0::2]], [p.copy() for p in start[1::2]]
        quiet_fit(clf.partial_fit, X[m], labels[m])  # one step on one batch
        _common.check_close("scikit-learn float32", [p for W, b in zip(clf.coefs_, clf.intercepts_)
                                                     for p in (W, b)], want, tol)


def systems_for(X, labels, dtype, torch, neural_network):
    """Setups for one epoch of each system, all from fastmlp's weights but scikit-learn's own."""
    Y = np.eye(SIZES[-1], dtype=dtype)[labels]
    rng = np.random.default_rng(1)

    def fastmlp_setup(threads):
        net = new_network(dtype)
        return lambda: net.fit(X, Y, epochs=1, learning_rate=LR, batch_size=BATCH, shuffle=True, threads=threads)

    def numpy_setup():
        params = params_of(new_network(dtype))
        return lambda: numpy_epoch(X, labels, params, rng.permutation(ROWS))

    systems = {"fastmlp": lambda: fastmlp_setup(THREADS)}
    if dtype == "float32":
        systems["fastmlp 1 thread"] = lambda: fastmlp_setup(1)
    systems["numpy"] = numpy_setup
    if torch:
        Xt, yt = torch.from_numpy(X), torch.from_numpy(labels)
        systems["pytorch"] = lambda: (lambda model=torch_model(torch, new_network(dtype)):
                                      torch_epoch(torch, model, Xt, yt, torch.randperm(ROWS)))
    if neural_network and dtype == "float32":
        systems["scikit-learn"] = lambda: (lambda clf=sklearn_model(neural_network): quiet_fit(clf.fit, X, labels))
    return systems


def run(rounds, torch, neural_network) -> None:
    X32, labels = make_data()
    for dtype in ("float32", "float64"):
        X = X32 if dtype == "float32" else X32.astype(np.float64)
        print(f"### {dtype}\n")
        check_one_step(X, labels, dtype, torch, neural_network)
        print()
        times = _common.interleave(systems_for(X, labels, dtype, torch, neural_network), rounds)
        _common.print_table(times, unit="s/epoch", scale=1.0,
                            rates={"samples/s": lambda s: ROWS / s, "GFLOP/s": lambda s: GFLOP / s})
        if dtype == "float32":
            # the yardstick, after the rounds so that it runs on the same warmed-up threads
            peak = sgemm_peak()
            ours = GFLOP / statistics.median(times["fastmlp"])
            print(f"NumPy float32 matmul 2048 x 2048 on {THREADS} threads: {peak:.1f} GFLOP/s; "
                  f"fastmlp trains at {ours:.1f} GFLOP/s, {100 * ours / peak:.0f}% of it\n")
    print(f"GFLOP per epoch, counted exactly: {GFLOP:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    torch = _common.optional("torch")
    neural_network = _common.optional("sklearn.neural_network")
    with _common.limit_threads(THREADS):
        _common.print_header("B. MNIST-shaped training: 784-256-128-10 relu, softmax/cross-entropy, "
                             f"batch {BATCH}, SGD lr {LR}, one epoch", threads=THREADS)
        run(args.rounds, torch, neural_network)


if __name__ == "__main__":
    main()
