"""Execute chapters top to bottom as *another run*: another seed, torch's unvectorised CPU kernels.

The committed outputs are run 0 on the machine that executed them. A reader's run differs: Colab,
a laptop or another CPU changes every trained number in its later digits, and ``VAE_EDU_SEED``
(see :func:`vae_edu.run_seed`) changes every seed a chapter uses. This tool executes a chapter in
a fresh kernel whose environment sets

* ``VAE_EDU_SEED`` (default 1): every seed of the chapter moves to another run;
* ``ATEN_CPU_CAPABILITY=default``: torch uses its unvectorised kernels, as on a CPU without the
  vector instructions of this one, so every reduction rounds differently;
* no ``MPLBACKEND``: the kernel's own inline backend, as in Jupyter.

Nothing is compared with the committed outputs; the run passes when every cell runs, i.e. every
assert of the chapter holds. The notebook file is not modified. Inside ``make test``, nbval runs every
chapter in this environment (``notebooks/conftest.py``, run 1), and also compares the cells marked
``NBVAL_CHECK_OUTPUT``. By hand, for any run:

    python tools/another_run.py notebooks/06_collapse_and_beta.ipynb            # run 1
    python tools/another_run.py --seed 2 --native notebooks/0*.ipynb           # run 2, this CPU's kernels
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
#: Per-cell limit: generous, since the unvectorised kernels are slower than the chapter's own run.
CELL_TIMEOUT = 900


@dataclass
class RunResult:
    """What one execution gave: wall-clock seconds and, if a cell failed, its error text."""

    path: Path
    seconds: float
    error: str | None


def run_environment(seed: int, default_cpu: bool) -> dict[str, str]:
    """The kernel's environment for run ``seed``: this process's, with the run's variables set."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["VAE_EDU_SEED"] = str(seed)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    if default_cpu:
        env["ATEN_CPU_CAPABILITY"] = "default"
    else:
        env.pop("ATEN_CPU_CAPABILITY", None)
    return env


def execute(path: Path, seed: int = 1, default_cpu: bool = True, timeout: int = CELL_TIMEOUT) -> RunResult:
    """Execute the notebook at ``path`` as run ``seed`` in a new kernel; the file is left untouched."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute(env=run_environment(seed, default_cpu))
    except CellExecutionError as err:
        return RunResult(path, time.perf_counter() - start, str(err))
    return RunResult(path, time.perf_counter() - start, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--seed", type=int, default=1, help="VAE_EDU_SEED for the run (default 1)")
    parser.add_argument("--native", action="store_true", help="keep this CPU's vectorised kernels")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.notebooks:
        result = execute(path, seed=args.seed, default_cpu=not args.native)
        status = "ok" if result.error is None else "FAILED"
        print(f"{path}  VAE_EDU_SEED={args.seed}{'' if args.native else ' ATEN_CPU_CAPABILITY=default'}  "
              f"{result.seconds:.1f} s  {status}", flush=True)
        if result.error is not None:
            failed += 1
            print(result.error, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
