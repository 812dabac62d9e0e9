import pytest
from django.core.cache import cache
from openapi_spec_validator import validate
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


def test_token_obtain_then_call_the_api(api_client, user):
    response = api_client.post(
        "/api/v1/auth/token", {"username": "alice", "password": "correct-horse-battery"}
    )
    assert response.status_code == 200
    key = response.json()["token"]
    assert Token.objects.get(user=user).key == key
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api_client.get("/api/v1/")
    assert response.status_code == 200
    assert response.json()["user"] == "alice"


def test_token_obtain_with_wrong_password_uses_the_error_shape(api_client, user):
    response = api_client.post("/api/v1/auth/token", {"username": "alice", "password": "x"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["message"] == "Unable to log in with provided credentials."


def test_token_obtain_is_throttled(api_client, user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "token_obtain": "3/minute",
        },
    }
    from rest_framework.throttling import ScopedRateThrottle

    # DRF reads the rates when the module is imported; point the class at the new ones.
    ScopedRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    try:
        codes = [
            api_client.post(
                "/api/v1/auth/token", {"username": "alice", "password": "bad"}
            ).status_code
            for _ in range(4)
        ]
        assert codes == [400, 400, 400, 429]
        response = api_client.post(
            "/api/v1/auth/token", {"username": "alice", "password": "correct-horse-battery"}
        )
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "throttled"
        assert "Try again in" in response.json()["error"]["message"]
    finally:
        from rest_framework.settings import api_settings

        ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def test_api_refuses_anonymous_and_bad_tokens(api_client, user):
    response = api_client.get("/api/v1/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.get("/api/v1/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid token."


def test_session_auth_also_works(client_user):
    assert client_user.get("/api/v1/").json()["user"] == "alice"


def test_schema_is_a_valid_openapi_document(token_client):
    response = token_client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    assert schema["info"]["title"] == "Image classification API"
    assert "/api/v1/auth/token" in schema["paths"]


def test_docs_pages_use_local_assets(client_user):
    # Redoc fetched its logo from a CDN (issue 12): its address now leads to Swagger UI.
    assert client_user.get("/api/v1/redoc/")["Location"] == "/api/v1/docs/"
    for url in ("/api/v1/docs/", "/api/v1/redoc/"):
        response = client_user.get(url, follow=True)
        assert response.status_code == 200
        html = response.content.decode()
        assert "/static/drf_spectacular_sidecar/" in html
        assert "cdn.jsdelivr" not in html


# /api/v1/redoc/ is a redirect to the docs (test above), so it follows their setting.
@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/docs/"])
def test_schema_and_docs_are_public_by_default_and_private_by_setting(
    api_client, user, settings, path
):
    assert settings.API_DOCS_PUBLIC is True
    assert api_client.get(path).status_code == 200
    settings.API_DOCS_PUBLIC = False
    assert api_client.get(path).status_code == 401
    api_client.force_authenticate(user)
    assert api_client.get(path).status_code == 200
