from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """Our own user model from the first migration, so fields can be added later."""

    # New photos get a default-ImageNet job in the background (account settings page).
    auto_classify = models.BooleanField(default=False)

    class Meta:
        db_table = "accounts_user"
