"""Chapter 09 (VAE vs GAN) quotes a multi-run benchmark: tie each quote to its JSON.

One run of the chapter cannot say how often a GAN drops a mode, or which model wins on
the digits: ``benchmarks/vae_vs_gan.py`` runs the chapter's toy section 10 times (20
seeds of each model) and its digits section 10 times; its last line is kept in
``benchmarks/results/vae_vs_gan.json``. These tests check that the chapter's markdown
says exactly what that line says, and that no run of the benchmark contradicts what the
chapter asserts for every run. To refresh after re-running the benchmark: save its last
line over the JSON file and put the strings of :func:`quotes` into the text.
"""

from __future__ import annotations

import math

from quotes import benchmark_result, chapter_text

MODELS = ("gan", "vae_x", "vae_mean")  # GAN samples, VAE samples x ~ p(x|z), VAE means
NUM_TOY_SAMPLES = 4000  # samples per toy model, as in the chapter


def _markdown() -> str:
    return chapter_text("09_vae_vs_gan.ipynb", flat=False)


def _run() -> dict:
    return benchmark_result("vae_vs_gan.json")


def _mean_range(entry: dict, digits: int = 2) -> str:
    return f"{entry['mean']:.{digits}f} ({_range(entry, digits)})"


def _range(entry: dict, digits: int = 2) -> str:
    return f"{entry['min']:.{digits}f} to {entry['max']:.{digits}f}"


def _mean_std(entry: dict) -> str:
    return f"{entry['mean']:.2f} ± {entry['std']:.2f}"


def _per_seed(section: dict, key: str) -> list[float]:
    return section[key]["per_seed"]


def quotes(run: dict) -> dict[str, str]:
    """Every figure chapter 09 quotes from the benchmark, as the chapter writes it."""
    toy, dig = run["toy"], run["digits"]
    seeds, runs = run["toy_gan_seeds"], run["digit_runs"]

    def row(label: str, key: str, digits: int = 2) -> str:
        cells = " | ".join(_mean_range(toy[f"{m}_{key}"], digits) for m in MODELS)
        return f"| {label} | {cells} |"

    vae_nn, vae_nn_in_se = [], []  # memorisation: the VAE's samples and means
    for m in ("vae_x", "vae_mean"):
        differences = _per_seed(dig, f"{m}_nn_difference")
        errors = _per_seed(dig, f"{m}_nn_difference_se")
        vae_nn += differences
        vae_nn_in_se += [-d / se for d, se in zip(differences, errors)]
    classes = f"{int(dig['gan_classes']['min'])} and {int(dig['gan_classes']['max'])}"
    return {
        "toy runs": f"Over {run['toy_runs']} runs of this section "
                    f"({seeds} seeds of each model",
        "near row": row("near a mode", "near"),
        "largest share row": row("largest mode share", "max_share"),
        "smallest share row": row("smallest mode share", "min_share", 3),
        "log p row": row(r"mean $\log p_{\text{data}}$", "log_p_data", 1),
        "gan near range": f"ranges from {_range(toy['gan_near'])}",
        "dropping": f"with {toy['gan_seeds_dropping_a_mode']} of the {seeds} seeds",
        "most dropped": f"up to {int(toy['gan_dropped']['max'])} of the 8 modes",
        "decoder sd": f"between {toy['vae_std_p_min']['min']:.2f} "
                      f"and {toy['vae_std_p_max']['max']:.2f}",
        "toy gap": f"a gap of {_range(toy['test_gap'])} nats",
        "vae mean share": f"at most {toy['vae_mean_max_share']['max']:.2f} "
                          f"over the {seeds} seeds",
        "cpu ratio": f"the GAN took {_range(dig['gan_to_vae_cpu'])} of the VAE's",
        "confidence gap": f"ranged from {_range(dig['vae_x_minus_gan_confidence'], 3)}",
        "gan confidence": "its mean confidence ranged from "
                          f"{_range(dig['gan_confidence'], 3)}",
        "real confidence": f"real digits: {_range(dig['real_confidence'], 3)}",
        "gan classes": f"covered between {classes} classes",
        "gan fewer classes": f"fewer than ten in {dig['runs_gan_fewer_classes']} "
                             f"of the {runs}",
        "gan largest class": f"its largest class held {_range(dig['gan_max_class'])} "
                             "of its samples",
        "entropies": f"{_mean_std(dig['gan_class_entropy'])} nats against the VAE's "
                     f"{_mean_std(dig['vae_x_class_entropy'])}",
        "diversity": f"from {_range(dig['gan_diversity'])} over the benchmark's runs, "
                     f"against {_range(dig['vae_x_diversity'])} for the VAE's samples",
        "vae nn": f"by {-max(vae_nn):.3f} to {-min(vae_nn):.3f}, "
                  f"at least {min(vae_nn_in_se):.1f} standard errors",
        "gan nn": f"from {_range(dig['gan_nn_difference'], 3)} over the {runs} runs",
        "neg elbo": f"{_mean_std(dig['neg_elbo'])} nats",
        "nll": f"{_mean_std(dig['nll'])} by IWAE",
        "replay": f"({_mean_std(dig['replay_nn_difference'])} "
                  f"over the benchmark's {runs} runs)",
        "summary toy": f"on average {toy['gan_near']['mean']:.2f} of them against "
                       f"{toy['vae_x_near']['mean']:.2f}; "
                       f"{toy['vae_mean_near']['mean']:.2f} "
                       "for the VAE's decoder means",
        "summary digits": f"the GAN's covered between {classes}, with up to "
                          f"{dig['gan_max_class']['max']:.2f} of them in one class",
    }


def test_the_benchmark_covers_enough_runs() -> None:
    run = _run()
    assert run["benchmark"] == "vae_vs_gan" and run["dropped_below"] == 0.02
    assert run["toy_runs"] >= 5 and run["toy_gan_seeds"] == 2 * run["toy_runs"]
    assert run["digit_runs"] >= 3
    for section, n in (("toy", run["toy_gan_seeds"]), ("digits", run["digit_runs"])):
        entries = [v for v in run[section].values() if isinstance(v, dict)]
        assert all(len(v["per_seed"]) == n for v in entries)


def test_the_chapter_quotes_the_benchmark() -> None:
    text = _markdown()
    missing = {name: q for name, q in quotes(_run()).items() if q not in text}
    assert not missing, f"chapter 09 should quote the benchmark: {missing}"


def test_no_benchmark_run_contradicts_what_the_chapter_asserts_for_every_run() -> None:
    toy, dig = _run()["toy"], _run()["digits"]
    for x, m in zip(*(_per_seed(toy, f"{k}_near") for k in ("vae_x", "vae_mean"))):
        # the VAE's means nearer the modes than its samples, by > 4 s.e. (the GAN is not, in
        # every run: its fraction near a mode spreads far more than the VAE's)
        assert m - x > 4 * math.sqrt((m * (1 - m) + x * (1 - x)) / NUM_TOY_SAMPLES)
    for g, x, m in zip(*(_per_seed(toy, f"{k}_log_p_data") for k in MODELS)):
        assert g > m > x
    assert toy["vae_mean_max_share"]["max"] < 1 / 8  # no mode gets 1/8 of the means
    assert toy["vae_std_p_min"]["min"] > 0.05 and toy["test_gap"]["min"] > 0  # sd above the modes' 0.05
    assert dig["vae_x_classes"]["min"] == dig["vae_mean_classes"]["min"] == 10
    gan_entropy = _per_seed(dig, "gan_class_entropy")
    vae_entropy = _per_seed(dig, "vae_x_class_entropy")
    # the GAN's classes are further from uniform
    assert all(g < v for g, v in zip(gan_entropy, vae_entropy))
    for m in ("vae_x", "vae_mean"):  # real digits recognised better, by > 4 s.e.
        assert dig[f"real_minus_{m}_confidence_se"]["min"] > 4
    diversities = (_per_seed(dig, f"{k}_diversity") for k in (*MODELS, "real"))
    for g, x, m, r in zip(*diversities):
        assert m < x and max(g, x) < r
    assert dig["gan_to_vae_cpu"]["max"] < 1
    assert dig["gan_d_real"]["min"] > 0.5 > dig["gan_d_fake"]["max"]  # D is not fooled
    for m in ("vae_x", "vae_mean"):  # closer to train by > 4 s.e., far from a copier
        differences = zip(_per_seed(dig, f"{m}_nn_difference"),
                          _per_seed(dig, f"{m}_nn_difference_se"),
                          _per_seed(dig, "typical_distance"))
        assert all(d + 4 * se < 0 and d > -0.1 * t for d, se, t in differences)
    # Exercise 4: replayed training digits are as diverse as real ones, and a copier's
    # memorisation difference is below every model's by > 4 s.e. on each side
    replay = zip(_per_seed(dig, "replay_diversity_minus_real"),
                 _per_seed(dig, "replay_nn_difference"),
                 _per_seed(dig, "replay_nn_difference_se"))
    for run, (replay_off, d_replay, se_replay) in enumerate(replay):
        real = _per_seed(dig, "real_diversity")[run]
        for m in MODELS:
            assert abs(replay_off) < abs(_per_seed(dig, f"{m}_diversity")[run] - real)
            d = _per_seed(dig, f"{m}_nn_difference")[run]
            se = _per_seed(dig, f"{m}_nn_difference_se")[run]
            assert d_replay + 4 * se_replay < d - 4 * se


def test_the_continuity_argument_quotes_how_much_each_model_maps_away_from_the_modes():
    toy = _run()["toy"]
    gan_away = 1 - toy["gan_near"]["mean"]
    vae_means_away = 1 - toy["vae_mean_near"]["mean"]
    assert 0.4 < gan_away < 0.6 and 0.6 < vae_means_away < 0.73  # "half", "two thirds"
    quote = ("about half of the GAN's samples against two thirds of the VAE's means on "
             "average")
    assert quote in " ".join(_markdown().split()), f"chapter 09 should say {quote!r}"


def _budget_row(budget: int, t: dict) -> str:
    def mr(e: dict, d: int = 2) -> str:
        return f"{e['mean']:.{d}f} ({e['min']:.{d}f} to {e['max']:.{d}f})"

    return (f"| {budget} | {mr(t['gan_near'])} | {mr(t['gan_dropped'], 1)} | "
            f"{mr(t['vae_x_near'])} | {mr(t['vae_mean_near'])} | "
            f"{mr(t['vae_std_p_min'], 3)} | {mr(t['vae_val_neg_elbo'])} |")


def test_the_chapter_quotes_the_budget_study():
    run = benchmark_result("vae_vs_gan_budgets.json")
    assert run["benchmark"] == "vae_vs_gan --budgets" and run["runs"] >= 3
    text = _markdown()
    assert f"--budgets {','.join(map(str, run['budgets']))}" in text
    for budget in run["budgets"]:
        row = _budget_row(budget, run["toy"][str(budget)])
        assert row in text, f"chapter 09 should quote the budget row {row!r}"
    t50, t250 = run["toy"]["50"], run["toy"]["250"]
    flat = " ".join(text.split())
    quotes = [
        f"falls from about 0.10 to {t250['vae_std_p_min']['min']:.3f} to "
        f"{t250['vae_std_p_min']['max']:.3f}",
        f"shrinks from {t50['test_gap']['min']:.2f}-{t50['test_gap']['max']:.2f} nats to "
        f"{t250['test_gap']['min']:.2f}-{t250['test_gap']['max']:.2f}",
        f"epoch's ({t250['vae_best_val_neg_elbo']['min']:.2f} to "
        f"{t250['vae_best_val_neg_elbo']['max']:.2f}) is well below where it ends",
    ]
    for quote in quotes:
        assert quote in flat, f"chapter 09 should quote {quote!r}"
    sd50 = t50["vae_std_p_min"]["per_seed"] + t50["vae_std_p_max"]["per_seed"]
    assert 0.095 < min(sd50) and max(sd50) < 0.105  # "about 0.10"
    for t in (t50, t250):  # "the order held at both budgets in every run"
        for g, m, x in zip(t["gan_near"]["per_seed"], t["vae_mean_near"]["per_seed"],
                           t["vae_x_near"]["per_seed"]):
            assert g > m > x
    for best, end in zip(t250["vae_best_val_neg_elbo"]["per_seed"],
                         t250["vae_val_neg_elbo"]["per_seed"]):
        assert end - best > 0.1  # "well below where it ends": not a plateau


def test_the_gan_is_nearer_the_modes_with_every_seed_as_the_summary_says() -> None:
    toy = _run()["toy"]
    assert "with each of the benchmark's 20 seeds" in _markdown()
    assert len(toy["gan_near"]["per_seed"]) == 20
    for key in ("vae_x_near", "vae_mean_near"):
        assert all(g > v for g, v in zip(toy["gan_near"]["per_seed"], toy[key]["per_seed"]))
