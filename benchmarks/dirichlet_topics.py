"""Benchmark: chapter 11's topic models and parts models, run as the chapter runs them, for many runs.

Chapter 11 (*The Dirichlet VAE*) trains, in one run, a Dirichlet VAE and two logistic-normal
VAEs with the same mixture decoder on an LDA corpus drawn from known topics, from two seeds each,
and keeps per latent the seed with the better validation ELBO; then it trains the three latents as
"parts" models on the digits. The logistic normals differ in their prior over z: N(0, I)
("gaussian") or the Laplace approximation of the Dirichlet prior in the softmax basis ("laplace",
Srivastava & Sutton 2017's ProdLDA prior, ``dirichlet_to_logistic_normal``). What one run shows depends on the run. This script
repeats those sections for runs ``0 .. --runs - 1``, exactly as the chapter does with
``VAE_EDU_SEED`` set to the run (the same corpus, seeds and training), and reports per run

* the matching score (``topic_matching_score``) of every trained topic model, its validation and
  test -ELBO, and which seed the validation ELBO keeps;
* the references: one merged pair of topics and random topics;
* for the kept models, the mean total-variation distance of the inferred proportions (topics
  matched with ``match_topics``) to the true ones, and the paired differences Dirichlet - Gaussian,
  Laplace - Gaussian and Dirichlet - Laplace with their standard errors;
* for the digits' parts models: the effective number of parts of each latent and the paired test
  ELBO differences Gaussian - Dirichlet and Laplace - Dirichlet (and Gaussian - Laplace), with
  standard errors.

The counts of issue 13 (Dirichlet against Gaussian) are computed as before; the "laplace" latent
is trained after the other two in each section, so their figures do not move.
``benchmarks/results/dirichlet_topics.json`` is the 10-run run, all three latents; chapter 11 quotes
it for both comparisons.

Prints one line per run and, as its LAST line, one JSON object with every figure and the counts
the chapter quotes.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/dirichlet_topics.py             # runs 0..9, about 10 min CPU
    OMP_NUM_THREADS=1 python benchmarks/dirichlet_topics.py --runs 2    # a quicker look, about 2 min CPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

import vae_edu
from vae_edu.data import load_digits_split
from vae_edu.data.topics import make_topic_corpus
from vae_edu.distributions import rsample_dirichlet
from vae_edu.metrics import match_topics, topic_matching_score
from vae_edu.estimators import mc_mean
from vae_edu.models.dirichlet import DirichletVAE, DirichletVAEConfig
from vae_edu.training import fit

LATENTS = ("dirichlet", "gaussian", "laplace")
PAIR = ("dirichlet", "gaussian")  # the comparison of issue 13
SEEDS = (0, 1)  # the chapter's two seeds per latent (labels; run_seed shifts them)
THRESHOLD = 0.95  # the chapter's "recovers the topics"


def _tv(model: DirichletVAE, corpus, true_topics: torch.Tensor) -> torch.Tensor:
    """Per-document TV distance of the inferred proportions to the true ones, topics matched."""
    pi = match_topics(model.topics, true_topics)
    theta_hat = model.proportions(corpus.test.x)[:, pi]  # (500, K)
    return 0.5 * (theta_hat - corpus.test.theta).abs().sum(-1).double()  # (500,)


def topic_run(run: int, epochs: int = 60) -> dict[str, object]:
    """The chapter's topic-model section as run ``run``."""
    os.environ[vae_edu.utils.RUN_ENV] = str(run)
    vae_edu.setup(seed=0)
    corpus = make_topic_corpus((2000, 500, 500), num_topics=5, vocab_size=100, alpha=0.2, eta=0.1,
                               doc_length=(50, 150), seed=vae_edu.run_seed(0))
    true_topics = corpus.topics
    random_scores = [
        topic_matching_score(rsample_dirichlet(torch.full((100,), 0.1), 5,
                                               torch.Generator().manual_seed(vae_edu.run_seed(100 + i))),
                             true_topics)
        for i in range(20)
    ]
    merged = true_topics.clone()
    merged[0] = merged[1] = 0.5 * (true_topics[0] + true_topics[1])
    out: dict[str, object] = {
        "run": run,
        "score_random": float(torch.stack(random_scores).mean()),
        "score_merged": float(topic_matching_score(merged, true_topics)),
    }
    models = {}
    for latent in LATENTS:
        for seed in SEEDS:
            torch.manual_seed(vae_edu.run_seed(seed))
            model = DirichletVAE(DirichletVAEConfig(x_dim=100, num_topics=5, hidden=100, alpha_p=0.2,
                                                    latent=latent))
            history = fit(model, corpus.train.x, corpus.val.x, epochs=epochs, lr=1e-2, optimizer="adam",
                          seed=vae_edu.run_seed(seed), progress=False)
            with torch.no_grad():
                test_elbo = model.elbo(corpus.test.x, num_samples=20,
                                       generator=torch.Generator().manual_seed(vae_edu.run_seed(6)))
            models[(latent, seed)] = model
            out[f"{latent}_{seed}"] = {
                "val_neg_elbo": round(history.best_val_loss, 3),
                "test_neg_elbo": round(float(-test_elbo.mean()), 3),
                "score": round(float(topic_matching_score(model.topics, true_topics)), 4),
                "epochs": history.epochs,
            }
    with torch.no_grad():
        tvs = {}
        for latent in LATENTS:
            kept = min(SEEDS, key=lambda s: out[f"{latent}_{s}"]["val_neg_elbo"])
            best = max(SEEDS, key=lambda s: out[f"{latent}_{s}"]["score"])
            tvs[latent] = _tv(models[(latent, kept)], corpus, true_topics)
            out[f"kept_{latent}"] = {
                "seed": kept,
                "score": out[f"{latent}_{kept}"]["score"],
                "is_best_score": out[f"{latent}_{kept}"]["score"] == out[f"{latent}_{best}"]["score"],
                "tv": round(float(tvs[latent].mean()), 4),
            }
        for key, (a, b) in {"tv_diff": PAIR, "tv_diff_laplace_gaussian": ("laplace", "gaussian"),
                            "tv_diff_dirichlet_laplace": ("dirichlet", "laplace")}.items():
            d, se = mc_mean(tvs[a] - tvs[b])
            out[key] = {"mean": round(float(d), 4), "se": round(float(se), 4)}
    return out


def parts_run(run: int, epochs: int = 60) -> dict[str, object]:
    """The chapter's digits-as-bags-of-ink section as run ``run``."""
    os.environ[vae_edu.utils.RUN_ENV] = str(run)
    vae_edu.setup(seed=0)
    digits = load_digits_split("levels")
    out: dict[str, object] = {}
    elbos = {}
    for latent in LATENTS:
        torch.manual_seed(vae_edu.run_seed(0))
        model = DirichletVAE(DirichletVAEConfig(x_dim=64, num_topics=10, hidden=128, alpha_p=0.1,
                                                latent=latent))
        fit(model, digits.train.x, digits.val.x, epochs=epochs, lr=1e-2, optimizer="adam",
            seed=vae_edu.run_seed(0), progress=False)
        with torch.no_grad():
            theta_hat = model.proportions(digits.test.x).double()  # (447, 10)
            entropy = -(theta_hat * torch.log(theta_hat.clamp_min(1e-300))).sum(-1)
            eff, eff_se = mc_mean(torch.exp(entropy))
            elbos[latent] = model.elbo(digits.test.x, num_samples=20,
                                       generator=torch.Generator().manual_seed(vae_edu.run_seed(7))).double()
        out[f"effective_{latent}"] = {"mean": round(float(eff), 3), "se": round(float(eff_se), 3)}
        out[f"test_neg_elbo_{latent}"] = round(float(-elbos[latent].mean()), 3)
    for key, (a, b) in {"elbo_diff": ("gaussian", "dirichlet"), "elbo_diff_laplace": ("laplace", "dirichlet"),
                        "elbo_diff_gaussian_laplace": ("gaussian", "laplace")}.items():
        d, se = mc_mean(elbos[a] - elbos[b])
        out[key] = {"mean": round(float(d), 3), "se": round(float(se), 3)}
    return out


def _significant(diff: dict[str, float], sign: int) -> bool:
    """``diff`` (mean, se) has the sign ``sign`` by more than 4 standard errors."""
    return sign * diff["mean"] > 4 * diff["se"]


def _laplace_counts(runs: list[dict]) -> dict[str, object]:
    """How the Laplace-prior logistic normal compares with the other two latents, run by run."""
    def test_elbo(r: dict, lat: str) -> float:  # the kept seed's test -ELBO
        return r[f"{lat}_{r[f'kept_{lat}']['seed']}"]["test_neg_elbo"]

    recovered = {lat: [r for r in runs if r[f"kept_{lat}"]["score"] >= THRESHOLD] for lat in LATENTS}
    lap_and_gauss = [r for r in recovered["laplace"] if r in recovered["gaussian"]]
    lap_and_dir = [r for r in recovered["laplace"] if r in recovered["dirichlet"]]
    return {
        "kept_test_neg_elbo_below_gaussian": sum(test_elbo(r, "laplace") < test_elbo(r, "gaussian") for r in runs),
        "kept_test_neg_elbo_diff_gaussian_range": [
            round(min(test_elbo(r, "gaussian") - test_elbo(r, "laplace") for r in runs), 3),
            round(max(test_elbo(r, "gaussian") - test_elbo(r, "laplace") for r in runs), 3)],
        "recovered_dirichlet_below_kept_laplace": sum(
            test_elbo(r, "dirichlet") < test_elbo(r, "laplace") for r in recovered["dirichlet"]),
        "runs_laplace_and_gaussian_recover": len(lap_and_gauss),
        "runs_laplace_tv_smaller_than_gaussian": sum(_significant(r["tv_diff_laplace_gaussian"], -1)
                                                     for r in lap_and_gauss),
        "runs_laplace_tv_larger_than_gaussian": sum(_significant(r["tv_diff_laplace_gaussian"], 1)
                                                    for r in lap_and_gauss),
        "runs_laplace_and_dirichlet_recover": len(lap_and_dir),
        "runs_dirichlet_tv_smaller_than_laplace": sum(_significant(r["tv_diff_dirichlet_laplace"], -1)
                                                      for r in lap_and_dir),
        "runs_dirichlet_tv_larger_than_laplace": sum(_significant(r["tv_diff_dirichlet_laplace"], 1)
                                                     for r in lap_and_dir),
        "runs_parts_laplace_elbo_better_than_dirichlet": sum(_significant(r["elbo_diff_laplace"], 1) for r in runs),
        "runs_parts_gaussian_elbo_better_than_laplace": sum(
            _significant(r["elbo_diff_gaussian_laplace"], 1) for r in runs),
        "runs_parts_laplace_elbo_better_than_gaussian": sum(
            _significant(r["elbo_diff_gaussian_laplace"], -1) for r in runs),
        "parts_elbo_diff_laplace_range": [min(r["elbo_diff_laplace"]["mean"] for r in runs),
                                          max(r["elbo_diff_laplace"]["mean"] for r in runs)],
        "parts_elbo_diff_gaussian_laplace_range": [min(r["elbo_diff_gaussian_laplace"]["mean"] for r in runs),
                                                   max(r["elbo_diff_gaussian_laplace"]["mean"] for r in runs)],
        "runs_parts_laplace_sparser_than_gaussian": sum(
            r["effective_gaussian"]["mean"] - r["effective_laplace"]["mean"]
            > 4 * (r["effective_gaussian"]["se"] ** 2 + r["effective_laplace"]["se"] ** 2) ** 0.5 for r in runs),
        "runs_parts_dirichlet_sparser_than_laplace": sum(
            r["effective_laplace"]["mean"] - r["effective_dirichlet"]["mean"]
            > 4 * (r["effective_laplace"]["se"] ** 2 + r["effective_dirichlet"]["se"] ** 2) ** 0.5 for r in runs),
        "parts_effective_range": [min(r["effective_laplace"]["mean"] for r in runs),
                                  max(r["effective_laplace"]["mean"] for r in runs)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs 0 .. runs - 1; default 10")
    parser.add_argument("--epochs", type=int, default=60, help="at most this many epochs (the chapter's 60)")
    args = parser.parse_args()
    runs = []
    cpu = time.process_time()
    for run in range(args.runs):
        r = topic_run(run, args.epochs) | parts_run(run, args.epochs)
        runs.append(r)
        scores = ", ".join(f"{k} {r[k]['score']:.3f} (val {r[k]['val_neg_elbo']:.2f})"
                           for k in (f"{lat}_{s}" for lat in LATENTS for s in SEEDS))
        print(f"run {run}: {scores}; merged {r['score_merged']:.3f}; kept TV diff "
              f"{r['tv_diff']['mean']:+.3f} ± {r['tv_diff']['se']:.3f}; parts: effective "
              f"{r['effective_dirichlet']['mean']:.2f} vs {r['effective_gaussian']['mean']:.2f}, "
              f"ELBO diff {r['elbo_diff']['mean']:.2f} ± {r['elbo_diff']['se']:.2f}; laplace: effective "
              f"{r['effective_laplace']['mean']:.2f}, ELBO - Dirichlet's {r['elbo_diff_laplace']['mean']:.2f} "
              f"± {r['elbo_diff_laplace']['se']:.2f}; "
              f"{time.process_time() - cpu:.0f} s CPU so far", flush=True)
    counts: dict[str, object] = {}
    for latent in LATENTS:
        single = [r[f"{latent}_{s}"]["score"] for r in runs for s in SEEDS]
        kept = [r[f"kept_{latent}"] for r in runs]
        counts[latent] = {
            "seeds_recovering": sum(s >= THRESHOLD for s in single),
            "seeds": len(single),
            "kept_recovering": sum(k["score"] >= THRESHOLD for k in kept),
            "kept_is_best_score": sum(k["is_best_score"] for k in kept),
            "min_score": min(single),
        }
    some = [r for r in runs if max(r[f"dirichlet_{s}"]["score"] for s in SEEDS) >= THRESHOLD]
    counts["runs_some_dirichlet_seed_recovers"] = len(some)
    counts["runs_elbo_keeps_a_recovering_dirichlet_seed"] = sum(
        r["kept_dirichlet"]["score"] >= THRESHOLD for r in some)
    kept_ok = [r for r in runs if r["kept_dirichlet"]["score"] >= THRESHOLD]
    counts["runs_recovered_dirichlet_beats_both_gaussian_test_elbo"] = sum(
        r[f"dirichlet_{r['kept_dirichlet']['seed']}"]["test_neg_elbo"]
        < min(r[f"gaussian_{s}"]["test_neg_elbo"] for s in SEEDS) for r in kept_ok)
    failed = [r[f"dirichlet_{s}"]["score"] for r in runs for s in SEEDS if r[f"dirichlet_{s}"]["score"] < THRESHOLD]
    counts["failed_dirichlet_score_range"] = [min(failed), max(failed)] if failed else None
    both = [r for r in runs if all(r[f"kept_{lat}"]["score"] >= THRESHOLD for lat in PAIR)]
    counts["runs_both_kept_recover"] = len(both)
    counts["runs_both_recover_dirichlet_tv_smaller"] = sum(
        r["tv_diff"]["mean"] < -4 * r["tv_diff"]["se"] for r in both)
    counts["runs_parts_gaussian_elbo_better"] = sum(r["elbo_diff"]["mean"] > 4 * r["elbo_diff"]["se"] for r in runs)
    counts["runs_parts_dirichlet_sparser"] = sum(
        r["effective_gaussian"]["mean"] - r["effective_dirichlet"]["mean"]
        > 4 * (r["effective_gaussian"]["se"] ** 2 + r["effective_dirichlet"]["se"] ** 2) ** 0.5
        for r in runs)
    counts["parts_elbo_diff_range"] = [min(r["elbo_diff"]["mean"] for r in runs),
                                       max(r["elbo_diff"]["mean"] for r in runs)]
    counts["laplace"] |= _laplace_counts(runs)
    report = {
        "benchmark": "dirichlet_topics",
        "runs": args.runs,
        "epochs": args.epochs,
        "threshold": THRESHOLD,
        "counts": counts,
        "per_run": runs,
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY", ""),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
