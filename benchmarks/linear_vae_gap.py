"""Benchmark: train the linear VAE on the digits' training part and measure how close its ELBO gets
to the exact maximum log-likelihood of probabilistic PCA.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/linear_vae_gap.py [--z-dim 16] [--num-iterations 2000]

The model is trained in float64 by L-BFGS on the closed-form ELBO (``fit_exact_elbo``), from a
seeded random initialisation, on the 1000 training images (pixel values levels / 16 in [0, 1]).
The LAST line printed is one JSON object; every figure in it is per image, in nats:

* ``max_log_likelihood``: the exact maximum of log p(x), closed-form pPCA (``LinearGaussian.fit``);
* ``decoder_log_likelihood``: the exact log p(x) of the trained decoder;
* ``elbo``: the exact ELBO of the trained VAE;
* ``gap``: ``max_log_likelihood - elbo`` (the limit is 0; the target is <= 0.005), which splits
  into ``decoder_gap`` (``max_log_likelihood - decoder_log_likelihood``) plus
  ``kl_to_posterior`` (``decoder_log_likelihood - elbo``, the mean KL(q(z|x) || p(z|x)));
* ``max_principal_angle_rad``: the largest principal angle between the decoder's columns and
  the principal subspace;
* ``train_wall_s``, ``train_cpu_s``: training time (wall clock and this process's CPU time).

Book: *The linear VAE is probabilistic PCA*.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from scipy.linalg import subspace_angles

import vae_edu
from vae_edu.data import load_digits_split
from vae_edu.exact import LinearGaussian
from vae_edu.exact import LinearVAE, fit_exact_elbo

GAP_TARGET = 0.005  # nats per image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--z-dim", type=int, default=16)
    parser.add_argument("--num-iterations", type=int, default=2000, help="L-BFGS iterations (chapter 04 uses 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    args = parser.parse_args()

    vae_edu.setup(seed=args.seed)
    x = load_digits_split("unit", dtype=torch.float64).train.x  # (1000, 64)
    ml = LinearGaussian.fit(x, args.z_dim)
    max_log_likelihood = float(ml.log_marginal(x).mean())

    model = LinearVAE(x.shape[1], args.z_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(args.seed))
    wall, cpu = time.perf_counter(), time.process_time()
    history = fit_exact_elbo(model, x, num_iterations=args.num_iterations)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

    decoder = model.to_linear_gaussian()
    with torch.no_grad():
        elbo = float(model.elbo_exact(x).mean())
    decoder_log_likelihood = float(decoder.log_marginal(x).mean())
    angles = subspace_angles(decoder.W.numpy(), ml.W.numpy())
    result = {
        "z_dim": args.z_dim,
        "n_train": int(x.shape[0]),
        "num_iterations": args.num_iterations,
        "max_log_likelihood": max_log_likelihood,
        "decoder_log_likelihood": decoder_log_likelihood,
        "elbo": elbo,
        "gap": max_log_likelihood - elbo,
        "decoder_gap": max_log_likelihood - decoder_log_likelihood,
        "kl_to_posterior": decoder_log_likelihood - elbo,
        "gap_target": GAP_TARGET,
        "gap_ok": max_log_likelihood - elbo <= GAP_TARGET,
        "elbo_at_start": history[0],
        "max_principal_angle_rad": float(angles.max()),
        "train_wall_s": round(wall, 3),
        "train_cpu_s": round(cpu, 3),
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
