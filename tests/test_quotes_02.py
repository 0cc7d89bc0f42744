"""Chapter 02 quotes a multi-run benchmark of its ELBO surgery: tie the quote to its JSON.

``benchmarks/elbo_surgery.py`` repeats the chapter's digits-VAE surgery for runs 0, 1, ...
(``VAE_EDU_SEED``) and prints, as its last line, one JSON object, kept in
``benchmarks/results/elbo_surgery.json``. These tests check that the chapter says exactly
what the JSON says, and that what the chapter asserts in every run held in every benchmark
run. To refresh after re-running the benchmark: save its last line over the JSON file and
update the quoted sentence.
"""

from __future__ import annotations

import pytest
from quotes import benchmark_result, chapter_text

N_SE = 4  # the chapter's number of standard errors


@pytest.fixture(scope="module")
def run() -> dict:
    return benchmark_result("elbo_surgery.json")


def _per_run(run: dict, key: str) -> list[float]:
    return run["results"][key]["per_run"]


def _range(run: dict, key: str, fmt: str, scale: float = 1.0) -> str:
    entry = run["results"][key]
    return f"{scale * entry['min']:{fmt}} to {scale * entry['max']:{fmt}}"


def test_the_benchmark_is_a_multi_run_measurement(run: dict) -> None:
    assert run["benchmark"] == "elbo_surgery" and run["runs"] >= 5
    assert run["num_draws"] == 4
    assert all(len(e["per_run"]) == run["runs"] for e in run["results"].values())
    assert "num_draws = 4" in chapter_text("02_elbo.ipynb", "code")


def test_the_chapter_quotes_the_spread_over_the_runs(run: dict) -> None:
    n = run["runs"]
    quote = (
        f"Over the {n} runs of `benchmarks/elbo_surgery.py` (runs 0 to {n - 1} "
        f"of this chapter), the KL term ranged from {_range(run, 'rate', '.2f')} nats, "
        f"the information from {_range(run, 'information', '.2f')} nats "
        f"and the mismatch from {_range(run, 'mismatch', '.2f')} nats; the information was "
        f"{_range(run, 'information_share', '.0f', 100).replace(' to ', ' % to ')} % "
        "of the KL term."
    )
    assert quote in chapter_text("02_elbo.ipynb"), f"chapter 02 should quote {quote!r}"


def test_every_run_passed_the_chapters_asserts(run: dict) -> None:
    # the decomposition within N_SE standard errors; both terms positive; more than half
    # of the KL term is information; the information integrand at most log N
    assert all(abs(v) < N_SE for v in _per_run(run, "sum_minus_rate_in_se"))
    assert all(v > N_SE for v in _per_run(run, "excess_in_se"))
    for key in ("information", "mismatch"):
        pairs = zip(_per_run(run, key), _per_run(run, f"{key}_se"))
        assert all(value - N_SE * se > 0 for value, se in pairs)
    assert all(v > 0.5 for v in _per_run(run, "information_share"))
    assert max(_per_run(run, "max_information_integrand")) <= run["log_n"] + 1e-3
