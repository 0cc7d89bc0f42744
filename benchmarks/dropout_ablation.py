"""Benchmark: the digits VAE with and without decoder dropout, over the same seeds.

The book's digits model puts dropout (p = 0.1) after each hidden layer of the decoder
(``VAEConfig.decoder_dropout``); the code of Tomczak's *Deep Generative Modeling* (intro_dgm),
whose split, networks and recipe the chapter otherwise follows, has none. This benchmark trains
the chapter's recipe with ``decoder_dropout`` 0.0 and 0.1 for seeds 0, 1, ... (each seed: the same
initial weights draw, ``fit(seed=s)``, and the same evaluation noise for both arms, through
``benchmarks/digits_seed_spread.run``) and reports, per arm, the test -ELBO (100 draws of z), the
test NLL at k = 5000, the gap, the epochs, and the per-seed differences (dropout 0.1 minus 0.0).

Prints one line per run and, as its LAST line, one JSON object.

Usage::

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/dropout_ablation.py            # 3 seeds, k = 5000

Book: *Training a VAE on digits* (section *Seeds: how much do these numbers move?*).
"""

from __future__ import annotations

import argparse
import functools
import json
import time

import torch
from digits_seed_spread import run  # benchmarks/ is on sys.path when this file is run

from _common import machine, summary


_summary = functools.partial(summary, digits=4)  # as this benchmark's JSON has it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...); default 3")
    parser.add_argument("--num-samples", type=int, default=5000, help="k for the test NLL; default 5000")
    parser.add_argument("--dropouts", default="0.0,0.1", help="decoder dropout of each arm; default 0.0,0.1")
    args = parser.parse_args()
    dropouts = [float(p) for p in args.dropouts.split(",")]

    cpu = time.process_time()
    arms: dict[str, dict[str, object]] = {}
    raw: dict[str, list[dict[str, object]]] = {}
    for p in dropouts:
        runs = []
        for seed in range(args.seeds):
            r = run(seed, args.num_samples, decoder_dropout=p)
            runs.append(r)
            print(
                f"dropout {p}: seed {seed}: test -ELBO {r['neg_elbo']:.2f}, NLL {r['nll']:.3f} "
                f"± {r['nll_se_estimator']:.3f} (estimator), gap {r['gap']:.2f}; {r['epochs']} epochs "
                f"(best {r['best_epoch']}); train {r['train_cpu_seconds']:.1f} s, eval {r['eval_cpu_seconds']:.1f} s CPU",
                flush=True,
            )
        raw[str(p)] = runs
        arms[str(p)] = {
            key: _summary([float(r[key]) for r in runs])
            for key in ("neg_elbo", "nll", "gap", "kl_prior", "best_val_loss", "nll_se_estimator")
        }
        arms[str(p)]["epochs"] = [r["epochs"] for r in runs]
        arms[str(p)]["best_epoch"] = [r["best_epoch"] for r in runs]
    difference = {}
    if len(dropouts) == 2:
        low, high = (str(p) for p in dropouts)
        for key in ("neg_elbo", "nll"):
            difference[key] = _summary([float(b[key]) - float(a[key]) for a, b in zip(raw[low], raw[high])])
    report = {
        "benchmark": "dropout_ablation",
        "model": "VAE.from_config(VAEConfig(decoder_dropout=p)), fit defaults, seed s",
        "seeds": args.seeds,
        "num_samples": args.num_samples,
        "dropouts": dropouts,
        "arms": arms,
        "difference_high_minus_low": difference,
        "cpu_seconds": round(time.process_time() - cpu, 1),
        **machine(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
