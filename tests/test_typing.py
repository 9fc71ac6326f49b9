"""mypy accepts the package (its C++ module through the _core.pyi stub) and
the examples, with the settings in pyproject.toml's [tool.mypy]."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

pytest.importorskip("mypy", reason="mypy is in the test extra")


def test_mypy_accepts_the_package_and_the_examples(tmp_path):
    examples = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.py"))
    assert examples  # the examples are there to check
    res = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", "--cache-dir",
                          str(tmp_path / "mypy-cache"), "python/fastmlp", *examples],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    package = [*(ROOT / "python/fastmlp").glob("*.py"), *(ROOT / "python/fastmlp").glob("*.pyi")]
    assert f"no issues found in {len(package) + len(examples)} source files" in res.stdout, res.stdout
