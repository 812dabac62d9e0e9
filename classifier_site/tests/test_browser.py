"""A person's first minutes, in a real browser: sign up, dashboard, API token, API call."""

from __future__ import annotations

import json
import urllib.request

import pytest

from classifier_site.testing.browser import chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_create_token_and_call_the_api(live_server):
    with chromium_page() as page:
        page.goto(live_server.url + "/")
        assert "/accounts/login/" in page.url
        page.click("text=Create an account")
        page.fill("input[name=username]", "browser-user")
        page.fill("input[name=password1]", "a-strong-pass-123")
        page.fill("input[name=password2]", "a-strong-pass-123")
        page.click("button:has-text('Sign up')")
        page.wait_for_selector("h1:has-text('Hello, browser-user')")

        page.click("nav >> text=API token")
        page.click("button:has-text('Create token')")
        token = page.inner_text("#api-token").strip()
        assert len(token) == 40

        page.click("button:has-text('Log out')")
        page.wait_for_selector("h1:has-text('Log in')")

    request = urllib.request.Request(
        live_server.url + "/api/v1/", headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        assert json.load(response)["user"] == "browser-user"
