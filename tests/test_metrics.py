"""``scribe.metrics.knn_accuracy`` against a plain per-cell loop, on data with known
answers, and on bad arguments."""

import numpy as np
import pandas as pd
import pytest

from scribe import metrics
from scribe.metrics import knn_accuracy


def _oracle(embedding, labels, k, folds, seed):
    """The documented rule, one cell at a time: neighbours outside the cell's fold by
    (distance, position in the data); vote ties to the label that sorts first."""
    n = len(labels)
    if folds is None:
        fold = list(range(n))
    else:
        fold = [0] * n
        order = np.random.default_rng(seed).permutation(n)
        for index, members in enumerate(np.array_split(order, folds)):
            for cell in members:
                fold[cell] = index
    correct = 0
    for i in range(n):
        candidates = []
        for j in range(n):
            if fold[j] != fold[i]:
                pairs = zip(embedding[i], embedding[j], strict=True)
                distance = sum((a - b) ** 2 for a, b in pairs)
                candidates.append((distance, j))
        candidates.sort()
        counts = {}
        for _, j in candidates[:k]:
            counts[labels[j]] = counts.get(labels[j], 0) + 1
        best = max(counts.values())
        predicted = min(label for label, count in counts.items() if count == best)
        correct += predicted == labels[i]
    return correct / n


@pytest.mark.parametrize(("k", "folds", "seed"), [(1, 5, 0), (4, 3, 1), (7, 2, 2), (6, None, 0)])
@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "integer-grid"])
def test_matches_a_per_cell_loop(k, folds, seed, ties, monkeypatch):
    """Random data, and integer points in a small grid, where equal distances and tied
    votes are everywhere; several distance blocks (the block is shrunk to 3 rows)."""
    rng = np.random.default_rng(seed + 10 * ties)
    n = 47
    if ties:
        embedding = rng.integers(0, 3, size=(n, 2)).astype(float)
    else:
        embedding = rng.normal(size=(n, 3))
    labels = rng.choice(["T", "B", "NK"], size=n)
    expected = _oracle(embedding.tolist(), labels.tolist(), k, folds, seed)
    monkeypatch.setattr(metrics, "_BLOCK_ELEMENTS", 3 * n)
    assert knn_accuracy(embedding, labels, k=k, folds=folds, seed=seed) == expected
    monkeypatch.undo()
    assert knn_accuracy(embedding, labels, k=k, folds=folds, seed=seed) == expected


def test_leave_one_out_is_folds_equal_to_the_number_of_cells():
    rng = np.random.default_rng(3)
    embedding, labels = rng.normal(size=(40, 2)), rng.integers(0, 3, size=40)
    loo = knn_accuracy(embedding, labels, k=5, folds=None)
    assert knn_accuracy(embedding, labels, k=5, folds=40, seed=7) == loo


def test_separated_clusters_score_one():
    rng = np.random.default_rng(0)
    centres = 20.0 * np.eye(4)
    labels = np.repeat(np.arange(4), 50)
    embedding = centres[labels] + rng.normal(size=(200, 4))
    assert knn_accuracy(embedding, labels) == 1.0
    assert knn_accuracy(embedding, pd.Categorical(labels.astype(str)), folds=None) == 1.0


def test_labels_unrelated_to_the_embedding_score_chance():
    """4 balanced labels drawn independently of the points: accuracy ≈ 1/4. The standard
    error of a mean of 2,000 such votes is about 0.01; the tolerance is 0.05."""
    rng = np.random.default_rng(1)
    embedding = rng.normal(size=(2000, 2))
    labels = rng.permutation(np.repeat(np.arange(4), 500))
    assert abs(knn_accuracy(embedding, labels) - 0.25) < 0.05


def test_score_depends_on_the_seed_only_through_the_folds():
    rng = np.random.default_rng(2)
    embedding, labels = rng.normal(size=(60, 2)), rng.integers(0, 2, size=60)
    assert knn_accuracy(embedding, labels, seed=4) == knn_accuracy(embedding, labels, seed=4)
    assert knn_accuracy(embedding, labels, folds=None, seed=1) == knn_accuracy(
        embedding, labels, folds=None, seed=2
    )


GOOD = np.arange(40.0).reshape(20, 2)
LABELS = np.arange(20) % 2


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ((np.arange(20.0), LABELS), ValueError, "embedding must be 2-D"),
        ((np.zeros((20, 0)), LABELS), ValueError, "embedding must be 2-D"),
        ((GOOD.astype(str), LABELS), TypeError, "embedding must hold real numbers"),
        ((GOOD > 3, LABELS), TypeError, "embedding must hold real numbers"),
        ((np.where(GOOD > 3, np.nan, GOOD), LABELS), ValueError, "embedding must be finite"),
        ((GOOD, LABELS[:19]), ValueError, r"labels must be 1-D with one label per row.*\(19,\)"),
        ((GOOD, LABELS[:, None]), ValueError, "labels must be 1-D"),
        ((GOOD, np.array(["a", 1, None] * 6 + ["a", 1], dtype=object)), TypeError, "labels"),
    ],
)
def test_bad_data_raises(arguments, error, match):
    with pytest.raises(error, match=match):
        knn_accuracy(*arguments)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"k": 0}, ValueError, r"k must be between 1 and .* \(16\); found 0"),
        ({"k": 17}, ValueError, r"\(16\); found 17"),
        ({"k": 20, "folds": None}, ValueError, r"\(19\); found 20"),
        ({"k": 2.0}, TypeError, "k must be an int"),
        ({"k": True}, TypeError, "k must be an int"),
        ({"folds": 1}, ValueError, "folds must be between 2"),
        ({"folds": 21}, ValueError, r"folds must be between 2 and the number of cells \(20\)"),
        ({"folds": 2.5}, TypeError, "folds must be an int or None"),
        ({"seed": "0"}, TypeError, "seed must be an int"),
        ({"seed": 0.5, "folds": None}, TypeError, "seed must be an int"),
    ],
)
def test_bad_options_raise(options, error, match):
    with pytest.raises(error, match=match):
        knn_accuracy(GOOD, LABELS, **({"k": 3} | options))


def test_k_may_use_every_cell_outside_the_fold():
    labels = np.array([0] * 12 + [1] * 8)
    # k = 16 with 5 folds of 4: every vote is among all other folds' cells, where label 0
    # is the majority, so exactly the 12 label-0 cells are right.
    assert knn_accuracy(GOOD, labels, k=16) == 12 / 20


def test_adjusted_rand_index_against_published_values_and_chance():
    from scribe.metrics import adjusted_rand_index

    # Hubert & Arabie's index on the examples of scikit-learn's documentation.
    assert np.isclose(adjusted_rand_index([0, 0, 1, 2], [0, 0, 1, 1]), 4 / 7)
    assert np.isclose(adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]), -0.5)
    # renaming the labels changes nothing; independent labellings score about 0
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 3000)
    assert adjusted_rand_index(a, (a + 1) % 4) == 1.0
    chance = [adjusted_rand_index(a, rng.integers(0, 4, 3000)) for _ in range(20)]
    assert abs(np.mean(chance)) < 0.005
    with pytest.raises(ValueError, match="same length"):
        adjusted_rand_index([0, 1], [0, 1, 2])
