"""Open every page of the built book in headless Chromium, offline, and check what a reader sees.

Five checks per page, and two screenshots:

1. **math**: MathJax finished (``MathJax.startup.promise``); a page whose HTML has math has
   ``mjx-container`` output in every ``.math`` element, no MathJax error node, and no raw TeX
   (``$$``, ``\\[``, ``\\(``, ``\\begin{``, an unconverted ``$...\\cmd...$``) in its text outside code.
2. **images**: every ``<img>`` is ``complete`` with ``naturalWidth > 0``; every web font declared
   on the page (MathJax's included) loaded.
3. **console**: no JavaScript exception, no ``console.error``/``console.assert``, no error in the
   browser log, no failed request (image, script, stylesheet, font). With no network, any request
   to another host fails, so a page that needs the network fails here.
4. **links**: every local ``href``/``src`` (``<a>``, ``<link>``, ``<script>``, ``<img>``, ...) names a
   file under the HTML directory, and its ``#fragment`` an ``id`` (or ``name``) in that file. Done in
   Python over the HTML files; external ``http(s)`` links are counted and skipped.
5. **solutions**: every dropdown admonition (an exercise's solution) is folded on load.

Usage::

    python tools/browser_check.py [--html _build/html] [--out _build/browser-check] [--serve]

prints one line per page and a summary, saves ``intro.png`` and ``02_elbo.png`` in ``--out`` and
exits 1 if any page fails. Pages are opened as ``file://`` URLs, as a reader opening
``_build/html/index.html`` would; ``--serve`` serves the directory on 127.0.0.1 instead.

Chromium is driven over the Chrome DevTools Protocol on a pipe (``--remote-debugging-pipe``:
it reads ``\\0``-terminated JSON messages on fd 3 and writes them on fd 4), so no Python package
beyond the standard library is needed. It needs Debian's ``chromium`` package.

Importable: :func:`check_book` returns a :class:`BookResult`.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import functools
import http.server
import json
import os
import queue
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
#: The checks, in the order they are reported.
CHECKS = ("math", "images", "console", "links", "solutions")
#: Pages screenshotted (relative to the HTML directory) and the PNG each is saved as.
SCREENSHOTS = {"book/intro.html": "intro.png", "notebooks/02_elbo.html": "02_elbo.png"}
VIEWPORT = (1280, 1000)
#: Height (CSS px) of the screenshots: the top of the page, at full width.
SCREENSHOT_HEIGHT = 2000
#: Pages that are not the reader's: Sphinx's generated index and search pages.
SKIPPED_NAMES = {"genindex.html", "search.html"}
#: Chromium flags: headless, no sandbox (runs as root), and no network at all: every host name
#: resolves to nothing and every non-loopback connection goes to a proxy that does not exist.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--remote-debugging-pipe",
    f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
]
INSTALL_HINT = "install Debian's chromium package: `apt-get install chromium` (the browser check needs it)"


class BrowserError(RuntimeError):
    """Chromium is missing, did not start, or did not answer in time."""


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class PageResult:
    """What the browser and the link check found on one page."""

    page: str  #: path relative to the HTML directory, e.g. ``notebooks/02_elbo.html``
    has_math: bool = False  #: the page's HTML contains math
    math: int = 0  #: number of ``mjx-container`` elements after typesetting
    images: int = 0  #: number of ``<img>`` elements
    images_loaded: int = 0  #: of which loaded (``complete`` and ``naturalWidth > 0``)
    fonts_loaded: int = 0  #: web fonts (``document.fonts``) that loaded
    mathjax_fonts: int = 0  #: of which MathJax's own (``MJXZERO``, ``MJXTEX*``)
    links: int = 0  #: local references checked
    dropdowns: int = 0  #: dropdown admonitions (exercise solutions), all of which must start closed
    seconds: float = 0.0  #: wall time in the browser (load, MathJax, images, fonts)
    errors: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in CHECKS})

    @property
    def ok(self) -> bool:
        return not any(self.errors.values())

    def line(self) -> str:
        n = sum(len(v) for v in self.errors.values())
        return (
            f"{'PASS' if self.ok else 'FAIL'}  {self.page:<44} math={self.math:<5d} "
            f"images={self.images_loaded}/{self.images:<3d} fonts={self.fonts_loaded:<2d}(MathJax {self.mathjax_fonts:<2d}) "
            f"links={self.links:<4d} dropdowns={self.dropdowns:<2d} {self.seconds:4.1f} s  errors={n}"
        )


@dataclass
class BookResult:
    """The whole check: one :class:`PageResult` per page, the link counts and the run time."""

    html_dir: Path
    mode: str  #: ``"file"`` (file:// URLs) or ``"http"`` (served on 127.0.0.1)
    pages: list[PageResult]
    internal_links: int  #: local references checked (all pages)
    external_skipped: int  #: http(s) references not checked (no network)
    screenshots: dict[str, Path]  #: page -> PNG saved
    wall_seconds: float
    cpu_seconds: float  #: this process plus the (reaped) browser processes
    screenshots_wanted: list[str] = field(default_factory=list)  #: pages that should have been captured

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.pages) and all(p in self.screenshots for p in self.screenshots_wanted)

    def failures(self) -> list[str]:
        """One line per failure: ``page [check] message``."""
        lines = [f"{p.page} [{c}] {m}" for p in self.pages for c in CHECKS for m in p.errors[c]]
        lines += [f"{p} [screenshot] not saved (page missing or did not load)" for p in self.screenshots_wanted if p not in self.screenshots]
        return lines

    def report(self) -> str:
        lines = []
        for p in self.pages:
            lines.append(p.line())
            lines += [f"      [{c}] {m}" for c in CHECKS for m in p.errors[c]]
        failed = sum(not p.ok for p in self.pages)
        lines.append(
            f"{len(self.pages)} pages checked ({failed} failed, opened as {self.mode} URLs), "
            f"{self.internal_links} internal links checked, {self.external_skipped} external links skipped, "
            f"screenshots: {', '.join(str(s) for s in self.screenshots.values()) or 'none'}; "
            f"run time {self.wall_seconds:.1f} s wall, {self.cpu_seconds:.1f} s CPU"
        )
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Pages and links (pure Python)
# --------------------------------------------------------------------------------------------


def _is_redirect(html: str) -> bool:
    return re.search(r"<meta[^>]+http-equiv=[\"']?refresh", html, re.IGNORECASE) is not None


def list_pages(html_dir: Path) -> list[Path]:
    """Every reader's page: all ``*.html`` except ``_static/``, ``genindex``, ``search`` and redirects."""
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        rel = path.relative_to(html_dir)
        if "_static" in rel.parts or rel.name in SKIPPED_NAMES:
            continue
        if _is_redirect(path.read_text(errors="replace")):
            continue
        pages.append(path)
    return pages


#: (tag, attribute) pairs whose value is a URL the page depends on or links to.
_URL_ATTRS = {
    ("a", "href"), ("area", "href"), ("link", "href"), ("script", "src"), ("img", "src"),
    ("iframe", "src"), ("source", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"),
}
_SKIP_SCHEMES = {"mailto", "javascript", "data", "tel", "blob", "about"}


class _HTMLRefs(HTMLParser):
    """Collects the ids/names a page defines and the URLs it references."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str, int]] = []  # (tag, url, line)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v for k, v in attrs if v is not None}
        if "id" in values:
            self.ids.add(values["id"])
        if tag == "a" and "name" in values:
            self.ids.add(values["name"])
        for name, value in values.items():
            if (tag, name) in _URL_ATTRS:
                self.refs.append((tag, value.strip(), self.getpos()[0]))
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            match = re.search(r"url\s*=\s*(.+)", values.get("content", ""), re.IGNORECASE)
            if match:
                self.refs.append(("meta", match.group(1).strip().strip("'\""), self.getpos()[0]))

    handle_startendtag = handle_starttag


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> _HTMLRefs:
    parser = _HTMLRefs()
    parser.feed(path.read_text(errors="replace"))
    parser.close()
    return parser


def check_links(html_dir: Path, pages: Iterable[Path]) -> tuple[dict[str, list[str]], dict[str, int], int]:
    """Check every local reference of ``pages``: the file exists under ``html_dir``, the fragment too.

    Returns:
        ``(errors, checked, external)``: per page (relative path) the broken references and the
        number of local references checked, and the number of ``http(s)`` references skipped.
    """
    html_dir = Path(os.path.abspath(html_dir))  # not resolve(): a symlinked directory stays inside
    _parse.cache_clear()
    errors: dict[str, list[str]] = {}
    checked: dict[str, int] = {}
    external = 0
    for page in pages:
        page = Path(os.path.abspath(page))
        rel = str(page.relative_to(html_dir))
        errors[rel], checked[rel] = [], 0
        seen: set[str] = set()
        for tag, url, line in _parse(page).refs:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme in {"http", "https"} or (not scheme and parts.netloc):
                external += 1
                continue
            if scheme in _SKIP_SCHEMES:
                continue
            checked[rel] += 1
            if url in seen:
                continue
            seen.add(url)
            where = f"<{tag}> {url!r} (line {line})"
            if scheme:  # file:, ftp:, ... : not portable, not part of the book
                errors[rel].append(f"{where}: a {scheme}: URL in a built page")
                continue
            path = unquote(parts.path)
            target = Path(os.path.normpath(page.parent / path)) if path else page
            if target.is_dir():
                target = target / "index.html"
            if html_dir != target and html_dir not in target.parents:
                errors[rel].append(f"{where}: points outside the HTML directory ({target})")
            elif not target.is_file():
                errors[rel].append(f"{where}: no such file {target.relative_to(html_dir)}")
            elif parts.fragment and target.suffix == ".html":
                fragment = unquote(parts.fragment)
                if fragment not in _parse(target).ids:
                    errors[rel].append(
                        f"{where}: no id or name {fragment!r} in {target.relative_to(html_dir)}"
                    )
    return errors, checked, external


# --------------------------------------------------------------------------------------------
# Chromium over the DevTools protocol (a pipe on fds 3 and 4)
# --------------------------------------------------------------------------------------------


def find_chromium() -> str:
    """The Chromium executable (``$CHROMIUM``, else ``chromium`` on the ``PATH``), or a clear error."""
    candidates = [os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser"]
    for name in candidates:
        if name and (path := shutil.which(name)):
            return path
    raise BrowserError(f"Chromium not found (looked for {', '.join(c for c in candidates if c)}): {INSTALL_HINT}")


class Browser:
    """One headless Chromium with one tab, driven over ``--remote-debugging-pipe``.

    Use as a context manager: the browser is killed (its whole process group) on exit.
    """

    def __init__(self, executable: str | None = None, timeout: float = 60.0) -> None:
        self.executable = executable or find_chromium()
        self.timeout = timeout
        self._next_id = 0
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None
        self._profile = tempfile.mkdtemp(prefix="browser-check-profile-")
        self._proc: subprocess.Popen[bytes] | None = None

    # -- process and pipe ------------------------------------------------------------------
    def __enter__(self) -> Browser:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def map_fds() -> None:  # in the child: its fd 3 reads our commands, fd 4 writes replies
            high_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        args = [self.executable, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}", "about:blank"]
        self._stderr = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr,
                pass_fds=(3, 4), preexec_fn=map_fds, start_new_session=True,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.send("Target.setDiscoverTargets", {"discover": False})
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable", {}, session=True)
            self.send("Emulation.setDeviceMetricsOverride", {
                "width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False,
            }, session=True)
            self.send("Network.setCacheDisabled", {"cacheDisabled": True}, session=True)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                self._write({"id": -1, "method": "Browser.close"})
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the group we started (start_new_session)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-2000:]

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                self._messages.put(None)
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for message in messages:
                self._messages.put(json.loads(message))

    def _write(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._to_child, data):]

    def _pump(self, deadline: float, what: str) -> dict[str, Any]:
        """The next message from the browser, or a :class:`BrowserError` at ``deadline``."""
        try:
            message = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise BrowserError(f"timed out waiting for {what}") from None
        if message is None:
            code = self._proc.poll() if self._proc else None
            raise BrowserError(f"Chromium closed the pipe (exit code {code}) waiting for {what}:\n{self._stderr_tail()}")
        return message

    # -- protocol -----------------------------------------------------------------------
    def send(self, method: str, params: dict[str, Any], *, session: bool = False,
             timeout: float | None = None) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile go to :attr:`events`."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self._write(message)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._pump(deadline, f"the reply to {method}")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, timeout: float | None = None) -> dict[str, Any]:
        """Wait for (and consume) the first buffered or incoming event called ``method``."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, event in enumerate(self.events):
                if event["method"] == method:
                    return self.events.pop(i)
            message = self._pump(deadline, f"the event {method}")
            if "method" in message:
                self.events.append(message)

    def navigate(self, url: str, timeout: float | None = None) -> None:
        """Open ``url`` in the tab and wait for its ``load`` event."""
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        result = self.send("Page.navigate", {"url": url}, session=True, timeout=timeout)
        if result.get("errorText"):
            raise BrowserError(f"navigation to {url} failed: {result['errorText']}")
        self.wait_event("Page.loadEventFired", timeout)

    def evaluate(self, expression: str, timeout: float | None = None) -> Any:
        """Evaluate ``expression`` in the page, await it, and return its value (JSON)."""
        result = self.send("Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True,
        }, session=True, timeout=timeout)
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {_exception_text(result['exceptionDetails'])}")
        return result["result"].get("value")

    def set_viewport(self, width: int, height: int) -> None:
        """Resize the page's viewport (CSS pixels, scale 1) and wait for two animation frames."""
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False,
        }, session=True)
        self.evaluate("new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))")

    def screenshot(self, path: Path, height: int) -> None:
        """Save the top ``height`` CSS pixels of the page, at the viewport's width, as a PNG.

        The viewport is made ``height`` tall for the capture (so sticky sidebars are drawn as a
        reader with a tall window would see them), then put back.
        """
        self.set_viewport(VIEWPORT[0], height)
        try:
            self.evaluate("window.scrollTo(0, 0); new Promise((resolve) => setTimeout(resolve, 300))")
            data = self.send("Page.captureScreenshot", {
                "format": "png", "clip": {"x": 0, "y": 0, "width": VIEWPORT[0], "height": height, "scale": 1},
            }, session=True)["data"]
        finally:
            self.set_viewport(*VIEWPORT)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))


def _exception_text(details: dict[str, Any]) -> str:
    exception = details.get("exception", {})
    text = exception.get("description") or details.get("text", "exception")
    where = details.get("url") or details.get("scriptId", "")
    return f"{text.splitlines()[0] if text else text} at {where}:{details.get('lineNumber', '?')}"


def _remote_value(arg: dict[str, Any]) -> str:
    if "value" in arg:
        return str(arg["value"])
    return str(arg.get("description") or arg.get("unserializableValue") or arg.get("type"))


def _implicit_favicon(event: dict[str, Any]) -> bool:
    """The browser's own request for ``/favicon.ico`` (over http only), which no page asked for."""
    params = event.get("params", {})
    url = next((params.get(k, {}).get("url") for k in ("request", "response", "entry") if params.get(k, {}).get("url")), "")
    return urlsplit(url).scheme in {"http", "https"} and urlsplit(url).path == "/favicon.ico"


def console_errors(events: Sequence[dict[str, Any]]) -> list[str]:
    """The errors among the DevTools events recorded while a page was open, one line each."""
    urls: dict[str, str] = {}
    errors: list[str] = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Network.requestWillBeSent":
            if _implicit_favicon(event):
                continue
            urls[params["requestId"]] = params["request"]["url"]
        elif method == "Network.loadingFailed":
            if params["requestId"] not in urls and params.get("type") == "Other":
                continue  # a request this page did not make (the implicit favicon)
            url = urls.get(params["requestId"], "?")
            reason = params.get("blockedReason") or params.get("errorText", "")
            kind = params.get("type", "resource")
            errors.append(f"failed to load {kind} {url}: {reason}" + (" (canceled)" if params.get("canceled") else ""))
        elif method in {"Network.responseReceived", "Log.entryAdded"} and _implicit_favicon(event):
            continue
        elif method == "Network.responseReceived":
            status = params["response"].get("status", 0)
            if status >= 400:
                errors.append(f"HTTP {status} for {params.get('type', 'resource')} {params['response']['url']}")
        elif method == "Runtime.exceptionThrown":
            errors.append(f"JavaScript exception: {_exception_text(params['exceptionDetails'])}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            text = " ".join(_remote_value(a) for a in params.get("args", []))
            frames = params.get("stackTrace", {}).get("callFrames", [])
            where = f" at {frames[0]['url']}:{frames[0]['lineNumber'] + 1}" if frames else ""
            errors.append(f"console.{params['type']}: {text}{where}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            errors.append(f"browser log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".rstrip())
    return errors


# --------------------------------------------------------------------------------------------
# The in-page check (JavaScript, evaluated after the load event)
# --------------------------------------------------------------------------------------------

_PAGE_SCRIPT = r"""
(async (timeoutMs) => {
  const deadline = Date.now() + timeoutMs;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const left = () => Math.max(0, deadline - Date.now());
  const within = (promise, what) => Promise.race([
    promise.then(() => null, (e) => `${what} failed: ${e}`),
    sleep(left()).then(() => `${what}: timed out after ${timeoutMs} ms`),
  ]);
  const out = {problems: {math: [], images: [], solutions: []}};

  // 1. MathJax: wait until it has started and finished its first typesetting pass.
  const usesMathJax = !!window.MathJax || !!document.querySelector('script[src*="mathjax" i]');
  out.mathjax = usesMathJax;
  if (usesMathJax) {
    while (!(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) && left() > 0) {
      await sleep(25);
    }
    if (!(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)) {
      out.problems.math.push('MathJax did not start (no MathJax.startup.promise)');
    } else {
      const problem = await within(window.MathJax.startup.promise, 'MathJax typesetting');
      if (problem) out.problems.math.push(problem);
    }
  }
  out.math = document.querySelectorAll('mjx-container').length;
  for (const node of document.querySelectorAll('mjx-merror, [data-mjx-error]')) {
    const message = node.getAttribute('data-mjx-error') || node.textContent;
    out.problems.math.push(`MathJax error: ${message.slice(0, 200)}`);
  }
  const untypeset = [...document.querySelectorAll('.math')].filter((m) => !m.querySelector('mjx-container'));
  for (const node of untypeset.slice(0, 5)) {
    out.problems.math.push(`math not typeset: ${node.textContent.trim().slice(0, 120)}`);
  }
  if (untypeset.length > 5) out.problems.math.push(`... ${untypeset.length - 5} more .math elements not typeset`);

  // Raw TeX in the text (including closed dropdowns), outside code and MathJax's own output.
  const skip = 'pre, code, kbd, samp, .highlight, .cell_input, mjx-container, script, style, noscript, template, textarea';
  const patterns = [
    ['$$', /\$\$/g], ['\\[', /\\\[/g], ['\\(', /\\\(/g], ['\\begin{', /\\begin\{/g],
    ['$...\\cmd...$', /\$[^$\n]{0,200}?\\[A-Za-z]+[^$\n]{0,200}?\$/g],
  ];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => (node.parentElement && node.parentElement.closest(skip))
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  let rawCount = 0;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent;
    for (const [name, re] of patterns) {
      for (const match of text.matchAll(re)) {
        rawCount += 1;
        if (rawCount > 10) continue;
        const context = text.slice(Math.max(0, match.index - 40), match.index + match[0].length + 40);
        const section = node.parentElement.closest('section[id]');
        out.problems.math.push(`raw TeX ${name} in the text${section ? ` (section #${section.id})` : ''}: `
          + JSON.stringify(context.replace(/\s+/g, ' ').trim()));
      }
    }
  }
  if (rawCount > 10) out.problems.math.push(`... ${rawCount - 10} more raw TeX matches`);

  // 2. Images: scroll through the page if some lazy image has not loaded yet, then wait for
  // every image to settle. (No scrolling otherwise: it would leave the theme's table of contents
  // highlighting the last section in the screenshots.)
  const images = [...document.images];
  if (images.some((img) => img.loading === 'lazy' && !img.complete)) {
    for (let y = 0; y < document.body.scrollHeight; y += window.innerHeight) {
      window.scrollTo(0, y);
      await sleep(50);
    }
    window.scrollTo(0, 0);
  }
  await Promise.all(images.map((img) => img.complete ? null : within(new Promise((resolve) => {
    img.addEventListener('load', resolve, {once: true});
    img.addEventListener('error', resolve, {once: true});
  }), 'image')));
  out.images = images.length;
  out.imagesLoaded = 0;
  for (const img of images) {
    if (img.complete && img.naturalWidth > 0) { out.imagesLoaded += 1; continue; }
    const src = img.currentSrc || img.getAttribute('src') || '(no src)';
    out.problems.images.push(`image did not load: ${src.slice(0, 200)}`
      + (img.complete ? ' (complete, naturalWidth 0)' : ' (not complete)'));
  }

  // Web fonts (MathJax's among them) requested by the page: wait for them, none may fail.
  const fontProblem = await within(document.fonts.ready, 'web fonts');
  if (fontProblem) out.problems.images.push(fontProblem);
  const fonts = [...document.fonts];
  out.fontsLoaded = fonts.filter((f) => f.status === 'loaded').length;
  out.mathjaxFonts = fonts.filter((f) => f.status === 'loaded' && /^MJX/.test(f.family)).map((f) => f.family);
  for (const font of fonts.filter((f) => f.status === 'error')) {
    out.problems.images.push(`web font did not load: ${font.family} ${font.style} ${font.weight}`);
  }
  // 3. Exercise solutions start closed: every dropdown admonition is folded by sphinx-togglebutton
  // (class toggle-hidden) and nothing but its title takes up space on the page.
  const dropdowns = [...document.querySelectorAll('.admonition.dropdown')];
  out.dropdowns = dropdowns.length;
  for (const box of dropdowns) {
    const title = (box.querySelector('.admonition-title') || box).textContent.trim().slice(0, 60);
    const visible = [...box.children].filter((c) => !c.matches('.admonition-title, button') && c.offsetHeight > 0);
    if (!box.classList.contains('toggle-hidden') || visible.length) {
      out.problems.solutions.push(`dropdown "${title}" is open on load`);
    }
  }
  out.height = Math.ceil(document.documentElement.scrollHeight);
  return out;
})
"""


def _page_has_math(html: str) -> bool:
    return 'class="math' in html or "\\(" in html or "\\[" in html


def _check_page(browser: Browser, url: str, result: PageResult, html: str, timeout: float) -> dict[str, Any]:
    browser.events.clear()
    try:
        browser.navigate(url, timeout)
        data = browser.evaluate(f"{_PAGE_SCRIPT}({int(timeout * 1000)})", timeout + 10)
        browser.evaluate("new Promise((resolve) => setTimeout(resolve, 100))")  # late events
    except BrowserError as error:
        result.errors["console"].append(f"browser: {error}")
        result.errors["console"] += console_errors(browser.events)
        return {}
    result.has_math = _page_has_math(html)
    result.math = int(data["math"])
    result.images, result.images_loaded = int(data["images"]), int(data["imagesLoaded"])
    result.fonts_loaded = int(data["fontsLoaded"])
    result.mathjax_fonts = len(data["mathjaxFonts"])
    result.errors["math"] += data["problems"]["math"]
    if result.has_math and result.math == 0:
        result.errors["math"].insert(0, "the page's HTML has math but no mjx-container was rendered")
    result.errors["images"] += data["problems"]["images"]
    result.errors["solutions"] += data["problems"]["solutions"]
    result.dropdowns = int(data["dropdowns"])
    result.errors["console"] += console_errors(browser.events)
    for check in CHECKS:  # the same message twice (e.g. `$$` opening and closing) is said once
        result.errors[check] = list(dict.fromkeys(result.errors[check]))
    return data


# --------------------------------------------------------------------------------------------
# Serving over http (the fallback when file:// does not work)
# --------------------------------------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def _serve(directory: Path) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------


def check_book(
    html_dir: Path | str = ROOT / "_build" / "html",
    out_dir: Path | str | None = None,
    *,
    serve: bool = False,
    timeout: float = 60.0,
    pages: Sequence[Path | str] | None = None,
    screenshots: dict[str, str] | None = None,
) -> BookResult:
    """Open every page of ``html_dir`` in headless Chromium (no network) and run the four checks.

    Args:
        html_dir: the built book (``_build/html``).
        out_dir: where the screenshots go; default ``<html_dir>/../browser-check``.
        serve: open the pages from an HTTP server on 127.0.0.1 instead of as ``file://`` URLs.
        timeout: seconds allowed for each page's load, MathJax, images and fonts.
        pages: the pages to check (default: :func:`list_pages`).
        screenshots: page (relative path) -> PNG file name; default :data:`SCREENSHOTS`.

    Returns:
        A :class:`BookResult`; ``result.ok`` is False if any page failed any check.

    Raises:
        BrowserError: if Chromium is not installed, does not start, or stops answering.
        FileNotFoundError: if ``html_dir`` is not a directory.
    """
    start_wall, start_cpu = time.monotonic(), time.process_time()
    start_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    html_dir = Path(os.path.abspath(html_dir))
    if not html_dir.is_dir():
        raise FileNotFoundError(f"html_dir {html_dir} is not a directory: build the book first (make book)")
    out = Path(out_dir) if out_dir is not None else html_dir.parent / "browser-check"
    shots = SCREENSHOTS if screenshots is None else screenshots
    paths = [Path(p) if Path(p).is_absolute() else html_dir / p for p in pages] if pages is not None else list_pages(html_dir)
    executable = find_chromium()  # before any work: a missing browser is the first thing to say

    link_errors, link_counts, external = check_links(html_dir, paths)
    redirect = html_dir / "index.html"
    if pages is None and redirect.is_file() and redirect not in paths:  # the redirect's target too
        extra_errors, extra_counts, extra_external = check_links(html_dir, [redirect])
        link_errors.update(extra_errors)
        link_counts.update(extra_counts)
        external += extra_external
    results: list[PageResult] = []
    saved: dict[str, Path] = {}
    server = _serve(html_dir) if serve else None
    try:
        with Browser(executable, timeout=timeout) as browser:
            for path in paths:
                rel = str(path.relative_to(html_dir))
                result = PageResult(rel)
                result.links = link_counts.get(rel, 0)
                result.errors["links"] = link_errors.get(rel, [])
                if server is not None:
                    url = f"http://127.0.0.1:{server.server_address[1]}/{rel}"
                else:
                    url = path.as_uri()
                page_start = time.monotonic()
                data = _check_page(browser, url, result, path.read_text(errors="replace"), timeout)
                result.seconds = time.monotonic() - page_start
                if rel in shots and data:
                    target = out / shots[rel]
                    try:
                        browser.screenshot(target, min(SCREENSHOT_HEIGHT, max(1, int(data.get("height", 1)))))
                        saved[rel] = target
                    except BrowserError as error:
                        result.errors["console"].append(f"screenshot failed: {error}")
                results.append(result)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    if pages is None and "index.html" in link_errors and link_errors["index.html"]:
        results.append(PageResult("index.html", links=link_counts["index.html"],
                                  errors={"math": [], "images": [], "console": [], "links": link_errors["index.html"]}))
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - start_cpu
    cpu += (children.ru_utime - start_children.ru_utime) + (children.ru_stime - start_children.ru_stime)
    return BookResult(
        html_dir=html_dir, mode="http" if serve else "file", pages=results,
        internal_links=sum(link_counts.values()), external_skipped=external, screenshots=saved,
        wall_seconds=time.monotonic() - start_wall, cpu_seconds=cpu,
        screenshots_wanted=list(shots),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="the built book (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None, help="screenshot directory (default: <html>/../browser-check)")
    parser.add_argument("--serve", action="store_true", help="serve on 127.0.0.1 instead of opening file:// URLs")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per page (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        result = check_book(args.html, args.out, serve=args.serve, timeout=args.timeout)
    except (BrowserError, FileNotFoundError) as error:
        print(f"browser check: {error}", file=sys.stderr)
        return 2 if isinstance(error, FileNotFoundError) else 1
    print(result.report())
    missing = [p for p in result.failures() if "[screenshot]" in p]
    for line in missing:
        print(f"FAIL  {line}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
