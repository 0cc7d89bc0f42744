"""Chapter 09 (VAE vs GAN) quotes a multi-run benchmark; tie every quoted figure to its JSON line.

One run of the chapter cannot say how often a GAN drops a mode or which model wins on the digits:
``benchmarks/vae_vs_gan.py`` runs the chapter's toy section 10 times (20 seeds of each model) and
its digits section 5 times, and its last line is kept in ``benchmarks/results/vae_vs_gan.json``.
These tests check that the chapter's markdown says exactly what that line says. To refresh after
re-running the benchmark: save its last line over the JSON file and put :func:`quotes` into the text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "vae_vs_gan.json"
CHAPTER = ROOT / "notebooks" / "09_vae_vs_gan.ipynb"


def _markdown() -> str:
    cells = json.loads(CHAPTER.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def _run() -> dict:
    if not RESULT.exists():
        pytest.fail(f"{RESULT} is missing: save the last line of the benchmark run the chapter quotes")
    return json.loads(RESULT.read_text())


def _mean_range(entry: dict, digits: int = 2) -> str:
    return f"{entry['mean']:.{digits}f} ({entry['min']:.{digits}f} to {entry['max']:.{digits}f})"


def _range(entry: dict, digits: int = 2) -> str:
    return f"{entry['min']:.{digits}f} to {entry['max']:.{digits}f}"


def _mean_std(entry: dict) -> str:
    return f"{entry['mean']:.2f} ± {entry['std']:.2f}"


def quotes(run: dict) -> dict[str, str]:
    """Every figure chapter 09 quotes from the benchmark, as the chapter writes it."""
    toy, digits = run["toy"], run["digits"]
    seeds = run["toy_gan_seeds"]

    def row(label: str, key: str, digits_: int = 2) -> str:
        cells = " | ".join(_mean_range(toy[f"{m}_{key}"], digits_) for m in ("gan", "vae_x", "vae_mean"))
        return f"| {label} | {cells} |"

    vae_below = [min(-d / se for d, se in zip(digits[f"{m}_nn_difference"]["per_seed"],
                                             digits[f"{m}_nn_difference_se"]["per_seed"]))
                 for m in ("vae_x", "vae_mean")]
    vae_nn = [v for m in ("vae_x", "vae_mean") for v in digits[f"{m}_nn_difference"]["per_seed"]]
    diversity_margin = min(v - g for v, g in zip(digits["vae_x_diversity"]["per_seed"],
                                                 digits["gan_diversity"]["per_seed"]))
    return {
        "toy runs": f"Over {run['toy_runs']} runs of this section ({seeds} seeds of each model",
        "near row": row("near a mode", "near"),
        "largest share row": row("largest mode share", "max_share"),
        "smallest share row": row("smallest mode share", "min_share", 3),
        "log p row": row(r"mean $\log p_{\text{data}}$", "log_p_data", 1),
        "gan near range": f"ranges from {_range(toy['gan_near'])}",
        "dropping": f"with {toy['gan_seeds_dropping_a_mode']} of the {seeds} seeds",
        "most dropped": f"up to {int(toy['gan_dropped']['max'])} of the 8 modes",
        "decoder sd": f"between {toy['vae_std_p_min']['min']:.2f} and {toy['vae_std_p_max']['max']:.2f}",
        "toy gap": f"a gap of {_range(toy['test_gap'])} nats",
        "vae mean share": f"at most {toy['vae_mean_max_share']['max']:.2f} over the {seeds} seeds",
        "cpu ratio": f"the GAN took {_range(digits['gan_to_vae_cpu'])} of the VAE's",
        "confidence gap": f"only by {_range(digits['vae_x_minus_gan_confidence'], 3)}",
        "gan classes": f"covered between {int(digits['gan_classes']['min'])} and {int(digits['gan_classes']['max'])} classes",
        "gan largest class": f"its largest class held {_range(digits['gan_max_class'])} of its samples",
        "entropies": f"{_mean_std(digits['gan_class_entropy'])} nats against the VAE's "
                     f"{_mean_std(digits['vae_x_class_entropy'])}",
        "diversity margin": f"once by only {diversity_margin:.3f}",
        "vae nn": f"by {-max(vae_nn):.3f} to {-min(vae_nn):.3f}, at least {min(vae_below):.1f} standard errors",
        "gan nn": f"from {_range(digits['gan_nn_difference'], 3)} over the {run['digit_runs']} runs",
        "neg elbo": f"{_mean_std(digits['neg_elbo'])} nats",
        "nll": f"{_mean_std(digits['nll'])} by IWAE",
        "replay": f"({_mean_std(digits['replay_nn_difference'])} over the benchmark's {run['digit_runs']} runs)",
        "summary toy": f"on average {toy['gan_near']['mean']:.2f} of them against {toy['vae_x_near']['mean']:.2f}; "
                       f"{toy['vae_mean_near']['mean']:.2f} for the VAE's decoder means",
        "summary digits": f"the GAN's covered {int(digits['gan_classes']['min'])} to {int(digits['gan_classes']['max'])}, "
                          f"with up to {digits['gan_max_class']['max']:.2f} of them in one class",
    }


def test_the_benchmark_covers_enough_runs() -> None:
    run = _run()
    assert run["benchmark"] == "vae_vs_gan" and run["dropped_below"] == 0.02
    assert run["toy_runs"] >= 5 and run["toy_gan_seeds"] == 2 * run["toy_runs"] and run["digit_runs"] >= 3
    assert all(len(v["per_seed"]) == run["toy_gan_seeds"] for v in run["toy"].values() if isinstance(v, dict))
    assert all(len(v["per_seed"]) == run["digit_runs"] for v in run["digits"].values() if isinstance(v, dict))


def test_the_chapter_quotes_the_benchmark() -> None:
    text = _markdown()
    missing = {name: quote for name, quote in quotes(_run()).items() if quote not in text}
    assert not missing, f"chapter 09 should quote the benchmark: {missing}"


def test_what_the_chapter_asserts_for_every_run_held_in_every_run_of_the_benchmark() -> None:
    # The chapter asserts these for each run; the benchmark's runs must not contradict it.
    toy, digits = _run()["toy"], _run()["digits"]
    gan_near, vae_x_near = toy["gan_near"]["per_seed"], toy["vae_x_near"]["per_seed"]
    assert all(g > v for g, v in zip(gan_near, vae_x_near))
    for g, m, x in zip(*(toy[f"{k}_log_p_data"]["per_seed"] for k in ("gan", "vae_mean", "vae_x"))):
        assert g > m > x
    assert toy["vae_mean_max_share"]["max"] < 1 / 8 and toy["vae_std_p_min"]["min"] > 5 * 0.05
    assert toy["test_gap"]["min"] > 0
    assert digits["vae_x_classes"]["min"] == digits["vae_mean_classes"]["min"] == 10
    for g, v in zip(digits["gan_class_entropy"]["per_seed"], digits["vae_x_class_entropy"]["per_seed"]):
        assert g < v
    assert digits["gan_to_vae_cpu"]["max"] < 1 and digits["gan_d_real"]["min"] > 0.5 > digits["gan_d_fake"]["max"]
    for m in ("vae_x", "vae_mean"):
        for d, se in zip(digits[f"{m}_nn_difference"]["per_seed"], digits[f"{m}_nn_difference_se"]["per_seed"]):
            assert d + 4 * se < 0
