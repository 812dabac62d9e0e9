"""Every input that used to be a 500 is a 400 in the JSON error shape, and every /api/
answer is JSON (unknown paths, wrong methods, too large, framework rejections, bugs)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from images.tests import corpus
from images.tests.factories import ImageFactory

pytestmark = pytest.mark.django_db


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error"}
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]
    return body["error"]


# --- paging integers beyond any database integer -----------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/jobs?offset=9223372036854775808", "offset"),
        ("/api/v1/jobs?limit=abc", "limit"),
        ("/api/v1/jobs?limit=0", "limit"),
        ("/api/v1/predictions?page=922337203685477580", "page"),
        ("/api/v1/predictions?limit=-1", "limit"),
        ("/api/v1/categories?limit=99999999999999999999999", "limit"),
        ("/api/v1/categories?limit=1001", "limit"),
        ("/api/v1/categories?offset=1e3", "offset"),
        ("/api/v1/images?limit=abc", "limit"),
        ("/api/v1/images?limit=" + "9" * 100_000, "limit"),
    ],
)
def test_bad_paging_numbers_are_400_naming_the_parameter(token_client, url, field):
    error = _error(token_client.get(url), 400)

    assert list(error["fields"]) == [field]


# --- NUL bytes, which PostgreSQL refuses in text --------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/images?q=%00", "q"),
        ("/api/v1/images?label=%00", "label"),
        ("/api/v1/images?after=%00", "after"),
        ("/api/v1/jobs?status=%00", "status"),
    ],
)
def test_nul_in_api_query_is_400(token_client, user, url, field):
    ImageFactory(owner=user)

    error = _error(token_client.get(url), 400)

    assert error["fields"] == {field: ["must not contain NUL (\\x00) characters."]}


@pytest.mark.parametrize(
    "url",
    [
        "/images/?q=%00",
        "/images/?label=%00",
        "/jobs/new/?all=1&q=%00",
        "/images/delete/?all=1&q=%00",
    ],
)
def test_nul_in_page_query_is_400(client_user, user, url):
    ImageFactory(owner=user)

    response = client_user.get(url)

    assert response.status_code == 400
    assert b"must not contain NUL" in response.content


def test_nul_in_idempotency_key_is_400_and_creates_nothing(token_client, user, inference_weights):
    from jobs.models import Job

    image = ImageFactory(owner=user)
    response = token_client.post(
        "/api/v1/submit",
        {"job_type": "image_classification", "image_ids": [str(image.pk)]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="a\x00b",
    )

    assert _error(response, 400)["fields"] == {
        "Idempotency-Key": ["must not contain NUL (\\x00) characters."]
    }
    assert Job.objects.count() == 0


# --- export formats --------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["exe", "a%0d%0aX:1", "a%22b", "CSV"])
def test_unknown_export_format_is_400(token_client, user, inference_available, suffix):
    from jobs import services

    image = ImageFactory(owner=user)
    job = services.job_submit(owner=user, job_type="image_classification", image_ids=[image.pk]).job

    response = token_client.get(f"/api/v1/jobs/{job.id}/export.{suffix}")

    error = _error(response, 400)
    assert error["fields"] == {"file_format": ["Unknown export format; use one of: csv, json."]}
    assert "Content-Disposition" not in response


# --- JSON bodies -------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [33, 100_000])
def test_deeply_nested_json_is_400(token_client, depth):
    body = "[" * depth + "]" * depth

    response = token_client.post("/api/v1/submit", body, content_type="application/json")

    error = _error(response, 400)
    assert error["message"] == "JSON nested too deeply: at most 32 levels."


def test_deeply_nested_json_is_400_also_anonymous(api_client):
    body = "[" * 100_000

    response = api_client.post("/api/v1/auth/token", body, content_type="application/json")

    assert _error(response, 400)["code"] == "parse_error"


def test_json_body_over_the_limit_is_413(token_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"name": "' + "x" * 2000 + '", "labels": ["a"]}'

    response = token_client.post("/api/v1/categories", body, content_type="application/json")

    assert _error(response, 413)["code"] == "request_too_large"


def test_nan_is_not_json(token_client):
    response = token_client.post(
        "/api/v1/categories", '{"name": NaN}', content_type="application/json"
    )

    assert _error(response, 400)["code"] == "parse_error"


# --- every /api/ answer is JSON ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/nope",
        "/api/v1/categories/abc",
        "/api/v1/images/",
        "/api/v1/jobs/abc/export",
        "/api/v2/images",
        "/api/",
    ],
)
def test_unknown_api_paths_are_json_404(token_client, url):
    error = _error(token_client.get(url), 404)

    assert error["code"] == "not_found"


def test_unknown_api_paths_are_json_404_anonymous_too(api_client):
    assert _error(api_client.get("/api/v1/nope"), 404)["code"] == "not_found"


def test_wrong_method_is_json_405(token_client):
    response = token_client.delete("/api/v1/submit")

    assert _error(response, 405)["code"] == "method_not_allowed"
    assert response["Allow"] == "POST, OPTIONS"


def test_anonymous_is_json_401(api_client):
    response = api_client.get("/api/v1/jobs")

    assert _error(response, 401)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Token realm="api"' or response["WWW-Authenticate"]


def test_too_many_files_is_json_400(token_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    files = [
        SimpleUploadedFile(f"{i}.png", corpus.png(seed=i), content_type="image/png")
        for i in range(3)
    ]

    response = token_client.post("/api/v1/images", {"files": files}, format="multipart")

    assert _error(response, 400)["code"] == "too_many_files"


def test_too_many_fields_is_json_400(token_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    form = "&".join(f"f{i}=x" for i in range(5))

    response = token_client.post(
        "/api/v1/upload-url", form, content_type="application/x-www-form-urlencoded"
    )

    assert _error(response, 400)["code"] == "too_many_fields"


def test_a_bug_is_json_500(token_client, monkeypatch):
    from categories import selectors

    def broken(**kwargs):
        raise RuntimeError("boom")  # a fault injected by the test

    monkeypatch.setattr(selectors, "category_list", broken)
    token_client.raise_request_exception = False

    response = token_client.get("/api/v1/categories")

    error = _error(response, 500)
    assert error == {
        "code": "server_error",
        "message": "Something went wrong on our side; try again later.",
    }


def test_health_under_the_api_base_as_the_seed_documents(api_client):
    response = api_client.get("/api/v1/health")

    assert response.status_code == 200
    assert set(response.json()) >= {"status", "service", "time"}
    assert response.json()["status"] == "healthy"
