"""Benchmark: how much the digits VAE's test figures move from one training seed to the next.

Chapter *Training a VAE on digits* trains its model twice (seeds 0 and 1) and says that retraining
moves the test NLL by many times the error of the 5000-sample estimator. Two seeds cannot settle
that; this benchmark trains the chapter's recipe (``VAE.from_config(VAEConfig())``, ``fit``'s defaults, early
stopping on the 350 validation digits) for ``--seeds`` seeds and, on the 447 test digits, measures
per seed

* ``neg_elbo``: the test -ELBO, 100 draws of z per image;
* ``neg_l50``: the test -L_50, one draw of the IWAE bound per image;
* ``nll``: the test NLL, -log p(x) by importance sampling with k = ``--num-samples`` (5000);
* ``nll_se_estimator``: the estimator's own standard error of that mean (from the per-image
  standard errors of ``log_likelihood``), and ``nll_se_images``: the standard error over the images;
* ``gap`` = ``neg_elbo - nll`` and ``gap_se`` (image by image), ``kl_prior``: the mean
  KL(q(z|x) || p(z)), ``beta_star`` = 1 - gap / kl_prior;
* ``reconstruction_ratio``: the mean absolute error of ``model.reconstruct`` over that of the mean
  training image; ``epochs``, ``best_epoch``, ``best_val_loss``, ``stop_reason``.

Seed s initialises the weights with ``torch.manual_seed(s)`` and trains with ``fit(seed=s)``, as
the chapter does for its run 0 (seeds 0 and 1). Prints one line per seed and, as its LAST line, one
JSON object: the per-seed figures, their means and standard deviations over seeds, and
``nll_std_over_se``, the seed-to-seed standard deviation of the NLL in units of the estimator's
(mean) standard error.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/digits_seed_spread.py            # 8 seeds, k = 5000

Book: *Training a VAE on digits* (section *Seeds: how much do these numbers move?*).
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time

import torch

import vae_edu
from vae_edu.data import load_digits_split
from vae_edu.estimators import iwae_bound, log_likelihood, mc_mean
from vae_edu.models import VAE, VAEConfig
from vae_edu.training import fit

from _common import machine, summary


_summary = functools.partial(summary, digits=4)  # as this benchmark's JSON has it


def run(seed: int, num_samples: int, decoder_dropout: float | None = None) -> dict[str, object]:
    """Train the chapter's model with one seed and evaluate it on the test digits.

    ``decoder_dropout`` overrides ``VAEConfig``'s (0.1) when given (``benchmarks/dropout_ablation.py``).
    """
    vae_edu.setup(seed=seed)
    data = load_digits_split("levels")
    x_train, x_val, x_test = data.train.x, data.val.x, data.test.x
    torch.manual_seed(seed)  # the initial weights
    config = VAEConfig() if decoder_dropout is None else VAEConfig(decoder_dropout=decoder_dropout)
    model = VAE.from_config(config)
    cpu = time.process_time()
    history = fit(model, x_train, x_val, seed=seed, progress=False)
    train_cpu = time.process_time() - cpu

    gen = torch.Generator().manual_seed(10_000 + seed)
    cpu = time.process_time()
    with torch.no_grad():
        elbo = model.elbo(x_test, num_samples=100, generator=gen)  # (N,)
        l50 = iwae_bound(model, x_test, 50, generator=gen)  # (N,)
        kl_prior = model.kl_per_dim(x_test).sum(-1)  # (N,)
        x_rec = model.reconstruct(x_test)  # (N, D)
    log_p, stderr = log_likelihood(model, x_test, num_samples, generator=gen, return_stderr=True)  # (N,), (N,)
    eval_cpu = time.process_time() - cpu
    gap, gap_se = mc_mean(log_p - elbo)
    ratio = (x_rec - x_test).abs().mean() / (x_train.mean(0) - x_test).abs().mean()
    return {
        "neg_elbo": -elbo.mean().item(),
        "neg_l50": -l50.mean().item(),
        "nll": -log_p.mean().item(),
        "nll_se_estimator": (stderr.pow(2).sum().sqrt() / len(x_test)).item(),
        "nll_se_images": mc_mean(-log_p)[1].item(),
        "gap": gap.item(),
        "gap_se": gap_se.item(),
        "kl_prior": kl_prior.mean().item(),
        "beta_star": 1 - gap.item() / kl_prior.mean().item(),
        "reconstruction_ratio": ratio.item(),
        "best_val_loss": history.best_val_loss,
        "train_cpu_seconds": train_cpu,
        "eval_cpu_seconds": eval_cpu,
        "epochs": history.epochs,
        "best_epoch": history.best_epoch + 1,  # counted from 1, as the chapter prints it
        "stop_reason": history.stop_reason,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=8, help="number of seeds (0, 1, ...); default 8")
    parser.add_argument("--num-samples", type=int, default=5000, help="k for the test NLL; default 5000")
    args = parser.parse_args()

    runs = []
    for seed in range(args.seeds):
        r = run(seed, args.num_samples)
        runs.append(r)
        print(
            f"seed {seed}: test -ELBO {r['neg_elbo']:.2f}, -L_50 {r['neg_l50']:.2f}, "
            f"NLL {r['nll']:.3f} ± {r['nll_se_estimator']:.3f} (estimator), gap {r['gap']:.2f}, "
            f"KL to the prior {r['kl_prior']:.2f}; {r['epochs']} epochs (best {r['best_epoch']}, "
            f"{r['stop_reason']}); train {r['train_cpu_seconds']:.1f} s CPU, eval {r['eval_cpu_seconds']:.1f} s CPU",
            flush=True,
        )
    numeric = [key for key, value in runs[0].items() if isinstance(value, float)]
    figures = {key: _summary([float(r[key]) for r in runs]) for key in numeric}
    nll_std = statistics.stdev(float(r["nll"]) for r in runs)
    se_mean = statistics.fmean(float(r["nll_se_estimator"]) for r in runs)
    report = {
        "benchmark": "digits_seed_spread",
        "model": "VAE.from_config(VAEConfig()), fit defaults",
        "seeds": args.seeds,
        "num_samples": args.num_samples,
        "figures": figures,
        "epochs": [r["epochs"] for r in runs],
        "best_epoch": [r["best_epoch"] for r in runs],
        "stop_reason": [r["stop_reason"] for r in runs],
        "nll_std_over_se": round(nll_std / se_mean, 1),
        **machine(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
