"""The package's layout rules, checked: short modules, no private name crossing a module, and the
old flat module paths still importable (with a warning naming the new place)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import vae_edu

PACKAGE = Path(vae_edu.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
#: The house style's limit: split a module before it passes it.
MAX_LINES = 300


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_the_limit(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines: split it"


def _imported_names(path: Path) -> list[tuple[str, str]]:
    tree = ast.parse(path.read_text())
    return [(node.module or ".", alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for alias in node.names]  # fmt: skip


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_is_imported_from_another_module(path: Path) -> None:
    private = [f"{module}.{name}" for module, name in _imported_names(path)
               if name.startswith("_") and name != "__future__" and not module.startswith("__")]  # fmt: skip
    assert not private, f"{path.relative_to(PACKAGE)} imports private names: {private}"


def test_the_subpackages_follow_the_book() -> None:
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages == {"distributions", "estimators", "gradients", "exact", "models", "data", "training", "metrics"}


@pytest.mark.parametrize(("old", "name", "new"), [
    ("vae_edu.train", "fit", "vae_edu.training"),
    ("vae_edu.marginal", "log_marginal_grid", "vae_edu.exact"),
    ("vae_edu.linear_gaussian", "LinearGaussian", "vae_edu.exact"),
    ("vae_edu.latent", "elbo_surgery", "vae_edu.metrics"),
    ("vae_edu.ais", "ais_log_likelihood", "vae_edu.estimators"),
    ("vae_edu.dirichlet", "match_topics", "vae_edu.metrics"),
    ("vae_edu.dirichlet", "log_dirichlet", "vae_edu.distributions"),
])
def test_an_old_module_path_still_works_and_says_where_to_go(old: str, name: str, new: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=rf"{old} has moved: import from .*{new}"):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        module.not_there  # noqa: B018


def test_the_warning_points_at_the_users_import() -> None:
    code = "import warnings; warnings.simplefilter('always')\nfrom vae_edu.train import fit\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "<string>:2: DeprecationWarning: vae_edu.train has moved" in result.stderr


def test_new_paths_import_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in vae_edu._SUBMODULES:
            if name not in {"plotting", "widgets"}:
                importlib.import_module(f"vae_edu.{name}")


def test_the_checks_old_home_still_works_and_says_where_to_go() -> None:
    import vae_edu.checks
    import vae_edu.utils

    with pytest.warns(DeprecationWarning, match=r"vae_edu.utils.check_tensor has moved: import it from vae_edu.checks"):
        assert vae_edu.utils.check_tensor is vae_edu.checks.check_tensor
    with pytest.raises(AttributeError, match="no attribute 'check_everything'"):
        vae_edu.utils.check_everything  # noqa: B018
