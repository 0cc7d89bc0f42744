"""Run chapters in a reader's clean environment, as on Google Colab, to prove the declared dependencies complete.

A reader who opens a chapter in Colab gets a Python with torch and a Jupyter kernel, and the
chapter's first cell (``tools/bootstrap_cell.py``) runs ``pip install "vae-edu @ git+<repository.url>"``.
This tool rebuilds that situation offline and runs chapters top to bottom in it:

1. a new virtual environment (``python -m venv``, no system site-packages);
2. into it only what Colab brings before the notebook runs: ``torch`` and ``ipykernel``, at the
   versions ``requirements.txt`` pins (a pinned torch takes this machine's local CPU wheel);
3. each chapter, as committed at ``HEAD``, executed by nbclient with a kernel that runs the new
   environment's python in a temporary directory outside the repository. A cell put in front of
   the chapter registers a dummy ``google.colab`` module, so the chapter's own bootstrap cell,
   unchanged, runs its ``pip install``; git's ``url.<repo>.insteadOf <repository.url>`` (passed in
   the kernel's environment) sends that clone to this repository, so pip installs ``vae-edu``
   from the committed ``HEAD`` and whatever ``pyproject.toml`` declares (git may fetch nothing over
   http(s) there: a clone that escaped the redirect fails at once). A cell put after the
   chapter reports where ``vae_edu`` was imported from and which distributions the chapter loaded.

Uncommitted changes are not tested: pip clones the committed ``HEAD``, and the chapters are
taken from ``HEAD`` too. When the machine's pip configuration names local (``file://``)
indexes, pip is pointed at them only, so nothing waits on an unreachable PyPI.
``tests/test_colab_env.py`` asserts on what :func:`simulate` returns. By hand:

    python tools/colab_env.py                                    # chapters 04 and 07
    python tools/colab_env.py --repo /path/to/clone --keep /tmp/colab-sim notebooks/04_linear_vae.ipynb
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bootstrap_cell  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: The chapters run by default: 04 imports numpy, scipy, scikit-learn, matplotlib and torch itself;
#: 07 trains with ``vae_edu.training.loop.fit`` (tqdm) and, on Colab, builds its slider explorer (ipywidgets).
CHAPTERS = ("notebooks/04_linear_vae.ipynb", "notebooks/07_latent_space.ipynb")
#: What Colab brings before a chapter runs; versions from ``requirements.txt``.
PREINSTALLED = ("torch", "ipykernel")
KERNEL_NAME = "colab-sim"
REPORT_MARKER = "COLAB_ENV_REPORT "

COLAB_CELL = (
    "# Added by tools/colab_env.py: make the chapter believe it runs on Google Colab,\n"
    "# so that its bootstrap cell installs vae_edu.\n"
    "import sys, types\n"
    'sys.modules["google.colab"] = types.ModuleType("google.colab")'
)
REPORT_CELL = (
    "# Added by tools/colab_env.py: where vae_edu came from, and what the chapter imported.\n"
    "import importlib.metadata, json, sys\n"
    "import vae_edu\n"
    "_top = {name.partition('.')[0] for name in list(sys.modules)}\n"
    "_dists = importlib.metadata.packages_distributions()\n"
    f"print({REPORT_MARKER!r} + json.dumps({{\n"
    "    'executable': sys.executable,\n"
    "    'prefix': sys.prefix,\n"
    "    'vae_edu_file': vae_edu.__file__,\n"
    "    'direct_url': json.loads(importlib.metadata.distribution('vae-edu').read_text('direct_url.json')),\n"
    "    'imported_distributions': sorted({d for m in _top for d in _dists.get(m, [])}),\n"
    "}))"
)
LIST_DISTRIBUTIONS = (
    "import importlib.metadata as md, json\n"
    "print(json.dumps({d.metadata['Name']: {'version': d.version, 'requires': d.requires or []}"
    " for d in md.distributions()}))"
)
LIST_MODULES = "import importlib.metadata as md, json; print(json.dumps(md.packages_distributions()))"


class SimulationError(RuntimeError):
    """The simulation could not be set up (not a git checkout, a failed install, ...)."""


@dataclass
class Timer:
    """Wall-clock and CPU seconds per phase; CPU counts this process and its waited-for children."""

    phases: dict[str, dict[str, float]] = field(default_factory=dict)

    @staticmethod
    def _cpu() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    def run(self, name: str, fn: Callable[[], object]) -> object:
        wall0, cpu0 = time.perf_counter(), self._cpu()
        try:
            return fn()
        finally:
            self.phases[name] = {"wall": time.perf_counter() - wall0, "cpu": self._cpu() - cpu0}


@dataclass
class ChapterRun:
    path: str  # as in the repository, e.g. notebooks/04_linear_vae.ipynb
    executed: Path  # the executed copy
    report: dict  # what the report cell printed


@dataclass
class Simulation:
    repo: Path
    head: str
    dirty: list[str]  # tracked files with uncommitted changes (not tested)
    url: str  # repository.url of _config.yml at HEAD
    venv: Path
    purelib: Path  # the new environment's site-packages
    before: dict[str, dict]  # canonical name -> {"version", "requires"}: after torch + ipykernel
    after: dict[str, dict]  # the same after every chapter ran
    modules: dict[str, list[str]]  # top-level module -> distributions providing it, after the run
    chapters: list[ChapterRun]
    timer: Timer

    @property
    def new(self) -> set[str]:
        """Distributions the chapters' bootstrap installed."""
        return set(self.after) - set(self.before)

    @property
    def declared(self) -> set[str]:
        """What the installed vae-edu declares (Requires-Dist), as canonical names."""
        return {canonicalize_name(Requirement(r).name) for r in self.after["vae-edu"]["requires"]}

    def closure(self) -> tuple[set[str], set[str]]:
        """(installed, missing): the distributions vae-edu's requirements reach, recursively."""
        return requirement_closure(self.after, "vae-edu", frozenset({bootstrap_cell.EXTRA}))

    @property
    def imported(self) -> set[str]:
        """Distributions whose modules some chapter had loaded by its end."""
        return {canonicalize_name(d) for run in self.chapters for d in run.report["imported_distributions"]}

    def static_imports(self) -> dict[str, set[str]]:
        """Top-level modules that the installed package and every chapter at HEAD import anywhere
        (also in code paths the chapters run here never reach), minus the standard library and vae_edu:
        {"vae_edu": ..., "notebooks/NN_x.ipynb": ...}."""
        package = [f.read_text() for f in sorted((self.purelib / "vae_edu").rglob("*.py"))]
        found = {"vae_edu": imported_modules(package)}
        for path in git(self.repo, "ls-tree", "--name-only", "HEAD", "notebooks/").split():
            if path.endswith(".ipynb"):
                nb = nbformat.reads(git(self.repo, "show", f"HEAD:{path}"), as_version=4)
                found[path] = imported_modules(["".join(c.source) for c in nb.cells if c.cell_type == "code"])
        return found

    def required_by(self, names: set[str]) -> set[str]:
        """The installed distributions whose requirements name any of ``names``."""
        return {
            dist
            for dist, info in self.after.items()
            if any(canonicalize_name(Requirement(r).name) in names for r in info["requires"])
        }

    def distributions_of(self, module: str) -> set[str]:
        """The distributions (canonical names) in the new environment that provide ``module``."""
        return {canonicalize_name(d) for d in self.modules.get(module, [])}


def imported_modules(sources: list[str]) -> set[str]:
    """Top-level names of the absolute imports in ``sources`` (notebook magics skipped), less the
    standard library and vae_edu."""
    names: set[str] = set()
    for source in sources:
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                names |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.partition(".")[0])
    return names - set(sys.stdlib_module_names) - {"vae_edu", "__future__"}


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SimulationError(f"git {' '.join(args)} failed in {repo}: {result.stderr.strip()}")
    return result.stdout


def repo_state(repo: Path) -> tuple[str, list[str]]:
    """(HEAD commit, tracked files with uncommitted changes); a clear error if ``repo`` is no checkout."""
    try:
        top = git(repo, "rev-parse", "--show-toplevel").strip()
    except (SimulationError, FileNotFoundError) as err:
        raise SimulationError(
            f"{repo} is not a git checkout (or git is not installed): the Colab simulation installs "
            f"vae-edu with pip from the repository's committed HEAD, so it needs one. ({err})"
        ) from err
    if Path(top).resolve() != repo.resolve():
        raise SimulationError(f"{repo} is not the top of a git checkout (that is {top})")
    head = git(repo, "rev-parse", "HEAD").strip()
    dirty = [line[3:] for line in git(repo, "status", "--porcelain", "--untracked-files=no").splitlines()]
    return head, dirty


def pinned(requirements: str, names: tuple[str, ...]) -> list[str]:
    """``name==version`` for each of ``names``, as ``requirements.txt`` pins it."""
    pins = {}
    for line in requirements.splitlines():
        line = line.split("#")[0].strip()
        if "==" in line and not line.startswith("-"):
            req = Requirement(line)
            pins[canonicalize_name(req.name)] = line
    missing = [n for n in names if canonicalize_name(n) not in pins]
    if missing:
        raise SimulationError(f"requirements.txt at HEAD pins no version of {missing}")
    return [pins[canonicalize_name(n)] for n in names]


def local_index_env(python: Path) -> dict[str, str]:
    """PIP_INDEX_URL/PIP_EXTRA_INDEX_URL naming only the local indexes of pip's configuration.

    Empty when pip is configured with no ``file://`` index (then pip uses its configuration as is).
    """
    listing = subprocess.run(
        [str(python), "-I", "-m", "pip", "config", "list"], capture_output=True, text=True, check=True, cwd=python.parent
    )
    urls: list[str] = []
    for line in listing.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(("index-url", "index_url")):
            urls += [u for u in value.strip("'\"").split() if u not in urls]
    local = [u for u in urls if u.startswith("file:")]
    if not local:
        return {}
    return {"PIP_INDEX_URL": local[0], "PIP_EXTRA_INDEX_URL": " ".join(local[1:] or local[:1])}


def distributions(python: Path) -> dict[str, dict]:
    """Installed distributions of ``python``'s environment: canonical name -> version, requires."""
    out = subprocess.run([str(python), "-I", "-c", LIST_DISTRIBUTIONS], capture_output=True, text=True, check=True)
    return {canonicalize_name(name): info for name, info in json.loads(out.stdout).items()}


def modules(python: Path) -> dict[str, list[str]]:
    """Top-level importable module -> the distributions that provide it, in ``python``'s environment."""
    out = subprocess.run([str(python), "-I", "-c", LIST_MODULES], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def requirement_closure(
    dists: dict[str, dict], root: str, extras: frozenset[str] = frozenset()
) -> tuple[set[str], set[str]]:
    """(installed, missing): every distribution ``root[extras]``'s requirements reach, markers evaluated.

    Markers are evaluated for this interpreter, which is the one the new environment was made from.
    """
    env = default_environment()
    reached: set[str] = set()
    missing: set[str] = set()
    stack: list[tuple[str, frozenset[str]]] = [(canonicalize_name(root), extras)]
    done: set[tuple[str, frozenset[str]]] = set()
    while stack:
        name, extras = stack.pop()
        if (name, extras) in done:
            continue
        done.add((name, extras))
        if name not in dists:
            missing.add(name)
            continue
        for line in dists[name]["requires"]:
            req = Requirement(line)
            if req.marker is not None and not any(req.marker.evaluate({**env, "extra": e}) for e in extras | {""}):
                continue
            child = canonicalize_name(req.name)
            reached.add(child)
            stack.append((child, frozenset(req.extras)))
    return reached - missing, missing


def _pip_install(python: Path, args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(python), "-I", "-m", "pip", "install", "--quiet", *args],
        capture_output=True, text=True, env=env, timeout=1800, cwd=python.parent,  # not the repository
    )
    if result.returncode != 0:
        raise SimulationError(f"pip install {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def kernel_env(venv: Path, repo: Path, url: str, pip_env: dict[str, str], scratch: Path) -> dict[str, str]:
    """The kernel's environment: this one without what would leak the test environment in, plus
    git's redirect of ``url`` to ``repo`` (and no https fetches at all), and local pip indexes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CONDA", "JUPYTER", "JPY_"))}
    test_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([str(venv / "bin")] + [p for p in env.get("PATH", "").split(os.pathsep) if p and p != test_bin])
    env["VIRTUAL_ENV"] = str(venv)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONNOUSERSITE="1")
    # run 1, as nbval runs every other chapter (notebooks/conftest.py): make test runs these
    # chapters only here, so their asserts must hold, and their checked cells print run 0's output,
    # for another run
    env["VAE_EDU_SEED"] = "1"
    env.update(IPYTHONDIR=str(scratch / "ipython"), MPLCONFIGDIR=str(scratch / "matplotlib"))
    config = {f"url.{repo}.insteadOf": url, "protocol.https.allow": "never", "protocol.http.allow": "never"}
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    env.update(pip_env)
    return env


def colab_notebook(source: str, url: str) -> nbformat.NotebookNode:
    """The chapter with the Colab cell in front and the report cell at the end; its bootstrap unchanged."""
    nb = nbformat.reads(source, as_version=4)
    first = bootstrap_cell.first_code_cell(nb)
    expected = bootstrap_cell.cell_source(url)
    if first is None or "".join(first["source"]) != expected:
        raise SimulationError(f"the chapter's first code cell is not the bootstrap cell for {url}:\n{expected}")
    nb.cells.insert(0, nbformat.v4.new_code_cell(COLAB_CELL))
    nb.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    return nb


def run_chapter(nb: nbformat.NotebookNode, venv: Path, cwd: Path, env: dict[str, str], kernels: Path, log_path: Path) -> dict:
    """Execute ``nb`` with the new environment's python as kernel, in ``cwd``; return its report.

    The kernel's stdout and stderr (where the bootstrap's pip writes) go to ``log_path``; a failing
    cell raises :class:`SimulationError` with nbclient's message and the end of that log.
    """
    spec_dir = kernels / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (Colab simulation)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    km = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    client = NotebookClient(nb, km=km, timeout=900, record_timing=True, resources={"metadata": {"path": str(cwd)}})
    with open(log_path, "ab") as log:  # the kernel's own stdout/stderr: pip's output goes there
        try:
            # cleanup_kc: nbclient shuts the kernel down (and waits for it), also when a cell fails
            client.execute(cleanup_kc=True, env=env, stdout=log, stderr=subprocess.STDOUT)
        except Exception as err:
            tail = log_path.read_text(errors="replace")[-4000:] if log_path.exists() else ""
            message = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # the traceback's colours
            raise SimulationError(f"{message}\n--- end of the kernel's log ({log_path}), where pip writes ---\n{tail}") from err
    texts = ["".join(o.get("text", "")) for o in nb.cells[-1].get("outputs", []) if o.get("output_type") == "stream"]
    lines = [line for text in texts for line in text.splitlines() if line.startswith(REPORT_MARKER)]
    if len(lines) != 1:
        raise SimulationError(f"the report cell printed no report: {texts}")
    return json.loads(lines[0][len(REPORT_MARKER) :])


def cell_seconds(cell: nbformat.NotebookNode) -> float:
    """Wall-clock seconds a cell took, from the timings nbclient records in its metadata."""
    timing = cell.metadata.get("execution", {})
    start, end = (datetime.fromisoformat(timing[k]) for k in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()


def simulate(
    repo: Path = ROOT, workdir: Path | None = None, chapters: tuple[str, ...] = CHAPTERS, log: Callable[[str], None] = print
) -> Simulation:
    """Build the clean environment in ``workdir`` and run ``chapters`` (paths in the repository) in it.

    Raises :class:`SimulationError` when it cannot be set up, and nbclient's ``CellExecutionError``
    (with the failing cell and its traceback) when a chapter fails.
    """
    repo = repo.resolve()
    workdir = Path(tempfile.mkdtemp(prefix="colab-env-")) if workdir is None else workdir.resolve()
    if workdir == repo or repo in workdir.parents:
        raise SimulationError(f"workdir {workdir} must lie outside the repository {repo}")
    head, dirty = repo_state(repo)
    log(f"repository {repo} at HEAD {head[:12]}" + (f"; NOT tested, uncommitted: {', '.join(dirty)}" if dirty else ""))
    config_dir = workdir / "head"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "_config.yml").write_text(git(repo, "show", "HEAD:_config.yml"))
    url = bootstrap_cell.repository_url(config_dir)
    notebooks = {path: colab_notebook(git(repo, "show", f"HEAD:{path}"), url) for path in chapters}
    preinstalled = pinned(git(repo, "show", "HEAD:requirements.txt"), PREINSTALLED)

    timer = Timer()
    venv = workdir / "venv"
    python = venv / "bin" / "python"
    timer.run("venv", lambda: subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True))
    pip_env = local_index_env(python)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))} | pip_env
    log(f"venv: {timer.phases['venv']['wall']:.1f} s; pip indexes: {pip_env or 'as configured'}")
    timer.run("install " + " ".join(preinstalled), lambda: _pip_install(python, preinstalled, env))
    before = distributions(python)
    purelib = Path(
        subprocess.run(
            [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )
    log(f"installed {', '.join(preinstalled)}: {len(before)} distributions")

    scratch = workdir / "scratch"  # a fresh IPython profile and matplotlib cache
    for d in (scratch / "ipython", scratch / "matplotlib"):
        d.mkdir(parents=True, exist_ok=True)
    cwd = workdir / "cwd"  # the kernel's working directory: not the repository
    cwd.mkdir(exist_ok=True)
    kenv = kernel_env(venv, repo, url, pip_env, scratch)
    runs = []
    for path, nb in notebooks.items():
        name = Path(path).name
        try:
            report = timer.run(
                name, lambda nb=nb, name=name: run_chapter(nb, venv, cwd, kenv, workdir / "kernels", workdir / f"{name}.log")
            )
        finally:
            nbformat.write(nb, workdir / name)
        runs.append(ChapterRun(path, workdir / name, report))  # type: ignore[arg-type]
        bootstrap = cell_seconds(next(c for c in nb.cells[1:] if c.cell_type == "code"))  # cells[0]: the Colab cell
        timer.phases[f"{name}: bootstrap cell (pip install vae-edu)"] = {"wall": bootstrap}
        log(f"{name}: ran top to bottom in {timer.phases[name]['wall']:.1f} s wall (bootstrap cell: {bootstrap:.1f} s)")
    after = distributions(python)
    return Simulation(repo, head, dirty, url, venv, purelib, before, after, modules(python), runs, timer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", default=list(CHAPTERS), help="notebooks, as paths in the repository")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the git checkout to install from (default: this one)")
    parser.add_argument("--keep", type=Path, help="work in this directory (default: a new temporary one)")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    sim = simulate(args.repo, args.keep, tuple(args.chapters))
    installed, missing = sim.closure()
    summary = {
        "head": sim.head,
        "dirty": sim.dirty,
        "declared": sorted(sim.declared),
        "new": {n: sim.after[n]["version"] for n in sorted(sim.new)},
        "closure_missing": sorted(missing),
        "imported_declared": sorted(sim.declared & sim.imported),
        "static_imports": {k: sorted(v) for k, v in sim.static_imports().items()},
        "vae_edu_file": [run.report["vae_edu_file"] for run in sim.chapters],
        "phases": {k: {m: round(v, 1) for m, v in p.items()} for k, p in sim.timer.phases.items()},
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
