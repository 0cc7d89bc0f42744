r"""Judging generated digits without a likelihood: a classifier trained on real digits, and distances.

A generative model's samples are *correct* if a classifier trained on real data recognises them
confidently, *diverse* if they spread over every class and differ from one another, and *not
memorised* if they are no closer to the training images than real unseen images are.

* :func:`fit_digit_classifier` — an RBF-kernel support vector machine with calibrated class
  probabilities, trained on real digits in $[0, 1]$.
* :func:`sample_quality` — mean classifier confidence, class fractions, classes covered, class entropy.
* :func:`nearest_neighbour_distance` — $d(x_i, R) = \min_j \lVert x_i - r_j\rVert_2$ (memorisation).
* :func:`mean_pairwise_distance` — $\frac{1}{n(n-1)}\sum_{i\ne j}\lVert x_i - x_j\rVert_2$ (diversity).

Book: *The conditional VAE* and *VAE vs GAN on the same data*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..checks import check_labels, check_tensor

__all__ = [
    "DigitClassifier",
    "fit_digit_classifier",
    "SampleQuality",
    "sample_quality",
    "nearest_neighbour_distance",
    "mean_pairwise_distance",
    "NUM_CLASSES",
    "COVERAGE_THRESHOLD",
]

#: The ten digit classes.
NUM_CLASSES = 10
#: A class counts as *covered* when at least this fraction of the samples is predicted as it.
COVERAGE_THRESHOLD = 0.02


def _check_images(name: str, x: object, x_dim: int | None = None) -> Tensor:
    check_tensor(name, x, min_dim=2)
    assert isinstance(x, Tensor)
    if x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n, x_dim) with n >= 1, got {tuple(x.shape)}")
    if x_dim is not None and x.shape[1] != x_dim:
        raise ValueError(f"{name} must have {x_dim} pixels per row, got shape {tuple(x.shape)}")
    return x


def _check_unit(name: str, x: Tensor) -> None:
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        hint = " (grey levels 0..16? divide by 16 first)" if hi > 1.0 else ""
        raise ValueError(f"{name} must hold pixel values in [0, 1], got values in [{lo:.4g}, {hi:.4g}]{hint}")


class DigitClassifier:
    r"""A trained digit classifier $p(c\,|\,x)$ on images in $[0, 1]$.

    Made by :func:`fit_digit_classifier`. Every method takes images in unit scale, shape
    ``(B, 64)``; a VAE's grey-level samples (0..16) must be divided by 16 first.
    """

    def __init__(self, model: Any, x_dim: int) -> None:
        self._model = model
        self.x_dim = x_dim

    def predict_proba(self, x: Tensor) -> Tensor:
        r"""Class probabilities $p(c\,|\,x)$, shape ``(B, 10)`` (float64), rows summing to 1."""
        _check_images("x", x, self.x_dim)
        _check_unit("x", x)
        return torch.as_tensor(self._model.predict_proba(x.detach().cpu().double().numpy()))

    def predict(self, x: Tensor) -> Tensor:
        r"""The most probable class $\arg\max_c p(c\,|\,x)$, shape ``(B,)``, int64."""
        return self.predict_proba(x).argmax(dim=-1)

    def accuracy(self, x: Tensor, y: Tensor) -> float:
        """The fraction of images whose predicted class equals ``y`` (shape ``(B,)``, int64)."""
        predicted = self.predict(x)
        check_labels("y", y, NUM_CLASSES, int(predicted.shape[0]))
        return float((predicted == y).double().mean())


def fit_digit_classifier(x: Tensor, y: Tensor, *, seed: int = 0, c: float = 10.0) -> DigitClassifier:
    r"""Fit a digit classifier to real digits: an RBF support vector machine with calibrated probabilities.

    The SVM scores $s_c(x) = \sum_n a_{cn}\,k(x, x_n) + b_c$ with $k(x, x') = e^{-\gamma\lVert x - x'\rVert^2}$
    (one-vs-one, scikit-learn's ``SVC``, $\gamma$ = ``"scale"``); Platt's sigmoid calibration, fitted
    on 5 shuffled cross-validation folds, turns the scores into probabilities $p(c\,|\,x)$.

    On the book's digits split (trained on the 1000 training images) it labels about 95 % of the
    447 test images correctly: a judge that knows what real digits look like.

    Args:
        x: real images in $[0, 1]$ (``load_digits_split("unit")``), shape ``(N, x_dim)``.
        y: their labels, shape ``(N,)``, int64 in 0..9; every class must occur.
        seed: seed of the shuffled calibration folds.
        c: the SVM's $C$ (> 0), the inverse strength of its regularisation.

    Returns:
        A :class:`DigitClassifier`.

    Book: *The conditional VAE* and *VAE vs GAN on the same data*.
    """
    _check_images("x", x)
    _check_unit("x", x)
    check_labels("y", y, NUM_CLASSES, int(x.shape[0]))
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0 < c < math.inf:
        raise ValueError(f"c must be a finite number > 0, got {c!r}")
    present = torch.unique(y).tolist()
    if present != list(range(NUM_CLASSES)):
        raise ValueError(f"y must contain every class 0..{NUM_CLASSES - 1}, got classes {present}")
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import SVC

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    model = CalibratedClassifierCV(SVC(C=float(c), gamma="scale"), cv=folds, ensemble=False)
    model.fit(x.detach().cpu().double().numpy(), y.cpu().numpy())
    return DigitClassifier(model, int(x.shape[1]))


@dataclass(frozen=True)
class SampleQuality:
    r"""How a classifier trained on real digits sees a set of samples.

    Attributes:
        mean_confidence: $\frac1n\sum_i \max_c p(c\,|\,x_i)$ — high when samples look like *some* digit.
        confidence_stderr: its standard error, $s/\sqrt n$ with $s$ the sample standard deviation of
            the $\max_c p(c\,|\,x_i)$ (0 for a single sample).
        class_fractions: the fraction of samples predicted as each class, shape ``(10,)``.
        num_classes_covered: classes with at least :data:`COVERAGE_THRESHOLD` (2 %) of the samples.
        class_entropy: $-\sum_c f_c \log f_c$ of ``class_fractions``, in nats; $\log 10 \approx 2.303$
            when the classes are balanced, 0 when every sample is the same class.
    """

    mean_confidence: float
    confidence_stderr: float
    class_fractions: Tensor
    num_classes_covered: int
    class_entropy: float


def sample_quality(classifier: DigitClassifier, x: Tensor) -> SampleQuality:
    r"""Confidence and class coverage of samples ``x`` (unit scale, shape ``(n, 64)``) under ``classifier``.

    $$\bar c = \frac1n\sum_i \max_c p(c\,|\,x_i),\qquad f_c = \frac1n\#\{i : \hat c_i = c\},\qquad
      H = -\sum_c f_c\log f_c$$

    Returns:
        A :class:`SampleQuality`.

    Book: *VAE vs GAN on the same data*.
    """
    if not isinstance(classifier, DigitClassifier):
        raise TypeError(f"classifier must be a DigitClassifier, got {type(classifier).__name__}")
    probs = classifier.predict_proba(x)  # (n, 10)
    confidence = probs.max(dim=-1).values  # (n,)
    n = confidence.numel()
    predicted = probs.argmax(dim=-1)  # (n,)
    fractions = torch.bincount(predicted, minlength=NUM_CLASSES).double() / predicted.numel()  # (10,)
    nonzero = fractions[fractions > 0]
    entropy = float(-(nonzero * nonzero.log()).sum())
    return SampleQuality(
        mean_confidence=float(confidence.mean()),
        confidence_stderr=float(confidence.std() / n**0.5) if n > 1 else 0.0,
        class_fractions=fractions,
        num_classes_covered=int((fractions >= COVERAGE_THRESHOLD).sum()),
        class_entropy=max(entropy, 0.0),
    )


def _check_chunk_size(chunk_size: object) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    return int(chunk_size)


def nearest_neighbour_distance(x: Tensor, reference: Tensor, *, chunk_size: int = 1024) -> Tensor:
    r"""The Euclidean distance from each row of ``x`` to its nearest row of ``reference``.

    $$d(x_i, R) = \min_j \lVert x_i - r_j\rVert_2$$

    Samples that sit much closer to the training images than real test images do are copies
    (memorisation); compare ``nearest_neighbour_distance(samples, train)`` with
    ``nearest_neighbour_distance(test, train)``.

    Args:
        x: shape ``(B, x_dim)``.
        reference: shape ``(N, x_dim)``, same dtype.
        chunk_size: rows of ``x`` handled at once (memory ``chunk_size × N``).

    Returns:
        shape ``(B,)``, computed exactly (differences, not the expanded square).

    Book: *VAE vs GAN on the same data*.
    """
    _check_images("x", x)
    _check_images("reference", reference, int(x.shape[1]))
    if reference.dtype != x.dtype:
        raise TypeError(f"reference must have the dtype of x ({x.dtype}), got {reference.dtype}")
    chunk_size = _check_chunk_size(chunk_size)
    out = []
    for start in range(0, x.shape[0], chunk_size):
        block = x[start : start + chunk_size]  # (b, x_dim)
        out.append(torch.cdist(block, reference, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1).values)
    return torch.cat(out)  # (B,)


def mean_pairwise_distance(x: Tensor) -> float:
    r"""The mean Euclidean distance between distinct rows of ``x`` (shape ``(n, x_dim)``, $n \ge 2$).

    $$\bar d = \frac{1}{n(n-1)}\sum_{i \ne j}\lVert x_i - x_j\rVert_2$$

    A diversity measure: collapsed samples (all alike) give a value far below the real data's.

    Book: *VAE vs GAN on the same data*.
    """
    _check_images("x", x)
    n = int(x.shape[0])
    if n < 2:
        raise ValueError(f"x must have at least 2 rows, got {n}")
    d = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")  # (n, n), zero diagonal
    return float(d.sum() / (n * (n - 1)))
