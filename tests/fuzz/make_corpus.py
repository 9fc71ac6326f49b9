"""Writes the fuzzers' seed corpus: tests/fuzz/corpus/{safetensors,csv}/seed-*.

A few valid model files (the golden ones, networks of several shapes, both
dtypes, metadata with escapes) and a few broken ones; CSV files with and
without a header, odd spacing and line ends, numbers of every spelling, and
the usual mistakes. Each CSV seed starts with the byte fuzz_csv.cpp reads
its settings from. The seeds are committed; inputs found by the fuzzers
(crash-* regressions) sit beside them and are never rewritten here.
Regenerate with:

    uv run python tests/fuzz/make_corpus.py
"""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import fastmlp

HERE = Path(__file__).parent
DATA = HERE.parent / "data"


def model_bytes(net: fastmlp.Network) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.safetensors"
        net.save(path)
        return path.read_bytes()


def forged(header: dict | bytes, data: bytes = b"") -> bytes:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds() -> dict[str, bytes]:
    seeds = {name: (DATA / name).read_bytes() for name in ("golden_iris.safetensors", "golden_iris_f32.safetensors")}
    seeds["tiny-f64"] = model_bytes(fastmlp.Network([2, 1], seed=1))
    seeds["softmax-f32"] = model_bytes(fastmlp.Network([3, 4, 2], output="softmax", loss="cross_entropy",
                                                       reduction="mean", init="glorot", seed=2, dtype="float32"))
    seeds["deep-leaky"] = model_bytes(fastmlp.Network([3, 2, 2, 2, 1], activation=("leaky_relu", "tanh", "relu"),
                                                      output="identity", leaky_slope=1 / 3, init="he_normal", seed=3))
    meta = {"format": "fastmlp", "format_version": "1", "sizes": "1,1", "activations": "sigmoid",
            "leaky_slope": "0.01", "loss": "mse", "reduction": "sum",
            "note": "caf\u00e9 \U0001F600 \t\"quoted\"\\", "init": "uniform", "seed": "18446744073709551615"}
    header = {"__metadata__": meta,
              "layers.0.bias": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
              "layers.0.weight": {"dtype": "F32", "shape": [1, 1], "data_offsets": [0, 4]}}
    seeds["escapes"] = forged(header, struct.pack("<ff", float("nan"), -0.0))
    seeds["empty"] = b""
    seeds["short"] = b"\x02\x00\x00\x00\x00\x00\x00"
    seeds["huge-length"] = b"\xff" * 8 + b"{}"
    seeds["empty-object"] = forged(b"{}")
    seeds["truncated"] = (DATA / "golden_iris.safetensors").read_bytes()[:500]
    return seeds


def csv_seeds() -> dict[str, bytes]:
    iris = (HERE.parent.parent / "data" / "train.csv").read_bytes().splitlines(keepends=True)
    texts = {
        "iris": (0x03, b"".join(iris[:13])),
        "no-header": (0x20, b"".join(iris[1:6])),
        "crlf-blank-spaces": (0x45, b"a, b ,c\r\n\r\n 1 ,\t2,3\r\n\n4,5 , 6\r\n"),
        "numbers": (0x8A, b"+1,-0,.5,5.,1e3,1E-3,-2.5e+2,0001\n4.9e-324,1.7976931348623157e308,"
                          b"123456789012345678901234567890,0.1\n"),
        "no-final-newline": (0x01, b"1,2\n3,4"),
        "refused-values": (0xF1, b"1,2\n3,inf\nnan,4\n1e400,2\n0x10,1\n"),
        "ragged": (0x02, b"1,2,3\n4,5\n6,7,8,9\n"),
        "header-only": (0x01, b"x,y,z\n"),
        "empty": (0x00, b""),
        "trailing-comma": (0x11, b"1,2,\n3,4,\n"),
        "cr-only": (0x01, b"1,2\r3,4\r"),
        "one-column": (0x00, b"7\n8\n9\n"),
        "bom": (0x21, b"\xef\xbb\xbf0.5,0.5,0.5,0.5\n1,2,3,4\n"),
        "typo-first-row": (0x21, b"0.5,O.5,0.5,0.5\n1,2,3,4\n"),
        "empty-first-field": (0x21, b"0.5,,0.5,0.5\n1,2,3,4\n"),
        "number-names": (0x01, b"1,2,3,label\n4,5,6,0\n"),
        "out-of-range-first-row": (0x00, b"1e400,1e-400\n1,2\n"),
        "quoted": (0x25, b'"a, ""b""",\" c \",d\r\n"1", 2 ,"3.5"\r\n4,"5",6\r'),
        "quote-errors": (0x02, b'a,"b\nc",d\n1,"2"x,3\n'),
        "line-ends": (0x0d, b"a,b\r\n1,2\r\r\n3,4\r5,6\n\r7,8"),
        "utf16": (0x01, "a,b\n1,2\n".encode("utf-16")),
        "bad-utf8-name": (0x01, b"a,\xff\xfe\n1,2\n"),
        "pandas-index": (0x01, b",a,b\n0,1.5,2\n1,3,4.25\n"),
        "signs": (0x00, b"+1,-1\n+-1,2\n"),
    }
    return {name: bytes([control]) + text for name, (control, text) in texts.items()}


def main() -> None:
    for target, seeds in (("safetensors", safetensors_seeds()), ("csv", csv_seeds())):
        directory = HERE / "corpus" / target
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (directory / f"seed-{name}").write_bytes(data)
        print(f"wrote {len(seeds)} seeds to {directory}")


if __name__ == "__main__":
    main()
