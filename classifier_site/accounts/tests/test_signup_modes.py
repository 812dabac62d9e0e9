"""SIGNUP (open / invite / closed) and the sign-up rate limit (the issue's row 9)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.management import call_command

from classifier_site.accounts.models import User
from classifier_site.accounts.services import invite_create

pytestmark = pytest.mark.django_db

SIGNUP = "/accounts/signup/"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _form(username: str, **extra) -> dict:
    return {
        "username": username,
        "password1": "a-strong-pass-123",
        "password2": "a-strong-pass-123",
        **extra,
    }


def test_closed_signup_creates_no_account(client, settings):
    settings.SIGNUP = "closed"
    assert client.get(SIGNUP).status_code == 403
    response = client.post(SIGNUP, _form("newbie"))
    assert response.status_code == 403
    assert b"Sign-up is closed" in response.content
    assert not User.objects.filter(username="newbie").exists()


def test_invite_only_signup_needs_the_invitation_for_that_username(client, settings):
    settings.SIGNUP = "invite"
    code = invite_create(username="bob")

    refused = client.post(SIGNUP, _form("bob"))
    assert refused.status_code == 200
    assert b"This field is required." in refused.content
    wrong_user = client.post(SIGNUP, _form("eve", invite=code))
    assert b"This invitation is not valid for this username" in wrong_user.content
    forged = client.post(SIGNUP, _form("bob", invite=code[:-2] + "xx"))
    assert b"This invitation is not valid for this username" in forged.content
    assert not User.objects.exists()

    assert client.get(f"{SIGNUP}?invite={code}").status_code == 200
    ok = client.post(SIGNUP, _form("bob", invite=code))
    assert ok.status_code == 302
    assert User.objects.filter(username="bob").count() == 1


def test_invite_command_prints_a_working_code(client, settings, capsys):
    settings.SIGNUP = "invite"
    call_command("invite", "carol", "--base-url", "https://app.example.com")
    out = capsys.readouterr().out.splitlines()
    code = out[1]
    assert out[2] == f"https://app.example.com/accounts/signup/?invite={code}"
    assert client.post(SIGNUP, _form("carol", invite=code)).status_code == 302


def test_open_signup_is_rate_limited_per_client(client, settings):
    settings.SIGNUP_RATE = "3/hour"

    def sign_up(username: str, addr: str = "10.0.0.7") -> int:
        client.logout()  # each success logs the client in; come back as a new visitor
        return client.post(SIGNUP, _form(username), REMOTE_ADDR=addr).status_code

    assert [sign_up(f"user{i}") for i in range(3)] == [302, 302, 302]
    client.logout()
    limited = client.post(SIGNUP, _form("user9"), REMOTE_ADDR="10.0.0.7")
    assert limited.status_code == 429
    assert b"Too many sign-ups from this address" in limited.content
    assert not User.objects.filter(username="user9").exists()
    assert sign_up("user8", addr="10.0.0.8") == 302
