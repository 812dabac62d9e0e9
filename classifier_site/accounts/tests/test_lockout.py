"""Password guessing: a lock-out per account and per client address, shared by the log-in
page, the admin log-in and the API token endpoint; throttles key on the real address."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.throttling import ScopedRateThrottle

from classifier_site.core.http import client_ip

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
TOKEN = "/api/v1/auth/token"
GOOD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _login(client, path: str, username: str, password: str, addr: str = "10.0.0.1", **extra):
    return client.post(
        path, {"username": username, "password": password}, REMOTE_ADDR=addr, **extra
    )


def test_login_page_locks_the_account_after_five_failures(client, user, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    codes = [_login(client, LOGIN, "alice", f"wrong-{i}").status_code for i in range(6)]
    assert codes == [200, 200, 200, 200, 429, 429]
    # The right password no longer helps while the lock lasts...
    locked = _login(client, LOGIN, "alice", GOOD)
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    text = locked.content.decode()
    assert "Too many failed log-in attempts" in text
    assert "Try again in 15 minutes" in text
    assert "_auth_user_id" not in client.session


def test_one_account_is_locked_whatever_address_the_guesses_come_from(client, user):
    codes = [
        _login(client, LOGIN, "alice", "wrong", addr=f"10.0.1.{i}").status_code for i in range(5)
    ]
    assert codes == [200, 200, 200, 200, 429]
    assert _login(client, LOGIN, "alice", GOOD, addr="10.0.9.9").status_code == 429


def test_one_address_is_locked_whatever_account_it_guesses(client, user, other_user):
    codes = [_login(client, LOGIN, f"user{i}", "wrong").status_code for i in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    # ... and from that address even a real account with its right password is refused,
    assert _login(client, LOGIN, "mallory", GOOD).status_code == 429
    # while another address logs in as usual.
    assert _login(client, LOGIN, "mallory", GOOD, addr="10.0.0.2").status_code == 302


def test_admin_login_and_token_endpoint_share_the_lockout(client, api_client, staff_user):
    for _ in range(3):
        assert _login(client, LOGIN, "staff", "wrong").status_code == 200
    assert _login(client, ADMIN_LOGIN, "staff", "wrong").status_code == 200
    assert _login(client, ADMIN_LOGIN, "staff", "wrong").status_code == 429
    assert _login(client, ADMIN_LOGIN, "staff", GOOD).status_code == 429

    response = api_client.post(
        TOKEN, {"username": "staff", "password": GOOD}, REMOTE_ADDR="10.0.0.3"
    )
    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "code": "locked_out",
            "message": "Too many failed log-in attempts for this account or from this address. "
            "Try again in 15 minutes, or ask an administrator to unlock the account.",
        }
    }


def test_token_endpoint_failures_count_towards_the_lockout(api_client, user):
    codes = [
        api_client.post(TOKEN, {"username": "alice", "password": "bad"}).status_code
        for _ in range(5)
    ]
    assert codes == [400, 400, 400, 400, 429]
    response = api_client.post(TOKEN, {"username": "alice", "password": GOOD})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "locked_out"


def test_a_success_resets_the_failure_count(client, user):
    for _ in range(4):
        assert _login(client, LOGIN, "alice", "wrong").status_code == 200
    assert _login(client, LOGIN, "alice", GOOD).status_code == 302
    client.logout()
    assert _login(client, LOGIN, "alice", "wrong").status_code == 200


# --- The real client address ----------------------------------------------------------------


@pytest.fixture
def token_rate_3(settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "token_obtain": "3/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    # DRF reads the rates when the module is imported; point the class at the new ones.
    saved = ScopedRateThrottle.THROTTLE_RATES
    ScopedRateThrottle.THROTTLE_RATES = rates
    yield
    ScopedRateThrottle.THROTTLE_RATES = saved


def _token_try(api_client, forwarded: str, addr: str = "10.0.0.1") -> int:
    return api_client.post(
        TOKEN,
        {"username": "nobody", "password": "bad"},
        REMOTE_ADDR=addr,
        HTTP_X_FORWARDED_FOR=forwarded,
    ).status_code


def test_rotating_x_forwarded_for_does_not_escape_the_throttle(api_client, token_rate_3):
    # No trusted proxy (the default): the header is the client's own words, ignored.
    codes = [_token_try(api_client, f"203.0.113.{i}") for i in range(4)]
    assert codes == [400, 400, 400, 429]


def test_behind_one_proxy_the_rightmost_address_is_the_client(api_client, token_rate_3, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # The client forges the left part; the load balancer appended the real address.
    codes = [_token_try(api_client, f"198.51.100.{i}, 203.0.113.7") for i in range(4)]
    assert codes == [400, 400, 400, 429]
    # Another real client behind the same load balancer (same REMOTE_ADDR) is not affected.
    assert _token_try(api_client, "203.0.113.8") == 400


def test_client_ip_rule(rf, settings):
    def ip(forwarded: str | None, count: int) -> str:
        settings.TRUSTED_PROXY_COUNT = count
        extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
        return client_ip(rf.get("/", REMOTE_ADDR="10.1.1.1", **extra))

    assert ip("1.1.1.1, 2.2.2.2", 0) == "10.1.1.1"
    assert ip("1.1.1.1, 2.2.2.2", 1) == "2.2.2.2"
    assert ip("1.1.1.1, 2.2.2.2, 3.3.3.3", 2) == "2.2.2.2"
    assert ip("2.2.2.2", 2) == "2.2.2.2"  # fewer entries than proxies: the leftmost, as DRF
    assert ip(None, 1) == "10.1.1.1"


def test_lockout_keys_on_the_address_the_proxy_saw(client, user, other_user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for i in range(5):
        _login(client, LOGIN, f"user{i}", "wrong", HTTP_X_FORWARDED_FOR=f"9.9.9.{i}, 203.0.113.7")
    # Same real client, fresh forged prefix: still locked.
    locked = _login(client, LOGIN, "mallory", GOOD, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    assert locked.status_code == 429
    # A different client through the same proxy logs in.
    ok = _login(client, LOGIN, "mallory", GOOD, HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert ok.status_code == 302
