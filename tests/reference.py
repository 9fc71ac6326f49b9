"""A plain NumPy multilayer perceptron: the oracle the C++ core is tested against.

It implements the article's update rule directly, with no code shared with
fastmlp: sigmoid layers, Z = X W + b, error Y - A, deltas through
sigma'(Z) = A (1 - A), and W += lr * X^T delta with the gradient summed over
the rows. It also carries an independent implementation of the project's RNG
(SplitMix64 seeding xoshiro256**), to check the initialisation bit for bit,
and the general case: other activations and losses, sample weights, and the
optimisers written from PyTorch's documented formulas.
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


def general_loss_and_grads(weights, biases, X, Y, activation, output, loss, reduction, leaky_slope=0.01,
                           sample_weight=None):
    """Loss and (dW, db) by plain backpropagation, for any supported configuration.

    ``activation`` names every hidden layer's activation, or is a list of one per hidden layer.
    With sample_weight, row i's loss counts w_i times and "mean" divides by sum(w).
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
        row_loss = 0.5 * np.sum((A - Y) ** 2, axis=1)
        dA = A - Y
        if output == "softmax":
            dZ = A * (dA - np.sum(dA * A, axis=1, keepdims=True))
        else:
            dZ = dA * activation_pair(output, leaky_slope)[1](A)
    elif output == "softmax":
        lse = z.max(axis=1, keepdims=True) + np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True))
        row_loss = np.sum(Y * (lse - z), axis=1)
        dZ = A * Y.sum(axis=1, keepdims=True) - Y
    else:  # sigmoid cross-entropy, from the logits
        row_loss = np.sum(np.maximum(z, 0) - Y * z + np.log1p(np.exp(-np.abs(z))), axis=1)
        dZ = A - Y
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    scale = 1.0 / w.sum() if reduction == "mean" else 1.0
    dZ = dZ * (w[:, None] * scale)
    dW, db = [None] * len(weights), [None] * len(weights)
    for layer in reversed(range(len(weights))):
        dW[layer] = acts[layer].T @ dZ
        db[layer] = dZ.sum(axis=0)
        if layer > 0:
            dZ = (dZ @ weights[layer].T) * pairs[layer - 1][1](acts[layer])
    return float(np.sum(w * row_loss)) * scale, dW, db


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


# --- optimisers, from the formulas PyTorch documents for torch.optim ----------------------


class Optimizer:
    """fastmlp's optimisers over a list of parameter arrays, in PyTorch's documented form.

    ``decays[i]`` says whether l2 and adamw's weight decay apply to params[i]
    (the weights do, the biases do not).
    """

    def __init__(self, name, decays, *, momentum=0.9, nesterov=False, beta1=0.9, beta2=0.999,
                 eps=1e-8, weight_decay=0.01):
        self.name, self.decays = name, decays
        self.momentum, self.nesterov = momentum, nesterov
        self.beta1, self.beta2, self.eps, self.weight_decay = beta1, beta2, eps, weight_decay
        self.t, self.m, self.v = 0, None, None

    def step(self, params, grads, lr, *, l2=0.0, clip_norm=None):
        """New parameters after one step on the gradient ``grads``."""
        grads = [g + l2 * p if d else g for p, g, d in zip(params, grads, self.decays)]
        if clip_norm is not None:  # torch.nn.utils.clip_grad_norm_
            coef = clip_norm / (np.sqrt(sum(np.sum(g * g) for g in grads)) + 1e-6)
            grads = [g * min(coef, 1.0) for g in grads]
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        new = []
        for i, (p, g, d) in enumerate(zip(params, grads, self.decays)):
            if self.name == "sgd":
                p = p - lr * g
            elif self.name == "momentum":  # torch.optim.SGD, dampening 0
                self.m[i] = self.momentum * self.m[i] + g
                p = p - lr * (g + self.momentum * self.m[i] if self.nesterov else self.m[i])
            else:  # torch.optim.Adam; AdamW decays the weights first
                if self.name == "adamw" and d:
                    p = p - lr * self.weight_decay * p
                self.m[i] = self.beta1 * self.m[i] + (1 - self.beta1) * g
                self.v[i] = self.beta2 * self.v[i] + (1 - self.beta2) * g * g
                m_hat = self.m[i] / (1 - self.beta1**self.t)
                v_hat = self.v[i] / (1 - self.beta2**self.t)
                p = p - lr * m_hat / (np.sqrt(v_hat) + self.eps)
            new.append(p)
        return new


def train(weights, biases, X, Y, options, optimizer, *, epochs, batch_size, seed, rates,
          l2=0.0, clip_norm=None, sample_weight=None, on_step=None):
    """Mini-batch training, shuffled as the project shuffles: new (weights, biases).

    ``rates[e]`` is epoch e's learning rate; ``options`` are the network's
    activation, output, loss and reduction. ``on_step(params, rows)``, when
    given, sees the parameters (weights, then biases) before each step and the
    rows the step reads.
    """
    params = [*weights, *biases]
    n, L = X.shape[0], len(weights)
    for e in range(epochs):
        order = epoch_order(n, seed, e) if batch_size < n else list(range(n))
        for start in range(0, n, batch_size):
            rows = order[start:start + batch_size]
            w = None if sample_weight is None else sample_weight[rows]
            if on_step is not None:
                on_step(params, rows)
            _, dW, db = general_loss_and_grads(params[:L], params[L:], X[rows], Y[rows], sample_weight=w, **options)
            params = optimizer.step(params, [*dW, *db], rates[e], l2=l2, clip_norm=clip_norm)
    return params[:L], params[L:]


def split_rows(n: int, fraction: float, seed: int):
    """The project's validation split: (training rows, validation rows), each sorted."""
    gen = xoshiro256ss(seed ^ 0x5851F42D4C957F2D)
    order = list(range(n))
    for i in range(n, 1, -1):
        j = below(gen, i)
        order[i - 1], order[j] = order[j], order[i - 1]
    n_val = max(1, int(np.floor(fraction * n + 0.5)))
    return sorted(order[n_val:]), sorted(order[:n_val])
