"""The benchmark scripts import, and share one summary of a figure over seeds or runs.

The benchmarks are too slow for ``make test``; importing each one at least catches a broken
import or name before somebody spends an hour re-running it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(autouse=True)
def _benchmarks_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # as when a script runs: its directory comes first


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_every_benchmark_imports_and_has_a_main(script: Path) -> None:
    spec = importlib.util.spec_from_file_location(f"benchmark_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.main)
    assert "Usage::" in module.__doc__


def test_summary_over_seeds_and_runs() -> None:
    from _common import summary

    assert summary([1.0, 2.0, 4.0]) == {"mean": 2.333, "std": 1.528, "per_seed": [1.0, 2.0, 4.0]}
    assert summary([0.12345], digits=4, per="per_run", extremes=True) == {
        "mean": 0.1235, "std": 0.0, "min": 0.1235, "max": 0.1235, "per_run": [0.1235]}  # fmt: skip
    assert list(summary([3.0, 1.0], extremes=True)) == ["mean", "std", "min", "max", "per_seed"]
    with pytest.raises(ValueError, match="values is empty"):
        summary([])
    with pytest.raises(ValueError, match="per must be"):
        summary([1.0], per="per_epoch")


def test_machine_record() -> None:
    import torch
    from _common import machine

    record = machine()
    assert record["torch"] == torch.__version__ and record["threads"] == torch.get_num_threads()
    assert isinstance(record["machine"], str) and record["machine"]
    assert "_common" in sys.modules
