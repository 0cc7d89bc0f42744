r"""Matching learned topics to true ones: the best one-to-one pairing and its mean cosine.

A topic model's topics come out in any order; to compare them with a known generator's topics,
pair each learned topic with one true topic so that the summed cosine similarity is largest.

Book: *The Dirichlet VAE*.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_tensor

__all__ = ["match_topics", "topic_matching_score"]


def _check_topics(topics: Tensor, true_topics: Tensor) -> None:
    check_tensor("topics", topics, min_dim=2)
    check_tensor("true_topics", true_topics, min_dim=2)
    if topics.dim() != 2 or true_topics.dim() != 2:
        raise ValueError(f"topics and true_topics must be 2-D (K, V), got {tuple(topics.shape)} and {tuple(true_topics.shape)}")
    if topics.shape[1] != true_topics.shape[1]:
        raise ValueError(f"topics has vocabulary size {topics.shape[1]} but true_topics has {true_topics.shape[1]}")
    if topics.shape[0] < true_topics.shape[0]:
        raise ValueError(f"topics must have at least as many rows as true_topics ({true_topics.shape[0]}), got {topics.shape[0]}")
    for name, t in (("topics", topics), ("true_topics", true_topics)):
        if bool((t < 0).any()):
            raise ValueError(f"{name} must be non-negative")
        if bool((t.sum(dim=-1) <= 0).any()):
            raise ValueError(f"{name} has an all-zero row")


def _topic_cosines(topics: Tensor, true_topics: Tensor) -> tuple[Tensor, Tensor]:
    """``(cos, cols)``: cosines ``(K, K_hat)`` and the best one-to-one assignment ``cols`` ``(K,)``."""
    from scipy.optimize import linear_sum_assignment

    a = torch.nn.functional.normalize(topics.detach().double(), dim=-1)
    b = torch.nn.functional.normalize(true_topics.detach().double(), dim=-1)
    cos = b @ a.T  # (K, K_hat)
    _, cols = linear_sum_assignment(cos.numpy(), maximize=True)  # rows come back as 0..K-1
    return cos, torch.as_tensor(cols, dtype=torch.long)


def match_topics(topics: Tensor, true_topics: Tensor) -> Tensor:
    r"""The best one-to-one matching $\pi$ of learned topics to true ones: $\pi = \arg\max_\pi\sum_k\cos(\hat\beta_{\pi(k)}, \beta_k)$.

    Learned topics come in an arbitrary order; ``topics[match_topics(topics, true_topics)]`` puts
    them in the true topics' order (and ``theta_hat[:, pi]`` does the same for proportions).
    The maximiser of :func:`topic_matching_score` (the Hungarian algorithm,
    ``scipy.optimize.linear_sum_assignment``).

    Args:
        topics: learned topics $\hat\beta$, non-negative, shape ``(K_hat, V)`` with ``K_hat >= K``.
        true_topics: true topics $\beta$, non-negative, shape ``(K, V)``.

    Returns:
        $\pi$, int64, shape ``(K,)``: learned topic $\pi(k)$ is matched to true topic $k$.

    Book: *The Dirichlet VAE*, "recovering the topics".
    """
    _check_topics(topics, true_topics)
    return _topic_cosines(topics, true_topics)[1]


def topic_matching_score(topics: Tensor, true_topics: Tensor) -> Tensor:
    r"""Mean cosine similarity between learned and true topics under the best one-to-one matching.

    $$s = \max_{\pi}\frac1K\sum_{k=1}^K\cos\big(\hat\beta_{\pi(k)}, \beta_k\big),$$

    the maximum over one-to-one assignments $\pi$ of learned topics to the $K$ true ones
    (:func:`match_topics`). $s = 1$ exactly when every true topic is recovered up to scale; a
    permutation of the topics does not change it.

    Args:
        topics: learned topics $\hat\beta$, non-negative, shape ``(K_hat, V)`` with ``K_hat >= K``.
        true_topics: true topics $\beta$, non-negative, shape ``(K, V)``.

    Returns:
        $s\in[0, 1]$, shape ``()``, float64.

    Book: *The Dirichlet VAE*, "recovering the topics".
    """
    _check_topics(topics, true_topics)
    cos, cols = _topic_cosines(topics, true_topics)
    return cos[torch.arange(cos.shape[0]), cols].mean()
