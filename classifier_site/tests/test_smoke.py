import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_dashboard_requires_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_dashboard_renders_for_user(client_user):
    response = client_user.get(reverse("dashboard"))
    assert response.status_code == 200
    assert b"Hello, alice" in response.content
