"""Odd but valid inputs work and match the contiguous float64 result; the
process survives concurrent use, interruption, absurd sizes, repeated cycles,
and the command line survives hostile files.

Every layout NumPy can hand over (integer, bool and float32 data, Fortran
order, strided and zero-stride views, read-only and memory-mapped arrays,
nested lists) goes through every public entry point that takes data. Bad
values and shapes are test_errors.py's table; hostile model files,
test_model_files.py's and test_model_file_mutants.py's.

No test here reads a clock: where two things must overlap, the order of
events proves it (a thread sees the other's fit hold the network before and
after its own work), and Ctrl-C is sent once the work is seen running.
"""

from __future__ import annotations

import _thread
import os
import pickle
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import fastmlp

rng = np.random.default_rng(2026)
X = rng.integers(0, 5, (24, 4)).astype(np.float64)  # small integers: exact in every dtype
Y = np.eye(3)[rng.integers(0, 3, 24)]


def _memmap(a, path):
    m = np.lib.format.open_memmap(path, mode="w+", dtype=a.dtype, shape=a.shape)
    m[...] = a
    m.flush()
    return np.load(path, mmap_mode="r")


def _read_only(a, path):
    a = a.copy()
    a.flags.writeable = False
    return a


def _zero_stride(a, path):
    """Every row the same: a broadcast view with row stride 0."""
    return np.broadcast_to(a[:1], a.shape)


LAYOUTS = {
    "int64": lambda a, path: a.astype(np.int64),
    "int32": lambda a, path: a.astype(np.int32),
    "uint8": lambda a, path: a.astype(np.uint8),
    "bool": lambda a, path: a.astype(bool),
    "float32": lambda a, path: a.astype(np.float32),
    "Fortran": lambda a, path: np.asfortranarray(a),
    "strided rows": lambda a, path: np.repeat(a, 2, axis=0)[::2],
    "strided columns": lambda a, path: np.repeat(a, 2, axis=1)[:, ::2],
    "reversed": lambda a, path: a[::-1][::-1],
    "read-only": _read_only,
    "memory-mapped": _memmap,
    "zero-stride": _zero_stride,
    "list": lambda a, path: a.tolist(),
}


def _reference(layout, a):
    """What the layout holds, as a contiguous float64 array."""
    if layout == "zero-stride":
        return np.ascontiguousarray(np.broadcast_to(a[:1], a.shape), dtype=np.float64)
    if layout == "bool":
        return a.astype(bool).astype(np.float64)
    return np.ascontiguousarray(a, dtype=np.float64)


def _params(net):
    return [p.copy() for p in (*net.weights, *net.biases)]


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_entry_point_accepts_the_layout(layout, tmp_path):
    odd_x = LAYOUTS[layout](X, tmp_path / "x.npy")
    odd_y = LAYOUTS[layout](Y, tmp_path / "y.npy")
    ref_x, ref_y = _reference(layout, X), _reference(layout, Y)

    # train / fit
    got = fastmlp.train(odd_x, odd_y, hidden=3, epochs=5, seed=4)
    want = fastmlp.train(ref_x, ref_y, hidden=3, epochs=5, seed=4)
    for g, w in zip(_params(got), _params(want)):
        np.testing.assert_array_equal(g, w)
    # predict (method and function), loss, gradient, the helpers
    np.testing.assert_array_equal(want.predict(odd_x), want.predict(ref_x))
    np.testing.assert_array_equal(fastmlp.predict(want, odd_x), want.predict(ref_x))
    assert want.loss(odd_x, odd_y) == want.loss(ref_x, ref_y)
    for g, w in zip(sum(want.gradient(odd_x, odd_y), []), sum(want.gradient(ref_x, ref_y), [])):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(want.predict_classes(odd_x), want.predict_classes(ref_x))
    P = want.predict(ref_x)
    assert fastmlp.accuracy(P, odd_y) == fastmlp.accuracy(P, ref_y)
    np.testing.assert_array_equal(fastmlp.confusion_matrix(odd_y, P), fastmlp.confusion_matrix(ref_y, P))


def test_the_input_is_never_written():
    x, y = X.copy(), Y.copy()
    net = fastmlp.train(x, y, hidden=3, epochs=5)
    net.predict(x)
    net.gradient(x, y)
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(y, Y)


def test_threads_train_their_own_networks_while_others_predict_on_a_shared_one():
    shared = fastmlp.train(X, Y, hidden=4, epochs=50, seed=1)
    expected = shared.predict(X)
    solo = fastmlp.train(X, Y, hidden=4, epochs=200, seed=7, batch_size=5, threads=1)
    errors, results = [], {}

    def trainer(i):
        try:
            results[i] = fastmlp.train(X, Y, hidden=4, epochs=200, seed=7, batch_size=5, threads=1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def predictor():
        try:
            for _ in range(200):
                np.testing.assert_array_equal(shared.predict(X, threads=2), expected)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=trainer, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=predictor) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for net in results.values():  # each thread's network is the one it would train alone
        for g, w in zip(_params(net), _params(solo)):
            np.testing.assert_array_equal(g, w)


def _resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc/self/statm (Linux)")
def test_resident_memory_stays_flat_over_many_cycles(tmp_path):
    path = tmp_path / "cycle.safetensors"

    def cycle(i):  # a network of 14 KiB: a leak of it, or of its workspace, grows 28 MiB
        net = fastmlp.Network([4, 256, 3], activation="relu", output="softmax", loss="cross_entropy", seed=3)
        net.fit(X, Y, epochs=3, batch_size=8)
        net.predict(X)
        net.gradient(X, Y)
        net = pickle.loads(pickle.dumps(net))  # the model-file bytes, both ways
        if i % 4 == 0:  # the file itself (each save syncs to disk: every fourth cycle)
            net.save(path)
            net = fastmlp.load(path)
        net.predict(X)

    for i in range(200):  # warm up: allocator pools, thread pools, caches
        cycle(i)
    before = _resident_bytes()
    for i in range(2000):
        cycle(i)
    grown = _resident_bytes() - before
    assert grown < 8 << 20, f"resident memory grew by {grown / 2**20:.1f} MiB over 2000 cycles"


# --- concurrency and interruption ---------------------------------------------------------


def _busy(call):
    """Whether ``call()`` is refused because another thread holds the network."""
    try:
        call()
    except RuntimeError as e:
        assert "another thread" in str(e), e
        return True
    return False


def _retry_while_busy(call):
    """``call()``, again while a probe of another thread briefly holds the network."""
    while True:
        try:
            return call()
        except RuntimeError as e:
            if "another thread" not in str(e):
                raise


def _in_another_thread_while(busy_with, probe, work):
    """Runs ``busy_with()`` in this thread (it must run until Ctrl-C) while another
    thread waits until ``probe()`` is refused (the network is held), runs
    ``work()``, checks the network is still held, and sends Ctrl-C
    (_thread.interrupt_main). Returns (what work returned, the KeyboardInterrupt).
    So ``work`` ran wholly inside ``busy_with``: no clock decides it."""
    outcome, done = {}, threading.Event()

    def other():
        try:
            while not done.is_set():
                if _busy(probe):
                    break
            else:
                return
            outcome["value"] = work()
            outcome["still held"] = _busy(probe)
        except BaseException as e:  # pragma: no cover - re-raised below
            outcome["error"] = e
        finally:
            if not done.is_set():
                _thread.interrupt_main()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            _retry_while_busy(busy_with)  # the probe may hold the network as this starts
    finally:
        done.set()
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    assert outcome["still held"], "the work did not run while the network was held"
    return outcome["value"], info.value


def test_a_fitting_network_refuses_other_threads_and_survives_ctrl_c(tmp_path):
    """While one thread fits (epochs=10**18: accepted, nothing is sized by the
    count), every call on that network from another thread raises
    RuntimeError at once (a clear error, never a wait or a race): a second
    fit, save, pickling, predict, loss, gradient. Ctrl-C stops the fit after
    the epoch under way; the network then works as before."""
    net = fastmlp.Network([4, 8, 3], seed=1)
    path = tmp_path / "net.safetensors"

    def refused():
        return {name: _busy(call) for name, call in {
            "fit": lambda: net.fit(X, Y, epochs=1),
            "save": lambda: net.save(path),
            "pickle": lambda: pickle.dumps(net),
            "predict": lambda: net.predict(X),
            "loss": lambda: net.loss(X, Y),
            "gradient": lambda: net.gradient(X, Y),
            "reset_optimizer": net.reset_optimizer,
        }.items()}

    answers, _ = _in_another_thread_while(lambda: net.fit(X, Y, epochs=10**18, threads=1),
                                          lambda: net.predict(X), refused)
    assert answers == dict.fromkeys(answers, True)
    assert not path.exists()
    completed = net.history["loss"].size
    assert completed > 0 and np.isfinite(net.history["loss"]).all()
    before = net.predict(X)
    assert np.isfinite(before).all()
    net.save(path)
    np.testing.assert_array_equal(fastmlp.load(path).predict(X), before)
    net.fit(X, Y, epochs=2)
    assert net.history["loss"].size == completed + 2


def test_two_threads_train_two_networks_at_once():
    """The GIL is released while C++ trains: another thread trains a whole
    network of its own while this thread's fit is seen running before and
    after it (without the release it could not run at all; the test would
    hang). Its network is bit for bit the one it trains alone."""
    alone = fastmlp.train(X, Y, hidden=16, epochs=300, seed=5, threads=1)
    mine = fastmlp.Network([4, 8, 3], seed=1)
    theirs, _ = _in_another_thread_while(lambda: mine.fit(X, Y, epochs=10**18, threads=1),
                                         lambda: mine.predict(X),
                                         lambda: fastmlp.train(X, Y, hidden=16, epochs=300, seed=5, threads=1))
    assert mine.history["loss"].size > 0
    for g, w in zip(_params(theirs), _params(alone)):
        np.testing.assert_array_equal(g, w)


def test_ctrl_c_stops_a_long_predict():
    """A predict of hours stops on Ctrl-C between chunks of rows (KeyboardInterrupt);
    the network is unchanged and predicts as before; chunking changes no bit."""
    net = fastmlp.Network([16, 2048, 2048, 4], activation="relu", output="identity", init="he", seed=2,
                          dtype="float32")
    small = np.random.default_rng(3).random((1000, 16), dtype=np.float32)
    whole = net.predict(small, threads=1)  # chunks of 256 rows
    pieces = np.vstack([net.predict(small[i : i + 333], threads=1) for i in range(0, 1000, 333)])
    np.testing.assert_array_equal(pieces, whole)
    huge = np.resize(small, (1 << 17, 16))  # about 10**12 multiply-adds
    _, interrupt = _in_another_thread_while(lambda: net.predict(huge, threads=1),
                                            lambda: net.fit(small[:1], np.zeros((1, 4), np.float32), epochs=0),
                                            lambda: None)
    assert isinstance(interrupt, KeyboardInterrupt)
    np.testing.assert_array_equal(net.predict(small, threads=1), whole)


# --- the command line on hostile files ------------------------------------------------------

PROGRAM = [os.environ["FASTMLP_PROGRAM"]] if os.environ.get("FASTMLP_PROGRAM") else None
LINUX = sys.platform.startswith("linux")  # /dev/zero, sparse files, SIGINT as on Linux


def _files(tmp_path):
    """Every hostile file of the table, by name; the good model and data among them."""
    good_csv = Path(__file__).parent.parent / "data" / "test.csv"
    net = fastmlp.Network([4, 5, 3], seed=1)
    model = tmp_path / "model.st"
    net.save(model)
    model32 = tmp_path / "model32.st"
    fastmlp.Network([4, 5, 3], seed=1, dtype="float32").save(model32)
    good = model.read_bytes()
    files = {"model": model, "model32": model32, "good.csv": good_csv, "dir": tmp_path, "missing": tmp_path / "no",
             "zero": Path("/dev/zero")}
    row = b"1,2,3,4,0,1,0\n"  # four inputs, three one-hot labels: for predict and eval alike
    contents = {
        "empty": b"", "header-only.csv": b"a,b,c,d,e,f,g\n", "blank.csv": b"\n\r\n \t\n",
        "binary.csv": bytes(range(256)) * 8, "nul.csv": row + b"1,2,\x00,4,0,1,0\n",
        "nan.csv": row + b"nan,2,3,4,0,1,0\n", "inf.csv": row + b"1,-inf,3,4,0,1,0\n",
        "out-of-range.csv": row + b"1,2,1e400,4,0,1,0\n", "float32-overflow.csv": row + b"1,2,1e39,4,0,1,0\n",
        "ragged.csv": row + b"1,2,3\n", "five.csv": b"1,2,3,4,5\n", "wide.csv": b"1," * 199_999 + b"1\n",
        "escapes.csv": row + b"1,2,\x1b[31m\xff,4,0,1,0\n",
        "truncated.st": good[:-5], "huge-header.st": b"\xff" * 8 + good[8:],
        "flipped-header.st": good[:20] + bytes([good[20] ^ 0x80]) + good[21:],
    }
    for name, data in contents.items():
        files[name] = tmp_path / name
        files[name].write_bytes(data)
    with open(tmp_path / "sparse.st", "wb") as f:  # a valid header, then a terabyte of holes
        f.write(good)
        f.truncate(1 << 40 if LINUX else 1 << 20)  # elsewhere holes may not be free
    files["sparse.st"] = tmp_path / "sparse.st"
    return files


HOSTILE_DATA = {  # DATA.csv for predict and eval with a good model: the message
    "empty": "no data rows", "header-only.csv": "no data rows", "blank.csv": "no data rows",
    "binary.csv": "binary.csv: 1 columns", "nul.csv": "line 2, column 3: '\\x00' is not a number",
    "nan.csv": "'nan' is not a finite number", "inf.csv": "'-inf' is not a finite number",
    "out-of-range.csv": "'1e400' is not a number", "ragged.csv": "line 2: expected 7 fields, found 3",
    "five.csv": "5 columns, but the network", "wide.csv": "200000 columns, but the network",
    "escapes.csv": "'\\x1b[31m\\xff' is not a number", "zero": "line 1: longer than 67108864 bytes",
    "dir": "cannot read: Is a directory", "missing": "cannot open for reading",
}
HOSTILE_MODELS = {  # MODEL for predict and eval with good data: the message
    "empty": "0 bytes are too few", "truncated.st": "data_offsets", "huge-header.st": "exceeds the limit",
    "flipped-header.st": "not valid JSON", "good.csv": "header length", "sparse.st": "the data section has",
    "zero": "not a regular file", "dir": "is not a fastmlp model file (it is a directory)",
    "missing": "cannot open for reading",
}
PROGRAM_CASES = [
    *[(command, "model", data, message) for data, message in HOSTILE_DATA.items() for command in ("predict", "eval")
      if LINUX or data != "zero"],
    *[(command, model, "good.csv", message) for model, message in HOSTILE_MODELS.items()
      for command in ("predict", "eval") if LINUX or model != "zero"],
    ("predict", "model32", "float32-overflow.csv", "out of the range of float32"),
]


@pytest.mark.parametrize("where", ["in-process", *(["native"] if PROGRAM else [])])
def test_the_program_refuses_hostile_files_with_one_line(where, tmp_path, capfd):
    """fastmlp predict and eval on every hostile file: exit status 1, one line
    on stderr naming the problem, nothing on stdout; never a crash or a signal."""
    files = _files(tmp_path)
    from fastmlp.__main__ import main

    for command, model, data, message in PROGRAM_CASES:
        args = [command, str(files[model]), str(files[data])]
        if where == "native":
            res = subprocess.run([*PROGRAM, *args], capture_output=True, timeout=60)
            status, out, err = res.returncode, res.stdout.decode(), res.stderr.decode("utf-8")
        else:
            status = main(args)
            out, err = capfd.readouterr()
        assert (status, out) == (1, ""), (args, status, err)
        assert err.startswith("fastmlp: ") and err.count("\n") == 1 and message in err, (args, err)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc as on Linux")
def test_a_wide_csv_is_read_in_memory_it_warrants(tmp_path):
    """One row of 200,000 columns (1.2 MB) trains and predicts in a process
    that may grow by 512 MB at most: no reader sets aside room for a block of
    rows that wide (read_csv once did: 1024 rows, 1.6 GB)."""
    wide = tmp_path / "wide.csv"
    wide.write_bytes(b"0.5," * 199_997 + b"1,0,0\n")
    script = (
        "import resource, sys\n"
        "from fastmlp.__main__ import main\n"
        "vm = next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmSize:'))\n"
        "resource.setrlimit(resource.RLIMIT_AS, (vm + (512 << 20), resource.RLIM_INFINITY))\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    model = tmp_path / "wide.st"
    res = subprocess.run([sys.executable, "-c", script, "train", "--train", str(wide), "--test", str(wide),
                          "--hidden", "2", "--epochs", "2", "--threads", "1", "-o", str(model)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.startswith("Accuracy: "), res.stderr
    assert fastmlp.load(model).sizes == (199_997, 2, 3)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process as on POSIX")
def test_ctrl_c_stops_the_program_predicting_a_long_file(tmp_path):
    """fastmlp predict on a file that would take minutes: SIGINT once the
    first rows are out ends it with status 130 and one line; what it printed
    are whole rows of the right predictions."""
    net = fastmlp.Network([16, 2048, 2048, 4], activation="relu", output="identity", init="he", seed=2,
                          dtype="float32")
    model = tmp_path / "big.st"
    net.save(model)
    rows = np.random.default_rng(4).integers(0, 9, (200_000, 16))
    data = tmp_path / "long.csv"
    np.savetxt(data, rows, fmt="%d", delimiter=",")
    cmd = PROGRAM or [sys.executable, "-m", "fastmlp"]
    proc = subprocess.Popen([*cmd, "predict", "--threads", "1", str(model), str(data)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out = os.read(proc.stdout.fileno(), 1 << 16)  # blocks until the first rows are out
    assert out, proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err == b"fastmlp: interrupted\n", err
    header, *lines = (out + rest).decode().splitlines()
    assert header == "output_0,output_1,output_2,output_3"
    assert 0 < len(lines) < 200_000 and (out + rest).endswith(b"\n")
    got = np.array([[float(v) for v in line.split(",")] for line in lines[:50]], dtype=np.float32)
    np.testing.assert_array_equal(got, net.predict(rows[:50].astype(np.float32)))
