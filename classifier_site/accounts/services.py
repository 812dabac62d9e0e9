from __future__ import annotations

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


def account_settings_update(*, user: User, auto_classify: bool) -> None:
    user.auto_classify = auto_classify
    user.save(update_fields=["auto_classify"])
