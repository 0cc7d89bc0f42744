"""Benchmark: chapter 07's measurements over runs ``VAE_EDU_SEED`` = 0, 1, 2, ...

Chapter 07 measures one run. This script repeats its recipe for runs 0, 1, ..., each as
the chapter runs with ``VAE_EDU_SEED`` set to that run (same seeds, same budgets), and
reports the spread of every figure the chapter's text leans on:

* the test -ELBO of the 2-D VAE (60 epochs) and of the 16-D VAE (50 epochs);
* the k-nearest-neighbour label agreement A_5 and the Spearman rho between latent and
  pixel distances, for z_dim = 2, z_dim = 16 and the pixels;
* the traversal figures (active units, largest KL per dimension, largest sweep against
  the median same-label pixel distance) and the mean norm of the test codes;
* the hole fractions H_0.1 and H_0.01 in 2-D and 16-D, and the outer/inner ratio of the
  16-D holes;
* the beta-VAE on the synthetic squares: correlation gap G, rate and distortion for
  beta = 1, 4, 8, and which beta has the highest G in each run (``--beta-runs``: they
  are cheaper, so there are more of them).

Prints one line per run and, as its LAST line, one JSON object with every figure.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/latent_space.py   # runs 0-4, beta runs 0-9
    OMP_NUM_THREADS=1 python benchmarks/latent_space.py --runs 1 --beta-runs 1
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
from vae_edu.data.shapes import make_shapes
from vae_edu.metrics import correlation_gap
from vae_edu.estimators import mc_mean
from vae_edu.metrics import (
    distance_rank_correlation,
    hole_fraction,
    in_hole,
    lerp,
    neighbour_label_agreement,
    traverse,
)
from vae_edu.models import VAE, VAEConfig
from vae_edu.training import fit

from _common import machine, summary

BETAS = (1.0, 4.0, 8.0)


_summary = functools.partial(summary, per="per_run", extremes=True)  # as this benchmark's JSON has it


def _neg_elbo(model: VAE, x: torch.Tensor) -> float:
    gen = torch.Generator().manual_seed(vae_edu.run_seed(0))
    with torch.no_grad():
        return -model.elbo(x, num_samples=10, generator=gen).mean().item()


def _train(z_dim: int, epochs: int, data) -> VAE:
    """The chapter's digits VAE, trained for at most ``epochs`` epochs."""
    model = VAE.from_config(VAEConfig(z_dim=z_dim))
    fit(model, data.train.x, data.val.x, epochs=epochs, seed=vae_edu.run_seed(0),
        progress=False)
    return model


def digits_run() -> dict[str, float]:
    """The chapter's digits measurements for the run that VAE_EDU_SEED selects."""
    vae_edu.setup(seed=0)
    data = load_digits_split("levels")
    train, test = data.train, data.test
    out: dict[str, float] = {}
    model_2d = _train(2, 60, data)
    out["neg_elbo_2d"] = _neg_elbo(model_2d, test.x)
    with torch.no_grad():
        mu_2d, _ = model_2d.encoder(test.x)
    model_16d = _train(16, 50, data)
    out["neg_elbo_16d"] = _neg_elbo(model_16d, test.x)
    with torch.no_grad():
        mu_16d, _ = model_16d.encoder(test.x)

    # neighbourhoods
    for name, f in (("2d", mu_2d), ("16d", mu_16d), ("pixels", test.x)):
        out[f"a5_{name}"] = neighbour_label_agreement(f, test.y, 5).item()
        out[f"rho_{name}"] = distance_rank_correlation(f, test.x).item()

    # traversals
    with torch.no_grad():
        kl_dims = model_16d.kl_per_dim(test.x).mean(dim=0)  # (16,)
    _, n_active = active_units(mu_16d)
    top_dims = kl_dims.argsort(descending=True)[:4].tolist()
    sweep = torch.linspace(-2.5, 2.5, 7)
    ends = [traverse(model_16d, mu_16d[0], j, sweep)[[0, -1]] for j in top_dims]
    row_change = [(im[1] - im[0]).norm().item() for im in ends]
    rows, cols = torch.triu_indices(len(test), len(test), offset=1)
    pair_dist = (test.x[rows] - test.x[cols]).norm(dim=1)
    same = test.y[rows] == test.y[cols]
    out["active_units"] = float(n_active)
    out["kl_dim_max"] = kl_dims.max().item()
    out["max_row_change"] = max(row_change)
    out["median_same"] = pair_dist[same].median().item()

    # interpolation between the codes of the first test 0 and the first test 1
    t = torch.linspace(0, 1, 9)
    first_0, first_1 = (test.y == 0).nonzero()[0, 0], (test.y == 1).nonzero()[0, 0]
    n_lin = lerp(mu_16d[first_0], mu_16d[first_1], t).norm(dim=1)
    out["digit_pair_mid_over_min_end"] = (n_lin[4] / n_lin[[0, -1]].min()).item()
    out["test_code_norm"] = mu_16d.norm(dim=1).mean().item()

    # holes
    with torch.no_grad():
        mu_tr_2d, lv_tr_2d = model_2d.encoder(train.x)
        mu_tr_16d, lv_tr_16d = model_16d.encoder(train.x)
    gen = torch.Generator().manual_seed(vae_edu.run_seed(2))
    z_prior_2d = model_2d.prior.sample(5000, gen)
    z_prior_16d = model_16d.prior.sample(5000, gen)
    spaces = (("2d", z_prior_2d, mu_tr_2d, lv_tr_2d),
              ("16d", z_prior_16d, mu_tr_16d, lv_tr_16d))
    for name, z, mu, lv in spaces:
        for c, label in ((0.1, "0.1"), (0.01, "0.01")):
            out[f"hole_{label}_{name}"] = hole_fraction(z, mu, lv, ratio=c)[0].item()
    hole_16d = in_hole(z_prior_16d, mu_tr_16d, lv_tr_16d, ratio=0.1).float()
    norm_16 = z_prior_16d.norm(dim=1)
    outer = norm_16 > norm_16.median()
    frac_outer, frac_inner = mc_mean(hole_16d[outer])[0], mc_mean(hole_16d[~outer])[0]
    out["hole_outer_over_inner_16d"] = (frac_outer / frac_inner).item()

    return out


def beta_run() -> dict[str, float]:
    """The chapter's beta-VAEs on the squares for the run that VAE_EDU_SEED selects."""
    shapes = make_shapes()
    config = VAEConfig(x_dim=144, z_dim=4, hidden=64, likelihood="bernoulli",
                       decoder_dropout=0.0)
    out: dict[str, float] = {}
    for beta in BETAS:
        vae_edu.setup(seed=0)  # same initialisation for every beta, as in the chapter
        model = VAE.from_config(config)
        fit(model, shapes.x, shapes.x, beta=beta, epochs=200, patience=None,
            batch_size=32, lr=3e-3, optimizer="adam", seed=vae_edu.run_seed(0),
            progress=False)
        with torch.no_grad():
            mu, _ = model.encoder(shapes.x)  # (243, 4)
            gen = torch.Generator().manual_seed(vae_edu.run_seed(0))
            rd = rate_distortion(model, shapes.x, num_samples=10, generator=gen)
        key = f"{beta:.0f}"
        out[f"G_beta{key}"] = correlation_gap(mu, shapes.factors).score.item()
        out[f"rate_beta{key}"] = rd.rate
        out[f"distortion_beta{key}"] = rd.distortion
    out["best_beta"] = max(BETAS, key=lambda b: out[f"G_beta{b:.0f}"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5,
                        help="digits runs 0, 1, ...; default 5")
    parser.add_argument("--beta-runs", type=int, default=10,
                        help="beta-VAE runs 0, 1, ...; default 10")
    args = parser.parse_args()
    start = time.process_time()

    digits: list[dict[str, float]] = []
    for run in range(args.runs):
        os.environ["VAE_EDU_SEED"] = str(run)
        cpu = time.process_time()
        r = digits_run()
        digits.append(r)
        print(f"digits run {run}: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items())
              + f" ({time.process_time() - cpu:.0f} s CPU)", flush=True)
    betas: list[dict[str, float]] = []
    for run in range(args.beta_runs):
        os.environ["VAE_EDU_SEED"] = str(run)
        cpu = time.process_time()
        r = beta_run()
        betas.append(r)
        print(f"beta run {run}: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items())
              + f" ({time.process_time() - cpu:.0f} s CPU)", flush=True)
    os.environ.pop("VAE_EDU_SEED")

    best = [r.pop("best_beta") for r in betas]
    report = {
        "benchmark": "latent_space",
        "runs": args.runs,
        "beta_runs": args.beta_runs,
        "digits": {key: _summary([r[key] for r in digits]) for key in digits[0]},
        "beta": {key: _summary([r[key] for r in betas]) for key in betas[0]},
        "best_beta_count": {f"{b:.0f}": sum(1 for v in best if v == b) for b in BETAS},
        "beta_orders": {
            "rate_falls": sum(
                r["rate_beta1"] > r["rate_beta4"] > r["rate_beta8"] for r in betas
            ),
            "distortion_rises": sum(
                r["distortion_beta1"] < r["distortion_beta4"] < r["distortion_beta8"]
                for r in betas
            ),
        },
        "cpu_seconds": round(time.process_time() - start, 1),
        **machine(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
