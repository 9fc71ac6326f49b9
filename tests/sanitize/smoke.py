"""Every Python entry point once, with good and with bad input, then every
model-file mutant of tests/test_model_file_mutants.py and every hostile file
of the command-line table in tests/test_hostile_inputs.py: run by
tests/sanitize/run.sh against the sanitized module (any finding aborts)."""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

import fastmlp

sys.path.insert(0, str(Path(__file__).parent.parent))

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

# Every mutant: loads (then round-trips and predicts) or raises ValueError.
import test_model_file_mutants as mutants  # noqa: E402

loaded = 0
for _, what, data in mutants.mutants():
    try:
        net = mutants._load_bytes(data)
    except ValueError:
        continue
    loaded += 1
    again = mutants._load_bytes(net.__getstate__()["model"])
    again.predict(np.ones((2, net.sizes[0])))
print(f"smoke: {len(mutants.mutants())} model-file mutants, {loaded} loaded")

# The command line on every hostile file of the table: status 1.
import test_hostile_inputs as hostile  # noqa: E402
from fastmlp.__main__ import main  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    files = hostile._files(Path(tmp))
    for command, model, data, _ in hostile.PROGRAM_CASES:
        assert main([command, str(files[model]), str(files[data])]) == 1, (command, model, data)
print(f"smoke: {len(hostile.PROGRAM_CASES)} hostile command lines")
print("smoke: ok")
