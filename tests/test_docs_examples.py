"""Every code block of README.md and docs/ runs, so an example that lies fails here.

The conventions (docs/about-these-docs.md): ```python blocks run in order in one
namespace per page, in a temporary directory holding a copy of data/; ```pycon
blocks are doctest sessions in that namespace; ```console blocks run each `$ `
command and compare its output (stdout then stderr; `...` matches any lines,
`[exit N]` the exit status); a block whose info string says `skip` is not run.
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
RUN = {"python", "pycon", "console"}
NEEDS = {"sklearn": "sklearn", "onnxruntime": "onnxruntime", "matplotlib": "matplotlib", "pandas": "pandas",
         "safetensors": "safetensors", "dask": "dask"}
CLI = [os.environ["FASTMLP_PROGRAM"]] if os.environ.get("FASTMLP_PROGRAM") else [sys.executable, "-m", "fastmlp"]


def blocks(text: str) -> list[tuple[str, str, int]]:
    """(language, code, line) of each fenced block that is to run."""
    found = []
    for m in FENCE.finditer(text):
        info = m.group(1).split()
        if info and info[0] in RUN and "skip" not in info[1:]:
            found.append((info[0], m.group(2), text.count("\n", 0, m.start()) + 2))
    return found


def name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_the_collector_reads_the_conventions():
    text = "```python\na = 1\n```\n\n```python skip\nb\n```\n```sh\nls\n```\n```pycon\n>>> a\n1\n```\n"
    assert [(lang, code) for lang, code, _ in blocks(text)] == [("python", "a = 1\n"), ("pycon", ">>> a\n1\n")]


def test_every_page_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in PAGES[1:]:
        assert str(page.relative_to(ROOT / "docs")) in nav, f"{name(page)} is not in mkdocs.yml's nav"


def test_an_example_that_lies_fails(workdir):
    with pytest.raises(AssertionError, match="Accuracy: 50.00%"):
        run_console("$ fastmlp train --epochs 8000\nAccuracy: 50.00%\n", "lie", workdir)
    with pytest.raises(AssertionError, match="exit 0"):
        run_console("$ fastmlp train --epochs 1\n...\n[exit 2]\n", "lie", workdir)
    with pytest.raises(AssertionError, match=r"Expected:\s+3\s+Got:\s+2"):
        run_pycon(">>> 1 + 1\n3\n", "lie", {})
    run_pycon(">>> 1 + 1\n2\n", "truth", {})


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_console(code: str, where: str, cwd: Path) -> None:
    """Each `$ ` command of a console block, its output against the lines below it."""
    steps: list[tuple[str, list[str]]] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"{where}: output before any command"
            steps[-1][1].append(line)
    for command, expected in steps:
        argv = shlex.split(command)
        status = 0
        if expected and re.fullmatch(r"\[exit \d+\]", expected[-1]):
            status = int(expected.pop()[6:-1])
        if argv[0] == "head" and len(argv) == 3 and re.fullmatch(r"-\d+", argv[1]):
            # head -N FILE, read here: the tests also run where there is no head (Windows)
            got = (cwd / argv[2]).read_text().splitlines()[:int(argv[1][1:])]
        elif argv[0] == "fastmlp":
            done = subprocess.run([*CLI, *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=300,
                                  stdin=subprocess.DEVNULL)
            got = (done.stdout + done.stderr).splitlines()
            assert done.returncode == status, f"{where}: {command}\nexit {done.returncode}\n{done.stdout}{done.stderr}"
        else:
            raise AssertionError(f"{where}: a console block runs fastmlp and head -N FILE only; got {command!r}")
        pattern = "".join(r"(?:.*\n)*" if e == "..." else re.escape(e) + r"\n" for e in expected)
        assert re.fullmatch(pattern, "".join(g + "\n" for g in got)), (
            f"{where}: {command}\nexpected:\n" + "\n".join(expected) + "\ngot:\n" + "\n".join(got))


def run_pycon(code: str, where: str, namespace: dict) -> None:
    test = doctest.DocTestParser().get_doctest(code, namespace, where, where, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    runner.run(test, out=report.append, clear_globs=False)
    assert runner.failures == 0, "".join(report)


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_the_pages_code_runs(page, workdir):
    text = page.read_text()
    found = blocks(text)
    if not found:
        pytest.skip("no code to run")
    code = "".join(c for _, c, _ in found)
    missing = [m for word, m in NEEDS.items() if re.search(rf"\b{word}\b", code) and not _importable(m)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    if "matplotlib" in code:
        import matplotlib

        matplotlib.use("Agg")
    namespace: dict = {"__name__": "__docs__"}
    try:
        for lang, block, line in found:
            where = f"{name(page)}, line {line}"
            if lang == "python":
                exec(compile(block, where, "exec"), namespace)
            elif lang == "pycon":
                run_pycon(block, where, namespace)
            else:
                run_console(block, where, workdir)
    finally:
        if "matplotlib" in code:
            import matplotlib.pyplot as plt

            plt.close("all")


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
