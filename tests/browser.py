"""Open a local HTML file in Debian's chromium with every network request blocked."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Page:
    page: Any
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@contextlib.contextmanager
def launch(chromium: str) -> Iterator[Any]:
    """Debian chromium under playwright (one browser for many pages)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def open_offline(
    html: Path,
    chromium: str | None = None,
    size: tuple[int, int] = (1200, 900),
    *,
    browser: Any = None,
    cpu_slowdown: float | None = None,
) -> Iterator[Page]:
    """Open ``html`` with every non-file request blocked; collect errors and dialogs.

    Pass ``browser`` (from :func:`launch`) to reuse a running browser.
    ``cpu_slowdown`` throttles the CPU through CDP before the page loads.
    """
    if browser is None:
        with (
            launch(str(chromium)) as b,
            open_offline(html, size=size, browser=b, cpu_slowdown=cpu_slowdown) as p,
        ):
            yield p
        return
    pg = browser.new_page(viewport={"width": size[0], "height": size[1]})
    try:
        out = Page(pg)

        def route(r: Any) -> None:
            url = r.request.url
            if url.startswith(("file:", "data:", "blob:")):
                r.continue_()
            else:
                out.blocked.append(url)
                r.abort()

        pg.route("**/*", route)
        pg.on("console", lambda m: out.errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: out.errors.append(str(e)))

        def on_dialog(d: Any) -> None:
            out.dialogs.append(d.message)
            d.dismiss()

        pg.on("dialog", on_dialog)
        if cpu_slowdown:
            cdp = pg.context.new_cdp_session(pg)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu_slowdown})
        pg.goto(html.resolve().as_uri())
        pg.wait_for_load_state("load")
        pg.wait_for_timeout(300)
        yield out
    finally:
        pg.close()
