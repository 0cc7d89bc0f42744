"""Benchmark: how far the 5000-sample likelihood estimate sits below log p(x), measured two ways.

Chapter *Training a VAE on digits* reports the test NLL as -L_5000 with a "±" that is the
importance sampler's standard error: the spread of the estimate from one draw of the 5000 samples
to the next. It says nothing of the estimate's bias, E[L_5000] < log p(x). This benchmark
measures that bias on a subset of the test digits (every 7th of the 447: 64 images) for the
chapter's model (``VAE.from_config(VAEConfig())``, ``fit``'s defaults, seed s for the weights and
for ``fit``, as ``benchmarks/digits_seed_spread.py``), by

* **L_k for k = 1 ... 20 000**, from ``--repeats`` independent draws of 20 000 log-weights per
  image: L_k of each image is the mean of log-mean-exp over the groups of k weights; the ± of a
  mean over images is the standard error over the repeats (each repeat's figure is one
  independent estimate);
* **annealed importance sampling** (``vae_edu.estimators.ais_likelihood.ais_log_likelihood``: chains from the prior,
  HMC transitions, a sigmoidal schedule of T temperatures, step sizes tuned by a pilot run and
  then fixed). It never uses the encoder, so its errors are independent of L_k's. Both are
  stochastic lower bounds; AIS's bias shrinks as T grows, so AIS - L_5000 > 0 measures (a lower
  bound on) the bias of L_5000. Its ± is the standard error over the 64 images of the per-image
  difference (so it also covers which images were picked);
* **bidirectional Monte Carlo** (seed 0, ``--bdmc-images`` digits simulated from the model: z ~ p(z),
  x ~ p(x|z)): forward AIS is a stochastic lower bound and reverse AIS from the exact posterior
  sample z a stochastic upper bound, so the pair brackets log p(x) there, and L_5000 can be set
  against the bracket.

Prints one line per measurement and, as its LAST line, one JSON object.

Usage::

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/nll_bias.py                  # the full run (results/nll_bias.json)
    OMP_NUM_THREADS=1 python benchmarks/nll_bias.py --smoke                    # a 1-minute check

Book: *Training a VAE on digits* (section *How good is the model?*).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch

import vae_edu
from vae_edu.estimators import ais_log_likelihood, reverse_ais_log_likelihood
from vae_edu.data import load_digits_split
from vae_edu.estimators import eval_mode, importance_log_mean, log_mean_exp, mc_mean
from vae_edu.models import VAE, VAEConfig
from vae_edu.training import fit

from _common import machine

IMAGE_STRIDE = 7  # every 7th test digit: 64 of the 447


def train(seed: int) -> tuple[VAE, object, float]:
    """The chapter's model, trained with one seed (as benchmarks/digits_seed_spread.py)."""
    vae_edu.setup(seed=seed)
    data = load_digits_split("levels")
    torch.manual_seed(seed)  # the initial weights
    model = VAE.from_config(VAEConfig())
    cpu = time.process_time()
    history = fit(model, data.train.x, data.val.x, seed=seed, progress=False)
    return model, data, time.process_time() - cpu


def log_weights(model: VAE, x: torch.Tensor, num_samples: int, gen: torch.Generator, chunk: int = 64) -> torch.Tensor:
    """``num_samples`` log importance weights per image, (K, B), in chunks of ``chunk`` samples."""
    parts = []
    with torch.inference_mode(), eval_mode(model):
        for start in range(0, num_samples, chunk):
            size = min(chunk, num_samples - start)
            parts.append(model.log_importance_weights(x, num_samples=size, generator=gen).double())
    return torch.cat(parts)  # (K, B)


def iwae_curve(log_w: torch.Tensor, ks: list[int]) -> dict[int, torch.Tensor]:
    """L_k of each image from one repeat's weights: the mean over its K/k groups, {k: (B,)}."""
    num, batch = log_w.shape
    return {k: log_mean_exp(log_w[: num // k * k].view(num // k, k, batch), dim=1).mean(0) for k in ks}


def mean_se(values: list[float]) -> dict[str, float]:
    """Mean and standard error of independent estimates."""
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return {"mean": round(statistics.fmean(values), 4), "se": round(se, 4)}


def paired(a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
    """Mean of a - b over the images and its standard error over the images."""
    mean, se = mc_mean(a - b)
    return {"mean": round(mean.item(), 4), "se": round(se.item(), 4)}


def measure_seed(seed: int, args: argparse.Namespace, temperatures: list[int], bdmc: bool) -> dict[str, object]:
    cpu0 = time.process_time()
    model, data, train_cpu = train(seed)
    x = data.test.x[::IMAGE_STRIDE][: args.num_images]  # (B, 64)
    gen = torch.Generator().manual_seed(20_000 + seed)
    out: dict[str, object] = {"train_cpu_seconds": round(train_cpu, 1), "num_images": len(x)}

    # L_k from independent repeats of k_max weights per image
    cpu = time.process_time()
    ks = [k for k in (1, 10, 100, 1000, 5000, 20_000) if k <= args.k_max]
    repeats = [iwae_curve(log_weights(model, x, args.k_max, gen), ks) for _ in range(args.repeats)]
    per_image = {k: torch.stack([r[k] for r in repeats]).mean(0) for k in ks}  # (B,) each
    l_k = {str(k): mean_se([r[k].mean().item() for r in repeats]) for k in ks}
    out["L_k"] = l_k
    # the chapter's "±": the delta-method standard error of one L_5000 draw, for the mean over these images
    k_ref = min(5000, args.k_max)
    ref_w = log_weights(model, x, k_ref, gen)  # (k_ref, B)
    ref, ref_se = importance_log_mean(ref_w)  # (B,), (B,)
    out["L_ref_k"] = k_ref
    out["L_ref_delta_se"] = round((ref_se.pow(2).sum().sqrt() / len(x)).item(), 4)
    rises = {}
    for k_low, k_high in zip(ks, ks[1:]):
        per_repeat = [(r[k_high] - r[k_low]).mean().item() for r in repeats]
        rises[f"{k_low}->{k_high}"] = mean_se(per_repeat)
    out["L_k_rise"] = rises
    out["L_k_cpu_seconds"] = round(time.process_time() - cpu, 1)
    print(
        f"seed {seed}: " + ", ".join(f"L_{k} {l_k[str(k)]['mean']:.3f} ± {l_k[str(k)]['se']:.3f}" for k in ks)
        + f" (mean over {len(x)} images; ± over {args.repeats} repeats); delta-method se of one L_{k_ref}: "
        f"{out['L_ref_delta_se']:.4f}",
        flush=True,
    )

    # AIS from the prior, T temperatures
    ais = {}
    for num_t in temperatures:
        cpu = time.process_time()
        log_p, stderr, result = ais_log_likelihood(
            model, x, num_temperatures=num_t, num_chains=args.chains, num_leapfrog=args.leapfrog, generator=gen
        )
        entry = {
            "mean": round(log_p.mean().item(), 4),
            "se_chains": round((stderr.pow(2).sum().sqrt() / len(x)).item(), 4),
            "minus_L_ref": paired(log_p, per_image[k_ref]),
            "minus_L_kmax": paired(log_p, per_image[ks[-1]]),
            "acceptance": round(result.acceptance.mean().item(), 3),
            "cpu_seconds": round(time.process_time() - cpu, 1),
        }
        ais[str(num_t)] = entry
        print(
            f"seed {seed}: AIS T = {num_t}: {entry['mean']:.3f} (± {entry['se_chains']:.3f} over chains), "
            f"AIS - L_{k_ref} = {entry['minus_L_ref']['mean']:+.3f} ± {entry['minus_L_ref']['se']:.3f}, "
            f"AIS - L_{ks[-1]} = {entry['minus_L_kmax']['mean']:+.3f} ± {entry['minus_L_kmax']['se']:.3f}; "
            f"acceptance {entry['acceptance']:.2f}, {entry['cpu_seconds']:.0f} s CPU",
            flush=True,
        )
    out["ais"] = ais

    if bdmc:
        cpu = time.process_time()
        with torch.no_grad():
            z_sim = model.prior.sample(args.bdmc_images, generator=gen)  # (S, z_dim)
            x_sim = model.decoder.sample(z_sim, generator=gen)  # (S, 64)
        num_t = temperatures[-1] if args.bdmc_temperatures is None else args.bdmc_temperatures
        lower, _, forward = ais_log_likelihood(
            model, x_sim, num_temperatures=num_t, num_chains=args.chains, num_leapfrog=args.leapfrog, generator=gen
        )
        z_post = z_sim.expand(args.chains, *z_sim.shape).clone()  # (C, S, z_dim): the exact posterior sample
        upper, _, _ = reverse_ais_log_likelihood(
            model, x_sim, z_post, num_temperatures=num_t, num_leapfrog=args.leapfrog,
            step_size=forward.step_size, generator=gen,
        )
        sim_curve = iwae_curve(log_weights(model, x_sim, args.k_max, gen), [k_ref, ks[-1]])
        out["bdmc"] = {
            "num_images": args.bdmc_images,
            "num_temperatures": num_t,
            "forward_mean": round(lower.mean().item(), 4),
            "reverse_mean": round(upper.mean().item(), 4),
            "gap": paired(upper, lower),
            "forward_minus_L_ref": paired(lower, sim_curve[k_ref]),
            "forward_minus_L_kmax": paired(lower, sim_curve[ks[-1]]),
            "cpu_seconds": round(time.process_time() - cpu, 1),
        }
        b = out["bdmc"]
        print(
            f"seed {seed}: BDMC on {args.bdmc_images} simulated digits, T = {num_t}: forward {b['forward_mean']:.3f}, "
            f"reverse {b['reverse_mean']:.3f}, gap {b['gap']['mean']:.3f} ± {b['gap']['se']:.3f}; "
            f"forward AIS - L_{k_ref} = {b['forward_minus_L_ref']['mean']:+.3f} ± {b['forward_minus_L_ref']['se']:.3f}",
            flush=True,
        )
    out["cpu_seconds"] = round(time.process_time() - cpu0, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0, 1, ...; default 3")
    parser.add_argument("--num-images", type=int, default=64, help="test digits (every 7th); default 64")
    parser.add_argument("--k-max", type=int, default=20_000, help="the largest k; default 20000")
    parser.add_argument("--repeats", type=int, default=3, help="independent draws of k_max weights; default 3")
    parser.add_argument("--temperatures", default="100,300,1000", help="AIS schedules for seed 0; default 100,300,1000")
    parser.add_argument("--temperatures-other", default="300", help="AIS schedules for the other seeds; default 300")
    parser.add_argument("--chains", type=int, default=8, help="AIS chains per image; default 8")
    parser.add_argument("--leapfrog", type=int, default=5, help="leapfrog steps per HMC transition; default 5")
    parser.add_argument("--bdmc-images", type=int, default=32, help="simulated digits for BDMC (seed 0)")
    parser.add_argument("--bdmc-temperatures", type=int, default=300, help="T of the BDMC runs; default 300")
    parser.add_argument("--smoke", action="store_true", help="a tiny run that checks the script")
    args = parser.parse_args()
    if args.smoke:
        args.seeds, args.num_images, args.k_max, args.repeats = 1, 8, 1000, 2
        args.temperatures, args.temperatures_other, args.bdmc_images, args.bdmc_temperatures = "20", "20", 4, 20
    first = [int(t) for t in args.temperatures.split(",")]
    other = [int(t) for t in args.temperatures_other.split(",")]

    cpu = time.process_time()
    per_seed = {str(s): measure_seed(s, args, first if s == 0 else other, bdmc=s == 0) for s in range(args.seeds)}
    k_ref = per_seed["0"]["L_ref_k"]
    common = [t for t in other if all(str(t) in r["ais"] for r in per_seed.values())]
    across = {}
    for t in common:
        values = [r["ais"][str(t)]["minus_L_ref"]["mean"] for r in per_seed.values()]
        across[str(t)] = {"per_seed": values, "mean": round(statistics.fmean(values), 4),
                          "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0}  # fmt: skip
    report = {
        "benchmark": "nll_bias",
        "model": "VAE.from_config(VAEConfig()), fit defaults, seed s",
        "images": f"test digits [::{IMAGE_STRIDE}], first {args.num_images}",
        "seeds": args.seeds,
        "k_max": args.k_max,
        "k_ref": k_ref,
        "repeats": args.repeats,
        "chains": args.chains,
        "leapfrog": args.leapfrog,
        "per_seed": per_seed,
        "ais_minus_L_ref_over_seeds": across,
        "smoke": args.smoke,
        "cpu_seconds": round(time.process_time() - cpu, 1),
        **machine(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
