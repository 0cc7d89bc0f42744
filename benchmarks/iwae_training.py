"""Benchmark: training the digits VAE on the IWAE bound L_k (k = 1, 5, 50), and the gradient SNR against k.

Burda et al. (2016) in miniature. Every model is the book's ``VAE.from_config()`` (categorical
decoder over 17 levels, two hidden layers of 256, z_dim 16, decoder dropout 0.1), initialised with
``torch.manual_seed(seed)`` and trained by ``fit`` (Adamax, minibatches of 64, early stopping on
the 350 validation digits, patience 20) on

* k = 1: the plain ELBO (closed-form KL) — exactly the book's model of chapter 05;
* k > 1: ``fit(objective="iwae", num_samples=k)``, minimising $-\\mathcal L_k$ (early stopping
  then watches $-\\mathcal L_k$ on the validation digits).

An epoch at k = 50 costs about 7 times one at k = 1 (2.7 s of CPU), so the runs with
k >= ``--cap-k`` stop after at most ``--cap-epochs`` epochs (default: k = 50 at 120 epochs; the
JSON records ``stop_reason`` and ``best_epoch`` of every run, so a run the cap cut short shows).

On the 447 test digits, per k and seed: the NLL $-\\log p(x)$ by importance sampling with
k = ``--num-samples`` (5000), the $-$ELBO and its KL term (100 draws of z per image), the active
units (:func:`~vae_edu.metrics.collapse.active_units` of the test means, threshold 0.01) and the change
in NLL against the same seed's k = 1 model (negative: better); and where the NLL is limited: the
NLL with k = ``--num-samples`` / 10 (500) on the test digits (``k500_minus_k5000``: how far the
estimate still moves) and on the 1000 training digits (``test_minus_train``: the generalisation
gap 1000 training images leave).

Then the cost Rainforth et al. (2018) found: at one fixed trained model (the k = 1 model of seed
0) and one minibatch (the first 64 training digits), the signal-to-noise ratio
$|\\mathbb E g_j| / \\operatorname{sd}(g_j)$ of the gradient of $\\mathcal L_k$ for every encoder and
decoder parameter (:func:`~vae_edu.gradients.gradient_snr`, ``--snr-repeats`` draws), for
k in ``--snr-ks``. Per part (over the parameters whose gradient is not identically 0) it reports
the pooled SNR (:meth:`~vae_edu.gradients.GradientSNR.pooled`: root mean signal power over root
mean noise power, with the noise of the mean taken out) and the median of the per-element SNRs
(which has a floor of about $1/\\sqrt R$), and the log-log slopes of the pooled SNR between
consecutive k.

Prints one line per run, each followed by the JSON of the runs so far (a run stopped early still
leaves a consistent record), and, as its LAST line, one JSON object with every figure.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/iwae_training.py                       # 3 seeds, k = 5000
    OMP_NUM_THREADS=1 python benchmarks/iwae_training.py --ks 1,5              # the book's run: k = 1, 5, SNR
    OMP_NUM_THREADS=1 python benchmarks/iwae_training.py --ks 50               # and k = 50 (saved apart)
    OMP_NUM_THREADS=1 python benchmarks/iwae_training.py --seeds 1 --ks 1,5 --epochs 3 \\
        --num-samples 50 --snr-ks 1,5 --snr-repeats 5                            # smoke test

Book: *Training with more samples: IWAE, and the book's best digits model*.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

import vae_edu
from vae_edu.metrics import active_units
from vae_edu.data import load_digits_split
from vae_edu.estimators import iwae_bound, log_likelihood
from vae_edu.gradients import gradient_snr
from vae_edu.models import VAE, VAEConfig
from vae_edu.training import fit

from _common import machine, summary


def evaluate(model: VAE, x: torch.Tensor, seed: int, num_samples: int, train_x: torch.Tensor) -> dict[str, float]:
    """Test NLL (k = ``num_samples``), -ELBO and KL (100 draws), active units; and the NLL with a tenth
    of the samples on the test and on the training digits. Each with its own generator."""
    cpu = time.process_time()
    nll = -log_likelihood(model, x, num_samples, generator=torch.Generator().manual_seed(10_000 + seed)).mean().item()
    eval_cpu = time.process_time() - cpu
    small = max(2, num_samples // 10)
    nll_small = -log_likelihood(model, x, small, generator=torch.Generator().manual_seed(40_000 + seed)).mean().item()
    train_small = -log_likelihood(model, train_x, small,
                                  generator=torch.Generator().manual_seed(50_000 + seed)).mean().item()  # fmt: skip
    gen = torch.Generator().manual_seed(20_000 + seed)
    neg_elbo = kl = 0.0
    with torch.no_grad():
        for start in range(0, x.shape[0], 64):
            terms = model.elbo_terms(x[start : start + 64], num_samples=100, generator=gen)
            neg_elbo -= float(terms.elbo().sum())
            kl += float(terms.kl.sum())
        mu_q = model.encode(x).mean  # (N, z_dim)
    return {"nll": nll, "neg_elbo": neg_elbo / x.shape[0], "kl": kl / x.shape[0],
            "active_units": float(active_units(mu_q)[1]), "nll_k500": nll_small, "train_nll_k500": train_small,
            "test_minus_train": nll_small - train_small, "k500_minus_k5000": nll_small - nll,
            "eval_cpu_seconds": eval_cpu}  # fmt: skip


def train(model: VAE, k: int, seed: int, cap: int | None) -> dict[str, object]:
    """``fit`` on the ELBO (k = 1) or on L_k; returns the history's figures."""
    data = load_digits_split("levels")
    options: dict[str, object] = {} if cap is None else {"epochs": cap}
    if k > 1:
        options |= {"objective": "iwae", "num_samples": k}
    cpu = time.process_time()
    history = fit(model, data.train.x, data.val.x, seed=seed, progress=False, **options)
    return {"train_cpu_seconds": time.process_time() - cpu, "epochs": history.epochs,
            "best_epoch": history.best_epoch + 1, "stop_reason": history.stop_reason}  # fmt: skip


def snr_figures(model: VAE, x: torch.Tensor, ks: list[int], repeats: int) -> dict[str, object]:
    """Encoder and decoder gradient SNR of L_k at a fixed model, for each k."""
    parts = {"encoder": list(model.encoder.parameters()), "decoder": list(model.decoder.parameters())}
    sizes = [sum(p.numel() for p in ps) for ps in parts.values()]
    bounds = dict(zip(parts, torch.tensor([0, *sizes]).cumsum(0).tolist()[:-1]))  # first element of each part
    out: dict[str, object] = {"ks": ks, "repeats": repeats, "batch": x.shape[0], "noise_floor": 1 / math.sqrt(repeats)}
    for name in parts:
        out[name] = {"pooled_snr": [], "median_snr": []}
    cpu = time.process_time()
    for k in ks:
        gen = torch.Generator().manual_seed(30_000 + k)
        result = gradient_snr(lambda: iwae_bound(model, x, k, gen).mean(), parts["encoder"] + parts["decoder"],
                              num_repeats=repeats)  # fmt: skip
        for name, size in zip(parts, sizes):
            index = torch.arange(bounds[name], bounds[name] + size)
            used = index[result.std[index] > 0]  # a weight of a pixel that is 0 in every image gets no gradient
            out[name]["pooled_snr"].append(round(result.pooled(used), 4))
            out[name]["median_snr"].append(round(result.snr[used].median().item(), 4))
    out["cpu_seconds"] = time.process_time() - cpu
    for name in parts:  # log-log slope between consecutive k: -1/2 and +1/2 in Rainforth's limit
        pooled = out[name]["pooled_snr"]
        out[name]["slopes"] = [round(math.log(b / a) / math.log(kb / ka), 3) if a > 0 and b > 0 else None
                               for a, b, ka, kb in zip(pooled, pooled[1:], ks, ks[1:])]  # fmt: skip
    return out


def report(args: argparse.Namespace, runs: dict[int, list[dict[str, object]]], snr: dict[str, object]) -> str:
    """The JSON line of the runs so far."""
    results: dict[str, dict[str, object]] = {}
    for k, rs in runs.items():
        entry: dict[str, object] = {f: summary([float(r[f]) for r in rs])  # type: ignore[arg-type]
                                    for f, v in rs[0].items() if isinstance(v, float)}  # fmt: skip
        entry |= {f: [r[f] for r in rs] for f in ("epochs", "best_epoch", "stop_reason")}
        if k != 1 and 1 in runs:
            entry["nll_change_vs_k1"] = summary([float(r["nll"]) - float(s["nll"]) for r, s in zip(rs, runs[1])])  # type: ignore[arg-type]
        results[f"k={k}"] = entry

    return json.dumps({
        "benchmark": "iwae_training",
        "model": "VAE.from_config() (z_dim 16), torch.manual_seed(seed) weights, fit(seed=seed) defaults",
        "seeds": args.seeds,
        "seeds_done": {f"k={k}": len(rs) for k, rs in runs.items()},
        "num_samples": args.num_samples,
        "epoch_cap": {"k_at_least": args.cap_k, "epochs": args.cap_epochs} if args.epochs is None else {"all": args.epochs},
        "results": results,
        "snr": snr,
        **machine(),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...); default 3")
    parser.add_argument("--ks", default="1,5,50", help="comma-separated k to train with; default 1,5,50")
    parser.add_argument("--num-samples", type=int, default=5000, help="k for the test NLL; default 5000")
    parser.add_argument("--epochs", type=int, default=None, help="cap on epochs for every k (smoke tests)")
    parser.add_argument("--cap-k", type=int, default=50, help="runs with k >= this are capped; default 50")
    parser.add_argument("--cap-epochs", type=int, default=120, help="their cap on epochs; default 120")
    parser.add_argument("--snr-ks", default="1,5,50,200", help="k for the gradient SNR; default 1,5,50,200")
    parser.add_argument("--snr-repeats", type=int, default=100, help="gradient draws per k; default 100")
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    data = load_digits_split("levels")

    runs: dict[int, list[dict[str, object]]] = {k: [] for k in ks}
    snr_model: VAE | None = None
    for seed in range(args.seeds):
        for k in ks:
            vae_edu.setup(seed=seed)
            torch.manual_seed(seed)  # the initial weights, as chapter 05
            model = VAE.from_config(VAEConfig())
            cap = args.epochs if args.epochs is not None else (args.cap_epochs if k >= args.cap_k else None)
            r = train(model, k, seed, cap) | evaluate(model, data.test.x, seed, args.num_samples, data.train.x)
            runs[k].append(r)
            if seed == 0 and k == 1:
                snr_model = model
            print(f"seed {seed} k={k}: test NLL {r['nll']:.2f}, -ELBO {r['neg_elbo']:.2f} (KL {r['kl']:.2f}), "
                  f"active {r['active_units']:.0f}; {r['epochs']} epochs (best {r['best_epoch']}, "
                  f"{r['stop_reason']}), train {r['train_cpu_seconds']:.0f} s CPU, "
                  f"eval {r['eval_cpu_seconds']:.0f} s CPU", flush=True)  # fmt: skip
            print(report(args, {k: rs for k, rs in runs.items() if rs}, {}), flush=True)  # the runs so far
    snr: dict[str, object] = {}
    if snr_model is not None:
        snr = snr_figures(snr_model, data.train.x[:64], [int(k) for k in args.snr_ks.split(",")], args.snr_repeats)
        for name in ("encoder", "decoder"):
            print(f"gradient SNR, {name}: pooled {snr[name]['pooled_snr']} at k = {snr['ks']}, "  # type: ignore[index]
                  f"slopes {snr[name]['slopes']}", flush=True)  # type: ignore[index]
    print(report(args, runs, snr))


if __name__ == "__main__":
    main()
