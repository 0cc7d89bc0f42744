"""Chapter 07 quotes a multi-run benchmark: tie each quote to the run it comes from.

``benchmarks/latent_space.py`` repeats the chapter's recipe for runs 0, 1, ...
(``VAE_EDU_SEED``) and prints, as its last line, one JSON object; that line is
kept in ``benchmarks/results/latent_space.json``. These tests check that the
chapter says exactly what the JSON says, and that what the chapter asserts in
every run held in every benchmark run. To refresh after re-running the benchmark:
save its last line over the JSON file and update the quoted sentences.
"""

from __future__ import annotations

import pytest
from quotes import benchmark_result, chapter_text


def _cells(kind: str) -> str:
    return chapter_text("07_latent_space.ipynb", kind)


@pytest.fixture(scope="module")
def run() -> dict:
    return benchmark_result("latent_space.json")


def _range(entry: dict, fmt: str) -> str:
    return f"{entry['min']:{fmt}} to {entry['max']:{fmt}}"


def test_the_chapter_quotes_the_hole_fractions(run: dict) -> None:
    d, n = run["digits"], run["runs"]
    assert n >= 3
    quote = (
        f"over the {n} runs of `benchmarks/latent_space.py` "
        f"(runs 0 to {n - 1} of this chapter), "
        f"$H_{{0.1}}$ ranged from {_range(d['hole_0.1_2d'], '.3f')} in 2-D and from "
        f"{_range(d['hole_0.1_16d'], '.2f')} in 16-D, and the outer half fell in holes "
        f"{_range(d['hole_outer_over_inner_16d'], '.1f')} times as often as the inner "
        "half."
    )
    assert quote in _cells("markdown"), f"chapter 07 should quote {quote!r}"


def test_the_chapter_quotes_which_beta_scored_best(run: dict) -> None:
    n, beta, count = run["beta_runs"], run["beta"], run["best_beta_count"]
    assert n >= 5 and sum(count.values()) == n
    means = ", ".join(
        f"{beta[f'G_beta{b}']['mean']:.2f} ± {beta[f'G_beta{b}']['std']:.2f}"
        for b in ("1", "4", "8")
    )
    quote = (
        f"Over the {n} runs of `benchmarks/latent_space.py` (runs 0 to {n - 1} of this "
        f"chapter), the highest $G$ came from $\\beta = 1$ in {count['1']}, "
        f"from $\\beta = 4$ in {count['4']} and from $\\beta = 8$ in {count['8']} "
        "of them; the mean $G$ was "
        f"{means} for $\\beta = 1, 4, 8$"
    )
    assert quote in _cells("markdown"), f"chapter 07 should quote {quote!r}"
    # what the chapter reads from these figures
    g1, g4, g8 = (beta[f"G_beta{b}"] for b in ("1", "4", "8"))
    # a moderate beta scores about the same as beta = 1 on average, well inside the spread
    assert abs(g4["mean"] - g1["mean"]) < 0.5 * min(g1["std"], g4["std"])
    assert g8["mean"] < min(g1["mean"], g4["mean"])
    for g in (g1, g4):  # "the spread of G from run to run is about half of G itself"
        assert 0.4 < g["std"] / g["mean"] < 0.7


def test_the_chapter_s_code_comments_quote_the_benchmark(run: dict) -> None:
    d, beta = run["digits"], run["beta"]
    code = _cells("code")
    quotes = [
        f"A_5 {d['a5_2d']['mean']:.3f} ± {d['a5_2d']['std']:.3f} (2-D), "
        f"{d['a5_16d']['mean']:.3f} ± {d['a5_16d']['std']:.3f} (16-D)",
        f"H_0.1 from {_range(d['hole_0.1_2d'], '.3f')} (2-D) and "
        f"{_range(d['hole_0.1_16d'], '.3f')} (16-D)",
        f"the rate of beta = 8 at most {beta['rate_beta8']['max']:.2f} nats",
    ]
    for quote in quotes:
        assert quote in code, f"chapter 07's asserts should cite {quote!r}"


def test_what_the_chapter_asserts_in_every_run_held_in_every_benchmark_run(
    run: dict,
) -> None:
    d, beta, n = run["digits"], run["beta"], run["beta_runs"]
    # the beta-VAE: rate falls, distortion rises, G well below 1, beta = 8 < half a nat
    assert run["beta_orders"] == {"rate_falls": n, "distortion_rises": n}
    assert max(beta[f"G_beta{b}"]["max"] for b in ("1", "4", "8")) < 0.8
    assert beta["rate_beta8"]["max"] < 0.5
    # neighbourhoods: 16-D codes keep more label structure than 2-D, pixels more still
    a5 = zip(d["a5_2d"]["per_run"], d["a5_16d"]["per_run"], d["a5_pixels"]["per_run"])
    for a2, a16, ap in a5:
        assert a16 > a2 + 0.1 and ap > a16 + 0.02
    for r2, r16 in zip(d["rho_2d"]["per_run"], d["rho_16d"]["per_run"]):
        assert r16 > r2 + 0.1 > 0.2
    # holes: more of them in 16-D than in 2-D, and more in the outer half of the prior
    assert d["hole_0.1_16d"]["min"] > 10 * d["hole_0.1_2d"]["max"]
    assert d["hole_outer_over_inner_16d"]["min"] > 1.5
    # every unit of the 16-D model active
    assert d["active_units"]["min"] == 16
