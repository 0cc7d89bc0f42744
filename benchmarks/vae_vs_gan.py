"""Benchmark: chapter 09 (VAE vs GAN) over many runs: mode coverage, the digits verdict.

Run ``r`` is the chapter executed with ``VAE_EDU_SEED=r``: every seed goes through
``vae_edu.run_seed`` exactly as in the chapter, so run 0 is the chapter's own run (on
this CPU) and runs 1, 2, ... are what a reader sees with another seed.

* **Toy** (``--toy-runs``, the chapter's two model seeds per run): eight Gaussian modes
  of sd 0.05 on a circle of radius 2; a GAN and a Gaussian-decoder VAE with the same
  networks and budget. Per model seed: the fraction of 4 000 samples within 3 sd of a
  mode (GAN samples, VAE samples x ~ p(x|z), VAE decoder means), the smallest and
  largest mode shares, the number of modes the GAN *drops* (share < 2 %), the mean
  exact log-density of the samples, the VAE's learned decoder sd, and the test gap
  E[log p_data] - E[log p_VAE] (k = 100).
* **Digits** (``--digit-runs``): the book's VAE and the chapter's GAN judged by the
  chapter's classifier: confidence, classes with >= 2 % of the samples, class entropy,
  largest class share, pairwise distance, the memorisation differences, the VAE's test
  -ELBO and NLL (k = 500), the training CPU times, and Exercise 4's replayed training
  digits.

* **Toy budgets** (``--budgets 50,200,800``, with ``--budget-runs``): is the toy section's
  50-epoch budget a comparison of converged models or of speeds of convergence? Runs 0,
  1, ... of the toy section (model seed 0), trained again with each budget in epochs
  (everything else as in the chapter), with the toy figures above plus the VAE's final
  validation -ELBO. Its JSON is kept as ``vae_vs_gan_budgets.json``.

Prints one line per run and, as its LAST line, one JSON object with every figure.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/vae_vs_gan.py     # 10 toy runs, 10 digit runs
    OMP_NUM_THREADS=1 python benchmarks/vae_vs_gan.py --toy-runs 1 --digit-runs 1
    OMP_NUM_THREADS=1 python benchmarks/vae_vs_gan.py --budgets 50,200,800 --budget-runs 3
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import time

import torch

import vae_edu
from vae_edu.data import (
    assign_modes,
    gaussian_mixture_2d_log_prob,
    load_digits_split,
    make_gaussian_mixture_2d,
)
from vae_edu.estimators import log_likelihood, mc_mean
from vae_edu.models import VAE, VAEConfig
from vae_edu.models.gan import GAN, GANConfig
from vae_edu.metrics import (
    fit_digit_classifier,
    mean_pairwise_distance,
    nearest_neighbour_distance,
    sample_quality,
)
from vae_edu.training import fit, mean_negative_elbo
from vae_edu.training import fit_gan

from _common import machine, summary

STD = 0.05  # the toy modes' standard deviation
TOY = {"hidden": 64, "z_dim": 2, "epochs": 50, "batch_size": 64, "lr": 2e-3}
TOY_SEEDS = (0, 1)  # the chapter's two model seeds per run
NUM_TOY_SAMPLES = 4000
DROPPED = 0.02  # a mode with a smaller share of the samples is dropped (chapter: 2 %)
NUM_SAMPLES = 1000  # digits samples per model
N_SE = 4


_summary = functools.partial(summary, digits=4, extremes=True)  # as this benchmark's JSON has it


def _select_run(run: int) -> None:
    """Make every ``vae_edu.run_seed`` of this process the chapter's run ``run``."""
    os.environ["VAE_EDU_SEED"] = str(run)
    vae_edu.setup(seed=0)


def _generator(base: int) -> torch.Generator:
    return torch.Generator().manual_seed(vae_edu.run_seed(base))


def _mode_stats(x: torch.Tensor, centres: torch.Tensor) -> dict[str, object]:
    labels = assign_modes(x, centres, STD)  # (N,)
    counts = torch.bincount(labels[labels >= 0], minlength=centres.shape[0])  # (K,)
    return {
        "near": float((labels >= 0).double().mean()),
        "share": counts.double() / len(x),
        "log_p_data": float(gaussian_mixture_2d_log_prob(x, centres, STD).mean()),
    }


def toy_run(run: int, epochs: int = TOY["epochs"],
            seeds: tuple[int, ...] = TOY_SEEDS) -> list[dict[str, object]]:
    """The chapter's toy section as run ``run``: one dict per model seed (``epochs``: the
    budget of both models, the chapter's 50 by default)."""
    _select_run(run)
    rs = vae_edu.run_seed
    toy_train = make_gaussian_mixture_2d(2000, "ring", std=STD, generator=_generator(0))
    toy_val = make_gaussian_mixture_2d(500, "ring", std=STD, generator=_generator(1))
    toy_test = make_gaussian_mixture_2d(1000, "ring", std=STD, generator=_generator(2))
    centres, k = toy_train.centres, toy_train.centres.shape[0]  # (8, 2)
    log_p_data_test = gaussian_mixture_2d_log_prob(toy_test.x, centres, STD)  # (1000,)
    out = []
    for seed in seeds:
        cpu = time.process_time()
        torch.manual_seed(rs(seed))
        gan = GAN(GANConfig(x_dim=2, z_dim=TOY["z_dim"], hidden=TOY["hidden"],
                            output="linear"))
        fit_gan(gan, toy_train.x, epochs=epochs, batch_size=TOY["batch_size"],
                lr=TOY["lr"], seed=rs(seed))
        torch.manual_seed(rs(seed))
        config = VAEConfig(x_dim=2, z_dim=TOY["z_dim"], hidden=TOY["hidden"],
                           likelihood="gaussian", decoder_dropout=0.0)
        vae = VAE.from_config(config)
        history = fit(vae, toy_train.x, toy_val.x, epochs=epochs,
                      batch_size=TOY["batch_size"], lr=TOY["lr"], optimizer="adam",
                      patience=None, seed=rs(seed), progress=False)
        g = _generator(100 + seed)
        with torch.no_grad():
            z = vae.prior.sample(NUM_TOY_SAMPLES, g)  # (N, z_dim)
            samples = {"gan": gan.sample(NUM_TOY_SAMPLES, g),
                       "vae_x": vae.decoder.sample(z, g),
                       "vae_mean": vae.decoder.mean(z)}
        stats = {name: _mode_stats(x, centres) for name, x in samples.items()}
        log_p_vae = log_likelihood(vae, toy_test.x, num_samples=100,
                                   generator=_generator(3))  # (1000,)
        gap, gap_se = mc_mean((log_p_data_test - log_p_vae)[:, None])  # (1,) each
        std_p = torch.exp(0.5 * vae.decoder.log_var_p.detach())  # (2,)
        gan_share = stats["gan"]["share"]
        rarest = gan_share.argsort()[:2]
        out.append({
            "run": run, "seed": seed,
            **{f"{name}_near": s["near"] for name, s in stats.items()},
            **{f"{m}_min_share": float(st["share"].min()) for m, st in stats.items()},
            **{f"{m}_max_share": float(st["share"].max()) for m, st in stats.items()},
            **{f"{name}_log_p_data": s["log_p_data"] for name, s in stats.items()},
            "gan_dropped": int((gan_share < DROPPED).sum()),
            "gan_rarest_neighbours": int(rarest[0] - rarest[1]) % k in (1, k - 1),
            "vae_mean_covered": int((stats["vae_mean"]["share"] >= DROPPED).sum()),
            "vae_std_p_min": float(std_p.min()), "vae_std_p_max": float(std_p.max()),
            "test_gap": float(gap[0]), "test_gap_se": float(gap_se[0]),
            "log_p_data_test": float(log_p_data_test.mean()),
            "cpu_seconds": time.process_time() - cpu,
        })
        if epochs != TOY["epochs"] or seeds != TOY_SEEDS:  # the budget study only
            val = history.val_loss  # -ELBO per validation point after each epoch
            out[-1] |= {"vae_val_neg_elbo": val[-1],
                        # 50 epochs before the end (the first epoch's for budget <= 50)
                        "vae_val_neg_elbo_50_epochs_before": val[max(len(val) - 51, 0)],
                        "vae_best_val_neg_elbo": history.best_val_loss,
                        "vae_best_epoch": history.best_epoch}
    return out


def budgets_main(budgets: list[int], runs: int) -> None:
    """The toy section trained with each budget, runs 0..runs-1 (model seed 0)."""
    rows = {b: [] for b in budgets}
    cpu = time.process_time()
    for run in range(runs):
        for b in budgets:
            r = toy_run(run, epochs=b, seeds=(0,))[0]
            rows[b].append(r)
            print(f"budget {b} epochs, run {run}: GAN near {r['gan_near']:.3f}, "
                  f"dropped {r['gan_dropped']}, log p_data {r['gan_log_p_data']:.2f}; "
                  f"VAE x near {r['vae_x_near']:.3f}, mean near {r['vae_mean_near']:.3f}, "
                  f"log p_data {r['vae_x_log_p_data']:.2f}, "
                  f"decoder sd {r['vae_std_p_min']:.3f}-{r['vae_std_p_max']:.3f}, "
                  f"val -ELBO {r['vae_val_neg_elbo']:.3f} (best "
                  f"{r['vae_best_val_neg_elbo']:.3f} at {r['vae_best_epoch']}), "
                  f"test gap {r['test_gap']:.2f} ± {r['test_gap_se']:.2f}; "
                  f"{r['cpu_seconds']:.1f} s CPU", flush=True)
    report = {
        "benchmark": "vae_vs_gan --budgets",
        "budgets": budgets, "runs": runs, "model_seed": 0,
        "dropped_below": DROPPED,
        "toy": {str(b): {key: _summary([float(r[key]) for r in rows[b]])
                         for key in rows[b][0] if key not in ("run", "seed")}
                for b in budgets},
        "cpu_seconds": round(time.process_time() - cpu, 1),
        **machine(),
    }
    print(json.dumps(report))


def digits_run(run: int) -> dict[str, object]:
    """The chapter's digits section and Exercise 4's replayed digits, as run ``run``."""
    _select_run(run)
    rs = vae_edu.run_seed
    cpu = time.process_time()
    levels, unit = load_digits_split("levels"), load_digits_split("unit")
    classifier = fit_digit_classifier(unit.train.x, unit.train.y, seed=rs(0))
    accuracy = classifier.accuracy(unit.test.x, unit.test.y)
    torch.manual_seed(rs(0))
    digits_vae = VAE.from_config()
    vae_fit = fit(digits_vae, levels.train.x, levels.val.x, progress=False)
    torch.manual_seed(rs(0))
    digits_gan = GAN(GANConfig(x_dim=64, z_dim=16, hidden=128))
    gan_fit = fit_gan(digits_gan, unit.train.x, epochs=100, batch_size=64, lr=1e-3,
                      seed=rs(0))
    g = _generator(4)
    with torch.no_grad():
        z = digits_vae.prior.sample(NUM_SAMPLES, g)  # (1000, 16)
        samples = {"gan": digits_gan.sample(NUM_SAMPLES, g),
                   "vae_x": digits_vae.decoder.sample(z, g) / 16,
                   "vae_mean": digits_vae.decoder.mean(z) / 16}
    real_test = unit.test.x  # (447, 64)
    everything = {"real": real_test, **samples}
    quality = {name: sample_quality(classifier, x) for name, x in everything.items()}
    diversity = {name: mean_pairwise_distance(x) for name, x in everything.items()}

    def gap_in_se(a: str, b: str) -> tuple[float, float]:
        qa, qb = quality[a], quality[b]
        gap = qa.mean_confidence - qb.mean_confidence
        return gap, gap / math.hypot(qa.confidence_stderr, qb.confidence_stderr)

    def nn_difference(x: torch.Tensor) -> tuple[float, float]:
        to_train = nearest_neighbour_distance(x, train_ref)  # (n,)
        to_test = nearest_neighbour_distance(x, real_test)  # (n,)
        difference, se = mc_mean((to_train - to_test)[:, None])  # (1,) each
        return float(difference[0]), float(se[0])

    train_ref = unit.train.x[torch.randperm(1000, generator=_generator(5))[:447]]
    nn = {name: nn_difference(x)
          for name, x in [("real_val", unit.val.x), *samples.items()]}
    typical = float(nearest_neighbour_distance(unit.val.x, train_ref).mean())
    neg_elbo = mean_negative_elbo(digits_vae, levels.test.x)
    log_p_hat, log_p_se = log_likelihood(digits_vae, levels.test.x, num_samples=500,
                                         generator=_generator(6), return_stderr=True)
    nll = -log_p_hat.mean()
    nll_se = log_p_se.pow(2).mean().sqrt() / math.sqrt(len(log_p_hat))
    replayed = unit.train.x[torch.randint(1000, (447,), generator=_generator(7))]
    replay_q = sample_quality(classifier, replayed)
    replay_at_0 = nearest_neighbour_distance(replayed, train_ref) == 0  # (447,)
    replay_in_reference = float(replay_at_0.double().mean())
    replay_difference, replay_se = nn_difference(replayed)
    result: dict[str, object] = {
        "run": run, "classifier_accuracy": accuracy, "vae_epochs": vae_fit.epochs,
        "vae_cpu_seconds": vae_fit.cpu_seconds, "gan_cpu_seconds": gan_fit.cpu_seconds,
        "gan_to_vae_cpu": gan_fit.cpu_seconds / vae_fit.cpu_seconds,
        "gan_d_real": gan_fit.d_real[-1], "gan_d_fake": gan_fit.d_fake[-1],
        "gan_d_loss": gan_fit.d_loss[-1],
    }
    for name, q in quality.items():
        result |= {
            f"{name}_confidence": q.mean_confidence,
            f"{name}_classes": q.num_classes_covered,
            f"{name}_class_entropy": q.class_entropy,
            f"{name}_max_class": float(q.class_fractions.max()),
            f"{name}_min_class": float(q.class_fractions.min()),
            f"{name}_diversity": diversity[name],
        }
    for name in samples:
        result[f"real_minus_{name}_confidence_se"] = gap_in_se("real", name)[1]
    gap, gap_in_units = gap_in_se("vae_x", "gan")
    result["vae_x_minus_gan_confidence"] = gap
    result["vae_x_minus_gan_confidence_se"] = gap_in_units
    for name, (d, se) in nn.items():
        result[f"{name}_nn_difference"], result[f"{name}_nn_difference_se"] = d, se
    result |= {
        "typical_distance": typical, "neg_elbo": neg_elbo,
        "nll": float(nll), "nll_se": float(nll_se),
        "replay_confidence_minus_real":
            replay_q.mean_confidence - quality["real"].mean_confidence,
        "replay_diversity_minus_real":
            mean_pairwise_distance(replayed) - diversity["real"],
        "replay_in_reference": replay_in_reference,
        "replay_nn_difference": replay_difference, "replay_nn_difference_se": replay_se,
        "cpu_seconds": time.process_time() - cpu,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--toy-runs", type=int, default=10,
                        help="runs of the toy section (2 seeds each); default 10")
    parser.add_argument("--digit-runs", type=int, default=10,
                        help="runs of the digits section; default 10")
    parser.add_argument("--budgets", type=str, default=None,
                        help="comma-separated toy budgets in epochs: the budget study")
    parser.add_argument("--budget-runs", type=int, default=3,
                        help="runs of the budget study (model seed 0); default 3")
    args = parser.parse_args()
    if args.budgets:
        budgets_main([int(b) for b in args.budgets.split(",")], args.budget_runs)
        return
    toy = []
    for run in range(args.toy_runs):
        for r in toy_run(run):
            toy.append(r)
            print(f"toy run {run} seed {r['seed']}: GAN near {r['gan_near']:.3f}, "
                  f"smallest share {r['gan_min_share']:.3f}, "
                  f"dropped {r['gan_dropped']}; VAE x near {r['vae_x_near']:.3f}, "
                  f"mean near {r['vae_mean_near']:.3f} (shares "
                  f"{r['vae_mean_min_share']:.3f}..{r['vae_mean_max_share']:.3f}), "
                  f"decoder sd {r['vae_std_p_min']:.3f}; "
                  f"test gap {r['test_gap']:.2f} ± {r['test_gap_se']:.2f}; "
                  f"{r['cpu_seconds']:.1f} s CPU", flush=True)
    digits = []
    for run in range(args.digit_runs):
        r = digits_run(run)
        digits.append(r)
        gan_nn_se = r["gan_nn_difference"] / r["gan_nn_difference_se"]
        print(f"digits run {run}: classes GAN {r['gan_classes']} "
              f"(largest {r['gan_max_class']:.2f}, "
              f"entropy {r['gan_class_entropy']:.3f}), "
              f"VAE {r['vae_x_classes']} (entropy {r['vae_x_class_entropy']:.3f}); "
              f"confidence VAE - GAN {r['vae_x_minus_gan_confidence']:.3f} "
              f"({r['vae_x_minus_gan_confidence_se']:.1f} se); "
              f"NN diff GAN {r['gan_nn_difference']:.3f} ({gan_nn_se:.1f} se), "
              f"VAE x {r['vae_x_nn_difference']:.3f}; "
              f"-ELBO {r['neg_elbo']:.2f}, NLL {r['nll']:.2f}; "
              f"CPU GAN/VAE {r['gan_to_vae_cpu']:.2f}; {r['cpu_seconds']:.1f} s CPU",
              flush=True)
    toy_summary = {key: _summary([float(r[key]) for r in toy])
                   for key in toy[0] if key not in ("run", "seed")}
    toy_summary["gan_seeds_dropping_a_mode"] = sum(r["gan_dropped"] > 0 for r in toy)
    digits_summary = {key: _summary([float(r[key]) for r in digits])
                      for key in digits[0] if key != "run"}
    digits_summary["runs_gan_fewer_classes"] = sum(
        r["gan_classes"] < r["vae_x_classes"] for r in digits)
    digits_summary["runs_gan_lower_entropy"] = sum(
        r["gan_class_entropy"] < r["vae_x_class_entropy"] for r in digits)
    report = {
        "benchmark": "vae_vs_gan",
        "toy_runs": args.toy_runs, "toy_seeds_per_run": len(TOY_SEEDS),
        "toy_gan_seeds": len(toy),
        "dropped_below": DROPPED,
        "digit_runs": args.digit_runs,
        "toy": toy_summary,
        "digits": digits_summary,
        **machine(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
