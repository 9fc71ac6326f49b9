"""Writes the golden model files with the safetensors package itself, not fastmlp.

golden_iris.safetensors (F64) and golden_iris_f32.safetensors (F32): the
article's 4-5-3 sigmoid network, with parameters computed here by a formula
whose every value is exactly rounded IEEE arithmetic (integers divided by 7),
so the same numbers come out on every machine. tests/test_model_files.py
imports ``expected_tensors`` and ``METADATA`` from this script and checks
that the committed files still load to exactly these values; a later fastmlp
must always read them. Regenerate (only when the format changes, with a new
format_version) with:

    uv run python tests/data/make_golden.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZES = (4, 5, 3)
CLASSES = ["setosa", "virginica", "versicolor"]  # data/train.csv's label columns
METADATA = {
    "format": "fastmlp",
    "format_version": "1",
    "sizes": ",".join(map(str, SIZES)),
    "activations": "sigmoid,sigmoid",
    "leaky_slope": "0.01",
    "loss": "mse",
    "reduction": "sum",
    "classes": '["setosa", "virginica", "versicolor"]',
}
FILES = {"golden_iris.safetensors": np.float64, "golden_iris_f32.safetensors": np.float32}


def expected_tensors(dtype: type = np.float64) -> dict[str, np.ndarray]:
    """Layer i's weight (in, out) and bias (out,): small integers over 7, signs mixed."""
    tensors = {}
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        k = np.arange(n_in * n_out + n_out, dtype=np.float64) + 10 * i
        values = ((k * 37) % 101 - 50) / 7.0  # each an exactly rounded quotient
        tensors[f"layers.{i}.weight"] = values[: n_in * n_out].reshape(n_in, n_out).astype(dtype)
        tensors[f"layers.{i}.bias"] = values[n_in * n_out :].astype(dtype)
    return tensors


def main() -> None:
    from safetensors.numpy import save_file

    here = Path(__file__).parent
    for name, dtype in FILES.items():
        save_file(expected_tensors(dtype), str(here / name), metadata=METADATA)
        print("wrote", here / name)


if __name__ == "__main__":
    main()
