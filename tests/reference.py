"""A plain NumPy multilayer perceptron: the oracle the C++ core is tested against.

It implements the article's update rule directly, with no code shared with
fastmlp: sigmoid layers, Z = X W + b, error Y - A, deltas through
sigma'(Z) = A (1 - A), and W += lr * X^T delta with the gradient summed over
the rows. It also carries an independent implementation of the project's RNG
(SplitMix64 seeding xoshiro256**), to check the initialisation bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

MASK = (1 << 64) - 1


def sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-z) = inf gives the right limit, 0
        return 1.0 / (1.0 + np.exp(-z))


def forward(weights, biases, X):
    """Every layer's activation, input first: [X, A_1, ..., A_L]."""
    acts = [X]
    for W, b in zip(weights, biases):
        acts.append(sigmoid(acts[-1] @ W + b))
    return acts


def loss(weights, biases, X, Y) -> float:
    """1/2 * sum((Y - A)^2), the loss whose negative gradient the article follows."""
    return 0.5 * float(np.sum((Y - forward(weights, biases, X)[-1]) ** 2))


def adjustments(weights, biases, X, Y):
    """The article's adjustments (minus the gradient): per layer X^T delta and sum(delta)."""
    acts = forward(weights, biases, X)
    delta = (Y - acts[-1]) * (acts[-1] * (1.0 - acts[-1]))
    adj_w, adj_b = [None] * len(weights), [None] * len(weights)
    for layer in reversed(range(len(weights))):
        adj_w[layer] = acts[layer].T @ delta
        adj_b[layer] = delta.sum(axis=0)
        if layer > 0:
            delta = (delta @ weights[layer].T) * (acts[layer] * (1.0 - acts[layer]))
    return adj_w, adj_b


def epoch(weights, biases, X, Y, learning_rate):
    """One full-batch epoch of the article: new (weights, biases)."""
    adj_w, adj_b = adjustments(weights, biases, X, Y)
    return ([W + learning_rate * a for W, a in zip(weights, adj_w)],
            [b + learning_rate * a for b, a in zip(biases, adj_b)])


# --- the project's RNG, written again from its definition ---------------------------


def xoshiro256ss(seed: int):
    """Yield xoshiro256** outputs for a state seeded by SplitMix64(seed)."""
    state, x = [], seed
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & MASK
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        state.append(z ^ (z >> 31))

    def rotl(v, k):
        return ((v << k) | (v >> (64 - k))) & MASK

    s0, s1, s2, s3 = state
    while True:
        result = (rotl((s1 * 5) & MASK, 7) * 9) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        yield result


def below(gen, n: int) -> int:
    """Uniform in [0, n): masked draws, rejecting those >= n (the project's method)."""
    mask = (1 << max(n - 1, 1).bit_length()) - 1 if n > 1 else 0
    while True:
        x = next(gen) & mask
        if x < n:
            return x


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The project's row order for an epoch: Fisher-Yates from (seed, epoch)."""
    gen = xoshiro256ss(seed ^ ((0x9E3779B97F4A7C15 * (epoch + 1)) & MASK))
    order = list(range(n))
    for i in range(n, 1, -1):
        j = below(gen, i)
        order[i - 1], order[j] = order[j], order[i - 1]
    return order


def uniform_init(sizes, seed, dtype=np.float64):
    """The article's initialisation: layer by layer, W then b, uniform [0, 1)."""
    gen = xoshiro256ss(seed)
    if np.dtype(dtype) == np.float32:
        draw = lambda: np.float32((next(gen) >> 40) * 2.0**-24)  # noqa: E731
    else:
        draw = lambda: (next(gen) >> 11) * 2.0**-53  # noqa: E731
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights.append(np.array([[draw() for _ in range(n_out)] for _ in range(n_in)], dtype=dtype))
        biases.append(np.array([draw() for _ in range(n_out)], dtype=dtype))
    return weights, biases


# --- general networks: other activations, softmax, cross-entropy, mean reduction --------

ACTIVATIONS = {
    "sigmoid": (sigmoid, lambda a: a * (1.0 - a)),
    "tanh": (np.tanh, lambda a: 1.0 - a * a),
    "relu": (lambda z: np.maximum(z, 0.0), lambda a: (a > 0).astype(a.dtype)),
    "identity": (lambda z: z, lambda a: np.ones_like(a)),
}


def activation_pair(name: str, slope: float = 0.01):
    """(f, f' written in terms of A = f(Z)) for an activation name."""
    if name == "leaky_relu":
        return (lambda z: np.where(z > 0, z, slope * z), lambda a: np.where(a > 0, 1.0, slope))
    return ACTIVATIONS[name]


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def general_loss_and_grads(weights, biases, X, Y, activation, output, loss, reduction, leaky_slope=0.01):
    """Loss and (dW, db) by plain backpropagation, for any supported configuration.

    ``activation`` names every hidden layer's activation, or is a list of one per hidden layer.
    """
    hidden = [activation] * (len(weights) - 1) if isinstance(activation, str) else list(activation)
    pairs = [activation_pair(name, leaky_slope) for name in hidden]
    acts, z = [X], None
    for i, (W, b) in enumerate(zip(weights, biases)):
        z = acts[-1] @ W + b
        if i + 1 < len(weights):
            acts.append(pairs[i][0](z))
        else:
            acts.append(softmax(z) if output == "softmax" else activation_pair(output, leaky_slope)[0](z))
    A = acts[-1]
    if loss == "mse":
        value = 0.5 * np.sum((A - Y) ** 2)
        dA = A - Y
        if output == "softmax":
            dZ = A * (dA - np.sum(dA * A, axis=1, keepdims=True))
        else:
            dZ = dA * activation_pair(output, leaky_slope)[1](A)
    elif output == "softmax":
        lse = z.max(axis=1, keepdims=True) + np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True))
        value = np.sum(Y * (lse - z))
        dZ = A * Y.sum(axis=1, keepdims=True) - Y
    else:  # sigmoid cross-entropy, from the logits
        value = np.sum(np.maximum(z, 0) - Y * z + np.log1p(np.exp(-np.abs(z))))
        dZ = A - Y
    scale = 1.0 / X.shape[0] if reduction == "mean" else 1.0
    dZ = dZ * scale
    dW, db = [None] * len(weights), [None] * len(weights)
    for layer in reversed(range(len(weights))):
        dW[layer] = acts[layer].T @ dZ
        db[layer] = dZ.sum(axis=0)
        if layer > 0:
            dZ = (dZ @ weights[layer].T) * pairs[layer - 1][1](acts[layer])
    return float(value) * scale, dW, db


def normal_draws(gen, count: int):
    """Standard normal draws by Marsaglia's polar method (the project's method):
    the first of each accepted pair, from uniform [0, 1) doubles."""
    out = []
    while len(out) < count:
        u = 2 * ((next(gen) >> 11) * 2.0**-53) - 1
        v = 2 * ((next(gen) >> 11) * 2.0**-53) - 1
        s = u * u + v * v
        if 0 < s < 1:
            out.append(u * math.sqrt(-2 * math.log(s) / s))
    return out
