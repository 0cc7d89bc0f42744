"""The lean install: the math imports without the notebook extras, which ``vae-edu[book]`` adds.

``import vae_edu`` imports its submodules on first use (PEP 562), so ``vae_edu.kl`` and
``vae_edu.estimators`` need neither ipywidgets, IPython nor matplotlib; ``pyproject.toml`` puts
those in the ``book`` extra, which the chapters' Colab bootstrap cell installs and
``requirements.txt`` pins.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import vae_edu

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import bootstrap_cell  # noqa: E402

BOOK = {"matplotlib", "ipywidgets", "ipython"}  # distributions only the chapters need


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports vae_edu from this repository."""
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_math_imports_without_ipywidgets_and_ipython() -> None:
    # None in sys.modules makes `import ipywidgets` (and `import IPython`) raise ImportError
    code = (
        "import sys; sys.modules['ipywidgets'] = None; sys.modules['IPython'] = None; "
        "import vae_edu, vae_edu.kl, vae_edu.estimators"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr


def test_the_math_loads_none_of_the_notebook_modules() -> None:
    # (tqdm is not in the list: torch itself imports it)
    code = (
        "import sys; import vae_edu, vae_edu.kl, vae_edu.estimators, vae_edu.distributions.dirichlet; "
        "print(sorted({m.partition('.')[0] for m in sys.modules} "
        "& {'matplotlib', 'ipywidgets', 'IPython', 'sklearn'}))"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_submodules_are_there_when_asked_for() -> None:
    result = _python(
        "import vae_edu; from vae_edu import kl; "
        "print(vae_edu.widgets.__name__, vae_edu.plotting.__name__, vae_edu.kl is kl)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["vae_edu.widgets", "vae_edu.plotting", "True"]
    assert {"widgets", "plotting", "kl", "estimators", "setup"} <= set(dir(vae_edu))
    assert set(vae_edu.__all__) <= set(dir(vae_edu))
    with pytest.raises(AttributeError, match="no attribute 'no_such_module'"):
        vae_edu.no_such_module  # noqa: B018


def test_a_missing_extra_names_the_install_command() -> None:
    result = _python(
        "import sys; sys.modules['matplotlib'] = None\n"
        "import vae_edu\n"
        "try:\n    vae_edu.plotting\n"
        "except ModuleNotFoundError as err:\n    print(err)"
    )
    assert result.returncode == 0, result.stderr
    assert 'vae_edu.plotting needs matplotlib' in result.stdout
    assert 'pip install "vae-edu[book]"' in result.stdout


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_notebook_extras_are_the_book_extra() -> None:
    project = _pyproject()
    core = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    book = {canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"][bootstrap_cell.EXTRA]}
    assert book == BOOK
    assert not core & BOOK
    assert {"torch", "numpy"} <= core


def test_requirements_install_the_package_with_its_book_extra_pinned() -> None:
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert f"-e .[{bootstrap_cell.EXTRA}]" in lines
    pinned = {canonicalize_name(Requirement(line).name) for line in lines if "==" in line}
    wanted = {canonicalize_name(Requirement(r).name) for r in _pyproject()["dependencies"]} | BOOK
    assert wanted <= pinned, f"requirements.txt pins no version of {sorted(wanted - pinned)}"


def test_the_bootstrap_cell_installs_the_book_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    url = bootstrap_cell.repository_url()
    source = bootstrap_cell.cell_source(url)
    assert max(len(line) for line in source.splitlines()) <= 88
    calls = []
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda args, **kwargs: calls.append((args, kwargs)))
    exec(compile(source, "bootstrap-cell", "exec"), {})
    [(args, kwargs)] = calls
    assert args[1:] == ["-m", "pip", "install", "--quiet", f"vae-edu[book] @ git+{url}"]
    assert kwargs == {"check": True}
    requirement = Requirement(args[-1])
    assert (requirement.name, requirement.extras, requirement.url) == ("vae-edu", {"book"}, f"git+{url}")
