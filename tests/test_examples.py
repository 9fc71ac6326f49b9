"""Every script in examples/ runs to completion and prints what it promises."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NEEDS = {"sklearn_grid_search.py": ["sklearn"], "onnx_export.py": ["sklearn", "onnx", "onnxruntime"],
         "digits_deep_relu.py": ["sklearn"], "tfidf_text_classifier.py": ["sklearn", "scipy"]}
EXPECT = {
    "article.py": r"test accuracy over 20 seeds: min 9\d\.\d\d%",
    "sklearn_grid_search.py": r"test accuracy: 0\.9\d+",
    "onnx_export.py": r"iris\.onnx: largest difference from fastmlp \S+, accuracy 0\.9\d+",
    "digits_deep_relu.py": r"test accuracy 0\.9\d+",
    "tfidf_text_classifier.py": r"TF-IDF matrix: csr_\w+, 2250 x \d+.*\ntest accuracy (0\.9\d+|1\.0+)",
    "csv_walkthrough.py": r"predicted species of 6 new rows: (setosa|versicolor|virginica)(, \w+){5}\n[\s\S]*"
                          r"on the whole file: Accuracy: 9\d\.\d\d%",
}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECT)


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_example_runs(name, tmp_path):
    if not (EXAMPLES / name).exists():
        pytest.fail(f"examples/{name} is missing")
    missing = [m for m in NEEDS.get(name, []) if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    env = {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning"}
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert re.search(EXPECT[name], done.stdout), done.stdout
    assert "Warning" not in done.stderr, done.stderr
