"""A TF-IDF text classifier: scikit-learn's TfidfVectorizer, fastmlp's MLPClassifier.

The corpus is generated here (no download): short "documents" on three topics,
each a mix of its topic's words and words common to all. TfidfVectorizer turns
them into a scipy.sparse CSR matrix, which the classifier trains on without
densifying it (its first layer's products run over the nonzeros). The same
pipeline with ``from sklearn.neural_network import MLPClassifier`` runs with
scikit-learn's estimator.

    uv run python examples/tfidf_text_classifier.py
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from fastmlp.sklearn import MLPClassifier

TOPICS = {
    "sport": "match goal team player coach league season score referee stadium striker keeper penalty "
             "tournament final pitch defender tackle win draw",
    "cooking": "recipe oven flour sugar butter bake simmer garlic onion pepper salt sauce pan roast "
               "dough knife chop stir boil taste",
    "astronomy": "star planet orbit telescope galaxy comet moon nebula gravity eclipse asteroid solar "
                 "cosmic spectrum light year crater meteor rocket",
}
COMMON = ("the a of and to in is it that was for on with as at by this from or an be are have "
          "one all new more when some time people day way long little").split()
SYLLABLES = "ka lo mi ne ru sa ti vo be da fe gu ho ji pe qu ri so tu ze".split()


def pseudo_words(rng: np.random.Generator, n: int) -> list[str]:
    """n made-up words of two or three syllables: the long tail of a real vocabulary."""
    return ["".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 4)))) for _ in range(n)]


def make_corpus(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """n documents of 10 to 30 words: about 30% from their topic's words
    (its named words and 300 of its own made-up ones), the rest from words
    common to all topics (the named ones and 2000 made-up ones)."""
    rng = np.random.default_rng(seed)
    names = sorted(TOPICS)
    words = [np.array(TOPICS[t].split() + pseudo_words(rng, 300)) for t in names]
    common = np.array(COMMON + pseudo_words(rng, 2000))
    labels = rng.integers(0, len(names), n)
    docs = []
    for label in labels:
        length = int(rng.integers(10, 31))
        topical = rng.random(length) < 0.3
        doc = common[rng.integers(0, common.size, length)]
        doc[topical] = words[label][rng.integers(0, words[label].size, int(topical.sum()))]
        docs.append(" ".join(doc))
    return docs, np.array(names)[labels]


def main() -> None:
    docs, topics = make_corpus(3000)
    docs_train, docs_test, y_train, y_test = train_test_split(docs, topics, test_size=0.25, random_state=0)
    model = make_pipeline(TfidfVectorizer(),
                          MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01, early_stopping=True,
                                        random_state=0, n_threads=1))
    model.fit(docs_train, y_train)
    X = model[0].transform(docs_train)
    print(f"TF-IDF matrix: {type(X).__name__}, {X.shape[0]} x {X.shape[1]}, {X.nnz} stored values "
          f"({X.nnz / (X.shape[0] * X.shape[1]):.1%} of the entries)")
    print(f"test accuracy {model.score(docs_test, y_test):.4f}")
    for text in ("the keeper saved a penalty in the final", "simmer the garlic in butter",
                 "a comet crossed the orbit of the moon"):
        print(f"{text!r}: {model.predict([text])[0]}")


if __name__ == "__main__":
    main()
