r"""A synthetic bag-of-words corpus from a known LDA-style topic model, for checking topic recovery.

The generative model (latent Dirichlet allocation, Blei et al. 2003), with $K$ topics over a
vocabulary of $V$ words:

$$\beta_k\sim\mathrm{Dir}(\eta\,\mathbf 1_V),\quad \theta_d\sim\mathrm{Dir}(\alpha\,\mathbf 1_K),\quad
  N_d\sim\mathrm{Uniform}\{N_{\min},\dots,N_{\max}\},\quad
  x_d\mid\theta_d\sim\mathrm{Multinomial}\big(N_d,\ \theta_d^\top\beta\big).$$

Each document is drawn word by word through its topic assignments (how many of its $N_d$ words
come from each topic, then which words), so the counts of words per topic are known too: they
give the topics as a perfect "oracle" would estimate them from this finite corpus.

Book: *The Dirichlet VAE*, "recovering the topics".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..checks import check_int, check_positive_float
from ._common import check_float_dtype

__all__ = ["TopicSplit", "TopicCorpus", "make_topic_corpus"]


@dataclass(frozen=True)
class TopicSplit:
    """One part of a topic corpus.

    Attributes:
        x: word counts, shape ``(n, V)``, floating point (whole numbers).
        theta: the true topic proportions $\\theta_d$ of each document, shape ``(n, K)``.
    """

    x: Tensor
    theta: Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class TopicCorpus:
    r"""A synthetic corpus and the model that generated it.

    Attributes:
        train: the training documents, a :class:`TopicSplit`.
        val: the validation documents, a :class:`TopicSplit`.
        test: the test documents, a :class:`TopicSplit`.
        topics: the true topics $\beta$, shape ``(K, V)``, rows on the simplex.
        topic_word_counts: how often each word was drawn from each topic in the *training*
            documents, shape ``(K, V)``; normalised per row, the oracle's estimate of the topics.
        alpha: the concentration $\alpha$ of the document proportions.
        eta: the concentration $\eta$ of the topics.
    """

    train: TopicSplit
    val: TopicSplit
    test: TopicSplit
    topics: Tensor
    topic_word_counts: Tensor
    alpha: float
    eta: float


def make_topic_corpus(
    num_docs: tuple[int, int, int] = (2000, 500, 500),
    *,
    num_topics: int = 5,
    vocab_size: int = 100,
    alpha: float = 0.2,
    eta: float = 0.1,
    doc_length: tuple[int, int] = (50, 150),
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> TopicCorpus:
    r"""Generate a bag-of-words corpus from a known LDA model (deterministic given ``seed``).

    Args:
        num_docs: documents in the (train, val, test) parts.
        num_topics: $K$.
        vocab_size: $V$.
        alpha: $\alpha > 0$, concentration of the document proportions $\theta_d\sim\mathrm{Dir}(\alpha\mathbf 1_K)$
            (small: each document is about few topics).
        eta: $\eta > 0$, concentration of the topics $\beta_k\sim\mathrm{Dir}(\eta\mathbf 1_V)$
            (small: each topic uses few words, so topics are distinct).
        doc_length: $(N_{\min}, N_{\max})$, document lengths drawn uniformly, inclusive.
        seed: seed of the NumPy generator that draws everything.
        dtype: floating-point dtype of the returned tensors.

    Returns:
        A :class:`TopicCorpus`.

    Raises:
        TypeError, ValueError: naming the argument.

    Book: *The Dirichlet VAE*, "recovering the topics".
    """
    if not isinstance(num_docs, (tuple, list)) or len(num_docs) != 3:
        raise ValueError(f"num_docs must be a (train, val, test) tuple of 3 ints, got {num_docs!r}")
    sizes = [check_int("num_docs", n, 1) for n in num_docs]
    num_topics = check_int("num_topics", num_topics, 2)
    vocab_size = check_int("vocab_size", vocab_size, 2)
    alpha = check_positive_float("alpha", alpha)
    eta = check_positive_float("eta", eta)
    if not isinstance(doc_length, (tuple, list)) or len(doc_length) != 2:
        raise ValueError(f"doc_length must be a (min, max) tuple, got {doc_length!r}")
    n_min, n_max = (check_int("doc_length", n, 1) for n in doc_length)
    if n_min > n_max:
        raise ValueError(f"doc_length must have min <= max, got {doc_length!r}")
    seed = check_int("seed", seed, 0)
    check_float_dtype(dtype)

    rng = np.random.default_rng(seed)
    topics = rng.dirichlet(np.full(vocab_size, eta), size=num_topics)  # (K, V)
    total = sum(sizes)
    theta = rng.dirichlet(np.full(num_topics, alpha), size=total)  # (N, K)
    lengths = rng.integers(n_min, n_max + 1, size=total)  # (N,)
    per_topic = np.stack([rng.multinomial(n, p) for n, p in zip(lengths, theta)])  # words per topic, (N, K)
    counts = np.zeros((total, vocab_size), dtype=np.int64)
    topic_word = np.zeros((num_topics, vocab_size), dtype=np.int64)
    for d in range(total):
        for k in np.flatnonzero(per_topic[d]):
            words = rng.multinomial(per_topic[d, k], topics[k])  # (V,)
            counts[d] += words
            if d < sizes[0]:
                topic_word[k] += words

    def part(lo: int, hi: int) -> TopicSplit:
        return TopicSplit(torch.as_tensor(counts[lo:hi]).to(dtype), torch.as_tensor(theta[lo:hi]).to(dtype))

    a, b = sizes[0], sizes[0] + sizes[1]
    return TopicCorpus(
        train=part(0, a),
        val=part(a, b),
        test=part(b, total),
        topics=torch.as_tensor(topics).to(dtype),
        topic_word_counts=torch.as_tensor(topic_word).to(dtype),
        alpha=alpha,
        eta=eta,
    )
