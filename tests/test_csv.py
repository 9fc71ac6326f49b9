"""The CSV reader (``fastmlp._core.read_csv``, the command line's reader)
against a reference written here with Python's csv module and float(), on
the cases people's files hold and on files Hypothesis makes up; its memory on
an absurd line; and ``-`` for standard input on the command line.

The reference follows the rules in the header comment of
csrc/fastmlp/io_csv.hpp: the two agree on the header and every value, or
both refuse the file.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import fastmlp
from fastmlp import _core

DATA = Path(__file__).parent.parent / "data"

# --- the reference reader -----------------------------------------------------------------

# std::from_chars' grammar, with the '+' the reader allows: what the reader calls a number.
_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                     r"|inf|infinity|nan(?:\([0-9A-Za-z_]*\))?)", re.IGNORECASE)


class Refused(Exception):
    """The reference refuses the file."""


def _value(text: str) -> float:
    """The finite double that `text` (a number by _NUMBER) spells, or Refused."""
    if re.search("[in]", text, re.IGNORECASE):  # inf, infinity, nan, nan(chars): float() reads no nan(chars)
        raise Refused(f"{text!r} is not finite")
    value = float(text)  # correctly rounded, as from_chars
    mantissa = re.split("[eE]", text)[0]
    if not math.isfinite(value) or (value == 0 and re.search("[1-9]", mantissa)):
        raise Refused(f"{text!r} is not finite or out of range")
    return value


def reference_read(data: bytes, n_labels: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(header, X, Y) of a CSV file by the reader's rules, with the csv module
    parsing each line and float() reading each number."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Refused("UTF-16")
    text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "surrogateescape")
    header: list[str] = []
    rows: list[list[float]] = []
    columns = None
    for line in re.split(r"\r\n|\r|\n", text):
        if not line.strip(" \t"):
            continue
        try:
            fields = next(csv.reader([line], strict=True))  # names as written, spaces kept
        except csv.Error as e:
            raise Refused(str(e)) from None
        numbers = [bool(_NUMBER.fullmatch(f.strip(" \t"))) for f in fields]  # numbers without their spaces
        if columns is None:
            columns = len(fields)
            if not any(numbers):
                try:
                    [name.encode("utf-8") for name in fields]  # bytes that were not UTF-8 do not encode
                except UnicodeEncodeError:
                    raise Refused("a header name is not UTF-8") from None
                header = fields
                continue
        if len(fields) != columns or not all(numbers):
            raise Refused("a ragged row, or a field that is no number")
        rows.append([_value(f.strip(" \t")) for f in fields])
    if not rows or columns <= n_labels:
        raise Refused("no data, or no features")
    table = np.array(rows, dtype=np.float64).reshape(len(rows), columns)
    return header, table[:, :columns - n_labels], table[:, columns - n_labels:]


def core_read(path: Path, data: bytes, n_labels: int):
    """_core.read_csv of `data` written to `path`; None when it refuses the file,
    its message checked on the way: one line, naming the file."""
    path.write_bytes(data)
    try:
        return _core.read_csv(str(path), n_labels)
    except ValueError as e:
        message = str(e)
        assert message.startswith(str(path)) and "\n" not in message, message
        return None


def assert_agree(path: Path, data: bytes, n_labels: int):
    try:
        want = reference_read(data, n_labels)
    except Refused as e:
        want, why = None, str(e)
    got = core_read(path, data, n_labels)
    if want is None or got is None:
        assert got is None and want is None, (data, got, want is None and why)
        return
    assert got[0] == want[0], data
    for core_part, reference_part in zip(got[1:], want[1:]):
        assert core_part.shape == reference_part.shape, data
        assert core_part.tobytes() == np.ascontiguousarray(reference_part).tobytes(), data  # -0.0 too


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("csv") / "file.csv"


# --- the cases of people's files -----------------------------------------------------------

FIRST_ROW_ERRORS = {  # a first row of numbers and text, once read as a header in silence
    b"0.5,O.5,0.5,0.5\n1,2,3,4\n": "line 1, column 2: 'O.5' is not a number",
    b"0.5,,0.5,0.5\n1,2,3,4\n": "line 1, column 2: empty field",
    b"1,2,3,\n4,5,6,7\n": "line 1, column 4: empty field",
    b"1,2,3,label\n4,5,6,7\n": "line 1, column 4: 'label' is not a number",  # names that are numbers
    b'"1","2","x"\n4,5,6\n': "line 1, column 3: 'x' is not a number",
    b"\r\n  \n1e400,1e400\r\n1,2\n": "line 3, column 1: '1e400' is not a number in a double's range",
}


@pytest.mark.parametrize("data", FIRST_ROW_ERRORS)
def test_a_first_row_mixing_numbers_and_text_is_an_error(scratch, data):
    scratch.write_bytes(data)
    with pytest.raises(ValueError) as e:
        _core.read_csv(str(scratch), 1)
    assert str(e.value).startswith(f"{scratch}, {FIRST_ROW_ERRORS[data]}"), str(e.value)
    with pytest.raises(Refused):
        reference_read(data, 1)


def test_a_byte_order_mark_is_not_part_of_the_first_row(scratch):
    rows = b"0.5,1.5,2\n3,4,5\n"
    header, X, Y = core_read(scratch, b"\xef\xbb\xbf" + rows, 1)
    want = np.loadtxt(io.StringIO(rows.decode()), delimiter=",")
    assert header == []
    np.testing.assert_array_equal(np.hstack([X, Y]), want)
    header, X, Y = core_read(scratch, b"\xef\xbb\xbfa,b,c\n" + rows, 1)
    assert header == ["a", "b", "c"] and X.shape == (2, 2)
    assert core_read(scratch, "a,b\n1,2\n".encode("utf-16"), 1) is None


@pytest.mark.parametrize("data", [
    b"a,b,c\r\n1,2,3\r\n4,5,6\r\n",                               # Windows line ends
    b"a,b,c\r1,2,3\r4,5,6\r",                                     # old Mac line ends
    b'"Sepal.Length","Sepal Width, cm","Sp""ecies"\n5.1,3.5,0\n',  # R's write.csv quotes names
    b'x,y\n"1.5","-2e3"\n  3 ,\t4\n',                            # quoted numbers, spaces
    b",a,b\n0,1.5,2\n1,3,4.25\n",                                 # pandas' to_csv with its index
    b"\n\n1,2\n\n3,4",                                            # blank lines, no final newline
    b"1,2,3\n4,5,6\n",                                            # no header: names that are numbers
    b' a,b ,"c "\n1, 2 ,3\n',                                     # names keep their spaces
])
def test_files_read_as_pandas_reads_them(scratch, data):
    """Files the reader accepts: pandas.read_csv finds the same header and values."""
    header, X, Y = core_read(scratch, data, 1)
    frame = pd.read_csv(io.BytesIO(data), header=0 if header else None, skip_blank_lines=True)
    if header:
        assert header == [("" if name.startswith("Unnamed: ") else name) for name in frame.columns]
    np.testing.assert_array_equal(np.hstack([X, Y]), frame.to_numpy(dtype=np.float64))
    assert_agree(scratch, data, 1)


@pytest.mark.parametrize("data,message", [
    (b"a,b\n", "no data rows"),                                      # only a header
    (b"a,b\n1,2\n3,x\n", "line 3, column 2 ('b'): 'x' is not a number"),
    (b"a,b\r\n1,2\r\n3,\r\n", "line 3, column 2 ('b'): empty field"),
    (b'a,"b\nc"\n1,2\n', "line 1, column 2: the quoted field does not end on its line"),
    (b'a,b\n1,"2" \n', "line 2, column 2 ('b'): text after the closing quote"),
    (b"a,\xff\n1,2\n", "line 1, column 2: header name '\\xff' is not UTF-8 text"),
    (b"+-1,2\n", "line 1, column 1: '+-1' is not a number"),
])
def test_refused_files_name_line_and_column(scratch, data, message):
    scratch.write_bytes(data)
    with pytest.raises(ValueError, match=re.escape(f"{scratch}{', ' if 'line' in message else ': '}{message}")):
        _core.read_csv(str(scratch), 1)
    with pytest.raises(Refused):
        reference_read(data, 1)


# --- files made up by Hypothesis -------------------------------------------------------------

_GOOD_NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-10**25, 10**25).map(str),
    st.builds(format, st.floats(-1e6, 1e6), st.sampled_from([".3f", "e", "E", ".17g", "g", "+.2e"])),
    st.sampled_from(["+1", "-0", ".5", "5.", "+.5", "1.e3", "1E-3", "0001", "4.9e-324", "1.7976931348623157e308"]),
)
_ODD_NUMBERS = st.sampled_from(["1e-400", "1e400", "2.4703282292062327e-324", "-nan", "INF", "Infinity", "nan(1)",
                                "0x10", "1_0", "+-1", "--1", "1e", ".", "", "O.5", "\u0661", "1 2", "1,5"])
_NAMES = st.one_of(st.sampled_from(["a", "label", "x y", 'q"uote', "a,b", "caf\u00e9", "", "\ufeff"]),
                   st.text(max_size=6))


@st.composite
def _fields(draw, texts):
    """A field's text as a file spells it: mostly bare, else quoted, padded,
    or now and then with a space before its quote (which makes the quotes text)."""
    text = draw(texts)
    how = draw(st.integers(0, 29))
    pad = draw(st.sampled_from([" ", "\t", "  "]))
    if how == 0:
        return pad + '"' + text.replace('"', '""') + '"'
    if how <= 4 or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return pad + text + pad if how <= 9 else text


@st.composite
def csv_files(draw):
    """A CSV file: an optional header, rows mostly of numbers (now and then
    an odd one), line ends of every kind, blank lines, byte order marks."""
    columns = draw(st.integers(1, 4))
    lines = []
    if draw(st.booleans()):
        lines.append(draw(st.lists(_fields(_NAMES), min_size=columns, max_size=columns)))
    for _ in range(draw(st.integers(0, 5))):
        odd = draw(st.integers(0, 15))
        if odd == 0:  # any number of fields of any kind
            lines.append(draw(st.lists(_fields(st.one_of(_ODD_NUMBERS, _NAMES)), min_size=1, max_size=5)))
        else:
            lines.append(draw(st.lists(_fields(_ODD_NUMBERS if odd == 1 else _GOOD_NUMBERS),
                                       min_size=columns, max_size=columns)))
    line_end = st.sampled_from(["\n", "\r\n", "\r"])
    text = ""
    for fields in lines:
        if draw(st.integers(0, 5)) == 0:
            text += draw(st.sampled_from(["", " ", "\t", " \t "])) + draw(line_end)
        text += ",".join(fields) + draw(line_end)
    if lines and draw(st.booleans()):
        text = text.rstrip("\r\n")
    prefix = draw(st.sampled_from([b"", b"", b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf", b"\xff\xfe"]))
    return prefix + text.encode("utf-8")


# Fragments that make the reader's corner cases likely in a free-form byte string.
_TOKENS = st.sampled_from([b"1", b"0.5", b"-2e3", b",", b",", b"\n", b"\r", b"\r\n", b'"', b'""', b" ", b"\t",
                           b"a", b"e", b"-", b"+", b".", b"\xef\xbb\xbf", b"nan", b"inf", b"\xff", b"\xc3\xa9"])


@given(data=st.one_of(csv_files(), st.lists(_TOKENS, max_size=40).map(b"".join), st.binary(max_size=40)),
       n_labels=st.integers(0, 2))
@example(data=b"\xef\xbb\xbf0.5,0.5,0.5,0.5\n1,2,3,4\n", n_labels=1)
@example(data=b"0.5,O.5,0.5,0.5\n1,2,3,4\n", n_labels=1)
@example(data=b"0.5,,0.5,0.5\n1,2,3,4\n", n_labels=1)
@example(data=b'"a","b"\r\n"1",2\r3,4', n_labels=1)
@example(data=b"+-1,2\n", n_labels=0)
@example(data=b"1e400,1e400\n1,2\n", n_labels=0)
def test_the_reader_agrees_with_python_csv(scratch, data, n_labels):
    assert_agree(scratch, data, n_labels)


# --- memory ----------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="resource.getrusage")
def test_a_line_of_commas_is_refused_in_memory_a_small_multiple_of_it(tmp_path):
    """One line of 64 MiB of commas (67 million empty fields; once 4.3 GB
    resident before the error): refused by its number of columns, the process
    growing by less than three times the line."""
    line = tmp_path / "commas.csv"
    size = 64 << 20
    with open(line, "wb") as f:
        f.write(b"," * size + b"\n")
    script = (
        "import resource, sys\n"
        "from fastmlp import _core\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    _core.read_csv(sys.argv[1], 0)\n"
        "except ValueError as e:\n"
        "    print(e)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    res = subprocess.run([sys.executable, "-c", script, str(line)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    message, growth = res.stdout.splitlines()
    assert f"line 1: {size + 1} fields, more than the" in message and "columns" in message, message
    growth_bytes = int(growth) * (1 if sys.platform == "darwin" else 1024)  # ru_maxrss: bytes on macOS, else KiB
    assert growth_bytes < 3 * size, f"{growth_bytes / 2**20:.0f} MiB for a {size >> 20} MiB line"


# --- "-" on the command line -----------------------------------------------------------------

_PYTHON_DOOR = [shutil.which("fastmlp")] if shutil.which("fastmlp") else [sys.executable, "-m", "fastmlp"]
DOORS = {"python": _PYTHON_DOOR, **({"native": [os.environ["FASTMLP_PROGRAM"]]}
                                    if os.environ.get("FASTMLP_PROGRAM") else {})}


@pytest.fixture(params=list(DOORS))
def door(request):
    return DOORS[request.param]


def test_dash_reads_data_from_standard_input(door, tmp_path, iris):
    """predict and eval MODEL - read the CSV from stdin, as from the file."""
    X, Y, X_test, Y_test = iris
    net = fastmlp.train(X, Y, hidden=5, epochs=200, seed=3)
    model = tmp_path / "iris.safetensors"
    net.save(model)
    data = (DATA / "test.csv").read_bytes()

    def run(*args, stdin=data):
        return subprocess.run([*door, *args], input=stdin, capture_output=True, timeout=120)

    res = run("predict", str(model), "-")
    assert res.returncode == 0, res.stderr
    printed = np.loadtxt(io.BytesIO(res.stdout), delimiter=",", ndmin=2, skiprows=1)
    np.testing.assert_array_equal(printed, net.predict(X_test))
    res = run("eval", str(model), "-")
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().splitlines()[0] == f"Accuracy: {100 * fastmlp.accuracy(net.predict(X_test), Y_test):.2f}%"
    # errors count the lines of the input as those of a file
    res = run("predict", str(model), "-", stdin=b"1,2,3,4\r\n5,x,7,8\r\n")
    assert (res.returncode, res.stdout) == (1, b"")
    assert res.stderr.decode() == "fastmlp: -, line 2, column 2: 'x' is not a number\n"
    # a file named "-" is still there by another spelling of its name
    (tmp_path / "-").write_bytes(data)
    res = subprocess.run([*door, "predict", str(model), "./-"], capture_output=True, timeout=120, cwd=tmp_path)
    np.testing.assert_array_equal(np.loadtxt(io.BytesIO(res.stdout), delimiter=",", ndmin=2, skiprows=1), printed)


def test_eval_plots_from_standard_input(tmp_path):
    """eval reads DATA.csv once and hands its counts to the drawing, so --plot
    works on a stream: the same accuracy as from the file, and an image."""
    pytest.importorskip("matplotlib")
    model = tmp_path / "m.safetensors"
    fastmlp.Network([4, 5, 3], seed=1).save(model)
    from_file = subprocess.run([*_PYTHON_DOOR, "eval", str(model), str(DATA / "test.csv")],
                               capture_output=True, timeout=120)
    res = subprocess.run([*_PYTHON_DOOR, "eval", "--plot", str(tmp_path / "c.png"), str(model), "-"],
                         input=(DATA / "test.csv").read_bytes(), capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout == from_file.stdout and res.stdout.startswith(b"Accuracy: ")
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")
