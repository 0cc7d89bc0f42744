"""Chapter 10's prose figures that come from its benchmark runs, tied to the runs' JSON.

``tests/test_benchmark_quotes.py`` ties the chapter's two tables to ``benchmarks/results/iaf_gap.json``
and ``iaf_gap_zdims.json``. The prose also rounds three figures from the same runs; these tests check
that the rounding is what the JSON says, so a re-run with other figures cannot leave them behind.
"""

from __future__ import annotations

from quotes import benchmark_result, chapter_text


def _markdown() -> str:
    return chapter_text("10_iaf.ipynb")


def test_the_worse_nll_is_quoted_as_the_benchmark_measured_it() -> None:
    result = benchmark_result("iaf_gap.json")["results"]["z_dim=16"]
    worse = result["iaf"]["nll"]["mean"] - result["vae"]["nll"]["mean"]
    assert f"the IAF-VAE's NLL is about {worse:.1f} nats **worse**" in _markdown()
    # and it is worse for every seed, as the prose's "the gap closes because" needs
    assert all(i > v for i, v in zip(result["iaf"]["nll"]["per_seed"], result["vae"]["nll"]["per_seed"]))


def test_more_importance_samples_lowered_the_nll_by_at_most_a_tenth_of_a_nat() -> None:
    k5000 = benchmark_result("iaf_gap.json")
    k1000 = benchmark_result("iaf_gap_zdims.json")
    assert k5000["num_samples"] == 5000 and k1000["num_samples"] == 1000
    for model in ("vae", "iaf"):  # seed 0, z_dim 16: the same model in both runs
        nll_5000 = k5000["results"]["z_dim=16"][model]["nll"]["per_seed"][0]
        nll_1000 = k1000["results"]["z_dim=16"][model]["nll"]["per_seed"][0]
        assert 0 <= nll_1000 - nll_5000 < 0.15, (model, nll_1000, nll_5000)
    assert "lowered these models' NLL by at most about 0.1 nats" in _markdown()


def test_the_k_5000_evaluation_takes_about_a_minute_of_cpu() -> None:
    result = benchmark_result("iaf_gap.json")["results"]["z_dim=16"]
    cpu = result["vae"]["eval_cpu_seconds"]["mean"] + result["iaf"]["eval_cpu_seconds"]["mean"]
    assert 45 <= cpu <= 75, cpu
    assert "takes about a minute of CPU for the two models" in _markdown()
