"""Thousands of broken model files: each loads, or raises ValueError.

Mutants are made deterministically (a seeded generator) from a few valid
files, the golden ones among them: bit flips, byte changes, truncations,
inserted and deleted bytes, absurd header lengths, and edits of the JSON
header (huge shapes, overlapping or out-of-range offsets, wrong dtypes,
missing and extra metadata and tensors, bad metadata values, JSON edge
cases), and the header of one file on the data of another. A mutant that
loads must survive a round trip bit for bit and predict without a crash
(finite outputs or not: a flipped weight may be NaN). None may crash, hang,
raise anything but ValueError, or allocate more than the bytes it holds
warrant: the mutants that claim huge sizes load again in a process whose
address space is capped. The counts print with ``pytest -s``.
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import fastmlp

DATA = Path(__file__).parent / "data"


def _model_bytes(net):
    return net.__getstate__()["model"]


def _bases():
    """The valid files every mutant starts from."""
    return {
        "golden f64": (DATA / "golden_iris.safetensors").read_bytes(),
        "golden f32": (DATA / "golden_iris_f32.safetensors").read_bytes(),
        "softmax f32": _model_bytes(fastmlp.Network([3, 4, 2], output="softmax", loss="cross_entropy",
                                                    reduction="mean", seed=2, dtype="float32")),
        "deep leaky": _model_bytes(fastmlp.Network([3, 2, 2, 2, 1], activation=("leaky_relu", "tanh", "relu"),
                                                   output="identity", leaky_slope=0.25, seed=3)),
    }


def _split(data):
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _join(header, body, length=None):
    text = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + body


# --- header edits: (name, function of (header, data) -> bytes) ---------------------------


def _set_meta(**changes):
    def edit(h, d):
        h["__metadata__"].update(changes)
        return _join(h, d)
    return edit


def _drop_meta(key):
    def edit(h, d):
        h["__metadata__"].pop(key, None)
        return _join(h, d)
    return edit


def _tensor(name, **changes):
    def edit(h, d):
        h[name].update(changes)
        return _join(h, d)
    return edit


def _huge_network(sizes):
    """Metadata and tensors that agree on enormous layers, over the base's few bytes."""
    def edit(h, d):
        h = {"__metadata__": dict(h["__metadata__"], sizes=",".join(map(str, sizes)),
                                  activations=",".join(["sigmoid"] * (len(sizes) - 1)))}
        at = 0
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            for kind, shape in (("weight", [n_in, n_out]), ("bias", [n_out])):
                end = at + 8 * int(np.prod(shape, dtype=object))
                h[f"layers.{i}.{kind}"] = {"dtype": "F64", "shape": shape, "data_offsets": [at, end]}
                at = end
        return _join(h, d)
    return edit


def _over_weight(h):
    """Offsets for layers.0.bias that start where layers.0.weight does."""
    begin, end = h["layers.0.bias"]["data_offsets"]
    at = h["layers.0.weight"]["data_offsets"][0]
    return [at, at + end - begin]


def _text(change):
    """An edit of the header's JSON text itself."""
    def edit(h, d):
        return _join(change(json.dumps(h, separators=(",", ":")).encode()), d)
    return edit


HUGE = [  # the edits that claim far more memory than the file holds
    ("huge shape", _huge_network([100_000, 100_000])),
    ("huge deep", _huge_network([50_000, 50_000, 50_000, 3])),
    ("2**32 units", _huge_network([2**32, 2**32])),
    ("shape past 2**64", _tensor("layers.0.weight", shape=[2**32, 2**32 + 1])),
    ("header length 2**63", lambda h, d: _join(h, d, length=2**63)),
    ("header length 10**8", lambda h, d: _join(h, d, length=10**8)),
    ("header length 2**64-1", lambda h, d: _join(h, d, length=2**64 - 1)),
    ("offsets to 2**64-1", _tensor("layers.0.bias", data_offsets=[0, 2**64 - 1])),
    ("sizes 10001 layers", _set_meta(sizes=",".join(["1"] * 10_002))),
    ("sizes 2**40", _set_meta(sizes="1099511627776,3")),
]

EDITS = HUGE + [
    # offsets
    ("overlapping offsets", lambda h, d: _join({**h, "layers.0.bias": dict(h["layers.0.bias"],
                                                                           data_offsets=_over_weight(h))}, d)),
    ("offsets past the data", lambda h, d: _join(h, d[:-8])),
    ("data after the tensors", lambda h, d: _join(h, d + b"\0" * 8)),
    ("reversed offsets", _tensor("layers.0.bias", data_offsets=[40, 0])),
    ("empty offsets", _tensor("layers.0.bias", data_offsets=[])),
    ("three offsets", _tensor("layers.0.bias", data_offsets=[0, 8, 16])),
    ("negative offset", _tensor("layers.0.bias", data_offsets=[-8, 0])),
    ("float offset", _tensor("layers.0.bias", data_offsets=[0.0, 8.0])),
    ("string offset", _tensor("layers.0.bias", data_offsets=["0", "8"])),
    ("swapped offsets", lambda h, d: _join({**h, "layers.0.bias": dict(h["layers.0.bias"],
                                                  data_offsets=h["layers.0.weight"]["data_offsets"]),
                                            "layers.0.weight": dict(h["layers.0.weight"],
                                                  data_offsets=h["layers.0.bias"]["data_offsets"])}, d)),
    # shapes
    ("shape zero", _tensor("layers.0.bias", shape=[0])),
    ("shape negative", _tensor("layers.0.bias", shape=[-1])),
    ("shape float", _tensor("layers.0.weight", shape=[4.0, 5])),
    ("shape extra dim", _tensor("layers.0.bias", shape=[1, 5])),
    ("shape empty", _tensor("layers.0.bias", shape=[])),
    ("shape transposed", lambda h, d: _join({**h, "layers.0.weight": dict(h["layers.0.weight"],
                                                    shape=h["layers.0.weight"]["shape"][::-1])}, d)),
    ("shape string", _tensor("layers.0.bias", shape="5")),
    # dtypes
    *[(f"dtype {t!r}", _tensor("layers.0.bias", dtype=t))
      for t in ("F16", "BF16", "I64", "U8", "BOOL", "f64", "", "F64 ", 64, None, ["F64"])],
    ("mixed dtypes", lambda h, d: _join({**h, "layers.0.bias": dict(
        h["layers.0.bias"], dtype="F32" if h["layers.0.bias"]["dtype"] == "F64" else "F64")}, d)),
    # tensors
    ("missing tensor", lambda h, d: _join({k: v for k, v in h.items() if k != "layers.0.bias"}, d)),
    ("unknown tensor", lambda h, d: _join({**h, "layers.0.gamma": h["layers.0.bias"]}, d)),
    ("tensor past the layers", lambda h, d: _join({**h, "layers.99.bias": h["layers.0.bias"]}, d)),
    ("leading-zero tensor name", lambda h, d: _join({("layers.00.bias" if k == "layers.0.bias" else k): v
                                                     for k, v in h.items()}, d)),
    ("tensor with an extra key", _tensor("layers.0.bias", extra=1)),
    ("tensor as a list", lambda h, d: _join({**h, "layers.0.bias": [1, 2]}, d)),
    ("tensor without dtype", lambda h, d: _join({**h, "layers.0.bias": {k: v for k, v in h["layers.0.bias"].items()
                                                                        if k != "dtype"}}, d)),
    # metadata
    *[(f"no metadata {key!r}", _drop_meta(key))
      for key in ("format", "format_version", "sizes", "activations", "leaky_slope", "loss", "reduction",
                  "init", "seed")],
    ("no __metadata__", lambda h, d: _join({k: v for k, v in h.items() if k != "__metadata__"}, d)),
    ("__metadata__ a list", lambda h, d: _join({**h, "__metadata__": list(h["__metadata__"].values())}, d)),
    ("extra metadata", _set_meta(note="caf\u00e9 \U0001F600", **{"": "", "x" * 300: "y" * 3000})),
    *[(f"metadata {key} {value!r}", _set_meta(**{key: value})) for key, value in [
        ("format", "pt"), ("format_version", "2"), ("format_version", ""),
        ("sizes", ""), ("sizes", "0,3"), ("sizes", "4"), ("sizes", "4,,3"), ("sizes", "4, 5,3"), ("sizes", "+4,5,3"),
        ("sizes", "04,5,3"), ("sizes", "4,5,3,"), ("sizes", "-4,5,3"), ("sizes", "99999999999999999999,3"),
        ("sizes", 453), ("sizes", None), ("sizes", ["4", "5", "3"]),
        ("activations", "swish"), ("activations", "softmax,sigmoid"), ("activations", "SIGMOID,sigmoid"),
        ("activations", "sigmoid"), ("activations", "sigmoid,sigmoid,sigmoid"), ("activations", "x" * 10_000),
        ("leaky_slope", "nan"), ("leaky_slope", "inf"), ("leaky_slope", "-1"), ("leaky_slope", "1e400"),
        ("leaky_slope", "0x1p3"), ("leaky_slope", " 0.01"), ("leaky_slope", "4e-320"), ("leaky_slope", "1e300"),
        ("loss", "hinge"), ("loss", "cross_entropy"), ("loss", ""), ("reduction", "max"), ("reduction", "mean"),
        ("init", "zeros"), ("init", "he"), ("seed", "-1"), ("seed", "18446744073709551616"), ("seed", "1e3"),
        ("seed", "\u0661"), ("seed", "18446744073709551615"),
    ]],
    # JSON text
    ("duplicate key", _text(lambda t: t[:-1] + b',"__metadata__":{}}')),
    ("trailing garbage", _text(lambda t: t + b"x")),
    ("trailing whitespace", _text(lambda t: t + b" \t\r\n")),
    ("leading whitespace", _text(lambda t: b"\n\t " + t)),
    ("byte order mark", _text(lambda t: b"\xef\xbb\xbf" + t)),
    ("null byte", _text(lambda t: t.replace(b'"sum"', b'"s\x00m"').replace(b'"mean"', b'"m\x00an"'))),
    ("escaped key", _text(lambda t: t.replace(b'"loss"', b'"\\u006coss"'))),
    ("lone surrogate", _text(lambda t: t.replace(b'"format":', b'"\\ud800":"x","format":'))),
    ("surrogate pair", _text(lambda t: t.replace(b'"format":', b'"\\ud83d\\ude00":"x","format":'))),
    ("bad escape", _text(lambda t: t.replace(b'"format":', b'"\\x41":"x","format":'))),
    ("invalid UTF-8", _text(lambda t: t.replace(b'"format":', b'"\xc3\x28":"x","format":'))),
    ("overlong UTF-8", _text(lambda t: t.replace(b'"format":', b'"\xc0\xaf":"x","format":'))),
    ("control character", _text(lambda t: t.replace(b'"format":', b'"\x01":"x","format":'))),
    ("exponent", _text(lambda t: t.replace(b"[0,", b"[0e0,", 1))),
    ("leading zero", _text(lambda t: t.replace(b"[0,", b"[00,", 1))),
    ("true false null", _text(lambda t: t.replace(b"[0,", b"[true,false,null,0,", 1))),
    ("deep nesting", _text(lambda t: t[:-1] + b',"deep":' + b"[" * 64 + b"]" * 64 + b"}")),
    ("unclosed", _text(lambda t: t[:-1])),
    ("single quotes", _text(lambda t: t.replace(b'"', b"'"))),
    ("empty object", lambda h, d: _join(b"{}", d)),
    ("array root", lambda h, d: _join(b"[]", d)),
    ("string root", lambda h, d: _join(b'"x"', d)),
    ("empty header", lambda h, d: _join(b"", d)),
    ("spaces header", lambda h, d: _join(b" " * 16, d)),
]


# --- the mutants ------------------------------------------------------------------------------


def mutants():
    """(family, description, bytes) for every mutant, always the same ones."""
    rnd = random.Random(20260407)
    bases = _bases()
    out = []
    for base_name, good in bases.items():
        (n,) = struct.unpack("<Q", good[:8])
        header_end = 8 + n
        header, body = _split(good)
        for _ in range(400):  # one bit, mostly in the length and header
            at = rnd.randrange(header_end) if rnd.random() < 0.8 else rnd.randrange(len(good))
            bit = 1 << rnd.randrange(8)
            out.append(("bit flip", f"{base_name}: bit {bit} of byte {at}",
                        good[:at] + bytes([good[at] ^ bit]) + good[at + 1:]))
        for _ in range(200):  # a few bytes set to anything
            data = bytearray(good)
            for _ in range(rnd.randint(1, 4)):
                data[rnd.randrange(len(data))] = rnd.randrange(256)
            out.append(("byte change", f"{base_name}: bytes changed", bytes(data)))
        cuts = sorted({*range(0, header_end + 16), *rnd.sample(range(len(good)), 40)} - {len(good)})
        for cut in cuts:
            out.append(("truncation", f"{base_name}: first {cut} bytes", good[:cut]))
        for _ in range(150):
            at = rnd.randrange(len(good) + 1)
            extra = bytes(rnd.choice(b' {}[]":,0123456789abcdefFI\\\x00\xff') for _ in range(rnd.randint(1, 8)))
            out.append(("insertion", f"{base_name}: {extra!r} at {at}", good[:at] + extra + good[at:]))
            at = rnd.randrange(len(good))
            out.append(("deletion", f"{base_name}: bytes from {at}", good[:at] + good[at + rnd.randint(1, 8):]))
        for length in (0, 1, 2, 7, 8, n - 1, n + 1, n + 8, len(good) - 8, len(good) - 7, 2**31, 2**32,
                       10**8 + 1, 2**62):
            out.append(("header length", f"{base_name}: length {length}", _join(good[8:header_end], body, length)))
        for name, edit in EDITS:
            h, d = _split(good)
            family = "huge claim" if (name, edit) in HUGE else "header edit"
            out.append((family, f"{base_name}: {name}", edit(h, d)))
        for other_name, other in bases.items():
            if other_name != base_name:
                out.append(("splice", f"header of {base_name}, data of {other_name}",
                            good[:header_end] + _split(other)[1]))
    return out


def _load_bytes(data):
    net = fastmlp.Network.__new__(fastmlp.Network)
    net.__setstate__({"model": data, "history": {}})
    return net


def _same(a, b):
    assert repr(a) == repr(b)
    for p, q in zip((*a.weights, *a.biases), (*b.weights, *b.biases)):
        assert p.dtype == q.dtype and p.tobytes() == q.tobytes()


def _outcome(load, data):
    """The loaded network, or the ValueError's message (a ValueError itself,
    not a subclass such as UnicodeDecodeError standing in for the real one)."""
    try:
        return load(data)
    except ValueError as e:
        assert type(e) is ValueError, f"{type(e).__name__}: {e}"
        return str(e)


def test_every_mutant_loads_or_raises_value_error(tmp_path):
    X = np.linspace(-2, 2, 7 * 4).reshape(7, 4)
    outcomes = Counter()
    all_mutants = mutants()
    for i, (family, what, data) in enumerate(all_mutants):
        try:
            net = _outcome(_load_bytes, data)  # the bytes path (pickle's)
            if i % 20 == 0 or family in ("huge claim", "splice"):
                # the file path agrees: the same network, or the same message after the file's name
                path = tmp_path / f"mutant-{i}.safetensors"
                path.write_bytes(data)
                from_file = _outcome(fastmlp.load, path)
                path.unlink()
                outcomes["also loaded from a file"] += 1
                if isinstance(net, str):
                    assert from_file == f"{path}: {net.removeprefix('pickled network: ')}", what
                else:
                    _same(net, from_file)
        except Exception as e:  # pragma: no cover - the failure names the mutant
            pytest.fail(f"{family} ({what}) raised {type(e).__name__}: {e}")
        if isinstance(net, str):
            assert net, what
            outcomes["refused"] += 1
            continue
        outcomes["loaded"] += 1
        _same(net, _load_bytes(_model_bytes(net)))
        P = net.predict(np.resize(X, (7, net.sizes[0])))
        assert P.shape == (7, net.sizes[-1]) and P.dtype == net.dtype
        outcomes["finite predictions" if np.isfinite(P).all() else "non-finite predictions"] += 1
    total = len(all_mutants)
    print(f"\nmodel-file mutants: {total} tried ({dict(Counter(f for f, _, _ in all_mutants))}; "
          f"{outcomes['also loaded from a file']} also from a file), {outcomes['loaded']} loaded "
          f"({outcomes['finite predictions']} predicting finite values), {outcomes['refused']} refused with "
          f"ValueError, 0 crashes")
    assert total >= 3000 and outcomes["loaded"] + outcomes["refused"] == total
    # both outcomes are common: data-section flips load, header damage is refused
    assert outcomes["loaded"] > 100 and outcomes["refused"] > 2000


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/status as on Linux")
def test_mutants_claiming_huge_sizes_allocate_nothing():
    """In a process whose address space may grow by 200 MB at most, every
    mutant that claims gigabytes (shapes, header lengths, offsets, layer
    counts) is refused: nothing is allocated from a claim before the bytes
    behind it are checked. A premature allocation would be a MemoryError."""
    script = textwrap.dedent("""
        import resource, sys
        sys.path.insert(0, sys.argv[1])
        import test_model_file_mutants as t
        huge = [(what, data) for family, what, data in t.mutants() if family in ("huge claim", "header length")]
        with open("/proc/self/status") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + (200 << 20), resource.getrlimit(resource.RLIMIT_AS)[1]))
        for what, data in huge:
            try:
                t._load_bytes(data)
            except ValueError:
                continue
            raise SystemExit(f"{what}: loaded")
        print(len(huge))
    """)
    res = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert int(res.stdout) >= 4 * len(HUGE)
