"""Benchmark: chapter 15's VQ-VAEs on the digits, run as the chapter runs them, for several runs.

Chapter 15 (*Discrete latents*) trains, in one run, three VQ-VAEs with the same encoder, decoder and
code grid (M = 8 positions, K = 32 codes of dimension D = 4): a codebook trained by gradient, the
same with dead codes restarted after each epoch, and an EMA codebook; then an autoregressive prior
over the EMA model's codes, and the book's Gaussian VAE for comparison. What one run shows depends
on the run. This script repeats those sections for runs ``0 .. --runs - 1``, exactly as the chapter
does with ``VAE_EDU_SEED`` set to the run, and reports per run

* for each VQ-VAE: the codes in use and the code perplexity on the training images after the last
  epoch, and the test reconstruction term -log p(x|z_q) and -ELBO = -log p(x|z_q) + M log K;
* for the EMA model with its code prior: the test -log p(k*(x)) (against M log K), the likelihood
  bound -log p(x|z_q) - log p(k*), and the classifier's mean confidence on 1000 samples with the
  uniform and the learned prior;
* the Gaussian VAE's test -ELBO and its samples' confidence.

Prints one line per run and, as its LAST line, one JSON object with every figure.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/vq_codebook.py             # runs 0..2, about 3 min CPU
    OMP_NUM_THREADS=1 python benchmarks/vq_codebook.py --runs 1 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time

import torch

import vae_edu
from vae_edu.data import load_digits_split
from vae_edu.estimators import mc_mean
from vae_edu.models import (
    VAE,
    AutoregressiveCodePrior,
    Decoder,
    QuantisedEncoder,
    UniformCodePrior,
    VAEConfig,
    VectorQuantiser,
    code_perplexity,
    fit_code_prior,
    mlp,
)
from vae_edu.metrics import fit_digit_classifier, nearest_neighbour_distance, sample_quality
from vae_edu.training import fit

M, D, K = 8, 4, 32  # the chapter's code grid
VARIANTS = {"gradient": (None, False), "gradient+restart": (None, True), "ema": (0.95, False)}


def make_vq_vae(ema_decay: float | None) -> VAE:
    """The chapter's VQ-VAE: an MLP encoder to M x D, K codes, the book's categorical decoder."""
    vq = VectorQuantiser(K, D, ema_decay=ema_decay)
    encoder = QuantisedEncoder(mlp(64, 256, 2, M * D, "leaky_relu"), vq, M)
    return VAE(encoder, Decoder(VAEConfig(z_dim=M * D)), UniformCodePrior(vq, M))


def train_vq_vae(model: VAE, x: torch.Tensor, epochs: int, *, restart: bool, seed: int) -> tuple[list[int], list[float]]:
    """The chapter's loop: Adam on model.loss; after each epoch the codes' usage (and restarts)."""
    vq = model.encoder.quantiser
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    used, perplexity = [], []
    for epoch in range(epochs):
        model.train()
        for index in torch.randperm(len(x), generator=gen).split(64):
            loss = model.loss(x[index]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            z_e = model.encoder.net(x).unflatten(-1, (M, D))  # (N, M, D)
            codes = vq.nearest(z_e)  # (N, M)
        used.append(int((torch.bincount(codes.flatten(), minlength=K) > 0).sum()))
        perplexity.append(float(code_perplexity(codes, K)))
        if restart and epoch < epochs - 5:  # the last five epochs train the restarted codes
            vq.restart_dead_codes(z_e, generator=gen)
    return used, perplexity


def vq_run(run: int, epochs: int, classifier, real_test: torch.Tensor) -> dict[str, object]:
    """The chapter's VQ-VAE sections as run ``run``."""
    os.environ[vae_edu.utils.RUN_ENV] = str(run)
    vae_edu.setup(seed=0)
    levels = load_digits_split("levels")
    x_train, x_test = levels.train.x, levels.test.x
    out: dict[str, object] = {}
    models = {}
    for name, (ema_decay, restart) in VARIANTS.items():
        torch.manual_seed(vae_edu.run_seed(0))
        model = make_vq_vae(ema_decay)
        used, perplexity = train_vq_vae(model, x_train, epochs, restart=restart, seed=vae_edu.run_seed(1))
        with torch.no_grad():
            terms = model.elbo_terms(x_test)
        out[name] = {"used": used[-1], "perplexity": perplexity[-1],
                     "recon": float(-terms.reconstruction.mean()), "neg_elbo": float(-terms.elbo().mean())}  # fmt: skip
        models[name] = model
    model = models["ema"]
    with torch.no_grad():
        codes = {split: model.encode(getattr(levels, split).x).index for split in ("train", "val", "test")}
    torch.manual_seed(vae_edu.run_seed(2))
    prior = AutoregressiveCodePrior(model.encoder.quantiser, M, (256,))
    fit_code_prior(prior, codes["train"], codes["val"], seed=vae_edu.run_seed(2))
    ar_model = VAE(model.encoder, model.decoder, prior)
    with torch.no_grad():
        terms = ar_model.elbo_terms(x_test)
    neg_log_p_k = mc_mean(terms.kl.double())
    bound = mc_mean(-terms.elbo().double())
    gain = mc_mean((M * math.log(K) - terms.kl).double())  # paired, per test image
    gen = torch.Generator().manual_seed(vae_edu.run_seed(3))
    with torch.no_grad():
        samples = {"uniform": model.sample(1000, generator=gen) / 16, "autoregressive": ar_model.sample(1000, generator=gen) / 16}
    torch.manual_seed(vae_edu.run_seed(0))
    gaussian = VAE.from_config()
    fit(gaussian, x_train, levels.val.x, seed=vae_edu.run_seed(0), progress=False)
    with torch.no_grad():
        samples["gaussian"] = gaussian.sample(1000, generator=gen) / 16
        gauss_neg_elbo = float(-gaussian.elbo(x_test, num_samples=100, generator=gen).mean())
    quality = {name: sample_quality(classifier, s) for name, s in samples.items()}
    out["code_prior"] = {"neg_log_p_k": float(neg_log_p_k[0]), "neg_log_p_k_se": float(neg_log_p_k[1]),
                         "m_log_k": M * math.log(K), "gain": float(gain[0]), "gain_se": float(gain[1]),
                         "bound": float(bound[0]), "bound_se": float(bound[1])}  # fmt: skip
    out["gaussian_neg_elbo"] = gauss_neg_elbo
    out["confidence"] = {name: [q.mean_confidence, q.confidence_stderr] for name, q in quality.items()}
    out["classes_covered"] = {name: q.num_classes_covered for name, q in quality.items()}
    nearest = {name: mc_mean(nearest_neighbour_distance(s, real_test).double()) for name, s in samples.items()}
    out["nearest_real"] = {name: [float(m), float(se)] for name, (m, se) in nearest.items()}
    counts = torch.stack([torch.bincount(codes["train"][:, m], minlength=K) for m in range(M)]).double()  # (M, K)
    p_hat = counts / counts.sum(-1, keepdim=True)
    with torch.no_grad():
        made_train = float(-prior.log_prob_index(codes["train"]).mean())
    out["train_codes"] = {"independent": float(-torch.xlogy(p_hat, p_hat).sum()), "made": made_train}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cpu0 = time.process_time()
    unit = load_digits_split("unit")
    classifier = fit_digit_classifier(unit.train.x, unit.train.y, seed=0)
    runs = []
    for run in range(args.runs):
        result = vq_run(run, args.epochs, classifier, unit.test.x)
        runs.append(result)
        line = ", ".join(f"{name} used {result[name]['used']} ppl {result[name]['perplexity']:.1f} "
                         f"recon {result[name]['recon']:.2f}" for name in VARIANTS)  # fmt: skip
        prior = result["code_prior"]
        print(f"run {run}: {line}; -log p(k) {prior['neg_log_p_k']:.2f} (M log K {prior['m_log_k']:.2f}), "
              f"bound {prior['bound']:.2f}, Gaussian -ELBO {result['gaussian_neg_elbo']:.2f}, "
              f"confidence {json.dumps(result['confidence'])}, nearest real {json.dumps(result['nearest_real'])}, "
              f"train codes {json.dumps(result['train_codes'])} ({time.process_time() - cpu0:.0f} s CPU)", flush=True)
    summary = {"benchmark": "vq_codebook", "runs": args.runs, "epochs": args.epochs, "M": M, "D": D, "K": K,
               "per_run": runs, "cpu_seconds": round(time.process_time() - cpu0, 1),
               "torch": torch.__version__, "platform": platform.platform()}  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
