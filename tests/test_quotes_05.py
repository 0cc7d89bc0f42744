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


# --------------------------------------------------------------------------------------------------
# The bias of the likelihood estimate (benchmarks/nll_bias.py) and the decoder-dropout ablation
# (benchmarks/dropout_ablation.py): the chapter says what those runs say, and the runs support it.


@pytest.fixture(scope="module")
def bias() -> dict:
    return benchmark_result("nll_bias.json")


@pytest.fixture(scope="module")
def ablation() -> dict:
    return benchmark_result("dropout_ablation.json")


def test_the_bias_run_is_the_chapters_model_at_full_size(bias: dict) -> None:
    assert bias["benchmark"] == "nll_bias" and not bias["smoke"]
    assert bias["seeds"] == 3 and bias["k_max"] == 20_000 and bias["k_ref"] == 5000
    assert bias["repeats"] >= 3
    for run in bias["per_seed"].values():
        assert run["num_images"] == 64


def _bias_figures(bias: dict, spread: dict) -> dict:
    seed0 = bias["per_seed"]["0"]
    temps = list(seed0["ais"])
    main = seed0["ais"][temps[-1]]["minus_L_ref"]
    return {"seed0": seed0, "temps": temps, "main": main,
            "ratio": main["mean"] / spread["figures"]["nll_se_estimator"]["mean"]}  # fmt: skip


def test_the_chapter_quotes_the_bias(bias: dict, run: dict, text: str) -> None:
    f = _bias_figures(bias, run)
    seed0, temps = f["seed0"], f["temps"]
    rise = seed0["L_k_rise"]["5000->20000"]
    ais = [f"{seed0['ais'][t]['minus_L_ref']['mean']:.2f}" for t in temps]
    over = bias["ais_minus_L_ref_over_seeds"]
    t_other = next(iter(over))
    bdmc = seed0["bdmc"]
    quotes = [
        f"from {bias['repeats']} independent draws of 20 000 weights per image",
        f"it still rises by {rise['mean']:.2f} ± {rise['se']:.2f} nats from $k = 5000$ to $k = 20\\,000$",
        f"{bias['chains']} chains per image start from the prior",
        f"AIS with $T$ = {', '.join(temps[:-1])} and {temps[-1]} comes out {', '.join(ais[:-1])} and {ais[-1]} "
        f"nats above $\\mathcal L_{{5000}}$ (± {f['main']['se']:.2f} for the last",
        f"over the {bias['seeds']} seeds at $T = {t_other}$, {over[t_other]['mean']:.2f} ± {over[t_other]['std']:.2f} nats",
        f"on {bdmc['num_images']} digits simulated from the seed-0 model",
        f"$T = {bdmc['num_temperatures']}$ the two bounds are {bdmc['gap']['mean']:.2f} ± {bdmc['gap']['se']:.2f} nats apart",
        f"falls between them, {bdmc['gap']['mean'] + bdmc['forward_minus_L_ref']['mean']:.2f} nats below the upper one",
        f"is too high: by at least {rise['mean']:.2f} nats (the rise to $k = 20\\,000$ alone), and by "
        f"{f['main']['mean']:.2f} ± {f['main']['se']:.2f} nats according to AIS at $T = {temps[-1]}$. "
        f"That is some {f['ratio']:.0f} times the estimator's standard error",
        "The ± printed with an NLL in this book is the standard error of the estimator only; the bias, "
        f"measured in the benchmark, is about {f['main']['mean']:.1f} nats.",
    ]
    for quote in quotes:
        assert quote in text, f"chapter 05 should quote the nll_bias benchmark: {quote!r}"


def test_the_bias_run_supports_the_claims(bias: dict, run: dict) -> None:
    f = _bias_figures(bias, run)
    seed0, main = f["seed0"], f["main"]
    # a bias measured, not noise: AIS at the longest schedule above L_5000 by > 2 standard errors,
    # many times the estimator's standard error, and below the spread over seeds
    assert main["mean"] > 2 * main["se"]
    assert f["ratio"] > 5
    assert main["mean"] < run["figures"]["nll"]["std"]
    # L_k still rising at k = 5000: the 5000 -> 20 000 rise is positive by > 2 standard errors
    rise = seed0["L_k_rise"]["5000->20000"]
    assert rise["mean"] > 2 * rise["se"]
    # AIS no longer rising beyond T = 300: the last two schedules agree within 2 standard errors
    # (over the chains), and the longest is above L_20000 as well
    last, before = (seed0["ais"][t] for t in f["temps"][-1:-3:-1])
    assert abs(last["mean"] - before["mean"]) < 2 * (last["se_chains"] ** 2 + before["se_chains"] ** 2) ** 0.5
    assert last["minus_L_kmax"]["mean"] > 0
    assert f["temps"][-2] == "300"
    # BDMC: the forward bound below the reverse one, and L_5000 between them (below the upper one)
    bdmc = seed0["bdmc"]
    assert bdmc["gap"]["mean"] > 2 * bdmc["gap"]["se"]
    assert bdmc["forward_minus_L_ref"]["mean"] < 0  # L_5000 above the lower bound ...
    assert bdmc["gap"]["mean"] + bdmc["forward_minus_L_ref"]["mean"] > 0  # ... and below the upper one
    # every seed: AIS above L_5000
    over = next(iter(bias["ais_minus_L_ref_over_seeds"].values()))
    assert all(v > 0 for v in over["per_seed"]) and len(over["per_seed"]) == bias["seeds"]


def test_the_ablation_run(ablation: dict) -> None:
    assert ablation["benchmark"] == "dropout_ablation"
    assert ablation["seeds"] == 3 and ablation["num_samples"] == 5000
    assert ablation["dropouts"] == [0.0, 0.1]


def test_the_chapter_quotes_the_ablation(ablation: dict, run: dict, text: str) -> None:
    def cell(entry: dict) -> str:
        return f"{entry['mean']:.2f} ± {entry['std']:.2f}"

    def drop(entry: dict) -> str:
        return f"{-entry['mean']:.2f} ± {entry['std']:.2f}"

    arms, diff = ablation["arms"], ablation["difference_high_minus_low"]
    figures = run["figures"]
    rows = [
        "| intro_dgm's VAE, as quoted in issue 16 | 97.0 | 93.2 |",
        f"| this recipe without dropout, 3 seeds | {cell(arms['0.0']['neg_elbo'])} | {cell(arms['0.0']['nll'])} |",
        f"| this recipe, decoder dropout 0.1, 3 seeds | {cell(arms['0.1']['neg_elbo'])} | {cell(arms['0.1']['nll'])} |",
        f"| this recipe, decoder dropout 0.1, {run['seeds']} seeds (above) | {cell(figures['neg_elbo'])} "
        f"| {cell(figures['nll'])} |",
    ]
    text_raw = chapter_text("05_training_a_vae.ipynb", flat=False)
    for row in rows:
        assert row in text_raw, f"chapter 05 should have the table row {row!r}"
    for quote in (
        f"dropout lowers the test $-\\mathrm{{ELBO}}$ by {drop(diff['neg_elbo'])} nats and the NLL by "
        f"{drop(diff['nll'])} nats",
        "without it the best epochs of three seeds were "
        + ", ".join(str(b) for b in arms["0.0"]["best_epoch"])
        + ", with it "
        + ", ".join(str(b) for b in arms["0.1"]["best_epoch"]),
        f"between epochs {min(run['best_epoch'])} and {max(run['best_epoch'])} over the {run['seeds']} seeds",
    ):
        assert quote in text, f"chapter 05 should quote the ablation: {quote!r}"
    assert "**dropout**" in text and "`VAEConfig.decoder_dropout`" in text  # the prose names it


def test_the_ablation_supports_the_claims(ablation: dict) -> None:
    # "Seed by seed, dropout lowers the test -ELBO ... and the NLL": every per-seed difference < 0
    for key in ("neg_elbo", "nll"):
        assert all(d < 0 for d in ablation["difference_high_minus_low"][key]["per_seed"]), key
    # "part of why it comes so late": with dropout every seed's best epoch comes later
    arms = ablation["arms"]
    assert all(b > a for a, b in zip(arms["0.0"]["best_epoch"], arms["0.1"]["best_epoch"]))


def test_the_chapter_sets_the_no_dropout_arm_beside_the_quoted_figures(ablation: dict, text: str) -> None:
    a0 = ablation["arms"]["0.0"]
    below_elbo, below_nll = 97.0 - a0["neg_elbo"]["mean"], 93.2 - a0["nll"]["mean"]
    quote = (
        f"Without dropout, the recipe comes out {below_elbo:.2f} nats ($-\\mathrm{{ELBO}}$) and "
        f"{below_nll:.2f} nats (NLL) below the figures quoted for the reference code, less than one "
        "standard deviation over seeds for the NLL"
    )
    assert quote in text, f"chapter 05 should say {quote!r}"
    assert below_elbo > 0 and 0 < below_nll < a0["nll"]["std"]
