"""What the tests that tie a chapter's quotes to a benchmark run read: the chapter's text, the run's JSON.

A benchmark prints, as its last line, one JSON object; the line of the run a chapter quotes is kept
in ``benchmarks/results/``. ``tests/test_benchmark_quotes.py`` and ``tests/test_quotes_NN.py``
check that the chapter says exactly what that line says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def chapter_text(notebook: str, kind: str = "markdown", *, flat: bool = True) -> str:
    """The ``kind`` cells ("markdown" or "code") of ``notebooks/<notebook>``, joined.

    With ``flat``, every run of whitespace becomes one space, so a quote may wrap anywhere.
    """
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == kind)
    return " ".join(text.split()) if flat else text


def benchmark_result(name: str) -> dict:
    """The JSON line kept in ``benchmarks/results/<name>``; fails the test if it is missing."""
    path = RESULTS / name
    if not path.exists():
        pytest.fail(f"{path} is missing: save the last line of the benchmark run the chapter quotes")
    return json.loads(path.read_text())
