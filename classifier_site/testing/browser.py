"""Headless Chromium (Debian's package) driven by Playwright, for browser tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium_page() -> Iterator:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if not executable:
        raise RuntimeError("chromium is not installed: `make system` installs it.")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls in the
    # test body are still synchronous, so allow them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def browser_login(page, base_url: str, username: str, password: str) -> None:
    """Log a page in through the real login form."""
    page.goto(base_url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Log in')")
    page.wait_for_selector("h1:has-text('Hello,')")


@contextmanager
def chromium_browser() -> Iterator:
    """One headless Chromium for several pages (desktop, phone, dark) in one test."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if not executable:
        raise RuntimeError("chromium is not installed: `make system` installs it.")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


VIEWPORTS = {"desktop": (1280, 900), "phone": (375, 740)}


class WatchedPage:
    """A page in its own context that records what a person would not notice but a
    product must not do: console errors, failed requests, 4xx/5xx answers, and
    requests leaving the app's origin."""

    def __init__(self, browser, base_url: str, *, viewport: str = "desktop", dark: bool = False):
        width, height = VIEWPORTS[viewport]
        self.base_url = base_url
        self.context = browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme="dark" if dark else "light",
            accept_downloads=True,
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.console_errors: list[str] = []
        self.failed: list[str] = []
        self.bad_status: list[tuple[int, str]] = []
        self.foreign: list[str] = []
        self.page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        self.page.on("requestfailed", lambda req: self.failed.append(req.url))
        self.page.on(
            "response",
            lambda resp: (
                self.bad_status.append((resp.status, resp.url)) if resp.status >= 400 else None
            ),
        )
        self.page.on(
            "request",
            lambda req: (
                self.foreign.append(req.url)
                if not req.url.startswith((base_url, "data:", "blob:", "about:"))
                else None
            ),
        )

    def reset(self) -> None:
        self.console_errors.clear()
        self.failed.clear()
        self.bad_status.clear()
        self.foreign.clear()

    def horizontal_overflow(self) -> int:
        """How many CSS pixels the page is wider than the window (0 = no sideways scroll)."""
        return int(
            self.page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
        )

    def close(self) -> None:
        self.context.close()
