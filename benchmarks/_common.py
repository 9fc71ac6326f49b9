"""Helpers shared by the benchmark scripts: environment, threads, timing, tables.

Importing this module first matters: it re-executes the script without
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when they are set, because OpenBLAS reads
them once when NumPy loads it and a forced core type slows NumPy down. It is
not a benchmark framework: a script lists its systems and calls `interleave`.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

# --- a clean environment, before NumPy is imported -----------------------------
# (this module itself imports NumPy only inside functions, for the same reason)

_BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

if any(name in os.environ for name in _BLAS_OVERRIDES):
    if "numpy" in sys.modules:
        print("note: numpy was imported before _common; re-executing without OPENBLAS_*", file=sys.stderr)
    # os.execve replaces this process: the script starts again from its first
    # line, with the same arguments, and this branch is not taken a second time.
    env = {k: v for k, v in os.environ.items() if k not in _BLAS_OVERRIDES}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

# OpenBLAS and OpenMP workers keep spinning for a while after a call returns
# (OpenBLAS about 2**28 cycles, ~0.1 s here). On two cores they would steal a
# core from the next system in an interleaved run, so each timing starts after
# this pause.
SETTLE_S = 0.25

# --- the machine and the software ----------------------------------------------


def cpu_model() -> str:
    """`lscpu`'s model name and the CPUs this process may use."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}, {len(os.sched_getaffinity(0))} CPUs"


def version(package: str) -> str | None:
    """The installed version of a distribution, or None (without importing it)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def source_commit() -> str:
    """The commit of the source tree these scripts sit in (install fastmlp from it before a run)."""
    def git(*args: str) -> str:
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "source tree not under git"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ":/", ":(top,exclude)benchmarks")
    return f"tree {commit}" + (" + uncommitted changes" if dirty else "")


def optional(module: str) -> Any:
    """The module, or None with a printed note, so a missing reference is skipped."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        print(f"note: skipping {module.split('.')[0]} ({exc})")
        return None


def print_header(title: str, threads: int) -> None:
    """What ran where: machine, load, versions, fastmlp's kernel, NumPy's BLAS.

    Call it inside `limit_threads`, so the BLAS lines show the threads in effect.
    """
    import fastmlp
    from threadpoolctl import threadpool_info

    print(f"## {title}\n")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())  # other work on the machine skews timings
    print(f"- date: {time.strftime('%Y-%m-%d %H:%M')}; machine: {cpu_model()}; load average {load}")
    print(f"- threads: {threads} for every system")
    names = ["numpy", "torch", "scikit-learn", "onnxruntime", "onnx", "threadpoolctl"]
    found = ", ".join(f"{n} {version(n)}" for n in names if version(n))
    print(f"- Python {platform.python_version()}, fastmlp {version('fastmlp')} ({source_commit()}), {found}")
    print(f"- fastmlp GEMM kernel: {fastmlp._core.gemm_kernel()}")
    for lib in threadpool_info():
        if lib["user_api"] == "blas":
            owner = os.path.basename(os.path.dirname(lib["filepath"]))  # numpy.libs, scipy.libs
            print(f"- BLAS in {owner}: {lib['internal_api']} {lib['version']}, "
                  f"kernel {lib.get('architecture')}, num_threads {lib['num_threads']}")
    print()
    atexit.register(_print_other_load, _cpu_seconds(), time.perf_counter())


def _cpu_seconds() -> tuple[float, float]:
    """(CPU seconds the whole machine was busy, this process and its children's)."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return float("nan"), 0.0
    # user nice system idle iowait irq softirq steal (guest time is inside user already);
    # busy is all but idle and iowait, and steal counts: the hypervisor ran something else
    busy = sum(ticks[:8]) - ticks[3] - ticks[4]
    t = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), t.user + t.system + t.children_user + t.children_system


def _print_other_load(start: tuple[float, float], start_wall: float) -> None:
    """At exit: how much CPU others took during the run (they skew the timings)."""
    end = _cpu_seconds()
    wall = (time.perf_counter() - start_wall) * len(os.sched_getaffinity(0))
    other = (end[0] - start[0]) - (end[1] - start[1])
    if other != other:  # NaN: no /proc/stat here
        return
    print(f"(other processes and the hypervisor took {max(0.0, other) / wall:.0%} of the CPUs during this run)")


# --- threads ---------------------------------------------------------------------


def limit_threads(n: int) -> Any:
    """Sets n threads for PyTorch (when loaded) and returns the BLAS limit to enter.

    Use as ``with limit_threads(2): ...`` around the whole run, so NumPy's and
    SciPy's OpenBLAS use n threads too. onnxruntime and fastmlp take their
    thread counts per session or per call.
    """
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
    return threadpool_limits(limits=n, user_api="blas")


# --- timing ----------------------------------------------------------------------

# A system to time: a factory that does the untimed setup (fresh weights, a
# session) and returns the call to time.
Setup = Callable[[], Callable[[], object]]


def interleave(systems: dict[str, Setup], rounds: int, repeat: dict[str, int] | None = None) -> dict[str, list[float]]:
    """Seconds per call of each system, rounds x (A B C ...), so drift hits all alike.

    ``repeat[name]`` calls are timed together and averaged (for calls of a
    few microseconds, where one clock reading would dominate).
    """
    repeat = repeat or {}
    times: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(rounds):
        for name, setup in systems.items():
            call, n = setup(), repeat.get(name, 1)
            gc.collect()
            time.sleep(SETTLE_S)
            start = time.perf_counter()
            for _ in range(n):
                call()
            times[name].append((time.perf_counter() - start) / n)
    return times


def calls_for(call: Callable[[], object], seconds: float = 0.2) -> int:
    """How many calls of a fast function take about ``seconds``; also warms it up."""
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            call()
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 10:
            return max(1, int(n * seconds / elapsed))
        n *= 4


def print_table(times: dict[str, list[float]], *, unit: str, scale: float, base: str = "fastmlp",
                rates: dict[str, Callable[[float], float]] | None = None) -> None:
    """A Markdown table: each system's median, and how many times faster `base` is.

    ``scale`` converts seconds to ``unit``; each entry of ``rates`` names a
    column computed from the median seconds (samples/s, GFLOP/s).
    """
    rates = rates or {}
    med = {name: statistics.median(t) for name, t in times.items()}
    columns = ["system", f"median {unit}", *rates, f"{base} speed-up"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for name, m in med.items():
        cells = [name, _number(m * scale), *(_number(rate(m)) for rate in rates.values())]
        cells.append("" if name == base else f"{m / med[base]:.2f}x")
        print("| " + " | ".join(cells) + " |")
    rounds = max(len(t) for t in times.values())
    print(f"\n(median of {rounds} interleaved rounds; speed-up = the system's time / {base}'s time)\n")


def _number(x: float) -> str:
    """Three significant digits, without an exponent below a million."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


# --- checks and sizes -------------------------------------------------------------


def check_close(name: str, got: Any, want: Any, tol: float) -> None:
    """Prints the max |difference| of a result against fastmlp's; exits if over tol.

    A benchmark that times a wrong computation is worse than none.
    """
    import numpy as np

    assert len(got) == len(want), (len(got), len(want))
    diff = max(float(np.max(np.abs(np.asarray(g, dtype=np.float64) - np.asarray(w, dtype=np.float64))))
               for g, w in zip(got, want))
    print(f"check: {name:<22} max |diff| vs fastmlp = {diff:.2e} (tolerance {tol:.0e})")
    if not diff <= tol:
        sys.exit(f"{name} disagrees with fastmlp; not timing it")


def train_flops(sizes: list[int], rows: int) -> int:
    """Multiply-add FLOPs of one training pass over ``rows`` samples, counted exactly.

    Forward 2*rows*in*out per layer; backward twice that (dW and the input
    gradient), except the first layer, whose input gradient nobody needs.
    """
    forward = sum(2 * rows * a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 3 * forward - 2 * rows * sizes[0] * sizes[1]


# --- onnxruntime ------------------------------------------------------------------


def onnx_session(net: Any, threads: int) -> Any:
    """An onnxruntime session computing ``net``'s forward pass, built from its weights.

    MatMul + Add + activation per layer, as onnx.helper nodes; the network's
    dtype is kept. Returns None (with a note) when onnx or onnxruntime is absent.
    """
    onnx, ort = optional("onnx"), optional("onnxruntime")
    if onnx is None or ort is None:
        return None
    from onnx import helper, numpy_helper

    act = {"sigmoid": "Sigmoid", "relu": "Relu", "tanh": "Tanh", "softmax": "Softmax", "identity": "Identity"}
    elem = helper.np_dtype_to_tensor_dtype(net.dtype)
    nodes, inits, x = [], [], "X"
    for i, (W, b) in enumerate(zip(net.weights, net.biases)):
        inits += [numpy_helper.from_array(W.copy(), f"W{i}"), numpy_helper.from_array(b.copy(), f"b{i}")]
        name = act[net.output if i == len(net.weights) - 1 else net.activation]
        nodes += [helper.make_node("MatMul", [x, f"W{i}"], [f"mm{i}"]),
                  helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"z{i}"]),
                  helper.make_node(name, [f"z{i}"], [f"a{i}"], **({"axis": -1} if name == "Softmax" else {}))]
        x = f"a{i}"
    graph = helper.make_graph(
        nodes, "fastmlp", [helper.make_tensor_value_info("X", elem, [None, net.sizes[0]])],
        [helper.make_tensor_value_info(x, elem, [None, net.sizes[-1]])], inits)
    # opset 17 and IR 8: old enough for any onnxruntime of the last years
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
