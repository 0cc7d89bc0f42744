"""Chapter 15's prose figures that come from its benchmark runs, tied to ``benchmarks/results/vq_codebook.json``.

Chapter 15 (*Discrete latents*) quotes, from ``benchmarks/vq_codebook.py`` (3 runs, each the chapter
with ``VAE_EDU_SEED`` set to the run), the codebook usage with and without dead-code restarts, the
code prior's saving and bound, and how the samples were judged. Each test rebuilds a quoted phrase
from the JSON and checks that the chapter says it, and checks that what the prose claims of every run
holds in every run.
"""

from __future__ import annotations

from quotes import benchmark_result, chapter_text

CHAPTER = "15_discrete_latents.ipynb"


def _runs() -> list[dict]:
    result = benchmark_result("vq_codebook.json")
    assert result["runs"] == len(result["per_run"]) == 3 and result["epochs"] == 30
    assert (result["M"], result["D"], result["K"]) == (8, 4, 32)
    return result["per_run"]


def span(values: list[float], digits: int = 1) -> str:
    """``"lo to hi"`` at ``digits`` decimals, as the chapter writes a range over the runs."""
    return f"{min(values):.{digits}f} to {max(values):.{digits}f}"


def listing(values: list[int]) -> str:
    """``"a, b and c"``, in run order."""
    return ", ".join(str(v) for v in values[:-1]) + f" and {values[-1]}"


def codebook_phrases(runs: list[dict]) -> list[str]:
    """The phrases of the paragraph after the usage figure."""
    gradient = [r["gradient"] for r in runs]
    restart = [r["gradient+restart"] for r in runs]
    ema = [r["ema"] for r in runs]
    recon_gain = [g["recon"] - r["recon"] for g, r in zip(gradient, restart)]
    return [
        f"ended with {listing([g['used'] for g in gradient])} of 32 codes in use",
        f"a perplexity of {span([g['perplexity'] for g in gradient])};",
        f"kept all 32 in use in every run, with a perplexity of {span([r['perplexity'] for r in restart])}",
        f"test reconstruction term lower by {span(recon_gain)} nats",
        f"perplexity {span([e['perplexity'] for e in ema])})",
    ]


def prior_phrases(runs: list[dict]) -> list[str]:
    """The phrases of the paragraph after the code prior's cell."""
    prior = [r["code_prior"] for r in runs]
    return [
        f"saved {span([p['gain'] for p in prior])} nats per test image",
        f"$-\\log p(k^*)$ of {span([p['neg_log_p_k'] for p in prior])} against $M\\log K = 27.73$",
        f"the bound came to {span([p['bound'] for p in prior])} nats",
        f"the Gaussian VAE's $-$ELBO, {span([r['gaussian_neg_elbo'] for r in runs])} nats",
    ]


def sample_phrases(runs: list[dict]) -> list[str]:
    """The phrases of the paragraph after the samples."""
    confidence = [c[0] for r in runs for c in r["confidence"].values()]
    near = {name: [r["nearest_real"][name][0] for r in runs] for name in ("uniform", "autoregressive", "gaussian")}
    return [
        f"confidence does not separate the three: {span(confidence, 3)} for all three in every run",
        f"{span(near['uniform'], 2)} for the uniform prior",
        f"{span(near['autoregressive'], 2)} for the MADE prior",
        f"{span(near['gaussian'], 2)} for the Gaussian VAE",
    ]


def test_the_codebook_figures_are_quoted_as_the_benchmark_measured_them() -> None:
    runs, text = _runs(), chapter_text(CHAPTER)
    for phrase in codebook_phrases(runs):
        assert phrase in text, phrase
    for r in runs:  # what the chapter asserts of its run holds in every run
        assert r["gradient"]["used"] < 32 and r["gradient+restart"]["used"] == r["ema"]["used"] == 32
        assert r["gradient+restart"]["perplexity"] > r["gradient"]["perplexity"] + 5
        assert r["gradient+restart"]["recon"] < r["gradient"]["recon"]


def test_the_code_prior_figures_are_quoted_as_the_benchmark_measured_them() -> None:
    runs, text = _runs(), chapter_text(CHAPTER)
    for phrase in prior_phrases(runs):
        assert phrase in text, phrase
    for r in runs:
        prior = r["code_prior"]
        assert prior["gain"] > 4 * prior["gain_se"]
        assert prior["bound"] > r["gaussian_neg_elbo"] + 5  # "well above"
        assert r["train_codes"]["made"] < r["train_codes"]["independent"] < prior["m_log_k"]


def test_the_sample_judgements_are_quoted_as_the_benchmark_measured_them() -> None:
    runs, text = _runs(), chapter_text(CHAPTER)
    for phrase in sample_phrases(runs):
        assert phrase in text, phrase
    for r in runs:
        assert all(n == 10 for n in r["classes_covered"].values())
        (u, u_se), (a, a_se) = r["nearest_real"]["uniform"], r["nearest_real"]["autoregressive"]
        assert u - a > 4 * (u_se**2 + a_se**2) ** 0.5  # the MADE prior's samples are nearer
        assert a < r["nearest_real"]["gaussian"][0]  # "nearer, in each of the three runs"


def test_the_gaussian_vae_figures_are_those_of_the_digits_benchmark() -> None:
    figures = benchmark_result("digits_seed_spread.json")["figures"]
    text = chapter_text(CHAPTER)
    assert f"its NLL averages {figures['nll']['mean']:.1f} nats" in text
    assert f"(a KL of {figures['kl_prior']['mean']:.1f} nats on average in the same benchmark)" in text
    # "pays only for the information its posterior carries": far less than the codes' -log p(k*)
    assert all(figures["kl_prior"]["mean"] < r["code_prior"]["neg_log_p_k"] - 10 for r in _runs())
