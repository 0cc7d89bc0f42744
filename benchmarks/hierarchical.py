"""Benchmark: the two-layer hierarchical VAE on the digits over seeds — does its top layer collapse, and its NLL against the plain VAE.

Three models per seed, each trained with ``fit``'s defaults (Adamax, early stopping on the 350
validation digits) on the 1000 training digits, the book's ``VAEConfig`` (categorical decoder over
17 levels, two hidden layers of 256, decoder dropout 0.1, z_dim = 16):

* ``plain`` — ``VAE.from_config(config)``;
* ``residual`` — ``hierarchical_vae(config, z2_dim)`` (NVAE's residual top-down posterior, the default);
* ``precision`` — ``hierarchical_vae(config, z2_dim, combine="precision")`` (the Ladder VAE's
  precision weighting);
* ``precision_warmup`` — the same, trained with a KL warm-up (``fit(warmup_epochs=50)``), as the
  Ladder VAE paper trains.

On the 447 test digits: −ELBO (100 draws per image), NLL (k = ``--num-samples`` importance samples,
default 5000), the gap, and for the hierarchical models the KL per layer (``layer_kl``, 100 draws;
KL_2 exact per dimension, KL_1 exact given z_2), the number of units of each layer whose
data-averaged KL exceeds 0.1 nats, and Burda et al.'s active units per layer
(Cov_x E_q[z_j] > 0.01; E_q[z_1|x] by a 500-draw mean). The top layer counts as **collapsed**
when KL_2 < 1 nat per image (fixed before the run): less than one nat of each image passes
through z_2.

Prints one line per model and seed and, as its LAST line, one JSON object with every figure.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/hierarchical.py                  # 3 seeds, k = 5000
    OMP_NUM_THREADS=1 python benchmarks/hierarchical.py --seeds 1 --num-samples 50 --epochs 3   # smoke test
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from _common import machine, summary

import vae_edu
from vae_edu.data import load_digits_split
from vae_edu.estimators import log_likelihood
from vae_edu.metrics import active_units
from vae_edu.models import VAE, VAEConfig
from vae_edu.models.hierarchical import split_z
from vae_edu.models.ladder import hierarchical_vae, layer_kl
from vae_edu.training import fit, mean_negative_elbo

KINDS = ("plain", "residual", "precision", "precision_warmup")
WARMUP_EPOCHS = 50  # precision_warmup: beta rises linearly from 0 to 1 over these epochs (Sonderby et al. warm up too)
COLLAPSE_KL_2 = 1.0  # nats per image: the top layer is collapsed below it
UNIT_KL = 0.1  # nats: a unit with a larger data-averaged KL carries information


def run(kind: str, seed: int, z2_dim: int, num_samples: int, epochs: int) -> dict[str, float]:
    """Train one model and evaluate it; returns the figures of one seed."""
    vae_edu.setup(seed=seed)
    data = load_digits_split()
    config = VAEConfig()
    if kind == "plain":
        model = VAE.from_config(config)
    else:
        model = hierarchical_vae(config, z2_dim=z2_dim, combine=kind.removesuffix("_warmup"))
    warmup = WARMUP_EPOCHS if kind.endswith("_warmup") else 0
    wall, cpu = time.perf_counter(), time.process_time()
    history = fit(model, data.train.x, data.val.x, epochs=epochs, warmup_epochs=warmup, seed=seed, progress=False)
    train_wall, train_cpu = time.perf_counter() - wall, time.process_time() - cpu
    x = data.test.x
    gen = torch.Generator().manual_seed(10_000 + seed)
    out: dict[str, float] = {}
    with torch.no_grad():
        out["neg_elbo"] = mean_negative_elbo(model, x, num_samples=100, generator=gen)
        if kind == "plain":
            kl = model.kl_per_dim(x).mean(0)  # (z_dim,)
            out["kl"] = float(kl.sum())
            out["units_kl"] = int((kl > UNIT_KL).sum())
            out["active_units"] = active_units(model.encode(x).mu)[1]
        else:
            layers = layer_kl(model, x, num_samples=100, generator=gen)
            kl_1, kl_2 = layers.kl_1_per_dim.mean(0), layers.kl_2_per_dim.mean(0)
            q = model.encode(x)
            mean_z_1, _ = split_z(q.rsample(500, gen).mean(0), config.z_dim)  # E_q[z_1 | x], (N, z1_dim)
            out.update({
                "kl_1": float(kl_1.sum()), "kl_2": float(kl_2.sum()), "kl": float(kl_1.sum() + kl_2.sum()),
                "units_kl_1": int((kl_1 > UNIT_KL).sum()), "units_kl_2": int((kl_2 > UNIT_KL).sum()),
                "active_units_1": active_units(mean_z_1)[1], "active_units_2": active_units(q.mu_q2)[1],
            })  # fmt: skip
    wall, cpu = time.perf_counter(), time.process_time()
    out["nll"] = -log_likelihood(model, x, num_samples, generator=gen).mean().item()
    out["gap"] = out["neg_elbo"] - out["nll"]
    out.update({"epochs": history.epochs, "train_seconds": train_wall, "train_cpu_seconds": train_cpu,
                "eval_seconds": time.perf_counter() - wall, "eval_cpu_seconds": time.process_time() - cpu})  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...); default 3")
    parser.add_argument("--num-samples", type=int, default=5000, help="k for the test NLL; default 5000")
    parser.add_argument("--z2-dim", type=int, default=8, help="width of z_2; default 8")
    parser.add_argument("--epochs", type=int, default=1000, help="at most this many epochs (early stopping); default 1000")
    args = parser.parse_args()

    per_kind: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
    for seed in range(args.seeds):
        for kind in KINDS:
            r = run(kind, seed, args.z2_dim, args.num_samples, args.epochs)
            per_kind[kind].append(r)
            layers = (f", KL_1 {r['kl_1']:.2f}, KL_2 {r['kl_2']:.2f}, active units {r['active_units_1']}/"
                      f"{r['active_units_2']}" if kind != "plain" else f", KL {r['kl']:.2f}, active units {r['active_units']}")  # fmt: skip
            print(
                f"seed {seed} {kind}: test -ELBO {r['neg_elbo']:.2f}, NLL(k={args.num_samples}) {r['nll']:.2f}, "
                f"gap {r['gap']:.2f}{layers}; {r['epochs']} epochs, train {r['train_cpu_seconds']:.1f} s CPU, "
                f"eval {r['eval_cpu_seconds']:.1f} s CPU",
                flush=True,
            )
    results: dict[str, object] = {}
    for kind, runs in per_kind.items():
        entry: dict[str, object] = {key: summary([float(r[key]) for r in runs]) for key in runs[0]}
        if kind != "plain":
            entry["top_layer_collapsed"] = [r["kl_2"] < COLLAPSE_KL_2 for r in runs]
            diffs = [r["nll"] - p["nll"] for r, p in zip(runs, per_kind["plain"])]
            entry["nll_minus_plain"] = summary(diffs)
        results[kind] = entry
    report = {
        "benchmark": "hierarchical",
        "seeds": args.seeds,
        "num_samples": args.num_samples,
        "z2_dim": args.z2_dim,
        "max_epochs": args.epochs,
        "collapse_kl_2": COLLAPSE_KL_2,
        "unit_kl": UNIT_KL,
        "models": {"plain": "VAE.from_config(VAEConfig())",
                   "residual": f"hierarchical_vae(VAEConfig(), z2_dim={args.z2_dim})",
                   "precision": f"hierarchical_vae(VAEConfig(), z2_dim={args.z2_dim}, combine='precision')",
                   "precision_warmup": f"the precision model, fit(warmup_epochs={WARMUP_EPOCHS})"},  # fmt: skip
        "results": results,
        **machine(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
