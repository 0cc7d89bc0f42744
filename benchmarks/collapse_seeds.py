"""Benchmark: chapter 06's collapse experiments repeated over several runs (seeds).

Chapter *Posterior collapse and the rate–distortion trade-off* trains each model once,
with the seeds of one run (``VAE_EDU_SEED``). This script trains its models again with
the seeds of runs 0, 1, ..., ``--runs`` − 1, exactly as the chapter makes them with
``VAE_EDU_SEED`` = run: model initialisation ``torch.manual_seed(run_seed(0))``,
``fit(seed=run_seed(0))``, rate and distortion with ``run_seed(1)``, log-likelihoods
with ``run_seed(3)``, where ``run_seed(base) = base + 1000 * run``. The recipe is the
chapter's: ``VAEConfig(hidden=64, decoder_dropout=0.0)``, 40 epochs, batch 64, Adam at
3e-3, no early stop, the best validation epoch kept. Per run it trains

* factorised decoder: β = 1, β = 4, KL warm-up (T = 10 epochs), free bits (λ = 0.25);
* linear autoregressive decoder (a MADE without hidden layers): β = 1, β = 4;
* MADE decoder (one hidden layer of 128): β = 1, β = 4, warm-up, free bits;

plus the chapter's default-architecture VAE, the rest of its β sweep (0.25, 0.5, 2) and
the second seed, ``run_seed(1)``, of its factorised plain, warm-up and free-bits models.
On the 447 test digits it measures the test −ELBO, rate, distortion (10 draws of z per
image) and active units of each model, the value of z to the ELBO of each decoder,
−ELBO(β = 4) − (−ELBO(β = 1)), and the test NLL (importance sampling, K = 200) of the
factorised β = 1 model and of both MADE models. Run 0 is the chapter's committed run.

With ``--converged`` it asks instead whether the chapter's verdict ("the ELBO prefers the
collapsed MADE model") survives the networks and the training the chapter could not
afford: the book's widths, ``VAEConfig(decoder_dropout=0.0)`` (hidden layers of 256,
a MADE with one hidden layer of 256), each model trained by ``fit``'s defaults (Adamax at
1e-3, early stopping with patience 20, at most 500 epochs) instead of 40 epochs. Per run
it trains the MADE decoder with β = 1 and β = 4 (the factorised decoder's verdict, that
collapse costs nats, is not in question) and reports the same figures (its JSON is kept
as ``collapse_seeds_converged.json``), with the epochs each model trained and whether
early stopping ended it.

Prints one line per run and, as its LAST line, one JSON object with every figure.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/collapse_seeds.py            # runs 0-4
    OMP_NUM_THREADS=1 python benchmarks/collapse_seeds.py --runs 3
    OMP_NUM_THREADS=1 python benchmarks/collapse_seeds.py --converged --runs 3
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time

import torch

import vae_edu
from vae_edu.metrics import active_units, rate_distortion
from vae_edu.data import load_digits_split
from vae_edu.estimators import log_likelihood
from vae_edu.models import VAE, Encoder, StandardNormalPrior, VAEConfig
from vae_edu.models.autoregressive import AutoregressiveDecoder
from vae_edu.training import fit
from vae_edu.utils import RUN_ENV

from _common import machine, summary

SMALL = VAEConfig(hidden=64, decoder_dropout=0.0)
RECIPE = dict(
    epochs=40, batch_size=64, lr=3e-3, optimizer="adam", patience=None, progress=False
)
WARMUP_EPOCHS, FREE_BITS = 10, 0.25
THRESHOLD = 0.01  # Burda et al.'s activity threshold
DECODERS = {"default": None, "factorised": None, "linear AR": (), "MADE AR": (128,)}
OBJECTIVES = {
    "beta 0.25": {"beta": 0.25},
    "beta 0.5": {"beta": 0.5},
    "beta 1": {},
    "beta 2": {"beta": 2.0},
    "beta 4": {"beta": 4.0},
    "warm-up": {"warmup_epochs": WARMUP_EPOCHS},
    "free bits": {"free_bits": FREE_BITS},
}
# (decoder, objective, seed label): the models of one run, seeded with run_seed(label)
TRAINED = [("default", "beta 1", 0)]
TRAINED += [("factorised", objective, 0) for objective in OBJECTIVES]
TRAINED += [("factorised", o, 1) for o in ("beta 1", "warm-up", "free bits")]
TRAINED += [("linear AR", "beta 1", 0), ("linear AR", "beta 4", 0)]
TRAINED += [("MADE AR", o, 0) for o in ("beta 1", "beta 4", "warm-up", "free bits")]
NLL_MODELS = [("factorised", "beta 1"), ("MADE AR", "beta 1"), ("MADE AR", "beta 4")]
NLL_SAMPLES = 200


_summary = functools.partial(summary, per="per_run", extremes=True)  # as this benchmark's JSON has it


def _model(decoder: str) -> VAE:
    if decoder == "default":
        return VAE.from_config()  # the book's default architecture (trained at lr 1e-3)
    hidden = DECODERS[decoder]
    if hidden is None:
        return VAE.from_config(SMALL)
    return VAE(Encoder(SMALL), AutoregressiveDecoder(SMALL, hidden), StandardNormalPrior(SMALL.z_dim))


def run(run_number: int, data) -> dict[str, float]:
    """Train and measure the models of one run of the chapter; its figures, flat."""
    os.environ[RUN_ENV] = str(run_number)  # the seeds of the chapter's run run_number
    seed = vae_edu.run_seed
    x_train, x_val, x_test = data.train.x, data.val.x, data.test.x
    figures: dict[str, float] = {}
    models = {}
    for decoder, objective, label in TRAINED:
        torch.manual_seed(seed(label))
        model = _model(decoder)
        kwargs = RECIPE | OBJECTIVES[objective]
        if decoder == "default":
            kwargs |= {"lr": 1e-3}
        fit(model, x_train, x_val, seed=seed(label), **kwargs)
        models[decoder, objective, label] = model
        gen = torch.Generator().manual_seed(seed(1))
        rd = rate_distortion(model, x_test, num_samples=10, generator=gen)
        with torch.no_grad():
            mu_q, _ = model.encoder(x_test)  # (N, z_dim)
        _, num_active = active_units(mu_q, THRESHOLD)
        key = f"{decoder}, {objective}" + (f", seed {label}" if label else "")
        figures[f"{key}: neg_elbo"] = rd.neg_elbo
        figures[f"{key}: rate"] = rd.rate
        figures[f"{key}: distortion"] = rd.distortion
        figures[f"{key}: active"] = float(num_active)
        if decoder == "default":  # the fewest dimensions that carry 90% of the rate
            kl_sorted = rd.kl_per_dim.sort(descending=True).values  # (z_dim,)
            share = torch.cumsum(kl_sorted, 0) / rd.rate
            top = int((share < 0.9).sum()) + 1
            figures["default: dimensions for 90% of the rate"] = float(top)
    for decoder in ("factorised", "linear AR", "MADE AR"):
        figures[f"{decoder}: value of z"] = (
            figures[f"{decoder}, beta 4: neg_elbo"]
            - figures[f"{decoder}, beta 1: neg_elbo"]
        )
    for decoder, objective in NLL_MODELS:
        gen = torch.Generator().manual_seed(seed(3))
        model = models[decoder, objective, 0]
        nll = -log_likelihood(model, x_test, NLL_SAMPLES, generator=gen).mean().item()
        figures[f"{decoder}, {objective}: nll"] = nll
    figures["MADE AR: value of z to the NLL"] = (
        figures["MADE AR, beta 4: nll"] - figures["MADE AR, beta 1: nll"]
    )
    # the spread of log p(x|z) over z ~ p(z), 20 test images, under the collapsed MADE
    collapsed = models["MADE AR", "beta 4", 0]
    with torch.no_grad():
        gen = torch.Generator().manual_seed(seed(4))
        z_prior = collapsed.prior.sample(500, generator=gen)[:, None, :]  # (500, 1, z)
        z_prior = z_prior.expand(500, 20, SMALL.z_dim)  # (500, 20, z_dim)
        log_p = collapsed.decoder.log_prob(x_test[:20], z_prior)  # (500, 20)
    figures["MADE AR, beta 4: min std of log p(x|z)"] = log_p.std(dim=0).min().item()
    return figures


BIG = VAEConfig(decoder_dropout=0.0)  # the book's widths (256), no dropout
CONVERGED = [("MADE AR", "beta 1"), ("MADE AR", "beta 4")]
CONVERGED_EPOCHS = 500  # a cap; the report says which model stopped early and when


def run_converged(run_number: int, data) -> dict[str, float]:
    """The collapse comparison with the book's widths, each model trained to early stopping."""
    os.environ[RUN_ENV] = str(run_number)
    seed = vae_edu.run_seed
    x_train, x_val, x_test = data.train.x, data.val.x, data.test.x
    figures: dict[str, float] = {}
    for decoder, objective in CONVERGED:
        torch.manual_seed(seed(0))
        if decoder == "factorised":
            model = VAE.from_config(BIG)
        else:  # one hidden layer of BIG.hidden = 256
            model = VAE(Encoder(BIG), AutoregressiveDecoder(BIG), StandardNormalPrior(BIG.z_dim))
        history = fit(model, x_train, x_val, seed=seed(0), epochs=CONVERGED_EPOCHS,
                      progress=False, **OBJECTIVES[objective])
        gen = torch.Generator().manual_seed(seed(1))
        rd = rate_distortion(model, x_test, num_samples=10, generator=gen)
        with torch.no_grad():
            mu_q, _ = model.encoder(x_test)  # (N, z_dim)
        _, num_active = active_units(mu_q, THRESHOLD)
        gen = torch.Generator().manual_seed(seed(3))
        nll = -log_likelihood(model, x_test, NLL_SAMPLES, generator=gen).mean().item()
        key = f"{decoder}, {objective}"
        figures[f"{key}: neg_elbo"] = rd.neg_elbo
        figures[f"{key}: rate"] = rd.rate
        figures[f"{key}: active"] = float(num_active)
        figures[f"{key}: nll"] = nll
        figures[f"{key}: epochs"] = float(history.epochs)
        figures[f"{key}: best epoch"] = float(history.best_epoch)
        figures[f"{key}: stopped by patience"] = float(history.stop_reason == "patience")
    for decoder in ("MADE AR",):
        figures[f"{decoder}: value of z"] = (
            figures[f"{decoder}, beta 4: neg_elbo"] - figures[f"{decoder}, beta 1: neg_elbo"]
        )
        figures[f"{decoder}: value of z to the NLL"] = (
            figures[f"{decoder}, beta 4: nll"] - figures[f"{decoder}, beta 1: nll"]
        )
    return figures


def main_converged(runs: int) -> None:
    vae_edu.setup(seed=0)
    data = load_digits_split()
    per_run: list[dict[str, float]] = []
    wall, cpu = time.perf_counter(), time.process_time()
    for r in range(runs):
        w, c = time.perf_counter(), time.process_time()
        f = run_converged(r, data)
        per_run.append(f)
        print(f"run {r}: " + ", ".join(f"{k} {v:.3f}" for k, v in f.items())
              + f"; {time.perf_counter() - w:.1f} s ({time.process_time() - c:.1f} s CPU)",
              flush=True)
    report = {
        "benchmark": "collapse_seeds --converged",
        "runs": runs,
        "config": "VAEConfig(decoder_dropout=0.0), MADE (256,); fit's defaults: "
                  "Adamax 1e-3, patience 20, at most 500 epochs",
        "nll_samples": NLL_SAMPLES,
        "results": {key: _summary([f[key] for f in per_run]) for key in per_run[0]},
        "seconds": round(time.perf_counter() - wall, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        **machine(),
    }
    print(json.dumps(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs 0, 1, ...; default 5")
    parser.add_argument("--converged", action="store_true",
                        help="the book's widths, trained to early stopping (see above)")
    args = parser.parse_args()
    if args.converged:
        main_converged(args.runs)
        return
    vae_edu.setup(seed=0)  # one thread; every model below is seeded explicitly
    data = load_digits_split()

    per_run: list[dict[str, float]] = []
    wall, cpu = time.perf_counter(), time.process_time()
    for r in range(args.runs):
        w, c = time.perf_counter(), time.process_time()
        f = run(r, data)
        per_run.append(f)
        print(
            f"run {r}: value of z to the ELBO, "
            f"factorised {f['factorised: value of z']:+.2f}, "
            f"linear AR {f['linear AR: value of z']:+.2f}, "
            f"MADE AR {f['MADE AR: value of z']:+.2f} nats; "
            f"MADE beta 1 rate {f['MADE AR, beta 1: rate']:.2f}, NLL beta 4 - beta 1 "
            f"{f['MADE AR: value of z to the NLL']:+.2f}; "
            f"{time.perf_counter() - w:.1f} s "
            f"({time.process_time() - c:.1f} s CPU)",
            flush=True,
        )
    report = {
        "benchmark": "collapse_seeds",
        "runs": args.runs,
        "config": (
            "VAEConfig(hidden=64, decoder_dropout=0.0); "
            "40 epochs, batch 64, Adam 3e-3, no early stop"
        ),
        "warmup_epochs": WARMUP_EPOCHS,
        "free_bits": FREE_BITS,
        "nll_samples": NLL_SAMPLES,
        "results": {key: _summary([f[key] for f in per_run]) for key in per_run[0]},
        "seconds": round(time.perf_counter() - wall, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        **machine(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
