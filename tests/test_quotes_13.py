"""Chapter 13's benchmark figures, tied to ``benchmarks/results/hierarchical.json``.

The chapter quotes a table (mean ± standard deviation over the seeds of one run of
``benchmarks/hierarchical.py``), the paired NLL differences against the plain VAE, and how many seeds
collapsed the top layer. These tests rebuild each quoted string from the JSON, so a re-run with other
figures cannot leave the chapter behind.
"""

from __future__ import annotations

from quotes import benchmark_result, chapter_text

LABELS = {
    "plain": "plain VAE",
    "residual": "two layers, residual",
    "precision": "two layers, precision-weighted",
    "precision_warmup": "two layers, precision-weighted, KL warm-up",
}


def _pm(entry: dict, digits: int = 2) -> str:
    return f"{entry['mean']:.{digits}f} ± {entry['std']:.{digits}f}"


def table_rows(result: dict) -> list[str]:
    """The chapter's table rows, one per model, from the benchmark's JSON."""
    rows = []
    for kind, label in LABELS.items():
        r = result["results"][kind]
        head = f"| {label} | {_pm(r['neg_elbo'])} | {_pm(r['nll'])} | {_pm(r['gap'])} |"
        if kind == "plain":
            rows.append(f"{head} {_pm(r['kl'])} (one layer) | | {_pm(r['active_units'], 1)} | |")
        else:
            collapsed = sum(r["top_layer_collapsed"])
            rows.append(
                f"{head} {_pm(r['kl_1'])} | {_pm(r['kl_2'])} | {_pm(r['active_units_1'], 1)} / "
                f"{_pm(r['active_units_2'], 1)} | {collapsed} of {result['seeds']} |"
            )
    return rows


def nll_sentence(result: dict) -> str:
    """The chapter's sentence with the paired NLL differences against the plain VAE."""
    parts = [f"{LABELS[kind]} {result['results'][kind]['nll_minus_plain']['mean']:+.2f} ± "
             f"{result['results'][kind]['nll_minus_plain']['std']:.2f}" for kind in LABELS if kind != "plain"]  # fmt: skip
    return "NLL minus the plain VAE's, paired by seed: " + "; ".join(parts) + " nats"


def _markdown() -> str:
    return chapter_text("13_hierarchical_vae.ipynb")


def test_the_table_is_the_benchmark_run() -> None:
    result = benchmark_result("hierarchical.json")
    assert result["seeds"] == 3 and result["num_samples"] == 5000
    text = _markdown()
    for row in table_rows(result):
        assert " ".join(row.split()) in text, row


def test_the_nll_differences_are_quoted_as_measured() -> None:
    result = benchmark_result("hierarchical.json")
    assert nll_sentence(result) in _markdown()


def test_the_collapse_criterion_is_the_benchmarks() -> None:
    result = benchmark_result("hierarchical.json")
    assert result["collapse_kl_2"] == 1.0 and result["z2_dim"] == 8
    assert "$\\mathrm{KL}_2 < 1$ nat per image" in _markdown()


def test_the_prose_claims_hold_for_every_seed() -> None:
    """The bullets after the table: each claim, checked against every seed of the run."""
    r = benchmark_result("hierarchical.json")["results"]
    text = _markdown()
    plain, residual, precision, warm = r["plain"], r["residual"], r["precision"], r["precision_warmup"]
    # residual: top layer collapsed in every seed, about 0.1 nats, no unit above 0.1, less rate than plain
    assert all(residual["top_layer_collapsed"]) and "collapses, in every seed" in text
    assert all(0.05 <= v < 0.15 for v in residual["kl_2"]["per_seed"]) and "about 0.1 nats" in text
    assert residual["units_kl_2"]["per_seed"] == [0, 0, 0] and "(none above 0.1 nats)" in text
    assert all(k < p for k, p in zip(residual["kl"]["per_seed"], plain["kl"]["per_seed"]))
    # precision without warm-up: KL_1 0.00, one unit of z_2 above 0.1 nats, -ELBO about 6 nats worse
    assert all(round(v, 2) == 0 for v in precision["kl_1"]["per_seed"]) and "is 0.00" in text
    assert precision["units_kl_2"]["per_seed"] == [1, 1, 1] and "one unit of $z_2$ with more than 0.1" in text
    worse = [p - q for p, q in zip(precision["neg_elbo"]["per_seed"], plain["neg_elbo"]["per_seed"])]
    assert all(5.5 <= w < 6.5 for w in worse) and "about 6 nats worse" in text
    # warm-up: the best two-layer NLL, KL_2 < 1 in two of three seeds, all 8 units active
    best = min(("residual", "precision", "precision_warmup"), key=lambda k: r[k]["nll"]["mean"])
    assert best == "precision_warmup" and "trains to the best two-layer NLL" in text
    assert sum(warm["top_layer_collapsed"]) == 2 and "below 1 nat in two of three seeds" in text
    assert warm["active_units_2"]["per_seed"] == [8, 8, 8] and "all 8 of its units" in text
    # no two-layer model beats the plain VAE; every gap is smaller
    for kind in ("residual", "precision", "precision_warmup"):
        assert all(d > 0 for d in r[kind]["nll_minus_plain"]["per_seed"])
        assert r[kind]["gap"]["mean"] < plain["gap"]["mean"]
    assert "No two-layer model reaches the plain VAE's NLL" in text
