"""The chapters' run under pytest: nbval's kernels get run 1's environment (``notebooks/conftest.py``).

``pytest`` executes every chapter once, as run 1 (``VAE_EDU_SEED=1``); the cells marked
``NBVAL_CHECK_OUTPUT`` must still print what the committed run 0 printed. Here a two-cell notebook that
prints its kernel's environment is run under that conftest in a separate pytest, with the default
options, with ``--chapter-kernels default`` (torch's unvectorised kernels) and with ``--chapter-seed 0``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import another_run  # noqa: E402

PRINT_RUN = 'import os\nprint(os.environ.get("VAE_EDU_SEED"), os.environ.get("ATEN_CPU_CAPABILITY", "native"))'


def test_the_run_environment_sets_the_seed_and_the_cpu_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")  # a caller's non-interactive backend would lose the figures
    env = another_run.run_environment(seed=1, default_cpu=True)
    assert env["VAE_EDU_SEED"] == "1" and env["ATEN_CPU_CAPABILITY"] == "default"
    assert "MPLBACKEND" not in env
    assert "ATEN_CPU_CAPABILITY" not in another_run.run_environment(seed=2, default_cpu=False)


def _notebook(printed: str) -> nbformat.NotebookNode:
    """Two checked cells: the kernel's run printed at the start, and again later (the same kernel)."""
    cells = []
    for count in (1, 2):
        cell = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\n" + PRINT_RUN, execution_count=count)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _pytest(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "--nbval-lax",
               "--nbval-current-env", "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path),
               str(tmp_path / "notebooks"), *options]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "notebooks" / "conftest.py", tmp_path / "notebooks" / "conftest.py")
    shutil.copy(ROOT / "tools" / "another_run.py", tmp_path / "tools" / "another_run.py")
    return tmp_path


def test_the_chapters_run_as_run_1(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")  # a caller's setting does not reach the kernel
    nbformat.write(_notebook("1 native\n"), project / "notebooks" / "run.ipynb")
    result = _pytest(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert "chapters run as VAE_EDU_SEED=1, ATEN_CPU_CAPABILITY=(this CPU)" in result.stdout


def test_the_options_select_the_kernels_and_the_run(project: Path) -> None:
    nbformat.write(_notebook("1 default\n"), project / "notebooks" / "run.ipynb")
    assert _pytest(project).returncode != 0  # by default the kernel prints "1 native"
    result = _pytest(project, "--chapter-kernels", "default")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    nbformat.write(_notebook("0 native\n"), project / "notebooks" / "run.ipynb")
    result = _pytest(project, "--chapter-seed", "0")
    assert result.returncode == 0, result.stdout + result.stderr
