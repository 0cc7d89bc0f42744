"""Sphinx extension for the book's API reference (``book/api.md``).

The package's docstrings are written for readers of the source and of ``help()``: math in
``$...$`` / ``$$...$$`` and a closing line such as ``Book: *The Gaussian KL, derived and checked*``.
For the rendered reference this extension, before napoleon reads a docstring,

* turns ``$$...$$`` into a ``.. math::`` block and ``$...$`` into the ``:math:`` role, so MathJax
  typesets them (the book's MathJax only reads Sphinx's math nodes, never raw dollars);
* turns every ``*Chapter title*`` after ``Book:`` into a link to that chapter, and gives every public
  function and class that names no chapter a ``Book:`` link to the first chapter that calls it
  (in reading order), else to its module's chapter, else to the notation page.

:func:`chapter_map` is also what ``tests/test_api_reference.py`` uses to check that every public object
is linked to a chapter.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
NOTATION = "book/notation"

_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?!\$)((?:(?!\n[ \t]*\n)[^$])+?)(?<![\\$])\$(?!\$)")
_BOOK = re.compile(r"Book:\s*(.*?)(?:\n\s*\n|\Z)", re.S)
_ITALIC = re.compile(r"(?<![*\w])\*([^*\n][^*]*?)\*(?![*\w])")


# --------------------------------------------------------------------------------------- chapters
@lru_cache(maxsize=1)
def chapters() -> tuple[tuple[str, str], ...]:
    """``(docname, title)`` of every page in ``_toc.yml``, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    docs = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    out = []
    for doc in docs:
        nb, md = ROOT / f"{doc}.ipynb", ROOT / f"{doc}.md"
        if nb.exists():
            first = json.loads(nb.read_text())["cells"][0]
            text = "".join(first["source"])
        else:
            text = md.read_text()
        title = next(line.lstrip("#").strip() for line in text.splitlines() if line.startswith("# "))
        out.append((doc, title))
    return tuple(out)


def _normalise(text: str) -> str:
    return " ".join(text.replace("$", "").split()).lower()


def find_chapter(title: str) -> str | None:
    """The docname of the one chapter whose title starts with ``title`` (abbreviations allowed)."""
    key = _normalise(title)
    hits = [doc for doc, full in chapters() if _normalise(full).startswith(key)]
    return hits[0] if len(hits) == 1 else None


@lru_cache(maxsize=1)
def _notebook_code() -> tuple[tuple[str, str], ...]:
    out = []
    for doc, _ in chapters():
        path = ROOT / f"{doc}.ipynb"
        if path.exists():
            cells = json.loads(path.read_text())["cells"]
            out.append((doc, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")))
    return tuple(out)


def book_chapters(doc: str | None) -> list[str]:
    """The chapters a docstring's ``Book:`` line names (docnames, in order, no repeats)."""
    out: list[str] = []
    for line in _BOOK.findall(doc or ""):
        for title in _ITALIC.findall(line):
            found = find_chapter(title)
            if found and found not in out:
                out.append(found)
    return out


def first_use(name: str) -> str | None:
    """The first chapter, in reading order, whose code mentions ``name``."""
    # Attribute access counts (vae_edu.setup(...), latent.in_hole(...)); so does another library's
    # function of the same name (torch's one_hot), which a docstring's Book: line then overrides.
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    return next((doc for doc, code in _notebook_code() if pattern.search(code)), None)


def chapter_for(qualname: str, obj: Any) -> list[str]:
    """Where the book derives or uses ``obj`` (docnames, best first); never empty."""
    found = book_chapters(inspect.getdoc(obj))
    if found:
        return found
    use = first_use(qualname.rsplit(".", 1)[-1])
    if use:
        return [use]
    module = importlib.import_module(qualname.rsplit(".", 1)[0])
    return book_chapters(module.__doc__) or [NOTATION]


def _module_names() -> list[str]:
    """``vae_edu`` and every module and package under it."""
    import vae_edu

    return ["vae_edu"] + [m.name for m in pkgutil.walk_packages(vae_edu.__path__, "vae_edu.")]


def public_objects() -> dict[str, Any]:
    """Every public function and class of ``vae_edu``, by the dotted name the reference documents it under.

    That name is the module that defines the object, or — for a private module such as
    ``vae_edu.data._common`` — the public package that exports it.
    """
    found: dict[int, tuple[str, Any]] = {}
    for modname in _module_names():
        module = importlib.import_module(modname)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            home = obj.__module__
            public_home = not any(part.startswith("_") for part in home.split("."))
            if (modname == home and public_home) or (not public_home and id(obj) not in found):
                found[id(obj)] = (f"{modname}.{attr}", obj)
    return dict(sorted(found.values(), key=lambda item: item[0]))


@lru_cache(maxsize=1)
def _exports() -> dict[int, list[str]]:
    """``{id(obj): [every public dotted name it is exported under]}``."""
    out: dict[int, list[str]] = {}
    for modname in _module_names():
        if any(part.startswith("_") for part in modname.split(".")):
            continue
        module = importlib.import_module(modname)
        for attr in getattr(module, "__all__", []):
            out.setdefault(id(getattr(module, attr)), []).append(f"{modname}.{attr}")
    return out


def canonical_name(obj: Any) -> str | None:
    """The dotted name under which the reference documents ``obj`` (None if it is not public)."""
    for name, candidate in _public_objects().items():
        if candidate is obj:
            return name
    return None


def _import(dotted: str) -> Any:
    """The object a dotted name under ``vae_edu`` refers to, or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def missing_reference(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a name the way Python would, then point at where the reference documents it.

    Handles re-exports (``vae_edu.data._common.Split`` → ``vae_edu.data.Split``), names imported
    into the current module (``LinearGaussian.posterior`` in ``vae_edu.exact.linear_vae``), and the short
    name of a public object used in another module's docstring.
    """
    if node.get("refdomain") != "py":
        return None
    target, module = node["reftarget"], node.get("py:module")
    candidates = ([f"{module}.{target}"] if module else []) + [target]
    head = target.split(".")[0]
    candidates += [name + target[len(head) :] for name in _public_names() if name.rsplit(".", 1)[-1] == head]
    for candidate in candidates:
        if not candidate.startswith("vae_edu"):
            continue
        parts = candidate.split(".")
        for cut in range(len(parts), 0, -1):  # the longest prefix that is a documented object
            obj = _import(".".join(parts[:cut]))
            name = canonical_name(obj) if obj is not None else None
            if name is None:
                continue
            resolved = ".".join([name, *parts[cut:]])
            domain = env.get_domain("py")
            found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], resolved, node, contnode)
            if found is not None:
                return found
            break
    return None


def chapter_map() -> dict[str, list[str]]:
    """``{dotted name: [docnames]}`` for every public function and class."""
    return {name: chapter_for(name, obj) for name, obj in public_objects().items()}


# ----------------------------------------------------------------------------------- the page
PARTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Foundations", "Setup, checks, densities, KLs, estimators and the exact linear-Gaussian playground.", (
        "vae_edu", "vae_edu.utils", "vae_edu.checks", "vae_edu.distributions", "vae_edu.distributions.gaussian",
        "vae_edu.distributions.categorical", "vae_edu.kl", "vae_edu.estimators", "vae_edu.estimators.monte_carlo",
        "vae_edu.estimators.significance", "vae_edu.exact", "vae_edu.exact.marginal", "vae_edu.exact.grid",
        "vae_edu.exact.linear_gaussian", "vae_edu.exact.ppca", "vae_edu.gradients", "vae_edu.gradients.score",
        "vae_edu.gradients.pathwise", "vae_edu.exact.linear_vae", "vae_edu.exact.linear_vae_fit")),
    ("Models, data and training", "The parts and their composition, the data sets, the loop that fits them, and "
     "estimates of log p(x).", (
        "vae_edu.models", "vae_edu.models.config", "vae_edu.models.posteriors", "vae_edu.models.layers", "vae_edu.models.prior",
        "vae_edu.models.terms", "vae_edu.models.vae", "vae_edu.models.persistence", "vae_edu.models.checks",
        "vae_edu.models.protocols", "vae_edu.models.made", "vae_edu.models.autoregressive",
        "vae_edu.training", "vae_edu.training.objectives", "vae_edu.training.loop", "vae_edu.training.state",
        "vae_edu.estimators.likelihood", "vae_edu.estimators.ais", "vae_edu.estimators.ais_likelihood",
        "vae_edu.metrics", "vae_edu.metrics.collapse", "vae_edu.data", "vae_edu.data.digits",
        "vae_edu.data.mnist", "vae_edu.data.toy", "vae_edu.data.shapes", "vae_edu.data.topics")),
    ("What z means, labels, and GANs", "Measuring a latent space, conditioning on labels, and GANs.", (
        "vae_edu.metrics.latent", "vae_edu.metrics.aggregate", "vae_edu.metrics.disentanglement",
        "vae_edu.widgets", "vae_edu.plotting", "vae_edu.metrics.sample_quality", "vae_edu.exact.conditional_linear",
        "vae_edu.models.cvae", "vae_edu.models.gan", "vae_edu.models.gan_losses", "vae_edu.training.gan")),
    ("Richer posteriors and latents", "Flows, Dirichlet latents and discrete latents.", (
        "vae_edu.exact.targets", "vae_edu.models.iaf", "vae_edu.models.iaf_encoder", "vae_edu.estimators.proposals",
        "vae_edu.distributions.dirichlet", "vae_edu.models.dirichlet_latent", "vae_edu.models.dirichlet",
        "vae_edu.metrics.topics", "vae_edu.discrete", "vae_edu.models.quantisers", "vae_edu.models.code_prior")),
    ("Better priors, deeper latents", "Priors fitted with the model (a mixture of Gaussians, the VampPrior) "
     "and two stochastic layers.", (
        "vae_edu.models.learned_priors", "vae_edu.models.vamp_prior", "vae_edu.models.hierarchical",
        "vae_edu.models.ladder", "vae_edu.exact.linear_gaussian_chain", "vae_edu.exact.chain_elbo")),
)

PAGE = ROOT / "book" / "api.md"

HEADER = """# API reference

<!-- Generated by `python book/_ext/vae_edu_api.py --write` (make api); tests/test_api_reference.py
     fails when this page and the package disagree. Edit PARTS in that file, not this page. -->

Every public function and class of the `vae_edu` package, generated from its docstrings. Each entry
states its formula and the shapes it takes and returns, and ends with a **Book:** link to the chapter
that derives it (or, for a helper, the first chapter that uses it).

Import from the module shown, or from the shorter path an entry lists under *Also importable as*
(for example `from vae_edu.models import VAE`). The conventions every function shares — argument
names, shapes, signs, and the errors raised on bad input — are on the {doc}`notation` page.
"""


def _defines(module: Any, attr: str) -> bool:
    """Whether ``module``'s own source assigns the public constant ``attr``."""
    source = inspect.getsource(module)
    return re.search(rf"^{re.escape(attr)}\s*(:[^=\n]*)?=", source, re.M) is not None


def documented_members() -> dict[str, list[str]]:
    """``{module: [attribute names the page documents there]}``, in ``__all__`` order."""
    objects = _public_objects()
    out: dict[str, list[str]] = {}
    for _, _, modules in PARTS:
        for modname in modules:
            module = importlib.import_module(modname)
            names = []
            for attr in getattr(module, "__all__", []):
                obj = getattr(module, attr)
                if inspect.ismodule(obj):
                    continue
                if inspect.isfunction(obj) or inspect.isclass(obj):
                    if objects.get(f"{modname}.{attr}") is obj:
                        names.append(attr)
                elif _defines(module, attr):
                    names.append(attr)
            out[modname] = names
    placed = {f"{m}.{a}" for m, attrs in out.items() for a in attrs}
    missing = sorted(set(objects) - placed)
    if missing:
        raise ValueError(f"public objects whose module is not in PARTS: {missing}")
    return out


def render_page() -> str:
    members = documented_members()
    out = [HEADER]
    for title, blurb, modules in PARTS:
        out.append(f"## {title}\n\n{blurb}\n")
        for modname in modules:
            names = members[modname]
            option = f"   :members: {', '.join(names)}\n" if names else ""
            out.append(f"### `{modname}`\n\n```{{eval-rst}}\n.. automodule:: {modname}\n{option}```\n")
    return "\n".join(out)


# ------------------------------------------------------------------------------------ docstrings
def _math_role(match: re.Match[str], text: str) -> str:
    before = text[match.start() - 1] if match.start() else " "
    after = text[match.end()] if match.end() < len(text) else " "
    role = ":math:`" + " ".join(match.group(1).split()).replace("`", r"\`") + "`"
    # rST inline markup must be delimited by space or punctuation: escape a glued letter.
    return ("\\ " if before.isalnum() else "") + role + ("\\ " if after.isalnum() else "")


def convert_math(text: str) -> str:
    """``$$...$$`` → ``.. math::`` blocks and ``$...$`` → ``:math:`...``` in a docstring."""

    def display(match: re.Match[str]) -> str:
        line_start = text.rfind("\n", 0, match.start()) + 1
        indent = re.match(r"\s*", text[line_start:]).group(0)
        body = " ".join(line.strip() for line in match.group(1).strip().splitlines())
        return f"\n\n{indent}.. math::\n\n{indent}   {body}\n\n{indent}"

    text = _DISPLAY.sub(display, text)
    out, pos = [], 0
    for match in _INLINE.finditer(text):
        out.append(text[pos : match.start()])
        out.append(_math_role(match, text))
        pos = match.end()
    out.append(text[pos:])
    return "".join(out)


def returns_field(text: str) -> str:
    """A Google-style ``Returns:`` section → an rST ``:returns:`` field, taken verbatim.

    napoleon would read everything before the first colon of the section as a *type*
    ("The KL, shape: the broadcast batch shape" would lose its sense); the package's docstrings
    describe return values in prose, so the section is passed through as written.
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = re.fullmatch(r"(\s*)Returns:\s*", lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent = match.group(1)
        body: list[str] = []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            i -= 1
            body.pop()
        width = min(len(b) - len(b.lstrip()) for b in body if b.strip()) if any(b.strip() for b in body) else 0
        body = [b[width:] for b in body]
        if body:
            out.append(f"{indent}:returns: {body[0]}")
            out.extend(f"{indent}   {b}" if b.strip() else "" for b in body[1:])
    return "\n".join(out)


def link_chapters(text: str, fallback: list[str] | None) -> str:
    """Turn the ``Book:`` line's italic titles into ``:doc:`` links; add one if there is none."""

    def book(match: re.Match[str]) -> str:
        def italic(m: re.Match[str]) -> str:
            doc = find_chapter(m.group(1))
            return f":doc:`{' '.join(m.group(1).split())} </{doc}>`" if doc else m.group(0)

        return _ITALIC.sub(italic, match.group(0))

    if _BOOK.search(text):
        return _BOOK.sub(book, text)
    if fallback:
        links = " and ".join(f":doc:`/{doc}`" for doc in fallback)
        return text.rstrip("\n") + f"\n\nBook: {links}.\n"
    return text


def process_docstring(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    top_level = what in {"function", "class", "exception"} and name.count(".") >= 1
    fallback = None
    if top_level and name in _public_names():
        fallback = chapter_for(name, obj)
    text = link_chapters(returns_field(convert_math("\n".join(lines))), fallback)
    if top_level:
        aliases = [alias for alias in _exports().get(id(obj), []) if alias != name]
        if aliases:
            text = text.rstrip("\n") + "\n\nAlso importable as " + ", ".join(f"``{a}``" for a in aliases) + ".\n"
    lines[:] = text.split("\n")


@lru_cache(maxsize=1)
def _public_objects() -> dict[str, Any]:
    return public_objects()


def _public_names() -> frozenset[str]:
    return frozenset(_public_objects())


# Other libraries' objects have no page in this book, and intersphinx cannot fetch their inventories
# offline: their names in signatures stay plain text instead of failing the nitpicky (-n) build.
EXTERNAL = r"(torch|numpy|np|scipy|sklearn|matplotlib|collections|os|random|typing|pathlib)(\..+)?|Tensor"


def _ignore_external(app: Any, config: Any) -> None:
    patterns = {(kind, EXTERNAL) for kind in ("py:class", "py:mod", "py:func", "py:meth", "py:obj", "py:data")}
    config.nitpick_ignore_regex = set(config.nitpick_ignore_regex) | patterns


def skip_member(app: Any, what: str, name: str, obj: Any, skip: bool, options: Any) -> bool | None:
    """Skip a NamedTuple's generated field properties ("Alias for field number 0"): the class
    docstring's Attributes section already describes the fields."""
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


def setup(app: Any) -> dict[str, Any]:
    app.connect("autodoc-skip-member", skip_member)
    app.connect("config-inited", _ignore_external)
    # Priority 400: before sphinx.ext.napoleon (500) turns "Args:" into field lists.
    app.connect("autodoc-process-docstring", process_docstring, priority=400)
    app.connect("missing-reference", missing_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    import sys

    page = render_page()
    if "--write" in sys.argv:
        PAGE.write_text(page)
    elif "--check" in sys.argv:
        sys.exit(0 if PAGE.exists() and PAGE.read_text() == page else f"{PAGE} is stale: run make api")
    else:
        print(page)
