from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from rest_framework.authtoken.models import Token

from classifier_site.accounts.models import User


@transaction.atomic
def token_rotate(*, user: User) -> Token:
    """Replace the user's API token with a fresh one (the old one stops working)."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def token_revoke(*, user: User) -> int:
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted


def demo_user_ensure(*, username: str = "demo", password: str = "demo-password") -> bool:
    """Create the demo account used by `make run`; True when it was created now."""
    if User.objects.filter(username=username).exists():
        return False
    User.objects.create_user(username=username, password=password, email="")
    return True


# --- Sign-up: open, by invitation, or closed (SIGNUP) ----------------------------------------

_INVITE_SALT = "classifier.accounts.invite"


def invite_create(*, username: str) -> str:
    """A signed invitation for one username (it can be used once: usernames are unique).

    Valid for SIGNUP_INVITE_DAYS; needs no table, since the signature is the record.
    """
    return signing.TimestampSigner(salt=_INVITE_SALT).sign(username)


def invite_check(*, token: str, username: str) -> bool:
    max_age = settings.SIGNUP_INVITE_DAYS * 24 * 3600
    try:
        invited = signing.TimestampSigner(salt=_INVITE_SALT).unsign(token, max_age=max_age)
    except signing.BadSignature:
        return False
    return invited == username


def signup_attempt_allowed(*, client: str) -> bool:
    """Count one sign-up attempt from ``client``; False once SIGNUP_RATE is used up.

    Fixed window per client address in the shared cache (Redis or the database cache),
    so every web process counts together.
    """
    limit, period = parse_rate(settings.SIGNUP_RATE)
    key = f"signup-attempts:{client}"
    cache.add(key, 0, timeout=period)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=period)
        count = 1
    return count <= limit


def parse_rate(rate: str) -> tuple[int, int]:
    """ "10/hour" -> (10, 3600): DRF's throttle rate syntax."""
    count, _, unit = rate.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit.strip()[:1]]
    return int(count), seconds


def account_settings_update(*, user: User, auto_classify: bool) -> None:
    user.auto_classify = auto_classify
    user.save(update_fields=["auto_classify"])
