"""Structural checks of the chapters: the Colab bootstrap cell, the toc, and clean committed outputs.

The notebooks themselves are executed by nbval (``pytest --nbval-lax`` collects ``notebooks/``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import bootstrap_cell  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_there_are_chapters() -> None:
    assert len(NOTEBOOKS) >= 2


def test_repository_url_lives_in_config() -> None:
    url = bootstrap_cell.repository_url()
    assert url.startswith("https://github.com/")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_is_the_colab_bootstrap(path: Path) -> None:
    nb = json.loads(path.read_text())
    first = bootstrap_cell.first_code_cell(nb)
    assert first is not None
    assert "".join(first["source"]) == bootstrap_cell.cell_source(bootstrap_cell.repository_url()), (
        f"{path.name}: first code cell differs from the bootstrap cell; run `make sync-bootstrap`"
    )
    assert first["metadata"].get("tags") == ["hide-input"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_second_cell_calls_setup(path: Path) -> None:
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "vae_edu.setup(seed=0)" in "".join(code[1]["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_come_from_a_clean_run(path: Path) -> None:
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: execution counts {counts}"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{path.name}: stored error output"
    source = "\n".join("".join(c["source"]) for c in code)
    assert "assert " in source, f"{path.name}: asserts none of its claims"
    assert "NBVAL_CHECK_OUTPUT" in source, f"{path.name}: checks none of its printed figures"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_is_in_the_toc_and_ends_with_exercises(path: Path) -> None:
    assert f"notebooks/{path.stem}" in _toc_files()
    nb = json.loads(path.read_text())
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert re.search(r"^##+ .*Exercises", markdown, flags=re.MULTILINE), f"{path.name}: no Exercises section"
    assert ":class: dropdown" in markdown, f"{path.name}: exercises need hidden (dropdown) solutions"


def test_toc_files_exist() -> None:
    for entry in _toc_files():
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".md", ".ipynb")), entry


def _chapter_markdown(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text()
    nb = json.loads(path.read_text())
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


CHAPTERS = NOTEBOOKS + [ROOT / "book" / "loss_conventions.md"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_ends_with_exercises_and_closed_solutions(path: Path) -> None:
    text = _chapter_markdown(path)
    sections = re.findall(r"^## (.+)$", text, re.M)
    assert sections and sections[-1].strip() == "Exercises", f"{path.name}: last section is {sections[-1:]}"
    exercises = text[text.rindex("\n## Exercises") :]
    # "### Exercise 1: ..." headings, or a numbered list of bold titles ("1. **Standardising.**").
    count = len(re.findall(r"^(?:### Exercise \d+|\d+\. \*\*)", exercises, re.M))
    solutions = re.findall(r"^(`{3,}|:{3,})\{admonition\} Solution\n((?::\w[\w-]*:.*\n)+)", exercises, re.M)
    assert count >= 3, f"{path.name}: {count} exercises"
    assert len(solutions) == count, f"{path.name}: {count} exercises but {len(solutions)} solution blocks"
    for _, options in solutions:
        assert re.search(r"^:class: .*\bdropdown\b", options, re.M), f"{path.name}: a solution is not a dropdown"
        assert ":open:" not in options, f"{path.name}: a solution starts open"


# A code cell draws a figure when it calls plt.show / plt.subplots / plt.figure, or one of the
# book's show_... / plot_... helpers (a line that defines one, "def show_rows(", does not count).
_DRAWS = re.compile(r"^(?!\s*def ).*(\bplt\.(show|subplots?|figure)\(|(?<![\w.])(show|plot)_\w+\()", re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_that_draws_has_its_figure_committed(path: Path) -> None:
    # A chapter executed with a non-interactive MPLBACKEND (Agg) stores no image: the book then
    # shows no figure. `make execute` unexports MPLBACKEND; this catches a run that did not.
    nb = json.loads(path.read_text())
    missing = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or not _DRAWS.search("".join(cell["source"])):
            continue
        if not any("image/png" in out.get("data", {}) for out in cell["outputs"]):
            missing.append(index)
    assert not missing, f"{path.name}: cells {missing} draw a figure but have no image in their committed output"


def test_the_figure_check_recognises_drawing_cells() -> None:
    assert _DRAWS.search("fig, ax = plt.subplots(1, 2)\nplt.show()")
    assert _DRAWS.search("show_rows([x], ['x'], 'title')")
    assert not _DRAWS.search("def show_rows(rows, labels, title):\n    return None")
    assert not _DRAWS.search("config.plot = 1\nmodel.show_all = True")


# Literal seeds in a chapter: manual_seed(3), seed=3, default_rng(3), RandomState(3), random.seed(3).
_LITERAL_SEED = re.compile(
    r"\b(manual_seed|default_rng|RandomState|random\.seed)\(\s*[\d\s+*]+\)|\bseed\s*=\s*[\d\s+*]+[,)]"
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_seed_of_a_chapter_follows_vae_edu_seed(path: Path) -> None:
    # VAE_EDU_SEED selects another run only if every seed goes through vae_edu.run_seed (or setup).
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"][1:]  # after the Colab bootstrap
    literal = []
    for cell in code:
        for line in "".join(cell["source"]).splitlines():
            if _LITERAL_SEED.search(line.replace("vae_edu.setup(seed=0)", "")):
                literal.append(line.strip())
    assert not literal, f"{path.name}: seeds that do not follow VAE_EDU_SEED (use vae_edu.run_seed):\n" + "\n".join(
        literal
    )


def test_the_seed_check_recognises_literal_seeds() -> None:
    for line in ["g = torch.Generator().manual_seed(3)", "fit(model, x, seed=0)", "np.random.default_rng(1)",
                 "f(seed=10 + 2, k=1)"]:
        assert _LITERAL_SEED.search(line), line
    for line in ["g = torch.Generator().manual_seed(vae_edu.run_seed(3))", "fit(model, x, seed=vae_edu.run_seed(0))",
                 "fit(model, x, seed=seed)"]:
        assert not _LITERAL_SEED.search(line), line


# Directives that MyST renders in the book. In Jupyter and Colab a markdown cell is plain markdown:
# a colon fence (:::{important}) reads there as formatted text with typeset math, but a backtick
# fence (```{important}) comes out as a code block showing raw LaTeX.
_DIRECTIVE_IN_CODE = re.compile(r"<(pre|code)[^>]*>[^<]*\{(important|note|admonition|dropdown|warning|tip|math)\}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_boxes_and_solutions_read_as_formatted_text_in_jupyter(path: Path) -> None:
    import nbconvert
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if c.cell_type == "markdown"]  # Jupyter's own markdown path
    html, _ = nbconvert.HTMLExporter(template_name="classic").from_notebook_node(nb)
    shown_as_code = [m.group(0)[-60:] for m in _DIRECTIVE_IN_CODE.finditer(html)]
    assert not shown_as_code, f"{path.name}: directives rendered as code blocks in Jupyter: {shown_as_code}"
    boxes = re.findall(r"^:{3,}\{(\w[\w-]*)\}", "\n".join(c.source for c in nb.cells), re.M)
    assert len(re.findall(r":{3,}\{\w[\w-]*\}", html)) == len(boxes)  # each box's fence reads as text


def test_the_jupyter_rendering_check_sees_a_backtick_directive_as_code() -> None:
    import nbconvert
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("```{important}\n$x$ is **bold**\n```")])
    html, _ = nbconvert.HTMLExporter(template_name="classic").from_notebook_node(nb)
    assert _DIRECTIVE_IN_CODE.search(html)


#: The widest code line a chapter may have: the rendered column shows about 80 characters.
MAX_CODE_LINE = 88


def long_code_lines(nb: dict) -> list[str]:
    """``"cell N, line M: <n> characters"`` for every code line longer than :data:`MAX_CODE_LINE`."""
    found = []
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for number, cell in enumerate(code):
        for line_number, line in enumerate("".join(cell["source"]).splitlines(), 1):
            if len(line) > MAX_CODE_LINE:
                found.append(f"code cell {number}, line {line_number}: {len(line)} characters")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_fits_the_page(path: Path) -> None:
    nb = json.loads(path.read_text())
    assert not long_code_lines(nb), f"{path.name}: lines over {MAX_CODE_LINE} characters: {long_code_lines(nb)}"


def test_the_line_check_sees_a_long_line() -> None:
    cell = {"cell_type": "code", "source": ["x = 1\n", "y = " + "1 + " * 30 + "1\n"]}
    assert long_code_lines({"cells": [cell]}) == ["code cell 0, line 2: 125 characters"]
    assert not long_code_lines({"cells": [{"cell_type": "code", "source": ["x = 1"]}]})
