"""A real headless browser for the report tests: Debian's ``chromium`` driven by Playwright
(its Python package; it never downloads a browser of its own here: ``executable_path``).

``visit(path)`` opens a page from disk the way a user would, records every console message,
page error and network request, and waits until the page's script says every figure is drawn
(``body[data-rendered]``). The checks a test makes on it (plots drawn, a screenshot that is
not blank) are plain functions here, so the screenshot in docs/ comes from this very code.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# The flags a sandboxed CI container needs, and none that reach the network on their own.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions"]
VIEWPORT = {"width": 1400, "height": 900}
LOCAL_SCHEMES = ("file:", "data:", "blob:")
RENDER_TIMEOUT_MS = 60_000


def chromium_path() -> str | None:
    """$TRAINLAB_CHROMIUM, else Debian's chromium on PATH."""
    for candidate in (os.environ.get("TRAINLAB_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def unavailable() -> str | None:
    """Why no browser test can run here (None: they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[dev]')"
    if chromium_path() is None:
        return ("no chromium browser: install Debian's (apt-get install chromium; .ci/run does "
                "where apt-get works) or point TRAINLAB_CHROMIUM at one")
    return None


@dataclass
class Visit:
    """A page opened in the browser, and what it did while loading."""

    page: object  # playwright.sync_api.Page
    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    errors: list[str] = field(default_factory=list)  # uncaught exceptions
    requests: list[str] = field(default_factory=list)  # every url asked for

    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"] + self.errors

    def remote_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(LOCAL_SCHEMES)]


@contextlib.contextmanager
def browser() -> Iterator[object]:
    """A headless chromium (a fresh profile in a temporary dir: Playwright's own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), args=FLAGS,
                                              headless=True)
        try:
            yield instance
        finally:
            instance.close()


def visit(instance, path: Path, *, wait_rendered: bool = True) -> Visit:
    """Open ``path`` (from disk) in a new page; with ``wait_rendered``, return when its
    figures are drawn."""
    page = instance.new_page(viewport=VIEWPORT)
    seen = Visit(page)
    page.on("console", lambda message: seen.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.on("request", lambda request: seen.requests.append(request.url))
    # A request off this machine is recorded and refused: a test never waits on the network.
    page.route("**/*", lambda route: route.continue_()
               if route.request.url.startswith(LOCAL_SCHEMES) else route.abort())
    page.goto(Path(path).resolve().as_uri(), wait_until="load")
    if wait_rendered:
        page.wait_for_selector("body[data-rendered=true]", state="attached",
                               timeout=RENDER_TIMEOUT_MS)
    return seen


# What a plot div holds once plotly.js has drawn it: its traces, and the marks on screen.
_PLOT_STATE = """() => [...document.querySelectorAll('.plot[data-figure], #job-curves')].map(d => ({
    figure: d.dataset.figure || d.id,
    traces: (d._fullData || []).length,
    svg: d.querySelectorAll('svg.main-svg').length,
    marks: d.querySelectorAll('.plot path, .plot rect, .trace, .parcoords-lines').length,
    canvas: d.querySelectorAll('canvas').length,
    width: d.getBoundingClientRect().width,
    height: d.getBoundingClientRect().height,
}))"""


def plots(page) -> list[dict]:
    """Each figure of the page: how many traces and marks it drew, and its size."""
    return page.evaluate(_PLOT_STATE)


def pixel_variance(png: bytes) -> float:
    """The variance of a screenshot's grey levels: 0 for a blank (one-colour) image."""
    from PIL import Image

    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    return float(grey.var())


def blank(png: bytes, threshold: float = 1.0) -> bool:
    return pixel_variance(png) < threshold
