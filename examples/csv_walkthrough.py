"""A CSV file to a model to predictions, with the fastmlp command line.

Iris as people have it: a header and a `species` column of names. Trains on it
with a stratified 20% hold-out, predicts the species of new rows whose columns
come in another order (matched by name, from the model file), and evaluates
on the whole file.

    uv run python examples/csv_walkthrough.py
"""

from __future__ import annotations

import csv
import subprocess
import sys
from importlib import resources
from pathlib import Path

FASTMLP = [sys.executable, "-m", "fastmlp"]  # the `fastmlp` command, from this Python


def fastmlp(*args: str) -> str:
    print("$ fastmlp", " ".join(args))
    done = subprocess.run([*FASTMLP, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(done.stderr)
    print(done.stdout)
    return done.stdout


def main() -> None:
    with resources.as_file(resources.files("fastmlp").joinpath("data", "iris.csv")) as iris:
        iris = Path(iris)
        fastmlp("train", "--train", str(iris), "--target", "species", "--test-fraction", "0.2",
                "--optimizer", "adam", "--lr", "0.01", "--epochs", "500", "--seed", "1", "--quiet",
                "-o", "iris.safetensors")

        # New rows: no species, the columns in another order.
        with open(iris, newline="") as f:
            header, *rows = list(csv.reader(f))
        order = ["petal_width", "sepal_length", "petal_length", "sepal_width"]
        with open("new_rows.csv", "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(order)
            for row in rows[::25]:
                writer.writerow([row[header.index(name)] for name in order])
        predicted = fastmlp("predict", "--classes", "iris.safetensors", "new_rows.csv").split()
        print("predicted species of", len(predicted) - 1, "new rows:", ", ".join(predicted[1:]))
        print()

        figures = fastmlp("eval", "iris.safetensors", str(iris))
        print("on the whole file:", figures.splitlines()[0])


if __name__ == "__main__":
    main()
