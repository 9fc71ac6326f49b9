"""Optimisers, learning-rate schedules, l2 and gradient clipping, against the
NumPy reference (reference.Optimizer, written from PyTorch's documented
formulas) and against finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastmlp
import reference

OPTIONS = dict(activation="relu", output="softmax", loss="cross_entropy", reduction="mean")


def _problem(seed=3, n=50, sizes=(6, 9, 4)):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    net = fastmlp.Network(list(sizes), init="he", seed=8, **OPTIONS)
    return net, X, Y


def _params(net):
    return [p.copy() for p in (*net.weights, *net.biases)]


def _assert_close(got, want, bound=1e-12):
    diffs = [float(np.abs(g - w).max()) for g, w in zip(got, want)]
    assert max(diffs) <= bound, diffs


def _reference_run(net, X, Y, optimizer, rates, *, batch_size, **options):
    weights, biases = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    decays = [True] * len(weights) + [False] * len(biases)
    l2, clip_norm = options.pop("l2", 0.0), options.pop("clip_norm", None)
    return reference.train(weights, biases, X, Y, OPTIONS, reference.Optimizer(optimizer, decays, **options),
                           epochs=len(rates), batch_size=batch_size, seed=net.seed, rates=rates,
                           l2=l2, clip_norm=clip_norm)


CASES = {
    "sgd": dict(optimizer="sgd", learning_rate=0.1),
    "momentum": dict(optimizer="momentum", learning_rate=0.1, momentum=0.8),
    "nesterov": dict(optimizer="momentum", learning_rate=0.1, momentum=0.9, nesterov=True),
    "adam": dict(optimizer="adam", learning_rate=0.01),
    "adam betas": dict(optimizer="adam", learning_rate=0.02, beta1=0.5, beta2=0.9, eps=1e-3),
    "adamw": dict(optimizer="adamw", learning_rate=0.01, weight_decay=0.3),
    "sgd l2 clip": dict(optimizer="sgd", learning_rate=0.1, l2=0.05, clip_norm=0.05),
    "adam l2 clip": dict(optimizer="adam", learning_rate=0.01, l2=0.05, clip_norm=0.05),
    "nesterov l2": dict(optimizer="momentum", learning_rate=0.1, nesterov=True, l2=0.2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_first_five_steps_match_reference(case):
    """One epoch of 5 shuffled mini-batches (50 rows, batches of 10) per optimiser."""
    net, X, Y = _problem()
    fit = dict(CASES[case])
    lr = fit.pop("learning_rate")
    ref_options = {k: v for k, v in fit.items() if k != "optimizer"}
    want_w, want_b = _reference_run(net, X, Y, fit["optimizer"], [lr], batch_size=10, **ref_options)
    before = _params(net)
    net.fit(X, Y, epochs=1, learning_rate=lr, batch_size=10, **fit)
    assert net._core.optimizer_steps == 5
    _assert_close(_params(net), [*want_w, *want_b])
    assert min(float(np.abs(p - q).max()) for p, q in zip(before, _params(net))) > 1e-4, "a group did not move"


def test_clipping_was_active():
    """The clipped cases above clip: the gradient norm exceeds clip_norm."""
    net, X, Y = _problem()
    dW, db = net.gradient(X[:10], Y[:10])
    assert math.sqrt(sum(float(np.sum(g * g)) for g in (*dW, *db))) > 10 * CASES["adam l2 clip"]["clip_norm"]


@pytest.mark.parametrize("schedule,extra", [
    ("constant", {}),
    ("step", dict(step_size=2, gamma=0.5)),
    ("invscaling", dict(power_t=0.3)),
    ("cosine", dict(lr_min=0.01)),
])
def test_scheduled_rates_are_applied(schedule, extra):
    """Three epochs of two batches with momentum, against the reference at the documented rates."""
    net, X, Y = _problem(n=24)
    lr, epochs = 0.1, 3
    net.fit(X, Y, epochs=epochs, learning_rate=lr, batch_size=12, optimizer="momentum", schedule=schedule, **extra)
    rates = net.history["learning_rate"]
    fresh, _, _ = _problem(n=24)
    want_w, want_b = _reference_run(fresh, X, Y, "momentum", list(rates), batch_size=12)
    _assert_close(_params(net), [*want_w, *want_b])
    assert (len(set(rates)) > 1) == (schedule != "constant")


def test_schedule_formulas():
    net, X, Y = _problem(n=7)
    lr, epochs = 0.3, 40
    e = np.arange(epochs)
    want = {
        ("constant", ()): np.full(epochs, lr),
        ("step", (("step_size", 3), ("gamma", 0.7))): lr * 0.7 ** (e // 3),
        ("step", ()): lr * 0.1 ** (e // 10),
        ("invscaling", ()): lr / (e * 7 + 1) ** 0.5,
        ("invscaling", (("power_t", 1.7),)): lr / (e * 7 + 1) ** 1.7,
        ("invscaling", (("power_t", 0.0),)): np.full(epochs, lr),
        ("cosine", ()): lr * (1 + np.cos(np.pi * e / epochs)) / 2,
        ("cosine", (("lr_min", 0.05),)): 0.05 + (lr - 0.05) * (1 + np.cos(np.pi * e / epochs)) / 2,
    }
    for (schedule, extra), rates in want.items():
        net.fit(X, Y, epochs=epochs, learning_rate=lr, schedule=schedule, **dict(extra))
        got = net.history["learning_rate"][-epochs:]
        np.testing.assert_allclose(got, rates, rtol=4e-15, atol=1e-17, err_msg=f"{schedule} {extra}")
        assert got[0] == lr  # every schedule starts at the rate given


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_l2_step_is_the_gradient_of_the_penalised_loss(reduction):
    """One full-batch sgd step moves by lr * grad(loss + l2/2 * sum W^2), by finite differences."""
    rng = np.random.default_rng(11)
    X, Y = rng.standard_normal((13, 3)), rng.standard_normal((13, 2))
    net = fastmlp.Network([3, 5, 2], activation="tanh", output="identity", reduction=reduction, init="glorot", seed=2)
    l2, lr = 0.37, 1.0
    before = _params(net)

    def penalised():
        return net.loss(X, Y) + 0.5 * l2 * sum(float(np.sum(W * W)) for W in net.weights)

    fd = []
    for param in (*net.weights, *net.biases):
        flat, grad, h = param.reshape(-1), np.empty(param.size), 1e-6
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + h
            up = penalised()
            flat[j] = old - h
            down = penalised()
            flat[j] = old
            grad[j] = (up - down) / (2 * h)
        fd.append(grad.reshape(param.shape))
    net.fit(X, Y, epochs=1, learning_rate=lr, l2=l2)
    implied = [(b - a) / lr for a, b in zip(_params(net), before)]
    for i, (got, want) in enumerate(zip(implied, fd)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8, err_msg=f"group {i}")
    dW, db = fastmlp.Network([3, 5, 2], activation="tanh", output="identity", reduction=reduction,
                             init="glorot", seed=2).gradient(X, Y)
    np.testing.assert_allclose(implied[2], db[0], rtol=0, atol=1e-14)  # no l2 on the biases
    assert np.abs(implied[0] - dW[0]).max() > 0.1 * l2 * np.abs(before[0]).max()


def test_optimizer_state_carries_over_between_fits():
    net_a, X, Y = _problem()
    net_b, _, _ = _problem()
    net_a.fit(X, Y, epochs=3, learning_rate=0.01, batch_size=10, optimizer="adam")
    net_b.fit(X, Y, epochs=1, learning_rate=0.01, batch_size=10, optimizer="adam")
    net_b.fit(X, Y, epochs=2, learning_rate=0.01, batch_size=10, optimizer="adam")
    assert net_b._core.optimizer_steps == 15
    assert all(np.array_equal(p, q) for p, q in zip(_params(net_a), _params(net_b)))
    # a new rate or l2 keeps the state; new settings of the optimiser restart it
    net_b.fit(X, Y, epochs=1, learning_rate=0.02, batch_size=10, optimizer="adam", l2=0.1)
    assert net_b._core.optimizer_steps == 20
    net_b.fit(X, Y, epochs=1, learning_rate=0.02, batch_size=10, optimizer="adam", beta1=0.8)
    assert net_b._core.optimizer_steps == 5


def test_reset_optimizer_is_a_fresh_start():
    net_a, X, Y = _problem()
    net_b, _, _ = _problem()
    for net in (net_a, net_b):
        net.fit(X, Y, epochs=1, learning_rate=0.1, batch_size=10, optimizer="momentum")
    net_a.reset_optimizer()
    assert net_a._core.optimizer_steps == 0
    # from net_a's parameters, a fresh optimiser: the reference from those parameters
    want = _reference_run(net_a, X[:10], Y[:10], "momentum", [0.1], batch_size=10)
    net_a.fit(X[:10], Y[:10], epochs=1, learning_rate=0.1, optimizer="momentum")
    net_b.fit(X[:10], Y[:10], epochs=1, learning_rate=0.1, optimizer="momentum")
    _assert_close(_params(net_a), [*want[0], *want[1]])
    assert not np.array_equal(net_a.weights[0], net_b.weights[0])


@pytest.mark.parametrize("bad,match", [
    (dict(optimizer="rmsprop"), "optimizer must be one of"),
    (dict(optimizer="momentum", momentum=1.0), r"momentum must be a number in \[0, 1\); got 1.0"),
    (dict(beta2=-0.1), r"beta2 must be a number in \[0, 1\); got -0.1"),
    (dict(eps=0.0), "eps must be a finite number > 0; got 0.0"),
    (dict(weight_decay=-1.0), "weight_decay must be a finite number >= 0; got -1.0"),
    (dict(schedule="linear"), "schedule must be one of"),
    (dict(schedule="step", gamma=0.0), "gamma must be a finite number > 0; got 0.0"),
    (dict(schedule="step", step_size=0), "step_size must be an integer >= 1; got 0"),
    (dict(power_t=-1.0), "power_t must be a finite number >= 0; got -1.0"),
    (dict(schedule="cosine", lr_min=1.0), "lr_min must not exceed learning_rate"),
    (dict(l2=-0.1), "l2 must be a finite number >= 0; got -0.1"),
    (dict(clip_norm=0.0), "clip_norm must be a finite number > 0; got 0.0"),
    (dict(momentum=float("nan")), r"momentum must be a number in \[0, 1\); got nan"),
])
def test_bad_optimizer_options_raise(bad, match):
    net, X, Y = _problem(n=5)
    before = _params(net)
    with pytest.raises(ValueError, match=match):
        net.fit(X, Y, epochs=1, learning_rate=0.1, **bad)
    assert all(np.array_equal(p, q) for p, q in zip(before, _params(net)))


def test_wrong_option_types_raise_type_error():
    net, X, Y = _problem(n=5)
    with pytest.raises(TypeError, match="nesterov must be a bool"):
        net.fit(X, Y, epochs=1, nesterov=1)
    with pytest.raises(TypeError, match="momentum must be a real number"):
        net.fit(X, Y, epochs=1, momentum="0.9")
