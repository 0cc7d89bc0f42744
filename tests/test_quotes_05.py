"""Chapter 05 quotes how far its recipe's test NLL spreads over seeds: tie the quote to the benchmark run.

Two seeds, which is what the chapter can afford, cannot measure a spread, so the chapter quotes
``benchmarks/digits_seed_spread.py`` (its last JSON line is kept in
``benchmarks/results/digits_seed_spread.json``). These tests check that the chapter says exactly
what that run says, and that the run supports the claim the chapter makes with it. To refresh
after re-running the benchmark: save its last line over the JSON file and update the sentence.
"""

from __future__ import annotations

import pytest
from quotes import benchmark_result, chapter_text


@pytest.fixture(scope="module")
def run() -> dict:
    return benchmark_result("digits_seed_spread.json")


@pytest.fixture(scope="module")
def text() -> str:
    return chapter_text("05_training_a_vae.ipynb")


def test_the_run_is_the_chapters_recipe_at_k_5000(run: dict) -> None:
    assert run["benchmark"] == "digits_seed_spread"
    assert run["num_samples"] == 5000
    assert run["seeds"] >= 5
    nll = run["figures"]["nll"]
    assert len(nll["per_seed"]) == run["seeds"]
    assert all(reason == "patience" for reason in run["stop_reason"])


def test_the_chapter_quotes_the_spread_over_seeds(run: dict, text: str) -> None:
    figures = run["figures"]
    nll = f"{figures['nll']['mean']:.2f} ± {figures['nll']['std']:.2f}"
    se = f"{figures['nll_se_estimator']['mean']:.3f}"
    seeds = run["seeds"]
    for quote in (
        f"`benchmarks/digits_seed_spread.py` trained this recipe with {seeds} seeds",
        f"The test NLL came out at {nll} nats per image (mean ± standard deviation over the {seeds} seeds)",
        f"about {run['nll_std_over_se']:.0f} times the estimator's standard error of {se} nats",
    ):
        assert quote in text, f"chapter 05 should quote the benchmark: {quote!r}"


def test_the_run_supports_the_claim(run: dict) -> None:
    # The chapter: retraining moves the NLL by many times the 5000-sample estimator's error.
    figures = run["figures"]
    std = figures["nll"]["std"]
    assert std > 5 * max(figures["nll_se_estimator"]["per_seed"])
    assert abs(run["nll_std_over_se"] - std / figures["nll_se_estimator"]["mean"]) < 0.1 * run["nll_std_over_se"]
