"""nbval runs every chapter as *another run*: run 1 (``VAE_EDU_SEED=1``), not the committed run 0.

The committed outputs are run 0 on the machine that executed them (``make execute``). A reader's run
differs: another CPU changes every trained number in its later digits, and ``VAE_EDU_SEED`` moves
every seed a chapter uses (:func:`vae_edu.run_seed`). So ``pytest`` executes each chapter in a kernel
whose environment sets ``VAE_EDU_SEED=1`` (and no ``MPLBACKEND``), the environment of
``tools/another_run.py``. In that one run

* every assert of the chapter must hold: its claims hold for another seed and another CPU;
* every cell marked ``NBVAL_CHECK_OUTPUT`` must print exactly what the book shows (run 0, committed):
  only what exact arithmetic fixes, independent of the seed and of the CPU, may be compared.

``--chapter-kernels default`` also sets ``ATEN_CPU_CAPABILITY=default`` (torch's unvectorised kernels,
which round like another CPU; about 1.3 times slower): what ``tools/another_run.py`` does by default,
and what every chapter must pass before its issue is called resolved. ``make test`` keeps this CPU's
kernels, to stay within its time budget. ``pytest notebooks --chapter-seed 0`` runs the chapters as
the committed run 0.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import another_run  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vae-edu chapters")
    group.addoption("--chapter-seed", type=int, default=1,
                    help="VAE_EDU_SEED of the chapters' kernels (default 1; 0 is the committed run)")
    group.addoption("--chapter-kernels", choices=("native", "default"), default="native",
                    help="this CPU's own kernels (the default), or ATEN_CPU_CAPABILITY=default: "
                         "torch's unvectorised kernels")


def chapter_environment(config: pytest.Config) -> dict[str, str]:
    """The environment of the chapters' kernels, as the options ask."""
    seed = config.getoption("--chapter-seed")
    return another_run.run_environment(seed, default_cpu=config.getoption("--chapter-kernels") == "default")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    # nbval starts a notebook's kernel when its first cell is set up; the kernel inherits os.environ.
    notebook = item.parent
    if getattr(notebook, "kernel", True) is not None:  # not an nbval cell, or the kernel is running
        yield
        return
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(chapter_environment(item.config))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def pytest_report_header(config: pytest.Config) -> str:
    env = chapter_environment(config)
    return (f"chapters run as VAE_EDU_SEED={env['VAE_EDU_SEED']}, "
            f"ATEN_CPU_CAPABILITY={env.get('ATEN_CPU_CAPABILITY', '(this CPU)')}")
