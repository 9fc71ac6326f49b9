"""The article's experiment: a 4-5-3 sigmoid network trained on Iris.

Trains with each of 20 seeds (full-batch gradient descent, 8000 epochs,
learning rate 0.2) and prints the test accuracy's min, median and max.

    uv run python examples/article.py
"""

from __future__ import annotations

import statistics
import time

import fastmlp


def main(seeds: range = range(20)) -> None:
    X_train, Y_train, X_test, Y_test = fastmlp.datasets.load_iris()
    accuracies = []
    start = time.perf_counter()
    for seed in seeds:
        net = fastmlp.train(X_train, Y_train, hidden=5, epochs=8000, learning_rate=0.2, seed=seed)
        accuracies.append(100 * fastmlp.accuracy(net.predict(X_test), Y_test))
        print(f"seed {seed:2d}: Accuracy: {accuracies[-1]:.2f}%")
    elapsed = time.perf_counter() - start
    print(f"test accuracy over {len(accuracies)} seeds: min {min(accuracies):.2f}%, "
          f"median {statistics.median(accuracies):.2f}%, max {max(accuracies):.2f}% "
          f"({elapsed / len(accuracies) * 1e3:.0f} ms per 8000-epoch run)")


if __name__ == "__main__":
    main()
