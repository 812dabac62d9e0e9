import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from classifier_site.accounts.models import User

pytestmark = pytest.mark.django_db


def test_sign_up_logs_the_new_user_in(client):
    response = client.post(
        reverse("signup"),
        {
            "username": "newbie",
            "email": "n@example.com",
            "password1": "a-strong-pass-123",
            "password2": "a-strong-pass-123",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert User.objects.filter(username="newbie").count() == 1
    assert b"Hello, newbie" in client.get(reverse("dashboard")).content


def test_sign_up_with_mismatched_passwords_shows_the_error_and_stores_nothing(client):
    response = client.post(
        reverse("signup"),
        {"username": "newbie", "password1": "a-strong-pass-123", "password2": "other-pass-456"},
    )
    assert response.status_code == 200
    assert b"The two password fields" in response.content
    assert not User.objects.filter(username="newbie").exists()


def test_log_in_and_out(client, user):
    response = client.post(
        reverse("login"), {"username": "alice", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302


def test_wrong_password_is_refused(client, user):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_password_change(client_user, user):
    response = client_user.post(
        reverse("password_change"),
        {
            "old_password": "correct-horse-battery",
            "new_password1": "another-pass-789",
            "new_password2": "another-pass-789",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-pass-789")


def test_token_page_creates_rotates_and_revokes(client_user, user):
    assert b"You have no API token yet" in client_user.get(reverse("api-token")).content
    client_user.post(reverse("api-token-create"))
    first = Token.objects.get(user=user).key
    assert first.encode() in client_user.get(reverse("api-token")).content
    client_user.post(reverse("api-token-create"))
    second = Token.objects.get(user=user).key
    assert second != first
    client_user.post(reverse("api-token-revoke"))
    assert not Token.objects.filter(user=user).exists()


def test_token_actions_need_post(client_user, user):
    assert client_user.get(reverse("api-token-create")).status_code == 405
    assert not Token.objects.filter(user=user).exists()


def test_admin_loads_for_staff_and_not_for_others(client, staff_user, user):
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    client.force_login(staff_user)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200


def test_demo_user_command_is_idempotent(capsys):
    from django.core.management import call_command

    call_command("ensure_demo_user")
    call_command("ensure_demo_user")
    assert User.objects.filter(username="demo").count() == 1
    assert User.objects.get(username="demo").check_password("demo-password")
    assert "username=demo password=demo-password" in capsys.readouterr().out
