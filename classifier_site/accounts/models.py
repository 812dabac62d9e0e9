from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """Our own user model from the first migration, so fields can be added later."""

    class Meta:
        db_table = "accounts_user"
