"""A reader's clean environment, as on Google Colab: the package's declared dependencies are complete.

``tools/colab_env.py`` makes a new virtual environment holding only what Colab brings before a
chapter runs (torch and ipykernel, at the versions ``requirements.txt`` pins), then runs chapters 04
and 07 in it top to bottom as run 1 (``VAE_EDU_SEED=1``, as nbval runs the other chapters; ``make
test`` runs these two only here), each with its own bootstrap cell unchanged: a dummy ``google.colab``
module makes that cell ``pip install "vae-edu @ git+<repository.url>"``, and git's ``insteadOf``
sends the clone to this repository. Between them the two chapters import every dependency that
``pyproject.toml`` declares, so dropping one fails a chapter here (a test below checks that they
still do). Offline: pip uses the machine's local indexes when its configuration names any.

The tests check that the chapters ran with ``vae_edu`` from the new environment, installed from
the repository URL at ``HEAD``; that they print the figures the book shows (NBVAL_CHECK_OUTPUT cells);
that the bootstrap installed exactly vae-edu and what its requirements reach, none of it there
before; and, statically, that every module the package or any chapter imports comes from a
distribution ``pyproject.toml`` declares (not one that only arrives with another: dropping scipy,
which scikit-learn requires anyway, fails there).

What is tested is the committed ``HEAD``: pip clones it, and the chapters are taken from it too.
Uncommitted changes are not tested (a warning says so). Outside a git checkout the tests fail.
The simulation takes about 2-3 minutes (one new environment, shared by the tests of this file).
"""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab_env  # noqa: E402

#: What the reader's environment holds before the bootstrap cell runs (Colab's own packages).
PREINSTALLED = {canonicalize_name(name) for name in colab_env.PREINSTALLED}
#: Imported by the package but not declared in pyproject.toml, on purpose (none today: ipython, which
#: vae_edu.widgets imports, is declared although ipywidgets and ipykernel bring it anyway).
UNDECLARED_OK: dict[str, str] = {}  # distribution -> why importing it undeclared is safe (none today)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[colab_env.Simulation]:
    workdir = tmp_path_factory.mktemp("colab-env")
    try:
        result = colab_env.simulate(ROOT, workdir, log=print)
    except colab_env.SimulationError as err:
        shutil.rmtree(workdir / "venv", ignore_errors=True)  # 1.4 GB; the executed chapters and logs stay
        pytest.fail(f"the Colab simulation (in {workdir}) failed:\n{err}", pytrace=False)
    phases = {name: {k: round(v, 1) for k, v in p.items()} for name, p in result.timer.phases.items()}
    (workdir / "timings.json").write_text(json.dumps(phases, indent=1))
    print("phases (seconds):", phases)
    if result.dirty:
        warnings.warn(
            f"the Colab simulation tested the committed HEAD {result.head[:12]}; uncommitted changes to "
            f"{', '.join(result.dirty)} were not tested",
            stacklevel=1,
        )
    yield result
    shutil.rmtree(workdir / "venv", ignore_errors=True)  # 1.4 GB; the executed chapters and logs stay


def test_chapters_ran_with_vae_edu_from_the_new_environment(sim: colab_env.Simulation) -> None:
    assert [run.path for run in sim.chapters] == list(colab_env.CHAPTERS)
    for run in sim.chapters:
        report = run.report
        assert Path(report["prefix"]) == sim.venv, f"{run.path}: the kernel ran in {report['prefix']}"
        vae_edu_file = Path(report["vae_edu_file"])
        assert sim.purelib in vae_edu_file.parents, f"{run.path}: vae_edu came from {vae_edu_file}"
        assert ROOT not in vae_edu_file.parents, f"{run.path}: vae_edu came from the repository"


def test_vae_edu_was_installed_from_the_repository_url_at_head(sim: colab_env.Simulation) -> None:
    for run in sim.chapters:
        direct_url = run.report["direct_url"]
        assert direct_url["url"] == sim.url, direct_url
        vcs_info = direct_url.get("vcs_info", {})
        assert (vcs_info.get("vcs"), vcs_info.get("commit_id")) == ("git", sim.head), direct_url


def _printed(cell: nbformat.NotebookNode) -> str:
    """What a cell printed to stdout, and its result's text (stderr, such as warnings, left out)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and out.name == "stdout":
            parts.append(out.text)
        elif out.output_type == "execute_result":
            parts.append(out.data.get("text/plain", ""))
    return "".join(parts)


def test_the_chapters_print_the_figures_the_book_shows(sim: colab_env.Simulation) -> None:
    # The cells marked NBVAL_CHECK_OUTPUT print, in the reader's environment, what the book shows.
    for run in sim.chapters:
        executed = nbformat.read(run.executed, as_version=4)
        committed = nbformat.reads(colab_env.git(sim.repo, "show", f"HEAD:{run.path}"), as_version=4)
        ran = [c for c in executed.cells[1:-1] if c.cell_type == "code"]  # without the Colab and report cells
        book = [c for c in committed.cells if c.cell_type == "code"]
        assert [c.source for c in ran] == [c.source for c in book]
        checked = [(r, b) for r, b in zip(ran, book) if "NBVAL_CHECK_OUTPUT" in b.source]
        assert checked, f"{run.path}: no NBVAL_CHECK_OUTPUT cell"
        for r, b in checked:
            assert _printed(r) == _printed(b), f"{run.path}, cell:\n{b.source[:300]}"


def test_the_environment_held_no_declared_dependency_before_the_bootstrap(sim: colab_env.Simulation) -> None:
    # Otherwise a chapter could run although pyproject.toml forgot that dependency.
    assert "vae-edu" not in sim.before
    # IPython comes with every Jupyter kernel (ipykernel requires it), so no notebook can run without
    # it; that the package declares it (vae_edu.widgets imports IPython.display) is checked statically
    # by test_every_import_of_the_package_and_the_chapters_is_declared.
    already = (sim.declared - PREINSTALLED - {"ipython"}) & set(sim.before)
    assert not already, (
        f"{sorted(already)} came with {sorted(PREINSTALLED)}, before the bootstrap: "
        "the simulation cannot tell whether pyproject.toml declares them"
    )


def test_the_bootstrap_installed_exactly_vae_edu_and_its_declared_closure(sim: colab_env.Simulation) -> None:
    reached, missing = sim.closure()
    assert not missing, f"declared (directly or not) but not installed: {sorted(missing)}"
    expected = {"vae-edu"} | (reached - set(sim.before))
    assert sim.new == expected, f"unexpected: {sorted(sim.new - expected)}; missing: {sorted(expected - sim.new)}"


def test_the_chapters_run_here_import_every_declared_dependency(sim: colab_env.Simulation) -> None:
    # So that dropping any of them from pyproject.toml makes a chapter fail in the test above.
    unused = sim.declared - sim.imported
    assert not unused, (
        f"chapters {list(colab_env.CHAPTERS)} never import {sorted(unused)}: choose chapters that do "
        "(colab_env.CHAPTERS), or this test cannot notice them missing from pyproject.toml"
    )


def test_every_import_of_the_package_and_the_chapters_is_declared(sim: colab_env.Simulation) -> None:
    # Static: also the code paths that the two chapters run here never reach (every module, every
    # chapter). A distribution that arrives only because a declared one requires it is not enough:
    # scipy, say, comes with scikit-learn, yet vae_edu imports it itself, so pyproject.toml declares it.
    reached, _ = sim.closure()
    problems = []
    for source, names in sim.static_imports().items():
        for name in sorted(names):
            providers = sim.distributions_of(name)
            if providers & sim.declared or providers & set(UNDECLARED_OK) & reached:
                continue
            if not providers:
                problems.append(f"{source} imports {name}, which nothing installed in the clean environment provides")
            elif providers & reached:
                problems.append(
                    f"{source} imports {name} (from {sorted(providers)}), which pyproject.toml does not declare: "
                    f"it is installed only because {sorted(sim.required_by(providers))} require(s) it"
                )
            else:
                problems.append(
                    f"{source} imports {name} (from {sorted(providers)}), which only Colab's own packages "
                    f"({sorted(PREINSTALLED)}) bring, not vae-edu's dependencies"
                )
    assert not problems, "\n".join(problems)


def test_make_test_runs_these_chapters_here_only_and_as_run_1() -> None:
    # make test leaves the chapters of colab_env.CHAPTERS out of nbval (they run here instead): the
    # list in the Makefile must be this one, or a chapter would run twice, or not at all
    makefile = (ROOT / "Makefile").read_text()
    line = next(line for line in makefile.splitlines() if line.startswith("COLAB_CHAPTERS :="))
    assert tuple(line.partition(":=")[2].split()) == colab_env.CHAPTERS
    assert "$(addprefix --ignore=,$(COLAB_CHAPTERS))" in makefile
    env = colab_env.kernel_env(Path("/venv"), ROOT, "https://example.invalid/repo", {}, Path("/scratch"))
    assert env["VAE_EDU_SEED"] == "1"  # the run nbval gives every other chapter
