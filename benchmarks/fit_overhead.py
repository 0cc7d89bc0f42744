"""Benchmark: what ``vae_edu.training.loop.fit`` costs on top of a bare training loop on the same model.

Both loops train the book's default digits model (``VAE.from_config()``) for ``--epochs`` epochs
with Adamax (lr 1e-3, minibatches of 64), the same shuffling, the same noise and a validation
−ELBO after every epoch (what early stopping needs); the bare loop is the ~12 lines a reader
would write, with nothing else. ``fit`` adds its argument and data checks, the history, the copy
of the best parameters, the progress bar (off) and the restoring of torch's global generator.
Both produce the same parameters; the benchmark checks that first, then times each loop
``--repeats`` times, alternating, in CPU seconds on one thread, and reports the ratio of the
fastest runs — against the bare loop as a reader writes it (the model checks each minibatch,
``validate_args`` on by default) and against the same loop with ``validate_args=False``.

Target: ratio ≤ 1.10 (issue 14). Prints one line per run and, as its LAST line, one JSON object.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/fit_overhead.py               # 20 epochs, 3 repeats
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

import vae_edu
from vae_edu.data import load_digits_split
from vae_edu.models import VAE
from vae_edu.training import mean_negative_elbo
from vae_edu.training import fit

TARGET = 1.10


def bare_loop(model: VAE, x_train: torch.Tensor, x_val: torch.Tensor, epochs: int, seed: int) -> None:
    """The loop a reader writes: shuffle, step on -ELBO, validate. Same draws as fit's."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adamax(model.parameters(), lr=1e-3)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))  # dropout, as fit does
        for _ in range(epochs):
            model.train()
            for index in torch.randperm(len(x_train), generator=gen).split(64):
                loss = -model.elbo(x_train[index], generator=gen).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            model.eval()
            mean_negative_elbo(model, x_val, generator=torch.Generator().manual_seed(seed + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    vae_edu.setup(seed=0)
    data = load_digits_split()

    def fresh() -> VAE:
        torch.manual_seed(0)
        return VAE.from_config()

    a, b = fresh(), fresh()
    fit(a, data.train.x, data.val.x, epochs=2, patience=None, progress=False, seed=0)
    bare_loop(b, data.train.x, data.val.x, 2, 0)
    same = all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    print(f"same parameters after 2 epochs: {same}")
    times: dict[str, list[float]] = {"fit": [], "bare": [], "bare_unchecked": []}
    for repeat in range(args.repeats):
        for name in times:
            model = fresh()
            model.validate_args = name != "bare_unchecked"  # fit checks the data once, then not per step
            cpu = time.process_time()
            if name == "fit":
                fit(model, data.train.x, data.val.x, epochs=args.epochs, patience=None, progress=False, seed=0)
            else:
                bare_loop(model, data.train.x, data.val.x, args.epochs, 0)
            times[name].append(time.process_time() - cpu)
            print(f"repeat {repeat}: {name:4s} {times[name][-1]:.2f} s CPU")
    ratio = min(times["fit"]) / min(times["bare"])
    ratio_unchecked = min(times["fit"]) / min(times["bare_unchecked"])
    print(f"fit / bare loop = {ratio:.3f} (target <= {TARGET}); "
          f"fit / bare loop without the per-step data check = {ratio_unchecked:.3f}")
    print(json.dumps({
        "benchmark": "fit_overhead", "epochs": args.epochs, "repeats": args.repeats, "same_parameters": same,
        "cpu_seconds": {k: [round(t, 3) for t in v] for k, v in times.items()}, "ratio": round(ratio, 4),
        "ratio_to_unchecked_loop": round(ratio_unchecked, 4),
        "target": TARGET, "meets_target": ratio <= TARGET, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
