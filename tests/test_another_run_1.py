"""The robustness pass: every chapter, executed again as another run, keeps every assert.

nbval (``pytest --nbval-lax`` on ``notebooks/``) executes the chapters as run 0 and compares the
cells marked ``NBVAL_CHECK_OUTPUT`` with the committed outputs. Here each chapter runs once more,
top to bottom in a new kernel, with ``VAE_EDU_SEED=1`` (every seed the chapter uses moves, through
:func:`vae_edu.run_seed`) and ``ATEN_CPU_CAPABILITY=default`` (torch's unvectorised kernels, so every
reduction rounds as on another CPU). No output is compared: the run passes when every cell runs,
so every claim the chapter asserts holds for another run too. ``tools/another_run.py`` does the
same by hand, for any seed.

The chapters are shared between two files, this one (chapters 00, 02, 04, ...) and
``test_another_run_2.py`` (01, 03, 05, ...): ``make test`` gives each file to one of its two
pytest-xdist workers (``--dist loadfile``, which keeps the cells of a notebook on one worker), so
the two halves run side by side.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import another_run  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NOTEBOOKS = CHAPTERS[0::2]  # this file's half; test_another_run_2.py runs CHAPTERS[1::2]


def test_the_run_environment_sets_the_seed_and_the_cpu_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")  # a caller's non-interactive backend would lose the figures
    env = another_run.run_environment(seed=1, default_cpu=True)
    assert env["VAE_EDU_SEED"] == "1" and env["ATEN_CPU_CAPABILITY"] == "default"
    assert "MPLBACKEND" not in env
    assert "ATEN_CPU_CAPABILITY" not in another_run.run_environment(seed=2, default_cpu=False)


def test_the_two_files_share_every_chapter() -> None:
    import test_another_run_2

    assert sorted(NOTEBOOKS + test_another_run_2.NOTEBOOKS) == CHAPTERS


def check_another_run(path: Path) -> None:
    """Execute the chapter at ``path`` as run 1 on the unvectorised kernels; fail with its error."""
    result = another_run.execute(path, seed=1, default_cpu=True)
    assert result.error is None, f"{path.name} failed as run 1 with ATEN_CPU_CAPABILITY=default:\n{result.error}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_assert_holds_in_another_run(path: Path) -> None:
    check_another_run(path)
