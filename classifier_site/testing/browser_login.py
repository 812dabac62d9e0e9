"""Log a browser page in through the real login form."""

from __future__ import annotations


def browser_login(page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Log in')")
    page.wait_for_selector("h1:has-text('Hello,')")
