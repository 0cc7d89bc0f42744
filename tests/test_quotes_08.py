"""Chapter 08 quotes a multi-run benchmark: tie each quote to the run it comes from.

``benchmarks/cvae_classes.py`` repeats the chapter's CVAE recipe for runs 0, 1, ...
(``VAE_EDU_SEED``) and prints, as its last line, one JSON object; that line is kept in
``benchmarks/results/cvae_classes.json``. These tests check that the chapter says
exactly what the JSON says, and that what the chapter asserts in every run held in
every benchmark run. To refresh after re-running the benchmark: save its last line over
the JSON file and update the quoted sentences.
"""

from __future__ import annotations

import pytest
from quotes import benchmark_result, chapter_text


def _cells(kind: str) -> str:
    return chapter_text("08_cvae.ipynb", kind)


@pytest.fixture(scope="module")
def run() -> dict:
    return benchmark_result("cvae_classes.json")


def _range(entry: dict) -> str:
    return f"{100 * entry['min']:.1f} % to {100 * entry['max']:.1f} %"


def test_the_chapter_quotes_how_often_the_target_was_met(run: dict) -> None:
    res, n = run["results"], run["runs"]
    assert n >= 3 and run["target"] == 0.9 and run["samples_per_class"] == 200
    met = round(res["d2_expected_meets_target"]["mean"] * n)
    assert res["d16_expected_meets_target"]["max"] == 0  # "met it in none"
    d2 = res["d2_expected_overall"]["per_run"]
    d16 = res["d16_expected_overall"]["per_run"]
    ahead = sum(a > b for a, b in zip(d2, d16))
    w2, w16 = res["d2_expected_worst"]["per_run"], res["d16_expected_worst"]["per_run"]
    ahead_worst = sum(a > b for a, b in zip(w2, w16))
    assert ahead > n / 2 and ahead_worst > n / 2  # "in most runs"
    text = _cells("markdown")
    quotes = [
        f"Over the {n} runs of `benchmarks/cvae_classes.py` (runs 0 to {n - 1} of this "
        f"chapter), the $d = 2$ CVAE's expected images met it in {met} of them: their "
        "worst "
        f"digit was recognised in {_range(res['d2_expected_worst'])} of its samples, "
        "and all "
        f"digits together in {_range(res['d2_expected_overall'])}. The $d = 16$ CVAE's "
        "expected images met it in none: worst digit "
        f"{_range(res['d16_expected_worst'])}, "
        f"overall {_range(res['d16_expected_overall'])}.",
        f"recognised more often overall in {ahead} of the {n} runs, and its worst "
        "digit more "
        f"often in {ahead_worst}.",
        f"over the {n} runs of the benchmark the classifier recognised "
        f"{_range(res['d2_expected_overall'])} of its expected images, but at least 90 "
        "% of "
        f"every digit in only {met} of them.",
    ]
    for quote in quotes:
        assert quote in text, f"chapter 08 should quote {quote!r}"


def test_the_chapter_quotes_the_style_transfer_figures(run: dict) -> None:
    res, n = run["results"], run["runs"]
    ink16 = res["d16_ink_correlation_max_abs"]
    ratio = res["d16_missed_as_source_over_chance"]
    assert ratio["min"] > 1 and ratio["max"] < 4.5  # above 1/9, below one half
    assert res["d2_ink_correlation_max_abs"]["max"] < ink16["min"]  # d = 16: more ink
    quotes = [
        f"(over the runs of the benchmark, {_range(res['d2_transfer'])} for $d = 2$ "
        "and "
        f"{_range(res['d16_transfer'])} for $d = 16$)",
        f"(at most {res['d2_ink_correlation_max_abs']['max']:.2f} in absolute value in "
        "every "
        f"run of the benchmark, against {ink16['min']:.2f} to {ink16['max']:.2f} for "
        "$d = 16$)",
        f"{ratio['min']:.1f} to {ratio['max']:.1f} over the {n} runs of the benchmark",
    ]
    text = _cells("markdown")
    for quote in quotes:
        assert quote in text, f"chapter 08 should quote {quote!r}"


def test_the_chapter_s_code_comments_quote_the_benchmark(run: dict) -> None:
    res = run["results"]
    quote = (
        f"CVAE's expected images {_range(res['d2_expected_overall'])}, its sampled "
        "pixels "
        f"{_range(res['d2_sampled_overall'])}, # the d = 16 CVAE's expected images "
        f"{_range(res['d16_expected_overall'])}, its worst digit "
        f"{_range(res['d16_expected_worst'])}"
    )
    assert quote in _cells("code"), f"chapter 08's asserts should cite {quote!r}"


def test_what_the_chapter_asserts_in_every_run_held_in_every_benchmark_run(
    run: dict,
) -> None:
    res = run["results"]
    for model in ("d2", "d16"):  # sampled pixels are recognised less often
        pairs = zip(res[f"{model}_expected_overall"]["per_run"],
                    res[f"{model}_sampled_overall"]["per_run"])
        assert all(expected > sampled for expected, sampled in pairs)
    assert res["d16_expected_worst"]["max"] < 0.9
    assert min(res["d2_transfer"]["min"], res["d16_transfer"]["min"]) > 0.8
    assert res["d2_ink_correlation_max_abs"]["max"] < 0.25


def test_the_chapter_quotes_the_leak_or_holes_test(run: dict) -> None:
    res, n = run["results"], run["runs"]
    prior, pooled = res["d16_prior"], res["d16_pooled_posterior"]
    klass, outside = res["d16_class_posterior"], res["d16_prior_outside_holes"]
    ratio = res["d16_pooled_missed_as_source_over_chance"]
    # the prior's codes are the chapter's samples: the same figures as d16_expected_overall
    assert prior["per_run"] == res["d16_expected_overall"]["per_run"]
    # what the chapter's cell asserts held in every run of the benchmark
    for p, q, c, o in zip(prior["per_run"], pooled["per_run"], klass["per_run"],
                          outside["per_run"]):
        se = ((c * (1 - c) + q * (1 - q)) / 2000) ** 0.5
        assert c - q > 4 * se  # the class's codes obey, a random digit's do not
        assert q - p < 0.5 * (c - p)  # out of the holes: less than half the gap closed
        assert c - o > 0.05  # outside the holes, still less than the class's codes
    assert res["d16_prior_hole_fraction"]["max"] < 0.15  # "holes are rare"
    assert ratio["max"] < 4.5  # "seldom wins outright": below half of the misses
    text = _cells("markdown")
    quotes = [
        f"over the {n} runs of the benchmark, the pooled codes' expected images were "
        f"recognised as requested in {_range(pooled)}, the prior's in {_range(prior)}.",
        f"were recognised in {_range(klass)}.",
        f"{_range(res['d16_prior_hole_fraction'])} of the prior samples fall in one",
        f"obey about as often as all of them ({_range(outside)})",
        f"{ratio['min']:.1f} to {ratio['max']:.1f} times the even spread",
        f"they hold only {_hole_misses(res)} of the prior's misses",
        f"its pooled codes were recognised in {_range(res['d2_pooled_posterior'])}, its "
        f"prior samples in {_range(res['d2_prior'])}, and codes of the requested digit in "
        f"{_range(res['d2_class_posterior'])}.",
    ]
    for quote in quotes:
        assert quote in text, f"chapter 08 should quote {quote!r}"
    code = _cells("code")
    comment = (f"(d = 16: prior # {_range(prior)}, pooled {_range(pooled)}, the class's "
               f"{_range(klass)}):")
    assert comment in code, f"chapter 08's asserts should cite {comment!r}"


def _hole_misses(res: dict) -> str:
    """The share of the d = 16 prior samples' misses that fell in holes, over the runs."""
    shares = [(count - obeyed) / (2000 * (1 - prior)) for count, obeyed, prior in zip(
        res["d16_prior_in_hole_count"]["per_run"], res["d16_prior_in_hole_obeyed"]["per_run"],
        res["d16_prior"]["per_run"])]
    assert max(shares) < 0.25  # "only"
    return f"{100 * min(shares):.0f} % to {100 * max(shares):.0f} %"
