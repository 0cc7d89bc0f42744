"""The chapters quote some figures from benchmark runs too slow for a page; tie each quote to the run.

A benchmark prints, as its last line, one JSON object. That line of the run a chapter quotes is kept in
``benchmarks/results/``; these tests check that the chapter's tables say exactly what it says, so a
re-run with other figures (or an edited table) cannot leave the book quoting numbers nobody measured.
To refresh after re-running a benchmark: save its last line over the JSON file and update the table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _markdown(notebook: str) -> str:
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def _run(name: str) -> dict:
    path = RESULTS / name
    if not path.exists():
        pytest.fail(f"{path} is missing: save the last line of the benchmark run the chapter quotes")
    return json.loads(path.read_text())


def test_iaf_chapter_quotes_the_three_seed_benchmark() -> None:
    run = _run("iaf_gap.json")
    assert run["seeds"] == 3 and run["num_samples"] == 5000 and run["val_num_samples"] == 10
    result = run["results"]["z_dim=16"]
    text = _markdown("10_iaf.ipynb")

    def cell(entry: dict) -> str:
        return f"{entry['mean']:.2f} ± {entry['std']:.2f}"

    for label, model in (("plain VAE", "vae"), ("IAF-VAE ($T = 4$)", "iaf")):
        m = result[model]
        row = f"| {label} | {cell(m['neg_elbo'])} | {cell(m['nll'])} | {cell(m['nll_defensive'])} | {cell(m['gap'])} |"
        assert row in text, f"chapter 10 should quote the benchmark row {row!r}"
    reduction = result["gap_reduction"]
    seeds = [f"{v:.2f}" for v in reduction["per_seed"]]
    quote = f"{cell(reduction)} nats ({seeds[0]}, {seeds[1]} and {seeds[2]} for seeds 0, 1, 2)"
    assert quote in text, f"chapter 10 should quote {quote!r}"


def test_iaf_chapter_quotes_the_latent_size_run() -> None:
    run = _run("iaf_gap_zdims.json")
    assert run["seeds"] == 1 and run["num_samples"] == 1000
    text = _markdown("10_iaf.ipynb")
    assert "--seeds 1 --z-dims 2,16,32 --num-samples 1000 --val-num-samples 0" in text  # each its own -ELBO
    for key, result in run["results"].items():
        z_dim = int(key.removeprefix("z_dim="))
        parts = []
        for model in ("vae", "iaf"):
            m = result[model]
            parts.append(f"{m['neg_elbo']['mean']:.2f} / {m['nll']['mean']:.2f} / {m['gap']['mean']:.2f}")
        row = f"| {z_dim} | {parts[0]} | {parts[1]} | {result['gap_reduction']['mean']:.2f} |"
        assert row in text, f"chapter 10 should quote the benchmark row {row!r}"
