r"""Datasets: shipped with a package, downloaded once, or generated. Only MNIST ever needs a network.

* :func:`load_digits_split` — scikit-learn's 8×8 digits (1797 images, 17 grey levels 0..16),
  split train 1000 / validation 350 / test 447 **in dataset order**, the split of Tomczak's
  *Deep Generative Modeling* code, so that our numbers compare with it. Offline.
* :func:`load_mnist` — MNIST (28×28, grey levels 0..255) from the four official IDX files,
  downloaded once into a directory you choose (checksummed, written atomically) and parsed by
  :func:`read_idx`; train 50 000 / validation 10 000 / test 10 000.
* :func:`make_gaussian_mixture_2d` — a 2-D mixture of well-separated Gaussian modes (a ring or a
  grid) with mode labels and centres, where a generative model's mode coverage can be seen and
  counted (:func:`assign_modes`); :func:`gaussian_mixture_2d_log_prob` is its exact log-density.
* :func:`make_shapes` — small binary images of a square whose position and size (the generative
  factors) are known, for measuring disentanglement.
* :func:`make_topic_corpus` — bag-of-words documents drawn from known topics by an LDA-style
  model, for checking that a topic model recovers them.

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

from ._common import DataSplits, Representation, Split
from .digits import DIGITS_NUM_LEVELS, DIGITS_SPLIT, load_digits_split
from .mnist import MNIST_FILES, MNIST_MIRRORS, MNIST_NUM_LEVELS, load_mnist, read_idx
from .shapes import FACTOR_NAMES, Shapes, make_shapes
from .topics import TopicCorpus, TopicSplit, make_topic_corpus
from .toy import (
    GaussianMixture2D,
    assign_modes,
    gaussian_mixture_2d_centres,
    gaussian_mixture_2d_log_prob,
    make_gaussian_mixture_2d,
)

__all__ = [
    "Split",
    "DataSplits",
    "load_digits_split",
    "DIGITS_NUM_LEVELS",
    "DIGITS_SPLIT",
    "Representation",
    "read_idx",
    "load_mnist",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "MNIST_NUM_LEVELS",
    "GaussianMixture2D",
    "gaussian_mixture_2d_centres",
    "make_gaussian_mixture_2d",
    "gaussian_mixture_2d_log_prob",
    "assign_modes",
    "Shapes",
    "FACTOR_NAMES",
    "make_shapes",
    "TopicCorpus",
    "TopicSplit",
    "make_topic_corpus",
]
