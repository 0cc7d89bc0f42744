"""Tests of vae_edu.metrics.sample_quality: the digit classifier judge and the distance measures."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from vae_edu.data import load_digits_split
from vae_edu.metrics import (
    COVERAGE_THRESHOLD,
    DigitClassifier,
    fit_digit_classifier,
    mean_pairwise_distance,
    nearest_neighbour_distance,
    sample_quality,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split("unit")


@pytest.fixture(scope="module")
def classifier(digits) -> DigitClassifier:
    return fit_digit_classifier(digits.train.x, digits.train.y)


def test_classifier_recognises_real_test_digits(digits, classifier) -> None:
    # Trained on the 1000 training images only; the 447 test images are later writers.
    assert classifier.accuracy(digits.test.x, digits.test.y) >= 0.94
    assert classifier.accuracy(digits.train.x, digits.train.y) >= 0.99


def test_probabilities_are_a_distribution_and_predict_is_their_argmax(digits, classifier) -> None:
    probs = classifier.predict_proba(digits.test.x[:50])
    assert probs.shape == (50, 10)
    assert torch.all(probs >= 0)
    torch.testing.assert_close(probs.sum(dim=-1), torch.ones(50, dtype=torch.float64))
    assert torch.equal(classifier.predict(digits.test.x[:50]), probs.argmax(dim=-1))


def test_classifier_is_deterministic_given_the_seed(digits, classifier) -> None:
    again = fit_digit_classifier(digits.train.x, digits.train.y, seed=0)
    assert torch.equal(again.predict_proba(digits.test.x), classifier.predict_proba(digits.test.x))


def test_sample_quality_of_real_digits(digits, classifier) -> None:
    q = sample_quality(classifier, digits.test.x)
    probs = classifier.predict_proba(digits.test.x)
    confidence = probs.max(dim=-1).values
    assert q.mean_confidence == pytest.approx(float(confidence.mean()))
    assert q.confidence_stderr == pytest.approx(float(confidence.std()) / len(digits.test) ** 0.5)
    assert 0 < q.confidence_stderr < 0.02
    expected = torch.bincount(probs.argmax(dim=-1), minlength=10).double() / len(digits.test)
    torch.testing.assert_close(q.class_fractions, expected)
    assert q.num_classes_covered == 10
    f = q.class_fractions
    assert q.class_entropy == pytest.approx(float(-(f * f.log()).sum()))
    assert 2.25 < q.class_entropy <= math.log(10)


def test_sample_quality_of_one_repeated_image(digits, classifier) -> None:
    x = digits.test.x[:1].repeat(100, 1)
    q = sample_quality(classifier, x)
    assert q.num_classes_covered == 1
    assert q.class_entropy == 0.0
    assert float(q.class_fractions.max()) == 1.0
    assert q.confidence_stderr == pytest.approx(0.0, abs=1e-12)  # 100 copies: no spread
    assert sample_quality(classifier, x[:1]).confidence_stderr == 0.0


def test_coverage_counts_classes_at_the_threshold(digits, classifier) -> None:
    # 49 images of one class and exactly 1 of another: 1/50 = 2 % is covered, 1/51 is not.
    predicted = classifier.predict(digits.test.x)
    a = digits.test.x[predicted == 0]
    b = digits.test.x[predicted == 1]
    assert sample_quality(classifier, torch.cat([a[:1].repeat(49, 1), b[:1]])).num_classes_covered == 2
    assert 1 / 51 < COVERAGE_THRESHOLD
    assert sample_quality(classifier, torch.cat([a[:1].repeat(50, 1), b[:1]])).num_classes_covered == 1


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nearest_neighbour_distance_matches_brute_force(dtype, gen) -> None:
    x = torch.randn(37, 5, generator=gen, dtype=dtype)
    ref = torch.randn(23, 5, generator=gen, dtype=dtype)
    brute = torch.stack([min((xi - r).norm() for r in ref) for xi in x])
    for chunk in (1, 8, 1024):
        torch.testing.assert_close(nearest_neighbour_distance(x, ref, chunk_size=chunk), brute)
    assert torch.all(nearest_neighbour_distance(ref[:4], ref) == 0)


def test_mean_pairwise_distance_matches_brute_force(gen) -> None:
    x = torch.randn(9, 4, generator=gen, dtype=torch.float64)
    pairs = [float((x[i] - x[j]).norm()) for i, j in itertools.permutations(range(9), 2)]
    assert mean_pairwise_distance(x) == pytest.approx(sum(pairs) / len(pairs), rel=1e-12)
    assert mean_pairwise_distance(x[:1].repeat(5, 1)) == 0.0


def test_bad_inputs_name_the_argument(digits, classifier) -> None:
    x, y = digits.train.x, digits.train.y
    with pytest.raises(ValueError, match=r"x must hold pixel values in \[0, 1\].*divide by 16"):
        classifier.predict(x * 16)
    with pytest.raises(ValueError, match="x must have 64 pixels"):
        classifier.predict(x[:, :10])
    with pytest.raises(ValueError, match="x contains NaN"):
        classifier.predict(torch.full((2, 64), float("nan")))
    with pytest.raises(TypeError, match="y must have dtype torch.int64"):
        fit_digit_classifier(x, y.float())
    with pytest.raises(ValueError, match="y must have shape"):
        fit_digit_classifier(x, y[:-1])
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 10\)"):
        fit_digit_classifier(x, y + 1)
    with pytest.raises(ValueError, match="y must contain every class"):
        fit_digit_classifier(x[y < 5], y[y < 5])
    with pytest.raises(ValueError, match="c must be"):
        fit_digit_classifier(x, y, c=0.0)
    with pytest.raises(TypeError, match="classifier must be a DigitClassifier"):
        sample_quality("svm", x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reference must have 64 pixels"):
        nearest_neighbour_distance(x, x[:, :3])
    with pytest.raises(TypeError, match="reference must have the dtype"):
        nearest_neighbour_distance(x, x.double())
    with pytest.raises(ValueError, match="chunk_size"):
        nearest_neighbour_distance(x, x, chunk_size=0)
    with pytest.raises(ValueError, match="at least 2 rows"):
        mean_pairwise_distance(x[:1])
    with pytest.raises(ValueError, match=r"x must have shape \(n, x_dim\)"):
        mean_pairwise_distance(x[:0])
