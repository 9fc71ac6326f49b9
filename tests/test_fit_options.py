"""fit's options around the optimiser: sample and class weights, validation,
early stopping, callbacks, progress, divergence, interruption, and accuracy on
scikit-learn's digits."""

from __future__ import annotations

import _thread
import re
import threading

import numpy as np
import pytest

import fastmlp
import reference


def _params(net):
    return [p.copy() for p in (*net.weights, *net.biases)]


def _same(a, b):
    return all(np.array_equal(p, q) for p, q in zip(_params(a), _params(b)))


def _classification(seed=0, n=60, k=3, features=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features))
    Y = np.eye(k)[(X[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(int) + (X[:, 1] > 1)]
    return X, Y


# --- sample and class weights ---------------------------------------------------------


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("output,loss", [("softmax", "cross_entropy"), ("sigmoid", "mse")])
def test_sample_weight_gradient_by_finite_differences(reduction, output, loss):
    rng = np.random.default_rng(5)
    X, Y = _classification(1, n=9)
    w = rng.random(9) * 3
    w[4] = 0.0
    net = fastmlp.Network([4, 6, 3], activation="tanh", output=output, loss=loss, reduction=reduction,
                          init="glorot", seed=3)
    dW, db = net.gradient(X, Y, sample_weight=w)
    value, ref_dW, ref_db = reference.general_loss_and_grads(
        [W.copy() for W in net.weights], [b.copy() for b in net.biases], X, Y, "tanh", output, loss, reduction,
        sample_weight=w)
    assert net.loss(X, Y, sample_weight=w) == pytest.approx(value, rel=1e-12)
    for got, want in zip(dW + db, ref_dW + ref_db):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    h = 1e-6
    for i, param in enumerate((*net.weights, *net.biases)):
        flat, grad = param.reshape(-1), (dW + db)[i].reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + h
            up = net.loss(X, Y, sample_weight=w)
            flat[j] = old - h
            down = net.loss(X, Y, sample_weight=w)
            flat[j] = old
            assert (up - down) / (2 * h) == pytest.approx(grad[j], rel=1e-5, abs=1e-9), f"group {i} index {j}"
    # the training step follows the same gradient
    before = _params(net)
    net.fit(X, Y, epochs=1, learning_rate=1.0, sample_weight=w)
    for got, b, g in zip(_params(net), before, dW + db):
        np.testing.assert_allclose(b - got, g, rtol=0, atol=1e-14)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_weight_two_is_a_repeated_row(reduction):
    X, Y = _classification(2, n=10)
    net = fastmlp.Network([4, 5, 3], output="softmax", loss="cross_entropy", reduction=reduction, seed=4)
    w = np.ones(10)
    w[[2, 7]] = 2.0
    Xr, Yr = np.vstack([X, X[[2, 7]]]), np.vstack([Y, Y[[2, 7]]])
    assert net.loss(X, Y, sample_weight=w) == pytest.approx(net.loss(Xr, Yr), rel=1e-13)
    for got, want in zip(sum(net.gradient(X, Y, sample_weight=w), []), sum(net.gradient(Xr, Yr), [])):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_sample_weights_in_minibatches_match_reference():
    X, Y = _classification(3, n=30)
    w = np.random.default_rng(0).random(30) + 0.1
    options = dict(activation="relu", output="softmax", loss="cross_entropy", reduction="mean")
    net = fastmlp.Network([4, 7, 3], init="he", seed=6, **options)
    decays = [True, True, False, False]
    want = reference.train([W.copy() for W in net.weights], [b.copy() for b in net.biases], X, Y, options,
                           reference.Optimizer("adam", decays), epochs=2, batch_size=8, seed=6, rates=[0.01, 0.01],
                           sample_weight=w)
    net.fit(X, Y, epochs=2, learning_rate=0.01, batch_size=8, optimizer="adam", sample_weight=w)
    for got, ref in zip(_params(net), [*want[0], *want[1]]):
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    # the epoch's loss is the weighted mean over all rows
    fresh = fastmlp.Network([4, 7, 3], init="he", seed=6, **options)
    fresh.fit(X, Y, epochs=1, learning_rate=0.0, batch_size=8, shuffle=False, sample_weight=w)
    assert fresh.history["loss"][0] == pytest.approx(fresh.loss(X, Y, sample_weight=w), rel=1e-13)


def test_class_weight_balanced_is_scikit_learns():
    from sklearn.utils.class_weight import compute_class_weight

    X, Y = _classification(4, n=50)
    labels = Y.argmax(axis=1)
    per_class = compute_class_weight("balanced", classes=np.unique(labels), y=labels)
    assert len(set(per_class)) == 3  # unbalanced classes
    a = fastmlp.Network([4, 5, 3], seed=1).fit(X, Y, epochs=3, class_weight="balanced")
    b = fastmlp.Network([4, 5, 3], seed=1).fit(X, Y, epochs=3, sample_weight=per_class[labels])
    assert _same(a, b)
    c = fastmlp.Network([4, 5, 3], seed=1).fit(X, Y, epochs=3, class_weight={0: 2.0, 2: 0.5},
                                                 sample_weight=np.full(50, 3.0))
    d = fastmlp.Network([4, 5, 3], seed=1).fit(X, Y, epochs=3, sample_weight=3.0 * np.array([2.0, 1.0, 0.5])[labels])
    assert _same(c, d)


def test_class_weight_with_a_single_output_uses_the_half_threshold():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((20, 3))
    Y = (rng.random((20, 1)) < 0.25).astype(float)
    a = fastmlp.Network([3, 4, 1], seed=1).fit(X, Y, epochs=2, class_weight={1: 5.0})
    b = fastmlp.Network([3, 4, 1], seed=1).fit(X, Y, epochs=2, sample_weight=np.where(Y[:, 0] >= 0.5, 5.0, 1.0))
    assert _same(a, b)


@pytest.mark.parametrize("options,error,match", [
    (dict(sample_weight=-np.ones(12)), ValueError, "finite and non-negative"),
    (dict(sample_weight=np.zeros(12)), ValueError, "must not be all zero"),
    (dict(sample_weight=np.ones(11)), ValueError, r"shape \(12,\)"),
    (dict(sample_weight=np.array(["a"] * 12)), TypeError, "real numbers"),
    (dict(class_weight="auto"), ValueError, "class_weight must be"),
    (dict(class_weight={3: 1.0}), ValueError, "class_weight's keys"),
    (dict(class_weight={0: -1.0}), ValueError, "must be a finite number >= 0; got -1.0"),
    (dict(validation=(np.ones((3, 4)),)), TypeError, "pair"),
    (dict(validation=(np.ones((3, 4)), np.ones((3, 2)))), ValueError, "Y_val has 2 columns"),
    (dict(validation=(np.ones((3, 5)), np.ones((3, 3)))), ValueError, "X_val has 5 columns"),
    (dict(validation_fraction=1.0), ValueError, r"validation_fraction must be a number in \(0, 1\); got 1.0"),
    (dict(validation_fraction=0.99), ValueError, "leaves no rows"),
    (dict(validation=(np.ones((3, 4)), np.ones((3, 3))), validation_fraction=0.2), ValueError, "not both"),
    (dict(early_stopping=0), ValueError, "early_stopping must be an integer >= 1; got 0"),
    (dict(tol=-1.0), ValueError, "tol must be a finite number >= 0; got -1.0"),
    (dict(callback=3), TypeError, "callback must be callable"),
    (dict(callback_every=0), ValueError, "callback_every must be an integer >= 1; got 0"),
    (dict(on_divergence="ignore"), ValueError, "on_divergence must be one of"),
    (dict(progress="yes"), TypeError, "progress must be a bool"),
])
def test_bad_fit_options_raise(options, error, match):
    X, Y = _classification(0, n=12)
    net = fastmlp.Network([4, 5, 3], seed=1)
    before = _params(net)
    with pytest.raises(error, match=match):
        net.fit(X, Y, epochs=2, **options)
    assert _same_params(before, net) and net.history["loss"].size == 0


def _same_params(before, net):
    return all(np.array_equal(p, q) for p, q in zip(before, _params(net)))


# --- validation and early stopping ---------------------------------------------------------


def test_validation_figures_are_those_of_the_network_after_each_epoch():
    X, Y = _classification(5, n=80)
    Xv, Yv = _classification(6, n=25)
    options = dict(activation="relu", output="softmax", loss="cross_entropy", reduction="mean", init="he", seed=2)
    net = fastmlp.Network([4, 8, 3], **options).fit(X, Y, epochs=4, learning_rate=0.05, batch_size=16,
                                                     optimizer="adam", validation=(Xv, Yv))
    assert set(net.history) == {"loss", "learning_rate", "val_loss", "val_accuracy"}
    step = fastmlp.Network([4, 8, 3], **options)
    for e in range(4):
        step.fit(X, Y, epochs=1, learning_rate=0.05, batch_size=16, optimizer="adam")
        assert net.history["val_loss"][e] == pytest.approx(step.loss(Xv, Yv), rel=1e-14)
        assert net.history["val_accuracy"][e] == fastmlp.accuracy(step.predict(Xv), Yv)
    assert _same(net, step)


def test_validation_r2_is_scikit_learns():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(7)
    X, Xv = rng.standard_normal((40, 3)), rng.standard_normal((15, 3))
    f = lambda A: np.c_[A[:, 0] - A[:, 1], np.sin(A[:, 2])]  # noqa: E731
    net = fastmlp.Network([3, 6, 2], activation="tanh", output="identity", reduction="mean", init="glorot", seed=1)
    net.fit(X, f(X), epochs=3, learning_rate=0.1, validation=(Xv, f(Xv)))
    assert "val_r2" in net.history and "val_accuracy" not in net.history
    assert net.history["val_r2"][-1] == pytest.approx(r2_score(f(Xv), net.predict(Xv)), rel=1e-12)
    assert net.history["val_r2"][0] != net.history["val_r2"][-1]


def test_validation_fraction_holds_out_the_documented_rows():
    X, Y = _classification(8, n=50)
    train_rows, val_rows = reference.split_rows(50, 0.2, 9)
    assert len(val_rows) == 10 and not set(train_rows) & set(val_rows)
    got_rows = fastmlp._core.validation_split(50, 0.2, 9)
    assert [list(r) for r in got_rows] == [train_rows, val_rows]
    a = fastmlp.Network([4, 5, 3], seed=9).fit(X, Y, epochs=5, batch_size=8, validation_fraction=0.2)
    b = fastmlp.Network([4, 5, 3], seed=9).fit(X[train_rows], Y[train_rows], epochs=5, batch_size=8,
                                                 validation=(X[val_rows], Y[val_rows]))
    assert _same(a, b)
    for key in b.history:
        np.testing.assert_array_equal(a.history[key], b.history[key])


def test_early_stopping_on_validation_restores_the_best_epoch():
    rng = np.random.default_rng(3)
    X, Xv = rng.standard_normal((30, 5)), rng.standard_normal((30, 5))
    Y, Yv = rng.standard_normal((30, 1)), rng.standard_normal((30, 1))  # noise: it overfits
    options = dict(activation="relu", output="identity", reduction="mean", init="he", seed=4)
    fit = dict(learning_rate=0.02, batch_size=10, optimizer="adam")
    net = fastmlp.Network([5, 64, 1], **options).fit(X, Y, epochs=500, validation=(Xv, Yv), early_stopping=5, **fit)
    val = net.history["val_loss"]
    assert 5 < val.size < 500, "early stopping should have ended the fit"
    best = int(np.argmin(val))
    assert net.best_epoch == best + 1 and val.size == best + 1 + 5
    assert net.loss(Xv, Yv) == val[best]
    again = fastmlp.Network([5, 64, 1], **options).fit(X, Y, epochs=best + 1, **fit)
    assert _same(net, again)


def test_early_stopping_on_training_loss_keeps_the_parameters_it_was_measured_on():
    X, Y = _classification(9, n=40)
    # tol so large that no epoch after the first counts as an improvement: it
    # stops after 1 + 4 epochs, the best being the last (the loss falls)
    net = fastmlp.Network([4, 5, 3], seed=3).fit(X, Y, epochs=100, early_stopping=4, tol=1e9)
    loss = net.history["loss"]
    assert loss.size == 5 and int(np.argmin(loss)) == 4 and net.best_epoch == 4
    again = fastmlp.Network([4, 5, 3], seed=3).fit(X, Y, epochs=4)
    assert _same(net, again)  # the parameters loss[4] was measured on: after 4 epochs
    assert again.loss(X, Y) == pytest.approx(loss[4], rel=1e-13)


def test_history_pads_figures_a_fit_did_not_measure():
    X, Y = _classification(10, n=20)
    net = fastmlp.Network([4, 5, 3], seed=1)
    net.fit(X, Y, epochs=2)
    net.fit(X, Y, epochs=3, validation=(X, Y))
    net.fit(X, Y, epochs=1)
    assert {k: v.size for k, v in net.history.items()} == dict.fromkeys(
        ["loss", "learning_rate", "val_loss", "val_accuracy"], 6)
    assert np.isnan(net.history["val_loss"][[0, 1, 5]]).all() and np.isfinite(net.history["val_loss"][2:5]).all()


# --- callbacks and progress ------------------------------------------------------------------


def test_callback_every_k_epochs_and_after_the_last():
    X, Y = _classification(11, n=20)
    seen = []
    net = fastmlp.Network([4, 5, 3], output="softmax", seed=1)
    net.fit(X, Y, epochs=10, callback=lambda e, logs: seen.append((e, dict(logs))), callback_every=4,
            validation=(X, Y))
    assert [e for e, _ in seen] == [4, 8, 10]
    for e, logs in seen:
        assert set(logs) == {"loss", "learning_rate", "val_loss", "val_accuracy"}
        assert logs["loss"] == net.history["loss"][e - 1] and logs["val_loss"] == net.history["val_loss"][e - 1]


def test_callback_returning_false_stops_and_may_predict():
    X, Y = _classification(12, n=20)
    net = fastmlp.Network([4, 5, 3], seed=1)
    outputs = []

    def stop_at_3(epoch, logs):
        outputs.append(net.predict(X))  # between epochs the network may be used
        return epoch < 3

    net.fit(X, Y, epochs=100, callback=stop_at_3)
    assert net.history["loss"].size == 3 and len(outputs) == 3
    np.testing.assert_array_equal(outputs[-1], net.predict(X))
    assert _same(net, fastmlp.Network([4, 5, 3], seed=1).fit(X, Y, epochs=3))


def test_callback_exception_propagates():
    X, Y = _classification(13, n=20)

    def fail(epoch, logs):
        raise RuntimeError(f"stop at {epoch}")

    net = fastmlp.Network([4, 5, 3])
    with pytest.raises(RuntimeError, match="stop at 2") as info:
        net.fit(X, Y, epochs=5, callback=fail, callback_every=2)
    assert info.traceback[-1].name == "fail"  # raised from the callback itself
    assert net.history["loss"].size == 2  # the epochs completed are recorded


def test_progress_plain_line_on_stderr(monkeypatch, capsys):
    monkeypatch.setattr(fastmlp.network, "_tqdm", lambda total: None)
    X, Y = _classification(14, n=20)
    fastmlp.Network([4, 5, 3], seed=1).fit(X, Y, epochs=50, progress=True, validation=(X, Y))
    err = capsys.readouterr().err
    assert err.endswith("\n") and "\r" in err
    last = err.rstrip().split("\r")[-1]
    assert last.startswith("epoch 50/50") and "loss" in last and "val_accuracy" in last


def test_progress_uses_tqdm_when_installed(capsys):
    pytest.importorskip("tqdm")
    X, Y = _classification(15, n=20)
    fastmlp.Network([4, 5, 3], seed=1).fit(X, Y, epochs=30, progress=True)
    err = capsys.readouterr().err
    assert "30/30" in err and "loss" in err


# --- divergence and interruption ------------------------------------------------------------


def test_divergence_raises_naming_the_epoch_and_keeps_the_last_finite_parameters():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    options = dict(activation="identity", output="identity", init="glorot", seed=1)
    net = fastmlp.Network([3, 4, 2], **options)
    with pytest.raises(FloatingPointError, match=r"diverged in epoch (\d+) of this fit") as info:
        net.fit(X, Y, epochs=1000, learning_rate=10.0)
    epoch = int(re.search(r"epoch (\d+)", str(info.value)).group(1))
    assert epoch > 1
    assert net.history["loss"].size == epoch - 1 and np.isfinite(net.history["loss"]).all()
    assert all(np.isfinite(p).all() for p in _params(net))
    assert _same(net, fastmlp.Network([3, 4, 2], **options).fit(X, Y, epochs=epoch - 1, learning_rate=10.0))
    # on request, it carries on
    keep = fastmlp.Network([3, 4, 2], **options)
    keep.fit(X, Y, epochs=epoch + 5, learning_rate=10.0, on_divergence="continue")
    assert not np.isfinite(keep.history["loss"][-1])


def test_ctrl_c_interrupts_an_adam_fit(iris):
    X, Y, _, _ = iris
    net = fastmlp.Network([4, 5, 3], seed=1)
    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()  # 10**12 epochs never end by themselves: returning at all proves the stop
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, epochs=10**12, optimizer="adam", learning_rate=1e-3, l2=1e-4, clip_norm=1.0,
                validation=(X, Y), early_stopping=10**9)
    assert np.all(np.isfinite(net.predict(X)))
    completed = net.history["loss"].size
    assert completed > 0 and net.history["val_loss"].size == completed
    assert net._core.optimizer_steps == completed


# --- accuracy --------------------------------------------------------------------------------


def test_digits_accuracy_with_adam():
    datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = datasets.load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    net = fastmlp.train(X_tr, np.eye(10)[y_tr], hidden=128, activation="relu", output="softmax",
                        loss="cross_entropy", reduction="mean", init="he", seed=0, epochs=20,
                        optimizer="adam", learning_rate=1e-3, batch_size=32)
    accuracy = fastmlp.accuracy(net.predict(X_te), y_te)
    assert accuracy >= 0.96, accuracy
