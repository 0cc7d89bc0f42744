"""Tests of :mod:`vae_edu.data.topics` (the synthetic LDA corpus) and :func:`vae_edu.distributions.topics.topic_matching_score`."""

from __future__ import annotations

import pytest
import torch

from vae_edu.data.topics import make_topic_corpus
from vae_edu.metrics import match_topics, topic_matching_score
from vae_edu.estimators import mc_mean


@pytest.fixture(scope="module")
def corpus():
    return make_topic_corpus((600, 100, 100), num_topics=4, vocab_size=30, alpha=0.5, eta=0.2, doc_length=(20, 60), seed=3)


def test_shapes_and_determinism(corpus) -> None:
    assert corpus.train.x.shape == (600, 30) and corpus.val.x.shape == (100, 30) and corpus.test.x.shape == (100, 30)
    assert corpus.train.theta.shape == (600, 4) and corpus.topics.shape == (4, 30)
    assert corpus.train.x.dtype == torch.float32 and len(corpus.test) == 100
    lengths = torch.cat([corpus.train.x, corpus.val.x, corpus.test.x]).sum(-1)
    assert int(lengths.min()) >= 20 and int(lengths.max()) <= 60
    assert bool((corpus.train.x == torch.round(corpus.train.x)).all())
    torch.testing.assert_close(corpus.topics.sum(-1), torch.ones(4))
    again = make_topic_corpus((600, 100, 100), num_topics=4, vocab_size=30, alpha=0.5, eta=0.2, doc_length=(20, 60), seed=3)
    assert torch.equal(again.train.x, corpus.train.x) and torch.equal(again.topics, corpus.topics)
    other = make_topic_corpus((600, 100, 100), num_topics=4, vocab_size=30, alpha=0.5, eta=0.2, doc_length=(20, 60), seed=4)
    assert not torch.equal(other.train.x, corpus.train.x)
    assert make_topic_corpus((5, 5, 5), num_topics=2, vocab_size=4, dtype=torch.float64).train.x.dtype == torch.float64


def test_statistics(corpus) -> None:
    """Proportions have the Dirichlet mean 1/K and variance (1/K)(1-1/K)/(K alpha + 1); word frequencies follow theta^T beta."""
    theta = torch.cat([corpus.train.theta, corpus.val.theta, corpus.test.theta]).double()  # (800, 4)
    mean, se = mc_mean(theta)
    assert bool(((mean - 0.25).abs() <= 4 * se).all())
    var, var_se = mc_mean((theta - 0.25) ** 2)
    expected_var = 0.25 * 0.75 / (4 * 0.5 + 1)
    assert bool(((var - expected_var).abs() <= 4 * var_se).all())
    # each document's expected counts are N_d theta_d^T beta: the standardised residuals have mean 0
    x = corpus.train.x.double()
    expected = x.sum(-1, keepdim=True) * (corpus.train.theta.double() @ corpus.topics.double())  # (600, 30)
    resid_mean, resid_se = mc_mean(x - expected)  # (30,) each
    assert bool(((resid_mean).abs() <= 4 * resid_se + 1e-12).all())
    # the topic-word counts add up to the training counts
    torch.testing.assert_close(corpus.topic_word_counts.sum(0), corpus.train.x.sum(0))


def test_matching_score_is_one_on_a_permutation_and_lower_otherwise(corpus) -> None:
    topics = corpus.topics
    perm = torch.tensor([2, 0, 3, 1])
    assert float(topic_matching_score(topics[perm], topics)) == pytest.approx(1.0, abs=1e-12)
    assert float(topic_matching_score(3.0 * topics[perm], topics)) == pytest.approx(1.0, abs=1e-12)  # scale-free
    extra = torch.cat([topics[perm], torch.rand(2, 30)])  # more learned topics than true ones: the best 4 are used
    assert float(topic_matching_score(extra, topics)) == pytest.approx(1.0, abs=1e-12)
    merged = topics.clone()
    merged[1] = 0.5 * (topics[0] + topics[1])  # two topics merged into one
    score = float(topic_matching_score(merged, topics))
    assert score < 1.0 - 1e-3
    # the score is the mean of the matched cosines: brute force over all 24 permutations agrees
    import itertools

    a = torch.nn.functional.normalize(merged.double(), dim=-1)
    b = torch.nn.functional.normalize(topics.double(), dim=-1)
    best = max(float(sum(b[i] @ a[p[i]] for i in range(4)) / 4) for p in itertools.permutations(range(4)))
    assert score == pytest.approx(best, abs=1e-12)
    oracle = corpus.topic_word_counts / corpus.topic_word_counts.sum(-1, keepdim=True)
    assert 0.9 < float(topic_matching_score(oracle, topics)) < 1.0


def test_match_topics_undoes_a_permutation(corpus) -> None:
    topics = corpus.topics
    perm = torch.tensor([2, 0, 3, 1])
    pi = match_topics(topics[perm], topics)
    assert pi.dtype == torch.int64 and pi.shape == (4,)
    torch.testing.assert_close(topics[perm][pi], topics, rtol=0, atol=0)  # back in the true order
    inverse = torch.argsort(perm)
    assert torch.equal(pi, inverse)
    # with extra learned topics the matched ones are picked, and the score is the mean cosine of the match
    noisy = torch.cat([torch.rand(2, 30), topics[perm] + 0.01 * torch.rand(4, 30)])
    pi = match_topics(noisy, topics)
    assert torch.equal(pi, inverse + 2)
    cos = torch.nn.functional.cosine_similarity(noisy[pi].double(), topics.double(), dim=-1)
    assert float(topic_matching_score(noisy, topics)) == pytest.approx(float(cos.mean()), abs=1e-12)
    with pytest.raises(ValueError, match="at least as many rows"):
        match_topics(topics[:2], topics)
    with pytest.raises(TypeError, match="topics"):
        match_topics(topics.numpy(), topics)  # type: ignore[arg-type]


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="num_docs"):
        make_topic_corpus((10, 10))
    with pytest.raises(ValueError, match="num_topics"):
        make_topic_corpus(num_topics=1)
    with pytest.raises(ValueError, match="alpha"):
        make_topic_corpus(alpha=0.0)
    with pytest.raises(ValueError, match="eta"):
        make_topic_corpus(eta=float("inf"))
    with pytest.raises(ValueError, match="doc_length"):
        make_topic_corpus(doc_length=(10, 5))
    with pytest.raises(TypeError, match="dtype"):
        make_topic_corpus(dtype=torch.int64)
    with pytest.raises(TypeError, match="seed"):
        make_topic_corpus(seed=1.5)  # type: ignore[arg-type]
    t = torch.rand(3, 5)
    with pytest.raises(ValueError, match="vocabulary size"):
        topic_matching_score(t, torch.rand(3, 6))
    with pytest.raises(ValueError, match="at least as many rows"):
        topic_matching_score(t[:2], t)
    with pytest.raises(ValueError, match="topics must be non-negative"):
        topic_matching_score(-t, t)
    with pytest.raises(ValueError, match="true_topics contains NaN"):
        topic_matching_score(t, t * float("nan"))
