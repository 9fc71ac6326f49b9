"""Every Python entry point once, with good and with bad input: run by
tests/sanitize/run.sh against the sanitized module (any finding aborts)."""

from __future__ import annotations

import os
import pickle
import tempfile
from importlib import resources

import numpy as np

import fastmlp

X, Y, X_test, Y_test = fastmlp.datasets.load_iris()
for dtype in ("float64", "float32"):
    net = fastmlp.train(X, Y, hidden=(6, 4), epochs=200, dtype=dtype, activation=("relu", "leaky_relu"),
                        output="softmax", loss="cross_entropy", init="he_normal", batch_size=16, threads=2)
    P = net.predict(X_test, threads=2)
    out = np.empty_like(P)
    net.predict(X_test, out=out)
    assert np.array_equal(P, out)
    net.gradient(X, Y)
    fastmlp.confusion_matrix(Y_test, P)
    for bad in (X[:, :3], np.full_like(X, np.nan), X[:0]):
        try:
            net.predict(bad)
        except ValueError:
            pass
        else:
            raise AssertionError("bad input accepted")
    # model files: save, load, pickle, and hostile bytes
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "net.safetensors")
        net.save(path)
        assert np.array_equal(fastmlp.load(path).predict(X_test), P)
        assert np.array_equal(pickle.loads(pickle.dumps(net)).predict(X_test), P)
        good = net.__getstate__()["model"]
        for cut in range(0, len(good), 5):
            try:
                fastmlp.Network.__new__(fastmlp.Network).__setstate__({"model": good[:cut], "history": {}})
            except ValueError:
                pass
            else:
                raise AssertionError("truncated model accepted")
        # the command line's predict and eval on it
        from fastmlp.__main__ import main

        test_csv = str(resources.files("fastmlp").joinpath("data", "test.csv"))
        for args in (["predict", "--classes", path, test_csv], ["eval", path, test_csv]):
            assert main(args) == 0, args
print("smoke: ok")
